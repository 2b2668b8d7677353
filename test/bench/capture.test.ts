/** The load benchmark's pcap analysis (bench/load/capture.ts), on a hand-built capture. */
import { describe, expect, it } from 'vitest';
import { analysePcap } from '../../bench/load/capture.js';

/** A classic pcap (nanosecond timestamps, Ethernet) of RTP/UDP/IPv4 packets. */
function pcap(
  packets: { atMs: number; src: number; dst: number; seq: number; ts: number; payload: number[] }[],
): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b23c4d, 0); // nanosecond resolution
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20); // Ethernet
  const recs = packets.map((p) => {
    const rtp = Buffer.alloc(12 + p.payload.length);
    rtp[0] = 0x80;
    rtp[1] = 8; // PCMA
    rtp.writeUInt16BE(p.seq, 2);
    rtp.writeUInt32BE(p.ts, 4);
    rtp.writeUInt32BE(0x1234, 8);
    Buffer.from(p.payload).copy(rtp, 12);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(p.src, 0);
    udp.writeUInt16BE(p.dst, 2);
    udp.writeUInt16BE(8 + rtp.length, 4);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip[9] = 17;
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const frame = Buffer.concat([eth, ip, udp, rtp]);
    const rec = Buffer.alloc(16);
    const ns = Math.round(p.atMs * 1e6);
    rec.writeUInt32LE(Math.floor(ns / 1e9), 0);
    rec.writeUInt32LE(ns % 1e9, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    return Buffer.concat([rec, frame]);
  });
  return Buffer.concat([head, ...recs]);
}

describe('analysePcap (kernel-timed far-end figures of bench:load)', () => {
  it('pacing, loss, lateness against the schedule, silence, and only the far end’s ports', () => {
    const tone = [1, 2, 3, 4];
    const silence = [0xd5, 0xd5, 0xd5, 0xd5];
    const buf = pcap([
      { atMs: 1000, src: 20000, dst: 30000, seq: 1, ts: 0, payload: tone },
      { atMs: 1020.5, src: 20000, dst: 30000, seq: 2, ts: 160, payload: tone },
      // seq 3 lost; seq 4 on time
      { atMs: 1060, src: 20000, dst: 30000, seq: 4, ts: 480, payload: silence },
      { atMs: 1060, src: 20000, dst: 30000, seq: 4, ts: 480, payload: silence }, // duplicate: ignored
      { atMs: 1030, src: 20000, dst: 40001, seq: 9, ts: 0, payload: tone }, // not a far-end port
    ]);
    const w = analysePcap(buf, new Set([30000]));
    expect(w.calls).toBe(1);
    expect(w.received).toBe(3);
    expect(w.lost).toBe(1);
    expect(w.lossPct).toBeCloseTo(25, 5);
    expect(w.silent).toBe(1);
    // one consecutive pair: |20.5 − 20| ms
    expect(w.pacing.count).toBe(1);
    expect(w.pacing.max).toBeCloseTo(0.5, 6);
    // arrival − RTP time: 1000, 1000.5, 1000 → lateness 0, 0.5, 0
    expect(w.lateness.count).toBe(3);
    expect(w.lateness.max).toBeCloseTo(0.5, 6);
    expect(w.lateness.p50).toBeLessThan(0.02);
  });

  it('refuses what is not a classic Ethernet pcap', () => {
    expect(() => analysePcap(Buffer.alloc(10), new Set())).toThrow(/too short/);
    const bad = pcap([]);
    bad.writeUInt32LE(0x12345678, 0);
    expect(() => analysePcap(bad, new Set())).toThrow(/magic/);
    const raw = pcap([]);
    raw.writeUInt32LE(101, 20);
    expect(() => analysePcap(raw, new Set())).toThrow(/link type/);
  });
});
