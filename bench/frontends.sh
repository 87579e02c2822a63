#!/usr/bin/env bash
# frontends.sh -- one cached question through each front end over the same workers: Apache
# httpd (apache/t2sql.conf.in, mod_proxy_fcgi) against nginx (nginx/t2sql.conf.in). wrk,
# rounds alternating between the two; prints each round, the medians and the ratio
# apache/nginx (what the choice of front end costs; everything shares the same CPUs).
#   SECONDS_EACH=5 ROUNDS=3 CONNS=8 bench/frontends.sh      (the bench stack must be running)
. "$(dirname "$0")/lib.bash"
need_stack frontends.sh
SECS=${SECONDS_EACH:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-8}
NGINX=$T2SQL_TEST_URL APACHE=$T2SQL_TEST_APACHE_URL LLM=$T2SQL_TEST_LLM
for u in "$NGINX" "$APACHE"; do
    curl -sf "$u/health" >/dev/null || { echo "frontends.sh: no answer from $u" >&2; exit 1; }
done
SQL="SELECT event_id, name, category, event_date FROM events WHERE event_id = 7"
Q="front end bench: the event number 7"
bench_tmp fe

curl -sf -X POST "$LLM/_rules" \
    -d "{\"rules\": [{\"match\": \"front end bench\", \"reply\": \"<sql>$SQL</sql>\"}]}" >/dev/null
body="{\"question\": \"$Q\", \"stream\": false}"
for u in "$NGINX" "$APACHE" "$NGINX" "$APACHE" "$NGINX" "$APACHE" "$NGINX" "$APACHE"; do
    out=$(curl -sf -H 'Content-Type: application/json' -d "$body" "$u/query") # warm every worker
done
case $out in *'"source":"cache"'*) ;; *) echo "frontends.sh: not answered from the cache: ${out:0:300}"; exit 1 ;; esac
post_lua "$TMP/post.lua" "$body"
errors=""
for r in $(seq 1 "$ROUNDS"); do
    for fe in nginx apache; do
        url=$NGINX; [ "$fe" = apache ] && url=$APACHE
        wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$TMP/post.lua" "$url/query" >"$TMP/$fe.$r" 2>&1
        e=$(grep -E "Non-2xx|Socket errors" "$TMP/$fe.$r" || true)
        [ -z "$e" ] || errors="$errors $fe round $r: $e;"
        rps "$TMP/$fe.$r" >>"$TMP/$fe.all"
        echo "frontends: round $r $fe $(rps "$TMP/$fe.$r") req/s (p50 $(awk '$1 == "50%" {print $2}' "$TMP/$fe.$r"), p99 $(awk '$1 == "99%" {print $2}' "$TMP/$fe.$r"))"
    done
done
n=$(median <"$TMP/nginx.all") a=$(median <"$TMP/apache.all")
echo "frontends: cached question, $CONNS connections, median of $ROUNDS: nginx $n req/s, apache $a req/s"
echo "frontends: apache/nginx ratio $(awk "BEGIN {printf \"%.2f\", $a / $n}")"
if [ -n "$errors" ]; then
    echo "frontends: errors under load:$errors"
    exit 1
fi
