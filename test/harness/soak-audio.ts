/**
 * What the soak checks about audio, per call and in both directions, the way a user would:
 * the agent in the room hears the phone's tone (the far end plays 440 Hz), and the phone
 * hears the agent's tone (the agent speaks 1 kHz). Counting frames the bridge captured is
 * not enough (the native side may still reject them, or the agent may never subscribe).
 */
import { AudioStream, RoomEvent, TrackKind, type RemoteParticipant, type Room } from '@livekit/rtc-node';
import { dominantFrequency, goertzelPower } from '../../src/rtp/goertzel.js';

/** What the far end says (the simulator's tone) and what the agent says. */
export const PHONE_HZ = 440;
export const AGENT_HZ = 1000;
/** Candidates for `dominantFrequency`: both tones and two that neither side plays. */
const CANDIDATES = [300, PHONE_HZ, AGENT_HZ, 2000];
/** A tone counts when its power is at least this (amplitude ≈ 2 000 of the 8 000 sent). */
const MIN_POWER = 2000 ** 2 / 4;
/** Consecutive 20 ms windows that must carry the tone. */
const WINDOWS = 5;
const WINDOW = 160;

/** True when `samples` ends with `WINDOWS` 20 ms windows in which `hz` dominates and is loud. */
export function hearsTone(samples: Int16Array, hz: number, windows = WINDOWS): boolean {
  if (samples.length < windows * WINDOW) return false;
  for (let w = 0; w < windows; w++) {
    const end = samples.length - w * WINDOW;
    const win = samples.subarray(end - WINDOW, end);
    if (dominantFrequency(win, 8000, CANDIDATES) !== hz) return false;
    if (goertzelPower(win, 8000, hz) < MIN_POWER) return false;
  }
  return true;
}

/**
 * The agent's ears in one room: subscribes (auto-subscribe on) to every phone participant
 * and, for the call it was told to listen for, reads the phone's track until `PHONE_HZ`
 * dominates `WINDOWS` frames in a row, then stops reading (cancels the stream).
 */
export class AgentEars {
  /** identity → the listener waiting for that phone. */
  private readonly waiting = new Map<string, Ear>();

  constructor(room: Room) {
    room.on(RoomEvent.TrackSubscribed, (track, _pub, p: RemoteParticipant) => {
      if (track.kind !== TrackKind.KIND_AUDIO) return;
      const ear = this.waiting.get(p.identity);
      if (ear === undefined || ear.reading) return;
      ear.read(new AudioStream(track, { sampleRate: 8000, numChannels: 1, frameSizeMs: 20 }));
    });
  }

  /** Call before the call starts (the handler must be there before the track is). */
  listenFor(identity: string): Ear {
    const ear = new Ear(() => {
      if (this.waiting.get(identity) === ear) this.waiting.delete(identity);
    });
    this.waiting.set(identity, ear);
    return ear;
  }
}

export class Ear {
  reading = false;
  heard = false;
  frames = 0;
  private reader: ReadableStreamDefaultReader<{ data: Int16Array }> | undefined;
  private readonly tail = new Int16Array(WINDOWS * WINDOW);
  private onHeard: (() => void) | undefined;
  readonly heardIt: Promise<void>;

  constructor(private readonly release: () => void) {
    this.heardIt = new Promise<void>((r) => (this.onHeard = r));
  }

  read(stream: AudioStream): void {
    this.reading = true;
    const reader = stream.getReader();
    this.reader = reader;
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        this.frames++;
        const d = value.data;
        // keep the last WINDOWS frames
        this.tail.copyWithin(0, d.length);
        this.tail.set(d.subarray(0, Math.min(d.length, this.tail.length)), this.tail.length - d.length);
        if (this.frames >= WINDOWS && hearsTone(this.tail, PHONE_HZ)) {
          this.heard = true;
          this.onHeard?.();
          this.stop();
          return;
        }
      }
    })().catch(() => undefined);
  }

  /** Stops reading and forgets this call (idempotent). */
  stop(): void {
    this.release();
    void this.reader?.cancel().catch(() => undefined);
    this.reader = undefined;
  }
}

/** True when `WINDOWS` consecutive 20 ms windows anywhere in `samples` carry `hz`. */
export function hearsToneSomewhere(samples: Int16Array, hz: number): boolean {
  let run = 0;
  for (let end = WINDOW; end <= samples.length; end += WINDOW) {
    const win = samples.subarray(end - WINDOW, end);
    const ok = dominantFrequency(win, 8000, CANDIDATES) === hz && goertzelPower(win, 8000, hz) >= MIN_POWER;
    run = ok ? run + 1 : 0;
    if (run >= WINDOWS) return true;
  }
  return false;
}

/** What the far end recorded of a call, by SIP Call-ID, as the simulator's calls expose it. */
export interface FarEndCalls {
  readonly calls: readonly { readonly callId: string; heard(): Int16Array }[];
}

/** Whether the phone (the simulator's call with this Call-ID) heard the agent's tone. */
export function farEndHeard(sim: FarEndCalls, sipCallId: string): boolean {
  const c = sim.calls.find((x) => x.callId === sipCallId);
  return c !== undefined && hearsToneSomewhere(c.heard(), AGENT_HZ);
}
