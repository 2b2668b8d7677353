/**
 * `npm run demo -- --inbound`: one inbound call, end to end, on embedded defaults.
 *
 * On loopback it starts the local livekit-server (or uses LIVEKIT_URL and key/secret), the
 * Exotel simulator as the trunk, and `listenForCalls` with `acceptInboundCalls` as its
 * `onCall` (one room `demo-inbound-<4>-<uuid>`, one dispatch of `demo-agent`, the room
 * deleted when the call ends). The simulator then calls the Exophone as Exotel's trunk
 * would (`sim.callIn`, the caller saying 440 Hz); the test agent joins the room the
 * listener made (from the listener's `call` event) and says 1 kHz. After a few seconds the
 * caller hangs up, the listener is closed with `drain`, and the demo prints what it
 * measured: setup timings, what the agent sees of the phone participant, which tone each
 * side heard, and whether teardown left anything open. Exit code 0 only if both
 * directions were heard, the room got exactly one agent dispatch, and nothing was left
 * (room, participant, listener, SIP client, sockets, timers). The listener copies the
 * caller's `X-Exotel-*` headers into `sip.h.*` attributes (`includeHeaders: 'x-headers'`).
 *
 * Always the simulator: a real Exotel trunk would need a phone to dial in.
 */
import * as rtc from '@livekit/rtc-node';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import {
  acceptInboundCalls,
  listenForCalls,
  type AcceptDecision,
  type BridgeCall,
  type BridgeEnded,
  type IncomingCall,
  type InboundListener,
} from '../src/index.js';
import { isBridgeParticipant, waitForAudioReady } from '../src/entries/agent.js';
import { sharedSipClientCount } from '../src/entries/sip.js';
import { ExotelSimulator } from '../src/testing/index.js';
import {
  demoLogger,
  frames20ms,
  finishDemo,
  resources,
  runStops,
  say,
  sleep,
  startDemoAgent,
  startLiveKit,
  toneOf,
  waitFor,
  within,
  type DemoAgent,
  type Stops,
} from './demo-common.js';

const CALLER = '+919876543210';
const EXOPHONE = '08044319240';
const TALK_MS = 3000;

export async function inboundDemo(): Promise<number> {
  const logger = demoLogger();
  const baseline = resources();
  const stops: Stops = [];
  let t0 = performance.now();
  const marks: [string, number][] = [];
  const mark = (what: string): void =>
    void marks.push([what, Math.round((performance.now() - t0) * 10) / 10]);
  try {
    // --- LiveKit and the simulated trunk
    const livekit = await startLiveKit(stops);
    const rooms = new RoomServiceClient(
      livekit.url.replace(/^ws/, 'http'),
      livekit.apiKey,
      livekit.apiSecret,
    );
    const sim = new ExotelSimulator({ host: '127.0.0.1', fromDomain: 'demo.sip.exotel.com' });
    const { port: simPort } = await sim.start();
    stops.push(() => sim.close());
    say(`Exotel: simulator on 127.0.0.1:${simPort} (TCP) as the trunk; the caller will say 440 Hz`);

    // --- the listener: acceptInboundCalls makes one room and one dispatch per call; we only
    // time it, log the call it was offered, and note when its onEnded (the room's deletion) ran.
    const accept = acceptInboundCalls({
      agentName: 'demo-agent',
      agentType: 'demo',
      livekit,
      env: {},
      logger,
    });
    let offered: IncomingCall | undefined;
    let resolveCleaned!: (e: BridgeEnded | { reason: string }) => void;
    const cleaned = new Promise<BridgeEnded | { reason: string }>((r) => (resolveCleaned = r));
    const listener: InboundListener = await listenForCalls({
      livekit,
      exotel: {
        sipHost: '127.0.0.1',
        sipPort: simPort,
        transport: 'tcp',
        customerIp: '127.0.0.1',
        customerSipPort: 0,
        mediaIp: '127.0.0.1',
      },
      env: {},
      logger,
      includeHeaders: 'x-headers',
      statsLogIntervalMs: 1000,
      onCall: async (call) => {
        mark('INVITE reached onCall');
        offered = call;
        const decision = await accept(call);
        mark('onCall decided (room + dispatch made)');
        if ('reject' in decision) return decision;
        const done = decision.onEnded;
        const withCheck: AcceptDecision = {
          ...decision,
          onEnded: async (ended) => {
            await done?.(ended);
            resolveCleaned(ended);
          },
        };
        return withCheck;
      },
    });
    stops.push(() => listener.close());
    say(`listening for inbound calls on 127.0.0.1:${listener.port} (TCP)`);

    // --- the listener's `call` event names the room; the test agent joins it and says 1 kHz
    let bridge: BridgeCall | undefined;
    let agent: DemoAgent | undefined;
    let agentError: unknown;
    const agentJoined = new Promise<void>((resolve) => {
      listener.once('call', (b) => {
        bridge = b;
        mark("listener's call event");
        say(`call event: room ${b.roomName}, bridge identity ${b.identity}`);
        void startDemoAgent(livekit, b.roomName, stops, { toneHz: 1000, done: () => b.status === 'hangup' })
          .then((a) => ((agent = a), mark('agent connected and publishing')))
          .catch((err: unknown) => (agentError = err))
          .finally(resolve);
      });
    });

    // --- the simulated trunk calls the Exophone
    t0 = performance.now();
    const phoneCall = sim.callIn({
      target: { host: '127.0.0.1', port: listener.port, transport: 'tcp' },
      from: CALLER,
      to: EXOPHONE,
      play: { toneHz: 440, amplitude: 8000 },
    });
    stops.push(() => phoneCall.hangup());
    say(`simulator: calling ${EXOPHONE} from ${CALLER} (Call-ID ${phoneCall.callId})`);
    const answer = await phoneCall.answered;
    mark(`caller got ${answer.status}`);
    say(`caller: ${[...phoneCall.provisional, answer.status].join(' → ')} ${answer.reason}`);
    if (answer.status !== 200)
      throw new Error(`the call was not answered (${answer.status} ${answer.reason})`);
    if (offered) {
      say(
        `onCall was offered: from ${offered.from} to ${offered.to} via ${offered.source.transport} ` +
          `${offered.source.address}:${offered.source.port}, X-Exotel-CallSid ${offered.headers['X-Exotel-CallSid']}`,
      );
    }
    await agentJoined;
    if (agent === undefined || bridge === undefined) throw agentError ?? new Error('no call event');
    const call = bridge;
    const room = agent.room;
    const dispatches = await new AgentDispatchClient(
      livekit.url.replace(/^ws/, 'http'),
      livekit.apiKey,
      livekit.apiSecret,
    ).listDispatch(call.roomName);
    // livekit-server adds its own automatic dispatch (agentName "") to every new room.
    const named = dispatches.filter((d) => d.agentName !== '').map((d) => d.agentName);
    say(`room ${call.roomName}: ${named.length} agent dispatch(es) (${named.join(', ')})`);

    // --- what the agent sees of the phone
    const phoneP = await waitFor(
      () => [...room.remoteParticipants.values()].find(isBridgeParticipant),
      30_000,
      'the phone participant',
    );
    mark('agent sees the phone participant');
    await waitForAudioReady(phoneP, { room, timeoutMs: 30_000 });
    mark('audio ready (sip.callStatus active)');
    say(
      `agent sees ${phoneP.identity}: kind ${rtc.ParticipantKind[phoneP.kind]}, metadata ${phoneP.metadata}`,
    );
    for (const [k, v] of Object.entries(phoneP.attributes).sort(([a], [b]) => a.localeCompare(b)))
      say(`  attribute ${k} = ${v}`);
    say(`talking for ${TALK_MS / 1000} s`);
    await sleep(TALK_MS);

    // --- the caller hangs up
    await phoneCall.hangup();
    const ended = await call.ended;
    await agent.stopSpeaking();
    const cleanup = await within(cleaned, 10_000);
    const stats = call.stats();

    // --- what was measured
    say('');
    say('== result');
    say(
      `ended: ${ended.reason}, talked ${ended.talkMs} ms (the simulator: ended by the ${(await phoneCall.ended).by})`,
    );
    say(`setup (ms from callIn): ${marks.map(([w, ms]) => `${w} ${ms}`).join(', ')}`);
    const t = stats.timings;
    say(
      `setup (ms from the bridge's start): LiveKit connected ${t.livekitConnected}, track published ${t.trackPublished}, ` +
        `200 OK sent ${t.answered}, first RTP in ${t.firstRtpReceived}, active ${t.active}`,
    );
    const rtp = stats.rtp;
    if (rtp)
      say(
        `RTP: ${rtp.packetsReceived} packets received, ${rtp.packetsSent} sent, ${rtp.lost} lost, jitter ${rtp.jitterMs.toFixed(2)} ms`,
      );

    let ok = true;
    const heardByAgent = await toneOf(agent.heard);
    say(
      `the agent heard the caller: ${heardByAgent.hz === 440 ? 'yes' : 'NO'} (${agent.tracks()} track(s), dominant ${heardByAgent.hz} Hz over ${heardByAgent.ms} ms)`,
    );
    ok &&= heardByAgent.hz === 440;
    const heardByCaller = await toneOf(frames20ms(phoneCall.heard()));
    say(
      `the caller heard the agent: ${heardByCaller.hz === 1000 ? 'yes' : 'NO'} (dominant ${heardByCaller.hz} Hz over ${heardByCaller.ms} ms)`,
    );
    ok &&= heardByCaller.hz === 1000;
    ok &&= named.length === 1;

    // --- teardown: the room (deleted by acceptInboundCalls' onEnded), the participant, the listener
    say(`room deleted by onEnded: ${cleanup !== undefined ? 'yes' : 'NO (onEnded did not finish in 10 s)'}`);
    const roomLeft = (await rooms.listRooms([call.roomName])).length > 0;
    say(`room gone from the server: ${roomLeft ? 'NO' : 'yes'}`);
    const left = await rooms.listParticipants(call.roomName).catch(() => []);
    const phoneGone = !left.some((p) => p.identity === phoneP.identity);
    say(`bridge participant gone: ${phoneGone ? 'yes' : 'NO'}`);
    ok &&= cleanup !== undefined && !roomLeft && phoneGone;
    await listener.close({ drain: true, drainTimeoutMs: 5000 });
    const listenerClosed =
      listener.status === 'closed' && listener.activeCalls === 0 && sharedSipClientCount() === 0;
    say(
      `listener closed (drain): ${listenerClosed ? 'yes' : 'NO'} (status ${listener.status}, ` +
        `${listener.activeCalls} active call(s), ${sharedSipClientCount()} SIP client(s) open)`,
    );
    ok &&= listenerClosed;

    return await finishDemo(stops, baseline, ok, 'inbound demo');
  } finally {
    await runStops(stops);
  }
}
