/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or only those named on the command
 * line), writes each one's JSON to `bench/results/<name>.json` and a combined
 * `bench/results/summary.json`, and prints a short table. Each bench module exports
 * `run(): Promise<BenchResult>`; targets are reported, never asserted.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';

export interface BenchResult {
  /** What was measured, as nested JSON-friendly values. */
  results: Record<string, unknown>;
  /** Human-readable lines for the console summary (target vs measured). */
  summary: string[];
}

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, 'results');

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = (await readdir(here)).filter((f) => f.endsWith('.bench.ts')).sort();
  const selected = only.length === 0 ? files : files.filter((f) => only.some((o) => f.startsWith(o)));
  await mkdir(outDir, { recursive: true });
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    totalMemGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
  const summary: Record<string, unknown> = { date: new Date().toISOString(), machine, benches: {} };
  for (const file of selected) {
    const name = file.replace(/\.bench\.ts$/, '');
    const mod = (await import(pathToFileURL(join(here, file)).href)) as { run: () => Promise<BenchResult> };
    process.stdout.write(`\n== ${name}\n`);
    const res = await mod.run();
    for (const line of res.summary) process.stdout.write(`  ${line}\n`);
    const doc = { name, date: new Date().toISOString(), machine, ...res };
    await writeFile(join(outDir, `${name}.json`), JSON.stringify(doc, null, 2) + '\n');
    (summary.benches as Record<string, unknown>)[name] = res.results;
  }
  await writeFile(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(`\nwrote ${selected.length} result file(s) to ${outDir}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
