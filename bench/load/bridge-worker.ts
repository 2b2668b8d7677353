/**
 * The bridge side of the load benchmark, alone in its own process so that its CPU time
 * (`process.cpuUsage()`) and RSS are the bridge's and nothing else's. The orchestrator
 * tells it which calls to place (`runBridge`, one per room) and when the measuring window
 * opens and closes.
 */
import { LatencyHistograms, MediaLatencyProbe, getSharedScheduler } from '../../src/entries/media.js';
import {
  runBridge,
  type BridgeCall,
  type BridgeEnded,
  type BridgeStats,
  type ExotelSettings,
  type LiveKitSettings,
} from '../../src/index.js';
import { readFileSync, readdirSync } from 'node:fs';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import type { PhoneTrackTuning } from '../../src/livekit/participant.js';
import { epochMs, serveRpc } from './ipc.js';

/** CPU ms (user+sys) of each thread of this process, summed by thread name (/proc, Linux only). */
function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  const tick = 10; // ms per clock tick (USER_HZ 100)
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close).replace(/[0-9]+$/, '#');
      const f = stat.slice(close + 2).split(' ');
      const ms = (Number(f[11]) + Number(f[12])) * tick;
      out[name] = (out[name] ?? 0) + ms;
    } catch {
      // the thread ended
    }
  }
  return out;
}

export interface WorkerCallSpec {
  room: string;
  phone: string;
}

export interface WorkerStartParams {
  livekit: LiveKitSettings;
  exotel: Partial<ExotelSettings>;
  calls: WorkerCallSpec[];
  /** Gap between two `runBridge()` calls (ms). */
  staggerMs: number;
  /** Wait before the first call (ms): workers of one variant interleave their calls. */
  offsetMs?: number;
  /** The variant's levers (bench/load/variants.ts). */
  livekitMedia?: PhoneTrackTuning;
  /** `false`: rtc-node's own AudioSource/AudioStream (default: LOAD_DIRECT_FFI, else true). */
  directFfi?: boolean;
}

export interface WorkerCallState {
  room: string;
  phone: string;
  /** Wall clock (ms) just before `runBridge()`. */
  startEpoch: number;
  status: string;
  timings: BridgeStats['timings'];
  ended?: string;
}

export interface WorkerWindow {
  seconds: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  rssBytes: number;
  heapUsedBytes: number;
  calls: number;
  pacing: ReturnType<ReturnType<typeof getSharedScheduler>['stats']>['pacing'];
  skippedPeriods: number;
  latency: ReturnType<LatencyHistograms['summary']>;
  /** Phone → bridge RTP, per call, during the window. */
  inbound: {
    room: string;
    received: number;
    lost: number;
    jitterMs: number;
    late: number;
    played: number;
    concealed: number;
    captured: number;
  }[];
  framesCaptured: number;
  framesDropped: number;
  /** CPU ms per thread name during the window (Linux). */
  threads: Record<string, number>;
  /** Event-loop delay of the worker during the window (ms). */
  eventLoopDelay: { p50: number; p99: number; max: number };
  /** Garbage collections during the window. */
  gc: { count: number; totalMs: number; maxMs: number };
}

interface Live {
  spec: WorkerCallSpec;
  call: BridgeCall;
  startEpoch: number;
  ended?: BridgeEnded;
  base?: Base;
}

interface Base {
  received: number;
  lost: number;
  late: number;
  played: number;
  concealed: number;
  captured: number;
  dropped: number;
}

function base(s: BridgeStats): Base {
  return {
    received: s.rtp?.packetsReceived ?? 0,
    lost: s.rtp?.lost ?? 0,
    late: s.rtp?.late ?? 0,
    played: s.rtp?.framesPlayed ?? 0,
    concealed: s.rtp?.framesConcealed ?? 0,
    captured: s.livekit?.framesCaptured ?? 0,
    dropped: s.livekit?.framesDropped ?? 0,
  };
}

const histograms = new LatencyHistograms();
// Diagnostics of the worker's own event loop: how long it was blocked, and by garbage collection.
const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();
const gc = { count: 0, totalMs: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.totalMs += e.duration;
    gc.maxMs = Math.max(gc.maxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
let live: Live[] = [];
let window0: { cpu: NodeJS.CpuUsage; t: number; threads: Record<string, number> } | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function state(l: Live): WorkerCallState {
  const s = l.call.stats();
  return {
    room: l.spec.room,
    phone: l.spec.phone,
    startEpoch: l.startEpoch,
    status: s.status,
    timings: s.timings,
    ...(l.ended ? { ended: `${l.ended.reason}${l.ended.error ? `: ${l.ended.error.message}` : ''}` } : {}),
  };
}

serveRpc({
  rss: () => process.memoryUsage().rss,

  async start(p: WorkerStartParams) {
    if (p.offsetMs) await sleep(p.offsetMs);
    for (const spec of p.calls) {
      const startEpoch = epochMs();
      const call = runBridge({
        roomName: spec.room,
        phoneNumber: spec.phone,
        agentType: 'load',
        livekit: p.livekit,
        exotel: p.exotel,
        env: {},
        statsLogIntervalMs: 0,
        latencyProbe: new MediaLatencyProbe(histograms),
        // LOAD_DIRECT_FFI=0: rtc-node's own AudioSource/AudioStream (the "before" of docs/performance.md)
        directFfi: p.directFfi ?? process.env.LOAD_DIRECT_FFI !== '0',
        ...(p.livekitMedia ? { livekitMedia: p.livekitMedia } : {}),
      });
      const l: Live = { spec, call, startEpoch };
      void call.ended.then((e) => (l.ended = e));
      live.push(l);
      if (p.staggerMs > 0) await sleep(p.staggerMs);
    }
    return live.length;
  },

  /** Waits until every call is active (or ended), at most `timeoutMs`. */
  async waitActive(p: { timeoutMs: number }) {
    const deadline = Date.now() + p.timeoutMs;
    while (Date.now() < deadline) {
      if (live.every((l) => l.ended !== undefined || l.call.status === 'active')) break;
      await sleep(100);
    }
    return live.map(state);
  },

  states: () => live.map(state),

  windowStart() {
    histograms.reset();
    getSharedScheduler().resetStats();
    for (const l of live) {
      l.base = base(l.call.stats());
    }
    window0 = { cpu: process.cpuUsage(), t: performance.now(), threads: threadCpu() };
    eld.reset();
    gc.count = 0;
    gc.totalMs = 0;
    gc.maxMs = 0;
    return true;
  },

  windowEnd(): WorkerWindow {
    const w = window0;
    if (w === undefined) throw new Error('windowEnd before windowStart');
    const cpu = process.cpuUsage(w.cpu);
    const t1 = threadCpu();
    const threads: Record<string, number> = {};
    for (const [k, v] of Object.entries(t1)) threads[k] = v - (w.threads[k] ?? 0);
    const seconds = (performance.now() - w.t) / 1000;
    const mem = process.memoryUsage();
    const sched = getSharedScheduler().stats();
    let framesCaptured = 0;
    let framesDropped = 0;
    const inbound: WorkerWindow['inbound'] = [];
    for (const l of live) {
      const s = l.call.stats();
      const b = l.base ?? base({ status: 'dialing', rtp: undefined, livekit: undefined, timings: {} });
      const now = base(s);
      framesCaptured += now.captured - b.captured;
      framesDropped += now.dropped - b.dropped;
      if (s.rtp)
        inbound.push({
          room: l.spec.room,
          received: now.received - b.received,
          lost: now.lost - b.lost,
          late: now.late - b.late,
          played: now.played - b.played,
          concealed: now.concealed - b.concealed,
          captured: now.captured - b.captured,
          jitterMs: s.rtp.jitterMs,
          ...(process.env.LOAD_DEBUG ? { jb: s.rtp.jitterBuffer } : {}),
        });
    }
    return {
      seconds,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      calls: live.filter((l) => l.call.status === 'active').length,
      pacing: sched.pacing,
      skippedPeriods: sched.skippedPeriods,
      latency: histograms.summary(),
      inbound,
      framesCaptured,
      framesDropped,
      threads,
      eventLoopDelay: {
        p50: eld.percentile(50) / 1e6,
        p99: eld.percentile(99) / 1e6,
        max: eld.max / 1e6,
      },
      gc: { ...gc },
    };
  },

  /** Hangs every call up (BYE) and forgets them. */
  async hangupAll(p: { timeoutMs: number }) {
    const all = live;
    live = [];
    await Promise.race([Promise.all(all.map((l) => l.call.hangup())), sleep(p.timeoutMs)]);
    return all.filter((l) => l.ended === undefined).length;
  },
});
