/**
 * Inbound calls through the shipped Kamailio config (examples/deploy/kamailio.cfg) to real
 * bridge processes: the Exotel simulator is the trunk and calls Kamailio's port; Kamailio
 * spreads the INVITEs over two bridge worker processes (test/harness/inbound-worker.ts,
 * `listenForCalls` + `acceptInboundCalls`, Kamailio's address trusted with `allowFrom`),
 * each joining a real livekit-server. Proves that calls are spread over both processes
 * and every BYE passes through Kamailio; that a process draining for a restart
 * (`close({ drain: true })` on SIGTERM) finishes its call while Kamailio moves new calls
 * to the other one on its 503, then exits 0; and that a crashed (SIGKILLed) process is
 * taken out by OPTIONS probing while new calls keep succeeding on the other.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ExotelSimulator, type SimulatedInboundCall } from '../../src/testing/index.js';
import { livekitOpts, runCleanups, type Cleanups } from '../harness/e2e.js';
import { startInboundWorkers, type InboundWorker } from '../harness/inbound-workers.js';
import { startKamailio, type KamailioRun } from '../harness/kamailio.js';
import { eventually, roomService } from '../harness/livekit.js';
import { freeDualPort } from '../harness/process.js';

const CALLER = '+919876543210';
const EXOPHONE = '08044319240';
const PROBE_S = 1;
const cleanups: Cleanups = [];

afterEach(async () => {
  await runCleanups(cleanups);
});

interface Setup {
  sim: ExotelSimulator;
  kam: KamailioRun;
  workers: InboundWorker[];
}

/**
 * Kamailio on a port chosen first (the workers' trunk), two workers behind it, and the
 * simulator as Exotel. Cleanups (last in, first run): the simulator's calls hung up, the
 * workers stopped, Kamailio stopped, and any room left by a killed worker deleted.
 */
async function setup(opts: { drainRetryAfterSec?: number; probeIntervalSec?: number } = {}): Promise<Setup> {
  const kamPort = await freeDualPort();
  const workers = await startInboundWorkers(2, {
    livekit: livekitOpts(),
    sipHost: '127.0.0.1',
    sipPort: kamPort,
    drainTimeoutMs: 30_000,
    ...(opts.drainRetryAfterSec !== undefined ? { drainRetryAfterSec: opts.drainRetryAfterSec } : {}),
  });
  cleanups.push(async () => {
    const rooms = workers.flatMap((w) => w.eventsOf('call').map((c) => c.room));
    if (rooms.length > 0) {
      const left = await roomService().listRooms(rooms);
      await Promise.all(left.map((r) => roomService().deleteRoom(r.name)));
    }
  });
  cleanups.push(() => Promise.all(workers.map((w) => w.stop())).then(() => undefined));
  const kam = await startKamailio({
    port: kamPort,
    backends: workers.map((w) => ({ host: '127.0.0.1', port: w.port, transport: 'tcp' as const })),
    probeIntervalSec: opts.probeIntervalSec ?? PROBE_S,
    probeDown: 1,
  });
  cleanups.push(() => kam.stop());
  const sim = new ExotelSimulator({ host: '127.0.0.1', fromDomain: 'pstn.in1.exotel.com' });
  await sim.start();
  cleanups.push(() => sim.close());
  return { sim, kam, workers };
}

function callIn(s: Setup, hangupAfterMs?: number): SimulatedInboundCall {
  return s.sim.callIn({
    target: { host: '127.0.0.1', port: s.kam.port, transport: 'tcp' },
    from: CALLER,
    to: EXOPHONE,
    play: { toneHz: 440, amplitude: 8000 },
    ...(hangupAfterMs !== undefined ? { hangupAfterMs } : {}),
  });
}

/** Kamailio's entry among the Record-Route values of the simulator's 200 OK. */
function kamailioRecordRoute(call: SimulatedInboundCall, kam: KamailioRun): boolean {
  const rr = call.final?.headers.getAll('Record-Route').join(',') ?? '';
  return rr.includes(`sip:127.0.0.1:${kam.port};transport=tcp;`);
}

/**
 * `total` calls, `parallel` at a time, each held `holdMs` and hung up by the caller:
 * every one answered 200 with Kamailio's Record-Route, and its BYE answered 200.
 */
async function callsInBatches(
  s: Setup,
  total: number,
  parallel: number,
  holdMs: number,
): Promise<SimulatedInboundCall[]> {
  const done: SimulatedInboundCall[] = [];
  for (let i = 0; i < total; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, total - i) }, () => callIn(s, holdMs));
    const answers = await Promise.all(batch.map((c) => c.answered));
    expect(answers.map((a) => a.status)).toEqual(batch.map(() => 200));
    for (const c of batch) expect(kamailioRecordRoute(c, s.kam)).toBe(true);
    const ended = await Promise.all(batch.map((c) => c.ended));
    expect(ended).toEqual(batch.map(() => ({ by: 'caller', status: 200 })));
    done.push(...batch);
  }
  return done;
}

/** The worker whose `call` line names this SIP Call-ID (waits for it). */
function workerOf(s: Setup, call: SimulatedInboundCall): Promise<InboundWorker> {
  return eventually(`a worker's call line for ${call.callId}`, () =>
    s.workers.find((w) => w.took(call.callId)),
  );
}

/** Waits until each call has an `ended` line at the worker that took it; returns the reasons. */
async function endReasons(s: Setup, calls: readonly SimulatedInboundCall[]): Promise<string[]> {
  return eventually(
    'an ended line for every call',
    () => {
      const ends = s.workers.flatMap((w) => w.eventsOf('ended'));
      const reasons = calls.map((c) => ends.find((e) => e.sipCallId === c.callId)?.reason);
      return reasons.every((r) => r !== undefined) ? (reasons as string[]) : undefined;
    },
    15_000,
  );
}

describe('Kamailio (examples/deploy/kamailio.cfg) in front of two bridge worker processes', () => {
  it('20 inbound calls, 5 at a time: spread over both workers, BYE through Kamailio, every room deleted', async () => {
    const s = await setup();
    const calls = await callsInBatches(s, 20, 5, 1500);

    const [a, b] = s.workers as [InboundWorker, InboundWorker];
    const onA = calls.filter((c) => a.took(c.callId));
    const onB = calls.filter((c) => b.took(c.callId));
    // Each call was taken by exactly one worker, and both took some (round-robin).
    expect(onA.length + onB.length).toBe(20);
    expect(calls.every((c) => !(a.took(c.callId) && b.took(c.callId)))).toBe(true);
    expect(onA.length).toBeGreaterThan(0);
    expect(onB.length).toBeGreaterThan(0);
    expect(a.eventsOf('call').length + b.eventsOf('call').length).toBe(20);
    expect([...a.eventsOf('refused'), ...b.eventsOf('refused')]).toEqual([]);

    // The caller's BYE reached the bridge (through Kamailio: the route set of the 200 OK).
    expect(await endReasons(s, calls)).toEqual(calls.map(() => 'phone-hangup'));

    const rooms = s.workers.flatMap((w) => w.eventsOf('call').map((c) => c.room));
    expect(new Set(rooms).size).toBe(20);
    for (const r of rooms) expect(r).toMatch(/^support-inbound-3210-[0-9a-f-]{36}$/);
    await eventually(
      'every room deleted',
      async () => ((await roomService().listRooms(rooms)).length === 0 ? true : undefined),
      15_000,
    );
  });

  it('drain: SIGTERM while a call is up; the call finishes, new calls go to the other worker (503 failover), then it exits 0', async () => {
    // Probing too slow to notice anything during the test: Kamailio learns about the
    // drained worker only from the calls themselves (its 503, then its refused connection).
    const s = await setup({ drainRetryAfterSec: 7, probeIntervalSec: 60 });
    const held = callIn(s);
    expect((await held.answered).status).toBe(200);
    const draining = await workerOf(s, held);
    const other = s.workers.find((w) => w !== draining)!;

    draining.terminate();
    await eventually('draining line', () => draining.eventsOf('draining')[0]);
    expect(draining.eventsOf('draining')[0]!.activeCalls).toBe(1);

    // Two at a time: round-robin offers some to the draining worker, which refuses with 503.
    const during = await callsInBatches(s, 6, 2, 500);
    for (const c of during) {
      expect(other.took(c.callId)).toBe(true);
      expect(draining.took(c.callId)).toBe(false);
    }
    const refused = draining.eventsOf('refused');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r).toMatchObject({ status: 503, why: 'draining' });
      expect(during.map((c) => c.callId)).toContain(r.sipCallId);
    }
    expect(s.kam.log()).toMatch(/bridge failed \(503\), next bridge sip:127\.0\.0\.1:\d+;transport=tcp/);

    // The held call is still up on the draining worker, which still runs.
    expect(held.state).toBe('confirmed');
    expect(draining.process.child.exitCode).toBeNull();
    await held.hangup();
    expect(await held.ended).toEqual({ by: 'caller', status: 200 });

    expect(await draining.exited).toEqual({ code: 0, signal: null });
    const order = draining.events().map((e) => e.event);
    expect(order).toEqual(['ready', 'call', 'draining', ...refused.map(() => 'refused'), 'ended', 'closed']);
    expect(draining.eventsOf('ended')).toEqual([
      expect.objectContaining({ sipCallId: held.callId, reason: 'phone-hangup' }),
    ]);
    expect(await endReasons(s, during)).toEqual(during.map(() => 'phone-hangup'));

    // Stopped, and not yet taken out by probing: Kamailio's relay to its port fails at once;
    // it marks it down and moves the call on (route[TO_BRIDGE]); no caller sees that.
    const after = await callsInBatches(s, 4, 2, 300);
    for (const c of after) expect(other.took(c.callId)).toBe(true);
    expect(s.kam.log()).toContain('bridge unreachable, next bridge');
    expect(s.kam.log()).toContain(`bridge down sip:127.0.0.1:${draining.port};transport=tcp`);
    expect(await endReasons(s, after)).toEqual(after.map(() => 'phone-hangup'));

    const rooms = s.workers.flatMap((w) => w.eventsOf('call').map((c) => c.room));
    await eventually(
      'every room deleted',
      async () => ((await roomService().listRooms(rooms)).length === 0 ? true : undefined),
      15_000,
    );
  });

  it('SIGKILL: probing takes the dead worker out (bridge down); new calls all succeed on the other', async () => {
    const s = await setup();
    // A call up on the worker about to die (it dies with it: not counted).
    const doomed = callIn(s);
    expect((await doomed.answered).status).toBe(200);
    const dead = await workerOf(s, doomed);
    const alive = s.workers.find((w) => w !== dead)!;

    dead.kill();
    expect((await dead.exited).code).toBe(137);
    await eventually(
      'Kamailio marks the killed worker down',
      () => s.kam.log().includes(`bridge down sip:127.0.0.1:${dead.port};transport=tcp`),
      PROBE_S * 10_000,
    );

    const after = await callsInBatches(s, 6, 3, 500);
    for (const c of after) expect(alive.took(c.callId)).toBe(true);
    expect(await endReasons(s, after)).toEqual(after.map(() => 'phone-hangup'));
    expect(alive.eventsOf('refused')).toEqual([]);
    expect(s.kam.log()).not.toContain(`bridge down sip:127.0.0.1:${alive.port}`);
  });
});
