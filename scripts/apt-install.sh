# Sourced by scripts/setup.sh and scripts/setup-bench.sh.
# apt_install <label> <package>...: installs the packages with apt-get (as root, or through
# sudo); with no packages it does nothing. <label> prefixes the messages.
apt_install() {
  local label=$1
  shift
  [ $# -gt 0 ] || return 0
  if ! command -v apt-get >/dev/null; then
    echo "$label: please install $* with your package manager" >&2
    exit 1
  fi
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "$label: need root (or sudo) to install $*" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "$label: installing $*"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}
