#!/usr/bin/env bash
# throughput.sh -- the hot path under load: requests/s of a repeated (cached) question through
# nginx and the workers, against the physical limit measured in the same run: pgbench running
# the very same SQL straight on PostgreSQL with as many clients. Also GET /health, the cost
# of nginx + FastCGI alone. Prints req/s, latency percentiles and the ratio api/pgbench.
#   SECONDS_EACH=10 CONNS=8 bench/throughput.sh          (the bench stack must be running)
. "$(dirname "$0")/lib.bash"
need_stack throughput.sh
SECS=${SECONDS_EACH:-10}
CONNS=${CONNS:-8}
URL=$T2SQL_TEST_URL LLM=$T2SQL_TEST_LLM
SQL="SELECT event_id, name, category, event_date FROM events WHERE event_id = 42"
Q="throughput bench: the event number 42"

bench_tmp tp

curl -sf -X POST "$LLM/_rules" \
    -d "{\"rules\": [{\"match\": \"throughput bench\", \"reply\": \"<sql>$SQL</sql>\"}]}" >/dev/null
body="{\"question\": \"$Q\", \"stream\": false}"
for _ in 1 2 3 4 5 6 7 8; do # warm every worker: the SQL now comes from the cache
    curl -sf -H 'Content-Type: application/json' -d "$body" "$URL/query" >/dev/null
done
post_lua "$TMP/post.lua" "$body"
echo "$SQL;" >"$TMP/q.sql"

pct() { awk -v p="$2" '$1 == p"%" {print $2}' "$1"; }

wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$URL/health" >"$TMP/health" 2>&1
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$TMP/post.lua" "$URL/query" >"$TMP/query" 2>&1
errors=$(grep -E "Non-2xx|Socket errors" "$TMP/query" || true)
pgbench -n -M prepared -c "$CONNS" -j 2 -T "$SECS" -f "$TMP/q.sql" "${T2SQL_TEST_PG% password=*}" \
    >"$TMP/pgbench" 2>&1
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TMP/pgbench" | tail -1)

h=$(rps "$TMP/health") q=$(rps "$TMP/query")
echo "throughput: GET /health $h req/s (p50 $(pct "$TMP/health" 50), p99 $(pct "$TMP/health" 99)), $CONNS connections"
echo "throughput: POST /query (cached question, one row) $q req/s (p50 $(pct "$TMP/query" 50), p99 $(pct "$TMP/query" 99))"
echo "throughput: pgbench, same SQL, $CONNS clients: $tps tps"
ratio=$(awk "BEGIN {printf \"%.2f\", $q / $tps}")
echo "throughput: /query vs the database alone: ratio $ratio (all on the same $(nproc) CPUs)"
if [ -n "$errors" ]; then
    echo "throughput: errors under load: $errors"
    exit 1
fi
