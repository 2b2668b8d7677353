/**
 * Mixes 20 ms frames from several agent tracks into one stream (pure, no timers).
 *
 * Each source has a short FIFO. A mixed frame is emitted as soon as every source has a
 * frame queued, or when one source is `maxBacklog` frames ahead (the others are silent
 * or stalled, so waiting longer would only add delay). With one source, frames pass
 * straight through without a copy.
 */
export class FrameMixer {
  private readonly queues = new Map<string, Int16Array[]>();
  private readonly out: Int16Array;
  private readonly acc: Int32Array;

  /**
   * @param frameSize samples per frame (160 = 20 ms at 8 kHz)
   * @param onFrame receives each mixed frame; the array is reused, copy it to keep it
   * @param maxBacklog frames a source may run ahead before mixing without the others
   */
  constructor(
    readonly frameSize: number,
    private readonly onFrame: (samples: Int16Array) => void,
    private readonly maxBacklog = 3,
  ) {
    this.out = new Int16Array(frameSize);
    this.acc = new Int32Array(frameSize);
  }

  get sourceCount(): number {
    return this.queues.size;
  }

  addSource(id: string): void {
    if (!this.queues.has(id)) this.queues.set(id, []);
  }

  removeSource(id: string): void {
    this.queues.delete(id);
    this.drain();
  }

  /** Queues one frame of `frameSize` samples from a source (other sizes are ignored). */
  push(id: string, samples: Int16Array): void {
    if (samples.length !== this.frameSize) return;
    const q = this.queues.get(id);
    if (q === undefined) return;
    if (this.queues.size === 1) {
      this.onFrame(samples);
      return;
    }
    q.push(samples.slice());
    if (q.length > this.maxBacklog + 1) q.shift();
    this.drain();
  }

  private drain(): void {
    for (;;) {
      let ready = 0;
      let backlogged = false;
      for (const q of this.queues.values()) {
        if (q.length > 0) ready += 1;
        if (q.length >= this.maxBacklog) backlogged = true;
      }
      if (ready === 0 || (ready < this.queues.size && !backlogged)) return;
      this.acc.fill(0);
      for (const q of this.queues.values()) {
        const f = q.shift();
        if (f === undefined) continue;
        for (let i = 0; i < this.frameSize; i++) this.acc[i]! += f[i]!;
      }
      for (let i = 0; i < this.frameSize; i++) {
        const v = this.acc[i]!;
        this.out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
      this.onFrame(this.out);
    }
  }
}
