/**
 * The AgentStream endpoint (`createAgentStreamServer`) on loopback, with the simulator's
 * Exotel-like client (or raw sockets where the exact bytes matter) as the peer: refusals
 * before the upgrade (path 404, credentials 401 with `WWW-Authenticate`, allow-list 403,
 * capacity 503), `attach()` on a host's server, what `onStream` is offered and how its
 * refusals close the socket, the bounds (message size 1009, flood 1008), counters, and
 * `close()`. No test lets a stream become a call (that needs a LiveKit server): `onStream`
 * refuses or throws. Stream timers run on a FakeTimerClock nobody advances.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, get, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createAgentStreamServer, type AgentStreamServer } from '../../src/agentstream/server.js';
import type {
  AgentStreamServerOptions,
  IncomingStream,
  StreamDecision,
  StreamRefusal,
} from '../../src/agentstream/types.js';
import { ClosedError, ConfigError, StreamProtocolError } from '../../src/errors.js';
import {
  connectAgentStream,
  probeUpgrade,
  type AgentStreamClientOptions,
  type SimulatedAgentStream,
} from '../../src/testing/agentstream-client.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';

const LIVEKIT = { url: 'ws://127.0.0.1:1', apiKey: 'k', apiSecret: 's' };
const AUTH = { username: 'exotel', password: 's3cret' };
const CREDS = `${AUTH.username}:${AUTH.password}`;
const PATH = '/exotel/agentstream';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Served {
  server: AgentStreamServer;
  port: number;
  clock: FakeTimerClock;
  /** What `onStream` was offered, in order. */
  offered: IncomingStream[];
  refusals: StreamRefusal[];
  /** `call` events (must stay 0: no test reaches a room). */
  calls: number;
  /** `ws://[creds@]127.0.0.1:port<path><query>`. */
  url(o?: { path?: string; creds?: string | false; query?: string }): string;
  /** The next refusal (one not yet seen). */
  nextRefusal(): Promise<StreamRefusal>;
}

/** Options of a server that refuses every stream with 486 (so nothing reaches a room). */
function options(o: Partial<AgentStreamServerOptions> = {}): AgentStreamServerOptions {
  return { livekit: LIVEKIT, env: {}, auth: AUTH, onStream: () => ({ reject: 486 }), ...o };
}

/** A server listening on 127.0.0.1:0; `onStream` records what it is offered, then does what `o` says. */
async function serve(o: Partial<AgentStreamServerOptions> = {}): Promise<Served> {
  const clock = new FakeTimerClock();
  const offered: IncomingStream[] = [];
  const refusals: StreamRefusal[] = [];
  const waiting: ((r: StreamRefusal) => void)[] = [];
  const opts = options({ clock, ...o });
  const decide = opts.onStream;
  const server = createAgentStreamServer({
    ...opts,
    ...(decide !== undefined
      ? {
          onStream: (s: IncomingStream) => {
            offered.push(s);
            return decide(s);
          },
        }
      : {}),
  });
  cleanups.push(() => server.close());
  const served: Served = {
    server,
    port: 0,
    clock,
    offered,
    refusals,
    calls: 0,
    url: ({ path = PATH, creds = CREDS, query = '' } = {}) =>
      `ws://${creds === false ? '' : `${creds}@`}127.0.0.1:${served.port}${path}${query}`,
    nextRefusal: () => new Promise((resolve) => waiting.push(resolve)),
  };
  server.on('refused', (r) => {
    refusals.push(r);
    waiting.shift()?.(r);
  });
  server.on('call', () => served.calls++);
  served.port = (await server.listen()).port;
  return served;
}

/** A simulated Exotel stream (its media clock is a fake nobody advances: it sends no media). */
async function stream(o: Partial<AgentStreamClientOptions> & { url: string }): Promise<SimulatedAgentStream> {
  const s = await connectAgentStream({
    from: '09876543210',
    to: '08044319240',
    callSid: 'CA1',
    streamSid: 'MZ1',
    accountSid: 'AC1',
    clock: new FakeTimerClock(),
    ...o,
  });
  cleanups.push(() => s.terminate());
  return s;
}

/**
 * Sends a WebSocket upgrade request over a raw TCP socket and returns every byte of the
 * answer (for refusals, which end the connection).
 */
async function rawUpgrade(port: number, path: string, headers: string[] = []): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  cleanups.push(() => void socket.destroy());
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'connect');
  const closed = once(socket, 'close');
  socket.write(
    [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      ...headers,
      '',
      '',
    ].join('\r\n'),
  );
  await closed;
  return Buffer.concat(chunks).toString('latin1');
}

/** A plain HTTP GET: status and body. */
async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    }).on('error', reject);
  });
}

const refusal = (status: number, reason: string): string =>
  `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;

describe('AgentStreamServer: before the upgrade', () => {
  it('another path gets 404 on its own server', async () => {
    const s = await serve();
    for (const path of ['/', '/other', `${PATH}/x`, '/exotel', PATH.toUpperCase()])
      expect(await probeUpgrade(s.url({ path })), path).toBe(404);
    expect(s.refusals.map((r) => [r.status, r.why, r.address])).toEqual(
      Array.from({ length: 5 }, () => [404, 'unknown path', '127.0.0.1']),
    );
    expect(await rawUpgrade(s.port, '/other')).toBe(refusal(404, 'Not Found'));
  });

  it('the path with a query string is the path', async () => {
    const s = await serve();
    expect(await probeUpgrade(s.url({ query: '?sample-rate=16000&x=1' }))).toBe(101);
  });

  it('a plain HTTP request gets 426 Upgrade Required', async () => {
    const s = await serve();
    expect(await httpGet(s.port, PATH)).toEqual({ status: 426, body: '' });
  });

  it('401 without credentials or with wrong ones, with WWW-Authenticate: Basic', async () => {
    const s = await serve();
    expect(await probeUpgrade(s.url({ creds: false }))).toBe(401);
    expect(await probeUpgrade(s.url({ creds: 'exotel:wrong' }))).toBe(401);
    expect(await probeUpgrade(s.url({ creds: 'someone:s3cret' }))).toBe(401);
    const answer = [
      'HTTP/1.1 401 Unauthorized',
      'Connection: close',
      'WWW-Authenticate: Basic realm="exotel-agentstream"',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    expect(await rawUpgrade(s.port, PATH)).toBe(answer);
    const wrong = `Authorization: Basic ${Buffer.from('exotel:nope').toString('base64')}`;
    expect(await rawUpgrade(s.port, PATH, [wrong])).toBe(answer);
    expect(s.refusals.map((r) => [r.status, r.why])).toEqual(
      Array.from({ length: 5 }, () => [401, 'not authenticated']),
    );
  });

  it('the right credentials are let in', async () => {
    const s = await serve();
    expect(await probeUpgrade(s.url())).toBe(101);
    expect(
      await probeUpgrade(s.url({ creds: false }), {
        headers: { Authorization: `Basic ${Buffer.from(CREDS).toString('base64')}` },
      }),
    ).toBe(101);
  });

  it('allow-list only: 403 from 127.0.0.1 when it is not listed, whatever it presents', async () => {
    const s = await serve({ auth: undefined, allowFrom: ['10.0.0.0/8', '::1'] });
    expect(await probeUpgrade(s.url({ creds: false }))).toBe(403);
    expect(await probeUpgrade(s.url())).toBe(403);
    expect(await rawUpgrade(s.port, PATH)).toBe(refusal(403, 'Forbidden'));
    expect(s.refusals.map((r) => r.status)).toEqual([403, 403, 403]);
  });

  it('allow-list only: let in without credentials when 127.0.0.1 is listed', async () => {
    const s = await serve({ auth: undefined, allowFrom: ['127.0.0.0/8'] });
    expect(await probeUpgrade(s.url({ creds: false }))).toBe(101);
    const c = await stream({ url: s.url({ creds: false }) });
    expect(await c.ended).toEqual({ code: 1013, reason: 'onStream refused it (486)' });
    expect(s.offered).toHaveLength(1);
  });

  it('allow-list and credentials: an unlisted address needs the credentials', async () => {
    const s = await serve({ allowFrom: ['10.0.0.0/8'] });
    expect(await probeUpgrade(s.url({ creds: false }))).toBe(401);
    expect(await probeUpgrade(s.url())).toBe(101);
  });

  it('503 over maxConcurrentStreams, until a stream ends', async () => {
    const s = await serve({ maxConcurrentStreams: 2 });
    const a = await stream({ url: s.url(), autoStart: false });
    await stream({ url: s.url(), autoStart: false });
    expect(s.server.stats().active).toBe(2);
    expect(await probeUpgrade(s.url())).toBe(503);
    expect(
      await rawUpgrade(s.port, PATH, [`Authorization: Basic ${Buffer.from(CREDS).toString('base64')}`]),
    ).toBe(refusal(503, 'Service Unavailable'));
    expect(s.refusals.map((r) => [r.status, r.why])).toEqual([
      [503, 'over 2 streams'],
      [503, 'over 2 streams'],
    ]);

    const gone = s.nextRefusal(); // a stream that ends before start is counted as refused
    await a.close();
    expect(await gone).toMatchObject({ status: 1000, why: 'closed before start' });
    expect(s.server.stats().active).toBe(1);
    expect(await probeUpgrade(s.url())).toBe(101);
  });

  it('the capacity check comes after the credentials: 401, not 503, for a stranger', async () => {
    const s = await serve({ maxConcurrentStreams: 1 });
    await stream({ url: s.url(), autoStart: false });
    expect(await probeUpgrade(s.url({ creds: false }))).toBe(401);
  });
});

describe('AgentStreamServer: attach() on the host’s HTTP server', () => {
  async function host(): Promise<{ http: Server; port: number }> {
    const http = createServer((req, res) => res.end(`host ${req.url ?? ''}`));
    const other = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, socket, head) => {
      if (req.url === '/other') other.handleUpgrade(req, socket, head, (ws) => ws.close(4000, 'host'));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await new Promise<void>((resolve) => other.close(() => resolve()));
    });
    return { http, port: (http.address() as AddressInfo).port };
  }

  /** A raw client to `port` and `path`; resolves with how it was closed. */
  async function closeOf(port: number, path: string): Promise<{ code: number; reason: string }> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    cleanups.push(() => ws.terminate());
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    return { code, reason: reason.toString('utf8') };
  }

  it('serves its path and leaves the host’s requests and other upgrades alone', async () => {
    const h = await host();
    const clock = new FakeTimerClock();
    const server = createAgentStreamServer(options({ clock }));
    cleanups.push(() => server.close());
    const refusals: StreamRefusal[] = [];
    server.on('refused', (r) => refusals.push(r));
    server.attach(h.http);

    expect(await httpGet(h.port, '/page')).toEqual({ status: 200, body: 'host /page' });
    expect(await closeOf(h.port, '/other')).toEqual({ code: 4000, reason: 'host' });
    expect(refusals).toEqual([]);

    expect(await probeUpgrade(`ws://127.0.0.1:${h.port}${PATH}`)).toBe(401);
    const c = await stream({ url: `ws://${CREDS}@127.0.0.1:${h.port}${PATH}` });
    expect(await c.ended).toEqual({ code: 1013, reason: 'onStream refused it (486)' });
    expect(refusals.map((r) => r.status)).toEqual([401, 1013]);

    await server.close();
    expect(h.http.listenerCount('upgrade')).toBe(1);
    expect(await httpGet(h.port, '/page')).toEqual({ status: 200, body: 'host /page' });
    expect(await closeOf(h.port, '/other')).toEqual({ code: 4000, reason: 'host' });
    expect(() => server.attach(h.http)).toThrow(ClosedError);
  });
});

describe('AgentStreamServer: after start, onStream decides', () => {
  it('is offered the stream: caller in E.164, the call’s identity, custom parameters, rate and source', async () => {
    const s = await serve();
    const c = await stream({ url: s.url({ query: '?sample-rate=16000&lang=hi&agent=a1' }) });
    expect(await c.ended).toEqual({ code: 1013, reason: 'onStream refused it (486)' });
    expect(s.offered).toEqual([
      {
        from: '+919876543210',
        to: '08044319240',
        callSid: 'CA1',
        streamSid: 'MZ1',
        accountSid: 'AC1',
        customParameters: { lang: 'hi', agent: 'a1' },
        sampleRate: 16000,
        source: { address: '127.0.0.1', port: expect.any(Number) },
      },
    ]);
    expect(s.offered[0]!.source.port).toBeGreaterThan(0);
    expect(s.refusals).toEqual([
      { status: 1013, why: 'onStream refused it (486)', address: '127.0.0.1', from: '+919876543210' },
    ]);
    expect(s.calls).toBe(0);
  });

  it.each([
    ['09876543210', '91', '+919876543210'],
    ['9876543210', '91', '+919876543210'],
    ['+14155550100', '91', '+14155550100'],
    ['4155550100', '1', '+14155550100'],
    ['', '91', 'anonymous'],
    ['anonymous', '91', 'anonymous'],
  ])('from %j with country code %s is offered as %s', async (from, defaultCountryCode, expected) => {
    const s = await serve({ defaultCountryCode });
    const c = await stream({ url: s.url(), from });
    await c.ended;
    expect(s.offered.map((o) => o.from)).toEqual([expected]);
  });

  it.each([
    [486, 1013],
    [503, 1013],
    [403, 1008],
    [404, 1008],
    [480, 1008],
  ])('{ reject: %i } closes the socket with %i', async (status, code) => {
    const s = await serve({ onStream: () => ({ reject: status }) });
    const c = await stream({ url: s.url() });
    expect(await c.ended).toEqual({ code, reason: `onStream refused it (${status})` });
    expect(s.refusals.map((r) => r.status)).toEqual([code]);
  });

  it('an async decision is awaited', async () => {
    const s = await serve({ onStream: async (): Promise<StreamDecision> => ({ reject: 503 }) });
    const c = await stream({ url: s.url() });
    expect(await c.ended).toEqual({ code: 1013, reason: 'onStream refused it (503)' });
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('host bug');
      },
    ],
    ['rejects', () => Promise.reject(new Error('host bug'))],
  ])('onStream that %s refuses the stream with 1011', async (_what, onStream) => {
    const s = await serve({ onStream });
    const c = await stream({ url: s.url() });
    expect(await c.ended).toEqual({ code: 1011, reason: 'onStream threw' });
    expect(s.offered).toHaveLength(1);
    expect(s.refusals).toEqual([
      { status: 1011, why: 'onStream threw', address: '127.0.0.1', from: '+919876543210' },
    ]);
  });

  it('without onStream, inbound streams are refused with 1008', async () => {
    const s = await serve({ onStream: undefined });
    const c = await stream({ url: s.url() });
    expect(await c.ended).toEqual({ code: 1008, reason: 'no onStream: inbound streams refused' });
  });

  it('a stream naming an unknown outbound call (lkcall) is refused with 1008, and onStream is not asked', async () => {
    const s = await serve();
    const byParam = await stream({ url: s.url(), customParameters: { lkcall: 'no-such-call' } });
    expect(await byParam.ended).toEqual({ code: 1008, reason: 'no call waits for this stream' });
    const byQuery = await stream({ url: s.url({ query: '?lkcall=no-such-call' }), customParameters: {} });
    expect(await byQuery.ended).toEqual({ code: 1008, reason: 'no call waits for this stream' });
    expect(s.offered).toEqual([]);
    expect(s.refusals.map((r) => [r.status, r.why])).toEqual([
      [1008, 'no call waits for this stream'],
      [1008, 'no call waits for this stream'],
    ]);
  });
});

describe('AgentStreamServer: bounds', () => {
  it('a message over maxMessageBytes ends the stream with 1009', async () => {
    const s = await serve({ maxMessageBytes: 1024 });
    const c = await stream({ url: s.url(), autoStart: false });
    const fits = JSON.stringify({ event: 'noop', pad: '' });
    c.sendRaw(JSON.stringify({ event: 'noop', pad: 'x'.repeat(1024 - fits.length) })); // exactly 1024 bytes
    c.sendRaw(JSON.stringify({ event: 'noop', pad: 'x'.repeat(1025 - fits.length) })); // 1025 bytes
    const end = await c.ended;
    expect(end.code).toBe(1009);
    expect(s.refusals).toHaveLength(1);
    expect(s.refusals[0]).toMatchObject({ status: 1009, address: '127.0.0.1' });
    expect(s.server.stats().active).toBe(0);
  });

  it('a message of maxMessageBytes is taken', async () => {
    const s = await serve({ maxMessageBytes: 1024 });
    const c = await stream({ url: s.url(), autoStart: false });
    const fits = JSON.stringify({ event: 'noop', pad: '' });
    c.sendRaw(JSON.stringify({ event: 'noop', pad: 'x'.repeat(1024 - fits.length) }));
    c.start();
    expect(await c.ended).toEqual({ code: 1013, reason: 'onStream refused it (486)' });
    expect(s.offered).toHaveLength(1);
  });

  it('more messages than the rate allows end the stream with 1008', async () => {
    const s = await serve({ limits: { maxMessagesPerSecond: 5 } });
    const c = await stream({ url: s.url(), autoStart: false }); // sends connected: 1 of a burst of 10
    for (let i = 0; i < 10; i++) c.sendRaw('{"event":"noop"}');
    expect(await c.ended).toEqual({ code: 1008, reason: 'flood' });
    expect(s.refusals.map((r) => r.status)).toEqual([1008]);
    expect(s.refusals[0]!.why).toMatch(/^more than 5 messages a second/);
  });

  it('a malformed message before start ends the stream with 1008 and is reported', async () => {
    const s = await serve();
    const errors: { error: StreamProtocolError; callSid?: string; address: string }[] = [];
    s.server.on('protocolError', (e) => errors.push(e));
    const c = await stream({ url: s.url(), autoStart: false });
    c.sendRaw('{oops');
    expect(await c.ended).toEqual({ code: 1008, reason: 'malformed-json' });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.error).toBeInstanceOf(StreamProtocolError);
    expect(errors[0]).toMatchObject({ address: '127.0.0.1' });
    expect(errors[0]!.callSid).toBeUndefined();
  });

  it('a malformed message after start is reported with the call SID while onStream decides', async () => {
    let decide!: (d: StreamDecision) => void;
    const s = await serve({ onStream: () => new Promise<StreamDecision>((resolve) => (decide = resolve)) });
    const errors: { error: StreamProtocolError; callSid?: string; address: string }[] = [];
    const reported = new Promise<void>((resolve) =>
      s.server.on('protocolError', (e) => {
        errors.push(e);
        resolve();
      }),
    );
    const c = await stream({ url: s.url() });
    c.sendRaw('{"event":"dtmf","dtmf":{"digit":"x"}}');
    await reported;
    expect(errors.map((e) => [e.error.reason, e.callSid, e.address])).toEqual([
      ['bad-event', 'CA1', '127.0.0.1'],
    ]);
    expect(s.server.stats()).toMatchObject({ active: 1, protocolErrors: 1 });
    decide({ reject: 486 });
    expect(await c.ended).toEqual({ code: 1013, reason: 'onStream refused it (486)' });
  });
});

describe('AgentStreamServer: stats', () => {
  it('counts refusals and refused messages; active goes back to 0', async () => {
    const s = await serve();
    expect(s.server.stats()).toEqual({ active: 0, accepted: 0, refused: 0, protocolErrors: 0 });

    expect(await probeUpgrade(s.url({ creds: false }))).toBe(401);

    const bad = await stream({ url: s.url(), autoStart: false });
    bad.sendRaw('not json');
    await bad.ended;

    const refused = await stream({ url: s.url() });
    await refused.ended;

    const idle = await stream({ url: s.url(), autoStart: false });
    expect(s.server.stats().active).toBe(1);
    const gone = s.nextRefusal();
    await idle.close();
    await gone;

    expect(s.server.stats()).toEqual({ active: 0, accepted: 0, refused: 4, protocolErrors: 1 });
    expect(s.refusals.map((r) => r.status)).toEqual([401, 1008, 1013, 1000]);
    expect(s.calls).toBe(0);
  });
});

describe('AgentStreamServer: close', () => {
  it('closes every open socket with 1001; a second close() is a no-op', async () => {
    const s = await serve({ onStream: () => new Promise<StreamDecision>(() => undefined) });
    const waiting = await stream({ url: s.url(), autoStart: false });
    const deciding = await stream({ url: s.url() });
    await new Promise<void>((resolve) => {
      const check = (): void => (s.offered.length > 0 ? resolve() : void setImmediate(check));
      check();
    });
    expect(s.server.stats().active).toBe(2);

    const first = s.server.close();
    const second = s.server.close();
    expect(second).toBe(first);
    await first;
    expect(await waiting.ended).toEqual({ code: 1001, reason: 'server closing' });
    expect(await deciding.ended).toEqual({ code: 1001, reason: 'server closing' });
    expect(s.server.status).toBe('closed');
    expect(s.server.stats().active).toBe(0);
    await s.server.close();
    expect(s.clock.pending).toBe(0);

    await expect(s.server.listen()).rejects.toBeInstanceOf(ClosedError);
    await expect(probeUpgrade(s.url())).rejects.toBeInstanceOf(StreamProtocolError); // nothing listens
  });

  it('close({ drain: true }) with no calls resolves without waiting for the drain timer', async () => {
    const s = await serve();
    const c = await stream({ url: s.url(), autoStart: false });
    await s.server.close({ drain: true, drainTimeoutMs: 60_000 }); // the fake clock never moves
    expect(await c.ended).toEqual({ code: 1001, reason: 'server closing' });
    expect(s.server.status).toBe('closed');
    expect(s.clock.pending).toBe(0);
  });

  it('aborting the signal closes the server', async () => {
    const ac = new AbortController();
    const s = await serve({ signal: ac.signal });
    const c = await stream({ url: s.url(), autoStart: false });
    ac.abort();
    expect(await c.ended).toEqual({ code: 1001, reason: 'server closing' });
    await s.server.close();
    expect(s.server.status).toBe('closed');
  });

  it('listen() again after it resolved reports the same port', async () => {
    const s = await serve();
    expect(await s.server.listen()).toEqual({ port: s.port });
  });

  // listen() sets `own` before the server is listening; a second call meanwhile resolves
  // with server.address() = null, i.e. port 0 (and so does a retry after a failed listen).
  it('two listen() calls at once both report the listening port', async () => {
    const server = createAgentStreamServer(options({ clock: new FakeTimerClock() }));
    cleanups.push(() => server.close());
    const [a, b] = await Promise.all([server.listen(), server.listen()]);
    expect(a.port).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });
});

describe('createAgentStreamServer: ConfigError', () => {
  function issuesOf(o: Partial<AgentStreamServerOptions>): readonly string[] {
    let thrown: unknown;
    try {
      createAgentStreamServer(options(o));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    return (thrown as ConfigError).issues;
  }

  it('without auth or allowFrom: an endpoint anybody could stream into', () => {
    expect(issuesOf({ auth: undefined })).toEqual([
      'give auth (Basic credentials) or allowFrom: the endpoint must authenticate Exotel',
    ]);
    expect(issuesOf({ auth: undefined, allowFrom: [] })).toHaveLength(1);
  });

  it.each(['exotel/agentstream', '', 'ws://host/x', '/a b', '/a?b=1', '/a#b', '/a%20b', '/ä'])(
    'a path that is not an absolute URL path: %j',
    (path) => {
      expect(issuesOf({ path })).toEqual([`path must be an absolute URL path (got ${JSON.stringify(path)})`]);
    },
  );

  it.each([0, 1023, 16 * 1024 * 1024 + 1, 1500.5, Number.NaN, -1])(
    'maxMessageBytes %d',
    (maxMessageBytes) => {
      expect(issuesOf({ maxMessageBytes })).toEqual([
        'maxMessageBytes must be an integer from 1024 to 16 MiB',
      ]);
    },
  );

  it('maxMessageBytes of 1024 and of 16 MiB are fine, and so is a custom path', async () => {
    for (const maxMessageBytes of [1024, 16 * 1024 * 1024]) {
      const server = createAgentStreamServer(
        options({ maxMessageBytes, path: '/voice/exotel-1.stream_v2~x' }),
      );
      expect(server.path).toBe('/voice/exotel-1.stream_v2~x');
      await server.close();
    }
  });

  it('every problem at once', () => {
    expect(issuesOf({ auth: undefined, path: 'x', maxMessageBytes: 1 })).toEqual([
      'give auth (Basic credentials) or allowFrom: the endpoint must authenticate Exotel',
      'path must be an absolute URL path (got "x")',
      'maxMessageBytes must be an integer from 1024 to 16 MiB',
    ]);
  });

  it('a bad allowFrom entry or bad credentials', () => {
    expect(issuesOf({ allowFrom: ['nowhere'] })).toEqual([
      'allowFrom: "nowhere" is not an IP address or CIDR block',
    ]);
    expect(issuesOf({ auth: { username: 'a', password: '' } })).toEqual([
      'auth: username and password must not be empty',
    ]);
  });

  it('no LiveKit settings', () => {
    expect(issuesOf({ livekit: undefined, env: {} }).join('; ')).toMatch(/LIVEKIT_URL/);
  });

  // StreamAccess and resolveLiveKitSettings throw their own ConfigError before the other
  // checks run, so a second problem is only reported once the first is fixed.
  it('reports a bad allowFrom entry and a bad path together', () => {
    expect(issuesOf({ allowFrom: ['nowhere'], path: 'x' })).toEqual([
      'allowFrom: "nowhere" is not an IP address or CIDR block',
      'path must be an absolute URL path (got "x")',
    ]);
  });
});
