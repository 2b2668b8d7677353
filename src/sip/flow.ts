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
  /** The transport it used. */
  readonly protocol: SipTransportProtocol;
  /** The far end's IP address. */
  readonly remoteAddress: string;
  /** The far end's port. */
  readonly remotePort: number;
  /** Our IP address on it. */
  readonly localAddress: string;
  /** Our port on it. */
  readonly localPort: number;
  /** The stream connection it travelled on (TCP, TLS); `undefined` for UDP. */
  readonly connectionId: number | undefined;
}

/** Where to send a message. */
export interface SipTarget {
  /** The transport to send on. */
  readonly protocol: SipTransportProtocol;
  /** Host name or IP literal. */
  readonly host: string;
  /** The destination port. */
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
