#!/usr/bin/env bash
# loadtest.sh: the load driver's throughput (pgo.load_test, src/net/loaddriver.c) against
# wrk on the same loopback server in the same run: examples/service's /healthz route,
# the same connections and the same duration, runs interleaved (wrk, pgolua, wrk, ...),
# median requests/s of BENCH_RUNS runs each.
#
#   bench/loadtest.sh                      # c = 10 and 50, 5 s per run, 3 runs (~2.5 min)
#   LOADTEST_C="10" LOADTEST_SECONDS=3 BENCH_RUNS=5 bench/loadtest.sh
#
# Needs: wrk (apt-get install -y wrk), Go (GO=..., default /usr/lib/go-1.23/bin/go) to
# build the service, ./pgolua built. wrk runs with -t1 (one thread, like the driver) and
# with its default -t2; pgolua with both engines (raw, the default, and curl); the ratio
# columns divide pgolua's requests/s by wrk's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=bench/out
mkdir -p "$OUT"
PGOLUA=${PGOLUA:-./pgolua}
GO=${GO:-$(command -v /usr/lib/go-1.23/bin/go || command -v go || true)}
RUNS=${BENCH_RUNS:-3}
SECS=${LOADTEST_SECONDS:-5}
CONNS=${LOADTEST_C:-10 50}
command -v wrk >/dev/null || { echo "loadtest.sh: wrk not found (apt-get install -y wrk)" >&2; exit 1; }
[ -n "$GO" ] || { echo "loadtest.sh: Go not found (set GO=)" >&2; exit 1; }
[ -x "$PGOLUA" ] || { echo "loadtest.sh: $PGOLUA not built; run make first" >&2; exit 1; }

echo "building examples/service" >&2
(cd examples/service && GOTOOLCHAIN=local GOFLAGS=-buildvcs=false "$GO" build -o "$ROOT/$OUT/service" ./cmd/service)
LOG=$OUT/service.log
SERVICE_ADDR=127.0.0.1:0 "$OUT/service" </dev/null >/dev/null 2>"$LOG" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
ADDR=
for _ in $(seq 100); do
  ADDR=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$LOG" | sed 's|.*http://||' || true)
  [ -n "$ADDR" ] && break
  sleep 0.05
done
[ -n "$ADDR" ] || { echo "loadtest.sh: the service did not start" >&2; cat "$LOG" >&2; exit 1; }
URL="http://$ADDR/healthz"

cat > "$OUT/loadtest.lua" <<'LUA'
local url, c, secs, engine = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4]
local r = assert(require("pgo").load_test { url = url, c = c, duration = secs, engine = engine })
io.write(string.format("%.1f %d %.6f %.6f\n", r.rps, r.error_count, r.latency.p50, r.latency.p99))
LUA

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wrk_rps() { wrk -t"$1" -c"$2" -d"${SECS}s" "$URL" | awk '/^Requests\/sec:/ {print $2}'; }
lua_rps() { "$PGOLUA" "$OUT/loadtest.lua" "$URL" "$1" "$SECS" "$2" | awk '{print $1}'; }

# warm the server up
wrk -t1 -c10 -d1s "$URL" >/dev/null
echo
echo "server: examples/service /healthz at $ADDR; $SECS s per run, median of $RUNS runs; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %13s %13s %13s %13s %8s %8s %8s\n' "conns" "wrk -t1" "wrk -t2" "pgolua raw" \
  "pgolua curl" "raw/t1" "raw/t2" "curl/t1"
for c in $CONNS; do
  w1=(); w2=(); p=(); q=()
  for ((i = 0; i < RUNS; i++)); do
    w1+=("$(wrk_rps 1 "$c")")
    p+=("$(lua_rps "$c" raw)")
    w2+=("$(wrk_rps 2 "$c")")
    q+=("$(lua_rps "$c" curl)")
  done
  m1=$(printf '%s\n' "${w1[@]}" | median)
  m2=$(printf '%s\n' "${w2[@]}" | median)
  mp=$(printf '%s\n' "${p[@]}" | median)
  mq=$(printf '%s\n' "${q[@]}" | median)
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
  printf '%-6s %13s %13s %13s %13s %8s %8s %8s\n' "$c" "$m1" "$m2" "$mp" "$mq" \
    "$(ratio "$mp" "$m1")" "$(ratio "$mp" "$m2")" "$(ratio "$mq" "$m1")"
done
echo "(requests/s; pgolua raw = the default engine, curl = engine=\"curl\")"
