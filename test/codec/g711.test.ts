import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pkg from 'alawmulaw';
import {
  G711Codec,
  alawToLinear,
  linearToAlaw,
  linearToMulaw,
  mulawToLinear,
  silenceByte,
} from '../../src/codec/g711.js';
import { ConfigError } from '../../src/errors.js';

const { alaw, mulaw } = pkg;

/** Every 16-bit input, in order −32768..32767. */
const ALL_PCM = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : Math.min(a.length, b.length);
}

describe('G.711 tables equal alawmulaw for every input', () => {
  it('PCMU encodes all 65,536 samples like mulaw.encodeSample(x) & 0xFF', () => {
    const ours = new G711Codec('PCMU').encode(ALL_PCM);
    const ref = Uint8Array.from(ALL_PCM, (x) => mulaw.encodeSample(x) & 0xff);
    expect(firstMismatch(ours, ref)).toBe(-1);
  });

  it('PCMA encodes all 65,536 samples like alaw.encodeSample', () => {
    const ours = new G711Codec('PCMA').encode(ALL_PCM);
    const ref = Uint8Array.from(ALL_PCM, (x) => alaw.encodeSample(x));
    expect(firstMismatch(ours, ref)).toBe(-1);
  });

  it('PCMU decodes all 256 bytes like mulaw.decodeSample', () => {
    const ours = new G711Codec('PCMU').decode(ALL_BYTES);
    const ref = Int16Array.from(ALL_BYTES, (b) => mulaw.decodeSample(b));
    expect(Array.from(ours)).toEqual(Array.from(ref));
  });

  it('PCMA decodes all 256 bytes like alaw.decodeSample', () => {
    const ours = new G711Codec('PCMA').decode(ALL_BYTES);
    const ref = Int16Array.from(ALL_BYTES, (b) => alaw.decodeSample(b));
    expect(Array.from(ours)).toEqual(Array.from(ref));
  });

  it('the per-sample reference functions agree with the tables', () => {
    const mu = G711Codec.forPayloadType(0)!;
    const a = G711Codec.forPayloadType(8)!;
    const buf = new Uint8Array(1);
    const pcm = new Int16Array(1);
    for (const x of [-32768, -32767, -1000, -1, 0, 1, 255, 256, 32635, 32767]) {
      pcm[0] = x;
      expect(mu.encode(pcm, buf)[0]).toBe(linearToMulaw(x));
      expect(a.encode(pcm, buf)[0]).toBe(linearToAlaw(x));
    }
    expect(mulawToLinear(0x00)).toBe(-32124);
    expect(mulawToLinear(0x80)).toBe(32124);
    expect(alawToLinear(0xd5)).toBe(8);
    expect(alawToLinear(0x55)).toBe(-8);
  });

  it('clamps out-of-range numbers in the per-sample functions', () => {
    expect(linearToMulaw(40000)).toBe(linearToMulaw(32767));
    expect(linearToAlaw(-40000)).toBe(linearToAlaw(-32768));
  });
});

describe('G711Codec', () => {
  it('has the static payload types and shared instances', () => {
    expect(G711Codec.forPayloadType(0)?.law).toBe('PCMU');
    expect(G711Codec.forPayloadType(8)?.law).toBe('PCMA');
    expect(G711Codec.forPayloadType(0)).toBe(G711Codec.forPayloadType(0));
    expect(G711Codec.forPayloadType(9)).toBeUndefined();
    expect(G711Codec.forPayloadType(101)).toBeUndefined();
    expect(new G711Codec('PCMA').payloadType).toBe(8);
    expect(G711Codec.forLaw('PCMU').payloadType).toBe(0);
  });

  it('silence bytes decode to (near) zero', () => {
    expect(silenceByte('PCMU')).toBe(0xff);
    expect(silenceByte('PCMA')).toBe(0xd5);
    expect(mulawToLinear(silenceByte('PCMU'))).toBe(0);
    expect(Object.is(mulawToLinear(0x7f), 0)).toBe(true); // not −0
    expect(Math.abs(alawToLinear(silenceByte('PCMA')))).toBe(8);
    expect(linearToMulaw(0)).toBe(0xff);
    expect(linearToAlaw(0)).toBe(0xd5);
  });

  it('encode into a caller array fills and returns that same array', () => {
    const codec = G711Codec.forPayloadType(0)!;
    const pcm = Int16Array.from({ length: 160 }, (_, i) => (i - 80) * 300);
    const out = new Uint8Array(160).fill(0x42);
    const r = codec.encode(pcm, out);
    expect(r).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(pcm, (x) => mulaw.encodeSample(x) & 0xff));
  });

  it('decode into a caller array fills and returns that same array; a longer one keeps its tail', () => {
    const codec = G711Codec.forPayloadType(8)!;
    const payload = Uint8Array.from({ length: 80 }, (_, i) => i * 3);
    const out = new Int16Array(160).fill(7);
    const r = codec.decode(payload, out);
    expect(r).toBe(out);
    expect(Array.from(out.subarray(0, 80))).toEqual(Array.from(payload, (b) => alaw.decodeSample(b)));
    expect(out[80]).toBe(7);
    expect(out[159]).toBe(7);
  });

  it('encodeInto / decodeInto write at an offset and return the count', () => {
    const codec = G711Codec.forPayloadType(0)!;
    const pcm = Int16Array.of(0, 1000, -1000, 32767);
    const out = new Uint8Array(6);
    expect(codec.encodeInto(pcm, out, 2)).toBe(4);
    expect(Array.from(out)).toEqual([0, 0, ...Array.from(pcm, (x) => mulaw.encodeSample(x) & 0xff)]);
    expect(codec.encodeInto(pcm, out, 4)).toBe(2); // only two bytes of room
    const back = new Int16Array(3);
    expect(codec.decodeInto(out.subarray(2), back, 1)).toBe(2);
    expect(back[0]).toBe(0);
  });

  it('encodeInto / decodeInto agree with the per-sample functions for any length and offset (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('PCMU' as const, 'PCMA' as const),
        fc.array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 23 }),
        fc.integer({ min: 0, max: 5 }),
        (law, samples, offset) => {
          const codec = new G711Codec(law);
          const enc = law === 'PCMU' ? linearToMulaw : linearToAlaw;
          const dec = law === 'PCMU' ? mulawToLinear : alawToLinear;
          const out = new Uint8Array(offset + samples.length + 2).fill(0xaa);
          expect(codec.encodeInto(Int16Array.from(samples), out, offset)).toBe(samples.length);
          expect(Array.from(out)).toEqual([
            ...new Array<number>(offset).fill(0xaa),
            ...samples.map(enc),
            0xaa,
            0xaa,
          ]);
          const back = new Int16Array(offset + samples.length + 1).fill(-5);
          expect(codec.decodeInto(out.subarray(offset, offset + samples.length), back, offset)).toBe(
            samples.length,
          );
          expect(Array.from(back)).toEqual([
            ...new Array<number>(offset).fill(-5),
            ...samples.map((x) => dec(enc(x))),
            -5,
          ]);
        },
      ),
    );
  });

  it('rejects an output array that is too short', () => {
    const codec = G711Codec.forPayloadType(0)!;
    expect(() => codec.encode(new Int16Array(160), new Uint8Array(100))).toThrow(ConfigError);
    expect(() => codec.decode(new Uint8Array(160), new Int16Array(10))).toThrow(ConfigError);
  });

  it('round trip error stays within half a quantization step (property)', () => {
    for (const law of ['PCMU', 'PCMA'] as const) {
      const codec = new G711Codec(law);
      fc.assert(
        fc.property(fc.integer({ min: -32000, max: 32000 }), (x) => {
          const y = codec.decode(codec.encode(Int16Array.of(x)))[0]!;
          // segment step is 2^(seg+4) at most 1024 (μ-law) / 1024 (A-law): error ≤ step/2 + bias rounding
          const tolerance = Math.max(16, Math.abs(x) / 16);
          expect(Math.abs(y - x)).toBeLessThanOrEqual(tolerance);
        }),
      );
    }
  });

  it('decode(encode(decode(b))) is stable for every byte', () => {
    for (const law of ['PCMU', 'PCMA'] as const) {
      const codec = new G711Codec(law);
      const once = codec.decode(ALL_BYTES);
      const again = codec.decode(codec.encode(once));
      expect(Array.from(again)).toEqual(Array.from(once));
    }
  });
});
