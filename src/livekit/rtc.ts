/**
 * `@livekit/rtc-node`, loaded on first use. Importing it loads its native binding, which a
 * host that only configures, signals or parses never needs (and which some platforms do not
 * have): the package's entries import this module instead, and a call loads rtc-node when it
 * joins its room. It is reached through the participant module, so that the ESM and the CJS
 * build each use the one copy of rtc-node their own format loads (a second copy would be a
 * second native runtime, and its `RpcError` another class).
 */
import type * as RtcNode from '@livekit/rtc-node';
import { InternalError } from '../errors.js';

export type Rtc = typeof RtcNode;

let loaded: Rtc | undefined;
let loading: Promise<Rtc> | undefined;

/** Loads rtc-node (once per process) and returns it. */
export function loadRtc(): Promise<Rtc> {
  if (loaded !== undefined) return Promise.resolve(loaded);
  loading ??= import('./participant.js').then((m) => (loaded = m.rtcNode));
  return loading;
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
