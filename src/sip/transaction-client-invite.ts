/**
 * The INVITE client transaction of RFC 3261 §17.1.1, with the `accepted` state of
 * RFC 6026 so that retransmitted 2xx responses still reach the TU (which ACKs each one,
 * §13.2.2.4). Pure state machine: time comes from the injected clock.
 */
import { SipTransportError, type BridgeError } from '../errors.js';
import { buildNon2xxAck } from './builders.js';
import type { SipRequest, SipResponse } from './message.js';
import { TimerSet } from './timers.js';
import type { ClientTransactionUser, TransactionContext } from './transaction.js';

/** States of the INVITE client transaction (RFC 3261 Figure 5 + RFC 6026 `accepted`). */
export type InviteClientState = 'calling' | 'proceeding' | 'accepted' | 'completed' | 'terminated';

/** Timer D on an unreliable transport: "at least 32 seconds" (RFC 3261 Table 4). */
export const TIMER_D_UNRELIABLE_MS = 32_000;

type Timer = 'A' | 'B' | 'D' | 'M';

/** One INVITE client transaction. Create it, call `start()`, feed it matching responses. */
export class InviteClientTransaction {
  /** Current state. */
  state: InviteClientState = 'calling';
  /** The ACK sent for a non-2xx final response (for retransmission and for tests). */
  ack: SipRequest | undefined;
  private readonly t: TimerSet<Timer>;
  private timerA: number;
  private terminatedNotified = false;

  constructor(
    readonly ctx: TransactionContext,
    readonly request: SipRequest,
    private readonly user: ClientTransactionUser,
  ) {
    this.t = new TimerSet<Timer>(ctx.clock);
    this.timerA = ctx.timers.t1;
  }

  /** The transaction id: the branch of the INVITE's top Via. */
  get branch(): string {
    return this.ctx.branch;
  }

  /** Sends the INVITE and starts Timer B (and Timer A on an unreliable transport). */
  start(): void {
    if (this.state !== 'calling') return;
    this.ctx.send(this.request);
    if (this.state !== 'calling') return; // a synchronous transport error terminated us
    if (!this.ctx.reliable) this.t.start('A', this.timerA, () => this.onTimerA());
    this.t.start('B', 64 * this.ctx.timers.t1, () => this.onTimerB());
  }

  /** Feeds a response whose branch and CSeq method match this transaction. */
  receiveResponse(res: SipResponse): void {
    const s = res.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        if (s < 200) {
          this.state = 'proceeding';
          this.t.stop('A');
          this.user.onResponse(res);
        } else if (s < 300) {
          this.state = 'accepted';
          this.t.stop('A');
          this.t.stop('B');
          this.t.start('M', 64 * this.ctx.timers.t1, () => this.terminate());
          this.user.onResponse(res);
        } else {
          this.state = 'completed';
          this.t.stop('A');
          this.t.stop('B');
          this.ack = buildNon2xxAck(this.request, res);
          this.ctx.send(this.ack);
          this.user.onResponse(res);
          if (this.state !== 'completed') return;
          if (this.ctx.reliable) this.terminate();
          else this.t.start('D', TIMER_D_UNRELIABLE_MS, () => this.terminate());
        }
        return;
      case 'accepted':
        // RFC 6026 §7.2: every 2xx retransmission goes to the TU, which ACKs it again.
        if (s >= 200 && s < 300) this.user.onResponse(res);
        return;
      case 'completed':
        // A retransmitted final response: ACK it again, do not bother the TU.
        if (s >= 300 && this.ack !== undefined) this.ctx.send(this.ack);
        return;
      case 'terminated':
        return;
    }
  }

  /** The transport failed to deliver the INVITE (or the ACK). */
  transportError(error: BridgeError = new SipTransportError('transport error')): void {
    const live = this.state === 'calling' || this.state === 'proceeding';
    this.terminate();
    if (live) this.user.onTransportError(error);
  }

  /** Ends the machine at once, stopping every timer (no callback but `onTerminated`). */
  terminate(): void {
    this.state = 'terminated';
    this.t.clearAll();
    if (!this.terminatedNotified) {
      this.terminatedNotified = true;
      this.user.onTerminated?.();
    }
  }

  private onTimerA(): void {
    if (this.state !== 'calling') return;
    this.ctx.send(this.request);
    if (this.state !== 'calling') return;
    this.timerA *= 2; // 2·T1, 4·T1, ... with no cap (RFC 3261 §17.1.1.2)
    this.t.start('A', this.timerA, () => this.onTimerA());
  }

  private onTimerB(): void {
    if (this.state !== 'calling') return;
    this.terminate();
    this.user.onTimeout();
  }
}
