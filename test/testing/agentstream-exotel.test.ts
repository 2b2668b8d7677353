/**
 * AgentStreamExotel, the stand-in for Exotel's "connect Voice AI" HTTP API: its refusals
 * (401, 404, 405, 413, 415, 400), its success answer, and the AgentStream it then opens to
 * a plain `ws` server on loopback after the ring time (on a FakeTimerClock).
 */
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type VerifyClientCallbackAsync } from 'ws';

import { parseExotelEvent, type ExotelStreamEvent } from '../../src/agentstream/protocol.js';
import { ClosedError, StreamProtocolError } from '../../src/errors.js';
import { AgentStreamExotel, FakeTimerClock, type AgentStreamExotelOptions } from '../../src/testing/index.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface BotPeer {
  req: IncomingMessage;
  events: ExotelStreamEvent[];
  closedCode: number | undefined;
}

/** A bot's WebSocket server: records each connection's upgrade request and events. */
async function botServer(verifyClient?: VerifyClientCallbackAsync) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...(verifyClient ? { verifyClient } : {}) });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const peers: BotPeer[] = [];
  wss.on('connection', (ws, req) => {
    const peer: BotPeer = { req, events: [], closedCode: undefined };
    ws.on('message', (data) => peer.events.push(parseExotelEvent(String(data))));
    ws.on('close', (code) => (peer.closedCode = code));
    peers.push(peer);
  });
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  );
  return { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/bot`, peers };
}

async function exotel(o: AgentStreamExotelOptions = {}) {
  const clock = new FakeTimerClock();
  const ex = new AgentStreamExotel({ clock, ...o });
  const { baseUrl } = await ex.listen();
  cleanups.push(() => ex.close());
  return { ex, clock, baseUrl };
}

const AUTH = `Basic ${Buffer.from('sim-key:sim-token').toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

function params(streamUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    From: '+919876543210',
    CallerId: '08044319240',
    StreamUrl: streamUrl,
    StreamType: 'bidirectional',
    ...extra,
  };
}

async function connect(
  baseUrl: string,
  body: Record<string, string> | string,
  o: { path?: string; auth?: string | null; type?: string; method?: string } = {},
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { 'Content-Type': o.type ?? FORM };
  if (o.auth !== null) headers['Authorization'] = o.auth ?? AUTH;
  const res = await fetch(baseUrl + (o.path ?? '/v1/accounts/ACsimulator/calls/connect'), {
    method: o.method ?? 'POST',
    headers,
    ...(o.method === 'GET'
      ? {}
      : { body: typeof body === 'string' ? body : new URLSearchParams(body).toString() }),
  });
  return { status: res.status, json: await res.json() };
}

const rest = (status: number) => ({ RestException: { Status: status, Message: expect.any(String) } });

describe('AgentStreamExotel: refusals', () => {
  it('401 without or with wrong credentials', async () => {
    const { baseUrl, ex } = await exotel();
    const ok = params('ws://127.0.0.1:1/bot');
    const none = await connect(baseUrl, ok, { auth: null });
    expect(none).toEqual({
      status: 401,
      json: { RestException: { Status: 401, Message: 'Authentication failed' } },
    });
    const wrong = await connect(baseUrl, ok, {
      auth: `Basic ${Buffer.from('sim-key:nope').toString('base64')}`,
    });
    expect(wrong.status).toBe(401);
    expect(ex.requests).toHaveLength(0);
  });

  it('404 for an unknown path or another account; 405 for another method', async () => {
    const { baseUrl } = await exotel();
    const ok = params('ws://127.0.0.1:1/bot');
    expect(await connect(baseUrl, ok, { path: '/v1/accounts/ACsimulator/calls' })).toEqual({
      status: 404,
      json: rest(404),
    });
    expect(await connect(baseUrl, ok, { path: '/v1/accounts/ACother/calls/connect' })).toEqual({
      status: 404,
      json: rest(404),
    });
    expect(await connect(baseUrl, ok, { method: 'GET' })).toEqual({ status: 405, json: rest(405) });
  });

  it('413 for a body over 16 KiB, 415 for a body that is not form-encoded', async () => {
    const { baseUrl } = await exotel();
    const big = params('ws://127.0.0.1:1/bot', { CustomField: 'x'.repeat(17 * 1024) });
    expect(await connect(baseUrl, big)).toEqual({ status: 413, json: rest(413) });
    const json = JSON.stringify(params('ws://127.0.0.1:1/bot'));
    expect(await connect(baseUrl, json, { type: 'application/json' })).toEqual({
      status: 415,
      json: rest(415),
    });
  });

  it('400 naming the problem: a missing parameter, a bad stream url or type, a long customfield', async () => {
    const { baseUrl, ex, clock } = await exotel();
    const url = 'ws://127.0.0.1:1/bot';
    const cases: [Record<string, string>, RegExp][] = [
      [{ From: '', CallerId: '0804', StreamUrl: url, StreamType: 'bidirectional' }, /from/],
      [{ From: '1', StreamUrl: url, StreamType: 'bidirectional' }, /callerid/],
      [params(url, { StreamType: 'unidirectional' }), /streamtype/],
      [params('http://127.0.0.1:1/bot'), /streamurl/],
      [params(`ws://127.0.0.1:1/${'a'.repeat(600)}`), /streamurl/],
      [params(`${url}?sample-rate=44100`), /sample-rate/],
      [params(url, { CustomField: 'c'.repeat(129) }), /customfield/],
      [params(url, { TimeLimit: '0' }), /timelimit/],
      [params(url, { Record: 'yes' }), /record/],
    ];
    for (const [body, problem] of cases) {
      const r = await connect(baseUrl, body);
      expect(r.status).toBe(400);
      expect(r.json).toEqual(rest(400));
      expect((r.json as { RestException: { Message: string } }).RestException.Message).toMatch(problem);
    }
    expect(ex.requests).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });
});

describe('AgentStreamExotel: connecting a call', () => {
  it('answers 200 with the call, then after the ring time opens the stream with the URL parameters and from/to', async () => {
    const bot = await botServer();
    const { baseUrl, ex, clock } = await exotel({ play: { toneHz: 440 } });
    const streamUrl = `ws://u:p@${bot.url.slice('ws://'.length)}?sample-rate=16000&lead=42`;
    const r = await connect(
      baseUrl,
      params(streamUrl, { CustomField: 'order-7', Record: 'true', TimeLimit: '600' }),
    );
    expect(r.status).toBe(200);
    const call = (r.json as { Call: Record<string, string> }).Call;
    expect(call).toEqual({
      Sid: expect.stringMatching(/^CA[0-9a-f]{32}$/),
      Status: 'in-progress',
      From: '+919876543210',
      To: '08044319240',
      AccountSid: 'ACsimulator',
    });
    expect(ex.requests).toEqual([
      {
        callSid: call['Sid'],
        accountSid: 'ACsimulator',
        from: '+919876543210',
        callerId: '08044319240',
        streamUrl,
        streamType: 'bidirectional',
        record: true,
        timeLimit: 600,
        customField: 'order-7',
        statusCallback: undefined,
        streamName: undefined,
      },
    ]);
    expect(JSON.stringify(ex.requests)).not.toContain('sim-token');

    clock.advance(299);
    await new Promise((r) => setTimeout(r, 20));
    expect(bot.peers).toHaveLength(0);
    clock.advance(1);
    const stream = await ex.nextStream();
    expect(ex.streams).toEqual([stream]);
    expect(stream.callSid).toBe(call['Sid']);
    expect(stream.sampleRate).toBe(16000);
    await until(() => bot.peers[0]?.events.length === 2, 'connected and start');
    const peer = bot.peers[0]!;
    expect(peer.req.url).toBe('/bot?sample-rate=16000&lead=42');
    expect(peer.req.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    const start = peer.events.find((e) => e.event === 'start');
    expect(start?.event === 'start' && start.start).toMatchObject({
      callSid: call['Sid'],
      accountSid: 'ACsimulator',
      from: '+919876543210',
      to: '08044319240',
      customParameters: { lead: '42' },
      sampleRate: 16000,
    });

    await ex.close();
    await ex.close();
    await until(() => peer.closedCode !== undefined);
    expect(stream.state).toBe('closed');
    expect(clock.pending).toBe(0);
    await expect(ex.nextStream()).rejects.toBeInstanceOf(ClosedError);
  });

  it('failNext answers the next request with its status, once', async () => {
    const bot = await botServer();
    const { baseUrl, ex, clock } = await exotel();
    ex.failNext(503, 'Service temporarily unavailable');
    const failed = await connect(baseUrl, params(bot.url));
    expect(failed).toEqual({
      status: 503,
      json: { RestException: { Status: 503, Message: 'Service temporarily unavailable' } },
    });
    expect(clock.pending).toBe(0);
    expect((await connect(baseUrl, params(bot.url))).status).toBe(200);
    expect(ex.requests).toHaveLength(1);
  });

  it('noAnswer: requests succeed but no stream is opened', async () => {
    const bot = await botServer();
    const { baseUrl, ex, clock } = await exotel();
    ex.noAnswer();
    expect((await connect(baseUrl, params(bot.url))).status).toBe(200);
    expect(ex.requests).toHaveLength(1);
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(ex.streams).toHaveLength(0);
    expect(bot.peers).toHaveLength(0);
  });

  it('nextStream rejects when the bot refuses the upgrade; a stream opened earlier is handed out later', async () => {
    const refusing = await botServer((_info, cb) => cb(false, 403));
    const bot = await botServer();
    const { baseUrl, ex, clock } = await exotel({ answerAfterMs: 0 });
    const failed = ex.nextStream();
    await connect(baseUrl, params(refusing.url));
    clock.advance(0);
    const err = await failed.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamProtocolError);
    expect((err as Error).message).toBe('upgrade refused: HTTP 403');

    await connect(baseUrl, params(bot.url));
    clock.advance(0);
    await until(() => ex.streams.length === 1, 'the stream');
    const s = await ex.nextStream();
    expect(s).toBe(ex.streams[0]);
  });
});
