import { describe, expect, it } from 'vitest';
import { JitterBuffer } from '../../src/rtp/jitter.js';

const pkt = (seq: number) => ({
  sequenceNumber: seq,
  timestamp: seq * 160,
  payloadType: 8,
  payload: new Uint8Array(160).fill(seq & 0xff),
  ssrc: 1,
});

describe('JitterBuffer that overflowed before playout', () => {
  it('drops back to its target delay instead of concealing every period for ever', () => {
    const jb = new JitterBuffer({ targetDelayMs: 40, maxDelayMs: 200, frameMs: 20, clockRate: 8000 });
    // the consumer stalled at start: 400 ms of packets arrived before its first pop
    for (let s = 0; s < 20; s++) jb.push(pkt(s), s * 20);
    expect(jb.stats().overflow).toBeGreaterThan(0);
    // from now on one packet arrives and one period is played, in real time
    let played = 0;
    let lastSeq = -1;
    for (let s = 20; s < 120; s++) {
      jb.push(pkt(s), s * 20);
      // one packet comes early (network jitter) while the buffer is full: it overflows
      if (s === 30) jb.push(pkt(++s), s * 20);
      const out = jb.pop(s * 20);
      if (out.kind === 'audio') {
        played++;
        lastSeq = out.sequenceNumber;
      }
    }
    expect(played).toBeGreaterThan(90);
    expect(119 - lastSeq).toBeLessThanOrEqual(3); // back near the 40 ms target, not 280 ms behind
    expect(jb.stats().depth).toBeLessThanOrEqual(4);
  });
});
