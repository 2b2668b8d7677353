/**
 * The AgentStream endpoint: Exotel's Voicebot applet (and its connect Voice AI call API)
 * opens a WebSocket here for each call; each stream becomes a `BridgeCall` in a LiveKit
 * room, a participant agents cannot tell from a SIP one.
 *
 * Before the upgrade: the path (404), draining (503), the allow-list or Basic credentials
 * (403 / 401), capacity (503). After it: `AgentStreamMedia` parses and bounds every message;
 * `start` routes the stream either to the outbound call waiting for it (`placeAgentStreamCall`,
 * by the `lkcall` custom parameter) or to the host's `onStream`, whose decision has the shape
 * of `listenForCalls`' `onCall`. `listen()` serves on its own HTTP server (put TLS in front,
 * or use `attach()` on the host's HTTPS server for `wss://`).
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { EventEmitter } from 'eventemitter3';
import { WebSocketServer, type WebSocket } from 'ws';
import { BridgeCall } from '../bridge.js';
import { TakenCalls } from '../inbound/taken-calls.js';
import type { RunBridgeOptions } from '../bridge-options.js';
import { systemTimerClock, type TimerClock } from '../clock.js';
import { resolveLiveKitSettings, type LiveKitSettings } from '../config.js';
import { AbortedError, ClosedError, ConfigError, StreamProtocolError, toBridgeError } from '../errors.js';
import type { AcceptDecision } from '../inbound/types.js';
import { silentLogger, type Logger } from '../logger.js';
import { heldUntilClose } from '../resources.js';
import { normalizePhoneNumber } from '../sip/phone.js';
import { StreamAccess } from './access.js';
import { CORRELATION_PARAM, StreamLeg, streamAttributes, type StreamDialer } from './leg.js';
import { AgentStreamMedia } from './media.js';
import type { StreamStart } from './protocol.js';
import type {
  AgentStreamServerEvents,
  AgentStreamServerOptions,
  AgentStreamServerStats,
  CloseStreamServerOptions,
  IncomingStream,
  StreamDecision,
} from './types.js';

export { CORRELATION_PARAM } from './leg.js';

const DEFAULT_PATH = '/exotel/agentstream';
const DEFAULT_MAX_STREAMS = 50;
const DEFAULT_MAX_MESSAGE = 64 * 1024;
const DEFAULT_DRAIN_MS = 300_000;

interface Pending {
  resolve(media: AgentStreamMedia): void;
  reject(err: Error): void;
}

/** The AgentStream WebSocket endpoint (see the module comment). */
export class AgentStreamServer extends EventEmitter<AgentStreamServerEvents> {
  /** The path Exotel connects to. */
  readonly path: string;
  private readonly wss: WebSocketServer;
  private readonly log: Logger;
  private readonly clock: TimerClock;
  private own: Server | undefined;
  private listening: Promise<{ port: number }> | undefined;
  private readonly attached = new Map<
    Server | HttpsServer,
    (...a: [IncomingMessage, Duplex, Buffer]) => void
  >();
  private state: 'open' | 'draining' | 'closed' = 'open';
  private readonly streams = new Set<AgentStreamMedia>();
  private readonly taken: TakenCalls;
  private readonly pending = new Map<string, Pending>();
  private readonly counts = { accepted: 0, refused: 0, protocolErrors: 0 };
  private closing: Promise<void> | undefined;

  /** @internal use {@link createAgentStreamServer} */
  constructor(
    private readonly opts: AgentStreamServerOptions,
    /** @internal */ readonly livekit: LiveKitSettings,
    private readonly access: StreamAccess,
  ) {
    super();
    this.path = opts.path ?? DEFAULT_PATH;
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemTimerClock;
    this.taken = new TakenCalls(this.log, 'an AgentStream call');
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE,
      perMessageDeflate: false,
    });
    const signal = opts.signal;
    if (signal !== undefined) signal.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** @internal What a call of this server inherits (outbound calls too). */
  callOptions(): Partial<RunBridgeOptions> {
    return bridgeOptionsOf(this.opts);
  }

  /** `open`, `draining` (503 to new streams) or `closed`. */
  get status(): 'open' | 'draining' | 'closed' {
    return this.state;
  }

  /** A snapshot of the server's counters: streams open now, accepted, refused, protocol errors. */
  stats(): AgentStreamServerStats {
    return { active: this.streams.size, ...this.counts };
  }

  /** Listens on its own HTTP server (`host`/`port` options); resolves with the port. */
  listen(): Promise<{
    /** The port listened on (the one picked when the `port` option is 0). */
    port: number;
  }> {
    if (this.state !== 'open') return Promise.reject(new ClosedError('AgentStreamServer'));
    this.listening ??= new Promise<{ port: number }>((resolve, reject) => {
      const server = createServer((_req, res) => {
        res.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end();
      });
      this.own = server;
      this.attachTo(server, true);
      server.once('error', (err) => {
        // e.g. EADDRINUSE: forget this server, so a later listen() can try again
        this.detach(server);
        this.own = undefined;
        this.listening = undefined;
        reject(err);
      });
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        heldUntilClose('listener', server);
        const port = portOf(server);
        this.log.info({ port, path: this.path }, `[BRIDGE] AgentStream endpoint listening on port ${port}`);
        resolve({ port });
      });
    });
    return this.listening;
  }

  /**
   * Serves upgrades to `path` on the host's HTTP(S) server (an HTTPS server gives `wss://`).
   * Upgrades to other paths are left to the host's other listeners.
   */
  attach(server: Server | HttpsServer): void {
    if (this.state !== 'open') throw new ClosedError('AgentStreamServer');
    this.attachTo(server, false);
  }

  /**
   * Stops taking streams. With `drain`, new streams get 503 while active calls finish (up to
   * `drainTimeoutMs`), then the rest are hung up; without, at once. Resolves once every
   * socket is closed and every `onEnded` (e.g. a room deletion) has run. Idempotent.
   */
  close(options: CloseStreamServerOptions = {}): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'draining';
      if (options.drain === true && this.taken.size > 0) {
        const limit = options.drainTimeoutMs ?? DEFAULT_DRAIN_MS;
        this.log.info({ calls: this.taken.size }, `[BRIDGE] AgentStream draining: up to ${limit} ms`);
        await this.taken.drain(() => this.taken.size > 0, limit, this.clock);
      }
      this.state = 'closed';
      for (const p of this.pending.values()) p.reject(new ClosedError('AgentStreamServer'));
      this.pending.clear();
      await this.taken.close(); // hangs up the rest, waits for the hosts' onEnded
      await Promise.all([...this.streams].map((s) => s.close(1001, 'server closing')));
      for (const [server, handler] of this.attached) server.off('upgrade', handler);
      this.attached.clear();
      const own = this.own;
      if (own !== undefined) {
        own.closeAllConnections();
        await new Promise<void>((resolve) => own.close(() => resolve()));
      }
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
      this.log.info('[BRIDGE] AgentStream endpoint closed');
    })();
    return this.closing;
  }

  /**
   * @internal The outbound call's side: the stream carrying `token` goes to it. Rejects
   * with `StreamProtocolError('timeout')` when none came within `timeoutMs` (not answered).
   */
  expectStream(token: string, timeoutMs: number): Pick<StreamDialer, 'arrival' | 'cancel'> {
    let pending!: Pending;
    const arrival = new Promise<AgentStreamMedia>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        if (this.pending.get(token) !== pending) return;
        this.pending.delete(token);
        reject(
          new StreamProtocolError('timeout', `no AgentStream arrived within ${timeoutMs} ms (not answered)`),
        );
      }, timeoutMs);
      pending = {
        resolve: (m) => {
          this.clock.clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          this.clock.clearTimeout(timer);
          reject(e);
        },
      };
    });
    arrival.catch(() => undefined); // awaited by the leg; a cancelled wait is nobody's error
    if (this.state !== 'open') pending.reject(new ClosedError('AgentStreamServer'));
    else this.pending.set(token, pending);
    return {
      arrival,
      cancel: () => {
        if (this.pending.get(token) !== pending) return;
        this.pending.delete(token);
        pending.reject(new AbortedError('the call ended before its stream arrived'));
      },
    };
  }

  // --- before the upgrade ---

  private detach(server: Server | HttpsServer): void {
    const handler = this.attached.get(server);
    if (handler !== undefined) server.off('upgrade', handler);
    this.attached.delete(server);
  }

  private attachTo(server: Server | HttpsServer, owned: boolean): void {
    const handler = (req: IncomingMessage, socket: Duplex, head: Buffer): void =>
      this.onUpgrade(req, socket, head, owned);
    this.attached.set(server, handler);
    server.on('upgrade', handler);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, owned: boolean): void {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      pathname = ''; // an unparsable target is simply not our path
    }
    if (pathname !== this.path) {
      if (owned) this.refuseUpgrade(socket, 404, 'unknown path', req);
      return;
    }
    socket.on('error', (err) => this.log.debug({ err: err.message }, '[BRIDGE] AgentStream socket error'));
    if (this.state !== 'open') return this.refuseUpgrade(socket, 503, 'closing', req);
    const verdict = this.access.check(req.headers.authorization, req.socket.remoteAddress ?? '');
    if (!verdict.ok) return this.refuseUpgrade(socket, verdict.status, 'not authenticated', req);
    const max = this.opts.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS;
    if (this.streams.size >= max) return this.refuseUpgrade(socket, 503, `over ${max} streams`, req);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
  }

  private refuseUpgrade(socket: Duplex, status: number, why: string, req: IncomingMessage): void {
    const address = req.socket.remoteAddress ?? '';
    this.counts.refused++;
    this.log.info({ status, why, address }, `[BRIDGE] AgentStream upgrade refused (${status}): ${why}`);
    this.emit('refused', { status, why, address });
    const extra = status === 401 ? 'WWW-Authenticate: Basic realm="exotel-agentstream"\r\n' : '';
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n${extra}Content-Length: 0\r\n\r\n`,
    );
  }

  // --- after the upgrade ---

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const remote = { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 };
    const media = new AgentStreamMedia(ws, {
      remote,
      clock: this.clock,
      logger: this.log.child({ peer: `${remote.address}:${remote.port}` }),
      ...(this.opts.limits !== undefined ? { limits: this.opts.limits } : {}),
    });
    this.streams.add(media);
    let routed = false;
    media.on('protocolError', (error) => {
      this.counts.protocolErrors++;
      this.emit('protocolError', {
        error,
        address: remote.address,
        ...(media.start !== undefined ? { callSid: media.start.callSid } : {}),
      });
    });
    media.once('ended', (end) => {
      this.streams.delete(media);
      if (!routed) this.refused(end.code, end.error?.message ?? 'closed before start', remote.address);
    });
    media.once('start', (start) => {
      routed = true;
      void this.route(media, start, req.url ?? '').catch((err: unknown) => {
        this.log.error({ err: toBridgeError(err).message }, '[BRIDGE] AgentStream routing failed');
        void media.close(1011, 'internal error');
      });
    });
  }

  private async route(media: AgentStreamMedia, start: StreamStart, url: string): Promise<void> {
    const token = start.customParameters[CORRELATION_PARAM] ?? queryParam(url, CORRELATION_PARAM);
    if (token !== undefined) {
      const waiting = this.pending.get(token);
      if (waiting === undefined) return this.refuseStream(media, 1008, 'no call waits for this stream');
      this.pending.delete(token);
      this.counts.accepted++;
      waiting.resolve(media);
      return;
    }
    if (this.state !== 'open') return this.refuseStream(media, 1013, 'closing');
    const onStream = this.opts.onStream;
    if (onStream === undefined) return this.refuseStream(media, 1008, 'no onStream: inbound streams refused');
    const from = callerE164(start.from, this.opts.defaultCountryCode ?? '91');
    let decision: StreamDecision;
    try {
      decision = await onStream(incomingOf(start, from, media));
    } catch (err) {
      this.log.error(
        { from, err: toBridgeError(err).message },
        '[BRIDGE] onStream threw: refusing the stream',
      );
      return this.refuseStream(media, 1011, 'onStream threw', from);
    }
    if ('reject' in decision) {
      const code = decision.reject === 503 || decision.reject === 486 ? 1013 : 1008;
      return this.refuseStream(media, code, `onStream refused it (${decision.reject})`, from);
    }
    if (media.ended || this.status === 'closed') {
      if (this.status === 'closed') void media.close(1001, 'server closing');
      this.taken.ended(decision, { reason: 'cancelled-before-bridge' });
      return;
    }
    this.bridge(media, start, from, decision);
  }

  private bridge(media: AgentStreamMedia, start: StreamStart, from: string, d: AcceptDecision): void {
    const o = this.opts;
    const options: RunBridgeOptions = {
      roomName: d.roomName,
      phoneNumber: from,
      ...(d.agentType !== undefined ? { agentType: d.agentType } : {}),
      ...(d.attributes !== undefined ? { attributes: d.attributes } : {}),
      ...(d.participantName !== undefined ? { participantName: d.participantName } : {}),
      ...bridgeOptionsOf(o),
    };
    const call = new BridgeCall(
      { livekit: this.livekit },
      options,
      from,
      new StreamLeg({ direction: 'inbound', media }),
      {
        trunkPhoneNumber: start.to,
        callId: start.callSid,
        hostname: media.remote.address,
        attributes: streamAttributes(start),
      },
    );
    this.counts.accepted++;
    this.taken.add(call, d);
    this.log.info(
      { from, room: d.roomName, callSid: start.callSid },
      `[BRIDGE] AgentStream call from ${from} into room ${d.roomName}`,
    );
    this.emit('call', call);
    void call.run();
  }

  private refuseStream(media: AgentStreamMedia, code: number, why: string, from?: string): void {
    this.refused(code, why, media.remote.address, from);
    void media.close(code, why.slice(0, 100));
  }

  private refused(status: number, why: string, address: string, from?: string): void {
    this.counts.refused++;
    this.log.info({ status, why, address, from }, `[BRIDGE] AgentStream refused (${status}): ${why}`);
    this.emit('refused', { status, why, address, ...(from !== undefined ? { from } : {}) });
  }
}

/**
 * Creates the AgentStream endpoint (nothing listens until `listen()` or `attach()`).
 * Throws `ConfigError` for bad settings, and when neither `auth` nor `allowFrom` is given:
 * an endpoint anybody could stream into is refused.
 */
export function createAgentStreamServer(options: AgentStreamServerOptions): AgentStreamServer {
  const issues: string[] = [];
  const collect = <T>(make: () => T): T | undefined => {
    try {
      return make();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues);
      return undefined;
    }
  };
  const livekit = collect(() => resolveLiveKitSettings(options.livekit, options.env ?? process.env));
  const access = collect(() => new StreamAccess(options.allowFrom ?? [], options.auth));
  if (access?.open === true)
    issues.push('give auth (Basic credentials) or allowFrom: the endpoint must authenticate Exotel');
  const path = options.path ?? DEFAULT_PATH;
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(path))
    issues.push(`path must be an absolute URL path (got ${JSON.stringify(path)})`);
  const max = options.maxMessageBytes;
  if (max !== undefined && (!Number.isInteger(max) || max < 1024 || max > 16 * 1024 * 1024))
    issues.push('maxMessageBytes must be an integer from 1024 to 16 MiB');
  const streams = options.maxConcurrentStreams;
  if (streams !== undefined && (!Number.isInteger(streams) || streams < 1))
    issues.push('maxConcurrentStreams must be a positive integer');
  for (const [name, v] of Object.entries(options.limits ?? {}))
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0))
      issues.push(`limits.${name} must be a positive number`);
  if (issues.length > 0 || livekit === undefined || access === undefined) throw new ConfigError(issues);
  return new AgentStreamServer(options, livekit, access);
}

function incomingOf(start: StreamStart, from: string, media: AgentStreamMedia): IncomingStream {
  return {
    from,
    to: start.to,
    callSid: start.callSid,
    streamSid: start.streamSid,
    accountSid: start.accountSid,
    customParameters: start.customParameters,
    sampleRate: start.sampleRate,
    source: media.remote,
  };
}

function callerE164(from: string, defaultCountryCode: string): string {
  try {
    return normalizePhoneNumber(from, { defaultCountryCode });
  } catch {
    return 'anonymous'; // a withheld or non-numeric caller ID: not a number to show
  }
}

function queryParam(url: string, name: string): string | undefined {
  try {
    return new URL(url, 'http://localhost').searchParams.get(name) ?? undefined;
  } catch {
    return undefined; // the upgrade already parsed this URL; nothing to find in a bad one
  }
}

function portOf(server: Server): number {
  const a = server.address();
  return typeof a === 'object' && a !== null ? a.port : 0;
}

/** @internal The bridge options a stream call inherits from the server (or `placeAgentStreamCall`). */
export function bridgeOptionsOf(o: AgentStreamServerOptions): Partial<RunBridgeOptions> {
  const out: Partial<RunBridgeOptions> = {};
  if (o.livekit !== undefined) out.livekit = o.livekit;
  if (o.env !== undefined) out.env = o.env;
  if (o.logger !== undefined) out.logger = o.logger;
  if (o.isAgent !== undefined) out.isAgent = o.isAgent;
  if (o.timeouts !== undefined) out.timeouts = o.timeouts;
  if (o.directFfi !== undefined) out.directFfi = o.directFfi;
  if (o.livekitMedia !== undefined) out.livekitMedia = o.livekitMedia;
  if (o.clock !== undefined) out.clock = o.clock;
  if (o.requireExistingRoom !== undefined) out.requireExistingRoom = o.requireExistingRoom;
  if (o.audioTaps !== undefined) out.audioTaps = o.audioTaps;
  if (o.autoClear !== undefined) out.autoClear = o.autoClear;
  return out;
}
