/**
 * Fuzz targets shared by the bounded unit run (test/fuzz/fuzz.test.ts), the fast-check
 * fuzz files, the long run (`npm run fuzz`, scripts/fuzz.ts) and the replay of saved
 * reproducers (test/fixtures/fuzz/<target>/*.bin).
 *
 * Each target takes bytes and either returns (the input was accepted, or refused with a
 * typed error) or throws a `FuzzFailure`: an untyped exception, or a broken invariant.
 * Where a format has a serializer the round trip is strict (test/fuzz/strict.ts): once the
 * parser accepted an input, serializing it and re-parsing must succeed and agree.
 * The SIP-header, RTCP and AgentStream targets are in targets-more.ts.
 */
import { SipStreamFramer } from '../../src/sip/framing.js';
import { parseSipMessage } from '../../src/sip/parser.js';
import { serializeSipMessage } from '../../src/sip/serializer.js';
import type { SipMessage } from '../../src/sip/message.js';
import {
  getCSeq,
  getCallId,
  getContact,
  getFrom,
  getRecordRoute,
  getTo,
  getTopVia,
  getVias,
  parseAuthChallenge,
} from '../../src/sip/headers.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { negotiateSdp } from '../../src/sdp/negotiate.js';
import { parseSdp } from '../../src/sdp/parse.js';
import { serializeSdp } from '../../src/sdp/serialize.js';
import { buildDigestAuthorization } from '../../src/sip/digest.js';
import {
  isRtcpPacket,
  parseRtpHeader,
  parseRtpPacket,
  serializeRtpPacket,
  type RtpPacket,
} from '../../src/rtp/packet.js';
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
import { dec, enc } from './mutator.js';
import type { FuzzTarget } from './runner.js';
import { FuzzFailure, parseOrRefuse, roundTrip } from './strict.js';
import { MORE_TARGETS } from './targets-more.js';

/** Every getter of a parsed message may refuse (SipParseError), never crash. */
function readAll(m: SipMessage): void {
  for (const get of [getCallId, getCSeq, getTopVia, getVias, getFrom, getTo, getContact, getRecordRoute]) {
    parseOrRefuse(() => get(m));
  }
}

/** What a SIP round trip keeps: the start line, the headers but Content-Length, the body. */
function sipView(m: SipMessage): unknown {
  return {
    start: m.kind === 'request' ? [m.method, m.uri] : [m.status, m.reason],
    headers: [...m.headers].filter((h) => h.name !== 'Content-Length').map((h) => [h.name, h.value]),
    body: Buffer.from(m.body).toString('hex'),
  };
}

/** Parses bytes as a datagram; the strict round trip of whatever it accepts (re-parsed as a stream message). */
export function checkSipMessage(input: Uint8Array | string): SipMessage | undefined {
  const msg = parseOrRefuse(() => parseSipMessage(input, { transport: 'datagram' }));
  if (msg === undefined) return undefined;
  readAll(msg);
  roundTrip(msg, {
    format: 'SIP',
    serialize: serializeSipMessage,
    // What we write must frame on TCP too: Content-Length present and exact.
    parse: (b) => parseSipMessage(b, { transport: 'stream' }),
    view: sipView,
  });
  return msg;
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
    checkSipMessage(input);
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
    parseOrRefuse(() => {
      while (off < input.length) {
        const end = Math.min(input.length, off + step);
        for (const m of framer.push(input.subarray(off, end))) readAll(m);
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

/** parseSdp; the strict round trip (model and bytes) of whatever it accepts; negotiation may only refuse. */
export function checkSdp(input: Uint8Array | string): void {
  const text = typeof input === 'string' ? input : dec(input);
  const parsed = parseOrRefuse(() => parseSdp(text));
  if (parsed === undefined) return;
  roundTrip(parsed, { format: 'SDP', serialize: serializeSdp, parse: parseSdp });
  parseOrRefuse(() => negotiateSdp(LOCAL_OFFER, parsed));
}

const sdp: FuzzTarget = {
  name: 'sdp',
  seeds: [enc(ANSWER_SDP), enc(OFFER_SDP), enc(LOCAL_OFFER)],
  run: checkSdp,
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
    const challenge = parseOrRefuse(() => parseAuthChallenge(dec(input)));
    if (challenge === undefined) return;
    const auth = parseOrRefuse(() =>
      buildDigestAuthorization(challenge, {
        username: 'user',
        password: 'secret',
        method: 'INVITE',
        uri: 'sip:+919876543210@pstn.in1.exotel.com',
        cnonce: '0a4f113b',
      }),
    );
    // The header we would send must never carry a line break or NUL (injection).
    if (auth !== undefined && /[\r\n\0]/.test(auth.value)) {
      throw new FuzzFailure('Authorization value carries CR, LF or NUL');
    }
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

/** An RTP packet with its views copied out (the model compared by the round trip). */
function rtpView(p: RtpPacket): unknown {
  return {
    ...p,
    payload: Buffer.from(p.payload).toString('hex'),
    extensionData: p.extensionData && Buffer.from(p.extensionData).toString('hex'),
  };
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
    parseOrRefuse(() => isRtcpPacket(input));
    const h = parseOrRefuse(() => parseRtpHeader(input));
    const p = parseOrRefuse(() => parseRtpPacket(input));
    if ((h === undefined) !== (p === undefined)) {
      throw new FuzzFailure('parseRtpHeader and parseRtpPacket disagree on whether the packet is valid');
    }
    if (h === undefined || p === undefined) return;
    if (h.payloadOffset < 12 || h.payloadOffset + h.payloadLength > input.length || h.payloadLength < 0) {
      throw new FuzzFailure(
        `payload [${h.payloadOffset}, +${h.payloadLength}) outside a ${input.length}-byte packet`,
      );
    }
    if (p.csrcs.length !== h.csrcCount) throw new FuzzFailure('CSRC count disagrees between parsers');
    // Padding octets before the count are not kept, so only the model must survive.
    roundTrip(p, { format: 'RTP', serialize: serializeRtpPacket, parse: parseRtpPacket, view: rtpView });
  },
};

export const TARGETS: readonly FuzzTarget[] = [sipParser, sipFramer, sdp, digest, rtp, ...MORE_TARGETS];

/** The target named `name` (a fast-check fuzz file saves its counterexamples under it). */
export function target(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no fuzz target ${name}`);
  return t;
}
