/**
 * `parseSdp`: SDP text (RFC 8866) to the model of `model.ts`. Pure; bounded input.
 */
import { SipParseError } from '../errors.js';
import {
  SDP_DIRECTIONS,
  type SdpAttribute,
  type SdpConnection,
  type SdpDirection,
  type SdpMedia,
  type SdpRtcp,
  type SdpRtpMap,
  type SessionDescription,
} from './model.js';

const MAX_SDP_LENGTH = 65536;

/** @internal Throws the SDP syntax error (a `SipParseError` for the header `SDP`). */
export function fail(message: string): never {
  throw new SipParseError(message, 'SDP');
}

/** @internal A short, quoted excerpt of `s` for an error message. */
export function show(s: string): string {
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
    if (SDP_DIRECTIONS.has(name)) views.direction = name as SdpDirection;
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

  // serializeSdp writes every kept line with CRLF: the limit holds for that length too,
  // so what was accepted here always re-parses once serialized.
  let written = 0;
  for (let raw of rawLines) {
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (raw.trim().length === 0) continue;
    written += raw.length + 2;
    if (written > MAX_SDP_LENGTH) fail(`description is longer than ${MAX_SDP_LENGTH} characters`);
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
