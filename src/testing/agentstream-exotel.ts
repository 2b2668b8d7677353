/**
 * `AgentStreamExotel`: a local stand-in for Exotel's HTTP "connect Voice AI" call API
 * (`POST /v1/accounts/<sid>/calls/connect`, form-encoded, HTTP Basic auth with the API key
 * and token) that then "dials" like Exotel would: after a ring time it opens an AgentStream
 * to the `streamurl` it was given ({@link connectAgentStream}), with the dialled number as
 * `from` and the caller id as `to`.
 *
 * Checks, in this order (each answered with a `RestException` JSON body):
 * path (404), method (405), a `failNext` hook, Basic auth (401), the account sid in the
 * path (404), body size at most 16 KiB (413), `Content-Type` form-encoded (415), then the
 * parameters (400): `from`, `callerid`, `streamurl` (ws:// or wss://, at most 600
 * characters, a valid `sample-rate`), `streamtype` = `bidirectional`, and the optional
 * `record` (true/false), `timelimit` (1..14400 s), `customfield` (at most 128 characters),
 * `statuscallback`, `streamname`. Parameter names and the fixed path segments are matched
 * case-insensitively (Exotel's own documentation writes `Accounts`, `Calls`, `From`,
 * `CallerId`), and a `.json` suffix on the path is accepted.
 *
 * The whole body is read (bounded; beyond 1 MiB the connection is dropped) before any
 * answer, so a refused client sees the status and not a reset. Every timer runs on the
 * injected clock.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EventEmitter } from 'eventemitter3';
import { clearTimer, systemTimerClock, type TimerClock, type TimerHandle } from '../clock.js';
import type { BridgeError } from '../errors.js';
import { ClosedError, ConfigError, toBridgeError } from '../errors.js';
import {
  connectAgentStream,
  parseStreamUrl,
  randomSid,
  type AgentStreamPlay,
  type SimulatedAgentStream,
} from './agentstream-client.js';

/** Options of {@link AgentStreamExotel}: the account and credentials it accepts, and how its calls behave. */
export interface AgentStreamExotelOptions {
  /** Default `'ACsimulator'`. */
  accountSid?: string;
  /** Default `'sim-key'`. */
  apiKey?: string;
  /** Default `'sim-token'`. */
  apiToken?: string;
  /** "Ring time" between the API's answer and the stream opening, in ms (default 300). */
  answerAfterMs?: number;
  /** What the callee says into each stream. */
  play?: AgentStreamPlay;
  /** The clock of the ring time and of each stream's timers (default: the system clock). */
  clock?: TimerClock;
  /** Default `'127.0.0.1'`. */
  host?: string;
}

/** One accepted connect request, as parsed (never the credentials). */
export interface ConnectApiRequest {
  /** The `Sid` we answered with (the stream's `callSid`). */
  callSid: string;
  /** The account SID from the request path. */
  accountSid: string;
  /** The number dialled. */
  from: string;
  /** The caller id (an Exophone). */
  callerId: string;
  /** The bot's `ws://` or `wss://` URL the stream opens to. */
  streamUrl: string;
  /** `streamtype`: always `bidirectional` (anything else is refused with 400). */
  streamType: string;
  /** `record`, when given. */
  record: boolean | undefined;
  /** `timelimit` in seconds, when given. */
  timeLimit: number | undefined;
  /** `customfield`, when given. */
  customField: string | undefined;
  /** `statuscallback`, when given. */
  statusCallback: string | undefined;
  /** `streamname`, when given. */
  streamName: string | undefined;
}

/** Events of an {@link AgentStreamExotel}. */
export interface AgentStreamExotelEvents {
  /** A connect request was accepted. */
  request: [request: ConnectApiRequest];
  /** A stream opened (also pushed to `streams`). */
  stream: [stream: SimulatedAgentStream];
  /** Opening a stream failed (the bot refused the upgrade or was unreachable). */
  streamFailed: [err: BridgeError, request: ConnectApiRequest];
}

const BODY_LIMIT = 16 * 1024;
/** Beyond this the body is not even drained: the connection is dropped after the 413. */
const BODY_HARD_LIMIT = 1024 * 1024;
const MAX_STREAM_URL = 600;
const MAX_CUSTOM_FIELD = 128;
const MAX_TIME_LIMIT_S = 14_400;
const CONNECT_PATH = /^\/v1\/accounts\/([^/]+)\/calls\/connect(?:\.json)?$/i;
const PARAMS = [
  'from',
  'callerid',
  'streamurl',
  'streamtype',
  'record',
  'timelimit',
  'customfield',
  'statuscallback',
  'streamname',
] as const;
type Param = (typeof PARAMS)[number];

type Outcome = { ok: true; stream: SimulatedAgentStream } | { ok: false; error: BridgeError };
interface Waiter {
  resolve: (s: SimulatedAgentStream) => void;
  reject: (e: BridgeError) => void;
}
interface Body {
  text: string;
  size: number;
  /** Over {@link BODY_HARD_LIMIT}: answer, then drop the connection. */
  dropped: boolean;
}

/** A stand-in for Exotel's connect-to-Voice-AI API. */
export class AgentStreamExotel extends EventEmitter<AgentStreamExotelEvents> {
  /** Every accepted connect request, in order. */
  readonly requests: ConnectApiRequest[] = [];
  /** Every stream opened, in order. */
  readonly streams: SimulatedAgentStream[] = [];
  /** The account SID the API path must carry. */
  readonly accountSid: string;
  private readonly apiKey: string;
  private readonly apiToken: string;
  private readonly answerAfterMs: number;
  private readonly clock: TimerClock;
  private readonly host: string;
  private server: Server | undefined;
  private closing: Promise<void> | undefined;
  private failure: { status: number; message: string } | undefined;
  private answering = true;
  private readonly ringTimers = new Set<TimerHandle>();
  private readonly connecting = new Set<Promise<unknown>>();
  private readonly outcomes: Outcome[] = [];
  private readonly waiters: Waiter[] = [];

  /**
   * A stand-in that is not listening yet (call `listen()`).
   *
   * @throws ConfigError when `answerAfterMs` is negative.
   */
  constructor(private readonly options: AgentStreamExotelOptions = {}) {
    super();
    this.accountSid = options.accountSid ?? 'ACsimulator';
    this.apiKey = options.apiKey ?? 'sim-key';
    this.apiToken = options.apiToken ?? 'sim-token';
    this.answerAfterMs = options.answerAfterMs ?? 300;
    this.clock = options.clock ?? systemTimerClock;
    this.host = options.host ?? '127.0.0.1';
    if (!(this.answerAfterMs >= 0))
      throw new ConfigError([`answerAfterMs ${this.answerAfterMs} is negative`]);
  }

  /** Listens on a free port; `baseUrl` is `http://<host>:<port>`. */
  async listen(): Promise<{
    /** `http://<host>:<port>`: pass it as the API's `baseUrl`. */
    baseUrl: string;
  }> {
    if (this.closing !== undefined) throw new ClosedError('AgentStreamExotel');
    if (this.server === undefined) {
      const server = createServer((req, res) => {
        this.handle(req, res).catch((err: unknown) => internalError(res, err));
      });
      this.server = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, this.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    }
    return { baseUrl: this.baseUrl };
  }

  /** `http://<host>:<port>` once listening. */
  get baseUrl(): string {
    const addr = this.server?.address();
    if (addr === null || addr === undefined || typeof addr === 'string')
      throw new ClosedError('AgentStreamExotel');
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${host}:${addr.port}`;
  }

  /** The next connect request answers `status` with a `RestException` carrying `message`. */
  failNext(status: number, message: string): void {
    if (!Number.isInteger(status) || status < 100 || status > 599)
      throw new ConfigError([`failNext status ${status} is not an HTTP status`]);
    this.failure = { status, message };
  }

  /** Later connect requests succeed, but no stream is ever opened (the callee never answers). */
  noAnswer(): void {
    this.answering = false;
  }

  /**
   * The next stream opened (or one already opened and not taken yet). Rejects with the
   * error when opening it failed, and with `ClosedError` on `close()`.
   */
  nextStream(): Promise<SimulatedAgentStream> {
    const o = this.outcomes.shift();
    if (o !== undefined) return o.ok ? Promise.resolve(o.stream) : Promise.reject(o.error);
    if (this.closing !== undefined) return Promise.reject(new ClosedError('AgentStreamExotel'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * Stops answering and drops every stream it opened (their TCP connections, as a trunk
   * that vanished would), then closes the server. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.teardown();
    return this.closing;
  }

  private async teardown(): Promise<void> {
    for (const t of this.ringTimers) clearTimer(this.clock, t);
    this.ringTimers.clear();
    for (const w of this.waiters.splice(0)) w.reject(new ClosedError('AgentStreamExotel'));
    await Promise.allSettled([...this.connecting]);
    await Promise.all(this.streams.map((s) => s.terminate()));
    const server = this.server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // --- HTTP ---

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Body;
    try {
      body = await readBody(req);
    } catch {
      // the client went away mid-body: there is nobody to answer
      req.socket.destroy();
      return;
    }
    const answer = (status: number, json: unknown, headers: Record<string, string> = {}): void => {
      const text = JSON.stringify(json);
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(text)),
        ...(body.dropped ? { Connection: 'close' } : {}),
        ...headers,
      });
      res.end(text);
    };
    const refuse = (status: number, message: string, headers?: Record<string, string>): void =>
      answer(status, { RestException: { Status: status, Message: message } }, headers);

    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const m = CONNECT_PATH.exec(path);
    if (m === null) return refuse(404, 'Not found');
    if (req.method !== 'POST') return refuse(405, 'Method not allowed', { Allow: 'POST' });
    const failure = this.failure;
    this.failure = undefined;
    if (failure !== undefined) return refuse(failure.status, failure.message);
    if (!this.authorized(req.headers.authorization)) return refuse(401, 'Authentication failed');
    if (decodeURIComponentSafe(m[1] ?? '') !== this.accountSid) return refuse(404, 'Account not found');
    if (body.size > BODY_LIMIT) return refuse(413, `Request body over ${BODY_LIMIT} bytes`);
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded')
      return refuse(415, 'Content-Type must be application/x-www-form-urlencoded');
    const parsed = this.parseParams(body.text);
    if (typeof parsed === 'string') return refuse(400, parsed);
    if (this.closing !== undefined) return refuse(503, 'Service unavailable');

    this.requests.push(parsed);
    this.emit('request', parsed);
    answer(200, {
      Call: {
        Sid: parsed.callSid,
        Status: 'in-progress',
        From: parsed.from,
        To: parsed.callerId,
        AccountSid: this.accountSid,
      },
    });
    if (this.answering) this.ring(parsed);
  }

  private authorized(header: string | undefined): boolean {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
    if (m === null) return false;
    const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return (
      colon >= 0 && decoded.slice(0, colon) === this.apiKey && decoded.slice(colon + 1) === this.apiToken
    );
  }

  /** The request's parameters, or the first problem found (a 400's message). */
  private parseParams(text: string): ConnectApiRequest | string {
    const p = new Map<Param, string>();
    for (const [k, v] of new URLSearchParams(text)) {
      const key = PARAMS.find((name) => name === k.toLowerCase());
      if (key !== undefined && !p.has(key)) p.set(key, v);
    }
    for (const required of ['from', 'callerid', 'streamurl', 'streamtype'] as const)
      if ((p.get(required) ?? '') === '') return `Missing parameter ${required}`;
    const streamUrl = p.get('streamurl') ?? '';
    if (streamUrl.length > MAX_STREAM_URL) return `streamurl is longer than ${MAX_STREAM_URL} characters`;
    try {
      parseStreamUrl(streamUrl);
    } catch (err) {
      return `Invalid streamurl: ${err instanceof ConfigError ? err.issues.join('; ') : 'not a URL'}`;
    }
    const streamType = p.get('streamtype') ?? '';
    if (streamType !== 'bidirectional')
      return `Invalid streamtype ${JSON.stringify(streamType)} (bidirectional)`;
    const record = p.get('record');
    if (record !== undefined && record !== 'true' && record !== 'false')
      return 'record must be true or false';
    const timeLimitText = p.get('timelimit');
    const timeLimit = timeLimitText === undefined ? undefined : Number(timeLimitText);
    if (
      timeLimit !== undefined &&
      (!/^[0-9]{1,5}$/.test(timeLimitText ?? '') || timeLimit < 1 || timeLimit > MAX_TIME_LIMIT_S)
    )
      return `timelimit must be 1..${MAX_TIME_LIMIT_S} seconds`;
    const customField = p.get('customfield');
    if (customField !== undefined && customField.length > MAX_CUSTOM_FIELD)
      return `customfield is longer than ${MAX_CUSTOM_FIELD} characters`;
    return {
      callSid: randomSid('CA'),
      accountSid: this.accountSid,
      from: p.get('from') ?? '',
      callerId: p.get('callerid') ?? '',
      streamUrl,
      streamType,
      record: record === undefined ? undefined : record === 'true',
      timeLimit,
      customField,
      statusCallback: p.get('statuscallback'),
      streamName: p.get('streamname'),
    };
  }

  // --- dialling ---

  private ring(request: ConnectApiRequest): void {
    const timer = this.clock.setTimeout(() => {
      this.ringTimers.delete(timer);
      this.dial(request);
    }, this.answerAfterMs);
    this.ringTimers.add(timer);
  }

  private dial(request: ConnectApiRequest): void {
    if (this.closing !== undefined) return;
    const opening = connectAgentStream({
      url: request.streamUrl,
      from: request.from,
      to: request.callerId,
      callSid: request.callSid,
      accountSid: this.accountSid,
      clock: this.clock,
      ...(this.options.play !== undefined ? { play: this.options.play } : {}),
    }).then(
      (stream) => {
        if (this.closing !== undefined) {
          void stream.terminate();
          return;
        }
        this.streams.push(stream);
        this.emit('stream', stream);
        this.deliver({ ok: true, stream });
      },
      (err: unknown) => {
        const error = toBridgeError(err);
        this.emit('streamFailed', error, request);
        this.deliver({ ok: false, error });
      },
    );
    this.connecting.add(opening);
    void opening.finally(() => this.connecting.delete(opening));
  }

  private deliver(o: Outcome): void {
    const w = this.waiters.shift();
    if (w === undefined) this.outcomes.push(o);
    else if (o.ok) w.resolve(o.stream);
    else w.reject(o.error);
  }
}

/**
 * Reads the whole body, keeping at most {@link BODY_LIMIT} + 1 bytes of it (enough to
 * tell "too large"); past {@link BODY_HARD_LIMIT} it stops reading. Rejects when the
 * request is aborted.
 */
function readBody(req: IncomingMessage): Promise<Body> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > BODY_HARD_LIMIT) {
      req.pause();
      resolve({ text: '', size: declared, dropped: true });
      return;
    }
    const kept: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size <= BODY_LIMIT) kept.push(chunk.subarray(0, BODY_LIMIT + 1 - size));
      size += chunk.length;
      if (size > BODY_HARD_LIMIT) {
        req.pause();
        req.removeAllListeners('data');
        resolve({ text: '', size, dropped: true });
      }
    });
    req.on('end', () => resolve({ text: Buffer.concat(kept).toString('utf8'), size, dropped: false }));
    req.on('error', reject);
    req.on('aborted', () => reject(new ClosedError('request')));
  });
}

/** A bug in a handler: a 500 if nothing was sent yet, else the connection is dropped. */
function internalError(res: ServerResponse, err: unknown): void {
  const message = toBridgeError(err).message;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({ RestException: { Status: 500, Message: `Internal error: ${message}` } });
  res.writeHead(500, { 'Content-Type': 'application/json', Connection: 'close' });
  res.end(text);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // not valid percent-encoding: compared as written, so it simply does not match
    return s;
  }
}
