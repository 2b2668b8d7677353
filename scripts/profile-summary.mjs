#!/usr/bin/env node
// Summarises a V8 CPU profile (`node --cpu-prof`, e.g. the bridge worker's from
// `LOAD_PROFILE=1 npm run bench:load`) as markdown: self time by group (our src, rtc-node's
// JS, protobuf, other dependencies, Node internals, GC, idle, program), by function and by file.
//
//   node scripts/profile-summary.mjs <file.cpuprofile> [--top 15] [--from S] [--to S] [--last S]
//                                    [--calls N] [--include-idle]
//
// --from/--to: seconds from the profile's start (keep only samples in that range);
// --last S: only the last S seconds (e.g. the steady window before the worker is stopped;
// teardown is short). --calls N: also print busy ms per call-second over the range kept
// (busy = every sample but idle), comparable with the JS main thread figure of the load bench.
// Percentages are of busy time unless --include-idle.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve, relative } from 'node:path';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));

function parseArgs(argv) {
  const opts = { top: 15, includeIdle: false };
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => Number(argv[++i]);
    if (a === '--top') opts.top = next();
    else if (a === '--from') opts.from = next();
    else if (a === '--to') opts.to = next();
    else if (a === '--last') opts.last = next();
    else if (a === '--calls') opts.calls = next();
    else if (a === '--include-idle') opts.includeIdle = true;
    else if (a === '--help' || a === '-h') opts.help = true;
    else files.push(a);
  }
  return { opts, files };
}

/** Which part of the process a call frame belongs to. */
export function groupOf(frame) {
  const name = frame.functionName;
  const url = frame.url ?? '';
  if (url === '') {
    if (name === '(idle)') return 'idle';
    if (name === '(garbage collector)') return 'GC';
    if (name === '(program)') return 'program (native, outside JS)';
    if (name === '(root)') return 'root';
    return 'V8 builtins / native';
  }
  if (url.startsWith('node:')) return 'Node internals';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (path.includes('/node_modules/@livekit/rtc-node/')) return 'rtc-node JS';
  if (path.includes('/node_modules/@bufbuild/protobuf/')) return 'protobuf (@bufbuild)';
  if (path.includes('/node_modules/')) return 'other dependencies';
  const rel = relative(repoRoot, path);
  if (rel.startsWith('src/')) return 'our src';
  if (rel.startsWith('bench/')) return 'bench harness';
  return 'other JS';
}

function shortFile(url) {
  if (!url) return '';
  if (url.startsWith('node:')) return url;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  const rel = relative(repoRoot, path);
  return rel.startsWith('..') ? path : rel;
}

/** Self time per node id (ms) over the samples in [fromUs, toUs) since the profile's start. */
export function selfTimes(profile, range = {}) {
  const { samples, timeDeltas } = profile;
  const self = new Map();
  let t = profile.startTime;
  const total = profile.endTime - profile.startTime;
  let fromUs = range.from !== undefined ? range.from * 1e6 : 0;
  let toUs = range.to !== undefined ? range.to * 1e6 : Infinity;
  if (range.last !== undefined) fromUs = Math.max(fromUs, total - range.last * 1e6);
  toUs = Math.min(toUs, total);
  // Sample i was taken at t_i; it stands for the interval up to the next sample.
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i];
    const next = i + 1 < samples.length ? timeDeltas[i + 1] : 0;
    const at = t - profile.startTime;
    if (at < fromUs || at >= toUs) continue;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, next) / 1000);
  }
  return { self, spanMs: (toUs - fromUs) / 1000 };
}

function table(headers, rows) {
  const out = [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

export function summarise(profile, opts) {
  const { self, spanMs } = selfTimes(profile, opts);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const groups = new Map();
  const funcs = new Map();
  const files = new Map();
  let all = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const f = node.callFrame;
    const group = groupOf(f);
    all += ms;
    if (group === 'idle') idle += ms;
    groups.set(group, (groups.get(group) ?? 0) + ms);
    if (group === 'idle' && !opts.includeIdle) continue;
    const file = shortFile(f.url);
    // Line numbers of code loaded through tsx are all 0 (one transformed line): show the file only.
    const where = f.lineNumber > 0 ? `${file}:${f.lineNumber + 1}` : file;
    const key = `${f.functionName || '(anonymous)'}\u0000${where}`;
    const fe = funcs.get(key) ?? { ms: 0, group };
    fe.ms += ms;
    funcs.set(key, fe);
    const fileKey = file || `(${group})`;
    const fl = files.get(fileKey) ?? { ms: 0, group };
    fl.ms += ms;
    files.set(fileKey, fl);
  }
  const busy = all - idle;
  const base = opts.includeIdle ? all : busy;
  const pct = (ms) => `${((100 * ms) / base).toFixed(1)} %`;
  const fmt = (ms) => ms.toFixed(1);
  const out = [];
  out.push(
    `Profile span kept ${(spanMs / 1000).toFixed(1)} s: busy ${fmt(busy)} ms (${((100 * busy) / spanMs).toFixed(1)} % of one thread), idle ${fmt(idle)} ms; percentages are of ${opts.includeIdle ? 'all samples' : 'busy time'}.`,
  );
  if (opts.calls) {
    out.push(
      `Busy ms per call-second at ${opts.calls} calls: ${(busy / (opts.calls * (spanMs / 1000))).toFixed(2)}`,
    );
  }
  out.push(
    'Busy means "a JS or native frame was on the stack": time the thread sleeps inside a JS call (`Atomics.wait`, a blocking native call) counts as busy, so compare with per-thread CPU (/proc) before reading shares as CPU.',
    '',
  );
  const groupRows = [...groups]
    .filter(([g]) => opts.includeIdle || g !== 'idle')
    .sort((a, b) => b[1] - a[1])
    .map(([g, ms]) => [g, fmt(ms), pct(ms)]);
  out.push(table(['group', 'self ms', 'share'], groupRows), '');
  const funcRows = [...funcs]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, opts.top)
    .map(([k, v]) => {
      const [name, where] = k.split('\u0000');
      return [`\`${name}\``, where, v.group, fmt(v.ms), pct(v.ms)];
    });
  out.push(table(['function', 'file:line', 'group', 'self ms', 'share'], funcRows), '');
  const fileRows = [...files]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, opts.top)
    .map(([f, v]) => [f, v.group, fmt(v.ms), pct(v.ms)]);
  out.push(table(['file', 'group', 'self ms', 'share'], fileRows));
  return out.join('\n');
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { opts, files } = parseArgs(process.argv.slice(2));
  if (opts.help || files.length === 0) {
    process.stdout.write(
      'usage: node scripts/profile-summary.mjs <file.cpuprofile> [--top 15] [--from S] [--to S] [--last S] [--calls N] [--include-idle]\n',
    );
    process.exit(files.length === 0 && !opts.help ? 2 : 0);
  }
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8'));
    if (files.length > 1) process.stdout.write(`### ${file}\n\n`);
    process.stdout.write(summarise(profile, opts) + '\n\n');
  }
}
