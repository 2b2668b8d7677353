/**
 * Keeps `@livekit/rtc-node`'s own log records out of the host's stdout.
 *
 * The mechanism (rtc-node 1.1.0, pinned exactly): `dist/log.cjs` makes one pino logger when
 * the SDK loads, `pino({ name: 'lk-rtc' })`, and sets its level from `NODE_ENV` alone:
 * `info` when it is `production`, else `debug`. `LOG_LEVEL` and the like are not read. No
 * destination is given, so pino writes to its default one, file descriptor 1: every call
 * printed `{"level":20,…,"name":"lk-rtc","msg":"Connect callback received"}` into the
 * host's stdout, between its own output (and `warn`/`error` records such as
 * `RoomEvent.TrackSubscribed: …` as JSON in production). Every module of the SDK (room,
 * participant, audio stream and mixer) logs through that one object and makes no child
 * logger, and the package exports neither the logger nor `./dist/log.cjs` (its `exports`
 * map has only `.`), so a host cannot reach it to change either.
 *
 * The fix: rtc-node is CommonJS (its ESM entry is `export * from './index.cjs'`), so its
 * modules sit in Node's require cache whichever way it was imported, and the ESM and CJS
 * builds of this package share them. {@link quietRtcNodeLog} finds the cache entry of the
 * `index.cjs` whose exports are the rtc-node the caller loaded (not some other copy, such as
 * the 0.13 line the tests also install), takes the `log.cjs` module beside it (already
 * loaded by `room.cjs`: the very object the SDK logs through) and sets its level to
 * `silent`. pino then turns every level method into a no-op: nothing is formatted, nothing
 * is written. The bridge has its own log points for what those records said (`[BRIDGE]
 * Connected…`), on the logger the host injected. This is process-wide: code of the host
 * that uses the same copy of rtc-node is quiet too, from the moment the bridge loaded it.
 *
 * The participant module calls it once, right after importing rtc-node. If a later rtc-node
 * moves its logger, nothing is changed and `quietRtcNodeLog` returns false; the unit test
 * fails then, and so does the integration test that reads a call's stdout.
 */
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

/** The part of rtc-node's pino logger this module touches. */
export interface RtcNodeLogger {
  level: string;
  bindings(): Record<string, unknown>;
}

/** The part of the rtc-node module namespace that identifies its copy. */
export interface RtcNodeModule {
  readonly Room: unknown;
  readonly dispose: unknown;
}

/** The name rtc-node gives its logger (the `name` field of every record). */
export const RTC_NODE_LOGGER_NAME = 'lk-rtc';

/**
 * rtc-node's logger for the copy `rtc` (the SDK's module namespace), or `undefined` when it
 * cannot be found (another layout of the SDK, or a bundle without a require cache).
 */
export function findRtcNodeLogger(rtc: RtcNodeModule): RtcNodeLogger | undefined {
  // Any absolute path gives a require whose `cache` is the process-wide one.
  const cache = createRequire(process.execPath).cache;
  for (const [file, mod] of Object.entries(cache)) {
    if (basename(file) !== 'index.cjs' || mod === undefined) continue;
    const exports = mod.exports as Partial<RtcNodeModule> | undefined;
    if (exports === undefined || exports.Room !== rtc.Room || exports.dispose !== rtc.dispose) continue;
    const log = (cache[join(dirname(file), 'log.cjs')]?.exports as { log?: unknown } | undefined)?.log;
    return isRtcNodeLogger(log) ? log : undefined;
  }
  return undefined;
}

function isRtcNodeLogger(v: unknown): v is RtcNodeLogger {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Partial<RtcNodeLogger>;
  return (
    typeof o.level === 'string' &&
    typeof o.bindings === 'function' &&
    o.bindings().name === RTC_NODE_LOGGER_NAME
  );
}

/**
 * Silences rtc-node's own logger (see the file header). Returns whether it was found.
 * Idempotent; call it once, when rtc-node has been loaded.
 */
export function quietRtcNodeLog(rtc: RtcNodeModule): boolean {
  const log = findRtcNodeLogger(rtc);
  if (log === undefined) return false;
  log.level = 'silent';
  return true;
}
