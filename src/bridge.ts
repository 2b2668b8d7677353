/**
 * `runBridge()`: makes a phone call a participant of the host's LiveKit room.
 *
 * Order of setup (the seed plan's step 2, which is what makes audio work):
 *   1. resolve and validate everything (config, phone number) before opening anything;
 *   2. check that the room exists: the bridge never creates rooms or dispatches (BUG-1);
 *   3. build the participant, whose room handlers are attached in its constructor (BUG-2);
 *   4. connect as `sip-phone-<E.164>` with kind SIP, then publish the 8 kHz track;
 *   5. open RTP on the media IP (BUG-4) and offer it; INVITE through Exotel;
 *   6. on 200 OK start RTP; forward both ways; `sip.callStatus` becomes `active` once
 *      the call is answered and the first RTP packet arrived.
 * Teardown runs exactly once, in reverse order, whatever ended the call.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { DisconnectReason } from '@livekit/rtc-node';
import { RoomServiceClient } from 'livekit-server-sdk';
import {
  resolveConfig,
  type BridgeConfig,
  type Env,
  type ExotelSettings,
  type LiveKitSettings,
} from './config.js';
import {
  AbortedError,
  BridgeError,
  CallRejectedError,
  LiveKitConnectError,
  RoomNotFoundError,
  type RtpTimeoutError,
} from './errors.js';
import { silentLogger, type Logger } from './logger.js';
import { BRIDGE_CALL_ID_PREFIX } from './agent.js';
import { PhoneParticipant, type ParticipantPredicate } from './livekit/participant.js';
import { createBridgeToken } from './livekit/token.js';
import { RtpMediaBridge, type RtpMediaBridgeStats } from './rtp/bridge.js';
import type { MediaLatencyProbe } from './rtp/latency-probe.js';
import { dtmfDigitToEvent } from './rtp/dtmf.js';
import { createSdpOffer } from './sip/sdp.js';
import { assertHeaderName, assertSafeHeaderValue, normalizePhoneNumber } from './sip/phone.js';
import type { CallAnswer, CallEnded, OutboundCall } from './sip/client.js';
import type { SipTimerValues } from './sip/timers.js';
import { acquireSipClient, type SipClientLease } from './sip-client-pool.js';

/** `sip.callStatus` values, as LiveKit SIP sets them. */
export type BridgeCallStatus = 'dialing' | 'ringing' | 'active' | 'hangup';

/** Why a bridged call ended. */
export type BridgeEndReason =
  /** The phone hung up (BYE from the far end). */
  | 'phone-hangup'
  /** The host called `hangup()`. */
  | 'host-hangup'
  /** The host's `AbortSignal` fired. */
  | 'aborted'
  /** An agent called `lk.sip.EndCall`. */
  | 'agent-hangup'
  /** Every agent left the room and none came back within `timeouts.agentGoneMs`. */
  | 'agent-left'
  /** The bridge participant was removed from the room. */
  | 'participant-removed'
  /** The room was deleted. */
  | 'room-deleted'
  /** The LiveKit connection was lost (or could not be made). */
  | 'livekit-disconnected'
  /** No RTP arrived for the media timeout. */
  | 'media-timeout'
  /** The far end answered the INVITE with a final non-2xx. */
  | 'rejected'
  /** Nobody answered within the ringing timeout. */
  | 'no-answer'
  /** The trunk did not respond at all (Timer B) or the SIP transport failed. */
  | 'sip-error'
  /** The maximum call duration was reached. */
  | 'max-duration'
  /** Anything else (the `error` field says what). */
  | 'error';

export interface RunBridgeOptions {
  /** The room the host already created (and dispatched its agent to). */
  roomName: string;
  /** The number to dial; normalised to E.164 (`defaultCountryCode` for national forms). */
  phoneNumber: string;
  /** The host's agent type (kept in the participant's metadata and logs). */
  agentType?: string;
  /** LiveKit settings; missing ones come from `LIVEKIT_URL`, `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`. */
  livekit?: Partial<LiveKitSettings>;
  /** Exotel settings; missing ones come from the `EXOTEL_*` variables. */
  exotel?: Partial<ExotelSettings>;
  /** Environment to read (default `process.env`). */
  env?: Env;
  /** Country code for numbers typed without one (default `91`). */
  defaultCountryCode?: string;
  /** Whose audio goes to the phone (default: participants of kind AGENT). */
  isAgent?: ParticipantPredicate;
  /** Extra `X-` headers for the INVITE (validated against injection). */
  sipHeaders?: Readonly<Record<string, string>>;
  /** Extra participant attributes (merged over the `sip.*` ones). */
  attributes?: Readonly<Record<string, string>>;
  /** Participant name (default: the phone number). */
  participantName?: string;
  logger?: Logger;
  /** Aborting ends the call at any stage (CANCEL or BYE) and cleans up. */
  signal?: AbortSignal;
  timeouts?: {
    /** LiveKit connect (default 10 s). */
    connectMs?: number;
    /** No final answer (default 60 s): CANCEL, reason `no-answer`. */
    ringingMs?: number;
    /** Maximum call duration after the answer (default: none). */
    maxDurationMs?: number;
    /** No RTP after media flowed (default 15 s). */
    mediaMs?: number;
    /** No RTP at all after the answer (default 30 s). */
    noMediaMs?: number;
    /** How long a lost LiveKit connection may take to resume before the call is ended (default 10 s). */
    livekitReconnectMs?: number;
    /**
     * After the last agent left the room, end the call (BYE, reason `agent-left`) unless an
     * agent is back within this long (default 5 s; `Infinity` keeps the phone on the line).
     */
    agentGoneMs?: number;
  };
  /** RFC 3261 timer base values for the SIP client (T1 500, T2 4000, T4 5000 ms); tests shorten them. */
  sipTimers?: Partial<SipTimerValues>;
  /** Check that the room exists before joining (needs apiKey/apiSecret; default true). */
  requireExistingRoom?: boolean;
  /** Jitter-buffer target delay in ms (default 40). */
  jitterTargetMs?: number;
  /** Records the latency the media path adds each way (benchmarks; default none). */
  latencyProbe?: MediaLatencyProbe;
  /**
   * Per-frame audio to and from LiveKit through the bridge's own FFI path, which keeps
   * frames out of `@livekit/rtc-node`'s process-wide event broadcast (default true).
   * `false` uses rtc-node's `AudioSource.captureFrame()` and `AudioStream` instead: slower
   * with many calls per process, kept as an escape hatch.
   */
  directFfi?: boolean;
  /** Interval of the `[RTP] Audio flowing` log line (default 5000 ms). */
  statsLogIntervalMs?: number;
}

export interface BridgeAnswered {
  /** The bridge's call id (`sip.callID`, `EXO_…`). */
  callId: string;
  /** The SIP Call-ID header. */
  sipCallId: string;
  codec: 'PCMU' | 'PCMA';
  remoteAddress: string;
  remotePort: number;
  /** Milliseconds from `runBridge()` to the 200 OK. */
  setupMs: number;
  remoteHeaders: Readonly<Record<string, string>>;
}

export interface BridgeEnded {
  reason: BridgeEndReason;
  /** The SIP status behind the end, when there was one (e.g. 486). */
  sipStatus?: number;
  error?: BridgeError;
  /** Milliseconds the call was answered (0 if never). */
  talkMs: number;
}

export interface BridgeTimings {
  /** ms from `runBridge()` to each milestone (undefined until reached). */
  livekitConnected?: number;
  trackPublished?: number;
  inviteSent?: number;
  answered?: number;
  firstRtpSent?: number;
  firstRtpReceived?: number;
  active?: number;
  ended?: number;
}

export interface BridgeStats {
  status: BridgeCallStatus;
  rtp: RtpMediaBridgeStats | undefined;
  livekit: { framesCaptured: number; framesDropped: number; agentTracks: number } | undefined;
  timings: BridgeTimings;
}

/** Events of a `BridgeCall`. */
export interface BridgeCallEvents {
  /** `sip.callStatus` changed. */
  status: [status: BridgeCallStatus];
  /** The far end answered (200 OK) and RTP started. */
  answered: [info: BridgeAnswered];
  /** The first RTP packet arrived after the answer (`sip.callStatus` is now `active`). */
  audioReady: [];
  /** A DTMF digit, from the phone (`'phone'`) or from the room (`'room'`). */
  dtmf: [info: { digit: string; from: 'phone' | 'room' }];
  /** Exactly once, after teardown finished. */
  ended: [info: BridgeEnded];
}

type Stage = 'starting' | 'connected' | 'calling' | 'answered' | 'ending' | 'ended';

/**
 * One bridged call. `answered` and `ended` are promises a host may ignore: neither ever
 * causes an unhandled rejection (`ended` always resolves; `answered` rejects only for
 * callers who await it).
 */
export class BridgeCall extends EventEmitter<BridgeCallEvents> {
  /** The bridge's call id (`sip.callID` attribute). */
  readonly callId: string;
  readonly roomName: string;
  /** The dialled number in E.164. */
  readonly phoneNumber: string;
  /** The bridge participant's identity: `sip-phone-<E.164>`. */
  readonly identity: string;
  /** Resolves on 200 OK; rejects with the reason the call never got answered. */
  readonly answered: Promise<BridgeAnswered>;
  /** Resolves once the call ended and everything was cleaned up. */
  readonly ended: Promise<BridgeEnded>;

  private stage: Stage = 'starting';
  private callStatus: BridgeCallStatus = 'dialing';
  private readonly t0 = performance.now();
  private readonly timings: BridgeTimings = {};
  private readonly log: Logger;
  private readonly ac = new AbortController();
  private participant: PhoneParticipant | undefined;
  private media: RtpMediaBridge | undefined;
  private lease: SipClientLease | undefined;
  /** Set once teardown has given the SIP client lease back (a late lease is returned at once). */
  private leaseReleased = false;
  private sip: OutboundCall | undefined;
  private answer: CallAnswer | undefined;
  private endInfo: { reason: BridgeEndReason; sipStatus?: number; error?: BridgeError } | undefined;
  private resolveAnswered!: (a: BridgeAnswered) => void;
  private rejectAnswered!: (e: BridgeError) => void;
  private resolveEnded!: (e: BridgeEnded) => void;
  private gotFirstRtp = false;
  private forwardingAgent = false;
  private answeredAt = 0;
  private teardown: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private agentGoneTimer: NodeJS.Timeout | undefined;

  /** @internal use `runBridge()` */
  constructor(
    private readonly config: BridgeConfig,
    private readonly opts: RunBridgeOptions,
    phoneNumber: string,
  ) {
    super();
    this.callId = `${BRIDGE_CALL_ID_PREFIX}${randomBytes(9).toString('base64url')}`;
    this.roomName = opts.roomName;
    this.phoneNumber = phoneNumber;
    this.identity = `sip-phone-${phoneNumber}`;
    this.log = (opts.logger ?? silentLogger).child({
      callId: this.callId,
      room: opts.roomName,
      phone: phoneNumber,
    });
    this.answered = new Promise<BridgeAnswered>((resolve, reject) => {
      this.resolveAnswered = resolve;
      this.rejectAnswered = reject;
    });
    this.answered.catch(() => undefined);
    this.ended = new Promise<BridgeEnded>((resolve) => (this.resolveEnded = resolve));
  }

  /** The current `sip.callStatus`. */
  get status(): BridgeCallStatus {
    return this.callStatus;
  }

  /** Hangs up from the host's side (CANCEL or BYE) and resolves when cleanup finished. Idempotent. */
  hangup(): Promise<BridgeEnded> {
    this.end('host-hangup');
    return this.ended;
  }

  stats(): BridgeStats {
    return {
      status: this.callStatus,
      rtp: this.media?.stats(),
      livekit: this.participant?.stats(),
      timings: { ...this.timings },
    };
  }

  /** @internal */
  async run(): Promise<void> {
    const signal = this.opts.signal;
    if (signal) {
      if (signal.aborted) return this.end('aborted');
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    try {
      await this.setup();
    } catch (err) {
      const e = toBridgeError(err);
      if (this.endInfo === undefined) {
        const reason: BridgeEndReason =
          e instanceof LiveKitConnectError || e instanceof RoomNotFoundError
            ? 'livekit-disconnected'
            : 'error';
        this.end(reason, e);
      }
    }
  }

  private readonly onAbort = (): void => this.end('aborted');

  private mark(what: keyof BridgeTimings): void {
    this.timings[what] ??= Math.round((performance.now() - this.t0) * 10) / 10;
  }

  private async setup(): Promise<void> {
    const { livekit, exotel } = this.config;
    const timeouts = this.opts.timeouts ?? {};
    const stop = this.ac.signal;

    // BUG-1: the room must already exist; the bridge never creates one.
    if (this.opts.requireExistingRoom !== false && livekit.apiKey && livekit.apiSecret) {
      const rooms = await new RoomServiceClient(httpUrl(livekit.url), livekit.apiKey, livekit.apiSecret)
        .listRooms([this.roomName])
        .catch((err: unknown) => {
          throw new LiveKitConnectError(`cannot reach LiveKit at ${livekit.url}: ${String(err)}`, {
            cause: err,
          });
        });
      if (!rooms.some((r) => r.name === this.roomName)) throw new RoomNotFoundError(this.roomName);
    }
    if (stop.aborted) return;

    const attributes: Record<string, string> = {
      'sip.callID': this.callId,
      'sip.callStatus': 'dialing',
      'sip.phoneNumber': this.phoneNumber,
      'sip.trunkPhoneNumber': exotel.callerId,
      'sip.hostname': exotel.sipHost,
      ...this.opts.attributes,
    };
    const metadata = JSON.stringify({ source: 'exotel_bridge', phone: this.phoneNumber });
    const token =
      livekit.token ??
      (await createBridgeToken({
        apiKey: livekit.apiKey!,
        apiSecret: livekit.apiSecret!,
        roomName: this.roomName,
        identity: this.identity,
        name: this.opts.participantName ?? this.phoneNumber,
        metadata,
        attributes,
      }));

    // Handlers are attached inside the constructor, before connect() (BUG-2).
    const participant = new PhoneParticipant({
      url: livekit.url,
      token,
      isAgent: this.opts.isAgent,
      directFfi: this.opts.directFfi,
      connectTimeoutMs: timeouts.connectMs,
      logger: this.log,
      remoteHeaders: () => ({ ...(this.answer?.remoteHeaders ?? {}) }),
    });
    this.participant = participant;
    participant.on('endCallRequested', ({ identity }) => {
      this.log.info({ by: identity }, '[BRIDGE] Agent requested the end of the call');
      this.end('agent-hangup');
    });
    participant.on('disconnected', ({ reason, byClose }) => {
      if (byClose) return;
      this.end(
        reason === DisconnectReason.PARTICIPANT_REMOVED
          ? 'participant-removed'
          : reason === DisconnectReason.ROOM_DELETED
            ? 'room-deleted'
            : 'livekit-disconnected',
      );
    });
    // The SDK retries a lost connection silently for a long time; a phone call cannot wait.
    participant.on('reconnecting', () => {
      this.log.warn('[BRIDGE] LiveKit connection lost; waiting for it to resume');
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(
        () =>
          this.end(
            'livekit-disconnected',
            new LiveKitConnectError('the LiveKit connection was lost and did not resume in time'),
          ),
        timeouts.livekitReconnectMs ?? 10_000,
      );
    });
    participant.on('reconnected', () => {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
    });
    participant.on('participantDisconnected', ({ identity, agent }) => {
      const grace = timeouts.agentGoneMs ?? 5000;
      if (!agent || !Number.isFinite(grace) || participant.agentsPresent(identity) > 0) return;
      this.log.info(
        { agent: identity },
        `[BRIDGE] The last agent left; ending the call unless one returns within ${grace} ms`,
      );
      clearTimeout(this.agentGoneTimer);
      this.agentGoneTimer = setTimeout(() => {
        this.agentGoneTimer = undefined;
        if (participant.agentsPresent() === 0) this.end('agent-left');
      }, grace);
    });
    participant.on('agentTrackSubscribed', ({ identity }) => {
      if (this.stage === 'answered') this.log.info(`[BRIDGE] Agent track subscribed: ${identity}`);
    });
    participant.on('agentAudio', this.onAgentAudio);
    participant.on('dtmf', ({ digit }) => {
      this.emit('dtmf', { digit, from: 'room' });
      if (this.stage === 'answered') void this.media?.sendDtmf(digit).catch(() => undefined);
    });

    // BUG-4: RTP binds to the configured media IP, never the wildcard by default.
    const media = new RtpMediaBridge({
      bindIp: exotel.mediaBindIp,
      advertisedIp: exotel.mediaIp,
      portRange: exotel.rtpPortRange,
      jitterTargetMs: this.opts.jitterTargetMs,
      latencyProbe: this.opts.latencyProbe,
      mediaTimeoutMs: timeouts.mediaMs,
      noMediaTimeoutMs: timeouts.noMediaMs,
      statsLogIntervalMs: this.opts.statsLogIntervalMs,
      logger: this.log,
    });
    this.media = media;
    media.on('audio', this.onPhoneAudio);
    media.on('firstPacket', this.onFirstRtp);
    media.on('dtmf', ({ digit }) => {
      this.emit('dtmf', { digit, from: 'phone' });
      const code = dtmfDigitToEvent(digit);
      if (code !== undefined) void participant.publishDtmf(code, digit).catch(() => undefined);
    });
    media.on('timeout', (err: RtpTimeoutError) => this.end('media-timeout', err));
    // The RTP socket and the trunk connection do not depend on the room: get them ready
    // while LiveKit connects, so the INVITE can leave as soon as the track is published.
    // (Nothing is sent to the trunk before then; teardown closes both if setup fails.)
    const ready = Promise.all([
      media.open(),
      acquireSipClient(
        exotel,
        this.log,
        this.opts.sipTimers !== undefined ? { timers: this.opts.sipTimers } : {},
      ).then((lease) => {
        // teardown may have passed its release step while the client was starting
        if (this.leaseReleased) lease.release();
        else this.lease = lease;
        return lease;
      }),
    ]);
    ready.catch(() => undefined);

    this.log.info(`[BRIDGE] Connecting to LiveKit room: ${this.roomName}`);
    await participant.connect(stop);
    this.mark('livekitConnected');
    if (stop.aborted) return;
    this.stage = 'connected';
    this.log.info('[BRIDGE] Connected. Publishing SIP audio track...');
    await participant.publishAudio();
    this.mark('trackPublished');
    if (stop.aborted) return;

    this.log.info(`[BRIDGE] Audio track published. Starting SIP call to ${this.phoneNumber}...`);
    const [local, lease] = await ready;
    if (stop.aborted) return;
    this.stage = 'calling';
    const call = lease.client.invite({
      to: this.phoneNumber,
      sdp: createSdpOffer({ ip: local.ip, port: local.port }),
      headers: this.opts.sipHeaders,
      ringingTimeoutMs: timeouts.ringingMs,
      maxDurationMs: timeouts.maxDurationMs,
      logger: this.log,
    });
    this.sip = call;
    this.mark('inviteSent');
    call.on('progress', ({ status }) => {
      if (status === 180 || status === 183) this.setStatus('ringing');
    });
    call.on('ended', this.onSipEnded);

    const answer = await call.answered;
    if (stop.aborted) return;
    this.answer = answer;
    const neg = answer.negotiated;
    if (neg === undefined) throw new BridgeError('SDP_NEGOTIATION', 'the answer carried no usable SDP');
    this.mark('answered');
    this.answeredAt = performance.now();
    media.start({
      remoteAddress: neg.remoteAddress,
      remotePort: neg.remotePort,
      codec: neg.codec,
      payloadType: neg.payloadType,
      telephoneEventPayloadType: neg.telephoneEventPayloadType,
    });
    this.mark('firstRtpSent');
    this.stage = 'answered';
    void participant
      .setAttributes({ 'sip.callIDFull': answer.callId, 'sip.callTag': answer.remoteTag })
      .catch(() => undefined);
    const info: BridgeAnswered = {
      callId: this.callId,
      sipCallId: answer.callId,
      codec: neg.codec,
      remoteAddress: neg.remoteAddress,
      remotePort: neg.remotePort,
      setupMs: this.timings.answered ?? 0,
      remoteHeaders: answer.remoteHeaders,
    };
    this.emit('answered', info);
    this.resolveAnswered(info);
    for (const info of participant.agentTracks())
      this.log.info(`[BRIDGE] Agent track subscribed: ${info.identity}`);
    if (this.gotFirstRtp) this.becomeActive();
  }

  private readonly onPhoneAudio = (frame: { samples: Int16Array }): void => {
    this.participant?.captureAudio(frame.samples);
  };

  private readonly onAgentAudio = (samples: Int16Array): void => {
    if (this.stage !== 'answered' || this.media === undefined) return;
    if (!this.forwardingAgent) {
      this.forwardingAgent = true;
      this.log.info('[BRIDGE] Forwarding agent audio to RTP');
    }
    this.media.writeAudio(samples, 8000);
  };

  private readonly onFirstRtp = (): void => {
    this.mark('firstRtpReceived');
    this.gotFirstRtp = true;
    if (this.stage === 'answered') this.becomeActive();
  };

  private becomeActive(): void {
    if (this.callStatus === 'active' || this.callStatus === 'hangup') return;
    this.mark('active');
    this.setStatus('active');
    this.emit('audioReady');
  }

  private setStatus(status: BridgeCallStatus): void {
    if (this.callStatus === status || this.callStatus === 'hangup') return;
    this.callStatus = status;
    this.emit('status', status);
    void this.participant?.setAttributes({ 'sip.callStatus': status }).catch(() => undefined);
  }

  private readonly onSipEnded = (e: CallEnded): void => {
    const map: Record<CallEnded['reason'], BridgeEndReason> = {
      'remote-bye': 'phone-hangup',
      'local-bye': 'host-hangup',
      rejected: 'rejected',
      cancelled: 'aborted',
      // The ringing timeout cancels the call; Timer B (no response at all) ends it as a 408.
      timeout: e.status === 408 || this.answer !== undefined ? 'sip-error' : 'no-answer',
      'transport-error': 'sip-error',
      'max-duration': 'max-duration',
      'auth-failed': 'sip-error',
      'negotiation-failed': 'error',
    };
    this.end(map[e.reason], e.error, e.status);
  };

  /** Starts teardown once; the first reason wins. */
  private end(reason: BridgeEndReason, error?: BridgeError, sipStatus?: number): void {
    if (this.endInfo !== undefined) return;
    this.endInfo = { reason, error, sipStatus };
    if (reason !== 'host-hangup' && reason !== 'phone-hangup' && reason !== 'agent-hangup') {
      this.log.info({ reason, err: error?.message }, `[BRIDGE] Call ending: ${reason}`);
    }
    this.teardown ??= this.doTeardown();
  }

  private async doTeardown(): Promise<void> {
    const prev = this.stage;
    this.stage = 'ending';
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.agentGoneTimer);
    this.ac.abort();
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    const info = this.endInfo!;
    if (this.answer === undefined) {
      const e =
        info.error ??
        (info.reason === 'rejected' && info.sipStatus !== undefined
          ? new CallRejectedError(info.sipStatus, '')
          : new AbortedError(`call ended before it was answered: ${info.reason}`));
      this.rejectAnswered(e);
    }
    const participant = this.participant;
    const leaving = info.reason === 'participant-removed' || info.reason === 'room-deleted';
    // Agents watch sip.callStatus: say `hangup` while still connected.
    if (participant?.isConnected && !leaving) {
      this.callStatus = 'hangup';
      this.emit('status', 'hangup');
      await withTimeout(participant.setAttributes({ 'sip.callStatus': 'hangup' }), 1000);
    } else {
      this.callStatus = 'hangup';
      this.emit('status', 'hangup');
    }
    // Reverse order of setup: SIP (BYE/CANCEL), RTP, LiveKit, the SIP client lease.
    if (this.sip && prev !== 'ended') await this.sip.hangup().catch(() => undefined);
    await this.media?.close().catch(() => undefined);
    // rtc-node's disconnect waits for a native callback; a stuck one must not keep the
    // call from ending (the host awaits `ended`). Bounded, and said in the log.
    if (participant !== undefined) {
      const closed = await withTimeout(participant.close(), PARTICIPANT_CLOSE_TIMEOUT_MS);
      if (!closed) {
        this.log.warn(
          `[BRIDGE] LiveKit participant did not close within ${PARTICIPANT_CLOSE_TIMEOUT_MS} ms; ending the call anyway`,
        );
      }
    }
    this.leaseReleased = true;
    this.lease?.release();
    this.lease = undefined;
    this.stage = 'ended';
    this.mark('ended');
    const talkMs = this.answeredAt > 0 ? Math.round(performance.now() - this.answeredAt) : 0;
    this.log.info({ reason: info.reason, talkMs }, '[BRIDGE] Call ended. Cleanup complete.');
    const ended: BridgeEnded = { reason: info.reason, talkMs };
    if (info.sipStatus !== undefined) ended.sipStatus = info.sipStatus;
    if (info.error !== undefined) ended.error = info.error;
    this.emit('ended', ended);
    this.resolveEnded(ended);
  }
}

/**
 * Bridges one phone call into an existing LiveKit room. Validates the configuration and
 * the number synchronously (throwing `ConfigError` / `InvalidPhoneNumberError` before
 * anything is opened), then runs the call in the background and returns its handle.
 */
export function runBridge(options: RunBridgeOptions): BridgeCall {
  const config = resolveConfig(
    { livekit: options.livekit, exotel: options.exotel },
    options.env ?? process.env,
  );
  const phone = normalizePhoneNumber(options.phoneNumber, {
    defaultCountryCode: options.defaultCountryCode ?? '91',
  });
  // Refuse injected headers before anything is opened (the client checks them again).
  for (const [name, value] of Object.entries(options.sipHeaders ?? {})) {
    assertHeaderName(name);
    assertSafeHeaderValue(name, value);
  }
  const call = new BridgeCall(config, options, phone);
  void call.run();
  return call;
}

function httpUrl(url: string): string {
  return url.replace(/^ws(s?):\/\//, 'http$1://');
}

function toBridgeError(err: unknown): BridgeError {
  if (err instanceof BridgeError) return err;
  return new BridgeError('LIVEKIT', err instanceof Error ? err.message : String(err), { cause: err });
}

/** Longest wait for the LiveKit participant to close at the end of a call. */
const PARTICIPANT_CLOSE_TIMEOUT_MS = 5000;

/** Waits for `p` (its rejection ignored) at most `ms`; true when it settled in time. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}
