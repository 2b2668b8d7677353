/**
 * fast-check properties over a fuzz target: the run's seed (`fuzz seed: N`, FUZZ_SEED), the
 * per-input time budget, and the counterexample saved as test/fixtures/fuzz/<target>/<sha1>.bin
 * so test/fuzz/fuzz.test.ts replays it on every run.
 */
import fc from 'fast-check';

import { TimeBudget, fuzzSeed, saveReproducer, type FuzzTarget } from './runner.js';

function bytesOf(x: Uint8Array | string): Uint8Array {
  return typeof x === 'string' ? new Uint8Array(Buffer.from(x, 'utf8')) : x;
}

/**
 * Asserts `target.run` on `numRuns` values of `arb` (text is given to the target as its
 * UTF-8 bytes, which is also what a reproducer holds). On failure the shrunk counterexample is saved
 * as a reproducer and the error names its file and the seed.
 */
export function assertTarget(
  target: FuzzTarget,
  arb: fc.Arbitrary<Uint8Array | string>,
  numRuns: number,
): void {
  const seed = fuzzSeed();
  const budget = new TimeBudget();
  // A slow input is not shrunk (each try would cost the budget again): once one is seen, the
  // property passes every later value, so fast-check reports that first one.
  let slow = false;
  const details = fc.check(
    fc.property(arb, (x) => {
      if (slow) return;
      const input = bytesOf(x);
      try {
        budget.run(() => target.run(input), `${target.name} on a ${input.length}-byte input`, input.length);
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('over the time budget')) slow = true;
        throw err;
      }
    }),
    { seed, numRuns },
  );
  if (!details.failed) return;
  const found = details.counterexample?.[0];
  const file = found === undefined ? 'none' : saveReproducer(target.name, bytesOf(found));
  const why =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `${target.name}: ${why}\nreproducer: ${file} (replayed by test/fuzz/fuzz.test.ts)\n${fc.defaultReportMessage(details) ?? ''}`,
  );
}
