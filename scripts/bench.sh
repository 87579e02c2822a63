#!/usr/bin/env bash
# bench.sh -- what `make bench` runs after the build: the bench stack (scripts/stack.sh bench:
# its own ports, the scale-1 demo; reused when it is already up), then every bench/*.sh in
# name order, printing their lines, with the bench stack's T2SQL_TEST_* variables (as
# var/bench/env.sh sets them) in their environment. See bench/README.md.
#   BENCH='stream cache' scripts/bench.sh    only these (bench/stream.sh, bench/cache.sh)
#   BENCH_STOP=1 scripts/bench.sh            stop the bench stack afterwards
# The last line is "bench: N scripts, M failed"; exit status 1 if a script failed or missed
# one of its targets.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# The bench ports are fixed (T2SQL_PORT_OFFSET shifts them): a bench stack of another checkout
# may hold them. Reuse only our own (its PostgreSQL serving our data directory); never stop
# someone else's.
eval "$(scripts/stack.sh where bench)" # PGPORT, HTTP_PORT, PGDATA
# (our superuser password opens only our own cluster)
pgdir=
if pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null; then
  pgdir=$(PGPASSWORD=$(cat var/bench/pg.pass 2>/dev/null) psql -X -w -h 127.0.0.1 -p "$PGPORT" \
            -U postgres -d postgres -Atc 'SHOW data_directory' 2>/dev/null || true)
  if [ "$pgdir" != "$PGDATA" ]; then
    echo "bench: port $PGPORT is held by another bench stack (${pgdir:-not ours}); stop that one first"
    exit 1
  fi
fi
if [ -n "$pgdir" ] && [ -f var/bench/env.sh ] && curl -sf -m 5 "http://127.0.0.1:$HTTP_PORT/health" >/dev/null 2>&1; then
  echo "bench: reusing the running bench stack (var/bench)"
else
  t0=$(date +%s.%N)
  scripts/stack.sh bench >var/bench-stack.log 2>&1 \
    || { tail -n 20 var/bench-stack.log; echo "bench: the bench stack did not start"; exit 1; }
  echo "bench: bench stack started in $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $t0}") s (log: var/bench-stack.log)"
fi

# the bench stack's addresses for the scripts that read them: T2SQL_TEST_URL, T2SQL_TEST_PG
# (superuser), T2SQL_TEST_LLM, ...
# shellcheck disable=SC1091
. var/bench/env.sh
echo "bench: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
n=0 failed=0
for f in bench/*.sh; do
  [ -f "$f" ] || continue
  name=$(basename "$f" .sh)
  if [ -n "${BENCH:-}" ] && ! printf ' %s ' "$BENCH" | grep -q " $name "; then
    continue
  fi
  # the soak runs minutes: only when named (make soak)
  if [ "$name" = soak ] && ! printf ' %s ' "${BENCH:-}" | grep -q " soak "; then
    continue
  fi
  n=$((n + 1))
  echo "== $f"
  t0=$(date +%s)
  if bash "$f"; then
    echo "   ($name: $(($(date +%s) - t0)) s)"
  else
    rc=$?
    failed=$((failed + 1))
    echo "   ($name: exit status $rc after $(($(date +%s) - t0)) s)"
  fi
done

if [ -n "${BENCH_STOP:-}" ]; then
  scripts/stack.sh stop bench
  echo "bench: bench stack stopped"
fi
echo "bench: $n scripts, $failed failed"
[ "$failed" -eq 0 ]
