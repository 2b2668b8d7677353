/**
 * Child processes for real peers (livekit-server, SIPp, baresip) that can never outlive
 * the test run: each runs under a small bash watchdog that kills it as soon as this Node
 * process disappears, even after SIGKILL. `stop()` ends it (TERM, then KILL).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the peer has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  /** Terminates the peer; resolves after it exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** Sends a signal to the peer itself (not its watchdog), e.g. SIGKILL to simulate a crash. */
  signalPeer(signal: NodeJS.Signals): void;
}

const live = new Set<ManagedProcess>();

/** Stops every process still running (used by global teardown and on exit). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(1000)));
}

const WATCHDOG = `
"$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; exit $?' TERM INT
while kill -0 "$WATCH_PID" 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done
if kill -0 $child 2>/dev/null; then kill -TERM $child 2>/dev/null; sleep 1; kill -KILL $child 2>/dev/null; fi
wait $child
`;

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Keep at most this many bytes of stdout/stderr each (default 1 MiB). */
  maxOutput?: number;
}

export function spawnManaged(
  name: string,
  cmd: string,
  args: string[],
  opts: SpawnOptions = {},
): ManagedProcess {
  const child = spawn('bash', ['-c', WATCHDOG, 'watchdog', cmd, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env, WATCH_PID: String(process.pid) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const max = opts.maxOutput ?? 1 << 20;
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    if (out.length < max) out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (err.length < max) err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  let stopping: Promise<void> | undefined;
  const proc: ManagedProcess = {
    name,
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    signalPeer(signal) {
      if (child.pid !== undefined)
        spawnSync('pkill', [`-${signal.replace(/^SIG/, '')}`, '-P', String(child.pid)]);
    },
    stop(graceMs = 3000) {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        live.delete(proc);
      })();
      return stopping;
    },
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

process.once('exit', () => {
  for (const p of live) p.child.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1 (bound and released; the OS avoids reusing it at once). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A port free for both TCP and UDP on the host. */
export async function freeDualPort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort(host);
    if (await udpFree(port, host)) return port;
  }
  throw new Error('no port free for both TCP and UDP');
}

/** A UDP port (a multiple of four) whose three successors are also free (RTP + RTCP, and SIPp's video pair). */
export async function freeRtpPort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 100; i++) {
    // four: SIPp's -mp binds audio and video RTP/RTCP (port .. port+3)
    const port = 20000 + 4 * Math.floor(Math.random() * 5000);
    let free = true;
    for (let k = 0; k < 4 && free; k++) free = await udpFree(port + k, host);
    if (free) return port;
  }
  throw new Error('no free RTP port pair');
}

export function udpFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    // A dgram socket whose bind failed stays open until closed: close it (else it leaks).
    s.once('error', () => s.close(() => resolve(false)));
    s.bind(port, host, () => s.close(() => resolve(true)));
  });
}

export function tcpFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** Polls until `check` resolves true, or throws after `timeoutMs`, or when the process exits first. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; proc?: ManagedProcess } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let exited = false;
  void opts.proc?.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (await check()) return;
    if (exited) {
      throw new Error(
        `${what}: ${opts.proc?.name} exited early\n${opts.proc?.stdout()}\n${opts.proc?.stderr()}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
  throw new Error(`${what}: not ready after ${opts.timeoutMs ?? 15_000} ms`);
}
