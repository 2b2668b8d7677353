#!/usr/bin/env node
// Builds the pinned livekit-server from its Go module into a cache directory outside the
// repository's tracked files, and prints the binary's path. Reuses an existing build.
//   LIVEKIT_SERVER_BIN=/path/to/server   use that binary instead (no build)
//   EXOTEL_BRIDGE_CACHE_DIR=/dir          cache root (default: ~/.cache/exotel-livekit-bridge)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const LIVEKIT_SERVER_VERSION = 'v1.13.5';

export function cacheRoot() {
  return (
    process.env.EXOTEL_BRIDGE_CACHE_DIR ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'exotel-livekit-bridge')
  );
}

export function livekitServerPath() {
  if (process.env.LIVEKIT_SERVER_BIN) return process.env.LIVEKIT_SERVER_BIN;
  return join(cacheRoot(), `livekit-server-${LIVEKIT_SERVER_VERSION}`, 'server');
}

export function ensureLivekitServer({ quiet = false } = {}) {
  const bin = livekitServerPath();
  if (process.env.LIVEKIT_SERVER_BIN) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      throw new Error(`LIVEKIT_SERVER_BIN=${bin} is not an executable file`);
    }
    return bin;
  }
  if (existsSync(bin)) return bin;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new Error(
      'Go is needed to build the local LiveKit server (livekit-server ' +
        LIVEKIT_SERVER_VERSION +
        ") but `go` was not found on PATH. Install Go >= 1.26 (https://go.dev/doc/install, or your distribution's golang package), " +
        'or set LIVEKIT_SERVER_BIN to an existing livekit-server binary.',
    );
  }
  const dir = join(cacheRoot(), `livekit-server-${LIVEKIT_SERVER_VERSION}`);
  mkdirSync(dir, { recursive: true });
  if (!quiet)
    process.stderr.write(
      `building livekit-server ${LIVEKIT_SERVER_VERSION} with ${go.stdout.trim()} into ${dir} (first run only; a few minutes)\n`,
    );
  const res = spawnSync(
    'go',
    ['install', `github.com/livekit/livekit-server/cmd/server@${LIVEKIT_SERVER_VERSION}`],
    {
      stdio: quiet ? 'pipe' : 'inherit',
      env: { ...process.env, GOBIN: dir, GOFLAGS: '-mod=mod' },
      cwd: dir,
    },
  );
  if (res.status !== 0 || !existsSync(bin)) {
    throw new Error(`go install of livekit-server ${LIVEKIT_SERVER_VERSION} failed (exit ${res.status})`);
  }
  return bin;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.stdout.write(ensureLivekitServer() + '\n');
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
