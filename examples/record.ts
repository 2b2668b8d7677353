/**
 * Records a call to a two-channel WAV with the bridge's audio taps: left the phone, right
 * what the room sent to the phone (8 kHz, 16-bit). Runs one simulator call on embedded
 * defaults (the local livekit-server, or LIVEKIT_URL/KEY/SECRET; the Exotel simulator
 * playing 440 Hz; a test agent saying 1 kHz):
 *
 *   npx tsx examples/record.ts [out.wav]
 *
 * With a real trunk, the same three lines matter: `runBridge({ …, audioTaps: true })`,
 * `call.on('audio', …)` copying each 20 ms frame, and writing the channels out at the end.
 */
import { writeFileSync } from 'node:fs';
import { dispose } from '@livekit/rtc-node';
import { RoomServiceClient } from 'livekit-server-sdk';
import { dominantFrequency } from '../src/entries/media.js';
import { runBridge } from '../src/index.js';
import { ExotelSimulator } from '../src/testing/index.js';
import { runStops, say, startDemoAgent, startLiveKit, type Stops } from '../scripts/demo-common.js';

/** A WAV file of `channels` (equal length, 16-bit PCM) at `rate`. */
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

function join(frames: Int16Array[]): Int16Array {
  const out = new Int16Array(frames.length * 160);
  frames.forEach((f, i) => out.set(f, i * 160));
  return out;
}

async function main(): Promise<number> {
  const out = process.argv[2] ?? 'call.wav';
  const stops: Stops = [];
  try {
    const livekit = await startLiveKit(stops);
    const roomName = `record-${Date.now()}`;
    const rooms = new RoomServiceClient(
      livekit.url.replace(/^ws/, 'http'),
      livekit.apiKey,
      livekit.apiSecret,
    );
    await rooms.createRoom({ name: roomName, emptyTimeout: 30 });
    stops.push(() => rooms.deleteRoom(roomName));
    const sim = new ExotelSimulator({
      host: '127.0.0.1',
      behaviour: { play: { toneHz: 440, amplitude: 8000 } },
    });
    await sim.start();
    stops.push(() => sim.close());
    let recording = true;
    await startDemoAgent(livekit, roomName, stops, { toneHz: 1000, done: () => !recording });

    const phone: Int16Array[] = [];
    const room: Int16Array[] = [];
    const call = runBridge({
      roomName,
      phoneNumber: '+919876543210',
      livekit,
      exotel: {
        sipHost: '127.0.0.1',
        sipPort: sim.address.port,
        customerIp: '127.0.0.1',
        customerSipPort: 0,
        callerId: '08044319240',
        fromDomain: 'demo.sip.exotel.com',
      },
      env: {},
      audioTaps: true,
    });
    // The frames are reused by the bridge: copy them.
    call.on('audio', ({ from, samples }) => (from === 'phone' ? phone : room).push(samples.slice()));
    await call.answered;
    say('answered; recording 4 s…');
    await new Promise((r) => setTimeout(r, 4000));
    recording = false;
    await call.hangup();
    // Both taps run on the same 20 ms clock of the call; line them up at the end.
    const left = join(phone);
    const right = join(room.slice(-phone.length));
    writeFileSync(out, wav([left, right], 8000));
    const probes = [300, 440, 700, 1000, 2000];
    const hz = (x: Int16Array): number => dominantFrequency(x, 8000, probes);
    say(
      `wrote ${out}: ${(left.length / 8000).toFixed(1)} s, left (phone) ${hz(left)} Hz, right (room) ${hz(right)} Hz`,
    );
    return hz(left) === 440 && hz(right) === 1000 ? 0 : 1;
  } finally {
    await runStops(stops);
    await dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
