/**
 * Bounded fuzzing in the unit suite: every target of test/fuzz/targets.ts gets its seeds and
 * a few thousand mutated inputs from this run's seed (`fuzz seed: N` is printed; replay with
 * `FUZZ_SEED=N npm run test:unit -- test/fuzz`), each call within the time budget of
 * test/fuzz/runner.ts; a failing input is saved under test/fixtures/fuzz/<target>/ and every
 * saved reproducer is replayed here on every run. `npm run fuzz` runs the same targets for
 * 10⁶ inputs each, in a worker with a hard timeout.
 */
import { describe, expect, it } from 'vitest';

import { SipParseError } from '../../src/errors.js';
import {
  TimeBudget,
  fuzz,
  fuzzSeed,
  inputAt,
  reproducers,
  saveReproducer,
  type FuzzTarget,
} from './runner.js';
import { FuzzFailure, parseOrRefuse, roundTrip } from './strict.js';
import { TARGETS } from './targets.js';

const SEED = fuzzSeed();
/** Inputs per target per run (FUZZ_INPUTS overrides, for a longer local run). */
const INPUTS = Number(process.env.FUZZ_INPUTS ?? '') || 3_000;

/** A per-target seed derived from the run's seed, so targets do not share one sequence. */
function seedFor(name: string): number {
  let h = SEED;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

describe('fuzz targets (bounded)', () => {
  it.each(TARGETS.map((t) => [t.name, t] as const))(
    `%s: mutated inputs, strict round trip, each within the time budget`,
    (name, target) => {
      const r = fuzz(target, INPUTS, seedFor(name));
      const found = r.failures.map(
        (f) => `${f.message}\n  reproducer: ${saveReproducer(name, f.input)} (run seed ${SEED})`,
      );
      expect(found).toEqual([]);
      expect(r.inputs).toBe(INPUTS + target.seeds.length);
    },
  );

  it.each(TARGETS.map((t) => [t.name, t] as const))('%s: replays every saved reproducer', (name, target) => {
    const budget = new TimeBudget();
    for (const [file, input] of reproducers(name)) {
      expect(() => budget.run(() => target.run(input), file, input.length), `${name}/${file}`).not.toThrow();
    }
  });

  it('the mutator is deterministic for a seed (a failure can be reproduced)', () => {
    const t = TARGETS[0]!;
    const record = (seed: number): string[] => {
      const seen: string[] = [];
      fuzz({ ...t, run: (b) => void seen.push(Buffer.from(b).toString('base64')) }, 200, seed);
      return seen;
    };
    const a = record(42);
    expect(record(42)).toEqual(a);
    expect(record(43)).not.toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(150); // the inputs really vary
    expect(Buffer.from(inputAt(t, 42, 150)).toString('base64')).toBe(a[150]);
  });
});

describe('the fuzz harness reports what it must', () => {
  const one = (run: FuzzTarget['run']): string[] =>
    fuzz({ name: 'planted', seeds: [new Uint8Array([1, 2, 3, 4, 5])], run }, 300, 1).failures.map(
      (f) => f.message,
    );

  it('an untyped error is a failure', () => {
    expect(
      one((b) =>
        parseOrRefuse(() => {
          if (b.length > 3) throw new TypeError('boom');
        }),
      )[0],
    ).toMatch(/^untyped TypeError: boom/);
  });

  it('a typed error while re-parsing what was serialized is a failure, not a refusal', () => {
    const failures = one((b) => {
      const parsed = parseOrRefuse(() => Buffer.from(b).toString('hex'));
      if (parsed === undefined) return;
      roundTrip(parsed, {
        format: 'planted',
        serialize: (s) => `${s} `, // writes a trailing space...
        parse: (s) => {
          if (s.endsWith(' ')) throw new SipParseError('trailing space'); // ...that the parser refuses
          return s;
        },
      });
    });
    expect(failures[0]).toMatch(
      /planted parse\(serialize\(parse\(input\)\)\) threw SipParseError: trailing space/,
    );
  });

  it('a re-parse that differs is a failure', () => {
    const failures = one((b) =>
      roundTrip(b.length, { format: 'planted', serialize: (n) => String(n), parse: (s) => Number(s) + 1 }),
    );
    expect(failures[0]).toMatch(/planted parse\(serialize\(m\)\) differs from m/);
  });

  it('a call over the time budget is a failure (confirmed by running it again), and ends the run', () => {
    let calls = 0;
    const budget = new TimeBudget(1);
    const slow = (): void => {
      calls++;
      // A planted hang: 20 ms of CPU (so a busy machine cannot make it look fast), 20× the budget.
      const c0 = process.cpuUsage();
      while (process.cpuUsage(c0).user < 20_000);
    };
    expect(() => budget.run(slow, 'slow')).toThrow(FuzzFailure);
    expect(() => budget.run(slow, 'slow')).toThrow(
      /over the time budget: slow took .* ms, then .* ms of CPU at best of 2 more runs/,
    );
    expect(calls).toBe(6);
    const r = fuzz(
      { name: 'planted', seeds: [new Uint8Array(5)], run: (b) => b.length > 3 && slow() },
      300,
      1,
      {
        budget: new TimeBudget(1),
      },
    );
    expect(r.failures.map((f) => f.message.slice(0, 20))).toEqual(['over the time budget']);
  });
});
