/**
 * `RtpMediaBridge`: the whole media path of one call behind a small surface.
 *
 *   inbound:  UDP → RtpSession (latching, payload-type routing, stats) → JitterBuffer
 *             → G.711 decode by the packet's payload type → LossConcealer → `audio` event
 *   outbound: writeAudio(any rate, any frame size) → resample to 8 kHz → bounded queue
 *             → RtpPacketizer (20 ms frames, silence when idle, DTMF) → paced send
 *
 * Both directions run on the process-wide {@link PacedScheduler}: each 20 ms tick first
 * sends this call's packet, then (after every due call has sent) pops one frame from the
 * jitter buffer and emits it. So `audio` fires every 20 ms once playout has started,
 * concealing losses, and never more often.
 *
 * Events (typed, eventemitter3):
 * - `firstPacket` ({ address, port, payloadType }): media started flowing; we latched.
 * - `audio` ({@link BridgeAudioFrame}): 20 ms of 8 kHz audio. The frame object and its `samples`
 *   array are reused for every event: copy them if you keep them past the listener.
 * - `dtmf` ({ digit }): one per received RFC 4733 digit.
 * - `outboundAudio` ({@link BridgeAudioFrame}): opt-in tap of what we send: the 20 ms of 8 kHz
 *   PCM each RTP packet carried (after `writeAudio`'s resampling and framing; zeros for a
 *   silence or telephone-event packet; nothing while on hold). Only computed while a
 *   listener is attached. Emitted after the tick's sends, like `audio`; the frame and its
 *   `samples` are reused: copy them to keep them.
 * - `stats` ({@link RtpMediaBridgeStats}): a snapshot every `statsIntervalMs` (default 5 s)
 *   on the clock after `start()`; each closes a loss interval (`intervalLossFraction`).
 * - `timeout` (RtpTimeoutError): no RTP for the configured time. The bridge stays open;
 *   the caller decides (usually: hang up). Suspended while the direction says the far end
 *   does not send (see {@link RtpMediaBridge.setDirection}).
 * - `error` (BridgeError): socket or pacing-callback failures.
 * - `close`: once, after `close()` (or the AbortSignal) tore everything down.
 *
 * Log points (with the `[RTP]` prefix, never per packet): "Bridge started. Listening on
 * <bind ip>:<port>" at open, "First packet received from <ip>:<port>" once, and
 * "Audio flowing: N packets received, M sent" every `statsLogIntervalMs`.
 */
import { EventEmitter } from 'eventemitter3';
import { clearTimer, systemTimerClock, type TimerClock, type TimerHandle } from '../clock.js';
import { G711Codec, type G711Law } from '../codec/g711.js';
import { Resampler } from '../codec/pcm.js';
import {
  AbortedError,
  BridgeError,
  ClosedError,
  ConfigError,
  InternalError,
  type RtpTimeoutError,
} from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { JitterBuffer, LossConcealer, type JitterBufferStats } from './jitter.js';
import type { MediaLatencyProbe } from './latency-probe.js';
import { estimateMos, IntervalLoss } from './quality.js';
import { getSharedScheduler, PacedScheduler, type PacerClient, type PacerHandle } from './pacer.js';
import { RtpPacketizer, type RtpPacketizerStats } from './packetizer.js';
import {
  RtpSession,
  type RtpAudioPacket,
  type RtpDtmfEvent,
  type RtpFirstPacketInfo,
  type RtpLocalAddress,
} from './session.js';
import type { RtpStats } from './stats.js';

/** Options of {@link RtpMediaBridge}. */
export interface RtpMediaBridgeOptions {
  /** The local media IP to bind (required; never defaults to the wildcard). */
  bindIp: string;
  /** The IP to advertise in SDP (default `bindIp`). */
  advertisedIp?: string;
  /** RTP port range (default [10000, 20000]). */
  portRange?: readonly [number, number];
  /** An exact RTP port instead of searching the range. */
  port?: number;
  /** Bind RTCP on port+1 (default true). */
  rtcp?: boolean;
  /** Jitter-buffer target delay in ms (default 40; 0 plays packets as soon as they are in order). */
  jitterTargetMs?: number;
  /** Jitter-buffer maximum delay in ms (default 200). */
  jitterMaxMs?: number;
  /** Outbound queue bound in ms (default 200); overflow drops the oldest audio. */
  maxOutboundQueueMs?: number;
  /**
   * Outbound standing-delay bound in ms (default 20; `Infinity` disables): audio that stayed
   * queued for a whole second beyond it (a burst that never drained) is dropped once.
   */
  maxStandingQueueMs?: number;
  /** Media timeout before the first packet (default 30 000 ms; 0 disables). */
  noMediaTimeoutMs?: number;
  /** Media timeout after media flowed (default 15 000 ms; 0 disables). */
  mediaTimeoutMs?: number;
  /** Interval of the "Audio flowing" log line (default 5000 ms; 0 disables). */
  statsLogIntervalMs?: number;
  /** Interval of the `stats` event and of `intervalLossFraction` (default 5000 ms; 0 disables). */
  statsIntervalMs?: number;
  /** DTMF digit duration (default 100 ms) and inter-digit pause (default 100 ms). */
  dtmfDurationMs?: number;
  /** Pause between two DTMF digits sent, in ms (default 100). */
  dtmfGapMs?: number;
  /** A pino-compatible logger (default silent). */
  logger?: Logger;
  /**
   * The pacing scheduler (default: the process-wide one, or with a `clock` other than the
   * system clock, a scheduler of this bridge's own on that clock).
   */
  scheduler?: PacedScheduler;
  /**
   * The clock of every timer and time reading of the media path (default: the system
   * clock); must be the scheduler's clock when a `scheduler` is given.
   */
  clock?: TimerClock;
  /** Aborting closes the bridge. */
  signal?: AbortSignal;
  /** Records the latency this bridge adds each way (benchmarks; default none, no cost). */
  latencyProbe?: MediaLatencyProbe;
}

/** Where to send and with which codec: the shape of `negotiateSdp()`'s result. */
export interface RtpMediaStartOptions {
  /** Remote media address from SDP (IP literal). */
  remoteAddress: string;
  /** Remote media port from SDP. */
  remotePort: number;
  /** The negotiated codec. */
  codec: G711Law;
  /** Its payload type (0 for PCMU, 8 for PCMA). */
  payloadType: number;
  /** The negotiated telephone-event payload type (needed for `sendDtmf`). */
  telephoneEventPayloadType?: number;
}

/** 20 ms of inbound audio. Reused between events: copy `samples` to keep it. */
export interface BridgeAudioFrame {
  /** 160 samples of 16-bit mono PCM (reused: copy to keep). */
  samples: Int16Array;
  /** Always 8000: G.711's rate. */
  sampleRate: 8000;
}

/**
 * Our media direction, from OUR side's point of view (as in our SDP):
 * - `sendrecv`: we send RTP and expect the far end's;
 * - `sendonly`: we send; the far end does not (it put us on hold, or we hold it with music
 *   on our side): the media timeout is suspended;
 * - `recvonly`: we receive but send no RTP (we put the far end on hold);
 * - `inactive`: neither: no RTP sent, media timeout suspended.
 * RTCP continues in every direction (RFC 3264 §8.4).
 */
export type RtpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** Statistics of a bridge: the session's RTP statistics plus the media stages'. */
export interface RtpMediaBridgeStats extends RtpStats {
  /**
   * Loss over the last completed stats interval (`statsIntervalMs`; RFC 3550 A.3 applied to
   * that interval), 0..1; 0 before the first interval completed.
   */
  intervalLossFraction: number;
  /**
   * One-way delay estimate for the MOS, ms: half the RTCP round-trip time (0 while
   * unknown) + the jitter-buffer target delay + one 20 ms frame.
   */
  oneWayDelayMs: number;
  /** E-model transmission rating of the received stream, 0..100 (see {@link estimateMos}). */
  rFactor: number;
  /**
   * MOS estimate (1..4.5) of the received stream: from `oneWayDelayMs` and the loss of the
   * last interval (cumulative `lossFraction` before the first interval completed).
   */
  mos: number;
  /** The current direction (see {@link RtpDirection}). */
  direction: RtpDirection;
  /** Jitter-buffer counters (absent before `start`); `late` above is taken from here. */
  jitterBuffer: JitterBufferStats | undefined;
  /** Outbound packetizer counters (absent before `start`). */
  outbound: RtpPacketizerStats | undefined;
  /** Frames played out through `audio` events. */
  framesPlayed: number;
  /** Frames concealed because their packet was lost or late. */
  framesConcealed: number;
  /** Samples passed to `writeAudio` before `start` (dropped). */
  droppedBeforeStart: number;
}

/** Events of {@link RtpMediaBridge}. */
export interface RtpMediaBridgeEvents {
  /** The far end's first valid packet arrived: media flows, and we now send where it came from. */
  firstPacket: [info: RtpFirstPacketInfo];
  /** 20 ms of received audio, every 20 ms once playout started (losses concealed). */
  audio: [frame: BridgeAudioFrame];
  /** Opt-in tap of what each RTP packet sent carried, as 8 kHz PCM (computed only while listened to). */
  outboundAudio: [frame: BridgeAudioFrame];
  /** A snapshot every `statsIntervalMs` after `start()`. */
  stats: [stats: RtpMediaBridgeStats];
  /** A digit received as RFC 4733 telephone-event. */
  dtmf: [event: RtpDtmfEvent];
  /** No RTP for the media timeout; the bridge stays open and the caller decides (usually: hang up). */
  timeout: [error: RtpTimeoutError];
  /** A socket or pacing failure. */
  error: [error: BridgeError];
  /** Once, after `close()` (or the abort signal) tore everything down. */
  close: [];
}

/** Lifecycle of a bridge. */
export type RtpMediaBridgeState = 'new' | 'open' | 'started' | 'closed';

const FRAME = 160;
/** Most periods one playout wake-up plays (the jitter buffer skips ahead beyond its own lag bound). */
const MAX_PLAYOUT_CATCH_UP = 8;
/** Outbound-tap frames kept between a wake-up's sends and its after-send work. */
const TAP_FRAMES = 8;

/** G.711 RTP media for one call: session, jitter buffer, codec and paced sender. */
export class RtpMediaBridge extends EventEmitter<RtpMediaBridgeEvents> {
  private readonly opts: RtpMediaBridgeOptions;
  private readonly log: Logger;
  private readonly clock: TimerClock;
  private readonly session: RtpSession;
  private readonly scheduler: PacedScheduler;
  private stateValue: RtpMediaBridgeState = 'new';
  private local: RtpLocalAddress | undefined;
  private packetizer: RtpPacketizer | undefined;
  private jitter: JitterBuffer | undefined;
  private readonly concealer = new LossConcealer();
  private handle: PacerHandle | undefined;
  private statsTimer: TimerHandle | undefined;
  private statsEventTimer: TimerHandle | undefined;
  private statsEventDueMs = 0;
  private readonly intervalLoss = new IntervalLoss();
  private directionValue: RtpDirection = 'sendrecv';
  private sending = true;
  /** Outbound tap: frames sent this wake-up, emitted after the sends (allocated on first use). */
  private tapRing: Int16Array | undefined;
  private tapViews: Int16Array[] = [];
  private tapCount = 0;
  private readonly tapFrame: BridgeAudioFrame = { samples: new Int16Array(0), sampleRate: 8000 };
  private resampler: Resampler | undefined;
  private resamplerRate = 0;
  private readonly decoded = new Int16Array(FRAME);
  private readonly pcmu = new G711Codec('PCMU');
  private readonly pcma = new G711Codec('PCMA');
  private readonly frame: BridgeAudioFrame = { samples: new Int16Array(FRAME), sampleRate: 8000 };
  private framesPlayed = 0;
  private framesConcealed = 0;
  private droppedBeforeStart = 0;
  private closing: Promise<void> | undefined;
  private readonly probe: MediaLatencyProbe | undefined;
  private readonly pacerClient: PacerClient = {
    onTick: (deadline) => this.sendTick(deadline),
    onAfterTick: (now) => this.afterTick(now),
    onSkip: (periods) => this.packetizer?.skip(periods),
    onError: (err) => this.fail(err),
  };
  private readonly onAbort = (): void => void this.close();

  /** Validates the options (throws ConfigError); call {@link open} next. */
  constructor(opts: RtpMediaBridgeOptions) {
    super();
    const issues: string[] = [];
    const nonNegative = [
      'jitterTargetMs',
      'jitterMaxMs',
      'maxOutboundQueueMs',
      'statsLogIntervalMs',
      'statsIntervalMs',
    ] as const;
    for (const k of nonNegative) {
      const v = opts[k];
      if (v !== undefined && (!Number.isFinite(v) || v < 0)) issues.push(`${k} must be >= 0, got ${v}`);
    }
    const standing = opts.maxStandingQueueMs;
    if (standing !== undefined && (Number.isNaN(standing) || standing < 0))
      issues.push(`maxStandingQueueMs must be >= 0, got ${standing}`);
    if (issues.length > 0) throw new ConfigError(issues);
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemTimerClock;
    this.scheduler = opts.scheduler ?? schedulerFor(this.clock);
    this.probe = opts.latencyProbe;
    this.session = new RtpSession({
      bindIp: opts.bindIp,
      advertisedIp: opts.advertisedIp,
      portRange: opts.portRange,
      port: opts.port,
      rtcp: opts.rtcp,
      noMediaTimeoutMs: opts.noMediaTimeoutMs,
      mediaTimeoutMs: opts.mediaTimeoutMs,
      logger: this.log,
      clock: this.clock,
    });
    this.session.on('audio', (p) => this.onPacket(p));
    this.session.on('dtmf', (e) => this.emit('dtmf', e));
    this.session.on('timeout', (e) => this.emit('timeout', e));
    this.session.on('error', (e) => this.emit('error', e));
    this.session.on('firstPacket', (info) => {
      this.log.info(
        { address: info.address, port: info.port, payloadType: info.payloadType },
        `[RTP] First packet received from ${info.address}:${info.port}`,
      );
      this.emit('firstPacket', info);
    });
  }

  /** 'new' → 'open' → 'started' → 'closed'. */
  get state(): RtpMediaBridgeState {
    return this.stateValue;
  }

  /** The underlying RTP session (for its latching state and socket address). */
  get rtp(): RtpSession {
    return this.session;
  }

  /** Binds the sockets; resolves with the address and port to put in the SDP offer. */
  async open(): Promise<RtpLocalAddress> {
    if (this.stateValue === 'closed') throw new ClosedError('RtpMediaBridge');
    const signal = this.opts.signal;
    if (signal?.aborted) throw new AbortedError('RtpMediaBridge.open() aborted', { cause: signal.reason });
    signal?.addEventListener('abort', this.onAbort, { once: true });
    const local = await this.session.open();
    // close() may have run while binding
    if ((this.stateValue as RtpMediaBridgeState) === 'closed') {
      await this.session.close();
      throw new ClosedError('RtpMediaBridge');
    }
    this.stateValue = 'open';
    this.local = local;
    this.log.debug(
      { bindIp: this.opts.bindIp, port: local.port, advertisedIp: local.ip },
      'RTP socket bound',
    );
    return local;
  }

  /**
   * Starts media towards the negotiated remote: sets the send target, creates the
   * packetizer for the negotiated codec and joins the pacing schedule. Calling it again
   * (re-INVITE) updates the remote; the outbound stream continues.
   */
  start(remote: RtpMediaStartOptions): void {
    if (this.stateValue === 'closed') throw new ClosedError('RtpMediaBridge');
    if (this.stateValue === 'new') throw new ConfigError(['RtpMediaBridge.start() before open()']);
    const expectedPt = remote.codec === 'PCMU' ? 0 : remote.codec === 'PCMA' ? 8 : -1;
    if (expectedPt < 0 || remote.payloadType !== expectedPt) {
      throw new ConfigError([
        `codec ${String(remote.codec)} needs payload type ${expectedPt}, got ${remote.payloadType}`,
      ]);
    }
    this.session.setRemote({
      address: remote.remoteAddress,
      port: remote.remotePort,
      payloadType: remote.payloadType,
      telephoneEventPayloadType: remote.telephoneEventPayloadType,
    });
    if (this.packetizer !== undefined) return;
    this.log.info(
      { bindIp: this.opts.bindIp, port: this.local?.port, advertisedIp: this.local?.ip },
      `[RTP] Bridge started. Listening on ${this.opts.bindIp}:${this.local?.port ?? 0}`,
    );
    this.packetizer = new RtpPacketizer({
      payloadType: remote.payloadType,
      telephoneEventPayloadType: remote.telephoneEventPayloadType,
      maxQueueMs: this.opts.maxOutboundQueueMs ?? 200,
      standingQueueMs: this.opts.maxStandingQueueMs ?? 20,
      dtmfDurationMs: this.opts.dtmfDurationMs,
      dtmfGapMs: this.opts.dtmfGapMs,
    });
    this.jitter = new JitterBuffer({
      targetDelayMs: this.opts.jitterTargetMs ?? 40,
      maxDelayMs: this.opts.jitterMaxMs ?? 200,
      frameMs: 20,
      clockRate: 8000,
    });
    this.stateValue = 'started';
    this.handle = this.scheduler.register(this.pacerClient);
    this.armStatsLog();
    this.statsEventDueMs = this.clock.now();
    this.armStatsEvent();
  }

  /** The current direction (see {@link RtpDirection}). */
  get direction(): RtpDirection {
    return this.directionValue;
  }

  /**
   * Sets our media direction, from OUR side's point of view (see {@link RtpDirection}), e.g.
   * after a re-INVITE for hold: `recvonly`/`inactive` stop sending RTP (the pacing tick
   * keeps the RTP timestamp running and discards queued audio; DTMF waits until sending
   * resumes); `sendonly`/`inactive` suspend the media timeout, which restarts with a full
   * grace period when the far end is expected to send again. RTCP continues throughout.
   * May be called before `start()`. Emits nothing. Throws ConfigError for an unknown value.
   */
  setDirection(direction: RtpDirection): void {
    if (!DIRECTIONS.has(direction)) throw new ConfigError([`unknown direction ${JSON.stringify(direction)}`]);
    if (this.stateValue === 'closed') return;
    this.directionValue = direction;
    this.sending = direction === 'sendrecv' || direction === 'sendonly';
    this.session.setExpectingMedia(direction === 'sendrecv' || direction === 'recvonly');
  }

  /**
   * Queues outbound audio of any length at any sample rate (converted to 8 kHz with a
   * stateful resampler, re-chunked into 20 ms packets). The queue is bounded
   * (`maxOutboundQueueMs`): a burst drops the oldest audio rather than adding latency.
   * Audio written before `start()` is dropped (and counted); after `close()` it is ignored
   * (a producer may deliver one last frame while the call is torn down).
   * Throws ConfigError for a sample rate outside 1000..384000.
   */
  writeAudio(samples: Int16Array, sampleRate: number): void {
    if (this.stateValue === 'closed') return;
    if (!Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 384_000) {
      throw new ConfigError([`sampleRate must be an integer in 1000..384000, got ${sampleRate}`]);
    }
    const p = this.packetizer;
    if (p === undefined) {
      this.droppedBeforeStart += samples.length;
      return;
    }
    const probe = this.probe;
    const t0 = probe === undefined ? 0 : this.clock.now();
    const queued = probe === undefined ? 0 : p.queuedSamples;
    if (sampleRate === 8000) {
      p.write(samples);
    } else {
      if (this.resampler === undefined || this.resamplerRate !== sampleRate) {
        this.resampler = new Resampler(sampleRate, 8000);
        this.resamplerRate = sampleRate;
      }
      p.write(this.resampler.process(samples));
    }
    if (probe !== undefined) probe.audioWritten(t0, this.clock.now(), p.queuedSamples - queued);
  }

  /** Drops the audio queued for sending (e.g. when the agent is interrupted). */
  clearAudio(): void {
    this.packetizer?.clearAudio();
  }

  /**
   * Sends a dial string as RFC 4733 events, replacing audio while they play: digits
   * ('0'–'9', '*', '#', 'A'–'D', case-insensitive) strictly in order, `dtmfGapMs` apart,
   * and pauses (`w` 500 ms, `W` 1000 ms, added to the gap), e.g. `'1234#w5'`. Calls queue
   * behind each other. Resolves once the last digit's end packets were sent (or a trailing
   * pause elapsed). Rejects with ConfigError, before anything is sent, for any other
   * character or without a negotiated telephone-event type; with ClosedError at close.
   */
  sendDtmf(digits: string): Promise<void> {
    if (this.stateValue === 'closed') return Promise.reject(new ClosedError('RtpMediaBridge'));
    const p = this.packetizer;
    if (p === undefined) return Promise.reject(new ConfigError(['sendDtmf() before start()']));
    return p.sendDtmf(digits);
  }

  /** A snapshot of every counter. */
  stats(): RtpMediaBridgeStats {
    const s = this.session.stats();
    const jb = this.jitter?.stats();
    const il = this.intervalLoss;
    const oneWayDelayMs = (s.rttMs ?? 0) / 2 + (this.opts.jitterTargetMs ?? 40) + 20;
    const q = estimateMos({ oneWayDelayMs, lossFraction: il.hasInterval ? il.last : s.lossFraction });
    return {
      ...s,
      // the jitter buffer also drops packets that went stale while queued
      late: jb?.late ?? s.late,
      jitterBuffer: jb,
      outbound: this.packetizer?.stats(),
      framesPlayed: this.framesPlayed,
      framesConcealed: this.framesConcealed,
      droppedBeforeStart: this.droppedBeforeStart,
      intervalLossFraction: il.last,
      oneWayDelayMs,
      rFactor: q.rFactor,
      mos: q.mos,
      direction: this.directionValue,
    };
  }

  /**
   * Leaves the pacing schedule, stops the timers, rejects pending DTMF and closes the
   * sockets, in reverse order of setup. Idempotent; emits `close` once.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.stateValue = 'closed';
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.statsTimer = clearTimer(this.clock, this.statsTimer);
    this.statsEventTimer = clearTimer(this.clock, this.statsEventTimer);
    this.handle?.unregister();
    this.handle = undefined;
    this.packetizer?.cancelDtmf(new ClosedError('RtpMediaBridge'));
    await this.session.close();
    this.emit('close');
  }

  // -- per tick ------------------------------------------------------------------------------

  private sendTick(deadlineMs: number): void {
    const p = this.packetizer;
    if (p === undefined) return;
    if (!this.sending) {
      p.hold();
      return;
    }
    const probe = this.probe;
    const t0 = probe === undefined ? 0 : this.clock.now();
    const len = p.next();
    this.session.send(p.packet, len, deadlineMs);
    if (probe !== undefined) probe.packetSent(t0, this.clock.now(), p.queuedSamples);
    if (this.listenerCount('outboundAudio') > 0) this.tapOutbound(p.lastPcm);
  }

  /** Keeps a copy of a sent frame for the `outboundAudio` listeners (after the sends). */
  private tapOutbound(pcm: Int16Array): void {
    if (this.tapRing === undefined) {
      const ring = new Int16Array(FRAME * TAP_FRAMES);
      this.tapRing = ring;
      for (let i = 0; i < TAP_FRAMES; i++) this.tapViews.push(ring.subarray(i * FRAME, (i + 1) * FRAME));
    }
    if (this.tapCount === TAP_FRAMES) this.tapCount--; // a burst beyond the ring: keep the newest
    this.tapViews[this.tapCount++]!.set(pcm);
  }

  private afterTick(now: number): void {
    const n = this.tapCount;
    this.tapCount = 0;
    for (let i = 0; i < n && this.stateValue !== 'closed'; i++) {
      this.tapFrame.samples = this.tapViews[i]!;
      this.emit('outboundAudio', this.tapFrame);
    }
    this.playoutTick(now);
  }

  private onPacket(pkt: RtpAudioPacket): void {
    const jb = this.jitter;
    if (jb === undefined) return;
    this.probe?.packetArrived(pkt.sequenceNumber, pkt.arrivalMs);
    const verdict = jb.push(pkt, pkt.arrivalMs);
    if (verdict === 'duplicate') this.session.countDuplicate();
    else if (verdict === 'late') this.session.countLate();
  }

  private playoutTick(now: number): void {
    // `pop` plays one period per call. A wake-up that ran late (the scheduler sent several
    // overdue packets at once) must play every period that is due, or playout would lag
    // behind for good, one period per late wake-up, until the jitter buffer overflows.
    for (let i = 0; i < MAX_PLAYOUT_CATCH_UP && this.jitter !== undefined; i++) {
      if (!this.playOne(this.jitter, now)) return;
    }
  }

  /** Plays the next due period; false when none is due. */
  private playOne(jb: JitterBuffer, now: number): boolean {
    if (this.stateValue === 'closed') return false;
    const out = jb.pop(now);
    if (out.kind === 'idle') return false;
    const samples = this.frame.samples;
    if (out.kind === 'audio') {
      // decode by the packet's own payload type, never by what was negotiated
      this.probe?.framePopped(out.sequenceNumber, now);
      const codec = out.payloadType === 8 ? this.pcma : this.pcmu;
      const n = codec.decodeInto(out.payload, this.decoded, 0);
      if (n < FRAME) this.decoded.fill(0, n); // a short packet: pad (longer ones are cut at 20 ms)
      this.concealer.good(this.decoded, samples);
      this.framesPlayed++;
    } else {
      this.concealer.conceal(samples);
      this.framesConcealed++;
    }
    this.emit('audio', this.frame);
    if (out.kind === 'audio') this.probe?.frameDelivered(this.clock.now());
    return true;
  }

  /** Logs the "Audio flowing" line every `statsLogIntervalMs` until close. */
  private armStatsLog(): void {
    const every = this.opts.statsLogIntervalMs ?? 5000;
    if (every <= 0 || this.stateValue === 'closed') return;
    this.statsTimer = this.clock.setTimeout(this.onStatsTimer, every);
  }

  private readonly onStatsTimer = (): void => {
    this.statsTimer = undefined;
    this.logFlow();
    this.armStatsLog();
  };

  /** Emits `stats` every `statsIntervalMs`, on absolute deadlines, until close. */
  private armStatsEvent(): void {
    const every = this.opts.statsIntervalMs ?? 5000;
    if (every <= 0 || this.stateValue === 'closed') return;
    this.statsEventDueMs += every;
    const delay = Math.max(1, Math.ceil(this.statsEventDueMs - this.clock.now()));
    this.statsEventTimer = this.clock.setTimeout(this.onStatsEvent, delay, { unref: true });
  }

  private readonly onStatsEvent = (): void => {
    this.statsEventTimer = undefined;
    const s = this.session.stats();
    this.intervalLoss.roll(s.expected, s.lost);
    this.emit('stats', this.stats());
    // a stalled event loop: re-base rather than emit the missed intervals in a burst
    const every = this.opts.statsIntervalMs ?? 5000;
    if (this.statsEventDueMs < this.clock.now() - every) this.statsEventDueMs = this.clock.now();
    this.armStatsEvent();
  };

  private logFlow(): void {
    const s = this.session.stats();
    this.log.info(
      {
        received: s.packetsReceived,
        sent: s.packetsSent,
        lost: s.lost,
        jitterMs: Math.round(s.jitterMs * 10) / 10,
      },
      `[RTP] Audio flowing: ${s.packetsReceived} packets received, ${s.packetsSent} sent`,
    );
  }

  private fail(err: unknown): void {
    const e =
      err instanceof BridgeError
        ? err
        : new InternalError(`media tick failed: ${err instanceof Error ? err.message : String(err)}`, {
            cause: err,
          });
    this.emit('error', e);
  }
}

/**
 * The process-wide scheduler for the system clock; for any other clock (a fake one in
 * tests) a scheduler on that clock, with plain timers (no spin: a fake clock's timers are
 * exact, and waiting for real time to pass inside a fake one would never end).
 */
function schedulerFor(clock: TimerClock): PacedScheduler {
  return clock === systemTimerClock ? getSharedScheduler() : new PacedScheduler({ clock, spinMs: 0 });
}
