/**
 * The transaction layer: creates client and server transactions, matches every incoming
 * message to its transaction (RFC 3261 §17.1.3 for responses, §17.2.3 for requests),
 * and hands the TU only what it must see: new requests with their server transaction,
 * and responses that match no transaction (2xx retransmissions after the INVITE
 * transaction ended). It sits between the transport (below, reached through the small
 * {@link TransactionTransport} interface) and the dialog/call layer (above, reached
 * through {@link TransactionLayerUser}).
 */
import { SipTransportError, toBridgeError, type BridgeError } from '../errors.js';
import { LogThrottle, silentLogger, type Logger } from '../logger.js';
import type { SipMessage, SipRequest, SipResponse } from './message.js';
import type { SipTimerValues, TimerClock } from './timers.js';
import type { ClientTransactionUser, ServerTransactionUser, TransactionContext } from './transaction.js';
import { InviteClientTransaction } from './transaction-client-invite.js';
import { NonInviteClientTransaction } from './transaction-client.js';
import { InviteServerTransaction, NonInviteServerTransaction } from './transaction-server.js';
import { isReliable, type SipFlow, type SipTarget } from './flow.js';
import { tagParam } from './builders.js';
import { getCSeq, getTopVia, type Via } from './headers.js';
import { BRANCH_MAGIC_COOKIE } from './ids.js';

/** A server transaction of either kind. */
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
/** A client transaction of either kind. */
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

/** The downward interface: what the layer needs from a transport. */
export interface TransactionTransport {
  send(msg: SipMessage, target: SipTarget): Promise<SipFlow>;
}

/** The upward interface: what the TU (dialogs, calls, the client) receives. */
export interface TransactionLayerUser {
  /**
   * A new request. `tx` is its server transaction (respond through it); it is
   * `undefined` for an ACK that matched no server transaction (the ACK of a 2xx).
   */
  onRequest(req: SipRequest, tx: ServerTransaction | undefined, flow: SipFlow): void;
  /** A response that matched no client transaction (e.g. a 2xx retransmitted late). */
  onStrayResponse(res: SipResponse, flow: SipFlow): void;
  /**
   * Asked before a new request gets a server transaction: `false` drops it (the TU may
   * have answered it statelessly, to `via`), so a stranger's flood keeps no state. Never
   * asked for ACKs. Default: admit.
   */
  admit?(req: SipRequest, flow: SipFlow, via: Via): boolean;
  /**
   * Whether a request belongs to a live call (its Call-ID). Such requests (a BYE) are not
   * dropped by `maxServerTransactions` until twice that many are live, so a flood of
   * out-of-dialog requests cannot keep a call from being hung up. Default: none do.
   */
  isCallRequest?(req: SipRequest): boolean;
}

/** Options of {@link TransactionLayer}. */
export interface TransactionLayerOptions {
  transport: TransactionTransport;
  clock: TimerClock;
  timers: SipTimerValues;
  user: TransactionLayerUser;
  /**
   * At most this many server transactions live at once (default 1024); requests beyond it
   * are dropped and counted, so a request flood is bounded in memory.
   */
  maxServerTransactions?: number;
  logger?: Logger;
}

/** Default of {@link TransactionLayerOptions.maxServerTransactions}. */
export const DEFAULT_MAX_SERVER_TRANSACTIONS = 1024;

interface ClientEntry {
  readonly tx: ClientTransaction;
  flow: SipFlow | undefined;
}

/** Matches and owns every live transaction of one SIP endpoint. */
export class TransactionLayer {
  private readonly clients = new Map<string, ClientEntry>();
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly log: Logger;
  private closed = false;
  private dropped = 0;
  private readonly dropLog = new LogThrottle();
  private refused = 0;

  constructor(private readonly opts: TransactionLayerOptions) {
    this.log = opts.logger ?? silentLogger;
  }

  /** Live client transactions (for tests and leak checks). */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Live server transactions (for tests and leak checks). */
  get serverCount(): number {
    return this.servers.size;
  }

  /** New requests dropped because `maxServerTransactions` were live. */
  get droppedRequests(): number {
    return this.dropped;
  }

  /** New requests the TU refused to admit (`admit` returned false). */
  get refusedRequests(): number {
    return this.refused;
  }

  /**
   * Starts an INVITE client transaction. The request's top Via must carry a fresh branch.
   * Transport failures are reported to `user.onTransportError`.
   */
  sendInvite(req: SipRequest, target: SipTarget, user: ClientTransactionUser): InviteClientTransaction {
    return this.startClient(req, target, user, (ctx, u) => new InviteClientTransaction(ctx, req, u));
  }

  /** Starts a non-INVITE client transaction (BYE, CANCEL, OPTIONS...). */
  sendRequest(req: SipRequest, target: SipTarget, user: ClientTransactionUser): NonInviteClientTransaction {
    return this.startClient(req, target, user, (ctx, u) => new NonInviteClientTransaction(ctx, req, u));
  }

  /** Sends a message outside any transaction (the ACK of a 2xx, RFC 3261 §13.2.2.4). */
  sendStateless(msg: SipMessage, target: SipTarget): Promise<SipFlow> {
    return this.opts.transport.send(msg, target);
  }

  private startClient<T extends ClientTransaction>(
    req: SipRequest,
    target: SipTarget,
    user: ClientTransactionUser,
    make: (ctx: TransactionContext, user: ClientTransactionUser) => T,
  ): T {
    if (this.closed) throw new SipTransportError('transaction layer is closed');
    const via = topVia(req);
    const branch = via?.branch;
    if (branch === undefined) throw new SipTransportError(`${req.method} has no Via branch`);
    const k = clientKey(branch, req.method);
    let current: SipTarget = target;
    const entry: { tx?: T; flow?: SipFlow; sent?: boolean } = {};
    const ctx: TransactionContext = {
      branch,
      reliable: isReliable(target.protocol),
      clock: this.opts.clock,
      timers: this.opts.timers,
      send: (msg) => {
        this.opts.transport.send(msg, current).then(
          (flow) => {
            current = { ...target, flow };
            const e = this.clients.get(k);
            if (e !== undefined) e.flow = flow;
            if (entry.sent !== true) {
              entry.sent = true;
              user.onSent?.();
            }
          },
          (err: unknown) => {
            // The transport rejects with our typed errors (a send failure, or a message the
            // serializer refused); anything else is a bug, reported as INTERNAL.
            const error = toBridgeError(err);
            this.log.warn({ method: req.method, err: error.message, code: error.code }, '[SIP] send failed');
            entry.tx?.transportError(error);
          },
        );
      },
    };
    const tx = make(ctx, {
      onResponse: (r) => user.onResponse(r),
      onTimeout: () => user.onTimeout(),
      onTransportError: (e) => user.onTransportError(e),
      onTerminated: () => {
        if (this.clients.get(k)?.tx === tx) this.clients.delete(k);
        user.onTerminated?.();
      },
    });
    entry.tx = tx;
    this.clients.set(k, { tx, flow: undefined });
    tx.start();
    return tx;
  }

  /** Feeds a message from the transport (the transport's `onMessage`). */
  receive(msg: SipMessage, flow: SipFlow): void {
    if (this.closed) return;
    if (msg.kind === 'response') this.receiveResponse(msg, flow);
    else this.receiveRequest(msg, flow);
  }

  private receiveResponse(res: SipResponse, flow: SipFlow): void {
    const branch = topVia(res)?.branch;
    const method = cseqMethod(res);
    const entry =
      branch !== undefined && method !== undefined ? this.clients.get(clientKey(branch, method)) : undefined;
    if (entry === undefined) {
      this.opts.user.onStrayResponse(res, flow);
      return;
    }
    entry.flow ??= flow;
    entry.tx.receiveResponse(res);
  }

  private receiveRequest(req: SipRequest, flow: SipFlow): void {
    const via = topVia(req);
    if (via === undefined) {
      this.log.warn({ method: req.method }, '[SIP] request without Via dropped');
      return;
    }
    const k = serverKey(req, via);
    const existing = this.servers.get(k);
    if (req.method === 'ACK') {
      if (existing instanceof InviteServerTransaction && existing.state === 'completed') {
        existing.receiveRequest(req);
        return;
      }
      if (existing instanceof InviteServerTransaction) existing.receiveRequest(req);
      this.opts.user.onRequest(req, undefined, flow);
      return;
    }
    if (existing !== undefined) {
      existing.receiveRequest(req); // a retransmission: absorbed or answered again
      return;
    }
    if (this.opts.user.admit?.(req, flow, via) === false) {
      this.refused++;
      return;
    }
    const max = this.opts.maxServerTransactions ?? DEFAULT_MAX_SERVER_TRANSACTIONS;
    if (this.servers.size >= (this.opts.user.isCallRequest?.(req) === true ? 2 * max : max)) {
      this.dropped++;
      const skipped = this.dropLog.take('dropped');
      if (skipped === undefined) return; // one line a second under a flood
      this.log.warn(
        {
          method: req.method,
          from: `${flow.remoteAddress}:${flow.remotePort}`,
          alsoDroppedSinceLastLine: skipped,
        },
        '[SIP] too many server transactions: request dropped',
      );
      return;
    }
    const target = responseTarget(flow, via);
    const ctx: TransactionContext = {
      branch: via.branch ?? '',
      reliable: isReliable(flow.protocol),
      clock: this.opts.clock,
      timers: this.opts.timers,
      send: (msg) => {
        this.opts.transport.send(msg, target).catch((err: unknown) => {
          const error = toBridgeError(err);
          this.log.warn(
            { method: req.method, err: error.message, code: error.code },
            '[SIP] response send failed',
          );
          tx.transportError(error);
        });
      },
    };
    const user: ServerTransactionUser = {
      onTerminated: () => {
        if (this.servers.get(k) === tx) this.servers.delete(k);
      },
    };
    const tx: ServerTransaction =
      req.method === 'INVITE'
        ? new InviteServerTransaction(ctx, req, user)
        : new NonInviteServerTransaction(ctx, req, user);
    this.servers.set(k, tx);
    this.opts.user.onRequest(req, tx, flow);
  }

  /** The flow a client transaction's request went on (once sent), while the transaction lives. */
  flowOf(req: SipRequest): SipFlow | undefined {
    const branch = topVia(req)?.branch;
    return branch === undefined ? undefined : this.clients.get(clientKey(branch, req.method))?.flow;
  }

  /** Finds the INVITE server transaction a CANCEL refers to (same branch and sent-by). */
  findInviteServerTransaction(cancel: SipRequest): InviteServerTransaction | undefined {
    const via = topVia(cancel);
    if (via === undefined) return undefined;
    const tx = this.servers.get(serverKey(cancel, via, 'INVITE'));
    return tx instanceof InviteServerTransaction ? tx : undefined;
  }

  /**
   * A stream connection closed: client transactions still waiting on it fail with a
   * transport error (their responses can no longer arrive on it).
   */
  connectionClosed(flow: SipFlow, error: BridgeError | undefined): void {
    if (flow.connectionId === undefined) return;
    for (const e of [...this.clients.values()]) {
      if (e.flow?.connectionId !== flow.connectionId) continue;
      const live = e.tx.state === 'calling' || e.tx.state === 'proceeding' || e.tx.state === 'trying';
      if (live) e.tx.transportError(error ?? new SipTransportError('connection closed'));
    }
  }

  /** Terminates every transaction (no further callbacks but `onTerminated`). */
  close(): void {
    this.closed = true;
    for (const e of [...this.clients.values()]) e.tx.terminate();
    for (const t of [...this.servers.values()]) t.terminate();
    this.clients.clear();
    this.servers.clear();
  }
}

function clientKey(branch: string, method: string): string {
  return `${branch}|${method.toUpperCase()}`;
}

function cseqMethod(msg: SipMessage): string | undefined {
  try {
    return getCSeq(msg).method.toUpperCase();
  } catch {
    // Parse fallback: a response without a usable CSeq matches no transaction (§17.1.3).
    return undefined;
  }
}

function cseqNumber(msg: SipMessage): string {
  try {
    return String(getCSeq(msg).seq);
  } catch {
    return ''; // parse fallback: the legacy key still separates what it can
  }
}

function serverKey(req: SipRequest, via: Via, methodOverride?: string): string {
  const method = (methodOverride ?? (req.method === 'ACK' ? 'INVITE' : req.method)).toUpperCase();
  const sentBy = `${via.host.toLowerCase()}:${via.port ?? ''}`;
  if (via.branch !== undefined && via.branch.startsWith(BRANCH_MAGIC_COOKIE)) {
    return `${via.branch}|${sentBy}|${method}`;
  }
  // RFC 2543 peers (no magic cookie): Request-URI, tags, Call-ID, CSeq number and top Via.
  const seq = cseqNumber(req);
  const fromTag = tagParam(req.headers.get('From') ?? '') ?? '';
  const uri = req.method === 'ACK' || methodOverride !== undefined ? '' : req.uri;
  return `legacy|${req.headers.get('Call-ID') ?? ''}|${seq}|${fromTag}|${sentBy}|${via.branch ?? ''}|${uri}|${method}`;
}

/**
 * Where responses to a request go (RFC 3261 §18.2.2 with RFC 3581 rport): the flow it
 * arrived on when that connection is open; otherwise the `received` address (or source
 * address) and the `rport` (UDP) or sent-by port.
 */
export function responseTarget(flow: SipFlow, via: Via): SipTarget {
  const host = flow.remoteAddress || via.received || via.host;
  if (flow.protocol === 'udp') {
    const port = via.rport !== undefined ? flow.remotePort : (via.port ?? 5060);
    return { protocol: 'udp', host, port, flow };
  }
  return { protocol: flow.protocol, host, port: via.port ?? (flow.protocol === 'tls' ? 5061 : 5060), flow };
}

/** The top Via of a message, or `undefined` when it is missing or malformed. */
function topVia(msg: SipMessage): Via | undefined {
  try {
    return getTopVia(msg);
  } catch {
    // Parse fallback: a message without a usable Via matches no transaction (§17.1.3, §17.2.3).
    return undefined;
  }
}
