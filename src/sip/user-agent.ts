/**
 * The SIP user agent of one trunk: it owns the transports and the transaction layer,
 * decides which sources may talk to us (admission), routes in-dialog requests to their
 * call by Call-ID, answers out-of-dialog requests (OPTIONS, stray BYE/CANCEL, INVITE when
 * nobody takes inbound calls), hands admitted INVITEs to an `InboundCall`, watches the
 * trunk's health (CRLF keepalive results, optional OPTIONS probes) and notes where the
 * trunk sees us (RFC 3581). Exotel's conventions live one layer up, in `client.ts`.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import {
  ClosedError,
  SipTimeoutError,
  SipTransportError,
  toBridgeError,
  type BridgeError,
} from '../errors.js';
import { LogThrottle, silentLogger, type Logger } from '../logger.js';
import { bestEffortAsync } from '../best-effort.js';
import type { SipCredentials } from './auth.js';
import { DigestVerifier, type InboundCredentials } from './auth-server.js';
import { buildResponse, hasTag } from './builders.js';
import type { SipFlow, SipTarget, SipTransportProtocol } from './flow.js';
import { formatVia, getTopVia, type Via } from './headers.js';
import { newBranch, newCallId, newTag } from './ids.js';
import { InboundCall } from './invite-server.js';
import { OutboundCall, type OutboundCallOptions } from './invite-client.js';
import { createRequest, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import type { SipTimerValues, TimerClock } from './timers.js';
import { TransactionLayer, responseTarget, type ServerTransaction } from './transaction-layer.js';
import type { InviteServerTransaction } from './transaction-server.js';
import type { SipTransportStats } from './transport.js';
import type { DialogUsage, UaContext } from './ua-context.js';

/** What the user agent needs from its transport (a `SipTransport`, or an in-memory one in tests). */
export interface UaTransport {
  /** Opens the listeners. */
  start(): Promise<void>;
  /** Sends a message to `target` (opening a connection if needed); resolves with the flow it went on. */
  send(msg: SipMessage, target: SipTarget): Promise<SipFlow>;
  /** Closes every listener and connection. */
  close(): Promise<void>;
  /** The bound SIP port (0 before start). */
  readonly port: number;
  /** Stream connections open now, both ways. */
  readonly connectionCount: number;
  /** Whether the connection of `flow` is still open (false for UDP and for `undefined`). */
  hasOpenConnection(flow: SipFlow | undefined): boolean;
  /** The transport's counters. */
  stats(): SipTransportStats;
}

/** Result of one CRLF keepalive ping (RFC 5626 §4.4.1). */
export type KeepaliveResult =
  | {
      /** The pong came back. */
      ok: true;
      /** Round-trip time of the ping, in ms. */
      rttMs: number;
    }
  | {
      /** No pong in time: the connection is closed. */
      ok: false;
      /** What failed: no pong in time, or the connection. */
      error: BridgeError;
    };

/** What the transport reports to the user agent. */
export interface UaTransportEvents {
  /** A whole message arrived on `flow`. */
  onMessage(msg: SipMessage, flow: SipFlow): void;
  /** A stream connection closed (`error` when it failed). */
  onConnectionClosed(flow: SipFlow, error: BridgeError | undefined): void;
  /** A CRLF keepalive on a connection we opened was answered, or not. */
  onKeepalive(flow: SipFlow, result: KeepaliveResult): void;
}

/** Makes the transport, wired to the user agent's callbacks. */
export type UaTransportFactory = (events: UaTransportEvents) => UaTransport;

/** The trunk's health, as each probe saw it (`trunkHealth` event). */
export interface TrunkHealth {
  /** Whether the trunk answered (`up`) or not (`down`). */
  state: 'up' | 'down';
  /** What told us: a CRLF keepalive pong (or its absence), an OPTIONS probe, or the connection closing. */
  source: 'keepalive' | 'options' | 'connection';
  /** Round-trip time of the probe, when it was answered. */
  rttMs?: number;
  /** The status of the OPTIONS answer. */
  status?: number;
  /** With `down`: what failed. */
  error?: BridgeError;
  /** Whether the state differs from the previous report. */
  changed: boolean;
}

/** Events of a {@link SipUserAgent}. */
export interface UserAgentEvents {
  /** A keepalive or OPTIONS probe was answered or not, or the trunk connection closed. */
  trunkHealth: [health: TrunkHealth];
}

/** Options of {@link SipUserAgent}. */
export interface SipUserAgentOptions {
  /** Makes the transport, given the callbacks it reports to. */
  transport: UaTransportFactory;
  /** Our signalling transport (Via, Contact, default for next hops). */
  protocol: SipTransportProtocol;
  /** The address we advertise in Via and Contact. */
  advertisedHost: string;
  /** The port we advertise when the transport has not bound one yet. */
  advertisedPort: number;
  /** The trunk: where out-of-dialog requests go. */
  trunk: SipTarget;
  /** Digest credentials for the trunk's challenges to our requests. */
  auth?: SipCredentials;
  /** The clock of every SIP timer. */
  clock: TimerClock;
  /** RFC 3261 timer base values (T1, T2, T4). */
  timers: SipTimerValues;
  /** Where the user agent logs (default silent). */
  logger?: Logger;
  /** Our `User-Agent` and `Server` header value. */
  userAgent: string;
  /** Methods we accept, for `Allow`. */
  allow: string;
  /** Most server transactions held at once (default 1024); new requests beyond it are dropped and counted. */
  maxServerTransactions?: number;
  /** Addresses allowed to send out-of-dialog requests besides the resolved trunk host. */
  trustedAddresses?: readonly string[];
  /** Send OPTIONS to the trunk this often and report `trunkHealth` (0 or absent: never). */
  optionsIntervalMs?: number;
  /**
   * Digest credentials an INVITE from outside the trusted addresses must prove (RFC 3261
   * §22.4): it is challenged with a stateless 401 and admitted when the retry is right.
   * Without them such INVITEs get 403.
   */
  inboundAuth?: InboundCredentials;
  /** An admitted out-of-dialog INVITE. Without a handler such INVITEs are answered 403. */
  onInvite?: (call: InboundCall) => void;
}

/** A SIP user agent for one trunk (see the module comment). */
export class SipUserAgent extends EventEmitter<UserAgentEvents> {
  /** The transport the user agent sends and receives on. */
  readonly transport: UaTransport;
  /** @internal The transaction layer (RFC 3261 §17) between the transport and the calls. */
  readonly layer: TransactionLayer;
  private readonly log: Logger;
  private readonly calls = new Map<string, DialogUsage>();
  private readonly trusted = new Set<string>();
  private readonly throttle = new LogThrottle();
  private readonly ctx: UaContext;
  private observed: { address: string; port: number | undefined } | undefined;
  private health: 'up' | 'down' | undefined;
  private optionsTimer: ReturnType<TimerClock['setTimeout']> | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;
  private verifier: DigestVerifier | undefined;
  /** The request `admit` just let in on its digest credentials (the trusted-address check would refuse it). */
  private digestAdmitted: SipRequest | undefined;
  /** Takes each admitted out-of-dialog INVITE; without it such INVITEs are answered 403. */
  onInvite: ((call: InboundCall) => void) | undefined;

  /** A user agent, not started: nothing is opened until `start()`. */
  constructor(private readonly opts: SipUserAgentOptions) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.onInvite = opts.onInvite;
    this.setInboundAuth(opts.inboundAuth);
    for (const a of opts.trustedAddresses ?? []) this.trusted.add(a);
    this.transport = opts.transport({
      onMessage: (msg, flow) => this.layer.receive(msg, flow),
      onConnectionClosed: (flow, error) => this.connectionClosed(flow, error),
      onKeepalive: (flow, result) => this.keepalive(flow, result),
    });
    this.layer = new TransactionLayer({
      transport: this.transport,
      clock: opts.clock,
      timers: opts.timers,
      logger: this.log,
      ...(opts.maxServerTransactions !== undefined
        ? { maxServerTransactions: opts.maxServerTransactions }
        : {}),
      user: {
        admit: (req, flow, via) => this.admit(req, flow, via),
        isCallRequest: (req) => this.calls.has(req.headers.get('Call-ID') ?? ''),
        onRequest: (req, tx, flow) => this.onRequest(req, tx, flow),
        onStrayResponse: (res) => this.calls.get(res.headers.get('Call-ID') ?? '')?.strayResponse(res),
      },
    });
    this.ctx = {
      layer: this.layer,
      clock: opts.clock,
      timers: opts.timers,
      protocol: opts.protocol,
      trunk: opts.trunk,
      auth: opts.auth,
      userAgent: opts.userAgent,
      allow: opts.allow,
      via: () => this.via(),
      contact: (user) => this.contact(user),
      observe: (res) => this.observe(res),
      release: (callId, call) => {
        if (this.calls.get(callId) === call) this.calls.delete(callId);
      },
    };
  }

  /** The SIP port in use. */
  get localPort(): number {
    // Nothing bound (TLS without a listener, in-memory tests): the configured port, else the
    // protocol's default. Requests inside our dialogs reach us on the connection we opened.
    return this.transport.port || this.opts.advertisedPort || (this.opts.protocol === 'tls' ? 5061 : 5060);
  }

  /** Where the trunk saw our requests come from (`received`/`rport`, RFC 3581), once known. */
  get observedAddress():
    | {
        /** Our address as the trunk saw it (`received`). */
        address: string;
        /** Our port as the trunk saw it (`rport`), when it said. */
        port: number | undefined;
      }
    | undefined {
    return this.observed;
  }

  /** Calls not yet ended, both directions. */
  get activeCalls(): readonly DialogUsage[] {
    return [...this.calls.values()];
  }

  /** The trunk's last reported state (`undefined` before the first probe). */
  get trunkState(): 'up' | 'down' | undefined {
    return this.health;
  }

  /** Lets these addresses send out-of-dialog requests (inbound INVITEs included), besides the trunk's. */
  trust(addresses: readonly string[]): void {
    for (const a of addresses) this.trusted.add(a);
  }

  /** Challenges INVITEs from untrusted addresses with digest (`undefined`: refuse them with 403). */
  setInboundAuth(creds: InboundCredentials | undefined): void {
    this.verifier = creds !== undefined ? new DigestVerifier(creds, () => this.opts.clock.now()) : undefined;
  }

  /** Opens the listeners and resolves the trunk's addresses. Idempotent. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('SipUserAgent'));
    this.starting ??= (async () => {
      await this.transport.start();
      await this.resolveTrunk();
      this.scheduleOptions(0);
    })();
    return this.starting;
  }

  /** Places a call: `build` makes the INVITE once the user agent has started. */
  placeCall(
    build: () => SipRequest,
    opts: OutboundCallOptions & { callId: string; localUser: string; logger: Logger },
  ): OutboundCall {
    const call = new OutboundCall(this.ctx, opts.callId, opts.localUser, opts, opts.logger);
    if (this.closed) {
      call.failBeforeStart(new ClosedError('SipUserAgent'));
      return call;
    }
    this.calls.set(opts.callId, call);
    void this.start().then(
      () => call.begin(build),
      (err: unknown) => call.failBeforeStart(toBridgeError(err)),
    );
    return call;
  }

  /** A fresh Call-ID for a call placed by this user agent. */
  newCallId(): string {
    return newCallId(this.opts.advertisedHost);
  }

  /**
   * Ends every live call (BYE, CANCEL or a final response, each bounded by `graceMs`), then
   * closes every transaction, timer and socket. Idempotent.
   */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopOptions();
    await Promise.all(
      [...this.calls.values()].map(
        (c) =>
          new Promise<void>((resolve) => {
            const h = this.opts.clock.setTimeout(resolve, graceMs);
            void c.hangup().then(() => {
              this.opts.clock.clearTimeout(h);
              resolve();
            });
          }),
      ),
    );
    for (const c of [...this.calls.values()]) c.abandon();
    this.layer.close();
    if (this.starting !== undefined) await bestEffortAsync(this.log, '[SIP] user agent start', this.starting);
    await this.transport.close();
  }

  /** Counters of what was refused or dropped, and what is held now. */
  stats(): SipTransportStats & {
    /** New requests refused admission (an untrusted source, a failed challenge). */
    requestsRefused: number;
    /** New requests dropped because `maxServerTransactions` were live. */
    requestsDropped: number;
    /** Server transactions held now. */
    serverTransactions: number;
    /** Client transactions held now. */
    clientTransactions: number;
    /** Stream connections open now. */
    connections: number;
  } {
    return {
      ...this.transport.stats(),
      requestsRefused: this.layer.refusedRequests,
      requestsDropped: this.layer.droppedRequests,
      serverTransactions: this.layer.serverCount,
      clientTransactions: this.layer.clientCount,
      connections: this.transport.connectionCount,
    };
  }

  // ---------------------------------------------------------------- identity

  private via(): string {
    return formatVia({
      protocol: 'SIP/2.0',
      transport: this.opts.protocol.toUpperCase(),
      host: this.opts.advertisedHost,
      port: this.localPort,
      branch: newBranch(),
      rport: true,
      params: new Map(),
    });
  }

  private contact(user: string): string {
    const h = this.opts.advertisedHost;
    const host = h.includes(':') ? `[${h}]` : h;
    return `<sip:${user}@${host}:${this.localPort};transport=${this.opts.protocol}>`;
  }

  private observe(res: SipResponse): void {
    let via: Via;
    try {
      via = getTopVia(res);
    } catch {
      return; // no usable Via: nothing to learn from this response
    }
    if (via.received === undefined && typeof via.rport !== 'number') return;
    const address = via.received ?? via.host;
    const port = typeof via.rport === 'number' ? via.rport : undefined;
    if (this.observed?.address === address && this.observed.port === port) return;
    this.observed = { address, port };
    const advertised = `${this.opts.advertisedHost}:${this.localPort}`;
    const seen = `${address}:${port ?? '?'}`;
    if (seen !== advertised)
      this.log.info({ advertised, seen }, `[SIP] The trunk sees our signalling from ${seen}`);
  }

  private async resolveTrunk(): Promise<void> {
    const h = this.opts.trunk.host;
    if (isIP(h) !== 0) {
      this.trusted.add(h);
      return;
    }
    try {
      for (const a of await lookup(h, { all: true })) this.trusted.add(a.address);
    } catch (err) {
      this.log.warn({ host: h, err: (err as Error).message }, '[SIP] cannot resolve the trunk host (yet)');
    }
  }

  // ---------------------------------------------------------------- admission and routing

  private isTrusted(flow: SipFlow): boolean {
    if (this.trusted.has(flow.remoteAddress)) return true;
    // A connection we opened (not one accepted by our listener) leads to a peer we chose.
    if (
      flow.connectionId !== undefined &&
      this.transport.hasOpenConnection(flow) &&
      flow.localPort !== this.localPort
    ) {
      return true;
    }
    for (const c of this.calls.values()) if (c.usesFlow(flow)) return true;
    return false;
  }

  /**
   * Before a request gets a server transaction: requests of our calls and from trusted
   * sources are admitted; anyone else gets a stateless 403 and leaves no state behind.
   */
  private admit(req: SipRequest, flow: SipFlow, via: Via): boolean {
    if (this.calls.has(req.headers.get('Call-ID') ?? '') || this.isTrusted(flow)) return true;
    if (req.method === 'INVITE' && this.verifier !== undefined && !hasTag(req.headers.get('To') ?? '')) {
      const verdict = this.verifier.check(req);
      if (verdict === 'ok') {
        this.digestAdmitted = req; // onRequest, next, need not check it again
        return true;
      }
      // Challenge (again): stateless, so a flood of INVITEs keeps nothing.
      const res = buildResponse(req, 401, {
        server: this.opts.userAgent,
        headers: [['WWW-Authenticate', this.verifier.challenge(verdict === 'stale')]],
      });
      void bestEffortAsync(
        this.log,
        '[SIP] stateless 401',
        this.transport.send(res, responseTarget(flow, via)),
      );
      if (verdict === 'wrong') this.logRefused(req, flow, 'INVITE with wrong credentials refused');
      return false;
    }
    this.logRefused(req, flow, 'request from an unknown address refused');
    // ACKs never come here (the transaction layer handles them before asking).
    const res = buildResponse(req, 403, { server: this.opts.userAgent });
    void bestEffortAsync(
      this.log,
      '[SIP] stateless 403',
      this.transport.send(res, responseTarget(flow, via)),
    );
    return false;
  }

  private logRefused(req: SipRequest, flow: SipFlow, what: string): void {
    const skipped = this.throttle.take(what);
    if (skipped === undefined) return;
    this.log.warn(
      {
        method: req.method,
        from: `${flow.remoteAddress}:${flow.remotePort}`,
        alsoRefusedSinceLastLine: skipped,
      },
      `[SIP] ${what}`,
    );
  }

  /** Requests from the far end: in-dialog ones go to their call; the rest are answered here. */
  private onRequest(req: SipRequest, tx: ServerTransaction | undefined, flow: SipFlow): void {
    const callId = req.headers.get('Call-ID') ?? '';
    const call = this.calls.get(callId);
    if (call !== undefined && call.handleRequest(req, tx, flow)) return;
    if (tx === undefined) return; // a stray ACK
    const answer = (status: number, headers: [string, string][] = []): void =>
      tx.respond(buildResponse(req, status, { server: this.opts.userAgent, headers }));
    const byDigest = this.digestAdmitted === req;
    this.digestAdmitted = undefined;
    if (!byDigest && !this.isTrusted(flow)) return answer(403);
    switch (req.method) {
      case 'OPTIONS':
        return answer(200, [
          ['Allow', this.opts.allow],
          ['Accept', 'application/sdp'],
        ]);
      case 'INVITE':
        if (hasTag(req.headers.get('To') ?? '')) return answer(481);
        if (call !== undefined) return answer(482); // a second INVITE of a Call-ID we hold: a loop
        return this.incoming(req, tx as InviteServerTransaction, flow);
      case 'CANCEL': {
        const inviteTx = this.layer.findInviteServerTransaction(req);
        const target = inviteTx === undefined ? undefined : call;
        if (target instanceof InboundCall) {
          answer(200);
          target.cancelled();
          return;
        }
        return answer(481);
      }
      case 'BYE':
      case 'INFO':
      case 'UPDATE':
      case 'PRACK':
        return answer(481);
      default:
        return answer(405, [['Allow', this.opts.allow]]);
    }
  }

  private incoming(req: SipRequest, tx: InviteServerTransaction, flow: SipFlow): void {
    const handler = this.onInvite;
    if (handler === undefined) {
      this.log.warn({ from: req.headers.get('From') }, '[SIP] inbound INVITE refused (no inbound handler)');
      tx.respond(buildResponse(req, 403, { server: this.opts.userAgent }));
      return;
    }
    let call: InboundCall;
    try {
      call = new InboundCall(
        this.ctx,
        req,
        tx,
        flow,
        this.log.child({ sipCallId: req.headers.get('Call-ID') }),
      );
    } catch (err) {
      const e = toBridgeError(err);
      this.log.warn({ err: e.message }, '[SIP] unusable inbound INVITE: 400');
      tx.respond(buildResponse(req, 400, { server: this.opts.userAgent }));
      return;
    }
    this.calls.set(call.callId, call);
    try {
      handler(call);
    } catch (err) {
      this.log.error({ err: toBridgeError(err).message }, '[SIP] inbound call handler threw: 500');
      call.reject(500);
    }
  }

  private connectionClosed(flow: SipFlow, error: BridgeError | undefined): void {
    this.layer.connectionClosed(flow, error);
    for (const call of [...this.calls.values()]) call.connectionClosed(flow, error);
    if (error !== undefined && this.isTrunkFlow(flow)) {
      this.report({ state: 'down', source: 'connection', error });
    }
  }

  // ---------------------------------------------------------------- trunk health

  private isTrunkFlow(flow: SipFlow): boolean {
    const t = this.opts.trunk;
    return (
      flow.remotePort === t.port && (flow.remoteAddress === t.host || this.trusted.has(flow.remoteAddress))
    );
  }

  private keepalive(flow: SipFlow, result: KeepaliveResult): void {
    if (!this.isTrunkFlow(flow)) return;
    if (result.ok) this.report({ state: 'up', source: 'keepalive', rttMs: result.rttMs });
    else this.report({ state: 'down', source: 'keepalive', error: result.error });
  }

  private report(h: Omit<TrunkHealth, 'changed'>): void {
    const changed = this.health !== h.state;
    this.health = h.state;
    if (changed) {
      const line = `[SIP] Trunk ${h.state} (${h.source}${h.rttMs !== undefined ? `, ${h.rttMs.toFixed(1)} ms` : ''})`;
      if (h.state === 'up') this.log.info({ rttMs: h.rttMs }, line);
      else this.log.warn({ err: h.error?.message }, line);
    }
    this.emit('trunkHealth', { ...h, changed });
  }

  private scheduleOptions(delayMs: number): void {
    const every = this.opts.optionsIntervalMs;
    if (every === undefined || !(every > 0) || this.closed) return;
    this.optionsTimer = this.opts.clock.setTimeout(() => this.probe(), delayMs || every);
  }

  private stopOptions(): void {
    if (this.optionsTimer !== undefined) this.opts.clock.clearTimeout(this.optionsTimer);
    this.optionsTimer = undefined;
  }

  /** Sends one OPTIONS to the trunk; any final answer means it is up (RFC 3261 §11). */
  private probe(): void {
    this.optionsTimer = undefined;
    if (this.closed) return;
    const t = this.opts.trunk;
    const host = t.host.includes(':') ? `[${t.host}]` : t.host;
    const uri = `sip:${host}:${t.port}`;
    const req = createRequest('OPTIONS', uri);
    req.headers.append('Via', this.via());
    req.headers.append('Max-Forwards', '70');
    req.headers.append('From', `${this.contact('health')};tag=${newTag()}`);
    req.headers.append('To', `<${uri}>`);
    req.headers.append('Call-ID', this.newCallId());
    req.headers.append('CSeq', '1 OPTIONS');
    req.headers.append('User-Agent', this.opts.userAgent);
    const sentAt = this.opts.clock.now();
    let done = false;
    const finish = (h: Omit<TrunkHealth, 'changed'>): void => {
      if (done) return;
      done = true;
      this.report(h);
      this.scheduleOptions(0);
    };
    try {
      this.layer.sendRequest(
        req,
        { ...t, flow: undefined },
        {
          onResponse: (r) => {
            if (r.status < 200) return;
            const rttMs = this.opts.clock.now() - sentAt;
            if (r.status === 503) {
              finish({
                state: 'down',
                source: 'options',
                status: r.status,
                rttMs,
                error: new SipTransportError('trunk answered 503'),
              });
            } else finish({ state: 'up', source: 'options', status: r.status, rttMs });
          },
          onTimeout: () =>
            finish({ state: 'down', source: 'options', error: new SipTimeoutError('no answer to OPTIONS') }),
          onTransportError: (e) => finish({ state: 'down', source: 'options', error: e }),
        },
      );
    } catch (err) {
      finish({ state: 'down', source: 'options', error: toBridgeError(err) });
    }
  }
}
