/**
 * Pieces shared by the outbound demo (scripts/demo.ts) and the inbound one
 * (scripts/demo-inbound.ts): output, a logger that prints the bridge's log points, the
 * local livekit-server, the test agent (a kind-AGENT participant that speaks a tone and
 * records what the phone says), tone measurement and the leaked-handle check.
 *
 * Only type imports at the top: `@livekit/rtc-node` and the library are loaded lazily, after
 * scripts/demo.ts has set NODE_ENV (which keeps @livekit/rtc-node's debug logging quiet).
 */
import type { Room } from '@livekit/rtc-node';
import type { Logger } from '../src/index.js';

export const say = (s: string): void => void process.stdout.write(`${s}\n`);

/** Teardown steps, run in reverse order. */
export type Stops = (() => Promise<unknown>)[];

export async function runStops(stops: Stops): Promise<void> {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
}

export interface LiveKitCredentials {
  url: string;
  apiKey: string;
  apiSecret: string;
}

/** LiveKit from LIVEKIT_URL (and key/secret), else the local livekit-server (stopped by `stops`). */
export async function startLiveKit(stops: Stops): Promise<LiveKitCredentials> {
  if (process.env.LIVEKIT_URL) {
    const livekit = {
      url: process.env.LIVEKIT_URL,
      apiKey: process.env.LIVEKIT_API_KEY ?? '',
      apiSecret: process.env.LIVEKIT_API_SECRET ?? '',
    };
    say(`LiveKit: ${livekit.url} (from the environment)`);
    return livekit;
  }
  const { startLiveKitServer } = await import('../test/harness/livekit-server.js');
  say('LiveKit: starting the local livekit-server (built once from its Go module)…');
  const server = await startLiveKitServer({ quiet: false });
  stops.push(() => server.stop());
  say(`LiveKit: ${server.url}`);
  return { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret };
}

/** A logger printing the bridge's `[BRIDGE]`/`[SIP]`/`[RTP]` info lines, warnings and errors. */
export function demoLogger(): Logger {
  const fmt = (a: string | Record<string, unknown>, b?: string) => (typeof a === 'string' ? a : (b ?? ''));
  const logger: Logger = {
    debug: () => {},
    info: (a: string | Record<string, unknown>, b?: string) => {
      const m = fmt(a, b);
      if (/^\[(BRIDGE|SIP|RTP)\]/.test(m)) say(`  log  ${m}`);
    },
    warn: (a: string | Record<string, unknown>, b?: string) => say(`  warn ${fmt(a, b)}`),
    error: (a: string | Record<string, unknown>, b?: string) => say(`  err  ${fmt(a, b)}`),
    child: () => logger,
  };
  return logger;
}

export interface DemoAgent {
  room: Room;
  /** 20 ms frames (8 kHz) heard from the bridge participant, at most 2000. */
  heard: Int16Array[];
  /** Bridge-participant audio tracks subscribed so far. */
  tracks(): number;
  /** Stops the tone and closes the audio source. */
  stopSpeaking(): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * The test agent: joins `roomName` as kind AGENT (identity `demo-agent`), records what the
 * bridge participant says until `done()` and speaks a `toneHz` tone. Pushes its disconnect
 * onto `stops` once connected.
 */
export async function startDemoAgent(
  livekit: LiveKitCredentials,
  roomName: string,
  stops: Stops,
  opts: { toneHz: number; done: () => boolean },
): Promise<DemoAgent> {
  const rtc = await import('@livekit/rtc-node');
  const sdk = await import('livekit-server-sdk');
  const agentLib = await import('../src/entries/agent.js');
  const mediaLib = await import('../src/entries/media.js');
  const at = new sdk.AccessToken(livekit.apiKey, livekit.apiSecret, { identity: 'demo-agent' });
  at.kind = 'agent';
  at.addGrant({
    roomJoin: true,
    room: roomName,
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
  });
  const room = new rtc.Room();
  const heard: Int16Array[] = [];
  let readers = 0;
  room.on(rtc.RoomEvent.TrackSubscribed, (track, _pub, participant) => {
    if (track.kind !== rtc.TrackKind.KIND_AUDIO || !agentLib.isBridgeParticipant(participant)) return;
    readers += 1;
    void (async () => {
      const stream = new rtc.AudioStream(track, { sampleRate: 8000, numChannels: 1, frameSizeMs: 20 });
      for await (const f of stream) {
        if (heard.length < 2000) heard.push(f.data.slice());
        if (opts.done()) break;
      }
      await stream.cancel().catch(() => undefined);
    })();
  });
  await room.connect(livekit.url, await at.toJwt(), { autoSubscribe: true, dynacast: false });
  stops.push(() => room.disconnect());
  const source = new rtc.AudioSource(8000, 1, 100);
  await room.localParticipant!.publishTrack(
    rtc.LocalAudioTrack.createAudioTrack('agent-voice', source),
    new rtc.TrackPublishOptions({ source: rtc.TrackSource.SOURCE_MICROPHONE }),
  );
  let speaking = true;
  const speaker = (async () => {
    let n = 0;
    while (speaking) {
      await source.captureFrame(
        new rtc.AudioFrame(mediaLib.generateTone(opts.toneHz, 8000, 160, 8000, n), 8000, 1, 160),
      );
      n += 160;
    }
    await source.close();
  })();
  return {
    room,
    heard,
    tracks: () => readers,
    stopSpeaking: async () => {
      speaking = false;
      await speaker;
    },
    disconnect: () => room.disconnect(),
  };
}

/** The frequencies the demos tell apart: the phone says 440 Hz, the agent 1 kHz. */
export const PROBES = [300, 440, 700, 1000, 2000];

/** The dominant probe frequency of 8 kHz PCM (0 Hz when empty), and over how many ms. */
export async function toneOfPcm(pcm: Int16Array): Promise<{ hz: number; ms: number }> {
  const { dominantFrequency } = await import('../src/rtp/goertzel.js');
  return { hz: pcm.length > 0 ? dominantFrequency(pcm, 8000, PROBES) : 0, ms: pcm.length / 8 };
}

/** {@link toneOfPcm} of the frames louder than `threshold` (leaves out the silence before anyone spoke). */
export function toneOf(frames: Int16Array[], threshold = 300): Promise<{ hz: number; ms: number }> {
  return toneOfPcm(concat(frames.filter((f) => f.some((v) => Math.abs(v) > threshold))));
}

/** Cuts 8 kHz PCM into 20 ms frames. */
export function frames20ms(pcm: Int16Array): Int16Array[] {
  const out: Int16Array[] = [];
  for (let o = 0; o < pcm.length; o += 160) out.push(pcm.subarray(o, Math.min(o + 160, pcm.length)));
  return out;
}

export type Resources = Record<string, number>;

/** Node's active handles by kind (`TCPSocketWrap`, `UDPWrap`, `Timeout`, …). */
export function resources(): Resources {
  const out: Resources = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}
const HANDLES = ['TCPSocketWrap', 'TCPServerWrap', 'UDPWrap', 'Timeout'];

/** Handles (sockets, servers, timers) open now beyond `baseline`, e.g. `UDPWrap +1`. */
export function leakedHandles(baseline: Resources): string[] {
  const after = resources();
  return HANDLES.filter((h) => (after[h] ?? 0) > (baseline[h] ?? 0)).map(
    (h) => `${h} +${(after[h] ?? 0) - (baseline[h] ?? 0)}`,
  );
}

export function concat(frames: Int16Array[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `f` every 50 ms until it gives a value; throws `timed out: <what>` after `ms`. */
export async function waitFor<T>(
  f: () => T | undefined | Promise<T | undefined>,
  ms: number,
  what = '',
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(what ? `timed out: ${what}` : 'timed out');
    await sleep(50);
  }
}

/** A promise with a deadline: resolves `undefined` when `ms` pass first. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The end every demo shares: stop what it started, dispose rtc-node, check that no handle
 * outlived the call, and print the verdict. Returns the exit code.
 */
export async function finishDemo(
  stops: Stops,
  baseline: Resources,
  ok: boolean,
  what: string,
): Promise<number> {
  await runStops(stops);
  const rtc = await import('@livekit/rtc-node');
  await rtc.dispose();
  await sleep(200);
  const leaked = leakedHandles(baseline);
  say(`teardown left nothing behind: ${leaked.length === 0 ? 'yes' : `NO (${leaked.join(', ')})`}`);
  const good = ok && leaked.length === 0;
  say(good ? `\n${what} OK: both directions heard, clean teardown` : `\n${what} FAILED`);
  return good ? 0 : 1;
}
