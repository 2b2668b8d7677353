/**
 * The non-INVITE client transaction of RFC 3261 §17.1.2 (BYE, CANCEL, OPTIONS, re-INVITE
 * is an INVITE): Timer E retransmits on unreliable transports, Timer F gives up, Timer K
 * absorbs response retransmissions. Pure state machine on an injected clock.
 */
import { SipTransportError, type BridgeError } from '../errors.js';
import type { SipRequest, SipResponse } from './message.js';
import { TimerSet } from './timers.js';
import type { ClientTransactionUser, TransactionContext } from './transaction.js';

/** States of the non-INVITE client transaction (RFC 3261 Figure 6). */
export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

type Timer = 'E' | 'F' | 'K';

/** One non-INVITE client transaction. Create it, call `start()`, feed it matching responses. */
export class NonInviteClientTransaction {
  /** Current state. */
  state: NonInviteClientState = 'trying';
  private readonly t: TimerSet<Timer>;
  private timerE: number;
  private started = false;
  private terminatedNotified = false;

  constructor(
    readonly ctx: TransactionContext,
    readonly request: SipRequest,
    private readonly user: ClientTransactionUser,
  ) {
    this.t = new TimerSet<Timer>(ctx.clock);
    this.timerE = ctx.timers.t1;
  }

  /** The transaction id: the branch of the request's top Via. */
  get branch(): string {
    return this.ctx.branch;
  }

  /** Sends the request; starts Timer F (and Timer E on an unreliable transport). */
  start(): void {
    if (this.started || this.state !== 'trying') return;
    this.started = true;
    this.ctx.send(this.request);
    if (this.state !== 'trying') return;
    if (!this.ctx.reliable) this.t.start('E', this.timerE, () => this.onTimerE());
    this.t.start('F', 64 * this.ctx.timers.t1, () => this.onTimerF());
  }

  /** Feeds a response whose branch and CSeq method match this transaction. */
  receiveResponse(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return; // completed absorbs retransmissions
    if (res.status < 200) {
      this.state = 'proceeding';
      this.user.onResponse(res);
      return;
    }
    this.state = 'completed';
    this.t.stop('E');
    this.t.stop('F');
    this.user.onResponse(res);
    if (this.state !== 'completed') return;
    if (this.ctx.reliable) this.terminate();
    else this.t.start('K', this.ctx.timers.t4, () => this.terminate());
  }

  /** The transport failed to deliver the request. */
  transportError(error: BridgeError = new SipTransportError('transport error')): void {
    const live = this.state === 'trying' || this.state === 'proceeding';
    this.terminate();
    if (live) this.user.onTransportError(error);
  }

  /** Ends the machine at once, stopping every timer. */
  terminate(): void {
    this.state = 'terminated';
    this.t.clearAll();
    if (!this.terminatedNotified) {
      this.terminatedNotified = true;
      this.user.onTerminated?.();
    }
  }

  private onTimerE(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.ctx.send(this.request);
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    // Trying: double up to T2. Proceeding: every T2.
    this.timerE =
      this.state === 'trying' ? Math.min(2 * this.timerE, this.ctx.timers.t2) : this.ctx.timers.t2;
    this.t.start('E', this.timerE, () => this.onTimerE());
  }

  private onTimerF(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.terminate();
    this.user.onTimeout();
  }
}
