/**
 * Kamailio (Debian `kamailio` 5.6) as a real SIP load balancer in front of SIP peers.
 * It runs the shipped example config, examples/deploy/kamailio.cfg, with only the
 * values of its `#!trydef` site settings replaced (listen address and port, dispatcher
 * list, allow-list, probe timing), in the foreground under the process watchdog, so it
 * never outlives the test run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freeDualPort, spawnManaged, waitUntil, type ManagedProcess } from './process.js';

/** The config shipped as an example: what the tests run. */
export const KAMAILIO_CFG = resolve(import.meta.dirname, '../../examples/deploy/kamailio.cfg');

const INSTALL = 'apt-get install -y --no-install-recommends kamailio';

/** A dispatcher destination (one bridge process, or a peer standing in for one). */
export interface KamailioBackend {
  host: string;
  port: number;
  transport: 'tcp' | 'udp';
}

export interface KamailioOptions {
  /** Dispatcher set 1, in this order. */
  backends: readonly KamailioBackend[];
  /** OPTIONS probe interval in seconds (PROBE_INTERVAL). Default 1. */
  probeIntervalSec?: number;
  /** Failed probes before a backend is taken out (PROBE_DOWN). Default 1. */
  probeDown?: number;
  /** No provisional reply within this long moves a call on / fails a probe (FR_TIMER_MS). Default 1000. */
  frTimerMs?: number;
  /** Addresses allowed to start calls (TRUNK_ALLOW). Default `127.0.0.0/8`. */
  trunkAllow?: string;
  /** Port for both TCP and UDP on 127.0.0.1. Default: a free one. */
  port?: number;
  /** Longest wait for Kamailio to accept TCP connections. Default 15000 ms. */
  readyTimeoutMs?: number;
}

export interface KamailioRun {
  host: string;
  port: number;
  dir: string;
  process: ManagedProcess;
  /** Kamailio's log so far (it logs to stderr with `-E`). */
  log(): string;
  /** Terminates Kamailio (TERM, then KILL) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** The kamailio binary; a missing one is a failure that says how to install it, never a skip. */
export function requireKamailio(): string {
  const res = spawnSync('bash', ['-c', 'command -v kamailio'], { encoding: 'utf8' });
  const path = res.stdout.trim();
  if (res.status !== 0 || path === '') {
    throw new Error(
      `integration peer "kamailio" is not installed; install it with: ${INSTALL} (npm run setup does this)`,
    );
  }
  return path;
}

/**
 * The shipped config with the given `#!trydef` values replaced. Every name must be a
 * site setting the file defines: a renamed setting fails here rather than silently
 * keeping its production value.
 */
export function templateConfig(cfg: string, values: Readonly<Record<string, string | number>>): string {
  let out = cfg;
  for (const [name, value] of Object.entries(values)) {
    const re = new RegExp(`^#!trydef ${name} .*$`, 'm');
    if (!re.test(out)) throw new Error(`kamailio.cfg has no "#!trydef ${name}" line`);
    out = out.replace(re, () => `#!trydef ${name} ${String(value)}`);
  }
  return out;
}

/** The dispatcher.list line of each backend, all in set 1. */
export function dispatcherList(backends: readonly KamailioBackend[]): string {
  return backends.map((b) => `1 sip:${b.host}:${b.port};transport=${b.transport}\n`).join('');
}

const accepts = (host: string, port: number): Promise<boolean> =>
  new Promise((done) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      done(true);
    });
    s.once('error', () => done(false));
  });

export async function startKamailio(opts: KamailioOptions): Promise<KamailioRun> {
  const bin = requireKamailio();
  const host = '127.0.0.1';
  for (const b of opts.backends) {
    if (!b.host.startsWith('127.')) throw new Error(`backend ${b.host}: loopback only in tests`);
  }
  const port = opts.port ?? (await freeDualPort(host));
  const dir = await mkdtemp(join(tmpdir(), 'kamailio-'));
  const listFile = join(dir, 'dispatcher.list');
  const cfgFile = join(dir, 'kamailio.cfg');
  await writeFile(listFile, dispatcherList(opts.backends));
  const cfg = templateConfig(await readFile(KAMAILIO_CFG, 'utf8'), {
    PUBLIC_IP: host,
    SIP_PORT: port,
    DISPATCHER_LIST: JSON.stringify(listFile),
    TRUNK_ALLOW: JSON.stringify(opts.trunkAllow ?? '127.0.0.0/8'),
    PROBE_INTERVAL: opts.probeIntervalSec ?? 1,
    PROBE_DOWN: opts.probeDown ?? 1,
    FR_TIMER_MS: opts.frTimerMs ?? 1000,
    UDP_CHILDREN: 2,
    TCP_CHILDREN: 2,
  });
  await writeFile(cfgFile, cfg);
  const proc = spawnManaged(
    'kamailio',
    bin,
    [
      '-DD', // foreground, no fork of a daemon
      '-E', // log to stderr
      '-f',
      cfgFile,
      '-w',
      dir, // working directory (core files)
      '-Y',
      dir, // runtime directory, instead of /run/kamailio
      '-m',
      '32', // shared memory, MiB
      '-M',
      '4', // private memory per process, MiB
    ],
    { cwd: dir, maxOutput: 4 << 20 },
  );
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await proc.stop(3000);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    await waitUntil('kamailio', () => accepts(host, port), {
      timeoutMs: opts.readyTimeoutMs ?? 15_000,
      intervalMs: 50,
      proc,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, port, dir, process: proc, log: () => proc.stderr() + proc.stdout(), stop };
}
