/**
 * `@livekit/rtc-node`, loaded on first use. Importing it loads its native binding, which a
 * host that only configures, signals or parses never needs (and which some platforms do not
 * have): the package's entries import this module instead, and a call loads rtc-node when it
 * joins its room. It is reached through the participant module, so that the ESM and the CJS
 * build each use the one copy of rtc-node their own format loads (a second copy would be a
 * second native runtime, and its `RpcError` another class).
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as RtcNode from '@livekit/rtc-node';
import { InternalError, LiveKitError } from '../errors.js';

export type Rtc = typeof RtcNode;

let loaded: Rtc | undefined;
let loading: Promise<Rtc> | undefined;

/**
 * Loads rtc-node (once per process) and returns it. Rejects with `LiveKitError` when it
 * cannot be loaded (its native binding is missing for this platform); a later call tries again.
 */
export function loadRtc(): Promise<Rtc> {
  if (loaded !== undefined) return Promise.resolve(loaded);
  if (loading !== undefined) return loading;
  const attempt = (async (): Promise<Rtc> => {
    try {
      // Load it through require first: a missing native binding then throws once, here, where
      // it can be caught. (Through import() of rtc-node's ESM wrapper, Node 20 also reports it
      // as an uncaught exception: nodejs/node#51603.) That wrapper re-exports this same CJS
      // build, so the import below gets this copy.
      createRequire(import.meta.url)('@livekit/rtc-node');
    } catch (err) {
      throw nativeLoadError(err);
    }
    const m = await import('./participant.js');
    loaded = m.rtcNode;
    return loaded;
  })();
  loading = attempt;
  attempt.catch(() => {
    if (loading === attempt) loading = undefined; // let the next call try again
  });
  return attempt;
}

/**
 * Whether rtc-node's native binding is there to load, found without loading it (cheap: a
 * few file lookups). Outbound calls ask before they dial, because they load rtc-node only
 * once the INVITE has left: a process without the binding fails the call with the same
 * `LiveKitError` as `loadRtc()` instead of ringing a phone it cannot bridge. A binding that
 * is there but fails to load is still reported by `loadRtc()`.
 */
export function rtcUnavailable(): LiveKitError | undefined {
  if (loaded !== undefined || process.env.NAPI_RS_NATIVE_LIBRARY_PATH) return undefined;
  const req = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = dirname(req.resolve('@livekit/rtc-ffi-bindings/package.json'));
  } catch (err) {
    return nativeLoadError(err);
  }
  // the binding's loader takes a `.node` file beside it, else a package named after the platform
  try {
    if (readdirSync(dir).some((f) => f.endsWith('.node'))) return undefined;
  } catch {
    // unreadable: let loadRtc() say what is wrong
    return undefined;
  }
  const prefix = `@livekit/rtc-ffi-bindings-${process.platform}-`;
  const suffixes = [
    process.arch,
    `${process.arch}-gnu`,
    `${process.arch}-musl`,
    `${process.arch}-msvc`,
    'universal',
  ];
  for (const s of suffixes) {
    try {
      req.resolve(`${prefix}${s}/package.json`);
      return undefined;
    } catch {
      // not this one
    }
  }
  return nativeLoadError(
    new LiveKitError(`native binding for ${process.platform}-${process.arch} not found`),
  );
}

function nativeLoadError(err: unknown): LiveKitError {
  const text = err instanceof Error ? err.message : String(err);
  const platform = `${process.platform}-${process.arch}`;
  return new LiveKitError(
    /native binding|\.node|rtc-ffi-bindings/i.test(text)
      ? `@livekit/rtc-node has no native binding for ${platform}: its platform package ` +
          `(@livekit/rtc-ffi-bindings-${platform}…) is not installed; install with optional dependencies`
      : `@livekit/rtc-node could not be loaded: ${text.split('\n')[0] ?? ''}`,
    { cause: err },
  );
}

/** rtc-node once {@link loadRtc} has run (call paths that can only run after a room was joined). */
export function rtcLoaded(): Rtc {
  if (loaded === undefined) throw new InternalError('@livekit/rtc-node used before it was loaded');
  return loaded;
}

/** Whether rtc-node was loaded by this process (for `shutdown()`: nothing to dispose otherwise). */
export function rtcIsLoaded(): boolean {
  return loaded !== undefined;
}
