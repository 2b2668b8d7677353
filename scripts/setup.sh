#!/usr/bin/env bash
# One-time setup on a fresh Debian/Ubuntu machine: the real peers the integration tests
# and the demo use (SIPp, baresip), the local LiveKit server (built from its Go module,
# cached outside the repo), and the npm dependencies. Safe to run again: it skips what
# is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: need root (or sudo) to run: $*" >&2; exit 1; fi
}

missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
command -v baresip >/dev/null || missing+=(baresip-core)
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup: please install ${missing[*]} (SIPp and baresip) with your package manager" >&2; exit 1
  fi
  echo "setup: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# `sipp -v` prints its version and exits 99.
{ sipp -v 2>&1 || true; } | grep -m1 -o 'SIPp v[^ ]*' || { echo "setup: sipp does not run" >&2; exit 1; }

if [ -z "${LIVEKIT_SERVER_BIN:-}" ] && ! command -v go >/dev/null; then
  echo "setup: Go >= 1.26 is needed once to build the local livekit-server (or set LIVEKIT_SERVER_BIN)" >&2; exit 1
fi
node scripts/build-livekit-server.mjs

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
echo "setup: ready"
