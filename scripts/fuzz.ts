/**
 * `npm run fuzz`: the long fuzzing run. Every target of test/fuzz/targets.ts (SIP parser,
 * framer, URI, name-addr, Via, SDP, digest, RTP, RTCP, AgentStream) gets 10⁶ mutated inputs
 * (or --inputs N) from a fresh seed (or --seed S / FUZZ_SEED); --target NAME runs one target.
 *
 * Each chunk of 100 000 inputs runs in a worker thread with a hard timeout (--hang-ms, default
 * 10 000 ms without progress on one input): a call that never returns is a failure too; the
 * thread is terminated and the hanging input rebuilt from the chunk's seed and its index.
 * Every call also has the per-input time budget of test/fuzz/runner.ts.
 *
 * Prints inputs per second per target, writes bench/results/fuzz.json, and saves each failing
 * input as test/fixtures/fuzz/<target>/<sha1>.bin — the unit suite replays those files, so a
 * failure found here becomes a regression test once it is fixed. Exit code 1 on any failure.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import os from 'node:os';

import { inputAt, saveReproducer, type FuzzRunResult } from '../test/fuzz/runner.js';
import { TARGETS } from '../test/fuzz/targets.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = new URL('../test/fuzz/worker-entry.mjs', import.meta.url);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const inputs = Number(arg('inputs') ?? 1_000_000);
const seed = Number(arg('seed') ?? process.env.FUZZ_SEED ?? Date.now() & 0x7fffffff) >>> 0;
const hangMs = Number(arg('hang-ms') ?? 10_000);
const only = arg('target');
const targets = TARGETS.filter((t) => only === undefined || t.name === only);
if (targets.length === 0) {
  console.error(`no target named ${only}; targets: ${TARGETS.map((t) => t.name).join(', ')}`);
  process.exit(2);
}

type Failure = { input: Uint8Array; message: string };

/** One chunk in a worker; resolves with its result, or with the hanging input's failure. */
function chunk(
  target: string,
  count: number,
  chunkSeed: number,
  maxFailures: number,
): Promise<FuzzRunResult> {
  const progress = new SharedArrayBuffer(4);
  const index = new Int32Array(progress);
  Atomics.store(index, 0, -1);
  const worker = new Worker(ENTRY, { workerData: { target, count, seed: chunkSeed, maxFailures, progress } });
  return new Promise((resolve, reject) => {
    let last = -1;
    let still = 0;
    const tick = 250;
    // The watchdog: an index that does not move for hangMs is a hang.
    const watchdog = setInterval(() => {
      const now = Atomics.load(index, 0);
      still = now === last ? still + tick : 0;
      last = now;
      if (still < hangMs || now < 0) return;
      clearInterval(watchdog);
      const t = TARGETS.find((x) => x.name === target)!;
      const input = inputAt(t, chunkSeed, now);
      void worker.terminate().then(() =>
        resolve({
          target,
          seed: chunkSeed,
          inputs: now + 1,
          seconds: 0,
          perSecond: 0,
          slowestMs: hangMs,
          slowestBytes: input.length,
          failures: [
            { input, message: `hang: no return within ${hangMs} ms (input ${now} of seed ${chunkSeed})` },
          ],
        }),
      );
    }, tick);
    worker.once('message', (r: FuzzRunResult) => {
      clearInterval(watchdog);
      void worker.terminate();
      resolve(r);
    });
    worker.once('error', (err) => {
      clearInterval(watchdog);
      reject(err);
    });
  });
}

console.log(
  `fuzzing ${targets.length} target(s), ${inputs.toLocaleString('en')} inputs each, seed ${seed}, hang limit ${hangMs} ms`,
);
const rows: {
  target: string;
  inputs: number;
  seconds: number;
  perSecond: number;
  slowestMs: number;
  failures: number;
}[] = [];
let failed = false;
for (const t of targets) {
  const size = 100_000;
  let done = 0;
  let seconds = 0;
  let count = 0;
  let slowestMs = 0;
  const failures: Failure[] = [];
  for (let c = 0; done < inputs && failures.length < 5; c++) {
    const n = Math.min(size, inputs - done);
    const r = await chunk(t.name, n, (seed + c * 0x9e3779b1) >>> 0, 5 - failures.length);
    done += n;
    count += r.inputs;
    seconds += r.seconds;
    slowestMs = Math.max(slowestMs, r.slowestMs);
    failures.push(...r.failures);
    process.stdout.write(`\r  ${t.name.padEnd(13)} ${done.toLocaleString('en').padStart(9)} inputs`);
  }
  const perSecond = seconds > 0 ? Math.round(count / seconds) : 0;
  process.stdout.write(
    `\r  ${t.name.padEnd(13)} ${count.toLocaleString('en').padStart(9)} inputs in ${seconds.toFixed(1)} s` +
      ` = ${perSecond.toLocaleString('en')}/s, slowest ${slowestMs.toFixed(1)} ms, ${failures.length} failure(s)\n`,
  );
  for (const f of failures) {
    failed = true;
    console.log(`    FAILURE: ${f.message}\n    reproducer: ${saveReproducer(t.name, f.input)}`);
  }
  rows.push({
    target: t.name,
    inputs: count,
    seconds: Number(seconds.toFixed(2)),
    perSecond,
    slowestMs: Number(slowestMs.toFixed(1)),
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
      hangMs,
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
      targets: rows,
    },
    null,
    2,
  ) + '\n',
);
console.log(failed ? 'fuzzing found failures (reproducers saved)' : 'no failures');
process.exit(failed ? 1 : 0);
