/**
 * ExotelSipClient against baresip, a second and independent SIP stack, over TCP: it
 * auto-answers, and the call ends cleanly whichever side hangs up.
 */
import { describe, expect, it } from 'vitest';
import { startBaresip, wavFile } from '../harness/baresip.js';
import { CALLEE, makeClient, offer, onCleanup, useCleanup } from './sip-client-helpers.js';

useCleanup();

async function baresip(seconds: number) {
  const run = await startBaresip({
    wav: wavFile(new Int16Array(8000 * seconds)),
    lifetimeS: 30,
    user: CALLEE,
  });
  onCleanup(() => run.stop());
  return run;
}

describe('ExotelSipClient ↔ baresip over TCP', () => {
  it('baresip auto-answers; we hang up with BYE and baresip answers 200', async () => {
    const peer = await baresip(20);
    const { client } = makeClient(peer.port, 'tcp');
    const call = client.invite({ to: CALLEE, sdp: offer() });
    const answer = await call.answered;
    expect(answer.negotiated?.remoteAddress).toBe('127.0.0.1');
    expect(['PCMU', 'PCMA']).toContain(answer.negotiated?.codec);
    await new Promise((r) => setTimeout(r, 300));
    await call.hangup();
    expect(await call.ended).toEqual({ reason: 'local-bye', status: 200 });
    expect(peer.process.child.exitCode).toBeNull(); // baresip is still fine
  });

  it('baresip hangs up when its audio file ends; we answer its BYE and the call ends with remote-bye', async () => {
    const peer = await baresip(1);
    const { client } = makeClient(peer.port, 'tcp');
    const call = client.invite({ to: CALLEE, sdp: offer() });
    await call.answered;
    const ended = await call.ended;
    expect(ended).toEqual({ reason: 'remote-bye' });
  });
});
