/**
 * The soak run shared by `npm run soak` (1 000 sequential + 100 concurrent calls) and its
 * CI-sized version in the integration suite (50 + 10): real calls through a real
 * livekit-server and the Exotel simulator, each with an agent in the room speaking a tone,
 * each answered, carried until audio flows both ways, and hung up. File descriptors,
 * Node's active handles, RSS and heap are read after a warm-up call and again at the end.
 */
import { readdirSync } from 'node:fs';
import { Room } from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { runBridge, type BridgeCall, type BridgeEnded } from '../../src/index.js';
import { sharedSipClientCount } from '../../src/sip-client-pool.js';
import { ExotelSimulator } from '../../src/testing/index.js';
import { publishTone } from './tone.js';

export interface SoakServer {
  url: string;
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
}

export interface SoakOptions {
  server: SoakServer;
  sequential: number;
  concurrent: number;
  /** How long each call stays up once media flows both ways (default 100 ms sequential, 2 s concurrent). */
  holdMs?: { sequential?: number; concurrent?: number };
  /** Called after every finished call (progress output). */
  onProgress?: (phase: 'sequential' | 'concurrent', done: number, total: number) => void;
  /**
   * The far end to call (an Exotel simulator another process runs); default: a simulator
   * started in this process.
   */
  farEnd?: { host: string; port: number };
  /**
   * In the measured concurrent burst, called once every call of this process carries
   * media; the calls start their hold when it resolves (a barrier across processes).
   */
  onAllUp?: () => Promise<void>;
  /** Passed to `runBridge` (false: rtc-node's own per-frame path; scripts/ffi-diag.ts). */
  directFfi?: boolean;
}

export interface ProcessFigures {
  fds: number;
  /** Node active handles by kind, e.g. `{ TCPSocketWrap: 2, UDPWrap: 1, Timeout: 3 }`. */
  handles: Record<string, number>;
  rssMiB: number;
  heapUsedMiB: number;
}

export interface SoakReport {
  date: string;
  sequential: { calls: number; failures: string[]; seconds: number; setupMsP50: number; setupMsMax: number };
  concurrent: {
    calls: number;
    failures: string[];
    seconds: number;
    peakRssMiB: number;
    /** Time per call from its start to its end (setup, waiting for the others, hold, teardown). */
    setupMsP50: number;
    setupMsMax: number;
  };
  /** Calls of the warm-up that failed (reported, not judged). */
  warmUpFailures: string[];
  start: ProcessFigures;
  end: ProcessFigures;
  /** end − start for the figures the acceptance check looks at. */
  growth: { fds: number; sockets: number; rssMiB: number; heapUsedMiB: number };
  sharedSipClientsLeft: number;
}

const SOCKET_HANDLES = ['TCPSocketWrap', 'TCPServerWrap', 'UDPWrap'];

export function processFigures(): ProcessFigures {
  const handles: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] ?? 0) + 1;
  const mem = process.memoryUsage();
  let fds = -1;
  try {
    fds = readdirSync('/proc/self/fd').length;
  } catch {
    // not Linux: leave -1
  }
  return {
    fds,
    handles,
    rssMiB: Math.round((mem.rss / 2 ** 20) * 10) / 10,
    heapUsedMiB: Math.round((mem.heapUsed / 2 ** 20) * 10) / 10,
  };
}

function sockets(f: ProcessFigures): number {
  return SOCKET_HANDLES.reduce((n, k) => n + (f.handles[k] ?? 0), 0);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Lets the process come to rest before its figures are read: collections (when exposed),
 * and time for rtc-node's native teardown, which closes a room's sockets and thread
 * wake-up descriptors some seconds after `disconnect()` resolves (right after a burst of 10
 * calls a process holds about 500 more descriptors than at rest). Waits until the count of
 * file descriptors has not fallen for 5 s (at most 60 s).
 */
async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const fds = (): number => {
    try {
      return readdirSync('/proc/self/fd').length;
    } catch {
      return -1;
    }
  };
  let last = fds();
  let steady = 0;
  const end = Date.now() + 60_000;
  while (steady < 10 && Date.now() < end) {
    gc?.();
    await sleep(500);
    const now = fds();
    steady = now < last ? 0 : steady + 1;
    last = Math.min(last, now);
  }
}

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!);
};

/** Runs the soak; never throws for a failed call (it is listed in `failures`). */
export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const rooms = new RoomServiceClient(o.server.httpUrl, o.server.apiKey, o.server.apiSecret);
  const sim =
    o.farEnd === undefined
      ? new ExotelSimulator({
          host: '127.0.0.1',
          behaviour: { ringAfterMs: 5, answerAfterMs: 30, play: { toneHz: 440, amplitude: 8000 } },
        })
      : undefined;
  await sim?.start();
  const farEnd = o.farEnd ?? { host: '127.0.0.1', port: sim!.address.port };
  // The simulator keeps every call and request it saw: forget them as calls end, or the
  // soak would measure the simulator's records growing rather than the bridge.
  const prune = (): void => {
    if (sim === undefined) return;
    for (let i = sim.calls.length - 1; i >= 0; i--) {
      const c = sim.calls[i]!;
      if (c.state === 'ended') {
        sim.forget(c);
        sim.calls.splice(i, 1);
      }
    }
    sim.requests.length = 0;
  };
  const agents: { room: Room; stop: () => Promise<void> }[] = [];
  const startAgent = async (roomName: string): Promise<void> => {
    const at = new AccessToken(o.server.apiKey, o.server.apiSecret, { identity: 'soak-agent' });
    at.kind = 'agent';
    at.addGrant({ roomJoin: true, room: roomName, canPublish: true, canSubscribe: true });
    const room = new Room();
    await room.connect(o.server.url, await at.toJwt(), { autoSubscribe: false, dynacast: false });
    const tone = await publishTone(room, 1000, 'agent-voice');
    agents.push({ room, stop: () => tone.stop() });
  };
  const exotel = {
    sipHost: farEnd.host,
    sipPort: farEnd.port,
    customerIp: '127.0.0.1',
    customerSipPort: 0,
    callerId: '08044319240',
    fromDomain: 'soak.sip.exotel.com',
  };
  const oneCall = async (
    roomName: string,
    phoneNumber: string,
    holdMs: number,
    allUp?: (ok: boolean) => Promise<void>,
  ): Promise<BridgeEnded> => {
    const call: BridgeCall = runBridge({
      roomName,
      phoneNumber,
      livekit: { url: o.server.url, apiKey: o.server.apiKey, apiSecret: o.server.apiSecret },
      exotel,
      env: {},
      timeouts: { connectMs: 30_000, ringingMs: 30_000 },
      ...(o.directFfi !== undefined ? { directFfi: o.directFfi } : {}),
    });
    let reported = false;
    let teardownDone: boolean;
    try {
      await call.answered;
      await waitFor(() => call.status === 'active', 30_000, 'active');
      // Audio both ways: the phone's RTP reached the room, the agent's tone went out as RTP.
      await waitFor(
        () =>
          (call.stats().livekit?.framesCaptured ?? 0) > 3 &&
          (call.stats().rtp?.outbound?.audioPackets ?? 0) > 3,
        30_000,
        'media both ways',
      ).catch((err: Error) => {
        const st = call.stats();
        throw new Error(
          `${err.message} (framesCaptured ${st.livekit?.framesCaptured ?? 0}, agentTracks ${st.livekit?.agentTracks ?? 0}, RTP in ${st.rtp?.packetsReceived ?? 0}, agent audio out ${st.rtp?.outbound?.audioPackets ?? 0})`,
        );
      });
      reported = true;
      await allUp?.(true); // concurrent calls: wait until every call is up, then hold
      await sleep(holdMs);
    } finally {
      if (!reported) void allUp?.(false);
      // A teardown that never finishes is a failure to report, not a soak that hangs.
      let timer: NodeJS.Timeout | undefined;
      teardownDone = await Promise.race([
        call.hangup().then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 30_000))),
      ]);
      clearTimeout(timer);
    }
    if (!teardownDone) throw new Error(`call ${call.callId} did not finish its teardown within 30 s`);
    return call.ended;
  };

  try {
    // Rooms close once only agents are left in them for a while (LiveKit's departure
    // timeout), so each phase gets fresh rooms, agents first.
    const usedRooms: string[] = [];
    const newRoom = async (prefix: string): Promise<string> => {
      const name = `soak-${prefix}-${Date.now()}-${usedRooms.length}`;
      await rooms.createRoom({ name, emptyTimeout: 60, departureTimeout: 60 });
      await startAgent(name);
      usedRooms.push(name);
      return name;
    };
    const stopAgents = async (): Promise<void> => {
      for (const a of agents.splice(0)) {
        await a.stop();
        await a.room.disconnect();
      }
      for (const name of usedRooms.splice(0)) await rooms.deleteRoom(name).catch(() => undefined);
    };
    // Concurrent calls: rooms of up to 10 calls, one agent each; distinct numbers per call.
    const perRoom = 10;
    const burst = async (
      holdMs: number,
      failures: string[],
      onDone?: () => void,
      onAllUp?: () => Promise<void>,
    ): Promise<number[]> => {
      const roomNames: string[] = [];
      for (let r = 0; r * perRoom < o.concurrent; r++) roomNames.push(await newRoom(`con${r}`));
      const took: number[] = [];
      // A barrier: every call holds until all of them carry media (or failed), so the
      // `concurrent` calls really overlap; starts are staggered 50 ms apart so 100 LiveKit
      // joins do not land in the same instant.
      let arrived = 0;
      let release!: () => void;
      const everyoneUp = new Promise<void>((r) => (release = r));
      const allUp = (): Promise<void> => {
        if (++arrived === o.concurrent) {
          if (onAllUp === undefined) release();
          else void onAllUp().then(release, release);
        }
        return everyoneUp;
      };
      await Promise.all(
        Array.from({ length: o.concurrent }, async (_, i) => {
          await sleep(i * 50);
          const c0 = performance.now();
          try {
            const number = `+9198765${String(10000 + i).padStart(5, '0')}`;
            const ended = await oneCall(roomNames[Math.floor(i / perRoom)]!, number, holdMs, allUp);
            if (ended.reason !== 'host-hangup') failures.push(`call ${i}: ended ${ended.reason}`);
          } catch (err) {
            failures.push(`call ${i}: ${(err as Error).message}`);
          }
          took.push(performance.now() - c0);
          onDone?.();
        }),
      );
      prune();
      await stopAgents();
      return took;
    };
    // Warm-up: one call loads the native runtime; one concurrent burst of the same size
    // puts the allocators' high-water mark into the baseline, so the end figures show what
    // the calls left behind rather than memory malloc keeps for reuse after a peak.
    const warmFailures: string[] = [];
    const warmRoom = await newRoom('warm');
    await oneCall(warmRoom, '+919876500000', 100).catch((err: Error) => warmFailures.push(err.message));
    await stopAgents();
    if (o.concurrent > 0) await burst(200, warmFailures);
    await settle();
    const start = processFigures();

    const seqRoom = await newRoom('seq');
    const seqFailures: string[] = [];
    const setup: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < o.sequential; i++) {
      const c0 = performance.now();
      try {
        const ended = await oneCall(seqRoom, '+919876500001', o.holdMs?.sequential ?? 100);
        if (ended.reason !== 'host-hangup') seqFailures.push(`call ${i}: ended ${ended.reason}`);
      } catch (err) {
        seqFailures.push(`call ${i}: ${(err as Error).message}`);
      }
      setup.push(performance.now() - c0);
      prune();
      o.onProgress?.('sequential', i + 1, o.sequential);
    }
    const seqSeconds = (Date.now() - t0) / 1000;
    await stopAgents();

    const conFailures: string[] = [];
    let peakRss = 0;
    const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
    const t1 = Date.now();
    let done = 0;
    const conSetup = await burst(
      o.holdMs?.concurrent ?? 2000,
      conFailures,
      () => o.onProgress?.('concurrent', ++done, o.concurrent),
      o.onAllUp,
    );
    clearInterval(rssTimer);
    const conSeconds = (Date.now() - t1) / 1000;

    await settle();
    const end = processFigures();
    return {
      date: new Date().toISOString(),
      sequential: {
        calls: o.sequential,
        failures: seqFailures,
        seconds: Math.round(seqSeconds * 10) / 10,
        setupMsP50: pct(setup, 50),
        setupMsMax: pct(setup, 100),
      },
      concurrent: {
        calls: o.concurrent,
        failures: conFailures,
        seconds: Math.round(conSeconds * 10) / 10,
        peakRssMiB: Math.round((peakRss / 2 ** 20) * 10) / 10,
        setupMsP50: pct(conSetup, 50),
        setupMsMax: pct(conSetup, 100),
      },
      warmUpFailures: warmFailures,
      start,
      end,
      growth: {
        fds: end.fds - start.fds,
        sockets: sockets(end) - sockets(start),
        rssMiB: Math.round((end.rssMiB - start.rssMiB) * 10) / 10,
        heapUsedMiB: Math.round((end.heapUsedMiB - start.heapUsedMiB) * 10) / 10,
      },
      sharedSipClientsLeft: sharedSipClientCount(),
    };
  } finally {
    for (const a of agents.splice(0)) {
      await a.stop().catch(() => undefined);
      await a.room.disconnect().catch(() => undefined);
    }
    await sim?.close();
  }
}

/** The acceptance check: what is wrong with a report (empty when it passes). */
export function soakProblems(
  r: SoakReport,
  margins = { fds: 8, rssMiB: 64, heapUsedMiB: 16 },
  /** RSS the dependency is known to keep for these calls (see `roomCycleControl`), MiB. */
  rssAllowanceMiB = 0,
): string[] {
  const out: string[] = [];
  if (r.warmUpFailures.length > 0) out.push(`${r.warmUpFailures.length} warm-up call(s) failed`);
  if (r.sequential.failures.length > 0) out.push(`${r.sequential.failures.length} sequential call(s) failed`);
  if (r.concurrent.failures.length > 0) out.push(`${r.concurrent.failures.length} concurrent call(s) failed`);
  if (r.growth.fds > margins.fds) out.push(`file descriptors grew by ${r.growth.fds} (> ${margins.fds})`);
  if (r.growth.sockets > 0) out.push(`socket handles grew by ${r.growth.sockets}`);
  const rssLimit = Math.round(margins.rssMiB + rssAllowanceMiB);
  if (r.growth.rssMiB > rssLimit) {
    out.push(
      `RSS grew by ${r.growth.rssMiB} MiB (> ${rssLimit}: ${margins.rssMiB} margin + ${Math.round(rssAllowanceMiB)} rtc-node allowance)`,
    );
  }
  if (r.growth.heapUsedMiB > margins.heapUsedMiB)
    out.push(`heap grew by ${r.growth.heapUsedMiB} MiB (> ${margins.heapUsedMiB})`);
  if (r.sharedSipClientsLeft !== 0) out.push(`${r.sharedSipClientsLeft} shared SIP client(s) left open`);
  return out;
}

export interface RoomCycleControl {
  cycles: number;
  start: ProcessFigures;
  end: ProcessFigures;
  /** RSS growth per bare room cycle, MiB. */
  rssPerCycleMiB: number;
}

/**
 * The control for the RSS check: `cycles` bare `@livekit/rtc-node` rooms — connect,
 * publish an 8 kHz track, send ten frames, unpublish, disconnect — with no bridge code at
 * all. rtc-node 1.1.0 keeps about half a MiB of native memory per room cycle here (heap,
 * handles and file descriptors stay flat), so a bridge call, which is one such room,
 * cannot give back more; the soak compares the bridge's growth per call with this.
 */
export async function roomCycleControl(server: SoakServer, cycles: number): Promise<RoomCycleControl> {
  const name = `soak-control-${Date.now()}`;
  const rooms = new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
  await rooms.createRoom({ name, emptyTimeout: 60, departureTimeout: 60 });
  const one = async (): Promise<void> => {
    const at = new AccessToken(server.apiKey, server.apiSecret, { identity: 'control' });
    at.addGrant({ roomJoin: true, room: name, canPublish: true, canSubscribe: true });
    const room = new Room();
    await room.connect(server.url, await at.toJwt(), { autoSubscribe: false, dynacast: false });
    const tone = await publishTone(room, 440, 'control');
    await sleep(200);
    await tone.stop();
    await room.disconnect();
  };
  try {
    await one();
    await settle();
    const start = processFigures();
    for (let i = 0; i < cycles; i++) await one();
    await settle();
    const end = processFigures();
    return {
      cycles,
      start,
      end,
      rssPerCycleMiB: Math.round(((end.rssMiB - start.rssMiB) / Math.max(1, cycles)) * 1000) / 1000,
    };
  } finally {
    await rooms.deleteRoom(name).catch(() => undefined);
  }
}
