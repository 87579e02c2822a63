#!/usr/bin/env bash
# soak.sh -- sustained mixed load (`make soak`; not part of `make bench`, which runs it only when
# BENCH names it): bench/soakmix.py at SOAK_CONNS (64) connections for SOAK_SECONDS (600) after
# a warm-up of a tenth of that, through nginx against an instance of its own (SOAK_WORKERS (4)
# workers, port 38077 + T2SQL_PORT_OFFSET, stopped at the end) and the bench stack's exportd. Cached and new questions (the scripted model), streamed pages of SOAK_BIG_ROWS
# (100,000) rows, NDJSON pages, /health, exports polled to their end, and bad requests that must
# be refused. Prints requests, statuses, p50/p99 per route, the exports' final states and each
# process's RSS and open descriptors at start, after the warm-up and at the end; PASS when
# nothing answered 5xx (or broke a connection), every bad request got its 4xx, every export
# succeeded, and no process grew by more than 5% (RSS: plus 1 MiB) between warm-up and end.
. "$(dirname "$0")/lib.bash"
need_stack soak.sh
LLM=$T2SQL_TEST_LLM
BIG=${SOAK_BIG_ROWS:-100000}
PORT=$((38077 + ${T2SQL_TEST_PORT_OFFSET:-0}))
STACK="env T2SQL_STACK_MODE=bench bash scripts/stack.sh"
CLEANUP='$STACK instance-stop soak >/dev/null 2>&1 || true'
$STACK instance soak "$PORT" T2SQL_WORKERS="${SOAK_WORKERS:-4}" T2SQL_MAX_PAGE_SIZE="$BIG" >/dev/null
URL=http://127.0.0.1:$PORT
mkdir -p var/bench/log
/usr/bin/python3 bench/soakmix.py --url "$URL" --llm "$LLM" \
    --seconds "${SOAK_SECONDS:-600}" --conns "${SOAK_CONNS:-64}" --big-rows "$BIG" \
    --pidfile var/bench/run/soak.pid --pidfile var/bench/run/exportd.pid \
    --json var/bench/log/soak.json
