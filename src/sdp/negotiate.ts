/**
 * `negotiateSdp`: the media parameters the RTP layer needs after an offer/answer
 * exchange (RFC 3264), and the small helpers that read a media section (shared with
 * `offer-answer.ts`). Pure.
 *
 * ## Hold
 * A far end can put the call on hold with `a=sendonly` / `a=inactive` (RFC 3264) or, in
 * the RFC 2543 style, with `c=IN IP4 0.0.0.0`. {@link negotiateSdp} reports both through
 * `hold` and a `direction` seen from our side. By default an outcome in which no audio
 * flows at all (`inactive`, or the 0.0.0.0 address) is an `SdpNegotiationError`, which is
 * right for the answer to our INVITE; pass `{ allowHold: true }` when handling a
 * re-INVITE, where hold is a normal state (stop sending while `direction` has no `send`).
 */
import { SdpNegotiationError } from '../errors.js';
import {
  G711_CLOCK_RATE,
  TELEPHONE_EVENT_ENCODING,
  g711CodecOfStaticPayloadType,
  type G711CodecName,
  type SdpConnection,
  type SdpDirection,
  type SdpMedia,
  type SessionDescription,
} from './model.js';
import { parseSdp } from './parse.js';

const TELEPHONE_EVENT_NAME = TELEPHONE_EVENT_ENCODING.toUpperCase();

/** @internal A description given as text, bytes or already parsed. */
export function asDescription(x: string | Uint8Array | SessionDescription): SessionDescription {
  return typeof x === 'string' || x instanceof Uint8Array ? parseSdp(x) : x;
}

/** @internal The first `m=audio` section, if any. */
export function firstAudio(desc: SessionDescription): SdpMedia | undefined {
  return desc.media.find((m) => m.type.toLowerCase() === 'audio');
}

/** @internal Whether a section is plain RTP (`RTP/AVP` or `RTP/AVPF`), the only profiles we speak. */
export function isRtpAvp(m: SdpMedia): boolean {
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
  const g711 = g711CodecOfStaticPayloadType(pt);
  return g711 === undefined ? undefined : { name: g711, clockRate: G711_CLOCK_RATE, channels: 1 };
}

/** @internal The G.711 codec a format of a section stands for (8 kHz mono), if it is one. */
export function g711Of(m: SdpMedia, format: string): G711CodecName | undefined {
  const e = encodingOf(m, format);
  if (e === undefined || e.clockRate !== G711_CLOCK_RATE || e.channels !== 1) return undefined;
  return e.name === 'PCMU' || e.name === 'PCMA' ? e.name : undefined;
}

/** @internal The payload type of `telephone-event/8000` in a section, if offered. */
export function telephoneEventOf(m: SdpMedia): number | undefined {
  for (const f of m.formats) {
    const e = encodingOf(m, f);
    if (e !== undefined && e.name === TELEPHONE_EVENT_NAME && e.clockRate === G711_CLOCK_RATE)
      return Number(f);
  }
  return undefined;
}

/** @internal The direction in effect for a section: its own, else the session's, else `sendrecv`. */
export function directionOf(desc: SessionDescription, m: SdpMedia): SdpDirection {
  return m.direction ?? desc.direction ?? 'sendrecv';
}

/** @internal Whether the side that wrote `d` sends audio. */
export function canSend(d: SdpDirection): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}

/** @internal Whether the side that wrote `d` receives audio. */
export function canReceive(d: SdpDirection): boolean {
  return d === 'sendrecv' || d === 'recvonly';
}

/** @internal The direction attribute for the given send/receive flags. */
export function fromFlags(send: boolean, recv: boolean): SdpDirection {
  if (send && recv) return 'sendrecv';
  if (send) return 'sendonly';
  if (recv) return 'recvonly';
  return 'inactive';
}

/** @internal Whether a `c=` address is the RFC 2543 hold address `0.0.0.0`. */
export function isHoldAddress(c: SdpConnection): boolean {
  return c.address === '0.0.0.0';
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
  /** The address family of `remoteAddress`. */
  remoteAddressType: 'IP4' | 'IP6';
  /** Where to send RTP: the far end's media port. */
  remotePort: number;
  /** The G.711 codec both sides use. */
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
    clockRate: G711_CLOCK_RATE,
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
