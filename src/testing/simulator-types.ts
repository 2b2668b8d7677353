/**
 * The simulator's public option and record types, and the small interfaces its parts
 * talk through (a call reports to its simulator through {@link SimulatorHost}, never by
 * importing the simulator class).
 */
import type { ConnectionOptions, SecureContextOptions } from 'node:tls';
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
  reject?: {
    /** The final status (e.g. 486, 603). */
    status: number;
    /** Its reason phrase (default the standard one). */
    reason?: string;
  };
  /** Ring until cancelled. */
  noAnswer?: boolean;
  /** Codecs accepted, in preference order (default PCMA, PCMU). */
  codecs: ('PCMA' | 'PCMU')[];
  /** Advertise one RTP port in SDP and send from another (default false). */
  rtpFromOtherPort: boolean;
  /** What the far end says, looped (default a 440 Hz tone). `null`: silence. */
  play:
    | {
        /** A sine tone of this frequency, in Hz. */
        toneHz: number;
        /** Its peak amplitude, of 32767 (default 8000). */
        amplitude?: number;
      }
    | {
        /** These 8 kHz samples. */
        samples: Int16Array;
      }
    | null;
  /** With `earlyMedia`: what plays before the answer (a ringback or an announcement); `play` from the 200 on. Default: `play`. */
  earlyPlay?:
    | {
        /** A sine tone of this frequency, in Hz. */
        toneHz: number;
        /** Its peak amplitude, of 32767 (default 8000). */
        amplitude?: number;
      }
    | {
        /** These 8 kHz samples. */
        samples: Int16Array;
      }
    | null;
  /** Extra headers on the 200 OK (e.g. `X-Exotel-*`). */
  answerHeaders?: Record<string, string>;
  /** Hang up (BYE) this long after the ACK. */
  hangupAfterMs?: number;
  /** Stop all RTP this long after the ACK (to exercise media timeouts). */
  dropRtpAfterMs?: number;
}

/** Options of {@link ExotelSimulator}: where it listens, what it checks, how its calls behave. */
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
  auth?: {
    /** The realm of the challenge. */
    realm: string;
    /** The user name the retry must carry. */
    username: string;
    /** The password the retry must prove. */
    password: string;
    /** Challenge as a proxy (407, `Proxy-Authenticate`) instead of 401. */
    proxy?: boolean;
  };
  /** Per-call behaviour, or a function of the INVITE. */
  behaviour?: Partial<CallBehaviour> | ((invite: SipRequest) => Partial<CallBehaviour>);
  /**
   * The clock every simulator timer runs on (ringing, answer, retransmissions, hang-up,
   * the 20 ms media tick). Default: the system clock. With a fake clock, time only moves
   * when the test advances it, including the up to 2 s wait for the 200 to a BYE that
   * `hangup()` and `close()` do.
   */
  clock?: TimerClock;
  /** Where the simulator logs (default silent). */
  logger?: Logger;
}

/** Where the simulator listens. */
export interface SimulatorAddress {
  /** The address listened on. */
  host: string;
  /** The port, the same for every transport (0 before `start()`). */
  port: number;
  /** The stream transport served (`tls` or `tcp`), else `udp`: what a client should use. */
  transport: SimulatorTransport;
  /** Every transport served on `port`. */
  transports: readonly SimulatorTransport[];
}

/** A request the simulator received, as seen on the wire. */
export interface ReceivedRequest {
  /** The request's method. */
  method: string;
  /** Its Request-URI, as written. */
  uri: string;
  /** Its Call-ID. */
  callId: string;
  /** The transport it came over. */
  transport: SimulatorTransport;
  /** Where it came from. */
  source: {
    /** The sender's IP address. */
    address: string;
    /** The sender's port. */
    port: number;
  };
  /** The whole request, parsed. */
  message: SipRequest;
}

/** @internal One connection (TCP/TLS) or one UDP peer: where responses to a request go. */
export interface Flow {
  transport: SimulatorTransport;
  address: string;
  port: number;
  send(msg: SipMessage): void;
  /** Sends bytes already serialized (compact header forms). */
  write(bytes: Uint8Array): void;
  alive(): boolean;
}

/** @internal A connection the simulator opened itself (`callIn` over TCP/TLS). */
export interface OpenedFlow extends Flow {
  /** Closes the connection (FIN). Idempotent. */
  close(): void;
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

/**
 * What a simulated call needs from its simulator; {@link ExotelSimulator} implements it.
 * Only `address` is public.
 */
export interface SimulatorHost {
  /** @internal */
  readonly settings: ExotelSimulatorOptions;
  /** Where the simulator listens. */
  readonly address: SimulatorAddress;
  /** @internal */
  readonly clock: TimerClock;
  /** @internal */
  response(req: SipRequest, status: number, flow: Flow, parts?: SimulatorResponseParts): SipResponse;
  /** @internal */
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

/** Where {@link ExotelSimulator.callIn} sends its INVITE: the customer's SIP listener. */
export interface InboundCallTarget {
  /** The listener's host (an IP literal or a name). */
  host: string;
  /** The listener's port. */
  port: number;
  /** Default `tcp` (Exotel's trunk signals over TCP 5070 or TLS 443). */
  transport?: SimulatorTransport;
  /** TLS client options (CA, servername) when `transport` is `tls`. */
  tls?: ConnectionOptions;
}

/** Options of {@link ExotelSimulator.callIn}: a call from Exotel's trunk to the customer. */
export interface InboundCallOptions {
  /** Where to send the INVITE. */
  target: InboundCallTarget;
  /** The caller as Exotel presents it: E.164 (`+919876543210`) or national (`09876543210`). */
  from: string;
  /** The Exophone dialled (e.g. `08044319240`): user of the Request-URI and the To. */
  to: string;
  /** Host of the From URI (default: the simulator's host). */
  fromDomain?: string;
  /** More headers (e.g. `X-Exotel-*` of a flow), appended after Exotel's own. */
  headers?: Record<string, string>;
  /** Codecs offered, in order (default PCMA, PCMU); telephone-event/8000 is always offered as 101. */
  codecs?: ('PCMA' | 'PCMU')[];
  /** What the caller says once media flows, looped (default a 440 Hz tone); `null`: silence. */
  play?: CallBehaviour['play'];
  /** Hang up (BYE) this long after the ACK of the 2xx. */
  hangupAfterMs?: number;
  /** Write every header the simulator sends in its compact form (`i:`, `f:`, `t:`, `m:`, `v:`, `l:`, `c:`). */
  compactHeaders?: boolean;
}

/**
 * Where a {@link SimulatedInboundCall} is: `connecting` (opening the TCP/TLS connection)
 * → `calling` (INVITE sent) → `proceeding` (a 1xx came) → `confirmed` (2xx ACKed) →
 * `ended`; `cancelling` once CANCEL went out, `ending` once our BYE did.
 */
export type InboundCallState =
  'connecting' | 'calling' | 'proceeding' | 'cancelling' | 'confirmed' | 'ending' | 'ended';

/**
 * The final response to the INVITE. `answered` always resolves with one, never rejects:
 * a 2xx (`status` 200–299, the callee's SDP in `sdp`) or the rejection (`status` ≥ 300:
 * 486, 603, 487 after our CANCEL). When no final response came, a status is made up
 * locally (RFC 3261 §8.1.3.1): 408 for Timer B (64·T1), 503 for a transport failure
 * (connection refused or lost), 487 for a call hung up before any final response.
 */
export interface InboundCallAnswer {
  /** The final status: 200–299 answered, 300 and above refused (or made up locally). */
  status: number;
  /** Its reason phrase. */
  reason: string;
  /** The SDP body of the final response, if any. */
  sdp: string | undefined;
}

/**
 * Who ended an inbound call: `caller` (the simulator sent BYE), `callee` (BYE from the
 * customer), `cancel` (our CANCEL, `status` 487 when the INVITE was terminated),
 * `rejected` (a final non-2xx, its `status`), `error` (no final response: 408; transport
 * failure: 503).
 */
export interface InboundCallEnded {
  /** Who or what ended the call. */
  by: 'caller' | 'callee' | 'cancel' | 'rejected' | 'error';
  /** The status behind the end, for `cancel`, `rejected` and `error`. */
  status?: number;
}

/**
 * What a simulated inbound call needs from its simulator, besides {@link SimulatorHost};
 * {@link ExotelSimulator} implements it. Its own members are internal.
 */
export interface InboundSimulatorHost extends SimulatorHost {
  /** @internal Opens a TCP/TLS connection to `target`, served like an accepted one; `onClose` when it closes. */
  connect(target: InboundCallTarget, onClose: () => void): Promise<OpenedFlow>;
  /** @internal A flow to `host:port` from the simulator's UDP socket (throws when it serves no UDP). */
  udpFlow(host: string, port: number): Flow;
  /** @internal Stops routing messages of this Call-ID to the call. */
  forgetInbound(call: { readonly callId: string }): void;
}
