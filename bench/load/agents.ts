/**
 * The agents of the load benchmark, in their own process: one kind-AGENT participant per
 * room that publishes a 1 kHz tone (what the phone should hear) and reads the phone
 * participant's audio with `AudioStream` at 8 kHz / 20 ms (what the agent hears). It also
 * notes when the phone participant's `sip.callStatus` became `active` — both our bridge and
 * LiveKit SIP set that attribute — so setup times are seen from the room.
 */
import {
  AudioStream,
  ParticipantKind,
  Room,
  RoomEvent,
  TrackKind,
  dispose,
  type RemoteParticipant,
} from '@livekit/rtc-node';
import { publishTone, type TonePublisher } from '../../test/harness/tone.js';
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

interface AgentState {
  name: string;
  room: Room;
  tone?: TonePublisher;
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
    void (async () => {
      const stream = new AudioStream(track, { sampleRate: 8000, numChannels: 1, frameSizeMs: 20 });
      for await (const f of stream) {
        if (!inWindow) continue;
        a.frames++;
        const d = f.data;
        let sum = 0;
        for (let i = 0; i < d.length; i++) sum += d[i]! * d[i]!;
        if (d.length > 0 && Math.sqrt(sum / d.length) > TONE_RMS) a.toneFrames++;
      }
    })().catch(() => undefined);
  });
  await room.connect(url, token, { autoSubscribe: true, dynacast: false });
  for (const p of room.remoteParticipants.values()) watchPhone(a, p);
  a.tone = await publishTone(room, 1000, 'agent-voice');
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
