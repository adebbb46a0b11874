#!/usr/bin/env bash
# run.sh: `make bench`. Times pgolua against the floor (gzip -dc) and the reference tool
# (go tool pprof) on the same inputs in the same run, and prints a table of medians.
#
#   bench/run.sh                 # default run, a few minutes
#   BENCH_BIG=1 bench/run.sh     # also merge 3 x 1M-sample profiles (slow for Go)
#   BENCH_RUNS=5 bench/run.sh    # repetitions per measurement (median reported)
#
# Environment: PGOLUA (binary, default ./pgolua), GO (go command), PGOLUA_SHARED (another
# tree with fixtures/; default: the repository's testdata/), CC.
# Outputs go to bench/out/ (gitignored): generated profiles (cached), results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=bench/out
mkdir -p "$OUT"
CC=${CC:-cc}
RUNS=${BENCH_RUNS:-3}
PGOLUA=${PGOLUA:-./pgolua}
FIXTURES=${PGOLUA_SHARED:+$PGOLUA_SHARED/fixtures}
FIXTURES=${FIXTURES:-$ROOT/testdata}
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

# The three shapes of the bench (bench/README.md, "The synthetic profiles"): gen options.
declare -A SHAPE=(
  [high]="--functions 5000 --depth 32"
  [low]="--functions 20000 --depth 24 --share low --labels 1"
  [deep]="--functions 20000 --depth 120 --recursion 5 --inline 30 --labels 3"
)
SHAPES=(${BENCH_SHAPES:-high low deep})
SAMPLES=${BENCH_SAMPLES:-1000000}
# gen_profile SHAPE SAMPLES SEED -> prints the cached path (regenerated when gen changes)
gen_profile() {
  local f="$OUT/$1-n$2-s$3.pb.gz"
  if [ ! -s "$f" ] || [ "$OUT/gen" -nt "$f" ]; then
    # shellcheck disable=SC2086 # the shape's options are words
    "$OUT/gen" --samples "$2" ${SHAPE[$1]} --seed "$3" --out "$f.tmp" >&2
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
# extra reference rows (BENCH_REFS=1): Go 1.26 at /usr/local/go and pprof HEAD (pinned);
# the ratio columns stay against GO's pprof
EXTRA_REFS=()
if [ "${BENCH_REFS:-0}" = 1 ]; then
  [ -x /usr/local/go/bin/go ] && p=$(/usr/local/go/bin/go tool -n pprof 2>/dev/null) &&
    EXTRA_REFS+=("go1.26 pprof|$p")
  p=$(scripts/gotool.sh pprof 2>/dev/null) && EXTRA_REFS+=("pprof HEAD|$p")
fi

# ---- measuring ---------------------------------------------------------------------------
RES="$OUT/results.tsv"      # case, tool, wall, MB, note
: > "$RES"

# measure CASE TOOL CMD... : RUNS runs, stdout to /dev/null, median wall s, peak RSS MB and
# CPU s (bench/timeit: fork, exec, wait4; wall from CLOCK_MONOTONIC, peak RSS from
# ru_maxrss, CPU = user + system). results.tsv: case tool wall MB note cpu
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
measure() {
  local case=$1 tool=$2; shift 2
  local t="$OUT/.time" e="$OUT/.stderr" walls=() rsss=() cpus=() rc
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
    read -r w k c < <(tail -n1 "$t")
    walls+=("$w"); rsss+=("$k"); cpus+=("$c")
  done
  local mw mk mc
  mw=$(median "${walls[@]}"); mk=$(median "${rsss[@]}"); mc=$(median "${cpus[@]}")
  printf '%s\t%s\t%.3f\t%.1f\t\t%.3f\n' "$case" "$tool" "$mw" "$(awk -v k="$mk" 'BEGIN{print k/1024}')" \
    "$mc" >> "$RES"
  echo "  $case / $tool: ${mw}s $((mk / 1024))MB cpu ${mc}s" >&2
}

go_measure() {   # like measure, but skipped with a note when Go is missing
  local case=$1 tool=$2; shift 2
  if [ ${#PPROF[@]} -eq 0 ]; then
    printf '%s\t%s\t-\t-\tskipped: Go not found\n' "$case" "$tool" >> "$RES"; return
  fi
  measure "$case" "$tool" "${PPROF[@]}" "$@"
}

FLOOR="gzip -dc (floor)"
bench_input() {   # bench_input LABEL FILE : floor, load, -raw, top
  local label=$1 f=$2
  echo "== $label ($f)" >&2
  measure "load $label" "$FLOOR" gzip -dc "$f"
  measure "load $label" "pgolua load+info" "$PGOLUA" bench/load.lua "$f"
  measure "top $label" "$FLOOR" gzip -dc "$f"
  measure "top $label" "pgolua top 20" "$PGOLUA" bench/top.lua "$f"
  go_measure "top $label" "go tool pprof -top" -top "$f"
}

extra_measure() {   # extra_measure CASE VERB ARGS... : the BENCH_REFS=1 rows
  local case=$1 verb=$2 r; shift 2
  for r in ${EXTRA_REFS[@]+"${EXTRA_REFS[@]}"}; do measure "$case" "${r%%|*} $verb" "${r#*|}" "$@"; done
}

# ---- inputs ------------------------------------------------------------------------------
echo "generating profiles (cached in $OUT)" >&2
declare -A INPUT
for s in "${SHAPES[@]}"; do INPUT[$s]=$(gen_profile "$s" "$SAMPLES" 1); done
SMALL=()
if [ "${BENCH_EXTRAS:-1}" != 0 ]; then
  for s in 101 102 103 104 105 106 107 108 109 110; do SMALL+=("$(gen_profile high 100000 "$s")"); done
fi

PREPROF=()
if [ -n "$GO" ] && p=$("$GO" tool -n preprofile 2>/dev/null) && [ -x "$p" ]; then PREPROF=("$p"); fi
preprofile_case() {   # preprofile_case LABEL FILE
  local case="preprofile $1" f=$2
  measure "$case" "$FLOOR" gzip -dc "$f"
  measure "$case" "pgolua preprofile" "$PGOLUA" bench/preprofile.lua "$f" "$OUT/pre-pgolua.txt"
  if [ ${#PREPROF[@]} -gt 0 ]; then
    measure "$case" "go tool preprofile" "${PREPROF[@]}" -i "$f" -o "$OUT/pre-go.txt"
    if cmp -s "$OUT/pre-pgolua.txt" "$OUT/pre-go.txt"; then note "preprofile $1: outputs identical"
    else note "preprofile $1: outputs DIFFER"; fi
  fi
  rm -f "$OUT/pre-pgolua.txt" "$OUT/pre-go.txt"
}
tags_case() {   # tags_case LABEL FILE
  measure "tags $1" "pgolua tags" "$PGOLUA" bench/tags.lua "$2"
  go_measure "tags $1" "go tool pprof -tags" -tags "$2"
  extra_measure "tags $1" "-tags" -tags "$2"
}
merge_case() {   # merge_case LABEL FILES... : merge and write, then compare pprof -raw of both
  local case="merge $1"; shift
  measure "$case" "$FLOOR" gzip -dc "$@"
  measure "$case" "pgolua merge" "$PGOLUA" bench/merge.lua "$OUT/merged-pgolua.pb.gz" "$@"
  go_measure "$case" "go tool pprof -proto" -proto -output "$OUT/merged-go.pb.gz" "$@"
  if [ ${#PPROF[@]} -gt 0 ] && [ -s "$OUT/merged-pgolua.pb.gz" ] && [ -s "$OUT/merged-go.pb.gz" ]; then
    if cmp -s <("${PPROF[@]}" -raw "$OUT/merged-pgolua.pb.gz" 2>&1) \
              <("${PPROF[@]}" -raw "$OUT/merged-go.pb.gz" 2>&1); then
      note "merge $case: pprof -raw of both outputs identical"
    else note "merge $case: pprof -raw outputs DIFFER"; fi
  fi
  rm -f "$OUT/merged-pgolua.pb.gz" "$OUT/merged-go.pb.gz"
}

declare -A INFL_S
for s in "${SHAPES[@]}"; do
  f=${INPUT[$s]}
  label="$s $((SAMPLES / 1000))k"
  bench_input "$label" "$f"
  extra_measure "top $label" "-top" -top "$f"
  tags_case "$label" "$f"
  preprofile_case "$label" "$f"
  INFL_S[$s]=$("$OUT/inflate" "$f" 3 | awk '$1=="zlib"{print $2}')
done
# the merges after every shape's single-file rows: on a busy machine the slow Go merges
# come last, so a run cut short still has every shape's other rows
for s in "${SHAPES[@]}"; do
  [ "${BENCH_BIG:-0}" = 1 ] || break
  merge_case "$s 3x$((SAMPLES / 1000))k" "${INPUT[$s]}" "$(gen_profile "$s" "$SAMPLES" 2)" \
    "$(gen_profile "$s" "$SAMPLES" 3)"
done
[ "${BENCH_BIG:-0}" = 1 ] || note "merges of 3 x $SAMPLES samples skipped (BENCH_BIG=1 to run them)"

echo "== hostile inputs (must end in too_large under the default budget)" >&2
[ -s "$OUT/deep_stacks.gz" ] || "$PGOLUA" bench/hostile.lua make "$OUT"
for h in deep_stacks huge_string empty_strings; do
  measure "hostile $h" "pgolua too_large" "$PGOLUA" bench/hostile.lua decode "$OUT/$h.gz"
done

GRPC="$FIXTURES/thirdparty/grpc-anon.pprof"
if [ "${BENCH_EXTRAS:-1}" = 0 ]; then
  note "BENCH_EXTRAS=0: the grpc-anon, merge 10x100k and source scan rows skipped"
elif [ -s "$GRPC" ]; then
  bench_input "grpc-anon (real)" "$GRPC"
  preprofile_case "grpc-anon (real)" "$GRPC"
else
  note "grpc-anon fixture not found at $GRPC (set PGOLUA_SHARED): its rows are skipped"
fi

if [ "${BENCH_EXTRAS:-1}" != 0 ]; then
  echo "== merge" >&2
  merge_case "10x100k" "${SMALL[@]}"
fi

GOSRC=$( [ -n "$GO" ] && "$GO" env GOROOT 2>/dev/null)/src
if [ "${BENCH_EXTRAS:-1}" != 0 ] && [ -d "$GOSRC" ]; then
  echo "== source scan of $GOSRC" >&2
  measure "go_source GOROOT/src" "pgolua go_source" "$PGOLUA" bench/gosource.lua "$GOSRC"
  note "$("$PGOLUA" bench/gosource.lua "$GOSRC" 2>&1 | tail -n1)"
fi
rm -f "$OUT/.time" "$OUT/.stderr"

# load against the in-process gunzip of the same file (zlib, median of 3)
for s in "${SHAPES[@]}"; do
  l=$(awk -F'\t' -v c="load $s $((SAMPLES / 1000))k" '$1==c && $2=="pgolua load+info" {print $3}' "$RES")
  [ -n "$l" ] && [ "$l" != - ] &&
    note "load $s: $l s vs in-process gunzip ${INFL_S[$s]} s ($(awk -v a="$l" -v b="${INFL_S[$s]}" 'BEGIN{printf "%.1fx", a/b}'))"
done

# ---- in-process floor: zlib (what pgolua uses) vs libdeflate ---------------------------------
BIG=${INPUT[${SHAPES[0]}]}
echo "== in-process inflate of $BIG" >&2
INFL=$("$OUT/inflate" "$BIG" 5)
LOAD_S=$(awk -F'\t' -v c="load ${SHAPES[0]} $((SAMPLES / 1000))k" '$1==c && $2=="pgolua load+info" {print $3}' "$RES")

# ---- the table -----------------------------------------------------------------------------
# ratios: wall / reference (the go tool pprof row of the same case), wall / floor
table() {   # table text|md
  awk -F'\t' -v fmt="$1" -v floor="$FLOOR" '
    { c[NR]=$1; t[NR]=$2; w[NR]=$3; m[NR]=$4; n[NR]=$5; u[NR]=($6 == "" ? "-" : $6)
      if ($2 == floor) fl[$1]=$3
      if ($2 ~ /^go tool / && $3 != "-") { rw[$1]=$3; rm[$1]=$4; ru[$1]=u[NR] } }
    function ratio(a, b) { return (a == "-" || b == "" || b == "-" || b+0 == 0) ? "-" : sprintf("%.2fx", a/b) }
    END {
      if (fmt == "md") {
        print "| case | tool | wall s | peak MB | cpu s | wall vs go | MB vs go | cpu vs go | wall vs floor | note |"
        print "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
      } else {
        printf "%-22s %-22s %8s %9s %8s %10s %9s %9s %13s  %s\n", "case", "tool", "wall s", "peak MB",
               "cpu s", "wall/go", "MB/go", "cpu/go", "wall/floor", "note"
      }
      for (i = 1; i <= NR; i++) {
        a = ratio(w[i], rw[c[i]]); b = ratio(m[i], rm[c[i]]); f = ratio(w[i], fl[c[i]])
        d = ratio(u[i], ru[c[i]])
        if (fmt == "md") printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c[i], t[i], w[i], m[i], u[i], a, b, d, f, n[i]
        else printf "%-22s %-22s %8s %9s %8s %10s %9s %9s %13s  %s\n", c[i], t[i], w[i], m[i], u[i], a, b, d, f, n[i]
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
  echo "in-process gunzip of $BIG ($(echo "$INFL" | awk 'NR==1{printf "%.1f MB", $4/1e6}') out), median of 5:"
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
  echo "## In-process gunzip of $BIG (the floor for a decoder)"
  echo
  inflate_lines md
  if [ ${#NOTES[@]} -gt 0 ]; then echo; for n in "${NOTES[@]}"; do echo "- $n"; done; fi
} > "$OUT/results.md"
echo "written: $OUT/results.md"
