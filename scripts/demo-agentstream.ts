/**
 * `npm run demo -- --agentstream`: two calls over Exotel's AgentStream (WebSocket) instead
 * of SIP, end to end, on embedded defaults.
 *
 * On loopback it starts the local livekit-server (or uses LIVEKIT_URL and key/secret) and
 * `createAgentStreamServer` with Basic auth. Then:
 *   1. inbound: the simulator's Exotel-like client opens a 16 kHz stream as the Voicebot
 *      applet would (the caller saying 440 Hz); `acceptInboundCalls` makes one room and one
 *      dispatch; the test agent joins and says 1 kHz; after a few seconds Exotel sends `stop`;
 *   2. outbound: `placeAgentStreamCall` asks the simulator's stand-in for Exotel's connect
 *      Voice AI API to call the phone; the stream it opens lands in the room the demo made;
 *      after a few seconds the agent ends the call with `lk.sip.EndCall`.
 * It prints what the agent sees of the phone participant, which tone each side heard, the
 * chunks and marks of the agent's audio, and whether teardown left anything behind. Exit
 * code 0 only if both directions were heard on both calls and nothing was left.
 *
 * Always the simulator: a real Exotel account would need a public `wss://` endpoint.
 */
import * as rtc from '@livekit/rtc-node';
import { RoomServiceClient } from 'livekit-server-sdk';
import {
  acceptInboundCalls,
  createAgentStreamServer,
  placeAgentStreamCall,
  type BridgeCall,
  type BridgeEnded,
} from '../src/index.js';
import { endCall, isBridgeParticipant, waitForAudioReady } from '../src/entries/agent.js';
import { dominantFrequency } from '../src/rtp/goertzel.js';
import { AgentStreamExotel, connectAgentStream, type SimulatedAgentStream } from '../src/testing/index.js';
import {
  PROBES,
  demoLogger,
  finishDemo,
  resources,
  runStops,
  say,
  sleep,
  startDemoAgent,
  startLiveKit,
  toneOf,
  waitFor,
  type DemoAgent,
  type Stops,
} from './demo-common.js';

const CALLER = '+919876543210';
const EXOPHONE = '08044319240';
const AUTH = { username: 'demo-key', password: 'demo-token' };
const TALK_MS = 3000;

export async function agentStreamDemo(): Promise<number> {
  const logger = demoLogger();
  const baseline = resources();
  const stops: Stops = [];
  try {
    const livekit = await startLiveKit(stops);
    const rooms = new RoomServiceClient(
      livekit.url.replace(/^ws/, 'http'),
      livekit.apiKey,
      livekit.apiSecret,
    );
    const server = createAgentStreamServer({
      livekit,
      env: {},
      logger,
      auth: AUTH,
      onStream: acceptInboundCalls({
        agentName: 'demo-agent',
        agentType: 'voicebot',
        livekit,
        env: {},
        logger,
      }),
    });
    const { port } = await server.listen();
    stops.push(() => server.close());
    const url = `ws://${AUTH.username}:${AUTH.password}@127.0.0.1:${port}${server.path}`;
    say(`AgentStream endpoint: ws://127.0.0.1:${port}${server.path} (Basic auth)`);

    // --- 1. inbound, 16 kHz
    say('\n== inbound: the Voicebot applet streams a call at 16 kHz');
    const calls: BridgeCall[] = [];
    server.on('call', (c) => calls.push(c));
    const inStream = await connectAgentStream({
      url: `${url}?sample-rate=16000&lang=hi`,
      from: '09876543210',
      to: EXOPHONE,
      play: { toneHz: 440, amplitude: 8000 },
    });
    stops.push(() => inStream.terminate());
    const inCall = await waitFor(() => calls[0], 10_000, 'the call event');
    const inAgent = await startDemoAgent(livekit, inCall.roomName, stops, {
      toneHz: 1000,
      done: () => inCall.status === 'hangup',
    });
    await talk(inAgent, inCall);
    await inStream.stop();
    const inEnded = await inCall.ended;
    await inAgent.stopSpeaking();
    let ok = await report('inbound', inCall, inEnded, inAgent, inStream);
    ok &&= await waitFor(
      async () => (await rooms.listRooms([inCall.roomName])).length === 0,
      10_000,
      'room deletion',
    )
      .then(() => true)
      .catch(() => false);
    say(`room deleted after the call: ${ok ? 'yes' : 'NO'}`);

    // --- 2. outbound, 8 kHz, through the connect API stand-in
    say('\n== outbound: the connect Voice AI API calls the phone, its stream lands in our room');
    const exotel = new AgentStreamExotel({ answerAfterMs: 500, play: { toneHz: 440, amplitude: 8000 } });
    const { baseUrl } = await exotel.listen();
    stops.push(() => exotel.close());
    const roomName = `voicebot-outbound-demo-${Date.now()}`;
    await rooms.createRoom({ name: roomName, emptyTimeout: 30 });
    stops.push(() => rooms.deleteRoom(roomName).catch(() => undefined));
    const placed: { call?: BridgeCall } = {};
    const outAgent = await startDemoAgent(livekit, roomName, stops, {
      toneHz: 1000,
      done: () => placed.call?.status === 'hangup',
    });
    const outCall = await placeAgentStreamCall({
      server,
      roomName,
      phoneNumber: CALLER,
      callerId: EXOPHONE,
      streamUrl: url,
      api: { accountSid: exotel.accountSid, apiKey: 'sim-key', apiToken: 'sim-token', baseUrl },
    });
    say(
      `connect API: call ${outCall.callId} placed (${exotel.requests[0]?.streamUrl.replace(/\/\/[^@]*@/, '//***@')})`,
    );
    const outStream = await exotel.nextStream();
    const phone = await talk(outAgent, outCall);
    await endCall(outAgent.room.localParticipant!, phone.identity);
    const outEnded = await outCall.ended;
    await outAgent.stopSpeaking();
    ok = (await report('outbound', outCall, outEnded, outAgent, outStream)) && ok;
    say(`stream closed by the bridge: ${(await outStream.ended).code === 1000 ? 'yes (1000)' : 'NO'}`);

    await server.close({ drain: true, drainTimeoutMs: 5000 });
    const st = server.stats();
    say(
      `\nendpoint closed: ${st.active === 0 ? 'yes' : 'NO'} (${st.accepted} stream(s) accepted, ${st.refused} refused)`,
    );
    ok &&= st.active === 0 && st.accepted === 2;
    return await finishDemo(stops, baseline, ok, 'AgentStream demo');
  } finally {
    await runStops(stops);
  }
}

/** Waits until the agent sees the phone active, prints it, and lets both sides talk. */
async function talk(agent: DemoAgent, call: BridgeCall): Promise<rtc.RemoteParticipant> {
  const room = agent.room;
  const phone = await waitFor(
    () => [...room.remoteParticipants.values()].find(isBridgeParticipant),
    30_000,
    'the phone participant',
  );
  await waitForAudioReady(phone, { room, timeoutMs: 30_000 });
  say(`agent sees ${phone.identity}: kind ${rtc.ParticipantKind[phone.kind]}, metadata ${phone.metadata}`);
  for (const [k, v] of Object.entries(phone.attributes).sort(([a], [b]) => a.localeCompare(b)))
    say(`  attribute ${k} = ${v}`);
  say(`room ${call.roomName}: talking for ${TALK_MS / 1000} s`);
  await sleep(TALK_MS);
  return phone;
}

async function report(
  what: string,
  call: BridgeCall,
  ended: BridgeEnded,
  agent: DemoAgent,
  stream: SimulatedAgentStream,
): Promise<boolean> {
  const st = call.stats();
  say(
    `${what}: ended ${ended.reason} after ${ended.talkMs} ms; setup: active ${st.timings.active} ms after start`,
  );
  const s = st.stream;
  if (s !== undefined)
    say(
      `  stream at ${s.sampleRate} Hz: ${s.mediaReceived} media events in, ${s.chunksSent} chunks out ` +
        `(${s.sentMs} ms sent, ${s.heardMs} ms confirmed heard by marks), ${s.malformed} malformed`,
    );
  const byAgent = await toneOf(agent.heard);
  say(
    `  the agent heard the caller: ${byAgent.hz === 440 ? 'yes' : 'NO'} (dominant ${byAgent.hz} Hz over ${byAgent.ms} ms)`,
  );
  const pcm = stream.heardSamples();
  const byPhone = pcm.length > 0 ? dominantFrequency(pcm, stream.sampleRate, PROBES) : 0;
  say(
    `  the caller heard the agent: ${byPhone === 1000 ? 'yes' : 'NO'} (dominant ${byPhone} Hz over ${Math.round((pcm.length / stream.sampleRate) * 1000)} ms)`,
  );
  return byAgent.hz === 440 && byPhone === 1000 && (s?.malformed ?? 0) === 0;
}
