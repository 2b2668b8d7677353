/**
 * Bounded fuzzing in CI: every target of test/fuzz/targets.ts gets its seeds and 10 000
 * mutated inputs from a fixed seed, and every saved reproducer under
 * test/fixtures/fuzz/<target>/ is replayed. `npm run fuzz` runs the same targets for 10⁶
 * inputs each with a fresh seed.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TARGETS, fuzz } from './targets.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/fuzz');

describe('fuzz targets (bounded)', () => {
  it.each(TARGETS.map((t) => [t.name, t] as const))(
    '%s: 10 000 mutated inputs, no failure',
    (_name, target) => {
      const r = fuzz(target, 10_000, 0x5eed);
      expect(r.failures.map((f) => `${f.message} ← ${Buffer.from(f.input).toString('base64')}`)).toEqual([]);
      expect(r.inputs).toBe(10_000 + target.seeds.length);
    },
  );

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
  });

  it('replays every saved reproducer', () => {
    for (const t of TARGETS) {
      const dir = join(FIXTURES, t.name);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.bin'))) {
        expect(() => t.run(new Uint8Array(readFileSync(join(dir, f)))), `${t.name}/${f}`).not.toThrow();
      }
    }
  });

  it('a target that throws an untyped error is reported as a failure', () => {
    const r = fuzz(
      {
        name: 'broken',
        seeds: [new Uint8Array([1])],
        run: (b) => {
          if (b.length > 3) throw new TypeError('boom');
        },
      },
      500,
      1,
    );
    expect(r.failures.length).toBeGreaterThan(0);
  });
});
