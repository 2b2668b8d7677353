/**
 * The parent side of test/harness/inbound-worker.ts: starts bridge worker processes (each
 * under the process watchdog, so none outlives the run), each with its own RTP port range,
 * waits for their `ready` line and reads their JSON event lines.
 */
import { resolve } from 'node:path';
import type { InboundWorkerEvent } from './inbound-worker.js';
import { spawnManaged, waitUntil, type ManagedProcess } from './process.js';

export type { InboundWorkerEvent } from './inbound-worker.js';

const WORKER = resolve(import.meta.dirname, 'inbound-worker.ts');
const ROOT = resolve(import.meta.dirname, '../..');
/** RTP ports per worker (a call takes two). */
const RTP_PORTS_PER_WORKER = 200;

export interface InboundWorkersOptions {
  /** The test livekit-server (`livekitEnv()`). */
  livekit: { url: string; apiKey: string; apiSecret: string };
  /** The SIP proxy in front of the workers (Kamailio): the workers' trunk, and trusted. */
  sipHost: string;
  sipPort: number;
  /** Longest drain after SIGTERM (default 30000 ms). */
  drainTimeoutMs?: number;
  /** Retry-After of the 503 while draining (default 5 s). */
  drainRetryAfterSec?: number;
  /** Longest wait for each worker's `ready` line (default 30000 ms). */
  readyTimeoutMs?: number;
}

export interface InboundWorker {
  readonly name: string;
  readonly process: ManagedProcess;
  /** Its SIP port (TCP on 127.0.0.1): the dispatcher destination. */
  readonly port: number;
  readonly rtpPortRange: [number, number];
  /** Every event line so far, in order. */
  events(): InboundWorkerEvent[];
  /** Events of one kind so far. */
  eventsOf<K extends InboundWorkerEvent['event']>(kind: K): Extract<InboundWorkerEvent, { event: K }>[];
  /** Whether the worker took the call with this SIP Call-ID (a `call` line). */
  took(sipCallId: string): boolean;
  /** SIGTERM to the worker itself (it drains, then exits 0). */
  terminate(): void;
  /** SIGKILL to the worker itself (a crash). */
  kill(): void;
  /** Resolves once it exited: `code` is the worker's exit status (137 after SIGKILL). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Ends it: SIGTERM, SIGKILL after `graceMs`; then its watchdog. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

function parseLines(out: string): InboundWorkerEvent[] {
  const events: InboundWorkerEvent[] = [];
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue; // an incomplete last line: read again later
    }
    // @livekit/rtc-node logs JSON (pino) to stdout too: only lines with an `event` are ours.
    if (typeof (parsed as { event?: unknown }).event === 'string') events.push(parsed as InboundWorkerEvent);
  }
  return events;
}

function startOne(
  name: string,
  opts: InboundWorkersOptions,
  rtpPortRange: [number, number],
): Omit<InboundWorker, 'port'> {
  const args = [
    '--import',
    'tsx',
    WORKER,
    '--sip-host',
    opts.sipHost,
    '--sip-port',
    String(opts.sipPort),
    '--customer-port',
    '0',
    '--rtp-range',
    `${rtpPortRange[0]}-${rtpPortRange[1]}`,
    '--allow',
    opts.sipHost,
    '--drain-timeout-ms',
    String(opts.drainTimeoutMs ?? 30_000),
    '--drain-retry-after',
    String(opts.drainRetryAfterSec ?? 5),
  ];
  const proc = spawnManaged(name, process.execPath, args, {
    cwd: ROOT,
    env: {
      LIVEKIT_URL: opts.livekit.url,
      LIVEKIT_API_KEY: opts.livekit.apiKey,
      LIVEKIT_API_SECRET: opts.livekit.apiSecret,
    },
    maxOutput: 4 << 20,
  });
  const events = (): InboundWorkerEvent[] => parseLines(proc.stdout());
  const eventsOf = <K extends InboundWorkerEvent['event']>(kind: K) =>
    events().filter((e): e is Extract<InboundWorkerEvent, { event: K }> => e.event === kind);
  let stopping: Promise<void> | undefined;
  return {
    name,
    process: proc,
    rtpPortRange,
    events,
    eventsOf,
    took: (id) => eventsOf('call').some((c) => c.sipCallId === id),
    terminate: () => proc.signalPeer('SIGTERM'),
    kill: () => proc.signalPeer('SIGKILL'),
    exited: proc.exited,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (proc.child.exitCode === null && proc.child.signalCode === null) {
          proc.signalPeer('SIGTERM');
          const timer = setTimeout(() => proc.signalPeer('SIGKILL'), graceMs);
          await proc.exited;
          clearTimeout(timer);
        }
        await proc.stop(1000);
      })();
      return stopping;
    },
  };
}

/**
 * Starts `n` workers at once, each on a free SIP port and its own RTP range, and resolves
 * once all printed `ready`. On a failure every worker started is stopped.
 */
export async function startInboundWorkers(n: number, opts: InboundWorkersOptions): Promise<InboundWorker[]> {
  // Non-overlapping ranges, away from the ranges other tests pick at random (20000–40000).
  const base = 42_000 + 2 * Math.floor(Math.random() * 5000);
  const started = Array.from({ length: n }, (_, i) =>
    startOne(`inbound-worker-${i + 1}`, opts, [
      base + i * RTP_PORTS_PER_WORKER,
      base + (i + 1) * RTP_PORTS_PER_WORKER - 1,
    ]),
  );
  try {
    return await Promise.all(
      started.map(async (w) => {
        await waitUntil(
          w.name,
          () => Promise.resolve(w.eventsOf('ready').length > 0 || w.eventsOf('error').length > 0),
          { timeoutMs: opts.readyTimeoutMs ?? 30_000, intervalMs: 50, proc: w.process },
        );
        const error = w.eventsOf('error')[0];
        if (error !== undefined) throw new Error(`${w.name}: ${error.message}\n${w.process.stderr()}`);
        return { ...w, port: w.eventsOf('ready')[0]!.port };
      }),
    );
  } catch (err) {
    await Promise.all(started.map((w) => w.stop(1000)));
    throw err;
  }
}
