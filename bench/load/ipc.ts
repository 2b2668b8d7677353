/**
 * A tiny request/response protocol over Node's child-process IPC channel, so the load
 * benchmark can run each measured part (the bridge, the agents) in its own process.
 * A child exits as soon as its parent disappears (the IPC channel closes).
 */
import { fork, type ChildProcess } from 'node:child_process';

interface Request {
  id: number;
  method: string;
  params: unknown;
}

interface Response {
  id: number;
  result?: unknown;
  error?: string;
}

type Handler = (params: never) => Promise<unknown> | unknown;

/** In the child: answers the parent's requests with `handlers`. */
export function serveRpc(handlers: Record<string, Handler>): void {
  process.on('disconnect', () => process.exit(0));
  // a normal exit on TERM, so that `--cpu-prof` gets to write its profile
  process.on('SIGTERM', () => process.exit(0));
  process.on('message', (msg: Request) => {
    const h = handlers[msg.method];
    void (async () => {
      const res: Response = { id: msg.id };
      try {
        if (h === undefined) throw new Error(`unknown method ${msg.method}`);
        res.result = await (h as (p: unknown) => unknown)(msg.params);
      } catch (err) {
        res.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      }
      process.send?.(res);
    })();
  });
  process.send?.({ id: 0, result: 'ready' } satisfies Response);
}

/** In the parent: a forked TypeScript child (run through tsx) answering requests. */
export class RpcChild {
  readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private output = '';
  private readonly ready: Promise<void>;
  private exited = false;

  constructor(
    readonly name: string,
    script: string,
    env: Record<string, string> = {},
    nodeArgs: string[] = [],
  ) {
    this.child = fork(script, [], {
      execArgv: ['--import', 'tsx', ...nodeArgs],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-8000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.child.on('message', (msg: Response) => {
      if (msg.id === 0) return readyResolve();
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new Error(`${this.name}: ${msg.error}`));
      else p.resolve(msg.result);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      const err = new Error(`${this.name} exited (${code ?? signal}); output tail:\n${this.output}`);
      readyReject(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Resolves once the child answers requests. */
  async started(timeoutMs = 30_000): Promise<void> {
    await withTimeout(this.ready, timeoutMs, `${this.name} did not start`);
  }

  /** Calls `method` in the child. */
  async call<T>(method: string, params: unknown = {}, timeoutMs = 120_000): Promise<T> {
    if (this.exited) throw new Error(`${this.name} is not running; output tail:\n${this.output}`);
    const id = this.nextId++;
    const p = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.child.send({ id, method, params } satisfies Request);
    return (await withTimeout(p, timeoutMs, `${this.name}.${method} timed out`)) as T;
  }

  /** Ends the child (TERM, then KILL after `graceMs`). */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await done;
    clearTimeout(t);
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} (after ${ms} ms)`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wall-clock time in ms with sub-millisecond resolution, comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
