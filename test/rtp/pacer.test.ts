import { describe, expect, it } from 'vitest';
import type { TimerClock } from '../../src/clock.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { G711Codec } from '../../src/codec/g711.js';
import { ConfigError } from '../../src/errors.js';
import { parseRtpPacket, type RtpPacket } from '../../src/rtp/packet.js';
import {
  PacedScheduler,
  PacingHistogram,
  RtpPacketizer,
  type PacerClient,
  type RtpPacketizerOptions,
} from '../../src/rtp/pacer.js';

interface Recorded {
  deadlines: number[];
  nows: number[];
  skips: number[];
  after: number;
}

function recorder(log?: string[], name = 'c'): PacerClient & { rec: Recorded } {
  const rec: Recorded = { deadlines: [], nows: [], skips: [], after: 0 };
  return {
    rec,
    onTick(deadline, now) {
      rec.deadlines.push(deadline);
      rec.nows.push(now);
      log?.push(`${name}:send`);
    },
    onAfterTick() {
      rec.after++;
      log?.push(`${name}:after`);
    },
    onSkip(periods) {
      rec.skips.push(periods);
    },
  };
}

function manual(startMs = 0, opts: { slotMs?: number; maxBurstPeriods?: number } = {}) {
  const clock = new FakeTimerClock(startMs);
  const scheduler = new PacedScheduler({ clock, autoRun: false, ...opts });
  return { clock, scheduler };
}

describe('PacedScheduler deadline arithmetic (fake clock)', () => {
  it('advances each deadline by exactly 20 ms, whatever time the tick really ran', () => {
    const { clock, scheduler } = manual(100);
    const c = recorder();
    scheduler.register(c);
    expect(scheduler.poll()).toBe(1); // first deadline = 100 (on the 5 ms grid)
    for (const [i, late] of [0.9, 0.1, 1.7, 0.4, 2.3].entries()) {
      const deadline = 120 + i * 20;
      clock.set(deadline - 0.05); // just before the deadline: nothing is sent
      expect(scheduler.poll()).toBe(0);
      clock.set(deadline + late);
      expect(scheduler.poll()).toBe(1);
    }
    // deadlines are 100, 120, 140, ... exactly: lateness never shifts the schedule
    expect(c.rec.deadlines).toEqual([100, 120, 140, 160, 180, 200]);
  });

  it('does not drift over 1000 periods when every wake-up is late by a random amount', () => {
    const { clock, scheduler } = manual(0);
    const c = recorder();
    const h = scheduler.register(c);
    for (let i = 0; i < 1000; i++) {
      const t = i * 20 + ((i * 7919) % 17) / 10; // 0..1.6 ms late
      clock.set(t);
      scheduler.poll();
    }
    expect(c.rec.deadlines.length).toBe(1000);
    expect(c.rec.deadlines[999]).toBe(19_980);
    expect(h.nextDeadlineMs).toBe(20_000);
    const s = scheduler.stats().pacing;
    expect(s.count).toBe(1000);
    expect(s.max).toBeCloseTo(1.6, 5);
  });

  it('starts new schedules on the slot grid', () => {
    const { scheduler } = manual(3.2, { slotMs: 5 });
    expect(scheduler.register(recorder()).nextDeadlineMs).toBe(5);
    const { scheduler: s2 } = manual(3.2, { slotMs: 0 });
    expect(s2.register(recorder()).nextDeadlineMs).toBe(3.2);
  });

  it('puts later schedules in the phase of earlier ones, so they share a wake-up', () => {
    const { clock, scheduler } = manual(3.2, { slotMs: 5 });
    const a = scheduler.register(recorder());
    clock.set(11.7);
    const b = scheduler.register(recorder());
    clock.set(46.1);
    const c = scheduler.register(recorder());
    // a starts on the grid (5); b and c join its phase (5 mod 20) instead of the next slot
    expect([a.nextDeadlineMs, b.nextDeadlineMs, c.nextDeadlineMs]).toEqual([5, 25, 65]);
  });

  it('opens a new grid slot, the least used, once a phase holds slotCapacity sessions', () => {
    const clock = new FakeTimerClock(3.2);
    const scheduler = new PacedScheduler({ clock, autoRun: false, slotMs: 5, slotCapacity: 2 });
    const deadlines = Array.from({ length: 5 }, () => scheduler.register(recorder()).nextDeadlineMs);
    // two per phase: 5 and 5, then the nearest empty slot (10), twice, then 15
    expect(deadlines).toEqual([5, 5, 10, 10, 15]);
    const one = new PacedScheduler({ clock, autoRun: false, slotMs: 5, slotCapacity: 1 });
    const spread = Array.from({ length: 5 }, () => one.register(recorder()).nextDeadlineMs);
    expect(spread).toEqual([5, 10, 15, 20, 5]); // a full cycle of the grid, then the least used
  });

  it('catches up a short backlog by sending back to back (up to maxBurstPeriods)', () => {
    const { clock, scheduler } = manual(0, { maxBurstPeriods: 3 });
    const c = recorder();
    scheduler.register(c);
    scheduler.poll(); // deadline 0
    clock.set(20 + 2 * 20 + 5); // deadlines 20, 40, 60 are due: 3 periods owed
    expect(scheduler.poll()).toBe(3);
    expect(c.rec.deadlines).toEqual([0, 20, 40, 60]);
    expect(c.rec.skips).toEqual([]);
  });

  it('skips ahead instead of bursting when more than maxBurstPeriods late, and counts it', () => {
    const { clock, scheduler } = manual(0, { maxBurstPeriods: 3 });
    const c = recorder();
    const h = scheduler.register(c);
    scheduler.poll(); // 0
    clock.set(20 + 10 * 20 + 3); // 223: deadlines 20..220 owed = 11 periods
    expect(scheduler.poll()).toBe(1);
    expect(c.rec.skips).toEqual([10]);
    expect(c.rec.deadlines).toEqual([0, 220]); // the one sent is the latest due deadline
    expect(h.skippedPeriods).toBe(10);
    expect(h.nextDeadlineMs).toBe(240);
    expect(scheduler.stats().skippedPeriods).toBe(10);
  });

  it('sends every due session before any after-send work', () => {
    const { scheduler } = manual(0);
    const log: string[] = [];
    scheduler.register(recorder(log, 'a'));
    scheduler.register(recorder(log, 'b'));
    scheduler.poll();
    expect(log).toEqual(['a:send', 'b:send', 'a:after', 'b:after']);
  });

  it('keeps the other sessions running when one callback throws', () => {
    const { clock, scheduler } = manual(0);
    const errors: unknown[] = [];
    scheduler.register({
      onTick() {
        throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    const ok = recorder();
    scheduler.register(ok);
    scheduler.poll();
    clock.set(20);
    scheduler.poll();
    expect(ok.rec.deadlines).toEqual([0, 20]);
    expect(errors).toHaveLength(2);
    expect(scheduler.stats().errors).toBe(2);
  });

  it('stops ticking a client once unregistered, even from inside its own tick', () => {
    const { clock, scheduler } = manual(0);
    let n = 0;
    const h = scheduler.register({
      onTick() {
        n++;
        if (n === 2) h.unregister();
      },
    });
    scheduler.poll();
    clock.set(20);
    scheduler.poll();
    clock.set(40);
    scheduler.poll();
    expect(n).toBe(2);
    expect(h.active).toBe(false);
    expect(scheduler.size).toBe(0);
  });
});

describe('PacedScheduler timers', () => {
  /** A clock whose timers only record and hold their callbacks (the test fires them). */
  function fakeTimers(startMs: number) {
    const calls: string[] = [];
    let id = 0;
    const pending = new Map<number, () => void>();
    const time = new FakeTimerClock(startMs);
    const clock: TimerClock & { set(ms: number): number } = {
      now: () => time.now(),
      set: (ms) => time.set(ms),
      setTimeout(fn, ms) {
        calls.push(`timeout ${ms}`);
        pending.set(++id, fn);
        return id;
      },
      clearTimeout(h) {
        if (pending.delete(h as number)) calls.push('clear');
      },
      setImmediate(fn) {
        calls.push('immediate');
        pending.set(++id, fn);
        return id;
      },
      clearImmediate(h) {
        if (pending.delete(h as number)) calls.push('clear');
      },
    };
    return { calls, pending, clock };
  }

  it('arms one timer spinMs before the earliest deadline, then polls with setImmediate', () => {
    const { calls, pending, clock } = fakeTimers(1000);
    const scheduler = new PacedScheduler({ clock, spinMs: 1.5, slotMs: 5, spinSliceMs: 0 });
    const c = recorder();
    scheduler.register(c); // deadline 1000 = now: immediate
    expect(calls).toEqual(['immediate']);
    const fire = (): void => {
      const [k, fn] = [...pending.entries()][0]!;
      pending.delete(k);
      fn();
    };
    fire(); // sends deadline 1000; next 1020 → timeout floor(20 - 1.5) = 18
    expect(c.rec.deadlines).toEqual([1000]);
    expect(calls.at(-1)).toBe('timeout 18');
    clock.set(1018.6);
    fire(); // 1.4 ms early: nothing due, spin with setImmediate
    expect(calls.at(-1)).toBe('immediate');
    clock.set(1020.02);
    fire();
    expect(c.rec.deadlines).toEqual([1000, 1020]);
    expect(pending.size).toBe(1); // exactly one timer at any time
  });

  it('uses one timer for many sessions and clears it when the last one leaves', () => {
    const { pending, clock, calls } = fakeTimers(0);
    const scheduler = new PacedScheduler({ clock });
    const handles = Array.from({ length: 100 }, () => scheduler.register(recorder()));
    expect(pending.size).toBe(1);
    for (const h of handles) h.unregister();
    expect(pending.size).toBe(0);
    expect(scheduler.armed).toBe(false);
    expect(calls.at(-1)).toBe('clear');
  });
});

describe('PacedScheduler on a FakeTimerClock (autoRun)', () => {
  it("ticks once per period at the exact deadlines, from the clock's own timers", () => {
    const clock = new FakeTimerClock(3);
    const scheduler = new PacedScheduler({ clock, spinMs: 0 });
    const c = recorder();
    const h = scheduler.register(c); // first deadline: the next 5 ms slot, 5
    expect(clock.pending).toBe(1);
    clock.advance(100 - 3);
    expect(c.rec.deadlines).toEqual([5, 25, 45, 65, 85]);
    expect(c.rec.nows).toEqual([5, 25, 45, 65, 85]); // a fake timer is never late
    expect(c.rec.after).toBe(5);
    h.unregister();
    expect(clock.pending).toBe(0);
    expect(scheduler.armed).toBe(false);
  });
});

describe('PacingHistogram', () => {
  it('reports quantiles at 10 µs resolution and the exact max', () => {
    const h = new PacingHistogram();
    for (let i = 0; i < 990; i++) h.record(0.1);
    for (let i = 0; i < 10; i++) h.record(2.5);
    h.record(150); // overflow bin
    const s = h.summary();
    expect(s.count).toBe(1001);
    expect(s.p50).toBeCloseTo(0.11, 5);
    expect(s.p99).toBeCloseTo(2.51, 5);
    expect(s.max).toBe(150);
    h.reset();
    expect(h.summary()).toEqual({ count: 0, p50: 0, p99: 0, p999: 0, max: 0, mean: 0 });
  });
});

describe('RtpPacketizer driven by the scheduler (fake clock)', () => {
  function rig(opts: Partial<RtpPacketizerOptions> = {}) {
    const clock = new FakeTimerClock(0);
    const scheduler = new PacedScheduler({ clock, autoRun: false });
    const pz = new RtpPacketizer({
      payloadType: 8,
      ssrc: 0xcafe,
      initialSequence: 65534,
      initialTimestamp: 0xffffff00,
      ...opts,
    });
    const sent: RtpPacket[] = [];
    scheduler.register({
      onTick: () => sent.push(parseRtpPacket(pz.packet.slice(0, pz.next()))),
      onSkip: (n) => pz.skip(n),
    });
    const tick = (n = 1): void => {
      for (let i = 0; i < n; i++) {
        scheduler.poll();
        clock.advance(20);
      }
    };
    return { clock, scheduler, pz, sent, tick };
  }
  const pcma = new G711Codec('PCMA');

  it('sends silence when idle, with continuous sequence numbers and timestamps across the wrap', () => {
    const { sent, tick } = rig();
    tick(5);
    expect(sent.map((p) => p.sequenceNumber)).toEqual([65534, 65535, 0, 1, 2]);
    expect(sent.map((p) => p.timestamp)).toEqual([0xffffff00, 0xffffffa0, 0x40, 0xe0, 0x180]);
    expect(sent.map((p) => p.marker)).toEqual([true, false, false, false, false]); // first of the stream
    for (const p of sent) {
      expect(p.payloadType).toBe(8);
      expect(p.ssrc).toBe(0xcafe);
      expect(p.payload).toEqual(new Uint8Array(160).fill(0xd5));
    }
  });

  it('marks the first packet of every talkspurt and encodes queued audio in order', () => {
    const { pz, sent, tick } = rig();
    tick(2); // silence
    const a = Int16Array.from({ length: 320 }, (_, i) => (i % 50) * 100 - 2500);
    pz.write(a);
    tick(3); // audio, audio, silence
    pz.write(a.subarray(0, 160));
    tick(1); // audio again: new talkspurt
    expect(sent.map((p) => p.marker)).toEqual([true, false, true, false, false, true]);
    expect(sent[2]!.payload).toEqual(pcma.encode(a.subarray(0, 160)));
    expect(sent[3]!.payload).toEqual(pcma.encode(a.subarray(160, 320)));
    expect(sent[4]!.payload).toEqual(new Uint8Array(160).fill(0xd5));
    expect(pz.stats()).toMatchObject({ audioPackets: 3, silencePackets: 3 });
  });

  it('waits up to partialWaitTicks for the rest of a partial frame, then pads it with silence', () => {
    const { pz, sent, tick } = rig({ partialWaitTicks: 2 });
    pz.write(new Int16Array(80).fill(1000));
    tick(3);
    expect(sent.slice(0, 2).every((p) => p.payload.every((b) => b === 0xd5))).toBe(true);
    const expected = pcma.encode(Int16Array.from({ length: 160 }, (_, i) => (i < 80 ? 1000 : 0)));
    expect(sent[2]!.payload).toEqual(expected);
    // a producer writing 10 ms at a time settles into whole frames
    pz.write(new Int16Array(80).fill(500));
    pz.write(new Int16Array(80).fill(500));
    tick(1);
    expect(sent[3]!.payload).toEqual(pcma.encode(new Int16Array(160).fill(500)));
  });

  it('keeps the timestamp on wall-clock time when the scheduler skips ahead', () => {
    const { clock, scheduler, sent } = rig({ initialTimestamp: 1000, initialSequence: 10 });
    scheduler.poll(); // t=0
    clock.set(20 + 10 * 20); // 10 periods late
    scheduler.poll();
    expect(sent.map((p) => p.sequenceNumber)).toEqual([10, 11]); // no sequence gap: nothing was lost
    expect(sent[1]!.timestamp - sent[0]!.timestamp).toBe(11 * 160); // but time moved on
  });

  it('replaces audio with RFC 4733 events while a digit plays; audio timestamps continue after it', async () => {
    const { pz, sent, tick } = rig({
      telephoneEventPayloadType: 101,
      dtmfDurationMs: 100,
      dtmfGapMs: 0,
      initialTimestamp: 8000,
    });
    tick(1); // silence at ts 8000
    let done = false;
    const p = pz.sendDtmf('5').then(() => (done = true));
    pz.write(new Int16Array(160 * 10).fill(2000));
    tick(7); // 160, 320, 480, 640, 800(E) ×3 → 7 packets
    await Promise.resolve();
    await p;
    expect(done).toBe(true);
    tick(1); // audio resumes
    const ev = sent.slice(1, 8);
    expect(ev.every((q) => q.payloadType === 101 && q.timestamp === 8160)).toBe(true);
    expect(ev.map((q) => q.marker)).toEqual([true, false, false, false, false, false, false]);
    expect(ev.map((q) => (q.payload[2]! << 8) | q.payload[3]!)).toEqual([160, 320, 480, 640, 800, 800, 800]);
    expect(ev.map((q) => (q.payload[1]! & 0x80) !== 0)).toEqual([
      false,
      false,
      false,
      false,
      true,
      true,
      true,
    ]);
    expect(ev.every((q) => q.payload[0] === 5)).toBe(true);
    const next = sent[8]!;
    expect(next.payloadType).toBe(8);
    expect(next.timestamp).toBe(8000 + 8 * 160);
    expect(next.marker).toBe(true);
    expect(sent.map((q) => q.sequenceNumber)).toEqual(sent.map((_, i) => (65534 + i) & 0xffff));
    // the audio queued during the digit was discarded, not delayed
    expect(pz.stats().dtmfDiscardedSamples).toBe(7 * 160);
  });

  it('rejects DTMF without a negotiated telephone-event type or with an invalid digit', async () => {
    await expect(rig().pz.sendDtmf('1')).rejects.toThrow(ConfigError);
    await expect(rig({ telephoneEventPayloadType: 101 }).pz.sendDtmf('1x')).rejects.toThrow(
      /invalid DTMF digit/,
    );
  });

  it('bounds the queue: overflow drops the oldest audio', () => {
    const { pz, sent, tick } = rig({ maxQueueMs: 200 });
    const a = Int16Array.from({ length: 2400 }, (_, i) => Math.floor(i / 160) * 100); // 15 frames, each its level
    pz.write(a);
    expect(pz.stats()).toMatchObject({ overflowSamples: 800, queuedSamples: 1600 });
    tick(1);
    expect(sent[0]!.payload).toEqual(pcma.encode(new Int16Array(160).fill(500))); // frames 0-4 were dropped
  });
});
