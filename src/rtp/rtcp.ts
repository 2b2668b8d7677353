/**
 * RTCP (RFC 3550 §6) for one two-party audio stream: writers for the compound packets we
 * send — SR or RR with at most one reception report block, SDES CNAME, BYE — and a
 * bounded, allocation-free reader of the far end's compound packets that extracts what we
 * use: the middle 32 bits of an SR's NTP timestamp (our LSR) and the report block about
 * our SSRC (their view of our stream, and LSR/DLSR for the round-trip time).
 *
 * Pure: no sockets, no timers, no clock; times are passed in. Writers write into the
 * caller's buffer and return the length; the reader fills a caller-owned
 * {@link RtcpFeedback} and never throws (a malformed compound returns `false`).
 * The generic object parsers ({@link parseRtcpHeader}, {@link parseRtcpReport}) stay in
 * `packet.ts`.
 */
import { ConfigError } from '../errors.js';
import { uint32Add, uint32Diff } from './seq.js';
import type { RtcpReportBlock } from './packet.js';

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
export const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_32 = 4_294_967_296;

/** Sender info of an SR (RFC 3550 §6.4.1). */
export interface RtcpSenderInfo {
  /** Wall-clock time of the report, ms since the Unix epoch (written as NTP). */
  wallClockMs: number;
  /** The RTP timestamp that corresponds to `wallClockMs`. */
  rtpTimestamp: number;
  /** RTP packets sent since the stream started. */
  packetCount: number;
  /** RTP payload octets sent since the stream started (headers excluded). */
  octetCount: number;
}

/** One reception report block to write (RFC 3550 §6.4.1): the same fields as a parsed one. */
export type RtcpBlockInit = RtcpReportBlock;

/**
 * What {@link readRtcpCompound} found in a compound packet. Reused: the reader overwrites
 * every field on each call.
 */
export interface RtcpFeedback {
  /** RTCP packets in the compound. */
  packets: number;
  /** An SR was present. */
  hasSenderReport: boolean;
  /** SSRC of the first SR/RR's sender. */
  senderSsrc: number;
  /** Middle 32 bits of the SR's NTP timestamp (what we echo as LSR). */
  ntpMiddle: number;
  /** A report block about the SSRC asked for was present (the fields below are valid). */
  hasBlock: boolean;
  fractionLost: number;
  cumulativeLost: number;
  highestSequence: number;
  jitter: number;
  lastSr: number;
  delaySinceLastSr: number;
  /** A BYE was present. */
  bye: boolean;
}

/** A fresh {@link RtcpFeedback} to reuse with {@link readRtcpCompound}. */
export function createRtcpFeedback(): RtcpFeedback {
  return {
    packets: 0,
    hasSenderReport: false,
    senderSsrc: 0,
    ntpMiddle: 0,
    hasBlock: false,
    fractionLost: 0,
    cumulativeLost: 0,
    highestSequence: 0,
    jitter: 0,
    lastSr: 0,
    delaySinceLastSr: 0,
    bye: false,
  };
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

/** The middle 32 bits of the NTP timestamp of `wallClockMs` (units of 1/65536 s, mod 2^32). */
export function ntpMiddle32(wallClockMs: number): number {
  return Math.floor((wallClockMs / 1000 + NTP_UNIX_OFFSET_S) * 65536) % TWO_32;
}

/** Milliseconds as RTCP's 1/65536 s units (DLSR), rounded, at least 0. */
export function msToNtpShort(ms: number): number {
  return ms > 0 ? Math.min(0xffffffff, Math.round((ms * 65536) / 1000)) : 0;
}

/**
 * Round-trip time in ms from a report block (RFC 3550 §6.4.1): `A − LSR − DLSR`, where A
 * is the middle 32 bits of our NTP time when the block arrived. `undefined` when the block
 * echoes no SR (LSR 0) or the result is negative (clocks or a forged block).
 */
export function rttFromReport(arrivalNtpMiddle: number, lastSr: number, dlsr: number): number | undefined {
  if (lastSr === 0) return undefined;
  const rtt = uint32Diff(arrivalNtpMiddle, uint32Add(lastSr, dlsr));
  return rtt < 0 ? undefined : (rtt * 1000) / 65536;
}

function ensure(out: Uint8Array, offset: number, n: number, what: string): void {
  if (offset < 0 || offset + n > out.length) {
    throw new ConfigError([`${what}: need ${n} bytes at offset ${offset}, buffer has ${out.length}`]);
  }
}

/**
 * Writes an SR (when `sender` is given) or an RR from `ssrc`, with one reception report
 * block when `block` is given, at `offset`; returns its length (28/8 + 24). Throws
 * ConfigError when the buffer is too small.
 */
export function writeRtcpReport(
  out: Uint8Array,
  offset: number,
  ssrc: number,
  sender: RtcpSenderInfo | undefined,
  block: RtcpBlockInit | undefined,
): number {
  const fixed = sender === undefined ? 8 : 28;
  const len = fixed + (block === undefined ? 0 : 24);
  ensure(out, offset, len, 'writeRtcpReport');
  out[offset] = 0x80 | (block === undefined ? 0 : 1);
  out[offset + 1] = sender === undefined ? 201 : 200;
  out[offset + 2] = 0;
  out[offset + 3] = len / 4 - 1;
  writeU32(out, offset + 4, ssrc >>> 0);
  if (sender !== undefined) {
    const t = sender.wallClockMs / 1000 + NTP_UNIX_OFFSET_S;
    const seconds = Math.floor(t);
    writeU32(out, offset + 8, seconds % TWO_32);
    writeU32(out, offset + 12, Math.floor((t - seconds) * TWO_32) >>> 0);
    writeU32(out, offset + 16, sender.rtpTimestamp >>> 0);
    writeU32(out, offset + 20, sender.packetCount % TWO_32);
    writeU32(out, offset + 24, sender.octetCount % TWO_32);
  }
  if (block !== undefined) {
    const at = offset + fixed;
    writeU32(out, at, block.ssrc >>> 0);
    out[at + 4] = Math.max(0, Math.min(255, block.fractionLost | 0));
    const lost = Math.max(-0x800000, Math.min(0x7fffff, Math.round(block.cumulativeLost)));
    out[at + 5] = (lost >> 16) & 0xff;
    out[at + 6] = (lost >> 8) & 0xff;
    out[at + 7] = lost & 0xff;
    writeU32(out, at + 8, block.highestSequence >>> 0);
    writeU32(out, at + 12, Math.max(0, Math.round(block.jitter)) >>> 0);
    writeU32(out, at + 16, block.lastSr >>> 0);
    writeU32(out, at + 20, block.delaySinceLastSr >>> 0);
  }
  return len;
}

/**
 * Writes an SDES packet with one chunk: `ssrc` and a CNAME item (`cname` as bytes, 1..255),
 * null-terminated and padded to 32 bits; returns its length.
 */
export function writeRtcpSdesCname(out: Uint8Array, offset: number, ssrc: number, cname: Uint8Array): number {
  if (cname.length < 1 || cname.length > 255) {
    throw new ConfigError([`RTCP CNAME must be 1..255 bytes, got ${cname.length}`]);
  }
  // header 4 + SSRC 4 + type 1 + length 1 + text, then at least one null octet, to 32 bits
  const len = (8 + 2 + cname.length + 4) & ~3;
  ensure(out, offset, len, 'writeRtcpSdesCname');
  out[offset] = 0x81;
  out[offset + 1] = 202;
  out[offset + 2] = 0;
  out[offset + 3] = len / 4 - 1;
  writeU32(out, offset + 4, ssrc >>> 0);
  out[offset + 8] = 1; // CNAME
  out[offset + 9] = cname.length;
  out.set(cname, offset + 10);
  out.fill(0, offset + 10 + cname.length, offset + len);
  return len;
}

/** Writes a BYE for `ssrc` (no reason); returns 8. */
export function writeRtcpBye(out: Uint8Array, offset: number, ssrc: number): number {
  ensure(out, offset, 8, 'writeRtcpBye');
  out[offset] = 0x81;
  out[offset + 1] = 203;
  out[offset + 2] = 0;
  out[offset + 3] = 1;
  writeU32(out, offset + 4, ssrc >>> 0);
  return 8;
}

/** At most this many packets are read from one compound (a bound against crafted input). */
const MAX_PACKETS = 16;

/**
 * Reads a compound RTCP packet (RFC 3550 §6.1, validity checks of appendix A.2): every
 * packet version 2, the first an SR or RR (RFC 5506 reduced-size packets are not
 * accepted), each length inside the datagram and the lengths adding up to it exactly, at
 * most 16 packets. Fills `into` and returns true; returns false (leaving `into` partly
 * filled) for anything malformed. `forSsrc` selects the report block to extract (our
 * SSRC); `undefined` extracts none. Allocates nothing and never throws.
 */
export function readRtcpCompound(buf: Uint8Array, forSsrc: number | undefined, into: RtcpFeedback): boolean {
  into.packets = 0;
  into.hasSenderReport = false;
  into.hasBlock = false;
  into.bye = false;
  const total = buf.length;
  let off = 0;
  while (off < total) {
    if (off + 4 > total || into.packets >= MAX_PACKETS) return false;
    const b0 = buf[off]!;
    const pt = buf[off + 1]!;
    const byteLength = (((buf[off + 2]! << 8) | buf[off + 3]!) + 1) * 4;
    if (b0 >> 6 !== 2 || off + byteLength > total) return false;
    const count = b0 & 0x1f;
    if (into.packets === 0 && pt !== 200 && pt !== 201) return false;
    if (pt === 200 || pt === 201) {
      const fixed = pt === 200 ? 28 : 8;
      if (fixed + 24 * count > byteLength) return false;
      if (into.packets === 0) into.senderSsrc = readU32(buf, off + 4);
      if (pt === 200) {
        into.hasSenderReport = true;
        into.ntpMiddle = ((readU32(buf, off + 8) & 0xffff) * 65536 + (readU32(buf, off + 12) >>> 16)) >>> 0;
      }
      for (let i = 0; i < count && forSsrc !== undefined; i++) {
        const at = off + fixed + 24 * i;
        if (readU32(buf, at) !== forSsrc >>> 0) continue;
        into.hasBlock = true;
        into.fractionLost = buf[at + 4]!;
        into.cumulativeLost = (((buf[at + 5]! << 16) | (buf[at + 6]! << 8) | buf[at + 7]!) << 8) >> 8;
        into.highestSequence = readU32(buf, at + 8);
        into.jitter = readU32(buf, at + 12);
        into.lastSr = readU32(buf, at + 16);
        into.delaySinceLastSr = readU32(buf, at + 20);
      }
    } else if (pt === 203) {
      into.bye = true;
    }
    into.packets++;
    off += byteLength;
  }
  return into.packets > 0;
}
