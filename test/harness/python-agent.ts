/**
 * examples/agent.py, an agent written with LiveKit's Python SDK, as a real peer: the
 * virtual environment scripts/setup-python-agent.sh makes (`npm run setup`) in the same
 * cache root as the local livekit-server. A missing venv is a failure that says how to
 * make it, never a silent skip.
 */
import { accessSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore -- plain .mjs script shared with the CLI; the one owner of the cache root
import { cacheRoot } from '../../scripts/build-livekit-server.mjs';
import { spawnManaged } from './process.js';

export const PYTHON_AGENT = resolve(import.meta.dirname, '../../examples/agent.py');

/** The venv's python, with `livekit` and `livekit-api` installed. */
export function pythonAgentPath(): string {
  const python = join(cacheRoot() as string, 'python-agent-venv', 'bin', 'python');
  try {
    accessSync(python, constants.X_OK);
  } catch {
    throw new Error(
      `integration peer "python-agent" is not installed (no ${python}); make it with: npm run setup ` +
        '(or bash scripts/setup-python-agent.sh)',
    );
  }
  return python;
}

/** What agent.py printed on its one JSON line. */
export interface PythonAgentReport {
  phone: string;
  kind: string;
  callStatus: string | null;
  heard_hz: number | null;
  expect_hz: number;
  attributes: Record<string, string>;
  ok: boolean;
}

export interface PythonAgentRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The JSON line, when agent.py got as far as printing it. */
  report: PythonAgentReport | undefined;
}

/**
 * Runs agent.py with `args` until it exits, under the watchdog of ./process.ts, and kills
 * it after `timeoutMs` (its own `--timeout` should fire first). `stop` is for cleanups.
 */
export function runPythonAgent(
  args: string[],
  timeoutMs = 30_000,
): { done: Promise<PythonAgentRun>; stop(): Promise<void> } {
  const proc = spawnManaged('python-agent', pythonAgentPath(), ['-u', PYTHON_AGENT, ...args], {
    env: { PYTHONUNBUFFERED: '1' },
  });
  const timer = setTimeout(() => void proc.stop(1000), timeoutMs);
  const done = proc.exited.then(({ code, signal }) => {
    clearTimeout(timer);
    const line = proc
      .stdout()
      .split('\n')
      .find((l) => l.startsWith('{'));
    return {
      code,
      signal,
      stdout: proc.stdout(),
      stderr: proc.stderr(),
      report: line === undefined ? undefined : (JSON.parse(line) as PythonAgentReport),
    };
  });
  return {
    done,
    async stop() {
      clearTimeout(timer);
      await proc.stop(1000);
    },
  };
}
