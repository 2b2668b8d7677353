#!/usr/bin/env bash
# The Python agent's virtual environment (examples/agent.py, run by
# test/integration/agent-python.test.ts): LiveKit's Python SDK from PyPI, kept in the
# same cache root as the local livekit-server (scripts/build-livekit-server.mjs), outside
# the repository. Safe to run again: it skips a venv that already has the pinned versions.
#   EXOTEL_BRIDGE_CACHE_DIR=/dir   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/exotel-livekit-bridge)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/apt-install.sh
source scripts/apt-install.sh

# Keep in step with test/harness/python-agent.ts.
LIVEKIT_RTC='1.2.*'
LIVEKIT_API='1.2.*'
cache="${EXOTEL_BRIDGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/exotel-livekit-bridge}"
venv="$cache/python-agent-venv"
py="$venv/bin/python"

command -v python3 >/dev/null || apt_install setup-python-agent python3

# True when the venv imports both SDKs at the pinned minor versions.
venv_ready() {
  [ -x "$py" ] && "$py" - "$LIVEKIT_RTC" "$LIVEKIT_API" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
import livekit.rtc, livekit.api  # noqa: F401  (both must import, not just be listed)
want = {"livekit": sys.argv[1], "livekit-api": sys.argv[2]}
for name, spec in want.items():
    if not version(name).startswith(spec.rstrip("*")):
        sys.exit(1)
EOF
}

if venv_ready; then
  echo "setup-python-agent: $venv ready"
  exit 0
fi

mkdir -p "$cache"
# Debian/Ubuntu ship `venv` without ensurepip unless python3-venv is installed; a failed
# attempt leaves a venv without pip behind, so remove it before trying again.
if ! python3 -m venv --clear "$venv" >/dev/null 2>&1; then
  rm -rf "$venv"
  apt_install setup-python-agent python3-venv
  python3 -m venv --clear "$venv"
fi
"$py" -m pip install --quiet --disable-pip-version-check "livekit==$LIVEKIT_RTC" "livekit-api==$LIVEKIT_API"
venv_ready || { echo "setup-python-agent: $venv does not import livekit $LIVEKIT_RTC and livekit-api $LIVEKIT_API" >&2; exit 1; }
echo "setup-python-agent: $venv ready ($("$py" -c 'from importlib.metadata import version as v; print("livekit", v("livekit"), "livekit-api", v("livekit-api"))'))"
