/**
 * `npm run bench:load`: concurrent bridged calls, side by side with LiveKit's own SIP
 * service (livekit/sip), on one machine, loopback only.
 *
 * One livekit-server (with Redis, which livekit-sip needs) and one far end (the Exotel
 * simulator over TCP) serve both systems. For each system, steps of 1, 5, 10, 25, 50, 100
 * concurrent calls (stopping once quality breaks, calls fail to set up, the machine is
 * saturated or the time budget is spent): each step creates its rooms, puts a kind-AGENT
 * participant in each (agents process: publishes a 1 kHz tone, reads the phone's audio),
 * places the calls (our bridge: `runBridge()` in its own worker process; LiveKit SIP:
 * `SipClient.createSipParticipant` through an outbound trunk pointing at the simulator),
 * waits until every call is active, then measures a steady window:
 *   - CPU time (user+sys) of the system's process per call-second, and its RSS;
 *   - at the far end: pacing error |inter-arrival − 20 ms|, loss, jitter, audio present;
 *   - at the agents: the phone's audio frames and how many carry the far end's tone;
 *   - setup: start → INVITE on the wire, 200 OK → first RTP, 200 OK → `sip.callStatus` active;
 *   - our bridge only (not observable in livekit-sip): its own pacing histogram, inbound
 *     RTP loss and jitter, and the latency it adds each way (latency probe).
 * Results: bench/results/load.json and load.md, docs/performance.md and docs/performance.svg.
 *
 * Environment: LOAD_STEPS (default 1,5,10,25,50,100), LOAD_WINDOW_S (15), LOAD_BUDGET_S
 * (840, the whole run), LOAD_SYSTEMS (bridge,livekit-sip), LOAD_DOCS=0 to skip docs/.
 * LOAD_SYSTEMS may list bridge variants, each run in its own worker(s) with different
 * `runBridge` options: `bridge@<lever>[+<lever>…]`, levers queue<N>, nored, nodtx,
 * kbps<N>, workers<N>, directffi0 (bench/load/variants.ts), e.g.
 * `LOAD_SYSTEMS=bridge,bridge@queue0,bridge@nored+nodtx,bridge@workers2,livekit-sip`;
 * load.md and docs/performance.md then get a "levers" table (bench/load/levers.ts).
 * `--workers N` (or LOAD_WORKERS=N) spreads each bridge variant's calls round-robin over N
 * bridge-worker processes (CPU and RSS summed over them) unless the variant says workers<N>.
 * `npm run bench:load -- --render` writes load.md and docs/ again from the last load.json.
 * LOAD_KEEP_GOING=1 runs every step whatever the verdicts (A/B runs on a busy machine);
 * LOAD_RESULTS_DIR puts load.json/load.md elsewhere than bench/results (with LOAD_DOCS=0).
 * LOAD_PROFILE=1 writes V8 CPU profiles of the bridge worker to bench/results/profile/.
 * If bench/results/load-before.json exists (an earlier load.json), docs/performance.md
 * compares our bridge's steps with it.
 */
import os from 'node:os';
import * as prettier from 'prettier';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AccessToken,
  RoomServiceClient,
  SipClient,
  type CreateSipOutboundTrunkOptions,
} from 'livekit-server-sdk';
import { stopAll } from '../../test/harness/process.js';
import { VERSION } from '../../src/index.js';
import type { AgentJoinParams, AgentRoomWindow } from './agents.js';
import type { WorkerCallState, WorkerStartParams, WorkerWindow } from './bridge-worker.js';
import { FarEnd, type FarWindow } from './far-end.js';
import { RtpCapture, captureUnavailable, type CaptureWindow } from './capture.js';
import { RpcChild, epochMs } from './ipc.js';
import { mergeWindows } from './merge-windows.js';
import { defaultWorkers, parseBridgeVariant, variantSlug, type BridgeVariant } from './variants.js';
import { renderDocs, renderTable, type LoadReport, type StepResult, type SystemResult } from './report.js';
import {
  API_KEY,
  API_SECRET,
  SIP_VERSION,
  livekitSipBinary,
  machineCpu,
  procUsage,
  startLiveKitServer,
  startLiveKitSip,
  startRedis,
  type LiveKitServer,
  type LiveKitSip,
} from './servers.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const STEPS = (process.env.LOAD_STEPS ?? '1,5,10,25,50,100').split(',').map(Number);
const WINDOW_S = Number(process.env.LOAD_WINDOW_S ?? 15);
const BUDGET_MS = Number(process.env.LOAD_BUDGET_S ?? 840) * 1000;
const SYSTEMS = (process.env.LOAD_SYSTEMS ?? 'bridge,livekit-sip').split(',').map((x) => x.trim());
const WORKERS = defaultWorkers(process.argv, process.env);
/** Where load.json and load.md go (LOAD_RESULTS_DIR: keeps A/B runs of a shared machine apart). */
const RESULTS_DIR = process.env.LOAD_RESULTS_DIR ?? join(root, 'bench', 'results');
/** LOAD_KEEP_GOING=1 (A/B runs): every step runs whatever the previous one's verdict or machine load. */
const KEEP_GOING = process.env.LOAD_KEEP_GOING === '1';
/** Every bridge entry of LOAD_SYSTEMS, parsed up front so a typo fails before anything starts. */
const VARIANTS = new Map(
  SYSTEMS.filter((x) => x === 'bridge' || x.startsWith('bridge@')).map((x) => [
    x,
    parseBridgeVariant(x, WORKERS),
  ]),
);
const PACING_LIMIT_MS = 3;
const LOSS_LIMIT_PCT = 1;
const SATURATED_PCT = 97;
const CALLER_ID = '08044319240';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Why far-end RTP is timed by the far end itself instead of kernel timestamps (undefined: capture works). */
const NO_CAPTURE = process.env.LOAD_CAPTURE === '0' ? 'LOAD_CAPTURE=0' : captureUnavailable();
/** The simulator's RTP ports (src/testing/simulator.ts). */
const FAR_RTP_PORTS: [number, number] = [30000, 40000];
const t0 = Date.now();
const log = (msg: string) =>
  process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);

interface Placed {
  room: string;
  phone: string;
  startEpoch: number;
  error?: string;
}

/** What the orchestrator needs from a system under test. */
interface SystemUnderTest {
  name: 'bridge' | 'livekit-sip';
  label: string;
  /** Bridge variant (LOAD_SYSTEMS entry) and its worker count. */
  variant?: BridgeVariant;
  pid(): number;
  rss(): Promise<number>;
  place(calls: { room: string; phone: string }[]): Promise<Placed[]>;
  windowStart(): Promise<void>;
  windowEnd(): Promise<{ cpuMs: number; seconds: number; rssBytes: number; internal?: WorkerWindow }>;
  hangup(rooms: string[]): Promise<void>;
  stop(): Promise<void>;
}

const STAGGER_MS = 30;
/** Agent processes (rooms are spread over them; rtc-node's per-process event fan-out grows with rooms²). */
const AGENT_PROCS = 2;

/** The agent processes, addressed as one. */
class Agents {
  constructor(private readonly procs: RpcChild[]) {}
  async join(p: AgentJoinParams, timeoutMs: number): Promise<string[]> {
    const parts = this.procs.map((_, i) => p.rooms.filter((_r, j) => j % this.procs.length === i));
    const res = await Promise.all(
      this.procs.map((c, i) => c.call<string[]>('join', { ...p, rooms: parts[i] }, timeoutMs)),
    );
    return res.flat();
  }
  async all<T>(method: string, timeoutMs?: number): Promise<T[]> {
    return (await Promise.all(this.procs.map((c) => c.call<T | T[]>(method, {}, timeoutMs)))).flat() as T[];
  }
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((c) => c.call('shutdown', {}, 10_000).catch(() => undefined)));
    await Promise.all(this.procs.map((c) => c.stop().catch(() => undefined)));
  }
}

async function bridgeSystem(
  lk: LiveKitServer,
  simPort: number,
  variant: BridgeVariant,
): Promise<SystemUnderTest> {
  const slug = variantSlug(variant.key);
  const workers = Array.from(
    { length: variant.workers },
    (_, i) =>
      new RpcChild(
        variant.workers > 1 ? `bridge-worker-${slug}-${i}` : `bridge-worker-${slug}`,
        join(here, 'bridge-worker.ts'),
        {},
        process.env.LOAD_PROFILE
          ? ['--cpu-prof', '--cpu-prof-dir', join(root, 'bench', 'results', 'profile')]
          : [],
      ),
  );
  await Promise.all(workers.map((w) => w.started()));
  const all = <T>(method: string, params: unknown = {}, timeoutMs?: number) =>
    Promise.all(workers.map((w) => w.call<T>(method, params, timeoutMs)));
  const n = workers.length;
  const tag = [variant.levers, n > 1 && !/workers/.test(variant.levers) ? `workers${n}` : '']
    .filter(Boolean)
    .join('+');
  return {
    name: 'bridge',
    label: `exotel-livekit-bridge ${VERSION}${tag ? ` @${tag}` : ''}`,
    variant,
    pid: () => workers[0]!.pid,
    rss: async () => (await all<number>('rss')).reduce((a, b) => a + b, 0),
    async place(calls) {
      const base: Omit<WorkerStartParams, 'calls'> = {
        livekit: { url: lk.url, apiKey: API_KEY, apiSecret: API_SECRET },
        exotel: {
          sipHost: '127.0.0.1',
          sipPort: simPort,
          transport: 'tcp',
          customerIp: '127.0.0.1',
          customerSipPort: 0,
          mediaIp: '127.0.0.1',
          callerId: CALLER_ID,
          fromDomain: 'load.sip.exotel.com',
        },
        // round-robin: worker i places calls i, i+n, …, so the calls still leave STAGGER_MS apart
        staggerMs: STAGGER_MS * n,
        livekitMedia: variant.livekitMedia,
        ...(variant.directFfi !== undefined ? { directFfi: variant.directFfi } : {}),
      };
      await Promise.all(
        workers.map((w, i) =>
          w.call(
            'start',
            { ...base, offsetMs: STAGGER_MS * i, calls: calls.filter((_c, j) => j % n === i) },
            60_000 + calls.length * 1000,
          ),
        ),
      );
      const states = (await all<WorkerCallState[]>('states')).flat();
      return states.map((s) => ({ room: s.room, phone: s.phone, startEpoch: s.startEpoch }));
    },
    async windowStart() {
      await all('windowStart');
    },
    async windowEnd() {
      const w = mergeWindows(await all<WorkerWindow>('windowEnd'));
      return { cpuMs: w.cpuUserMs + w.cpuSystemMs, seconds: w.seconds, rssBytes: w.rssBytes, internal: w };
    },
    async hangup() {
      await all('hangupAll', { timeoutMs: 15_000 }, 30_000);
    },
    stop: async () => {
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}

async function livekitSipSystem(
  lk: LiveKitServer,
  sip: LiveKitSip,
  simPort: number,
): Promise<SystemUnderTest> {
  const client = new SipClient(lk.httpUrl, API_KEY, API_SECRET);
  const trunk = await client.createSipOutboundTrunk('exotel-simulator', `127.0.0.1:${simPort}`, [CALLER_ID], {
    transport: 2 as CreateSipOutboundTrunkOptions['transport'], // SIP_TRANSPORT_TCP
  });
  let w0: { userMs: number; systemMs: number; t: number } | undefined;
  return {
    name: 'livekit-sip',
    label: `livekit-sip ${SIP_VERSION}`,
    pid: () => sip.pid,
    rss: async () => procUsage(sip.pid).rssBytes,
    async place(calls) {
      const placed: Placed[] = [];
      const pending: Promise<unknown>[] = [];
      for (const c of calls) {
        const p: Placed = { ...c, startEpoch: epochMs() };
        placed.push(p);
        pending.push(
          client
            .createSipParticipant(trunk.sipTrunkId, c.phone, c.room, {
              participantIdentity: `sip-phone-${c.phone}`,
              participantName: c.phone,
              timeout: 60,
            })
            .catch((err: unknown) => (p.error = String(err))),
        );
        await sleep(STAGGER_MS);
      }
      await Promise.all(pending);
      return placed;
    },
    async windowStart() {
      const u = procUsage(sip.pid);
      w0 = { userMs: u.userMs, systemMs: u.systemMs, t: performance.now() };
    },
    async windowEnd() {
      const u = procUsage(sip.pid);
      const w = w0!;
      return {
        cpuMs: u.userMs - w.userMs + (u.systemMs - w.systemMs),
        seconds: (performance.now() - w.t) / 1000,
        rssBytes: u.rssBytes,
      };
    },
    async hangup(rooms) {
      // Deleting the room makes livekit-sip hang up (BYE).
      const rs = new RoomServiceClient(lk.httpUrl, API_KEY, API_SECRET);
      await Promise.all(rooms.map((r) => rs.deleteRoom(r).catch(() => undefined)));
      await sleep(1000);
    },
    stop: async () => undefined,
  };
}

async function agentToken(room: string): Promise<string> {
  const at = new AccessToken(API_KEY, API_SECRET, { identity: `agent-${room}`, ttl: '30m' });
  at.kind = 'agent';
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true });
  return at.toJwt();
}

function pct(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

function dist(values: number[]): { n: number; p50?: number; p99?: number; max?: number } {
  const r = (v: number | undefined) => (v === undefined ? undefined : Math.round(v * 10) / 10);
  return { n: values.length, p50: r(pct(values, 0.5)), p99: r(pct(values, 0.99)), max: r(pct(values, 1)) };
}

/** The capture's figures without its extras (kept in the step under their own names). */
function farWindowOf(c: CaptureWindow | undefined): FarWindow | undefined {
  if (c === undefined) return undefined;
  const { source: _source, lateness: _lateness, droppedByKernel: _dropped, ...far } = c;
  return far;
}

/** How the log names a system: its variant key, or its name. */
function tagOf(sut: SystemUnderTest): string {
  return sut.variant?.key ?? sut.name;
}

async function runStep(
  sut: SystemUnderTest,
  n: number,
  stepIndex: number,
  sysIndex: number,
  ctx: { lk: LiveKitServer; agents: Agents; far: FarEnd; idleRss: number; prev?: StepResult },
): Promise<StepResult> {
  const started = Date.now();
  const rs = new RoomServiceClient(ctx.lk.httpUrl, API_KEY, API_SECRET);
  const calls = Array.from({ length: n }, (_, i) => ({
    room: `load-${sut.variant ? variantSlug(sut.variant.key) : sut.name}-${n}-${i}`,
    phone: `+91${9_000_000_000 + sysIndex * 100_000_000 + stepIndex * 1000 + i}`,
  }));
  const rooms = calls.map((c) => c.room);
  for (let i = 0; i < rooms.length; i += 10)
    await Promise.all(rooms.slice(i, i + 10).map((name) => rs.createRoom({ name, emptyTimeout: 120 })));
  const join: AgentJoinParams = {
    url: ctx.lk.url,
    rooms: await Promise.all(rooms.map(async (room) => ({ room, token: await agentToken(room) }))),
    concurrency: 5,
  };
  const joinFailures = await ctx.agents.join(join, 60_000 + n * 2000);
  ctx.far.clear();
  log(`${tagOf(sut)} ${n} calls: ${n - joinFailures.length} agents in their rooms; placing calls`);
  const placed = await sut.place(calls);
  const activeBy = Date.now() + 20_000 + n * 400;
  let times: { room: string; activeEpoch?: number }[] = [];
  while (Date.now() < activeBy) {
    times = await ctx.agents.all<(typeof times)[number]>('activeTimes');
    if (times.filter((t) => t.activeEpoch !== undefined).length >= n) break;
    await sleep(250);
  }
  const active = times.filter((t) => t.activeEpoch !== undefined).length;
  log(`${tagOf(sut)} ${n} calls: ${active}/${n} active; steady window ${WINDOW_S} s`);
  await sleep(2000);
  const capture = NO_CAPTURE === undefined ? new RtpCapture(FAR_RTP_PORTS) : undefined;
  await capture?.start();
  const m0 = machineCpu();
  await Promise.all([sut.windowStart(), ctx.agents.all('windowStart')]);
  ctx.far.windowStart();
  await sleep(WINDOW_S * 1000).catch((err: unknown) => {
    capture?.kill();
    throw err;
  });
  const farInProcess: FarWindow = ctx.far.windowEnd();
  const captured = await capture?.stop(ctx.far.rtpPorts());
  const far: FarWindow = farWindowOf(captured) ?? farInProcess;
  const [usage, agentWin] = await Promise.all([
    sut.windowEnd(),
    ctx.agents.all<AgentRoomWindow>('windowEnd'),
  ]);
  const m1 = machineCpu();
  times = await ctx.agents.all<(typeof times)[number]>('activeTimes');

  // setup times, per call, from three clocks of the same machine
  const invite: number[] = [];
  const okToRtp: number[] = [];
  const okToActive: number[] = [];
  const activeByRoom = new Map(times.map((t) => [t.room, t.activeEpoch]));
  for (const p of placed) {
    const fc = ctx.far.byNumber.get(p.phone);
    if (fc === undefined) continue;
    invite.push(fc.inviteEpoch - p.startEpoch);
    if (fc.okEpoch !== undefined && fc.firstRtpEpoch !== undefined)
      okToRtp.push(fc.firstRtpEpoch - fc.okEpoch);
    const a = activeByRoom.get(p.room);
    if (fc.okEpoch !== undefined && a !== undefined) okToActive.push(a - fc.okEpoch);
  }
  const placeErrors = placed.filter((p) => p.error !== undefined).map((p) => p.error!);

  if (process.env.LOAD_DEBUG) log(JSON.stringify(agentWin));
  for (const a of agentWin)
    if (a.expected > 0 && a.toneFrames < 0.9 * a.expected) {
      const inb = usage.internal?.inbound.find((i) => i.room === a.room);
      log(
        `  ${a.room}: the agent heard the tone in ${a.toneFrames}/${a.expected} frames (${a.frames} frames read)` +
          (inb ? `; bridge: ${JSON.stringify(inb)}` : ''),
      );
    }
  const expected = agentWin.reduce((s, a) => s + a.expected, 0);
  const toneFrames = agentWin.reduce((s, a) => s + a.toneFrames, 0);
  const frames = agentWin.reduce((s, a) => s + a.frames, 0);
  const phoneToAgentLossPct = expected === 0 ? 100 : Math.max(0, 100 * (1 - toneFrames / expected));
  const agentToPhoneMissingPct = 100 - far.audioPct;
  const machineBusyPct = (100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total);
  const rssPerCall = (usage.rssBytes - ctx.idleRss) / n;
  const prev = ctx.prev;
  const rssPerExtraCall =
    prev !== undefined && n > prev.calls ? (usage.rssBytes - prev.rssBytes) / (n - prev.calls) : undefined;

  const lossPct = Math.max(far.lossPct, phoneToAgentLossPct, agentToPhoneMissingPct);
  // quality verdict (capacity): all calls active, pacing p99 <= 3 ms, loss <= 1 %
  const problems: string[] = [];
  if (active < n) problems.push(`only ${active}/${n} calls became active`);
  if (far.pacing.p99 > PACING_LIMIT_MS) problems.push(`pacing p99 ${far.pacing.p99.toFixed(2)} ms > 3 ms`);
  if (lossPct > LOSS_LIMIT_PCT) problems.push(`loss ${lossPct.toFixed(2)} % > 1 %`);
  // the ramp goes on past a pacing-only miss (the far end's own timing noise is several ms on
  // a busy 2-core box), but not past failed calls or loss
  const stopRamp = active < n || lossPct > LOSS_LIMIT_PCT;
  const saturated = machineBusyPct >= SATURATED_PCT;

  const internal = usage.internal;
  const result: StepResult = {
    calls: n,
    active,
    joinFailures: joinFailures.length,
    placeErrors: placeErrors.slice(0, 3),
    windowS: Math.round(usage.seconds * 10) / 10,
    cpuMsPerCallSecond: usage.cpuMs / (Math.max(1, active) * usage.seconds),
    cpuPercentOfCore: (100 * usage.cpuMs) / (usage.seconds * 1000),
    rssBytes: usage.rssBytes,
    rssPerCallBytes: rssPerCall,
    rssPerExtraCallBytes: rssPerExtraCall,
    machineBusyPct,
    farEnd: far,
    farEndSource: captured === undefined ? 'far-end process' : 'kernel',
    farEndInProcess: farInProcess,
    ...(captured === undefined
      ? {}
      : { captureDropped: captured.droppedByKernel, farEndLateness: captured.lateness }),
    phoneToAgent: { frames, toneFrames, expected, lossPct: phoneToAgentLossPct },
    agentToPhoneMissingAudioPct: agentToPhoneMissingPct,
    lossPct,
    setup: { startToInviteMs: dist(invite), okToFirstRtpMs: dist(okToRtp), okToActiveMs: dist(okToActive) },
    internal:
      internal === undefined
        ? undefined
        : {
            pacing: internal.pacing,
            skippedPeriods: internal.skippedPeriods,
            inboundLost: internal.inbound.reduce((s, i) => s + i.lost, 0),
            inboundReceived: internal.inbound.reduce((s, i) => s + i.received, 0),
            inboundJitterMaxMs: Math.max(0, ...internal.inbound.map((i) => i.jitterMs)),
            latency: internal.latency,
            framesCaptured: internal.framesCaptured,
            framesDropped: internal.framesDropped,
            threadCpuMs: internal.threads,
            eventLoopDelayMs: internal.eventLoopDelay,
            gc: internal.gc,
          },
    verdict: problems.length > 0 ? 'broken' : saturated ? 'saturated' : 'ok',
    problems,
    stopRamp,
    loadAverage1m: os.loadavg()[0] ?? 0,
    stepSeconds: 0,
  };
  log(
    `${tagOf(sut)} ${n} calls: CPU ${result.cpuMsPerCallSecond.toFixed(2)} ms/call-s, RSS ${(usage.rssBytes / 2 ** 20).toFixed(0)} MiB, ` +
      `far-end pacing p99 ${far.pacing.p99.toFixed(2)} ms (${captured ? 'kernel' : 'far-end process'}; in-process ${farInProcess.pacing.p99.toFixed(2)}), loss ${lossPct.toFixed(2)} %, machine ${machineBusyPct.toFixed(0)} %` +
      (problems.length ? ` — ${problems.join('; ')}` : ''),
  );
  await sut.hangup(rooms);
  await ctx.agents.all('leaveAll', 60_000);
  await Promise.all(rooms.map((r) => rs.deleteRoom(r).catch(() => undefined)));
  await sleep(1500);
  result.stepSeconds = Math.round((Date.now() - started) / 1000);
  return result;
}

/** One system's ramp of steps, open while its steps run (interleaved with other variants' or not). */
interface Ramp {
  sut: SystemUnderTest;
  res: SystemResult;
  sysIndex: number;
  idleRss: number;
  prev?: StepResult;
  done: boolean;
}

async function openRamp(make: () => Promise<SystemUnderTest>, sysIndex: number): Promise<Ramp> {
  const sut = await make();
  const res: SystemResult = {
    name: sut.name,
    label: sut.label,
    steps: [],
    stopped: '',
    ...(sut.variant
      ? { variant: sut.variant.key, levers: sut.variant.levers, workers: sut.variant.workers }
      : {}),
  };
  const ramp: Ramp = { sut, res, sysIndex, idleRss: 0, done: false };
  try {
    await sleep(1000);
    ramp.idleRss = await sut.rss();
    res.idleRssBytes = ramp.idleRss;
  } catch (err) {
    failRamp(ramp, err);
  }
  return ramp;
}

function failRamp(r: Ramp, err: unknown): void {
  r.res.error = err instanceof Error ? err.message : String(err);
  r.done = true;
  log(`${r.res.label}: failed: ${r.res.error}`);
}

/** The time step `i` of a ramp is expected to take (from its previous step). */
function stepEstimateMs(r: Ramp, i: number): number {
  const n = STEPS[i]!;
  return r.prev ? (r.prev.stepSeconds * 1000 * (n + 5)) / (r.prev.calls + 5) : 40_000;
}

/** Runs step `i` of a ramp; marks it done when its quality broke or the machine saturated (unless KEEP_GOING). */
async function stepRamp(
  r: Ramp,
  i: number,
  ctx: { lk: LiveKitServer; agents: Agents; far: FarEnd },
): Promise<void> {
  const n = STEPS[i]!;
  try {
    const step = await runStep(r.sut, n, i, r.sysIndex, { ...ctx, idleRss: r.idleRss, prev: r.prev });
    r.res.steps.push(step);
    r.prev = step;
    if (KEEP_GOING) return;
    if (step.stopRamp) {
      r.res.stopped = `quality broke at ${n} calls: ${step.problems.join('; ')}`;
      r.done = true;
    } else if (step.machineBusyPct >= SATURATED_PCT) {
      r.res.stopped = `machine saturated at ${n} calls (${step.machineBusyPct.toFixed(0)} % of all cores busy)`;
      r.done = true;
    }
  } catch (err) {
    failRamp(r, err);
  }
}

/**
 * Runs the systems' ramps, step by step: with several systems (bridge variants) the steps
 * are interleaved — every variant's 1-call step, then every variant's 5-call step, … — so
 * that a machine whose background load drifts during the run loads each variant alike.
 */
async function runSystems(
  makes: { make: () => Promise<SystemUnderTest>; sysIndex: number }[],
  ctx: { lk: LiveKitServer; agents: Agents; far: FarEnd },
  deadline: number,
): Promise<SystemResult[]> {
  const ramps: Ramp[] = [];
  try {
    for (const m of makes) ramps.push(await openRamp(m.make, m.sysIndex));
    for (let i = 0; i < STEPS.length; i++) {
      const live = ramps.filter((r) => !r.done);
      if (live.length === 0) break;
      const estimateMs = live.reduce((t, r) => t + stepEstimateMs(r, i), 0);
      if (Date.now() + estimateMs > deadline) {
        for (const r of live) {
          r.res.stopped = `time budget: the ${STEPS[i]}-call step (about ${Math.round(estimateMs / 1000)} s for ${live.length} system${live.length > 1 ? 's' : ''}) would not fit`;
          r.done = true;
        }
        break;
      }
      for (const r of live) await stepRamp(r, i, ctx);
    }
    for (const r of ramps)
      if (r.res.stopped === '' && r.res.error === undefined) r.res.stopped = 'all steps done';
  } finally {
    for (const r of ramps) await r.sut.stop().catch(() => undefined);
  }
  return ramps.map((r) => r.res);
}

async function main(): Promise<void> {
  const deadline = t0 + BUDGET_MS;
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    totalMemGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: os.release(),
  };
  const report: LoadReport = {
    date: new Date().toISOString(),
    machine,
    config: {
      steps: STEPS,
      windowS: WINDOW_S,
      budgetS: BUDGET_MS / 1000,
      pacingLimitMs: PACING_LIMIT_MS,
      saturatedPct: SATURATED_PCT,
      lossLimitPct: LOSS_LIMIT_PCT,
    },
    systems: [],
    durationS: 0,
  };
  const far = new FarEnd();
  let lk: LiveKitServer | undefined;
  let agents: Agents | undefined;
  let redisError: string | undefined;
  try {
    const simPort = await far.start();
    let redisAddress = '';
    try {
      const redis = await startRedis();
      redisAddress = redis.address;
    } catch (err) {
      redisError = `redis-server could not be started: ${err instanceof Error ? err.message : String(err)}`;
    }
    lk = await startLiveKitServer(redisAddress);
    log(
      NO_CAPTURE === undefined
        ? 'far-end RTP timed by the kernel (tcpdump on lo)'
        : `far-end RTP timed by the far end itself: no capture (${NO_CAPTURE})`,
    );
    log(
      `livekit-server on ${lk.url}${redisAddress ? ` (Redis ${redisAddress})` : ''}; simulator on 127.0.0.1:${simPort}`,
    );
    const procs = Array.from(
      { length: AGENT_PROCS },
      (_, i) => new RpcChild(`agents-${i}`, join(here, 'agents.ts')),
    );
    agents = new Agents(procs);
    await Promise.all(procs.map((c) => c.started()));
    const ctx = { lk, agents, far };
    const systems = SYSTEMS.filter((s) => VARIANTS.has(s) || s === 'livekit-sip');
    // the bridge variants run as one interleaved group, where the first of them is listed
    const groups: string[][] = [];
    for (const name of systems) {
      const g = groups.find((x) => VARIANTS.has(x[0]!) && VARIANTS.has(name));
      if (g) g.push(name);
      else groups.push([name]);
    }
    let done = 0;
    for (const group of groups) {
      const share = ((deadline - Date.now()) * group.length) / (systems.length - done);
      const groupDeadline = Date.now() + share;
      const first = done;
      done += group.length;
      if (VARIANTS.has(group[0]!)) {
        log(
          `== exotel-livekit-bridge: ${group
            .map((k) => `${k} (${VARIANTS.get(k)!.workers} worker${VARIANTS.get(k)!.workers > 1 ? 's' : ''})`)
            .join(', ')}${group.length > 1 ? ', steps interleaved' : ''}`,
        );
        report.systems.push(
          ...(await runSystems(
            group.map((k, j) => ({
              make: () => bridgeSystem(lk!, simPort, VARIANTS.get(k)!),
              sysIndex: first + j,
            })),
            ctx,
            groupDeadline,
          )),
        );
        continue;
      }
      log(`== livekit-sip ${SIP_VERSION}`);
      let sip: LiveKitSip | undefined;
      const unavailable = (why: string): SystemResult => ({
        name: 'livekit-sip',
        label: `livekit-sip ${SIP_VERSION}`,
        steps: [],
        stopped: 'not run',
        error: why,
      });
      try {
        if (redisError !== undefined) throw new Error(redisError);
        const bin = livekitSipBinary();
        sip = await startLiveKitSip(bin, { redisAddress, wsUrl: lk.url });
        log(`livekit-sip pid ${sip.pid} on 127.0.0.1:${sip.sipPort}`);
        report.systems.push(
          ...(await runSystems(
            [{ make: () => livekitSipSystem(lk!, sip!, simPort), sysIndex: first }],
            ctx,
            groupDeadline,
          )),
        );
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        log(`livekit-sip unavailable: ${why}`);
        report.systems.push(unavailable(why));
      } finally {
        await sip?.stop().catch(() => undefined);
      }
    }
  } finally {
    await agents?.stop().catch(() => undefined);
    await far.close().catch(() => undefined);
    await lk?.stop().catch(() => undefined);
    await stopAll();
  }
  report.durationS = Math.round((Date.now() - t0) / 1000);
  const outDir = RESULTS_DIR;
  await attachBefore(report, outDir);
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'load.json'), JSON.stringify(report, null, 2) + '\n');
  await writeOutputs(report, outDir);
  process.stdout.write('\n' + renderTable(report) + '\n');
  log(
    `done in ${report.durationS} s; wrote ${RESULTS_DIR}/load.json, load.md${process.env.LOAD_DOCS !== '0' ? ', docs/performance.md, docs/performance.svg' : ''}`,
  );
}

/** `--render`: writes load.md and docs/ again from bench/results/load.json (no new run). */
async function renderOnly(): Promise<void> {
  const outDir = RESULTS_DIR;
  const report = JSON.parse(await readFile(join(outDir, 'load.json'), 'utf8')) as LoadReport;
  await attachBefore(report, outDir);
  await writeOutputs(report, outDir);
}

/**
 * The "before" of docs/performance.md: our bridge's steps from an earlier run kept as
 * bench/results/load-before.json (e.g. `LOAD_SYSTEMS=bridge LOAD_DIRECT_FFI=0 npm run
 * bench:load`, then copy its load.json there).
 */
async function attachBefore(report: LoadReport, outDir: string): Promise<void> {
  try {
    const prev = JSON.parse(await readFile(join(outDir, 'load-before.json'), 'utf8')) as LoadReport;
    const steps = prev.systems.find((s) => s.name === 'bridge')?.steps;
    if (steps && steps.length > 0 && prev.date !== report.date) report.before = { date: prev.date, steps };
  } catch {
    // no earlier run to compare with
  }
}

async function writeOutputs(report: LoadReport, outDir: string): Promise<void> {
  await writeFile(join(outDir, 'load.md'), renderTable(report) + '\n');
  if (process.env.LOAD_DOCS !== '0') {
    const { markdown, svg } = renderDocs(report);
    await mkdir(join(root, 'docs'), { recursive: true });
    const mdPath = join(root, 'docs', 'performance.md');
    // formatted like every other file, so `npm run lint` (prettier --check) passes on it
    const style = (await prettier.resolveConfig(mdPath)) ?? {};
    await writeFile(mdPath, await prettier.format(markdown, { ...style, parser: 'markdown' }));
    await writeFile(join(root, 'docs', 'performance.svg'), svg);
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    log(`${sig}: stopping every peer`);
    void stopAll().finally(() => process.exit(130));
  });

(process.argv.includes('--render') ? renderOnly() : main())
  .then(() => process.exit(process.exitCode ?? 0))
  .catch(async (err: unknown) => {
    console.error(err);
    await stopAll().catch(() => undefined);
    process.exit(1);
  });
