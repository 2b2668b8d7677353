/**
 * An agent-side sketch without the Agents framework: joins a room as kind AGENT, finds the
 * bridge's phone participant, waits until its audio flows (`sip.callStatus` = `active`: the
 * call was answered and RTP arrives), greets it with a tone while listening, reports what it
 * heard and, with `--hangup`, ends the call (`lk.sip.EndCall`).
 *
 *   LIVEKIT_URL=… LIVEKIT_API_KEY=… LIVEKIT_API_SECRET=… \
 *   npx tsx examples/agent.ts --room <room> [--tone 660] [--listen 2000] [--hangup]
 *
 * Exit code: 0 when the phone was heard, 1 when not (or on an error), 2 for bad flags.
 */
import { parseArgs } from 'node:util';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  dispose,
  type RemoteParticipant,
} from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { dominantFrequency, generateTone } from 'exotel-livekit-bridge/media';
import { endCall, isBridgeParticipant, waitForAudioReady } from 'exotel-livekit-bridge/agent';

const USAGE =
  'usage: npx tsx examples/agent.ts --room <room> [--identity <id>] [--tone <Hz>] [--listen <ms>] [--timeout <s>] [--hangup]';
const RATE = 8000;
const FRAME = 160; // 20 ms at 8 kHz
/** The tones the simulator and these examples play: what the report picks from. */
const PROBES = [300, 440, 660, 1000, 2000];

function flags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      room: { type: 'string' },
      identity: { type: 'string', default: 'example-agent' },
      tone: { type: 'string', default: '660' },
      listen: { type: 'string', default: '2000' },
      timeout: { type: 'string', default: '60' },
      hangup: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [tone, listen, timeout] = [Number(values.tone), Number(values.listen), Number(values.timeout)];
  if (!values.help && values.room === undefined) throw new TypeError('--room is missing');
  if (!(tone > 0 && tone < RATE / 2) || !(listen > 0) || !(timeout > 0))
    throw new TypeError('--tone must be 1–3999 Hz, --listen and --timeout positive');
  return { ...values, room: values.room ?? '', tone, listen, timeout };
}

async function run(opts: ReturnType<typeof flags>, room: Room): Promise<number> {
  const { LIVEKIT_URL: url, LIVEKIT_API_KEY: key, LIVEKIT_API_SECRET: secret } = process.env;
  if (!url || !key || !secret) throw new Error('set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET');
  const at = new AccessToken(key, secret, { identity: opts.identity });
  at.kind = 'agent';
  at.addGrant({ roomJoin: true, room: opts.room, canPublish: true, canSubscribe: true });

  // Handlers before connect(), so that nothing published meanwhile is missed.
  const heard: Int16Array[] = [];
  let listening = true;
  room.on(RoomEvent.TrackSubscribed, (track, _pub, participant) => {
    if (track.kind !== TrackKind.KIND_AUDIO || !isBridgeParticipant(participant)) return;
    void (async () => {
      const stream = new AudioStream(track, { sampleRate: RATE, numChannels: 1, frameSizeMs: 20 });
      for await (const frame of stream) {
        if (!listening) break;
        heard.push(frame.data.slice());
      }
    })();
  });
  const joins = new Promise<RemoteParticipant>((resolve) => {
    room.on(RoomEvent.ParticipantConnected, (p) => {
      if (isBridgeParticipant(p)) resolve(p);
    });
  });
  await room.connect(url, await at.toJwt(), { autoSubscribe: true, dynacast: false });
  console.log(`joined room ${opts.room} as ${opts.identity}`);
  const source = new AudioSource(RATE, 1, 100);
  await room.localParticipant!.publishTrack(
    LocalAudioTrack.createAudioTrack('agent', source),
    new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
  );

  const timeout = AbortSignal.timeout(opts.timeout * 1000);
  // rtc-node emits no event for those already in the room: they are listed once connected.
  const present = [...room.remoteParticipants.values()].find((p) => isBridgeParticipant(p));
  const p =
    present ??
    (await Promise.race([
      joins,
      new Promise<never>((_, reject) =>
        timeout.addEventListener('abort', () => reject(new Error('no phone participant joined'))),
      ),
    ]));
  console.log(`phone participant ${p.identity} joined; waiting for its audio…`);
  await waitForAudioReady(p, { room, signal: timeout });
  console.log(`audio ready: greeting with ${opts.tone} Hz for ${opts.listen} ms while listening`);
  heard.length = 0; // only what the phone said while we spoke
  for (let n = 0; n < opts.listen / 20; n++) {
    // captureFrame resolves as its 100 ms queue drains: this loop runs in real time.
    await source.captureFrame(
      new AudioFrame(generateTone(opts.tone, RATE, FRAME, 6000, n * FRAME), RATE, 1, FRAME),
    );
  }
  await source.waitForPlayout();
  listening = false;

  const loud = heard.filter((f) => f.some((v) => Math.abs(v) > 300));
  const pcm = new Int16Array(loud.length * FRAME);
  loud.forEach((f, i) => pcm.set(f.subarray(0, FRAME), i * FRAME));
  if (pcm.length === 0) console.log('heard nothing from the phone');
  else console.log(`heard ${dominantFrequency(pcm, RATE, PROBES)} Hz from the phone (${pcm.length / 8} ms)`);

  if (opts.hangup) {
    await endCall(room.localParticipant!, p.identity);
    console.log('hung up (lk.sip.EndCall)');
  }
  await source.close();
  return pcm.length > 0 ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof flags>;
  try {
    opts = flags(argv);
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const room = new Room();
  try {
    return await run(opts, room);
  } finally {
    await room.disconnect();
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  return 1;
});
// This process loaded rtc-node itself (the bridge's shutdown() disposes only what a call
// loaded): dispose its native runtime so that the process can exit.
await dispose();
