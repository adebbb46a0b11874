#!/usr/bin/env bash
# fuzz/replay.sh TARGET [FILE_OR_DIR...]: build build-fuzz/replay-TARGET, the fuzz target
# fuzz/TARGET.c with fuzz/replay.c as its main, with gcc under AddressSanitizer and
# UndefinedBehaviorSanitizer (no libFuzzer needed), then run it once on every file given
# (a directory gives every file in it). Without files it only builds.
#
#   fuzz/replay.sh profile_decode fuzz/findings/profile_decode-crash-1234   # a finding
#   fuzz/replay.sh bench_parse fuzz/regressions/bench_parse                  # the regressions
#
# Objects are kept in build-fuzz/replay-obj and rebuilt when a source or a header it
# includes changes, so only the first build of a checkout is slow. The sources and flags
# are fuzz/run.sh's. CC, REPLAY_FLAGS (instead of -O1 -g and the sanitizers) and
# REPLAY_BINARY (instead of build-fuzz/replay-TARGET) change the build. Exit status: the replay's (non-zero on any sanitizer report, a failed
# oracle or an unreadable input); 2 on a usage or build error. CC=clang works too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=fuzz/run.sh
source fuzz/run.sh

if [ $# -lt 1 ]; then
  echo "usage: fuzz/replay.sh TARGET [FILE_OR_DIR...]   (TARGET: one of fuzz/*.c)" >&2
  exit 2
fi
name=$(basename "$1" .c)
shift
if [ ! -f "fuzz/$name.c" ] || [ "$name" = replay ]; then
  echo "fuzz/replay.sh: no fuzz target fuzz/$name.c" >&2
  exit 2
fi

cc=${CC:-gcc}
objdir="$FUZZ_OUT/replay-obj"
# REPLAY_FLAGS and REPLAY_BINARY let fuzz/coverage.sh build a coverage flavour instead.
binary=${REPLAY_BINARY:-$FUZZ_OUT/replay-$name}
cflags=${REPLAY_FLAGS:--O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer}
cflags="$cflags $(fuzz_cflags "$name")"
mkdir -p "$objdir"

# Objects are shared by every target and by concurrent runs (specs, a developer): one
# builder at a time.
exec 9> "$FUZZ_OUT/replay.lock"
flock 9
fuzz_gen

# Different flags (another compiler, lua headers) make different objects.
flavour=$(printf '%s\n' "$cc $cflags" | sha1sum | cut -c1-12)
objdir="$objdir/$flavour"
mkdir -p "$objdir"

# An object is stale when it is missing or older than a file its .d lists.
stale() {
  local obj=$1 dep
  [ -f "$obj" ] && [ -f "$obj.d" ] || return 0
  for dep in $(sed -e 's/\\$//' -e 's/^[^:]*://' "$obj.d"); do
    [ "$dep" -nt "$obj" ] && return 0
  done
  return 1
}

objs=()
pids=()
failed=0
for src in "fuzz/$name.c" fuzz/replay.c $(fuzz_sources "$name"); do
  obj="$objdir/$(printf '%s' "$src" | tr '/' '_').o"
  objs+=("$obj")
  if stale "$obj"; then
    # shellcheck disable=SC2086
    $cc $cflags -MMD -MF "$obj.d" -c -o "$obj" "$src" &
    pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then       # two compilers at a time: the machine is shared
      wait "${pids[0]}" || failed=1
      pids=("${pids[@]:1}")
    fi
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if [ "$failed" -ne 0 ]; then
  echo "fuzz/replay.sh: building $name failed" >&2
  exit 2
fi
# Relink when an object is newer or the binary is of another flavour (gcc vs clang).
relink=0
[ -x "$binary" ] && [ "$(cat "$binary.flavour" 2>/dev/null)" = "$flavour" ] || relink=1
for obj in "${objs[@]}"; do [ "$obj" -nt "$binary" ] && relink=1; done
if [ "$relink" -eq 1 ]; then
  # shellcheck disable=SC2046
  $cc $cflags -o "$binary.tmp" "${objs[@]}" $(fuzz_libs "$name") || exit 2
  mv -f "$binary.tmp" "$binary"
  echo "$flavour" > "$binary.flavour"
fi
flock -u 9

[ $# -eq 0 ] && exit 0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$binary" "$@"
