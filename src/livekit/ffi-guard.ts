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
