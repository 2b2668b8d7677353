/**
 * Leak checks that a leak cannot pass: what the library says it holds (`resourceCounts()`,
 * every kind back to 0), and what the process holds as the kernel sees it (open file
 * descriptors in `/proc/self/fd`, threads in `/proc/self/task`), against one baseline per
 * test file taken after a warm-up call (rtc-node and libuv start their threads once).
 * Unref'd handles, native sockets and native threads all show up here, unlike in
 * `process.getActiveResourcesInfo()`. Nothing is allowed above the baseline, kind by kind
 * (fds by target, threads by name); the check polls with a bounded wait, because sockets
 * and threads go away a little after `close()`.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resourceCounts } from '../../src/index.js';

/** What the process held at a point in time. */
export interface ProcessResources {
  /** Open file descriptors by what they point at (`socket`, `pipe`, `anon_inode:[eventfd]`, a path). */
  fds: Map<string, number>;
  /** Threads by name, trailing digits folded to `#` (`tokio-runtime-w`, `libuv-worker`, `AudioSourceCa#`). */
  threads: Map<string, number>;
}

function countInto(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** The open file descriptors of this process, by target kind. */
export function openFds(): Map<string, number> {
  const out = new Map<string, number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (including the directory handle readdirSync used)
    }
    countInto(out, target.replace(/^(socket|pipe):\[\d+\]$/, '$1'));
  }
  return out;
}

/** The threads of this process, by name. */
export function threadNames(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      countInto(out, readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim().replace(/\d+$/, '#'));
    } catch {
      // the thread ended
    }
  }
  return out;
}

export const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** What this process holds now. */
export function processResources(): ProcessResources {
  return { fds: openFds(), threads: threadNames() };
}

/** `name +n` for every key above the baseline. */
function grown(now: Map<string, number>, base: Map<string, number>): string[] {
  return [...now]
    .filter(([k, v]) => v > (base.get(k) ?? 0))
    .map(([k, v]) => `${k} +${v - (base.get(k) ?? 0)}`);
}

/** The library's counts that are not 0, e.g. `{ "rtp-socket": 2 }`. */
export function heldByLibrary(): Record<string, number> {
  return Object.fromEntries(Object.entries(resourceCounts()).filter(([, v]) => v !== 0));
}

/** What is held beyond `base`: empty when nothing is. With `since` (e.g. the start of the case), also what grew since then. */
export function leaks(base: ProcessResources, since?: ProcessResources): string[] {
  const out: string[] = [];
  const held = heldByLibrary();
  if (Object.keys(held).length > 0) out.push(`library holds ${JSON.stringify(held)}`);
  // Compared kind by kind: a leaked thread must not hide behind a pool thread that ended.
  const now = processResources();
  const moreFds = grown(now.fds, base.fds);
  if (moreFds.length > 0) out.push(`fds ${total(base.fds)} → ${total(now.fds)} (${moreFds.join(', ')})`);
  const moreThreads = grown(now.threads, base.threads);
  if (moreThreads.length > 0) {
    out.push(`threads ${total(base.threads)} → ${total(now.threads)} (${moreThreads.join(', ')})`);
  }
  if (out.length > 0 && since !== undefined) {
    const more = [...grown(now.fds, since.fds), ...grown(now.threads, since.threads)];
    out.push(`of which since the case began: ${more.length > 0 ? more.join(', ') : 'nothing'}`);
  }
  return out;
}

/**
 * Waits (polling, at most `timeoutMs`) until the library holds nothing and the process has
 * no more file descriptors and threads than at `base`; throws naming what is left.
 */
export async function expectNothingLeft(
  base: ProcessResources,
  since?: ProcessResources,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = leaks(base, since);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`resources left after ${timeoutMs} ms: ${left.join('; ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Makes `fetch` (the global dispatcher livekit-server-sdk's RoomServiceClient and the
 * bridge's room check use) close each HTTP connection after its response, so no keep-alive
 * socket outlives a request and the fd count can be compared exactly. A test-process
 * setting: undici's documented global-dispatcher slot, filled with a fresh `Agent` of the
 * same class built with `pipelining: 0` (no keep-alive).
 */
export async function fetchWithoutKeepAlive(): Promise<void> {
  const slot = Symbol.for('undici.globalDispatcher.1');
  const g = globalThis as unknown as Record<
    symbol,
    { constructor: new (o: object) => unknown; close?: () => Promise<void> }
  >;
  if (g[slot] === undefined) await (await fetch('data:,')).text(); // fetch creates its Agent lazily
  const old = g[slot];
  if (old === undefined) throw new Error('fetch has no global dispatcher to replace');
  g[slot] = new old.constructor({ pipelining: 0 }) as typeof old;
  await old.close?.();
}

/**
 * Waits (polling, at most `timeoutMs`) until the library holds nothing by its own count
 * (`resourceCounts()` all 0); throws with the counts left. For unit tests of single
 * components, which share their process with nothing else of the library.
 */
export async function expectLibraryHoldsNothing(timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held = heldByLibrary();
    if (Object.keys(held).length === 0) return;
    if (Date.now() > deadline) throw new Error(`library holds ${JSON.stringify(held)} after the case`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
