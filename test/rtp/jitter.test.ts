import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JitterBuffer, LossConcealer, type JitterOutput, type JitterPacket } from '../../src/rtp/jitter.js';
import { uint16Add, uint16Diff, uint32Add } from '../../src/rtp/seq.js';
import { ConfigError } from '../../src/errors.js';

const SSRC = 0x1234abcd;

/** Packet `i` of a 20 ms stream; its payload carries the index so the output can be checked. */
function pkt(
  i: number,
  opts: { seq0?: number; ts0?: number; ssrc?: number; step?: number; len?: number } = {},
): JitterPacket {
  const payload = new Uint8Array(opts.len ?? 160);
  payload[0] = i & 0xff;
  payload[1] = (i >> 8) & 0xff;
  payload[159 % payload.length] = 0x5a;
  return {
    sequenceNumber: uint16Add(opts.seq0 ?? 1000, i),
    timestamp: uint32Add(opts.ts0 ?? 50000, i * (opts.step ?? 160)),
    payloadType: 0,
    payload,
    ssrc: opts.ssrc ?? SSRC,
  };
}

type Summary = string; // 'idle' | 'loss:<seq>' | 'a:<seq>'
const sum = (o: JitterOutput): Summary =>
  o.kind === 'idle' ? 'idle' : o.kind === 'loss' ? `loss:${o.sequenceNumber}` : `a:${o.sequenceNumber}`;

describe('JitterBuffer: in-order playout', () => {
  it('plays an in-order stream exactly the target delay after arrival', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40 });
    const playedAt = new Map<number, number>();
    for (let t = 0; t <= 400; t += 20) {
      if (t <= 300) expect(jb.push(pkt(t / 20), t)).toBe('queued');
      const o = jb.pop(t);
      if (o.kind === 'audio') playedAt.set(o.sequenceNumber, t);
      if (t < 40) expect(o.kind).toBe('idle');
    }
    expect(playedAt.size).toBe(16);
    for (const [seq, t] of playedAt) expect(t - (seq - 1000) * 20).toBe(40);
    // 19 periods from 40 to 400: 16 packets, then 3 losses after the stream ends
    expect(jb.stats()).toMatchObject({
      received: 16,
      played: 16,
      lost: 3,
      late: 0,
      duplicate: 0,
      reordered: 0,
    });
  });

  it('returns the packet fields and a copy of its payload', () => {
    const jb = new JitterBuffer({ targetDelayMs: 20 });
    const p = pkt(0);
    jb.push(p, 0);
    p.payload[0] = 99; // the caller reuses its buffer at once
    jb.pop(0);
    const o = jb.pop(20);
    expect(o.kind).toBe('audio');
    if (o.kind !== 'audio') return;
    expect(o.sequenceNumber).toBe(1000);
    expect(o.timestamp).toBe(50000);
    expect(o.payloadType).toBe(0);
    expect(o.payload.length).toBe(160);
    expect(o.payload[0]).toBe(0);
    expect(o.payload[159]).toBe(0x5a);
  });

  it('reuses its output object and payload buffer (no allocation per frame)', () => {
    const jb = new JitterBuffer({ targetDelayMs: 20 });
    for (let i = 0; i < 4; i++) jb.push(pkt(i), 0);
    const a = jb.pop(20);
    const payloadA = a.kind === 'audio' ? a.payload : undefined;
    const b = jb.pop(40);
    expect(b).toBe(a);
    expect(b.kind === 'audio' ? b.payload : undefined).toBe(payloadA);
    expect(b.kind === 'audio' ? b.sequenceNumber : -1).toBe(1001);
  });
});

describe('JitterBuffer: reordering, duplicates, late packets, loss', () => {
  it('plays packets reordered within the window in sequence order', () => {
    const jb = new JitterBuffer({ targetDelayMs: 60 });
    const arrival = [0, 2, 1, 3, 5, 4, 7, 6, 8, 9];
    const out: Summary[] = [];
    for (let k = 0; k < 16; k++) {
      const i = arrival[k];
      if (i !== undefined) jb.push(pkt(i), k * 20);
      out.push(sum(jb.pop(k * 20)));
    }
    expect(out.filter((s) => s !== 'idle')).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `a:${1000 + i}`),
      'loss:1010',
      'loss:1011',
      'loss:1012',
    ]);
    expect(out.slice(0, 3)).toEqual(['idle', 'idle', 'idle']);
    expect(jb.stats().reordered).toBe(3);
  });

  it('drops and counts duplicates, held or already played', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40 });
    expect(jb.push(pkt(0), 0)).toBe('queued');
    expect(jb.push(pkt(0), 1)).toBe('duplicate');
    jb.push(pkt(1), 20);
    jb.push(pkt(2), 40);
    expect(sum(jb.pop(40))).toBe('a:1000');
    expect(jb.push(pkt(0), 41)).toBe('duplicate'); // already played
    expect(jb.push(pkt(2), 42)).toBe('duplicate'); // still held
    expect(jb.stats().duplicate).toBe(3);
    expect(sum(jb.pop(60))).toBe('a:1001');
    expect(sum(jb.pop(80))).toBe('a:1002');
  });

  it('reports a missing packet as loss in its place and drops it when it comes too late', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40 });
    const out: Summary[] = [];
    for (let k = 0; k <= 9; k++) {
      const t = k * 20;
      if (k !== 3 && k <= 6) jb.push(pkt(k), t);
      if (k === 7) expect(jb.push(pkt(3), t)).toBe('late'); // its period was played at t=100
      out.push(sum(jb.pop(t)));
    }
    expect(out).toEqual([
      'idle',
      'idle',
      'a:1000',
      'a:1001',
      'a:1002',
      'loss:1003',
      'a:1004',
      'a:1005',
      'a:1006',
      'loss:1007',
    ]);
    expect(jb.stats()).toMatchObject({ lost: 2, late: 1, played: 6 });
  });

  it('a late packet arriving within the target delay still plays', () => {
    const jb = new JitterBuffer({ targetDelayMs: 60 });
    jb.push(pkt(0), 0);
    jb.push(pkt(2), 40);
    jb.push(pkt(1), 59); // 39 ms late, before its playout at 80
    const out = [0, 20, 40, 60, 80, 100].map((t) => sum(jb.pop(t)));
    expect(out).toEqual(['idle', 'idle', 'idle', 'a:1000', 'a:1001', 'a:1002']);
  });
});

describe('JitterBuffer: wrap-around, resets, other frame sizes', () => {
  it('plays through the sequence wrap 65535 → 0 and the timestamp wrap', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40 });
    const o = { seq0: 65532, ts0: 0xffffffff - 400 };
    const out: Summary[] = [];
    for (let k = 0; k < 10; k++) {
      if (k !== 5) jb.push(pkt(k, o), k * 20);
      out.push(sum(jb.pop(k * 20)));
    }
    expect(out.slice(2)).toEqual(['a:65532', 'a:65533', 'a:65534', 'a:65535', 'a:0', 'loss:1', 'a:2', 'a:3']);
    expect(jb.stats().resets).toBe(0);
  });

  it('an SSRC change resets the buffer and waits out the target delay again', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40 });
    for (let k = 0; k < 4; k++) {
      jb.push(pkt(k), k * 20);
      jb.pop(k * 20);
    }
    expect(jb.push(pkt(0, { ssrc: 7, seq0: 5, ts0: 9 }), 80)).toBe('reset');
    expect(jb.depth).toBe(1);
    const out: Summary[] = [];
    for (let k = 4; k < 8; k++) {
      if (k > 4) jb.push(pkt(k - 4, { ssrc: 7, seq0: 5, ts0: 9 }), k * 20);
      out.push(sum(jb.pop(k * 20)));
    }
    expect(out).toEqual(['idle', 'idle', 'a:5', 'a:6']);
    expect(jb.stats().resets).toBe(1);
  });

  it('a big sequence jump or a timestamp that disagrees with arrival time resets', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40 });
    jb.push(pkt(0), 0);
    jb.push(pkt(1), 20);
    expect(jb.push(pkt(5000), 40)).toBe('reset');
    const jb2 = new JitterBuffer({ targetDelayMs: 40 });
    jb2.push(pkt(0), 0);
    expect(jb2.push({ ...pkt(1), timestamp: 50000 + 8000 * 30 }, 20)).toBe('reset'); // 30 s ahead after 20 ms
    const jb3 = new JitterBuffer({ targetDelayMs: 40 });
    jb3.push(pkt(0), 0);
    // a timestamp gap that matches the arrival gap (silence suppression) is not a reset
    expect(jb3.push({ ...pkt(1), timestamp: 50000 + 8000 * 30 }, 30_000)).toBe('queued');
  });

  it('silence suppression: a timestamp gap with consecutive sequence numbers plays as loss periods', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40 });
    const out: Summary[] = [];
    for (let k = 0; k < 14; k++) {
      const t = k * 20;
      if (k < 3) jb.push(pkt(k), t);
      if (k >= 8) jb.push({ ...pkt(k - 5), timestamp: 50000 + k * 160 }, t); // seq 1003.. after 100 ms of silence
      out.push(sum(jb.pop(t)));
    }
    expect(out.slice(2)).toEqual([
      'a:1000',
      'a:1001',
      'a:1002',
      'loss:1003',
      'loss:1004',
      'loss:1005',
      'loss:1006',
      'loss:1007',
      'a:1003',
      'a:1004',
      'a:1005',
      'a:1006',
    ]);
  });

  it('30 ms frames (timestamp step 240) with frameMs 30', () => {
    const jb = new JitterBuffer({ targetDelayMs: 60, frameMs: 30 });
    const out: Summary[] = [];
    for (let k = 0; k < 8; k++) {
      if (k !== 4) jb.push(pkt(k, { step: 240, len: 240 }), k * 30);
      out.push(sum(jb.pop(k * 30)));
    }
    expect(out).toEqual(['idle', 'idle', 'a:1000', 'a:1001', 'a:1002', 'a:1003', 'loss:1004', 'a:1005']);
  });

  it('a packet longer than the period covers the next period (idle), not a loss', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40 });
    const out: Summary[] = [];
    for (let k = 0; k < 12; k++) {
      const t = k * 20;
      if (k % 2 === 0 && k < 8) jb.push(pkt(k / 2, { step: 320, len: 320 }), t);
      out.push(sum(jb.pop(t)));
    }
    expect(out.slice(2, 10)).toEqual([
      'a:1000',
      'idle',
      'a:1001',
      'idle',
      'a:1002',
      'idle',
      'a:1003',
      'idle',
    ]);
    expect(out.slice(10)).toEqual(['loss:1004', 'loss:1005']); // the stream has ended
    expect(jb.stats().lost).toBe(2);
  });
});

describe('JitterBuffer: caller cadence and memory bound', () => {
  it('returns idle to a caller that comes early, and one frame per due period', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40 });
    for (let k = 0; k < 10; k++) jb.push(pkt(k), k * 20);
    expect(sum(jb.pop(40))).toBe('a:1000');
    expect(sum(jb.pop(45))).toBe('idle');
    expect(sum(jb.pop(58))).toBe('a:1001'); // within half a period of 60
    expect(sum(jb.pop(95))).toBe('a:1002'); // 80 was due; one frame per call
    expect(sum(jb.pop(96))).toBe('a:1003'); // catching up: 100 is due too
    expect(sum(jb.pop(97))).toBe('idle');
  });

  it('skips ahead when the caller falls far behind', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40, maxDelayMs: 400, maxLagFrames: 3 });
    for (let k = 0; k < 20; k++) jb.push(pkt(k), 0);
    expect(sum(jb.pop(40))).toBe('a:1000');
    expect(sum(jb.pop(60))).toBe('a:1001');
    expect(sum(jb.pop(140))).toBe('a:1002'); // 3 periods behind: still played in turn
    expect(jb.stats().skipped).toBe(0);
    expect(sum(jb.pop(240))).toBe('a:1010'); // 8 behind: skip to the period due now
    expect(jb.stats().skipped).toBe(7);
    expect(jb.stats().late).toBe(7); // the packets of the skipped periods
    expect(sum(jb.pop(260))).toBe('a:1011');
  });

  it('bounds memory: overflow drops the oldest packet and counts it', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40, maxDelayMs: 200 });
    expect(jb.capacity).toBe(14);
    for (let k = 0; k < 30; k++) jb.push(pkt(k), k); // a burst, nothing popped
    expect(jb.depth).toBe(14);
    expect(jb.stats().overflow).toBe(16);
    expect(sum(jb.pop(100))).toBe('a:1016');
  });

  it('trims back toward the target when the buffer stays too deep', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40, maxDelayMs: 400 });
    // the first packets are held up 160 ms, the later ones are on time: playout starts late
    // and the buffer ends up 200 ms deep
    const arrival = (k: number): number => Math.max(160, k * 20);
    const delays: number[] = [];
    let next = 0;
    for (let t = 0; t < 8000; t += 20) {
      while (arrival(next) <= t) jb.push(pkt(next++), arrival(next - 1));
      const o = jb.pop(t);
      if (o.kind === 'audio') delays.push(t - arrival(o.sequenceNumber - 1000));
    }
    expect(delays[20]).toBeGreaterThanOrEqual(180);
    expect(jb.stats().trimmed).toBeGreaterThanOrEqual(4);
    expect(delays.at(-1)).toBeLessThanOrEqual(40 + 20);
    expect(jb.stats().lost).toBe(0);
  });

  it('rejects bad options', () => {
    expect(() => new JitterBuffer({ targetDelayMs: 300, maxDelayMs: 200 })).toThrow(ConfigError);
    expect(() => new JitterBuffer({ frameMs: 0 })).toThrow(ConfigError);
  });
});

describe('JitterBuffer: target delay 0', () => {
  it('releases packets as soon as they are in order; a gap is a loss only once a later packet is there', () => {
    const jb = new JitterBuffer({ targetDelayMs: 0 });
    expect(sum(jb.pop(0))).toBe('idle');
    jb.push(pkt(0), 0);
    expect(sum(jb.pop(0))).toBe('a:1000');
    expect(sum(jb.pop(20))).toBe('idle');
    jb.push(pkt(1), 25);
    expect(sum(jb.pop(25))).toBe('a:1001');
    // 2 is missing: nothing is said until 3 arrives
    expect(sum(jb.pop(45))).toBe('idle');
    jb.push(pkt(3), 70);
    expect(sum(jb.pop(70))).toBe('loss:1002');
    expect(sum(jb.pop(71))).toBe('a:1003');
    expect(jb.push(pkt(2), 72)).toBe('late');
    expect(jb.push(pkt(3), 72)).toBe('duplicate');
  });

  it('reports at most maxLossBurst losses for one gap', () => {
    const jb = new JitterBuffer({ targetDelayMs: 0, maxLossBurst: 2 });
    jb.push(pkt(0), 0);
    jb.pop(0);
    jb.push(pkt(10), 20);
    expect([1, 2, 3].map((t) => sum(jb.pop(t)))).toEqual(['loss:1001', 'loss:1002', 'a:1010']);
  });
});

// ---------------------------------------------------------------------------------------
// Properties

interface Arrival {
  index: number;
  at: number;
}

/** A stream of `n` packets with random loss, duplication and arrival jitter. */
const streamArb = fc
  .record({
    n: fc.integer({ min: 1, max: 60 }),
    seq0: fc.integer({ min: 0, max: 0xffff }),
    ts0: fc.nat({ max: 0xffffffff }),
    target: fc.constantFrom(20, 40, 60, 100),
    fates: fc.array(
      fc.record({
        lost: fc.integer({ min: 0, max: 99 }).map((x) => x < 15), // 15 % loss
        dups: fc.integer({ min: 0, max: 2 }),
        jitter: fc.integer({ min: 0, max: 80 }),
      }),
      { minLength: 60, maxLength: 60 },
    ),
    popOffset: fc.integer({ min: 0, max: 19 }),
  })
  .map((r) => {
    const arrivals: Arrival[] = [];
    for (let i = 0; i < r.n; i++) {
      const f = r.fates[i]!;
      if (f.lost) continue;
      for (let d = 0; d <= f.dups; d++) arrivals.push({ index: i, at: i * 20 + f.jitter + d * 7 });
    }
    arrivals.sort((a, b) => a.at - b.at);
    return { ...r, arrivals };
  });

describe('JitterBuffer properties', () => {
  it('in order, one frame per pop once started, bounded, never throws, every packet accounted for', () => {
    fc.assert(
      fc.property(streamArb, (s) => {
        const jb = new JitterBuffer({ targetDelayMs: s.target, maxDelayMs: 200 });
        const o = { seq0: s.seq0, ts0: s.ts0 };
        let next = 0;
        let started = false;
        let nonIdleAfterStart = 0;
        let popsAfterStart = 0;
        let lastSeq: number | undefined;
        const played = new Set<number>();
        const end = 60 * 20 + 80 + 400;
        for (let t = s.popOffset; t < end; t += 20) {
          while (next < s.arrivals.length && s.arrivals[next]!.at <= t) {
            jb.push(pkt(s.arrivals[next]!.index, o), s.arrivals[next]!.at);
            next++;
          }
          const out = jb.pop(t);
          if (out.kind !== 'idle') started = true;
          if (started) {
            popsAfterStart++;
            if (out.kind !== 'idle') nonIdleAfterStart++;
          }
          if (out.kind === 'audio') {
            if (lastSeq !== undefined) expect(uint16Diff(out.sequenceNumber, lastSeq)).toBeGreaterThan(0);
            lastSeq = out.sequenceNumber;
            const index = out.payload[0]! | (out.payload[1]! << 8);
            expect(uint16Add(s.seq0, index)).toBe(out.sequenceNumber);
            expect(played.has(index)).toBe(false);
            played.add(index);
          }
          expect(jb.depth).toBeLessThanOrEqual(jb.capacity);
        }
        expect(nonIdleAfterStart).toBe(popsAfterStart);
        const st = jb.stats();
        expect(st.resets).toBe(0);
        expect(st.played + st.late + st.duplicate + st.overflow + st.trimmed + st.depth).toBe(st.received);
        expect(st.received).toBe(s.arrivals.length);
        // with jitter below target + a period nothing that arrived is dropped as late
        if (s.target >= 100) expect(st.late).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('any cadence, any packets (SSRC changes, jumps, garbage): never throws, stays bounded and ordered between resets', () => {
    const packetArb = fc.record({
      seq: fc.integer({ min: 0, max: 0xffff }),
      ts: fc.nat({ max: 0xffffffff }),
      ssrc: fc.constantFrom(1, 2),
      len: fc.integer({ min: 0, max: 400 }),
      local: fc.integer({ min: -3, max: 6 }),
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), packetArb, fc.integer({ min: 0, max: 60 })), { maxLength: 200 }),
        fc.constantFrom(0, 20, 40),
        (steps, target) => {
          const jb = new JitterBuffer({ targetDelayMs: target });
          let t = 0;
          let base = 0;
          let lastSeq: number | undefined;
          let resets = 0;
          for (const [isPush, p, dt] of steps) {
            t += dt;
            if (isPush) {
              // mostly a plausible stream near `base`, sometimes anything
              base += 1;
              const seq = p.local === 6 ? p.seq : uint16Add(base, p.local);
              const ts = p.local === 6 ? p.ts : uint32Add(base * 160, p.local * 160);
              const r = jb.push(
                {
                  sequenceNumber: seq,
                  timestamp: ts,
                  payloadType: 0,
                  payload: new Uint8Array(p.len),
                  ssrc: p.ssrc,
                },
                t,
              );
              expect(['queued', 'duplicate', 'late', 'reset']).toContain(r);
            } else {
              const out = jb.pop(t);
              if (jb.stats().resets !== resets) {
                resets = jb.stats().resets;
                lastSeq = undefined;
              }
              if (out.kind === 'audio') {
                if (lastSeq !== undefined) expect(uint16Diff(out.sequenceNumber, lastSeq)).toBeGreaterThan(0);
                lastSeq = out.sequenceNumber;
              }
            }
            expect(jb.depth).toBeLessThanOrEqual(jb.capacity);
            expect(jb.depth).toBeGreaterThanOrEqual(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('LossConcealer', () => {
  const frame = Int16Array.from({ length: 160 }, (_, i) => (i % 2 === 0 ? 10000 : -10000));

  it('passes good frames through and fades repeats by 6 dB per loss, then silence', () => {
    const lc = new LossConcealer();
    const out = new Int16Array(160);
    expect(lc.good(frame, out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(frame));
    const peaks: number[] = [];
    for (let k = 0; k < 5; k++) {
      lc.conceal(out);
      peaks.push(Math.abs(out[159]!));
    }
    // end of each concealed frame: 10000 × 0.501^k
    expect(peaks[0]).toBeCloseTo(5012, -1);
    expect(peaks[1]).toBeCloseTo(2512, -1);
    expect(peaks[2]).toBeCloseTo(1259, -1);
    expect(peaks[3]).toBe(0);
    expect(peaks[4]).toBe(0);
    expect(lc.consecutiveLosses).toBe(5);
    // the ramp starts at the previous gain: no step at the frame edge
    lc.good(frame, out);
    lc.conceal(out);
    expect(Math.abs(out[0]!)).toBeGreaterThan(9900);
    lc.good(frame, out);
    expect(lc.consecutiveLosses).toBe(0);
  });

  it('conceals with silence before any good frame, and zero-fills a short good frame', () => {
    const lc = new LossConcealer();
    const out = new Int16Array(160).fill(3);
    lc.conceal(out);
    expect(out.every((x) => x === 0)).toBe(true);
    out.fill(3);
    lc.good(Int16Array.of(1, 2, 3), out);
    expect(Array.from(out.subarray(0, 4))).toEqual([1, 2, 3, 0]);
    expect(out[159]).toBe(0);
  });
});
