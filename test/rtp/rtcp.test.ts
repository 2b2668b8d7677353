import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors.js';
import { parseRtcpReport } from '../../src/rtp/packet.js';
import {
  createRtcpFeedback,
  msToNtpShort,
  ntpMiddle32,
  readRtcpCompound,
  rttFromReport,
  writeRtcpBye,
  writeRtcpReport,
  writeRtcpSdesCname,
} from '../../src/rtp/rtcp.js';
import { RTCP_MIN_INTERVAL_MS, RtcpReporter, type RtcpReportInput } from '../../src/rtp/rtcp-reporter.js';
import { RtpSession, type RtpSessionOptions } from '../../src/rtp/session.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { rtpBytes, until } from './udp-peer.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fixedRandom =
  (byte: number) =>
  (n: number): Uint8Array =>
    new Uint8Array(n).fill(byte);

/** u = 0x8000 / 65536 = 0.5 exactly: the interval factor 0.5 + u is 1. */
const halfRandom = (n: number): Uint8Array => {
  const b = new Uint8Array(n);
  b[0] = 0x80;
  return b;
};

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

describe('RTCP writers (RFC 3550 §6.4, §6.5, §6.6)', () => {
  it('writes an SR with one report block that parseRtcpReport reads back', () => {
    const out = new Uint8Array(64);
    // 2020-09-13T12:26:40Z plus 0.5 s: NTP seconds 0xE3074A50 (1600000000 + 2208988800), fraction 0x80000000
    const len = writeRtcpReport(
      out,
      0,
      0x11223344,
      { wallClockMs: 1_600_000_000_500, rtpTimestamp: 0xdeadbeef, packetCount: 250, octetCount: 40_000 },
      {
        ssrc: 0xcafebabe,
        fractionLost: 26,
        cumulativeLost: -3,
        highestSequence: 0x1_0005,
        jitter: 41.6,
        lastSr: 0x4a508000,
        delaySinceLastSr: 0x8000,
      },
    );
    expect(len).toBe(52);
    expect(hex(out.subarray(0, 8))).toBe('81c8000c11223344');
    const r = parseRtcpReport(out.subarray(0, len));
    expect(r.sender).toEqual({
      ntpSeconds: 1_600_000_000 + 2_208_988_800,
      ntpFraction: 0x80000000,
      rtpTimestamp: 0xdeadbeef,
      packetCount: 250,
      octetCount: 40_000,
    });
    expect(r.reports).toEqual([
      {
        ssrc: 0xcafebabe,
        fractionLost: 26,
        cumulativeLost: -3,
        highestSequence: 0x10005,
        jitter: 42,
        lastSr: 0x4a508000,
        delaySinceLastSr: 0x8000,
      },
    ]);
  });

  it('writes an RR without blocks, an SDES CNAME padded to 32 bits and a BYE', () => {
    const out = new Uint8Array(64);
    let len = writeRtcpReport(out, 0, 7, undefined, undefined);
    expect(hex(out.subarray(0, len))).toBe('80c9000100000007');
    len = writeRtcpSdesCname(out, 0, 7, new TextEncoder().encode('ab'));
    // V=2 SC=1 PT=202 length=3 | SSRC | CNAME(1) len 2 'a' 'b' | a whole word of nulls (the terminator)
    expect(hex(out.subarray(0, len))).toBe('81ca00030000000701026162' + '00000000');
    expect(len).toBe(16);
    len = writeRtcpSdesCname(out, 0, 7, new TextEncoder().encode('abc'));
    expect(len).toBe(16); // 10 + 3 = 13 → a null octet and padding to 16
    expect(hex(out.subarray(10, 16))).toBe('616263000000');
    len = writeRtcpBye(out, 0, 7);
    expect(hex(out.subarray(0, len))).toBe('81cb000100000007');
    expect(() => writeRtcpSdesCname(out, 0, 7, new Uint8Array(0))).toThrow(ConfigError);
    expect(() => writeRtcpReport(new Uint8Array(20), 0, 7, undefined, undefined)).not.toThrow();
    expect(() =>
      writeRtcpReport(
        new Uint8Array(20),
        0,
        7,
        { wallClockMs: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0 },
        undefined,
      ),
    ).toThrow(ConfigError);
  });

  it('NTP middle 32 bits and the §6.4.1 round trip: A − LSR − DLSR', () => {
    const t0 = 1_700_000_000_000;
    const lsr = ntpMiddle32(t0);
    // the far end held our SR for 250 ms, and the block came back 330 ms after the SR
    const dlsr = msToNtpShort(250);
    expect(dlsr).toBe(16384);
    expect(rttFromReport(ntpMiddle32(t0 + 330), lsr, dlsr)).toBeCloseTo(80, 1);
    expect(rttFromReport(ntpMiddle32(t0 + 330), 0, dlsr)).toBeUndefined(); // no SR echoed
    expect(rttFromReport(ntpMiddle32(t0 + 100), lsr, dlsr)).toBeUndefined(); // negative: ignored
  });
});

describe('readRtcpCompound (RFC 3550 A.2 validity checks)', () => {
  function compound(): Uint8Array {
    const out = new Uint8Array(128);
    let n = writeRtcpReport(
      out,
      0,
      0xaaaa,
      { wallClockMs: 1_600_000_000_500, rtpTimestamp: 1, packetCount: 2, octetCount: 3 },
      {
        ssrc: 0xbbbb,
        fractionLost: 64,
        cumulativeLost: 12,
        highestSequence: 99,
        jitter: 80,
        lastSr: 5,
        delaySinceLastSr: 6,
      },
    );
    n += writeRtcpSdesCname(out, n, 0xaaaa, new TextEncoder().encode('far@end'));
    n += writeRtcpBye(out, n, 0xaaaa);
    return out.subarray(0, n);
  }

  it('extracts the SR time and the block about our SSRC', () => {
    const fb = createRtcpFeedback();
    expect(readRtcpCompound(compound(), 0xbbbb, fb)).toBe(true);
    expect(fb).toEqual({
      packets: 3,
      hasSenderReport: true,
      senderSsrc: 0xaaaa,
      ntpMiddle: ntpMiddle32(1_600_000_000_500),
      hasBlock: true,
      fractionLost: 64,
      cumulativeLost: 12,
      highestSequence: 99,
      jitter: 80,
      lastSr: 5,
      delaySinceLastSr: 6,
      bye: true,
    });
    expect(readRtcpCompound(compound(), 0xcccc, fb)).toBe(true);
    expect(fb.hasBlock).toBe(false); // a block about someone else is not ours
  });

  it('rejects truncation, a wrong version, a first packet that is not SR/RR, bad lengths', () => {
    const fb = createRtcpFeedback();
    const c = compound();
    for (let cut = 1; cut < c.length; cut++) {
      if (cut === 52 || cut === 52 + 20) continue; // whole-packet boundaries are valid compounds
      expect(readRtcpCompound(c.subarray(0, cut), 0xbbbb, fb)).toBe(false);
    }
    const v1 = Uint8Array.from(c);
    v1[0] = 0x41;
    expect(readRtcpCompound(v1, 0xbbbb, fb)).toBe(false);
    expect(readRtcpCompound(c.subarray(52), 0xbbbb, fb)).toBe(false); // starts with SDES
    const tooMany = Uint8Array.from(c.subarray(0, 52));
    tooMany[0] = 0x83; // RC 3 in a packet sized for 1
    expect(readRtcpCompound(tooMany, 0xbbbb, fb)).toBe(false);
    expect(readRtcpCompound(new Uint8Array(0), 0xbbbb, fb)).toBe(false);
  });

  it('never throws and never reads past the end, whatever the bytes', () => {
    const fb = createRtcpFeedback();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (bytes, ssrc) => {
          const r = readRtcpCompound(bytes, ssrc, fb);
          expect(typeof r).toBe('boolean');
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('RtcpReporter schedule (RFC 3550 §6.2, fake clock)', () => {
  function reporter(clock: FakeTimerClock, byte: number, due: number[]): RtcpReporter {
    const r: RtcpReporter = new RtcpReporter({
      clock,
      random: fixedRandom(byte),
      cname: 'x',
      epochOffsetMs: 0,
      onDue: () => due.push(clock.now()),
    });
    return r;
  }

  it('reports every 5 s × U[0.5, 1.5] on absolute deadlines, and stops for good', () => {
    const clock = new FakeTimerClock(1000);
    const low: number[] = [];
    const lo = reporter(clock, 0x00, low); // u = 0 → 2.5 s
    lo.start();
    clock.advance(10_000);
    expect(low).toEqual([3500, 6000, 8500, 11_000]);
    lo.stop();
    const high: number[] = [];
    const hi = reporter(clock, 0xff, high); // u ≈ 1 → just under 7.5 s
    hi.start();
    clock.advance(30_000);
    expect(high).toHaveLength(4);
    for (let i = 1; i < high.length; i++) {
      const gap = high[i]! - high[i - 1]!;
      expect(gap).toBeGreaterThanOrEqual(0.5 * RTCP_MIN_INTERVAL_MS);
      expect(gap).toBeLessThanOrEqual(1.5 * RTCP_MIN_INTERVAL_MS);
    }
    hi.stop();
    expect(clock.pending).toBe(0);
  });

  it('sends an SR while we send, an RR once we stopped for two intervals; fraction lost per interval (A.3)', () => {
    const clock = new FakeTimerClock(0);
    const r = reporter(clock, 0x80, []);
    const out = new Uint8Array(400);
    const input: RtcpReportInput = {
      nowMs: 0,
      ssrc: 1,
      packetsSent: 10,
      octetsSent: 1600,
      rtpTimestamp: 0,
      remoteSsrc: 2,
      expected: 100,
      received: 90,
      extendedMaxSeq: 199,
      jitter: 8,
    };
    const first = parseRtcpReport(out.subarray(0, r.write(out, input)));
    expect(first.packetType).toBe(200);
    expect(first.reports[0]).toMatchObject({ ssrc: 2, fractionLost: Math.floor((10 * 256) / 100) });
    expect(first.reports[0]!.cumulativeLost).toBe(10);
    // next interval: 50 more expected, 5 of them lost; we sent nothing more
    const second = parseRtcpReport(out.subarray(0, r.write(out, { ...input, expected: 150, received: 135 })));
    expect(second.packetType).toBe(200); // sent during the interval before
    expect(second.reports[0]!.fractionLost).toBe(Math.floor((5 * 256) / 50));
    const third = parseRtcpReport(out.subarray(0, r.write(out, { ...input, expected: 150, received: 135 })));
    expect(third.packetType).toBe(201);
    expect(third.reports[0]!.fractionLost).toBe(0);
    expect(r.stats().sent).toBe(3);
  });
});

describe('RtpSession RTCP over loopback', () => {
  async function session(clock: FakeTimerClock, opts: Partial<RtpSessionOptions> = {}): Promise<RtpSession> {
    const s = new RtpSession({
      bindIp: '127.0.0.1',
      noMediaTimeoutMs: 0,
      mediaTimeoutMs: 0,
      clock,
      rtcpRandom: halfRandom,
      ...opts,
    });
    cleanup.push(() => s.close());
    await s.open();
    return s;
  }

  it('SR from A, report block from B, back at A: RTT = A − LSR − DLSR, small and positive', async () => {
    const clock = new FakeTimerClock(10_000);
    const a = await session(clock, { cname: 'a@test' });
    const b = await session(clock, { cname: 'b@test' });
    a.setRemote({ address: '127.0.0.1', port: b.local.port, payloadType: 0 });
    b.setRemote({ address: '127.0.0.1', port: a.local.port, payloadType: 0 });
    const pkt = (ssrc: number, seq: number): Buffer =>
      rtpBytes({ payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc }, new Uint8Array(160));
    for (let i = 0; i < 5; i++) {
      a.send(pkt(0xa, i));
      b.send(pkt(0xb, i));
    }
    await until(() => a.stats().packetsReceived === 5 && b.stats().packetsReceived === 5);

    expect(a.sendRtcpReport()).toBe(true); // SR at t = 10 000
    await until(() => b.stats().rtcpReceived === 1);
    clock.advance(7); // B holds A's SR for 7 ms (DLSR)
    expect(b.sendRtcpReport()).toBe(true);
    clock.advance(5); // and its report reaches A 12 ms after A's SR
    await until(() => a.stats().rtcpReceived === 1);
    const st = a.stats();
    expect(st.rttMs).toBeDefined();
    expect(st.rttMs!).toBeGreaterThan(0);
    expect(st.rttMs!).toBeCloseTo(5, 1);
    expect(st.remoteReport).toMatchObject({ fractionLost: 0, cumulativeLost: 0 });
    expect(st.remoteReport!.highestSequence).toBe(4);
    expect(st.rtcpSent).toBe(1);
    expect(b.stats().rttMs).toBeUndefined(); // A echoed no SR of B's yet
    expect(a.stats().rtcpMalformed + b.stats().rtcpMalformed).toBe(0);
  });

  it('reports on the clock every 5 s × U[0.5,1.5], counts malformed RTCP, sends BYE at close', async () => {
    const clock = new FakeTimerClock(0);
    const a = await session(clock); // factor 1.0: every 5 s
    const b = await session(clock);
    a.setRemote({ address: '127.0.0.1', port: b.local.port, payloadType: 0 });
    b.setRemote({ address: '127.0.0.1', port: a.local.port, payloadType: 0 });
    clock.advance(4999);
    expect(a.stats().rtcpSent).toBe(0);
    clock.advance(1);
    expect(a.stats().rtcpSent).toBe(1);
    await until(() => b.stats().rtcpReceived >= 1); // an RR (A sent no RTP) + SDES
    clock.advance(10_000);
    expect(a.stats().rtcpSent).toBe(3);
    // garbage on B's RTCP port from A's address: counted, not thrown, not an error event
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    const { createSocket } = await import('node:dgram');
    const raw = createSocket('udp4');
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
    for (const bytes of ['80c8', '80c9000500000001', 'ffffffffffffffff', '81ca000100000001']) {
      await new Promise<void>((r) =>
        raw.send(Buffer.from(bytes, 'hex'), b.local.port + 1, '127.0.0.1', () => r()),
      );
    }
    await until(() => b.stats().rtcpMalformed + b.stats().malformed >= 4);
    expect(b.stats().rtcpMalformed).toBe(2); // an RR whose length runs past the end; SDES first
    expect(b.stats().malformed).toBe(2); // too short; not RTCP at all
    expect(errors).toEqual([]);
    await new Promise<void>((r) => raw.close(() => r()));
    const before = b.stats().rtcpReceived;
    await a.close();
    expect(a.stats().rtcpSent).toBe(4); // the last report with the BYE
    await until(() => b.stats().rtcpReceived === before + 1);
    expect(clock.pending).toBeGreaterThan(0); // B's schedule goes on
    await b.close();
    expect(clock.pending).toBe(0);
  });
});
