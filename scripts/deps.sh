#!/usr/bin/env bash
# deps.sh: install the Debian packages pgolua needs to build, test and run its demo.
#   Skips what is already installed; uses sudo when not root.
#   Go >= 1.21 (for PGO) comes from Debian's bookworm-backports suite: this script derives
#   a sources entry for it from the machine's own Debian entry (same mirror), never a
#   hard-coded host.
# Usage: scripts/deps.sh [--no-go]
set -euo pipefail

want_go=1
[ "${1:-}" = "--no-go" ] && want_go=0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

packages=(
  build-essential pkg-config git
  liblua5.4-dev lua5.4
  libprotobuf-c-dev protobuf-c-compiler
  zlib1g-dev libcurl4-openssl-dev libedit-dev
  libpcre2-dev                                 # RE2-style filters (src/core/regex.c)
  lua-busted lua-argparse lua-cjson
  tmux
  lua-yaml jq debootstrap       # specs: CI samples (YAML, jq as on a runner), the .deb in a clean root
  clang libclang-rt-14-dev llvm-14 valgrind   # make fuzz, fuzz-coverage, valgrind; the regression spec
)
# Go 1.23 (bookworm-backports) for PGO builds and the real pprof/preprofile oracles; Go
# 1.19 for the older pclntab layout; Chromium renders the SVG flame graph in a spec.
[ "$want_go" = 1 ] && packages+=(golang-1.23-go golang-1.19-go chromium)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: everything is installed"
  exit 0
fi

enable_backports() {
  local src=/etc/apt/sources.list.d/debian.sources
  local dst=/etc/apt/sources.list.d/pgolua-backports.sources
  if grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  if [ -f "$src" ]; then
    # First stanza of the machine's own entry, with its suite set to bookworm-backports.
    awk 'BEGIN{RS=""; ORS="\n"} NR==1{print; exit}' "$src" \
      | sed -E 's/^Suites:.*/Suites: bookworm-backports/' | $SUDO tee "$dst" >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    local line
    line=$(grep -E '^deb [^ ]+ bookworm ' /etc/apt/sources.list | head -n1)
    [ -n "$line" ] || { echo "deps: no Debian bookworm entry to derive backports from" >&2; return 1; }
    echo "$line" | sed -E 's/ bookworm / bookworm-backports /' \
      | $SUDO tee /etc/apt/sources.list.d/pgolua-backports.list >/dev/null
  else
    echo "deps: no apt sources found; install golang-1.23-go by hand" >&2
    return 1
  fi
}

if printf '%s\n' "${missing[@]}" | grep -q '^golang-1.23-go$'; then
  enable_backports
fi

echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
