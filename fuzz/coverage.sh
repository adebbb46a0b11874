#!/usr/bin/env bash
# fuzz/coverage.sh [TARGET...]: line coverage of each fuzz target's corpus, the figures for
# the docs. Each target is built with clang -fprofile-instr-generate -fcoverage-mapping and
# fuzz/replay.c as its main (no libFuzzer, no sanitizers: build-fuzz/cov-TARGET), run once
# over build-fuzz/corpus-TARGET (or, before any fuzzing, its seeds and regressions), and
# llvm-cov-14 reports the lines run in the source files that target is about, with their
# total. For bench_parse, whose subject is Lua, the Lua lines run are counted too: lines of
# lua/pgo/bench.lua and bench_stats.lua that hold code (luac5.4 -l lists them) and ran.
# Default targets: every fuzz target. Profiles go to build-fuzz/cov/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=fuzz/run.sh
source fuzz/run.sh

profdata=${LLVM_PROFDATA:-llvm-profdata-14}
llvmcov=${LLVM_COV:-llvm-cov-14}
for tool in clang "$profdata" "$llvmcov"; do
  command -v "$tool" >/dev/null || { echo "fuzz/coverage.sh: needs $tool" >&2; exit 2; }
done

# The source files whose coverage says how well a target exercises its subject.
subject_files() {
  case "$1" in
    profile_*) ls src/profile/*.c ;;
    elf_*) echo src/symbols/elf.c src/symbols/pclntab.c src/symbols/buildinfo.c ;;
    gosource_*) echo src/symbols/gosource.c ;;
    net_base64) echo src/net/transport.c ;;
    net_http1) echo src/net/http1.c ;;
    net_http_response) echo src/net/transport.c ;;
    bench_*) echo "fuzz/$1.c" ;;
    *) ls src/*/*.c ;;
  esac
}

# Lua lines with code: the [line] column of luac's listing of every function.
lua_code_lines() {
  luac5.4 -l -l -p "$1" | sed -n 's/^[[:space:]]*[0-9][0-9]*[[:space:]]*\[\([0-9][0-9]*\)\].*/\1/p' |
    sort -un
}

lua_coverage() {
  local hits=$1 file code ran total_code=0 total_ran=0
  for file in lua/pgo/bench.lua lua/pgo/bench_stats.lua; do
    code=$(lua_code_lines "$file")
    ran=$(echo "$code" | awk -F'\t' -v src="@[embedded] $file" '
            FILENAME == "-" { code[$1] = 1; next }
            $1 == src && ($2 in code) && !seen[$2]++ { n++ }
            END { print n + 0 }' - "$hits")
    code=$(echo "$code" | wc -l)
    printf '  %-28s %5d of %5d Lua lines with code ran (%.1f%%)\n' "$file" "$ran" "$code" \
      "$(awk -v a="$ran" -v b="$code" 'BEGIN { print b ? 100 * a / b : 0 }')"
    total_code=$((total_code + code))
    total_ran=$((total_ran + ran))
  done
  printf '  %-28s %5d of %5d (%.1f%%)\n' "Lua total" "$total_ran" "$total_code" \
    "$(awk -v a="$total_ran" -v b="$total_code" 'BEGIN { print b ? 100 * a / b : 0 }')"
}

mkdir -p "$FUZZ_OUT/cov"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(fuzz_all_targets | xargs -n1 basename | sed 's/\.c$//')
fi
for name in "${targets[@]}"; do
  name=$(basename "$name" .c)
  binary="$FUZZ_OUT/cov-$name"
  CC=clang REPLAY_FLAGS="-O0 -g -fprofile-instr-generate -fcoverage-mapping" \
    REPLAY_BINARY="$binary" fuzz/replay.sh "$name"
  inputs=()
  if [ -d "$FUZZ_OUT/corpus-$name" ]; then
    inputs=("$FUZZ_OUT/corpus-$name")
  else
    for d in "fuzz/seeds/$name" "fuzz/regressions/$name"; do [ -d "$d" ] && inputs+=("$d"); done
  fi
  if [ ${#inputs[@]} -eq 0 ]; then
    echo "== $name: no corpus, seeds or regressions to run"
    continue
  fi
  rm -f "$FUZZ_OUT/cov/$name".*
  count=$(find "${inputs[@]}" -type f | wc -l)
  echo "== $name: $count inputs from ${inputs[*]}"
  LLVM_PROFILE_FILE="$FUZZ_OUT/cov/$name.%p.profraw" PGOLUA_FUZZ_LUA_LINES="$FUZZ_OUT/cov/$name.lualines" \
    "$binary" "${inputs[@]}" > "$FUZZ_OUT/cov/$name.log" 2>&1 ||
    { echo "   the replay failed (see $FUZZ_OUT/cov/$name.log): a finding; replay it with fuzz/replay.sh"; }
  "$profdata" merge -sparse -o "$FUZZ_OUT/cov/$name.profdata" "$FUZZ_OUT/cov/$name".*.profraw
  # shellcheck disable=SC2046
  "$llvmcov" report "$binary" -instr-profile="$FUZZ_OUT/cov/$name.profdata" $(subject_files "$name") |
    awk 'NR > 2 && NF >= 10 && $1 !~ /^-/ {
           sub("^'"$PWD"'/", "", $1)
           printf "  %-28s %5d of %5d lines (%s)\n", $1, $8 - $9, $8, $10 }'
  if [ -s "$FUZZ_OUT/cov/$name.lualines" ]; then lua_coverage "$FUZZ_OUT/cov/$name.lualines"; fi
done
