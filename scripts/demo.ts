/**
 * `npm run demo`: one bridged call, end to end, on embedded defaults.
 *
 * With no configuration it starts, on loopback: the pinned livekit-server (built once from
 * its Go module), the Exotel simulator (a real SIP/RTP far end playing a 440 Hz "voice"),
 * and a small test agent (a kind-AGENT participant playing a 1 kHz tone). It then places
 * one call with `placeOutboundCall` (one room, one dispatch, the bridge into that room),
 * lets both sides talk for a few seconds, has the agent end the call through
 * `lk.sip.EndCall`, and prints what it measured: setup timings, which tone each side heard,
 * packet counts, and whether teardown left anything behind. Exit code 0 only if both
 * directions were heard and nothing leaked.
 *
 * With LIVEKIT_URL (and key/secret) set it uses that server; with EXOTEL_CUSTOMER_IP,
 * EXOTEL_CALLER_ID and EXOTEL_FROM_DOMAIN set it dials the real trunk instead of the
 * simulator (DEMO_PHONE_NUMBER names the number), and cannot check what the phone heard.
 *
 * `npm run demo -- --inbound` runs the other direction instead (scripts/demo-inbound.ts):
 * the simulator calls in and `listenForCalls` + `acceptInboundCalls` take the call.
 * `npm run demo -- --agentstream` runs an inbound and an outbound call over Exotel's
 * AgentStream WebSocket instead of SIP (scripts/demo-agentstream.ts).
 */
process.env.NODE_ENV ??= 'production'; // keeps @livekit/rtc-node's debug logging quiet

import type { ExotelSettings } from '../src/index.js';
import {
  demoLogger,
  finishDemo,
  resources,
  runStops,
  say,
  sleep,
  startDemoAgent,
  startLiveKit,
  toneOf,
  toneOfPcm,
  waitFor,
  type Stops,
} from './demo-common.js';

async function main(): Promise<number> {
  if (process.argv.slice(2).includes('--agentstream')) {
    const { agentStreamDemo } = await import('./demo-agentstream.js');
    return agentStreamDemo();
  }
  if (process.argv.slice(2).includes('--inbound')) {
    const { inboundDemo } = await import('./demo-inbound.js');
    return inboundDemo();
  }
  const rtc = await import('@livekit/rtc-node');
  const sdk = await import('livekit-server-sdk');
  const lib = await import('../src/index.js');
  const agentLib = await import('../src/entries/agent.js');
  const { ExotelSimulator } = await import('../src/testing/index.js');
  const logger = demoLogger();

  const baseline = resources();
  const stops: Stops = [];
  try {
    // --- LiveKit
    const livekit = await startLiveKit(stops);

    // --- Exotel (or its simulator)
    const realTrunk = Boolean(process.env.EXOTEL_CUSTOMER_IP && process.env.EXOTEL_CALLER_ID);
    let exotel: Partial<ExotelSettings> = {};
    let sim: InstanceType<typeof ExotelSimulator> | undefined;
    const phoneNumber = process.env.DEMO_PHONE_NUMBER ?? '+919876543210';
    if (!realTrunk) {
      sim = new ExotelSimulator({
        host: '127.0.0.1',
        fromDomain: 'demo.sip.exotel.com',
        callerIds: ['08044319240'],
        behaviour: { ringAfterMs: 100, answerAfterMs: 400, play: { toneHz: 440, amplitude: 8000 } },
      });
      const { port } = await sim.start();
      const s = sim;
      stops.push(() => s.close());
      exotel = {
        sipHost: '127.0.0.1',
        sipPort: port,
        transport: 'tcp',
        customerIp: '127.0.0.1',
        customerSipPort: 0,
        mediaIp: '127.0.0.1',
        callerId: '08044319240',
        fromDomain: 'demo.sip.exotel.com',
      };
      say(`Exotel: simulator on 127.0.0.1:${port} (TCP), the "phone" says 440 Hz`);
    } else {
      say(
        `Exotel: ${process.env.EXOTEL_SIP_HOST ?? 'pstn.in1.exotel.com'} (from the environment), dialling ${phoneNumber}`,
      );
    }

    // --- the call: one room, one dispatch, the bridge into that room
    const { roomName, dispatchId, call } = await lib.placeOutboundCall({
      phoneNumber,
      agentType: 'demo',
      agentName: 'demo-agent',
      livekit,
      exotel,
      logger,
      statsLogIntervalMs: 1000,
      timeouts: { ringingMs: 30_000 },
    });
    say(`room ${roomName} created with agent dispatch ${dispatchId}`);

    // --- the test agent: joins that room as kind AGENT, says 1 kHz, records what it hears
    const agent = await startDemoAgent(livekit, roomName, stops, {
      toneHz: 1000,
      done: () => call.status === 'hangup',
    });

    // wait for the phone participant, then for "audio ready"
    const phoneP = await waitFor(
      () => [...agent.room.remoteParticipants.values()].find(agentLib.isBridgeParticipant),
      30_000,
    );
    say(
      `agent sees ${phoneP.identity}: kind ${rtc.ParticipantKind[phoneP.kind]}, metadata ${phoneP.metadata}`,
    );
    await agentLib.waitForAudioReady(phoneP, { room: agent.room, timeoutMs: 30_000 });
    say(`sip.callStatus = active (answered and first RTP received); talking for 3 s`);
    await sleep(3000);

    // the agent ends the call the LiveKit SIP way
    await agent.room.localParticipant!.performRpc({
      destinationIdentity: phoneP.identity,
      method: agentLib.RPC_END_CALL,
      payload: '',
    });
    const ended = await call.ended;
    await agent.stopSpeaking();
    const stats = call.stats();

    // --- what was measured
    say('');
    say('== result');
    say(`ended: ${ended.reason}, talked ${ended.talkMs} ms`);
    const t = stats.timings;
    say(
      `setup (ms from runBridge): LiveKit connected ${t.livekitConnected}, track published ${t.trackPublished}, ` +
        `INVITE sent ${t.inviteSent}, 200 OK ${t.answered}, first RTP in ${t.firstRtpReceived}, active ${t.active}`,
    );
    const rtp = stats.rtp;
    if (rtp)
      say(
        `RTP: ${rtp.packetsReceived} packets received, ${rtp.packetsSent} sent, ${rtp.lost} lost, jitter ${rtp.jitterMs.toFixed(2)} ms`,
      );

    let ok = true;
    const { hz: agentTone, ms: agentMs } = await toneOf(agent.heard);
    say(
      `the agent heard the phone: ${agentTone === 440 ? 'yes' : 'NO'} (${agent.tracks()} track(s), dominant ${agentTone} Hz over ${agentMs} ms)`,
    );
    ok &&= agentTone === 440;
    if (sim) {
      const simCall = sim.calls[0];
      const { hz: phoneTone, ms: phoneMs } = await toneOfPcm(simCall ? simCall.heard() : new Int16Array(0));
      say(
        `the phone heard the agent: ${phoneTone === 1000 ? 'yes' : 'NO'} (dominant ${phoneTone} Hz over ${phoneMs} ms)`,
      );
      ok &&= phoneTone === 1000;
      const byes = sim.requests.filter((r) => r.method === 'BYE').length;
      say(`BYE on the wire: ${byes}`);
      ok &&= byes === 1;
    }
    const svc = new sdk.RoomServiceClient(
      livekit.url.replace(/^ws/, 'http'),
      livekit.apiKey,
      livekit.apiSecret,
    );
    const left = await svc.listParticipants(roomName).catch(() => []);
    const phoneLeft = !left.some((p) => p.identity === phoneP.identity);
    say(`bridge participant gone from the room: ${phoneLeft ? 'yes' : 'NO'}`);
    ok &&= phoneLeft;

    return await finishDemo(stops, baseline, ok, 'demo');
  } finally {
    await runStops(stops);
  }
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error('demo failed:', err);
    process.exit(1);
  },
);
