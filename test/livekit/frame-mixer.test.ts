import { describe, expect, it } from 'vitest';
import { FrameMixer } from '../../src/livekit/frame-mixer.js';

const frame = (v: number, n = 4) => new Int16Array(n).fill(v);

describe('FrameMixer', () => {
  it('passes a single source straight through', () => {
    const out: number[][] = [];
    const m = new FrameMixer(4, (s) => out.push([...s]));
    m.addSource('a');
    m.push('a', frame(7));
    m.push('a', frame(8));
    expect(out).toEqual([
      [7, 7, 7, 7],
      [8, 8, 8, 8],
    ]);
  });

  it('sums two sources frame by frame, saturating at 16 bits', () => {
    const out: number[][] = [];
    const m = new FrameMixer(4, (s) => out.push([...s]));
    m.addSource('a');
    m.addSource('b');
    m.push('a', frame(30000));
    expect(out).toHaveLength(0); // waits for b
    m.push('b', frame(10000));
    m.push('a', frame(-20000));
    m.push('b', frame(-20000));
    expect(out).toEqual([
      [32767, 32767, 32767, 32767],
      [-32768, -32768, -32768, -32768],
    ]);
  });

  it('does not wait forever for a silent source: mixes once one source is maxBacklog ahead', () => {
    const out: number[][] = [];
    const m = new FrameMixer(4, (s) => out.push([...s]), 3);
    m.addSource('a');
    m.addSource('b');
    m.push('a', frame(1));
    m.push('a', frame(2));
    expect(out).toHaveLength(0);
    m.push('a', frame(3));
    // From here on a frame goes out per frame pushed: a steady delay, never a stall.
    expect(out.map((f) => f[0])).toEqual([1]);
    m.push('a', frame(4));
    m.push('a', frame(5));
    expect(out.map((f) => f[0])).toEqual([1, 2, 3]);
    // When b comes back, both are mixed again.
    m.push('b', frame(100));
    expect(out.map((f) => f[0])).toEqual([1, 2, 3, 104]);
  });

  it('flushes what is queued when a source leaves, and ignores frames of other sizes or unknown sources', () => {
    const out: number[][] = [];
    const m = new FrameMixer(4, (s) => out.push([...s]));
    m.addSource('a');
    m.addSource('b');
    m.push('a', frame(5));
    m.push('a', frame(5, 3));
    m.push('zzz', frame(9));
    expect(out).toHaveLength(0);
    m.removeSource('b');
    expect(out).toEqual([[5, 5, 5, 5]]);
    expect(m.sourceCount).toBe(1);
  });
});
