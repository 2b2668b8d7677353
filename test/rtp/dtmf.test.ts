import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DtmfReceiver,
  DtmfSender,
  decodeTelephoneEvent,
  dtmfDigitToEvent,
  encodeTelephoneEvent,
  eventToDtmfDigit,
} from '../../src/rtp/dtmf.js';
import { ConfigError, RtpParseError } from '../../src/errors.js';

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface PlannedPacket {
  tick: number;
  marker: boolean;
  timestamp: number;
  payload: Uint8Array;
  event: number;
  end: boolean;
  duration: number;
  done: boolean;
}

/** Runs the sender like the pacer does: one call per 20 ms tick, the RTP timestamp advancing 160 per tick. */
function plan(sender: DtmfSender, ticks: number, startTs = 1000): PlannedPacket[] {
  const out: PlannedPacket[] = [];
  let eventTs = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const tickTs = (startTs + tick * 160) >>> 0;
    const p = sender.nextPacket();
    if (p === null) continue;
    if (p.marker) eventTs = tickTs;
    expect(tickTs - eventTs).toBe(p.timestampOffset);
    out.push({
      tick,
      marker: p.marker,
      timestamp: eventTs,
      payload: Uint8Array.from(p.payload),
      event: p.event,
      end: p.end,
      duration: p.duration,
      done: p.done,
    });
  }
  return out;
}

describe('telephone-event payload (RFC 4733 §2.3)', () => {
  it('encodes and decodes the fields', () => {
    const bytes = encodeTelephoneEvent({ event: 5, end: true, volume: 10, duration: 800 });
    expect(toHex(bytes)).toBe('058a0320');
    expect(decodeTelephoneEvent(bytes)).toEqual({ event: 5, end: true, volume: 10, duration: 800 });
    expect(decodeTelephoneEvent(Uint8Array.of(11, 0x3f, 0xff, 0xff))).toEqual({
      event: 11,
      end: false,
      volume: 63,
      duration: 65535,
    });
  });

  it('writes into a caller buffer', () => {
    const out = new Uint8Array(4);
    expect(encodeTelephoneEvent({ event: 1, end: false, volume: 0, duration: 160 }, out)).toBe(out);
    expect(toHex(out)).toBe('010000a0');
    expect(() =>
      encodeTelephoneEvent({ event: 1, end: false, volume: 0, duration: 0 }, new Uint8Array(3)),
    ).toThrow(ConfigError);
  });

  it('rejects a short payload with RtpParseError', () => {
    expect(() => decodeTelephoneEvent(Uint8Array.of(1, 2, 3))).toThrow(RtpParseError);
  });

  it('maps digits to events and back', () => {
    expect([...'0123456789*#ABCD'].map((d) => dtmfDigitToEvent(d))).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ]);
    expect(dtmfDigitToEvent('a')).toBe(12);
    expect(dtmfDigitToEvent('E')).toBeUndefined();
    expect(dtmfDigitToEvent('12')).toBeUndefined();
    expect(eventToDtmfDigit(10)).toBe('*');
    expect(eventToDtmfDigit(11)).toBe('#');
    expect(eventToDtmfDigit(16)).toBeUndefined();
  });
});

describe('DtmfSender', () => {
  it("plans '5' at 100 ms: marker start, durations +160, three equal end packets, one timestamp", () => {
    const s = new DtmfSender({ durationMs: 100 });
    s.enqueue('5');
    const p = plan(s, 20);
    expect(p.map((x) => x.tick)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(p.map((x) => x.marker)).toEqual([true, false, false, false, false, false, false]);
    expect(p.map((x) => x.duration)).toEqual([160, 320, 480, 640, 800, 800, 800]);
    expect(p.map((x) => x.end)).toEqual([false, false, false, false, true, true, true]);
    expect(new Set(p.map((x) => x.timestamp))).toEqual(new Set([1000]));
    expect(p.map((x) => x.event)).toEqual(new Array(7).fill(5));
    expect(p.map((x) => x.done)).toEqual([false, false, false, false, false, false, true]);
    expect(toHex(p[0]!.payload)).toBe('050a00a0');
    expect(toHex(p[6]!.payload)).toBe('058a0320');
  });

  it('separates digits by the gap and gives each its own timestamp', () => {
    const s = new DtmfSender({ durationMs: 100, gapMs: 60 });
    s.enqueue('12');
    const p = plan(s, 40);
    const first = p.filter((x) => x.event === 1);
    const second = p.filter((x) => x.event === 2);
    expect(first).toHaveLength(7);
    expect(second).toHaveLength(7);
    expect(second[0]!.tick - first[6]!.tick).toBe(4); // 3 empty ticks of gap
    expect(second[0]!.marker).toBe(true);
    expect(second[0]!.timestamp).toBe(1000 + second[0]!.tick * 160);
    expect(first.some((x) => x.done)).toBe(false);
    expect(second[6]!.done).toBe(true);
  });

  it('durations that are not a multiple of the period end at the exact duration', () => {
    const s = new DtmfSender({ durationMs: 90, endPackets: 2 });
    s.enqueue('#');
    const p = plan(s, 20);
    expect(p.map((x) => x.duration)).toEqual([160, 320, 480, 640, 720, 720]);
    expect(p.map((x) => x.end)).toEqual([false, false, false, false, true, true]);
  });

  it('rejects invalid digits and options', () => {
    const s = new DtmfSender();
    expect(() => s.enqueue('12x')).toThrow(ConfigError);
    expect(s.pending).toBe(0);
    expect(s.nextPacket()).toBeNull();
    expect(() => new DtmfSender({ durationMs: 10 })).toThrow(ConfigError);
    expect(() => new DtmfSender({ volume: 64 })).toThrow(ConfigError);
  });

  it('a batch queued right after another waits for the gap', () => {
    const s = new DtmfSender({ durationMs: 40, gapMs: 40 });
    s.enqueue('1');
    const a = plan(s, 4); // 160, then 320 (E) three times
    expect(a.at(-1)!.done).toBe(true);
    s.enqueue('2');
    expect(s.nextPacket()).toBeNull();
    expect(s.nextPacket()).toBeNull();
    expect(s.nextPacket()?.marker).toBe(true);
  });
});

describe('DtmfReceiver', () => {
  function sent(digits: string): PlannedPacket[] {
    const s = new DtmfSender({ durationMs: 100, gapMs: 100 });
    s.enqueue(digits);
    return plan(s, 200);
  }

  function receive(packets: PlannedPacket[]): string[] {
    const r = new DtmfReceiver();
    const got: string[] = [];
    for (const p of packets) {
      const d = r.push(p.timestamp, p.payload);
      if (d !== null) got.push(d);
    }
    return got;
  }

  it("yields '1','2','3' once each from a plan with duplicated end packets", () => {
    const packets = sent('123').flatMap((p) => (p.end ? [p, p] : [p]));
    expect(packets.filter((p) => p.end)).toHaveLength(18);
    expect(receive(packets)).toEqual(['1', '2', '3']);
  });

  it('yields each digit once when start packets are lost', () => {
    const packets = sent('123').filter((p) => !p.marker);
    expect(receive(packets)).toEqual(['1', '2', '3']);
  });

  it('yields each digit once when every end packet is lost (an event that never ends)', () => {
    expect(receive(sent('123').filter((p) => !p.end))).toEqual(['1', '2', '3']);
  });

  it('yields the same digit twice when pressed twice (different timestamps)', () => {
    expect(receive(sent('55'))).toEqual(['5', '5']);
  });

  it('ignores late packets of an earlier event, short payloads and non-DTMF events', () => {
    const packets = sent('12');
    const lateEnd = packets.find((p) => p.event === 1 && p.end)!;
    const r = new DtmfReceiver();
    const got: string[] = [];
    for (const p of [...packets, lateEnd]) {
      const d = r.push(p.timestamp, p.payload);
      if (d !== null) got.push(d);
    }
    expect(got).toEqual(['1', '2']);
    expect(r.push(5000, Uint8Array.of(1, 2))).toBeNull();
    expect(
      r.push(9000, encodeTelephoneEvent({ event: 16, end: false, volume: 0, duration: 160 })),
    ).toBeNull();
    expect(r.stats()).toEqual({ digits: 2, ignored: 1, malformed: 1 });
  });

  it('does not report the segments of one long event twice (RFC 4733 §2.5.1.3)', () => {
    const r = new DtmfReceiver();
    const seg = (ts: number, dur: number, end: boolean) =>
      r.push(ts, encodeTelephoneEvent({ event: 7, end, volume: 10, duration: dur }));
    expect(seg(0, 65535, false)).toBe('7');
    expect(seg(65535, 160, false)).toBeNull();
    expect(seg(65535, 800, true)).toBeNull();
    expect(seg(70000, 160, false)).toBe('7'); // previous ended: a new press
  });

  it('timestamps across the 32-bit wrap still work', () => {
    const r = new DtmfReceiver();
    expect(r.push(0xffffff00, encodeTelephoneEvent({ event: 1, end: true, volume: 0, duration: 800 }))).toBe(
      '1',
    );
    expect(r.push(0x100, encodeTelephoneEvent({ event: 2, end: false, volume: 0, duration: 160 }))).toBe('2');
    expect(
      r.push(0xffffff00, encodeTelephoneEvent({ event: 1, end: true, volume: 0, duration: 800 })),
    ).toBeNull();
  });

  it('never throws and reports at most one digit per timestamp (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.uint8Array({ minLength: 0, maxLength: 6 })), {
          maxLength: 60,
        }),
        (pkts) => {
          const r = new DtmfReceiver({ history: 64 });
          const reported = new Map<number, number>();
          for (const [tsIndex, payload] of pkts) {
            const d = r.push(tsIndex * 1000, payload);
            if (d !== null) reported.set(tsIndex, (reported.get(tsIndex) ?? 0) + 1);
          }
          for (const n of reported.values()) expect(n).toBe(1);
        },
      ),
    );
  });
});

describe('DtmfSender dial-string pauses', () => {
  it("'w' adds 25 silent periods (500 ms) after the gap, 'W' 50; anything else is refused whole", () => {
    const gaps = (digits: string): number[] => {
      const s = new DtmfSender({ durationMs: 100, gapMs: 100 });
      s.enqueue(digits);
      const starts = plan(s, 400)
        .filter((p) => p.marker)
        .map((p) => p.tick);
      return starts.slice(1).map((t, i) => t - starts[i]!);
    };
    expect(gaps('12')).toEqual([12]);
    expect(gaps('1w2')).toEqual([12 + 25]);
    expect(gaps('1W2')).toEqual([12 + 50]);
    expect(gaps('1ww2')).toEqual([12 + 50]);
    const s = new DtmfSender();
    expect(() => s.enqueue('1w?')).toThrow(ConfigError);
    expect(s.pending).toBe(0);
    expect(s.drained).toBe(true);
  });
});
