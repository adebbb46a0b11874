#!/usr/bin/env bash
# fuzz/run.sh [SECONDS]: build every libFuzzer target with clang (ASan + UBSan) and run each
# for SECONDS (default 60), seeded from the fixtures. Findings land in fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shared=${PGOLUA_SHARED:-../shared}
out=build-fuzz
mkdir -p "$out/gen" fuzz/findings
protoc-c --proto_path=proto --c_out="$out/gen" proto/profile.proto
printf 'const char pgolua_version[] = "fuzz";\n' > "$out/gen/version.c"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 \
  -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -I$out/gen"
core="src/core/*.c src/profile/*.c src/symbols/*.c src/net/*.c $out/gen/profile.pb-c.c $out/gen/version.c"
targets=${FUZZ_TARGETS:-$(ls fuzz/*.c)}
for target in $targets; do
  name=$(basename "$target" .c)
  echo "== $name: building"
  # shellcheck disable=SC2086
  clang $flags -o "$out/$name" "$target" $core $(pkg-config --libs libprotobuf-c zlib libcurl) -lm
  corpus="$out/corpus-$name"
  mkdir -p "$corpus"
  if [ -d "$shared/fixtures" ]; then
    case "$name" in
      profile_*) find "$shared/fixtures/profiles" "$shared/fixtures/bad" \
                   "$shared/fixtures/pprof-examples" "$shared/fixtures/thirdparty" \
                   -type f \( -name '*.pgo' -o -name '*.pb' -o -name '*.gz' -o -name '*.pprof' \) \
                   -exec cp {} "$corpus/" \; ;;
      elf_*) cp "$shared/fixtures/bin/shop.stripped" "$shared/fixtures/bin/shop" "$corpus/" 2>/dev/null
             cp /bin/true "$corpus/" ;;
      gosource_*) find "$shared/fixtures/gosrc" -name '*.go' -exec cp --backup=numbered {} "$corpus/" \; ;;
      net_*) printf 'aGVsbG8gd29ybGQ=' > "$corpus/seed1"; printf 'H4sIAAAAAAAA/w==' > "$corpus/seed2" ;;
      bench_*) find "$shared/fixtures/bench" "$shared/fixtures/ab" -name '*.txt' \
                 -exec cp --backup=numbered {} "$corpus/" \; ;;
    esac
  fi
  [ -d "fuzz/regressions/$name" ] && cp fuzz/regressions/"$name"/* "$corpus/" 2>/dev/null || true
  echo "== $name: fuzzing for ${seconds}s"
  "$out/$name" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
    -artifact_prefix=fuzz/findings/"$name"- "$corpus" 2>&1 | tail -n 25
done
