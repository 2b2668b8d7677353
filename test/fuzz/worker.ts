/**
 * The `npm run fuzz` worker thread: runs one target for one chunk of inputs and posts the
 * result. Before each input it stores the input's index in the shared `progress` array, so
 * when a call never returns the parent (scripts/fuzz.ts) can terminate this thread and
 * rebuild the exact input from the chunk's seed and that index (runner.ts `inputAt`).
 */
import { parentPort, workerData } from 'node:worker_threads';

import { fuzz } from './runner.js';
import { TARGETS } from './targets.js';

interface Job {
  target: string;
  count: number;
  seed: number;
  maxFailures: number;
  progress: SharedArrayBuffer;
}

const job = workerData as Job;
const progress = new Int32Array(job.progress);
const target = TARGETS.find((t) => t.name === job.target);
if (target === undefined) throw new Error(`no fuzz target ${job.target}`);
const r = fuzz(target, job.count, job.seed, {
  maxFailures: job.maxFailures,
  onInput: (i) => Atomics.store(progress, 0, i),
});
parentPort?.postMessage(r);
