/**
 * `ExotelSipClient`: places outbound calls through Exotel's SIP trunk and follows each
 * one through every outcome (answered, rejected, cancelled, timed out, hung up by either
 * side, transport failure), as an `OutboundCall`.
 *
 * Layers, top to bottom: this file (UAC core: calls and their dialogs) → transaction
 * layer (RFC 3261 §17) → transport (UDP/TCP/TLS). Time comes from an injectable
 * {@link TimerClock}; logging from an injectable pino-shaped logger.
 *
 * Inbound calls are not supported yet: an out-of-dialog INVITE is answered 403.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { EventEmitter } from 'eventemitter3';
import {
  AbortedError,
  BridgeError,
  CallRejectedError,
  ClosedError,
  ConfigError,
  SdpNegotiationError,
  SipAuthError,
  SipTimeoutError,
  SipTransportError,
} from '../errors.js';
import { LogThrottle, silentLogger, type Logger } from '../logger.js';
import { VERSION } from '../version.js';
import { buildDigestAuthorization } from './digest.js';
import { Dialog, tagOf, type NextHop } from './dialog.js';
import { formatVia, getCSeq, getTopVia, parseAuthChallenge, type Via } from './headers.js';
import { newBranch, newCallId, newTag } from './ids.js';
import { EXOTEL_ALLOW, buildExotelInvite } from './invite.js';
import {
  REASON_PHRASES,
  createRequest,
  createResponse,
  type SipRequest,
  type SipResponse,
} from './message.js';
import { createSdpAnswer, negotiateSdp, type NegotiatedSdp } from './sdp.js';
import {
  resolveSipTimers,
  systemTimerClock,
  TimerSet,
  type SipTimerValues,
  type TimerClock,
} from './timers.js';
import type { InviteClientTransaction } from './transaction-client-invite.js';
import { TransactionLayer, responseTarget, type ServerTransaction } from './transaction-layer.js';
import type { InviteServerTransaction } from './transaction-server.js';
import {
  SipTransport,
  type SipFlow,
  type SipTarget,
  type SipTransportProtocol,
  type SipTransportStats,
} from './transport.js';

// ----------------------------------------------------------------------------- public types

/** Options of {@link ExotelSipClient}. */
export interface ExotelSipClientOptions {
  /** Exotel's SIP host. Default `pstn.in1.exotel.com`. */
  sipHost?: string;
  /** Exotel's SIP port. Default 5070 (443 when `transport` is `tls`, Exotel's TLS port). */
  sipPort?: number;
  /** Signalling transport. Default `tcp` (Exotel documents TCP 5070 and TLS 443). */
  transport?: SipTransportProtocol;
  /** Our public IP, advertised in Via and Contact. */
  customerIp: string;
  /** Our SIP port: listened on, and advertised in Via and Contact. 0 picks a free one. Default 5061. */
  customerSipPort?: number;
  /** Local IP the SIP sockets bind to. Default: `customerIp` (set it apart behind 1:1 NAT). */
  bindIp?: string;
  /** Domain of the From URI, e.g. `<account>.sip.exotel.com`. */
  fromDomain: string;
  /** The Exophone: caller id in From and user of our Contact. */
  callerId: string;
  /** Sent as `X-Exotel-AccountSid` (routes the call into an Exotel flow). */
  accountSid?: string;
  /** Digest credentials for trunks that challenge with 401/407. */
  auth?: { username: string; password: string };
  /** Pino-compatible logger. Default silent. */
  logger?: Logger;
  /** RFC 3261 timer base values in ms (T1 500, T2 4000, T4 5000). */
  timers?: Partial<SipTimerValues>;
  /** Clock and timers (tests inject a fake one). Default: the process clock. */
  clock?: TimerClock;
  /** Options for the outgoing TLS connection (certificate verification is on by default). */
  tls?: ConnectionOptions;
  /** Key/certificate for a TLS listener on `customerSipPort` (no TLS listener without it). */
  tlsServer?: TlsOptions;
  /** Transports to listen on at `customerSipPort`. Default: the signalling transport (none for TLS without `tlsServer`). */
  listen?: readonly SipTransportProtocol[];
  /** Largest SIP message accepted, in bytes. Default 65535. */
  maxMessageBytes?: number;
  /** Most connections the listener accepts at once. Default 64. */
  maxInboundConnections?: number;
  /** Longest wait for each call's BYE/CANCEL in `close()`. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** Value of the User-Agent header. Default `exotel-livekit-bridge/<version>`. */
  userAgent?: string;
  /** A SIP message on a TCP/TLS connection must arrive whole within this long (default 10000 ms; 0 = no limit). */
  messageTimeoutMs?: number;
  /** Connections accepted by the listener close after this long without a message (default 300000 ms; 0 = never). */
  inboundIdleTimeoutMs?: number;
  /** At most this many server transactions at once; more requests are dropped and counted (default 1024). */
  maxServerTransactions?: number;
  /**
   * More addresses allowed to send out-of-dialog requests (OPTIONS), besides the resolved
   * `sipHost` and the peers of connections we opened. Others get 403.
   */
  trustedAddresses?: readonly string[];
}

/** What an {@link ExotelSipClient} refused or dropped, and what it holds now. */
export interface SipClientStats extends SipTransportStats {
  /** Requests from unknown addresses answered 403 statelessly. */
  requestsRefused: number;
  /** Requests dropped because `maxServerTransactions` were live. */
  requestsDropped: number;
  /** Live server transactions. */
  serverTransactions: number;
  /** Live client transactions. */
  clientTransactions: number;
  /** Open TCP/TLS connections. */
  connections: number;
}

/** Options of {@link ExotelSipClient.invite}. */
export interface InviteOptions {
  /** The callee (E.164, e.g. `+919876543210`). */
  to: string;
  /** Our SDP offer. When given, the answer is negotiated against it (`CallAnswer.negotiated`). */
  sdp?: string;
  /** Extra headers (names and values are validated against injection). */
  headers?: Readonly<Record<string, string>>;
  /** Aborting hangs up (CANCEL before the answer, BYE after). */
  signal?: AbortSignal;
  /** Give up (CANCEL, `ended` with `'timeout'`) when no final answer came in time. Default 60000; 0 = never. */
  ringingTimeoutMs?: number;
  /** Hang up (BYE, `ended` with `'max-duration'`) this long after the answer. Default: no limit. */
  maxDurationMs?: number;
  /** Logger for this call's log lines (default: the client's), e.g. a per-call child logger. */
  logger?: Logger;
}

/** Lifecycle of an outbound call. */
export type CallState = 'calling' | 'early' | 'answered' | 'ending' | 'ended';

/** Why a call ended. */
export type CallEndReason =
  | 'local-bye'
  | 'remote-bye'
  | 'rejected'
  | 'cancelled'
  | 'timeout'
  | 'transport-error'
  | 'max-duration'
  | 'auth-failed'
  | 'negotiation-failed';

/** A provisional response (`progress` event). */
export interface CallProgress {
  status: number;
  reason: string;
  /** The early-media SDP when the response carried one (typically 183). */
  sdp?: string;
}

/** A successful answer (`call.answered`). */
export interface CallAnswer {
  status: number;
  reason: string;
  /** The far end's SDP answer. */
  sdp: string;
  /** The negotiated media, when an SDP offer was passed to `invite`. */
  negotiated?: NegotiatedSdp;
  remoteTag: string;
  callId: string;
  /** The 200 OK's `X-` headers (first value of each). */
  remoteHeaders: Readonly<Record<string, string>>;
}

/** How a call ended (`ended` event and `call.ended`). */
export interface CallEnded {
  reason: CallEndReason;
  /** The SIP status behind the end, when there was one (e.g. 486, 487, 200 to BYE). */
  status?: number;
  /** The error behind the end, when there was one. */
  error?: BridgeError;
}

/** A new media description from the far end (a re-INVITE: hold, resume, address change). */
export interface MediaUpdate {
  /** The far end's new SDP. */
  sdp: string;
  /** Our SDP answer to it. */
  answer: string;
  /** The media now in effect, from our side. */
  negotiated: NegotiatedSdp;
}

/**
 * Events of an {@link OutboundCall}:
 * - `progress` — every provisional response (100/180/183), with early-media SDP when present;
 * - `answered` — the 2xx arrived and was ACKed;
 * - `mediaUpdate` — the far end changed the media with a re-INVITE (answered 200);
 * - `ended` — exactly once, whatever the outcome.
 */
export interface OutboundCallEvents {
  progress: [progress: CallProgress];
  answered: [answer: CallAnswer];
  mediaUpdate: [update: MediaUpdate];
  ended: [ended: CallEnded];
}

// ----------------------------------------------------------------------------- constants

/** Default ringing timeout (ms). */
export const DEFAULT_RINGING_TIMEOUT_MS = 60_000;
const ALLOW = EXOTEL_ALLOW;
const DEFAULTS = {
  sipHost: 'pstn.in1.exotel.com',
  sipPort: 5070,
  transport: 'tcp' as SipTransportProtocol,
  customerSipPort: 5061,
};

// ----------------------------------------------------------------------------- the client

/** Internal view of the client that calls use. */
interface CallHost {
  readonly layer: TransactionLayer;
  readonly transport: SipTransport;
  readonly clock: TimerClock;
  readonly timers: SipTimerValues;
  readonly protocol: SipTransportProtocol;
  readonly trunk: SipTarget;
  readonly auth: { username: string; password: string } | undefined;
  readonly userAgent: string;
  via(): string;
  contact(): string;
  release(call: OutboundCall): void;
  /** Records the `received`/`rport` the far end saw our request come from. */
  observe(res: SipResponse): void;
}

/**
 * A SIP user agent for outbound calls through Exotel's trunk (see the module comment).
 *
 * @example
 * ```ts
 * const client = new ExotelSipClient({
 *   customerIp: '203.0.113.10', customerSipPort: 5061,
 *   fromDomain: 'acme.sip.exotel.com', callerId: '08044319240',
 * });
 * await client.start();
 * const call = client.invite({ to: '+919876543210', sdp: createSdpOffer({ ip: '203.0.113.10', port: 10000 }) });
 * call.on('progress', ({ status }) => console.log('progress', status));
 * const { negotiated } = await call.answered; // rejects with CallRejectedError on 486, 603...
 * await call.hangup();
 * await client.close();
 * ```
 */
export class ExotelSipClient {
  private readonly opts: Required<
    Pick<ExotelSipClientOptions, 'sipHost' | 'sipPort' | 'transport' | 'customerSipPort'>
  > &
    ExotelSipClientOptions;
  private readonly log: Logger;
  private readonly clock: TimerClock;
  private readonly timers: SipTimerValues;
  private readonly transport: SipTransport;
  private readonly layer: TransactionLayer;
  private readonly calls = new Map<string, OutboundCall>();
  private readonly trustedAddresses = new Set<string>();
  private readonly throttle = new LogThrottle();
  private readonly host: CallHost;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private observed: { address: string; port: number | undefined } | undefined;

  constructor(options: ExotelSipClientOptions) {
    this.opts = {
      ...options,
      sipHost: options.sipHost ?? DEFAULTS.sipHost,
      sipPort: options.sipPort ?? (options.transport === 'tls' ? 443 : DEFAULTS.sipPort),
      transport: options.transport ?? DEFAULTS.transport,
      customerSipPort: options.customerSipPort ?? DEFAULTS.customerSipPort,
    };
    validateOptions(this.opts);
    for (const a of options.trustedAddresses ?? []) this.trustedAddresses.add(a);
    this.log = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemTimerClock;
    this.timers = resolveSipTimers(options.timers);
    const listen =
      options.listen ??
      (this.opts.transport === 'tls' ? (options.tlsServer ? ['tls' as const] : []) : [this.opts.transport]);
    this.transport = new SipTransport(
      {
        bindIp: options.bindIp ?? options.customerIp,
        port: this.opts.customerSipPort,
        listen,
        ...(options.tls !== undefined ? { tls: options.tls } : {}),
        ...(options.tlsServer !== undefined ? { tlsServer: options.tlsServer } : {}),
        ...(options.maxMessageBytes !== undefined ? { maxMessageBytes: options.maxMessageBytes } : {}),
        ...(options.maxInboundConnections !== undefined
          ? { maxInboundConnections: options.maxInboundConnections }
          : {}),
        ...(options.messageTimeoutMs !== undefined ? { messageTimeoutMs: options.messageTimeoutMs } : {}),
        ...(options.inboundIdleTimeoutMs !== undefined
          ? { inboundIdleTimeoutMs: options.inboundIdleTimeoutMs }
          : {}),
        logger: this.log,
      },
      {
        onMessage: (msg, flow) => this.layer.receive(msg, flow),
        onConnectionClosed: (flow, error) => {
          this.layer.connectionClosed(flow, error);
          for (const call of [...this.calls.values()]) call.connectionClosed(flow, error);
        },
      },
    );
    this.layer = new TransactionLayer({
      transport: this.transport,
      clock: this.clock,
      timers: this.timers,
      logger: this.log,
      ...(options.maxServerTransactions !== undefined
        ? { maxServerTransactions: options.maxServerTransactions }
        : {}),
      user: {
        admit: (req, flow, via) => this.admit(req, flow, via),
        onRequest: (req, tx, flow) => this.onRequest(req, tx, flow),
        onStrayResponse: (res) => this.calls.get(res.headers.get('Call-ID') ?? '')?.strayResponse(res),
      },
    });
    this.host = {
      layer: this.layer,
      transport: this.transport,
      clock: this.clock,
      timers: this.timers,
      protocol: this.opts.transport,
      trunk: { protocol: this.opts.transport, host: this.opts.sipHost, port: this.opts.sipPort },
      auth: options.auth,
      userAgent: options.userAgent ?? `exotel-livekit-bridge/${VERSION}`,
      via: () => this.viaValue(),
      contact: () => this.contactValue(),
      observe: (res) => this.observe(res),
      release: (call) => {
        if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
      },
    };
  }

  /** The SIP port in use (the bound one when `customerSipPort` was 0). */
  get localPort(): number {
    return this.transport.port || this.opts.customerSipPort;
  }

  /**
   * Where the trunk saw our requests come from (`received`/`rport` of the responses'
   * Via, RFC 3581), once a response carried them. Differs from `customerIp` behind NAT.
   */
  get observedAddress(): { address: string; port: number | undefined } | undefined {
    return this.observed;
  }

  /** Calls not yet ended. */
  get activeCalls(): readonly OutboundCall[] {
    return [...this.calls.values()];
  }

  /** Opens the listeners on `customerSipPort`. Idempotent; `invite` calls it too. */
  start(): Promise<void> {
    if (this.closing) return Promise.reject(new ClosedError('ExotelSipClient'));
    this.starting ??= (async () => {
      await this.transport.start();
      await this.resolveTrunk();
      this.log.info(
        { port: this.localPort, transport: this.opts.transport },
        `[SIP] Client ready on ${this.opts.bindIp ?? this.opts.customerIp}:${this.localPort}`,
      );
    })();
    return this.starting;
  }

  /**
   * Places a call. Returns at once; follow it through the returned call's events and
   * promises. Validation errors (phone number, headers) reject `answered`.
   */
  invite(options: InviteOptions): OutboundCall {
    const callId = newCallId(this.opts.customerIp);
    const call = new OutboundCall(
      this.host,
      callId,
      options,
      (options.logger ?? this.log).child({ sipCallId: callId, phone: options.to }),
    );
    if (this.closing) {
      call.failBeforeStart(new ClosedError('ExotelSipClient'));
      return call;
    }
    this.calls.set(callId, call);
    void this.start().then(
      () => call.begin((o) => this.buildInvite(callId, o)),
      (err: unknown) => call.failBeforeStart(asBridgeError(err)),
    );
    return call;
  }

  /** Ends every live call (BYE or CANCEL, bounded by `closeTimeoutMs`), then closes every socket and timer. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const limit = this.opts.closeTimeoutMs ?? 5000;
      await Promise.all(
        [...this.calls.values()].map(
          (c) =>
            new Promise<void>((resolve) => {
              const h = this.clock.setTimeout(resolve, limit);
              void c.hangup().then(() => {
                this.clock.clearTimeout(h);
                resolve();
              });
            }),
        ),
      );
      for (const c of [...this.calls.values()]) c.abandon();
      this.layer.close();
      await this.starting?.catch(() => undefined);
      await this.transport.close();
    })();
    return this.closing;
  }

  private buildInvite(callId: string, o: InviteOptions): SipRequest {
    return buildExotelInvite({
      to: o.to,
      callerId: this.opts.callerId,
      fromDomain: this.opts.fromDomain,
      sipHost: this.opts.sipHost,
      sipPort: this.opts.sipPort,
      transport: this.opts.transport,
      customerIp: this.opts.customerIp,
      customerSipPort: this.localPort,
      ids: { callId, fromTag: newTag(), branch: newBranch(), cseq: 1 },
      ...(o.sdp !== undefined ? { sdp: o.sdp } : {}),
      ...(this.opts.accountSid !== undefined ? { accountSid: this.opts.accountSid } : {}),
      ...(o.headers !== undefined ? { extraHeaders: o.headers } : {}),
      userAgent: this.host.userAgent,
    });
  }

  private viaValue(): string {
    return formatVia({
      protocol: 'SIP/2.0',
      transport: this.opts.transport.toUpperCase(),
      host: this.opts.customerIp,
      port: this.localPort,
      branch: newBranch(),
      rport: true,
      params: new Map(),
    });
  }

  private contactValue(): string {
    const host = this.opts.customerIp.includes(':') ? `[${this.opts.customerIp}]` : this.opts.customerIp;
    return `<sip:${this.opts.callerId}@${host}:${this.localPort};transport=${this.opts.transport}>`;
  }

  private observe(res: SipResponse): void {
    let via;
    try {
      via = getTopVia(res);
    } catch {
      return;
    }
    if (via.received === undefined && typeof via.rport !== 'number') return;
    const address = via.received ?? via.host;
    const port = typeof via.rport === 'number' ? via.rport : undefined;
    if (this.observed?.address === address && this.observed.port === port) return;
    this.observed = { address, port };
    const advertised = `${this.opts.customerIp}:${this.localPort}`;
    const seen = `${address}:${port ?? '?'}`;
    if (seen !== advertised)
      this.log.info({ advertised, seen }, `[SIP] The trunk sees our signalling from ${seen}`);
  }

  private async resolveTrunk(): Promise<void> {
    const h = this.opts.sipHost;
    if (isIP(h) !== 0) {
      this.trustedAddresses.add(h);
      return;
    }
    try {
      for (const a of await lookup(h, { all: true })) this.trustedAddresses.add(a.address);
    } catch (err) {
      this.log.warn({ host: h, err: (err as Error).message }, '[SIP] cannot resolve the trunk host (yet)');
    }
  }

  /** Counters of what was refused or dropped: transport and transaction layer. */
  stats(): SipClientStats {
    return {
      ...this.transport.stats(),
      requestsRefused: this.layer.refusedRequests,
      requestsDropped: this.layer.droppedRequests,
      serverTransactions: this.layer.serverCount,
      clientTransactions: this.layer.clientCount,
      connections: this.transport.connectionCount,
    };
  }

  private isTrusted(flow: SipFlow): boolean {
    return (
      this.trustedAddresses.has(flow.remoteAddress) ||
      (flow.connectionId !== undefined &&
        this.transport.hasOpenConnection(flow) &&
        !isInbound(flow, this.localPort)) ||
      [...this.calls.values()].some((c) => c.usesFlow(flow))
    );
  }

  /**
   * Before a request gets a server transaction: requests of our calls and from the trunk
   * are admitted; anyone else gets a stateless 403 and leaves no state behind.
   */
  private admit(req: SipRequest, flow: SipFlow, via: Via): boolean {
    if (this.calls.has(req.headers.get('Call-ID') ?? '') || this.isTrusted(flow)) return true;
    const skipped = this.throttle.take('refused');
    if (skipped !== undefined) {
      this.log.warn(
        {
          method: req.method,
          from: `${flow.remoteAddress}:${flow.remotePort}`,
          alsoRefusedSinceLastLine: skipped,
        },
        '[SIP] request from an unknown address refused',
      );
    }
    // ACKs never come here (the transaction layer handles them before asking).
    void this.transport
      .send(buildResponse(req, 403, 'Forbidden', this.host), responseTarget(flow, via))
      .catch(() => undefined);
    return false;
  }

  /** Requests from the far end: in-dialog ones go to their call; the rest are answered here. */
  private onRequest(req: SipRequest, tx: ServerTransaction | undefined, flow: SipFlow): void {
    const call = this.calls.get(req.headers.get('Call-ID') ?? '');
    if (call !== undefined && call.handleRequest(req, tx, flow)) return;
    if (tx === undefined) return; // a stray ACK
    if (!this.isTrusted(flow)) {
      tx.respond(buildResponse(req, 403, 'Forbidden', this.host));
      return;
    }
    switch (req.method) {
      case 'OPTIONS': {
        const res = buildResponse(req, 200, 'OK', this.host);
        res.headers.append('Allow', ALLOW);
        res.headers.append('Accept', 'application/sdp');
        tx.respond(res);
        return;
      }
      case 'INVITE': {
        if (tagOf(req.headers.get('To') ?? '') !== undefined) {
          tx.respond(
            buildResponse(req, 481, REASON_PHRASES[481] ?? 'Call/Transaction Does Not Exist', this.host),
          );
        } else {
          // Inbound calls are not supported yet.
          this.log.warn(
            { from: req.headers.get('From') },
            '[SIP] inbound INVITE refused (inbound calls are not supported)',
          );
          tx.respond(buildResponse(req, 403, 'Forbidden', this.host));
        }
        return;
      }
      case 'BYE':
      case 'CANCEL':
      case 'INFO':
      case 'UPDATE':
      case 'PRACK':
        tx.respond(
          buildResponse(req, 481, REASON_PHRASES[481] ?? 'Call/Transaction Does Not Exist', this.host),
        );
        return;
      default: {
        const res = buildResponse(req, 405, 'Method Not Allowed', this.host);
        res.headers.append('Allow', ALLOW);
        tx.respond(res);
      }
    }
  }
}

function isInbound(flow: SipFlow, listenPort: number): boolean {
  return flow.localPort === listenPort;
}

// ----------------------------------------------------------------------------- the call

type CallTimer = 'ringing' | 'maxDuration' | 'cancelGuard' | 'sessionRefresh';
type CancelCause = { reason: CallEndReason; error: BridgeError };

/**
 * One outbound call. Created by {@link ExotelSipClient.invite}; see
 * {@link OutboundCallEvents} for its events.
 */
export class OutboundCall extends EventEmitter<OutboundCallEvents> {
  /** The Call-ID. */
  readonly callId: string;
  /** Resolves with the answer; rejects with `CallRejectedError`, `SipTimeoutError`, `SipAuthError`, `SipTransportError`, `SdpNegotiationError` or `AbortedError`. Never an unhandled rejection. */
  readonly answered: Promise<CallAnswer>;
  /** Resolves once the call has ended, whatever the outcome (never rejects). */
  readonly ended: Promise<CallEnded>;
  /** The 200 OK's `X-` headers (empty until answered). */
  remoteHeaders: Readonly<Record<string, string>> = {};
  private currentState: CallState = 'calling';
  private dialog: Dialog | undefined;
  private invite: SipRequest | undefined;
  private inviteTx: InviteClientTransaction | undefined;
  private ack: SipRequest | undefined;
  private ackTarget: SipTarget | undefined;
  private flow: SipFlow | undefined;
  private authTried = false;
  private provisionalSeen = false;
  private cancelCause: CancelCause | undefined;
  private cancelSent = false;
  private hangupPromise: Promise<void> | undefined;
  private localSdp: string | undefined;
  private sdpVersionBump = 0;
  private readonly t: TimerSet<CallTimer>;
  private resolveAnswered!: (a: CallAnswer) => void;
  private rejectAnswered!: (e: BridgeError) => void;
  private resolveEnded!: (e: CallEnded) => void;
  private settled = false;
  private reinviteTx: InviteServerTransaction | undefined;
  private onAbort: (() => void) | undefined;

  /** @internal Created by `ExotelSipClient.invite`. */
  constructor(
    private readonly host: CallHost,
    callId: string,
    private readonly options: InviteOptions,
    private readonly log: Logger,
  ) {
    super();
    this.callId = callId;
    this.t = new TimerSet<CallTimer>(host.clock);
    this.answered = new Promise<CallAnswer>((res, rej) => {
      this.resolveAnswered = res;
      this.rejectAnswered = rej;
    });
    this.answered.catch(() => undefined);
    this.ended = new Promise<CallEnded>((res) => (this.resolveEnded = res));
    this.localSdp = options.sdp;
    const signal = options.signal;
    if (signal !== undefined) {
      this.onAbort = () => {
        this.cancelCause ??= {
          reason: 'cancelled',
          error: new AbortedError('call aborted', { cause: signal.reason }),
        };
        void this.hangup();
      };
      if (signal.aborted) queueMicrotask(this.onAbort);
      else signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** Where the call is: `calling` → `early` (1xx) → `answered` → `ending` → `ended`. */
  get state(): CallState {
    return this.currentState;
  }

  /**
   * Hangs up: CANCEL before a final response (once a provisional one arrived, RFC 3261
   * §9.1), BYE after the answer. Resolves once the call has ended. Idempotent.
   */
  hangup(): Promise<void> {
    this.hangupPromise ??= (async () => {
      switch (this.currentState) {
        case 'ended':
          return;
        case 'calling':
        case 'early':
          this.cancelCause ??= {
            reason: 'cancelled',
            error: new AbortedError('call cancelled before the answer'),
          };
          this.requestCancel();
          break;
        case 'answered':
          this.sendBye('local-bye');
          break;
        case 'ending':
          break;
      }
      await this.ended;
    })();
    return this.hangupPromise;
  }

  // --------------------------------------------------------------- internal: driven by the client

  /** @internal */
  failBeforeStart(error: BridgeError): void {
    this.finish({ reason: error instanceof ClosedError ? 'cancelled' : 'transport-error', error }, error);
  }

  /** @internal Builds and sends the INVITE. */
  begin(build: (o: InviteOptions) => SipRequest): void {
    if (this.currentState === 'ended') return;
    let invite: SipRequest;
    try {
      invite = build(this.options);
    } catch (err) {
      this.finish({ reason: 'rejected', error: asBridgeError(err) }, asBridgeError(err));
      return;
    }
    if (this.cancelCause !== undefined) {
      // Hung up before anything was sent.
      this.finish({ reason: this.cancelCause.reason }, this.cancelCause.error);
      return;
    }
    this.invite = invite;
    const ringing = this.options.ringingTimeoutMs ?? DEFAULT_RINGING_TIMEOUT_MS;
    if (ringing > 0 && Number.isFinite(ringing)) {
      this.t.start('ringing', ringing, () => {
        this.log.info(`[SIP] No answer within ${ringing} ms: cancelling`);
        this.cancelCause ??= {
          reason: 'timeout',
          error: new SipTimeoutError(`no answer within ${ringing} ms`),
        };
        this.requestCancel();
      });
    }
    this.sendInvite(invite);
  }

  private sendInvite(invite: SipRequest): void {
    const { trunk } = this.host;
    this.log.info(`[SIP] Sending INVITE to ${trunk.host}:${trunk.port}`);
    this.inviteTx = this.host.layer.sendInvite(invite, trunk, {
      onResponse: (res) => this.inviteResponse(res, invite),
      onTimeout: () => {
        const e = new SipTimeoutError('no response to INVITE (Timer B)');
        this.log.warn('[SIP] INVITE timed out (Timer B)');
        // RFC 3261 8.1.3.1: a transaction timeout is treated as a 408 Request Timeout.
        this.finish({ reason: 'timeout', status: 408, error: e }, this.cancelCause?.error ?? e);
      },
      onTransportError: (e) => {
        this.log.warn({ err: e.message }, '[SIP] transport error on INVITE');
        this.finish({ reason: 'transport-error', error: e }, e);
      },
    });
  }

  private inviteResponse(res: SipResponse, invite: SipRequest): void {
    if (this.invite !== invite) return; // a response to the INVITE that was replaced after a challenge
    this.host.observe(res);
    if (this.flow === undefined && res.status < 300) this.flow = this.host.layer.flowOf(invite);
    const status = res.status;
    if (status < 200) {
      this.log.info(`[SIP] Received ${status} ${res.reason}`);
      this.provisionalSeen = true;
      if (this.currentState === 'calling') this.currentState = 'early';
      const sdp = bodyText(res);
      this.emit('progress', { status, reason: res.reason, ...(sdp !== undefined ? { sdp } : {}) });
      if (this.cancelCause !== undefined && !this.cancelSent) this.sendCancel();
      return;
    }
    if (status < 300) {
      this.on2xx(res);
      return;
    }
    this.log.info(`[SIP] Received ${status} ${res.reason}`);
    this.t.stop('ringing');
    if ((status === 401 || status === 407) && this.tryAuthenticate(res, invite)) return;
    if (status === 401 || status === 407) {
      const e = new SipAuthError(
        this.host.auth === undefined
          ? `the trunk asked for credentials (${status}) and none are configured`
          : `the trunk rejected our credentials (${status} again)`,
        status,
      );
      this.finish({ reason: 'auth-failed', status, error: e }, e);
      return;
    }
    if (this.cancelCause !== undefined && (this.cancelSent || status === 487)) {
      this.finish({ reason: this.cancelCause.reason, status }, this.cancelCause.error);
      return;
    }
    const e = new CallRejectedError(status, res.reason);
    this.finish({ reason: 'rejected', status, error: e }, e);
  }

  /** 401/407: ACKed by the transaction; re-send the INVITE once with credentials. */
  private tryAuthenticate(res: SipResponse, invite: SipRequest): boolean {
    const auth = this.host.auth;
    if (auth === undefined || this.authTried || this.cancelCause !== undefined) return false;
    const proxy = res.status === 407;
    const raw = res.headers.get(proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate');
    if (raw === undefined) return false;
    let credentials: { name: string; value: string };
    try {
      const challenge = parseAuthChallenge(raw, proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate');
      credentials = buildDigestAuthorization(challenge, {
        username: auth.username,
        password: auth.password,
        method: 'INVITE',
        uri: invite.uri,
        body: invite.body,
        status: proxy ? 407 : 401,
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, '[SIP] cannot answer the challenge');
      return false;
    }
    this.authTried = true;
    const next = createRequest('INVITE', invite.uri, invite.headers.clone(), invite.body);
    next.headers.set('Via', this.host.via());
    next.headers.set('CSeq', `${getCSeq(invite).seq + 1} INVITE`);
    next.headers.set(credentials.name, credentials.value);
    this.invite = next;
    this.provisionalSeen = false;
    this.log.info(`[SIP] Re-sending INVITE with credentials (${res.status})`);
    // The ringing timeout keeps running from the first INVITE.
    const ringing = this.options.ringingTimeoutMs ?? DEFAULT_RINGING_TIMEOUT_MS;
    if (ringing > 0 && Number.isFinite(ringing) && !this.t.running('ringing')) {
      this.t.start('ringing', ringing, () => {
        this.cancelCause ??= {
          reason: 'timeout',
          error: new SipTimeoutError(`no answer within ${ringing} ms`),
        };
        this.requestCancel();
      });
    }
    this.sendInvite(next);
    return true;
  }

  private on2xx(res: SipResponse): void {
    const invite = this.invite;
    if (invite === undefined) return;
    const remoteTag = tagOf(res.headers.get('To') ?? '');
    if (this.dialog !== undefined) {
      if (remoteTag === this.dialog.remoteTag) {
        // A retransmitted 2xx: our ACK was lost. Send it again (RFC 3261 §13.2.2.4).
        this.log.info('[SIP] Received 200 OK again: re-sending ACK');
        this.sendAck();
      } else {
        this.log.warn({ remoteTag }, '[SIP] a second 2xx from another branch: ACK and BYE it');
        this.ackAndByeStray(res, invite);
      }
      return;
    }
    this.log.info(`[SIP] Received ${res.status} ${res.reason}`);
    this.t.stop('ringing');
    let dialog: Dialog;
    try {
      dialog = Dialog.fromUacResponse(invite, res);
    } catch (err) {
      const e = asBridgeError(err);
      this.log.error({ err: e.message }, '[SIP] unusable 2xx');
      this.finish({ reason: 'transport-error', error: e }, e);
      return;
    }
    this.dialog = dialog;
    this.ack = dialog.createRequest('ACK', { ackOf: getCSeq(invite).seq });
    this.ack.headers.prepend('Via', this.host.via());
    for (const h of ['Authorization', 'Proxy-Authorization']) {
      const v = invite.headers.get(h);
      if (v !== undefined) this.ack.headers.append(h, v);
    }
    this.ackTarget = this.inDialogTarget();
    // Negotiate before the ACK so the log reads answered → ACK; the ACK goes out either way.
    let negotiated: NegotiatedSdp | undefined;
    let negotiationError: SdpNegotiationError | undefined;
    const answerSdp = bodyText(res) ?? '';
    if (this.cancelCause === undefined) {
      if (this.localSdp !== undefined) {
        try {
          negotiated = negotiateSdp(this.localSdp, answerSdp);
          this.log.info(
            `[SIP] Call answered. Remote RTP endpoint: ${negotiated.remoteAddress}:${negotiated.remotePort}`,
          );
        } catch (err) {
          negotiationError =
            err instanceof SdpNegotiationError
              ? err
              : new SdpNegotiationError(String((err as Error).message), { cause: err });
        }
      } else {
        this.log.info(`[SIP] Call answered. Remote RTP endpoint: ${sdpEndpoint(answerSdp) ?? 'unknown'}`);
      }
    }
    this.sendAck();

    if (this.cancelCause !== undefined) {
      // CANCEL raced the 200 (or we gave up meanwhile): the call is up; end it with BYE
      // (RFC 3261 §9.1, §15).
      this.currentState = 'answered';
      this.sendBye(this.cancelCause.reason, this.cancelCause.error);
      return;
    }

    const sdp = answerSdp;
    const remoteHeaders: Record<string, string> = {};
    for (const h of res.headers) {
      if (/^x-/i.test(h.name) && remoteHeaders[h.name] === undefined) remoteHeaders[h.name] = h.value;
    }
    this.remoteHeaders = remoteHeaders;
    if (negotiationError !== undefined) {
      this.log.warn({ err: negotiationError.message }, '[SIP] SDP answer not usable: hanging up');
      this.currentState = 'answered';
      this.sendBye('negotiation-failed', negotiationError);
      return;
    }
    this.currentState = 'answered';
    const answer: CallAnswer = {
      status: res.status,
      reason: res.reason,
      sdp,
      ...(negotiated !== undefined ? { negotiated } : {}),
      remoteTag: dialog.remoteTag,
      callId: this.callId,
      remoteHeaders,
    };
    const max = this.options.maxDurationMs;
    if (max !== undefined && max > 0 && Number.isFinite(max)) {
      this.t.start('maxDuration', max, () => {
        this.log.info(`[SIP] Maximum call duration (${max} ms) reached: hanging up`);
        this.sendBye('max-duration');
      });
    }
    this.scheduleSessionRefresh(res);
    this.resolveAnswered(answer);
    this.emit('answered', answer);
  }

  /**
   * Session timer (RFC 4028): our INVITE says `Supported: timer`, so when the 2xx names
   * us the refresher (`refresher=uac`, or no refresher given) we re-INVITE with our SDP at
   * half the interval; otherwise the far end would end the call when it expires.
   */
  private scheduleSessionRefresh(res: SipResponse): void {
    const m = /^\s*(\d+)\s*(?:;(.*))?$/.exec(res.headers.get('Session-Expires') ?? '');
    if (m === null) return;
    const seconds = Number(m[1]);
    const refresher = /(?:^|;)\s*refresher\s*=\s*(uac|uas)/i.exec(m[2] ?? '')?.[1]?.toLowerCase() ?? 'uac';
    if (refresher !== 'uac' || !(seconds > 0)) return;
    if (this.localSdp === undefined) {
      this.log.warn('[SIP] the far end asks us to refresh the session, but there is no SDP to refresh with');
      return;
    }
    this.t.start('sessionRefresh', (seconds * 1000) / 2, () => this.refreshSession(seconds));
  }

  private refreshSession(seconds: number): void {
    const dialog = this.dialog;
    const sdp = this.localSdp;
    if (dialog === undefined || sdp === undefined || this.currentState !== 'answered') return;
    const req = dialog.createRequest('INVITE', { body: sdp });
    req.headers.prepend('Via', this.host.via());
    req.headers.append('Supported', 'timer');
    req.headers.append('Session-Expires', `${seconds};refresher=uac`);
    req.headers.append('User-Agent', this.host.userAgent);
    const target = this.inDialogTarget();
    const seq = dialog.localSeq;
    let ack: SipRequest | undefined;
    this.log.info('[SIP] Refreshing the session (re-INVITE)');
    this.host.layer.sendInvite(req, target, {
      onResponse: (r) => {
        if (r.status < 200) return;
        if (r.status < 300) {
          if (ack === undefined) {
            ack = dialog.createRequest('ACK', { ackOf: seq });
            ack.headers.prepend('Via', this.host.via());
            this.scheduleSessionRefresh(r);
          }
          void this.host.layer.sendStateless(ack, target).catch(() => undefined);
          return;
        }
        this.log.warn(`[SIP] Session refresh answered ${r.status} ${r.reason}`);
        // RFC 3261 §12.2.1.2: 481 and 408 mean the dialog is gone.
        if (r.status === 481 || r.status === 408) {
          this.finish({ reason: 'remote-bye', status: r.status }, undefined);
        } else {
          this.t.start('sessionRefresh', Math.min(5000, (seconds * 1000) / 4), () =>
            this.refreshSession(seconds),
          );
        }
      },
      onTimeout: () => {
        this.log.warn('[SIP] Session refresh timed out');
        this.sendBye('timeout', new SipTimeoutError('no answer to the session refresh'));
      },
      onTransportError: (e) => this.log.warn({ err: e.message }, '[SIP] Session refresh could not be sent'),
    });
  }

  private sendAck(): void {
    const ack = this.ack;
    const target = this.ackTarget;
    if (ack === undefined || target === undefined) return;
    this.log.info('[SIP] Sending ACK');
    this.host.layer.sendStateless(ack, target).then(
      (flow) => {
        if (flow.connectionId !== undefined) this.flow ??= flow;
      },
      (err: unknown) => this.log.warn({ err: (err as Error).message }, '[SIP] ACK could not be sent'),
    );
  }

  /** A 2xx from another fork: ACK it and end that dialog at once. */
  private ackAndByeStray(res: SipResponse, invite: SipRequest): void {
    let d: Dialog;
    try {
      d = Dialog.fromUacResponse(invite, res);
    } catch {
      return;
    }
    const ack = d.createRequest('ACK', { ackOf: getCSeq(invite).seq });
    ack.headers.prepend('Via', this.host.via());
    const target = this.targetFor(d.nextHop(this.host.protocol));
    void this.host.layer.sendStateless(ack, target).catch(() => undefined);
    this.byeAndForget(d, target);
  }

  /** A BYE whose outcome changes nothing here (the call already ended on our side). */
  private byeAndForget(d: Dialog, target: SipTarget): void {
    const bye = d.createRequest('BYE');
    bye.headers.prepend('Via', this.host.via());
    bye.headers.append('User-Agent', this.host.userAgent);
    this.log.info('[SIP] Sending BYE');
    try {
      this.host.layer.sendRequest(bye, target, {
        onResponse: () => {},
        onTimeout: () => {},
        onTransportError: () => {},
      });
    } catch {
      // the client is closing: nothing left to send on
    }
  }

  /** @internal A response that matched no transaction: a late 2xx retransmission. */
  strayResponse(res: SipResponse): void {
    if (res.status >= 200 && res.status < 300 && getCSeqSafe(res)?.method === 'INVITE') this.on2xx(res);
  }

  private requestCancel(): void {
    if (this.currentState !== 'calling' && this.currentState !== 'early') return;
    // RFC 3261 §9.1: no CANCEL before a provisional response; it is sent when one arrives.
    if (this.provisionalSeen) this.sendCancel();
    // Whatever happens, do not wait forever for the INVITE to end.
    if (!this.t.running('cancelGuard')) {
      this.t.start('cancelGuard', 64 * this.host.timers.t1, () => {
        const cause = this.cancelCause;
        this.finish(
          { reason: cause?.reason ?? 'cancelled' },
          cause?.error ?? new AbortedError('call cancelled'),
        );
      });
    }
  }

  private sendCancel(): void {
    const invite = this.invite;
    if (invite === undefined || this.cancelSent) return;
    this.cancelSent = true;
    const cancel = createRequest('CANCEL', invite.uri);
    const via = invite.headers.get('Via');
    if (via !== undefined) cancel.headers.append('Via', via);
    for (const r of invite.headers.getAll('Route')) cancel.headers.append('Route', r);
    cancel.headers.append('Max-Forwards', '70');
    for (const h of ['From', 'To', 'Call-ID']) {
      const v = invite.headers.get(h);
      if (v !== undefined) cancel.headers.append(h, v);
    }
    cancel.headers.append('CSeq', `${getCSeq(invite).seq} CANCEL`);
    cancel.headers.append('User-Agent', this.host.userAgent);
    this.log.info('[SIP] Sending CANCEL');
    const target: SipTarget = { ...this.host.trunk, flow: this.host.layer.flowOf(invite) };
    this.host.layer.sendRequest(cancel, target, {
      onResponse: (r) => {
        if (r.status >= 200) this.log.info(`[SIP] Received ${r.status} ${r.reason} (CANCEL)`);
      },
      onTimeout: () => this.log.warn('[SIP] CANCEL timed out'),
      onTransportError: (e) => this.log.warn({ err: e.message }, '[SIP] CANCEL could not be sent'),
    });
  }

  private sendBye(reason: CallEndReason, error?: BridgeError): void {
    const dialog = this.dialog;
    if (dialog === undefined || this.currentState === 'ending' || this.currentState === 'ended') return;
    this.currentState = 'ending';
    this.t.stop('maxDuration');
    this.t.stop('sessionRefresh');
    this.sendInDialog(dialog, 'BYE', false, (status) => {
      this.finish(
        { reason, ...(status !== undefined ? { status } : {}), ...(error ? { error } : {}) },
        error,
      );
    });
  }

  /** Sends an in-dialog request, answering one 401/407 with credentials. */
  private sendInDialog(
    dialog: Dialog,
    method: string,
    authRetry: boolean,
    done: (status: number | undefined) => void,
    credentials?: { name: string; value: string },
  ): void {
    const req = dialog.createRequest(method);
    req.headers.prepend('Via', this.host.via());
    req.headers.append('User-Agent', this.host.userAgent);
    if (credentials !== undefined) req.headers.append(credentials.name, credentials.value);
    const target = this.inDialogTarget();
    this.log.info(`[SIP] Sending ${method}`);
    this.host.layer.sendRequest(req, target, {
      onResponse: (r) => {
        if (r.status < 200) return;
        this.log.info(`[SIP] Received ${r.status} ${r.reason} (${method})`);
        const auth = this.host.auth;
        if ((r.status === 401 || r.status === 407) && !authRetry && auth !== undefined) {
          const proxy = r.status === 407;
          const raw = r.headers.get(proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate');
          if (raw !== undefined) {
            try {
              const credentials = buildDigestAuthorization(parseAuthChallenge(raw), {
                username: auth.username,
                password: auth.password,
                method,
                uri: req.uri,
                body: req.body,
                status: proxy ? 407 : 401,
              });
              this.sendInDialog(dialog, method, true, done, credentials);
              return;
            } catch {
              // fall through: give up on this request
            }
          }
        }
        done(r.status);
      },
      onTimeout: () => {
        this.log.warn(`[SIP] ${method} timed out`);
        done(undefined);
      },
      onTransportError: (e) => {
        this.log.warn({ err: e.message }, `[SIP] ${method} could not be sent`);
        done(undefined);
      },
    });
  }

  /** Where in-dialog requests go: the route set's first hop, on the live connection when it leads there. */
  private inDialogTarget(): SipTarget {
    const dialog = this.dialog;
    if (dialog === undefined) return { ...this.host.trunk, flow: this.flow };
    return this.targetFor(dialog.nextHop(this.host.protocol));
  }

  private targetFor(hop: NextHop): SipTarget {
    const flow = this.flow;
    const trunk = this.host.trunk;
    const same =
      flow !== undefined &&
      hop.protocol === flow.protocol &&
      ((sameHost(hop.host, flow.remoteAddress) && hop.port === flow.remotePort) ||
        (sameHost(hop.host, trunk.host) && hop.port === trunk.port));
    return { protocol: hop.protocol, host: hop.host, port: hop.port, flow: same ? flow : undefined };
  }

  /** @internal Whether this call's signalling uses that flow. */
  usesFlow(flow: SipFlow): boolean {
    return (
      this.flow !== undefined &&
      ((flow.connectionId !== undefined && flow.connectionId === this.flow.connectionId) ||
        (flow.remoteAddress === this.flow.remoteAddress && flow.remotePort === this.flow.remotePort))
    );
  }

  /** @internal A stream connection closed. */
  connectionClosed(flow: SipFlow, error: BridgeError | undefined): void {
    if (flow.connectionId === undefined || this.flow?.connectionId !== flow.connectionId) return;
    if (this.currentState === 'answered' || this.currentState === 'ending') {
      const e = error ?? new SipTransportError('the signalling connection closed');
      this.log.warn({ err: e.message }, '[SIP] signalling connection lost during the call');
      this.flow = undefined;
      const d = this.dialog;
      const wasAnswered = this.currentState === 'answered';
      this.finish({ reason: 'transport-error', error: e }, e);
      // The trunk may still hold the call (a proxy restart, a NAT flush): release it with a
      // BYE on a new connection, best effort. The call has ended here either way.
      if (wasAnswered && d !== undefined) this.byeAndForget(d, this.inDialogTarget());
    }
    // Before the answer the INVITE transaction reports the failure itself.
  }

  /**
   * @internal A request for this Call-ID. Returns false when it does not belong to the
   * dialog (the client then answers it as out-of-dialog).
   */
  handleRequest(req: SipRequest, tx: ServerTransaction | undefined, flow: SipFlow): boolean {
    const dialog = this.dialog;
    if (dialog === undefined || !dialog.matchesRequest(req)) return false;
    if (req.method === 'ACK') {
      // The ACK of our 2xx to a re-INVITE.
      this.reinviteTx?.ackReceived();
      return true;
    }
    if (tx === undefined) return true;
    if (!dialog.acceptRemoteCSeq(req)) {
      tx.respond(buildResponse(req, 500, 'Server Internal Error', this.host));
      return true;
    }
    if (flow.connectionId !== undefined && this.flow === undefined) this.flow = flow;
    switch (req.method) {
      case 'BYE': {
        tx.respond(buildResponse(req, 200, 'OK', this.host));
        this.log.info('[SIP] Received BYE: call ended by the far end');
        if (this.currentState === 'answered' || this.currentState === 'ending') {
          this.finish({ reason: 'remote-bye' }, undefined);
        }
        return true;
      }
      case 'INVITE':
        this.handleReinvite(req, tx as InviteServerTransaction, dialog);
        return true;
      case 'OPTIONS':
      case 'INFO': {
        const res = buildResponse(req, 200, 'OK', this.host);
        if (req.method === 'OPTIONS') res.headers.append('Allow', ALLOW);
        tx.respond(res);
        return true;
      }
      case 'CANCEL':
        // Our answers to re-INVITEs are immediate: nothing is left to cancel.
        tx.respond(buildResponse(req, 200, 'OK', this.host));
        return true;
      default: {
        const res = buildResponse(req, 501, 'Not Implemented', this.host);
        res.headers.append('Allow', ALLOW);
        tx.respond(res);
        return true;
      }
    }
  }

  private handleReinvite(req: SipRequest, tx: InviteServerTransaction, dialog: Dialog): void {
    if (this.currentState !== 'answered') {
      tx.respond(buildResponse(req, 491, 'Request Pending', this.host));
      return;
    }
    dialog.refreshTarget(req);
    const offer = bodyText(req);
    const local = this.localSdp;
    if (offer === undefined || local === undefined) {
      // No offer (it would come in the ACK) or no local SDP to answer with: keep the session as is.
      const res = buildResponse(req, 200, 'OK', this.host);
      res.headers.append('Contact', this.host.contact());
      if (local !== undefined) {
        res.headers.append('Content-Type', 'application/sdp');
        res.body = new TextEncoder().encode(local);
      }
      this.reinviteTx = tx;
      tx.respond(res);
      return;
    }
    let answer: string;
    let negotiated: NegotiatedSdp;
    try {
      // Answer from our original offer (so a hold does not narrow later answers), with a
      // session version that grows with every answer (RFC 3264 §8).
      answer = withSdpVersion(createSdpAnswer(offer, local), ++this.sdpVersionBump);
      negotiated = negotiateSdp(answer, offer, { allowHold: true });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, '[SIP] re-INVITE offer not acceptable');
      tx.respond(buildResponse(req, 488, 'Not Acceptable Here', this.host));
      return;
    }
    const res = buildResponse(req, 200, 'OK', this.host);
    res.headers.append('Contact', this.host.contact());
    res.headers.append('Content-Type', 'application/sdp');
    res.body = new TextEncoder().encode(answer);
    this.reinviteTx = tx;
    tx.respond(res);
    this.log.info(
      `[SIP] Media updated by the far end: ${negotiated.remoteAddress}:${negotiated.remotePort} (${negotiated.direction})`,
    );
    this.emit('mediaUpdate', { sdp: offer, answer, negotiated });
  }

  /** @internal Stops everything without signalling (client close after the grace period). */
  abandon(): void {
    this.finish(
      { reason: this.cancelCause?.reason ?? 'cancelled' },
      this.cancelCause?.error ?? new ClosedError('ExotelSipClient'),
    );
  }

  private finish(ended: CallEnded, answerError: BridgeError | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.currentState = 'ended';
    this.t.clearAll();
    // A CANCELled INVITE that never got its final response would otherwise linger.
    const tx = this.inviteTx;
    if (tx !== undefined && (tx.state === 'calling' || tx.state === 'proceeding')) tx.terminate();
    if (this.options.signal !== undefined && this.onAbort !== undefined) {
      this.options.signal.removeEventListener('abort', this.onAbort);
    }
    this.rejectAnswered(answerError ?? new ClosedError('call'));
    this.host.release(this);
    this.log.info(
      { reason: ended.reason, status: ended.status },
      `[SIP] Call ended (${ended.reason}${ended.status !== undefined ? `, ${ended.status}` : ''})`,
    );
    this.resolveEnded(ended);
    this.emit('ended', ended);
  }
}

// ----------------------------------------------------------------------------- helpers

function validateOptions(
  o: ExotelSipClientOptions & { sipPort: number; customerSipPort: number; transport: string },
): void {
  const issues: string[] = [];
  if (typeof o.customerIp !== 'string' || isIP(o.customerIp) === 0)
    issues.push('customerIp must be an IP address');
  if (o.bindIp !== undefined && isIP(o.bindIp) === 0) issues.push('bindIp must be an IP address');
  if (!Number.isInteger(o.sipPort) || o.sipPort < 1 || o.sipPort > 65535)
    issues.push('sipPort must be 1–65535');
  if (!Number.isInteger(o.customerSipPort) || o.customerSipPort < 0 || o.customerSipPort > 65535) {
    issues.push('customerSipPort must be 0–65535');
  }
  if (!['tcp', 'udp', 'tls'].includes(o.transport)) issues.push('transport must be tcp, udp or tls');
  if (typeof o.fromDomain !== 'string' || o.fromDomain === '') issues.push('fromDomain is required');
  if (typeof o.callerId !== 'string' || o.callerId === '') issues.push('callerId is required');
  if (o.auth !== undefined && (!o.auth.username || typeof o.auth.password !== 'string')) {
    issues.push('auth needs a username and a password');
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

/** A response to `req` (RFC 3261 §8.2.6): Via, From, To (with our tag), Call-ID, CSeq copied. */
function buildResponse(
  req: SipRequest,
  status: number,
  reason: string,
  host: { userAgent: string },
): SipResponse {
  const res = createResponse(status, reason);
  for (const v of req.headers.getAll('Via')) res.headers.append('Via', v);
  const from = req.headers.get('From');
  if (from !== undefined) res.headers.append('From', from);
  const to = req.headers.get('To');
  if (to !== undefined) {
    res.headers.append('To', status > 100 && tagOf(to) === undefined ? `${to};tag=${newTag()}` : to);
  }
  const callId = req.headers.get('Call-ID');
  if (callId !== undefined) res.headers.append('Call-ID', callId);
  const cseq = req.headers.get('CSeq');
  if (cseq !== undefined) res.headers.append('CSeq', cseq);
  res.headers.append('Server', host.userAgent);
  return res;
}

function bodyText(msg: SipRequest | SipResponse): string | undefined {
  if (msg.body.length === 0) return undefined;
  const ct = msg.headers.get('Content-Type');
  if (ct !== undefined && !/^\s*application\/sdp\s*(;|$)/i.test(ct)) return undefined;
  return new TextDecoder().decode(msg.body);
}

/** Adds `bump - 1` to the `o=` session version (createSdpAnswer already added one). */
function withSdpVersion(sdp: string, bump: number): string {
  if (bump <= 1) return sdp;
  return sdp.replace(
    /^(o=\S+ \S+ )(\d+)/m,
    (_m, head: string, v: string) => `${head}${BigInt(v) + BigInt(bump - 1)}`,
  );
}

/** `c=` address and first `m=audio` port of an SDP, for the log line. */
function sdpEndpoint(sdp: string): string | undefined {
  const c = /^c=IN IP[46] (\S+)/m.exec(sdp)?.[1];
  const m = /^m=audio (\d+)/m.exec(sdp)?.[1];
  return c !== undefined && m !== undefined ? `${c}:${m}` : undefined;
}

function getCSeqSafe(msg: SipResponse): { seq: number; method: string } | undefined {
  try {
    return getCSeq(msg);
  } catch {
    return undefined;
  }
}

function sameHost(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function asBridgeError(err: unknown): BridgeError {
  if (err instanceof BridgeError) return err;
  return new SipTransportError(err instanceof Error ? err.message : String(err), { cause: err });
}
