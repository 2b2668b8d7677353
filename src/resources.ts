/**
 * What the library holds open right now, counted by kind: a process-wide registry that
 * leak checks read (the fault matrix asserts every count is back to zero after each case)
 * and that a host can log or export as a gauge (`resourceCounts()`).
 *
 * Each place that opens something long-lived registers it with one counter increment and
 * releases it when it is really gone (a socket's `close` event, a timer fired or cleared,
 * a participant's `close()` settled). Nothing here runs per packet. The counts live on
 * `globalThis` under a `Symbol.for` key, so the ESM and CJS builds loaded in one process
 * share them.
 */

/**
 * The kinds of resource the library counts:
 * - `listener`: a SIP listener (UDP socket, TCP or TLS server) or an AgentStream HTTP server of its own;
 * - `sip-socket`: a SIP TCP/TLS connection, either direction;
 * - `rtp-socket`: an RTP or RTCP UDP socket of a call;
 * - `stream`: an AgentStream WebSocket accepted by the endpoint;
 * - `participant`: a call's LiveKit participant (rtc-node room, track and audio source), until its `close()` has finished, or the room of a `connectToCall()` handle until its `close()`;
 * - `pacer`: a media session registered with a paced RTP scheduler;
 * - `timer`: a timer armed on the system clock and neither fired nor cleared (unref'd ones too).
 */
export type ResourceKind =
  'listener' | 'sip-socket' | 'rtp-socket' | 'stream' | 'participant' | 'pacer' | 'timer';

/** Every {@link ResourceKind}, in a fixed order. */
export const RESOURCE_KINDS: readonly ResourceKind[] = Object.freeze([
  'listener',
  'sip-socket',
  'rtp-socket',
  'stream',
  'participant',
  'pacer',
  'timer',
]);

type Counted = Exclude<ResourceKind, 'timer'>;

interface Registry {
  counts: Record<Counted, number>;
  /** Pending system-clock timers: added when armed, deleted when fired or cleared. */
  timers: Set<unknown>;
}

const KEY = Symbol.for('exotel-livekit-bridge.resources.v1');

function registry(): Registry {
  const g = globalThis as { [KEY]?: Registry };
  return (g[KEY] ??= {
    counts: { listener: 0, 'sip-socket': 0, 'rtp-socket': 0, stream: 0, participant: 0, pacer: 0 },
    timers: new Set(),
  });
}

const reg = registry();

/**
 * How many resources of each kind the library holds open in this process right now
 * (every call, listener and endpoint together). A frozen snapshot: reading it costs one
 * small object, so poll it at intervals (a metrics gauge, a leak check after each call),
 * not per packet. With no call, listener or endpoint open every count is 0; a count that
 * stays above 0 after everything was closed is a leak worth reporting.
 */
export function resourceCounts(): Readonly<Record<ResourceKind, number>> {
  return Object.freeze({ ...reg.counts, timer: reg.timers.size });
}

/** Counts one more `kind` held open (library-internal). */
export function resourceOpened(kind: Counted): void {
  reg.counts[kind]++;
}

/** Counts one `kind` released (library-internal); call once per `resourceOpened`. */
export function resourceClosed(kind: Counted): void {
  reg.counts[kind]--;
}

/** Counts `kind` held until `target` emits `close` (a socket, a server): the usual one-line registration. */
export function heldUntilClose(
  kind: Counted,
  target: { once(event: 'close', fn: () => void): unknown },
): void {
  reg.counts[kind]++;
  target.once('close', () => void reg.counts[kind]--);
}

/** A system-clock timer was armed (`clock.ts` only). */
export function timerArmed(handle: object): void {
  reg.timers.add(handle);
}

/** A system-clock timer fired or was cleared (`clock.ts` only); idempotent. */
export function timerSettled(handle: unknown): void {
  reg.timers.delete(handle);
}
