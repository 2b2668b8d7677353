/**
 * `shutdown()`: the end of a process that placed or took calls. rtc-node keeps a native
 * runtime (threads and handles) alive until it is disposed, so a process that ran a call
 * does not exit by itself; `shutdown()` waits until no call is left (or hangs up the rest
 * after `timeoutMs`) and then disposes it. A process that never joined a room has nothing
 * to dispose, and `shutdown()` returns at once.
 */
import type { BridgeEnded } from './bridge-events.js';
import { systemTimerClock, type TimerClock } from './clock.js';
import { rtcIsLoaded, loadRtc } from './livekit/rtc.js';

/** The calls alive in this process (`BridgeCall` registers itself; see `trackCall`). */
const live = new Set<{ readonly ended: Promise<BridgeEnded>; hangup(): Promise<BridgeEnded> }>();
let disposed: Promise<void> | undefined;
/** Waiters for the moment no call is left (calls started meanwhile count too). */
const whenEmpty: (() => void)[] = [];

/** @internal Called by every `BridgeCall`: counted until it has ended. */
export function trackCall(call: {
  readonly ended: Promise<BridgeEnded>;
  hangup(): Promise<BridgeEnded>;
}): void {
  live.add(call);
  void call.ended.then(() => {
    live.delete(call);
    if (live.size === 0) for (const notify of whenEmpty.splice(0)) notify();
  });
}

/** Calls of this process that have not ended yet. */
export function activeCallCount(): number {
  return live.size;
}

/** Options of {@link shutdown}. */
export interface ShutdownOptions {
  /** How long to let calls finish before hanging them up (default 0: hang up at once). */
  timeoutMs?: number;
  /** The clock of that timeout (default: the system clock; tests pass a `FakeTimerClock`). */
  clock?: TimerClock;
}

/**
 * Ends the library's part of the process: waits up to `timeoutMs` for the calls still
 * running, hangs up the rest, then disposes rtc-node's native runtime (only if a call loaded
 * it). Afterwards no call can be made in this process. Idempotent; resolves once done.
 */
export function shutdown(options: ShutdownOptions = {}): Promise<void> {
  disposed ??= (async () => {
    const clock = options.clock ?? systemTimerClock;
    const limit = options.timeoutMs ?? 0;
    if (live.size > 0 && limit > 0) {
      await new Promise<void>((resolve) => {
        const timer = clock.setTimeout(resolve, limit, { unref: true });
        whenEmpty.push(() => {
          clock.clearTimeout(timer);
          resolve();
        });
      });
    }
    await Promise.all([...live].map((c) => c.hangup()));
    if (!rtcIsLoaded()) return;
    const rtc = await loadRtc();
    await rtc.dispose();
  })();
  return disposed;
}
