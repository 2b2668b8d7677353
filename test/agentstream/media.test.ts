/**
 * One AgentStream connection's protocol (`AgentStreamMedia`) over a real loopback WebSocket
 * pair, every timer on a FakeTimerClock: the start timeout, malformed messages (at once
 * before `start`, counted after it), the rate limit, caller audio cut into 20 ms frames on
 * 20 ms deadlines, dtmf, agent audio out in Exotel-sized chunks with marks and their echoes,
 * `clear` (by the host and the automatic barge-in), ping and media liveness, and every way a
 * stream ends: exactly once, with no timer left behind. Assertions are on order, counts and
 * fake-clock times; the test's own waits are for events, never for wall-clock time.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import {
  AgentStreamMedia,
  type AgentStreamEnd,
  type AgentStreamLimits,
  type StreamInterruption,
} from '../../src/agentstream/media.js';
import {
  ExotelEventWriter,
  clearMessage,
  markMessage,
  parseBotEvent,
  type BotStreamEvent,
  type StreamSampleRate,
} from '../../src/agentstream/protocol.js';
import { StreamProtocolError } from '../../src/errors.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';

const STREAM_SID = 'MZ1';

/** What the stream reported, in order (`at` is the fake time). */
type Seen =
  | { e: 'start'; at: number; sampleRate: number }
  | { e: 'audio'; at: number; samples: number[] }
  | { e: 'firstMedia'; at: number }
  | { e: 'dtmf'; at: number; digit: string; durationMs: number }
  | { e: 'playback'; at: number; mark: string; heardMs: number; pendingMs: number }
  | { e: 'interrupted'; at: number; info: StreamInterruption }
  | { e: 'protocolError'; at: number; error: StreamProtocolError }
  | { e: 'ended'; at: number; info: AgentStreamEnd };

/** Items that arrive over time; waits are for items, not for time. */
class Feed<T> {
  readonly items: T[] = [];
  private waiters: { pred: (x: T) => boolean; resolve: (x: T) => void }[] = [];

  push(x: T): void {
    this.items.push(x);
    for (const w of [...this.waiters]) {
      if (!w.pred(x)) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(x);
    }
  }

  /** The first item, already here or still to come, for which `pred` holds. */
  until(pred: (x: T) => boolean): Promise<T> {
    const found = this.items.find(pred);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  /** Resolves once `n` items have arrived. */
  async count(n: number): Promise<void> {
    if (this.items.length >= n) return;
    await this.until(() => this.items.length >= n);
  }
}

interface Received {
  text: string;
  ev: BotStreamEvent;
}

interface Pair {
  clock: FakeTimerClock;
  media: AgentStreamMedia;
  /** The server's end of the socket (the one `media` drives). */
  server: WebSocket;
  /** Exotel's end: a raw `ws` client. */
  client: WebSocket;
  writer: ExotelEventWriter;
  seen: Feed<Seen>;
  received: Feed<Received>;
  clientClosed: Promise<{ code: number; reason: string }>;
  serverClosed: Promise<void>;
  send(text: string | Buffer): void;
  /** Sends a dtmf and waits until it is reported: every message sent before it was handled. */
  sync(): Promise<void>;
  of<E extends Seen['e']>(e: E): Extract<Seen, { e: E }>[];
}

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function text(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** A WebSocket pair on loopback; the server's end is driven by an AgentStreamMedia on a fake clock. */
async function open(limits: AgentStreamLimits = {}): Promise<Pair> {
  const clock = new FakeTimerClock();
  const seen = new Feed<Seen>();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  const made = new Promise<{ media: AgentStreamMedia; server: WebSocket; serverClosed: Promise<void> }>(
    (resolve) => {
      wss.once('connection', (ws, req) => {
        const serverClosed = new Promise<void>((r) => ws.once('close', () => r()));
        const media = new AgentStreamMedia(ws, {
          remote: { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 },
          clock,
          limits,
        });
        const at = (): number => clock.now();
        media.on('start', (s) => seen.push({ e: 'start', at: at(), sampleRate: s.sampleRate }));
        media.on('audio', (s) => seen.push({ e: 'audio', at: at(), samples: Array.from(s) }));
        media.on('firstMedia', () => seen.push({ e: 'firstMedia', at: at() }));
        media.on('dtmf', (d) => seen.push({ e: 'dtmf', at: at(), ...d }));
        media.on('playback', (p) => seen.push({ e: 'playback', at: at(), ...p }));
        media.on('interrupted', (info) => seen.push({ e: 'interrupted', at: at(), info }));
        media.on('protocolError', (error) => seen.push({ e: 'protocolError', at: at(), error }));
        media.on('ended', (info) => seen.push({ e: 'ended', at: at(), info }));
        resolve({ media, server: ws, serverClosed });
      });
    },
  );
  const { port } = wss.address() as AddressInfo;
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  const received = new Feed<Received>();
  client.on('message', (data) => {
    const t = text(data);
    received.push({ text: t, ev: parseBotEvent(t) });
  });
  client.on('error', () => undefined); // a terminated peer; the close code says what happened
  const clientClosed = new Promise<{ code: number; reason: string }>((resolve) =>
    client.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
  );
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  const { media, server, serverClosed } = await made;
  cleanups.push(async () => {
    client.terminate();
    server.terminate();
    await Promise.all([clientClosed, serverClosed]);
  });
  let syncs = 0;
  const pair: Pair = {
    clock,
    media,
    server,
    client,
    writer: new ExotelEventWriter(STREAM_SID),
    seen,
    received,
    clientClosed,
    serverClosed,
    send: (m) => client.send(m),
    async sync() {
      const durationMs = 60_000 + ++syncs;
      client.send(pair.writer.dtmf('0', durationMs));
      await seen.until((x) => x.e === 'dtmf' && x.durationMs === durationMs);
    },
    of: <E extends Seen['e']>(e: E) => seen.items.filter((x): x is Extract<Seen, { e: E }> => x.e === e),
  };
  return pair;
}

/** A pair whose stream has started (connected, then start) at `sampleRate`. */
async function started(sampleRate: StreamSampleRate = 16000, limits: AgentStreamLimits = {}): Promise<Pair> {
  const p = await open(limits);
  p.send(p.writer.connected());
  p.send(
    p.writer.start({
      callSid: 'CA1',
      accountSid: 'AC1',
      from: '+919876543210',
      to: '08044319240',
      customParameters: {},
      sampleRate,
    }),
  );
  await p.seen.until((x) => x.e === 'start');
  return p;
}

/** Once the server's socket has closed: the stream ended exactly once and holds no timer. */
async function endedCleanly(p: Pair): Promise<AgentStreamEnd> {
  await p.serverClosed;
  const ended = p.of('ended');
  expect(ended).toHaveLength(1);
  expect(p.clock.pending).toBe(0);
  return ended[0]!.info;
}

/** `n` samples counting up from `from`. */
const ramp = (from: number, n: number): Int16Array => Int16Array.from({ length: n }, (_, i) => from + i);
const rampArray = (from: number, n: number): number[] => Array.from(ramp(from, n));
/** `n` samples of ±`amplitude` (speech to the barge-in detector). */
const loud = (n: number, amplitude = 4000): Int16Array =>
  Int16Array.from({ length: n }, (_, i) => (i % 2 === 0 ? amplitude : -amplitude));

describe('AgentStreamMedia: before start', () => {
  it('no start within startTimeoutMs ends the stream: timeout, 1011', async () => {
    const p = await open({ startTimeoutMs: 500 });
    p.clock.advance(499);
    expect(p.media.ended).toBe(false);
    p.clock.advance(1);
    expect(p.media.ended).toBe(true);
    const end = p.of('ended')[0]!.info;
    expect(end).toMatchObject({ how: 'error', code: 1011 });
    expect(end.error).toBeInstanceOf(StreamProtocolError);
    expect(end.error?.reason).toBe('timeout');
    expect(await p.clientClosed).toEqual({ code: 1011, reason: 'timeout' });
    await endedCleanly(p);
  });

  it('start in time cancels the start timer', async () => {
    const p = await started(16000, { startTimeoutMs: 500 });
    p.clock.advance(5000);
    expect(p.media.ended).toBe(false);
    expect(p.media.start).toMatchObject({ streamSid: STREAM_SID, callSid: 'CA1', sampleRate: 16000 });
    expect(p.media.sampleRate).toBe(16000);
  });

  it('connected and unknown events before start are fine', async () => {
    const p = await open();
    p.send(p.writer.connected());
    p.send('{"event":"heartbeat"}');
    p.send(
      p.writer.start({
        callSid: 'CA1',
        accountSid: '',
        from: '',
        to: '',
        customParameters: {},
        sampleRate: 8000,
      }),
    );
    await p.seen.until((x) => x.e === 'start');
    expect(p.media.stats()).toMatchObject({
      messagesReceived: 3,
      unknownEvents: 1,
      malformed: 0,
      sampleRate: 8000,
    });
  });

  it.each([
    ['JSON that does not parse', '{oops', 'malformed-json'],
    ['an event without its fields', '{"event":"dtmf"}', 'bad-event'],
    ['media before start', '{"event":"media","media":{"payload":""}}', 'unexpected'],
    ['a mark before start', '{"event":"mark","mark":{"name":"m1"}}', 'unexpected'],
    ['a binary frame', Buffer.from([1, 2, 3]), 'bad-event'],
  ])('%s before start closes the stream at once with 1008', async (_what, message, reason) => {
    const p = await open();
    p.send(message);
    expect(await p.clientClosed).toEqual({ code: 1008, reason });
    expect(p.seen.items.map((x) => x.e)).toEqual(['protocolError', 'ended']);
    expect(p.of('protocolError')[0]!.error.reason).toBe(reason);
    const end = await endedCleanly(p);
    expect(end).toMatchObject({ how: 'error', code: 1008 });
    expect(end.error?.reason).toBe(reason);
  });
});

describe('AgentStreamMedia: malformed messages and the rate limit', () => {
  it('after start, malformed messages are counted and the stream goes on until maxMalformed', async () => {
    const p = await started(16000, { maxMalformed: 3 });
    p.send('{oops');
    p.send('{"event":"media","media":{"payload":"AA=="}}'); // one byte: not whole samples
    await p.sync();
    expect(p.of('protocolError').map((x) => x.error.reason)).toEqual(['malformed-json', 'bad-payload']);
    expect(p.media.ended).toBe(false);
    expect(p.media.stats().malformed).toBe(2);

    p.send(
      p.writer.start({
        callSid: 'CA2',
        accountSid: '',
        from: '',
        to: '',
        customParameters: {},
        sampleRate: 8000,
      }),
    );
    expect(await p.clientClosed).toEqual({ code: 1008, reason: 'unexpected' });
    expect(p.of('protocolError').map((x) => x.error.reason)).toEqual([
      'malformed-json',
      'bad-payload',
      'unexpected',
    ]);
    const end = await endedCleanly(p);
    expect(end).toMatchObject({ how: 'error', code: 1008 });
    expect(end.error?.message).toBe('a second start');
    expect(p.media.stats().malformed).toBe(3);
    expect(p.media.start?.callSid).toBe('CA1');
  });

  it('a burst of twice the rate passes; the next message ends the stream: flood, 1008', async () => {
    const p = await started(16000, { maxMessagesPerSecond: 5 }); // burst 10: connected + start + 8
    for (let i = 1; i <= 8; i++) p.send(p.writer.dtmf('1', i));
    await p.seen.until((x) => x.e === 'dtmf' && x.durationMs === 8);
    expect(p.media.ended).toBe(false);

    p.send(p.writer.dtmf('1', 9));
    expect(await p.clientClosed).toEqual({ code: 1008, reason: 'flood' });
    const end = await endedCleanly(p);
    expect(end).toMatchObject({ how: 'error', code: 1008 });
    expect(end.error?.reason).toBe('flood');
    expect(p.of('dtmf').map((x) => x.durationMs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(p.media.stats()).toMatchObject({ messagesReceived: 11, rateLimited: 1 });
  });

  it('the bucket refills at the rate: after 1 s, 5 more pass and the 6th floods', async () => {
    const p = await started(16000, { maxMessagesPerSecond: 5 });
    for (let i = 1; i <= 8; i++) p.send(p.writer.dtmf('1', i));
    await p.seen.until((x) => x.e === 'dtmf' && x.durationMs === 8);
    p.clock.advance(1000);
    for (let i = 9; i <= 14; i++) p.send(p.writer.dtmf('1', i));
    expect(await p.clientClosed).toEqual({ code: 1008, reason: 'flood' });
    expect(p.of('dtmf').map((x) => x.durationMs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    await endedCleanly(p);
  });
});

describe('AgentStreamMedia: caller audio', () => {
  it('a 100 ms chunk at 16 kHz comes out as five 320-sample frames, one every 20 ms', async () => {
    const p = await started(16000);
    p.send(p.writer.media(ramp(1, 1600), 100));
    await p.seen.until((x) => x.e === 'audio');
    expect(p.of('audio')).toHaveLength(1);
    for (let k = 1; k < 5; k++) {
      p.clock.advance(19);
      expect(p.of('audio')).toHaveLength(k);
      p.clock.advance(1);
      expect(p.of('audio')).toHaveLength(k + 1);
    }
    p.clock.advance(200);
    const audio = p.of('audio');
    expect(audio.map((a) => a.at)).toEqual([0, 20, 40, 60, 80]);
    expect(audio.map((a) => a.samples)).toEqual([0, 1, 2, 3, 4].map((k) => rampArray(k * 320 + 1, 320)));
    expect(p.media.stats()).toMatchObject({ mediaReceived: 1, inboundFramesDropped: 0 });
  });

  it.each([
    [8000, 160],
    [24000, 480],
  ] as const)('at %i Hz a 100 ms chunk is five frames of %i samples', async (rate, frame) => {
    const p = await started(rate);
    p.send(p.writer.media(ramp(1, frame * 5), 100));
    await p.seen.until((x) => x.e === 'audio');
    p.clock.advance(80);
    expect(p.of('audio').map((a) => a.samples)).toEqual(
      [0, 1, 2, 3, 4].map((k) => rampArray(k * frame + 1, frame)),
    );
    expect(p.of('audio').map((a) => a.at)).toEqual([0, 20, 40, 60, 80]);
  });

  it('two chunks at once come out as ten frames on 20 ms deadlines, in order', async () => {
    const p = await started(16000);
    p.send(p.writer.media(ramp(1, 1600), 100));
    p.send(p.writer.media(ramp(1601, 1600), 200));
    await p.sync();
    p.clock.advance(180);
    const audio = p.of('audio');
    expect(audio.map((a) => a.at)).toEqual([0, 20, 40, 60, 80, 100, 120, 140, 160, 180]);
    expect(audio.map((a) => a.samples)).toEqual(
      Array.from({ length: 10 }, (_, k) => rampArray(k * 320 + 1, 320)),
    );
  });

  it('a chunk that is not whole frames is carried over into the next frame', async () => {
    const p = await started(16000);
    p.send(p.writer.media(ramp(1, 500), 0));
    await p.sync();
    expect(p.of('audio').map((a) => a.samples)).toEqual([rampArray(1, 320)]);
    p.clock.advance(100);
    p.send(p.writer.media(ramp(501, 140), 100));
    await p.seen.until((x) => x.e === 'audio' && x.samples[0] === 321);
    expect(p.of('audio').map((a) => [a.at, a.samples])).toEqual([
      [0, rampArray(1, 320)],
      [100, rampArray(321, 320)],
    ]);
  });

  it('firstMedia is reported once, with the first chunk', async () => {
    const p = await started(16000);
    expect(p.media.hasMedia).toBe(false);
    for (let i = 0; i < 3; i++) p.send(p.writer.media(new Int16Array(1600), i * 100));
    await p.sync();
    expect(p.of('firstMedia')).toHaveLength(1);
    expect(p.seen.items.findIndex((x) => x.e === 'firstMedia')).toBeLessThan(
      p.seen.items.findIndex((x) => x.e === 'audio'),
    );
    expect(p.media.hasMedia).toBe(true);
    expect(p.media.stats().mediaReceived).toBe(3);
  });

  it('dtmf is reported with its digit (a-d as A-D) and duration', async () => {
    const p = await started(16000);
    p.send(p.writer.dtmf('5', 120));
    p.send(p.writer.dtmf('#', 80));
    p.send(p.writer.dtmf('b', 100));
    await p.seen.until((x) => x.e === 'dtmf' && x.digit === 'B');
    expect(p.of('dtmf').map(({ digit, durationMs }) => ({ digit, durationMs }))).toEqual([
      { digit: '5', durationMs: 120 },
      { digit: '#', durationMs: 80 },
      { digit: 'B', durationMs: 100 },
    ]);
  });
});

describe('AgentStreamMedia: agent audio out', () => {
  /** Writes `frames` 20 ms frames at 16 kHz counting up from `from`. */
  function write(p: Pair, frames: number, from = 1): void {
    for (let k = 0; k < frames; k++) p.media.writeAudio(ramp(from + k * 320, 320));
  }

  it('is sent as 3200-byte media chunks, each followed by its mark m1, m2, … on 100 ms deadlines', async () => {
    const p = await started(16000);
    write(p, 10);
    expect(p.media.stats().chunksSent).toBe(0);
    p.clock.advance(79);
    expect(p.media.stats().chunksSent).toBe(0);
    p.clock.advance(1);
    expect(p.media.stats().chunksSent).toBe(1);
    p.clock.advance(99);
    expect(p.media.stats().chunksSent).toBe(1);
    p.clock.advance(1);
    expect(p.media.stats()).toMatchObject({ chunksSent: 2, sentMs: 200, heardMs: 0 });

    await p.received.count(4);
    const got = p.received.items;
    expect(got.map((r) => r.ev.event)).toEqual(['media', 'mark', 'media', 'mark']);
    for (const r of [got[0]!, got[2]!]) {
      const samples = (r.ev as { samples: Int16Array }).samples;
      expect(samples.length * 2).toBeGreaterThanOrEqual(3200);
      expect((samples.length * 2) % 320).toBe(0);
    }
    expect(Array.from((got[0]!.ev as { samples: Int16Array }).samples)).toEqual(rampArray(1, 1600));
    expect(Array.from((got[2]!.ev as { samples: Int16Array }).samples)).toEqual(rampArray(1601, 1600));
    expect([got[1]!.text, got[3]!.text]).toEqual([
      markMessage(STREAM_SID, 'm1'),
      markMessage(STREAM_SID, 'm2'),
    ]);
    expect(JSON.parse(got[0]!.text)).toMatchObject({ event: 'media', stream_sid: STREAM_SID });
  });

  it('at 8 kHz the chunks are 200 ms (3200 bytes)', async () => {
    const p = await started(8000);
    for (let k = 0; k < 10; k++) p.media.writeAudio(ramp(1 + k * 160, 160));
    p.clock.advance(180);
    expect(p.media.stats().chunksSent).toBe(1);
    await p.received.count(2);
    expect((p.received.items[0]!.ev as { samples: Int16Array }).samples).toHaveLength(1600);
    expect(p.received.items[1]!.ev).toEqual({ event: 'mark', name: 'm1' });
  });

  it('is ignored before start', async () => {
    const p = await open();
    const pending = p.clock.pending;
    p.media.writeAudio(ramp(1, 320));
    expect(p.clock.pending).toBe(pending);
    expect(p.media.stats().chunksSent).toBe(0);
    expect(p.media.clearAudio()).toBeUndefined();
  });

  it('mark echoes report what the caller heard; unknown and stale echoes are ignored', async () => {
    const p = await started(16000);
    write(p, 10);
    p.clock.advance(180);
    await p.received.count(4);
    p.send(p.writer.mark('m1'));
    await p.seen.until((x) => x.e === 'playback');
    p.send(p.writer.mark('zz'));
    p.send(p.writer.mark('m1'));
    p.send(p.writer.mark('m2'));
    await p.seen.until((x) => x.e === 'playback' && x.mark === 'm2');
    p.send(p.writer.mark('m2'));
    await p.sync();
    expect(p.of('playback').map(({ mark, heardMs, pendingMs }) => ({ mark, heardMs, pendingMs }))).toEqual([
      { mark: 'm1', heardMs: 100, pendingMs: 100 },
      { mark: 'm2', heardMs: 200, pendingMs: 0 },
    ]);
    expect(p.media.stats()).toMatchObject({ sentMs: 200, heardMs: 200 });
  });

  it('clearAudio sends clear and reports what was sent, heard, unplayed and dropped', async () => {
    const p = await started(16000);
    write(p, 10);
    p.clock.advance(180);
    await p.received.count(4);
    p.send(p.writer.mark('m1'));
    await p.seen.until((x) => x.e === 'playback');
    write(p, 3, 5000);

    const info = p.media.clearAudio();
    const expected = { by: 'host', sentMs: 200, heardMs: 100, unplayedMs: 100, droppedQueuedMs: 60 };
    expect(info).toEqual(expected);
    expect(p.of('interrupted').map((x) => x.info)).toEqual([expected]);
    const clear = await p.received.until((r) => r.ev.event === 'clear');
    expect(clear.text).toBe(clearMessage(STREAM_SID));
    expect(p.received.items.map((r) => r.ev.event)).toEqual(['media', 'mark', 'media', 'mark', 'clear']);
    expect(p.media.stats()).toMatchObject({ clears: 1, chunksSent: 2 });

    // the echo of a mark sent before the clear is stale
    p.send(p.writer.mark('m2'));
    await p.sync();
    expect(p.of('playback')).toHaveLength(1);
  });

  it('clearAudio reports who asked', async () => {
    const p = await started(16000);
    expect(p.media.clearAudio('rpc')).toEqual({
      by: 'rpc',
      sentMs: 0,
      heardMs: 0,
      unplayedMs: 0,
      droppedQueuedMs: 0,
    });
    await p.received.until((r) => r.ev.event === 'clear');
  });
});

describe('AgentStreamMedia: the automatic barge-in', () => {
  /** The agent speaks five frames, then falls silent for `silent` frames. */
  function agentSpeaksThenStops(p: Pair, silent: number): void {
    for (let k = 0; k < 5; k++) p.media.writeAudio(loud(320));
    for (let k = 0; k < silent; k++) p.media.writeAudio(new Int16Array(320));
  }

  async function callerSays(p: Pair, samples: Int16Array): Promise<void> {
    p.send(p.writer.media(samples, 100));
    await p.sync();
  }

  it('fires on the third silent frame while the caller spoke and agent audio is unplayed', async () => {
    const p = await started(16000);
    await callerSays(p, loud(1600, 5000));
    agentSpeaksThenStops(p, 2);
    expect(p.of('interrupted')).toHaveLength(0);
    p.media.writeAudio(new Int16Array(320));
    expect(p.of('interrupted').map((x) => x.info)).toEqual([
      { by: 'auto', sentMs: 0, heardMs: 0, unplayedMs: 0, droppedQueuedMs: 140 },
    ]);
    await p.received.until((r) => r.ev.event === 'clear');
    // more silence does not clear again
    for (let k = 0; k < 10; k++) p.media.writeAudio(new Int16Array(320));
    expect(p.of('interrupted')).toHaveLength(1);
  });

  it('does not fire when the caller was silent', async () => {
    const p = await started(16000);
    await callerSays(p, new Int16Array(1600));
    agentSpeaksThenStops(p, 10);
    expect(p.of('interrupted')).toHaveLength(0);
    expect(p.media.stats().clears).toBe(0);
  });

  it.each([
    [1000, 1],
    [1001, 0],
  ])('the caller spoke %i ms before: %i clear(s)', async (ago, clears) => {
    const p = await started(16000);
    await callerSays(p, loud(1600, 5000));
    p.clock.advance(ago);
    agentSpeaksThenStops(p, 3);
    expect(p.of('interrupted')).toHaveLength(clears);
  });

  it('does not fire with setAutoClear(false), and fires again once turned back on', async () => {
    const p = await started(16000);
    await callerSays(p, loud(1600, 5000));
    p.media.setAutoClear(false);
    agentSpeaksThenStops(p, 5);
    expect(p.of('interrupted')).toHaveLength(0);
    p.media.setAutoClear(true);
    agentSpeaksThenStops(p, 3);
    expect(p.of('interrupted').map((x) => x.info.by)).toEqual(['auto']);
  });

  it('a host clear does not need the caller to speak', async () => {
    const p = await started(16000);
    agentSpeaksThenStops(p, 0);
    expect(p.media.clearAudio()?.by).toBe('host');
  });
});

describe('AgentStreamMedia: liveness', () => {
  it('a peer that answers pings stays', async () => {
    const p = await started(16000, { pingIntervalMs: 1000, mediaTimeoutMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      const pong = new Promise<void>((resolve) => p.server.once('pong', () => resolve()));
      p.clock.advance(1000);
      await pong;
    }
    p.clock.advance(1000);
    expect(p.media.ended).toBe(false);
  });

  it('a ping unanswered at the next interval ends the stream: timeout', async () => {
    const p = await started(16000, { pingIntervalMs: 1000, mediaTimeoutMs: 60_000 });
    p.client.pause(); // a hung Exotel: reads nothing, answers no ping
    p.clock.advance(1000);
    expect(p.media.ended).toBe(false);
    p.clock.advance(999);
    expect(p.media.ended).toBe(false);
    p.clock.advance(1);
    const end = await endedCleanly(p);
    expect(end).toMatchObject({ how: 'error', code: 1011 });
    expect(end.error?.reason).toBe('timeout');
    expect(end.error?.message).toBe('no pong within 1000 ms');
  });

  it('no media for mediaTimeoutMs ends the stream; media restarts the wait', async () => {
    const p = await started(16000, { mediaTimeoutMs: 3000, pingIntervalMs: 60_000 });
    p.clock.advance(2000);
    p.send(p.writer.media(new Int16Array(1600), 2000));
    await p.seen.until((x) => x.e === 'firstMedia');
    p.clock.advance(2999);
    expect(p.media.ended).toBe(false);
    p.clock.advance(1);
    expect(p.media.ended).toBe(true);
    expect(await p.clientClosed).toEqual({ code: 1011, reason: 'timeout' });
    const end = await endedCleanly(p);
    expect(end).toMatchObject({ how: 'error', code: 1011 });
    expect(end.error?.message).toBe('no media for 3000 ms');
    expect(p.of('ended')[0]!.at).toBe(5000);
  });
});

describe('AgentStreamMedia: the end', () => {
  it('stop ends it: how stop, with Exotel’s reason; the socket closes with 1000', async () => {
    const p = await started(16000);
    p.send(p.writer.stop('CA1', 'callended'));
    expect(await p.clientClosed).toEqual({ code: 1000, reason: 'stopped' });
    expect(await endedCleanly(p)).toEqual({ how: 'stop', code: 1000, reason: 'callended' });
  });

  it.each([
    [1000, { how: 'closed', code: 1000 }],
    [1001, { how: 'closed', code: 1001 }],
    [undefined, { how: 'closed', code: 1005 }],
  ])('the client closing with %s ends it: how closed', async (code, expected) => {
    const p = await started(16000);
    p.client.close(code);
    expect(await endedCleanly(p)).toEqual(expected);
  });

  it('the client closing with 4000 ends it as an error', async () => {
    const p = await started(16000);
    p.client.close(4000);
    const end = await endedCleanly(p);
    expect(end).toMatchObject({ how: 'error', code: 4000 });
    expect(end.error?.reason).toBe('closed');
  });

  it('the client dropping the connection ends it: how error, 1006', async () => {
    const p = await started(16000);
    p.client.terminate();
    const end = await endedCleanly(p);
    expect(end).toMatchObject({ how: 'error', code: 1006 });
    expect(end.error?.reason).toBe('closed');
  });

  it('close() is idempotent and ends it exactly once: how local', async () => {
    const p = await started(16000);
    const a = p.media.close();
    const b = p.media.close();
    await Promise.all([a, b]);
    expect(await p.clientClosed).toEqual({ code: 1000, reason: 'call ended' });
    await p.media.close();
    expect(await endedCleanly(p)).toEqual({ how: 'local', code: 1000 });
    expect(p.media.endInfo).toEqual({ how: 'local', code: 1000 });
  });

  it('close(code, reason) is what the client sees', async () => {
    const p = await open();
    await p.media.close(1013, 'busy');
    expect(await p.clientClosed).toEqual({ code: 1013, reason: 'busy' });
    expect(await endedCleanly(p)).toEqual({ how: 'local', code: 1013 });
  });

  it('after the end, nothing more is reported and nothing is armed', async () => {
    const p = await started(16000);
    p.send(p.writer.media(ramp(1, 1600), 100));
    await p.seen.until((x) => x.e === 'audio');
    p.media.writeAudio(ramp(1, 320));
    p.send(p.writer.stop('CA1'));
    await endedCleanly(p);
    await p.media.close();
    p.media.writeAudio(ramp(1, 320));
    expect(p.media.clearAudio()).toBeUndefined();
    expect(p.clock.pending).toBe(0);
    p.clock.advance(60_000);
    expect(p.of('audio')).toHaveLength(1); // the frames queued at the stop are dropped
    expect(p.of('ended')).toHaveLength(1);
    expect(p.media.stats().chunksSent).toBe(0);
  });

  it('a client dropping after close() does not end it again', async () => {
    const p = await started(16000);
    const closing = p.media.close();
    p.client.terminate();
    await closing;
    expect(await endedCleanly(p)).toEqual({ how: 'local', code: 1000 });
  });
});
