/**
 * Per-test guards of the bridge fault tests: unhandled rejections in the host process are
 * collected and must stay empty; a few assertions on what the room and the phone heard.
 */
import { afterEach, beforeEach, expect } from 'vitest';
import { toneDominates } from '../../src/rtp/goertzel.js';
import type { BridgeCall } from '../../src/index.js';
import type { ExotelSimulator } from '../../src/testing/index.js';
import type { LogRecord } from '../../src/logger.js';
import { loudPart, runCleanups, type Cleanups } from './e2e.js';
import { eventually } from './livekit.js';

/** Installs beforeEach/afterEach hooks: cleanups run, then no unhandled rejection may be left. */
export function guardFaultTests(cleanups: Cleanups): void {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    await runCleanups(cleanups);
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled, 'unhandled rejections in the host process').toEqual([]);
  });
}

export function methods(sim: ExotelSimulator, method: string): number {
  return sim.requests.filter((r) => r.method === method).length;
}

export async function active(call: BridgeCall): Promise<void> {
  await call.answered;
  await eventually('active', () => call.status === 'active', 10_000);
}

/**
 * Waits until the frames recorded from index `from` on hold `seconds` of loud audio and
 * checks that `hz` dominates them (ten times the power of each other of 440, 1000, 2000 Hz).
 */
export async function hearsTone(heard: Int16Array[], from: number, hz: number, seconds = 1): Promise<void> {
  await eventually(
    `${seconds} s of loud audio after frame ${from}`,
    () => loudPart(heard.slice(from)).length >= 8000 * seconds,
    15_000,
  );
  const others = [440, 1000, 2000].filter((f) => f !== hz);
  expect(toneDominates(loudPart(heard.slice(from)), 8000, hz, others), `${hz} Hz dominates`).toBe(true);
}

/** The messages a memory logger (`createMemoryLogger`) received at level `warn`, oldest first. */
export function warnLines(logger: { records: readonly LogRecord[] }): string[] {
  return logger.records.filter((r) => r.level === 'warn').map((r) => r.msg);
}
