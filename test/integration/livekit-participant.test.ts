/**
 * PhoneParticipant against a real livekit-server: the phone's side of the room, with an
 * agent-kind participant publishing and listening like a LiveKit Agents worker.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  AudioStream,
  ParticipantKind,
  Room,
  RoomEvent,
  TrackKind,
  dispose,
  type RemoteTrack,
} from '@livekit/rtc-node';
import { publishTone as startTone } from '../harness/tone.js';
import { eventually, livekitEnv, mintToken, roomService, uniqueRoom } from '../harness/livekit.js';
import { generateTone, goertzelPower } from '../../src/rtp/goertzel.js';
import { PhoneParticipant, RPC_END_CALL } from '../../src/livekit/participant.js';
import { FfiMediaRouter } from '../../src/livekit/ffi-media.js';
import { ignoredInvalidHandleDisposals } from '../../src/livekit/ffi-guard.js';
import { FfiHandle } from '@livekit/rtc-ffi-bindings';
import { createBridgeToken } from '../../src/livekit/token.js';
import { LiveKitConnectError } from '../../src/errors.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await dispose();
});

async function agentJoin(roomName: string, identity = 'agent-1'): Promise<Room> {
  const room = new Room();
  await room.connect(livekitEnv().url, await mintToken({ identity, room: roomName, kind: 'agent' }), {
    autoSubscribe: true,
    dynacast: false,
  });
  cleanups.push(() => room.disconnect());
  return room;
}

async function publishTone(room: Room, freq: number): Promise<void> {
  const tone = await startTone(room, freq, 'agent-voice');
  cleanups.push(() => tone.stop());
}

async function phoneToken(roomName: string): Promise<string> {
  const lk = livekitEnv();
  return createBridgeToken({
    apiKey: lk.apiKey,
    apiSecret: lk.apiSecret,
    roomName,
    identity: 'sip-phone-+919876543210',
    metadata: JSON.stringify({ source: 'exotel_bridge', phone: '+919876543210' }),
    attributes: { 'sip.callStatus': 'dialing' },
  });
}

function dominant(samples: Int16Array, freqs: number[]): number {
  return freqs.reduce((best, f) =>
    goertzelPower(samples, 8000, f) > goertzelPower(samples, 8000, best) ? f : best,
  );
}

describe('PhoneParticipant with a real livekit-server', () => {
  it('subscribes only to agents: another phone or a standard participant in the room is not received', async () => {
    const roomName = uniqueRoom('subs');
    const agent = await agentJoin(roomName);
    await publishTone(agent, 1000);
    const other = new Room();
    await other.connect(
      livekitEnv().url,
      await mintToken({ identity: 'other-phone', room: roomName, kind: 'sip' }),
      { autoSubscribe: false, dynacast: false },
    );
    cleanups.push(() => other.disconnect());
    await publishTone(other, 700);
    const phone = new PhoneParticipant({ url: livekitEnv().url, token: await phoneToken(roomName) });
    cleanups.push(() => phone.close());
    await phone.connect();
    const late = new Room(); // a standard participant that publishes after we joined
    await late.connect(livekitEnv().url, await mintToken({ identity: 'late', room: roomName }), {
      autoSubscribe: false,
      dynacast: false,
    });
    cleanups.push(() => late.disconnect());
    await publishTone(late, 300);
    await eventually('agent track subscribed', () => phone.stats().agentTracks === 1, 10_000);
    await eventually(
      'every publication seen',
      () =>
        [...phone.room.remoteParticipants.values()].reduce((n, p) => n + p.trackPublications.size, 0) === 3,
      10_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const subscribed = Object.fromEntries(
      [...phone.room.remoteParticipants.values()].map((p) => [
        p.identity,
        [...p.trackPublications.values()].map((pub) => pub.subscribed),
      ]),
    );
    expect(subscribed).toEqual({ 'agent-1': [true], 'other-phone': [false], late: [false] });
  });

  it('has every room handler attached before connect, and hears an agent track published before it joined', async () => {
    const roomName = uniqueRoom('phone');
    const agent = await agentJoin(roomName);
    await publishTone(agent, 1000);

    const phone = new PhoneParticipant({ url: livekitEnv().url, token: await phoneToken(roomName) });
    cleanups.push(() => phone.close());
    expect(phone.handlerCount()).toBe(8);
    const heard: Int16Array[] = [];
    phone.on('agentAudio', (s) => {
      if (heard.length > 0 || s.some((v) => Math.abs(v) > 500)) heard.push(s.slice());
    });
    await phone.connect();
    await phone.publishAudio();
    await eventually('1 s of agent audio', () => heard.length >= 50, 15_000);
    const all = new Int16Array(heard.length * 160);
    heard.forEach((f, i) => all.set(f, i * 160));
    expect(dominant(all, [300, 440, 1000, 2000])).toBe(1000);
  });

  it('the agent sees kind SIP with metadata, hears the phone (440 Hz), and can end the call by RPC and receive/send DTMF', async () => {
    const roomName = uniqueRoom('phone2');
    const agent = await agentJoin(roomName);
    let phoneTrack: RemoteTrack | undefined;
    agent.on(RoomEvent.TrackSubscribed, (t) => {
      if (t.kind === TrackKind.KIND_AUDIO) phoneTrack = t;
    });
    const agentDtmf: string[] = [];
    agent.on(RoomEvent.DtmfReceived, (_code, digit) => agentDtmf.push(digit));

    const phone = new PhoneParticipant({ url: livekitEnv().url, token: await phoneToken(roomName) });
    cleanups.push(() => phone.close());
    await phone.connect();
    await phone.publishAudio();
    const p = await eventually('phone participant', () =>
      agent.remoteParticipants.get('sip-phone-+919876543210'),
    );
    expect(p.kind).toBe(ParticipantKind.SIP);
    expect(JSON.parse(p.metadata ?? '{}')).toEqual({ source: 'exotel_bridge', phone: '+919876543210' });

    // Phone → room: 440 Hz captured at 8 kHz in 20 ms frames, paced in real time.
    cleanups.push(playPhoneTone(phone));
    const track = await eventually('phone track at the agent', () => phoneTrack);
    expect(dominant(await agentHears(track, 40), [300, 440, 1000, 2000])).toBe(440);

    // DTMF both ways through LiveKit.
    const phoneDtmf: string[] = [];
    phone.on('dtmf', ({ digit }) => phoneDtmf.push(digit));
    await agent.localParticipant!.publishDtmf(5, '5');
    await phone.publishDtmf(9, '9');
    await eventually('DTMF both ways', () => phoneDtmf.includes('5') && agentDtmf.includes('9'));

    // The agent hangs up through the same RPC as with LiveKit SIP.
    const ended = new Promise<string>((resolve) =>
      phone.once('endCallRequested', ({ identity }) => resolve(identity)),
    );
    await agent.localParticipant!.performRpc({
      destinationIdentity: 'sip-phone-+919876543210',
      method: RPC_END_CALL,
      payload: '',
    });
    expect(await ended).toBe('agent-1');

    await phone.close();
    await eventually('phone gone from the room', async () => {
      const ps = await roomService().listParticipants(roomName);
      return !ps.some((x) => x.identity === 'sip-phone-+919876543210');
    });
  });

  /** Plays 440 Hz from the phone in real time until the returned stop function is called. */
  function playPhoneTone(phone: PhoneParticipant): () => void {
    let running = true;
    void (async () => {
      let n = 0;
      while (running) {
        phone.captureAudio(generateTone(440, 8000, 160, 8000, n));
        n += 160;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    return () => {
      running = false;
    };
  }

  async function agentHears(track: RemoteTrack, frames: number): Promise<Int16Array> {
    const stream = new AudioStream(track, { sampleRate: 8000, numChannels: 1, frameSizeMs: 20 });
    const got: Int16Array[] = [];
    for await (const f of stream) {
      if (got.length > 0 || f.data.some((v) => Math.abs(v) > 500)) got.push(f.data.slice());
      if (got.length >= frames) break;
    }
    await stream.cancel().catch(() => undefined);
    const all = new Int16Array(got.length * 160);
    got.forEach((f, i) => all.set(f, i * 160));
    return all;
  }

  for (const directFfi of [true, false]) {
    it(`audio both ways with directFfi ${directFfi}: ${directFfi ? "frames bypass rtc-node's event broadcast (no listener per stream or capture)" : "rtc-node's own AudioSource and AudioStream"}`, async () => {
      const roomName = uniqueRoom(`ffi-${directFfi}`);
      const agent = await agentJoin(roomName);
      await publishTone(agent, 1000);
      let phoneTrack: RemoteTrack | undefined;
      agent.on(RoomEvent.TrackSubscribed, (t) => {
        if (t.kind === TrackKind.KIND_AUDIO) phoneTrack = t;
      });
      const client = (globalThis as unknown as { _ffiClientInstance: { listenerCount(e: string): number } })
        ._ffiClientInstance;
      const router = FfiMediaRouter.get();
      expect(router).toBeDefined();
      // rtc-node's native log capture is off once the router is installed: no `logs` events
      let logEvents = 0;
      const countLogs = (ev: { message: { case?: string } }): void => {
        if (ev.message.case === 'logs') logEvents++;
      };
      (client as unknown as { on(e: string, l: typeof countLogs): void }).on('ffi_event', countLogs);
      cleanups.push(() =>
        (client as unknown as { off(e: string, l: typeof countLogs): void }).off('ffi_event', countLogs),
      );
      const routed0 = router!.routed;
      const listeners0 = client.listenerCount('ffi_event');

      const phone = new PhoneParticipant({
        url: livekitEnv().url,
        token: await phoneToken(roomName),
        directFfi,
      });
      cleanups.push(() => phone.close());
      const heard: Int16Array[] = [];
      phone.on('agentAudio', (s) => {
        if (heard.length > 0 || s.some((v) => Math.abs(v) > 500)) heard.push(s.slice());
      });
      await phone.connect();
      await phone.publishAudio();
      const stop = playPhoneTone(phone);
      cleanups.push(stop);
      const track = await eventually('phone track at the agent', () => phoneTrack);
      const atAgent = await agentHears(track, 40);
      await eventually('1 s of agent audio at the phone', () => heard.length >= 50, 15_000);
      const atPhone = new Int16Array(heard.length * 160);
      heard.forEach((f, i) => atPhone.set(f, i * 160));
      expect(dominant(atAgent, [300, 440, 1000, 2000])).toBe(440);
      expect(dominant(atPhone, [300, 440, 1000, 2000])).toBe(1000);

      // Sample the broadcast's listeners while frames flow both ways.
      const counts: number[] = [];
      for (let i = 0; i < 20; i++) {
        counts.push(client.listenerCount('ffi_event') - listeners0);
        await new Promise((r) => setTimeout(r, 7));
      }
      const routed = router!.routed - routed0;
      if (directFfi) {
        expect(logEvents).toBe(0);
        // Only the phone's Room listens; frames never reach the broadcast.
        expect(Math.max(...counts)).toBe(1);
        expect(router!.size.streams).toBe(1);
        // ≥ 50 frames received and ≥ 50 captures confirmed per second of audio.
        expect(routed).toBeGreaterThan(100);
      } else {
        // rtc-node: the Room, the AudioStream, and capture waiters while frames are in flight.
        expect(Math.max(...counts)).toBeGreaterThanOrEqual(2);
        expect(routed).toBe(0);
      }
      stop();
      const handleIds = [
        ...[...phone.room.remoteParticipants.values()].flatMap((p) => [
          p.ffi_handle.handle,
          ...[...p.trackPublications.values()].map((pub) => pub.ffiHandle.handle),
        ]),
        phone.room.localParticipant!.ffi_handle.handle,
      ];
      await phone.close();
      expect(router!.size).toEqual({ streams: 0, captures: 0 });
      expect(client.listenerCount('ffi_event')).toBe(listeners0);
      // Every native handle rtc-node leaves to the garbage collector was released at close:
      // the native side no longer knows them (a second drop is refused, and absorbed).
      expect(phone.handlesReleased).toBeGreaterThanOrEqual(handleIds.length + 1);
      const ignored = ignoredInvalidHandleDisposals();
      for (const id of handleIds) new FfiHandle(id).dispose();
      expect(ignoredInvalidHandleDisposals() - ignored).toBe(handleIds.length);
    });
  }

  it('a refused LiveKit port fails fast with LiveKitConnectError and leaves nothing behind', async () => {
    // The connect timeout is far beyond the test's own timeout: the rejection can only come
    // from the refused connection, never from the timer (no wall-clock bound to assert).
    const phone = new PhoneParticipant({
      url: 'ws://127.0.0.1:1',
      token: await phoneToken('nope'),
      connectTimeoutMs: 3_600_000,
    });
    await expect(phone.connect()).rejects.toBeInstanceOf(LiveKitConnectError);
  });
});
