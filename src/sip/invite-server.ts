/**
 * The inbound INVITE (RFC 3261 §13.3): 100 Trying at once, 180 Ringing or 183 Session
 * Progress with early media, a 2xx with our SDP answer (retransmitted by the transaction
 * until the ACK, §13.3.1.4), CANCEL before the answer → 487, and no ACK within 64·T1 →
 * BYE. Once confirmed, the dialog is a {@link CallSession} exactly as for outbound calls.
 * The user agent creates an `InboundCall` for every admitted out-of-dialog INVITE.
 */
import { EventEmitter } from 'eventemitter3';
import { ClosedError, SipParseError, SipTimeoutError, toBridgeError, type BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { bestEffort } from '../best-effort.js';
import { buildResponse, headerMaps, tagParam } from './builders.js';
import type { CallEnded, CallEndReason, SessionEvents } from './call-types.js';
import { Dialog, contactUri, parseRouteEntries } from './dialog.js';
import type { SipFlow } from './flow.js';
import { getCSeq, getFrom, getSessionExpires, getTo, splitHeaderList } from './headers.js';
import { newTag } from './ids.js';
import type { SipRequest, SipResponse } from './message.js';
import { CallSession, sdpBody } from './session.js';
import { TimerSet } from './timers.js';
import type { InviteServerTransaction } from './transaction-server.js';
import type { ServerTransaction } from './transaction-layer.js';
import type { DialogUsage, UaContext } from './ua-context.js';

/**
 * Lifecycle of an inbound call: `incoming` (100 sent) → `early` (180/183 sent) →
 * `answering` (2xx sent, waiting for the ACK) → `answered` → `ending` → `ended`.
 */
export type InboundCallState = 'incoming' | 'early' | 'answering' | 'answered' | 'ending' | 'ended';

/** Events of an {@link InboundCall}: `answered` once the ACK of our 2xx arrived, then those of the session. */
export interface InboundCallEvents extends SessionEvents {
  /** The ACK of our 2xx arrived: the call is answered. */
  answered: [];
}

/** Options of {@link InboundCall.accept}. */
export interface AcceptOptions {
  /** Our SDP answer. */
  sdp: string;
  /** More headers on the 2xx (validated by the caller). */
  headers?: readonly [string, string][];
}

type InboundTimer = 'ack';

/** One inbound call, from the far end's INVITE to its end. */
export class InboundCall extends EventEmitter<InboundCallEvents> implements DialogUsage {
  /** The Call-ID. */
  readonly callId: string;
  /** The INVITE as received. */
  readonly invite: SipRequest;
  /** Where the INVITE came from. */
  readonly source: SipFlow;
  /** The caller: the From URI's user part (as written). */
  readonly fromUser: string;
  /** The dialled number: the To URI's user part (as written). */
  readonly toUser: string;
  /** The caller's From tag (`sip.callTag`). */
  readonly remoteTag: string;
  /** The far end's SDP offer, when the INVITE carried one. */
  readonly offer: string | undefined;
  /** The INVITE's `X-` headers (first value of each). */
  readonly remoteHeaders: Readonly<Record<string, string>>;
  /** Every header of the INVITE (first value of each name). */
  readonly headers: Readonly<Record<string, string>>;
  /** Resolves once the call has ended, whatever the outcome (never rejects). */
  readonly ended: Promise<CallEnded>;
  private current: InboundCallState = 'incoming';
  private session: CallSession | undefined;
  private readonly localTag = newTag();
  private readonly t: TimerSet<InboundTimer>;
  private resolveEnded!: (e: CallEnded) => void;
  private settled = false;
  private pendingEnd: { reason: CallEndReason; error?: BridgeError } | undefined;

  /** @internal Created by the user agent for an admitted out-of-dialog INVITE. */
  constructor(
    private readonly ctx: UaContext,
    invite: SipRequest,
    private readonly tx: InviteServerTransaction,
    flow: SipFlow,
    private readonly log: Logger,
  ) {
    super();
    this.invite = invite;
    this.source = flow;
    this.callId = invite.headers.get('Call-ID') ?? '';
    const from = getFrom(invite);
    this.fromUser = from.uri.user ?? '';
    this.remoteTag = from.tag ?? '';
    this.toUser = getTo(invite).uri.user ?? '';
    this.offer = sdpBody(invite);
    const { all, x } = headerMaps(invite);
    this.remoteHeaders = x;
    this.headers = all;
    this.t = new TimerSet<InboundTimer>(ctx.clock);
    this.ended = new Promise<CallEnded>((res) => (this.resolveEnded = res));
    tx.respond(this.response(100));
  }

  /** Where the call is (see {@link InboundCallState}). */
  get state(): InboundCallState {
    return this.current;
  }

  /** The established dialog's session, once answered. */
  get dialogSession(): CallSession | undefined {
    return this.session;
  }

  /** Sends 180 Ringing, or 183 Session Progress with `earlyMediaSdp` (ringback, announcements). */
  ring(earlyMediaSdp?: string): void {
    if (this.current !== 'incoming' && this.current !== 'early') return;
    this.current = 'early';
    const status = earlyMediaSdp !== undefined ? 183 : 180;
    this.log.info(`[SIP] Sending ${status}`);
    this.tx.respond(this.response(status, [['Contact', this.contact()]], earlyMediaSdp));
  }

  /**
   * Answers with a 2xx carrying our SDP. Resolves once the ACK arrived (`answered`);
   * rejects with `SipTimeoutError` when none came within 64·T1 (the call is then ended
   * with BYE), or `ClosedError` when the call ended before (CANCEL, close).
   */
  accept(options: AcceptOptions): Promise<void> {
    if (this.current !== 'incoming' && this.current !== 'early') {
      return Promise.reject(new ClosedError('inbound call'));
    }
    const headers: [string, string][] = [
      ['Contact', this.contact()],
      ['Allow', this.ctx.allow],
      ...(options.headers ?? []),
    ];
    const se = bestEffort(this.log, '[SIP] Session-Expires of the INVITE', () =>
      getSessionExpires(this.invite),
    );
    if (se !== undefined && supportsOption(this.invite, 'timer')) {
      // RFC 4028 §9: keep the interval, let the caller refresh.
      headers.push(['Session-Expires', `${se.seconds};refresher=uac`], ['Require', 'timer']);
    }
    const res = this.response(200, headers, options.sdp);
    let dialog: Dialog;
    try {
      dialog = uasDialog(this.invite, res, this.contact());
    } catch (err) {
      const e = toBridgeError(err);
      this.log.warn({ err: e.message }, '[SIP] INVITE cannot make a dialog: 400');
      this.reject(400);
      return Promise.reject(e);
    }
    const session = new CallSession({
      ctx: this.ctx,
      dialog,
      localUser: this.toUser,
      localSdp: options.sdp,
      flow: this.source.connectionId !== undefined ? this.source : undefined,
      log: this.log,
    });
    this.session = session;
    session.on('mediaUpdate', (u) => this.emit('mediaUpdate', u));
    session.on('info', (i) => this.emit('info', i));
    session.on('ended', (e) => this.finish(e));
    this.current = 'answering';
    this.log.info('[SIP] Sending 200 OK');
    this.tx.respond(res);
    return new Promise<void>((resolve, reject) => {
      this.t.start('ack', 64 * this.ctx.timers.t1, () => {
        const e = new SipTimeoutError('no ACK for our 2xx within 64·T1');
        this.log.warn('[SIP] No ACK for our 200 OK: hanging up');
        reject(e);
        this.current = 'answered';
        this.bye('timeout', e);
      });
      this.once('answered', resolve);
      void this.ended.then(() => reject(new ClosedError('inbound call')));
    });
  }

  /** Refuses the call with a final non-2xx response (486, 603, 404, 480, 503…). */
  reject(status: number, headers: readonly [string, string][] = [], reason?: string): void {
    if (this.current !== 'incoming' && this.current !== 'early') return;
    const code = status >= 300 && status <= 699 ? status : 500;
    this.log.info(`[SIP] Rejecting the call with ${code}`);
    this.tx.respond(
      buildResponse(this.invite, code, {
        toTag: this.localTag,
        server: this.ctx.userAgent,
        headers,
        ...(reason !== undefined ? { reason } : {}),
      }),
    );
    this.finish({ reason: 'rejected', status: code });
  }

  /** Hangs up: 480 before the answer, BYE after. Resolves once the call has ended. Idempotent. */
  hangup(): Promise<void> {
    if (this.current === 'incoming' || this.current === 'early') this.reject(480);
    else if (this.current === 'answering') this.pendingEnd ??= { reason: 'local-bye' };
    else if (this.current === 'answered') this.bye('local-bye');
    return this.ended.then(() => undefined);
  }

  private bye(reason: CallEndReason, error?: BridgeError): void {
    if (this.session === undefined || this.current === 'ending' || this.current === 'ended') return;
    this.current = 'ending';
    this.session.bye(reason, error);
  }

  /** @internal The far end CANCELled the INVITE (the user agent answered the CANCEL 200). */
  cancelled(): void {
    if (this.current !== 'incoming' && this.current !== 'early') return;
    this.log.info('[SIP] INVITE cancelled by the far end: 487');
    this.tx.respond(this.response(487));
    this.finish({ reason: 'cancelled', status: 487 });
  }

  // --------------------------------------------------------------- DialogUsage

  /** @internal */
  handleRequest(req: SipRequest, tx: ServerTransaction | undefined, flow: SipFlow): boolean {
    const session = this.session;
    if (session === undefined) return false;
    if (
      req.method === 'ACK' &&
      tx === undefined &&
      this.current === 'answering' &&
      session.dialog.matchesRequest(req)
    ) {
      if (getCSeq(req).seq !== getCSeq(this.invite).seq) return true;
      this.t.stop('ack');
      this.tx.ackReceived();
      session.adoptFlow(flow);
      this.current = 'answered';
      this.log.info('[SIP] Received ACK: call answered');
      this.emit('answered');
      const pending = this.pendingEnd;
      if (pending !== undefined) this.bye(pending.reason, pending.error);
      return true;
    }
    return session.handleRequest(req, tx, flow);
  }

  /** @internal */
  strayResponse(_res: SipResponse): void {
    // Responses to our in-dialog requests match their transactions; nothing else is expected.
  }

  /** @internal */
  usesFlow(flow: SipFlow): boolean {
    if (this.session !== undefined) return this.session.usesFlow(flow);
    return (
      (flow.connectionId !== undefined && flow.connectionId === this.source.connectionId) ||
      (flow.remoteAddress === this.source.remoteAddress && flow.remotePort === this.source.remotePort)
    );
  }

  /** @internal */
  connectionClosed(flow: SipFlow, error: BridgeError | undefined): void {
    if (this.session !== undefined) {
      this.session.connectionClosed(flow, error);
      return;
    }
    if (flow.connectionId !== undefined && flow.connectionId === this.source.connectionId) {
      this.finish({ reason: 'transport-error', ...(error !== undefined ? { error } : {}) });
    }
  }

  /** @internal */
  abandon(): void {
    this.finish({ reason: 'cancelled', error: new ClosedError('user agent') });
  }

  private contact(): string {
    return this.ctx.contact(this.toUser);
  }

  private response(status: number, headers: [string, string][] = [], sdp?: string): SipResponse {
    // RFC 3261 §12.1.1: responses that make a dialog (1xx with a To tag, 2xx) copy the
    // INVITE's Record-Route, so the far end's requests keep following its proxies.
    const rr: [string, string][] =
      status > 100 && status < 300
        ? this.invite.headers.getAll('Record-Route').map((v) => ['Record-Route', v])
        : [];
    return buildResponse(this.invite, status, {
      toTag: this.localTag,
      server: this.ctx.userAgent,
      headers: [...rr, ...headers],
      ...(sdp !== undefined ? { sdp } : {}),
    });
  }

  private finish(ended: CallEnded): void {
    if (this.settled) return;
    this.settled = true;
    this.current = 'ended';
    this.t.clearAll();
    this.session?.stop();
    if (this.tx.state === 'proceeding') this.tx.respond(this.response(500));
    this.ctx.release(this.callId, this);
    this.log.info(
      { reason: ended.reason, status: ended.status },
      `[SIP] Call ended (${ended.reason}${ended.status !== undefined ? `, ${ended.status}` : ''})`,
    );
    this.resolveEnded(ended);
    this.emit('ended', ended);
  }
}

/**
 * The dialog our 2xx to an INVITE creates (RFC 3261 §12.1.1): the route set is the
 * Record-Route list in order, the remote target the INVITE's Contact, the remote CSeq the
 * INVITE's; our From is the INVITE's To with our tag.
 */
export function uasDialog(invite: SipRequest, response: SipResponse, localContact: string): Dialog {
  const from = getFrom(invite);
  const to = response.headers.get('To') ?? '';
  const remoteTag = from.tag;
  const localTag = tagParam(to);
  if (remoteTag === undefined || localTag === undefined) {
    throw new SipParseError('INVITE without a From tag', 'From');
  }
  const dialog = new Dialog({
    callId: invite.headers.get('Call-ID') ?? '',
    localTag,
    remoteTag,
    localFrom: to,
    remoteTo: invite.headers.get('From') ?? '',
    localSeq: 0,
    remoteTarget: contactUri(invite) ?? invite.uri,
    routeSet: parseRouteEntries(invite.headers.getAll('Record-Route'), 'Record-Route'),
    localContact,
  });
  dialog.remoteSeq = getCSeq(invite).seq;
  return dialog;
}

/** Whether a request lists `tag` in its Supported header(s). */
function supportsOption(req: SipRequest, tag: string): boolean {
  for (const line of req.headers.getAll('Supported')) {
    for (const item of splitHeaderList(line)) if (item.trim().toLowerCase() === tag) return true;
  }
  return false;
}
