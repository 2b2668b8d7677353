/**
 * Starting a soak process of its own (scripts/soak-worker.ts): `--expose-gc`, so its heap is
 * read after forced collections, an IPC channel for its report, and its arguments as JSON
 * in `SOAK_WORKER`. Used by `npm run soak` (control and concurrent workers) and by the CI
 * soak test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SoakServer } from './soak.js';

/** What a soak process is told to do (scripts/soak-worker.ts). */
export interface SoakWorkerArgs {
  /**
   * `calls` (default): one process of `npm run soak`'s concurrent phase; `control`: bare
   * rtc-node room cycles only (the RSS control), no bridge; `ci`: the whole CI-sized soak
   * with its own simulator.
   */
  mode?: 'calls' | 'control' | 'ci';
  cycles?: number;
  /** `ci`: sequential calls. */
  sequential?: number;
  server: SoakServer;
  /** The parent's simulator (`calls`; `ci` starts its own). */
  farEnd?: { host: string; port: number };
  concurrent: number;
  holdMs: number;
  /** Wait this long before the first call (the parent staggers its workers). */
  startDelayMs?: number;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Starts one soak process; `env` is added to this process's environment. */
export function spawnSoakWorker(args: SoakWorkerArgs, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--expose-gc', join(root, 'scripts/soak-worker.ts')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, ...env, SOAK_WORKER: JSON.stringify(args) },
  });
}
