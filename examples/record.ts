/**
 * Records an outbound call to a two-channel WAV with the bridge's audio taps: left what the
 * phone said, right what the room sent to the phone (8 kHz, 16-bit). The call goes like
 * examples/outbound.ts (one room, one dispatch of `--agent-name`) and is recorded until
 * either side hangs up, Ctrl-C, or for at most `--seconds`.
 *
 *   LIVEKIT_URL=… LIVEKIT_API_KEY=… LIVEKIT_API_SECRET=… EXOTEL_CUSTOMER_IP=… \
 *   EXOTEL_CALLER_ID=… EXOTEL_FROM_DOMAIN=… npx tsx examples/record.ts --phone +919876543210 --out call.wav
 *
 * `--simulate` needs no trunk: the call goes to an Exotel simulator in this process (from
 * `exotel-livekit-bridge/testing`) whose far end says 440 Hz; only LIVEKIT_* are read.
 *
 * With a real trunk, the same three steps matter: `audioTaps: true`, `call.on('audio', …)`
 * copying each 20 ms frame, and writing the channels out at the end.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  BridgeError,
  placeOutboundCall,
  shutdown,
  type ExotelSettings,
  type PlaceOutboundCallOptions,
} from 'exotel-livekit-bridge';
import { dominantFrequency } from 'exotel-livekit-bridge/media';
import { ExotelSimulator } from 'exotel-livekit-bridge/testing';

const USAGE =
  'usage: npx tsx examples/record.ts (--phone <number> | --simulate) [--out call.wav] [--seconds <max>] [--agent-name <name>] [--agent-type <type>]';
const RATE = 8000;
const FRAME = 160; // 20 ms at 8 kHz
/** The tones the simulator and these examples play: what the report picks from. */
const PROBES = [300, 440, 660, 1000, 2000];

function flags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      phone: { type: 'string' },
      simulate: { type: 'boolean', default: false },
      out: { type: 'string', default: 'call.wav' },
      seconds: { type: 'string', default: '60' },
      'agent-name': { type: 'string', default: process.env.AGENT_NAME ?? 'support-agent' },
      'agent-type': { type: 'string', default: 'support' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new TypeError('--seconds must be a positive number');
  if (!values.help && values.phone === undefined && !values.simulate)
    throw new TypeError('--phone or --simulate is needed');
  return { ...values, phone: values.phone ?? '+919876543210', seconds };
}

/** A WAV file of `channels` (16-bit PCM, equally long) at `rate`. */
function wav(channels: Int16Array[], rate: number): Buffer {
  const frames = Math.min(...channels.map((c) => c.length));
  const n = channels.length;
  const data = Buffer.alloc(frames * n * 2);
  for (let i = 0; i < frames; i++)
    for (let c = 0; c < n; c++) data.writeInt16LE(channels[c]![i]!, (i * n + c) * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16); // fmt chunk size
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(n, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * n * 2, 28);
  h.writeUInt16LE(n * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** `n` 20 ms frames in a row; the holes of a sparse `frames` are silence. */
function join(frames: (Int16Array | undefined)[], n: number): Int16Array {
  const out = new Int16Array(n * FRAME);
  for (let i = 0; i < n; i++) {
    const f = frames[i];
    if (f !== undefined) out.set(f.subarray(0, FRAME), i * FRAME);
  }
  return out;
}

/** The LIVEKIT_* variables alone. */
function liveKitEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('LIVEKIT_')));
}

/** The dominant probe tone of `pcm`, or "silence". */
function toneName(pcm: Int16Array): string {
  return pcm.some((v) => Math.abs(v) > 300) ? `${dominantFrequency(pcm, RATE, PROBES)} Hz` : 'silence';
}

async function record(opts: ReturnType<typeof flags>, exotel?: Partial<ExotelSettings>): Promise<number> {
  const ac = new AbortController(); // Ctrl-C hangs up; what was recorded is written
  const hangUp = (): void => ac.abort();
  process.once('SIGINT', hangUp).once('SIGTERM', hangUp);
  const options: PlaceOutboundCallOptions = {
    signal: ac.signal,
    phoneNumber: opts.phone,
    agentType: opts['agent-type'],
    agentName: opts['agent-name'],
    audioTaps: true,
    timeouts: { maxDurationMs: opts.seconds * 1000 },
    // Simulated: the trunk settings are the simulator's, and no EXOTEL_* variable applies.
    ...(exotel !== undefined ? { exotel, env: liveKitEnv() } : {}),
  };
  const { roomName, call } = await placeOutboundCall(options);
  console.log(`room ${roomName}: calling ${call.phoneNumber}`);
  // Both taps tick every 20 ms while the call is answered, the room's only while an agent
  // speaks: each room frame goes beside the phone frame that came with it. The frames are
  // reused by the bridge: copy them.
  const phone: Int16Array[] = [];
  const room: (Int16Array | undefined)[] = [];
  let next = 0;
  call.on('audio', ({ from, samples }) => {
    if (from === 'phone') phone.push(samples.slice());
    else {
      next = Math.max(next, phone.length - 1);
      room[next++] = samples.slice();
    }
  });
  call.on('answered', () => console.log(`answered: recording up to ${opts.seconds} s…`));
  const ended = await call.ended;
  process.off('SIGINT', hangUp).off('SIGTERM', hangUp);
  console.log(`ended: ${ended.reason}, talked ${ended.talkMs} ms`);
  if (ended.talkMs === 0) return 1;
  const frames = Math.max(phone.length, room.length);
  const left = join(phone, frames);
  const right = join(room, frames);
  writeFileSync(opts.out, wav([left, right], RATE));
  const seconds = (frames / 50).toFixed(1);
  console.log(
    `wrote ${opts.out}: ${seconds} s, left (phone) ${toneName(left)}, right (room) ${toneName(right)}`,
  );
  return 0;
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
  if (!opts.simulate) return record(opts);
  const sim = new ExotelSimulator({
    host: '127.0.0.1',
    behaviour: { play: { toneHz: 440, amplitude: 8000 } },
  });
  await sim.start();
  console.log(`simulated Exotel trunk on 127.0.0.1:${sim.address.port}`);
  try {
    return await record(opts, {
      sipHost: '127.0.0.1',
      sipPort: sim.address.port,
      transport: 'tcp',
      customerIp: '127.0.0.1',
      customerSipPort: 0,
      callerId: '08044319240',
      fromDomain: 'demo.sip.exotel.com',
    });
  } finally {
    await sim.close();
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof BridgeError ? `${err.code}: ${err.message}` : err);
  return 1;
});
await shutdown();
