import { describe, expect, it } from 'vitest';
import { systemTimerClock, type TimerClock } from '../../src/clock.js';
import { systemTimerClock as sipSystemTimerClock } from '../../src/sip/timers.js';
import { FakeTimerClock, ManualClock } from '../../src/testing/fake-clock.js';
import { FakeTimerClock as PublicFakeTimerClock } from '../../src/testing/index.js';

describe('FakeTimerClock', () => {
  it('runs due callbacks in deadline order, ties in scheduling order, each at its own time', () => {
    const clock = new FakeTimerClock(100);
    const log: string[] = [];
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => log.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => log.push(`c@${clock.now()}`), 20);
    expect(clock.advance(15)).toBe(1);
    expect(clock.advance(100)).toBe(2);
    expect(log).toEqual(['a@110', 'b@120', 'c@120']);
    expect(clock.now()).toBe(215);
  });

  it('runs callbacks scheduled by callbacks when they fall due within the same advance', () => {
    const clock = new FakeTimerClock();
    const at: number[] = [];
    const tick = (): void => {
      at.push(clock.now());
      if (at.length < 5) clock.setTimeout(tick, 20);
    };
    clock.setTimeout(tick, 20);
    clock.advance(60);
    expect(at).toEqual([20, 40, 60]);
    clock.advance(1000);
    expect(at).toEqual([20, 40, 60, 80, 100]);
    expect(clock.pending).toBe(0);
  });

  it('clearTimeout cancels; clearing twice or clearing a timer that ran is a no-op', () => {
    const clock = new FakeTimerClock();
    let ran = 0;
    const h = clock.setTimeout(() => ran++, 10);
    const g = clock.setTimeout(() => ran++, 5);
    clock.clearTimeout(h);
    clock.clearTimeout(h);
    clock.advance(10);
    clock.clearTimeout(g);
    expect(ran).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('immediates are 0 ms timers: they run at the current time on the next advance, after due timers', () => {
    const clock = new FakeTimerClock(50);
    const log: string[] = [];
    clock.setTimeout(() => log.push('timer'), 0);
    const i = clock.setImmediate(() => log.push(`immediate@${clock.now()}`));
    clock.setImmediate(() => log.push(`immediate2@${clock.now()}`));
    expect(log).toEqual([]); // never synchronously
    clock.clearImmediate(i);
    expect(clock.advance(0)).toBe(2);
    expect(log).toEqual(['timer', 'immediate2@50']);
  });

  it('set() moves to an absolute time (never backwards), running what falls due', () => {
    const clock = new FakeTimerClock(10);
    let ran = 0;
    clock.setTimeout(() => ran++, 20);
    expect(clock.set(5)).toBe(0);
    expect(clock.now()).toBe(10);
    expect(clock.set(30)).toBe(1);
    expect(clock.now()).toBe(30);
    expect(ran).toBe(1);
  });

  it('runAll() runs everything left (moving time to each deadline), bounded by a limit', () => {
    const clock = new FakeTimerClock();
    const again = (): void => void clock.setTimeout(again, 1000);
    clock.setTimeout(again, 1000);
    expect(clock.runAll(5)).toBe(5);
    expect(clock.now()).toBe(5000);
    expect(clock.nextDeadline()).toBe(6000);
  });

  it('is the FakeTimerClock of exotel-livekit-bridge/testing', () => {
    expect(PublicFakeTimerClock).toBe(FakeTimerClock);
  });
});

describe('ManualClock (deprecated alias)', () => {
  it('is a FakeTimerClock whose advance() returns the new time, as before', () => {
    const clock = new ManualClock(5);
    expect(clock).toBeInstanceOf(FakeTimerClock);
    let ran = 0;
    clock.setTimeout(() => ran++, 10);
    expect(clock.advance(20)).toBe(25);
    expect(clock.advance(-3)).toBe(25);
    expect(ran).toBe(1);
  });
});

describe('systemTimerClock', () => {
  it('is one object, also exported by sip/timers for the SIP stack', () => {
    expect(sipSystemTimerClock).toBe(systemTimerClock);
  });

  it('runs a timeout and an immediate, and clears both (order of events, no wall-clock bound)', async () => {
    const clock: TimerClock = systemTimerClock;
    const log: string[] = [];
    const t0 = clock.now();
    await new Promise<void>((resolve) => {
      const cleared = clock.setTimeout(() => log.push('cleared timeout'), 0);
      clock.clearTimeout(cleared);
      const clearedImmediate = clock.setImmediate(() => log.push('cleared immediate'));
      clock.clearImmediate(clearedImmediate);
      clock.setImmediate(() => log.push('immediate'));
      clock.setTimeout(
        () => {
          log.push('timeout');
          resolve();
        },
        5,
        { unref: true },
      );
    });
    expect(log).toEqual(['immediate', 'timeout']);
    expect(clock.now()).toBeGreaterThanOrEqual(t0);
  });

  it('unref: true makes the Node timer not keep the process alive', () => {
    const h = systemTimerClock.setTimeout(() => undefined, 60_000, { unref: true }) as NodeJS.Timeout;
    const r = systemTimerClock.setTimeout(() => undefined, 60_000) as NodeJS.Timeout;
    expect(h.hasRef()).toBe(false);
    expect(r.hasRef()).toBe(true);
    systemTimerClock.clearTimeout(h);
    systemTimerClock.clearTimeout(r);
  });
});
