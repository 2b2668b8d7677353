/**
 * The connect Voice AI call API client against a real HTTP server on loopback: the exact
 * request, the answers Exotel may give, timeouts on a fake clock, cancellation, validation
 * before anything is sent, and credentials that never leak.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectStreamCall,
  EXOTEL_API_BASE_URLS,
  type ConnectStreamRequest,
  type ExotelApiSettings,
} from '../../src/agentstream/connect-api.js';
import { AbortedError, ConfigError, ExotelApiError } from '../../src/errors.js';
import { createMemoryLogger, type LogRecord } from '../../src/logger.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';

const KEY = 'key-4f1c9e';
const TOKEN = 'tok-SECRET-77a0d3b2';
const BASIC = `Basic ${Buffer.from(`${KEY}:${TOKEN}`).toString('base64')}`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  req: IncomingMessage;
  res: ServerResponse;
  /** Resolves when the client's socket closes. */
  closed: Promise<void>;
}

type Handler = (seen: Seen) => void;

const servers: Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** A server on 127.0.0.1:0; `arrived` resolves with each request once its body is read. */
async function serve(
  handler: Handler,
): Promise<{ base: string; seen: Seen[]; arrived: () => Promise<Seen> }> {
  const seen: Seen[] = [];
  const waiting: ((s: Seen) => void)[] = [];
  const server = createServer((req, res) => {
    const closed = new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        req,
        res,
        closed,
      };
      seen.push(s);
      waiting.shift()?.(s);
      handler(s);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const arrived = (): Promise<Seen> =>
    seen.length > waiting.length
      ? Promise.resolve(seen[seen.length - 1] as Seen)
      : new Promise((resolve) => waiting.push(resolve));
  return { base: `http://127.0.0.1:${port}`, seen, arrived };
}

function json(status: number, body: unknown): Handler {
  return ({ res }) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

function text(status: number, body: string, type = 'text/plain'): Handler {
  return ({ res }) => {
    res.writeHead(status, { 'Content-Type': type });
    res.end(body);
  };
}

function api(base: string, more: Partial<ExotelApiSettings> = {}): ExotelApiSettings {
  return { accountSid: 'acme1', apiKey: KEY, apiToken: TOKEN, baseUrl: base, ...more };
}

const REQ: ConnectStreamRequest = {
  to: '098765 43210',
  callerId: '080 4431 9240',
  streamUrl: 'wss://bot.example.com/stream?agent=7',
};

/** Awaits the promise and returns what it rejected with (fails if it resolved). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => expect.fail(`expected a rejection, got ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
}

describe('connectStreamCall: the request', () => {
  it('POSTs every parameter, form-encoded, with Basic auth to the account path', async () => {
    const srv = await serve(json(200, { Call: { Sid: 'c0ffee01', Status: 'in-progress' } }));
    const clock = new FakeTimerClock();
    const result = await connectStreamCall(
      api(`${srv.base}/`),
      {
        ...REQ,
        record: true,
        recordingChannels: 'dual',
        timeLimitSec: 600,
        customField: 'order=42&x=y',
        statusCallback: 'https://hooks.example.com/exotel',
        statusCallbackEvents: ['ringing', 'answered', 'terminal'],
        streamName: 'sales-bot',
      },
      { clock },
    );
    expect(result).toEqual({ callSid: 'c0ffee01', status: 'in-progress' });
    expect(clock.pending).toBe(0); // the timeout timer was cleared

    expect(srv.seen).toHaveLength(1);
    const s = srv.seen[0] as Seen;
    expect(s.method).toBe('POST');
    expect(s.url).toBe('/v1/accounts/acme1/calls/connect');
    expect(s.headers.authorization).toBe(BASIC);
    expect(s.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(s.headers.accept).toBe('application/json');
    const form = new URLSearchParams(s.body);
    expect([...form.keys()]).toEqual([
      'from',
      'callerid',
      'streamurl',
      'streamtype',
      'record',
      'recordingchannels',
      'timelimit',
      'customfield',
      'streamname',
      'statuscallback',
      'statuscallbackevents[]',
      'statuscallbackevents[]',
      'statuscallbackevents[]',
    ]);
    expect(form.get('from')).toBe('+919876543210'); // E.164
    expect(form.get('callerid')).toBe('08044319240'); // the Exophone as written
    expect(form.get('streamurl')).toBe('wss://bot.example.com/stream?agent=7');
    expect(form.get('streamtype')).toBe('bidirectional');
    expect(form.get('record')).toBe('true');
    expect(form.get('recordingchannels')).toBe('dual');
    expect(form.get('timelimit')).toBe('600');
    expect(form.get('customfield')).toBe('order=42&x=y'); // encoded, not split into fields
    expect(form.has('x')).toBe(false);
    expect(form.get('statuscallback')).toBe('https://hooks.example.com/exotel');
    expect(form.getAll('statuscallbackevents[]')).toEqual(['ringing', 'answered', 'terminal']);
    expect(form.get('streamname')).toBe('sales-bot');
  });

  it('sends only the required parameters when nothing optional is given', async () => {
    const srv = await serve(json(200, { Call: { Sid: 'c1' } }));
    await connectStreamCall(api(srv.base), { ...REQ, record: false });
    const form = new URLSearchParams((srv.seen[0] as Seen).body);
    expect([...form.keys()]).toEqual(['from', 'callerid', 'streamurl', 'streamtype']);
  });

  it('defaults to the Mumbai endpoint', () => {
    expect(EXOTEL_API_BASE_URLS).toEqual({
      mumbai: 'https://api.in.exotel.com',
      singapore: 'https://api.exotel.com',
    });
  });
});

describe('connectStreamCall: the answer', () => {
  it.each([
    ['Call.Sid', { Call: { Sid: 'sid-a', Status: 'queued' } }, 'sid-a', 'queued'],
    ['call.sid', { call: { sid: 'sid-b', status: 'ringing' } }, 'sid-b', 'ringing'],
    ['call_sid', { call_sid: 'sid-c', status: 'queued' }, 'sid-c', 'queued'],
    ['sid', { sid: 'sid-d' }, 'sid-d', undefined],
    ['CallSid', { CallSid: 'sid-e' }, 'sid-e', undefined],
  ])('takes the call sid from %s', async (_shape, body, sid, status) => {
    const srv = await serve(json(200, body));
    const logger = createMemoryLogger();
    const result = await connectStreamCall(api(srv.base), REQ, { logger });
    expect(result).toEqual({ callSid: sid, status });
    const info = logger.records.filter((r) => r.level === 'info');
    expect(info.map((r) => r.msg)).toEqual([`[BRIDGE] Exotel connect API placed call ${sid}`]);
  });

  it.each([
    ['no sid', json(200, { Call: { Status: 'queued' } })],
    ['an empty sid', json(201, { Call: { Sid: '' } })],
    ['a sid with a line break', json(200, { sid: 'a\r\nb' })],
    ['a body that is not JSON', text(200, 'OK')],
  ])('a 2xx answer with %s is an ExotelApiError', async (_what, handler) => {
    const srv = await serve(handler);
    const err = await rejection(connectStreamCall(api(srv.base), REQ));
    expect(err).toBeInstanceOf(ExotelApiError);
    expect((err as ExotelApiError).message).toBe('no call sid in the answer');
    expect((err as ExotelApiError).status).toBeGreaterThanOrEqual(200);
  });

  it.each([
    [400, { RestException: { Status: 400, Message: 'Invalid From number' } }, 'Invalid From number'],
    [
      401,
      { RestException: { Status: 401, Message: 'Authentication is required' } },
      'Authentication is required',
    ],
    [500, { message: 'Internal error, try later' }, 'Internal error, try later'],
  ])('a %i answer is an ExotelApiError quoting Exotel', async (status, body, quoted) => {
    const srv = await serve(json(status, body));
    const logger = createMemoryLogger();
    const err = await rejection(connectStreamCall(api(srv.base), REQ, { logger }));
    expect(err).toBeInstanceOf(ExotelApiError);
    expect((err as ExotelApiError).status).toBe(status);
    expect((err as ExotelApiError).message).toBe(`Exotel connect API refused the call: ${status} ${quoted}`);
    expect(logger.records.map((r) => [r.level, r.obj])).toEqual([['warn', { status }]]);
  });

  it('quotes an HTML error page as one line of text', async () => {
    const page =
      '<html><head><style>p{}</style><title>502 Bad Gateway</title></head>\r\n<body><h1>Bad\ngateway</h1></body></html>';
    const srv = await serve(text(502, page, 'text/html'));
    const err = await rejection(connectStreamCall(api(srv.base), REQ));
    expect((err as ExotelApiError).status).toBe(502);
    expect((err as ExotelApiError).message).toBe(
      'Exotel connect API refused the call: 502 502 Bad Gateway Bad gateway',
    );
  });

  it('quotes a text error body, cut to 200 characters, control characters removed', async () => {
    const srv = await serve(text(503, `down\r\nX-Injected: 1 ${'z'.repeat(500)}`));
    const err = (await rejection(connectStreamCall(api(srv.base), REQ))) as ExotelApiError;
    const quoted = err.message.slice('Exotel connect API refused the call: 503 '.length);
    expect(quoted.startsWith('down X-Injected: 1 zzz')).toBe(true);
    expect(quoted.length).toBe(200);
    expect(err.message).not.toMatch(/[\r\n]/);
  });

  it('reads at most 64 KiB of the answer', async () => {
    const srv = await serve(({ res }) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`{"pad":"${'x'.repeat(1 << 20)}","sid":"late"}`);
    });
    const err = await rejection(connectStreamCall(api(srv.base), REQ));
    expect((err as ExotelApiError).message).toBe('no call sid in the answer');
  });

  it('does not follow a redirect with the credentials', async () => {
    const srv = await serve((s) => {
      if (s.url.startsWith('/elsewhere')) return json(200, { sid: 'followed' })(s);
      s.res.writeHead(307, { Location: '/elsewhere' });
      s.res.end();
    });
    const err = await rejection(connectStreamCall(api(srv.base), REQ));
    expect((err as ExotelApiError).status).toBe(307);
    expect(srv.seen).toHaveLength(1);
  });
});

describe('connectStreamCall: no answer', () => {
  it('times out on the clock: ExotelApiError status 0, and the request is aborted', async () => {
    const srv = await serve(() => {}); // never answers
    const clock = new FakeTimerClock();
    const outcome = rejection(connectStreamCall(api(srv.base, { timeoutMs: 5000 }), REQ, { clock }));
    const s = await srv.arrived();
    clock.advance(4999);
    expect(s.res.writableEnded).toBe(false);
    clock.advance(1);
    const err = await outcome;
    expect(err).toBeInstanceOf(ExotelApiError);
    expect((err as ExotelApiError).status).toBe(0);
    expect((err as ExotelApiError).message).toBe('Exotel connect API did not answer within 5000 ms');
    await s.closed; // the client dropped the connection
    expect(clock.pending).toBe(0);
  });

  it('a network failure is ExotelApiError status 0 with the cause', async () => {
    const srv = await serve(() => {});
    const closed = servers.pop() as Server;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const clock = new FakeTimerClock();
    const err = await rejection(connectStreamCall(api(srv.base), REQ, { clock }));
    expect(err).toBeInstanceOf(ExotelApiError);
    expect((err as ExotelApiError).status).toBe(0);
    expect((err as ExotelApiError).message).toBe('Exotel connect API could not be reached');
    expect((err as ExotelApiError).cause).toBeDefined();
    expect(clock.pending).toBe(0);
  });

  it('the caller aborts through the signal: AbortedError, and the request is aborted', async () => {
    const srv = await serve(() => {});
    const ac = new AbortController();
    const clock = new FakeTimerClock();
    const outcome = rejection(connectStreamCall(api(srv.base), REQ, { signal: ac.signal, clock }));
    const s = await srv.arrived();
    ac.abort();
    expect(await outcome).toBeInstanceOf(AbortedError);
    await s.closed;
    expect(clock.pending).toBe(0);
  });

  it('an already-aborted signal sends nothing', async () => {
    const srv = await serve(json(200, { sid: 'x' }));
    const err = await rejection(connectStreamCall(api(srv.base), REQ, { signal: AbortSignal.abort() }));
    expect(err).toBeInstanceOf(AbortedError);
    expect(srv.seen).toHaveLength(0);
  });
});

describe('connectStreamCall: validation', () => {
  it('lists every problem at once and sends nothing', async () => {
    const srv = await serve(json(200, { sid: 'x' }));
    const err = await rejection(
      connectStreamCall(
        {
          accountSid: 'acme/../x',
          apiKey: '',
          apiToken: TOKEN,
          baseUrl: 'ftp://api.example.com',
          timeoutMs: -1,
        },
        {
          to: 'sip:123@example.com',
          callerId: 'abc',
          streamUrl: `https://bot.example.com/${'a'.repeat(600)}`,
          timeLimitSec: 14401,
          customField: 'c'.repeat(129),
          streamName: 's'.repeat(33),
          recordingChannels: 'quad' as 'dual',
          statusCallbackEvents: ['answered'],
        },
      ),
    );
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues;
    for (const expected of [
      /^api\.accountSid /,
      /^api\.apiKey must be a non-empty string/,
      /^api\.baseUrl must be an absolute https:\/\/ or http:\/\/ URL/,
      /^api\.timeoutMs /,
      /^to: .*not a URI/,
      /^callerId: /,
      /^streamUrl is longer than 600/,
      /^timeLimitSec /,
      /^customField is longer than 128/,
      /^streamName is longer than 32/,
      /^recordingChannels /,
      /^statusCallbackEvents needs statusCallback/,
    ]) {
      expect(
        issues.some((i) => expected.test(i)),
        `${String(expected)} in ${JSON.stringify(issues)}`,
      ).toBe(true);
    }
    expect(srv.seen).toHaveLength(0);
  });

  it.each([
    [
      'a http(s) stream URL',
      { streamUrl: 'https://bot.example.com/ws' },
      /^streamUrl must be an absolute wss:\/\/ or ws:\/\//,
    ],
    ['a time limit that is not an integer', { timeLimitSec: 1.5 }, /^timeLimitSec /],
    ['a time limit of 0', { timeLimitSec: 0 }, /^timeLimitSec /],
    [
      'an unknown callback event',
      { statusCallback: 'https://h.example.com', statusCallbackEvents: ['busy'] },
      /^statusCallbackEvents must/,
    ],
    ['a callback that is not http(s)', { statusCallback: 'javascript:alert(1)' }, /^statusCallback must/],
  ])('refuses %s', async (_what, more, issue) => {
    const srv = await serve(json(200, { sid: 'x' }));
    const err = await rejection(
      connectStreamCall(api(srv.base), { ...REQ, ...more } as ConnectStreamRequest),
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(
      (err as ConfigError).issues.some((i) => issue.test(i)),
      JSON.stringify((err as ConfigError).issues),
    ).toBe(true);
    expect(srv.seen).toHaveLength(0);
  });

  it.each([
    ['customField', { customField: 'a\r\nX-Evil: 1' }],
    ['streamName', { streamName: 'bot\nx' }],
    ['streamUrl', { streamUrl: 'wss://bot.example.com/\r\nHost: evil' }],
    ['streamUrl (a tab the URL parser would drop)', { streamUrl: 'wss://bot.exa\tmple.com/' }],
    ['statusCallback', { statusCallback: 'https://h.example.com/\r\nx' }],
    ['customField (NUL)', { customField: 'a\u0000b' }],
  ])('refuses a control character in %s', async (_what, more) => {
    const srv = await serve(json(200, { sid: 'x' }));
    const err = await rejection(connectStreamCall(api(srv.base), { ...REQ, ...more }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(srv.seen).toHaveLength(0);
  });

  it('refuses CR/LF or ":" in the credentials without quoting them', async () => {
    const srv = await serve(json(200, { sid: 'x' }));
    const settings = api(srv.base, { apiKey: `${KEY}:x`, apiToken: `${TOKEN}\r\nX-Evil: 1` });
    const err = await rejection(connectStreamCall(settings, REQ));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      'api.apiKey must not contain ":"',
      'api.apiToken contains a control character',
    ]);
    expect((err as ConfigError).message).not.toContain(KEY);
    expect((err as ConfigError).message).not.toContain(TOKEN);
    expect(srv.seen).toHaveLength(0);
  });

  it('refuses credentials in the base URL', async () => {
    const err = await rejection(connectStreamCall(api('https://u:p@api.in.exotel.com'), REQ));
    expect((err as ConfigError).issues).toEqual(['api.baseUrl must not contain credentials']);
  });
});

describe('connectStreamCall: secrets', () => {
  it('never puts the key or token in an error message, a cause or a log record', async () => {
    const records: LogRecord[] = [];
    const logger = createMemoryLogger(records);
    const errors: unknown[] = [];
    const withUserinfo = { ...REQ, streamUrl: 'wss://bot:hunter2@bot.example.com/s?token=abc' };

    const echo = await serve(
      json(401, { RestException: { Status: 401, Message: `Bad key ${KEY} / token ${TOKEN} (${BASIC})` } }),
    );
    errors.push(await rejection(connectStreamCall(api(echo.base), withUserinfo, { logger })));
    const html = await serve(text(403, `<p>denied for ${TOKEN}</p>`, 'text/html'));
    errors.push(await rejection(connectStreamCall(api(html.base), withUserinfo, { logger })));
    errors.push(await rejection(connectStreamCall(api('http://127.0.0.1:1'), withUserinfo, { logger })));
    const silent = await serve(() => {});
    const clock = new FakeTimerClock();
    const timing = rejection(connectStreamCall(api(silent.base), withUserinfo, { logger, clock }));
    await silent.arrived();
    clock.advance(10_000);
    errors.push(await timing);
    errors.push(
      await rejection(connectStreamCall(api(echo.base, { apiToken: `${TOKEN}\n` }), REQ, { logger })),
    );
    const ok = await serve(json(200, { sid: 'good1' }));
    await connectStreamCall(api(ok.base), withUserinfo, { logger });

    expect((errors[0] as ExotelApiError).message).toBe(
      'Exotel connect API refused the call: 401 Bad key *** / token *** (Basic ***)',
    );
    const texts = errors.flatMap((e) => [String(e), (e as Error).message, String((e as Error).cause ?? '')]);
    const logged = JSON.stringify(records);
    for (const secret of [KEY, TOKEN, BASIC.slice(6), 'hunter2']) {
      for (const t of texts) expect(t).not.toContain(secret);
      expect(logged).not.toContain(secret);
    }
    expect(records.find((r) => r.level === 'info')?.obj?.streamUrl).toBe('wss://***@bot.example.com/s?***');
    expect(records.every((r) => r.msg.startsWith('[BRIDGE] '))).toBe(true);
  });
});
