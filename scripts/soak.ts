/**
 * `npm run soak`: 1 000 sequential and 100 concurrent bridged calls (or --sequential N
 * --concurrent M) through a local livekit-server and the Exotel simulator, every call
 * with audio both ways. Prints start and end figures (file descriptors, socket handles,
 * RSS, heap), writes bench/results/soak.json, and exits 1 if a call failed or anything
 * grew beyond a small margin. Run with --expose-gc for steadier heap figures (the npm
 * script does).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dispose } from '@livekit/rtc-node';
import { startLiveKitServer } from '../test/harness/livekit-server.js';
import { runSoak, soakProblems, type ProcessFigures } from '../test/harness/soak.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

const sequential = arg('sequential', 1000);
const concurrent = arg('concurrent', 100);
const server = await startLiveKitServer({ quiet: true });
let code: number;
try {
  console.log(`soak: ${sequential} sequential + ${concurrent} concurrent calls against ${server.url}`);
  let last = 0;
  const report = await runSoak({
    server,
    sequential,
    concurrent,
    onProgress: (phase, done, total) => {
      const now = Date.now();
      if (done === total || now - last > 2000) {
        last = now;
        process.stdout.write(`\r  ${phase} ${done}/${total}   `);
        if (done === total) process.stdout.write('\n');
      }
    },
  });
  const fmt = (f: ProcessFigures): string => {
    const sockets = ['TCPSocketWrap', 'TCPServerWrap', 'UDPWrap']
      .map((k) => `${k} ${f.handles[k] ?? 0}`)
      .join(', ');
    return `fds ${f.fds}, ${sockets}, Timeout ${f.handles.Timeout ?? 0}, RSS ${f.rssMiB} MiB, heap ${f.heapUsedMiB} MiB`;
  };
  console.log(`  start: ${fmt(report.start)}`);
  console.log(`  end:   ${fmt(report.end)}`);
  console.log(
    `  sequential: ${report.sequential.calls} calls in ${report.sequential.seconds} s ` +
      `(per call p50 ${report.sequential.setupMsP50} ms, max ${report.sequential.setupMsMax} ms), ` +
      `${report.sequential.failures.length} failed`,
  );
  console.log(
    `  concurrent: ${report.concurrent.calls} calls in ${report.concurrent.seconds} s, ` +
      `peak RSS ${report.concurrent.peakRssMiB} MiB, ${report.concurrent.failures.length} failed`,
  );
  for (const f of [...report.sequential.failures, ...report.concurrent.failures].slice(0, 10))
    console.log(`    ${f}`);
  const problems = soakProblems(report);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(
    join(root, 'bench/results/soak.json'),
    JSON.stringify({ ...report, problems }, null, 2) + '\n',
  );
  console.log(problems.length === 0 ? 'soak passed' : `soak FAILED: ${problems.join('; ')}`);
  code = problems.length === 0 ? 0 : 1;
} finally {
  await server.stop();
  await dispose();
}
process.exit(code);
