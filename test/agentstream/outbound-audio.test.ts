import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  StreamAudioOut,
  defaultStreamChunkMs,
  type StreamAudioChunk,
  type StreamAudioOutOptions,
} from '../../src/agentstream/outbound-audio.js';
import type { StreamSampleRate } from '../../src/agentstream/protocol.js';
import { ConfigError } from '../../src/errors.js';

const RATES: readonly StreamSampleRate[] = [8000, 16000, 24000];

/** A source of 20 ms frames whose samples count up from 1 (so order can be checked; 0 is padding). */
class Source {
  next = 1;
  constructor(readonly rate: StreamSampleRate) {}
  frame(samples = this.rate / 50): Int16Array {
    const f = new Int16Array(samples);
    for (let i = 0; i < samples; i++) {
      f[i] = this.next;
      this.next = this.next === 32767 ? 1 : this.next + 1;
    }
    return f;
  }
  pushFrames(out: StreamAudioOut, n: number): void {
    for (let i = 0; i < n; i++) out.push(this.frame());
  }
}

/** The chunk's samples and mark, copied (the chunk object is reused). */
function take(c: StreamAudioChunk | undefined): { samples: number[]; mark: string } | undefined {
  return c === undefined ? undefined : { samples: Array.from(c.samples), mark: c.mark };
}

/** `n` consecutive values of {@link Source} from `from` (which wraps from 32767 to 1). */
const range = (from: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => ((from - 1 + i) % 32767) + 1);

describe('StreamAudioOut: chunk sizes', () => {
  it.each([
    [8000, 200, 3200],
    [16000, 100, 3200],
    [24000, 100, 4800],
  ] as const)('at %i Hz the default chunk is %i ms (%i bytes)', (rate, ms, bytes) => {
    expect(defaultStreamChunkMs(rate)).toBe(ms);
    const out = new StreamAudioOut({ sampleRate: rate });
    expect(out.chunkMs).toBe(ms);
    const src = new Source(rate);
    src.pushFrames(out, ms / 20);
    const c = take(out.poll(0));
    expect(c?.samples.length).toBe(bytes / 2);
    expect(((c?.samples.length ?? 0) * 2) % 320).toBe(0);
    expect(c?.samples).toEqual(range(1, bytes / 2));
    expect(c?.mark).toBe('m1');
    expect(out.stats()).toMatchObject({ sentMs: ms, queuedMs: 0, chunks: 1, pendingMarks: 1 });
  });

  it('does not send less than a full chunk from poll', () => {
    const out = new StreamAudioOut({ sampleRate: 16000 });
    new Source(16000).pushFrames(out, 4);
    expect(out.poll(0)).toBeUndefined();
    expect(out.stats().queuedMs).toBe(80);
  });

  it('cuts chunks across frame boundaries for a chunk that is not whole frames', () => {
    const out = new StreamAudioOut({ sampleRate: 16000, chunkMs: 110 });
    const src = new Source(16000);
    src.pushFrames(out, 6);
    const c = take(out.poll(0));
    expect(c?.samples).toEqual(range(1, 1760)); // 110 ms = 3520 bytes = 11 × 320
    expect(out.stats().queuedMs).toBe(10);
  });

  it('reuses its output buffer and chunk object', () => {
    const out = new StreamAudioOut({ sampleRate: 16000 });
    new Source(16000).pushFrames(out, 10);
    const a = out.poll(0);
    const samplesA = a?.samples;
    const b = out.poll(100);
    expect(b).toBe(a);
    expect(b?.samples).toBe(samplesA);
    expect(b?.mark).toBe('m2');
    expect(b?.samples[0]).toBe(1601);
  });

  it('copies pushed frames (the caller may reuse its buffer)', () => {
    const out = new StreamAudioOut({ sampleRate: 16000 });
    const frame = new Int16Array(320).fill(7);
    for (let i = 0; i < 5; i++) out.push(frame);
    frame.fill(9);
    expect(Array.from(out.poll(0)?.samples ?? []).every((s) => s === 7)).toBe(true);
  });
});

describe('StreamAudioOut: pacing on absolute deadlines', () => {
  it('sends a burst of frames as one chunk per chunkMs of nowMs', () => {
    const out = new StreamAudioOut({ sampleRate: 8000 }); // 200 ms chunks, 1000 ms queue
    const src = new Source(8000);
    src.pushFrames(out, 50); // a second of audio at once
    const sentAt: number[] = [];
    for (let t = 0; t <= 1200; t += 10) {
      const c = out.poll(t);
      if (c !== undefined) sentAt.push(t);
      expect(out.poll(t)).toBeUndefined(); // never two chunks in one instant
    }
    expect(sentAt).toEqual([0, 200, 400, 600, 800]);
    expect(out.stats()).toMatchObject({ sentMs: 1000, queuedMs: 0, droppedMs: 0, chunks: 5 });
  });

  it('does not drift over 100 chunks polled with jitter', () => {
    const out = new StreamAudioOut({ sampleRate: 16000 }); // 100 ms chunks
    const src = new Source(16000);
    let pushedMs = 0;
    let expectedSample = 1;
    for (let k = 0; k < 100; k++) {
      const deadline = k * 100;
      const jitter = (k * 37) % 41; // 0…40 ms late, deterministic
      const t = deadline + jitter;
      // frames arrive in real time, 200 ms ahead of playout
      while (pushedMs < t + 200) {
        out.push(src.frame());
        pushedMs += 20;
      }
      if (k > 0) {
        expect(out.nextDueMs(deadline - 1)).toBe(deadline);
        expect(out.poll(deadline - 1)).toBeUndefined();
      }
      const c = out.poll(t);
      expect(c?.mark).toBe(`m${k + 1}`);
      expect(c?.samples[0]).toBe(expectedSample);
      expect(c?.samples[1599]).toBe(range(expectedSample, 1600)[1599]);
      expectedSample = ((expectedSample - 1 + 1600) % 32767) + 1;
      expect(out.poll(t)).toBeUndefined();
      expect(out.nextDueMs(t)).toBe(deadline + 100);
    }
    expect(out.stats()).toMatchObject({ chunks: 100, sentMs: 10_000, droppedMs: 0 });
  });

  it('catches up a poll less than one chunk late without moving the schedule', () => {
    const out = new StreamAudioOut({ sampleRate: 16000 });
    new Source(16000).pushFrames(out, 20);
    expect(out.poll(0)?.mark).toBe('m1');
    expect(out.poll(180)?.mark).toBe('m2'); // deadline 100, 80 ms late
    expect(out.poll(199)).toBeUndefined();
    expect(out.poll(200)?.mark).toBe('m3'); // still on the 100 ms grid
  });

  it('re-anchors after the queue ran dry instead of bursting', () => {
    const out = new StreamAudioOut({ sampleRate: 16000 });
    const src = new Source(16000);
    src.pushFrames(out, 5);
    expect(out.poll(0)?.mark).toBe('m1');
    expect(out.nextDueMs(50)).toBeUndefined(); // nothing queued
    // silence from the agent for a second, then a burst of speech
    src.pushFrames(out, 15);
    expect(out.nextDueMs(1000)).toBe(1000);
    expect(out.poll(1000)?.mark).toBe('m2'); // due at once
    expect(out.poll(1000)).toBeUndefined(); // not the backlog of deadlines 200…1000
    expect(out.nextDueMs(1000)).toBe(1100);
    expect(out.poll(1099)).toBeUndefined();
    expect(out.poll(1100)?.mark).toBe('m3');
  });

  it('re-anchors after a stall of more than one chunk, one chunk per poll', () => {
    const out = new StreamAudioOut({ sampleRate: 16000 });
    new Source(16000).pushFrames(out, 40);
    expect(out.poll(0)?.mark).toBe('m1');
    expect(out.poll(350)?.mark).toBe('m2'); // deadline 100: 250 ms behind
    expect(out.poll(350)).toBeUndefined();
    expect(out.poll(449)).toBeUndefined();
    expect(out.poll(450)?.mark).toBe('m3');
  });

  it('estimates when a partial chunk will be complete', () => {
    const out = new StreamAudioOut({ sampleRate: 16000 });
    const src = new Source(16000);
    expect(out.nextDueMs(0)).toBeUndefined();
    src.pushFrames(out, 2);
    expect(out.nextDueMs(0)).toBe(60); // 60 ms still to come, in real time
    expect(out.nextDueMs(0, { flush: true })).toBe(0);
    src.pushFrames(out, 3);
    expect(out.nextDueMs(0)).toBe(0);
  });
});

describe('StreamAudioOut: bounded queue', () => {
  it('drops the oldest audio beyond maxQueueMs and counts it', () => {
    const out = new StreamAudioOut({ sampleRate: 16000, maxQueueMs: 300 });
    const src = new Source(16000);
    src.pushFrames(out, 20); // 400 ms
    expect(out.stats()).toMatchObject({ queuedMs: 300, droppedMs: 100 });
    expect(take(out.poll(0))?.samples).toEqual(range(1601, 1600)); // frames 5…9
    expect(take(out.poll(100))?.samples).toEqual(range(3201, 1600));
    expect(out.stats()).toMatchObject({ queuedMs: 100, droppedMs: 100, chunks: 2 });
  });

  it('keeps the newest maxQueueMs of a frame longer than the queue', () => {
    const out = new StreamAudioOut({ sampleRate: 8000, maxQueueMs: 200 });
    const src = new Source(8000);
    out.push(src.frame(800)); // 100 ms queued
    out.push(src.frame(2400)); // 300 ms more: 200 ms of all that stay
    expect(out.stats()).toMatchObject({ queuedMs: 200, droppedMs: 200 });
    expect(take(out.poll(0))?.samples).toEqual(range(1601, 1600));
  });

  it('wraps around its ring without losing order', () => {
    const out = new StreamAudioOut({ sampleRate: 24000, maxQueueMs: 130 }); // not whole frames
    const src = new Source(24000);
    let expected = 1;
    for (let t = 0; t < 2000; t += 20) {
      out.push(src.frame());
      const c = out.poll(t);
      if (c === undefined) continue;
      expect(Array.from(c.samples)).toEqual(range(expected, 2400));
      expected = ((expected - 1 + 2400) % 32767) + 1;
    }
    expect(out.stats()).toMatchObject({ chunks: 20, droppedMs: 0 });
  });
});

describe('StreamAudioOut: marks', () => {
  function sent(n: number, opts: Partial<StreamAudioOutOptions> = {}): StreamAudioOut {
    const out = new StreamAudioOut({ sampleRate: 16000, ...opts });
    const src = new Source(16000);
    for (let i = 0; i < n; i++) {
      src.pushFrames(out, 5);
      expect(out.poll(i * 100)).toBeDefined();
    }
    return out;
  }

  it('names marks in order and settles them by echo', () => {
    const out = sent(3);
    expect(out.stats()).toMatchObject({ sentMs: 300, heardMs: 0, pendingMarks: 3 });
    expect(out.pendingMs).toBe(300);
    expect(out.markPlayed('m1')).toEqual({ heardMs: 100 });
    expect(out.pendingMs).toBe(200);
    expect(out.markPlayed('m3')).toEqual({ heardMs: 300 }); // settles m2 too
    expect(out.stats()).toMatchObject({ heardMs: 300, pendingMarks: 0 });
    expect(out.pendingMs).toBe(0);
  });

  it('ignores out-of-order, repeated, unknown and foreign echoes', () => {
    const out = sent(4);
    expect(out.markPlayed('m2')).toEqual({ heardMs: 200 });
    expect(out.markPlayed('m1')).toBeUndefined(); // older than what was heard
    expect(out.markPlayed('m2')).toBeUndefined(); // repeated
    for (const name of ['m5', 'm0', 'm03', 'm', 'x3', 'M3', 'm3 ', 'm-3', 'm3.0', '', 'm99999999999999999']) {
      expect(out.markPlayed(name)).toBeUndefined();
    }
    expect(out.heardMs).toBe(200);
    expect(out.stats().pendingMarks).toBe(2);
    expect(out.markPlayed('m4')).toEqual({ heardMs: 400 });
  });

  it('uses the mark prefix', () => {
    const out = sent(2, { markPrefix: 'turn-7.' });
    expect(out.markPlayed('m1')).toBeUndefined();
    expect(out.markPlayed('turn-7.2')).toEqual({ heardMs: 200 });
  });

  it('keeps at most 256 pending marks, forgetting the oldest', () => {
    const out = sent(300);
    expect(out.stats().pendingMarks).toBe(256);
    expect(out.markPlayed('m44')).toBeUndefined(); // forgotten
    expect(out.markPlayed('m45')).toEqual({ heardMs: 4500 });
    expect(out.markPlayed('m300')).toEqual({ heardMs: 30_000 });
    expect(out.stats().pendingMarks).toBe(0);
  });
});

describe('StreamAudioOut: clear (barge-in)', () => {
  it('reports what was sent, heard, unplayed and dropped, and restarts pacing', () => {
    const out = new StreamAudioOut({ sampleRate: 16000 });
    const src = new Source(16000);
    src.pushFrames(out, 25); // 500 ms
    for (const t of [0, 100, 200]) expect(out.poll(t)).toBeDefined();
    expect(out.markPlayed('m1')).toEqual({ heardMs: 100 });
    expect(out.clear()).toEqual({ sentMs: 300, heardMs: 100, unplayedMs: 200, droppedQueuedMs: 200 });
    expect(out.stats()).toEqual({
      sentMs: 300,
      heardMs: 100,
      queuedMs: 0,
      droppedMs: 0,
      chunks: 3,
      pendingMarks: 0,
      clears: 1,
    });
    expect(out.pendingMs).toBe(0);
    expect(out.markPlayed('m3')).toBeUndefined(); // sent before the clear
    expect(out.clear()).toEqual({ sentMs: 300, heardMs: 100, unplayedMs: 0, droppedQueuedMs: 0 });

    // the next utterance: due at once (deadline 300 was not reached), positions continue
    src.pushFrames(out, 10);
    expect(out.poll(250)?.mark).toBe('m4');
    expect(out.pendingMs).toBe(100);
    expect(out.poll(349)).toBeUndefined();
    expect(out.poll(350)?.mark).toBe('m5');
    expect(out.markPlayed('m4')).toEqual({ heardMs: 400 });
    expect(out.clear()).toEqual({ sentMs: 500, heardMs: 400, unplayedMs: 100, droppedQueuedMs: 0 });
    expect(out.stats().clears).toBe(3);
  });
});

describe('StreamAudioOut: flush', () => {
  it('pads a final partial chunk to the minimum chunk', () => {
    const out = new StreamAudioOut({ sampleRate: 8000 });
    const src = new Source(8000);
    src.pushFrames(out, 3); // 60 ms
    expect(out.poll(0)).toBeUndefined();
    const c = take(out.flush(0));
    expect(c?.samples.length).toBe(1600); // 200 ms = 3200 bytes
    expect(c?.samples).toEqual([...range(1, 480), ...new Array<number>(1120).fill(0)]);
    expect(c?.mark).toBe('m1');
    expect(out.stats()).toMatchObject({ sentMs: 200, queuedMs: 0, chunks: 1 });
    expect(out.flush(0)).toBeUndefined(); // nothing queued
    expect(out.markPlayed('m1')).toEqual({ heardMs: 200 });
  });

  it('sends full chunks first, on the schedule', () => {
    const out = new StreamAudioOut({ sampleRate: 16000 });
    const src = new Source(16000);
    src.pushFrames(out, 6); // 120 ms
    expect(take(out.flush(0))?.samples).toEqual(range(1, 1600));
    expect(out.flush(50)).toBeUndefined(); // the rest is not due yet
    expect(out.nextDueMs(50, { flush: true })).toBe(100);
    const c = take(out.flush(100));
    expect(c?.samples).toEqual([...range(1601, 320), ...new Array<number>(1280).fill(0)]);
    expect(out.stats().sentMs).toBe(200);
    expect(out.nextDueMs(100)).toBeUndefined();
  });

  it('pads to whole 20 ms frames above the minimum, and the schedule counts the padding', () => {
    const out = new StreamAudioOut({ sampleRate: 24000, chunkMs: 200 });
    const src = new Source(24000);
    out.push(src.frame(3120)); // 130 ms
    const c = out.flush(0);
    expect(c?.samples.length).toBe(3360); // 140 ms = 6720 bytes = 21 × 320
    expect(c?.samples[3119]).toBe(3120);
    expect(c?.samples[3120]).toBe(0);
    expect(out.sentMs).toBe(140);
    src.pushFrames(out, 10);
    expect(out.poll(139)).toBeUndefined();
    expect(out.poll(140)?.samples.length).toBe(4800);
  });
});

describe('StreamAudioOut: options', () => {
  const invalid: [string, StreamAudioOutOptions][] = [
    ['a sample rate Exotel does not stream at', { sampleRate: 44100 as StreamSampleRate }],
    ['a chunk under 3200 bytes', { sampleRate: 8000, chunkMs: 100 }],
    ['a chunk under 100 ms', { sampleRate: 24000, chunkMs: 80 }],
    ['a chunk that is not a multiple of 320 bytes', { sampleRate: 8000, chunkMs: 210 }],
    ['a chunk over 100 KB', { sampleRate: 24000, chunkMs: 2100 }],
    ['a fractional chunk', { sampleRate: 16000, chunkMs: 100.5 }],
    ['a negative chunk', { sampleRate: 16000, chunkMs: -100 }],
    ['a queue shorter than a chunk', { sampleRate: 8000, maxQueueMs: 100 }],
    ['an unbounded queue', { sampleRate: 8000, maxQueueMs: Infinity }],
    ['a queue of NaN', { sampleRate: 8000, maxQueueMs: NaN }],
    ['a mark prefix with a space', { sampleRate: 8000, markPrefix: 'a b' }],
    ['a long mark prefix', { sampleRate: 8000, markPrefix: 'x'.repeat(65) }],
  ];
  it.each(invalid)('refuses %s with a ConfigError', (_what, opts) => {
    expect(() => new StreamAudioOut(opts)).toThrow(ConfigError);
  });

  it('lists every problem at once', () => {
    try {
      new StreamAudioOut({ sampleRate: 16000, chunkMs: 50, maxQueueMs: 10, markPrefix: '!' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues).toHaveLength(3);
    }
  });

  it('accepts the largest chunk and a chunk of whole 320-byte blocks that is not whole frames', () => {
    expect(new StreamAudioOut({ sampleRate: 8000, chunkMs: 6240, maxQueueMs: 6240 }).chunkMs).toBe(6240); // 99 840 bytes
    expect(() => new StreamAudioOut({ sampleRate: 8000, chunkMs: 6260, maxQueueMs: 7000 })).toThrow(
      ConfigError,
    );
    expect(new StreamAudioOut({ sampleRate: 16000, chunkMs: 110 }).chunkMs).toBe(110);
    expect(new StreamAudioOut({ sampleRate: 8000, markPrefix: '' }).maxQueueMs).toBe(1000);
  });
});

describe('StreamAudioOut: properties', () => {
  type Op =
    | { op: 'push'; samples: number }
    | { op: 'poll'; dt: number }
    | { op: 'flush'; dt: number }
    | { op: 'echo'; back: number }
    | { op: 'junk' }
    | { op: 'clear' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({ op: fc.constant('push' as const), samples: fc.integer({ min: 0, max: 3 }) }),
    },
    {
      weight: 5,
      arbitrary: fc.record({ op: fc.constant('poll' as const), dt: fc.integer({ min: 0, max: 400 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('flush' as const), dt: fc.integer({ min: 0, max: 400 }) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('echo' as const), back: fc.integer({ min: 0, max: 5 }) }),
    },
    { weight: 1, arbitrary: fc.constant({ op: 'junk' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  );

  it('keeps its invariants and the order of samples over random sequences', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...RATES),
        fc.constantFrom(1, 1.5, 5),
        fc.array(opArb, { maxLength: 150 }),
        (rate, queueChunks, ops) => {
          const chunkMs = defaultStreamChunkMs(rate);
          const maxQueueMs = chunkMs * queueChunks;
          const out = new StreamAudioOut({ sampleRate: rate, maxQueueMs });
          const perMs = rate / 1000;
          const frame = rate / 50;
          const capacity = maxQueueMs * perMs;
          // the model: the counters queued, oldest first
          let model: number[] = [];
          let counter = 0;
          let now = 0;
          let sentSamples = 0;
          let lastHeard = 0;
          const marks: string[] = [];
          const check = (c: StreamAudioChunk | undefined, flushing: boolean): void => {
            if (c === undefined) return;
            const bytes = c.samples.length * 2;
            expect(bytes % 320).toBe(0);
            expect(bytes).toBeGreaterThanOrEqual(3200);
            expect(bytes).toBeLessThanOrEqual(100_000);
            const real = Math.min(model.length, chunkMs * perMs);
            if (!flushing) expect(c.samples.length).toBe(chunkMs * perMs);
            const expected = model.slice(0, real).map((k) => (k % 32767) + 1);
            expect(Array.from(c.samples.subarray(0, real))).toEqual(expected);
            expect(c.samples.subarray(real).every((s) => s === 0)).toBe(true);
            model = model.slice(real);
            sentSamples += c.samples.length;
            marks.push(c.mark);
            expect(c.mark).toBe(`m${marks.length}`);
          };
          for (const o of ops) {
            switch (o.op) {
              case 'push': {
                // whole frames, or an odd length to exercise partial frames
                const n = o.samples === 0 ? 7 : o.samples * frame;
                const f = new Int16Array(n);
                for (let i = 0; i < n; i++) {
                  f[i] = (counter % 32767) + 1;
                  model.push(counter++);
                }
                out.push(f);
                if (model.length > capacity) model = model.slice(model.length - capacity);
                break;
              }
              case 'poll':
                now += o.dt;
                check(out.poll(now), false);
                break;
              case 'flush':
                now += o.dt;
                check(out.flush(now), true);
                break;
              case 'echo': {
                const name = marks[marks.length - 1 - o.back];
                if (name !== undefined) out.markPlayed(name);
                break;
              }
              case 'junk':
                expect(out.markPlayed(`m${marks.length + 1}`)).toBeUndefined();
                break;
              case 'clear': {
                const r = out.clear();
                expect(r.droppedQueuedMs).toBe(model.length / perMs);
                expect(r.unplayedMs).toBeLessThanOrEqual(r.sentMs - r.heardMs);
                model = [];
                break;
              }
            }
            const s = out.stats();
            expect(s.sentMs).toBeGreaterThanOrEqual(s.heardMs);
            expect(s.heardMs).toBeGreaterThanOrEqual(lastHeard);
            lastHeard = s.heardMs;
            expect(s.queuedMs).toBeLessThanOrEqual(maxQueueMs);
            expect(s.queuedMs).toBe(model.length / perMs);
            expect(s.sentMs).toBe(sentSamples / perMs);
            expect(s.chunks).toBe(marks.length);
            expect(s.pendingMarks).toBeLessThanOrEqual(256);
            expect(out.pendingMs).toBeGreaterThanOrEqual(0);
            expect(out.pendingMs).toBeLessThanOrEqual(s.sentMs - s.heardMs);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
