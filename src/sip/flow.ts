/**
 * The flow and target types shared by the SIP transports and everything above them
 * (transactions, dialogs, the user agent). Types and one pure helper only: no sockets,
 * so the transaction layer and the stream connection can name a flow without importing
 * the transport that owns the sockets.
 */
import type { BridgeError } from '../errors.js';

/** A SIP transport protocol. */
export type SipTransportProtocol = 'udp' | 'tcp' | 'tls';

/** A stream (connection-oriented) transport protocol. */
export type SipStreamProtocol = Exclude<SipTransportProtocol, 'udp'>;

/** Where a message came from (or went to), as seen by the transport. */
export interface SipFlow {
  readonly protocol: SipTransportProtocol;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** The stream connection it travelled on (TCP, TLS); `undefined` for UDP. */
  readonly connectionId: number | undefined;
}

/** Where to send a message. */
export interface SipTarget {
  readonly protocol: SipTransportProtocol;
  /** Host name or IP literal. */
  readonly host: string;
  readonly port: number;
  /** A flow to reuse when its connection is still open (responses, in-dialog requests). */
  readonly flow?: SipFlow | undefined;
}

/** Whether a transport protocol is reliable (no retransmissions needed, RFC 3261 §17). */
export function isReliable(protocol: SipTransportProtocol): boolean {
  return protocol !== 'udp';
}

/**
 * The outcome of one RFC 5626 keep-alive on a stream connection we opened: the pong came
 * back after `rttMs`, or it did not (the connection is then closed with `error`).
 */
export type SipKeepaliveResult = { ok: true; rttMs: number } | { ok: false; error: BridgeError };
