/**
 * RTP packets (RFC 3550 §5.1) and the RTCP common header (RFC 3550 §6.4), bounds-checked.
 *
 * Hot path: {@link parseRtpHeader} with an `into` object and {@link writeRtpHeader} allocate
 * nothing; the payload is addressed by offset and length into the caller's buffer.
 * {@link parseRtpPacket} / {@link serializeRtpPacket} build full objects for tests and
 * tools.
 *
 * Every malformed input throws {@link RtpParseError}; nothing reads past the end of the
 * buffer.
 */
import { ConfigError, RtpParseError } from '../errors.js';

/** Length of the fixed RTP header. */
export const RTP_HEADER_LENGTH = 12;

/** The fixed RTP header plus where the payload lies in the parsed buffer. */
export interface RtpHeader {
  /** Always 2 (other versions are rejected). */
  version: 2;
  /** The P bit: padding octets follow the payload. */
  padding: boolean;
  /** The X bit: a header extension follows the CSRC list. */
  extension: boolean;
  /** The M bit (start of a talkspurt for audio; start of an event for RFC 4733). */
  marker: boolean;
  /** The payload type, 0..127 (0 PCMU, 8 PCMA, dynamic ones from 96). */
  payloadType: number;
  /** The sequence number, 0..65535: one higher per packet, wrapping around. */
  sequenceNumber: number;
  /** The media timestamp in clock-rate units (8 kHz for G.711), 0..2^32−1, wrapping around. */
  timestamp: number;
  /** The synchronisation source: the sender's stream id, 0..2^32−1. */
  ssrc: number;
  /** Number of CSRC identifiers (0..15). */
  csrcCount: number;
  /** Byte offset of the payload in the parsed buffer. */
  payloadOffset: number;
  /** Payload length in bytes (padding excluded). */
  payloadLength: number;
  /** The 16-bit "defined by profile" field of the header extension, when `extension`. */
  extensionProfile?: number;
  /** Length in bytes of the header-extension data (after its 4-byte header), when `extension`. */
  extensionLength?: number;
  /** Number of padding octets (including the count octet), when `padding`. */
  paddingLength?: number;
}

/** A fully parsed RTP packet; the byte arrays are views into the parsed buffer. */
export interface RtpPacket {
  /** Always 2. */
  version: 2;
  /** The P bit: padding octets followed the payload (they are excluded from `payload`). */
  padding: boolean;
  /** The X bit: the packet carried a header extension. */
  extension: boolean;
  /** The M bit (start of a talkspurt for audio; start of an event for RFC 4733). */
  marker: boolean;
  /** The payload type, 0..127 (0 PCMU, 8 PCMA, dynamic ones from 96). */
  payloadType: number;
  /** The sequence number, 0..65535: one higher per packet, wrapping around. */
  sequenceNumber: number;
  /** The media timestamp in clock-rate units (8 kHz for G.711), 0..2^32−1, wrapping around. */
  timestamp: number;
  /** The synchronisation source: the sender's stream id, 0..2^32−1. */
  ssrc: number;
  /** Contributing sources (at most 15). */
  csrcs: number[];
  /** The payload (padding excluded). */
  payload: Uint8Array;
  /** Header-extension profile field (e.g. 0xBEDE for RFC 8285 one-byte headers), when `extension`. */
  extensionProfile?: number;
  /** Header-extension data (a multiple of 4 bytes), when `extension`. */
  extensionData?: Uint8Array;
  /** Number of padding octets including the final count octet, when `padding`. */
  paddingLength?: number;
}

/** What {@link serializeRtpPacket} needs; an {@link RtpPacket} qualifies. */
export interface RtpPacketInit {
  /** The M bit (default false). */
  marker?: boolean;
  /** The payload type, 0..127. */
  payloadType: number;
  /** The sequence number, 0..65535. */
  sequenceNumber: number;
  /** The media timestamp in clock-rate units, 0..2^32−1. */
  timestamp: number;
  /** The synchronisation source id, 0..2^32−1. */
  ssrc: number;
  /** At most 15 contributing sources. */
  csrcs?: readonly number[];
  /** The payload bytes, written after the header (and extension) as they are. */
  payload: Uint8Array;
  /** Header-extension profile; an extension is written when this or `extensionData` is set. */
  extensionProfile?: number;
  /** Header-extension data; its length must be a multiple of 4. */
  extensionData?: Uint8Array;
  /**
   * Padding octets to append (1..255), written as zeros followed by the count; 0 or
   * absent for none. Non-zero padding content of a parsed packet is not preserved.
   */
  paddingLength?: number;
}

/** The fields {@link writeRtpHeader} writes. */
export interface RtpHeaderFields {
  /** The M bit (start of a talkspurt for audio; start of an event for RFC 4733). */
  marker: boolean;
  /** The payload type, 0..127 (masked to 7 bits). */
  payloadType: number;
  /** The sequence number (masked to 16 bits). */
  sequenceNumber: number;
  /** The media timestamp in clock-rate units (taken modulo 2^32). */
  timestamp: number;
  /** The synchronisation source id (taken modulo 2^32). */
  ssrc: number;
}

function readU32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

function writeU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = v >>> 16;
  buf[at + 2] = v >>> 8;
  buf[at + 3] = v;
}

/** A fresh header object, e.g. to reuse with {@link parseRtpHeader}. */
export function createRtpHeader(): RtpHeader {
  return {
    version: 2,
    padding: false,
    extension: false,
    marker: false,
    payloadType: 0,
    sequenceNumber: 0,
    timestamp: 0,
    ssrc: 0,
    csrcCount: 0,
    payloadOffset: 0,
    payloadLength: 0,
    extensionProfile: undefined,
    extensionLength: undefined,
    paddingLength: undefined,
  };
}

/**
 * Parses the RTP header of `buf` into `into` (or a new object) and returns it; allocates
 * nothing when `into` is given. Throws RtpParseError when the buffer is shorter than 12
 * bytes, the version is not 2, the CSRC list or the header extension runs past the end,
 * or the padding count is 0 or larger than what follows the header.
 */
export function parseRtpHeader(buf: Uint8Array, into?: RtpHeader): RtpHeader {
  const len = buf.length;
  if (len < RTP_HEADER_LENGTH) throw new RtpParseError(`RTP packet too short: ${len} bytes`);
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  if (b0 >> 6 !== 2) throw new RtpParseError(`unsupported RTP version ${b0 >> 6}`);
  const hasPadding = (b0 & 0x20) !== 0;
  const hasExtension = (b0 & 0x10) !== 0;
  const cc = b0 & 0x0f;
  let off = RTP_HEADER_LENGTH + 4 * cc;
  if (off > len) throw new RtpParseError(`RTP CSRC list (${cc}) runs past the end (${len} bytes)`);
  let extProfile: number | undefined;
  let extLength: number | undefined;
  if (hasExtension) {
    if (off + 4 > len) throw new RtpParseError('RTP header extension runs past the end');
    extProfile = (buf[off]! << 8) | buf[off + 1]!;
    extLength = ((buf[off + 2]! << 8) | buf[off + 3]!) * 4;
    off += 4 + extLength;
    if (off > len) throw new RtpParseError('RTP header extension runs past the end');
  }
  let padLength: number | undefined;
  let end = len;
  if (hasPadding) {
    padLength = buf[len - 1]!;
    if (padLength === 0) throw new RtpParseError('RTP padding count is 0');
    if (padLength > len - off) throw new RtpParseError(`RTP padding (${padLength}) exceeds the payload`);
    end = len - padLength;
  }
  const h = into ?? createRtpHeader();
  h.version = 2;
  h.padding = hasPadding;
  h.extension = hasExtension;
  h.marker = (b1 & 0x80) !== 0;
  h.payloadType = b1 & 0x7f;
  h.sequenceNumber = (buf[2]! << 8) | buf[3]!;
  h.timestamp = readU32(buf, 4);
  h.ssrc = readU32(buf, 8);
  h.csrcCount = cc;
  h.payloadOffset = off;
  h.payloadLength = end - off;
  h.extensionProfile = extProfile;
  h.extensionLength = extLength;
  h.paddingLength = padLength;
  return h;
}

/**
 * Parses a whole RTP packet. The payload and extension data are views into `buf` (copy
 * them to keep them past the buffer's reuse). Throws RtpParseError like
 * {@link parseRtpHeader}.
 */
export function parseRtpPacket(buf: Uint8Array): RtpPacket {
  const h = parseRtpHeader(buf);
  const csrcs: number[] = [];
  for (let i = 0; i < h.csrcCount; i++) csrcs.push(readU32(buf, RTP_HEADER_LENGTH + 4 * i));
  const p: RtpPacket = {
    version: 2,
    padding: h.padding,
    extension: h.extension,
    marker: h.marker,
    payloadType: h.payloadType,
    sequenceNumber: h.sequenceNumber,
    timestamp: h.timestamp,
    ssrc: h.ssrc,
    csrcs,
    payload: buf.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength),
  };
  if (h.extension) {
    const dataStart = RTP_HEADER_LENGTH + 4 * h.csrcCount + 4;
    p.extensionProfile = h.extensionProfile;
    p.extensionData = buf.subarray(dataStart, dataStart + (h.extensionLength ?? 0));
  }
  if (h.padding) p.paddingLength = h.paddingLength;
  return p;
}

function checkRange(issues: string[], name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max)
    issues.push(`${name} must be an integer in 0..${max}, got ${v}`);
}

/**
 * Serializes an RTP packet into a new buffer. Throws ConfigError for out-of-range fields
 * (payload type > 127, more than 15 CSRCs, extension data not a multiple of 4 bytes,
 * padding > 255...). `serializeRtpPacket(parseRtpPacket(x))` reproduces `x` byte for byte
 * when any padding octets before the count are zero.
 */
export function serializeRtpPacket(p: RtpPacketInit): Uint8Array {
  const csrcs = p.csrcs ?? [];
  const hasExt = p.extensionProfile !== undefined || p.extensionData !== undefined;
  const extData = p.extensionData ?? new Uint8Array(0);
  const pad = p.paddingLength ?? 0;
  const issues: string[] = [];
  checkRange(issues, 'payloadType', p.payloadType, 127);
  checkRange(issues, 'sequenceNumber', p.sequenceNumber, 0xffff);
  checkRange(issues, 'timestamp', p.timestamp, 0xffffffff);
  checkRange(issues, 'ssrc', p.ssrc, 0xffffffff);
  if (csrcs.length > 15) issues.push(`at most 15 CSRCs, got ${csrcs.length}`);
  csrcs.forEach((c, i) => checkRange(issues, `csrcs[${i}]`, c, 0xffffffff));
  if (hasExt) {
    checkRange(issues, 'extensionProfile', p.extensionProfile ?? 0, 0xffff);
    if (extData.length % 4 !== 0 || extData.length > 0xffff * 4) {
      issues.push(`extensionData length must be a multiple of 4 (max ${0xffff * 4}), got ${extData.length}`);
    }
  }
  checkRange(issues, 'paddingLength', pad, 255);
  if (issues.length > 0) throw new ConfigError(issues);

  const extBytes = hasExt ? 4 + extData.length : 0;
  const total = RTP_HEADER_LENGTH + 4 * csrcs.length + extBytes + p.payload.length + pad;
  const out = new Uint8Array(total);
  out[0] = 0x80 | (pad > 0 ? 0x20 : 0) | (hasExt ? 0x10 : 0) | csrcs.length;
  out[1] = (p.marker === true ? 0x80 : 0) | p.payloadType;
  out[2] = p.sequenceNumber >> 8;
  out[3] = p.sequenceNumber;
  writeU32(out, 4, p.timestamp);
  writeU32(out, 8, p.ssrc);
  let off = RTP_HEADER_LENGTH;
  for (const c of csrcs) {
    writeU32(out, off, c);
    off += 4;
  }
  if (hasExt) {
    const profile = p.extensionProfile ?? 0;
    out[off] = profile >> 8;
    out[off + 1] = profile;
    out[off + 2] = (extData.length / 4) >> 8;
    out[off + 3] = extData.length / 4;
    out.set(extData, off + 4);
    off += extBytes;
  }
  out.set(p.payload, off);
  if (pad > 0) out[total - 1] = pad;
  return out;
}

/**
 * Writes the 12-byte fixed RTP header (version 2, no padding, no extension, no CSRCs) at
 * `offset` and returns 12. Allocates nothing: this is the paced sender's hot path. Fields
 * are masked to their widths (payload type 7 bits, sequence 16 bits, timestamp and SSRC
 * 32 bits). Throws ConfigError when fewer than 12 bytes are left at `offset`.
 */
export function writeRtpHeader(out: Uint8Array, offset: number, h: RtpHeaderFields): number {
  if (offset < 0 || offset + RTP_HEADER_LENGTH > out.length) {
    throw new ConfigError([`writeRtpHeader: need 12 bytes at offset ${offset}, buffer has ${out.length}`]);
  }
  out[offset] = 0x80;
  out[offset + 1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  out[offset + 2] = (h.sequenceNumber >> 8) & 0xff;
  out[offset + 3] = h.sequenceNumber & 0xff;
  writeU32(out, offset + 4, h.timestamp >>> 0);
  writeU32(out, offset + 8, h.ssrc >>> 0);
  return RTP_HEADER_LENGTH;
}

// ---------------------------------------------------------------------------------------
// RTCP

/** RTCP packet types (RFC 3550, RFC 4585, RFC 3611). */
export const RtcpPacketType = {
  /** Sender report: what a sender sent, and reception report blocks. */
  SR: 200,
  /** Receiver report: reception report blocks of a participant that does not send. */
  RR: 201,
  /** Source description (CNAME and the like). */
  SDES: 202,
  /** Goodbye: the source is leaving. */
  BYE: 203,
  /** Application-defined. */
  APP: 204,
  /** Transport-layer feedback (RFC 4585). */
  RTPFB: 205,
  /** Payload-specific feedback (RFC 4585). */
  PSFB: 206,
  /** Extended reports (RFC 3611). */
  XR: 207,
} as const;

/**
 * RTP/RTCP demultiplexing on one port (RFC 5761 §4): a datagram is RTCP when it has at
 * least 2 bytes, version 2, and its second byte — the RTCP packet type, or the RTP marker
 * bit and payload type — is in 192..223. That range covers every RTCP type in use
 * (SR 200 … XR 207) and is why RTP payload types 64–95 must not be used with rtcp-mux.
 */
export function isRtcpPacket(buf: Uint8Array): boolean {
  if (buf.length < 2) return false;
  const pt = buf[1]!;
  return buf[0]! >> 6 === 2 && pt >= 192 && pt <= 223;
}

/** The RTCP common header (RFC 3550 §6.4.1). */
export interface RtcpHeader {
  /** Always 2. */
  version: 2;
  /** The P bit. */
  padding: boolean;
  /** Reception-report count (SR/RR), source count (SDES/BYE) or subtype (APP, FB). */
  count: number;
  /** Packet type (200 = SR, 201 = RR, ...). */
  packetType: number;
  /** The length field: this packet's size in 32-bit words minus one. */
  length: number;
  /** This packet's size in bytes, header included: `(length + 1) * 4`. */
  byteLength: number;
}

/**
 * Parses the RTCP common header at `offset` (default 0). Throws RtpParseError when fewer
 * than 4 bytes are left, the version is not 2, or the packet's length runs past the end.
 * In a compound packet the next header starts at `offset + byteLength`.
 */
export function parseRtcpHeader(buf: Uint8Array, offset = 0): RtcpHeader {
  if (offset < 0 || offset + 4 > buf.length) throw new RtpParseError('RTCP header runs past the end');
  const b0 = buf[offset]!;
  if (b0 >> 6 !== 2) throw new RtpParseError(`unsupported RTCP version ${b0 >> 6}`);
  const length = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  const byteLength = (length + 1) * 4;
  if (offset + byteLength > buf.length) {
    throw new RtpParseError(
      `RTCP packet length ${byteLength} runs past the end (${buf.length - offset} left)`,
    );
  }
  return {
    version: 2,
    padding: (b0 & 0x20) !== 0,
    count: b0 & 0x1f,
    packetType: buf[offset + 1]!,
    length,
    byteLength,
  };
}

/** One reception report block (RFC 3550 §6.4.1). */
export interface RtcpReportBlock {
  /** The source this block reports on. */
  ssrc: number;
  /** Fraction of packets lost since the previous report, 0..255 (/256). */
  fractionLost: number;
  /** Cumulative packets lost (signed 24-bit). */
  cumulativeLost: number;
  /** Extended highest sequence number received. */
  highestSequence: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received (0 if none). */
  lastSr: number;
  /** Delay since that SR, in 1/65536 s. */
  delaySinceLastSr: number;
}

/** A parsed sender report (SR) or receiver report (RR). */
export interface RtcpReport {
  /** 200 (SR) or 201 (RR). */
  packetType: 200 | 201;
  /** SSRC of the packet's sender. */
  ssrc: number;
  /** Sender info, for an SR. */
  sender?: {
    /** NTP timestamp, most significant word (seconds since 1900). */
    ntpSeconds: number;
    /** NTP timestamp, least significant word (fraction). */
    ntpFraction: number;
    /** RTP timestamp corresponding to the NTP time. */
    rtpTimestamp: number;
    /** Packets sent. */
    packetCount: number;
    /** Payload octets sent. */
    octetCount: number;
  };
  /** The report blocks. */
  reports: RtcpReportBlock[];
}

/**
 * Parses an SR or RR packet at `offset` (sender info and report blocks; profile-specific
 * extensions are ignored). Throws RtpParseError when the header is invalid, the type is
 * neither SR nor RR, or the declared report blocks do not fit in the packet's length.
 */
export function parseRtcpReport(buf: Uint8Array, offset = 0): RtcpReport {
  const h = parseRtcpHeader(buf, offset);
  if (h.packetType !== 200 && h.packetType !== 201) {
    throw new RtpParseError(`RTCP packet type ${h.packetType} is not SR/RR`);
  }
  const fixed = h.packetType === 200 ? 28 : 8;
  if (fixed + 24 * h.count > h.byteLength) {
    throw new RtpParseError(
      `RTCP ${h.packetType === 200 ? 'SR' : 'RR'} too short for ${h.count} report blocks`,
    );
  }
  const report: RtcpReport = { packetType: h.packetType, ssrc: readU32(buf, offset + 4), reports: [] };
  if (h.packetType === 200) {
    report.sender = {
      ntpSeconds: readU32(buf, offset + 8),
      ntpFraction: readU32(buf, offset + 12),
      rtpTimestamp: readU32(buf, offset + 16),
      packetCount: readU32(buf, offset + 20),
      octetCount: readU32(buf, offset + 24),
    };
  }
  for (let i = 0; i < h.count; i++) {
    const at = offset + fixed + 24 * i;
    const lostRaw = (buf[at + 5]! << 16) | (buf[at + 6]! << 8) | buf[at + 7]!;
    report.reports.push({
      ssrc: readU32(buf, at),
      fractionLost: buf[at + 4]!,
      cumulativeLost: (lostRaw << 8) >> 8,
      highestSequence: readU32(buf, at + 8),
      jitter: readU32(buf, at + 12),
      lastSr: readU32(buf, at + 16),
      delaySinceLastSr: readU32(buf, at + 20),
    });
  }
  return report;
}
