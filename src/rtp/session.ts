/**
 * `RtpSession`: one RTP endpoint over UDP. It binds an explicit media IP and an even port
 * from a range, sends to the peer from SDP until the peer's first valid packet and then to
 * where the peer really sends from (symmetric RTP latching), drops other sources, routes
 * inbound packets by payload type (PCMU/PCMA audio, telephone-event DTMF, anything else
 * dropped), keeps RFC 3550 statistics and reports a media timeout.
 *
 * It does not decode, buffer or pace: {@link RtpMediaBridge} adds the jitter buffer,
 * G.711 and the paced sender on top.
 *
 * Events (typed, eventemitter3):
 * - `firstPacket` ({@link RtpFirstPacketInfo}): the peer's first valid packet; we latched to its source.
 * - `audio` ({@link RtpAudioPacket}): every PCMU/PCMA packet from the latched source. The
 *   object and its `payload` view are reused: read them inside the listener.
 * - `dtmf` ({@link RtpDtmfEvent}): one event per RFC 4733 digit.
 * - `ssrcChange` (`{ previous, current }`): the latched peer restarted its stream.
 * - `timeout` (RtpTimeoutError): no RTP for `noMediaTimeoutMs` (before the first packet)
 *   or `mediaTimeoutMs` (after). Emitted once; re-armed when packets flow again.
 * - `error` (BridgeError): a socket error. Send errors are counted and reported once.
 * - `close`: after `close()`.
 *
 * RTCP (RFC 3550 §6, see `rtcp-reporter.ts`): with `rtcp` (the default) the session
 * reports every 5 s × U[0.5, 1.5] on the clock from `setRemote` on — an SR while we send
 * RTP, else an RR, with a reception report block about the far end's stream and an SDES
 * CNAME — from port+1 to the far end's RTP port + 1 (or, once its RTCP arrived, to where
 * it came from), reads the far end's SR/RR (round-trip time, its view of our stream),
 * and sends a BYE at `close()`. RTCP multiplexed on the RTP port (RFC 5761) is read too,
 * but we never send it there (our SDP does not offer `a=rtcp-mux`).
 *
 * Media expectation ({@link RtpSession.setExpectingMedia}): while the far end is not
 * supposed to send (hold: our `sendonly`/`inactive`), the media timeout is suspended;
 * expecting media again restarts it with a full grace period.
 *
 * Hot path: the datagram handler reuses one parsed-header object and one audio-packet
 * object; besides the Buffer and address object dgram creates per datagram, it allocates
 * one payload view (`subarray`). It creates no closures, logs nothing and arms no timer
 * (the media-timeout timer checks a timestamp lazily). Sends go through a dgram `lookup`
 * that answers IP literals synchronously, so `send()` is not deferred by a DNS tick.
 *
 * Media-timeout defaults follow LiveKit SIP: 30 s before the first packet, 15 s after.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { systemTimerClock, type TimerClock } from '../clock.js';
import {
  AbortedError,
  ClosedError,
  ConfigError,
  RtpBindError,
  RtpSocketError,
  throwIfAborted,
} from '../errors.js';
import type { BridgeError, RtpTimeoutError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { cryptoRandom, type RandomSource } from '../random.js';
import { DtmfReceiver } from './dtmf.js';
import { createRtpHeader, isRtcpPacket, parseRtpHeader, type RtpHeader } from './packet.js';
import { bindRtpPorts, closeSocket, validateRtpPortOptions } from './port.js';
import { MediaTimeoutWatch } from './media-timeout.js';
import { RtcpReporter, type RtcpReportInput } from './rtcp-reporter.js';
import { uint32Add } from './seq.js';
import { RtpReceptionStats, type RtpStats } from './stats.js';

/** Default media timeout once media has flowed, as LiveKit SIP's `media_timeout` (15 s). */
export const DEFAULT_MEDIA_TIMEOUT_MS = 15_000;
/** Default media timeout before the first packet, as LiveKit SIP's initial timeout (30 s). */
export const DEFAULT_NO_MEDIA_TIMEOUT_MS = 30_000;

/** Options of {@link RtpSession}. */
export interface RtpSessionOptions {
  /** The local media IP to bind. Required: the wildcard is bound only when passed explicitly. */
  bindIp: string;
  /** The IP to put in SDP (1:1 NAT on cloud VMs); default `bindIp`. */
  advertisedIp?: string;
  /** Inclusive range for the even RTP port; default [10000, 20000]. */
  portRange?: readonly [number, number];
  /** An exact port instead of searching the range. */
  port?: number;
  /** Bind RTCP on port+1 and count what arrives there (default true). */
  rtcp?: boolean;
  /** Timeout before the first packet after `setRemote` (default 30 000 ms; 0 disables). */
  noMediaTimeoutMs?: number;
  /** Timeout after media has flowed (default 15 000 ms; 0 disables). */
  mediaTimeoutMs?: number;
  /** A pino-compatible logger (default silent). */
  logger?: Logger;
  /** The clock of arrival times and of the media timeout (default: the system clock). */
  clock?: TimerClock;
  /** Aborting closes the session. */
  signal?: AbortSignal;
  /** Our RTCP SDES CNAME (1..255 bytes; default 16 random hex digits, RFC 7022 style). */
  cname?: string;
  /** Random source of the RTCP interval randomisation and the default CNAME (default crypto). */
  rtcpRandom?: RandomSource;
  /**
   * Wall-clock ms since the Unix epoch for RTCP NTP timestamps, read once at construction
   * and advanced with `clock` afterwards (default `Date.now()`).
   */
  wallClockMs?: number;
}

/** Where to send, from the remote SDP (e.g. the result of `negotiateSdp`). */
export interface RtpRemote {
  /** The SDP connection address (an IP literal). */
  address: string;
  /** The SDP media port. */
  port: number;
  /** The negotiated audio payload type (0 PCMU or 8 PCMA). Sending uses it. */
  payloadType: number;
  /** The telephone-event payload type, when negotiated (often 101). */
  telephoneEventPayloadType?: number;
}

/** The local address to advertise in SDP. */
export interface RtpLocalAddress {
  /** The advertised IP (`advertisedIp`, else `bindIp`). */
  ip: string;
  /** The bound RTP port. */
  port: number;
}

/** Where the peer's first valid packet came from. */
export interface RtpFirstPacketInfo {
  /** The source IP of the packet: where we send from now on. */
  address: string;
  /** The source port of the packet. */
  port: number;
  /** Its payload type (0 PCMU, 8 PCMA, or the telephone-event type). */
  payloadType: number;
}

/**
 * An inbound audio packet. The same object is reused for every packet, and `payload` is
 * a view into the datagram: copy anything you keep beyond the listener call.
 */
export interface RtpAudioPacket {
  /** 0 (PCMU) or 8 (PCMA): decode by this, not by what was negotiated. */
  payloadType: number;
  /** The RTP sequence number (16 bits, wraps around). */
  sequenceNumber: number;
  /** The RTP timestamp, in 8 kHz sample units (32 bits, wraps around). */
  timestamp: number;
  /** The sender's synchronisation source id. */
  ssrc: number;
  /** The RTP marker bit (set on the first packet after silence). */
  marker: boolean;
  /** The G.711 bytes: a view into the datagram, valid only inside the listener. */
  payload: Uint8Array;
  /** Arrival time on the session clock (ms). */
  arrivalMs: number;
}

/** One received DTMF digit (RFC 4733). */
export interface RtpDtmfEvent {
  /** '0'–'9', '*', '#', 'A'–'D'. */
  digit: string;
}

/** Events of {@link RtpSession}. */
export interface RtpSessionEvents {
  /** The peer's first valid packet: we latched to its source and send there from now on. */
  firstPacket: [info: RtpFirstPacketInfo];
  /** Every PCMU/PCMA packet from the latched source (the object is reused: read it inside the listener). */
  audio: [packet: RtpAudioPacket];
  /** One event per RFC 4733 digit. */
  dtmf: [event: RtpDtmfEvent];
  /** The latched peer restarted its stream with a new SSRC, `previous` → `current` (statistics restart). */
  ssrcChange: [change: { previous: number; current: number }];
  /** No RTP for the media timeout; emitted once, re-armed when packets flow again. */
  timeout: [error: RtpTimeoutError];
  /** A socket error (send errors are counted and reported once). */
  error: [error: BridgeError];
  /** Once, after `close()`. */
  close: [];
}

/** Lifecycle of a session. */
export type RtpSessionState = 'new' | 'opening' | 'open' | 'closed';

const PT_PCMU = 0;
const PT_PCMA = 8;
/** SR + one block (52) + SDES with a 255-byte CNAME (268) + BYE (8), rounded up. */
const RTCP_BUFFER_BYTES = 336;

/** An RTP endpoint over UDP with latching, payload-type routing, statistics and timeouts. */
export class RtpSession extends EventEmitter<RtpSessionEvents> {
  private readonly opts: RtpSessionOptions;
  private readonly log: Logger;
  private readonly clock: TimerClock;
  private readonly watch: MediaTimeoutWatch;
  private stateValue: RtpSessionState = 'new';
  private rtpSock: Socket | undefined;
  private rtcpSock: Socket | undefined;
  private localPort = 0;
  private remote: RtpRemote | undefined;
  private telephoneEventPt = -1;
  /** Where packets go: the SDP address until latched, then the peer's real source. */
  private sendAddress = '';
  private sendPort = 0;
  private latched = false;
  private latchedAddress = '';
  private latchedPort = 0;
  private haveSsrc = false;
  private currentSsrc = 0;
  private sendErrorReported = false;
  // outbound stream, as seen in what we send (for the RTCP SR)
  private sentSsrc = 0;
  private sentTimestamp = 0;
  private sentAtMs = 0;
  private octetsSent = 0;
  private readonly rtcp: RtcpReporter;
  private readonly rtcpBuf = new Uint8Array(RTCP_BUFFER_BYTES);
  private readonly rtcpInput: RtcpReportInput = {
    nowMs: 0,
    ssrc: 0,
    packetsSent: 0,
    octetsSent: 0,
    rtpTimestamp: 0,
    remoteSsrc: undefined,
    expected: 0,
    received: 0,
    extendedMaxSeq: 0,
    jitter: 0,
  };
  /** Where the far end's RTCP came from (symmetric RTCP, RFC 4961); port 0 until then. */
  private rtcpLatchedAddress = '';
  private rtcpLatchedPort = 0;
  private readonly header: RtpHeader = createRtpHeader();
  private readonly audioPacket: RtpAudioPacket = {
    payloadType: 0,
    sequenceNumber: 0,
    timestamp: 0,
    ssrc: 0,
    marker: false,
    payload: new Uint8Array(0),
    arrivalMs: 0,
  };
  private readonly dtmfReceiver = new DtmfReceiver();
  private readonly reception = new RtpReceptionStats(8000);
  private readonly counters = {
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    late: 0,
    duplicate: 0,
    strangers: 0,
    unknownPayloadType: 0,
    malformed: 0,
    rtcpReceived: 0,
    ssrcChanges: 0,
    seqJumps: 0,
    sendErrors: 0,
  };
  private readonly onRtp = (msg: Buffer, rinfo: RemoteInfo): void => this.handleRtp(msg, rinfo);
  private readonly onRtcp = (msg: Buffer, rinfo: RemoteInfo): void => this.handleRtcp(msg, rinfo, true);
  private readonly onSocketError = (err: Error): void => this.handleSocketError(err);
  private readonly onAbort = (): void => void this.close();

  /** Validates the options (throws ConfigError); call {@link open} to bind. */
  constructor(opts: RtpSessionOptions) {
    super();
    validateRtpPortOptions(opts);
    const issues: string[] = [];
    if (opts.advertisedIp !== undefined && isIP(opts.advertisedIp) === 0) {
      issues.push(`advertisedIp must be an IP address, got "${opts.advertisedIp}"`);
    }
    for (const k of ['noMediaTimeoutMs', 'mediaTimeoutMs'] as const) {
      const v = opts[k];
      if (v !== undefined && (!Number.isFinite(v) || v < 0)) issues.push(`${k} must be >= 0, got ${v}`);
    }
    if (issues.length > 0) throw new ConfigError(issues);
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemTimerClock;
    this.watch = new MediaTimeoutWatch(
      this.clock,
      opts.noMediaTimeoutMs ?? DEFAULT_NO_MEDIA_TIMEOUT_MS,
      opts.mediaTimeoutMs ?? DEFAULT_MEDIA_TIMEOUT_MS,
      (err) => this.emit('timeout', err),
    );
    const random = opts.rtcpRandom ?? cryptoRandom;
    const r = random(12);
    this.sentSsrc = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;
    const cname = opts.cname ?? Buffer.from(r.subarray(4, 12)).toString('hex');
    if (cname.length === 0 || Buffer.byteLength(cname) > 255) {
      throw new ConfigError([`cname must be 1..255 bytes, got ${Buffer.byteLength(cname)}`]);
    }
    this.rtcp = new RtcpReporter({
      clock: this.clock,
      random,
      cname,
      epochOffsetMs: (opts.wallClockMs ?? Date.now()) - this.clock.now(),
      onDue: () => void this.sendRtcpReport(),
    });
  }

  /** 'new' → 'opening' → 'open' → 'closed'. */
  get state(): RtpSessionState {
    return this.stateValue;
  }

  /** The address to advertise in SDP (valid after `open()`). */
  get local(): RtpLocalAddress {
    return { ip: this.opts.advertisedIp ?? this.opts.bindIp, port: this.localPort };
  }

  /** The bound RTP socket's IP `address` and `port` as the OS reports them (after `open()`). */
  get boundAddress(): { address: string; port: number } | undefined {
    const a = this.rtpSock?.address();
    return a === undefined ? undefined : { address: a.address, port: a.port };
  }

  /** True once the peer's first valid packet fixed the send target. */
  get isLatched(): boolean {
    return this.latched;
  }

  /** Where outbound packets currently go: the peer's IP `address` and `port` (undefined before any is known). */
  get target(): { address: string; port: number } | undefined {
    return this.sendPort === 0 ? undefined : { address: this.sendAddress, port: this.sendPort };
  }

  /** The negotiated remote (after `setRemote`). */
  get remoteDescription(): RtpRemote | undefined {
    return this.remote;
  }

  /**
   * Binds the RTP (and RTCP) sockets. Throws ConfigError, RtpBindError, AbortedError or
   * ClosedError.
   */
  async open(): Promise<RtpLocalAddress> {
    if (this.stateValue === 'closed') throw new ClosedError('RtpSession');
    if (this.stateValue !== 'new') throw new RtpBindError('RtpSession.open() called twice');
    const signal = this.opts.signal;
    throwIfAborted(signal);
    this.stateValue = 'opening';
    const ports = await bindRtpPorts({
      bindIp: this.opts.bindIp,
      portRange: this.opts.portRange,
      port: this.opts.port,
      rtcp: this.opts.rtcp ?? true,
    });
    if (this.stateValue !== 'opening' || signal?.aborted) {
      await closeSocket(ports.rtp);
      if (ports.rtcp) await closeSocket(ports.rtcp);
      this.stateValue = 'closed';
      if (signal?.aborted) throw new AbortedError('RtpSession.open() aborted', { cause: signal.reason });
      throw new ClosedError('RtpSession');
    }
    this.rtpSock = ports.rtp;
    this.rtcpSock = ports.rtcp;
    this.localPort = ports.port;
    ports.rtp.on('message', this.onRtp);
    ports.rtp.on('error', this.onSocketError);
    ports.rtcp?.on('message', this.onRtcp);
    ports.rtcp?.on('error', this.onSocketError);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.stateValue = 'open';
    this.log.debug({ bindIp: this.opts.bindIp, port: ports.port }, '[RTP] session bound');
    return this.local;
  }

  /**
   * Sets (or changes, on a re-INVITE) where to send and which payload types to accept.
   * A changed address or port drops the latch: the next valid packet latches again.
   * Starts the media-timeout watch.
   */
  setRemote(remote: RtpRemote): void {
    if (this.stateValue === 'closed') throw new ClosedError('RtpSession');
    const issues: string[] = [];
    if (isIP(remote.address) === 0) issues.push(`remote address must be an IP, got "${remote.address}"`);
    if (!Number.isInteger(remote.port) || remote.port < 1 || remote.port > 65535) {
      issues.push(`remote port must be 1..65535, got ${remote.port}`);
    }
    if (remote.payloadType !== PT_PCMU && remote.payloadType !== PT_PCMA) {
      issues.push(`payloadType must be 0 (PCMU) or 8 (PCMA), got ${remote.payloadType}`);
    }
    const te = remote.telephoneEventPayloadType;
    if (te !== undefined && (!Number.isInteger(te) || te < 96 || te > 127)) {
      issues.push(`telephoneEventPayloadType must be a dynamic type 96..127, got ${te}`);
    }
    if (issues.length > 0) throw new ConfigError(issues);
    const moved =
      this.remote === undefined || this.remote.address !== remote.address || this.remote.port !== remote.port;
    this.remote = { ...remote };
    this.telephoneEventPt = te ?? -1;
    if (moved) {
      this.latched = false;
      this.sendAddress = remote.address;
      this.sendPort = remote.port;
    }
    if (moved) this.rtcpLatchedPort = 0;
    this.watch.start();
    if (this.rtcpSock !== undefined) this.rtcp.start();
  }

  /**
   * Whether the far end is expected to send RTP (default true). False (hold: our direction
   * is `sendonly` or `inactive`) suspends the media timeout; true again restarts it with a
   * full grace period from now (`mediaTimeoutMs` once latched, else `noMediaTimeoutMs`).
   * RTCP is not affected (RFC 3264 §8.4: RTCP continues on hold).
   */
  setExpectingMedia(expecting: boolean): void {
    if (this.stateValue !== 'closed') this.watch.setExpecting(expecting);
  }

  /** Whether the far end is expected to send RTP (see {@link setExpectingMedia}). */
  get isExpectingMedia(): boolean {
    return this.watch.isExpecting;
  }

  /**
   * Sends one RTP packet (`data[0..length)`, a fixed 12-byte header and the payload) to
   * the current target. Returns false when there is no target yet or the session is not
   * open. Counts packets and bytes sent, and notes the packet's SSRC and timestamp for the
   * RTCP sender report, with `sentAtMs` (the packet's nominal send time on the session
   * clock; default: now) as the time its timestamp corresponds to.
   */
  send(data: Uint8Array, length: number = data.length, sentAtMs?: number): boolean {
    const sock = this.rtpSock;
    if (sock === undefined || this.stateValue !== 'open' || this.sendPort === 0 || length < 12) return false;
    sock.send(data, 0, length, this.sendPort, this.sendAddress);
    this.counters.packetsSent++;
    this.counters.bytesSent += length;
    this.octetsSent += length - 12;
    this.sentTimestamp = ((data[4]! << 24) | (data[5]! << 16) | (data[6]! << 8) | data[7]!) >>> 0;
    this.sentSsrc = ((data[8]! << 24) | (data[9]! << 16) | (data[10]! << 8) | data[11]!) >>> 0;
    this.sentAtMs = sentAtMs ?? this.clock.now();
    return true;
  }

  /**
   * Sends an RTCP report now (SR or RR, SDES CNAME; see the file comment), besides the
   * scheduled ones. Returns false when RTCP is off, the session is not open or there is
   * no remote yet.
   */
  sendRtcpReport(): boolean {
    return this.sendRtcp(false, undefined);
  }

  /** Counts a packet the jitter buffer found late (dropped). */
  countLate(): void {
    this.counters.late++;
  }

  /** Counts a packet the jitter buffer found duplicate (dropped); it no longer counts as received. */
  countDuplicate(): void {
    this.counters.duplicate++;
    if (this.counters.packetsReceived > 0) this.counters.packetsReceived--;
    this.reception.uncount();
  }

  /** A snapshot of the statistics. */
  stats(): RtpStats {
    const c = this.counters;
    const expected = this.reception.expected;
    const lost = this.reception.lost;
    const rtcp = this.rtcp.stats();
    return {
      rtcpSent: rtcp.sent,
      rtcpMalformed: rtcp.malformed,
      rttMs: rtcp.rttMs,
      remoteReport: rtcp.remote,
      packetsSent: c.packetsSent,
      bytesSent: c.bytesSent,
      packetsReceived: c.packetsReceived,
      bytesReceived: c.bytesReceived,
      expected,
      lost,
      lossFraction: expected > 0 ? lost / expected : 0,
      jitter: this.reception.jitter,
      jitterMs: this.reception.jitterMs,
      late: c.late,
      duplicate: c.duplicate,
      strangers: c.strangers,
      unknownPayloadType: c.unknownPayloadType,
      malformed: c.malformed,
      rtcpReceived: c.rtcpReceived,
      ssrcChanges: c.ssrcChanges,
      seqRestarts: this.reception.seqRestarts,
      seqJumps: c.seqJumps,
    };
  }

  /** Send failures counted since open (the first is also emitted as `error`). */
  get sendErrors(): number {
    return this.counters.sendErrors;
  }

  /**
   * Sends an RTCP BYE (after a last report) when RTCP was running, then closes the
   * sockets and the timers; idempotent. Emits `close` once.
   */
  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    const byeSent = this.rtcp.running
      ? new Promise<void>((resolve) => this.sendRtcp(true, resolve))
      : undefined;
    this.rtcp.stop();
    this.stateValue = 'closed';
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.watch.stop();
    if (byeSent !== undefined) await byeSent;
    const rtp = this.rtpSock;
    const rtcp = this.rtcpSock;
    this.rtpSock = undefined;
    this.rtcpSock = undefined;
    if (rtp) {
      rtp.off('message', this.onRtp);
      await closeSocket(rtp);
    }
    if (rtcp) {
      rtcp.off('message', this.onRtcp);
      await closeSocket(rtcp);
    }
    this.emit('close');
  }

  // -- inbound ----------------------------------------------------------------------------

  private handleRtp(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.remote === undefined) {
      this.counters.strangers++; // nobody was negotiated yet: unsolicited
      return;
    }
    if (this.latched && (rinfo.port !== this.latchedPort || rinfo.address !== this.latchedAddress)) {
      this.counters.strangers++;
      return;
    }
    if (msg.length >= 2 && isRtcpPacket(msg)) {
      this.handleRtcp(msg, rinfo, false); // rtcp-mux (RFC 5761)
      return;
    }
    const h = this.header;
    try {
      parseRtpHeader(msg, h);
    } catch {
      // counted (`malformed` in the stats), not logged: this runs per packet
      this.counters.malformed++;
      return;
    }
    const pt = h.payloadType;
    const isAudio = pt === PT_PCMU || pt === PT_PCMA;
    if (!isAudio && pt !== this.telephoneEventPt) {
      this.counters.unknownPayloadType++;
      return;
    }
    const now = this.clock.now();
    if (!this.latched) this.latch(rinfo, pt);
    if (!this.haveSsrc) {
      this.haveSsrc = true;
      this.currentSsrc = h.ssrc;
    } else if (h.ssrc !== this.currentSsrc) {
      const previous = this.currentSsrc;
      this.currentSsrc = h.ssrc;
      this.counters.ssrcChanges++;
      this.reception.reset();
      this.dtmfReceiver.reset();
      this.emit('ssrcChange', { previous, current: h.ssrc });
    }
    this.watch.packet(now);
    if (this.reception.update(h.sequenceNumber) === 'jump') {
      // a lone packet far outside the sequence: dropped until a second one confirms a restart
      this.counters.seqJumps++;
      return;
    }
    this.counters.packetsReceived++;
    this.counters.bytesReceived += msg.length;
    if (isAudio) {
      this.reception.updateJitter(h.timestamp, now);
      const p = this.audioPacket;
      p.payloadType = pt;
      p.sequenceNumber = h.sequenceNumber;
      p.timestamp = h.timestamp;
      p.ssrc = h.ssrc;
      p.marker = h.marker;
      p.payload = msg.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength);
      p.arrivalMs = now;
      this.emit('audio', p);
      return;
    }
    const digit = this.dtmfReceiver.push(
      h.timestamp,
      msg.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength),
    );
    if (digit !== null) this.emit('dtmf', { digit });
  }

  private latch(rinfo: RemoteInfo, payloadType: number): void {
    this.latched = true;
    this.latchedAddress = rinfo.address;
    this.latchedPort = rinfo.port;
    this.sendAddress = rinfo.address;
    this.sendPort = rinfo.port;
    this.watch.latch(); // from now on the (shorter) media timeout applies
    this.emit('firstPacket', { address: rinfo.address, port: rinfo.port, payloadType });
  }

  /**
   * An RTCP datagram from the far end (on port+1, or multiplexed on the RTP port). Anything
   * version 2 with an RTCP packet type counts in `rtcpReceived`; a compound that fails
   * validation is counted in `rtcpMalformed`, other datagrams in `malformed`.
   */
  private handleRtcp(msg: Buffer, rinfo: RemoteInfo, onRtcpPort: boolean): void {
    if (this.remote === undefined || (this.latched && rinfo.address !== this.latchedAddress)) {
      this.counters.strangers++;
      return;
    }
    if (!isRtcpPacket(msg) || msg.length < 4) {
      this.counters.malformed++;
      return;
    }
    this.counters.rtcpReceived++;
    const valid = this.rtcp.receive(
      msg,
      this.counters.packetsSent > 0 ? this.sentSsrc : undefined,
      this.clock.now(),
    );
    if (valid && onRtcpPort && this.rtcpLatchedPort === 0) {
      this.rtcpLatchedAddress = rinfo.address;
      this.rtcpLatchedPort = rinfo.port;
    }
  }

  /** Builds and sends a report (and a BYE); `done` runs once the datagram left (or failed). */
  private sendRtcp(bye: boolean, done: (() => void) | undefined): boolean {
    const sock = this.rtcpSock;
    if (sock === undefined || this.stateValue !== 'open' || this.sendPort === 0) {
      done?.();
      return false;
    }
    const now = this.clock.now();
    const inp = this.rtcpInput;
    inp.nowMs = now;
    inp.ssrc = this.sentSsrc;
    inp.packetsSent = this.counters.packetsSent;
    inp.octetsSent = this.octetsSent;
    inp.rtpTimestamp = uint32Add(this.sentTimestamp, Math.round((now - this.sentAtMs) * 8));
    inp.remoteSsrc = this.haveSsrc ? this.currentSsrc : undefined;
    inp.expected = this.reception.expected;
    inp.received = this.reception.receivedTotal;
    inp.extendedMaxSeq = this.reception.extendedMaxSeq;
    inp.jitter = this.reception.jitter;
    const len = this.rtcp.write(this.rtcpBuf, inp, bye);
    const port = this.rtcpLatchedPort !== 0 ? this.rtcpLatchedPort : this.sendPort + 1;
    const address = this.rtcpLatchedPort !== 0 ? this.rtcpLatchedAddress : this.sendAddress;
    if (port > 65535) {
      done?.();
      return false;
    }
    if (done === undefined) sock.send(this.rtcpBuf, 0, len, port, address);
    else sock.send(this.rtcpBuf, 0, len, port, address, () => done());
    return true;
  }

  private handleSocketError(err: Error): void {
    if (this.stateValue === 'closed') return;
    this.counters.sendErrors++;
    if (this.sendErrorReported) return;
    this.sendErrorReported = true;
    this.log.warn({ err: err.message }, '[RTP] socket error (further errors are only counted)');
    this.emit('error', new RtpSocketError(`RTP socket error: ${err.message}`, { cause: err }));
  }
}
