import { describe, expect, it } from 'vitest';
import { RtpReceptionStats } from '../../src/rtp/stats.js';

function feed(stats: RtpReceptionStats, seqs: number[]): void {
  for (const s of seqs) stats.update(s);
}

describe('RtpReceptionStats: loss (RFC 3550 A.1, A.3)', () => {
  it('counts nothing lost for an in-order stream', () => {
    const s = new RtpReceptionStats();
    feed(s, [100, 101, 102, 103]);
    expect(s.expected).toBe(4);
    expect(s.receivedTotal).toBe(4);
    expect(s.lost).toBe(0);
  });

  it('counts gaps as lost and reordered packets as received', () => {
    const s = new RtpReceptionStats();
    feed(s, [10, 11, 13, 12, 16, 17]); // 14, 15 never arrive
    expect(s.expected).toBe(8);
    expect(s.receivedTotal).toBe(6);
    expect(s.lost).toBe(2);
  });

  it('extends the sequence number across the 65535 → 0 wrap', () => {
    const s = new RtpReceptionStats();
    feed(s, [65533, 65534, 65535, 0, 2]); // 1 lost
    expect(s.extendedMaxSeq).toBe(65536 + 2);
    expect(s.expected).toBe(6);
    expect(s.lost).toBe(1);
  });

  it('treats a huge jump as a restart only after a second sequential packet', () => {
    const s = new RtpReceptionStats();
    feed(s, [1000, 1001]);
    expect(s.update(40000)).toBe('jump'); // not counted yet
    expect(s.expected).toBe(2);
    expect(s.update(40001)).toBe('restart');
    expect(s.update(40002)).toBe('ok');
    expect(s.seqRestarts).toBe(1);
    expect(s.expected).toBe(2 + 2);
    expect(s.lost).toBe(0);
  });

  it('ignores a single stray packet far away (no restart, not counted)', () => {
    const s = new RtpReceptionStats();
    feed(s, [5, 6]);
    expect(s.update(30000)).toBe('jump');
    feed(s, [7, 8]);
    expect(s.expected).toBe(4);
    expect(s.receivedTotal).toBe(4);
  });

  it('keeps totals across an SSRC change and restarts sequence tracking', () => {
    const s = new RtpReceptionStats();
    feed(s, [1, 2, 4]); // 1 lost
    s.reset();
    feed(s, [50000, 50001, 50003]); // 1 lost in the new source
    expect(s.expected).toBe(4 + 4);
    expect(s.lost).toBe(2);
  });

  it('uncount() takes a detected duplicate out of the received count', () => {
    const s = new RtpReceptionStats();
    feed(s, [1, 2, 2, 3]);
    s.uncount();
    expect(s.receivedTotal).toBe(3);
    expect(s.lost).toBe(0);
  });
});

describe('RtpReceptionStats: interarrival jitter (RFC 3550 A.8)', () => {
  it('is zero when packets arrive exactly on their timestamps', () => {
    const s = new RtpReceptionStats(8000);
    for (let i = 0; i < 50; i++) s.updateJitter(1000 + 160 * i, 5 + 20 * i);
    expect(s.jitter).toBe(0);
  });

  it('follows J += (|D| − J)/16 with D in timestamp units', () => {
    const s = new RtpReceptionStats(8000);
    s.updateJitter(0, 0);
    s.updateJitter(160, 22); // D = 22*8 − 160 = 16 → J = 1
    expect(s.jitter).toBeCloseTo(1, 10);
    s.updateJitter(320, 40); // D = 18*8 − 160 = −16 → |D| = 16 → J = 1 + 15/16
    expect(s.jitter).toBeCloseTo(1 + 15 / 16, 10);
    expect(s.jitterMs).toBeCloseTo((1 + 15 / 16) / 8, 10);
  });

  it('converges to the mean absolute transit difference, across a timestamp wrap', () => {
    const s = new RtpReceptionStats(8000);
    let ts = 0xffffffff - 160 * 100;
    for (let i = 0; i < 2000; i++) {
      // alternate 2 ms early / 2 ms late: |D| = 4 ms = 32 units each time
      s.updateJitter(ts >>> 0, 20 * i + (i % 2 === 0 ? 0 : 4));
      ts += 160;
    }
    expect(s.jitter).toBeGreaterThan(31.9);
    expect(s.jitter).toBeLessThan(32.1);
    expect(s.jitterMs).toBeCloseTo(4, 1);
  });

  it('restarts jitter on reset (SSRC change)', () => {
    const s = new RtpReceptionStats(8000);
    s.updateJitter(0, 0);
    s.updateJitter(160, 40);
    expect(s.jitter).toBeGreaterThan(0);
    s.reset();
    expect(s.jitter).toBe(0);
    s.updateJitter(123456, 1000); // first packet of the new source: no D yet
    expect(s.jitter).toBe(0);
  });
});
