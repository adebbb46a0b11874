#!/usr/bin/env bash
# gotool.sh NAME: print the path of the pinned Go program NAME (scripts/gotools.pins),
# building it with `go install` into the cache on first use. A second call costs nothing.
#   Cache: $PGOLUA_CACHE, else $XDG_CACHE_HOME/pgolua, else ~/.cache/pgolua (module and
#   build caches live there too, so a rebuilt checkout reuses them).
#   Go: $GO, else the go on PATH, else /usr/local/go/bin/go.
#   A 4th column names a wrapper module in this repository to build the package in.
# Usage: scripts/gotool.sh NAME        -> /path/to/bin/NAME on stdout, exit 0
#        scripts/gotool.sh --list      -> the pinned names
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pins="$here/gotools.pins"

if [ "${1:-}" = "--list" ]; then
  awk '!/^#/ && NF >= 3 {print $1}' "$pins"; exit 0
fi
name=${1:?usage: scripts/gotool.sh NAME (see scripts/gotools.pins)}
read -r pkg version moddir < <(awk -v n="$name" '!/^#/ && $1 == n {print $2, $3, $4}' "$pins") || true
if [ -z "${pkg:-}" ]; then
  echo "gotool: no pinned Go program named '$name' in $pins" >&2; exit 2
fi

cache=${PGOLUA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgolua}
bindir="$cache/gotools/$name@$version"
if [ -n "${moddir:-}" ]; then
  # built inside a wrapper module of this repository (4th column): `go install pkg@v`
  # is refused for modules with replace directives or whose version list the proxy
  # does not serve; the cache key covers the wrapper's files too
  moddir="$here/../$moddir"
  bindir="$bindir-$(cat "$moddir"/go.mod "$moddir"/*.go | sha256sum | cut -c1-12)"
fi
bin="$bindir/$(basename "$pkg")"
[ "$pkg" = . ] && bin="$bindir/$name"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
mkdir -p "$bindir"
echo "gotool: building $pkg@$version (once; cached in $bindir)" >&2
if [ -n "${moddir:-}" ]; then
  (cd "$moddir" && GOMODCACHE="$cache/gomod" GOCACHE="$cache/gobuild" GOFLAGS=-mod=mod \
    "$go" build -o "$bin.tmp" "$pkg" >&2) && mv "$bin.tmp" "$bin"
  echo "$bin"; exit 0
fi
GOBIN="$bindir" GOMODCACHE="$cache/gomod" GOCACHE="$cache/gobuild" GOFLAGS=-mod=mod \
  "$go" install "$pkg@$version" >&2
echo "$bin"
