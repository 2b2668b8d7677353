/**
 * AgentStream end to end: the simulator's Exotel-like WebSocket client (and its stand-in
 * for the connect Voice AI API) against `createAgentStreamServer`, a real livekit-server
 * and an agent-kind participant in the room. Inbound and outbound at 8 and 16 kHz, the
 * participant contract, DTMF, every way a call ends, barge-in, and hostile input; each
 * test checks that nothing is left behind (participant, room, sockets).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  ParticipantKind,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  dispose,
  type RemoteParticipant,
} from '@livekit/rtc-node';
import {
  acceptInboundCalls,
  createAgentStreamServer,
  placeAgentStreamCall,
  type AgentStreamServer,
  type AgentStreamServerOptions,
  type BridgeCall,
  type StreamInterruption,
} from '../../src/index.js';
import { endCall, isBridgeParticipant, waitForAudioReady } from '../../src/entries/agent.js';
import { dominantFrequency, generateTone } from '../../src/rtp/goertzel.js';
import {
  AgentStreamExotel,
  connectAgentStream,
  probeUpgrade,
  type SimulatedAgentStream,
} from '../../src/testing/index.js';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createRoom, livekitOpts, runCleanups, type Cleanups } from '../harness/e2e.js';
import { makeTestPki } from '../harness/pki.js';
import {
  expectNothingLeft,
  fetchWithoutKeepAlive,
  processResources,
  type ProcessResources,
} from '../harness/resources.js';
import { eventually, mintToken, livekitEnv, roomService } from '../harness/livekit.js';

const PROBES = [300, 440, 700, 1000, 2000];
const CALLER = '+919876543210';
const EXOPHONE = '08044319240';
const AUTH = { username: 'exo-key', password: 'exo-token' };
const PATH = '/exotel/agentstream';
const cleanups: Cleanups = [];

afterEach(async () => {
  await runCleanups(cleanups);
});
afterAll(async () => {
  await dispose();
});

/**
 * The endpoint under test, taking inbound streams with `acceptInboundCalls`: on its own port,
 * or (`on`) attached to a server the test made, whose port it reports.
 */
async function startServer(
  extra: Partial<AgentStreamServerOptions> = {},
  on?: HttpsServer,
): Promise<{
  server: AgentStreamServer;
  port: number;
  calls: BridgeCall[];
  url: (query?: string, creds?: string) => string;
}> {
  const server = createAgentStreamServer({
    livekit: livekitOpts(),
    env: {},
    auth: AUTH,
    onStream: acceptInboundCalls({
      agentName: 'agentstream-test-agent',
      agentType: 'voicebot',
      livekit: livekitOpts(),
      env: {},
    }),
    ...extra,
  });
  let port: number;
  if (on === undefined) ({ port } = await server.listen());
  else {
    server.attach(on);
    port = (on.address() as { port: number }).port;
  }
  cleanups.push(() => server.close());
  const calls: BridgeCall[] = [];
  server.on('call', (c) => calls.push(c));
  const scheme = on === undefined ? 'ws' : 'wss';
  const url = (query = '', creds = `${AUTH.username}:${AUTH.password}@`): string =>
    `${scheme}://${creds}127.0.0.1:${port}${PATH}${query}`;
  return { server, port, calls, url };
}

/** An agent-kind participant that says a tone or silence on demand and records the phone at `rate`. */
interface Agent {
  room: Room;
  heard: Int16Array[];
  say(mode: 'tone' | 'silence'): void;
  dtmf: string[];
}

async function startAgent(roomName: string, rate: number, freq = 1000): Promise<Agent> {
  const room = new Room();
  const heard: Int16Array[] = [];
  const dtmf: string[] = [];
  room.on(RoomEvent.TrackSubscribed, (track, _pub, p) => {
    if (track.kind !== TrackKind.KIND_AUDIO || !isBridgeParticipant(p)) return;
    void (async () => {
      const stream = new AudioStream(track, { sampleRate: rate, numChannels: 1, frameSizeMs: 20 });
      for await (const f of stream) if (heard.length < 1500) heard.push(f.data.slice());
    })().catch(() => undefined);
  });
  room.on(RoomEvent.DtmfReceived, (_code, digit) => dtmf.push(digit));
  await room.connect(
    livekitEnv().url,
    await mintToken({ identity: 'agent', room: roomName, kind: 'agent' }),
    {
      autoSubscribe: true,
      dynacast: false,
    },
  );
  const source = new AudioSource(8000, 1, 100);
  await room.localParticipant!.publishTrack(
    LocalAudioTrack.createAudioTrack('agent-voice', source),
    new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
  );
  let mode: 'tone' | 'silence' = 'tone';
  let running = true;
  const loop = (async () => {
    for (let n = 0; running; n += 160) {
      const pcm = mode === 'tone' ? generateTone(freq, 8000, 160, 8000, n) : new Int16Array(160);
      await source.captureFrame(new AudioFrame(pcm, 8000, 1, 160));
    }
    await source.close();
  })();
  cleanups.push(async () => {
    running = false;
    await Promise.race([loop.catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
    await room.disconnect();
  });
  return { room, heard, dtmf, say: (m) => (mode = m) };
}

async function phoneOf(agent: Agent): Promise<RemoteParticipant> {
  return eventually('phone participant', () =>
    [...agent.room.remoteParticipants.values()].find(isBridgeParticipant),
  );
}

function loud(frames: readonly Int16Array[]): Int16Array {
  const keep = frames.filter((f) => f.some((v) => Math.abs(v) > 500));
  const out = new Int16Array(keep.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of keep) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

async function roomGone(name: string): Promise<boolean> {
  return (await roomService().listRooms([name])).length === 0;
}

async function nothingLeft(server: AgentStreamServer, roomName: string): Promise<void> {
  await eventually('room deleted', () => roomGone(roomName), 15_000);
  await eventually('no stream open', () => server.stats().active === 0);
}

function inbound(url: string, extra: Partial<Parameters<typeof connectAgentStream>[0]> = {}) {
  return connectAgentStream({
    url,
    from: '09876543210',
    to: EXOPHONE,
    play: { toneHz: 440, amplitude: 8000 },
    ...extra,
  }).then((s) => {
    cleanups.push(() => s.terminate());
    return s;
  });
}

describe('inbound AgentStream calls', () => {
  it.each([8000, 16000] as const)(
    '%i Hz: tone both ways, the participant of a LiveKit SIP call, DTMF, chunks Exotel accepts; stop ends it and leaves nothing',
    async (rate) => {
      const { server, calls, url } = await startServer();
      const stream = await inbound(url(`?sample-rate=${rate}&lang=hi`));
      const chunks: number[] = [];
      stream.on('media', (s) => chunks.push(s.length * 2));
      const call = await eventually('bridge call', () => calls[0]);
      expect(call.direction).toBe('inbound');
      expect(call.callId).toBe(stream.callSid);
      expect(call.roomName).toMatch(/^voicebot-inbound-3210-/);
      const answered = await call.answered;
      expect(answered.codec).toBe('L16');
      const agent = await startAgent(call.roomName, rate);
      const phone = await phoneOf(agent);
      await waitForAudioReady(phone, { room: agent.room, timeoutMs: 10_000 });
      expect(phone.kind).toBe(ParticipantKind.SIP);
      expect(phone.identity).toBe(`sip-phone-${CALLER}`);
      expect(JSON.parse(phone.metadata ?? '')).toEqual({ source: 'exotel_bridge', phone: CALLER });
      expect(phone.attributes).toMatchObject({
        'sip.callID': stream.callSid,
        'sip.callIDFull': stream.callSid,
        'sip.callTag': stream.streamSid,
        'sip.callStatus': 'active',
        'sip.phoneNumber': CALLER,
        'sip.trunkPhoneNumber': EXOPHONE,
        'exotel.transport': 'agentstream',
        'exotel.sampleRate': String(rate),
        'exotel.param.lang': 'hi',
      });
      // what the caller says reaches the agent; what the agent says reaches the caller
      await eventually('agent hears the caller', () => loud(agent.heard).length >= rate, 10_000);
      expect(dominantFrequency(loud(agent.heard), rate, PROBES)).toBe(440);
      await eventually('caller hears the agent', () => stream.heardSamples().length >= rate / 2, 10_000);
      expect(dominantFrequency(loud([stream.heardSamples()]), rate, PROBES)).toBe(1000);
      expect(stream.unalignedMedia).toBe(0);
      expect(chunks.length).toBeGreaterThan(0);
      for (const bytes of chunks) {
        expect(bytes % 320).toBe(0);
        expect(bytes).toBeGreaterThanOrEqual(3200);
      }
      // marks come back as the audio plays: the bridge knows what was heard
      await eventually('marks echoed', () => (call.stats().stream?.heardMs ?? 0) > 0);
      // a key press becomes LiveKit DTMF
      const digits: string[] = [];
      call.on('dtmf', (d) => digits.push(`${d.from}:${d.digit}`));
      stream.dtmf('5');
      await eventually('DTMF in the room', () => agent.dtmf.includes('5'));
      expect(digits).toContain('phone:5');
      // Exotel's stop ends the call
      await stream.stop();
      const ended = await call.ended;
      expect(ended.reason).toBe('phone-hangup');
      expect(ended.talkMs).toBeGreaterThan(0);
      await nothingLeft(server, call.roomName);
    },
  );

  it('an agent hangs up (lk.sip.EndCall): the stream is closed with 1000 and nothing is left', async () => {
    const { server, calls, url } = await startServer();
    const stream = await inbound(url());
    const call = await eventually('bridge call', () => calls[0]);
    const agent = await startAgent(call.roomName, 8000);
    const phone = await phoneOf(agent);
    await waitForAudioReady(phone, { room: agent.room, timeoutMs: 10_000 });
    await endCall(agent.room.localParticipant!, phone.identity);
    expect((await call.ended).reason).toBe('agent-hangup');
    expect((await stream.ended).code).toBe(1000);
    await nothingLeft(server, call.roomName);
  });

  it('the socket closes without stop, or the room is deleted: each ends the call', async () => {
    const { server, calls, url } = await startServer();
    const a = await inbound(url());
    const callA = await eventually('call A', () => calls[0]);
    await callA.answered;
    await a.close(1000);
    expect((await callA.ended).reason).toBe('phone-hangup');
    await nothingLeft(server, callA.roomName);

    const b = await inbound(url());
    const callB = await eventually('call B', () => calls[1]);
    await callB.answered;
    await roomService().deleteRoom(callB.roomName);
    expect(['room-deleted', 'participant-removed', 'livekit-disconnected']).toContain(
      (await callB.ended).reason,
    );
    expect((await b.ended).code).toBe(1000);
    await eventually('no stream open', () => server.stats().active === 0);
  });
});

describe("wss:// on the host's HTTPS server", () => {
  it('attach(httpsServer): a call over TLS, with Basic auth, ends by stop and leaves nothing', async () => {
    const pki = makeTestPki();
    const https = createHttpsServer({ key: pki.key, cert: pki.cert }, (_req, res) => res.end('host app'));
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => https.close(() => r())));
    const { server, calls, url } = await startServer({}, https);
    expect(await probeUpgrade(url('', ''), { ca: pki.ca })).toBe(401);
    const stream = await inbound(url(), { ca: pki.ca });
    const call = await eventually('bridge call', () => calls[0]);
    const agent = await startAgent(call.roomName, 8000);
    await waitForAudioReady(await phoneOf(agent), { room: agent.room, timeoutMs: 10_000 });
    await eventually('caller hears the agent', () => stream.heardSamples().length >= 4000, 10_000);
    await stream.stop();
    expect((await call.ended).reason).toBe('phone-hangup');
    await nothingLeft(server, call.roomName);
  });
});

describe('outbound AgentStream calls (connect Voice AI API)', () => {
  it.each([8000, 16000] as const)(
    '%i Hz: the API call, the stream tied to its room, tone both ways; the host hangs up',
    async (rate) => {
      const { server, url } = await startServer({ onStream: () => ({ reject: 403 }) });
      const exotel = new AgentStreamExotel({ answerAfterMs: 300, play: { toneHz: 440, amplitude: 8000 } });
      const { baseUrl } = await exotel.listen();
      cleanups.push(() => exotel.close());
      const roomName = await createRoom(cleanups, 'as-out');
      const agent = await startAgent(roomName, rate);
      const statuses: string[] = [];
      const call = await placeAgentStreamCall({
        server,
        roomName,
        phoneNumber: CALLER,
        callerId: EXOPHONE,
        streamUrl: url(),
        sampleRate: rate,
        api: { accountSid: exotel.accountSid, apiKey: 'sim-key', apiToken: 'sim-token', baseUrl },
      });
      call.on('status', (s) => statuses.push(s));
      expect(call.direction).toBe('outbound');
      const request = exotel.requests[0]!;
      expect(request.from).toBe(CALLER);
      expect(request.callerId).toBe(EXOPHONE);
      expect(request.streamType).toBe('bidirectional');
      const streamUrl = new URL(request.streamUrl);
      expect(streamUrl.searchParams.get('lkcall')).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(streamUrl.searchParams.get('sample-rate')).toBe(rate === 8000 ? null : String(rate));
      expect(call.callId).toBe(request.callSid);
      const stream: SimulatedAgentStream = await exotel.nextStream();
      expect(stream.sampleRate).toBe(rate);
      await call.answered;
      const phone = await phoneOf(agent);
      await waitForAudioReady(phone, { room: agent.room, timeoutMs: 10_000 });
      expect(phone.kind).toBe(ParticipantKind.SIP);
      expect(phone.attributes).toMatchObject({
        'sip.callID': request.callSid,
        'sip.callStatus': 'active',
        'sip.phoneNumber': CALLER,
        'exotel.transport': 'agentstream',
      });
      expect(statuses).toContain('active');
      await eventually('agent hears the phone', () => loud(agent.heard).length >= rate, 10_000);
      expect(dominantFrequency(loud(agent.heard), rate, PROBES)).toBe(440);
      await eventually('phone hears the agent', () => stream.heardSamples().length >= rate / 2, 10_000);
      expect(dominantFrequency(loud([stream.heardSamples()]), rate, PROBES)).toBe(1000);
      await call.hangup();
      expect((await stream.ended).code).toBe(1000);
      expect(
        await eventually('participant gone', async () => {
          const ps = await roomService().listParticipants(roomName);
          return !ps.some((p) => p.identity.startsWith('sip-phone-'));
        }),
      ).toBe(true);
      expect(server.stats().active).toBe(0);
    },
  );

  it('Exotel refuses the request: ExotelApiError with its status, no participant, no waiting stream', async () => {
    const { server, url } = await startServer();
    const exotel = new AgentStreamExotel();
    const { baseUrl } = await exotel.listen();
    cleanups.push(() => exotel.close());
    const roomName = await createRoom(cleanups, 'as-out');
    exotel.failNext(403, 'Caller id not verified');
    const err = await placeAgentStreamCall({
      server,
      roomName,
      phoneNumber: CALLER,
      callerId: EXOPHONE,
      streamUrl: url(),
      api: { accountSid: exotel.accountSid, apiKey: 'sim-key', apiToken: 'sim-token', baseUrl },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EXOTEL_API', status: 403 });
    expect(String((err as Error).message)).not.toContain('sim-token');
    expect((await roomService().listParticipants(roomName)).length).toBe(0);
  });

  it('the phone never answers: the call ends as no-answer and its participant leaves', async () => {
    const { server, url } = await startServer();
    const exotel = new AgentStreamExotel();
    const { baseUrl } = await exotel.listen();
    cleanups.push(() => exotel.close());
    exotel.noAnswer();
    const roomName = await createRoom(cleanups, 'as-out');
    const call = await placeAgentStreamCall({
      server,
      roomName,
      phoneNumber: CALLER,
      callerId: EXOPHONE,
      streamUrl: url(),
      answerTimeoutMs: 2000,
      api: { accountSid: exotel.accountSid, apiKey: 'sim-key', apiToken: 'sim-token', baseUrl },
    });
    await expect(call.answered).rejects.toMatchObject({ code: 'STREAM_PROTOCOL' });
    expect((await call.ended).reason).toBe('no-answer');
    expect(server.stats().active).toBe(0);
  });
});

describe('barge-in', () => {
  it('the host clears: `clear` reaches Exotel, the event says what the caller heard', async () => {
    const { calls, url } = await startServer();
    const stream = await inbound(url('?sample-rate=16000'));
    const call = await eventually('bridge call', () => calls[0]);
    const agent = await startAgent(call.roomName, 16000);
    await waitForAudioReady(await phoneOf(agent), { room: agent.room, timeoutMs: 10_000 });
    await eventually('marks echoed', () => (call.stats().stream?.heardMs ?? 0) > 0, 10_000);
    const events: StreamInterruption[] = [];
    call.on('interrupted', (i) => events.push(i));
    const info = call.clearAudio();
    expect(info).toBeDefined();
    expect(events).toEqual([info]);
    expect(info!.by).toBe('host');
    expect(info!.heardMs).toBeGreaterThan(0);
    expect(info!.heardMs).toBeLessThanOrEqual(info!.sentMs);
    expect(info!.unplayedMs).toBe(info!.sentMs - info!.heardMs);
    await eventually('clear received', () => stream.clears === 1);
    // an agent asks for the same through the exotel.ClearAudio RPC
    const reply = await agent.room.localParticipant!.performRpc({
      destinationIdentity: call.identity,
      method: 'exotel.ClearAudio',
      payload: '{}',
    });
    expect(JSON.parse(reply)).toMatchObject({ by: 'rpc' });
    expect(events.map((e) => e.by)).toEqual(['host', 'rpc']);
    await eventually('second clear received', () => stream.clears === 2);
    await expect(call.transfer('+919999999999')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(call.sendDtmf('1')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });

  it('the agent falls silent while the caller speaks: the bridge clears by itself', async () => {
    const { calls, url } = await startServer();
    const stream = await inbound(url());
    const call = await eventually('bridge call', () => calls[0]);
    const agent = await startAgent(call.roomName, 8000);
    await waitForAudioReady(await phoneOf(agent), { room: agent.room, timeoutMs: 10_000 });
    await eventually('caller hears the agent', () => stream.heardSamples().length >= 4000, 10_000);
    const events: StreamInterruption[] = [];
    call.on('interrupted', (i) => events.push(i));
    agent.say('silence'); // the agent was interrupted: its track goes silent mid-speech
    await eventually('auto clear', () => events.length > 0, 10_000);
    expect(events[0]!.by).toBe('auto');
    await eventually('clear received', () => stream.clears >= 1);
  });
});

describe('hostile input', () => {
  // Each case leaves nothing: the library's counts all 0, no fd or thread above a baseline
  // taken after one ordinary call (rtc-node's runtime starts once), HTTP without keep-alive.
  let base: ProcessResources;
  beforeAll(async () => {
    await fetchWithoutKeepAlive();
    const { server, calls, url } = await startServer();
    const stream = await inbound(url());
    const call = await eventually('bridge call', () => calls[0]);
    await call.answered;
    await stream.stop();
    await call.ended;
    await nothingLeft(server, call.roomName);
    await runCleanups(cleanups);
    await new Promise((r) => setTimeout(r, 1000));
    base = processResources();
  }, 60_000);
  afterEach(async () => {
    await runCleanups(cleanups);
    await expectNothingLeft(base);
  }, 30_000);

  it('bad credentials, wrong path, allow-list: refused before the upgrade, no room involved', async () => {
    const { server, url, port } = await startServer();
    expect(await probeUpgrade(url('', ''))).toBe(401);
    expect(await probeUpgrade(url('', 'exo-key:wrong@'))).toBe(401);
    expect(await probeUpgrade(`ws://${AUTH.username}:${AUTH.password}@127.0.0.1:${port}/other`)).toBe(404);
    const listOnly = createAgentStreamServer({ livekit: livekitOpts(), env: {}, allowFrom: ['10.0.0.0/8'] });
    const other = await listOnly.listen();
    cleanups.push(() => listOnly.close());
    expect(await probeUpgrade(`ws://127.0.0.1:${other.port}${PATH}`)).toBe(403);
    expect(server.stats()).toMatchObject({ active: 0, accepted: 0, refused: 3 });
  });

  it('malformed JSON and base64 are counted and dropped; the call goes on; too many end it and clean up', async () => {
    const { server, calls, url } = await startServer({ limits: { maxMalformed: 5 } });
    const stream = await inbound(url());
    const call = await eventually('bridge call', () => calls[0]);
    await call.answered;
    const errors: string[] = [];
    server.on('protocolError', (e) => errors.push(e.error.reason));
    stream.sendRaw('{not json');
    stream.sendRaw(JSON.stringify({ event: 'media', media: { payload: '***' } }));
    stream.sendRaw(JSON.stringify({ event: 'media', media: { payload: 'AA==' } })); // one byte: half a sample
    await eventually('three refused', () => errors.length === 3);
    expect(errors).toEqual(['malformed-json', 'bad-payload', 'bad-payload']);
    expect(call.status).not.toBe('hangup');
    stream.sendRaw('[');
    stream.sendRaw('{"event":7}');
    const ended = await call.ended;
    expect(ended.reason).toBe('error');
    expect(ended.error).toMatchObject({ code: 'STREAM_PROTOCOL' });
    await nothingLeft(server, call.roomName);
  });

  it('an oversize frame ends the stream with 1009 and the call with a typed error', async () => {
    const { server, calls, url } = await startServer({ maxMessageBytes: 16 * 1024 });
    const stream = await inbound(url());
    const call = await eventually('bridge call', () => calls[0]);
    await call.answered;
    stream.sendRaw('x'.repeat(64 * 1024));
    expect((await stream.ended).code).toBe(1009);
    const ended = await call.ended;
    expect(ended.error).toMatchObject({ code: 'STREAM_PROTOCOL', reason: 'too-large' });
    await nothingLeft(server, call.roomName);
  });

  it('a flood of media events ends the call (flood), memory stays bounded', async () => {
    const { server, calls, url } = await startServer();
    const stream = await inbound(url());
    const call = await eventually('bridge call', () => calls[0]);
    await call.answered;
    const media = JSON.stringify({
      event: 'media',
      media: { payload: Buffer.alloc(1600).toString('base64') },
    });
    for (let i = 0; i < 2000; i++) stream.sendRaw(media);
    const ended = await call.ended;
    expect(ended.error).toMatchObject({ code: 'STREAM_PROTOCOL', reason: 'flood' });
    await nothingLeft(server, call.roomName);
  });

  it('a stalled socket (no media, no pong) ends the call as media-timeout', async () => {
    const { server, calls, url } = await startServer({
      limits: { pingIntervalMs: 500, mediaTimeoutMs: 3000 },
    });
    const stream = await inbound(url());
    const call = await eventually('bridge call', () => calls[0]);
    await call.answered;
    stream.stall();
    const ended = await call.ended;
    expect(ended.reason).toBe('media-timeout');
    expect(ended.error).toMatchObject({ code: 'STREAM_PROTOCOL', reason: 'timeout' });
    await nothingLeft(server, call.roomName);
  });
});
