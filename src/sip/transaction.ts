/**
 * Types shared by the RFC 3261 §17 transaction state machines. The machines are pure:
 * they never touch a socket or the global timers. They hand messages to a `send`
 * callback, read time through an injected {@link TimerClock}, and report upward to their
 * transaction user (TU) through the small callback interfaces below.
 */
import type { BridgeError } from '../errors.js';
import type { SipMessage, SipResponse } from './message.js';
import type { SipTimerValues, TimerClock } from './timers.js';

/** Passes a message to the transport. Failures come back through `transportError()`. */
export type TransactionSend = (msg: SipMessage) => void;

/** What every transaction machine is built from. */
export interface TransactionContext {
  /** The branch parameter of the top Via (the transaction id, RFC 3261 §17.1.3). */
  readonly branch: string;
  /** Reliable transport (TCP, TLS): no request retransmission, zero-length wait timers. */
  readonly reliable: boolean;
  readonly clock: TimerClock;
  readonly timers: SipTimerValues;
  readonly send: TransactionSend;
}

/** Upward interface of a client transaction. */
export interface ClientTransactionUser {
  /** A response the TU must see (every 1xx, the first final response, and 2xx retransmissions of an INVITE). */
  onResponse(response: SipResponse): void;
  /** Timer B (INVITE) or Timer F (non-INVITE) fired: no final response arrived. */
  onTimeout(): void;
  /** The transport could not deliver the request. */
  onTransportError(error: BridgeError): void;
  /** The machine reached `terminated` (called once). */
  onTerminated?(): void;
  /** The transport has written the request for the first time (a connection opened first if needed). */
  onSent?(): void;
}

/** Upward interface of a server transaction. */
export interface ServerTransactionUser {
  /** The transport could not deliver a response. */
  onTransportError?(error: BridgeError): void;
  /**
   * No ACK arrived: Timer H after a non-2xx final response to an INVITE, or 64·T1 of 2xx
   * retransmissions (RFC 3261 §13.3.1.4; the TU should then end the session with BYE).
   */
  onNoAck?(): void;
  /** The machine reached `terminated` (called once). */
  onTerminated?(): void;
}
