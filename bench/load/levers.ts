/**
 * The "levers" table of the load benchmark: every bridge variant of one run (LOAD_SYSTEMS
 * `bridge@…`, bench/load/variants.ts) step by step beside our defaults and LiveKit SIP, with
 * the CPU per call-second by thread group, RSS per call and the quality figures a lever must
 * not hurt (far-end pacing, loss, the agents' tone frames). Only compare rows of one run.
 */
import type { LoadReport, StepResult, SystemResult } from './report.js';
import { THREAD_GROUPS, threadGroups } from './thread-groups.js';

const f = (v: number | undefined, d = 1): string =>
  v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d);

function name(s: SystemResult): string {
  if (s.name !== 'bridge') return s.label;
  const workers = s.workers ?? 1;
  const levers = [s.levers, workers > 1 && !/workers/.test(s.levers ?? '') ? `workers${workers}` : '']
    .filter(Boolean)
    .join('+');
  return levers ? `bridge @${levers}` : 'bridge (defaults)';
}

function row(s: SystemResult, st: StepResult, base: StepResult | undefined): string {
  const g = threadGroups(st);
  const tone =
    st.phoneToAgent.expected > 0 ? (100 * st.phoneToAgent.toneFrames) / st.phoneToAgent.expected : undefined;
  const delta =
    base !== undefined && base !== st && base.cpuMsPerCallSecond > 0
      ? `${st.cpuMsPerCallSecond >= base.cpuMsPerCallSecond ? '+' : ''}${f((100 * (st.cpuMsPerCallSecond - base.cpuMsPerCallSecond)) / base.cpuMsPerCallSecond, 0)} %`
      : '';
  return (
    `| ${name(s)} | ${st.calls} | ${f(st.cpuMsPerCallSecond, 2)} | ${delta} | ` +
    `${THREAD_GROUPS.map((_, i) => f(g?.groups[i])).join(' | ')} | ${f(g?.other)} | ` +
    `${f(st.rssPerCallBytes / 2 ** 20, 2)} | ${f(st.farEnd.pacing.p99, 2)} | ${f(st.lossPct, 2)} | ` +
    `${f(tone, 1)} | ${f(100 - st.agentToPhoneMissingAudioPct, 1)} | ${st.verdict}${st.problems.length ? ` (${st.problems.join('; ')})` : ''} |`
  );
}

/** Markdown lines of the levers table, or none when the run had only one bridge variant. */
export function leversTable(r: LoadReport): string[] {
  const bridges = r.systems.filter((s) => s.name === 'bridge' && s.steps.length > 0);
  if (bridges.length < 2) return [];
  const base = bridges.find((s) => !s.levers && (s.workers ?? 1) === 1) ?? bridges[0]!;
  const others = r.systems.filter((s) => s.name !== 'bridge' && s.steps.length > 0);
  const out: string[] = [];
  out.push(
    '| variant | capacity, calls | CPU ms / call-s at capacity | calls per core at capacity | stopped |',
  );
  out.push('| --- | --- | --- | --- | --- |');
  for (const s of [base, ...bridges.filter((x) => x !== base), ...others]) {
    let cap: StepResult | undefined;
    for (const st of s.steps)
      if (st.verdict !== 'broken' && (cap === undefined || st.calls >= cap.calls)) cap = st;
    out.push(
      `| ${name(s)} | ${cap ? cap.calls : `< ${s.steps[0]!.calls}`} | ${f(cap?.cpuMsPerCallSecond, 2)} | ${cap ? f(1000 / cap.cpuMsPerCallSecond, 0) : '–'} | ${s.stopped} |`,
    );
  }
  out.push('');
  out.push(
    `| variant | calls | CPU ms / call-s | vs defaults | ${THREAD_GROUPS.map((g) => g.short).join(' | ')} | other | RSS MiB / call | far-end pacing p99 ms | loss % | phone→agent tone frames % | agent→phone audio % | verdict |`,
  );
  out.push('|' + ' --- |'.repeat(11 + THREAD_GROUPS.length));
  // by step index, not call count: a run may list a step twice (LOAD_STEPS=5,10,10) to repeat it
  const rounds = Math.max(...r.systems.map((s) => s.steps.length));
  for (let i = 0; i < rounds; i++) {
    const b = base.steps[i];
    for (const s of [base, ...bridges.filter((x) => x !== base), ...others]) {
      const st = s.steps[i];
      if (st) out.push(row(s, st, s.name === 'bridge' && b?.calls === st.calls ? b : undefined));
    }
  }
  out.push('');
  out.push(
    "CPU by thread group in ms per call-second (bridge variants only; LiveKit SIP is one Go process). Tone frames: share of the phone track's frames at the agents that carried the far end's tone; agent→phone audio: share of the far end's received packets that carried audio. A lever helps when its CPU drops while those, loss and pacing stay where the defaults are.",
  );
  return out;
}
