/**
 * `ExotelSipClient`: Exotel's trunk conventions over the SIP user agent. It places
 * outbound calls (`invite`) with Exotel's From/To/Contact formats and `X-Exotel-*`
 * headers, one listener per trunk serving every call, whatever each call's caller ID;
 * reports the trunk's health; and follows each call through every outcome as an
 * `OutboundCall`.
 *
 * Layers, top to bottom: this file → `user-agent.ts` (transports, transactions,
 * admission, out-of-dialog answers) → `invite-client.ts` / `invite-server.ts` / `session.ts`
 * (calls and their dialogs) → transaction layer (RFC 3261 §17) → transport.
 */
import { isIP } from 'node:net';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { EventEmitter } from 'eventemitter3';
import { ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { VERSION } from '../version.js';
import type { SipTransportProtocol } from './flow.js';
import { newBranch, newTag } from './ids.js';
import { EXOTEL_ALLOW, buildExotelInvite } from './invite.js';
import { OutboundCall, type OutboundCallOptions } from './invite-client.js';
import { resolveSipTimers, systemTimerClock, type SipTimerValues, type TimerClock } from './timers.js';
import { SipTransport, type SipTransportStats } from './transport.js';
import {
  SipUserAgent,
  type TrunkHealth,
  type UaTransportFactory,
  type UserAgentEvents,
} from './user-agent.js';

export { OutboundCall, DEFAULT_RINGING_TIMEOUT_MS } from './invite-client.js';
export type {
  CallState,
  CallEndReason,
  CallProgress,
  CallAnswer,
  CallEnded,
  CallInfo,
  MediaUpdate,
  OutboundCallEvents,
} from './call-types.js';
export type { TrunkHealth } from './user-agent.js';

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
  /** Domain of the From URI, e.g. `<account>.sip.exotel.com` (default of each call's `fromDomain`). */
  fromDomain?: string;
  /** The Exophone: caller id in From and user of our Contact (default of each call's `callerId`). */
  callerId?: string;
  /** Sent as `X-Exotel-AccountSid` (routes the call into an Exotel flow). */
  accountSid?: string;
  /** Digest credentials for trunks that challenge with 401/407. */
  auth?: {
    /** The digest username. */
    username: string;
    /** The digest password; never logged. */
    password: string;
  };
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
  /**
   * RFC 5626 CRLF keepalive on TCP/TLS connections we opened: ping after this long idle
   * (default 30000 ms; 0 = off). A connection whose peer has answered pings before and
   * then misses one (`keepalivePongTimeoutMs`, default 10000) is closed and reported
   * `down` on `trunkHealth`, so the next INVITE opens a fresh one.
   */
  keepaliveIntervalMs?: number;
  /** How long to wait for a keepalive pong. Default 10000 ms. */
  keepalivePongTimeoutMs?: number;
  /** Probe the trunk with OPTIONS this often and report `trunkHealth` (default 0 = never). */
  optionsIntervalMs?: number;
  /**
   * Makes the transport instead of opening sockets (tests run a whole call over an
   * in-memory transport this way). Default: UDP/TCP/TLS sockets on `customerSipPort`.
   */
  transportFactory?: UaTransportFactory;
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

/** Options of {@link ExotelSipClient.invite}: the callee, and per-call settings that default to the client's. */
export interface InviteOptions extends OutboundCallOptions {
  /** The callee (E.164, e.g. `+919876543210`). */
  to: string;
  /** The Exophone shown to the callee (From user, Contact user). Default: the client's `callerId`. */
  callerId?: string;
  /** Domain of the From URI for this call. Default: the client's `fromDomain`. */
  fromDomain?: string;
  /** Extra `X-` headers (names and values are validated against injection). */
  headers?: Readonly<Record<string, string>>;
  /** Logger for this call's log lines (default: the client's), e.g. a per-call child logger. */
  logger?: Logger;
}

/** Events of an {@link ExotelSipClient}: `trunkHealth` after each keepalive, OPTIONS probe or lost trunk connection. */
export type ExotelSipClientEvents = UserAgentEvents;

const DEFAULTS = {
  sipHost: 'pstn.in1.exotel.com',
  sipPort: 5070,
  tlsPort: 443,
  transport: 'tcp' as SipTransportProtocol,
  customerSipPort: 5061,
  keepaliveIntervalMs: 30_000,
  keepalivePongTimeoutMs: 10_000,
  closeTimeoutMs: 5000,
};

type ResolvedOptions = ExotelSipClientOptions & {
  sipHost: string;
  sipPort: number;
  transport: SipTransportProtocol;
  customerSipPort: number;
};

/**
 * A SIP user agent for calls through Exotel's trunk (see the module comment).
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
export class ExotelSipClient extends EventEmitter<ExotelSipClientEvents> {
  /** The user agent underneath (inbound calls, trunk state). */
  readonly ua: SipUserAgent;
  private readonly opts: ResolvedOptions;
  private readonly log: Logger;
  private closing: Promise<void> | undefined;

  /**
   * A client for one trunk; nothing is opened until `start()` or the first `invite()`.
   *
   * @throws ConfigError when the options are invalid (every problem listed at once).
   */
  constructor(options: ExotelSipClientOptions) {
    super();
    const transport = options.transport ?? DEFAULTS.transport;
    this.opts = {
      ...options,
      sipHost: options.sipHost ?? DEFAULTS.sipHost,
      sipPort: options.sipPort ?? (transport === 'tls' ? DEFAULTS.tlsPort : DEFAULTS.sipPort),
      transport,
      customerSipPort: options.customerSipPort ?? DEFAULTS.customerSipPort,
    };
    validateOptions(this.opts);
    this.log = options.logger ?? silentLogger;
    const clock: TimerClock = options.clock ?? systemTimerClock;
    const timers: SipTimerValues = resolveSipTimers(options.timers);
    const o = this.opts;
    this.ua = new SipUserAgent({
      transport: options.transportFactory ?? ((events) => this.socketTransport(clock, events)),
      protocol: o.transport,
      advertisedHost: o.customerIp,
      advertisedPort: o.customerSipPort,
      trunk: { protocol: o.transport, host: o.sipHost, port: o.sipPort },
      ...(o.auth !== undefined ? { auth: o.auth } : {}),
      clock,
      timers,
      logger: this.log,
      userAgent: o.userAgent ?? `exotel-livekit-bridge/${VERSION}`,
      allow: EXOTEL_ALLOW,
      ...(o.maxServerTransactions !== undefined ? { maxServerTransactions: o.maxServerTransactions } : {}),
      ...(o.trustedAddresses !== undefined ? { trustedAddresses: o.trustedAddresses } : {}),
      ...(o.optionsIntervalMs !== undefined ? { optionsIntervalMs: o.optionsIntervalMs } : {}),
    });
    this.ua.on('trunkHealth', (h: TrunkHealth) => this.emit('trunkHealth', h));
  }

  private socketTransport(clock: TimerClock, events: Parameters<UaTransportFactory>[0]): SipTransport {
    const o = this.opts;
    const listen =
      o.listen ?? (o.transport === 'tls' ? (o.tlsServer ? ['tls' as const] : []) : [o.transport]);
    const keepaliveMs = o.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs;
    return new SipTransport(
      {
        bindIp: o.bindIp ?? o.customerIp,
        port: o.customerSipPort,
        listen,
        clock,
        ...(keepaliveMs > 0
          ? {
              keepalive: {
                intervalMs: keepaliveMs,
                pongTimeoutMs: o.keepalivePongTimeoutMs ?? DEFAULTS.keepalivePongTimeoutMs,
              },
            }
          : {}),
        ...(o.tls !== undefined ? { tls: o.tls } : {}),
        ...(o.tlsServer !== undefined ? { tlsServer: o.tlsServer } : {}),
        ...(o.maxMessageBytes !== undefined ? { maxMessageBytes: o.maxMessageBytes } : {}),
        ...(o.maxInboundConnections !== undefined ? { maxInboundConnections: o.maxInboundConnections } : {}),
        ...(o.messageTimeoutMs !== undefined ? { messageTimeoutMs: o.messageTimeoutMs } : {}),
        ...(o.inboundIdleTimeoutMs !== undefined ? { inboundIdleTimeoutMs: o.inboundIdleTimeoutMs } : {}),
        logger: this.log,
      },
      events,
    );
  }

  /** The SIP port in use (the bound one when `customerSipPort` was 0). */
  get localPort(): number {
    return this.ua.localPort;
  }

  /** Where the trunk saw our requests come from (`received`/`rport`, RFC 3581). Differs from `customerIp` behind NAT. */
  get observedAddress():
    | {
        /** Our address as the trunk saw it (`received`). */
        address: string;
        /** Our port as the trunk saw it (`rport`), when it said. */
        port: number | undefined;
      }
    | undefined {
    return this.ua.observedAddress;
  }

  /** Outbound calls not yet ended. */
  get activeCalls(): readonly OutboundCall[] {
    return this.ua.activeCalls.filter((c): c is OutboundCall => c instanceof OutboundCall);
  }

  /** Opens the listeners on `customerSipPort`. Idempotent; `invite` calls it too. */
  async start(): Promise<void> {
    await this.ua.start();
    this.log.info(
      { port: this.localPort, transport: this.opts.transport },
      `[SIP] Client ready on ${this.opts.bindIp ?? this.opts.customerIp}:${this.localPort}`,
    );
  }

  /**
   * Places a call. Returns at once; follow it through the returned call's events and
   * promises. Validation errors (phone number, caller ID, headers) reject `answered`.
   */
  invite(options: InviteOptions): OutboundCall {
    const callId = this.ua.newCallId();
    // Neither per call nor by default: buildExotelInvite refuses the empty caller ID (`answered` rejects).
    const callerId = options.callerId ?? this.opts.callerId ?? '';
    const log = (options.logger ?? this.log).child({ sipCallId: callId, phone: options.to });
    return this.ua.placeCall(
      () =>
        buildExotelInvite({
          to: options.to,
          callerId,
          fromDomain: options.fromDomain ?? this.opts.fromDomain ?? '',
          sipHost: this.opts.sipHost,
          sipPort: this.opts.sipPort,
          transport: this.opts.transport,
          customerIp: this.opts.customerIp,
          customerSipPort: this.localPort,
          ids: { callId, fromTag: newTag(), branch: newBranch(), cseq: 1 },
          ...(options.sdp !== undefined ? { sdp: options.sdp } : {}),
          ...(this.opts.accountSid !== undefined ? { accountSid: this.opts.accountSid } : {}),
          ...(options.headers !== undefined ? { extraHeaders: options.headers } : {}),
          userAgent: this.opts.userAgent ?? `exotel-livekit-bridge/${VERSION}`,
        }),
      { ...options, callId, localUser: callerId, logger: log },
    );
  }

  /** Ends every live call (BYE or CANCEL, bounded by `closeTimeoutMs`), then closes every socket and timer. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.ua.close(this.opts.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs);
    return this.closing;
  }

  /** Counters of what was refused or dropped: transport and transaction layer. */
  stats(): SipClientStats {
    return this.ua.stats();
  }
}

function validateOptions(o: ResolvedOptions): void {
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
  if (o.fromDomain !== undefined && (typeof o.fromDomain !== 'string' || o.fromDomain === ''))
    issues.push('fromDomain must be a non-empty string when given');
  if (o.callerId !== undefined && (typeof o.callerId !== 'string' || o.callerId === ''))
    issues.push('callerId must be a non-empty string when given');
  if (o.auth !== undefined && (!o.auth.username || typeof o.auth.password !== 'string')) {
    issues.push('auth needs a username and a password');
  }
  for (const [name, v] of [
    ['keepaliveIntervalMs', o.keepaliveIntervalMs],
    ['keepalivePongTimeoutMs', o.keepalivePongTimeoutMs],
    ['optionsIntervalMs', o.optionsIntervalMs],
  ] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) issues.push(`${name} must be a number >= 0`);
  }
  if (issues.length > 0) throw new ConfigError(issues);
}
