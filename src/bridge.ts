/**
 * `runBridge()`: makes a phone call a participant of the host's LiveKit room.
 *
 * Order of setup (this order is what makes audio work):
 *   1. resolve and validate everything (config, phone number) before opening anything;
 *   2. check that the room exists: the bridge never creates rooms or dispatches agents,
 *      so a call can never land in a room its host did not make;
 *   3. build the participant, whose room handlers are attached in its constructor, so a
 *      track an agent published before the phone joined is not missed;
 *   4. connect as `sip-phone-<E.164>` with kind SIP, then publish the phone's track; at
 *      the same time, open RTP on the configured media IP (never the wildcard address by
 *      default) and start the trunk client;
 *   5. outbound: INVITE through Exotel as soon as RTP and the trunk client are ready, while
 *      LiveKit still connects (a LiveKit failure while it rings CANCELs the call); inbound:
 *      answer once the track is published;
 *   6. on 200 OK start RTP; once the track is published, forward both ways (the phone's
 *      audio before that is dropped and counted); `sip.callStatus` becomes `active` once
 *      the call is answered, the room joined and the first RTP packet arrived.
 * Teardown runs exactly once, in reverse order, whatever ended the call.
 *
 * Beside this file: `bridge-options.ts` (the options and their validation),
 * `bridge-events.ts` (what a call reports) and `bridge-teardown.ts` (end reasons, bounded waits).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { systemTimerClock, type TimerClock } from './clock.js';
import type { BridgeConfig } from './config.js';
import { bestEffortAsync } from './best-effort.js';
import type { BridgeError } from './errors.js';
import { ConfigError, LiveKitConnectError, RoomNotFoundError, toBridgeError } from './errors.js';
import { silentLogger, type Logger } from './logger.js';
import { BRIDGE_CALL_ID_PREFIX } from './agent.js';
import type { PhoneParticipant } from './livekit/participant.js';
import { createBridgeParticipant, joinAndPublish } from './bridge-participant.js';
import { trackCall } from './shutdown.js';
import { tokenVerifier } from './livekit/token.js';
import type { RtpMediaBridge } from './rtp/bridge.js';
import type { AgentStreamMedia, StreamInterruption } from './agentstream/media.js';
import { createRtpMedia, ringbackToPhone, wireStream, type PhoneAudioHandlers } from './bridge-media.js';
import type { NegotiatedSdp } from './sdp/negotiate.js';
import type { CallEnded } from './sip/call-types.js';
import { OutboundLeg, type BridgeLeg, type LegAnswer } from './bridge-leg.js';
import type { RingbackPlayer } from './bridge-audio.js';
import { ringbackIntoRoom } from './bridge-audio.js';
import { CallControl, startMedia } from './bridge-control.js';
import { agentArrives, assertRoomExists, attachRoomHandlers, watchRoom } from './bridge-room.js';
import type {
  BridgeAnswered,
  BridgeCallEvents,
  BridgeCallStatus,
  BridgeEndReason,
  BridgeEnded,
  BridgeStats,
  BridgeTimings,
} from './bridge-events.js';
import { resolveBridgeOptions, type RunBridgeOptions } from './bridge-options.js';
import { answerAttributes, answeredInfo } from './bridge-answer.js';
import { rtcUnavailable } from './livekit/rtc.js';
import {
  endReasonOfSip,
  HANGUP_STATUS_TIMEOUT_MS,
  PARTICIPANT_CLOSE_TIMEOUT_MS,
  unansweredError,
  withTimeout,
} from './bridge-teardown.js';

export type {
  BridgeAnswered,
  BridgeCallEvents,
  BridgeCallStatus,
  BridgeEndReason,
  BridgeEnded,
  BridgeStats,
  BridgeTimings,
} from './bridge-events.js';
export type { RunBridgeOptions } from './bridge-options.js';

type Stage = 'starting' | 'connected' | 'calling' | 'answered' | 'ending' | 'ended';

/**
 * One bridged call. `answered` and `ended` are promises a host may ignore: neither ever
 * causes an unhandled rejection (`ended` always resolves; `answered` rejects only for
 * callers who await it).
 */
export class BridgeCall extends EventEmitter<BridgeCallEvents> {
  /** The bridge's call id (`sip.callID` attribute). */
  readonly callId: string;
  /** The LiveKit room the call is in (made by the host before the call). */
  readonly roomName: string;
  /** The phone's number in E.164: the dialled number (outbound) or the caller (inbound). */
  readonly phoneNumber: string;
  /** Whether the bridge dialled the phone or the phone called in. */
  readonly direction: 'outbound' | 'inbound';
  /** The bridge participant's identity: `sip-phone-<E.164>`. */
  readonly identity: string;
  /** Resolves on 200 OK; rejects with the reason the call never got answered. */
  readonly answered: Promise<BridgeAnswered>;
  /** Resolves once the call ended and everything was cleaned up. */
  readonly ended: Promise<BridgeEnded>;

  private stage: Stage = 'starting';
  private callStatus: BridgeCallStatus = 'dialing';
  private readonly clock: TimerClock;
  private readonly t0: number;
  private readonly timings: BridgeTimings = {};
  private readonly log: Logger;
  private readonly ac = new AbortController();
  private participant: PhoneParticipant | undefined;
  private media: RtpMediaBridge | undefined;
  /** AgentStream legs: the stream carrying the phone's audio (no RTP then). */
  private stream: AgentStreamMedia | undefined;
  private answer: LegAnswer | undefined;
  private readonly control: CallControl;
  private automating = false;
  private endInfo: { reason: BridgeEndReason; sipStatus?: number; error?: BridgeError } | undefined;
  private resolveAnswered!: (a: BridgeAnswered) => void;
  private rejectAnswered!: (e: BridgeError) => void;
  private resolveEnded!: (e: BridgeEnded) => void;
  private gotFirstRtp = false;
  private forwardingAgent = false;
  private answeredAt = 0;
  private teardown: Promise<void> | undefined;
  private roomWatch: { stop(): void } | undefined;
  private ringback: RingbackPlayer | undefined;
  private earlyMediaStarted = false;

  /** @internal use `runBridge()` or `listenForCalls()` */
  constructor(
    private readonly config: Pick<BridgeConfig, 'livekit'> & { exotel?: BridgeConfig['exotel'] },
    private readonly opts: RunBridgeOptions,
    phoneNumber: string,
    private readonly leg: BridgeLeg,
    /**
     * The Exophone (`sip.trunkPhoneNumber`), attributes the direction adds, and for
     * AgentStream calls the call id (Exotel's call SID) and `sip.hostname`.
     */
    private readonly party: {
      trunkPhoneNumber: string;
      attributes?: Readonly<Record<string, string>>;
      callId?: string;
      hostname?: string;
    },
  ) {
    super();
    this.direction = leg.direction;
    if (leg.direction === 'inbound') this.callStatus = 'ringing';
    this.clock = opts.clock ?? systemTimerClock;
    this.t0 = this.clock.now();
    this.callId = party.callId ?? `${BRIDGE_CALL_ID_PREFIX}${randomBytes(9).toString('base64url')}`;
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
    // Marks `answered` handled: a host may ignore it (callers who await it still see the rejection).
    this.answered.catch(() => undefined);
    this.ended = new Promise<BridgeEnded>((resolve) => (this.resolveEnded = resolve));
    this.control = new CallControl({
      log: this.log,
      clock: this.clock,
      session: () => (this.stage === 'answered' ? this.leg.session() : undefined),
      media: () => this.media,
      stream: () => this.stream,
      overStream: leg.stream !== undefined,
      participant: () => this.participant,
      emitTransfer: (i) => this.emit('transfer', i),
      emitHold: (i) => this.emit('hold', i),
      emitDtmf: (digit, from) => this.emit('dtmf', { digit, from }),
      emitStats: (st) => this.emit('stats', st),
      endTransferred: () => this.end('transferred'),
      ...(opts.controlFrom !== undefined ? { controlFrom: opts.controlFrom } : {}),
      ...(config.livekit.apiKey && config.livekit.apiSecret
        ? { verifyToken: tokenVerifier(config.livekit.apiKey, config.livekit.apiSecret) }
        : {}),
    });
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

  /**
   * Cold transfer (REFER): the phone is handed to `target` (E.164 or a `sip:`/`tel:` URI);
   * once the far end reports success we hang up (`ended` reason `transferred`). On
   * failure the call goes on and this rejects with `TransferError` (`status` says why).
   * Resolves with `{ status }`: the final status the far end reported for the transfer (a 2xx).
   */
  transfer(target: string, opts: { signal?: AbortSignal } = {}): Promise<{ status: number }> {
    return this.control.transfer(target, opts);
  }

  /** Puts the phone on hold: it no longer hears the room (re-INVITE `a=sendonly`). */
  hold(): Promise<void> {
    return this.control.hold();
  }

  /** Takes the phone off hold. */
  resume(): Promise<void> {
    return this.control.resume();
  }

  /** Sends RFC 4733 digits to the phone, in order (`w` = 0.5 s pause). */
  sendDtmf(digits: string): Promise<void> {
    return this.control.sendDtmf(digits);
  }

  /**
   * Barge-in: drops the agent audio not yet played to the phone. AgentStream calls send
   * `clear` and return what the caller heard (also the `interrupted` event); SIP calls drop
   * the RTP send queue and return `undefined`.
   */
  clearAudio(): StreamInterruption | undefined {
    return this.control.clearAudio('host');
  }

  /** A snapshot of the call's status, RTP or stream counters, room side and milestones. */
  stats(): BridgeStats {
    return {
      status: this.callStatus,
      rtp: this.media?.stats(),
      ...(this.stream !== undefined ? { stream: this.stream.stats() } : {}),
      livekit: this.participant?.stats(),
      timings: { ...this.timings },
    };
  }

  /** @internal */
  async run(): Promise<void> {
    trackCall(this);
    const signal = this.opts.signal;
    if (signal) {
      if (signal.aborted) return this.end('aborted');
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    try {
      await this.setup();
    } catch (err) {
      this.endByError(err);
    }
  }

  /** Ends the call for a setup failure (the first end reason wins). */
  private readonly endByError = (err: unknown): void => {
    const e = toBridgeError(err);
    const livekit = e instanceof LiveKitConnectError || e instanceof RoomNotFoundError;
    this.end(livekit ? 'livekit-disconnected' : 'error', e);
  };

  private readonly onAbort = (): void => this.end('aborted');

  private mark(what: keyof BridgeTimings): void {
    this.timings[what] ??= Math.round((this.clock.now() - this.t0) * 10) / 10;
  }

  private async setup(): Promise<void> {
    const { livekit, exotel } = this.config;
    const streamLeg = this.leg.stream !== undefined;
    if (!streamLeg && exotel === undefined) throw new ConfigError(['a SIP call needs the exotel settings']);
    const stop = this.ac.signal;

    // BUG-1: the room must already exist; the bridge never creates one. An outbound call gets
    // its RTP port and trunk client ready meanwhile; nothing goes to the trunk before it passed.
    const outbound = this.direction === 'outbound';
    const roomCheck =
      this.opts.requireExistingRoom !== false ? assertRoomExists(livekit, this.roomName) : Promise.resolve();
    roomCheck.catch(() => undefined); // awaited below, where a failure ends the call
    if (!outbound) await roomCheck;
    if (stop.aborted) return;

    const phone: PhoneAudioHandlers = {
      audio: this.onPhoneAudio,
      firstMedia: this.onFirstRtp,
      dtmf: (digit) => this.control.phoneDtmf(digit),
      timeout: (err) => this.end('media-timeout', err),
    };
    const media = streamLeg
      ? undefined
      : createRtpMedia(exotel!, this.opts, this.log, this.clock, {
          ...phone,
          stats: (st) => {
            if (this.stage === 'answered') this.control.onStats(st);
          },
        });
    this.media = media;
    // The RTP socket and the trunk connection do not depend on the room: get them ready now.
    // (Nothing is sent to the trunk before the INVITE; teardown closes both if setup fails.)
    const ready = Promise.all([
      (media?.open() ?? Promise.resolve({ ip: '', port: 0 })).then((local) => {
        // Inbound with ringback: 183 with our answer as soon as RTP is open; the caller
        // hears ringback while the bridge joins the room (and waits for an agent).
        const early = stop.aborted || !media ? undefined : this.leg.earlyMedia?.(local);
        if (early !== undefined && media) this.ringback = ringbackToPhone(media, early, this.clock, this.log);
        return local;
      }),
      this.leg.prepare(this.log, {
        onRinging: this.onRinging,
        onEarlyMedia: this.onEarlyMedia,
        onEnded: this.onSipEnded,
      }),
    ]);
    // Marks `ready` handled while LiveKit connects: it is awaited below, where a failure ends the call.
    ready.catch(() => undefined);

    // Inbound calls are answered once the phone's track is published. Outbound calls dial
    // while LiveKit connects: the INVITE leaves once the room check passed and the trunk client
    // and RTP port are ready; rtc-node is loaded (synchronously, by the first call of a process)
    // and the room joined after it, and a LiveKit failure while it rings CANCELs it (teardown).
    let joined: Promise<boolean> | undefined;
    if (!outbound) {
      joined = this.joinRoom(stop);
      if (!(await joined)) return;
    } else {
      await roomCheck;
      // rtc-node is loaded after dialling: without its native binding, do not dial at all
      const noRtc = rtcUnavailable();
      if (noRtc !== undefined) throw noRtc;
    }
    const [local] = await ready;
    if (stop.aborted) return;
    this.stage = 'calling';
    const waitMs = this.leg.answerAfterAgentMs;
    if (
      waitMs !== undefined &&
      this.participant !== undefined &&
      !(await agentArrives(this.participant, waitMs, this.clock, stop))
    ) {
      this.log.info(`[BRIDGE] No agent joined within ${waitMs} ms: refusing the call (480)`);
      this.end('no-agent', undefined, 480);
      this.leg.refuse?.(480);
      return;
    }
    if (stop.aborted) return;
    this.log.info(
      this.direction === 'outbound'
        ? `[BRIDGE] Starting SIP call to ${this.phoneNumber}...`
        : `[BRIDGE] Audio track published. Answering the call from ${this.phoneNumber}...`,
    );
    if (this.leg.dialled === undefined) this.mark('inviteSent');
    const answering = this.leg.connect(local, this.log);
    answering.catch(() => undefined); // awaited below
    if (this.leg.dialled !== undefined) {
      await this.leg.dialled();
      this.mark('inviteSent');
    }
    if (joined === undefined) {
      joined = this.joinRoom(stop);
      joined.catch(this.endByError);
    }
    const answer = await answering;
    if (stop.aborted) return;
    this.answer = answer;
    this.ringback?.stop();
    const neg = answer.negotiated;
    this.mark('answered');
    this.answeredAt = this.clock.now();
    // RTP starts at the answer, even if the room is still being joined; the phone's audio
    // before the track is published is dropped (counted: stats().livekit)
    if (media !== undefined && neg !== undefined) {
      startMedia(media, neg);
      this.mark('firstRtpSent');
    }
    // Read once joined: an answer that beats the join (the first call of a process loads rtc-node) found none yet.
    if (!(await joined)) return;
    const participant = this.participant;
    if (participant === undefined) return;
    const stream = this.leg.stream?.();
    if (stream !== undefined) {
      this.stream = stream;
      stream.setAutoClear(this.opts.autoClear !== false);
      wireStream(stream, {
        ...phone,
        interrupted: (i) => this.emit('interrupted', i),
        playback: (i) => this.emit('playback', i),
      });
    }
    this.stage = 'answered';
    void bestEffortAsync(
      this.log,
      '[BRIDGE] Setting sip.callIDFull and sip.callTag',
      participant.setAttributes(answerAttributes(answer, this.direction, this.opts.includeHeaders)),
    );
    const info = answeredInfo(this.callId, answer, this.timings.answered ?? 0);
    const session = this.leg.session();
    if (session !== undefined) this.control.attach(session);
    this.emit('answered', info);
    this.resolveAnswered(info);
    for (const info of participant.agentTracks())
      this.log.info(`[BRIDGE] Agent track subscribed: ${info.identity}`);
    if (this.opts.dtmf !== undefined && this.opts.dtmf !== '') await this.automate(this.opts.dtmf);
    if (this.gotFirstRtp) this.becomeActive();
  }

  /**
   * Builds the participant with every room handler attached, then joins the room and
   * publishes the phone's track. Resolves false when the call was stopped meanwhile.
   */
  private async joinRoom(stop: AbortSignal): Promise<boolean> {
    const { livekit, exotel } = this.config;
    const timeouts = this.opts.timeouts ?? {};
    const participant = await createBridgeParticipant({
      livekit,
      roomName: this.roomName,
      identity: this.identity,
      name: this.opts.participantName ?? this.phoneNumber,
      phoneNumber: this.phoneNumber,
      attributes: {
        'sip.callID': this.callId,
        'sip.callStatus': this.callStatus,
        'sip.phoneNumber': this.phoneNumber,
        'sip.trunkPhoneNumber': this.party.trunkPhoneNumber,
        'sip.hostname': this.party.hostname ?? exotel?.sipHost ?? '',
        ...this.party.attributes,
        ...this.opts.attributes,
      },
      isAgent: this.opts.isAgent,
      directFfi: this.opts.directFfi,
      connectTimeoutMs: timeouts.connectMs,
      sampleRate: this.leg.sampleRate,

      media: this.opts.livekitMedia,
      log: this.log,
      clock: this.clock,
      remoteHeaders: () => ({ ...(this.answer?.remoteHeaders ?? {}) }),
      rpcMethods: this.control.rpcMethods(),
    });
    // teardown may have passed its LiveKit step while rtc-node was loading
    if (stop.aborted) return participant.close().then(() => false);
    this.participant = participant;
    this.roomWatch = watchRoom(participant, this.clock, timeouts, this.log, (reason, error) =>
      this.end(reason, error),
    );
    attachRoomHandlers(participant, this.log, {
      end: (reason) => this.end(reason),
      agentTrackSubscribed: (identity) => {
        if (this.stage === 'answered') this.log.info(`[BRIDGE] Agent track subscribed: ${identity}`);
      },
      agentAudio: this.onAgentAudio,
      roomDtmf: (digit) => this.control.roomDtmf(digit),
    });
    this.ringbackIntoRoom(); // the phone may be ringing already
    this.log.info(`[BRIDGE] Connecting to LiveKit room: ${this.roomName}`);
    const ok = await joinAndPublish(participant, stop, this.log, (what) => this.mark(what));
    if (ok && this.stage === 'starting') this.stage = 'connected';
    // what the room missed while we joined (the token carried the status at its creation)
    if (ok && this.callStatus !== 'dialing') this.pushStatus();
    return ok;
  }

  /** The `dtmf` option: `automation` while the digits go out, then `active` (LiveKit SIP's statuses). */
  private async automate(digits: string): Promise<void> {
    this.automating = true;
    this.setStatus('automation');
    this.log.info(`[BRIDGE] Sending DTMF ${digits} after the answer`);
    await bestEffortAsync(this.log, '[BRIDGE] DTMF after the answer', this.control.sendDtmf(digits));
    this.automating = false;
  }

  private readonly onPhoneAudio = (samples: Int16Array): void => {
    this.participant?.captureAudio(samples);
    if (this.opts.audioTaps === true) this.emit('audio', { from: 'phone', samples });
  };

  private readonly onRinging = (): void => {
    this.setStatus('ringing');
    this.ringbackIntoRoom();
  };

  /** Outbound without early media: a ringback tone into the room, if asked, until the answer. */
  private ringbackIntoRoom(): void {
    if (this.direction !== 'outbound' || this.ringback !== undefined || this.participant === undefined)
      return;
    if (this.callStatus !== 'ringing' || this.stage !== 'calling' || this.earlyMediaStarted) return;
    this.ringback = ringbackIntoRoom(this.opts.ringbackTone, this.clock, this.participant, this.log);
  }

  /** Outbound: the far end's early media (a 183 with SDP) reaches the room before the answer. */
  private readonly onEarlyMedia = (neg: NegotiatedSdp): void => {
    const media = this.media;
    if (media === undefined || this.stage !== 'calling') return;
    this.earlyMediaStarted = true;
    this.ringback?.stop();
    this.log.info(
      `[BRIDGE] Early media from ${neg.remoteAddress}:${neg.remotePort}: its audio reaches the room`,
    );
    startMedia(media, neg);
    this.emit('earlyMedia');
  };

  private readonly onAgentAudio = (samples: Int16Array): void => {
    if (this.stage !== 'answered' || !this.control.forwardingToPhone) return;
    if (this.stream !== undefined) this.stream.writeAudio(samples);
    else if (this.media !== undefined) {
      if (!this.forwardingAgent) this.log.info('[BRIDGE] Forwarding agent audio to RTP');
      this.forwardingAgent = true;
      this.media.writeAudio(samples, 8000);
    } else return;
    if (this.opts.audioTaps === true) this.emit('audio', { from: 'room', samples });
  };

  private readonly onFirstRtp = (): void => {
    this.mark('firstRtpReceived');
    this.gotFirstRtp = true;
    if (this.stage === 'answered') this.becomeActive();
  };

  private becomeActive(): void {
    if (this.callStatus === 'active' || this.callStatus === 'hangup' || this.automating) return;
    this.mark('active');
    this.setStatus('active');
    this.emit('audioReady');
  }

  private setStatus(status: BridgeCallStatus): void {
    if (this.callStatus === status || this.callStatus === 'hangup') return;
    this.callStatus = status;
    this.emit('status', status);
    this.pushStatus();
  }

  /** `sip.callStatus` into the room (a no-op until the participant has joined). */
  private pushStatus(): void {
    const p = this.participant;
    if (p === undefined) return;
    const status = this.callStatus;
    void bestEffortAsync(
      this.log,
      '[BRIDGE] Setting sip.callStatus',
      p.setAttributes({ 'sip.callStatus': status }),
    );
  }

  private readonly onSipEnded = (e: CallEnded, reason?: BridgeEndReason): void => {
    this.end(reason ?? endReasonOfSip(e, this.answer !== undefined), e.error, e.status);
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
    this.roomWatch?.stop();
    this.ringback?.stop();
    this.ac.abort();
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    const info = this.endInfo!;
    // no-op once `answered` resolved; an answered call whose room join failed rejects here
    this.rejectAnswered(unansweredError(info));
    const participant = this.participant;
    const leaving = info.reason === 'participant-removed' || info.reason === 'room-deleted';
    // Agents watch sip.callStatus: say `hangup` while still connected.
    if (participant?.isConnected && !leaving) {
      this.callStatus = 'hangup';
      this.emit('status', 'hangup');
      await withTimeout(
        participant.setAttributes({ 'sip.callStatus': 'hangup' }),
        HANGUP_STATUS_TIMEOUT_MS,
        this.clock,
      );
    } else {
      this.callStatus = 'hangup';
      this.emit('status', 'hangup');
    }
    // Reverse order of setup: SIP (BYE/CANCEL), RTP, LiveKit, the SIP client lease.
    if (prev !== 'ended') await bestEffortAsync(this.log, '[BRIDGE] SIP hangup', this.leg.hangup());
    if (this.media) await bestEffortAsync(this.log, '[BRIDGE] Closing RTP', this.media.close());
    // rtc-node's disconnect waits for a native callback; a stuck one must not keep the
    // call from ending (the host awaits `ended`). Bounded, and said in the log.
    if (participant !== undefined) {
      const closed = await withTimeout(participant.close(), PARTICIPANT_CLOSE_TIMEOUT_MS, this.clock);
      if (!closed) {
        this.log.warn(
          `[BRIDGE] LiveKit participant did not close within ${PARTICIPANT_CLOSE_TIMEOUT_MS} ms; ending the call anyway`,
        );
      }
    }
    this.leg.release();
    this.stage = 'ended';
    this.mark('ended');
    const talkMs = this.answeredAt > 0 ? Math.round(this.clock.now() - this.answeredAt) : 0;
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
  const { config, phoneNumber } = resolveBridgeOptions(options);
  const t = options.timeouts ?? {};
  const leg = new OutboundLeg({
    exotel: config.exotel,
    to: phoneNumber,
    headers: options.sipHeaders,
    ringingTimeoutMs: t.ringingMs,
    maxDurationMs: t.maxDurationMs,
    tuning: options.sipTimers !== undefined ? { timers: options.sipTimers } : {},
  });
  const call = new BridgeCall(config, options, phoneNumber, leg, {
    trunkPhoneNumber: config.exotel.callerId,
  });
  void call.run();
  return call;
}
