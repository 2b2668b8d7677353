/**
 * The simulator's public option and record types, and the small interfaces its parts
 * talk through (a call reports to its simulator through {@link SimulatorHost}, never by
 * importing the simulator class).
 */
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from '../logger.js';
import type { SipMessage, SipRequest, SipResponse } from '../sip/message.js';
import type { TimerClock } from '../sip/timers.js';

/** A transport the simulator serves. `tls` is SIP over TLS with the same framing as TCP. */
export type SimulatorTransport = 'tcp' | 'udp' | 'tls';

/** How the simulated far end behaves for one call. */
export interface CallBehaviour {
  /** Send 100 Trying at once (default true). */
  trying: boolean;
  /** Delay before 180 Ringing (or 183 with SDP when `earlyMedia`), ms (default 50). */
  ringAfterMs: number;
  /** Send 183 Session Progress with SDP and start media before the answer (default false). */
  earlyMedia: boolean;
  /** Delay from the INVITE to the 200 OK, ms (default 200). */
  answerAfterMs: number;
  /** Answer with this final status instead (after `ringAfterMs`). */
  reject?: { status: number; reason?: string };
  /** Ring until cancelled. */
  noAnswer?: boolean;
  /** Codecs accepted, in preference order (default PCMA, PCMU). */
  codecs: ('PCMA' | 'PCMU')[];
  /** Advertise one RTP port in SDP and send from another (default false). */
  rtpFromOtherPort: boolean;
  /** What the far end says, looped (default a 440 Hz tone). `null`: silence. */
  play: { toneHz: number; amplitude?: number } | { samples: Int16Array } | null;
  /** Hang up (BYE) this long after the ACK. */
  hangupAfterMs?: number;
  /** Stop all RTP this long after the ACK (to exercise media timeouts). */
  dropRtpAfterMs?: number;
}

export interface ExotelSimulatorOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port for every transport (default 0: a free one). */
  port?: number;
  /**
   * Transports to serve, all on one port number (default `['tcp', 'udp']`, or `['tls']`
   * when `tls` is given). `tcp` and `tls` cannot be served together (both need the TCP
   * port); `tls` needs the `tls` option.
   */
  transports?: SimulatorTransport[];
  /**
   * Serve SIP over TLS with this key and certificate (node:tls secure-context options).
   * Calls are served exactly as over TCP.
   */
  tls?: SecureContextOptions;
  /** If set, the From host must equal it (else 403). */
  fromDomain?: string;
  /** If set, the From user must be one of these (else 403). */
  callerIds?: string[];
  /** If set, requests from other source IPs get 403. */
  allowedSourceIps?: string[];
  /** RTP address (default `host`). */
  mediaIp?: string;
  /** Add a Record-Route (lr) pointing at the simulator to the 200 OK. */
  recordRoute?: boolean;
  /** Challenge the first INVITE with 401 (or 407 when `proxy`) and verify the retry. */
  auth?: { realm: string; username: string; password: string; proxy?: boolean };
  /** Per-call behaviour, or a function of the INVITE. */
  behaviour?: Partial<CallBehaviour> | ((invite: SipRequest) => Partial<CallBehaviour>);
  /**
   * The clock every simulator timer runs on (ringing, answer, retransmissions, hang-up,
   * the 20 ms media tick). Default: the system clock. With a fake clock, time only moves
   * when the test advances it, including the up to 2 s wait for the 200 to a BYE that
   * `hangup()` and `close()` do.
   */
  clock?: TimerClock;
  logger?: Logger;
}

/** Where the simulator listens. */
export interface SimulatorAddress {
  host: string;
  port: number;
  /** The stream transport served (`tls` or `tcp`), else `udp`: what a client should use. */
  transport: SimulatorTransport;
  /** Every transport served on `port`. */
  transports: readonly SimulatorTransport[];
}

/** A request the simulator received, as seen on the wire. */
export interface ReceivedRequest {
  method: string;
  uri: string;
  callId: string;
  transport: SimulatorTransport;
  source: { address: string; port: number };
  message: SipRequest;
}

/** @internal One connection (TCP/TLS) or one UDP peer: where responses to a request go. */
export interface Flow {
  transport: SimulatorTransport;
  address: string;
  port: number;
  send(msg: SipMessage): void;
  alive(): boolean;
}

/** @internal Extra parts of a response built by {@link SimulatorHost.response}. */
export interface SimulatorResponseParts {
  /** Our To tag (added when the request's To has none). */
  toTag?: string;
  /** More headers, appended in order. */
  headers?: Iterable<readonly [string, string]>;
  /** An SDP body. */
  sdp?: string;
}

/** @internal What a {@link SimulatedCall} needs from its simulator. */
export interface SimulatorHost {
  readonly settings: ExotelSimulatorOptions;
  readonly address: SimulatorAddress;
  readonly clock: TimerClock;
  response(req: SipRequest, status: number, flow: Flow, parts?: SimulatorResponseParts): SipResponse;
  forget(call: { readonly callId: string }): void;
}

/** @internal The behaviour of a call when the options say nothing. */
export const DEFAULT_BEHAVIOUR: CallBehaviour = {
  trying: true,
  ringAfterMs: 50,
  earlyMedia: false,
  answerAfterMs: 200,
  codecs: ['PCMA', 'PCMU'],
  rtpFromOtherPort: false,
  play: { toneHz: 440, amplitude: 8000 },
};
