/**
 * Shared pieces of the end-to-end tests: the Exotel simulator on loopback, a room on the
 * test LiveKit server, an agent-kind participant that speaks a tone and records what the
 * phone says, and checks that the bridge left nothing behind.
 */
import { AudioStream, Room, RoomEvent, TrackKind } from '@livekit/rtc-node';
import { isBridgeParticipant } from '../../src/entries/agent.js';
import { runBridge, type BridgeCall, type ExotelSettings, type RunBridgeOptions } from '../../src/index.js';
import { ExotelSimulator, type CallBehaviour } from '../../src/testing/index.js';
import { livekitEnv, mintToken, roomService, uniqueRoom } from './livekit.js';
import { publishTone } from './tone.js';

/** Teardown steps, run in reverse order by the test file's afterEach. */
export type Cleanups = (() => Promise<unknown> | void)[];

export async function runCleanups(cleanups: Cleanups): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
}

export async function startSim(
  cleanups: Cleanups,
  behaviour: Partial<CallBehaviour> = {},
): Promise<ExotelSimulator> {
  const s = new ExotelSimulator({
    host: '127.0.0.1',
    fromDomain: 'test.sip.exotel.com',
    callerIds: ['08044319240'],
    behaviour: { ringAfterMs: 50, answerAfterMs: 150, play: { toneHz: 440, amplitude: 8000 }, ...behaviour },
  });
  await s.start();
  cleanups.push(() => s.close());
  return s;
}

export function exotelFor(port: number, transport: 'tcp' | 'udp' = 'tcp'): Partial<ExotelSettings> {
  return {
    sipHost: '127.0.0.1',
    sipPort: port,
    transport,
    customerIp: '127.0.0.1',
    customerSipPort: 0,
    mediaIp: '127.0.0.1',
    callerId: '08044319240',
    fromDomain: 'test.sip.exotel.com',
  };
}

export function livekitOpts(): { url: string; apiKey: string; apiSecret: string } {
  const lk = livekitEnv();
  return { url: lk.url, apiKey: lk.apiKey, apiSecret: lk.apiSecret };
}

export async function createRoom(cleanups: Cleanups, prefix = 'e2e'): Promise<string> {
  const name = uniqueRoom(prefix);
  await roomService().createRoom({ name, emptyTimeout: 30 });
  cleanups.push(() =>
    roomService()
      .deleteRoom(name)
      .catch(() => undefined),
  );
  return name;
}

export interface TestAgent {
  room: Room;
  heard: Int16Array[];
  stopSpeaking(): Promise<void>;
}

/** A kind-AGENT participant that says `freq` Hz and records what the phone says. */
export async function startAgent(
  cleanups: Cleanups,
  roomName: string,
  freq = 1000,
  identity = 'agent',
): Promise<TestAgent> {
  const room = new Room();
  const heard: Int16Array[] = [];
  room.on(RoomEvent.TrackSubscribed, (track, _pub, p) => {
    if (track.kind !== TrackKind.KIND_AUDIO || !isBridgeParticipant(p)) return;
    void (async () => {
      const stream = new AudioStream(track, { sampleRate: 8000, numChannels: 1, frameSizeMs: 20 });
      for await (const f of stream) {
        if (heard.length < 1500) heard.push(f.data.slice());
      }
    })().catch(() => undefined);
  });
  await room.connect(livekitEnv().url, await mintToken({ identity, room: roomName, kind: 'agent' }), {
    autoSubscribe: true,
    dynacast: false,
  });
  const tone = await publishTone(room, freq, 'agent-voice');
  cleanups.push(async () => {
    await tone.stop();
    await room.disconnect();
  });
  return { room, heard, stopSpeaking: () => tone.stop() };
}

/** runBridge against the test server and a far end on `port`; hung up by the cleanups. */
export function bridge(
  cleanups: Cleanups,
  roomName: string,
  port: number,
  extra: Partial<RunBridgeOptions> = {},
): BridgeCall {
  const call = runBridge({
    roomName,
    phoneNumber: '+919876543210',
    agentType: 'test',
    livekit: livekitOpts(),
    exotel: exotelFor(port),
    env: {},
    statsLogIntervalMs: 500,
    ...extra,
  });
  cleanups.push(() => call.hangup());
  return call;
}

export async function phoneParticipantGone(roomName: string): Promise<boolean> {
  const ps = await roomService()
    .listParticipants(roomName)
    .catch(() => []);
  return !ps.some((p) => p.identity.startsWith('sip-phone-'));
}

export function concat(frames: Int16Array[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

/** PCM cut into 20 ms frames (160 samples at 8 kHz), e.g. a whole recording for `loudPart`. */
export function frames20(pcm: Int16Array): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i + 160 <= pcm.length; i += 160) out.push(pcm.subarray(i, i + 160));
  return out;
}

export function loudPart(frames: Int16Array[]): Int16Array {
  return concat(frames.filter((f) => f.some((v) => Math.abs(v) > 500)));
}

/**
 * Node's active handles by kind (`TCPSocketWrap`, `UDPWrap`, `Timeout`, …). Blind to unref'd
 * timers and handles and to native sockets and threads: leak checks use `./resources.ts`.
 */
export function activeResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}
