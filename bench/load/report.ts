/**
 * Renders the load benchmark's results: a markdown table (bench/results/load.md), and
 * docs/performance.md with docs/performance.svg (CPU per call-second and pacing p99
 * against concurrent calls, both systems), every figure taken from one run's JSON.
 */
import { g711Section, jsProfileSection } from './report-notes.js';
import type { LatencyHistograms } from '../../src/entries/media.js';
import type { FarWindow } from './far-end.js';
import { leversTable } from './levers.js';
import { THREAD_GROUPS, threadGroups } from './thread-groups.js';

type Summary = ReturnType<LatencyHistograms['summary']>;
interface Dist {
  n: number;
  p50?: number;
  p99?: number;
  max?: number;
}

export interface StepResult {
  calls: number;
  active: number;
  joinFailures: number;
  placeErrors: string[];
  windowS: number;
  cpuMsPerCallSecond: number;
  cpuPercentOfCore: number;
  rssBytes: number;
  rssPerCallBytes: number;
  rssPerExtraCallBytes: number | undefined;
  machineBusyPct: number;
  /**
   * RTP as it reached the far end: from kernel timestamps (tcpdump on lo) when a capture
   * could run, otherwise the far end's own receive times (`farEndSource` says which).
   */
  farEnd: FarWindow;
  farEndSource: 'kernel' | 'far-end process';
  /** The far end's own receive-time figures (always measured; noisier on a busy machine). */
  farEndInProcess?: FarWindow;
  /** Packets the kernel dropped from the capture (0 = the capture saw everything). */
  captureDropped?: number;
  /** Kernel-timed lateness of each packet against its stream's own schedule (see capture.ts). */
  farEndLateness?: { count: number; p50: number; p99: number; p999: number; max: number; mean: number };
  phoneToAgent: { frames: number; toneFrames: number; expected: number; lossPct: number };
  agentToPhoneMissingAudioPct: number;
  lossPct: number;
  setup: { startToInviteMs: Dist; okToFirstRtpMs: Dist; okToActiveMs: Dist };
  internal:
    | {
        pacing: { count: number; p50: number; p99: number; p999: number; max: number; mean: number };
        skippedPeriods: number;
        inboundLost: number;
        inboundReceived: number;
        inboundJitterMaxMs: number;
        latency: Summary;
        framesCaptured: number;
        framesDropped: number;
        /** CPU ms of the bridge process's threads during the window, by thread name. */
        threadCpuMs?: Record<string, number>;
        /** Event-loop delay of the bridge process during the window. */
        eventLoopDelayMs?: { p50: number; p99: number; max: number };
        /** Garbage collections of the bridge process during the window. */
        gc?: { count: number; totalMs: number; maxMs: number };
      }
    | undefined;
  verdict: 'ok' | 'broken' | 'saturated';
  problems: string[];
  /** The ramp stopped here (failed calls, loss, or pacing far beyond the limit). */
  stopRamp: boolean;
  /** 1-minute load average of the machine at the end of the window. */
  loadAverage1m: number;
  stepSeconds: number;
}

export interface SystemResult {
  name: 'bridge' | 'livekit-sip';
  label: string;
  /** Bridge variant: its LOAD_SYSTEMS entry, its levers ('' = defaults) and worker processes. */
  variant?: string;
  levers?: string;
  workers?: number;
  steps: StepResult[];
  stopped: string;
  idleRssBytes?: number;
  error?: string;
}

export interface LoadReport {
  date: string;
  machine: Record<string, string | number>;
  config: {
    steps: number[];
    windowS: number;
    budgetS: number;
    pacingLimitMs: number;
    lossLimitPct: number;
    saturatedPct: number;
  };
  systems: SystemResult[];
  durationS: number;
  /** Our bridge's steps from an earlier run without this change set's media fixes (bench/results/load-before.json). */
  before?: { date: string; steps: StepResult[] };
}

/** Our bridge with its defaults in one worker (else the first bridge variant run). */
export function baseline(r: LoadReport): SystemResult | undefined {
  const ours = r.systems.filter((s) => s.name === 'bridge');
  return ours.find((s) => !s.levers && (s.workers ?? 1) === 1) ?? ours[0];
}

const f = (v: number | undefined, d = 2): string =>
  v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d);
const mib = (b: number | undefined): string => (b === undefined ? '–' : (b / 2 ** 20).toFixed(2));

/** The largest step that kept quality (all calls active, pacing p99 ≤ 3 ms, loss ≤ 1 %). */
export function capacity(s: SystemResult): StepResult | undefined {
  let best: StepResult | undefined;
  for (const st of s.steps) if (st.verdict !== 'broken') best = st;
  return best;
}

/** Calls one core could carry at the capacity step's CPU cost (1000 ms / CPU ms per call-second). */
export function callsPerCore(st: StepResult | undefined): number | undefined {
  return st === undefined || st.cpuMsPerCallSecond <= 0 ? undefined : 1000 / st.cpuMsPerCallSecond;
}

export function renderTable(r: LoadReport, opts: { levers?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(
    '| system | calls | active | CPU ms / call-s | % of a core | RSS MiB | RSS MiB / call | far-end pacing p50 / p99 / max ms | loss % (RTP / phone→agent / agent→phone) | jitter ms (mean / max) | start→INVITE p50 / p99 ms | 200→RTP p50 / p99 ms | 200→active p50 / p99 ms | machine busy % | verdict |',
  );
  lines.push('|' + ' --- |'.repeat(16));
  for (const s of r.systems) {
    if (s.steps.length === 0) {
      lines.push(
        `| ${s.label} | – | – | not run: ${(s.error ?? s.stopped).split('\n')[0]} |` + ' |'.repeat(12),
      );
      continue;
    }
    for (const st of s.steps) {
      const su = st.setup;
      lines.push(
        `| ${s.label} | ${st.calls} | ${st.active} | ${f(st.cpuMsPerCallSecond)} | ${f(st.cpuPercentOfCore, 1)} | ${mib(st.rssBytes)} | ${mib(st.rssPerCallBytes)} | ` +
          `${f(st.farEnd.pacing.p50)} / ${f(st.farEnd.pacing.p99)} / ${f(st.farEnd.pacing.max)} | ` +
          `${f(st.farEnd.lossPct)} / ${f(st.phoneToAgent.lossPct)} / ${f(st.agentToPhoneMissingAudioPct)} | ` +
          `${f(st.farEnd.jitterMeanMs)} / ${f(st.farEnd.jitterMaxMs)} | ${f(su.startToInviteMs.p50, 1)} / ${f(su.startToInviteMs.p99, 1)} | ` +
          `${f(su.okToFirstRtpMs.p50, 1)} / ${f(su.okToFirstRtpMs.p99, 1)} | ${f(su.okToActiveMs.p50, 1)} / ${f(su.okToActiveMs.p99, 1)} | ` +
          `${f(st.machineBusyPct, 0)} | ${st.verdict}${st.problems.length ? ` (${st.problems.join('; ')})` : ''} |`,
      );
    }
  }
  for (const ours of r.systems.filter((s) => s.name === 'bridge' && s.steps.some((x) => x.internal))) {
    lines.push('');
    lines.push(
      '| our bridge, internal | calls | scheduler pacing p50 / p99 / max ms | inbound RTP lost / received | inbound jitter max ms | in: hold p50 / p99 ms | in: processing p50 / p99 ms | in: total p99 ms | out: queue p50 / p99 ms | out: processing p50 / p99 ms | out: total p99 ms |',
    );
    lines.push('|' + ' --- |'.repeat(11));
    for (const st of ours.steps) {
      const i = st.internal;
      if (!i) continue;
      const l = i.latency;
      lines.push(
        `| ${ours.label} | ${st.calls} | ${f(i.pacing.p50)} / ${f(i.pacing.p99)} / ${f(i.pacing.max)} | ${i.inboundLost} / ${i.inboundReceived} | ${f(i.inboundJitterMaxMs)} | ` +
          `${f(l.inboundHold.p50)} / ${f(l.inboundHold.p99)} | ${f(l.inboundProcessing.p50, 3)} / ${f(l.inboundProcessing.p99, 3)} | ${f(l.inboundTotal.p99)} | ` +
          `${f(l.outboundQueue.p50)} / ${f(l.outboundQueue.p99)} | ${f(l.outboundProcessing.p50, 3)} / ${f(l.outboundProcessing.p99, 3)} | ${f(l.outboundTotal.p99)} |`,
      );
    }
  }
  const lev = opts.levers === false ? [] : leversTable(r);
  if (lev.length > 0) lines.push('', ...lev);
  lines.push('');
  for (const s of r.systems)
    lines.push(`- ${s.label}: ${s.error ? `error: ${s.error.split('\n')[0]}` : s.stopped}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// the plot

function svgPlot(r: LoadReport): string {
  const W = 860;
  const H = 340;
  const panelW = 380;
  const panelH = 240;
  const top = 50;
  const lefts = [60, 480];
  const steps = r.config.steps;
  const colors: Record<string, string> = { bridge: '#1f77b4', 'livekit-sip': '#d62728' };
  // the plot compares our defaults with LiveKit SIP; the variants are in the levers table
  const base = baseline(r);
  r = { ...r, systems: r.systems.filter((s) => s.name !== 'bridge' || s === base) };
  const xs = (i: number, left: number) =>
    left + (steps.length === 1 ? panelW / 2 : (i * panelW) / (steps.length - 1));
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  const panels: { title: string; value: (s: StepResult) => number; limit?: number }[] = [
    { title: 'CPU ms per call-second (process user+sys)', value: (s) => s.cpuMsPerCallSecond },
    {
      title: 'pacing error p99 at the far end (ms)',
      value: (s) => s.farEnd.pacing.p99,
      limit: r.config.pacingLimitMs,
    },
  ];
  panels.forEach((p, pi) => {
    const left = lefts[pi]!;
    const vals = r.systems.flatMap((s) => s.steps.map(p.value)).filter(Number.isFinite);
    const maxV = Math.max(p.limit ?? 0, ...vals, 0.001) * 1.15;
    const ys = (v: number) => top + panelH - (v / maxV) * panelH;
    out.push(`<text x="${left}" y="${top - 20}" font-weight="bold">${esc(p.title)}</text>`);
    out.push(
      `<line x1="${left}" y1="${top + panelH}" x2="${left + panelW}" y2="${top + panelH}" stroke="#333"/>`,
      `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + panelH}" stroke="#333"/>`,
    );
    for (let k = 0; k <= 4; k++) {
      const v = (maxV * k) / 4;
      const y = ys(v);
      out.push(
        `<line x1="${left}" y1="${y}" x2="${left + panelW}" y2="${y}" stroke="#eee"/>`,
        `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${v < 10 ? v.toFixed(2) : v.toFixed(0)}</text>`,
      );
    }
    steps.forEach((n, i) =>
      out.push(`<text x="${xs(i, left)}" y="${top + panelH + 16}" text-anchor="middle">${n}</text>`),
    );
    out.push(
      `<text x="${left + panelW / 2}" y="${top + panelH + 34}" text-anchor="middle">concurrent calls</text>`,
    );
    if (p.limit !== undefined) {
      const y = ys(p.limit);
      out.push(
        `<line x1="${left}" y1="${y}" x2="${left + panelW}" y2="${y}" stroke="#999" stroke-dasharray="4 3"/>`,
        `<text x="${left + panelW - 4}" y="${y - 4}" text-anchor="end" fill="#666">${p.limit} ms limit</text>`,
      );
    }
    for (const s of r.systems) {
      const pts = s.steps
        .map((st) => ({ i: steps.indexOf(st.calls), v: p.value(st) }))
        .filter((q) => q.i >= 0 && Number.isFinite(q.v));
      if (pts.length === 0) continue;
      const c = colors[s.name] ?? '#000';
      out.push(
        `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((q) => `${xs(q.i, left).toFixed(1)},${ys(q.v).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const q of pts)
        out.push(`<circle cx="${xs(q.i, left).toFixed(1)}" cy="${ys(q.v).toFixed(1)}" r="3.5" fill="${c}"/>`);
    }
  });
  r.systems.forEach((s, i) => {
    const x = 60 + i * 300;
    out.push(
      `<rect x="${x}" y="${H - 22}" width="12" height="12" fill="${colors[s.name] ?? '#000'}"/>`,
      `<text x="${x + 18}" y="${H - 12}">${esc(s.label)}${s.steps.length === 0 ? ' (not run)' : ''}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------
// docs/performance.md

function ratio(a: number | undefined, b: number | undefined, d = 2): string {
  return a === undefined || b === undefined || b === 0 ? '–' : (a / b).toFixed(d);
}

/** True when every step's far-end figures came from kernel timestamps. */
function kernelTimed(r: LoadReport): boolean {
  const steps = r.systems.flatMap((s) => s.steps);
  return steps.length > 0 && steps.every((s) => s.farEndSource === 'kernel');
}

function cpuSection(
  ours: SystemResult | undefined,
  capO: StepResult | undefined,
  capL: StepResult | undefined,
): string[] {
  const out: string[] = [];
  out.push("## Where the bridge's CPU goes");
  out.push('');
  const rows = (ours?.steps ?? [])
    .map((st) => ({ st, g: threadGroups(st) }))
    .filter((x) => x.g !== undefined);
  if (rows.length === 0) {
    out.push('Per-thread CPU was not recorded in this run (Linux only).');
    return out;
  }
  out.push(
    "CPU time of the bridge process by thread during each window (`/proc/self/task/*/stat`), in ms per call-second. Everything but the first column is `@livekit/rtc-node`'s native WebRTC stack, one per call: each call is a full LiveKit participant that Opus-encodes the phone's audio, decodes the agent's, and runs its own peer connections.",
  );
  out.push('');
  out.push(
    `| calls | ${THREAD_GROUPS.map((g) => g.label).join(' | ')} | other | total (threads) | process (cpuUsage) |`,
  );
  out.push(`| --- | ${THREAD_GROUPS.map(() => '---').join(' | ')} | --- | --- | --- |`);
  for (const { st, g } of rows)
    out.push(
      `| ${st.calls} | ${g!.groups.map((v) => f(v, 1)).join(' | ')} | ${f(g!.other, 1)} | ${f(g!.total, 1)} | ${f(st.cpuMsPerCallSecond, 1)} |`,
    );
  out.push('');
  const at = capO && threadGroups(capO);
  if (at && capO) {
    const js = at.groups[0]!;
    const native = at.total - js;
    const lk = capL?.cpuMsPerCallSecond;
    out.push(
      `At our capacity step (${capO.calls} calls) the JS main thread — all of this library's own work plus rtc-node's JavaScript — took ${f(js, 1)} ms per call-second and the native WebRTC threads ${f(native, 1)} ms (${f((100 * native) / Math.max(0.001, at.total), 0)} % of the process).` +
        (lk !== undefined
          ? ` LiveKit SIP's whole process took ${f(lk, 1)} ms per call-second at its capacity step (${capL!.calls} calls)${native >= lk ? ': less than the native WebRTC part of our process alone, so with one `@livekit/rtc-node` participant per call the bridge cannot match its calls per core however little its own code costs' : ''}.`
          : ''),
    );
    out.push('');
  }
  const eld = rows
    .map(({ st }) =>
      st.internal?.eventLoopDelayMs
        ? `${st.calls}: p99 ${f(st.internal.eventLoopDelayMs.p99, 1)} / max ${f(st.internal.eventLoopDelayMs.max, 1)} ms, ${st.internal.gc?.count ?? 0} GCs (${f(st.internal.gc?.totalMs, 0)} ms)`
        : undefined,
    )
    .filter(Boolean);
  if (eld.length > 0) {
    out.push(
      `Event-loop delay of the bridge process and its garbage collections during each window, by step — ${eld.join('; ')}. Late RTP sends (pacing p99 above) come from these stalls of the one JS thread and from the OS scheduling it on a machine whose two cores also run livekit-server, the agents and the far end.`,
    );
    out.push('');
  }
  return out;
}

export function renderDocs(r: LoadReport): { markdown: string; svg: string } {
  const ours = baseline(r);
  const lks = r.systems.find((s) => s.name === 'livekit-sip');
  const capO = ours && capacity(ours);
  const capL = lks && capacity(lks);
  const at = (s: SystemResult | undefined, n: number) => s?.steps.find((x) => x.calls === n);
  const last = (s: SystemResult | undefined) => s?.steps[s.steps.length - 1];
  const extra = (s: SystemResult | undefined) => {
    const a = s?.steps[0];
    const b = last(s);
    return a && b && b.calls > a.calls ? (b.rssBytes - a.rssBytes) / (b.calls - a.calls) : undefined;
  };
  const m = r.machine;
  const md: string[] = [];
  md.push('# Performance: concurrent calls, side by side with LiveKit SIP');
  md.push('');
  md.push(
    `Generated by \`npm run bench:load\` (bench/load/) on ${r.date.slice(0, 10)}; every figure below comes from that one run (${r.durationS} s). ` +
      'Regenerate it on your machine with the same command; the raw results are in `bench/results/load.json` and `load.md` (not tracked).',
  );
  md.push('');
  md.push('## Method');
  md.push('');
  md.push(
    [
      `- **Machine:** ${m.cpus} × ${m.cpuModel}, ${m.totalMemGiB} GiB, ${m.platform}, kernel ${m.kernel}, Node ${m.node}. Everything below ran on it at once, on loopback: the numbers are for a small shared box, not a tuned server.`,
      `- **Peers:** one livekit-server v1.13.5 (built from its Go module) with Redis; the Exotel simulator (\`src/testing\`) as the far end over SIP/TCP, answering PCMA and playing a 440 Hz tone on every call; one kind-AGENT participant per room (two separate agent processes, \`@livekit/rtc-node\`) that publishes a 1 kHz tone and reads the phone participant's audio at 8 kHz / 20 ms. The agents send and read their frames through this library's direct FFI path (\`src/livekit/ffi-media.ts\`), so that rtc-node's per-process event broadcast does not make the agents themselves the machine's load; the same agents serve both systems.`,
      `- **Systems:** ${ours?.label ?? 'our bridge'} — \`runBridge()\` per call, all calls in one worker process${r.systems.filter((s) => s.name === 'bridge').length > 1 ? ' (the variants in "Levers" below each ran in their own)' : ''}; ${lks?.label ?? 'livekit-sip'} — LiveKit's SIP service built from its Go module (v1.8.0, the newest release the Go module proxy serves here), with an outbound trunk to the simulator over TCP, calls placed with \`SipClient.createSipParticipant\`. Same rooms, same agents, same far end.`,
      `- **Steps:** ${r.config.steps.join(', ')} concurrent calls, placed ${30} ms apart; once all are active, 2 s settle, then a ${r.config.windowS} s measuring window; calls are hung up between steps. A step keeps quality when every call became active, far-end pacing p99 ≤ ${r.config.pacingLimitMs} ms and loss ≤ ${r.config.lossLimitPct} %; **capacity** is the largest step that kept quality. The ramp itself goes on past a step that missed only the pacing limit, and stops at the first step with failed calls or loss above ${r.config.lossLimitPct} %, when the machine is saturated (≥ ${r.config.saturatedPct} % of all cores busy), or when the time budget (${r.config.budgetS} s for the whole run) would be exceeded.`,
      '- **CPU and memory** are the system process only: `process.cpuUsage()` / `memoryUsage().rss` of the bridge worker; `/proc/<pid>/stat` utime+stime and `/proc/<pid>/status` VmRSS of livekit-sip. CPU ms per call-second = process CPU in the window ÷ (active calls × window seconds). Calls per core = 1000 ÷ that figure (what one core could carry at that cost; the rest of the machine was busy with livekit-server, the agents and the far end).',
      `- **Quality, measured outside the system under test, the same way for both:** at the far end, the RTP the system sends: pacing error |inter-arrival − timestamp step| (20 ms; the verdict's figure, which combines the errors of two consecutive sends), send lateness against the stream's own schedule (arrival − RTP time, minus the smallest such offset within ±1 s; kernel timing only), sequence gaps (loss), RFC 3550 jitter, share of packets that carry audio. ${kernelTimed(r) ? "These are timed by the kernel: `tcpdump` captures the far end's RTP ports on `lo` during the window and the capture is analysed afterwards; on loopback a packet is timestamped inside the sender's `sendmsg()`, so the figure is the system's own send timing, free of the far end's scheduling delay (the far end is a Node process pacing every call itself; its own receive-time figures are kept in `load.json` as `farEndInProcess` and are noisier)." : "These are timed by the far end's own receive clock (no packet capture was possible on this run: tcpdump missing or not root), so they include the far end's scheduling noise."} At the agents: frames of the phone's track carrying the far end's tone (RMS > 1000) against window ÷ 20 ms (phone→agent loss). Loss for the verdict is the largest of the three.`,
      '- **Setup:** start (`runBridge()` call / `createSipParticipant` call) → INVITE received by the far end; 200 OK sent → first RTP received; 200 OK sent → `sip.callStatus` = `active` seen by the agent (both systems set it). Wall clocks of processes on one machine.',
      "- **Bridge-added latency (ours only):** an opt-in probe (`MediaLatencyProbe`, `runBridge({ latencyProbe })`) records, per frame, inbound RTP arrival → jitter-buffer pop (*hold*: the 40 ms target delay plus waiting for the 20 ms playout tick, on purpose) → decoded and handed to `captureFrame` (*processing*); outbound `writeAudio` (the agent's AudioStream frame) → queued until the call's next 20 ms send deadline (*queue*, on purpose) → packet sent (*processing* = time inside `writeAudio` + inside the send). livekit-sip's internals are not observable from outside: n/a.",
    ].join('\n'),
  );
  md.push('');
  md.push('## Headline figures');
  md.push('');
  const row = (name: string, o: string, l: string, rt: string) => `| ${name} | ${o} | ${l} | ${rt} |`;
  const capCalls = (s: SystemResult | undefined, c: StepResult | undefined) =>
    s === undefined || s.steps.length === 0
      ? 'not run'
      : c === undefined
        ? `< ${s.steps[0]?.calls}`
        : String(c.calls);
  md.push(`| figure | ${ours?.label ?? 'ours'} | ${lks?.label ?? 'livekit-sip'} | ours / LiveKit SIP |`);
  md.push('| --- | --- | --- | --- |');
  md.push(
    row(
      'capacity (largest step that kept quality), calls',
      capCalls(ours, capO),
      capCalls(lks, capL),
      ratio(capO?.calls, capL?.calls),
    ),
  );
  md.push(
    row(
      'calls per core at capacity (1000 ÷ CPU ms per call-s)',
      f(callsPerCore(capO), 0),
      f(callsPerCore(capL), 0),
      ratio(callsPerCore(capO), callsPerCore(capL)),
    ),
  );
  md.push(
    row(
      'CPU ms per call-second at capacity',
      f(capO?.cpuMsPerCallSecond),
      f(capL?.cpuMsPerCallSecond),
      ratio(capO?.cpuMsPerCallSecond, capL?.cpuMsPerCallSecond),
    ),
  );
  md.push(
    row(
      'RSS per call at capacity, MiB ((RSS − idle RSS) ÷ calls)',
      mib(capO?.rssPerCallBytes),
      mib(capL?.rssPerCallBytes),
      ratio(capO?.rssPerCallBytes, capL?.rssPerCallBytes),
    ),
  );
  md.push(
    row(
      'RSS per extra call, MiB (first → last step)',
      mib(extra(ours)),
      mib(extra(lks)),
      ratio(extra(ours), extra(lks)),
    ),
  );
  for (const n of r.config.steps) {
    const o = at(ours, n);
    const l = at(lks, n);
    if (!o && !l) continue;
    md.push(
      row(
        `far-end pacing p99 at ${n} call${n === 1 ? '' : 's'}, ms`,
        f(o?.farEnd.pacing.p99),
        f(l?.farEnd.pacing.p99),
        ratio(o?.farEnd.pacing.p99, l?.farEnd.pacing.p99),
      ),
    );
  }
  for (const n of r.config.steps) {
    const o = at(ours, n);
    const l = at(lks, n);
    if (!o?.farEndLateness && !l?.farEndLateness) continue;
    md.push(
      row(
        `send lateness vs schedule p99 at ${n} call${n === 1 ? '' : 's'} (kernel), ms`,
        f(o?.farEndLateness?.p99),
        l?.farEndLateness ? `(${f(l.farEndLateness.p99)}, see below)` : '–',
        '–',
      ),
    );
  }
  const lat = capO?.internal?.latency;
  md.push(
    row(
      'added latency p99, phone → room (processing / incl. jitter-buffer hold), ms',
      lat ? `${f(lat.inboundProcessing.p99, 3)} / ${f(lat.inboundTotal.p99, 1)}` : '–',
      'n/a (not observable)',
      '–',
    ),
  );
  md.push(
    row(
      'added latency p99, room → phone (processing / incl. send-queue wait), ms',
      lat ? `${f(lat.outboundProcessing.p99, 3)} / ${f(lat.outboundTotal.p99, 1)}` : '–',
      'n/a (not observable)',
      '–',
    ),
  );
  const s1o = ours?.steps[0]?.setup;
  const s1l = lks?.steps[0]?.setup;
  const su = (d: Dist | undefined) => (d && d.n > 0 ? `${f(d.p50, 1)} / ${f(d.p99, 1)}` : '–');
  md.push(
    row(
      `start → INVITE on the wire, p50 / p99 ms (1 call)`,
      su(s1o?.startToInviteMs),
      su(s1l?.startToInviteMs),
      ratio(s1o?.startToInviteMs.p50, s1l?.startToInviteMs.p50),
    ),
  );
  md.push(
    row(
      `200 OK → first RTP, p50 / p99 ms (1 call)`,
      su(s1o?.okToFirstRtpMs),
      su(s1l?.okToFirstRtpMs),
      ratio(s1o?.okToFirstRtpMs.p50, s1l?.okToFirstRtpMs.p50),
    ),
  );
  md.push(
    row(
      `200 OK → sip.callStatus active, p50 / p99 ms (1 call)`,
      su(s1o?.okToActiveMs),
      su(s1l?.okToActiveMs),
      ratio(s1o?.okToActiveMs.p50, s1l?.okToActiveMs.p50),
    ),
  );
  md.push(
    row(
      `start → INVITE p50 / p99 ms at capacity`,
      su(capO?.setup.startToInviteMs),
      su(capL?.setup.startToInviteMs),
      ratio(capO?.setup.startToInviteMs.p50, capL?.setup.startToInviteMs.p50),
    ),
  );
  md.push('');
  if (lks?.steps.some((x) => x.farEndLateness))
    md.push(
      '',
      "Send lateness compares each packet's arrival with its own RTP timestamp. For LiveKit SIP it is about one 20 ms frame at every step while its inter-arrival error stays near 1 ms, so its packets are not sent late: its RTP timestamps slip a frame against its send clock now and then (they follow the room's audio). The figure is shown for completeness and is not compared.",
    );
  md.push('![CPU per call-second and pacing p99 against concurrent calls](performance.svg)');
  md.push('');
  md.push('## Targets');
  md.push('');
  md.push(targets(r, ours, lks, capO, capL).join('\n'));
  md.push('');
  if (r.before) md.push(beforeAfter(r.before, ours).join('\n'), '');
  md.push(...cpuSection(ours, capO, capL));
  md.push(...jsProfileSection(r));
  const lev = leversTable(r);
  if (lev.length > 0) {
    md.push('## Levers: bridge variants in this run', '');
    md.push(
      'Each variant ran the same steps in its own bridge worker process(es), one after the other in this run, with the `runBridge()` options its name gives (`bench/load/variants.ts`: `queue<N>` = `livekitMedia.audioSourceQueueMs`, `nored` / `nodtx` = `livekitMedia.red` / `dtx: false`, `kbps<N>` = `livekitMedia.maxBitrateBps`, `workers<N>` = calls spread round-robin over N processes, CPU and RSS summed).',
      '',
    );
    md.push(...lev, '');
  }
  md.push(...g711Section(ours));
  md.push('## Every step');
  md.push('');
  md.push(renderTable(r, { levers: false }));
  md.push('');
  return { markdown: md.join('\n'), svg: svgPlot(r) };
}

function beforeAfter(before: NonNullable<LoadReport['before']>, ours: SystemResult | undefined): string[] {
  const out: string[] = [];
  out.push('## Before and after: the direct FFI path');
  out.push('');
  out.push(
    'The profile of the bridge worker showed its hot spot inside `@livekit/rtc-node`: every native event of the process (two per call every 20 ms: a captured frame confirmed, an agent frame received) was protobuf-decoded and then handed to every listener of one process-wide emitter — each `Room` (which takes an async lock for every event, its own or not, and buffers all of them while it connects), each `AudioStream`, and one waiter per `captureFrame()` in flight — so the work per call grew with the number of calls. ' +
      'Worse, rtc-node turns on native log capture and then ignores the records: every Rust log line down to trace level became one more such event, thousands a second with 20 calls in one process (`npm run ffi-diag -- --rtc-node`). ' +
      'The bridge now sends the capture request itself (hand-encoded protobuf into a reused buffer, byte-identical to the generated encoder, `src/livekit/ffi-wire.ts`), reads agent audio through its own native stream, takes exactly those two per-frame events out of the broadcast by handle, and, having started the native layer with its logger silent, turns log capture off (`src/livekit/ffi-media.ts`): no promise, timer or listener per frame, and no log records. ' +
      `"Before" is the same benchmark on the same machine (${before.date.slice(0, 16).replace('T', ' ')} UTC) with \`LOAD_DIRECT_FFI=0\`, i.e. rtc-node's own \`AudioSource.captureFrame()\`, \`AudioStream\` and log capture (\`runBridge({ directFfi: false })\`); "after" is the run above. The machine also ran other work, so treat small differences as noise.`,
  );
  out.push('');
  out.push(
    '| calls | CPU ms / call-s before / after | JS main thread ms / call-s before / after | event-loop delay p99 ms before / after | far-end pacing p99 ms before / after | loss % before / after | verdict before / after |',
  );
  out.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const b of before.steps) {
    const a = ours?.steps.find((x) => x.calls === b.calls);
    const jsB = threadGroups(b)?.groups[0];
    const jsA = a && threadGroups(a)?.groups[0];
    out.push(
      `| ${b.calls} | ${f(b.cpuMsPerCallSecond)} / ${f(a?.cpuMsPerCallSecond)} | ${f(jsB, 1)} / ${f(jsA, 1)} | ` +
        `${f(b.internal?.eventLoopDelayMs?.p99, 1)} / ${f(a?.internal?.eventLoopDelayMs?.p99, 1)} | ` +
        `${f(b.farEnd.pacing.p99)} / ${f(a?.farEnd.pacing.p99)} | ${f(b.lossPct)} / ${f(a?.lossPct)} | ${b.verdict} / ${a?.verdict ?? '–'} |`,
    );
  }
  return out;
}

function targets(
  r: LoadReport,
  ours: SystemResult | undefined,
  lks: SystemResult | undefined,
  capO: StepResult | undefined,
  capL: StepResult | undefined,
): string[] {
  const out: string[] = [];
  const mark = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : '**missed**');
  const cpcO = callsPerCore(capO);
  const cpcL = callsPerCore(capL);
  out.push(
    `- Calls per core ≥ LiveKit SIP's: ${f(cpcO, 0)} vs ${f(cpcL, 0)} — ${mark(cpcO !== undefined && cpcL !== undefined ? cpcO >= cpcL : undefined)}` +
      (cpcO !== undefined && cpcL !== undefined && cpcO < cpcL
        ? ` (ours needs ${f(capO!.cpuMsPerCallSecond / capL!.cpuMsPerCallSecond)}× the CPU per call at its capacity step; most of it is rtc-node's native WebRTC stack, see "Where the bridge's CPU goes").`
        : '.'),
  );
  const lat = capO?.internal?.latency;
  if (lat) {
    const inP = lat.inboundProcessing.p99;
    const outP = lat.outboundProcessing.p99;
    out.push(
      `- Bridge-added latency p99 < 1 ms each way: processing phone → room ${f(inP, 3)} ms, room → phone ${f(outP, 3)} ms — ${mark(inP < 1 && outP < 1)} for the processing part. ` +
        `Including the deliberate holds the figures are ${f(lat.inboundTotal.p99, 1)} ms (jitter buffer: 40 ms target + playout tick) and ${f(lat.outboundTotal.p99, 1)} ms (wait for the call's next 20 ms send deadline); those are buffering by design, not work.`,
    );
  } else out.push('- Bridge-added latency: not measured.');
  const p1 = ours?.steps.find((s) => s.calls === 1);
  const p100 = ours?.steps.find((s) => s.calls === 100);
  out.push(
    `- Pacing p99 < 1 ms at 1 call: far-end inter-arrival error ${f(p1?.farEnd.pacing.p99)} ms${p1?.farEndLateness ? `, send lateness vs schedule ${f(p1.farEndLateness.p99)} ms (kernel)` : ''}, bridge scheduler ${f(p1?.internal?.pacing.p99)} ms — ${mark(p1 ? p1.farEnd.pacing.p99 < 1 : undefined)}` +
      (p1 && p1.farEnd.pacing.p99 >= 1
        ? ` (by ${f(p1.farEnd.pacing.p99 - 1)} ms; the inter-arrival figure adds the errors of two consecutive sends, and the bridge's one JS thread shares two cores with livekit-server, the agents and the far end).`
        : '.'),
  );
  out.push(
    `- Pacing p99 < 3 ms at 100 calls: ${p100 ? `far end ${f(p100.farEnd.pacing.p99)} ms, bridge scheduler ${f(p100.internal?.pacing.p99)} ms — ${mark(p100.farEnd.pacing.p99 < 3)}` : `not reached (${ours?.stopped ?? 'not run'})`}.`,
  );
  const ex =
    ours && ours.steps.length > 1
      ? (ours.steps[ours.steps.length - 1]!.rssBytes - ours.steps[0]!.rssBytes) /
        (ours.steps[ours.steps.length - 1]!.calls - ours.steps[0]!.calls)
      : undefined;
  out.push(
    `- < 2 MB RSS per extra call: ${mib(ex)} MiB — ${mark(ex === undefined ? undefined : ex < 2 * 2 ** 20)}` +
      (ex !== undefined && ex >= 2 * 2 ** 20
        ? ` (by ${mib(ex - 2 * 2 ** 20)} MiB; each call is a full \`@livekit/rtc-node\` Room with its own WebRTC peer connection, audio source and stream buffers in native memory).`
        : '.'),
  );
  const inv = ours?.steps[0]?.setup.startToInviteMs;
  out.push(
    `- runBridge → INVITE < 300 ms on loopback: p50 ${f(inv?.p50, 1)} ms, p99 ${f(inv?.p99, 1)} ms at 1 call — ${mark(inv?.p99 === undefined ? undefined : inv.p99 < 300)}` +
      (inv?.p99 !== undefined && inv.p99 >= 300
        ? ` (by ${f(inv.p99 - 300, 0)} ms: before dialling, the bridge checks the room exists, connects to LiveKit and publishes its track — the RTP socket and the trunk connection are readied meanwhile — so the INVITE carries an audio path that is already in the room).`
        : '.'),
  );
  if (lks?.error) out.push(`- LiveKit SIP could not be measured: ${lks.error.split('\n')[0]}`);
  void r;
  return out;
}
