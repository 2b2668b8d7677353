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
 */
process.env.NODE_ENV ??= 'production'; // keeps @livekit/rtc-node's debug logging quiet

import type { ExotelSettings, Logger } from '../src/index.js';

type Resources = Record<string, number>;
function resources(): Resources {
  const out: Resources = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}
const HANDLES = ['TCPSocketWrap', 'TCPServerWrap', 'UDPWrap', 'Timeout'];

async function main(): Promise<number> {
  const rtc = await import('@livekit/rtc-node');
  const sdk = await import('livekit-server-sdk');
  const lib = await import('../src/index.js');
  const { ExotelSimulator } = await import('../src/testing/index.js');
  const { startLiveKitServer } = await import('../test/harness/livekit-server.js');

  const say = (s: string) => process.stdout.write(`${s}\n`);
  const logLines: string[] = [];
  const fmt = (a: string | Record<string, unknown>, b?: string) => (typeof a === 'string' ? a : (b ?? ''));
  const logger: Logger = {
    debug: () => {},
    info: (a: string | Record<string, unknown>, b?: string) => {
      const m = fmt(a, b);
      if (/^\[(BRIDGE|SIP|RTP)\]/.test(m)) {
        logLines.push(m);
        say(`  log  ${m}`);
      }
    },
    warn: (a: string | Record<string, unknown>, b?: string) => say(`  warn ${fmt(a, b)}`),
    error: (a: string | Record<string, unknown>, b?: string) => say(`  err  ${fmt(a, b)}`),
    child: () => logger,
  };

  const baseline = resources();
  const stops: (() => Promise<unknown>)[] = [];
  try {
    // --- LiveKit
    let livekit: { url: string; apiKey: string; apiSecret: string };
    if (process.env.LIVEKIT_URL) {
      livekit = {
        url: process.env.LIVEKIT_URL,
        apiKey: process.env.LIVEKIT_API_KEY ?? '',
        apiSecret: process.env.LIVEKIT_API_SECRET ?? '',
      };
      say(`LiveKit: ${livekit.url} (from the environment)`);
    } else {
      say('LiveKit: starting the local livekit-server (built once from its Go module)…');
      const server = await startLiveKitServer({ quiet: false });
      stops.push(() => server.stop());
      livekit = { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret };
      say(`LiveKit: ${livekit.url}`);
    }

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
    const at = new sdk.AccessToken(livekit.apiKey, livekit.apiSecret, { identity: 'demo-agent' });
    at.kind = 'agent';
    at.addGrant({
      roomJoin: true,
      room: roomName,
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
    });
    const agent = new rtc.Room();
    const heardByAgent: Int16Array[] = [];
    let readers = 0;
    agent.on(rtc.RoomEvent.TrackSubscribed, (track, _pub, participant) => {
      if (track.kind !== rtc.TrackKind.KIND_AUDIO || !lib.isBridgeParticipant(participant)) return;
      readers += 1;
      void (async () => {
        const stream = new rtc.AudioStream(track, { sampleRate: 8000, numChannels: 1, frameSizeMs: 20 });
        for await (const f of stream) {
          if (heardByAgent.length < 2000) heardByAgent.push(f.data.slice());
          if (call.status === 'hangup') break;
        }
        await stream.cancel().catch(() => undefined);
      })();
    });
    await agent.connect(livekit.url, await at.toJwt(), { autoSubscribe: true, dynacast: false });
    stops.push(() => agent.disconnect());
    const source = new rtc.AudioSource(8000, 1, 100);
    await agent.localParticipant!.publishTrack(
      rtc.LocalAudioTrack.createAudioTrack('agent-voice', source),
      new rtc.TrackPublishOptions({ source: rtc.TrackSource.SOURCE_MICROPHONE }),
    );
    let speaking = true;
    const speaker = (async () => {
      let n = 0;
      while (speaking) {
        await source.captureFrame(
          new rtc.AudioFrame(lib.generateTone(1000, 8000, 160, 8000, n), 8000, 1, 160),
        );
        n += 160;
      }
      await source.close();
    })();

    // wait for the phone participant, then for "audio ready"
    const phoneP = await waitFor(
      () => [...agent.remoteParticipants.values()].find(lib.isBridgeParticipant),
      30_000,
    );
    say(
      `agent sees ${phoneP.identity}: kind ${rtc.ParticipantKind[phoneP.kind]}, metadata ${phoneP.metadata}`,
    );
    await lib.waitForAudioReady(phoneP, { room: agent, timeoutMs: 30_000 });
    say(`sip.callStatus = active (answered and first RTP received); talking for 3 s`);
    await sleep(3000);

    // the agent ends the call the LiveKit SIP way
    await agent.localParticipant!.performRpc({
      destinationIdentity: phoneP.identity,
      method: lib.RPC_END_CALL,
      payload: '',
    });
    const ended = await call.ended;
    speaking = false;
    await speaker;
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
    const probes = [300, 440, 700, 1000, 2000];
    const agentHeard = concat(heardByAgent.filter((f) => f.some((v) => Math.abs(v) > 300)));
    const agentTone = agentHeard.length > 0 ? lib.dominantFrequency(agentHeard, 8000, probes) : 0;
    say(
      `the agent heard the phone: ${agentTone === 440 ? 'yes' : 'NO'} (${readers} track(s), dominant ${agentTone} Hz over ${agentHeard.length / 8} ms)`,
    );
    ok &&= agentTone === 440;
    if (sim) {
      const simCall = sim.calls[0];
      const phoneHeard = simCall ? simCall.heard() : new Int16Array(0);
      const phoneTone = phoneHeard.length > 0 ? lib.dominantFrequency(phoneHeard, 8000, probes) : 0;
      say(
        `the phone heard the agent: ${phoneTone === 1000 ? 'yes' : 'NO'} (dominant ${phoneTone} Hz over ${phoneHeard.length / 8} ms)`,
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

    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
    await rtc.dispose();
    await sleep(200);
    const after = resources();
    const leaked = HANDLES.filter((h) => (after[h] ?? 0) > (baseline[h] ?? 0)).map(
      (h) => `${h} +${(after[h] ?? 0) - (baseline[h] ?? 0)}`,
    );
    say(`teardown left nothing behind: ${leaked.length === 0 ? 'yes' : `NO (${leaked.join(', ')})`}`);
    ok &&= leaked.length === 0;
    say(ok ? '\ndemo OK: both directions heard, clean teardown' : '\ndemo FAILED');
    return ok ? 0 : 1;
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  }
}

function concat(frames: Int16Array[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor<T>(f: () => T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error('demo failed:', err);
    process.exit(1);
  },
);
