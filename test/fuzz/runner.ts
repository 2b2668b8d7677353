/**
 * Runs fuzz targets: the seed of a run, the per-input time budget, the loop over mutated
 * inputs, and the reproducers saved under test/fixtures/fuzz/<target>/ (replayed by
 * test/fuzz/fuzz.test.ts on every run).
 *
 * Seed: `FUZZ_SEED=N` or a fresh random one per test file, printed as `fuzz seed: N`;
 * `FUZZ_SEED=N npm run test:unit -- test/fuzz` replays a run input for input.
 *
 * Time budget: a call over max(FUZZ_BUDGET_MS (default 50 ms) + 5 ms per KiB of input,
 * 100 × the median call of the run so far) is run again measuring this process's CPU time
 * (process.cpuUsage), which time spent waiting for a core shared with other work does not
 * count; only when that is over too, twice, is it a finding. A GC pause or a busy machine
 * (this one ran at load 25 on 2 cores while it was written) does not pass that, while a
 * hang or a quadratic blow-up is orders of magnitude over (a linear
 * pass over 64 KiB takes a few ms here; the budget for it is 370 ms, and a quadratic one
 * over the same input costs seconds).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Rng, mutate } from './mutator.js';
import { FuzzFailure } from './strict.js';

export { FuzzFailure };

export interface FuzzTarget {
  name: string;
  /** Valid inputs the mutator starts from. */
  seeds: Uint8Array[];
  /** Runs one input; throws FuzzFailure on a defect. */
  run(input: Uint8Array): void;
}

/** Where reproducers live: test/fixtures/fuzz/<target>/<sha1>.bin. */
export const FIXTURES_DIR = join(import.meta.dirname, '../fixtures/fuzz');

/** The per-call floor of the time budget, in ms (plus {@link BUDGET_MS_PER_KIB} per KiB of input). */
export const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? '') || 50;
export const BUDGET_MS_PER_KIB = 5;

let announced: number | undefined;

/** This run's seed: FUZZ_SEED, else random; printed once (`fuzz seed: N`). */
export function fuzzSeed(): number {
  if (announced !== undefined) return announced;
  const env = process.env.FUZZ_SEED;
  const seed = env !== undefined && env !== '' ? Number(env) >>> 0 : Math.floor(Math.random() * 0x7fffffff);
  announced = seed;
  console.log(`fuzz seed: ${seed} (FUZZ_SEED=${seed} npm run test:unit -- <file> reproduces this run)`);
  return seed;
}

/** The CPU time (user + system, in ms) this process spends running `fn` once. */
function cpuTimeOnce(fn: () => void): number {
  const c0 = process.cpuUsage();
  try {
    fn();
  } catch {
    // only the time matters here: the first run already reported the outcome
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

/** Tracks call times of one run and judges a slow call (see the file comment). */
export class TimeBudget {
  private readonly sample: number[] = [];
  private median = 0;

  constructor(private readonly floorMs = BUDGET_MS) {}

  /** The current limit for one call on `bytes` of input, in ms. */
  limitMs(bytes: number): number {
    return Math.max(this.floorMs + (BUDGET_MS_PER_KIB * bytes) / 1024, 100 * this.median);
  }

  /** Runs `fn` on `bytes` of input (its errors propagate), then fails when it was confirmed over the limit. */
  run(fn: () => void, what: string, bytes = 0): void {
    const t0 = performance.now();
    try {
      fn();
    } finally {
      this.judge(performance.now() - t0, fn, what, bytes);
    }
  }

  private judge(ms: number, fn: () => void, what: string, bytes: number): void {
    if (this.sample.length < 255) {
      this.sample.push(ms);
      if (this.sample.length === 255) this.median = [...this.sample].sort((a, b) => a - b)[127]!;
    }
    const limit = this.limitMs(bytes);
    if (ms <= limit) return;
    // Over in wall time: confirm on CPU time, which a busy machine does not inflate.
    let cpu = cpuTimeOnce(fn);
    if (cpu > limit) cpu = Math.min(cpu, cpuTimeOnce(fn));
    if (cpu > limit) {
      throw new FuzzFailure(
        `over the time budget: ${what} took ${ms.toFixed(1)} ms, then ${cpu.toFixed(1)} ms of CPU at best of 2 more runs, limit ${limit.toFixed(1)} ms`,
      );
    }
  }
}

/** Saves a failing input as test/fixtures/fuzz/<target>/<sha1>.bin; returns the path. */
export function saveReproducer(target: string, input: Uint8Array): string {
  const dir = join(FIXTURES_DIR, target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${createHash('sha1').update(input).digest('hex').slice(0, 16)}.bin`);
  writeFileSync(file, input);
  return file;
}

/** The saved reproducers of one target: [file name, bytes]. */
export function reproducers(target: string): [string, Uint8Array][] {
  const dir = join(FIXTURES_DIR, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.bin'))
    .sort()
    .map((n) => [n, new Uint8Array(readFileSync(join(dir, n)))]);
}

export interface FuzzRunResult {
  target: string;
  seed: number;
  inputs: number;
  seconds: number;
  perSecond: number;
  /** The slowest single call, in ms, and the input's length. */
  slowestMs: number;
  slowestBytes: number;
  failures: { input: Uint8Array; message: string }[];
}

export interface FuzzOptions {
  maxFailures?: number;
  /** Called before each input with its index (seeds first); the long run's watchdog uses it. */
  onInput?: (index: number) => void;
  budget?: TimeBudget;
}

/** The input number `index` of a run with `seed` (seeds first, then mutations). */
export function inputAt(target: FuzzTarget, seed: number, index: number): Uint8Array {
  if (index < target.seeds.length) return target.seeds[index]!;
  const rng = new Rng(seed);
  let input: Uint8Array = new Uint8Array(0);
  for (let i = target.seeds.length; i <= index; i++) input = mutate(rng, target.seeds);
  return input;
}

/** Runs the seeds and `count` mutated inputs through one target, each within the time budget. */
export function fuzz(
  target: FuzzTarget,
  count: number,
  seed: number,
  options: FuzzOptions = {},
): FuzzRunResult {
  const maxFailures = options.maxFailures ?? 5;
  const budget = options.budget ?? new TimeBudget();
  const rng = new Rng(seed);
  const failures: { input: Uint8Array; message: string }[] = [];
  const t0 = performance.now();
  let inputs = 0;
  let slowestMs = 0;
  let slowestBytes = 0;
  let slow = false; // one input over the budget ends the run: the next ones would cost as much
  const one = (input: Uint8Array): void => {
    options.onInput?.(inputs);
    inputs++;
    const t = performance.now();
    try {
      budget.run(() => target.run(input), `${target.name} on a ${input.length}-byte input`, input.length);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      failures.push({ input, message });
      if (message.startsWith('over the time budget')) slow = true;
    }
    const ms = performance.now() - t;
    if (ms > slowestMs) {
      slowestMs = ms;
      slowestBytes = input.length;
    }
  };
  for (const s of target.seeds) one(s);
  for (let i = 0; i < count && failures.length < maxFailures && !slow; i++) one(mutate(rng, target.seeds));
  const seconds = (performance.now() - t0) / 1000;
  return {
    target: target.name,
    seed,
    inputs,
    seconds,
    perSecond: Math.round(inputs / seconds),
    slowestMs,
    slowestBytes,
    failures,
  };
}
