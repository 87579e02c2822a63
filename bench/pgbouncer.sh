#!/usr/bin/env bash
# pgbouncer.sh -- one cached question through PgBouncer against the direct connection: the
# bench stack's own instance (nginx on 38080, workers on PostgreSQL directly) and a second one
# (38072, the same number of workers) whose db_pool_host is a PgBouncer in transaction pooling
# mode (37432, scripts/stack.sh pgbouncer, pool of 8). wrk, rounds alternating between the
# two (bench/ab.bash, as bench/frontends.sh); prints each round, the medians and the ratio
# pooled/direct (what the pooler's extra hop costs a request of three round trips). PASS when
# the ratio is at least 0.5. Ports shift by T2SQL_PORT_OFFSET.
#   SECONDS_EACH=5 ROUNDS=3 CONNS=8 bench/pgbouncer.sh      (the bench stack must be running)
. "$(dirname "$0")/lib.bash"
. bench/ab.bash
need_stack pgbouncer.sh
O=${T2SQL_PORT_OFFSET:-0}
PGB_PORT=$((37432 + O)) INST_PORT=$((38072 + O))
DIRECT=$T2SQL_TEST_URL POOLED=http://127.0.0.1:$INST_PORT LLM=$T2SQL_TEST_LLM
export T2SQL_STACK_MODE=bench
CLEANUP='scripts/stack.sh instance-stop bench-pooled >/dev/null 2>&1 || true
         scripts/stack.sh pgbouncer-stop bench >/dev/null 2>&1 || true'
bench_tmp pgb
PGBOUNCER_POOL_SIZE=8 scripts/stack.sh pgbouncer bench "$PGB_PORT"
scripts/stack.sh instance bench-pooled "$INST_PORT" T2SQL_DB_POOL_HOST=127.0.0.1 \
    T2SQL_DB_POOL_PORT="$PGB_PORT" >/dev/null
ab_question "pooler bench"
out=$(ab_warm "$DIRECT" "$POOLED") || { echo "pgbouncer.sh: $out"; exit 1; }
ab_run pgbouncer direct "$DIRECT" pooled "$POOLED"
d=$AB_A p=$AB_B
ratio=$(awk "BEGIN {printf \"%.2f\", $p / $d}")
echo "pgbouncer: cached question, $CONNS connections, median of $ROUNDS: direct $d req/s, through PgBouncer $p req/s"
echo "pgbouncer: pooled/direct ratio $ratio (target >= 0.50) $(verdict "$(calc "$ratio >= 0.5")")"
if [ -n "$AB_ERRORS" ]; then
    echo "pgbouncer: errors under load:$AB_ERRORS"
    fail=1
fi
bench_exit
