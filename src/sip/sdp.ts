/**
 * SDP (RFC 8866 / RFC 4566) for G.711 telephony: parse, serialize, build offers and
 * answers (RFC 3264) and negotiate the media parameters the RTP layer needs.
 *
 * Pure: no sockets and no clock. The only randomness is the default `o=` session id of a
 * new offer, which can be given explicitly.
 *
 * ## Model
 * `parseSdp` keeps every line: the structural lines (`v o s c t m`) as typed fields, the
 * `a=` lines in order in `attributes` (with typed views `rtpmaps`, `fmtps`, `ptime`,
 * `rtcp`, `direction`... derived from them), and any other line in `lines`.
 * `serializeSdp` writes the structural fields, `lines` and `attributes` back in RFC
 * order, so an SDP written in RFC order round-trips byte for byte. The typed views are a
 * snapshot taken when parsing: to change an attribute, edit `attributes`.
 *
 * ## Hold
 * A far end can put the call on hold with `a=sendonly` / `a=inactive` (RFC 3264) or, in
 * the RFC 2543 style, with `c=IN IP4 0.0.0.0`. {@link negotiateSdp} reports both through
 * `hold` and a `direction` seen from our side. By default an outcome in which no audio
 * flows at all (`inactive`, or the 0.0.0.0 address) is an `SdpNegotiationError`, which is
 * right for the answer to our INVITE; pass `{ allowHold: true }` when handling a
 * re-INVITE, where hold is a normal state (stop sending while `direction` has no `send`).
 */
import { isIP } from 'node:net';

import { ConfigError, SdpNegotiationError, SipParseError } from '../errors.js';
import { cryptoRandom, type RandomSource } from './ids.js';

// ------------------------------------------------------------------------------ model

/** Media direction attribute (RFC 3264 §5.1). */
export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** The G.711 codecs the library speaks. */
export type G711CodecName = 'PCMU' | 'PCMA';

/** `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`. */
export interface SdpOrigin {
  username: string;
  /** Kept as text: session ids are often larger than 2^53. */
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

/** `c=<nettype> <addrtype> <address>`; a multicast `/ttl` suffix stays in `address`. */
export interface SdpConnection {
  netType: string;
  addrType: string;
  address: string;
}

/** `t=<start> <stop>` and the `r=` lines that follow it. */
export interface SdpTiming {
  start: string;
  stop: string;
  repeats: string[];
}

/** A line kept as written (`i=`, `u=`, `e=`, `p=`, `b=`, `z=`, `k=` or an unknown type). */
export interface SdpLine {
  type: string;
  value: string;
}

/** An `a=` line: `a=name` (no `value`) or `a=name:value`. */
export interface SdpAttribute {
  name: string;
  value?: string;
}

/** `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`. */
export interface SdpRtpMap {
  payloadType: number;
  encoding: string;
  clockRate: number;
  channels?: number;
}

/** `a=fmtp:<format> <parameters>`. */
export interface SdpFmtp {
  format: string;
  params: string;
}

/** `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605). */
export interface SdpRtcp {
  port: number;
  netType?: string;
  addrType?: string;
  address?: string;
}

/** One `m=` section. */
export interface SdpMedia {
  /** `audio`, `video`... */
  type: string;
  port: number;
  /** The `/<number of ports>` suffix of the port, when written. */
  portCount?: number;
  /** `RTP/AVP`, `RTP/SAVP`... */
  protocol: string;
  /** Formats as written (payload type numbers for RTP). */
  formats: string[];
  /** Media-level `c=`; overrides the session's. */
  connection?: SdpConnection;
  /** Other lines of the section (`i=`, `b=`, `k=`...), in order. */
  lines: SdpLine[];
  /** Every `a=` line of the section, in order. Authoritative for serialization. */
  attributes: SdpAttribute[];
  /** Parsed `a=rtpmap` lines (malformed ones are skipped). */
  rtpmaps: SdpRtpMap[];
  /** Parsed `a=fmtp` lines. */
  fmtps: SdpFmtp[];
  /** `a=ptime` in milliseconds. */
  ptime?: number;
  /** `a=maxptime` in milliseconds. */
  maxptime?: number;
  /** `a=rtcp`. */
  rtcp?: SdpRtcp;
  /** `a=rtcp-mux` present. */
  rtcpMux: boolean;
  /** The direction attribute written in this section (the last one wins), if any. */
  direction?: SdpDirection;
}

/** A parsed session description. */
export interface SessionDescription {
  /** `v=`, always 0. */
  version: number;
  origin: SdpOrigin;
  /** `s=`; absent only when the input had no `s=` line. */
  sessionName?: string;
  /** Session-level `c=`. */
  connection?: SdpConnection;
  timing: SdpTiming[];
  /** Other session-level lines, in order. */
  lines: SdpLine[];
  /** Session-level `a=` lines, in order. */
  attributes: SdpAttribute[];
  /** Session-level direction attribute, if any. */
  direction?: SdpDirection;
  /** Session-level `a=ptime` (not standard, but written by some gateways). */
  ptime?: number;
  media: SdpMedia[];
}

// ------------------------------------------------------------------------------ parse

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);
const MAX_SDP_LENGTH = 65536;

function fail(message: string): never {
  throw new SipParseError(message, 'SDP');
}

function show(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

function fields(value: string): string[] {
  return value.split(/[ \t]+/).filter((f) => f.length > 0);
}

function parsePort(s: string, what: string): number {
  if (!/^[0-9]{1,5}$/.test(s)) fail(`${what} ${show(s)} is not a port number`);
  const n = Number(s);
  if (n > 65535) fail(`${what} ${n} is above 65535`);
  return n;
}

function parseConnection(value: string): SdpConnection {
  const f = fields(value);
  if (f.length !== 3) fail(`c= needs <nettype> <addrtype> <address>, got ${show(value)}`);
  return { netType: f[0]!, addrType: f[1]!, address: f[2]! };
}

function positiveNumber(s: string): number | undefined {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(s.trim())) return undefined;
  const n = Number(s.trim());
  return n > 0 ? n : undefined;
}

function parseRtpMap(value: string): SdpRtpMap | undefined {
  const m = /^([0-9]{1,3})[ \t]+([^/\s]+)\/([0-9]{1,9})(?:\/([0-9]{1,3}))?[ \t]*$/.exec(value);
  if (m === null) return undefined;
  const payloadType = Number(m[1]);
  if (payloadType > 127) return undefined;
  const out: SdpRtpMap = { payloadType, encoding: m[2]!, clockRate: Number(m[3]) };
  if (m[4] !== undefined) out.channels = Number(m[4]);
  return out;
}

function parseRtcp(value: string): SdpRtcp | undefined {
  const f = fields(value);
  if (f.length !== 1 && f.length !== 4) return undefined;
  if (!/^[0-9]{1,5}$/.test(f[0]!) || Number(f[0]) > 65535) return undefined;
  const out: SdpRtcp = { port: Number(f[0]) };
  if (f.length === 4) {
    out.netType = f[1]!;
    out.addrType = f[2]!;
    out.address = f[3]!;
  }
  return out;
}

interface AttributeViews {
  direction?: SdpDirection;
  ptime?: number;
}

// Applies one attribute to the typed views of a media section (or the session).
function applyAttribute(attr: SdpAttribute, views: AttributeViews, media: SdpMedia | undefined): void {
  const name = attr.name.trim();
  const value = attr.value;
  if (value === undefined) {
    if (DIRECTIONS.has(name)) views.direction = name as SdpDirection;
    else if (name === 'rtcp-mux' && media !== undefined) media.rtcpMux = true;
    return;
  }
  if (name === 'ptime') {
    const n = positiveNumber(value);
    if (n !== undefined) views.ptime = n;
    return;
  }
  if (media === undefined) return;
  switch (name) {
    case 'rtpmap': {
      const r = parseRtpMap(value);
      if (r !== undefined) media.rtpmaps.push(r);
      break;
    }
    case 'fmtp': {
      const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(value);
      if (m !== null) media.fmtps.push({ format: m[1]!, params: (m[2] ?? '').trim() });
      break;
    }
    case 'maxptime': {
      const n = positiveNumber(value);
      if (n !== undefined) media.maxptime = n;
      break;
    }
    case 'rtcp': {
      const r = parseRtcp(value);
      if (r !== undefined) media.rtcp = r;
      break;
    }
    default:
      break;
  }
}

function parseAttribute(value: string): SdpAttribute {
  const colon = value.indexOf(':');
  const name = colon < 0 ? value : value.slice(0, colon);
  if (name.trim().length === 0) fail(`attribute without a name: ${show(value)}`);
  return colon < 0 ? { name } : { name, value: value.slice(colon + 1) };
}

/**
 * Parses a session description. Accepts CRLF or bare LF line ends and ignores empty
 * lines. `v=0` must come first and `o=` must be present; `c=`, `m=` and `t=` lines must be
 * well formed. Malformed `a=` values of known attributes (`rtpmap`, `ptime`...) are kept
 * in `attributes` but left out of the typed views.
 *
 * @throws SipParseError (header `SDP`) when the description is malformed.
 */
export function parseSdp(input: string | Uint8Array): SessionDescription {
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  if (text.length > MAX_SDP_LENGTH) fail(`description is longer than ${MAX_SDP_LENGTH} characters`);
  const rawLines = text.split('\n');
  let session: SessionDescription | undefined;
  const sessionViews: AttributeViews = {};
  let media: SdpMedia | undefined;
  let mediaViews: AttributeViews = {};
  let sawName = false;

  const closeMedia = (): void => {
    if (media === undefined) return;
    if (mediaViews.direction !== undefined) media.direction = mediaViews.direction;
    if (mediaViews.ptime !== undefined) media.ptime = mediaViews.ptime;
    media = undefined;
    mediaViews = {};
  };

  for (let raw of rawLines) {
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (raw.trim().length === 0) continue;
    if (raw.includes('\r') || raw.includes('\0')) fail(`line ${show(raw)} contains CR or NUL`);
    const type = raw[0]!;
    if (raw.length < 2 || raw[1] !== '=' || !/^[a-z]$/.test(type)) fail(`malformed line ${show(raw)}`);
    const value = raw.slice(2);

    if (session === undefined) {
      if (type !== 'v') fail('the description must start with v=0');
      if (value.trim() !== '0') fail(`unsupported version ${show(value)}`);
      session = {
        version: 0,
        origin: { username: '', sessionId: '', sessionVersion: '', netType: '', addrType: '', address: '' },
        timing: [],
        lines: [],
        attributes: [],
        media: [],
      };
      continue;
    }
    if (session.origin.netType === '') {
      if (type !== 'o') fail('o= must follow v=');
      const f = fields(value);
      if (f.length !== 6) fail(`o= needs 6 fields, got ${show(value)}`);
      session.origin = {
        username: f[0]!,
        sessionId: f[1]!,
        sessionVersion: f[2]!,
        netType: f[3]!,
        addrType: f[4]!,
        address: f[5]!,
      };
      continue;
    }

    if (type === 'm') {
      closeMedia();
      const f = fields(value);
      if (f.length < 3) fail(`m= needs <media> <port> <proto> <fmt>..., got ${show(value)}`);
      const [portText, countText] = f[1]!.split('/', 2) as [string, string | undefined];
      const m: SdpMedia = {
        type: f[0]!,
        port: parsePort(portText, 'm= port'),
        protocol: f[2]!,
        formats: f.slice(3),
        lines: [],
        attributes: [],
        rtpmaps: [],
        fmtps: [],
        rtcpMux: false,
      };
      if (countText !== undefined) {
        if (!/^[0-9]{1,5}$/.test(countText)) fail(`malformed port count in ${show(value)}`);
        m.portCount = Number(countText);
      }
      session.media.push(m);
      media = m;
      continue;
    }

    if (media !== undefined) {
      if (type === 'a') {
        const attr = parseAttribute(value);
        media.attributes.push(attr);
        applyAttribute(attr, mediaViews, media);
      } else if (type === 'c') {
        if (media.connection !== undefined) fail('more than one c= line in a media section');
        media.connection = parseConnection(value);
      } else if ('vost'.includes(type)) {
        fail(`${type}= is not allowed in a media section`);
      } else {
        media.lines.push({ type, value });
      }
      continue;
    }

    switch (type) {
      case 'v':
      case 'o':
        fail(`duplicate ${type}= line`);
        break;
      case 's':
        if (sawName) fail('duplicate s= line');
        sawName = true;
        session.sessionName = value;
        break;
      case 'c':
        if (session.connection !== undefined) fail('duplicate session-level c= line');
        session.connection = parseConnection(value);
        break;
      case 't': {
        const f = fields(value);
        if (f.length !== 2 || !/^[0-9]+$/.test(f[0]!) || !/^[0-9]+$/.test(f[1]!)) {
          fail(`t= needs <start> <stop>, got ${show(value)}`);
        }
        session.timing.push({ start: f[0]!, stop: f[1]!, repeats: [] });
        break;
      }
      case 'r': {
        const last = session.timing[session.timing.length - 1];
        if (last === undefined) fail('r= without a preceding t=');
        last.repeats.push(value);
        break;
      }
      case 'a': {
        const attr = parseAttribute(value);
        session.attributes.push(attr);
        applyAttribute(attr, sessionViews, undefined);
        break;
      }
      default:
        session.lines.push({ type, value });
    }
  }
  if (session === undefined) fail('empty description');
  if (session.origin.netType === '') fail('missing o= line');
  closeMedia();
  if (sessionViews.direction !== undefined) session.direction = sessionViews.direction;
  if (sessionViews.ptime !== undefined) session.ptime = sessionViews.ptime;
  return session;
}

// ------------------------------------------------------------------------------ serialize

// RFC 8866 §5 order: v o s i u e p c b t r z k a, then per media m i c b k a.
const SESSION_BEFORE_C = 'iuep';
const SESSION_AFTER_C = 'b';
const MEDIA_BEFORE_C = 'i';

function lineOut(out: string[], l: SdpLine): void {
  out.push(`${l.type}=${l.value}`);
}

function attrOut(out: string[], a: SdpAttribute): void {
  out.push(a.value === undefined ? `a=${a.name}` : `a=${a.name}:${a.value}`);
}

function connOut(c: SdpConnection): string {
  return `c=${c.netType} ${c.addrType} ${c.address}`;
}

/**
 * Writes a session description with CRLF line ends (a CRLF after the last line too), in
 * RFC 8866 order: `v o s i u e p c b t r z k a`, then each media section `m i c b k a`.
 * Attributes are written from `attributes`, in order.
 *
 * @throws SipParseError (header `SDP`) when a field holds CR or LF.
 */
export function serializeSdp(desc: SessionDescription): string {
  const out: string[] = [];
  const o = desc.origin;
  out.push(`v=${desc.version}`);
  out.push(`o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`);
  if (desc.sessionName !== undefined) out.push(`s=${desc.sessionName}`);
  for (const l of desc.lines) if (SESSION_BEFORE_C.includes(l.type)) lineOut(out, l);
  if (desc.connection !== undefined) out.push(connOut(desc.connection));
  for (const l of desc.lines) if (SESSION_AFTER_C.includes(l.type)) lineOut(out, l);
  for (const t of desc.timing) {
    out.push(`t=${t.start} ${t.stop}`);
    for (const r of t.repeats) out.push(`r=${r}`);
  }
  for (const l of desc.lines)
    if (!SESSION_BEFORE_C.includes(l.type) && !SESSION_AFTER_C.includes(l.type)) lineOut(out, l);
  for (const a of desc.attributes) attrOut(out, a);
  for (const m of desc.media) {
    const port = m.portCount === undefined ? `${m.port}` : `${m.port}/${m.portCount}`;
    out.push(`m=${[m.type, port, m.protocol, ...m.formats].join(' ')}`);
    for (const l of m.lines) if (MEDIA_BEFORE_C.includes(l.type)) lineOut(out, l);
    if (m.connection !== undefined) out.push(connOut(m.connection));
    for (const l of m.lines) if (!MEDIA_BEFORE_C.includes(l.type)) lineOut(out, l);
    for (const a of m.attributes) attrOut(out, a);
  }
  for (const line of out) {
    if (line.includes('\r') || line.includes('\n')) fail(`line ${show(line)} contains CR or LF`);
  }
  return `${out.join('\r\n')}\r\n`;
}

// ------------------------------------------------------------------------------ offers and answers

const STATIC_PT: Readonly<Record<G711CodecName, number>> = { PCMU: 0, PCMA: 8 };
const DEFAULT_TELEPHONE_EVENT_PT = 101;
const TELEPHONE_EVENT_FMTP = '0-16';

/** Options of {@link createSdpOffer} (and of {@link createSdpAnswer} given as options). */
export interface SdpOfferOptions {
  /** The address RTP is received on, advertised in `o=` and `c=` (IPv4 or IPv6). */
  ip: string;
  /** The RTP port. */
  port: number;
  /** Codecs in order of preference (default `['PCMA', 'PCMU']`, Exotel's order). */
  codecs?: readonly G711CodecName[];
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
  const te = o.telephoneEvent ?? DEFAULT_TELEPHONE_EVENT_PT;
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
  if (!DIRECTIONS.has(direction)) issues.push(`unknown direction ${JSON.stringify(direction)}`);
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
    rtpmaps.push({ payloadType: c.pt, encoding: c.name, clockRate: 8000 });
    attributes.push({ name: 'rtpmap', value: `${c.pt} ${c.name}/8000` });
  }
  const fmtps: SdpFmtp[] = [];
  if (te !== false) {
    rtpmaps.push({ payloadType: te, encoding: 'telephone-event', clockRate: 8000 });
    attributes.push({ name: 'rtpmap', value: `${te} telephone-event/8000` });
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
  const codecs = r.codecs.map((name) => ({ name, pt: STATIC_PT[name] }));
  desc.media.push(audioSection(r, r.port, codecs, r.telephoneEvent, r.direction));
  return serializeSdp(desc);
}

// ------------------------------------------------------------------------------ negotiation helpers

function asDescription(x: string | Uint8Array | SessionDescription): SessionDescription {
  return typeof x === 'string' || x instanceof Uint8Array ? parseSdp(x) : x;
}

function firstAudio(desc: SessionDescription): SdpMedia | undefined {
  return desc.media.find((m) => m.type.toLowerCase() === 'audio');
}

function isRtpAvp(m: SdpMedia): boolean {
  const p = m.protocol.toUpperCase();
  return p === 'RTP/AVP' || p === 'RTP/AVPF';
}

interface Encoding {
  name: string;
  clockRate: number;
  channels: number;
}

// What a format of a media section means: its rtpmap, or the static RFC 3551 meaning.
function encodingOf(m: SdpMedia, format: string): Encoding | undefined {
  if (!/^[0-9]{1,3}$/.test(format)) return undefined;
  const pt = Number(format);
  const map = m.rtpmaps.find((r) => r.payloadType === pt);
  if (map !== undefined)
    return { name: map.encoding.toUpperCase(), clockRate: map.clockRate, channels: map.channels ?? 1 };
  if (pt === 0) return { name: 'PCMU', clockRate: 8000, channels: 1 };
  if (pt === 8) return { name: 'PCMA', clockRate: 8000, channels: 1 };
  return undefined;
}

function g711Of(m: SdpMedia, format: string): G711CodecName | undefined {
  const e = encodingOf(m, format);
  if (e === undefined || e.clockRate !== 8000 || e.channels !== 1) return undefined;
  return e.name === 'PCMU' || e.name === 'PCMA' ? e.name : undefined;
}

function telephoneEventOf(m: SdpMedia): number | undefined {
  for (const f of m.formats) {
    const e = encodingOf(m, f);
    if (e !== undefined && e.name === 'TELEPHONE-EVENT' && e.clockRate === 8000) return Number(f);
  }
  return undefined;
}

function directionOf(desc: SessionDescription, m: SdpMedia): SdpDirection {
  return m.direction ?? desc.direction ?? 'sendrecv';
}

function canSend(d: SdpDirection): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}

function canReceive(d: SdpDirection): boolean {
  return d === 'sendrecv' || d === 'recvonly';
}

function fromFlags(send: boolean, recv: boolean): SdpDirection {
  if (send && recv) return 'sendrecv';
  if (send) return 'sendonly';
  if (recv) return 'recvonly';
  return 'inactive';
}

function isHoldAddress(c: SdpConnection): boolean {
  return c.address === '0.0.0.0';
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

/**
 * Builds our answer to a remote offer (an inbound INVITE or a re-INVITE), following
 * RFC 3264 §6:
 * - the first audio section over `RTP/AVP` with a codec we support is accepted, with the
 *   offer's first codec that is also in our list (its payload type kept), plus
 *   `telephone-event/8000` when both sides have it (the offer's payload type);
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
    for (const f of m.formats) {
      const name = g711Of(m, f);
      if (name !== undefined && r.codecs.includes(name)) {
        codec = { name, pt: Number(f) };
        chosen = i;
        break;
      }
    }
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

/** Options of {@link negotiateSdp}. */
export interface NegotiateSdpOptions {
  /**
   * Accept an outcome where no audio flows (`inactive`, or the RFC 2543 `0.0.0.0` hold
   * address) instead of throwing. Use it for re-INVITEs. Default `false`.
   */
  allowHold?: boolean;
}

/** What the RTP layer needs to know after an offer/answer exchange. */
export interface NegotiatedSdp {
  /** Where to send RTP (`0.0.0.0` when the far end holds the call RFC 2543 style). */
  remoteAddress: string;
  remoteAddressType: 'IP4' | 'IP6';
  remotePort: number;
  codec: G711CodecName;
  /** The payload type to send the codec with (the far end's number). */
  payloadType: number;
  /** Always 8000 for G.711. */
  clockRate: number;
  /** The far end's payload type for `telephone-event/8000`, when both sides offered it. */
  telephoneEventPayloadType?: number;
  /** The packetization time the far end asked for (ms), default 20. */
  ptime: number;
  /**
   * The direction seen from our side: `sendrecv`, `sendonly` (we may send, must not
   * expect audio), `recvonly` (we must not send) or `inactive`.
   */
  direction: SdpDirection;
  /** The far end does not want to receive our audio (sendonly, inactive or 0.0.0.0). */
  hold: boolean;
  /** The far end's RTCP port from `a=rtcp` (default is RTP port + 1, not filled in here). */
  rtcpPort?: number;
  /** The far end's RTCP address from `a=rtcp`, when it gave one. */
  rtcpAddress?: string;
  /** The far end offered or accepted `a=rtcp-mux`. */
  rtcpMux: boolean;
}

/**
 * Works out the media parameters from our SDP and the far end's (the answer to our
 * offer, or an offer we answered). Uses the first audio section of each; the remote
 * media-level `c=` overrides the session-level one; formats are resolved through
 * `a=rtpmap` (dynamic types) or the static types 0 (PCMU) and 8 (PCMA); the codec is the
 * remote's first one that our SDP also lists.
 *
 * @throws SdpNegotiationError when the remote has no audio section, rejected it (port
 *   0), has no `c=`, uses a non-RTP/AVP or multicast stream, shares no codec with us, or
 *   (unless `allowHold`) leaves no audio flowing (`inactive`, `0.0.0.0`).
 * @throws SipParseError when either SDP is malformed.
 */
export function negotiateSdp(
  localSdp: string | Uint8Array | SessionDescription,
  remoteSdp: string | Uint8Array | SessionDescription,
  options: NegotiateSdpOptions = {},
): NegotiatedSdp {
  const local = asDescription(localSdp);
  const remote = asDescription(remoteSdp);
  const lm = firstAudio(local);
  if (lm === undefined) throw new SdpNegotiationError('our SDP has no audio section');
  const rm = firstAudio(remote);
  if (rm === undefined) throw new SdpNegotiationError('the remote SDP has no audio section');
  if (rm.port === 0) throw new SdpNegotiationError('the remote rejected the audio stream (port 0)');
  if (!isRtpAvp(rm))
    throw new SdpNegotiationError(`unsupported media protocol ${JSON.stringify(rm.protocol)}`);
  const conn = rm.connection ?? remote.connection;
  if (conn === undefined) throw new SdpNegotiationError('the remote SDP has no c= line for its audio stream');
  if (conn.netType.toUpperCase() !== 'IN')
    throw new SdpNegotiationError(`unsupported network type ${conn.netType}`);
  const addrType = conn.addrType.toUpperCase();
  if (addrType !== 'IP4' && addrType !== 'IP6') {
    throw new SdpNegotiationError(`unsupported address type ${JSON.stringify(conn.addrType)}`);
  }
  if (conn.address.includes('/')) throw new SdpNegotiationError('multicast media is not supported');

  const ours = new Set<G711CodecName>();
  for (const f of lm.formats) {
    const c = g711Of(lm, f);
    if (c !== undefined) ours.add(c);
  }
  let codec: G711CodecName | undefined;
  let payloadType = -1;
  for (const f of rm.formats) {
    const c = g711Of(rm, f);
    if (c !== undefined && ours.has(c)) {
      codec = c;
      payloadType = Number(f);
      break;
    }
  }
  if (codec === undefined) {
    throw new SdpNegotiationError(
      `no common codec: remote offers ${rm.formats.join(' ') || 'nothing'}, we have ${[...ours].join(', ') || 'nothing'}`,
    );
  }

  const hold0 = isHoldAddress(conn);
  const localDir = directionOf(local, lm);
  const remoteDir = directionOf(remote, rm);
  const remoteReceives = canReceive(remoteDir) && !hold0;
  const direction = fromFlags(
    canSend(localDir) && remoteReceives,
    canReceive(localDir) && canSend(remoteDir),
  );
  if (options.allowHold !== true) {
    if (hold0) throw new SdpNegotiationError('the remote SDP holds the call (c= 0.0.0.0)');
    if (direction === 'inactive') throw new SdpNegotiationError('no audio would flow (direction inactive)');
  }

  const out: NegotiatedSdp = {
    remoteAddress: conn.address,
    remoteAddressType: addrType,
    remotePort: rm.port,
    codec,
    payloadType,
    clockRate: 8000,
    ptime: rm.ptime ?? remote.ptime ?? 20,
    direction,
    hold: !remoteReceives,
    rtcpMux: rm.rtcpMux,
  };
  const te = telephoneEventOf(lm) !== undefined ? telephoneEventOf(rm) : undefined;
  if (te !== undefined) out.telephoneEventPayloadType = te;
  if (rm.rtcp !== undefined) {
    out.rtcpPort = rm.rtcp.port;
    if (rm.rtcp.address !== undefined) out.rtcpAddress = rm.rtcp.address;
  }
  return out;
}
