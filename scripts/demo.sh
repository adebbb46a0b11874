#!/usr/bin/env bash
# demo.sh: the whole PGO loop on the example service, on this machine only (127.0.0.1).
#   1. build pgolua and the example service (Go 1.23)
#   2. start the service under load, refresh its default.pgo from a live capture
#   3. build with -pgo=auto; doctor, stale audit and runbook on the result
#   4. A/B: the package benchmarks with -pgo=off vs -pgo=auto
# Everything happens in a copy under build/demo/; everything started is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-/usr/lib/go-1.23/bin/go}
[ -x "$GO" ] || GO=$(command -v go)
demo=$root/build/demo
seconds=${DEMO_SECONDS:-10}
count=${DEMO_COUNT:-6}
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "build: pgolua and the example service"
rm -rf "$demo"; mkdir -p "$demo"
cp -r examples/service "$demo/module"
export GOFLAGS=-trimpath GOTOOLCHAIN=local
(cd "$demo/module" && "$GO" build -pgo=off -o "$demo/service" ./cmd/service)

say "start: the service on a free 127.0.0.1 port, under load"
SERVICE_ADDR=127.0.0.1:0 "$demo/service" -load 3 >"$demo/service.log" 2>&1 &
pids+=($!)
port=""
for _ in $(seq 100); do   # the service logs the port the kernel gave it
  port=$(sed -n 's#.*listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$demo/service.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "the service did not start:"; cat "$demo/service.log"; exit 1; }
echo "service at http://127.0.0.1:$port"

say "refresh: capture ${seconds}s, validate, replace cmd/service/default.pgo"
./pgolua recipes/refresh.lua --url "http://127.0.0.1:$port" --seconds "$seconds" \
  --out "$demo/module/cmd/service/default.pgo" --src "$demo/module" \
  --min-samples 100 --min-bytes 1000 || { echo "refresh failed"; exit 1; }
cleanup; pids=()

say "build: -pgo=auto picks up cmd/service/default.pgo"
(cd "$demo/module" && "$GO" build -o "$demo/service.pgo" ./cmd/service)
./pgolua -e "local b = assert(require('pgo').buildinfo('$demo/service.pgo'))
print('service.pgo built with -pgo=' .. tostring(b.settings['-pgo']))"

say "doctor"
./pgolua recipes/doctor.lua --binary "$demo/service.pgo" --root "$demo/module" || true

say "stale audit against the current source"
./pgolua recipes/stale.lua "$demo/module/cmd/service/default.pgo" --src "$demo/module" || true

say "A/B: package benchmarks, -pgo=off vs -pgo=auto (count $count)"
(cd "$demo/module" && "$GO" test -run '^$' -bench . -count "$count" -pgo=off ./internal/work \
  >"$demo/bench-off.txt")
(cd "$demo/module" && "$GO" test -run '^$' -bench . -count "$count" \
  -pgo="$demo/module/cmd/service/default.pgo" ./internal/work >"$demo/bench-on.txt")
./pgolua recipes/ab.lua "$demo/bench-off.txt" "$demo/bench-on.txt" --json >"$demo/ab.json" || true
./pgolua recipes/ab.lua "$demo/bench-off.txt" "$demo/bench-on.txt" || true

say "runbook"
./pgolua recipes/runbook.lua --root "$demo/module" --ab "$demo/ab.json" --out "$demo/RUNBOOK-PGO.md"
sed -n '1,40p' "$demo/RUNBOOK-PGO.md"

say "files"
cat <<EOT
profile:      $demo/module/cmd/service/default.pgo
PR body:      $(ls "$demo"/module/cmd/service/*.md 2>/dev/null | head -n1)
binaries:     $demo/service (no PGO), $demo/service.pgo (PGO)
benchmarks:   $demo/bench-off.txt, $demo/bench-on.txt, $demo/ab.json
runbook:      $demo/RUNBOOK-PGO.md
EOT
