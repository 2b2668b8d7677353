/**
 * `npm run bench -- codec`: the media core's per-frame costs.
 *
 * - G.711 encode + decode of one 160-sample (20 ms) frame, PCMU and PCMA: ours through the
 *   zero-allocation path (`encodeInto` / `decodeInto` into preallocated arrays) against
 *   `alawmulaw`'s `encode` / `decode` in the same process. Target: ours ≥ 4× faster.
 * - Allocation per frame, measured without `--expose-gc`: a `PerformanceObserver` counts
 *   the garbage collections that run during the loop. Zero collections over 10^6 frames
 *   means nothing is allocated per frame (V8's young generation is a few MiB, so even 16
 *   bytes per frame would trigger several scavenges).
 * - Jitter buffer push + pop per packet, and the 48 kHz → 8 kHz resampler per 20 ms chunk.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import pkg from 'alawmulaw';
import type { BenchResult } from './run.js';
import { G711Codec } from '../src/codec/g711.js';
import { Resampler } from '../src/codec/pcm.js';
import { JitterBuffer, type JitterPacket } from '../src/rtp/jitter.js';
import { generateTone } from '../src/rtp/goertzel.js';

const { alaw, mulaw } = pkg;

const FRAME = 160;
const OURS_FRAMES = 1_000_000;
const THEIRS_FRAMES = 200_000;
const JITTER_PACKETS = 1_000_000;

interface Measured {
  nsPerOp: number;
  ops: number;
  gcCount: number;
  minorGcCount: number;
}

/** Runs `body(i)` `n` times and reports ns per call and the GCs seen meanwhile. */
async function measure(n: number, body: (i: number) => void): Promise<Measured> {
  // warm up (JIT) outside the measured window
  for (let i = 0; i < Math.min(20_000, n); i++) body(i);
  await new Promise((r) => setImmediate(r));
  let gcCount = 0;
  let minorGcCount = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcCount++;
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === 1) minorGcCount++; // NODE_PERFORMANCE_GC_MINOR
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) body(i);
  const t1 = process.hrtime.bigint();
  // gc entries are delivered asynchronously
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return { nsPerOp: Number(t1 - t0) / n, ops: n, gcCount, minorGcCount };
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

export async function run(): Promise<BenchResult> {
  // speech-like input: two tones and a little noise
  const pcm = new Int16Array(FRAME);
  const a = generateTone(440, 8000, FRAME, 6000);
  const b = generateTone(1270, 8000, FRAME, 3000);
  for (let i = 0; i < FRAME; i++) pcm[i] = a[i]! + b[i]! + ((i * 7919) % 401) - 200;

  const results: Record<string, unknown> = {};
  const summary: string[] = [];
  let sink = 0;

  // One body per law and side. All of them are warmed up before anything is measured, so
  // every measurement runs on the same (polymorphic, realistic) JIT feedback; otherwise the
  // first law measured gets code specialized for its one table and looks ~2× faster.
  const laws = ['PCMU', 'PCMA'] as const;
  const bodies = laws.map((law) => {
    const codec = new G711Codec(law);
    const bytes = new Uint8Array(FRAME);
    const back = new Int16Array(FRAME);
    const lib = law === 'PCMU' ? mulaw : alaw;
    return {
      law,
      ours: () => {
        codec.encodeInto(pcm, bytes, 0);
        codec.decodeInto(bytes, back, 0);
        sink = (sink + back[7]!) | 0;
      },
      theirs: () => {
        const enc = lib.encode(pcm);
        const dec = lib.decode(enc);
        sink = (sink + dec[7]!) | 0;
      },
    };
  });
  for (let i = 0; i < 50_000; i++) for (const b of bodies) b.ours();
  for (let i = 0; i < 5_000; i++) for (const b of bodies) b.theirs();

  // a first pass also settles the measuring loop's own feedback; the second pass is reported
  for (const body of bodies) await measure(OURS_FRAMES / 10, body.ours);
  for (const body of bodies) {
    const law = body.law;
    const ours = await measure(OURS_FRAMES, body.ours);
    const theirs = await measure(THEIRS_FRAMES, body.theirs);
    const ratio = theirs.nsPerOp / ours.nsPerOp;
    results[law] = {
      frameSamples: FRAME,
      ours: { ...ours, nsPerOp: round(ours.nsPerOp) },
      alawmulaw: { ...theirs, nsPerOp: round(theirs.nsPerOp) },
      speedup: round(ratio, 2),
      target: '≥ 4× faster, 0 GCs over 10^6 frames',
    };
    summary.push(
      `${law} encode+decode per 20 ms frame: ours ${round(ours.nsPerOp)} ns (${ours.gcCount} GCs / ${OURS_FRAMES} frames), ` +
        `alawmulaw ${round(theirs.nsPerOp)} ns (${theirs.gcCount} GCs / ${THEIRS_FRAMES} frames): ` +
        `${round(ratio, 2)}× (target ≥ 4×)`,
    );
  }

  // jitter buffer: one push and one pop per packet, steady 20 ms stream with a little reordering
  {
    const jb = new JitterBuffer({ targetDelayMs: 40 });
    const payload = new Uint8Array(FRAME).fill(0xff);
    const p: JitterPacket = { sequenceNumber: 0, timestamp: 0, payloadType: 0, payload, ssrc: 42 };
    const r = await measure(JITTER_PACKETS, (i) => {
      const k = i % 10 === 3 ? i + 1 : i % 10 === 4 ? i - 1 : i; // swap every 10th pair
      p.sequenceNumber = k & 0xffff;
      p.timestamp = (k * 160) >>> 0;
      jb.push(p, i * 20);
      const o = jb.pop(i * 20);
      if (o.kind === 'audio') sink = (sink + o.payload.length) | 0;
    });
    const st = jb.stats();
    results.jitterBuffer = {
      ...r,
      nsPerOp: round(r.nsPerOp),
      played: st.played,
      lost: st.lost,
      reordered: st.reordered,
    };
    summary.push(
      `jitter buffer push+pop per packet: ${round(r.nsPerOp)} ns (${r.gcCount} GCs / ${JITTER_PACKETS} packets; ` +
        `played ${st.played}, lost ${st.lost}, reordered ${st.reordered})`,
    );
  }

  // resampler: 20 ms of 48 kHz in, 20 ms of 8 kHz out
  {
    const rs = new Resampler(48000, 8000);
    const chunk = generateTone(1000, 48000, 960, 8000);
    const out = new Int16Array(rs.maxOutput(chunk.length));
    const r = await measure(100_000, () => {
      sink = (sink + rs.processInto(chunk, out)) | 0;
    });
    results.resample48kTo8k = { ...r, nsPerOp: round(r.nsPerOp), inputSamples: 960 };
    summary.push(
      `resample 48 kHz → 8 kHz per 20 ms chunk: ${round(r.nsPerOp)} ns (${r.gcCount} GCs / 100000 chunks)`,
    );
  }

  if (sink === 0.5) summary.push(''); // keep `sink` observable so the loops are not optimized away
  return { results, summary };
}
