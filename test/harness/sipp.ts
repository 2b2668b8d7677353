/**
 * SIPp (Debian `sip-tester`) as a real SIP peer. Each run gets its own temporary working
 * directory (SIPp writes logs there) and free loopback ports. Exit code 0 = every call
 * succeeded, 1 = at least one failed, 99 = no call processed.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  freeDualPort,
  freeRtpPort,
  spawnManaged,
  tcpFree,
  udpFree,
  waitUntil,
  type ManagedProcess,
} from './process.js';
import { requirePeer } from './peers.js';

export const SCENARIO_DIR = resolve(import.meta.dirname, '../fixtures/sipp');

export interface SippOptions {
  /** Scenario file name under test/fixtures/sipp, or an absolute path. */
  scenario: string;
  transport?: 'tcp' | 'udp';
  /** SIP port (default: a free one). */
  port?: number;
  /** Media port (default: a free even one). */
  mediaPort?: number;
  /** Echo every RTP packet back to its sender (`-rtp_echo`). */
  rtpEcho?: boolean;
  /** Number of calls (-m), default 1. */
  calls?: number;
  /** Overall timeout in seconds (-timeout, with -timeout_error), default 20. */
  timeoutS?: number;
  /** Act as client towards this `host:port` (UAC scenarios). */
  remote?: string;
  /** Extra arguments, e.g. ['-set', 'name', 'value']. */
  extraArgs?: string[];
  /** Files to place in the working directory (e.g. raw G.711 audio for rtp_stream). */
  files?: Record<string, Uint8Array | string>;
}

export interface SippRun {
  port: number;
  mediaPort: number;
  transport: 'tcp' | 'udp';
  dir: string;
  process: ManagedProcess;
  /** Resolves with SIPp's exit code once it has exited. */
  done(): Promise<number | null>;
  /** Everything SIPp traced as sent/received (`-trace_msg`), for asserting on the wire. */
  messages(): Promise<string>;
  /** SIPp's error log (`-trace_err`). */
  errors(): Promise<string>;
  stop(): Promise<void>;
}

export async function startSipp(opts: SippOptions): Promise<SippRun> {
  const bin = requirePeer('sipp');
  const transport = opts.transport ?? 'tcp';
  const port = opts.port ?? (await freeDualPort());
  const mediaPort = opts.mediaPort ?? (await freeRtpPort());
  const dir = await mkdtemp(join(tmpdir(), 'sipp-'));
  if (opts.files) {
    const { writeFile } = await import('node:fs/promises');
    for (const [name, data] of Object.entries(opts.files)) await writeFile(join(dir, name), data);
  }
  const scenario = opts.scenario.startsWith('/') ? opts.scenario : join(SCENARIO_DIR, opts.scenario);
  const args = [
    ...(opts.remote ? [opts.remote] : []),
    '-sf',
    scenario,
    '-t',
    transport === 'tcp' ? 't1' : 'u1',
    '-i',
    '127.0.0.1',
    '-p',
    String(port),
    '-mi',
    '127.0.0.1',
    '-mp',
    String(mediaPort),
    '-m',
    String(opts.calls ?? 1),
    '-nostdin',
    '-timeout',
    `${opts.timeoutS ?? 20}s`,
    '-timeout_error',
    '-trace_msg',
    '-message_file',
    join(dir, 'messages.log'),
    '-trace_err',
    '-error_file',
    join(dir, 'errors.log'),
    ...(opts.rtpEcho ? ['-rtp_echo'] : []),
    ...(opts.extraArgs ?? []),
  ];
  const proc = spawnManaged('sipp', bin, args, { cwd: dir });
  if (!opts.remote) {
    // Ready once SIPp holds its SIP port (a bind probe fails with EADDRINUSE).
    await waitUntil('sipp', async () => !(transport === 'tcp' ? await tcpFree(port) : await udpFree(port)), {
      timeoutMs: 10_000,
      intervalMs: 25,
      proc,
    });
  }
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch {
      return '';
    }
  };
  return {
    port,
    mediaPort,
    transport,
    dir,
    process: proc,
    done: async () => (await proc.exited).code,
    messages: () => read('messages.log'),
    errors: () => read('errors.log'),
    async stop() {
      await proc.stop();
      // keep logs of failing runs for a human: only remove when SIPp succeeded
      const { code } = await proc.exited;
      if (code === 0) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Lists the scenario files shipped in the repository. */
export async function listScenarios(): Promise<string[]> {
  return (await readdir(SCENARIO_DIR)).filter((f) => f.endsWith('.xml'));
}

/** Options of {@link startSippUac}: SIPp playing Exotel's trunk calling the customer. */
export interface SippUacOptions {
  /** Scenario under test/fixtures/sipp (default `inbound-uac.xml`: SIPp hangs up; `inbound-uac-callee-bye.xml`: it waits for our BYE). */
  scenario?: string;
  /** The customer's SIP listener the INVITE goes to. */
  target: { host: string; port: number };
  transport?: 'tcp' | 'udp';
  /** SIPp's own SIP port (default: a free one). Give it when the customer must know it first (e.g. as its trunk port). */
  port?: number;
  /** SIPp's media port (default: a free even one). */
  mediaPort?: number;
  /** Echo every RTP packet back to its sender (`-rtp_echo`). */
  rtpEcho?: boolean;
  /** Number of calls (-m), default 1. */
  calls?: number;
  /** Overall timeout in seconds, default 20. */
  timeoutS?: number;
  /** The Exophone dialled: Request-URI and To user (`-s`), default `08044319240`. */
  to?: string;
  /** The caller: From and Contact user (`-set caller`), default `+919876543210`. */
  from?: string;
  /** How long the call stays up before SIPp's BYE (`-d`, the scenario's `<pause/>`), default 500 ms. */
  holdMs?: number;
  /** Extra arguments. */
  extraArgs?: string[];
}

/**
 * Starts SIPp as a UAC calling `target` (an inbound call to the customer, as Exotel's
 * trunk places it). Same lifetime, watchdog and log handling as {@link startSipp}: SIPp
 * exits by itself once its calls are done (`done()` gives the exit code, 0 = every call
 * succeeded), `stop()` ends it early; a missing SIPp fails the test with how to install it.
 */
export function startSippUac(opts: SippUacOptions): Promise<SippRun> {
  return startSipp({
    scenario: opts.scenario ?? 'inbound-uac.xml',
    remote: `${opts.target.host}:${opts.target.port}`,
    ...(opts.transport !== undefined ? { transport: opts.transport } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.mediaPort !== undefined ? { mediaPort: opts.mediaPort } : {}),
    ...(opts.rtpEcho !== undefined ? { rtpEcho: opts.rtpEcho } : {}),
    ...(opts.calls !== undefined ? { calls: opts.calls } : {}),
    ...(opts.timeoutS !== undefined ? { timeoutS: opts.timeoutS } : {}),
    extraArgs: [
      '-s',
      opts.to ?? '08044319240',
      '-set',
      'caller',
      opts.from ?? '+919876543210',
      '-d',
      String(opts.holdMs ?? 500),
      ...(opts.extraArgs ?? []),
    ],
  });
}
