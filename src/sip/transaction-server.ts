/**
 * Server transactions of RFC 3261 §17.2: INVITE (§17.2.1, with the RFC 6026 `accepted`
 * state) and non-INVITE (§17.2.2). They absorb request retransmissions by re-sending the
 * last response, retransmit final responses on unreliable transports (Timer G) and the
 * 2xx to an INVITE until its ACK arrives (RFC 3261 §13.3.1.4, the UAS core's duty,
 * hosted here because it is pure timer logic). Pure state machines on an injected clock.
 */
import { SipTransportError, type BridgeError } from '../errors.js';
import type { SipRequest, SipResponse } from './message.js';
import { TimerSet } from './timers.js';
import type { ServerTransactionUser, TransactionContext } from './transaction.js';

/** States of the INVITE server transaction (RFC 3261 Figure 7 + RFC 6026 `accepted`). */
export type InviteServerState = 'proceeding' | 'accepted' | 'completed' | 'confirmed' | 'terminated';

/** States of the non-INVITE server transaction (RFC 3261 Figure 8). */
export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

type InviteTimer = 'G' | 'H' | 'I' | 'L' | '2xx';

/** One INVITE server transaction (the far end's INVITE or re-INVITE). */
export class InviteServerTransaction {
  /** Current state. */
  state: InviteServerState = 'proceeding';
  /** The last response sent (re-sent when the INVITE is retransmitted). */
  lastResponse: SipResponse | undefined;
  private readonly t: TimerSet<InviteTimer>;
  private retransmitInterval: number;
  private terminatedNotified = false;

  constructor(
    readonly ctx: TransactionContext,
    readonly request: SipRequest,
    private readonly user: ServerTransactionUser = {},
  ) {
    this.t = new TimerSet<InviteTimer>(ctx.clock);
    this.retransmitInterval = ctx.timers.t1;
  }

  /** The transaction id: the branch of the request's top Via. */
  get branch(): string {
    return this.ctx.branch;
  }

  /** Sends a response from the TU. */
  respond(res: SipResponse): void {
    if (this.state !== 'proceeding') return;
    this.lastResponse = res;
    this.ctx.send(res);
    if (res.status < 200) return;
    if (res.status < 300) {
      this.state = 'accepted';
      // Timer L (RFC 6026): stay to absorb INVITE retransmissions; the 2xx itself is re-sent
      // from T1 doubling to T2 until the ACK arrives (RFC 3261 §13.3.1.4), on any transport.
      this.t.start('2xx', this.retransmitInterval, () => this.on2xxTimer());
      this.t.start('L', 64 * this.ctx.timers.t1, () => {
        const unacked = this.t.running('2xx');
        this.terminate();
        if (unacked) this.user.onNoAck?.();
      });
      return;
    }
    this.state = 'completed';
    if (!this.ctx.reliable) this.t.start('G', this.retransmitInterval, () => this.onTimerG());
    this.t.start('H', 64 * this.ctx.timers.t1, () => {
      this.terminate();
      this.user.onNoAck?.();
    });
  }

  /** Feeds a request matching this transaction: an INVITE retransmission, or the ACK of a non-2xx. */
  receiveRequest(req: SipRequest): void {
    if (req.method === 'ACK') {
      if (this.state === 'completed') {
        this.state = 'confirmed';
        this.t.stop('G');
        this.t.stop('H');
        if (this.ctx.reliable) this.terminate();
        else this.t.start('I', this.ctx.timers.t4, () => this.terminate());
      } else if (this.state === 'accepted') {
        this.ackReceived();
      }
      return;
    }
    // A retransmitted INVITE.
    if (this.state === 'proceeding' || this.state === 'completed') {
      if (this.lastResponse !== undefined) this.ctx.send(this.lastResponse);
    }
    // accepted / confirmed / terminated: absorbed.
  }

  /** The TU saw the ACK for our 2xx (it has its own branch): stop re-sending the 2xx. */
  ackReceived(): void {
    this.t.stop('2xx');
  }

  /** The transport could not deliver a response. */
  transportError(error: BridgeError = new SipTransportError('transport error')): void {
    this.terminate();
    this.user.onTransportError?.(error);
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

  private on2xxTimer(): void {
    if (this.state !== 'accepted' || this.lastResponse === undefined) return;
    this.ctx.send(this.lastResponse);
    this.retransmitInterval = Math.min(2 * this.retransmitInterval, this.ctx.timers.t2);
    this.t.start('2xx', this.retransmitInterval, () => this.on2xxTimer());
  }

  private onTimerG(): void {
    if (this.state !== 'completed' || this.lastResponse === undefined) return;
    this.ctx.send(this.lastResponse);
    this.retransmitInterval = Math.min(2 * this.retransmitInterval, this.ctx.timers.t2);
    this.t.start('G', this.retransmitInterval, () => this.onTimerG());
  }
}

/** One non-INVITE server transaction (BYE, CANCEL, OPTIONS... from the far end). */
export class NonInviteServerTransaction {
  /** Current state. */
  state: NonInviteServerState = 'trying';
  /** The last response sent. */
  lastResponse: SipResponse | undefined;
  private readonly t: TimerSet<'J'>;
  private terminatedNotified = false;

  constructor(
    readonly ctx: TransactionContext,
    readonly request: SipRequest,
    private readonly user: ServerTransactionUser = {},
  ) {
    this.t = new TimerSet<'J'>(ctx.clock);
  }

  /** The transaction id: the branch of the request's top Via. */
  get branch(): string {
    return this.ctx.branch;
  }

  /** Sends a response from the TU. */
  respond(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.lastResponse = res;
    this.ctx.send(res);
    if (res.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.state = 'completed';
    if (this.ctx.reliable) this.terminate();
    else this.t.start('J', 64 * this.ctx.timers.t1, () => this.terminate());
  }

  /** Feeds a retransmission of the request. */
  receiveRequest(_req: SipRequest): void {
    // Trying: discard. Proceeding and Completed: re-send the last response.
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse !== undefined) {
      this.ctx.send(this.lastResponse);
    }
  }

  /** The transport could not deliver a response. */
  transportError(error: BridgeError = new SipTransportError('transport error')): void {
    this.terminate();
    this.user.onTransportError?.(error);
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
}
