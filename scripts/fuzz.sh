#!/usr/bin/env bash
# fuzz.sh [SECONDS] -- builds every libFuzzer target in tests/fuzz/ (fuzz_<name>.c, seed
# corpus tests/fuzz/<name>/, optional dictionary tests/fuzz/<name>.dict) with clang and
# -fsanitize=fuzzer,address,undefined, and runs each for SECONDS (default 60) on a copy of
# its corpus under var/fuzz/<name>/. Prints one line per target,
#   fuzz: <name>: N execs, no findings      or      fuzz: <name>: FINDING <file>
# and last "fuzz: N passed, M failed". Exit 1 if anything was found or did not build.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECS=${1:-60}
OUT=$ROOT/var/fuzz
B=$OUT/build
CC=${FUZZ_CC:-clang}
PKGS="libpq json-c hiredis libcurl libxml-2.0 libcrypto zlib libjwt"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Icore $SAN $(pkg-config --cflags $PKGS)"
LIBS="/usr/lib/x86_64-linux-gnu/libpg_query.a $(pkg-config --libs $PKGS) -lm -lpthread"
pass=0 fail=0

if ! command -v "$CC" >/dev/null 2>&1; then
  echo "fuzz: $CC not found (apt-get install clang libclang-rt-dev)"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
mkdir -p "$B/core"

# core/ as a static archive built for fuzzing: each target pulls in only what it uses.
build_core() {
  local objs=() src obj
  scripts/embed.sh migrate_schema_sql conf/schema.sql > "$B/schema_sql.c"
  for src in core/*.c "$B/schema_sql.c"; do
    obj=$B/core/$(basename "${src%.c}").o
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find core -name '*.h' -newer "$obj" -print -quit)" ]; then
      # shellcheck disable=SC2086
      $CC $CFLAGS -fsanitize=fuzzer-no-link -c -o "$obj" "$src" 2>"$obj.log" || {
        echo "fuzz: cannot compile $src:"; cat "$obj.log"; return 1; }
    fi
    objs+=("$obj")
  done
  rm -f "$B/libcore.a"
  ar rcs "$B/libcore.a" "${objs[@]}"
}

if ! build_core; then
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi

for t in tests/fuzz/fuzz_*.c; do
  name=$(basename "$t" .c); name=${name#fuzz_}
  dir=$OUT/$name bin=$B/fuzz_$name
  rm -rf "$dir"; mkdir -p "$dir/corpus" "$dir/artifacts"
  # shellcheck disable=SC2086
  if ! $CC $CFLAGS -fsanitize=fuzzer -o "$bin" "$t" "$B/libcore.a" $LIBS 2>"$dir/build.log"; then
    echo "fuzz: $name: does not build (see $dir/build.log)"; sed -n 1,20p "$dir/build.log"
    fail=$((fail + 1)); continue
  fi
  [ -d "tests/fuzz/$name" ] && cp -r "tests/fuzz/$name/." "$dir/corpus/"
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=("-dict=tests/fuzz/$name.dict")
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" "$dir/corpus" "${dict[@]}" -max_total_time="$SECS" -max_len=16384 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
      >"$dir/run.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$dir/run.log" | tail -1)
  found=$(find "$dir/artifacts" -type f | head -1)
  if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    echo "fuzz: $name: FINDING ${found:-(exit $rc, no artifact)}; see $dir/run.log"
    grep -E "ERROR: |SUMMARY: |runtime error" "$dir/run.log" | head -5
    fail=$((fail + 1))
  else
    echo "fuzz: $name: ${execs:-0} execs, no findings"
    pass=$((pass + 1))
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
