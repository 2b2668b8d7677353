/**
 * The agents of the load benchmark, in their own process: one kind-AGENT participant per
 * room that publishes a 1 kHz tone (what the phone should hear) and reads the phone
 * participant's audio with `AudioStream` at 8 kHz / 20 ms (what the agent hears). It also
 * notes when the phone participant's `sip.callStatus` became `active` — both our bridge and
 * LiveKit SIP set that attribute — so setup times are seen from the room.
 *
 * The agents send and read their frames through the bridge's own FFI path
 * (`src/livekit/ffi-media.ts`) rather than `AudioSource.captureFrame()` / `AudioStream`:
 * the agents serve both systems under test alike, and with rtc-node's process-wide event
 * broadcast a process of 50 agent rooms would spend the machine's CPU on itself.
 */
import {
  AudioSource,
  LocalAudioTrack,
  ParticipantKind,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  dispose,
  type RemoteParticipant,
} from '@livekit/rtc-node';
import {
  FfiMediaRouter,
  NativeAudioCapture,
  NativeAudioReader,
  quietNativeInit,
} from '../../src/livekit/ffi-media.js';
import { generateTone } from '../../src/rtp/goertzel.js';
import { epochMs, serveRpc } from './ipc.js';

export interface AgentJoinParams {
  url: string;
  rooms: { room: string; token: string }[];
  /** Rooms connected at once. */
  concurrency: number;
}

export interface AgentRoomWindow {
  room: string;
  /** Frames read from the phone's track during the window. */
  frames: number;
  /** Of those, frames carrying the far end's tone (RMS above 1000). */
  toneFrames: number;
  /** Frames the window should have held (window / 20 ms). */
  expected: number;
}

interface TonePublisher {
  stop(): Promise<void>;
}

/** One shared 10 ms ticker sends every agent's tone frames that are due (by wall time). */
const tones = new Set<{ capture: NativeAudioCapture; t0: number; sent: number; tone: Int16Array[] }>();
let ticker: NodeJS.Timeout | undefined;

function tick(): void {
  const now = performance.now();
  for (const t of tones) {
    const due = Math.floor((now - t.t0) / 20) + 1;
    // after a stall, catch up at most 5 frames (the native queue holds 100 ms)
    if (due - t.sent > 5) t.sent = due - 5;
    while (t.sent < due) {
      t.capture.capture(t.tone[t.sent % t.tone.length]!);
      t.sent++;
    }
  }
}

async function publishToneDirect(room: Room, freq: number): Promise<TonePublisher> {
  const source = new AudioSource(8000, 1, 100);
  await room.localParticipant!.publishTrack(
    LocalAudioTrack.createAudioTrack('agent-voice', source),
    new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
  );
  const router = FfiMediaRouter.get();
  if (!router) throw new Error('the direct FFI path is not available');
  // 1 kHz at 8 kHz repeats every 8 samples: 25 frames of 160 cover whole periods
  const frames = Array.from({ length: 25 }, (_, i) => generateTone(freq, 8000, 160, 8000, i * 160));
  const t = {
    capture: new NativeAudioCapture(router, source.ffiHandle.handle, 8000, 160),
    t0: performance.now(),
    sent: 0,
    tone: frames,
  };
  tones.add(t);
  ticker ??= setInterval(tick, 10);
  return {
    async stop() {
      tones.delete(t);
      t.capture.close();
      if (tones.size === 0 && ticker !== undefined) {
        clearInterval(ticker);
        ticker = undefined;
      }
      await source.close();
    },
  };
}

interface AgentState {
  name: string;
  room: Room;
  tone?: TonePublisher;
  reader?: NativeAudioReader;
  frames: number;
  toneFrames: number;
  activeEpoch?: number;
  phoneJoinedEpoch?: number;
  streaming: boolean;
}

const agents = new Map<string, AgentState>();
let windowStartMs = 0;
let inWindow = false;
const TONE_RMS = 1000;

function watchPhone(a: AgentState, p: RemoteParticipant): void {
  if (p.kind !== ParticipantKind.SIP) return;
  a.phoneJoinedEpoch ??= epochMs();
  if (p.attributes['sip.callStatus'] === 'active') a.activeEpoch ??= epochMs();
}

async function join(url: string, name: string, token: string): Promise<void> {
  const room = new Room();
  const a: AgentState = { name, room, frames: 0, toneFrames: 0, streaming: false };
  agents.set(name, a);
  room.on(RoomEvent.ParticipantConnected, (p) => watchPhone(a, p));
  room.on(RoomEvent.ParticipantAttributesChanged, (_changed, p) => {
    if (p.identity !== room.localParticipant?.identity) watchPhone(a, p as RemoteParticipant);
  });
  room.on(RoomEvent.TrackSubscribed, (track, _pub, p) => {
    if (track.kind !== TrackKind.KIND_AUDIO || p.kind !== ParticipantKind.SIP || a.streaming) return;
    a.streaming = true;
    const router = FfiMediaRouter.get();
    if (!router) throw new Error('the direct FFI path is not available');
    a.reader = new NativeAudioReader(router, track.ffi_handle.handle, {
      sampleRate: 8000,
      numChannels: 1,
      frameSizeMs: 20,
      onFrame: (d) => {
        if (!inWindow) return;
        a.frames++;
        let sum = 0;
        for (let i = 0; i < d.length; i++) sum += d[i]! * d[i]!;
        if (d.length > 0 && Math.sqrt(sum / d.length) > TONE_RMS) a.toneFrames++;
      },
    });
  });
  // like the bridge: start the native layer with its logger silent, route frames, drop logs
  const connecting = quietNativeInit(() =>
    room.connect(url, token, { autoSubscribe: true, dynacast: false }),
  );
  FfiMediaRouter.get();
  await connecting;
  for (const p of room.remoteParticipants.values()) watchPhone(a, p);
  a.tone = await publishToneDirect(room, 1000);
}

serveRpc({
  async join(p: AgentJoinParams) {
    const queue = [...p.rooms];
    const failures: string[] = [];
    const workers = Array.from({ length: Math.max(1, p.concurrency) }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        try {
          await join(p.url, next.room, next.token);
        } catch (err) {
          failures.push(`${next.room}: ${String(err)}`);
        }
      }
    });
    await Promise.all(workers);
    return failures;
  },

  /** Per room: when the phone joined and when its `sip.callStatus` became `active` (wall clock). */
  activeTimes() {
    return [...agents.values()].map((a) => ({
      room: a.name,
      activeEpoch: a.activeEpoch,
      phoneJoinedEpoch: a.phoneJoinedEpoch,
      streaming: a.streaming,
    }));
  },

  windowStart() {
    for (const a of agents.values()) {
      a.frames = 0;
      a.toneFrames = 0;
    }
    windowStartMs = performance.now();
    inWindow = true;
    return true;
  },

  windowEnd(): AgentRoomWindow[] {
    inWindow = false;
    const expected = Math.round((performance.now() - windowStartMs) / 20);
    return [...agents.values()].map((a) => ({
      room: a.name,
      frames: a.frames,
      toneFrames: a.toneFrames,
      expected,
    }));
  },

  async leaveAll() {
    const all = [...agents.values()];
    agents.clear();
    await Promise.all(
      all.map(async (a) => {
        await a.tone?.stop().catch(() => undefined);
        a.reader?.close();
        await a.room.disconnect().catch(() => undefined);
      }),
    );
    return all.length;
  },

  async shutdown() {
    await dispose();
    setTimeout(() => process.exit(0), 100);
    return true;
  },
});
