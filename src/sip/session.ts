/**
 * A confirmed dialog's usage, the same for both call directions (RFC 3261 §12-15,
 * RFC 4028): requests from the far end inside the dialog (BYE, re-INVITE and UPDATE
 * offers answered from our SDP, OPTIONS, INFO, CANCEL of nothing, REFER not yet), our
 * own in-dialog requests with one digest retry, the session timer, and where in-dialog
 * requests go. A reader who wants "what happens on hold" opens this file and nothing else.
 */
import { EventEmitter } from 'eventemitter3';
import { SdpNegotiationError, SipTimeoutError, SipTransportError, type BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { bestEffortAsync } from '../best-effort.js';
import { createSdpAnswer } from '../sdp/offer-answer.js';
import { negotiateSdp, type NegotiatedSdp } from '../sdp/negotiate.js';
import { withSessionVersion } from '../sdp/text.js';
import { isChallenge, retryWithCredentials } from './auth.js';
import { buildResponse } from './builders.js';
import type { CallEndReason, CallEnded, SessionEvents } from './call-types.js';
import type { Dialog, NextHop } from './dialog.js';
import type { SipFlow, SipTarget } from './flow.js';
import { getSessionExpires } from './headers.js';
import type { SipMessage, SipRequest, SipResponse } from './message.js';
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
}

/** Result of an in-dialog request: the final status, or `undefined` after a timeout or transport failure. */
export type InDialogResult = { status: number; response: SipResponse } | { status: undefined };

type SessionTimer = 'sessionRefresh';

/** The SDP body of a message, when it has one (`Content-Type` absent or `application/sdp`). */
export function sdpBody(msg: SipMessage): string | undefined {
  if (msg.body.length === 0) return undefined;
  const ct = msg.headers.get('Content-Type');
  if (ct !== undefined && !/^\s*application\/sdp\s*(;|$)/i.test(ct)) return undefined;
  return new TextDecoder().decode(msg.body);
}

/**
 * One established dialog and what happens inside it. Emits `mediaUpdate`, `info` and,
 * exactly once, `ended`. The owning call decides what the end means for it.
 */
export class CallSession extends EventEmitter<SessionEvents> {
  private current: SessionState = 'active';
  private flow: SipFlow | undefined;
  private localSdp: string | undefined;
  private answers = 0;
  private reinviteTx: InviteServerTransaction | undefined;
  private readonly t: TimerSet<SessionTimer>;
  private readonly ctx: UaContext;
  private readonly log: Logger;
  readonly dialog: Dialog;
  private readonly localUser: string;

  constructor(options: CallSessionOptions) {
    super();
    this.ctx = options.ctx;
    this.dialog = options.dialog;
    this.localUser = options.localUser;
    this.localSdp = options.localSdp;
    this.flow = options.flow;
    this.log = options.log;
    this.t = new TimerSet<SessionTimer>(this.ctx.clock);
  }

  /** `active` → `ending` (our BYE is out) → `ended`. */
  get state(): SessionState {
    return this.current;
  }

  /** Our SDP now in effect. */
  get sdp(): string | undefined {
    return this.localSdp;
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

  /** A request for this Call-ID. `false` when it does not belong to the dialog. */
  handleRequest(req: SipRequest, tx: ServerTransaction | undefined, flow: SipFlow): boolean {
    const dialog = this.dialog;
    if (!dialog.matchesRequest(req)) return false;
    if (req.method === 'ACK') {
      this.reinviteTx?.ackReceived(); // the ACK of our 2xx to a re-INVITE
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
        return true;
      case 'CANCEL':
        // Our answers to re-INVITEs are immediate: nothing is left to cancel.
        tx.respond(this.response(req, 200));
        return true;
      default:
        // REFER and NOTIFY come with call transfer; until then they are not implemented.
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
    if (this.current !== 'active') {
      tx.respond(this.response(req, 491));
      return;
    }
    this.dialog.refreshTarget(req);
    const contact: [string, string] = ['Contact', this.ctx.contact(this.localUser)];
    const offer = sdpBody(req);
    const local = this.localSdp;
    if (isInvite) this.reinviteTx = tx as InviteServerTransaction;
    if (offer === undefined || local === undefined) {
      tx.respond(
        this.response(
          req,
          200,
          [contact],
          isInvite && local !== undefined ? this.reofferSdp(local) : undefined,
        ),
      );
      if (req.headers.get('Session-Expires') !== undefined) this.startTimer(req, 'uas');
      return;
    }
    let answer: string;
    let negotiated: NegotiatedSdp;
    try {
      // Answer from our original offer, so a hold does not narrow later answers.
      answer = withSessionVersion(createSdpAnswer(offer, local), this.answers);
      this.answers++;
      negotiated = negotiateSdp(answer, offer, { allowHold: true });
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

  /** Our SDP again for a re-INVITE without offer (we offer in the 200, the ACK answers). */
  private reofferSdp(local: string): string {
    return local;
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
    const sdp = this.localSdp;
    if (sdp === undefined || this.current !== 'active') return;
    const dialog = this.dialog;
    const req = dialog.createRequest('INVITE', { body: sdp });
    req.headers.prepend('Via', this.ctx.via());
    req.headers.append('Supported', 'timer');
    req.headers.append('Session-Expires', `${seconds};refresher=uac`);
    req.headers.append('User-Agent', this.ctx.userAgent);
    const target = this.target();
    const seq = dialog.localSeq;
    let ack: SipRequest | undefined;
    this.log.info('[SIP] Refreshing the session (re-INVITE)');
    this.ctx.layer.sendInvite(req, target, {
      onResponse: (r) => {
        if (r.status < 200) return;
        if (r.status < 300) {
          if (ack === undefined) {
            ack = dialog.createRequest('ACK', { ackOf: seq });
            ack.headers.prepend('Via', this.ctx.via());
            this.startTimer(r, 'uac');
          }
          void bestEffortAsync(
            this.log,
            '[SIP] ACK of the session refresh',
            this.ctx.layer.sendStateless(ack, target),
          );
          return;
        }
        this.log.warn(`[SIP] Session refresh answered ${r.status} ${r.reason}`);
        // RFC 3261 §12.2.1.2: 481 and 408 mean the dialog is gone.
        if (r.status === 481 || r.status === 408) this.end({ reason: 'remote-bye', status: r.status });
        else
          this.t.start('sessionRefresh', Math.min(5000, (seconds * 1000) / 4), () => this.refresh(seconds));
      },
      onTimeout: () => {
        this.log.warn('[SIP] Session refresh timed out');
        this.bye('timeout', new SipTimeoutError('no answer to the session refresh'));
      },
      onTransportError: (e) => this.log.warn({ err: e.message }, '[SIP] Session refresh could not be sent'),
    });
  }

  // ------------------------------------------------------------------ routing

  /** Where in-dialog requests go: the route set's first hop, on the live connection when it leads there. */
  target(): SipTarget {
    return this.targetFor(this.dialog.nextHop(this.ctx.protocol));
  }

  /** A target for `hop`, reusing the dialog's connection when it leads to the same place. */
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
  }

  private end(ended: CallEnded): void {
    if (this.current === 'ended') return;
    this.current = 'ended';
    this.t.clearAll();
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
