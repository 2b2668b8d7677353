/** shutdown(): lets the process's calls end (or hangs them up), then disposes rtc-node if a call loaded it. */
import { describe, expect, it } from 'vitest';
import type { BridgeEnded } from '../src/bridge-events.js';
import { rtcIsLoaded } from '../src/livekit/rtc.js';
import { activeCallCount, shutdown, trackCall } from '../src/shutdown.js';
import { FakeTimerClock } from '../src/testing/fake-clock.js';

/** A stand-in for a BridgeCall: ends when told to, or when hung up. */
function fakeCall(): {
  end(): void;
  hangups: number;
  ended: Promise<BridgeEnded>;
  hangup(): Promise<BridgeEnded>;
} {
  let resolve!: (e: BridgeEnded) => void;
  const ended = new Promise<BridgeEnded>((r) => (resolve = r));
  const c = {
    hangups: 0,
    ended,
    end: () => resolve({ reason: 'phone-hangup', talkMs: 1 }),
    hangup: () => {
      c.hangups++;
      resolve({ reason: 'host-hangup', talkMs: 1 });
      return ended;
    },
  };
  return c;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('shutdown()', () => {
  it('waits for the calls (also one started meanwhile), hangs up none of them, and disposes nothing rtc-node never loaded', async () => {
    const clock = new FakeTimerClock();
    const a = fakeCall();
    trackCall(a);
    expect(activeCallCount()).toBe(1);
    let done = false;
    const p = shutdown({ timeoutMs: 10_000, clock }).then(() => (done = true));
    const b = fakeCall();
    trackCall(b); // a call that starts while shutdown waits is waited for too
    a.end();
    await tick();
    expect(done).toBe(false);
    clock.advance(5_000);
    b.end();
    await p;
    expect(done).toBe(true);
    expect([a.hangups, b.hangups]).toEqual([0, 0]);
    expect(activeCallCount()).toBe(0);
    expect(rtcIsLoaded()).toBe(false);
    // idempotent: the same promise, already settled
    await shutdown();
  });
});
