#!/usr/bin/env bash
# frontends.sh -- one cached question through each front end over the same workers: Apache
# httpd (apache/t2sql.conf.in, mod_proxy_fcgi) against nginx (nginx/t2sql.conf.in). wrk,
# rounds alternating between the two (bench/ab.bash); prints each round, the medians and the
# ratio apache/nginx (what the choice of front end costs; everything shares the same CPUs).
#   SECONDS_EACH=5 ROUNDS=3 CONNS=8 bench/frontends.sh      (the bench stack must be running)
. "$(dirname "$0")/lib.bash"
. bench/ab.bash
need_stack frontends.sh
NGINX=$T2SQL_TEST_URL APACHE=$T2SQL_TEST_APACHE_URL LLM=$T2SQL_TEST_LLM
for u in "$NGINX" "$APACHE"; do
    curl -sf "$u/health" >/dev/null || { echo "frontends.sh: no answer from $u" >&2; exit 1; }
done
bench_tmp fe
ab_question "front end bench"
out=$(ab_warm "$NGINX" "$APACHE") || { echo "frontends.sh: $out"; exit 1; }
ab_run frontends nginx "$NGINX" apache "$APACHE"
n=$AB_A a=$AB_B
echo "frontends: cached question, $CONNS connections, median of $ROUNDS: nginx $n req/s, apache $a req/s"
echo "frontends: apache/nginx ratio $(awk "BEGIN {printf \"%.2f\", $a / $n}")"
if [ -n "$AB_ERRORS" ]; then
    echo "frontends: errors under load:$AB_ERRORS"
    exit 1
fi
