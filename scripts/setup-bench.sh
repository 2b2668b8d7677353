#!/usr/bin/env bash
# What `npm run bench:load` needs beyond `npm run setup`, on a Debian/Ubuntu machine: Redis
# (livekit-sip talks to livekit-server through it), tcpdump (kernel timestamps of the RTP
# that reaches the far end), the development packages livekit-sip's media stack links
# (cgo: libopus, libopusfile, libsoxr), and livekit-sip itself, built from its Go module.
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/apt-install.sh
source scripts/apt-install.sh

bash scripts/setup.sh
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v tcpdump >/dev/null || missing+=(tcpdump)
command -v pkg-config >/dev/null || missing+=(pkg-config)
for lib in opus:libopus-dev opusfile:libopusfile-dev soxr:libsoxr-dev; do
  pkg-config --exists "${lib%%:*}" 2>/dev/null || missing+=("${lib#*:}")
done
apt_install setup:bench "${missing[@]}"
node scripts/build-livekit-sip.mjs
echo "setup:bench: ready"
