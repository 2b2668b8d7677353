/**
 * The soak run shared by `npm run soak` (1 000 sequential + 100 concurrent calls) and its
 * CI-sized version in the integration suite (50 + 10): real calls through a real
 * livekit-server and the Exotel simulator, each with an agent in the room speaking a tone,
 * each answered, carried until audio flows both ways, and hung up. File descriptors,
 * Node's active handles, RSS and heap are read after a warm-up call and again at the end.
 */
import { Room } from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { runBridge, type BridgeCall, type BridgeEnded } from '../../src/index.js';
import { sharedSipClientCount } from '../../src/sip-client-pool.js';
import { ExotelSimulator } from '../../src/testing/index.js';
import { AGENT_HZ, AgentEars, PHONE_HZ, farEndHeard } from './soak-audio.js';
import {
  canForceGc,
  collectAndRead,
  heapFit,
  processFigures,
  registrationsLeft,
  settle,
  sleep,
  sockets,
  type BatchPoint,
  type ProcessFigures,
} from './soak-memory.js';
import { publishTone } from './tone.js';

export type { ProcessFigures } from './soak-memory.js';

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
   * The far end to call; default: a simulator started in this process. When the simulator
   * runs in another process (`simulator` absent), that process checks what each call's
   * phone heard; otherwise this one does, before hanging up.
   */
  farEnd?: { host: string; port: number; simulator?: ExotelSimulator };
  /** Sequential calls between two readings of heap, timers and pacer (default 10). */
  batch?: number;
  /**
   * In the measured concurrent burst, called once every call of this process carries
   * media; the calls start their hold when it resolves (a barrier across processes).
   */
  onAllUp?: () => Promise<void>;
  /** Passed to `runBridge` (false: rtc-node's own per-frame path; scripts/ffi-diag.ts). */
  directFfi?: boolean;
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
  growth: { fds: number; threads: number; sockets: number; rssMiB: number; heapUsedMiB: number };
  sharedSipClientsLeft: number;
  /**
   * Measured calls (sequential and concurrent) in which the agent heard the phone's 440 Hz,
   * and in which the phone heard the agent's 1 kHz (`phoneChecked` false: the far end is in
   * another process, which counts it).
   */
  audio: { calls: number; agentHeardPhone: number; phoneHeardAgent: number; phoneChecked: boolean };
  /** Readings after collection at the start and after every batch of sequential calls. */
  batches: BatchPoint[];
  /**
   * Fit of heap data (heapUsed without compiled code, plus arrayBuffers) over the `batches`
   * from the second batch on: bytes per call, and the largest residual.
   */
  heapPerCall: { bytesPerCall: number; residualMaxBytes: number; forcedGc: boolean };
  /** Timers, pacer registrations or sockets still above the start after a batch (10 s allowed). */
  registrationsLeft: string[];
  /**
   * Set when the soak stopped before its planned calls: a batch left something registered
   * (the verdict is in, and every further call would only add to it and to the run time).
   */
  stoppedEarly?: string;
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
          behaviour: { ringAfterMs: 5, answerAfterMs: 30, play: { toneHz: PHONE_HZ, amplitude: 8000 } },
        })
      : undefined;
  await sim?.start();
  const farEnd = o.farEnd ?? { host: '127.0.0.1', port: sim!.address.port };
  // the simulator whose calls this process can inspect (what each phone heard)
  const phone = o.farEnd === undefined ? sim : o.farEnd.simulator;
  const audio = { calls: 0, agentHeardPhone: 0, phoneHeardAgent: 0, phoneChecked: phone !== undefined };
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
  const ears = new Map<string, AgentEars>();
  // The agent subscribes to the phones (as an agent does) and speaks AGENT_HZ.
  const startAgent = async (roomName: string): Promise<void> => {
    const at = new AccessToken(o.server.apiKey, o.server.apiSecret, { identity: 'soak-agent' });
    at.kind = 'agent';
    at.addGrant({ roomJoin: true, room: roomName, canPublish: true, canSubscribe: true });
    const room = new Room();
    ears.set(roomName, new AgentEars(room));
    await room.connect(o.server.url, await at.toJwt(), { autoSubscribe: true, dynacast: false });
    const tone = await publishTone(room, AGENT_HZ, 'agent-voice');
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
    // before any await: the agent's handler must be there before the phone's track is
    const ear = ears.get(roomName)!.listenFor(call.identity);
    audio.calls++;
    let reported = false;
    let teardownDone: boolean;
    try {
      const { sipCallId } = await call.answered;
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
      // What users care about: the agent hears the phone, the phone hears the agent.
      let timer: NodeJS.Timeout | undefined;
      const heard = await Promise.race([
        ear.heardIt.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 15_000))),
      ]);
      clearTimeout(timer);
      if (!heard) {
        throw new Error(
          `the agent did not hear the phone's ${PHONE_HZ} Hz within 15 s (${ear.reading ? `${ear.frames} frames read` : 'no track subscribed'})`,
        );
      }
      audio.agentHeardPhone++;
      if (phone !== undefined) {
        await waitFor(
          () => farEndHeard(phone, sipCallId),
          15_000,
          `the phone to hear the agent's ${AGENT_HZ} Hz`,
        );
        audio.phoneHeardAgent++;
      }
      reported = true;
      await allUp?.(true); // concurrent calls: wait until every call is up, then hold
      await sleep(holdMs);
    } finally {
      ear.stop();
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
      for (const name of usedRooms.splice(0)) {
        ears.delete(name);
        await rooms.deleteRoom(name).catch(() => undefined);
      }
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
    // the calls left behind rather than memory malloc keeps for reuse after a peak; then
    // one batch of sequential calls (below).
    const warmFailures: string[] = [];
    const warmRoom = await newRoom('warm');
    await oneCall(warmRoom, '+919876500000', 100).catch((err: Error) => warmFailures.push(err.message));
    await stopAgents();
    if (o.concurrent > 0) await burst(200, warmFailures);
    // The sequential room and its agent are up before the start figures (what they hold is
    // the harness's, not the calls'), and one batch of sequential calls in it warms up the
    // code paths of a call so that the heap fit does not count compiled code.
    const batch = Math.max(1, o.batch ?? 10);
    const seqRoom = o.sequential > 0 ? await newRoom('seq') : '';
    for (let i = 0; i < Math.min(batch, o.sequential); i++) {
      await oneCall(seqRoom, '+919876500001', 100).catch((err: Error) => warmFailures.push(err.message));
      prune();
    }
    await settle();
    audio.calls = audio.agentHeardPhone = audio.phoneHeardAgent = 0; // count measured calls only
    const start = await collectAndRead();
    // After every batch: collected memory for the per-call fit, and timers, pacer
    // registrations and sockets back where they started (allowed 10 s to get there).
    const batches: BatchPoint[] = [{ calls: 0, figures: start }];
    const leftOver: string[] = [];
    const checkRegistrations = async (label: string): Promise<boolean> => {
      const end = Date.now() + 10_000;
      let left = registrationsLeft(start, processFigures());
      while (left.length > 0 && Date.now() < end) {
        await sleep(100);
        left = registrationsLeft(start, processFigures());
      }
      if (left.length > 0) leftOver.push(`${label}: ${left.join(', ')}`);
      return left.length === 0;
    };
    let stoppedEarly: string | undefined;
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
      if ((i + 1) % batch === 0 || i + 1 === o.sequential) {
        const clean = await checkRegistrations(`after ${i + 1} sequential calls`);
        batches.push({ calls: i + 1, figures: await collectAndRead() });
        if (!clean) {
          stoppedEarly = `after ${i + 1} of ${o.sequential} sequential calls: something was left registered`;
          break;
        }
      }
    }
    const seqSeconds = (Date.now() - t0) / 1000;
    await stopAgents();

    const conFailures: string[] = [];
    let peakRss = 0;
    const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
    const t1 = Date.now();
    let done = 0;
    const conSetup =
      stoppedEarly === undefined
        ? await burst(
            o.holdMs?.concurrent ?? 2000,
            conFailures,
            () => o.onProgress?.('concurrent', ++done, o.concurrent),
            o.onAllUp,
          )
        : [];
    clearInterval(rssTimer);
    const conSeconds = (Date.now() - t1) / 1000;

    if (o.concurrent > 0 && stoppedEarly === undefined)
      await checkRegistrations(`after ${o.concurrent} concurrent calls`);
    await settle();
    const end = await collectAndRead();
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
        threads: end.threads - start.threads,
        sockets: sockets(end) - sockets(start),
        rssMiB: Math.round((end.rssMiB - start.rssMiB) * 10) / 10,
        heapUsedMiB: Math.round((end.heapUsedMiB - start.heapUsedMiB) * 10) / 10,
      },
      sharedSipClientsLeft: sharedSipClientCount(),
      audio,
      batches,
      // the first two batches are left out of the fit: garbage of the warm-up is still being
      // released during them (0.2–0.6 MB lower by then on this machine)
      heapPerCall: { ...heapFit(batches.filter((b) => b.calls >= 2 * batch)), forcedGc: canForceGc },
      registrationsLeft: leftOver,
      ...(stoppedEarly !== undefined ? { stoppedEarly } : {}),
    };
  } finally {
    for (const a of agents.splice(0)) {
      await a.stop().catch(() => undefined);
      await a.room.disconnect().catch(() => undefined);
    }
    await sim?.close();
  }
}

/**
 * The heap growth per sequential call (fitted from the 20th call on) that fails a soak:
 * halfway between the highest clean run (3 952 B here) and a clean run plus a 4 KiB leak
 * per call (7 105 B); docs/reliability.md, "The CI soak", has the runs it was chosen from.
 */
export const HEAP_BYTES_PER_CALL = 5632;

export interface SoakMargins {
  fds: number;
  /** Thread growth start → end allowed (default 0: rtc-node and libuv start theirs in the warm-up). */
  threads?: number;
  /** RSS growth start → end (plus the rtc-node allowance), MiB. */
  rssMiB: number;
  /** heapUsed growth start → end, MiB. */
  heapUsedMiB: number;
  /** Fitted growth of heapUsed + arrayBuffers per sequential call, bytes (needs --expose-gc). */
  heapBytesPerCall?: number;
}

/** The acceptance check: what is wrong with a report (empty when it passes). */
export function soakProblems(
  r: SoakReport,
  margins: SoakMargins = { fds: 8, rssMiB: 64, heapUsedMiB: 16 },
  /** RSS the dependency is known to keep for these calls (see `roomCycleControl`), MiB. */
  rssAllowanceMiB = 0,
): string[] {
  const out: string[] = [];
  if (r.warmUpFailures.length > 0) out.push(`${r.warmUpFailures.length} warm-up call(s) failed`);
  if (r.sequential.failures.length > 0) out.push(`${r.sequential.failures.length} sequential call(s) failed`);
  if (r.concurrent.failures.length > 0) out.push(`${r.concurrent.failures.length} concurrent call(s) failed`);
  if (r.growth.fds > margins.fds) out.push(`file descriptors grew by ${r.growth.fds} (> ${margins.fds})`);
  if (r.growth.threads > (margins.threads ?? 0))
    out.push(`threads grew by ${r.growth.threads} (> ${margins.threads ?? 0})`);
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
  if (r.audio.agentHeardPhone < r.audio.calls)
    out.push(`the agent heard the phone in ${r.audio.agentHeardPhone} of ${r.audio.calls} calls`);
  if (r.audio.phoneChecked && r.audio.phoneHeardAgent < r.audio.calls)
    out.push(`the phone heard the agent in ${r.audio.phoneHeardAgent} of ${r.audio.calls} calls`);
  for (const l of r.registrationsLeft) out.push(`not back to the start ${l}`);
  if (r.stoppedEarly !== undefined) out.push(`stopped ${r.stoppedEarly}`);
  if (margins.heapBytesPerCall !== undefined) {
    if (!r.heapPerCall.forcedGc) out.push('heap per call needs --expose-gc');
    else if (r.heapPerCall.bytesPerCall > margins.heapBytesPerCall)
      out.push(
        `heap grew by ${r.heapPerCall.bytesPerCall} B per call over ${r.batches.at(-1)?.calls ?? 0} sequential calls (> ${margins.heapBytesPerCall})`,
      );
  }
  return out;
}
