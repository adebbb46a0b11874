#!/usr/bin/env bash
# testdata-bins.sh: print the folder holding the shop binaries the specs read (shop,
# shop.nopgo, shop.pgo, shop.stripped), building them on first use from testdata/gosrc/shop-v1
# and testdata/profiles/shop.steady.pgo exactly as testdata/bin/BUILDS.txt says.
#   The specs' oracles (sizes, `go version -m`, symbol tables) are of the Go 1.23.5 builds,
#   and Go builds are reproducible: every file is checked against testdata/bin/SHA256SUMS.
#   Go 1.23.5: Debian's /usr/lib/go-1.23 when it is that release, else any go with
#   GOTOOLCHAIN=go1.23.5 (fetched once through the module proxy).
#   Cache: $PGOLUA_CACHE, else $XDG_CACHE_HOME/pgolua, else ~/.cache/pgolua (as gotool.sh).
# Usage: scripts/testdata-bins.sh   -> folder on stdout, exit 0; exit 1 when a build fails
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sums="$root/testdata/bin/SHA256SUMS"
cache=${PGOLUA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgolua}
key=$(sha256sum "$sums" | cut -c1-16)
out="$cache/testdata-bin/$key"
if [ -f "$out/.verified" ]; then echo "$out"; exit 0; fi

want=go1.23.5
go=/usr/lib/go-1.23/bin/go
toolchain=local
if ! [ -x "$go" ] || [ "$("$go" env GOVERSION 2>/dev/null)" != "$want" ]; then
  go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
  toolchain=$want
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pgolua-bins.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$root/testdata/gosrc/shop-v1" "$work/src"
cp "$root/testdata/profiles/shop.steady.pgo" "$work/shop.steady.pgo"
chmod -R u+w "$work"
mkdir -p "$work/bin"
echo "testdata-bins: building the shop binaries with $want (once; cached in $out)" >&2
(
  cd "$work/src"
  export GOFLAGS='-trimpath -buildvcs=false' GOTOOLCHAIN=$toolchain GOWORK=off \
    GOMODCACHE="$cache/gomod" GOCACHE="$cache/gobuild" GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
  "$go" build -o "$work/bin/shop" ./cmd/shop
  "$go" build -pgo=off -o "$work/bin/shop.nopgo" ./cmd/shop
  "$go" build -pgo="$work/shop.steady.pgo" -o "$work/bin/shop.pgo" ./cmd/shop
  "$go" build -pgo="$work/shop.steady.pgo" -ldflags='-s -w' -o "$work/bin/shop.stripped" ./cmd/shop
) >&2
if ! (cd "$work/bin" && sha256sum --quiet -c "$sums") >&2; then
  echo "testdata-bins: the $want builds differ from $sums; the binary specs' oracles no longer hold" >&2
  exit 1
fi
touch "$work/bin/.verified"
mkdir -p "$(dirname "$out")"
rm -rf "$out.old"; [ -d "$out" ] && mv "$out" "$out.old"
mv "$work/bin" "$out"
rm -rf "$out.old"
echo "$out"
