/**
 * runBridge against a third-party far end: SIPp answers and echoes every RTP packet
 * (`-rtp_echo`), so the agent's 1 kHz tone travels room → RTP → SIPp → RTP → room and the
 * agent hears itself through the phone participant.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AudioStream, Room, RoomEvent, TrackKind, dispose } from '@livekit/rtc-node';
import { isBridgeParticipant } from '../../src/entries/agent.js';
import { runBridge } from '../../src/index.js';
import { dominantFrequency } from '../../src/rtp/goertzel.js';
import { eventually, livekitEnv, mintToken, roomService, uniqueRoom } from '../harness/livekit.js';
import { startSipp } from '../harness/sipp.js';
import { publishTone } from '../harness/tone.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await dispose();
});

describe('runBridge ↔ SIPp (-rtp_echo)', () => {
  it.each(['tcp', 'udp'] as const)(
    'over %s: the agent hears its own tone echoed by the far end; BYE ends SIPp cleanly',
    async (transport) => {
      const sipp = await startSipp({ scenario: 'uas-answer.xml', transport, rtpEcho: true });
      cleanups.push(() => sipp.stop());
      const lk = livekitEnv();
      const roomName = uniqueRoom('sipp');
      await roomService().createRoom({ name: roomName });
      cleanups.push(() =>
        roomService()
          .deleteRoom(roomName)
          .catch(() => undefined),
      );

      const agent = new Room();
      const heard: Int16Array[] = [];
      agent.on(RoomEvent.TrackSubscribed, (track, _p, participant) => {
        if (track.kind !== TrackKind.KIND_AUDIO || !isBridgeParticipant(participant)) return;
        void (async () => {
          for await (const f of new AudioStream(track, {
            sampleRate: 8000,
            numChannels: 1,
            frameSizeMs: 20,
          })) {
            if (f.data.some((v) => Math.abs(v) > 500) && heard.length < 500) heard.push(f.data.slice());
          }
        })().catch(() => undefined);
      });
      await agent.connect(lk.url, await mintToken({ identity: 'agent', room: roomName, kind: 'agent' }), {
        autoSubscribe: true,
        dynacast: false,
      });
      cleanups.push(() => agent.disconnect());
      const tone = await publishTone(agent, 1000, 'voice');
      cleanups.push(() => tone.stop());

      const call = runBridge({
        roomName,
        phoneNumber: '+919876543210',
        livekit: { url: lk.url, apiKey: lk.apiKey, apiSecret: lk.apiSecret },
        exotel: {
          sipHost: '127.0.0.1',
          sipPort: sipp.port,
          transport,
          customerIp: '127.0.0.1',
          customerSipPort: 0,
          callerId: '08044319240',
          fromDomain: 'test.sip.exotel.com',
        },
        env: {},
      });
      cleanups.push(() => call.hangup());
      const answered = await call.answered;
      expect(answered.codec).toBe('PCMA');
      await eventually('active', () => call.status === 'active', 10_000);
      await eventually('agent heard 0.6 s of echo', () => heard.length >= 30, 15_000);
      const all = new Int16Array(heard.length * 160);
      heard.forEach((f, i) => all.set(f, i * 160));
      expect(dominantFrequency(all, 8000, [300, 440, 700, 1000, 2000])).toBe(1000);
      const stats = call.stats();
      expect(stats.rtp!.packetsReceived).toBeGreaterThan(30);
      expect(stats.rtp!.packetsSent).toBeGreaterThan(30);
      const ended = await call.hangup();
      expect(ended.reason).toBe('host-hangup');
      expect(await sipp.done()).toBe(0);
      expect(await sipp.messages()).toMatch(/BYE sip:/);
    },
  );
});
