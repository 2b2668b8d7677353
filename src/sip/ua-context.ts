/**
 * What a call (either direction) needs from its user agent: the transaction layer, the
 * clock and timer values, where the trunk is, how we appear in Via and Contact, and a way
 * to hand itself back when it ends. A small interface so calls never import the user
 * agent (no cycle) and can be driven by a test double.
 */
import type { SipCredentials } from './auth.js';
import type { SipRequest, SipResponse } from './message.js';
import type { SipFlow, SipTarget, SipTransportProtocol } from './flow.js';
import type { SipTimerValues, TimerClock } from './timers.js';
import type { ServerTransaction, TransactionLayer } from './transaction-layer.js';
import type { BridgeError } from '../errors.js';

/** The user agent as its calls see it. */
export interface UaContext {
  readonly layer: TransactionLayer;
  readonly clock: TimerClock;
  readonly timers: SipTimerValues;
  /** Our signalling transport (Via, Contact, default for next hops). */
  readonly protocol: SipTransportProtocol;
  /** The trunk's address: where out-of-dialog requests go. */
  readonly trunk: SipTarget;
  readonly auth: SipCredentials | undefined;
  /** User-Agent / Server header value. */
  readonly userAgent: string;
  /** The methods we accept, for `Allow`. */
  readonly allow: string;
  /** A Via header value with a fresh branch and `rport`. */
  via(): string;
  /** Our Contact header value for a call whose local user is `user`. */
  contact(user: string): string;
  /** Records the `received`/`rport` the far end saw our request come from. */
  observe(res: SipResponse): void;
  /** The call has ended: forget it. */
  release(callId: string, call: DialogUsage): void;
}

/**
 * A call as the user agent routes to it (by Call-ID): what `OutboundCall` and
 * `InboundCall` have in common.
 */
export interface DialogUsage {
  /** The call's SIP Call-ID. */
  readonly callId: string;
  /** @internal A request with this Call-ID. `false`: not ours after all (answered as out-of-dialog). */
  handleRequest(req: SipRequest, tx: ServerTransaction | undefined, flow: SipFlow): boolean;
  /** @internal A response that matched no transaction (a late 2xx retransmission). */
  strayResponse(res: SipResponse): void;
  /** @internal A stream connection closed. */
  connectionClosed(flow: SipFlow, error: BridgeError | undefined): void;
  /** @internal Whether this call's signalling uses that flow (admission of its requests). */
  usesFlow(flow: SipFlow): boolean;
  /** Ends the call with CANCEL, BYE or a final response; resolves once it has ended. */
  hangup(): Promise<void>;
  /** @internal Stops everything without signalling (user agent close after the grace period). */
  abandon(): void;
}
