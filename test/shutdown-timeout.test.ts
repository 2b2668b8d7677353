/** shutdown() past its timeout hangs up what is left (its own file: shutdown runs once per process). */
import { expect, it } from 'vitest';
import type { BridgeEnded } from '../src/bridge-events.js';
import { activeCallCount, shutdown, trackCall } from '../src/shutdown.js';
import { FakeTimerClock } from '../src/testing/fake-clock.js';

it('hangs up the calls still running once timeoutMs has passed', async () => {
  const clock = new FakeTimerClock();
  let hangups = 0;
  let resolve!: (e: BridgeEnded) => void;
  const ended = new Promise<BridgeEnded>((r) => (resolve = r));
  trackCall({
    ended,
    hangup: () => {
      hangups++;
      resolve({ reason: 'host-hangup', talkMs: 0 });
      return ended;
    },
  });
  const p = shutdown({ timeoutMs: 1_000, clock });
  await new Promise((r) => setImmediate(r));
  expect(hangups).toBe(0);
  clock.advance(1_000);
  await p;
  expect(hangups).toBe(1);
  expect(activeCallCount()).toBe(0);
});
