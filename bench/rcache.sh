#!/usr/bin/env bash
# rcache.sh -- the repeated page from the result cache (issue 19), on the bench stack: GET /health,
# the cached question (question -> SQL from Redis, the page run on PostgreSQL) and the same
# question with result_cache on (the page's bytes from Redis), each through nginx with wrk at
# CONNS (16) connections for SECS (5) s, ROUNDS (5) rounds alternating; each round's ratios to
# /health, and their medians. Targets: result-cache hit >= 0.6 x /health; cached question >= 0.35 x /health.
# An instance of its own with result_cache = true (4 workers, port 38071 + T2SQL_PORT_OFFSET,
# stopped at the end) beside the bench stack's (result_cache off).
#   CONNS=16 SECS=5 ROUNDS=5 bench/rcache.sh          (the bench stack must be running)
. "$(dirname "$0")/lib.bash"
need_stack rcache.sh
CONNS=${CONNS:-16}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-5}
URL=$T2SQL_TEST_URL LLM=$T2SQL_TEST_LLM
PORT=$((38071 + ${T2SQL_TEST_PORT_OFFSET:-0}))
RC=http://127.0.0.1:$PORT
SQL="SELECT event_id, name, category, event_date FROM events WHERE event_id = 42"
Q="result cache bench: the event number 42"
STACK="env T2SQL_STACK_MODE=bench bash scripts/stack.sh"

CLEANUP='$STACK instance-stop rcache >/dev/null 2>&1 || true'
bench_tmp rc
$STACK instance rcache "$PORT" T2SQL_RESULT_CACHE=true T2SQL_WORKERS=4 >/dev/null

curl -sf -X POST "$LLM/_rules" \
    -d "{\"rules\": [{\"match\": \"result cache bench\", \"reply\": \"<sql>$SQL</sql>\"}]}" >/dev/null
body="{\"question\": \"$Q\", \"stream\": false}"
for u in "$URL" "$RC"; do
    for _ in 1 2 3 4 5 6 7 8; do # every worker: the SQL from the question cache, the page stored
        curl -sf -H 'Content-Type: application/json' -d "$body" "$u/query" >/dev/null
    done
done
hit=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d "$body" "$RC/query" |
      tr -d '\r' | sed -n 's/^X-Cache: //p')
[ "$hit" = hit ] || { echo "rcache.sh: the result cache does not answer (X-Cache: $hit)"; exit 1; }
post_lua "$TMP/post.lua" "$body"
bad=0
for i in $(seq 1 "$ROUNDS"); do
    wrk -t2 -c"$CONNS" -d"${SECS}s" "$RC/health" >"$TMP/h$i" 2>&1
    wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$TMP/post.lua" "$URL/query" >"$TMP/q$i" 2>&1
    wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$TMP/post.lua" "$RC/query" >"$TMP/r$i" 2>&1
    grep -qE "Non-2xx|Socket errors" "$TMP/q$i" "$TMP/r$i" && bad=1
    echo "rcache: round $i: /health $(rps "$TMP/h$i"), cached question $(rps "$TMP/q$i"), result-cache hit $(rps "$TMP/r$i") req/s"
done
# each round's ratios (the three runs of a round see the same load), then their medians
h=$(for i in $(seq 1 "$ROUNDS"); do rps "$TMP/h$i"; done | median)
q=$(for i in $(seq 1 "$ROUNDS"); do rps "$TMP/q$i"; done | median)
r=$(for i in $(seq 1 "$ROUNDS"); do rps "$TMP/r$i"; done | median)
rq=$(for i in $(seq 1 "$ROUNDS"); do awk "BEGIN {print $(rps "$TMP/r$i") / $(rps "$TMP/h$i")}"; done |
     median | awk '{printf "%.2f", $1}')
qq=$(for i in $(seq 1 "$ROUNDS"); do awk "BEGIN {print $(rps "$TMP/q$i") / $(rps "$TMP/h$i")}"; done |
     median | awk '{printf "%.2f", $1}')
echo "rcache: result-cache hit $r req/s vs /health $h req/s (medians), ratio $rq (median of the rounds' ratios; target >= 0.6, $CONNS connections): $(verdict "$(calc "$rq >= 0.6")")"
echo "rcache: cached question $q req/s vs /health $h req/s (medians), ratio $qq (target >= 0.35): $(verdict "$(calc "$qq >= 0.35")")"
[ "$bad" = 0 ] || { echo "rcache: errors under load"; exit 1; }
bench_exit
