#!/usr/bin/env bash
# One-time setup on a fresh Debian/Ubuntu machine: the real peers the integration tests
# and the demo use (SIPp, baresip), the local LiveKit server (built from its Go module,
# cached outside the repo), and the npm dependencies. Safe to run again: it skips what
# is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/apt-install.sh
source scripts/apt-install.sh

missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
command -v baresip >/dev/null || missing+=(baresip-core)
command -v kamailio >/dev/null || missing+=(kamailio)
apt_install setup "${missing[@]}"
# `sipp -v` prints its version and exits 99.
{ sipp -v 2>&1 || true; } | grep -m1 -o 'SIPp v[^ ]*' || { echo "setup: sipp does not run" >&2; exit 1; }

if [ -z "${LIVEKIT_SERVER_BIN:-}" ] && ! command -v go >/dev/null; then
  echo "setup: Go >= 1.26 is needed once to build the local livekit-server (or set LIVEKIT_SERVER_BIN)" >&2; exit 1
fi
node scripts/build-livekit-server.mjs

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/setup-python-agent.sh
echo "setup: ready"
