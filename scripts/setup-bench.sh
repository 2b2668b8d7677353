#!/usr/bin/env bash
# What `npm run bench:load` needs beyond `npm run setup`, on a Debian/Ubuntu machine: Redis
# (livekit-sip talks to livekit-server through it), tcpdump (kernel timestamps of the RTP
# that reaches the far end), the development packages livekit-sip's media stack links
# (cgo: libopus, libopusfile, libsoxr), and livekit-sip itself, built from its Go module.
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup:bench: need root (or sudo) to run: $*" >&2; exit 1; fi
}

bash scripts/setup.sh
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v tcpdump >/dev/null || missing+=(tcpdump)
command -v pkg-config >/dev/null || missing+=(pkg-config)
for lib in opus:libopus-dev opusfile:libopusfile-dev soxr:libsoxr-dev; do
  pkg-config --exists "${lib%%:*}" 2>/dev/null || missing+=("${lib#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup:bench: please install ${missing[*]} with your package manager" >&2; exit 1
  fi
  echo "setup:bench: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
node scripts/build-livekit-sip.mjs
echo "setup:bench: ready"
