import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  createRtpHeader,
  isRtcpPacket,
  parseRtcpHeader,
  parseRtcpReport,
  parseRtpHeader,
  parseRtpPacket,
  serializeRtpPacket,
  writeRtpHeader,
} from '../../src/rtp/packet.js';
import { ConfigError, RtpParseError } from '../../src/errors.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const VECTORS = {
  minimal: '80000001 00000000 12345678 ffff',
  marker: '8088 1234 deadbeef 01020304 d5d5d5d5',
  padding: 'a000 0002 00000064 00000001 aabb 000003',
  extension: '9000 0003 000000c8 cafebabe bede0001 10ff0000 0102',
  csrcs: '8200 0004 00000000 00000001 11111111 22222222 ff',
  everything: 'b2e5 ffff ffffffff 89abcdef 00000007 00000008 1000 0002 0102030405060708 c0c1c2 0002',
};

describe('parseRtpHeader / parseRtpPacket: valid vectors', () => {
  it('minimal packet', () => {
    const p = parseRtpPacket(hex(VECTORS.minimal));
    expect(p).toMatchObject({
      version: 2,
      padding: false,
      extension: false,
      marker: false,
      payloadType: 0,
      sequenceNumber: 1,
      timestamp: 0,
      ssrc: 0x12345678,
      csrcs: [],
    });
    expect(toHex(p.payload)).toBe('ffff');
  });

  it('marker bit and payload type 8', () => {
    const h = parseRtpHeader(hex(VECTORS.marker));
    expect(h.marker).toBe(true);
    expect(h.payloadType).toBe(8);
    expect(h.sequenceNumber).toBe(0x1234);
    expect(h.timestamp).toBe(0xdeadbeef);
    expect(h.ssrc).toBe(0x01020304);
    expect(h.payloadOffset).toBe(12);
    expect(h.payloadLength).toBe(4);
  });

  it('padding is excluded from the payload', () => {
    const buf = hex(VECTORS.padding);
    const h = parseRtpHeader(buf);
    expect(h.padding).toBe(true);
    expect(h.paddingLength).toBe(3);
    expect(h.payloadLength).toBe(2);
    expect(toHex(buf.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength))).toBe('aabb');
  });

  it('one-byte header extension (profile 0xBEDE)', () => {
    const p = parseRtpPacket(hex(VECTORS.extension));
    expect(p.extension).toBe(true);
    expect(p.extensionProfile).toBe(0xbede);
    expect(toHex(p.extensionData!)).toBe('10ff0000');
    expect(toHex(p.payload)).toBe('0102');
    expect(p.timestamp).toBe(200);
    expect(p.ssrc).toBe(0xcafebabe);
  });

  it('two CSRCs', () => {
    const p = parseRtpPacket(hex(VECTORS.csrcs));
    expect(p.csrcs).toEqual([0x11111111, 0x22222222]);
    expect(toHex(p.payload)).toBe('ff');
    expect(parseRtpHeader(hex(VECTORS.csrcs)).payloadOffset).toBe(20);
  });

  it('everything at once: CSRCs, extension, padding, marker, max seq/timestamp', () => {
    const p = parseRtpPacket(hex(VECTORS.everything));
    expect(p.marker).toBe(true);
    expect(p.payloadType).toBe(101);
    expect(p.sequenceNumber).toBe(65535);
    expect(p.timestamp).toBe(0xffffffff);
    expect(p.csrcs).toEqual([7, 8]);
    expect(p.extensionProfile).toBe(0x1000);
    expect(toHex(p.extensionData!)).toBe('0102030405060708');
    expect(toHex(p.payload)).toBe('c0c1c2');
    expect(p.paddingLength).toBe(2);
  });

  it('reuses the `into` object without allocating a new one', () => {
    const into = createRtpHeader();
    const a = parseRtpHeader(hex(VECTORS.extension), into);
    expect(a).toBe(into);
    expect(into.extensionProfile).toBe(0xbede);
    const b = parseRtpHeader(hex(VECTORS.minimal), into);
    expect(b).toBe(into);
    expect(into.extension).toBe(false);
    expect(into.extensionProfile).toBeUndefined();
    expect(into.sequenceNumber).toBe(1);
  });

  it('serialize(parse(x)) reproduces x for every valid vector', () => {
    for (const [name, v] of Object.entries(VECTORS)) {
      expect(toHex(serializeRtpPacket(parseRtpPacket(hex(v)))), name).toBe(toHex(hex(v)));
    }
  });
});

describe('parseRtpHeader: malformed packets throw RtpParseError', () => {
  const bad: Record<string, string> = {
    'shorter than 12 bytes': '80000001 00000000 1234',
    empty: '',
    'version 1': '40000001 00000000 12345678 ff',
    'version 0': '00000001 00000000 12345678 ff',
    'CSRC count past the end': '83000001 00000000 12345678 00000001 00000002',
    'extension header past the end': '90000001 00000000 12345678 bede',
    'extension length past the end': '90000001 00000000 12345678 bede0002 00000000',
    'padding count 0': 'a0000001 00000000 12345678 ff00',
    'padding larger than the payload': 'a0000001 00000000 12345678 ff05',
    'padding past CSRCs': 'a1000001 00000000 12345678 00000009',
  };
  for (const [name, v] of Object.entries(bad)) {
    it(name, () => {
      expect(() => parseRtpHeader(hex(v))).toThrow(RtpParseError);
    });
  }

  it('never throws anything else and never reads out of bounds (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          const h = parseRtpHeader(bytes);
          expect(h.payloadOffset + h.payloadLength).toBeLessThanOrEqual(bytes.length);
          expect(h.payloadLength).toBeGreaterThanOrEqual(0);
        } catch (err) {
          expect(err).toBeInstanceOf(RtpParseError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips random valid packets (property)', () => {
    const arb = fc.record({
      marker: fc.boolean(),
      payloadType: fc.integer({ min: 0, max: 127 }),
      sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
      timestamp: fc.nat({ max: 0xffffffff }),
      ssrc: fc.nat({ max: 0xffffffff }),
      csrcs: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 15 }),
      payload: fc.uint8Array({ maxLength: 200 }),
      extensionData: fc.option(
        fc.uint8Array({ maxLength: 12 }).map((a) => a.subarray(0, a.length & ~3)),
        {
          nil: undefined,
        },
      ),
      paddingLength: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(arb, (init) => {
        const bytes = serializeRtpPacket(init);
        const p = parseRtpPacket(bytes);
        expect(p.marker).toBe(init.marker);
        expect(p.payloadType).toBe(init.payloadType);
        expect(p.sequenceNumber).toBe(init.sequenceNumber);
        expect(p.timestamp).toBe(init.timestamp);
        expect(p.ssrc).toBe(init.ssrc);
        expect(p.csrcs).toEqual(init.csrcs);
        expect(toHex(p.payload)).toBe(toHex(init.payload));
        expect(p.padding).toBe(init.paddingLength > 0);
        expect(toHex(serializeRtpPacket(p))).toBe(toHex(bytes));
      }),
      { numRuns: 500 },
    );
  });
});

describe('serializeRtpPacket / writeRtpHeader', () => {
  it('rejects out-of-range fields with ConfigError', () => {
    const base = { payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: new Uint8Array(0) };
    expect(() => serializeRtpPacket({ ...base, payloadType: 128 })).toThrow(ConfigError);
    expect(() => serializeRtpPacket({ ...base, sequenceNumber: 65536 })).toThrow(ConfigError);
    expect(() => serializeRtpPacket({ ...base, csrcs: new Array<number>(16).fill(1) })).toThrow(ConfigError);
    expect(() => serializeRtpPacket({ ...base, extensionData: new Uint8Array(3) })).toThrow(ConfigError);
    expect(() => serializeRtpPacket({ ...base, paddingLength: 256 })).toThrow(ConfigError);
  });

  it('writeRtpHeader writes the 12-byte fixed header at an offset', () => {
    const out = new Uint8Array(20).fill(0xee);
    const n = writeRtpHeader(out, 4, {
      marker: true,
      payloadType: 8,
      sequenceNumber: 0x1234,
      timestamp: 0xdeadbeef,
      ssrc: 0x01020304,
    });
    expect(n).toBe(12);
    expect(toHex(out)).toBe('eeeeeeee' + '80881234deadbeef01020304' + 'eeeeeeee');
  });

  it('writeRtpHeader masks fields to their widths and matches serializeRtpPacket', () => {
    const out = new Uint8Array(12);
    writeRtpHeader(out, 0, {
      marker: false,
      payloadType: 0,
      sequenceNumber: 65536 + 5,
      timestamp: 2 ** 32 + 7,
      ssrc: -1,
    });
    expect(toHex(out)).toBe('80000005' + '00000007' + 'ffffffff');
    const full = serializeRtpPacket({
      payloadType: 0,
      sequenceNumber: 5,
      timestamp: 7,
      ssrc: 0xffffffff,
      payload: hex(''),
    });
    expect(toHex(full)).toBe(toHex(out));
  });

  it('writeRtpHeader rejects a buffer without 12 bytes of room', () => {
    const h = { marker: false, payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0 };
    expect(() => writeRtpHeader(new Uint8Array(11), 0, h)).toThrow(ConfigError);
    expect(() => writeRtpHeader(new Uint8Array(20), 9, h)).toThrow(ConfigError);
  });
});

describe('RTCP', () => {
  // SR: V=2 RC=1 PT=200 length=12 words; sender info; one report block
  const SR =
    '81c8000c 11223344' +
    'e1234567 89abcdef 00001f40 00000064 00003e80' +
    '55667788 20fffffe 0001ffff 00000010 12345678 00010000';
  const RR = '80c90001 aabbccdd';

  it('isRtcpPacket: RFC 5761 second-byte range 192..223 with version 2', () => {
    expect(isRtcpPacket(hex(SR))).toBe(true);
    expect(isRtcpPacket(hex(RR))).toBe(true);
    expect(isRtcpPacket(hex('80c0'))).toBe(true);
    expect(isRtcpPacket(hex('80df'))).toBe(true);
    expect(isRtcpPacket(hex('80e0'))).toBe(false); // marker + PT 96
    expect(isRtcpPacket(hex('80bf'))).toBe(false);
    expect(isRtcpPacket(hex(VECTORS.minimal))).toBe(false);
    expect(isRtcpPacket(hex(VECTORS.marker))).toBe(false); // marker + PT 8 = 0x88
    expect(isRtcpPacket(hex('40c8'))).toBe(false);
    expect(isRtcpPacket(hex('80'))).toBe(false);
  });

  it('parseRtcpHeader reads the common header and bounds-checks the length', () => {
    expect(parseRtcpHeader(hex(SR))).toEqual({
      version: 2,
      padding: false,
      count: 1,
      packetType: 200,
      length: 12,
      byteLength: 52,
    });
    const compound = hex(SR + RR);
    expect(parseRtcpHeader(compound, 52).packetType).toBe(201);
    expect(() => parseRtcpHeader(hex('80c90002 aabbccdd'))).toThrow(RtpParseError);
    expect(() => parseRtcpHeader(hex('80c9'))).toThrow(RtpParseError);
    expect(() => parseRtcpHeader(hex('40c90001 aabbccdd'))).toThrow(RtpParseError);
  });

  it('parseRtcpReport reads SR sender info and report blocks', () => {
    const r = parseRtcpReport(hex(SR));
    expect(r.packetType).toBe(200);
    expect(r.ssrc).toBe(0x11223344);
    expect(r.sender).toEqual({
      ntpSeconds: 0xe1234567,
      ntpFraction: 0x89abcdef,
      rtpTimestamp: 8000,
      packetCount: 100,
      octetCount: 16000,
    });
    expect(r.reports).toEqual([
      {
        ssrc: 0x55667788,
        fractionLost: 0x20,
        cumulativeLost: -2,
        highestSequence: 0x1ffff,
        jitter: 16,
        lastSr: 0x12345678,
        delaySinceLastSr: 65536,
      },
    ]);
    expect(parseRtcpReport(hex(RR))).toEqual({ packetType: 201, ssrc: 0xaabbccdd, reports: [] });
  });

  it('parseRtcpReport rejects a report count that does not fit, and other types', () => {
    expect(() => parseRtcpReport(hex('81c90001 aabbccdd'))).toThrow(RtpParseError);
    expect(() => parseRtcpReport(hex('81ca0001 aabbccdd'))).toThrow(RtpParseError);
  });
});
