/**
 * A guard against a crash in `@livekit/rtc-node` 1.1.0.
 *
 * A `Room` processes native events asynchronously, behind a lock. When a room disconnects
 * while events for it are still queued (many participants leaving at once, e.g. the end
 * of a burst of calls), the queued `trackUnpublished` event is processed after the native
 * side has already dropped the room's handles, and its `publication.ffiHandle.dispose()`
 * throws `trying to drop an invalid handle`. That throw happens inside the SDK's own event
 * handler, so it surfaces as an unhandled promise rejection and Node terminates the host
 * process (seen in the soak run with 100 concurrent calls).
 *
 * Dropping a handle the native side no longer knows has nothing left to release, so the
 * guard makes `FfiHandle.dispose()` ignore exactly that error; every other error still
 * throws. It patches the `FfiHandle` class that rtc-node itself uses (the dependency is
 * pinned to the version rtc-node 1.1.0 requires, and a test checks they are the same
 * class). Installed once, the first time the bridge creates a participant.
 */
import { FfiHandle } from '@livekit/rtc-ffi-bindings';
import { systemTimerClock, type TimerClock, type TimerHandle } from '../clock.js';

const INVALID_HANDLE = 'trying to drop an invalid handle';
let installed = false;
let ignored = 0;

/** Installs the guard (idempotent). */
export function installFfiDisposeGuard(): void {
  if (installed) return;
  installed = true;
  const proto = FfiHandle.prototype as { dispose: (this: FfiHandle) => void };
  const original = proto.dispose;
  proto.dispose = function guardedDispose(this: FfiHandle): void {
    try {
      original.call(this);
    } catch (err) {
      if (err instanceof Error && err.message.includes(INVALID_HANDLE)) {
        ignored++;
        return;
      }
      throw err;
    }
  };
}

/** How many disposals of already-dropped handles the guard absorbed (diagnostics). */
export function ignoredInvalidHandleDisposals(): number {
  return ignored;
}

interface Disposable {
  dispose(): void;
}

interface RoomInternals {
  ffiHandle?: Disposable;
  ffiEventLock?: { lock(): Promise<() => void> };
}

interface HandleOwner {
  ffi_handle?: Disposable;
  ffiHandle?: Disposable;
  track?: { ffi_handle?: Disposable };
  trackPublications?: Map<string, HandleOwner>;
}

function disposeQuietly(h: Disposable | undefined): number {
  if (h === undefined || typeof h.dispose !== 'function') return 0;
  try {
    h.dispose();
    return 1;
  } catch {
    return 0; // the guard absorbs invalid handles; anything else must not stop the sweep
  }
}

/**
 * Disposes, after `room.disconnect()`, every native handle rtc-node 1.1.0 leaves to the
 * garbage collector for that room: the room's, its local and remote participants', their
 * publications' and tracks'.
 *
 * rtc-node never disposes those explicitly; a wrapper is dropped by its native finalizer
 * when it is collected. If the native side no longer knows the handle by then (a room's
 * events processed after its disconnect create wrappers for handles already gone), the
 * finalizer's drop fails and is raised as an uncaught exception that terminates the host
 * process (`trying to drop an invalid handle`; seen with many concurrent calls per
 * process). `FfiHandle.dispose()` marks a wrapper disposed before it drops the handle, so
 * disposing them here, with the guard above absorbing handles already gone, leaves the
 * finalizer nothing to do, and gives the native memory back at once instead of at the
 * next collection.
 *
 * It first takes the room's event lock, so every event queued before the disconnect has
 * been processed (no wrapper is created after the sweep), waiting at most `lockTimeoutMs`
 * on `clock`. Returns the handles disposed.
 */
export async function releaseRoomHandles(
  room: object,
  lockTimeoutMs = 2000,
  clock: TimerClock = systemTimerClock,
): Promise<number> {
  installFfiDisposeGuard();
  const r = room as RoomInternals & {
    localParticipant?: HandleOwner;
    remoteParticipants?: Map<string, HandleOwner>;
  };
  let unlock: (() => void) | undefined;
  const lock = r.ffiEventLock;
  if (lock !== undefined && typeof lock.lock === 'function') {
    let timer: TimerHandle | undefined;
    const locking = lock.lock();
    unlock = await Promise.race([
      locking,
      new Promise<undefined>(
        (resolve) => (timer = clock.setTimeout(() => resolve(undefined), lockTimeoutMs)),
      ),
    ]);
    if (timer !== undefined) clock.clearTimeout(timer);
    // a lock that came too late is handed straight back
    if (unlock === undefined) void locking.then((u) => u());
  }
  let n = 0;
  try {
    const owners: HandleOwner[] = [...(r.remoteParticipants?.values() ?? [])];
    if (r.localParticipant) owners.push(r.localParticipant);
    for (const p of owners) {
      for (const pub of p.trackPublications?.values() ?? []) {
        n += disposeQuietly(pub.track?.ffi_handle);
        n += disposeQuietly(pub.ffiHandle);
      }
      n += disposeQuietly(p.ffi_handle);
    }
    n += disposeQuietly(r.ffiHandle);
  } finally {
    unlock?.();
  }
  return n;
}
