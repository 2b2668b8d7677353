/**
 * One measuring window of a bridge variant that runs in several worker processes
 * (`--workers N`, `bridge@workers<N>`): CPU, RSS, threads, frames, GCs and inbound calls are
 * summed over the workers; the window is the longest; the pacing and latency histograms
 * cannot be merged from their summaries, so those (and the event-loop delay) are the worst
 * worker's, by pacing p99.
 */
import type { WorkerWindow } from './bridge-worker.js';

export function mergeWindows(ws: WorkerWindow[]): WorkerWindow {
  if (ws.length === 1) return ws[0]!;
  const worst = ws.reduce((a, b) => (b.pacing.p99 > a.pacing.p99 ? b : a));
  const threads: Record<string, number> = {};
  for (const w of ws) for (const [k, v] of Object.entries(w.threads)) threads[k] = (threads[k] ?? 0) + v;
  const sum = (f: (w: WorkerWindow) => number) => ws.reduce((s, w) => s + f(w), 0);
  return {
    seconds: Math.max(...ws.map((w) => w.seconds)),
    cpuUserMs: sum((w) => w.cpuUserMs),
    cpuSystemMs: sum((w) => w.cpuSystemMs),
    rssBytes: sum((w) => w.rssBytes),
    heapUsedBytes: sum((w) => w.heapUsedBytes),
    calls: sum((w) => w.calls),
    pacing: worst.pacing,
    skippedPeriods: sum((w) => w.skippedPeriods),
    latency: worst.latency,
    inbound: ws.flatMap((w) => w.inbound),
    framesCaptured: sum((w) => w.framesCaptured),
    framesDropped: sum((w) => w.framesDropped),
    threads,
    eventLoopDelay: {
      p50: Math.max(...ws.map((w) => w.eventLoopDelay.p50)),
      p99: Math.max(...ws.map((w) => w.eventLoopDelay.p99)),
      max: Math.max(...ws.map((w) => w.eventLoopDelay.max)),
    },
    gc: {
      count: sum((w) => w.gc.count),
      totalMs: sum((w) => w.gc.totalMs),
      maxMs: Math.max(...ws.map((w) => w.gc.maxMs)),
    },
  };
}
