/**
 * The caller's side of an AgentStream: Exotel sends about 100 ms of audio at a time; the room
 * wants 20 ms frames in real time. `FramePacer` cuts what arrives into 20 ms frames and hands
 * them on at absolute 20 ms deadlines on the injected clock, with a bounded queue (the oldest
 * frames are dropped and counted). A stall is not made up with a burst: the schedule
 * re-anchors.
 */
import { clearTimer, type TimerClock, type TimerHandle } from '../clock.js';

const FRAME_MS = 20;

export class FramePacer {
  /** Frames dropped because the queue was over its bound. */
  dropped = 0;
  private frames: Int16Array[] = [];
  private partial: Int16Array | undefined;
  private fill = 0;
  private deadline = 0;
  private timer: TimerHandle | undefined;
  private readonly frameSamples: number;
  private readonly maxFrames: number;
  private closed = false;

  constructor(
    private readonly clock: TimerClock,
    sampleRate: number,
    maxQueueMs: number,
    private readonly sink: (frame: Int16Array) => void,
  ) {
    this.frameSamples = sampleRate / 50;
    this.maxFrames = Math.max(1, Math.floor(maxQueueMs / FRAME_MS));
  }

  /** Queues caller audio (any length); frames leave on the 20 ms schedule. */
  push(samples: Int16Array): void {
    if (this.closed) return;
    const frame = this.frameSamples;
    let i = 0;
    while (i < samples.length) {
      this.partial ??= new Int16Array(frame);
      const n = Math.min(frame - this.fill, samples.length - i);
      this.partial.set(samples.subarray(i, i + n), this.fill);
      this.fill += n;
      i += n;
      if (this.fill === frame) {
        this.frames.push(this.partial);
        this.partial = undefined;
        this.fill = 0;
      }
    }
    if (this.frames.length > this.maxFrames) {
      const drop = this.frames.length - this.maxFrames;
      this.frames.splice(0, drop);
      this.dropped += drop;
    }
    if (this.timer !== undefined) return;
    // keep 20 ms between frames even when the queue had run dry just before
    const now = this.clock.now();
    if (this.deadline > now) this.timer = this.clock.setTimeout(this.release, this.deadline - now);
    else {
      this.deadline = now;
      this.release();
    }
  }

  /** Drops what is queued and stops the schedule. Idempotent. */
  close(): void {
    this.closed = true;
    this.timer = clearTimer(this.clock, this.timer);
    this.frames = [];
  }

  private readonly release = (): void => {
    this.timer = undefined;
    if (this.closed) return;
    const now = this.clock.now();
    // fell behind by more than a frame (a stall): re-anchor instead of bursting
    if (now - this.deadline > FRAME_MS) this.deadline = now;
    const frame = this.frames.shift();
    if (frame === undefined) return;
    this.sink(frame);
    this.deadline += FRAME_MS;
    if (this.frames.length > 0)
      this.timer = this.clock.setTimeout(this.release, Math.max(0, this.deadline - this.clock.now()));
  };
}
