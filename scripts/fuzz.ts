/**
 * `npm run fuzz`: the long fuzzing run. Every target of test/fuzz/targets.ts (SIP parser,
 * SIP stream framer, SDP, digest challenge, RTP) gets 10⁶ mutated inputs (or --inputs N)
 * from a fresh seed (or --seed S / FUZZ_SEED); --target NAME runs one target only.
 * Prints inputs per second per target, writes bench/results/fuzz.json, and saves each
 * failing input as test/fixtures/fuzz/<target>/<sha1>.bin — the unit suite replays those
 * files, so a failure found here becomes a regression test once it is fixed.
 * Exit code 1 when any target failed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { TARGETS, fuzz } from '../test/fuzz/targets.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const inputs = Number(arg('inputs') ?? 1_000_000);
const seed = Number(arg('seed') ?? process.env.FUZZ_SEED ?? Date.now() & 0x7fffffff);
const only = arg('target');
const targets = TARGETS.filter((t) => only === undefined || t.name === only);
if (targets.length === 0) {
  console.error(`no target named ${only}; targets: ${TARGETS.map((t) => t.name).join(', ')}`);
  process.exit(2);
}

console.log(`fuzzing ${targets.length} target(s), ${inputs.toLocaleString('en')} inputs each, seed ${seed}`);
const rows: { target: string; inputs: number; seconds: number; perSecond: number; failures: number }[] = [];
let failed = false;
for (const t of targets) {
  // Chunks keep progress visible; each chunk has its own derived seed.
  const chunk = 100_000;
  let done = 0;
  let seconds = 0;
  let count = 0;
  const failures: { input: Uint8Array; message: string }[] = [];
  for (let c = 0; done < inputs && failures.length < 5; c++) {
    const n = Math.min(chunk, inputs - done);
    const r = fuzz(t, n, (seed + c * 0x9e3779b1) >>> 0, 5 - failures.length);
    done += n;
    count += r.inputs;
    seconds += r.seconds;
    failures.push(...r.failures);
    process.stdout.write(`\r  ${t.name.padEnd(11)} ${done.toLocaleString('en').padStart(9)} inputs`);
  }
  const perSecond = Math.round(count / seconds);
  process.stdout.write(
    `\r  ${t.name.padEnd(11)} ${count.toLocaleString('en').padStart(9)} inputs in ${seconds.toFixed(1)} s` +
      ` = ${perSecond.toLocaleString('en')}/s, ${failures.length} failure(s)\n`,
  );
  for (const f of failures) {
    failed = true;
    const dir = join(root, 'test/fixtures/fuzz', t.name);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${createHash('sha1').update(f.input).digest('hex').slice(0, 16)}.bin`);
    writeFileSync(file, f.input);
    console.log(`    FAILURE: ${f.message}\n    reproducer: ${file}`);
  }
  rows.push({
    target: t.name,
    inputs: count,
    seconds: Number(seconds.toFixed(2)),
    perSecond,
    failures: failures.length,
  });
}

const out = join(root, 'bench/results');
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, 'fuzz.json'),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      seed,
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
      targets: rows,
    },
    null,
    2,
  ) + '\n',
);
console.log(failed ? 'fuzzing found failures (reproducers saved)' : 'no failures');
process.exit(failed ? 1 : 0);
