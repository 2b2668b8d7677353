/**
 * Bridge variants of the load benchmark: the same steps run once per variant, each in its
 * own worker process(es), so the levers of `runBridge({ livekitMedia })` and the number of
 * worker processes are compared within one run (one machine state, one livekit-server).
 *
 * Syntax (LOAD_SYSTEMS entries): `bridge` (defaults) or `bridge@<lever>[+<lever>…]`, levers:
 *   queue<N>     AudioSource queue of N ms (`livekitMedia.audioSourceQueueMs`, e.g. queue0)
 *   nored        `livekitMedia.red: false`          red       `red: true`
 *   nodtx        `livekitMedia.dtx: false`          dtx       `dtx: true`
 *   kbps<N>      `livekitMedia.maxBitrateBps: N * 1000` (Opus maximum bitrate)
 *   workers<N>   the variant's calls spread round-robin over N bridge-worker processes
 *   directffi0   `directFfi: false` (rtc-node's own AudioSource/AudioStream)
 * e.g. `LOAD_SYSTEMS=bridge,bridge@queue0,bridge@nored+nodtx,bridge@workers2,livekit-sip`.
 */
import type { PhoneTrackTuning } from '../../src/livekit/participant.js';

/** The options of one bridge variant (what the worker passes to `runBridge`). */
export interface BridgeVariant {
  /** `bridge` or `bridge@…` as written. */
  key: string;
  /** The levers after `@`, or '' for the defaults. */
  levers: string;
  livekitMedia: PhoneTrackTuning;
  directFfi?: boolean;
  workers: number;
}

/** Parses one LOAD_SYSTEMS entry that starts with `bridge`; `defaultWorkers` applies when no `workers<N>` lever. */
export function parseBridgeVariant(key: string, defaultWorkers = 1): BridgeVariant {
  const at = key.indexOf('@');
  if ((at < 0 ? key : key.slice(0, at)) !== 'bridge') throw new Error(`not a bridge variant: ${key}`);
  const levers = at < 0 ? '' : key.slice(at + 1);
  const v: BridgeVariant = { key, levers, livekitMedia: {}, workers: defaultWorkers };
  for (const lever of levers === '' ? [] : levers.split('+')) {
    const num = (prefix: string) => {
      const n = Number(lever.slice(prefix.length));
      if (!lever.startsWith(prefix) || !Number.isInteger(n) || n < 0)
        throw new Error(`bad lever ${lever} in ${key}`);
      return n;
    };
    if (lever === 'nored') v.livekitMedia.red = false;
    else if (lever === 'red') v.livekitMedia.red = true;
    else if (lever === 'nodtx') v.livekitMedia.dtx = false;
    else if (lever === 'dtx') v.livekitMedia.dtx = true;
    else if (lever === 'directffi0') v.directFfi = false;
    else if (lever.startsWith('queue')) {
      const ms = num('queue');
      if (ms % 10 !== 0) throw new Error(`${lever}: the queue must be a multiple of 10 ms`);
      v.livekitMedia.audioSourceQueueMs = ms;
    } else if (lever.startsWith('kbps')) v.livekitMedia.maxBitrateBps = num('kbps') * 1000;
    else if (lever.startsWith('workers')) v.workers = Math.max(1, num('workers'));
    else throw new Error(`unknown lever ${lever} in ${key} (see bench/load/variants.ts)`);
  }
  return v;
}

/** `--workers N` on the command line, else LOAD_WORKERS, else 1. */
export function defaultWorkers(argv: string[], env: NodeJS.ProcessEnv): number {
  const i = argv.indexOf('--workers');
  const raw = i >= 0 ? argv[i + 1] : env.LOAD_WORKERS;
  const n = Number(raw ?? 1);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--workers / LOAD_WORKERS must be a whole number ≥ 1 (got ${raw})`);
  return n;
}

/** A room-name-safe form of the variant key. */
export function variantSlug(key: string): string {
  return key.replace(/[^a-zA-Z0-9]+/g, '-');
}
