#!/usr/bin/env bash
# run.sh: `make bench`. Times pgolua against the floor (gzip -dc) and the reference tool
# (go tool pprof) on the same inputs in the same run, and prints a table of medians.
#
#   bench/run.sh                 # default run, a few minutes
#   BENCH_BIG=1 bench/run.sh     # also merge 3 x 1M-sample profiles (slow for Go)
#   BENCH_RUNS=5 bench/run.sh    # repetitions per measurement (median reported)
#
# Environment: PGOLUA (binary, default ./pgolua), GO (go command), PGOLUA_SHARED (the
# shared tree with fixtures, default ../shared next to the repo), CC.
# Outputs go to bench/out/ (gitignored): generated profiles (cached), results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=bench/out
mkdir -p "$OUT"
CC=${CC:-cc}
RUNS=${BENCH_RUNS:-3}
PGOLUA=${PGOLUA:-./pgolua}
SHARED=${PGOLUA_SHARED:-$ROOT/../shared}
NOTES=()
note() { NOTES+=("$*"); echo "note: $*" >&2; }

[ -x "$PGOLUA" ] || { echo "run.sh: $PGOLUA not built; run make first" >&2; exit 1; }
# time a snapshot: others may relink ./pgolua while this runs (its Lua half is embedded)
cp "$PGOLUA" "$OUT/pgolua.bench"
PGOLUA=$OUT/pgolua.bench

# ---- helpers: gen and inflate ------------------------------------------------------------
build() {   # build OUTPUT SOURCE FLAGS... : compile when the source is newer
  local bin=$1 src=$2; shift 2
  if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
    echo "CC $src" >&2
    "$CC" -std=c11 -O2 -Wall -Wextra -o "$bin" "$src" "$@"
  fi
}
build "$OUT/gen" bench/gen.c -lz -lm
build "$OUT/timeit" bench/timeit.c
HAVE_LIBDEFLATE=0
if printf '#include <libdeflate.h>\nint main(void){return 0;}\n' |
   "$CC" -x c - -o /dev/null -ldeflate 2>/dev/null; then
  HAVE_LIBDEFLATE=1
  build "$OUT/inflate" bench/inflate.c -DHAVE_LIBDEFLATE -lz -ldeflate
else
  note "libdeflate-dev not installed: in-process floor is zlib only (apt-get install -y libdeflate-dev)"
  build "$OUT/inflate" bench/inflate.c -lz
fi

# gen_profile SAMPLES SEED -> prints the cached path (regenerated when gen changes)
gen_profile() {
  local f="$OUT/cpu-n$1-f5000-d32-s$2.pb.gz"
  if [ ! -s "$f" ] || [ "$OUT/gen" -nt "$f" ]; then
    "$OUT/gen" --samples "$1" --functions 5000 --depth 32 --seed "$2" --out "$f.tmp" >&2
    mv "$f.tmp" "$f"
  fi
  echo "$f"
}

# ---- the reference tool --------------------------------------------------------------------
GO=${GO:-$(command -v /usr/lib/go-1.23/bin/go || command -v go || true)}
PPROF=()
if [ -n "$GO" ]; then
  # run the pprof binary itself, so the go command's own start-up is not timed
  if p=$("$GO" tool -n pprof 2>/dev/null) && [ -x "$p" ]; then PPROF=("$p"); else PPROF=("$GO" tool pprof); fi
else
  note "Go not found: go tool pprof rows skipped (set GO=/path/to/go)"
fi

# ---- measuring ---------------------------------------------------------------------------
RES="$OUT/results.tsv"      # case, tool, wall, MB, note
: > "$RES"

# measure CASE TOOL CMD... : RUNS runs, stdout to /dev/null, median wall s and peak RSS MB
# (bench/timeit: fork, exec, wait4; wall from CLOCK_MONOTONIC, peak RSS from ru_maxrss)
measure() {
  local case=$1 tool=$2; shift 2
  local t="$OUT/.time" e="$OUT/.stderr" walls=() rsss=() rc
  for ((i = 0; i < RUNS; i++)); do
    rc=0
    "$OUT/timeit" "$t" "$@" > /dev/null 2> "$e" || rc=$?
    if [ "$rc" = 77 ]; then
      printf '%s\t%s\t-\t-\tskipped: %s\n' "$case" "$tool" "$(tail -n1 "$e" | cut -c1-80)" >> "$RES"
      echo "  $case / $tool: skipped" >&2; return
    elif [ "$rc" != 0 ]; then
      printf '%s\t%s\t-\t-\tFAILED (exit %s): %s\n' "$case" "$tool" "$rc" \
        "$(tail -n1 "$e" | cut -c1-80)" >> "$RES"
      echo "  $case / $tool: FAILED" >&2; cat "$e" >&2; return
    fi
    read -r w k < <(tail -n1 "$t")
    walls+=("$w"); rsss+=("$k")
  done
  local mw mk
  mw=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
  mk=$(printf '%s\n' "${rsss[@]}" | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
  printf '%s\t%s\t%.3f\t%.1f\t\n' "$case" "$tool" "$mw" "$(awk -v k="$mk" 'BEGIN{print k/1024}')" >> "$RES"
  echo "  $case / $tool: ${mw}s $((mk / 1024))MB" >&2
}

go_measure() {   # like measure, but skipped with a note when Go is missing
  local case=$1 tool=$2; shift 2
  if [ ${#PPROF[@]} -eq 0 ]; then
    printf '%s\t%s\t-\t-\tskipped: Go not found\n' "$case" "$tool" >> "$RES"; return
  fi
  measure "$case" "$tool" "${PPROF[@]}" "$@"
}

FLOOR="gzip -dc (floor)"
REF_RAW="go tool pprof -raw"
bench_input() {   # bench_input LABEL FILE : floor, load, -raw, top
  local label=$1 f=$2
  echo "== $label ($f)" >&2
  measure "load $label" "$FLOOR" gzip -dc "$f"
  measure "load $label" "pgolua load+info" "$PGOLUA" bench/load.lua "$f"
  go_measure "load $label" "$REF_RAW" -raw "$f"
  measure "top $label" "$FLOOR" gzip -dc "$f"
  measure "top $label" "pgolua top 20" "$PGOLUA" bench/top.lua "$f"
  go_measure "top $label" "go tool pprof -top" -top "$f"
}

# ---- inputs ------------------------------------------------------------------------------
echo "generating profiles (cached in $OUT)" >&2
BIG=$(gen_profile 1000000 1)
SMALL=()
for s in 101 102 103 104 105 106 107 108 109 110; do SMALL+=("$(gen_profile 100000 "$s")"); done

bench_input "1M synthetic" "$BIG"
GRPC="$SHARED/fixtures/thirdparty/grpc-anon.pprof"
if [ -s "$GRPC" ]; then
  bench_input "grpc-anon (real)" "$GRPC"
else
  note "grpc-anon fixture not found at $GRPC (set PGOLUA_SHARED): its rows are skipped"
fi

echo "== merge" >&2
CASE="merge 10x100k"
measure "$CASE" "$FLOOR" gzip -dc "${SMALL[@]}"
measure "$CASE" "pgolua merge" "$PGOLUA" bench/merge.lua "$OUT/merged-pgolua.pb.gz" "${SMALL[@]}"
go_measure "$CASE" "go tool pprof -proto" -proto -output "$OUT/merged-go.pb.gz" "${SMALL[@]}"
if [ "${BENCH_BIG:-0}" = 1 ]; then
  BIG3=("$BIG" "$(gen_profile 1000000 2)" "$(gen_profile 1000000 3)")
  CASE="merge 3x1M"
  measure "$CASE" "$FLOOR" gzip -dc "${BIG3[@]}"
  measure "$CASE" "pgolua merge" "$PGOLUA" bench/merge.lua "$OUT/merged-pgolua.pb.gz" "${BIG3[@]}"
  go_measure "$CASE" "go tool pprof -proto" -proto -output "$OUT/merged-go.pb.gz" "${BIG3[@]}"
else
  note "merge of 3 x 1M samples skipped (BENCH_BIG=1 to run it; ~1 min)"
fi
rm -f "$OUT/merged-pgolua.pb.gz" "$OUT/merged-go.pb.gz"

# ---- the compiler's view: preprofile vs go tool preprofile; a source scan ------------------
PREPROF=()
if [ -n "$GO" ] && p=$("$GO" tool -n preprofile 2>/dev/null) && [ -x "$p" ]; then PREPROF=("$p"); fi
preprofile_case() {   # preprofile_case LABEL FILE
  local case="preprofile $1" f=$2
  measure "$case" "$FLOOR" gzip -dc "$f"
  measure "$case" "pgolua preprofile" "$PGOLUA" bench/preprofile.lua "$f" "$OUT/pre-pgolua.txt"
  if [ ${#PREPROF[@]} -gt 0 ]; then
    measure "$case" "go tool preprofile" "${PREPROF[@]}" -i "$f" -o "$OUT/pre-go.txt"
    cmp -s "$OUT/pre-pgolua.txt" "$OUT/pre-go.txt" || note "preprofile $1: outputs DIFFER"
  fi
}
echo "== preprofile" >&2
preprofile_case "1M synthetic" "$BIG"
[ -s "$GRPC" ] && preprofile_case "grpc-anon (real)" "$GRPC"
rm -f "$OUT/pre-pgolua.txt" "$OUT/pre-go.txt"
GOSRC=$( [ -n "$GO" ] && "$GO" env GOROOT 2>/dev/null)/src
if [ -d "$GOSRC" ]; then
  echo "== source scan of $GOSRC" >&2
  measure "go_source GOROOT/src" "pgolua go_source" "$PGOLUA" bench/gosource.lua "$GOSRC"
  note "$("$PGOLUA" bench/gosource.lua "$GOSRC" 2>&1 | tail -n1)"
fi
rm -f "$OUT/.time" "$OUT/.stderr"

# ---- in-process floor: zlib (what pgolua uses) vs libdeflate ---------------------------------
echo "== in-process inflate of $BIG" >&2
INFL=$("$OUT/inflate" "$BIG" 5)
LOAD_S=$(awk -F'\t' '$1=="load 1M synthetic" && $2=="pgolua load+info" {print $3}' "$RES")

# ---- the table -----------------------------------------------------------------------------
# ratios: wall / reference (the go tool pprof row of the same case), wall / floor
table() {   # table text|md
  awk -F'\t' -v fmt="$1" -v floor="$FLOOR" '
    { c[NR]=$1; t[NR]=$2; w[NR]=$3; m[NR]=$4; n[NR]=$5
      if ($2 == floor) fl[$1]=$3
      if ($2 ~ /^go tool / && $3 != "-") { rw[$1]=$3; rm[$1]=$4 } }
    function ratio(a, b) { return (a == "-" || b == "" || b == "-" || b+0 == 0) ? "-" : sprintf("%.2fx", a/b) }
    END {
      if (fmt == "md") {
        print "| case | tool | wall s | peak MB | wall vs go | MB vs go | wall vs floor | note |"
        print "|---|---|---:|---:|---:|---:|---:|---|"
      } else {
        printf "%-22s %-22s %8s %9s %10s %9s %13s  %s\n", "case", "tool", "wall s", "peak MB",
               "wall/go", "MB/go", "wall/floor", "note"
      }
      for (i = 1; i <= NR; i++) {
        a = ratio(w[i], rw[c[i]]); b = ratio(m[i], rm[c[i]]); f = ratio(w[i], fl[c[i]])
        if (fmt == "md") printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", c[i], t[i], w[i], m[i], a, b, f, n[i]
        else printf "%-22s %-22s %8s %9s %10s %9s %13s  %s\n", c[i], t[i], w[i], m[i], a, b, f, n[i]
      }
    }' "$RES"
}
inflate_lines() {   # inflate_lines text|md
  local bytes
  bytes=$(echo "$INFL" | awk 'NR==1{print $4}')
  echo "$INFL" | awk -v fmt="$1" -v load="$LOAD_S" -v mb="$bytes" '
    BEGIN { if (fmt == "md") { print "| inflator | seconds | MB/s | pgolua load / inflate |"; print "|---|---:|---:|---:|" } }
    { r = (load == "" || load == "-") ? "-" : sprintf("%.1fx", load / $2)
      if (fmt == "md") printf "| %s | %.3f | %.0f | %s |\n", $1, $2, $3, r
      else printf "  %-11s %7.3f s %6.0f MB/s   pgolua load+info is %s this\n", $1, $2, $3, r }'
  if [ "$HAVE_LIBDEFLATE" = 1 ]; then
    echo "$INFL" | awk -v fmt="$1" '{ t[$1]=$2 } END {
      s = sprintf("libdeflate inflates %.2fx as fast as zlib; it saves %.3f s per 1M-sample load.", t["zlib"]/t["libdeflate"], t["zlib"]-t["libdeflate"])
      print (fmt == "md" ? "\n" s : "  " s) }'
  fi
}

{
  echo
  echo "pgolua bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, median of $RUNS runs"
  table text
  echo
  echo "in-process gunzip of the 1M-sample profile ($(echo "$INFL" | awk 'NR==1{printf "%.1f MB", $4/1e6}') out), median of 5:"
  inflate_lines text
  for n in "${NOTES[@]}"; do echo "note: $n"; done
}

{
  echo "# pgolua bench results"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -m), median of $RUNS runs each."
  echo "Ratios compare rows of the same run: \"vs go\" against the go tool pprof row of the"
  echo "same case, \"vs floor\" against gzip -dc of the same input(s)."
  echo
  table md
  echo
  echo "## In-process gunzip of the 1M-sample profile (the floor for a decoder)"
  echo
  inflate_lines md
  if [ ${#NOTES[@]} -gt 0 ]; then echo; for n in "${NOTES[@]}"; do echo "- $n"; done; fi
} > "$OUT/results.md"
echo "written: $OUT/results.md"
