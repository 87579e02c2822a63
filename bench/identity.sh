#!/usr/bin/env bash
# identity.sh -- the per-request cost of an identity's role and claims (issue 15): requests/s
# of one cached question asked with an API key that has no role (generated SQL runs as
# query_role, no claims) and with a tenant key (SET LOCAL ROLE t2sql_tenant_a, the city claim
# set for the transaction, the role's own catalog), on the same instance in the same run.
# The SQL reads events (no row-level policy), so the ratio is the identity's overhead alone;
# a second pair reads customers, where the tenant's RLS policy filters rows.
# Prints both throughputs and their ratio (target >= 0.8). Exit status 1 if it is missed.
#   ROUNDS=4 SLICE_SECONDS=3 CONNS=8 bench/identity.sh   (the bench stack must be running)
# Uses its own instance (auth on) on port 38071 (+ T2SQL_PORT_OFFSET), stopped at the end.
. "$(dirname "$0")/lib.bash"
need_stack identity.sh
ROUNDS=${ROUNDS:-4}
SLICE=${SLICE_SECONDS:-3}
CONNS=${CONNS:-8}
bench_instance identity 38071
SQL_EV="SELECT event_id, name, category, event_date FROM events WHERE event_id = 42"
SQL_CU="SELECT count(*) AS members FROM customers WHERE is_member"

bench_tmp identity

keys() { (. var/bench/service.env && bin/t2sql-keys -c conf/t2sql.conf "$@" 2>/dev/null); }
plain=$(keys create bench-plain --scopes query --rate 0)
tenant=$(keys create bench-tenant --scopes query --rate 0 --role t2sql_tenant_a --claims city=Mumbai)
$STACK instance-stop "$NAME" >/dev/null 2>&1 || true
$STACK instance "$NAME" "$PORT" T2SQL_AUTH_REQUIRED=true >/dev/null
for _ in $(seq 100); do curl -sf "$URL/health" >/dev/null && break; sleep 0.1; done

curl -sf -X POST "$LLM/_rules" -d "{\"rules\": [
    {\"match\": \"identity bench: event 42\", \"reply\": \"<sql>$SQL_EV</sql>\"},
    {\"match\": \"identity bench: members\", \"reply\": \"<sql>$SQL_CU</sql>\"}]}" >/dev/null

warm() { # warm KEY QUESTION: every worker has the SQL from the cache
    local body="{\"question\": \"$2\", \"stream\": false}"
    for _ in 1 2 3 4 5 6 7 8; do
        curl -sf -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$body" \
            "$URL/query" >/dev/null || { echo "identity.sh: warm-up failed" >&2; exit 1; }
    done
}
run() { # run KEY QUESTION -> prints the requests served in SLICE seconds
    local body="{\"question\": \"$2\", \"stream\": false}"
    post_lua "$TMP/post.lua" "$body" "Authorization=Bearer $1"
    wrk -t2 -c"$CONNS" -d"${SLICE}s" -s "$TMP/post.lua" "$URL/query" >"$TMP/out" 2>&1
    if grep -qE "Non-2xx|Socket errors" "$TMP/out"; then
        echo "identity.sh: errors under load: $(grep -E "Non-2xx|Socket errors" "$TMP/out")" >&2
        touch "$TMP/errors" # run() is a subshell
    fi
    reqs "$TMP/out"
}
# The two keys take turns in short slices, so a change in the machine's load (shared CPUs)
# falls on both alike; each total is the sum over its slices.
pair() { # pair QUESTION -> "plain_rps tenant_rps"
    local p=0 t=0 i n
    warm "$plain" "$1"
    warm "$tenant" "$1"
    for i in $(seq "$ROUNDS"); do
        n=$(run "$plain" "$1"); p=$((p + n))
        n=$(run "$tenant" "$1"); t=$((t + n))
    done
    awk -v p="$p" -v t="$t" -v s=$((ROUNDS * SLICE)) 'BEGIN {printf "%.1f %.1f\n", p / s, t / s}'
}
read -r a b < <(pair "identity bench: event 42")
read -r c d < <(pair "identity bench: members")
r1=$(awk "BEGIN {printf \"%.2f\", $b / $a}")
r2=$(awk "BEGIN {printf \"%.2f\", $d / $c}")
ok=$(awk "BEGIN {print ($r1 >= 0.8)}")
[ -e "$TMP/errors" ] && fail=1
[ "$ok" = 1 ] && v=PASS || { v=MISS; fail=1; }
echo "identity: cached question, tenant role + claims $b req/s vs no role $a req/s, ratio $r1 (target >= 0.8): $v"
echo "          (the same with the tenant's RLS policy filtering 100,000 customers: $d vs $c req/s, ratio $r2; $CONNS connections, $ROUNDS alternating slices of $SLICE s each)"
for id in $(keys list | awk -F'\t' '($2 == "bench-plain" || $2 == "bench-tenant") && $6 == "-" {print $1}'); do
    keys revoke "$id" >/dev/null || true # keys with no rate limit do not outlive the run
done
bench_exit
