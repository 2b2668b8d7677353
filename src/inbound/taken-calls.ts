/**
 * The calls a listener took (SIP `listenForCalls` or the AgentStream endpoint): their
 * bridges until each has ended, the host's `onEnded` hook of each, a bounded drain, and
 * the close that hangs up the rest and waits for every hook (a host that exits once
 * `close()` resolves leaves no room behind).
 */
import type { BridgeCall, BridgeEnded } from '../bridge.js';
import { bestEffortAsync } from '../best-effort.js';
import type { TimerClock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { AcceptDecision } from './types.js';

/** What `onEnded` is given: how the call ended, or that the caller left before a bridge existed. */
export type TakenCallEnd = BridgeEnded | { reason: 'cancelled-before-bridge' };

export class TakenCalls {
  private readonly bridges = new Set<BridgeCall>();
  private readonly cleanups = new Set<Promise<unknown>>();
  private readonly onChange = new Set<() => void>();

  /** `what` names the calls in logs (`an inbound call`, `an AgentStream call`). */
  constructor(
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  /** Bridges not ended yet. */
  get size(): number {
    return this.bridges.size;
  }

  /** Tracks `bridge` until it ends, then runs the decision's `onEnded`. */
  add(bridge: BridgeCall, d: AcceptDecision): void {
    this.bridges.add(bridge);
    void bridge.ended.then((ended) => {
      this.bridges.delete(bridge);
      this.ended(d, ended);
      this.changed();
    });
  }

  /** Tells a drain to look again (the listener's own count of calls being decided changed). */
  changed(): void {
    for (const f of [...this.onChange]) f();
  }

  /** Runs the host's `onEnded` (a failure is logged); `close()` waits for it. */
  ended(d: AcceptDecision, end: TakenCallEnd): void {
    const hook = d.onEnded;
    if (hook === undefined) return;
    const run = bestEffortAsync(
      this.log,
      `[BRIDGE] onEnded of ${this.what}`,
      (async () => {
        await hook(end);
      })(),
    );
    this.cleanups.add(run);
    void run.then(() => this.cleanups.delete(run));
  }

  /**
   * Resolves once `busy()` turns false (checked now and whenever a call ends, calls taken
   * meanwhile included), or after `limitMs` on `clock`.
   */
  drain(busy: () => boolean, limitMs: number, clock: TimerClock): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clock.clearTimeout(timer);
        this.onChange.delete(check);
        resolve();
      };
      const check = (): void => {
        if (!busy()) done();
      };
      const timer = clock.setTimeout(done, limitMs);
      this.onChange.add(check);
      check();
    });
  }

  /** Hangs up every call left and waits for every `onEnded` hook. */
  async close(): Promise<void> {
    await Promise.all([...this.bridges].map((b) => b.hangup()));
    await Promise.all([...this.cleanups]);
  }
}
