#!/usr/bin/env bash
# fuzz/run.sh [SECONDS]: build every libFuzzer target (fuzz/*.c but replay.c) with clang
# (ASan + UBSan) and run each for SECONDS (default 60). FUZZ_TARGETS="fuzz/a.c fuzz/b.c"
# picks targets. Run it niced (`nice -n 10 fuzz/run.sh 600`): it keeps a core busy.
#
# Each target's corpus is build-fuzz/corpus-<target>: it is kept between runs, so a longer
# campaign resumes where the last one stopped, and is topped up every run from the
# fixtures (testdata/, or $PGOLUA_SHARED/fixtures), fuzz/seeds/<target>/ and
# fuzz/regressions/<target>/. libFuzzer's whole output goes to build-fuzz/logs/<target>.log;
# one summary line per target is printed. Crashes, leaks, timeouts and out-of-memory
# inputs land in fuzz/findings/<target>-*; the exit status is 1 when this run added any
# (turn each into a regression: fuzz/regressions/<target>/ and a fix), 2 when a build fails.
#
# fuzz/replay.sh and fuzz/coverage.sh source this file for the source lists and flags
# (the functions below); only running it directly fuzzes.

FUZZ_OUT=build-fuzz
FUZZ_DEFINES="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc -I$FUZZ_OUT/gen"
FUZZ_WARN="-Wall -Wextra -Werror -Wshadow -Wno-unused-parameter"

# Write standard input to file $1 only when that changes it, atomically: a concurrent
# build never sees half a file, and an unchanged file keeps its time stamp.
fuzz_put() {
  local dest=$1 tmp
  tmp=$(mktemp "$dest.XXXXXX")
  chmod 644 "$tmp"
  cat > "$tmp"
  if cmp -s "$tmp" "$dest"; then rm -f "$tmp"; else mv -f "$tmp" "$dest"; fi
}

# Generated sources: protobuf-c code, the version string, the embedded Lua modules.
fuzz_gen() {
  mkdir -p "$FUZZ_OUT/gen"
  local tmp
  tmp=$(mktemp -d)
  protoc-c --proto_path=proto --c_out="$tmp" proto/profile.proto
  fuzz_put "$FUZZ_OUT/gen/profile.pb-c.c" < "$tmp/profile.pb-c.c"
  fuzz_put "$FUZZ_OUT/gen/profile.pb-c.h" < "$tmp/profile.pb-c.h"
  rm -rf "$tmp"
  printf 'const char pgolua_version[] = "fuzz";\n' | fuzz_put "$FUZZ_OUT/gen/version.c"
  # shellcheck disable=SC2046
  scripts/embed-lua.sh lua $(find lua -name '*.lua' | LC_ALL=C sort) |
    fuzz_put "$FUZZ_OUT/gen/embedded_lua.c"
  scripts/embed-docs.sh api=docs/api.md | fuzz_put "$FUZZ_OUT/gen/embedded_docs.c"
}

# True when target NAME drives Lua (includes the Lua headers): it then links src/lua, the
# embedded modules and liblua5.4.
fuzz_uses_lua() { grep -q '#include <lua' "fuzz/$1.c"; }

# The library sources a target links besides fuzz/NAME.c (and a main).
fuzz_sources() {
  local name=$1
  echo src/core/*.c src/profile/*.c src/symbols/*.c src/net/*.c \
    "$FUZZ_OUT/gen/profile.pb-c.c" "$FUZZ_OUT/gen/version.c"
  if fuzz_uses_lua "$name"; then
    echo src/lua/*.c "$FUZZ_OUT/gen/embedded_lua.c" "$FUZZ_OUT/gen/embedded_docs.c"
  fi
}

fuzz_cflags() {
  local flags="$FUZZ_DEFINES $FUZZ_WARN"
  if fuzz_uses_lua "$1"; then flags="$flags $(pkg-config --cflags lua5.4)"; fi
  echo "$flags"
}

fuzz_libs() {
  local pkgs="libprotobuf-c zlib libcurl libpcre2-8"
  if fuzz_uses_lua "$1"; then pkgs="$pkgs lua5.4"; fi
  echo "$(pkg-config --libs $pkgs) -lm -lpthread"
}

# Every fuzz target: fuzz/*.c except the replay main.
fuzz_all_targets() {
  local f
  for f in fuzz/*.c; do
    [ "$(basename "$f")" = replay.c ] || echo "$f"
  done
}

# Add each file named on stdin to corpus directory $1 under the SHA-1 of its bytes, as
# libFuzzer names its own corpus files: seeding again adds nothing twice.
fuzz_add_files() {
  local dir=$1 f sum
  while IFS= read -r f; do
    [ -f "$f" ] || continue
    sum=$(sha1sum < "$f" | cut -c1-40)
    [ -e "$dir/$sum" ] || cp "$f" "$dir/$sum"
  done
}

# Seed the corpus directory DIR of target NAME: fixtures, fuzz/seeds/NAME, fuzz/regressions/NAME.
fuzz_seed() {
  local name=$1 dir=$2 fixtures=${PGOLUA_SHARED:+$PGOLUA_SHARED/fixtures} bins
  fixtures=${fixtures:-testdata}
  mkdir -p "$dir"
  if [ -d "$fixtures" ]; then
    case "$name" in
      profile_*)
        find "$fixtures/profiles" "$fixtures/bad" \
             "$fixtures/pprof-examples" "$fixtures/thirdparty" \
             -type f \( -name '*.pgo' -o -name '*.pb' -o -name '*.gz' -o -name '*.pprof' \) ;;
      elf_*)   # the shop binaries are built into the cache (scripts/testdata-bins.sh)
        bins=$(scripts/testdata-bins.sh 2>/dev/null) || bins="$fixtures/bin"
        ls "$bins/shop.stripped" "$bins/shop" /bin/true ;;
      gosource_*) find "$fixtures/gosrc" -name '*.go' ;;
      bench_*) find "$fixtures/bench" "$fixtures/ab" -name '*.txt' ;;
    esac 2>/dev/null | fuzz_add_files "$dir" || true    # a missing seed is no failure
  fi
  if [ "$name" = net_base64 ]; then
    printf 'aGVsbG8gd29ybGQ=' > "$dir/seed1"
    printf 'H4sIAAAAAAAA/w==' > "$dir/seed2"
  fi
  find "fuzz/seeds/$name" "fuzz/regressions/$name" -type f 2>/dev/null | fuzz_add_files "$dir" || true
}

# libFuzzer options per target: input size cap, time cap per input, a dictionary.
fuzz_options() {
  local name=$1
  local opts="-timeout=30 -rss_limit_mb=2048 -print_final_stats=1"
  case "$name" in
    # Lua frees an input's garbage during later inputs, so mallocs and frees never balance
    # per input and libFuzzer would run LeakSanitizer over the whole heap after each of the
    # first 1000 inputs (a hundredfold slowdown). Leaks are still checked once at exit.
    bench_*) opts="$opts -max_len=65536 -dict=$FUZZ_OUT/$name.dict -detect_leaks=0" ;;
    profile_*) opts="$opts -max_len=131072" ;;
    regex_*) opts="$opts -max_len=4096 -dict=$FUZZ_OUT/$name.dict" ;;
  esac
  echo "$opts"
}

# Words of the benchmark format, so mutations make result, unit and config lines.
fuzz_write_dicts() {
  local w
  for w in Benchmark ns/op B/op allocs/op MB/s sec/op B/s Unit assume=exact better=higher \
           better=lower goos: goarch: pkg: cpu: -8 -16 /size= /n= 1e+06 NaN Inf +Inf -Inf 0x1p-2; do
    printf '"%s"\n' "$w"
  done > "$FUZZ_OUT/bench_parse.dict"
  printf '"\\x0a"\n"\\x09"\n"\\x0d\\x0a"\n"\\x00"\n"\\xc2\\xa0"\n"\\xe2\\x80\\x83"\n' >> "$FUZZ_OUT/bench_parse.dict"
  # RE2 syntax, and what Go's regexp rejects (the syntax check's paths)
  for w in '(?i)' '(?s)' '(?m)' '(?U)' '(?P<n>' '(?:' '(?=' '(?!' '(?<=' '(?>' '\\1' '\\pL' \
           '\\p{Greek}' '\\PN' '\\d' '\\w' '\\s' '\\b' '\\B' '\\A' '\\z' '\\Z' '\\Q' '\\E' \
           '\\x{10FFFF}' '\\x41' '\\C' '\\e' '[[:alpha:]]' '[[:^digit:]]' '[^a-z]' '{2,1000}' \
           '{1001}' '*?' '++' '?+' '.*' '|' '^' '$' 'main.' 'runtime.' '(*T)'; do
    printf '"%s"\n' "$w"
  done > "$FUZZ_OUT/regex_filter.dict"
}

# Numbers from a finished libFuzzer log: runs secs execs cov ft corpus_files.
fuzz_log_stats() {
  local log=$1
  awk '
    /^stat::number_of_executed_units:/ { runs = $2 }
    /^stat::average_exec_per_sec:/ { eps = $2 }
    / cov: [0-9]+ ft: [0-9]+/ {
      for (i = 1; i < NF; i++) { if ($i == "cov:") cov = $(i+1); if ($i == "ft:") ft = $(i+1) }
    }
    /^Done [0-9]+ runs in [0-9]+ second/ { runs = $2; secs = $5 }
    END { printf "%s %s %s %s %s\n", runs ? runs : 0, secs ? secs : "?", eps ? eps : 0,
                 cov ? cov : 0, ft ? ft : 0 }' "$log"
}

# Artifacts of target NAME written after file MARKER: crashes, leaks, timeouts, ooms.
fuzz_new_findings() {
  find fuzz/findings -maxdepth 1 -type f -newer "$2" \( -name "$1-crash-*" -o \
       -name "$1-leak-*" -o -name "$1-timeout-*" -o -name "$1-oom-*" \) | sort
}

fuzz_main() {
  set -euo pipefail
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  local seconds=${1:-60}
  local flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
  mkdir -p "$FUZZ_OUT/logs" fuzz/findings
  fuzz_gen
  fuzz_write_dicts
  local targets=${FUZZ_TARGETS:-$(fuzz_all_targets)}
  local target name corpus log marker status=0 found
  for target in $targets; do
    name=$(basename "$target" .c)
    log="$FUZZ_OUT/logs/$name.log"
    echo "== $name: building"
    # shellcheck disable=SC2046
    if ! clang $flags $(fuzz_cflags "$name") -o "$FUZZ_OUT/$name" "$target" \
         $(fuzz_sources "$name") $(fuzz_libs "$name") > "$log" 2>&1; then
      cat "$log"
      echo "== $name: BUILD FAILED"
      status=2
      continue
    fi
    corpus="$FUZZ_OUT/corpus-$name"
    fuzz_seed "$name" "$corpus"
    marker=$(mktemp)
    echo "== $name: fuzzing for ${seconds}s (log: $log)"
    # shellcheck disable=SC2046
    "$FUZZ_OUT/$name" -max_total_time="$seconds" $(fuzz_options "$name") \
      -artifact_prefix=fuzz/findings/"$name"- "$corpus" >> "$log" 2>&1 || true
    found=$(fuzz_new_findings "$name" "$marker")
    rm -f "$marker"
    # shellcheck disable=SC2086
    set -- $(fuzz_log_stats "$log")
    printf '%s: %s runs in %ss (%s exec/s), cov %s, ft %s, corpus %s files, findings %s\n' \
      "$name" "$1" "$2" "$3" "$4" "$5" "$(find "$corpus" -type f | wc -l)" "$(echo "$found" | grep -c . || true)"
    if [ -n "$found" ]; then
      echo "$found" | sed 's/^/   /'
      grep -m3 -E 'ERROR: |FINDING|runtime error' "$log" | sed 's/^/   /' || true
      [ "$status" -eq 0 ] && status=1
    fi
  done
  return "$status"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  fuzz_main "$@"
fi
