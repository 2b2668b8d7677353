/**
 * A confirmed dialog's usage, the same for both call directions (RFC 3261 §12-15,
 * RFC 4028): requests from the far end inside the dialog (BYE, re-INVITE and UPDATE
 * offers answered from our SDP, OPTIONS, INFO with DTMF, NOTIFY of our REFER, CANCEL of
 * nothing), our own in-dialog requests with one digest retry, hold and resume by
 * re-INVITE (RFC 3264 §8.4, glare per RFC 3261 §14.1), cold transfer by REFER (RFC 3515),
 * the session timer, and where in-dialog requests go. A reader who wants "what happens on
 * hold" opens this file and nothing else.
 *
 * A REFER from the far end (it transferring us) is answered 501 Not Implemented: the
 * bridge never places a call on the far end's behalf.
 */
import { EventEmitter } from 'eventemitter3';
import {
  ClosedError,
  ReinviteError,
  SdpNegotiationError,
  SipTransportError,
  TransferError,
  toBridgeError,
  type BridgeError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { bestEffort } from '../best-effort.js';
import { cryptoRandom, type RandomSource } from '../random.js';
import { createSdpAnswer } from '../sdp/offer-answer.js';
import { negotiateSdp, type NegotiatedSdp } from '../sdp/negotiate.js';
import { reviseSdp, sessionVersionOf } from '../sdp/text.js';
import { isChallenge, retryWithCredentials } from './auth.js';
import { buildResponse } from './builders.js';
import type { CallEndReason, CallEnded, CallSessionEvents, ReferResult } from './call-types.js';
import { contactUri, type Dialog, type NextHop } from './dialog.js';
import { parseDtmfInfo } from './dtmf-info.js';
import type { SipFlow, SipTarget } from './flow.js';
import { getSessionExpires, parseAddressHeader } from './headers.js';
import type { SipMessage, SipRequest, SipResponse } from './message.js';
import { ReferSubscription, referTarget, type ReferOptions } from './refer.js';
import { GLARE_MAX_MS, glareDelayMs, sendReinvite } from './reinvite.js';
import { TimerSet } from './timers.js';
import type { InviteServerTransaction } from './transaction-server.js';
import type { ServerTransaction } from './transaction-layer.js';
import type { UaContext } from './ua-context.js';

/** Where a session is: up, BYE sent, or over. */
export type SessionState = 'active' | 'ending' | 'ended';

/** Options of {@link CallSession}. */
export interface CallSessionOptions {
  readonly ctx: UaContext;
  readonly dialog: Dialog;
  /** Our user part in Contact (the Exophone). */
  readonly localUser: string;
  /** Our current SDP (offer or answer); re-INVITE offers are answered from it. */
  readonly localSdp: string | undefined;
  /** The stream flow the dialog's signalling travels on, when known. */
  readonly flow: SipFlow | undefined;
  readonly log: Logger;
  /** Random source of the glare back-off (RFC 3261 §14.1); default `crypto.randomBytes`. */
  readonly random?: RandomSource;
}

/** Result of an in-dialog request: the final status, or `undefined` after a timeout or transport failure. */
export type InDialogResult =
  | {
      /** The final response's status. */
      status: number;
      /** The final response. */
      response: SipResponse;
    }
  | {
      /** No final response: the request timed out or the transport failed. */
      status: undefined;
    };

type SessionTimer = 'sessionRefresh' | 'glare';

/** The SDP body of a message, when it has one (`Content-Type` absent or `application/sdp`). */
export function sdpBody(msg: SipMessage): string | undefined {
  if (msg.body.length === 0) return undefined;
  const ct = msg.headers.get('Content-Type');
  if (ct !== undefined && !/^\s*application\/sdp\s*(;|$)/i.test(ct)) return undefined;
  return new TextDecoder().decode(msg.body);
}

/**
 * One established dialog and what happens inside it. Emits `mediaUpdate`, `info`, `dtmf`,
 * `referProgress`, `localHold` and, exactly once, `ended` (see {@link CallSessionEvents}).
 * The owning call decides what the end means for it.
 */
export class CallSession extends EventEmitter<CallSessionEvents> {
  private current: SessionState = 'active';
  private flow: SipFlow | undefined;
  private localSdp: string | undefined;
  /** The `o=` version of the last SDP we sent (RFC 3264 §8: each new one is one higher). */
  private sdpVersion: bigint;
  /** The last SDP we sent, to tell whether an offer repeats it unchanged. */
  private lastSentSdp: string | undefined;
  private reinviteTx: InviteServerTransaction | undefined;
  /** Our 2xx to the far end's re-INVITE is out and its ACK not yet in. */
  private awaitingAck = false;
  /** Our re-INVITE transaction is in progress (a far end's offer meanwhile gets 491). */
  private inFlight = false;
  /** A re-INVITE of ours is on its way, back-off included (a session refresh waits). */
  private busy = false;
  private held = false;
  private offers: Promise<void> = Promise.resolve();
  private referral: ReferSubscription | undefined;
  private readonly random: RandomSource;
  private readonly t: TimerSet<SessionTimer>;
  private readonly ctx: UaContext;
  private readonly log: Logger;
  /** @internal The dialog's state: Call-ID, tags, CSeq, route set, remote target. */
  readonly dialog: Dialog;
  private readonly localUser: string;

  /** @internal Made by the call (either direction) once its dialog is confirmed. */
  constructor(options: CallSessionOptions) {
    super();
    this.ctx = options.ctx;
    this.dialog = options.dialog;
    this.localUser = options.localUser;
    this.localSdp = options.localSdp;
    this.flow = options.flow;
    this.log = options.log;
    this.random = options.random ?? cryptoRandom;
    this.t = new TimerSet<SessionTimer>(this.ctx.clock);
    const sdp = options.localSdp;
    this.lastSentSdp = sdp;
    this.sdpVersion =
      (sdp !== undefined
        ? bestEffort(this.log, '[SIP] o= version of our SDP', () => sessionVersionOf(sdp))
        : undefined) ?? 0n;
  }

  /** `active` → `ending` (our BYE is out) → `ended`. */
  get state(): SessionState {
    return this.current;
  }

  /** Our SDP now in effect. */
  get sdp(): string | undefined {
    return this.localSdp;
  }

  /** Whether we hold the call (our SDP says `sendonly` after {@link hold}). */
  get onHold(): boolean {
    return this.held;
  }

  /** The stream flow of the dialog, once known. */
  get signallingFlow(): SipFlow | undefined {
    return this.flow;
  }

  /** Remembers the stream flow a request of the dialog went or came on. */
  adoptFlow(flow: SipFlow): void {
    if (flow.connectionId !== undefined) this.flow ??= flow;
  }

  // ------------------------------------------------------------------ requests from the far end

  /** @internal A request for this Call-ID. `false` when it does not belong to the dialog. */
  handleRequest(req: SipRequest, tx: ServerTransaction | undefined, flow: SipFlow): boolean {
    const dialog = this.dialog;
    if (!dialog.matchesRequest(req)) return false;
    if (req.method === 'ACK') {
      this.reinviteTx?.ackReceived(); // the ACK of our 2xx to a re-INVITE
      this.awaitingAck = false;
      return true;
    }
    if (tx === undefined) return true;
    if (!dialog.acceptRemoteCSeq(req)) {
      tx.respond(this.response(req, 500));
      return true;
    }
    this.adoptFlow(flow);
    switch (req.method) {
      case 'BYE':
        tx.respond(this.response(req, 200));
        this.log.info('[SIP] Received BYE: call ended by the far end');
        this.end({ reason: 'remote-bye' });
        return true;
      case 'INVITE':
        this.answerOffer(req, tx, true);
        return true;
      case 'UPDATE':
        this.answerOffer(req, tx, false);
        return true;
      case 'OPTIONS':
        tx.respond(this.response(req, 200, [['Allow', this.ctx.allow]]));
        return true;
      case 'INFO':
        tx.respond(this.response(req, 200));
        this.emit('info', { contentType: req.headers.get('Content-Type'), body: req.body });
        this.dtmfInfo(req);
        return true;
      case 'NOTIFY':
        // Only our REFER subscribes to anything; any other NOTIFY is for no subscription.
        tx.respond(this.response(req, this.referral?.notify(req) ?? 481));
        return true;
      case 'CANCEL':
        // Our answers to re-INVITEs are immediate: nothing is left to cancel.
        tx.respond(this.response(req, 200));
        return true;
      default:
        // REFER from the far end (and anything else): not implemented, see the module notes.
        tx.respond(this.response(req, 501, [['Allow', this.ctx.allow]]));
        return true;
    }
  }

  /**
   * A re-INVITE or UPDATE: refresh the remote target and answer the offer from our SDP
   * (RFC 3264 §8), with a session version that grows with every answer. No offer, or no
   * SDP of ours: keep the session as is.
   */
  private answerOffer(req: SipRequest, tx: ServerTransaction, isInvite: boolean): void {
    const offer = sdpBody(req);
    // RFC 3261 §14.2 and RFC 3311 §5.2: an offer while ours is outstanding is glare.
    if (this.current !== 'active' || (this.inFlight && (isInvite || offer !== undefined))) {
      tx.respond(this.response(req, 491));
      return;
    }
    this.dialog.refreshTarget(req);
    const contact: [string, string] = ['Contact', this.ctx.contact(this.localUser)];
    const local = this.localSdp;
    if (isInvite) {
      this.reinviteTx = tx as InviteServerTransaction;
      this.awaitingAck = true;
    }
    if (offer === undefined || local === undefined) {
      tx.respond(
        this.response(req, 200, [contact], isInvite && local !== undefined ? this.currentOffer() : undefined),
      );
      if (req.headers.get('Session-Expires') !== undefined) this.startTimer(req, 'uas');
      return;
    }
    let answer: string;
    let negotiated: NegotiatedSdp;
    try {
      // Answer from our own offer (held or not), so the far end's hold does not narrow later answers.
      answer = reviseSdp(createSdpAnswer(offer, local), { sessionVersion: this.sdpVersion + 1n });
      negotiated = negotiateSdp(answer, offer, { allowHold: true });
      this.sdpVersion += 1n;
      this.lastSentSdp = answer;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.log.warn({ err: msg }, `[SIP] ${req.method} offer not acceptable`);
      tx.respond(this.response(req, 488));
      return;
    }
    tx.respond(this.response(req, 200, [contact], answer));
    this.log.info(
      `[SIP] Media updated by the far end: ${negotiated.remoteAddress}:${negotiated.remotePort} (${negotiated.direction})`,
    );
    this.emit('mediaUpdate', { sdp: offer, answer, negotiated });
  }

  /**
   * Our SDP as an offer (a re-INVITE without offer, a session refresh): unchanged when it
   * is the last SDP we sent, else with the next session version (RFC 3264 §8).
   */
  private currentOffer(): string | undefined {
    const local = this.localSdp;
    if (local === undefined || local === this.lastSentSdp) return local;
    const next = bestEffort(this.log, '[SIP] session version of our offer', () =>
      reviseSdp(local, { sessionVersion: this.sdpVersion + 1n }),
    );
    if (next === undefined) return local;
    this.sdpVersion += 1n;
    this.localSdp = next;
    this.lastSentSdp = next;
    return next;
  }

  /** An INFO carrying DTMF becomes a `dtmf` event; a malformed one is only logged. */
  private dtmfInfo(req: SipRequest): void {
    const parsed = parseDtmfInfo(req.headers.get('Content-Type'), req.body);
    if (parsed.kind === 'malformed') {
      this.log.debug({ why: parsed.why }, '[SIP] INFO with an unreadable DTMF body ignored');
    } else if (parsed.kind === 'dtmf') {
      this.emit('dtmf', {
        digit: parsed.digit,
        ...(parsed.durationMs !== undefined ? { durationMs: parsed.durationMs } : {}),
        via: 'info',
      });
    }
  }

  private response(
    req: SipRequest,
    status: number,
    headers: [string, string][] = [],
    sdp?: string,
  ): SipResponse {
    return buildResponse(req, status, {
      server: this.ctx.userAgent,
      headers,
      ...(sdp !== undefined ? { sdp } : {}),
    });
  }

  // ------------------------------------------------------------------ our requests

  /** Sends BYE (once) and ends the session when it is answered, times out or fails. */
  bye(reason: CallEndReason, error?: BridgeError): void {
    if (this.current !== 'active') return;
    this.current = 'ending';
    this.t.clearAll();
    void this.request('BYE').then((r) =>
      this.end({
        reason,
        ...(r.status !== undefined ? { status: r.status } : {}),
        ...(error ? { error } : {}),
      }),
    );
  }

  /**
   * Sends an in-dialog request and resolves with its final response, answering one 401/407
   * with credentials. Never rejects: a timeout or transport failure resolves `{ status: undefined }`.
   */
  request(
    method: string,
    opts: { body?: string; contentType?: string; headers?: readonly [string, string][] } = {},
  ): Promise<InDialogResult> {
    const req = this.dialog.createRequest(method, {
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}),
    });
    req.headers.prepend('Via', this.ctx.via());
    req.headers.append('User-Agent', this.ctx.userAgent);
    for (const [n, v] of opts.headers ?? []) req.headers.append(n, v);
    return new Promise((resolve) => this.send(req, false, resolve));
  }

  private send(req: SipRequest, retried: boolean, done: (r: InDialogResult) => void): void {
    const method = req.method;
    this.log.info(`[SIP] Sending ${method}`);
    try {
      this.ctx.layer.sendRequest(req, this.target(), {
        onResponse: (r) => {
          if (r.status < 200) return;
          this.log.info(`[SIP] Received ${r.status} ${r.reason} (${method})`);
          if (isChallenge(r.status) && !retried && this.ctx.auth !== undefined) {
            const retry = retryWithCredentials(req, r, this.ctx.auth, this.ctx.via());
            if (retry.ok) {
              this.dialog.localSeq += 1; // the retry took the next CSeq
              this.send(retry.request, true, done);
              return;
            }
            this.log.warn({ err: retry.error.message }, `[SIP] cannot answer the challenge to ${method}`);
          }
          done({ status: r.status, response: r });
        },
        onTimeout: () => {
          this.log.warn(`[SIP] ${method} timed out`);
          done({ status: undefined });
        },
        onTransportError: (e) => {
          this.log.warn({ err: e.message }, `[SIP] ${method} could not be sent`);
          done({ status: undefined });
        },
      });
    } catch (err) {
      // The transaction layer is closed: nothing left to send on.
      this.log.warn({ err: (err as Error).message }, `[SIP] ${method} not sent`);
      done({ status: undefined });
    }
  }

  // ------------------------------------------------------------------ hold and resume (RFC 3264 §8.4)

  /**
   * Puts the call on hold from our side: a re-INVITE whose SDP is ours with `a=sendonly`
   * and the next `o=` version, ACKed on its 2xx. Resolves once the far end accepted it
   * (then `localHold` is emitted with `true`); stop sending audio meanwhile is the
   * caller's business. Idempotent: resolves at once when already held. Calls are queued,
   * one re-INVITE at a time. A 491 (glare) is retried once after 2.1–4 s on the clock.
   *
   * Rejects with `ReinviteError` (a final non-2xx; 481/408 also end the session),
   * `SipTimeoutError` (no answer: the session is ended with BYE, RFC 3261 §12.2.1.2),
   * `SipTransportError`, `SdpNegotiationError` (a 2xx without a usable answer; the hold is
   * in effect anyway) or `ClosedError` (the session is not active).
   */
  hold(): Promise<void> {
    return this.queueOffer(true);
  }

  /** Takes the call off hold: the same as {@link hold} with `a=sendrecv`; `localHold` is emitted with `false`. */
  resume(): Promise<void> {
    return this.queueOffer(false);
  }

  private queueOffer(held: boolean): Promise<void> {
    const run = (): Promise<void> => this.offerDirection(held);
    const p = this.offers.then(run, run);
    this.offers = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  private async offerDirection(held: boolean): Promise<void> {
    if (this.current !== 'active') throw new ClosedError('call session');
    const local = this.localSdp;
    if (local === undefined) throw new SdpNegotiationError('no SDP of ours to put on hold or resume');
    if (held === this.held) return;
    const direction = held ? 'sendonly' : 'sendrecv';
    let offer = local;
    // Made again for a retry: answers given during the back-off took versions meanwhile.
    const makeOffer = (): string =>
      (offer = reviseSdp(local, { direction, sessionVersion: this.sdpVersion + 1n }));
    makeOffer(); // a malformed SDP of ours rejects here, before anything is sent
    this.log.info(`[SIP] ${held ? 'Putting the call on hold' : 'Resuming the call'} (re-INVITE)`);
    this.busy = true;
    let res: SipResponse;
    try {
      res = await this.reinvite(makeOffer);
    } finally {
      this.busy = false;
    }
    // The offer/answer exchange is complete: our SDP is the offer we made.
    this.sdpVersion += 1n;
    this.localSdp = offer;
    this.lastSentSdp = offer;
    this.held = held;
    this.dialog.remoteTarget = contactUri(res) ?? this.dialog.remoteTarget;
    const answer = sdpBody(res);
    let negotiated: NegotiatedSdp | undefined;
    let failure: SdpNegotiationError | undefined;
    try {
      if (answer === undefined) throw new SdpNegotiationError('the 2xx to our re-INVITE has no SDP answer');
      negotiated = negotiateSdp(offer, answer, { allowHold: true });
    } catch (err) {
      failure = negotiationError(err);
      this.log.warn({ err: failure.message }, '[SIP] answer to our re-INVITE not usable');
    }
    this.emit('localHold', held, negotiated);
    if (failure !== undefined) throw failure;
  }

  /** Our re-INVITE with `sdp()` (see {@link sendReinvite}); 481/408 end the session, no answer sends BYE. */
  private reinvite(sdp: () => string, extra: readonly [string, string][] = []): Promise<SipResponse> {
    return sendReinvite(
      {
        ctx: this.ctx,
        dialog: this.dialog,
        log: this.log,
        target: () => this.target(),
        active: () => this.current === 'active',
        awaitingAck: this.awaitingAck,
        inFlight: (on) => (this.inFlight = on),
        backOff: (fn) => {
          const ms = glareDelayMs(this.random);
          this.log.info(`[SIP] re-INVITE glare: trying again in ${ms} ms`);
          this.t.start('glare', ms, fn);
        },
        dialogGone: (status) => this.end({ reason: 'remote-bye', status }),
        timedOut: (e) => this.bye('timeout', e),
      },
      sdp,
      extra,
    );
  }

  // ------------------------------------------------------------------ transfer (RFC 3515)

  /**
   * Cold transfer: asks the far end (Exotel) with REFER to call `target` and waits for the
   * outcome it reports in NOTIFYs (`Event: refer`, `message/sipfrag` bodies, each answered
   * 200 and emitted as `referProgress`). `target` is a phone number (E.164, or national,
   * normalized as for `invite`; sent as `sip:<E.164>@<trunk host>`) or a `sip:`, `sips:` or
   * `tel:` URI. The REFER carries `Referred-By` (our From URI) and gets one digest retry.
   *
   * Resolves `{ status, reason }` on a 2xx sipfrag. Rejects with `TransferError` when the
   * REFER is refused (its status and reason), on a ≥300 sipfrag (its status and reason),
   * when the subscription ends without success, on timeout (default 30 s on the clock,
   * cause `SipTimeoutError`) or when the call ends first; `AbortedError` on abort;
   * `InvalidHeaderError`/`InvalidPhoneNumberError` for a target that is refused (nothing
   * is sent); `ClosedError` when the session is not active. One transfer at a time.
   *
   * It never sends BYE: after a success the caller hangs up (the bridge does), after a
   * failure the call goes on.
   */
  refer(target: string, opts: ReferOptions = {}): Promise<ReferResult> {
    let referTo: string;
    let referredBy: string;
    try {
      referTo = referTarget(target, this.ctx.trunk.host);
      referredBy = `<${parseAddressHeader(this.dialog.localFrom, 'From').uriText}>`;
    } catch (err) {
      return Promise.reject(toBridgeError(err));
    }
    if (this.current !== 'active') return Promise.reject(new ClosedError('call session'));
    const previous = this.referral;
    if (previous !== undefined && !previous.finished && previous.state !== 'settled') {
      return Promise.reject(new TransferError('a transfer is already in progress'));
    }
    const sub = new ReferSubscription(this.ctx.clock, this.log, {
      ...opts,
      onProgress: (p) => this.emit('referProgress', p),
    });
    this.referral = sub;
    this.log.info(`[SIP] Transferring the call to ${referTo}`);
    void this.request('REFER', {
      headers: [
        ['Refer-To', `<${referTo}>`],
        ['Referred-By', referredBy],
        ['Contact', this.ctx.contact(this.localUser)],
        ['Allow', this.ctx.allow],
      ],
    }).then((r) => sub.answered(r.status, r.status !== undefined ? r.response : undefined));
    return sub.result;
  }

  // ------------------------------------------------------------------ session timer (RFC 4028)

  /**
   * Starts the session timer from the message that set it: the 2xx to our INVITE (`uac`)
   * or the far end's INVITE (`uas`). When we are the refresher, we re-INVITE with our SDP
   * at half the interval; otherwise the far end would end the call when it expires.
   */
  startTimer(msg: SipMessage, role: 'uac' | 'uas'): void {
    let se;
    try {
      se = getSessionExpires(msg);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, '[SIP] unusable Session-Expires ignored');
      return;
    }
    if (se === undefined || !(se.seconds > 0)) return;
    // The 2xx names the refresher; absent, the UAC refreshes (RFC 4028 §7.2).
    const refresher = se.refresher ?? 'uac';
    if (refresher !== role) return;
    if (this.localSdp === undefined) {
      this.log.warn('[SIP] the far end asks us to refresh the session, but there is no SDP to refresh with');
      return;
    }
    const seconds = se.seconds;
    this.t.start('sessionRefresh', (seconds * 1000) / 2, () => this.refresh(seconds));
  }

  private refresh(seconds: number): void {
    if (this.current !== 'active') return;
    if (this.busy) {
      // Our hold/resume re-INVITE is on its way: refresh once it is done.
      this.t.start('sessionRefresh', GLARE_MAX_MS, () => this.refresh(seconds));
      return;
    }
    if (this.currentOffer() === undefined) return;
    this.log.info('[SIP] Refreshing the session (re-INVITE)');
    this.busy = true;
    const timer: [string, string][] = [
      ['Supported', 'timer'],
      ['Session-Expires', `${seconds};refresher=uac`],
    ];
    // Our SDP again, with the next version if we answered an offer since (RFC 3264 §8).
    this.reinvite(() => this.currentOffer() ?? '', timer).then(
      (r) => {
        this.busy = false;
        this.startTimer(r, 'uac');
      },
      (err: unknown) => {
        this.busy = false;
        // 481/408 ended the session, a timeout sent BYE; anything else: try again soon.
        if (err instanceof ReinviteError && err.status !== 481 && err.status !== 408)
          this.t.start('sessionRefresh', Math.min(5000, (seconds * 1000) / 4), () => this.refresh(seconds));
      },
    );
  }

  // ------------------------------------------------------------------ routing

  /** Where in-dialog requests go: the route set's first hop, on the live connection when it leads there. */
  target(): SipTarget {
    return this.targetFor(this.dialog.nextHop(this.ctx.protocol));
  }

  /** @internal A target for `hop`, reusing the dialog's connection when it leads to the same place. */
  targetFor(hop: NextHop): SipTarget {
    const flow = this.flow;
    const trunk = this.ctx.trunk;
    const same =
      flow !== undefined &&
      hop.protocol === flow.protocol &&
      ((sameHost(hop.host, flow.remoteAddress) && hop.port === flow.remotePort) ||
        (sameHost(hop.host, trunk.host) && hop.port === trunk.port));
    return { protocol: hop.protocol, host: hop.host, port: hop.port, flow: same ? flow : undefined };
  }

  /** Whether the dialog's signalling uses that flow. */
  usesFlow(flow: SipFlow): boolean {
    const mine = this.flow;
    return (
      mine !== undefined &&
      ((flow.connectionId !== undefined && flow.connectionId === mine.connectionId) ||
        (flow.remoteAddress === mine.remoteAddress && flow.remotePort === mine.remotePort))
    );
  }

  /**
   * A stream connection closed. When it carried this dialog, the session ends with a
   * transport error, and a BYE goes out on a new connection, best effort: the trunk may
   * still hold the call (a proxy restart, a NAT flush).
   */
  connectionClosed(flow: SipFlow, error: BridgeError | undefined): void {
    if (flow.connectionId === undefined || this.flow?.connectionId !== flow.connectionId) return;
    if (this.current === 'ended') return;
    const e = error ?? new SipTransportError('the signalling connection closed');
    this.log.warn({ err: e.message }, '[SIP] signalling connection lost during the call');
    this.flow = undefined;
    const wasActive = this.current === 'active';
    this.end({ reason: 'transport-error', error: e });
    if (wasActive) void this.request('BYE');
  }

  /** Ends the session without signalling (the call ended otherwise). */
  stop(): void {
    this.t.clearAll();
    if (this.current !== 'ended') this.current = 'ended';
    this.referral?.callEnded();
  }

  private end(ended: CallEnded): void {
    if (this.current === 'ended') return;
    this.current = 'ended';
    this.t.clearAll();
    this.referral?.callEnded();
    this.emit('ended', ended);
  }
}

/** Turns a negotiation failure of a 2xx answer into the typed error. */
export function negotiationError(err: unknown): SdpNegotiationError {
  return err instanceof SdpNegotiationError
    ? err
    : new SdpNegotiationError(err instanceof Error ? err.message : String(err), { cause: err });
}

function sameHost(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
