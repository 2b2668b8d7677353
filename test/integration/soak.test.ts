/**
 * The CI-sized soak: 60 sequential and 10 concurrent bridged calls through the real
 * livekit-server and the Exotel simulator, run in a child process of its own with
 * `--expose-gc` (scripts/soak-worker.ts, mode `ci`) so that memory is read after forced
 * collections in a process holding nothing but the soak. Every call must carry audio both
 * ways as users hear it: the agent hears the phone's 440 Hz, the phone hears the agent's
 * 1 kHz. After every batch of 10 calls timers, pacer registrations and sockets are back to
 * where they were after the warm-up; the heap's growth per call, fitted over the batches,
 * stays under a margin that a leak of 4 KiB per call exceeds (docs/reliability.md).
 * `npm run soak` runs the same with 1 000 + 100.
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { livekitEnv } from '../harness/livekit.js';
import { HEAP_BYTES_PER_CALL, soakProblems, type SoakReport } from '../harness/soak.js';
import { jsBytes } from '../harness/soak-memory.js';
import { spawnSoakWorker } from '../harness/soak-process.js';

let running: ChildProcess | undefined;

// a soak that runs past the test's timeout must not outlive it
afterEach(() => {
  if (running?.exitCode === null) running.kill('SIGKILL');
  running = undefined;
});

/** Runs the soak in a child process and returns its report (or why there is none). */
function soakInChild(sequential: number, concurrent: number): Promise<SoakReport> {
  return new Promise((resolve, reject) => {
    const child = spawnSoakWorker({
      mode: 'ci',
      server: livekitEnv(),
      sequential,
      concurrent,
      holdMs: 2000,
    });
    running = child;
    let report: SoakReport | undefined;
    let error = 'exited without a report';
    child.on('message', (m: { type: string; report?: SoakReport; message?: string }) => {
      if (m.type === 'report') report = m.report;
      if (m.type === 'error') error = m.message ?? 'error';
    });
    child.on('exit', (code, signal) =>
      report !== undefined ? resolve(report) : reject(new Error(`soak child (${code ?? signal}): ${error}`)),
    );
  });
}

it('60 sequential + 10 concurrent calls: each heard both ways; timers, pacer and heap back', async () => {
  const report = await soakInChild(60, 10);
  // Strict on calls, audio, descriptors, sockets, timers, pacer registrations, SIP clients,
  // and on heap per call. RSS start → end is a loose sanity bound: rtc-node 1.1.0 keeps
  // ~0.5 MiB of native memory per room (docs/reliability.md), about 35 MiB for 70 calls,
  // and RSS moves with the native allocator.
  const problems = soakProblems(
    report,
    { fds: 8, rssMiB: 96, heapUsedMiB: 16, heapBytesPerCall: HEAP_BYTES_PER_CALL },
    0.5 * 70,
  );
  const summary = {
    audio: report.audio,
    heapPerCall: report.heapPerCall,
    batches: report.batches.map((b) => [b.calls, jsBytes(b.figures), b.figures.spaces.code_space]),
    growth: report.growth,
    registrationsLeft: report.registrationsLeft,
    stoppedEarly: report.stoppedEarly,
    failures: [...report.warmUpFailures, ...report.sequential.failures, ...report.concurrent.failures],
  };
  console.log(`soak: ${JSON.stringify(summary)}`);
  expect(problems, JSON.stringify(summary, null, 1)).toEqual([]);
  expect(report.audio.calls).toBe(70);
  expect(report.audio.phoneChecked).toBe(true);
  expect(report.heapPerCall.forcedGc).toBe(true);
  expect(report.end.fds).toBeGreaterThan(0);
}, 240_000);
