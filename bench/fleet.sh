#!/usr/bin/env bash
# bench/fleet.sh: wall and CPU time of pgo.fetch.fleet over N loopback endpoints that
# serve a canned ~1 MB CPU profile, against a serial `curl` loop over the same URLs.
#
#   bench/fleet.sh                      # N=50, window 1 s, then window 0 (instant answers)
#   FLEET_N=20 FLEET_WINDOW=2 bench/fleet.sh
#
# The endpoints are one Go fake server (spec/support/fakeserver.go) listening on N
# loopback ports; with -honor-seconds it waits ?seconds=N before answering, as
# net/http/pprof does. Rows:
#   pgolua fleet      pgo.fetch.fleet: N concurrent transfers to temp files, each decoded
#                     and merged as it completes (download + decode + merge)
#   curl serial       for each URL: curl -o /dev/null (download only)
#   pgolua merge only pgo.merge_files over N local copies (the decode + merge share of
#                     the fleet's CPU time)
# CPU = user + sys of the process tree, from bash's `time`. Needs Go (GO=..., default
# /usr/lib/go-1.23/bin/go), a C compiler and zlib (for bench/gen.c), curl, ./pgolua.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-$(command -v /usr/lib/go-1.23/bin/go || command -v go || true)}
N=${FLEET_N:-50}
WINDOW=${FLEET_WINDOW:-1}
PGOLUA=${PGOLUA:-./pgolua}
[ -x "$PGOLUA" ] || { echo "fleet.sh: build ./pgolua first (make)" >&2; exit 1; }
[ -n "$GO" ] || { echo "fleet.sh: Go not found (GO=/path/to/go)" >&2; exit 1; }
command -v curl >/dev/null || { echo "fleet.sh: curl not found" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "building the fake server and the profile generator..." >&2
GOTOOLCHAIN=local GOPROXY=off GOFLAGS= "$GO" build -o "$work/fakeserver" spec/support/fakeserver.go
${CC:-cc} -O2 -o "$work/gen" bench/gen.c -lz -lm
"$work/gen" --samples 26000 --functions 5000 --depth 32 --seed 7 --out "$work/canned.pb.gz" >/dev/null
size=$(stat -c %s "$work/canned.pb.gz")

# start_server NAME [-honor-seconds]: N ports; prints nothing, fills $work/NAME.urls
start_server() {
  local name=$1; shift
  setsid "$work/fakeserver" -state "$work/$name.json" -profile "$work/canned.pb.gz" \
    -ports "$N" -max-life 15m "$@" >"$work/$name.log" 2>&1 </dev/null &
  pids+=($!)
  for _ in $(seq 200); do [ -s "$work/$name.json" ] && break; sleep 0.05; done
  [ -s "$work/$name.json" ] || { cat "$work/$name.log" >&2; exit 1; }
  grep -o '127\.0\.0\.1:[0-9]*' "$work/$name.json" | sed 's|^|http://|' >"$work/$name.urls"
  [ "$(wc -l <"$work/$name.urls")" -eq "$N" ] || { echo "expected $N ports" >&2; exit 1; }
}

cat >"$work/fleet.lua" <<'EOF'
local pgo = require "pgo"
local urls = {}
for line in io.lines(arg[1]) do urls[#urls + 1] = line end
local p, results = pgo.fetch.fleet(urls, { seconds = tonumber(arg[2]), concurrency = #urls,
  quiet = true, dir = arg[3], min_success = #urls, retries = 0 })
assert(p, results)
local bytes = 0
for _, r in ipairs(results) do bytes = bytes + r.bytes end
io.stderr:write(("merged %d samples from %d captures, %d bytes\n"):format(p:info().samples,
  results.succeeded, bytes))
EOF

cat >"$work/merge.lua" <<'EOF'
local pgo = require "pgo"
local files = {}
for i = 1, tonumber(arg[2]) do files[i] = arg[1] end
local p = assert(pgo.merge_files(files))
io.stderr:write(("merged %d samples\n"):format(p:info().samples))
EOF

# timed LABEL CMD...: prints "LABEL<TAB>wall<TAB>user<TAB>sys"
timed() {
  local label=$1; shift
  local t
  t=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>"$work/last.err"; } 2>&1 ) ||
    { cat "$work/last.err" >&2; exit 1; }
  set -- $t
  printf '%s\t%s\t%s\t%s\n' "$label" "$1" "$2" "$3"
}

serial_curl() {  # URLS_FILE SECONDS
  while read -r u; do
    curl -sS --fail -o /dev/null "$u/debug/pprof/profile?seconds=$2"
  done <"$1"
}

start_server windowed -honor-seconds
start_server instant

rows=()
rows+=("$(timed "window ${WINDOW}s: pgolua fleet (c=$N)" "$PGOLUA" "$work/fleet.lua" "$work/windowed.urls" "$WINDOW" "$work")")
rows+=("$(timed "window ${WINDOW}s: curl serial" serial_curl "$work/windowed.urls" "$WINDOW")")
rows+=("$(timed "window 0: pgolua fleet (c=$N)" "$PGOLUA" "$work/fleet.lua" "$work/instant.urls" 1 "$work")")
rows+=("$(timed "window 0: curl serial" serial_curl "$work/instant.urls" 1)")
rows+=("$(timed "pgolua merge only ($N local copies)" "$PGOLUA" "$work/merge.lua" "$work/canned.pb.gz" "$N")")

echo
echo "fleet capture: $N loopback endpoints, canned profile $size bytes (gzip), $(nproc) CPUs"
printf '%-42s %8s %8s %8s %8s\n' "case" "wall s" "user s" "sys s" "cpu s"
for r in "${rows[@]}"; do
  IFS=$'\t' read -r label wall user sys <<<"$r"
  printf '%-42s %8.2f %8.2f %8.2f %8.2f\n' "$label" "$wall" "$user" "$sys" \
    "$(echo "$user + $sys" | bc -l)"
done
