/**
 * The SIP side of a bridged call, in either direction. `BridgeCall` drives the room and
 * the media the same way for both; a leg decides how the phone gets on the line: the
 * outbound leg leases the shared trunk client and dials, the inbound leg answers the
 * INVITE that arrived. Both report the answer and the end of the SIP call in one shape.
 */
import type { ExotelSettings } from './config.js';
import type { BridgeEndReason } from './bridge-events.js';
import type { Logger } from './logger.js';
import { negotiateSdp, type NegotiatedSdp } from './sdp/negotiate.js';
import { createSdpOffer } from './sdp/offer-answer.js';
import type { CallEnded } from './sip/call-types.js';
import type { CallSession } from './sip/session.js';
import type { OutboundCall } from './sip/invite-client.js';
import type { AgentStreamMedia } from './agentstream/media.js';
import { acquireSipClient, type SipClientTuning, type SipClientLease } from './sip-client-pool.js';
import { BridgeError } from './errors.js';

/** What the phone's side agreed to once the call is answered. */
export interface LegAnswer {
  /** SIP legs: the media the SDP offer/answer agreed. */
  negotiated?: NegotiatedSdp;
  /** Legs without SDP (AgentStream): the peer carrying the audio, and its format. */
  remote?: { address: string; port: number; codec: 'L16' };
  /** Participant attributes only the answer tells (AgentStream: the stream's sid, its parameters). */
  attributes?: Readonly<Record<string, string>>;
  /** The SIP Call-ID. */
  sipCallId: string;
  /** The far end's dialog tag (`sip.callTag`). */
  remoteTag: string;
  /** The far end's `X-` headers (the 200 OK's outbound, the INVITE's inbound). */
  remoteHeaders: Readonly<Record<string, string>>;
  /** Every header of that message (first value of each name). */
  allHeaders: Readonly<Record<string, string>>;
}

/** What the leg reports while it connects. */
export interface LegHooks {
  /** A 180/183 arrived (outbound) or was sent (inbound). */
  onRinging(): void;
  /** Outbound: a 183 carried SDP; media may flow before the answer. */
  onEarlyMedia?(negotiated: NegotiatedSdp): void;
  /** The SIP call ended, whatever the cause (exactly once); `reason` when the leg knows better than the SIP outcome. */
  onEnded(ended: CallEnded, reason?: BridgeEndReason): void;
}

/** The SIP side of one bridged call. */
export interface BridgeLeg {
  readonly direction: 'outbound' | 'inbound';
  /** Inbound: answer only once an agent is in the room, waiting at most this long (else 480). */
  readonly answerAfterAgentMs?: number;
  /**
   * Gets ready while LiveKit connects (outbound: starts the shared trunk client); nothing is
   * sent yet. From now on the leg reports through `hooks` (an inbound caller may hang up now).
   */
  prepare(log: Logger, hooks: LegHooks): Promise<void>;
  /** Dials (outbound) or answers (inbound) with our RTP address; resolves once answered. */
  connect(local: { ip: string; port: number }, log: Logger): Promise<LegAnswer>;
  /**
   * Outbound: resolves once the transport has written the INVITE of `connect()` (after
   * opening the trunk connection if there was none), or the call ended before (the bridge
   * loads rtc-node only then, so that its synchronous load does not hold the INVITE back).
   */
  dialled?(): Promise<void>;
  /** Ends the SIP call if it is still up: CANCEL or BYE (outbound), a final response or BYE (inbound). */
  hangup(): Promise<void>;
  /**
   * Inbound, by option: once our RTP socket is open, send 183 with our SDP answer and return
   * the media to start at once (the caller then hears ringback until the answer).
   */
  earlyMedia?(local: { ip: string; port: number }): NegotiatedSdp | undefined;
  /** Inbound: refuses the call before the answer with a final status (480 when no agent came). */
  refuse?(status: number): void;
  /** The answered dialog (re-INVITEs, REFER, INFO), once there is one. */
  session(): CallSession | undefined;
  /**
   * AgentStream legs carry the audio themselves: the stream, once answered (no RTP is
   * opened for them). SIP legs do not have this.
   */
  stream?(): AgentStreamMedia | undefined;
  /** The audio rate of the leg's stream (default 8000: G.711 over RTP). */
  readonly sampleRate?: number;
  /** Gives back what `prepare` took (the trunk client lease). Idempotent. */
  release(): void;
}

/** Options of {@link OutboundLeg}. */
export interface OutboundLegOptions {
  exotel: ExotelSettings;
  to: string;
  headers: Readonly<Record<string, string>> | undefined;
  ringingTimeoutMs: number | undefined;
  maxDurationMs: number | undefined;
  tuning: SipClientTuning;
}

/** Dials the phone through the trunk client shared by every call of the process. */
export class OutboundLeg implements BridgeLeg {
  readonly direction = 'outbound' as const;
  private lease: SipClientLease | undefined;
  private released = false;
  private call: OutboundCall | undefined;
  private sent: Promise<void> | undefined;
  private hooks: LegHooks | undefined;

  constructor(private readonly o: OutboundLegOptions) {}

  async prepare(log: Logger, hooks: LegHooks): Promise<void> {
    this.hooks = hooks;
    const lease = await acquireSipClient(this.o.exotel, log, this.o.tuning);
    // teardown may have passed its release step while the client was starting
    if (this.released) lease.release();
    else this.lease = lease;
  }

  async connect(local: { ip: string; port: number }, log: Logger): Promise<LegAnswer> {
    const lease = this.lease;
    const hooks = this.hooks;
    if (lease === undefined || hooks === undefined)
      throw new BridgeError('CLOSED', 'the SIP client lease was released');
    const { exotel } = this.o;
    const offer = createSdpOffer({
      ip: local.ip,
      port: local.port,
      ...(exotel.codecs !== undefined ? { codecs: exotel.codecs } : {}),
    });
    const call = lease.client.invite({
      to: this.o.to,
      sdp: offer,
      callerId: exotel.callerId,
      fromDomain: exotel.fromDomain,
      ...(this.o.headers !== undefined ? { headers: this.o.headers } : {}),
      ...(this.o.ringingTimeoutMs !== undefined ? { ringingTimeoutMs: this.o.ringingTimeoutMs } : {}),
      ...(this.o.maxDurationMs !== undefined ? { maxDurationMs: this.o.maxDurationMs } : {}),
      logger: log,
    });
    this.call = call;
    this.sent = new Promise<void>((resolve) => {
      call.once('inviteSent', resolve);
      void call.ended.then(() => resolve());
    });
    let early = false;
    call.on('progress', ({ status, sdp }) => {
      if (status === 180 || status === 183) hooks.onRinging();
      if (sdp === undefined || early) return;
      try {
        const negotiated = negotiateSdp(offer, sdp);
        early = true;
        hooks.onEarlyMedia?.(negotiated);
      } catch (err) {
        log.warn({ err: (err as Error).message }, '[SIP] early media SDP not usable: ignored');
      }
    });
    call.on('ended', hooks.onEnded);
    const answer = await call.answered;
    const negotiated = answer.negotiated;
    if (negotiated === undefined)
      throw new BridgeError('SDP_NEGOTIATION', 'the answer carried no usable SDP');
    return {
      negotiated,
      sipCallId: answer.callId,
      remoteTag: answer.remoteTag,
      remoteHeaders: answer.remoteHeaders,
      allHeaders: answer.headers,
    };
  }

  dialled(): Promise<void> {
    return this.sent ?? Promise.resolve();
  }

  hangup(): Promise<void> {
    return this.call?.hangup() ?? Promise.resolve();
  }

  session(): CallSession | undefined {
    return this.call?.dialogSession;
  }

  release(): void {
    this.released = true;
    this.lease?.release();
    this.lease = undefined;
  }
}
