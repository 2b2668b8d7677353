/**
 * One bridge process for inbound calls, as it runs behind Kamailio (docs/deploy.md):
 * `listenForCalls()` with `acceptInboundCalls()` (one room and one agent dispatch per
 * call, the room deleted when the call ends), the trunk being the SIP proxy in front and
 * the proxy's address trusted through `allowFrom`.
 *
 * Run with tsx (see test/harness/inbound-workers.ts, which starts several):
 *
 *   node --import tsx test/harness/inbound-worker.ts --sip-host 127.0.0.1 --sip-port 5070 \
 *     --customer-port 0 --rtp-range 30000-30199 [--allow 127.0.0.1] [--drain-timeout-ms 30000] \
 *     [--drain-retry-after 5] [--max-calls 50]
 *
 * LiveKit comes from LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET (never argv: the
 * secret would show in `ps`). Prints one JSON line per event on stdout:
 *
 *   {"event":"ready","port":…,"pid":…}           listening (port: the SIP port, for dispatcher.list)
 *   {"event":"call","room":…,"sipCallId":…}      a call was taken; its bridge is joining the room
 *   {"event":"refused","sipCallId":…,"status":…} an INVITE was refused (503 while draining…)
 *   {"event":"ended","room":…,"sipCallId":…,"reason":…}  a call ended and its room was deleted
 *   {"event":"draining","activeCalls":…}         SIGTERM came: new INVITEs get 503 + Retry-After
 *   {"event":"closed"}                           every call done; the process exits 0 next
 *
 * Logs (JSON, info and up; INBOUND_WORKER_LOG=debug for more) go to stderr; @livekit/rtc-node
 * logs JSON to stdout too, so readers keep only lines with an `event`.
 */
import { dispose } from '@livekit/rtc-node';
import { parseArgs } from 'node:util';
import {
  acceptInboundCalls,
  listenForCalls,
  type AcceptDecision,
  type InboundListener,
  type Logger,
  type LogFn,
} from '../../src/index.js';

export type InboundWorkerEvent =
  | { event: 'ready'; port: number; pid: number }
  | { event: 'call'; room: string; sipCallId: string; from: string }
  | { event: 'refused'; sipCallId: string; status: number; why: string }
  | { event: 'ended'; room: string; sipCallId: string; reason: string }
  | { event: 'draining'; activeCalls: number }
  | { event: 'closed' }
  | { event: 'error'; message: string };

function emit(e: InboundWorkerEvent): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function stderrLogger(min: (typeof LEVELS)[number], bindings: Record<string, unknown> = {}): Logger {
  const make =
    (level: (typeof LEVELS)[number]): LogFn =>
    (a: string | Record<string, unknown>, b?: string) => {
      if (LEVELS.indexOf(level) < LEVELS.indexOf(min)) return;
      const [obj, msg] = typeof a === 'string' ? [{}, a] : [a, b ?? ''];
      process.stderr.write(`${JSON.stringify({ t: Date.now(), level, msg, ...bindings, ...obj })}\n`);
    };
  return {
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    child: (more) => stderrLogger(min, { ...bindings, ...more }),
  };
}

function fail(message: string): never {
  emit({ event: 'error', message });
  process.exit(1);
}

const { values: args } = parseArgs({
  options: {
    'sip-host': { type: 'string' },
    'sip-port': { type: 'string' },
    'customer-port': { type: 'string', default: '0' },
    'rtp-range': { type: 'string' },
    allow: { type: 'string', default: '127.0.0.1' },
    'drain-timeout-ms': { type: 'string', default: '30000' },
    'drain-retry-after': { type: 'string', default: '5' },
    'max-calls': { type: 'string', default: '50' },
  },
  strict: true,
});

const int = (name: keyof typeof args): number => {
  const raw = args[name];
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 0) fail(`--${name} must be an integer`);
  return n;
};

const sipHost = args['sip-host'] ?? fail('--sip-host is required (the SIP proxy in front)');
const sipPort = int('sip-port');
const range = /^(\d+)-(\d+)$/.exec(args['rtp-range'] ?? '') ?? fail('--rtp-range must look like 30000-30199');
const rtpPortRange: [number, number] = [Number(range[1]), Number(range[2])];
const allowFrom = (args.allow ?? '').split(',').filter((a) => a !== '');
const drainTimeoutMs = int('drain-timeout-ms');
const livekit = {
  url: process.env.LIVEKIT_URL ?? fail('LIVEKIT_URL is required'),
  apiKey: process.env.LIVEKIT_API_KEY ?? fail('LIVEKIT_API_KEY is required'),
  apiSecret: process.env.LIVEKIT_API_SECRET ?? fail('LIVEKIT_API_SECRET is required'),
};
const level = (process.env.INBOUND_WORKER_LOG ?? 'info') as (typeof LEVELS)[number];
const logger = stderrLogger(LEVELS.includes(level) ? level : 'info', { worker: process.pid });

// Orphaned (the parent and its watchdog are gone): never outlive the test run.
const parentAtStart = process.ppid;
setInterval(() => {
  if (process.ppid !== parentAtStart) process.exit(2);
}, 1000).unref();

const accept = acceptInboundCalls({
  agentName: 'kamailio-test-agent',
  agentType: 'support',
  livekit,
  env: {},
});
/** Room → SIP Call-ID of the call taken into it. */
const sipCallIdOf = new Map<string, string>();
/** onEnded hooks still running (the room being deleted): waited for before exiting. */
const ending = new Set<Promise<void>>();

let listener: InboundListener;
try {
  listener = await listenForCalls({
    livekit,
    exotel: {
      sipHost,
      sipPort,
      transport: 'tcp',
      customerIp: '127.0.0.1',
      customerSipPort: int('customer-port'),
      mediaIp: '127.0.0.1',
      rtpPortRange,
    },
    env: {},
    logger,
    allowFrom,
    maxConcurrentCalls: int('max-calls'),
    drainRetryAfterSec: int('drain-retry-after'),
    statsLogIntervalMs: 0,
    onCall: async (call) => {
      const d = await accept(call);
      if ('reject' in d) return d;
      sipCallIdOf.set(d.roomName, call.sipCallId);
      const deleteRoom = d.onEnded;
      const decision: AcceptDecision = {
        ...d,
        onEnded: (ended) => {
          const done = (async () => {
            try {
              await deleteRoom?.(ended);
            } finally {
              emit({ event: 'ended', room: d.roomName, sipCallId: call.sipCallId, reason: ended.reason });
            }
          })();
          ending.add(done);
          void done.finally(() => ending.delete(done));
          return done;
        },
      };
      return decision;
    },
  });
} catch (err) {
  fail(`listenForCalls failed: ${String(err)}`);
}

listener.on('call', (bridge) =>
  emit({
    event: 'call',
    room: bridge.roomName,
    sipCallId: sipCallIdOf.get(bridge.roomName) ?? '',
    from: bridge.phoneNumber,
  }),
);
listener.on('refused', ({ sipCallId, status, why }) => emit({ event: 'refused', sipCallId, status, why }));

let stopping = false;
async function drainAndExit(): Promise<void> {
  if (stopping) return;
  stopping = true;
  emit({ event: 'draining', activeCalls: listener.activeCalls });
  try {
    await listener.close({ drain: true, drainTimeoutMs });
    // close() resolves once the calls ended; their onEnded hooks (room deletion) may still run.
    while (ending.size > 0) await Promise.allSettled([...ending]);
    emit({ event: 'closed' });
    await dispose();
  } catch (err) {
    fail(`closing failed: ${String(err)}`);
  }
  process.exit(0);
}
process.on('SIGTERM', () => void drainAndExit());
process.on('SIGINT', () => void drainAndExit());

emit({ event: 'ready', port: listener.port, pid: process.pid });
