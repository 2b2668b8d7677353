#!/usr/bin/env node
// Builds the pinned livekit-sip (LiveKit's own SIP service) from its Go module into a cache
// directory outside the repository's tracked files, and prints the binary's path. Reuses an
// existing build. Only `npm run bench:load` needs it (the side-by-side comparison); the test
// suite and `npm run setup` do not.
//   LIVEKIT_SIP_BIN=/path/to/livekit-sip   use that binary instead (no build)
//   EXOTEL_BRIDGE_CACHE_DIR=/dir            cache root (default: ~/.cache/exotel-livekit-bridge)
//
// Why v1.8.0: the newest release the Go module proxy serves here (v1.9.x, v1.10.0 and
// v1.11.0 answer 403 "not available"). `go install …@v1.8.0` fails too, because it reads
// the module's version list (@v/list), which the proxy also refuses; so the build goes
// through a throwaway wrapper module that requires the exact version and builds its command.
// livekit-sip's media stack links libopus, libopusfile and libsoxr (cgo): on Debian/Ubuntu
// `apt-get install pkg-config libopus-dev libopusfile-dev libsoxr-dev`. It also needs Redis
// at run time (`redis-server`), which the benchmark starts on loopback.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot } from './build-livekit-server.mjs';

export const LIVEKIT_SIP_VERSION = 'v1.8.0';
const MODULE = 'github.com/livekit/sip';
const PKG_CONFIG_LIBS = ['opus', 'opusfile', 'soxr'];

export function livekitSipPath() {
  if (process.env.LIVEKIT_SIP_BIN) return process.env.LIVEKIT_SIP_BIN;
  return join(cacheRoot(), `livekit-sip-${LIVEKIT_SIP_VERSION}`, 'livekit-sip');
}

/** Returns the path of a usable livekit-sip binary, building it first if needed; throws with the reason. */
export function ensureLivekitSip({ quiet = false } = {}) {
  const bin = livekitSipPath();
  if (process.env.LIVEKIT_SIP_BIN) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      throw new Error(`LIVEKIT_SIP_BIN=${bin} is not an executable file`);
    }
    return bin;
  }
  if (existsSync(bin)) return bin;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new Error(
      `Go is needed to build livekit-sip ${LIVEKIT_SIP_VERSION} but \`go\` was not found on PATH. ` +
        'Install Go >= 1.26, or set LIVEKIT_SIP_BIN to an existing livekit-sip binary.',
    );
  }
  const pc = spawnSync('pkg-config', ['--version'], { encoding: 'utf8' });
  if (pc.error || pc.status !== 0) {
    throw new Error(
      'livekit-sip links libopus, libopusfile and libsoxr through cgo and pkg-config, but `pkg-config` ' +
        'was not found. On Debian/Ubuntu: apt-get install pkg-config libopus-dev libopusfile-dev libsoxr-dev',
    );
  }
  const missing = PKG_CONFIG_LIBS.filter((lib) => spawnSync('pkg-config', ['--exists', lib]).status !== 0);
  if (missing.length > 0) {
    throw new Error(
      `livekit-sip needs the development packages of ${missing.join(', ')} (pkg-config cannot find them). ` +
        'On Debian/Ubuntu: apt-get install libopus-dev libopusfile-dev libsoxr-dev',
    );
  }
  const dir = join(cacheRoot(), `livekit-sip-${LIVEKIT_SIP_VERSION}`);
  mkdirSync(dir, { recursive: true });
  const wrap = mkdtempSync(join(tmpdir(), 'livekit-sip-build-'));
  const run = (args) => {
    if (!quiet) process.stderr.write(`  go ${args.join(' ')}\n`);
    const res = spawnSync('go', args, {
      cwd: wrap,
      stdio: quiet ? 'pipe' : 'inherit',
      encoding: 'utf8',
      env: { ...process.env, CGO_ENABLED: '1', GOFLAGS: '-mod=mod' },
    });
    if (res.status !== 0) {
      const tail = quiet ? `\n${String(res.stderr ?? '').slice(-2000)}` : '';
      throw new Error(`\`go ${args.join(' ')}\` failed (exit ${res.status})${tail}`);
    }
  };
  try {
    if (!quiet)
      process.stderr.write(
        `building livekit-sip ${LIVEKIT_SIP_VERSION} with ${go.stdout.trim()} into ${dir} (first run only; a few minutes)\n`,
      );
    writeFileSync(
      join(wrap, 'go.mod'),
      `module livekitsipbuild\n\ngo 1.26\n\nrequire ${MODULE} ${LIVEKIT_SIP_VERSION}\n`,
    );
    writeFileSync(
      join(wrap, 'tools.go'),
      `//go:build tools\n\npackage tools\n\nimport _ "${MODULE}/cmd/livekit-sip"\n`,
    );
    run(['mod', 'tidy']);
    run(['build', '-o', bin, `${MODULE}/cmd/livekit-sip`]);
  } finally {
    rmSync(wrap, { recursive: true, force: true });
  }
  if (!existsSync(bin)) throw new Error(`the build of livekit-sip ${LIVEKIT_SIP_VERSION} produced no binary`);
  return bin;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.stdout.write(ensureLivekitSip() + '\n');
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
