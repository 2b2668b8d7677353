/**
 * The SDP model (RFC 8866 / RFC 4566) and the one table of the payload types the library
 * speaks: G.711 (PCMU 0, PCMA 8, RFC 3551) and RFC 4733 `telephone-event/8000`.
 *
 * `parseSdp` keeps every line: the structural lines (`v o s c t m`) as typed fields, the
 * `a=` lines in order in `attributes` (with typed views `rtpmaps`, `fmtps`, `ptime`,
 * `rtcp`, `direction`... derived from them), and any other line in `lines`.
 * `serializeSdp` writes the structural fields, `lines` and `attributes` back in RFC
 * order, so an SDP written in RFC order round-trips byte for byte. The typed views are a
 * snapshot taken when parsing: to change an attribute, edit `attributes`.
 *
 * This module (`src/sdp/`) knows nothing of SIP, RTP or LiveKit.
 */

/** Media direction attribute (RFC 3264 §5.1). */
export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** The G.711 codecs the library speaks. */
export type G711CodecName = 'PCMU' | 'PCMA';

/** `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`. */
export interface SdpOrigin {
  /** The originator's user name (`-` when it has none). */
  username: string;
  /** Kept as text: session ids are often larger than 2^53. */
  sessionId: string;
  /** Kept as text; one higher in each new SDP of the session (RFC 3264 §8). */
  sessionVersion: string;
  /** Network type: `IN` (Internet). */
  netType: string;
  /** Address type: `IP4` or `IP6`. */
  addrType: string;
  /** The originator's address (host name or IP literal). */
  address: string;
}

/** `c=<nettype> <addrtype> <address>`; a multicast `/ttl` suffix stays in `address`. */
export interface SdpConnection {
  /** Network type: `IN` (Internet). */
  netType: string;
  /** Address type: `IP4` or `IP6`. */
  addrType: string;
  /** Where media goes (an IP literal in practice; `0.0.0.0` is the old-style hold). */
  address: string;
}

/** `t=<start> <stop>` and the `r=` lines that follow it. */
export interface SdpTiming {
  /** Start time as written (NTP seconds; `0` for an unbounded session). */
  start: string;
  /** Stop time as written (NTP seconds; `0` for an unbounded session). */
  stop: string;
  /** The values of the `r=` lines that follow, as written. */
  repeats: string[];
}

/** A line kept as written (`i=`, `u=`, `e=`, `p=`, `b=`, `z=`, `k=` or an unknown type). */
export interface SdpLine {
  /** The one-letter type before `=`. */
  type: string;
  /** Everything after `=`, as written. */
  value: string;
}

/** An `a=` line: `a=name` (no `value`) or `a=name:value`. */
export interface SdpAttribute {
  /** The attribute name (before `:`). */
  name: string;
  /** The value after `:`, as written; absent for a flag attribute such as `a=sendonly`. */
  value?: string;
}

/** `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`. */
export interface SdpRtpMap {
  /** The RTP payload type the line describes. */
  payloadType: number;
  /** The encoding name as written (`PCMU`, `PCMA`, `telephone-event`...). */
  encoding: string;
  /** The RTP clock rate in Hz (8000 for G.711). */
  clockRate: number;
  /** The channel count, when written (1 when absent). */
  channels?: number;
}

/** `a=fmtp:<format> <parameters>`. */
export interface SdpFmtp {
  /** The format (payload type) the parameters apply to. */
  format: string;
  /** The parameters as written (e.g. `0-16` for telephone-event). */
  params: string;
}

/** `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605). */
export interface SdpRtcp {
  /** The RTCP port (instead of the RTP port + 1). */
  port: number;
  /** Network type of the optional address: `IN`. */
  netType?: string;
  /** Address type of the optional address: `IP4` or `IP6`. */
  addrType?: string;
  /** Where RTCP goes, when not the media address. */
  address?: string;
}

/** One `m=` section. */
export interface SdpMedia {
  /** `audio`, `video`... */
  type: string;
  /** The media port (0 rejects or disables the section). */
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
  /** `o=`: who made the description, and its session id and version. */
  origin: SdpOrigin;
  /** `s=`; absent only when the input had no `s=` line. */
  sessionName?: string;
  /** Session-level `c=`. */
  connection?: SdpConnection;
  /** Every `t=` line with its `r=` lines, in order. */
  timing: SdpTiming[];
  /** Other session-level lines, in order. */
  lines: SdpLine[];
  /** Session-level `a=` lines, in order. */
  attributes: SdpAttribute[];
  /** Session-level direction attribute, if any. */
  direction?: SdpDirection;
  /** Session-level `a=ptime` (not standard, but written by some gateways). */
  ptime?: number;
  /** The `m=` sections, in order. */
  media: SdpMedia[];
}

/** The media directions (RFC 3264 §5.1), for validation. */
export const SDP_DIRECTIONS: ReadonlySet<string> = new Set<SdpDirection>([
  'sendrecv',
  'sendonly',
  'recvonly',
  'inactive',
]);

/** The static RTP payload types of the G.711 codecs (RFC 3551 §6). */
export const G711_STATIC_PAYLOAD_TYPES: Readonly<Record<G711CodecName, number>> = Object.freeze({
  PCMU: 0,
  PCMA: 8,
});

/** The RTP clock rate of G.711 and of the telephone-events that go with it. */
export const G711_CLOCK_RATE = 8000;

/** The encoding name of RFC 4733 events, as written in `a=rtpmap`. */
export const TELEPHONE_EVENT_ENCODING = 'telephone-event';

/** The payload type we offer `telephone-event/8000` with unless told otherwise. */
export const DEFAULT_TELEPHONE_EVENT_PAYLOAD_TYPE = 101;

/** The events we offer: the DTMF digits 0-9, *, #, A-D and flash (RFC 4733 §3.2). */
export const TELEPHONE_EVENT_FMTP = '0-16';

/** The G.711 codec a static payload type stands for (RFC 3551), if any. */
export function g711CodecOfStaticPayloadType(pt: number): G711CodecName | undefined {
  if (pt === G711_STATIC_PAYLOAD_TYPES.PCMU) return 'PCMU';
  if (pt === G711_STATIC_PAYLOAD_TYPES.PCMA) return 'PCMA';
  return undefined;
}
