/**
 * The servers of the load benchmark, all on loopback and all under the harness's watchdog
 * (they die with this process): Redis, a livekit-server that uses it (LiveKit SIP talks to
 * the server through Redis), and livekit-sip itself.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnManaged, waitUntil, type ManagedProcess } from '../../test/harness/process.js';
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore -- plain .mjs script shared with the CLI
import { ensureLivekitServer } from '../../scripts/build-livekit-server.mjs';
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore -- plain .mjs script shared with the CLI
import { ensureLivekitSip, LIVEKIT_SIP_VERSION } from '../../scripts/build-livekit-sip.mjs';

export const API_KEY = 'devkey';
export const API_SECRET = 'secret';
export const SIP_VERSION = LIVEKIT_SIP_VERSION as string;

export interface Server {
  proc: ManagedProcess;
  stop(): Promise<void>;
}

export interface LiveKitServer extends Server {
  url: string;
  httpUrl: string;
}

export interface LiveKitSip extends Server {
  sipPort: number;
  /** The pid of livekit-sip itself (not its watchdog), for /proc readings. */
  pid: number;
}

async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function startRedis(): Promise<Server & { address: string }> {
  const port = await freePort();
  const proc = spawnManaged('redis-server', 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  await waitUntil('redis-server', async () => proc.stdout().includes('Ready to accept connections'), {
    timeoutMs: 10_000,
    proc,
  });
  return { proc, address: `127.0.0.1:${port}`, stop: () => proc.stop() };
}

export async function startLiveKitServer(redisAddress: string): Promise<LiveKitServer> {
  const bin = (ensureLivekitServer as (o: { quiet: boolean }) => string)({ quiet: true });
  const port = await freePort();
  const tcpPort = await freePort();
  const udpPort = await freePort();
  const dir = await tempDir('lk-load-');
  const config = join(dir, 'livekit.yaml');
  await writeFile(
    config,
    [
      `port: ${port}`,
      'bind_addresses: ["127.0.0.1"]',
      'rtc:',
      `  tcp_port: ${tcpPort}`,
      `  udp_port: ${udpPort}`,
      '  node_ip: 127.0.0.1',
      '  use_external_ip: false',
      '  enable_loopback_candidate: true',
      'redis:',
      `  address: ${redisAddress}`,
      'keys:',
      `  ${API_KEY}: ${API_SECRET}`,
      'logging:',
      '  level: warn',
      '',
    ].join('\n'),
  );
  const proc = spawnManaged('livekit-server', bin, ['--config', config], { cwd: dir });
  const httpUrl = `http://127.0.0.1:${port}`;
  await waitUntil(
    'livekit-server',
    async () => {
      try {
        const res = await fetch(`${httpUrl}/`, { signal: AbortSignal.timeout(500) });
        return res.ok;
      } catch {
        return false;
      }
    },
    { timeoutMs: 30_000, intervalMs: 100, proc },
  );
  return {
    proc,
    url: `ws://127.0.0.1:${port}`,
    httpUrl,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Builds (or finds) livekit-sip; returns its path or throws with the reason it cannot be had. */
export function livekitSipBinary(): string {
  return (ensureLivekitSip as (o: { quiet: boolean }) => string)({ quiet: false });
}

/**
 * Starts livekit-sip on free ports. A probed port can be taken before livekit-sip binds it
 * (an outgoing connection picks an ephemeral port; seen once after a long run: "listen tcp
 * :43445: bind: address already in use"): that is retried on fresh ports, twice.
 */
export async function startLiveKitSip(
  bin: string,
  opts: { redisAddress: string; wsUrl: string },
): Promise<LiveKitSip> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLiveKitSipOnce(bin, opts);
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('address already in use')) throw err;
    }
  }
}

async function startLiveKitSipOnce(
  bin: string,
  opts: { redisAddress: string; wsUrl: string },
): Promise<LiveKitSip> {
  const sipPort = await freePort();
  const healthPort = await freePort();
  const dir = await tempDir('lk-sip-load-');
  const config = join(dir, 'sip.yaml');
  await writeFile(
    config,
    [
      `api_key: ${API_KEY}`,
      `api_secret: ${API_SECRET}`,
      `ws_url: ${opts.wsUrl}`,
      'redis:',
      `  address: ${opts.redisAddress}`,
      `sip_port: ${sipPort}`,
      `health_port: ${healthPort}`,
      'rtp_port:',
      '  start: 40000',
      '  end: 49999',
      'use_external_ip: false',
      'nat_1_to_1_ip: 127.0.0.1',
      'listen_ip: 127.0.0.1',
      // livekit-sip refuses new calls ("cpu exhausted") while the whole machine is above
      // this share of CPU (default 0.9); here the machine is shared with the load generator
      // (agents, far end, livekit-server), so admission control is turned off for both systems
      'max_cpu_utilization: 1.0',
      'logging:',
      '  level: warn',
      '',
    ].join('\n'),
  );
  const proc = spawnManaged('livekit-sip', bin, ['--config', config], { cwd: dir });
  await waitUntil(
    'livekit-sip',
    async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${healthPort}/`, { signal: AbortSignal.timeout(500) });
        return res.ok;
      } catch {
        return false;
      }
    },
    { timeoutMs: 30_000, intervalMs: 200, proc },
  );
  const pid = childPid(proc.child.pid ?? -1);
  if (pid < 0) throw new Error('cannot find the livekit-sip process under its watchdog');
  return {
    proc,
    sipPort,
    pid,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The first child of `pid` (the watchdog runs the peer as its only child). */
export function childPid(pid: number): number {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    return kids[0] ? Number(kids[0]) : -1;
  } catch {
    return -1;
  }
}

/** CPU time (user, system; ms) and RSS (bytes) of a process, from /proc. */
export function procUsage(pid: number): { userMs: number; systemMs: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the command name (which may contain spaces) start at ") "
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const hz = 100; // USER_HZ on Linux
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { userMs: (utime * 1000) / hz, systemMs: (stime * 1000) / hz, rssBytes: rssKb * 1024 };
}

/** Busy and total jiffies of the whole machine (from /proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}
