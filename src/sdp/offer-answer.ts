/**
 * `createSdpOffer` and `createSdpAnswer` (RFC 3264): our side of the offer/answer model
 * for G.711 telephony. Pure; the only randomness is the default `o=` session id of a new
 * offer, drawn from an injectable {@link RandomSource}.
 */
import { isIP } from 'node:net';

import { ConfigError, SdpNegotiationError } from '../errors.js';
import { cryptoRandom, type RandomSource } from '../random.js';
import {
  DEFAULT_TELEPHONE_EVENT_PAYLOAD_TYPE,
  G711_CLOCK_RATE,
  G711_STATIC_PAYLOAD_TYPES,
  SDP_DIRECTIONS,
  TELEPHONE_EVENT_ENCODING,
  TELEPHONE_EVENT_FMTP,
  type G711CodecName,
  type SdpAttribute,
  type SdpDirection,
  type SdpFmtp,
  type SdpMedia,
  type SdpRtpMap,
  type SdpTiming,
  type SessionDescription,
} from './model.js';
import {
  asDescription,
  canReceive,
  canSend,
  directionOf,
  firstAudio,
  fromFlags,
  g711Of,
  isHoldAddress,
  isRtpAvp,
  telephoneEventOf,
} from './negotiate.js';
import { serializeSdp } from './serialize.js';

/** Options of {@link createSdpOffer} (and of {@link createSdpAnswer} given as options). */
export interface SdpOfferOptions {
  /** The address RTP is received on, advertised in `o=` and `c=` (IPv4 or IPv6). */
  ip: string;
  /** The RTP port. */
  port: number;
  /**
   * Codecs in order of preference (default `['PCMA', 'PCMU']`, Exotel's order): an offer
   * lists exactly these, in this order; an answer picks among them (see `codecPreference`).
   */
  codecs?: readonly G711CodecName[];
  /**
   * Whose order decides the codec when answering (RFC 3264 §6.1 lets the answerer choose
   * any offered codec): `'offerer'` (default) takes the offer's first codec that is also in
   * `codecs`; `'ours'` takes the first of `codecs` that the offer has. Ignored by
   * {@link createSdpOffer}.
   */
  codecPreference?: 'offerer' | 'ours';
  /** Payload type for `telephone-event/8000` (96–127, default 101), or `false` for none. */
  telephoneEvent?: number | false;
  /** Packetization time in ms (default 20). */
  ptime?: number;
  /** `o=` session id (decimal digits); random by default. */
  sessionId?: string | number;
  /** `o=` session version (decimal digits); defaults to the session id. */
  sessionVersion?: string | number;
  /** `o=` username (default `-`). */
  username?: string;
  /** Our direction (default `sendrecv`). */
  direction?: SdpDirection;
  /** `s=` (default `-`). */
  sessionName?: string;
  /** Random source for the default session id. */
  random?: RandomSource;
}

interface ResolvedOffer {
  ip: string;
  addrType: 'IP4' | 'IP6';
  port: number;
  codecs: readonly G711CodecName[];
  telephoneEvent: number | false;
  ptime: number;
  sessionId: string;
  sessionVersion: string;
  username: string;
  direction: SdpDirection;
  sessionName: string;
  codecPreference: 'offerer' | 'ours';
}

function randomSessionId(random: RandomSource): string {
  const b = random(6);
  let n = 0;
  for (let i = 0; i < 6; i++) n = n * 256 + (b[i] ?? 0);
  return String(n);
}

function resolveOfferOptions(o: SdpOfferOptions): ResolvedOffer {
  const issues: string[] = [];
  const family = typeof o.ip === 'string' ? isIP(o.ip) : 0;
  if (family === 0)
    issues.push(`sdp ip must be an IPv4 or IPv6 address, got ${JSON.stringify(String(o.ip))}`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) {
    issues.push(`sdp port must be an integer from 1 to 65535, got ${String(o.port)}`);
  }
  const codecs = o.codecs ?? ['PCMA', 'PCMU'];
  if (codecs.length === 0) issues.push('sdp codecs must not be empty');
  for (const c of codecs)
    if (c !== 'PCMU' && c !== 'PCMA') issues.push(`unsupported codec ${JSON.stringify(c)}`);
  if (new Set(codecs).size !== codecs.length) issues.push('sdp codecs contain duplicates');
  const te = o.telephoneEvent ?? DEFAULT_TELEPHONE_EVENT_PAYLOAD_TYPE;
  if (te !== false && (!Number.isInteger(te) || te < 96 || te > 127)) {
    issues.push(`telephoneEvent must be a payload type from 96 to 127 or false, got ${String(te)}`);
  }
  const ptime = o.ptime ?? 20;
  if (!Number.isInteger(ptime) || ptime < 10 || ptime > 200) {
    issues.push(`ptime must be an integer from 10 to 200 ms, got ${String(ptime)}`);
  }
  const sessionId = String(o.sessionId ?? randomSessionId(o.random ?? cryptoRandom));
  const sessionVersion = String(o.sessionVersion ?? sessionId);
  if (!/^[0-9]{1,20}$/.test(sessionId))
    issues.push(`sessionId must be decimal digits, got ${JSON.stringify(sessionId)}`);
  if (!/^[0-9]{1,20}$/.test(sessionVersion)) {
    issues.push(`sessionVersion must be decimal digits, got ${JSON.stringify(sessionVersion)}`);
  }
  const username = o.username ?? '-';
  if (!/^[\x21-\x7e]+$/.test(username)) issues.push(`sdp username must be visible ASCII without spaces`);
  const direction = o.direction ?? 'sendrecv';
  if (!SDP_DIRECTIONS.has(direction)) issues.push(`unknown direction ${JSON.stringify(direction)}`);
  const codecPreference = o.codecPreference ?? 'offerer';
  if (codecPreference !== 'offerer' && codecPreference !== 'ours') {
    issues.push(
      `codecPreference must be 'offerer' or 'ours', got ${JSON.stringify(String(codecPreference))}`,
    );
  }
  const sessionName = o.sessionName ?? '-';
  if (sessionName.length === 0 || /[\r\n\0]/.test(sessionName))
    issues.push('sessionName must be one non-empty line');
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    ip: o.ip,
    addrType: family === 6 ? 'IP6' : 'IP4',
    port: o.port,
    codecs,
    telephoneEvent: te,
    ptime,
    sessionId,
    sessionVersion,
    username,
    direction,
    sessionName,
    codecPreference,
  };
}

function audioSection(
  r: ResolvedOffer,
  port: number,
  codecs: readonly { name: G711CodecName; pt: number }[],
  te: number | false,
  direction: SdpDirection,
): SdpMedia {
  const attributes: SdpAttribute[] = [];
  const rtpmaps: SdpRtpMap[] = [];
  for (const c of codecs) {
    rtpmaps.push({ payloadType: c.pt, encoding: c.name, clockRate: G711_CLOCK_RATE });
    attributes.push({ name: 'rtpmap', value: `${c.pt} ${c.name}/${G711_CLOCK_RATE}` });
  }
  const fmtps: SdpFmtp[] = [];
  if (te !== false) {
    rtpmaps.push({ payloadType: te, encoding: TELEPHONE_EVENT_ENCODING, clockRate: G711_CLOCK_RATE });
    attributes.push({ name: 'rtpmap', value: `${te} ${TELEPHONE_EVENT_ENCODING}/${G711_CLOCK_RATE}` });
    fmtps.push({ format: String(te), params: TELEPHONE_EVENT_FMTP });
    attributes.push({ name: 'fmtp', value: `${te} ${TELEPHONE_EVENT_FMTP}` });
  }
  attributes.push({ name: 'ptime', value: String(r.ptime) }, { name: direction });
  const formats = codecs.map((c) => String(c.pt));
  if (te !== false) formats.push(String(te));
  return {
    type: 'audio',
    port,
    protocol: 'RTP/AVP',
    formats,
    lines: [],
    attributes,
    rtpmaps,
    fmtps,
    ptime: r.ptime,
    rtcpMux: false,
    direction,
  };
}

function baseDescription(r: ResolvedOffer, timing: SdpTiming): SessionDescription {
  return {
    version: 0,
    origin: {
      username: r.username,
      sessionId: r.sessionId,
      sessionVersion: r.sessionVersion,
      netType: 'IN',
      addrType: r.addrType,
      address: r.ip,
    },
    sessionName: r.sessionName,
    connection: { netType: 'IN', addrType: r.addrType, address: r.ip },
    timing: [timing],
    lines: [],
    attributes: [],
    media: [],
  };
}

/**
 * Builds our SDP offer for an outbound INVITE. With the defaults it is exactly what
 * Exotel expects:
 * ```
 * v=0
 * o=- <id> <version> IN IP4 <ip>
 * s=-
 * c=IN IP4 <ip>
 * t=0 0
 * m=audio <port> RTP/AVP 8 0 101
 * a=rtpmap:8 PCMA/8000
 * a=rtpmap:0 PCMU/8000
 * a=rtpmap:101 telephone-event/8000
 * a=fmtp:101 0-16
 * a=ptime:20
 * a=sendrecv
 * ```
 * IPv6 addresses are advertised with `IN IP6`.
 *
 * @throws ConfigError when an option is out of range.
 */
export function createSdpOffer(options: SdpOfferOptions): string {
  const r = resolveOfferOptions(options);
  const desc = baseDescription(r, { start: '0', stop: '0', repeats: [] });
  const codecs = r.codecs.map((name) => ({ name, pt: G711_STATIC_PAYLOAD_TYPES[name] }));
  desc.media.push(audioSection(r, r.port, codecs, r.telephoneEvent, r.direction));
  return serializeSdp(desc);
}

/** Our options recovered from an SDP we sent earlier (for answering a re-INVITE). */
function optionsFromLocal(desc: SessionDescription): SdpOfferOptions {
  const m = firstAudio(desc);
  if (m === undefined) throw new SdpNegotiationError('our previous SDP has no audio section');
  const conn = m.connection ?? desc.connection;
  if (conn === undefined) throw new SdpNegotiationError('our previous SDP has no c= line');
  const codecs: G711CodecName[] = [];
  for (const f of m.formats) {
    const c = g711Of(m, f);
    if (c !== undefined && !codecs.includes(c)) codecs.push(c);
  }
  let version: string;
  try {
    version = (BigInt(desc.origin.sessionVersion) + 1n).toString();
  } catch {
    // Not decimal digits (never in an SDP we built): a parse fallback, the version restarts at 1.
    version = '1';
  }
  const out: SdpOfferOptions = {
    ip: conn.address,
    port: m.port,
    codecs,
    telephoneEvent: telephoneEventOf(m) ?? false,
    ptime: m.ptime ?? desc.ptime ?? 20,
    sessionId: desc.origin.sessionId,
    sessionVersion: version,
    username: desc.origin.username,
    direction: directionOf(desc, m),
  };
  if (desc.sessionName !== undefined && desc.sessionName.length > 0) out.sessionName = desc.sessionName;
  return out;
}

/** The codec to answer an audio section with, by `codecPreference`; undefined when none is common. */
function pickCodec(m: SdpMedia, r: ResolvedOffer): { name: G711CodecName; pt: number } | undefined {
  const offered: { name: G711CodecName; pt: number }[] = [];
  for (const f of m.formats) {
    const name = g711Of(m, f);
    if (name !== undefined && r.codecs.includes(name)) offered.push({ name, pt: Number(f) });
  }
  if (r.codecPreference === 'offerer') return offered[0];
  for (const name of r.codecs) {
    const hit = offered.find((c) => c.name === name);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/**
 * Builds our answer to a remote offer (an inbound INVITE or a re-INVITE), following
 * RFC 3264 §6:
 * - the first audio section over `RTP/AVP` with a codec we support is accepted, with one
 *   codec (its payload type kept): by default the offer's first codec that is also in our
 *   `codecs` (the offerer's order); with `codecPreference: 'ours'` the first of our
 *   `codecs` that the offer has; plus `telephone-event/8000` when both sides have it (the
 *   offer's payload type);
 * - every other section is rejected with port 0;
 * - our direction mirrors the offer's (their `sendonly` → our `recvonly`, `recvonly` →
 *   `sendonly`, `inactive` → `inactive`), limited by our own direction; an RFC 2543 hold
 *   (`c=… 0.0.0.0`) removes our send direction.
 *
 * `local` is either the options of {@link createSdpOffer} or an SDP we sent before (our
 * original offer): its address, port, codecs, ptime and `o=` line are reused, with the
 * session version incremented.
 *
 * @throws SdpNegotiationError when no audio section can be accepted.
 * @throws SipParseError when the offer is malformed; ConfigError for bad options.
 */
export function createSdpAnswer(
  remoteOffer: string | Uint8Array | SessionDescription,
  local: SdpOfferOptions | string | Uint8Array | SessionDescription,
): string {
  const offer = asDescription(remoteOffer);
  const localOptions =
    typeof local === 'string' || local instanceof Uint8Array || 'media' in local
      ? optionsFromLocal(asDescription(local))
      : local;
  const r = resolveOfferOptions(localOptions);

  let chosen = -1;
  let codec: { name: G711CodecName; pt: number } | undefined;
  for (let i = 0; i < offer.media.length && chosen < 0; i++) {
    const m = offer.media[i]!;
    if (m.type.toLowerCase() !== 'audio' || m.port === 0 || !isRtpAvp(m)) continue;
    codec = pickCodec(m, r);
    if (codec !== undefined) chosen = i;
  }
  if (chosen < 0 || codec === undefined) {
    throw new SdpNegotiationError(`no audio stream with a common codec (we support ${r.codecs.join(', ')})`);
  }
  const offered = offer.media[chosen]!;
  const conn = offered.connection ?? offer.connection;
  if (conn === undefined) throw new SdpNegotiationError('the offer has no c= line for its audio stream');

  const theirs = directionOf(offer, offered);
  const theyReceive = canReceive(theirs) && !isHoldAddress(conn);
  const direction = fromFlags(
    canSend(r.direction) && theyReceive,
    canReceive(r.direction) && canSend(theirs),
  );
  const te = r.telephoneEvent === false ? false : (telephoneEventOf(offered) ?? false);

  const firstTiming = offer.timing[0];
  const desc = baseDescription(r, {
    start: firstTiming?.start ?? '0',
    stop: firstTiming?.stop ?? '0',
    repeats: [],
  });
  for (let i = 0; i < offer.media.length; i++) {
    const m = offer.media[i]!;
    if (i === chosen) {
      desc.media.push(audioSection(r, r.port, [codec], te, direction));
    } else {
      desc.media.push({
        type: m.type,
        port: 0,
        protocol: m.protocol,
        formats: m.formats.length > 0 ? [...m.formats] : ['0'],
        lines: [],
        attributes: [],
        rtpmaps: [],
        fmtps: [],
        rtcpMux: false,
      });
    }
  }
  return serializeSdp(desc);
}
