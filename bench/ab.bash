# ab.bash -- sourced after lib.bash by bench/frontends.sh and bench/pgbouncer.sh: one cached
# question asked of two URLs with wrk, in rounds alternating between them.
#   ab_question MATCH               scripts the model (LLM) to answer one indexed row of events
#                                   for questions holding MATCH; sets BODY to such a question
#   ab_warm URL...                  asks it 8 times of each URL (every worker); fails, printing
#                                   the answer, unless the last one came from the cache
#   ab_run TAG NAME_A URL_A NAME_B URL_B
#                                   ROUNDS rounds of SECONDS_EACH s with CONNS connections;
#                                   prints "TAG: round R NAME N req/s (p50, p99)" per run, sets
#                                   AB_A and AB_B (the medians) and AB_ERRORS (non-2xx, socket
#                                   errors)
# Needs TMP (bench_tmp) and LLM (the scripted model).
# shellcheck shell=bash
SECS=${SECONDS_EACH:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-8}

ab_question() {
    local sql="SELECT event_id, name, category, event_date FROM events WHERE event_id = 7"
    curl -sf -X POST "$LLM/_rules" \
        -d "{\"rules\": [{\"match\": \"$1\", \"reply\": \"<sql>$sql</sql>\"}]}" >/dev/null
    BODY="{\"question\": \"$1: the event number 7\", \"stream\": false}"
}

ab_warm() {
    local u out=""
    for _ in 1 2 3 4 5 6 7 8; do
        for u in "$@"; do
            out=$(curl -sf -H 'Content-Type: application/json' -d "$BODY" "$u/query")
        done
    done
    case $out in *'"source":"cache"'*) ;; *) echo "not answered from the cache: ${out:0:300}"; return 1 ;; esac
}

ab_run() {
    local tag=$1 r name url e
    post_lua "$TMP/post.lua" "$BODY"
    AB_ERRORS=""
    rm -f "$TMP/$2.all" "$TMP/$4.all"
    for r in $(seq 1 "$ROUNDS"); do
        for name in "$2" "$4"; do
            url=$3; [ "$name" = "$4" ] && url=$5
            wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$TMP/post.lua" "$url/query" >"$TMP/$name.$r" 2>&1
            e=$(grep -E "Non-2xx|Socket errors" "$TMP/$name.$r" || true)
            [ -z "$e" ] || AB_ERRORS="$AB_ERRORS $name round $r: $e;"
            rps "$TMP/$name.$r" >>"$TMP/$name.all"
            echo "$tag: round $r $name $(rps "$TMP/$name.$r") req/s (p50 $(awk '$1 == "50%" {print $2}' "$TMP/$name.$r"), p99 $(awk '$1 == "99%" {print $2}' "$TMP/$name.$r"))"
        done
    done
    AB_A=$(median <"$TMP/$2.all") AB_B=$(median <"$TMP/$4.all")
}
