/**
 * The outbound INVITE (RFC 3261 §13.2): sends it, reports provisional responses, answers
 * one digest challenge, CANCELs it (§9.1, never before a provisional response), ACKs the
 * 2xx (and every retransmission of it, §13.2.2.4), and hands the dialog to a
 * {@link CallSession}. An `OutboundCall` is what `ExotelSipClient.invite` returns.
 */
import { EventEmitter } from 'eventemitter3';
import {
  AbortedError,
  CallRejectedError,
  ClosedError,
  SipAuthError,
  SipTimeoutError,
  toBridgeError,
  type BridgeError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { bestEffort, bestEffortAsync } from '../best-effort.js';
import { negotiateSdp, type NegotiatedSdp } from '../sdp/negotiate.js';
import { sdpMediaEndpoint } from '../sdp/text.js';
import { isChallenge, retryWithCredentials } from './auth.js';
import { buildCancel, headerMaps, tagParam } from './builders.js';
import type { CallAnswer, CallEnded, CallEndReason, CallState, OutboundCallEvents } from './call-types.js';
import { Dialog } from './dialog.js';
import type { SipFlow, SipTarget } from './flow.js';
import { getCSeq } from './headers.js';
import type { SipRequest, SipResponse } from './message.js';
import { CallSession, negotiationError, sdpBody } from './session.js';
import { TimerSet } from './timers.js';
import type { InviteClientTransaction } from './transaction-client-invite.js';
import type { ServerTransaction } from './transaction-layer.js';
import type { DialogUsage, UaContext } from './ua-context.js';

/** Default ringing timeout (ms). */
export const DEFAULT_RINGING_TIMEOUT_MS = 60_000;

/** How an {@link OutboundCall} behaves (the options of `invite` that concern the call itself). */
export interface OutboundCallOptions {
  /** Our SDP offer. When given, the answer is negotiated against it (`CallAnswer.negotiated`). */
  sdp?: string;
  /** Aborting hangs up (CANCEL before the answer, BYE after). */
  signal?: AbortSignal;
  /** Give up (CANCEL, `ended` with `'timeout'`) when no final answer came in time. Default 60000; 0 = never. */
  ringingTimeoutMs?: number;
  /** Hang up (BYE, `ended` with `'max-duration'`) this long after the answer. Default: no limit. */
  maxDurationMs?: number;
}

type CallTimer = 'ringing' | 'maxDuration' | 'cancelGuard';
type CancelCause = { reason: CallEndReason; error: BridgeError };

/**
 * One outbound call. Created by `ExotelSipClient.invite`; see {@link OutboundCallEvents}
 * for its events.
 */
export class OutboundCall extends EventEmitter<OutboundCallEvents> implements DialogUsage {
  /** The Call-ID. */
  readonly callId: string;
  /** Resolves with the answer; rejects with `CallRejectedError`, `SipTimeoutError`, `SipAuthError`, `SipTransportError`, `SdpNegotiationError` or `AbortedError`. Never an unhandled rejection. */
  readonly answered: Promise<CallAnswer>;
  /** Resolves once the call has ended, whatever the outcome (never rejects). */
  readonly ended: Promise<CallEnded>;
  /** The 200 OK's `X-` headers (empty until answered). */
  remoteHeaders: Readonly<Record<string, string>> = {};
  private currentState: CallState = 'calling';
  private session: CallSession | undefined;
  private invite: SipRequest | undefined;
  private inviteTx: InviteClientTransaction | undefined;
  private ack: SipRequest | undefined;
  private ackTarget: SipTarget | undefined;
  private flow: SipFlow | undefined;
  private authTried = false;
  private provisionalSeen = false;
  private cancelCause: CancelCause | undefined;
  private cancelSent = false;
  private hangupPromise: Promise<void> | undefined;
  private readonly t: TimerSet<CallTimer>;
  private resolveAnswered!: (a: CallAnswer) => void;
  private rejectAnswered!: (e: BridgeError) => void;
  private resolveEnded!: (e: CallEnded) => void;
  private settled = false;
  private onAbort: (() => void) | undefined;

  /** @internal Created by the client's `invite`. */
  constructor(
    private readonly ctx: UaContext,
    callId: string,
    /** Our user part (the Exophone), for Contact in later requests. */
    private readonly localUser: string,
    private readonly options: OutboundCallOptions,
    private readonly log: Logger,
  ) {
    super();
    this.callId = callId;
    this.t = new TimerSet<CallTimer>(ctx.clock);
    this.answered = new Promise<CallAnswer>((res, rej) => {
      this.resolveAnswered = res;
      this.rejectAnswered = rej;
    });
    this.answered.catch(() => undefined); // callers who never await `answered` see no unhandled rejection
    this.ended = new Promise<CallEnded>((res) => (this.resolveEnded = res));
    const signal = options.signal;
    if (signal !== undefined) {
      this.onAbort = () => {
        this.cancelCause ??= {
          reason: 'cancelled',
          error: new AbortedError('call aborted', { cause: signal.reason }),
        };
        void this.hangup();
      };
      if (signal.aborted) queueMicrotask(this.onAbort);
      else signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** Where the call is: `calling` → `early` (1xx) → `answered` → `ending` → `ended`. */
  get state(): CallState {
    return this.currentState;
  }

  /** The established dialog's session (re-INVITEs, INFO, our own in-dialog requests), once answered. */
  get dialogSession(): CallSession | undefined {
    return this.session;
  }

  /**
   * Hangs up: CANCEL before a final response (once a provisional one arrived, RFC 3261
   * §9.1), BYE after the answer. Resolves once the call has ended. Idempotent.
   */
  hangup(): Promise<void> {
    this.hangupPromise ??= (async () => {
      switch (this.currentState) {
        case 'ended':
          return;
        case 'calling':
        case 'early':
          this.cancelCause ??= {
            reason: 'cancelled',
            error: new AbortedError('call cancelled before the answer'),
          };
          this.requestCancel();
          break;
        case 'answered':
          this.bye('local-bye');
          break;
        case 'ending':
          break;
      }
      await this.ended;
    })();
    return this.hangupPromise;
  }

  // --------------------------------------------------------------- driven by the client

  /** @internal */
  failBeforeStart(error: BridgeError): void {
    this.finish({ reason: error instanceof ClosedError ? 'cancelled' : 'transport-error', error }, error);
  }

  /** @internal Builds and sends the INVITE. */
  begin(build: () => SipRequest): void {
    if (this.currentState === 'ended') return;
    let invite: SipRequest;
    try {
      invite = build();
    } catch (err) {
      const e = toBridgeError(err);
      this.finish({ reason: 'rejected', error: e }, e);
      return;
    }
    if (this.cancelCause !== undefined) {
      // Hung up before anything was sent.
      this.finish({ reason: this.cancelCause.reason }, this.cancelCause.error);
      return;
    }
    this.invite = invite;
    this.startRingingTimer();
    this.sendInvite(invite);
  }

  private startRingingTimer(): void {
    const ringing = this.options.ringingTimeoutMs ?? DEFAULT_RINGING_TIMEOUT_MS;
    if (!(ringing > 0 && Number.isFinite(ringing)) || this.t.running('ringing')) return;
    this.t.start('ringing', ringing, () => {
      this.log.info(`[SIP] No answer within ${ringing} ms: cancelling`);
      this.cancelCause ??= {
        reason: 'timeout',
        error: new SipTimeoutError(`no answer within ${ringing} ms`),
      };
      this.requestCancel();
    });
  }

  private sendInvite(invite: SipRequest): void {
    const { trunk } = this.ctx;
    this.log.info(`[SIP] Sending INVITE to ${trunk.host}:${trunk.port}`);
    this.inviteTx = this.ctx.layer.sendInvite(invite, trunk, {
      onResponse: (res) => this.inviteResponse(res, invite),
      onTimeout: () => {
        const e = new SipTimeoutError('no response to INVITE (Timer B)');
        this.log.warn('[SIP] INVITE timed out (Timer B)');
        // RFC 3261 §8.1.3.1: a transaction timeout is treated as a 408 Request Timeout.
        this.finish({ reason: 'timeout', status: 408, error: e }, this.cancelCause?.error ?? e);
      },
      onTransportError: (e) => {
        this.log.warn({ err: e.message }, '[SIP] transport error on INVITE');
        this.finish({ reason: 'transport-error', error: e }, e);
      },
      onSent: () => this.emit('inviteSent'),
    });
  }

  private inviteResponse(res: SipResponse, invite: SipRequest): void {
    if (this.invite !== invite) return; // a response to the INVITE replaced after a challenge
    this.ctx.observe(res);
    if (this.flow === undefined && res.status < 300) this.flow = this.ctx.layer.flowOf(invite);
    const status = res.status;
    if (status < 200) {
      this.log.info(`[SIP] Received ${status} ${res.reason}`);
      this.provisionalSeen = true;
      if (this.currentState === 'calling') this.currentState = 'early';
      const sdp = sdpBody(res);
      this.emit('progress', { status, reason: res.reason, ...(sdp !== undefined ? { sdp } : {}) });
      if (this.cancelCause !== undefined && !this.cancelSent) this.sendCancel();
      return;
    }
    if (status < 300) {
      this.on2xx(res);
      return;
    }
    this.log.info(`[SIP] Received ${status} ${res.reason}`);
    this.t.stop('ringing');
    if (isChallenge(status)) {
      this.onChallenge(res, invite);
      return;
    }
    if (this.cancelCause !== undefined && (this.cancelSent || status === 487)) {
      this.finish({ reason: this.cancelCause.reason, status }, this.cancelCause.error);
      return;
    }
    const e = new CallRejectedError(status, res.reason);
    this.finish({ reason: 'rejected', status, error: e }, e);
  }

  /** 401/407 (ACKed by the transaction): send the INVITE once more with credentials. */
  private onChallenge(res: SipResponse, invite: SipRequest): void {
    const status = res.status;
    let error: SipAuthError;
    if (this.authTried) {
      error = new SipAuthError(`the trunk rejected our credentials (${status} again)`, status);
    } else if (this.cancelCause !== undefined) {
      this.finish({ reason: this.cancelCause.reason, status }, this.cancelCause.error);
      return;
    } else {
      const retry = retryWithCredentials(invite, res, this.ctx.auth, this.ctx.via());
      if (retry.ok) {
        this.authTried = true;
        this.invite = retry.request;
        this.provisionalSeen = false;
        this.log.info(`[SIP] Re-sending INVITE with credentials (${status})`);
        this.startRingingTimer(); // keeps running from the first INVITE when it still does
        this.sendInvite(retry.request);
        return;
      }
      error = retry.error;
      if (this.ctx.auth !== undefined)
        this.log.warn({ err: error.message }, '[SIP] cannot answer the challenge');
    }
    this.finish({ reason: 'auth-failed', status, error }, error);
  }

  private on2xx(res: SipResponse): void {
    const invite = this.invite;
    if (invite === undefined) return;
    const remoteTag = tagParam(res.headers.get('To') ?? '');
    if (this.session !== undefined) {
      if (remoteTag === this.session.dialog.remoteTag) {
        // A retransmitted 2xx: our ACK was lost. Send it again (RFC 3261 §13.2.2.4).
        this.log.info('[SIP] Received 200 OK again: re-sending ACK');
        this.sendAck();
      } else {
        this.log.warn({ remoteTag }, '[SIP] a second 2xx from another branch: ACK and BYE it');
        this.ackAndByeStray(res, invite);
      }
      return;
    }
    this.log.info(`[SIP] Received ${res.status} ${res.reason}`);
    this.t.stop('ringing');
    let dialog: Dialog;
    try {
      dialog = Dialog.fromUacResponse(invite, res);
    } catch (err) {
      const e = toBridgeError(err);
      this.log.error({ err: e.message }, '[SIP] unusable 2xx');
      this.finish({ reason: 'transport-error', error: e }, e);
      return;
    }
    const session = new CallSession({
      ctx: this.ctx,
      dialog,
      localUser: this.localUser,
      localSdp: this.options.sdp,
      flow: this.flow,
      log: this.log,
    });
    this.session = session;
    session.on('mediaUpdate', (u) => this.emit('mediaUpdate', u));
    session.on('info', (i) => this.emit('info', i));
    session.on('ended', (e) => this.finish(e, e.error));
    this.ack = dialog.createRequest('ACK', { ackOf: getCSeq(invite).seq });
    this.ack.headers.prepend('Via', this.ctx.via());
    for (const h of ['Authorization', 'Proxy-Authorization']) {
      const v = invite.headers.get(h);
      if (v !== undefined) this.ack.headers.append(h, v);
    }
    this.ackTarget = session.target();
    // Negotiate before the ACK so the log reads answered → ACK; the ACK goes out either way.
    const answerSdp = sdpBody(res) ?? '';
    let negotiated: NegotiatedSdp | undefined;
    let failure: BridgeError | undefined;
    if (this.cancelCause === undefined) {
      if (this.options.sdp !== undefined) {
        try {
          negotiated = negotiateSdp(this.options.sdp, answerSdp);
          this.log.info(
            `[SIP] Call answered. Remote RTP endpoint: ${negotiated.remoteAddress}:${negotiated.remotePort}`,
          );
        } catch (err) {
          failure = negotiationError(err);
        }
      } else {
        this.log.info(
          `[SIP] Call answered. Remote RTP endpoint: ${sdpMediaEndpoint(answerSdp) ?? 'unknown'}`,
        );
      }
    }
    this.sendAck();
    this.currentState = 'answered';
    if (this.cancelCause !== undefined) {
      // CANCEL raced the 200 (or we gave up meanwhile): the call is up; end it with BYE (§9.1, §15).
      this.bye(this.cancelCause.reason, this.cancelCause.error);
      return;
    }
    const { all: headers, x: remoteHeaders } = headerMaps(res);
    this.remoteHeaders = remoteHeaders;
    if (failure !== undefined) {
      this.log.warn({ err: failure.message }, '[SIP] SDP answer not usable: hanging up');
      this.bye('negotiation-failed', failure);
      return;
    }
    const max = this.options.maxDurationMs;
    if (max !== undefined && max > 0 && Number.isFinite(max)) {
      this.t.start('maxDuration', max, () => {
        this.log.info(`[SIP] Maximum call duration (${max} ms) reached: hanging up`);
        this.bye('max-duration');
      });
    }
    session.startTimer(res, 'uac');
    const answer: CallAnswer = {
      status: res.status,
      reason: res.reason,
      sdp: answerSdp,
      ...(negotiated !== undefined ? { negotiated } : {}),
      remoteTag: dialog.remoteTag,
      callId: this.callId,
      remoteHeaders,
      headers,
    };
    this.resolveAnswered(answer);
    this.emit('answered', answer);
  }

  private sendAck(): void {
    const ack = this.ack;
    const target = this.ackTarget;
    if (ack === undefined || target === undefined) return;
    this.log.info('[SIP] Sending ACK');
    this.ctx.layer.sendStateless(ack, target).then(
      (flow) => {
        if (flow.connectionId !== undefined) this.flow ??= flow;
        this.session?.adoptFlow(flow);
      },
      (err: unknown) => this.log.warn({ err: (err as Error).message }, '[SIP] ACK could not be sent'),
    );
  }

  /** A 2xx from another fork: ACK it and end that dialog at once. */
  private ackAndByeStray(res: SipResponse, invite: SipRequest): void {
    const d = bestEffort(this.log, '[SIP] dialog of a stray 2xx', () => Dialog.fromUacResponse(invite, res));
    if (d === undefined || this.session === undefined) return;
    const ack = d.createRequest('ACK', { ackOf: getCSeq(invite).seq });
    ack.headers.prepend('Via', this.ctx.via());
    const target = this.session.targetFor(d.nextHop(this.ctx.protocol));
    void bestEffortAsync(this.log, '[SIP] ACK of a stray 2xx', this.ctx.layer.sendStateless(ack, target));
    const stray = new CallSession({
      ctx: this.ctx,
      dialog: d,
      localUser: this.localUser,
      localSdp: undefined,
      flow: target.flow,
      log: this.log,
    });
    stray.bye('local-bye');
  }

  private requestCancel(): void {
    if (this.currentState !== 'calling' && this.currentState !== 'early') return;
    // RFC 3261 §9.1: no CANCEL before a provisional response; it is sent when one arrives.
    if (this.provisionalSeen) this.sendCancel();
    // Whatever happens, do not wait forever for the INVITE to end.
    if (!this.t.running('cancelGuard')) {
      this.t.start('cancelGuard', 64 * this.ctx.timers.t1, () => {
        const cause = this.cancelCause;
        this.finish(
          { reason: cause?.reason ?? 'cancelled' },
          cause?.error ?? new AbortedError('call cancelled'),
        );
      });
    }
  }

  private sendCancel(): void {
    const invite = this.invite;
    if (invite === undefined || this.cancelSent) return;
    this.cancelSent = true;
    const cancel = buildCancel(invite, this.ctx.userAgent);
    this.log.info('[SIP] Sending CANCEL');
    const target: SipTarget = { ...this.ctx.trunk, flow: this.ctx.layer.flowOf(invite) };
    bestEffort(this.log, '[SIP] CANCEL', () =>
      this.ctx.layer.sendRequest(cancel, target, {
        onResponse: (r) => {
          if (r.status >= 200) this.log.info(`[SIP] Received ${r.status} ${r.reason} (CANCEL)`);
        },
        onTimeout: () => this.log.warn('[SIP] CANCEL timed out'),
        onTransportError: (e) => this.log.warn({ err: e.message }, '[SIP] CANCEL could not be sent'),
      }),
    );
  }

  private bye(reason: CallEndReason, error?: BridgeError): void {
    const session = this.session;
    if (session === undefined || this.currentState === 'ending' || this.currentState === 'ended') return;
    this.currentState = 'ending';
    this.t.stop('maxDuration');
    session.bye(reason, error);
  }

  // --------------------------------------------------------------- DialogUsage

  /** @internal A response that matched no transaction: a late 2xx retransmission. */
  strayResponse(res: SipResponse): void {
    if (res.status < 200 || res.status >= 300) return;
    const cseq = bestEffort(this.log, '[SIP] CSeq of a stray response', () => getCSeq(res));
    const invite = this.invite;
    // Only a late 2xx of *our INVITE* is ACKed here (with that INVITE's CSeq). A 2xx of a
    // re-INVITE retransmitted after its transaction ended must not get this ACK; its own
    // retransmissions stop by themselves (64·T1).
    if (cseq?.method !== 'INVITE' || invite === undefined || cseq.seq !== getCSeq(invite).seq) return;
    this.on2xx(res);
  }

  /** @internal Whether this call's signalling uses that flow. */
  usesFlow(flow: SipFlow): boolean {
    const mine = this.session?.signallingFlow ?? this.flow;
    return (
      mine !== undefined &&
      ((flow.connectionId !== undefined && flow.connectionId === mine.connectionId) ||
        (flow.remoteAddress === mine.remoteAddress && flow.remotePort === mine.remotePort))
    );
  }

  /** @internal A stream connection closed (before the answer the INVITE transaction reports it itself). */
  connectionClosed(flow: SipFlow, error: BridgeError | undefined): void {
    if (this.currentState === 'answered' || this.currentState === 'ending')
      this.session?.connectionClosed(flow, error);
  }

  /** @internal A request for this Call-ID; `false` when it does not belong to the dialog. */
  handleRequest(req: SipRequest, tx: ServerTransaction | undefined, flow: SipFlow): boolean {
    return this.session?.handleRequest(req, tx, flow) ?? false;
  }

  /** @internal Stops everything without signalling (client close after the grace period). */
  abandon(): void {
    this.finish(
      { reason: this.cancelCause?.reason ?? 'cancelled' },
      this.cancelCause?.error ?? new ClosedError('ExotelSipClient'),
    );
  }

  private finish(ended: CallEnded, answerError: BridgeError | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.currentState = 'ended';
    this.t.clearAll();
    this.session?.stop();
    // A CANCELled INVITE that never got its final response would otherwise linger.
    const tx = this.inviteTx;
    if (tx !== undefined && (tx.state === 'calling' || tx.state === 'proceeding')) tx.terminate();
    if (this.options.signal !== undefined && this.onAbort !== undefined) {
      this.options.signal.removeEventListener('abort', this.onAbort);
    }
    this.rejectAnswered(answerError ?? new ClosedError('call'));
    this.ctx.release(this.callId, this);
    this.log.info(
      { reason: ended.reason, status: ended.status },
      `[SIP] Call ended (${ended.reason}${ended.status !== undefined ? `, ${ended.status}` : ''})`,
    );
    this.resolveEnded(ended);
    this.emit('ended', ended);
  }
}
