#!/usr/bin/env bash
# benchparse.sh: how fast pgo.bench reads Go benchmark logs. Generates a ~100 MB
# `go test -bench` log (cached in bench/out/), then times pgo.bench.load on it with
# ./pgolua, next to two floors in the same run: reading the file into a Lua string and
# splitting it into lines with string.find. Prints MB/s for each.
#
#   bench/benchparse.sh             # 100 MB
#   BENCHPARSE_MB=20 bench/benchparse.sh
#   BENCH_RUNS=5 bench/benchparse.sh (median of the runs; default 3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=bench/out
mkdir -p "$OUT"
MB=${BENCHPARSE_MB:-100}
RUNS=${BENCH_RUNS:-3}
PGOLUA=${PGOLUA:-./pgolua}
[ -x "$PGOLUA" ] || { echo "benchparse.sh: $PGOLUA not built; run make first" >&2; exit 1; }
LOG=$OUT/bench-${MB}mb.txt

# A realistic log: several packages (goos/goarch/pkg/cpu headers), sub-benchmarks with
# GOMAXPROCS suffixes, -count=10 repeats, ns/op B/op allocs/op, MB/s on some, a custom
# metric on others, go test -v noise (=== RUN, --- BENCH, bare names), PASS/ok lines.
if [ ! -s "$LOG" ]; then
  echo "generating $LOG (${MB} MB)" >&2
  awk -v limit=$((MB * 1000000)) 'BEGIN {
    srand(42); bytes = 0; pkg = 0
    while (bytes < limit) {
      pkg++
      out = sprintf("goos: linux\ngoarch: amd64\npkg: example.com/svc/internal/p%d\ncpu: Intel(R) Xeon(R) Processor @ 2.20GHz\n", pkg)
      for (b = 1; b <= 12; b++) {
        name = sprintf("BenchmarkHandler%d/size=%d/mode=%s-8", b, 2 ^ (b % 7) * 64, (b % 2) ? "fast" : "slow")
        out = out sprintf("=== RUN   %s\nBenchmarkHandler%d\n", name, b)
        for (c = 1; c <= 10; c++) {
          ns = 1000 * b + rand() * 50; bo = 64 * b; al = b % 5
          line = sprintf("%s   \t%8d\t%10.1f ns/op\t%8d B/op\t%6d allocs/op", name, int(1e9 / ns), ns, bo, al)
          if (b % 3 == 0) line = line sprintf("\t%8.2f MB/s", 64000 / ns)
          if (b % 4 == 0) line = line sprintf("\t%6.3f hits/op", rand())
          out = out line "\n"
        }
        out = out sprintf("--- BENCH: %s\n    handler_test.go:42: warmup done\n", name)
      }
      out = out sprintf("PASS\nok  \texample.com/svc/internal/p%d\t%.3fs\n", pkg, 20 + rand() * 5)
      printf "%s", out
      bytes += length(out)
    }
  }' > "$LOG.tmp" && mv "$LOG.tmp" "$LOG"
fi
SIZE=$(stat -c %s "$LOG")

cat > "$OUT/benchparse.lua" <<'LUA'
local path, what = arg[1], arg[2]
local clock = os.clock
local f = assert(io.open(path, "rb"))
local t0 = clock()
local text = f:read("a"); f:close()
local t1 = clock()
local n = 0
if what == "lines" then
  local find, pos = string.find, 1
  while true do
    local nl = find(text, "\n", pos, true)
    if not nl then break end
    n = n + 1; pos = nl + 1
  end
elseif what == "parse" then
  local bench = require "pgo.bench"
  local s = bench.parse(text, "log")
  n = s.results
end
local t2 = clock()
io.write(string.format("%.4f %.4f %d\n", t1 - t0, t2 - t1, n))
LUA

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() {   # run WHAT -> median seconds of the timed part
  local what=$1 i
  for ((i = 0; i < RUNS; i++)); do
    "$PGOLUA" "$OUT/benchparse.lua" "$LOG" "$what" | awk -v w="$what" '{ print (w == "read") ? $1 : $2 }'
  done | median
}
results=$("$PGOLUA" "$OUT/benchparse.lua" "$LOG" parse | awk '{print $3}')
t_read=$(run read)
t_lines=$(run lines)
t_parse=$(run parse)
mbps() { awk -v s="$SIZE" -v t="$1" 'BEGIN { if (t > 0) printf "%.1f", s / 1e6 / t; else print "inf" }'; }
echo
echo "input: $LOG, $(awk -v s="$SIZE" 'BEGIN{printf "%.1f", s/1e6}') MB, $results result lines (median of $RUNS runs, CPU seconds)"
printf '%-36s %10s %10s\n' "step" "seconds" "MB/s"
printf '%-36s %10s %10s\n' "read file into a string (floor)" "$t_read" "$(mbps "$t_read")"
printf '%-36s %10s %10s\n' "split into lines (floor)" "$t_lines" "$(mbps "$t_lines")"
printf '%-36s %10s %10s\n' "pgo.bench.parse (all of it)" "$t_parse" "$(mbps "$t_parse")"
