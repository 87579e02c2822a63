# lib.bash -- what the bench scripts share; each sources it first:
#   . "$(dirname "$0")/lib.bash"
# It sets strict mode, ROOT (the checkout, also the working directory), and:
#   need_stack NAME      exit 1 unless the bench stack answers; then sources var/bench/env.sh
#                        (its ports: T2SQL_TEST_URL, T2SQL_TEST_LLM, T2SQL_TEST_PG, ...)
#   bench_tmp NAME       TMP, a directory of its own; at exit it is removed and $CLEANUP (a
#                        command, if set) runs
#   verdict OK           PASS for 1, else MISS, remembered for bench_exit (exit 1 after a MISS
#                        or with fail=1, else 0)
#   median, calc EXPR, now, rps FILE (wrk's req/s), reqs FILE (wrk's request count)
#   post_lua FILE BODY [NAME=VALUE ...]   a wrk script that POSTs BODY as JSON (with headers)
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
fail=0
CLEANUP=${CLEANUP:-}
TMP=
BENCH_MISSES=$(mktemp /tmp/t2sql-bench-misses.XXXXXX) # verdict runs in $(...): a file remembers
bench_cleanup() { eval "$CLEANUP"; [ -z "$TMP" ] || rm -rf "$TMP"; rm -f "$BENCH_MISSES"; }
trap bench_cleanup EXIT

need_stack() {
    if [ -f var/bench/env.sh ]; then
        # shellcheck disable=SC1091
        . var/bench/env.sh
        curl -sf "$T2SQL_TEST_URL/health" >/dev/null && return 0
    fi
    echo "$1: the bench stack is not running (scripts/stack.sh bench)" >&2
    exit 1
}
bench_tmp() { TMP=$(mktemp -d "/tmp/t2sql-bench-$1.XXXXXX"); }
# bench_instance NAME PORT: a script's own instance, bench-NAME on PORT (+ the offset), stopped
# at exit; sets NAME, PORT, URL, LLM and STACK (start it with $STACK instance $NAME $PORT ...)
bench_instance() {
    NAME=bench-$1
    PORT=$(($2 + ${T2SQL_TEST_PORT_OFFSET:-0}))
    URL=http://127.0.0.1:$PORT
    LLM=$T2SQL_TEST_LLM
    STACK="env T2SQL_STACK_MODE=bench scripts/stack.sh"
    CLEANUP='$STACK instance-stop $NAME >/dev/null 2>&1 || true'
}
# bench_exit: the script's status, 1 when any verdict was MISS or fail was set
bench_exit() { [ -s "$BENCH_MISSES" ] && fail=1; exit "$fail"; }
verdict() { if [ "$1" = 1 ]; then echo PASS; else echo MISS; echo miss >>"$BENCH_MISSES"; fi; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
calc() { awk "BEGIN {print ($*)}"; }
now() { date +%s.%N; }
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
reqs() { sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$1"; }
post_lua() {
    local out=$1 body=$2 h
    shift 2
    {
        printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' "'$body'"
        for h in "$@"; do printf 'wrk.headers["%s"] = "%s"\n' "${h%%=*}" "${h#*=}"; done
    } >"$out"
}
