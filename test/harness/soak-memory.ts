/**
 * What the soak reads about the process: file descriptors, Node's active handles by kind,
 * the shared pacer's registrations, RSS and heap (after forced collections when the process
 * runs with `--expose-gc`), and the fit of heap growth per call over batch boundaries.
 */
import { readdirSync } from 'node:fs';
import { Room } from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { getHeapSpaceStatistics } from 'node:v8';
import { resourceCounts, type ResourceKind } from '../../src/resources.js';
import { getSharedScheduler } from '../../src/rtp/pacer.js';
import { publishTone } from './tone.js';

export interface ProcessFigures {
  fds: number;
  /** Threads of the process (`/proc/self/task`; rust-sdks #1443 left one per deleted room). */
  threads: number;
  /** Node active handles by kind, e.g. `{ TCPSocketWrap: 2, UDPWrap: 1, Timeout: 3 }`. */
  handles: Record<string, number>;
  /** Sessions registered with the shared 20 ms pacer (one per call carrying media). */
  pacerSessions: number;
  /** What the library holds open by kind (`resourceCounts()`: timers include unref'd ones). */
  resources: Readonly<Record<ResourceKind, number>>;
  rssMiB: number;
  heapUsedMiB: number;
  /** heapUsed in bytes (the per-call fit needs more than 0.1 MiB resolution). */
  heapUsedBytes: number;
  /** Memory of ArrayBuffers and Buffers (outside the JS heap, not in heapUsed), bytes. */
  arrayBuffersBytes: number;
  /** heapUsed by V8 space (`code_space` is compiled code, which grows while code warms up), bytes. */
  spaces: Record<string, number>;
}

export const SOCKET_HANDLES = ['TCPSocketWrap', 'TCPServerWrap', 'UDPWrap'];

function threadCount(): number {
  try {
    return readdirSync('/proc/self/task').length;
  } catch {
    return -1; // not Linux
  }
}

export function fdCount(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1; // not Linux
  }
}

export function processFigures(): ProcessFigures {
  const handles: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] ?? 0) + 1;
  const mem = process.memoryUsage();
  return {
    fds: fdCount(),
    threads: threadCount(),
    handles,
    pacerSessions: getSharedScheduler().stats().sessions,
    resources: resourceCounts(),
    rssMiB: Math.round((mem.rss / 2 ** 20) * 10) / 10,
    heapUsedMiB: Math.round((mem.heapUsed / 2 ** 20) * 10) / 10,
    heapUsedBytes: mem.heapUsed,
    arrayBuffersBytes: mem.arrayBuffers,
    spaces: Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.space_used_size])),
  };
}

export function sockets(f: ProcessFigures): number {
  return SOCKET_HANDLES.reduce((n, k) => n + (f.handles[k] ?? 0), 0);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const gcFn = (globalThis as { gc?: () => void }).gc;

/** True when the process can force collections (`node --expose-gc`). */
export const canForceGc = gcFn !== undefined;

/**
 * Full collections with event-loop turns between them (finalizers and native callbacks that
 * release JS objects run in those turns), then the figures.
 */
export async function collectAndRead(rounds = 4): Promise<ProcessFigures> {
  for (let i = 0; i < rounds; i++) {
    gcFn?.();
    await sleep(50);
  }
  gcFn?.();
  return processFigures();
}

/**
 * Lets the process come to rest before its figures are read: collections (when exposed),
 * and time for rtc-node's native teardown, which closes a room's sockets and thread
 * wake-up descriptors some seconds after `disconnect()` resolves (right after a burst of 10
 * calls a process holds about 500 more descriptors than at rest). Waits until the count of
 * file descriptors has not fallen for `steadyMs` (at most 60 s).
 */
export async function settle(steadyMs = 5000): Promise<void> {
  let last = fdCount();
  let steady = 0;
  const end = Date.now() + 60_000;
  while (steady * 500 < steadyMs && Date.now() < end) {
    gcFn?.();
    await sleep(500);
    const now = fdCount();
    steady = now < last ? 0 : steady + 1;
    last = Math.min(last, now);
  }
}

/** One reading at a batch boundary: calls finished so far and the figures after collection. */
export interface BatchPoint {
  calls: number;
  figures: ProcessFigures;
}

/**
 * What the per-call fit looks at: the JS heap without compiled code (`code_space` grows by
 * some KiB per call for the first hundreds of calls while V8 optimises the call path, and
 * is not data a call left behind) plus ArrayBuffers/Buffers, bytes.
 */
export const jsBytes = (f: ProcessFigures): number =>
  f.heapUsedBytes -
  (f.spaces.code_space ?? 0) -
  (f.spaces.code_large_object_space ?? 0) +
  f.arrayBuffersBytes;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Growth of `jsBytes` per call over the batch readings: the Theil–Sen slope (the median of
 * the slopes between every pair of readings, so one reading lowered by a late collection
 * of warm-up garbage does not tilt it), and the largest distance of a reading from that
 * line (the noise around it), bytes.
 */
export function heapFit(points: readonly BatchPoint[]): { bytesPerCall: number; residualMaxBytes: number } {
  if (points.length < 2) return { bytesPerCall: 0, residualMaxBytes: 0 };
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const dx = points[j]!.calls - points[i]!.calls;
      if (dx > 0) slopes.push((jsBytes(points[j]!.figures) - jsBytes(points[i]!.figures)) / dx);
    }
  }
  const slope = median(slopes);
  const intercept = median(points.map((p) => jsBytes(p.figures) - slope * p.calls));
  let residualMax = 0;
  for (const p of points)
    residualMax = Math.max(residualMax, Math.abs(jsBytes(p.figures) - (intercept + slope * p.calls)));
  return { bytesPerCall: Math.round(slope), residualMaxBytes: Math.round(residualMax) };
}

/**
 * What a batch left registered compared with the baseline: the library's own registry
 * (`resourceCounts()`: timers, pacer registrations, sockets, participants...), Node's
 * `Timeout` handles, the shared pacer's sessions and socket handles. Empty when all is back.
 */
export function registrationsLeft(base: ProcessFigures, now: ProcessFigures): string[] {
  const out: string[] = [];
  for (const [kind, n] of Object.entries(now.resources) as [ResourceKind, number][]) {
    const more = n - base.resources[kind];
    if (more > 0) out.push(`resourceCounts().${kind} +${more}`);
  }
  const timers = (now.handles.Timeout ?? 0) - (base.handles.Timeout ?? 0);
  if (timers > 0) out.push(`${timers} more timer(s)`);
  const pacer = now.pacerSessions - base.pacerSessions;
  if (pacer > 0) out.push(`${pacer} more pacer registration(s)`);
  const sock = sockets(now) - sockets(base);
  if (sock > 0) out.push(`${sock} more socket handle(s)`);
  return out;
}

/** Where the control runs: the same livekit-server as the soak. */
export interface ControlServer {
  url: string;
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
}

export interface RoomCycleControl {
  cycles: number;
  start: ProcessFigures;
  end: ProcessFigures;
  /** RSS growth per bare room cycle, MiB. */
  rssPerCycleMiB: number;
}

/**
 * The control for the RSS check: `cycles` bare `@livekit/rtc-node` rooms — connect,
 * publish an 8 kHz track, send ten frames, unpublish, disconnect — with no bridge code at
 * all. rtc-node 1.1.0 keeps about half a MiB of native memory per room cycle here (heap,
 * handles and file descriptors stay flat), so a bridge call, which is one such room,
 * cannot give back more; the soak compares the bridge's growth per call with this.
 */
export async function roomCycleControl(server: ControlServer, cycles: number): Promise<RoomCycleControl> {
  const name = `soak-control-${Date.now()}`;
  const rooms = new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
  await rooms.createRoom({ name, emptyTimeout: 60, departureTimeout: 60 });
  const one = async (): Promise<void> => {
    const at = new AccessToken(server.apiKey, server.apiSecret, { identity: 'control' });
    at.addGrant({ roomJoin: true, room: name, canPublish: true, canSubscribe: true });
    const room = new Room();
    await room.connect(server.url, await at.toJwt(), { autoSubscribe: false, dynacast: false });
    const tone = await publishTone(room, 440, 'control');
    await sleep(200);
    await tone.stop();
    await room.disconnect();
  };
  try {
    await one();
    await settle();
    const start = processFigures();
    for (let i = 0; i < cycles; i++) await one();
    await settle();
    const end = processFigures();
    return {
      cycles,
      start,
      end,
      rssPerCycleMiB: Math.round(((end.rssMiB - start.rssMiB) / Math.max(1, cycles)) * 1000) / 1000,
    };
  } finally {
    await rooms.deleteRoom(name).catch(() => undefined);
  }
}
