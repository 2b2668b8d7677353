/**
 * Inbound calls end to end: the Exotel simulator calls the Exophone as the trunk would,
 * `listenForCalls` with `acceptInboundCalls` makes one room and one dispatch, the bridge
 * joins as a LiveKit SIP participant and answers; a real livekit-server and an agent in
 * the room. Then every way a call can be refused or cut short, each leaving nothing.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ParticipantKind, dispose } from '@livekit/rtc-node';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { connect } from 'node:net';
import {
  acceptInboundCalls,
  listenForCalls,
  type BridgeCall,
  type InboundListener,
  type ListenForCallsOptions,
} from '../../src/index.js';
import { isBridgeParticipant, waitForAudioReady } from '../../src/entries/agent.js';
import { sharedSipClientCount } from '../../src/sip-client-pool.js';
import { dominantFrequency } from '../../src/rtp/goertzel.js';
import { ExotelSimulator } from '../../src/testing/index.js';
import { frames20, livekitOpts, loudPart, runCleanups, startAgent, type Cleanups } from '../harness/e2e.js';
import { eventually, livekitEnv, roomService } from '../harness/livekit.js';
import { startSippUac } from '../harness/sipp.js';
import {
  expectNothingLeft,
  fetchWithoutKeepAlive,
  processResources,
  type ProcessResources,
} from '../harness/resources.js';

const PROBES = [300, 440, 700, 1000, 2000];
const CALLER = '+919876543210';
const EXOPHONE = '08044319240';
const cleanups: Cleanups = [];
let sim: ExotelSimulator;

beforeEach(async () => {
  sim = new ExotelSimulator({ host: '127.0.0.1', fromDomain: 'pstn.in1.exotel.com' });
  await sim.start();
  cleanups.push(() => sim.close());
});
afterEach(async () => {
  await runCleanups(cleanups);
  expect(sharedSipClientCount()).toBe(0);
});
afterAll(async () => {
  await dispose();
});

async function listen(
  extra: Partial<ListenForCallsOptions> = {},
): Promise<{ listener: InboundListener; calls: BridgeCall[] }> {
  const listener = await listenForCalls({
    livekit: livekitOpts(),
    exotel: {
      sipHost: '127.0.0.1',
      sipPort: sim.address.port,
      transport: 'tcp',
      customerIp: '127.0.0.1',
      customerSipPort: 0,
      mediaIp: '127.0.0.1',
    },
    env: {},
    onCall: acceptInboundCalls({
      agentName: 'inbound-test-agent',
      agentType: 'support',
      livekit: livekitOpts(),
      env: {},
    }),
    includeHeaders: 'x-headers',
    statsLogIntervalMs: 500,
    ...extra,
  });
  cleanups.push(() => listener.close());
  const calls: BridgeCall[] = [];
  listener.on('call', (c) => calls.push(c));
  return { listener, calls };
}

function callIn(port: number, extra: Partial<Parameters<ExotelSimulator['callIn']>[0]> = {}) {
  const c = sim.callIn({
    target: { host: '127.0.0.1', port, transport: 'tcp' },
    from: CALLER,
    to: EXOPHONE,
    play: { toneHz: 440, amplitude: 8000 },
    ...extra,
  });
  cleanups.push(() => c.hangup());
  return c;
}

async function roomGone(name: string): Promise<boolean> {
  const rooms = await roomService().listRooms([name]);
  return rooms.length === 0;
}

describe('inbound calls through listenForCalls', () => {
  it.each(['PCMA', 'PCMU'] as const)(
    '%s: tone both ways, the participant looks like a LiveKit SIP inbound call, one room and one dispatch; the caller hangs up',
    async (codec) => {
      const { listener, calls } = await listen();
      const phoneCall = callIn(listener.port, { codecs: [codec] });
      const answer = await phoneCall.answered;
      expect(answer.status).toBe(200);
      expect(phoneCall.provisional).toContain(100);
      expect(phoneCall.provisional).toContain(180);
      const bridge = calls[0]!;
      expect(bridge.direction).toBe('inbound');
      expect(bridge.roomName).toMatch(/^support-inbound-3210-[0-9a-f-]{36}$/);
      const answered = await bridge.answered;
      expect(answered.codec).toBe(codec);
      const agent = await startAgent(cleanups, bridge.roomName, 1000);
      const phone = await eventually('phone participant', () =>
        [...agent.room.remoteParticipants.values()].find(isBridgeParticipant),
      );
      await waitForAudioReady(phone, { room: agent.room, timeoutMs: 10_000 });
      expect(phone.kind).toBe(ParticipantKind.SIP);
      expect(phone.identity).toBe(`sip-phone-${CALLER}`);
      expect(JSON.parse(phone.metadata ?? '')).toEqual({ source: 'exotel_bridge', phone: CALLER });
      expect(phone.attributes).toMatchObject({
        'sip.callID': bridge.callId,
        'sip.callIDFull': phoneCall.callId,
        'sip.callStatus': 'active',
        'sip.phoneNumber': CALLER,
        'sip.trunkPhoneNumber': EXOPHONE,
        'sip.hostname': '127.0.0.1',
        'sip.h.x-exotel-callsid': phoneCall.callSid,
      });
      const dispatches = await new AgentDispatchClient(
        livekitEnv().url.replace(/^ws/, 'http'),
        livekitEnv().apiKey,
        livekitEnv().apiSecret,
      ).listDispatch(bridge.roomName);
      // livekit-server adds its own automatic dispatch (agentName "") to every new room.
      const named = dispatches.filter((d) => d.agentName !== '');
      expect(named.map((d) => d.agentName)).toEqual(['inbound-test-agent']);
      expect(JSON.parse(named[0]!.metadata)).toMatchObject({
        phone: CALLER,
        exophone: EXOPHONE,
        direction: 'inbound',
      });
      await eventually('tones', () =>
        agent.heard.length > 100 && phoneCall.heard().length > 16000 ? true : undefined,
      );
      expect(dominantFrequency(loudPart(agent.heard), 8000, PROBES)).toBe(440);
      expect(dominantFrequency(loudPart(frames20(phoneCall.heard())), 8000, PROBES)).toBe(1000);
      await phoneCall.hangup();
      expect((await bridge.ended).reason).toBe('phone-hangup');
      await eventually('room deleted', async () => ((await roomGone(bridge.roomName)) ? true : undefined));
      expect(listener.activeCalls).toBe(0);
    },
  );

  it('SIPp as the trunk calls in (PCMA/PCMU offer, -rtp_echo): the agent hears its own tone come back; SIPp hangs up and exits 0', async () => {
    const { listener, calls } = await listen();
    const peer = await startSippUac({
      target: { host: '127.0.0.1', port: listener.port },
      rtpEcho: true,
      holdMs: 5000,
      timeoutS: 30,
    });
    cleanups.push(() => peer.stop());
    const bridge = await eventually('bridge', () => calls[0]);
    const agent = await startAgent(cleanups, bridge.roomName, 1000);
    expect((await bridge.answered).codec).toBe('PCMA');
    const phone = await eventually('phone participant', () =>
      [...agent.room.remoteParticipants.values()].find(isBridgeParticipant),
    );
    expect(phone.attributes['sip.phoneNumber']).toBe(CALLER);
    await eventually('echo', () => (loudPart(agent.heard).length > 8000 ? true : undefined), 15_000);
    expect(dominantFrequency(loudPart(agent.heard), 8000, PROBES)).toBe(1000);
    expect((await bridge.ended).reason).toBe('phone-hangup');
    expect(await peer.done()).toBe(0);
    await eventually('room deleted', async () => ((await roomGone(bridge.roomName)) ? true : undefined));
  });

  it("codecs: ['PCMU', 'PCMA'] on the listener: our preference picks PCMU from a PCMA-first offer", async () => {
    const { listener, calls } = await listen({
      exotel: {
        sipHost: '127.0.0.1',
        sipPort: sim.address.port,
        transport: 'tcp',
        customerIp: '127.0.0.1',
        customerSipPort: 0,
        mediaIp: '127.0.0.1',
        codecs: ['PCMU', 'PCMA'],
      },
    });
    const phoneCall = callIn(listener.port, { codecs: ['PCMA', 'PCMU'] });
    expect((await phoneCall.answered).status).toBe(200);
    expect((await calls[0]!.answered).codec).toBe('PCMU');
  });

  it('the agent ends the call: BYE from our side reaches the caller', async () => {
    const { listener, calls } = await listen();
    const phoneCall = callIn(listener.port);
    await phoneCall.answered;
    await calls[0]!.hangup();
    expect(await phoneCall.ended).toMatchObject({ by: 'callee' });
    expect((await calls[0]!.ended).reason).toBe('host-hangup');
  });

  it('CANCEL while ringing: 487, no participant left, the room is deleted', async () => {
    const { listener, calls } = await listen({ answerWhen: 'agent', agentWaitMs: 20_000 });
    const phoneCall = callIn(listener.port);
    await eventually('ringing', () =>
      phoneCall.provisional.includes(180) && calls.length === 1 ? true : undefined,
    );
    const bridge = calls[0]!;
    await eventually(
      'phone joined',
      async () =>
        (await roomService().listParticipants(bridge.roomName)).some((p) =>
          p.identity.startsWith('sip-phone-'),
        ) || undefined,
    );
    await phoneCall.hangup();
    expect(await phoneCall.ended).toEqual({ by: 'cancel', status: 487 });
    expect((await bridge.ended).reason).toBe('phone-hangup');
    await eventually('room deleted', async () => ((await roomGone(bridge.roomName)) ? true : undefined));
  });

  it('ringback as early media: 183 with our SDP, the caller hears 400 Hz ringback until an agent joins, then the agent', async () => {
    const { listener, calls } = await listen({
      ringback: 'early-media',
      answerWhen: 'agent',
      agentWaitMs: 20_000,
    });
    const phoneCall = callIn(listener.port);
    await eventually('183', () => (phoneCall.provisional.includes(183) ? true : undefined));
    await eventually('ringback', () =>
      loudPart(frames20(phoneCall.heard())).length > 4000 ? true : undefined,
    );
    const tones = [300, 400, 440, 700, 1000];
    expect(dominantFrequency(loudPart(frames20(phoneCall.heard())), 8000, tones)).toBe(400);
    expect(phoneCall.state).toBe('proceeding');
    const before = phoneCall.heard().length;
    await startAgent(cleanups, calls[0]!.roomName, 1000);
    expect((await phoneCall.answered).status).toBe(200);
    await eventually('agent heard', () => (phoneCall.heard().length > before + 24_000 ? true : undefined));
    expect(dominantFrequency(loudPart(frames20(phoneCall.heard().slice(before + 8000))), 8000, tones)).toBe(
      1000,
    );
  });

  it('answerWhen agent: no agent within agentWaitMs → 480, nothing left', async () => {
    const { listener, calls } = await listen({ answerWhen: 'agent', agentWaitMs: 500 });
    const phoneCall = callIn(listener.port);
    expect((await phoneCall.answered).status).toBe(480);
    expect((await calls[0]!.ended).reason).toBe('no-agent');
    await eventually('room deleted', async () => ((await roomGone(calls[0]!.roomName)) ? true : undefined));
  });

  describe('hostile input', () => {
    // Each case leaves nothing: the library's counts all 0, no fd or thread above a baseline
    // taken after one ordinary call (rtc-node's runtime starts once), HTTP without keep-alive.
    let base: ProcessResources;
    beforeAll(async () => {
      await fetchWithoutKeepAlive();
      sim = new ExotelSimulator({ host: '127.0.0.1', fromDomain: 'pstn.in1.exotel.com' });
      await sim.start();
      cleanups.push(() => sim.close());
      const { listener, calls } = await listen();
      const phoneCall = callIn(listener.port);
      await phoneCall.answered;
      await phoneCall.hangup();
      await calls[0]!.ended;
      await eventually('room deleted', async () => ((await roomGone(calls[0]!.roomName)) ? true : undefined));
      await runCleanups(cleanups);
      await new Promise((r) => setTimeout(r, 1000));
      base = processResources();
    }, 60_000);
    afterEach(async () => {
      await runCleanups(cleanups);
      await expectNothingLeft(base);
    }, 30_000);

    it('onCall refusing with 486, onCall throwing (500, logged): no bridge, no room', async () => {
      const refused: number[] = [];
      const { listener, calls } = await listen({
        onCall: (c) => {
          if (c.headers['X-Case'] === 'busy') return { reject: 486 };
          throw new Error('host bug');
        },
      });
      listener.on('refused', ({ status }) => refused.push(status));
      expect((await callIn(listener.port, { headers: { 'X-Case': 'busy' } }).answered).status).toBe(486);
      expect((await callIn(listener.port, { headers: { 'X-Case': 'boom' } }).answered).status).toBe(500);
      expect(refused).toEqual([486, 500]);
      expect(calls).toHaveLength(0);
      expect(listener.activeCalls).toBe(0);
    });

    it('the concurrency cap answers 486; a stranger gets 403; a malformed SDP gets 488', async () => {
      const { listener } = await listen({ maxConcurrentCalls: 1 });
      const first = callIn(listener.port);
      await first.answered;
      expect((await callIn(listener.port).answered).status).toBe(486);
      // A stranger: the simulator on another loopback address, not the trunk's.
      const stranger = new ExotelSimulator({ host: '127.0.0.2', fromDomain: 'pstn.in1.exotel.com' });
      await stranger.start();
      cleanups.push(() => stranger.close());
      const s = stranger.callIn({
        target: { host: '127.0.0.1', port: listener.port },
        from: CALLER,
        to: EXOPHONE,
      });
      expect((await s.answered).status).toBe(403);
      await first.hangup();
      await eventually('first gone', () => (listener.activeCalls === 0 ? true : undefined));
      expect((await rawInvite(listener.port, 'v=0\r\nthis is not sdp\r\n')).split('\r\n')[0]).toBe(
        'SIP/2.0 488 Not Acceptable Here',
      );
    });
  });

  it('close({ drain }): new INVITEs get 503 with Retry-After, the active call finishes, then the port closes', async () => {
    const { listener, calls } = await listen({ drainRetryAfterSec: 7 });
    const active = callIn(listener.port);
    await active.answered;
    const closing = listener.close({ drain: true, drainTimeoutMs: 30_000 });
    const late = callIn(listener.port);
    expect((await late.answered).status).toBe(503);
    expect(late.final?.headers.get('Retry-After')).toBe('7');
    expect(active.state).toBe('confirmed');
    await active.hangup();
    await closing;
    expect(listener.status).toBe('closed');
    // close() resolved only after the call's onEnded (the room deletion) had finished.
    expect(await roomGone(calls[0]!.roomName)).toBe(true);
  });
});

/** A hand-written INVITE over TCP with the given body; resolves the first final response's text. */
function rawInvite(port: number, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let got = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      got += d;
      const finals = got.split('\r\n\r\n').filter((m) => /^SIP\/2\.0 [2-6]\d\d/.test(m));
      if (finals.length > 0) {
        sock.destroy();
        resolve(finals[0]!);
      }
    });
    sock.on('error', reject);
    const msg = [
      `INVITE sip:${EXOPHONE}@127.0.0.1:${port} SIP/2.0`,
      'Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKbadsdp1;rport',
      'Max-Forwards: 70',
      `From: <sip:${CALLER}@pstn.in1.exotel.com>;tag=bad1`,
      `To: <sip:${EXOPHONE}@127.0.0.1>`,
      'Call-ID: bad-sdp-1@127.0.0.1',
      'CSeq: 1 INVITE',
      'Contact: <sip:caller@127.0.0.1:5999;transport=tcp>',
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
    sock.write(msg);
  });
}
