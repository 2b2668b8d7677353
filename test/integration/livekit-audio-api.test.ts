/**
 * Pins down the @livekit/rtc-node audio API the bridge rests on, against a real
 * livekit-server (the seed plan's BUG-6: "verify the AudioFrame API against the SDK"),
 * and the handler-before-connect pattern (BUG-2) and SIP participant kind it relies on.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type AudioFrame,
  AudioStream,
  ParticipantKind,
  Room,
  RoomEvent,
  TrackKind,
  dispose,
  type RemoteParticipant,
  type RemoteTrack,
} from '@livekit/rtc-node';
import { publishTone as startTone, type TonePublisher } from '../harness/tone.js';
import { eventually, livekitEnv, mintToken, roomService, uniqueRoom } from '../harness/livekit.js';
import { goertzelPower } from '../../src/rtp/goertzel.js';

const rooms: Room[] = [];
const stops: (() => void)[] = [];

afterEach(async () => {
  for (const s of stops.splice(0)) s();
  await Promise.all(rooms.splice(0).map((r) => r.disconnect()));
});

afterAll(async () => {
  await dispose();
});

async function join(
  roomName: string,
  identity: string,
  opts: Parameters<typeof mintToken>[0] extends infer T ? Partial<T> : never = {},
  before?: (room: Room) => void,
): Promise<Room> {
  const room = new Room();
  before?.(room);
  const token = await mintToken({ identity, room: roomName, ...opts });
  await room.connect(livekitEnv().url, token, { autoSubscribe: true, dynacast: false });
  rooms.push(room);
  return room;
}

async function publishTone(room: Room, freq: number): Promise<TonePublisher> {
  const tone = await startTone(room, freq);
  stops.push(() => void tone.stop());
  return tone;
}

/** Reads a subscribed track at 8 kHz / 20 ms and collects `ms` of audio after the first non-silent frame. */
async function collect(
  track: RemoteTrack,
  ms: number,
): Promise<{ samples: Int16Array; frames: AudioFrame[] }> {
  const stream = new AudioStream(track, { sampleRate: 8000, numChannels: 1, frameSizeMs: 20 });
  const frames: AudioFrame[] = [];
  const deadline = Date.now() + 15_000;
  for await (const frame of stream) {
    const loud = frame.data.some((v) => Math.abs(v) > 500);
    if (frames.length > 0 || loud) frames.push(frame);
    if (frames.length * 20 >= ms || Date.now() > deadline) break;
  }
  await stream.cancel().catch(() => undefined);
  const samples = new Int16Array(frames.reduce((n, f) => n + f.data.length, 0));
  let off = 0;
  for (const f of frames) {
    samples.set(f.data, off);
    off += f.data.length;
  }
  return { samples, frames };
}

function dominantOf(samples: Int16Array, freqs: number[]): number {
  let best = freqs[0]!;
  let bestPower = -1;
  for (const f of freqs) {
    const p = goertzelPower(samples, 8000, f);
    if (p > bestPower) {
      bestPower = p;
      best = f;
    }
  }
  return best;
}

const PROBES = [300, 440, 700, 1000, 1400, 2000, 3000];

describe('LiveKit audio API against a real server', () => {
  it('8 kHz mono AudioSource → AudioStream(8 kHz, 20 ms): a 1 kHz tone arrives and dominates every probe', async () => {
    const roomName = uniqueRoom('audio');
    let subscribed: RemoteTrack | undefined;
    await join(roomName, 'listener', {}, (room) =>
      room.on(RoomEvent.TrackSubscribed, (track) => {
        if (track.kind === TrackKind.KIND_AUDIO) subscribed = track;
      }),
    );
    const speaker = await join(roomName, 'speaker');
    await publishTone(speaker, 1000);
    const track = await eventually('TrackSubscribed', () => subscribed);
    const { samples, frames } = await collect(track, 1000);

    // The frame shape the bridge relies on: 8 kHz, mono, 160 samples per 20 ms frame.
    expect(frames.length).toBeGreaterThanOrEqual(50);
    for (const f of frames) {
      expect(f.sampleRate).toBe(8000);
      expect(f.channels).toBe(1);
      expect(f.samplesPerChannel).toBe(160);
      expect(f.data).toBeInstanceOf(Int16Array);
    }
    expect(dominantOf(samples, PROBES)).toBe(1000);
    const p1k = goertzelPower(samples, 8000, 1000);
    for (const f of PROBES.filter((x) => x !== 1000)) {
      expect(p1k).toBeGreaterThan(20 * goertzelPower(samples, 8000, f));
    }
  });

  it('a TrackSubscribed handler attached before connect() receives a track published before joining (BUG-2)', async () => {
    const roomName = uniqueRoom('early');
    const speaker = await join(roomName, 'agent-early');
    await publishTone(speaker, 440);
    // Make sure the publication is live on the server before the listener joins.
    await eventually('publication on server', async () => {
      const ps = await roomService().listParticipants(roomName);
      return ps.some((p) => p.identity === 'agent-early' && p.tracks.length > 0);
    });

    const seen: { identity: string; beforeConnectResolved: boolean }[] = [];
    let connected = false;
    let track: RemoteTrack | undefined;
    await join(roomName, 'late-listener', {}, (room) =>
      room.on(RoomEvent.TrackSubscribed, (t, _pub, participant: RemoteParticipant) => {
        seen.push({ identity: participant.identity, beforeConnectResolved: !connected });
        track = t;
      }),
    );
    connected = true;
    await eventually('TrackSubscribed for the early track', () => track);
    expect(seen.map((s) => s.identity)).toEqual(['agent-early']);
    const { samples } = await collect(track!, 600);
    expect(dominantOf(samples, PROBES)).toBe(440);
  });

  it('a token with kind "sip" is seen by others as ParticipantKind.SIP with its attributes and metadata', async () => {
    const roomName = uniqueRoom('kind');
    let seen: RemoteParticipant | undefined;
    await join(roomName, 'observer', {}, (room) =>
      room.on(RoomEvent.ParticipantConnected, (p) => {
        if (p.identity === 'sip-phone-+919876543210') seen = p;
      }),
    );
    const attributes = { 'sip.callStatus': 'dialing', 'sip.phoneNumber': '+919876543210' };
    const metadata = JSON.stringify({ source: 'exotel_bridge', phone: '+919876543210' });
    await join(roomName, 'sip-phone-+919876543210', { kind: 'sip', attributes, metadata });
    const p = await eventually('ParticipantConnected', () => seen);
    expect(ParticipantKind.SIP).toBe(3);
    expect(p.kind).toBe(ParticipantKind.SIP);
    expect(p.attributes).toEqual(attributes);
    expect(p.metadata).toBe(metadata);
    // A participant joining without a kind is STANDARD: the check really tells them apart.
    await join(roomName, 'plain-user');
    const plain = await eventually('plain participant', () => rooms[0]!.remoteParticipants.get('plain-user'));
    expect(plain.kind).toBe(ParticipantKind.STANDARD);
  });
});
