/**
 * Fuzz targets shared by the bounded CI run (test/fuzz/fuzz.test.ts), the long run
 * (`npm run fuzz`, scripts/fuzz.ts) and the replay of saved reproducers
 * (test/fixtures/fuzz/<target>/*.bin).
 *
 * Each target takes bytes and either returns (the input was accepted or refused with the
 * documented typed error) or throws a `FuzzFailure` describing what went wrong: an
 * untyped exception, a broken invariant (round trip, buffer bound). Inputs come from a
 * small seeded mutator over valid seeds: bit flips, byte sets, truncation, splicing,
 * duplicated and deleted ranges, inserted interesting bytes (CR, LF, NUL, ':', ';', '<').
 */
import { BridgeError } from '../../src/errors.js';
import { SipStreamFramer } from '../../src/sip/framing.js';
import { parseSipMessage } from '../../src/sip/parser.js';
import { serializeSipMessage } from '../../src/sip/serializer.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { negotiateSdp } from '../../src/sdp/negotiate.js';
import { parseSdp } from '../../src/sdp/parse.js';
import { serializeSdp } from '../../src/sdp/serialize.js';
import { parseAuthChallenge } from '../../src/sip/headers.js';
import { buildDigestAuthorization } from '../../src/sip/digest.js';
import { isRtcpPacket, parseRtpHeader, parseRtpPacket } from '../../src/rtp/packet.js';
import {
  ANSWER_SDP,
  BYE,
  EXOTEL_INVITE,
  OFFER_SDP,
  OK_200,
  OPTIONS,
  PROXY_AUTH_407,
  TORTURE_COMPACT,
  TORTURE_ESCAPES,
  TORTURE_WS,
  UNAUTHORIZED_401,
} from '../sip/sip-vectors.js';

/** A target found a real defect; `message` says which. */
export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';
}

export interface FuzzTarget {
  name: string;
  /** Valid inputs the mutator starts from. */
  seeds: Uint8Array[];
  /** Runs one input; throws FuzzFailure on a defect. */
  run(input: Uint8Array): void;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

/** Only BridgeError subclasses (SipParseError, RtpParseError, …) may escape a parser. */
function typedOnly(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof FuzzFailure) throw err;
    if (err instanceof BridgeError) return;
    throw new FuzzFailure(
      `untyped ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`,
    );
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const sipParser: FuzzTarget = {
  name: 'sip-parser',
  seeds: [
    EXOTEL_INVITE,
    OK_200,
    BYE,
    OPTIONS,
    UNAUTHORIZED_401,
    TORTURE_WS,
    TORTURE_COMPACT,
    TORTURE_ESCAPES,
  ].map(enc),
  run(input) {
    typedOnly(() => {
      const msg = parseSipMessage(input, { transport: 'datagram' });
      // Whatever parsed must serialize, and the serialization must parse to the same bytes.
      let once: Uint8Array;
      try {
        once = serializeSipMessage(msg);
      } catch (err) {
        if (err instanceof BridgeError) return; // e.g. a header value the serializer refuses
        throw err;
      }
      const again = serializeSipMessage(parseSipMessage(once, { transport: 'datagram' }));
      if (!sameBytes(once, again))
        throw new FuzzFailure('serialize(parse(serialize(m))) differs from serialize(m)');
    });
  },
};

const sipFramer: FuzzTarget = {
  name: 'sip-framer',
  seeds: [enc(EXOTEL_INVITE + OK_200 + '\r\n\r\n' + BYE), enc(OPTIONS + OPTIONS)],
  run(input) {
    const limit = 2048;
    const framer = new SipStreamFramer({ maxMessageBytes: limit });
    // Split at pseudo-random points derived from the input itself (deterministic).
    let off = 0;
    let step = 1 + ((input[0] ?? 7) % 97);
    typedOnly(() => {
      while (off < input.length) {
        const end = Math.min(input.length, off + step);
        framer.push(input.subarray(off, end));
        if (framer.bufferedBytes > limit) {
          throw new FuzzFailure(`framer holds ${framer.bufferedBytes} bytes, over its ${limit}-byte limit`);
        }
        off = end;
        step = 1 + ((step * 31 + (input[off] ?? 3)) % 211);
      }
    });
  },
};

const LOCAL_OFFER = createSdpOffer({ ip: '203.0.113.10', port: 40000 });

const sdp: FuzzTarget = {
  name: 'sdp',
  seeds: [enc(ANSWER_SDP), enc(OFFER_SDP), enc(LOCAL_OFFER)],
  run(input) {
    typedOnly(() => {
      const text = dec(input);
      const parsed = parseSdp(text);
      const again = serializeSdp(parseSdp(serializeSdp(parsed)));
      if (again !== serializeSdp(parsed)) throw new FuzzFailure('SDP serialize/parse round trip differs');
      negotiateSdp(LOCAL_OFFER, text);
    });
  },
};

function challengeOf(msg: string): string {
  return /^(?:WWW|Proxy)-Authenticate: (.*)$/m.exec(msg)?.[1] ?? '';
}

const digest: FuzzTarget = {
  name: 'digest',
  seeds: [
    challengeOf(UNAUTHORIZED_401),
    challengeOf(PROXY_AUTH_407),
    'Digest realm="exotel.com", nonce="abc", algorithm=SHA-256, qop="auth,auth-int", opaque="xyz", stale=FALSE',
    'Digest realm="a\\"b", nonce="n", algorithm=MD5-sess, qop=auth',
  ].map(enc),
  run(input) {
    typedOnly(() => {
      const challenge = parseAuthChallenge(dec(input));
      const auth = buildDigestAuthorization(challenge, {
        username: 'user',
        password: 'secret',
        method: 'INVITE',
        uri: 'sip:+919876543210@pstn.in1.exotel.com',
        cnonce: '0a4f113b',
      });
      // The header we would send must never carry a line break or NUL (injection).
      if (/[\r\n\0]/.test(auth.value)) throw new FuzzFailure('Authorization value carries CR, LF or NUL');
    });
  },
};

function rtpSeed(cc: number, ext: boolean, pad: boolean): Uint8Array {
  const b = new Uint8Array(12 + cc * 4 + (ext ? 8 : 0) + 160 + (pad ? 4 : 0));
  b[0] = 0x80 | (pad ? 0x20 : 0) | (ext ? 0x10 : 0) | cc;
  b[1] = 8;
  b[3] = 1;
  const o = 12 + cc * 4;
  if (ext) {
    b[o] = 0xbe;
    b[o + 1] = 0xde;
    b[o + 3] = 1;
  }
  if (pad) b[b.length - 1] = 4;
  return b;
}

const rtp: FuzzTarget = {
  name: 'rtp',
  seeds: [
    rtpSeed(0, false, false),
    rtpSeed(2, true, false),
    rtpSeed(15, true, true),
    rtpSeed(0, false, true),
  ],
  run(input) {
    typedOnly(() => {
      isRtcpPacket(input);
      const h = parseRtpHeader(input);
      if (h.payloadOffset < 12 || h.payloadOffset + h.payloadLength > input.length || h.payloadLength < 0) {
        throw new FuzzFailure(
          `payload [${h.payloadOffset}, +${h.payloadLength}) outside a ${input.length}-byte packet`,
        );
      }
      const p = parseRtpPacket(input);
      if (p.csrcs.length !== h.csrcCount) throw new FuzzFailure('CSRC count disagrees between parsers');
    });
  },
};

export const TARGETS: readonly FuzzTarget[] = [sipParser, sipFramer, sdp, digest, rtp];

// ----------------------------------------------------------------------------- mutator

/** xorshift32: fast, seeded, reproducible. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

const INTERESTING = [
  0x00, 0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x3c, 0x3e, 0x22, 0x5c, 0x2c, 0x3d, 0xff, 0x80, 0x7f,
];

/** One mutated input from the seeds (1–4 stacked mutations; sometimes random bytes). */
export function mutate(rng: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  if (rng.below(32) === 0) {
    const out = new Uint8Array(rng.below(300));
    for (let i = 0; i < out.length; i++) out[i] = rng.below(256);
    return out;
  }
  let b: Uint8Array = Uint8Array.from(seeds[rng.below(seeds.length)]!);
  const n = 1 + rng.below(4);
  for (let k = 0; k < n; k++) {
    const len = b.length;
    switch (rng.below(8)) {
      case 0: // flip a bit
        if (len > 0) b[rng.below(len)]! ^= 1 << rng.below(8);
        break;
      case 1: // set an interesting byte
        if (len > 0) b[rng.below(len)] = INTERESTING[rng.below(INTERESTING.length)]!;
        break;
      case 2: // truncate
        b = b.subarray(0, rng.below(len + 1));
        break;
      case 3: {
        // delete a range
        const at = rng.below(len + 1);
        const cut = rng.below(Math.min(64, len - at) + 1);
        b = concat(b.subarray(0, at), b.subarray(at + cut));
        break;
      }
      case 4: {
        // duplicate a range
        const at = rng.below(len + 1);
        const l = rng.below(Math.min(128, len - at) + 1);
        b = concat(b.subarray(0, at + l), b.subarray(at, at + l), b.subarray(at + l));
        break;
      }
      case 5: {
        // insert interesting bytes
        const at = rng.below(len + 1);
        const ins = new Uint8Array(1 + rng.below(4)).map(() => INTERESTING[rng.below(INTERESTING.length)]!);
        b = concat(b.subarray(0, at), ins, b.subarray(at));
        break;
      }
      case 6: {
        // splice with another seed
        const other = seeds[rng.below(seeds.length)]!;
        b = concat(b.subarray(0, rng.below(len + 1)), other.subarray(rng.below(other.length + 1)));
        break;
      }
      default: {
        // replace a number-looking digit run with a huge or negative one
        const s = dec(b);
        const m = /\d+/g;
        const all = [...s.matchAll(m)];
        if (all.length > 0) {
          const hit = all[rng.below(all.length)]!;
          const repl = ['99999999999999999999', '-1', '0', '4294967296', '65536'][rng.below(5)]!;
          b = enc(s.slice(0, hit.index) + repl + s.slice(hit.index! + hit[0].length));
          b = Uint8Array.from(Buffer.from(dec(b), 'latin1'));
        }
      }
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface FuzzRunResult {
  target: string;
  inputs: number;
  seconds: number;
  perSecond: number;
  failures: { input: Uint8Array; message: string }[];
}

/** Runs `count` mutated inputs (plus the seeds) through one target; stops after `maxFailures`. */
export function fuzz(target: FuzzTarget, count: number, seed: number, maxFailures = 5): FuzzRunResult {
  const rng = new Rng(seed);
  const failures: { input: Uint8Array; message: string }[] = [];
  const t0 = performance.now();
  let inputs = 0;
  const one = (input: Uint8Array): void => {
    inputs++;
    try {
      target.run(input);
    } catch (err) {
      failures.push({ input, message: err instanceof Error ? err.message : String(err) });
    }
  };
  for (const s of target.seeds) one(s);
  for (let i = 0; i < count && failures.length < maxFailures; i++) one(mutate(rng, target.seeds));
  const seconds = (performance.now() - t0) / 1000;
  return { target: target.name, inputs, seconds, perSecond: Math.round(inputs / seconds), failures };
}
