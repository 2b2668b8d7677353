/**
 * Call control seen from the room, end to end (real livekit-server, the simulator): the
 * far end's early media and a local ringback reach the room before the answer and give
 * way to the callee's voice at the answer; the far end's headers as `sip.h.*` attributes
 * and through `lk.sip.GetRemoteHeaders`; audio taps of both directions.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { isBridgeParticipant, RPC_GET_REMOTE_HEADERS, waitForAudioReady } from '../../src/entries/agent.js';
import { dominantFrequency } from '../../src/rtp/goertzel.js';
import {
  bridge,
  createRoom,
  loudPart,
  runCleanups,
  startAgent,
  startSim,
  type Cleanups,
} from '../harness/e2e.js';
import { eventually } from '../harness/livekit.js';

const TONES = [300, 400, 440, 700, 1000, 2000];
const cleanups: Cleanups = [];
afterEach(async () => {
  await runCleanups(cleanups);
});
afterAll(async () => {
  await dispose();
});

describe('call control seen from the room', () => {
  it("a 183 with early media: the room hears the far end's ringback (400 Hz) while ringing, then the callee (700 Hz)", async () => {
    const sim = await startSim(cleanups, {
      earlyMedia: true,
      earlyPlay: { toneHz: 400, amplitude: 8000 },
      play: { toneHz: 700, amplitude: 8000 },
      ringAfterMs: 50,
      answerAfterMs: 3000,
    });
    const roomName = await createRoom(cleanups, 'early');
    const agent = await startAgent(cleanups, roomName, 1000);
    const call = bridge(cleanups, roomName, sim.address.port);
    const statuses: string[] = [];
    call.on('status', (s) => statuses.push(s));
    let earlyMedia = false;
    call.on('earlyMedia', () => (earlyMedia = true));
    let atAnswer = -1;
    call.on('answered', () => (atAnswer = agent.heard.length));
    await call.answered;
    expect(earlyMedia).toBe(true);
    expect(statuses[0]).toBe('ringing');
    const before = loudPart(agent.heard.slice(0, atAnswer));
    expect(before.length).toBeGreaterThan(8000);
    expect(dominantFrequency(before, 8000, TONES)).toBe(400);
    await eventually('callee heard', () => (agent.heard.length > atAnswer + 100 ? true : undefined));
    const after = loudPart(agent.heard.slice(atAnswer + 25));
    expect(dominantFrequency(after, 8000, TONES)).toBe(700);
  });

  it('no early media: with ringbackTone the room hears a local ringback (400 Hz, India) until the answer, then the callee', async () => {
    const sim = await startSim(cleanups, {
      play: { toneHz: 700, amplitude: 8000 },
      ringAfterMs: 50,
      answerAfterMs: 3000,
    });
    const roomName = await createRoom(cleanups, 'ringback');
    const agent = await startAgent(cleanups, roomName, 1000);
    const call = bridge(cleanups, roomName, sim.address.port, { ringbackTone: true });
    let atAnswer = -1;
    call.on('answered', () => (atAnswer = agent.heard.length));
    await call.answered;
    const before = loudPart(agent.heard.slice(0, atAnswer));
    expect(before.length).toBeGreaterThan(4000);
    expect(dominantFrequency(before, 8000, TONES)).toBe(400);
    await eventually('callee heard', () => (agent.heard.length > atAnswer + 100 ? true : undefined));
    expect(dominantFrequency(loudPart(agent.heard.slice(atAnswer + 25)), 8000, TONES)).toBe(700);
  });

  it.each(['x-headers', 'all'] as const)(
    "includeHeaders '%s': the 200 OK's headers as sip.h.* attributes, and lk.sip.GetRemoteHeaders",
    async (mode) => {
      const sim = await startSim(cleanups, {
        answerHeaders: { 'X-Exotel-CallSid': 'cs-123', 'X-Crm-Ticket': 'T-9' },
      });
      const roomName = await createRoom(cleanups, 'headers');
      const agent = await startAgent(cleanups, roomName, 1000);
      const call = bridge(cleanups, roomName, sim.address.port, { includeHeaders: mode });
      await call.answered;
      const phone = await eventually('phone', () =>
        [...agent.room.remoteParticipants.values()].find(isBridgeParticipant),
      );
      await waitForAudioReady(phone, { room: agent.room, timeoutMs: 10_000 });
      await eventually('attributes', () =>
        phone.attributes['sip.h.x-crm-ticket'] !== undefined ? true : undefined,
      );
      expect(phone.attributes).toMatchObject({
        'sip.h.x-exotel-callsid': 'cs-123',
        'sip.h.x-crm-ticket': 'T-9',
      });
      if (mode === 'all') expect(phone.attributes['sip.h.server']).toBe('exotel-simulator');
      else expect(phone.attributes['sip.h.server']).toBeUndefined();
      const headers = JSON.parse(
        await agent.room.localParticipant!.performRpc({
          destinationIdentity: phone.identity,
          method: RPC_GET_REMOTE_HEADERS,
          payload: '',
        }),
      ) as Record<string, string>;
      expect(headers).toMatchObject({ 'X-Exotel-CallSid': 'cs-123', 'X-Crm-Ticket': 'T-9' });
    },
  );

  it('audio taps: the host receives both directions as 8 kHz PCM, 20 ms at a time', async () => {
    const sim = await startSim(cleanups, { play: { toneHz: 440, amplitude: 8000 } });
    const roomName = await createRoom(cleanups, 'taps');
    await startAgent(cleanups, roomName, 1000);
    const call = bridge(cleanups, roomName, sim.address.port, { audioTaps: true });
    const phone: Int16Array[] = [];
    const room: Int16Array[] = [];
    call.on('audio', ({ from, samples }) => {
      expect(samples.length).toBe(160);
      (from === 'phone' ? phone : room).push(samples.slice());
    });
    await call.answered;
    await eventually(
      'both directions',
      () => (phone.length > 150 && room.length > 150 ? true : undefined),
      15_000,
    );
    expect(dominantFrequency(loudPart(phone), 8000, TONES)).toBe(440);
    expect(dominantFrequency(loudPart(room), 8000, TONES)).toBe(1000);
  });

  it("codecs: ['PCMU', 'PCMA'] offers PCMU first and the far end takes it; a codec the far end lacks fails the call with 488", async () => {
    const sim = await startSim(cleanups, { codecs: ['PCMA', 'PCMU'] });
    const roomName = await createRoom(cleanups, 'codecs');
    const call = bridge(cleanups, roomName, sim.address.port, { codecs: ['PCMU', 'PCMA'] });
    expect((await call.answered).codec).toBe('PCMU');
    expect(new TextDecoder().decode(sim.requests.find((r) => r.method === 'INVITE')!.message.body)).toMatch(
      /^m=audio \d+ RTP\/AVP 0 8 101\r?$/m,
    );
    await call.hangup();
    const pcmaOnly = await startSim(cleanups, { codecs: ['PCMA'] });
    const other = bridge(cleanups, await createRoom(cleanups, 'codecs2'), pcmaOnly.address.port, {
      codecs: ['PCMU'],
    });
    await expect(other.answered).rejects.toMatchObject({ status: 488 });
  });
});
