#!/usr/bin/env bash
# mkdeb.sh BIN VERSION OUTDIR [MAKE_ARGS...]: build OUTDIR/pgolua_<version>_<arch>.deb from
# the binary BIN (built for PREFIX=/usr): `make install` lays out the binary, the man page
# and the recipes in a staging root; Depends is what dpkg-shlibdeps finds for the linked
# libraries plus the Lua packages the recipes load at run time (lua-argparse, lua-cjson).
# MAKE_ARGS go to make install (the Makefile passes its BUILD and BIN).
set -euo pipefail
bin=$1 version=$2 outdir=$3
shift 3

# A Debian version starts with a digit and has no '-' in a native package:
# "v1.2-3-gabc-dirty" -> "1.2+3+gabc+dirty"; no tag: "8c51e46" -> "0~git8c51e46".
deb_version=${version#v}
deb_version=${deb_version//-/+}
[[ $deb_version =~ ^[0-9]+\. ]] || deb_version="0~git$deb_version"
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
make --no-print-directory install PREFIX=/usr DESTDIR="$stage/root" BIN="$bin" "$@" >/dev/null
gzip -9n "$stage/root/usr/share/man/man1/pgolua.1"

mkdir -p "$stage/shlibs/debian"
printf 'Source: pgolua\n\nPackage: pgolua\nArchitecture: any\n' > "$stage/shlibs/debian/control"
shlibs=$(cd "$stage/shlibs" && dpkg-shlibdeps -O -e "$stage/root/usr/bin/pgolua" 2>/dev/null)
shlibs=${shlibs#shlibs:Depends=}
[ -n "$shlibs" ] || { echo "mkdeb: dpkg-shlibdeps found no libraries" >&2; exit 1; }

mkdir -p "$stage/root/DEBIAN"
cat > "$stage/root/DEBIAN/control" <<CONTROL
Package: pgolua
Version: $deb_version
Architecture: $arch
Maintainer: pgolua developers <pgolua@localhost>
Section: devel
Priority: optional
Installed-Size: $(du -sk "$stage/root/usr" | cut -f1)
Depends: $shlibs, lua-argparse, lua-cjson
Description: Go profile-guided optimization release engineering, scriptable in Lua
 A Lua 5.4 interpreter with the pgo library built in: loads, validates, merges and
 analyses Go pprof CPU profiles (default.pgo) and ships recipes (pgolua top, refresh,
 ab, doctor, stale, runbook) for CI.
CONTROL

mkdir -p "$outdir"
out="$outdir/pgolua_${deb_version}_${arch}.deb"
rm -f "$outdir"/pgolua_*.deb
dpkg-deb --root-owner-group -Zxz --build "$stage/root" "$out" >/dev/null
echo "mkdeb: $out"
