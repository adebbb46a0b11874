#!/usr/bin/env bash
# clean-root.sh DEB [PROFILE]: install the Debian package DEB with `apt install ./DEB` in a
# clean Debian root and run `pgolua top PROFILE` (the shipped demo profile by default) in
# it, from `/`. The base root comes from debootstrap (minbase, the machine's own Debian
# suite and mirror) and is built once into the user's cache; each run works in a copy of
# it that is removed afterwards. Needs root (chroot) and debootstrap.
set -euo pipefail

deb=$(realpath "$1")
profile=$(realpath "${2:-examples/profiles/demo.pgo}")
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/pgolua
base=$cache/root-$suite

# The machine's own Debian mirror, as deps.sh does: never a hard-coded host.
mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || { echo "clean-root: no Debian mirror in the apt sources" >&2; exit 1; }
  printf '%s\n' "$uri"
}

if [ ! -f "$base/.pgolua-complete" ]; then
  echo "clean-root: building the base root $base (once)" >&2   # progress, not output: callers read stdout
  rm -rf "$base.tmp"
  mkdir -p "$cache"
  debootstrap --variant=minbase "$suite" "$base.tmp" "$(mirror)" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
  cp /etc/resolv.conf "$base.tmp/etc/resolv.conf"
  chroot "$base.tmp" apt-get update -qq
  touch "$base.tmp/.pgolua-complete"
  rm -rf "$base"
  mv "$base.tmp" "$base"
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/pgolua-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
cp -a "$base/." "$root/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/"
cp "$profile" "$root/tmp/cpu.pgo"
chroot "$root" sh -c "cd /tmp && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ./$(basename "$deb")" \
  >"$root.install.log" 2>&1 || { cat "$root.install.log" >&2; rm -f "$root.install.log"; exit 1; }
rm -f "$root.install.log"
chroot "$root" sh -c 'cd / && pgolua --version && pgolua top -n 5 /tmp/cpu.pgo && man -w pgolua 2>/dev/null || test -f /usr/share/man/man1/pgolua.1.gz'
