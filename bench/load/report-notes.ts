/**
 * Sections of docs/performance.md that explain figures of the run rather than list them:
 * the JS main thread's profile (from its own command, `LOAD_PROFILE=1` + scripts/profile-summary.mjs)
 * and what publishing G.711 into the room would save (from this run's per-thread CPU).
 */
import type { LoadReport, StepResult, SystemResult } from './report.js';
import { threadGroups } from './thread-groups.js';

const f = (v: number | undefined, d = 1): string =>
  v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d);

/** G.711 encode of one 20 ms frame, ns (bench/results/codec.json, `npm run bench`, 2026-12-04). */
const G711_ENCODE_NS_PER_FRAME = 446;

/** "The road to G.711 in the room": the Opus share measured in this run, and why it stays. */
export function g711Section(ours: SystemResult | undefined): string[] {
  const st: StepResult | undefined =
    ours?.steps.find((s) => s.calls === 10) ?? ours?.steps[ours.steps.length - 1];
  const g = st && threadGroups(st);
  const out = ['## The road to G.711 in the room', ''];
  const g711MsPerCallS = (G711_ENCODE_NS_PER_FRAME * 50) / 1e6;
  if (st && g) {
    const enc = g.groups[1]!;
    const dev = g.groups[3]!;
    out.push(
      `In this run, at ${st.calls} calls, the Opus encoder threads (\`AudioEncoder\`) took ${f(enc)} ms per call-second, ${f((100 * enc) / Math.max(0.001, g.total), 0)} % of the bridge process (${f(g.total)} ms). ` +
        `That is the phone → room leg: the phone's 8 kHz G.711 is decoded by us, handed to the native source at 8 kHz, resampled to 48 kHz and Opus-encoded (complexity 9, 48 kbit/s by default, RED and DTX on). ` +
        `Encoding the same audio as PCMU or PCMA costs about ${G711_ENCODE_NS_PER_FRAME} ns a frame in this library's own codec (\`npm run bench\`, codec), ${f(g711MsPerCallS, 3)} ms per call-second: publishing G.711 would save about ${f(enc - g711MsPerCallS)} ms per call-second here (the encoder threads), plus the resampling up to 48 kHz, which this run does not attribute to a thread. ` +
        `The other direction would not change unless the agents published G.711 too: the agent's Opus is decoded and resampled to 8 kHz on the native audio device thread (the audio device / capture / decode group, ${f(dev)} ms per call-second).`,
    );
  } else out.push('Per-thread CPU was not recorded in this run, so the Opus share is not known from it.');
  out.push(
    '',
    'livekit-server v1.13.5 enables PCMU and PCMA by default (`room.enabled_codecs` in its config: PCMU, PCMA, Opus, RED, …), so the room itself would take a G.711 track. The publisher cannot ask for one: `TrackPublishOptions` in `@livekit/rtc-node` 1.1.0 (the newest release on npm), and in the newest FFI bindings (`@livekit/rtc-ffi-bindings` 0.12.76), has `audioEncoding` (a maximum bitrate), `dtx`, `red` and a video codec, but no audio codec; the native side offers its codecs with Opus first. So this library does not publish G.711, and there is no option for it. The levers it has (`runBridge({ livekitMedia })`: queue, RED, DTX, maximum bitrate) are measured in "Levers" above.',
    '',
  );
  return out;
}

/** "The JS main thread": what a CPU profile of the bridge worker shows (its own runs, not this one). */
export function jsProfileSection(r: LoadReport): string[] {
  void r;
  return [
    '## The JS main thread',
    '',
    "How to look: `LOAD_SYSTEMS=bridge LOAD_STEPS=10 LOAD_WINDOW_S=15 LOAD_DOCS=0 LOAD_PROFILE=1 npm run bench:load` writes a V8 CPU profile of the bridge worker to `bench/results/profile/`; `node scripts/profile-summary.mjs <file>.cpuprofile --from 6 --to 20 --calls 10` prints its self time by group, function and file. The V8 profiler counts time a thread sleeps inside a call (the pacer's short `Atomics.wait`, a blocking native call) as busy: read shares, not absolutes.",
    '',
    'What the profiles showed (2026-12-05, 10 calls, runs on a machine kept busy by other work; the figures are from those runs, not from the run on this page):',
    '',
    '| function (self time, steady window) | before | after |',
    '| --- | --- | --- |',
    "| `spinSliceWait` (the pacer's wait before each deadline) | 3,704 ms, 66.9 % | 991 ms, 22.4 % |",
    '| `capture` (the native capture request; mostly waiting for the CPU, not work) | 538 ms, 9.7 % | 1,447 ms, 32.7 % |',
    '| `doSend` (node:dgram) | 196 ms | 341 ms |',
    '| protobuf decoding, all | 154 ms, 2.8 % | 60 ms, 1.3 % |',
    '',
    "Two changes came out of it. The pacer: sessions now share a wake-up (up to 16 per 5 ms phase) instead of each taking its own, with 0.5 ms sleep slices and a 0.05 ms final busy-wait (were 0.25 and 0.15); ten sending sessions cost 20–28 instead of about 75 ms of CPU a second, and the send lateness p50 rose from about 0.03 to 0.08 ms. The FFI path: the two per-frame native events (a frame received on one of our streams, a capture of ours completed) are read from their bytes before rtc-node's protobuf decoder (about 0.4 instead of 4.5–6 µs an event). Over three runs each, the JS main thread went from about 13.5 to about 9.6 ms per call-second at 10 calls.",
    '',
    "The target of 3 ms per call-second is **missed**. A `perf record -g` of the worker's main thread after both changes put 25 % of its on-CPU samples inside rtc-node's native code (18 % delivering FFI events to JavaScript: about 1,000 events a second at 10 calls, each received frame copied into a fresh buffer and its handle released), about 22 % in V8 and Node's runtime, 13 % in UDP send and receive, 7 % in epoll and 11 % in context switches of a saturated machine; this library's own JavaScript was 12.5 %. The remaining levers are fewer events (40 ms frames would halve them at about 20 ms more latency each way) and moving RTP to a worker thread (about a fifth of the thread, but every frame would then cross threads both ways); neither was taken.",
    '',
  ];
}
