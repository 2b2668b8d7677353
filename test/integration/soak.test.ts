/**
 * The CI-sized soak: 50 sequential and 10 concurrent bridged calls through the real
 * livekit-server and the Exotel simulator, each with audio both ways. Afterwards file
 * descriptors, socket handles, RSS and heap are back within a small margin of where they
 * were after the warm-up call (`npm run soak` runs the same with 1 000 + 100).
 */
import { afterAll, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { livekitEnv } from '../harness/livekit.js';
import { runSoak, soakProblems } from '../harness/soak.js';

afterAll(async () => {
  await dispose();
});

it('50 sequential + 10 concurrent calls: every call carried audio both ways; nothing leaks', async () => {
  const report = await runSoak({ server: livekitEnv(), sequential: 50, concurrent: 10 });
  // Strict on calls, descriptors, sockets and SIP clients. RSS and heap get wider margins
  // than `npm run soak` uses (the worker runs with --expose-gc, vitest.config.ts, so memory
  // is read after a forced collection; RSS still moves with the allocator), and rtc-node
  // 1.1.0 keeps ~0.5 MiB of native memory per room (docs/reliability.md), about 30 MiB for
  // these 60 calls. Real leaks are the long soak's to find.
  const problems = soakProblems(report, { fds: 8, rssMiB: 96, heapUsedMiB: 48 }, 0.5 * 60);
  expect(problems, JSON.stringify(report, null, 1)).toEqual([]);
  expect(report.end.fds).toBeGreaterThan(0);
}, 240_000);
