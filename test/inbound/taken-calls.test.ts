/** TakenCalls: the calls a listener took, their onEnded hooks, the drain and the close. */
import { describe, expect, it } from 'vitest';
import type { BridgeCall, BridgeEnded } from '../../src/bridge.js';
import { TakenCalls } from '../../src/inbound/taken-calls.js';
import { silentLogger } from '../../src/logger.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';

function fakeBridge(): { bridge: BridgeCall; end(): void; hangups(): number } {
  let resolve!: (e: BridgeEnded) => void;
  const ended = new Promise<BridgeEnded>((r) => (resolve = r));
  let hangups = 0;
  const bridge = {
    ended,
    hangup: () => {
      hangups++;
      resolve({ reason: 'host-hangup', talkMs: 0 });
      return ended;
    },
  } as unknown as BridgeCall;
  return { bridge, end: () => resolve({ reason: 'phone-hangup', talkMs: 5 }), hangups: () => hangups };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TakenCalls', () => {
  it('runs each onEnded once with how the call ended; close() waits for the hooks', async () => {
    const taken = new TakenCalls(silentLogger, 'a test call');
    const a = fakeBridge();
    const seen: string[] = [];
    let release!: () => void;
    const slowHook = new Promise<void>((r) => (release = r));
    taken.add(a.bridge, {
      roomName: 'r',
      onEnded: async (e) => {
        seen.push(e.reason);
        await slowHook;
      },
    });
    taken.ended(
      { roomName: 'r2', onEnded: (e) => void seen.push(e.reason) },
      { reason: 'cancelled-before-bridge' },
    );
    expect(taken.size).toBe(1);
    let closed = false;
    const closing = taken.close().then(() => (closed = true));
    await settle();
    expect(a.hangups()).toBe(1);
    expect(seen).toEqual(['cancelled-before-bridge', 'host-hangup']);
    expect(closed).toBe(false); // the slow hook is still running
    release();
    await closing;
    expect(taken.size).toBe(0);
  });

  it('a drain ends when the last call ends, also one taken while it waited; else at its limit', async () => {
    const clock = new FakeTimerClock();
    const taken = new TakenCalls(silentLogger, 'a test call');
    const a = fakeBridge();
    taken.add(a.bridge, { roomName: 'r' });
    let pending = 1; // a call still being decided by the host
    let drained = false;
    const drain = taken.drain(() => taken.size + pending > 0, 60_000, clock).then(() => (drained = true));
    a.end();
    await settle();
    expect(drained).toBe(false); // the undecided call still counts
    const b = fakeBridge();
    pending = 0;
    taken.add(b.bridge, { roomName: 'r' });
    taken.changed();
    await settle();
    expect(drained).toBe(false);
    b.end();
    await drain;
    expect(drained).toBe(true);
    expect(b.hangups()).toBe(0);

    const c = fakeBridge();
    taken.add(c.bridge, { roomName: 'r' });
    const limited = taken.drain(() => taken.size > 0, 1_000, clock);
    clock.advance(1_000);
    await limited;
    expect(taken.size).toBe(1); // the drain gave up; close() hangs up the rest
    await taken.close();
    expect(c.hangups()).toBe(1);
  });
});
