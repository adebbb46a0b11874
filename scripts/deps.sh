#!/usr/bin/env bash
# deps.sh: install what pgolua needs, by set. Skips what is already installed; uses sudo
# when not root.
#   run    the libraries ./pgolua links to, and the Lua modules recipes require
#   build  compilers, -dev packages, protoc-c, pkg-config (make)
#   test   busted, Go 1.23 (and 1.19) from Debian, Chromium, tmux, and the pinned Go
#          programs of scripts/gotools.pins built into the cache (make test)
#   dev    clang, LLVM, valgrind, the clang runtime (make fuzz, fuzz-coverage, valgrind)
#   all    every set (make deps: everything .ci/run needs, and more)
# With no SET: run build test, what `make test` needs. `--no-go` is kept for old callers:
# it means `run build`.
#   Go >= 1.21 (for PGO) comes from Debian's bookworm-backports suite: this script derives
#   a sources entry for it from the machine's own Debian entry (same mirror), never a
#   hard-coded host.
# Usage: scripts/deps.sh [SET...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# One package a line: append to the set that needs it.
run_packages=(
  lua5.4 liblua5.4-0
  libprotobuf-c1 zlib1g libcurl4 libedit2 libpcre2-8-0
  lua-argparse lua-cjson
)
build_packages=(
  build-essential pkg-config git
  liblua5.4-dev
  libprotobuf-c-dev protobuf-c-compiler
  zlib1g-dev libcurl4-openssl-dev libedit-dev
  libpcre2-dev     # Go-style (RE2) filters through PCRE2 (src/core/regex.c)
)
test_packages=(
  lua-busted
  golang-1.23-go   # PGO builds, the Go 1.23 oracles; bookworm-backports
  golang-1.19-go   # the older pclntab layout
  chromium         # renders the SVG flame graph in a spec
  tmux             # drives the REPL in a spec
  lua-yaml jq      # the CI samples' spec reads workflows and runs their steps as a runner would
  debootstrap      # the .deb installed in a clean Debian root
  strace           # kills a writer inside fsync, watches a request's fsync (fs_spec)
)
dev_packages=(
  clang libclang-rt-14-dev llvm-14 valgrind
)

sets=("$@")
[ "${#sets[@]}" -eq 0 ] && sets=(run build test)
packages=()
want_gotools=0
for s in "${sets[@]}"; do
  case "$s" in
    run) packages+=("${run_packages[@]}") ;;
    build) packages+=("${build_packages[@]}") ;;
    test) packages+=("${test_packages[@]}"); want_gotools=1 ;;
    dev) packages+=("${dev_packages[@]}") ;;
    all) packages+=("${run_packages[@]}" "${build_packages[@]}" "${test_packages[@]}"
                    "${dev_packages[@]}"); want_gotools=1 ;;
    --no-go) packages+=("${run_packages[@]}" "${build_packages[@]}") ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deps: unknown set '$s' (sets: run build test dev all)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

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

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: packages of ${sets[*]} are installed"
else
  if printf '%s\n' "${missing[@]}" | grep -q '^golang-1.23-go$'; then
    enable_backports
  fi
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The pinned Go programs the oracle specs run (pprof HEAD, benchstat, actionlint): built
# once into the cache, so a later `make test` finds them ready. The profiler servers of the
# #parca and #pyroscope specs (a fresh Parca build takes tens of minutes) are built by
# those specs themselves, and only when they run.
if [ "$want_gotools" = 1 ]; then
  for name in benchstat pprof actionlint; do "$here/gotool.sh" "$name" >/dev/null; done
fi
