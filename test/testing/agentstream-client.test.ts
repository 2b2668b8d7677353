/**
 * The simulator's AgentStream client against a plain `ws` server on loopback: what it
 * sends (connected, start, paced media, dtmf, stop), how it plays what the bot sends
 * (playout, mark echoes, clear), and that a hostile bot is counted, never thrown. Pacing
 * and playout run on a FakeTimerClock, so the tests assert counts and order, not time.
 */
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { WebSocketServer, type VerifyClientCallbackAsync } from 'ws';

import {
  decodePcm,
  markMessage,
  mediaMessage,
  clearMessage,
  parseExotelEvent,
  type ExotelStreamEvent,
} from '../../src/agentstream/protocol.js';
import { StreamProtocolError } from '../../src/errors.js';
import {
  connectAgentStream,
  probeUpgrade,
  type AgentStreamClientOptions,
  type SimulatedAgentStream,
} from '../../src/testing/agentstream-client.js';
import { dominantFrequency, FakeTimerClock, generateTone } from '../../src/testing/index.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Waits (real time, polling) until `cond` holds; fails after 2 s. */
async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The bot's end of one stream, as the test server sees it. */
interface BotPeer {
  ws: WebSocket;
  req: IncomingMessage;
  events: ExotelStreamEvent[];
  raw: (string | Buffer)[];
  closed: { code: number; reason: string } | undefined;
  of<E extends ExotelStreamEvent['event']>(event: E): Extract<ExotelStreamEvent, { event: E }>[];
}

async function botServer(verifyClient?: VerifyClientCallbackAsync) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...(verifyClient ? { verifyClient } : {}) });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const peers: BotPeer[] = [];
  wss.on('connection', (ws, req) => {
    const peer: BotPeer = {
      ws,
      req,
      events: [],
      raw: [],
      closed: undefined,
      of: (event) => peer.events.filter((e) => e.event === event) as never,
    };
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      peer.raw.push(isBinary ? buf : buf.toString('utf8'));
      if (!isBinary) peer.events.push(parseExotelEvent(buf.toString('utf8')));
    });
    ws.on('close', (code, reason) => (peer.closed = { code, reason: reason.toString() }));
    peers.push(peer);
  });
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  );
  const port = (wss.address() as { port: number }).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/bot`,
    peers,
    async peer(): Promise<BotPeer> {
      await until(() => peers.length > 0, 'a connection');
      return peers[0]!;
    },
  };
}

async function client(o: AgentStreamClientOptions): Promise<SimulatedAgentStream> {
  const s = await connectAgentStream(o);
  cleanups.push(() => s.terminate());
  return s;
}

describe('connectAgentStream: what Exotel sends', () => {
  it('sends connected, then start with the call fields, at 8000 Hz by default', async () => {
    const srv = await botServer();
    const s = await client({
      url: `${srv.url}?lang=hi&agent=a1`,
      from: '+919876543210',
      to: '08044319240',
      callSid: 'CA123',
    });
    const peer = await srv.peer();
    await until(() => peer.events.length >= 2, 'connected and start');
    expect(peer.events.map((e) => e.event).slice(0, 2)).toEqual(['connected', 'start']);
    const start = peer.of('start')[0]!;
    expect(start.sequenceNumber).toBe(1);
    expect(start.start).toMatchObject({
      streamSid: s.streamSid,
      callSid: 'CA123',
      accountSid: 'ACsimulator',
      from: '+919876543210',
      to: '08044319240',
      customParameters: { lang: 'hi', agent: 'a1' },
      sampleRate: 8000,
      encoding: 'audio/x-raw',
      bitRate: 16,
    });
    expect(s.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
    expect(s.sampleRate).toBe(8000);
    expect(s.state).toBe('open');
    expect(peer.req.url).toBe('/bot?lang=hi&agent=a1');
  });

  it('takes the rate from sample-rate (not a custom parameter) and paces 100 ms chunks: 1600 samples at 16 kHz', async () => {
    const srv = await botServer();
    const clock = new FakeTimerClock();
    const s = await client({
      url: `${srv.url}?sample-rate=16000&lang=en`,
      from: '1',
      to: '2',
      clock,
      play: { toneHz: 1000, amplitude: 6000 },
    });
    expect(s.sampleRate).toBe(16000);
    const peer = await srv.peer();
    await until(() => peer.events.length >= 2);
    expect(peer.of('start')[0]!.start.sampleRate).toBe(16000);
    expect(peer.of('start')[0]!.start.customParameters).toEqual({ lang: 'en' });
    expect(peer.of('media')).toHaveLength(0);

    clock.advance(99);
    clock.advance(1);
    clock.advance(400);
    await until(() => peer.of('media').length >= 5, 'five chunks');
    const media = peer.of('media');
    expect(media).toHaveLength(5);
    expect(media.map((m) => m.chunk)).toEqual([1, 2, 3, 4, 5]);
    expect(media.map((m) => m.timestamp)).toEqual([100, 200, 300, 400, 500]);
    expect(media.map((m) => m.sequenceNumber)).toEqual([2, 3, 4, 5, 6]);
    const pcm = media.map((m) => decodePcm(m.payload));
    expect(pcm.map((p) => p.length)).toEqual([1600, 1600, 1600, 1600, 1600]);
    const all = new Int16Array(8000);
    pcm.forEach((p, i) => all.set(p, i * 1600));
    expect(dominantFrequency(all, 16000, [500, 1000, 2000])).toBe(1000);
    // the tone continues across chunks without a click
    expect(Array.from(pcm[1]!.subarray(0, 4))).toEqual(
      Array.from(generateTone(1000, 16000, 1604, 6000).subarray(1600)),
    );
  });

  it('sends dtmf, then stop and a 1000 close; ended resolves and no timer is left', async () => {
    const srv = await botServer();
    const clock = new FakeTimerClock();
    const s = await client({ url: srv.url, from: '1', to: '2', clock, callSid: 'CAstop' });
    const peer = await srv.peer();
    s.dtmf('5', 200);
    s.dtmf('#');
    expect(() => s.dtmf('x')).toThrow();
    const end = await s.stop();
    expect(end.code).toBe(1000);
    expect(s.state).toBe('closed');
    expect(clock.pending).toBe(0);
    await until(() => peer.closed !== undefined, 'server close');
    expect(peer.events.map((e) => e.event)).toEqual(['connected', 'start', 'dtmf', 'dtmf', 'stop']);
    expect(peer.of('dtmf').map((d) => [d.digit, d.durationMs])).toEqual([
      ['5', 200],
      ['#', 100],
    ]);
    expect(peer.of('stop')[0]).toMatchObject({ callSid: 'CAstop', reason: 'callended' });
    expect(peer.closed?.code).toBe(1000);
    expect(s.messagesSent).toBe(5);
  });

  it('close(code) closes without stop; pauseMedia/resumeMedia stop and restart the chunks', async () => {
    const srv = await botServer();
    const clock = new FakeTimerClock();
    const s = await client({ url: srv.url, from: '1', to: '2', clock });
    const peer = await srv.peer();
    clock.advance(200);
    s.pauseMedia();
    clock.advance(300);
    expect(s.messagesSent).toBe(4); // connected, start, 2 media
    s.resumeMedia();
    clock.advance(100);
    await until(() => peer.of('media').length >= 3);
    expect(peer.of('media').map((m) => m.timestamp)).toEqual([100, 200, 600]);
    await s.close(4000);
    await until(() => peer.closed !== undefined);
    expect(peer.closed?.code).toBe(4000);
    expect(peer.of('stop')).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });

  it('sends the Basic auth of the URL and extra headers with the upgrade', async () => {
    const srv = await botServer();
    await client({
      url: `ws://key:s%40cret@127.0.0.1:${srv.port}/bot`,
      from: '1',
      to: '2',
      headers: { 'X-Trace': 't1' },
    });
    const peer = await srv.peer();
    expect(peer.req.headers.authorization).toBe(`Basic ${Buffer.from('key:s@cret').toString('base64')}`);
    expect(peer.req.headers['x-trace']).toBe('t1');
  });

  it('sendConnected: false and autoStart: false send nothing until start()', async () => {
    const srv = await botServer();
    const clock = new FakeTimerClock();
    const s = await client({
      url: srv.url,
      from: '1',
      to: '2',
      clock,
      sendConnected: false,
      autoStart: false,
    });
    clock.advance(300);
    expect(s.messagesSent).toBe(0);
    s.start();
    clock.advance(100);
    const peer = await srv.peer();
    await until(() => peer.events.length >= 2);
    expect(peer.events.map((e) => e.event)).toEqual(['start', 'media']);
  });

  it('a refused upgrade rejects with StreamProtocolError; probeUpgrade reports the status', async () => {
    const refusing = await botServer((_info, cb) => cb(false, 401, 'Unauthorized'));
    const err = await connectAgentStream({ url: refusing.url, from: '1', to: '2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamProtocolError);
    expect((err as StreamProtocolError).reason).toBe('closed');
    expect((err as StreamProtocolError).message).toBe('upgrade refused: HTTP 401');
    expect(await probeUpgrade(refusing.url)).toBe(401);
    const open = await botServer();
    expect(await probeUpgrade(open.url)).toBe(101);
    await until(() => open.peers[0]?.closed !== undefined, 'probe closed');
  });

  it('sendRaw sends text and binary frames as given', async () => {
    const srv = await botServer();
    const s = await client({ url: srv.url, from: '1', to: '2', clock: new FakeTimerClock() });
    const peer = await srv.peer();
    s.sendRaw('{"event":"bogus"}');
    s.sendRaw(Buffer.from([1, 2, 3]));
    await until(() => peer.raw.length >= 4);
    expect(peer.raw.slice(2)).toEqual(['{"event":"bogus"}', Buffer.from([1, 2, 3])]);
  });
});

describe('SimulatedAgentStream: playing what the bot sends', () => {
  async function setup() {
    const srv = await botServer();
    const clock = new FakeTimerClock();
    const s = await client({ url: srv.url, from: '1', to: '2', clock });
    const peer = await srv.peer();
    const echoed: string[] = [];
    s.on('mark', (name) => echoed.push(name));
    const marksAtBot = () => peer.of('mark').map((m) => m.name);
    const tone = (hz: number, ms: number) => generateTone(hz, 8000, ms * 8, 8000);
    return { srv, clock, s, peer, echoed, marksAtBot, tone };
  }

  it('echoes a mark only once the audio before it has played, in order', async () => {
    const { clock, s, peer, echoed, marksAtBot, tone } = await setup();
    peer.ws.send(mediaMessage(s.streamSid, tone(500, 100)));
    peer.ws.send(markMessage(s.streamSid, 'a'));
    peer.ws.send(mediaMessage(s.streamSid, tone(1000, 100)));
    peer.ws.send(markMessage(s.streamSid, 'b'));
    await until(() => s.messagesReceived['mark'] === 2, 'marks received');
    expect(s.messagesReceived['media']).toBe(2);
    expect(s.receivedSamples()).toHaveLength(1600);
    expect(s.heardSamples()).toHaveLength(0);
    expect(s.queuedMs()).toBe(200);
    clock.advance(80);
    expect(s.playedMs()).toBe(80);
    expect(echoed).toEqual([]);
    clock.advance(20);
    expect(s.playedMs()).toBe(100);
    expect(echoed).toEqual(['a']);
    clock.advance(100);
    expect(echoed).toEqual(['a', 'b']);
    expect(s.queuedMs()).toBe(0);
    const heard = s.heardSamples();
    expect(heard).toHaveLength(1600);
    expect(dominantFrequency(heard.subarray(0, 800), 8000, [500, 1000])).toBe(500);
    expect(dominantFrequency(heard.subarray(800), 8000, [500, 1000])).toBe(1000);
    // idle: nothing is recorded, and a mark with nothing queued is echoed at once
    clock.advance(500);
    expect(s.heardSamples()).toHaveLength(1600);
    peer.ws.send(markMessage(s.streamSid, 'c'));
    await until(() => echoed.length === 3, 'mark c');
    await until(() => marksAtBot().length === 3, 'marks at the bot');
    expect(marksAtBot()).toEqual(['a', 'b', 'c']);
  });

  it('clear drops the unplayed audio and the pending marks, without echoing them', async () => {
    const { clock, s, peer, echoed, marksAtBot, tone } = await setup();
    let clears = 0;
    s.on('clear', () => clears++);
    peer.ws.send(mediaMessage(s.streamSid, tone(500, 300)));
    peer.ws.send(markMessage(s.streamSid, 'm'));
    await until(() => s.messagesReceived['mark'] === 1);
    clock.advance(100);
    expect(s.playedMs()).toBe(100);
    peer.ws.send(clearMessage(s.streamSid));
    await until(() => s.clears === 1, 'clear');
    expect(clears).toBe(1);
    expect(s.queuedMs()).toBe(0);
    clock.advance(500);
    expect(s.playedMs()).toBe(100);
    expect(echoed).toEqual([]);
    // what comes after the clear plays normally
    peer.ws.send(mediaMessage(s.streamSid, tone(1000, 100)));
    peer.ws.send(markMessage(s.streamSid, 'n'));
    await until(() => s.messagesReceived['mark'] === 2);
    clock.advance(100);
    expect(echoed).toEqual(['n']);
    await until(() => marksAtBot().length === 1);
    expect(marksAtBot()).toEqual(['n']);
    expect(s.receivedSamples()).toHaveLength(3200);
    expect(s.heardSamples()).toHaveLength(1600);
  });

  it('counts hostile frames and reports them, never throws, and keeps working', async () => {
    const { s, peer, echoed } = await setup();
    const errors: StreamProtocolError[] = [];
    s.on('protocolError', (e) => errors.push(e));
    peer.ws.send('not json');
    peer.ws.send('{"event":5}');
    peer.ws.send('{"event":"media","media":{"payload":"abc"}}');
    peer.ws.send('{"event":"mark","mark":{}}');
    peer.ws.send(Buffer.from([0xde, 0xad]));
    peer.ws.send('{"event":"dance"}');
    peer.ws.send(mediaMessage(s.streamSid, new Int16Array(100))); // 200 bytes: not a multiple of 320
    peer.ws.send(markMessage(s.streamSid, 'after'));
    await until(() => s.messagesReceived['mark'] === 1, 'the valid mark');
    expect(errors.map((e) => e.reason)).toEqual([
      'malformed-json',
      'bad-event',
      'bad-payload',
      'bad-event',
      'bad-event',
    ]);
    expect(errors.every((e) => e instanceof StreamProtocolError)).toBe(true);
    expect(s.messagesReceived).toMatchObject({ malformed: 5, unknown: 1, media: 1, mark: 1 });
    expect(s.unalignedMedia).toBe(1);
    expect(s.state).toBe('open');
    expect(echoed).toEqual([]); // queued behind the 100 samples
  });

  it('terminate() drops the connection and clears the media and playout timers', async () => {
    const { clock, s, peer, tone } = await setup();
    peer.ws.send(mediaMessage(s.streamSid, tone(500, 300)));
    await until(() => s.messagesReceived['media'] === 1);
    expect(clock.pending).toBe(2); // next media chunk, playout step
    const end = await s.terminate();
    expect(end.code).toBe(1006);
    expect(clock.pending).toBe(0);
    await until(() => peer.closed !== undefined);
    expect(peer.closed?.code).toBe(1006);
  });

  it('stall() sends no more media and answers no ping; a live stream answers', async () => {
    const { clock, s, peer } = await setup();
    let pongs = 0;
    peer.ws.on('pong', () => pongs++);
    peer.ws.ping();
    await until(() => pongs === 1, 'pong');
    clock.advance(200);
    const sent = s.messagesSent;
    s.stall();
    clock.advance(1000);
    expect(s.messagesSent).toBe(sent);
    peer.ws.ping();
    await new Promise((r) => setTimeout(r, 50));
    expect(pongs).toBe(1);
    await s.terminate();
    expect(clock.pending).toBe(0);
  });
});
