import { describe, expect, it } from 'vitest';
import type { Participant } from '@livekit/rtc-node';
import { waitForAudioReady } from '../../src/agent.js';
import { releaseRoomHandles } from '../../src/livekit/ffi-guard.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';

/** Lets pending promise callbacks run (no time passes on any clock). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function fakeParticipant(status: string): Participant & { attributes: Record<string, string> } {
  return { identity: 'sip-phone-+911234567890', attributes: { 'sip.callStatus': status } } as never;
}

describe('waitForAudioReady on a fake clock', () => {
  it('without a room, polls the attributes every 50 ms until the status is active', async () => {
    const clock = new FakeTimerClock();
    const p = fakeParticipant('ringing');
    let done = false;
    const ready = waitForAudioReady(p, { clock }).then(() => (done = true));
    clock.advance(100);
    await flush();
    expect(done).toBe(false);
    expect(clock.pending).toBe(1); // the next poll only
    p.attributes['sip.callStatus'] = 'active';
    clock.advance(49);
    await flush();
    expect(done).toBe(false);
    clock.advance(1);
    await ready;
    expect(done).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('rejects on its timeout and leaves no timer behind', async () => {
    const clock = new FakeTimerClock();
    const ready = waitForAudioReady(fakeParticipant('dialing'), { clock, timeoutMs: 1000 });
    const failed = ready.catch((e: unknown) => e);
    clock.advance(999);
    clock.advance(1);
    const err = (await failed) as { code?: string; message: string };
    expect(err.code).toBe('RTP_TIMEOUT');
    expect(err.message).toMatch(/1000 ms/);
    expect(clock.pending).toBe(0);
  });

  it('rejects when the status becomes hangup', async () => {
    const clock = new FakeTimerClock();
    const p = fakeParticipant('ringing');
    const failed = waitForAudioReady(p, { clock, timeoutMs: 10_000 }).catch((e: unknown) => e);
    p.attributes['sip.callStatus'] = 'hangup';
    clock.advance(50);
    expect(((await failed) as { code?: string }).code).toBe('ABORTED');
    expect(clock.pending).toBe(0);
  });
});

describe('releaseRoomHandles on a fake clock', () => {
  it('waits for the room event lock at most lockTimeoutMs, then sweeps anyway; a late lock is handed back', async () => {
    const clock = new FakeTimerClock();
    let grant: ((unlock: () => void) => void) | undefined;
    let unlocked = 0;
    const disposed: string[] = [];
    const handle = (name: string) => ({ dispose: () => void disposed.push(name) });
    const room = {
      ffiEventLock: { lock: () => new Promise<() => void>((r) => (grant = r)) },
      ffiHandle: handle('room'),
      localParticipant: { ffi_handle: handle('local') },
    };
    let result: number | undefined;
    const sweeping = releaseRoomHandles(room, 2000, clock).then((n) => (result = n));
    clock.advance(1999);
    await flush();
    expect(result).toBeUndefined();
    expect(disposed).toEqual([]);
    clock.advance(1);
    await sweeping;
    expect(result).toBe(2);
    expect(disposed).toEqual(['local', 'room']);
    expect(clock.pending).toBe(0);
    grant!(() => void unlocked++); // the lock arrives too late
    await flush();
    expect(unlocked).toBe(1);
  });

  it('with the lock granted in time, clears its timer and unlocks after the sweep', async () => {
    const clock = new FakeTimerClock();
    let unlocked = 0;
    const room = {
      ffiEventLock: { lock: () => Promise.resolve(() => void unlocked++) },
      ffiHandle: { dispose: () => undefined },
    };
    expect(await releaseRoomHandles(room, 2000, clock)).toBe(1);
    expect(unlocked).toBe(1);
    expect(clock.pending).toBe(0);
  });
});
