#!/usr/bin/env bash
# cache.sh -- a repeated question against its first ask (issue 4), on the bench stack through
# nginx, with the scripted model taking 200 ms to answer:
#   QUESTIONS distinct questions, each asked once (first ask: the model writes the SQL), then
#   each asked REPEATS more times (the question->SQL cache in Redis answers).
# Prints the median latencies and their ratio (target <= 1/20) and the model calls made by
# the repeats (target 0). Exit status 1 if a target is missed.
#   QUESTIONS=10 REPEATS=10 DELAY_MS=200 bench/cache.sh     (the bench stack must be running)
. "$(dirname "$0")/lib.bash"
need_stack cache.sh
QUESTIONS=${QUESTIONS:-10}
REPEATS=${REPEATS:-10}
DELAY_MS=${DELAY_MS:-200}
URL=$T2SQL_TEST_URL LLM=$T2SQL_TEST_LLM
RUN=$$-$(date +%s) # questions never asked before
SQL="SELECT event_id, name, category FROM events ORDER BY event_id LIMIT 10"
WORDS=(alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november
       oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu)

bench_tmp cache

calls() { curl -sf "$LLM/_calls" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'; }
question() { echo "cache bench $RUN ${WORDS[$(($1 % ${#WORDS[@]}))]} $1: list the first events"; }
ask() { # ask N -> seconds; the body's source goes to $TMP/source
    curl -sS -o "$TMP/body" -w '%{time_total}\n' -H 'Content-Type: application/json' \
        -d "{\"question\": \"$(question "$1")\"}" "$URL/query"
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("source", d))' \
        "$TMP/body" >"$TMP/source"
}

curl -sf -X POST "$LLM/_rules" -d "{\"rules\": [{\"match\": \"cache bench $RUN\",
    \"reply\": \"<sql>$SQL</sql>\", \"delay_ms\": $DELAY_MS}]}" >/dev/null

: >"$TMP/first" >"$TMP/repeat"
c0=$(calls)
for i in $(seq "$QUESTIONS"); do
    ask "$i" >>"$TMP/first"
    [ "$(cat "$TMP/source")" = llm ] || { echo "cache.sh: first ask answered by $(cat "$TMP/source")" >&2; exit 1; }
done
c1=$(calls)
for _ in $(seq "$REPEATS"); do
    for i in $(seq "$QUESTIONS"); do
        ask "$i" >>"$TMP/repeat"
        [ "$(cat "$TMP/source")" = cache ] || { fail=1; echo "cache.sh: a repeat answered by $(cat "$TMP/source")" >&2; }
    done
done
c2=$(calls)
first=$(median <"$TMP/first")
rep=$(median <"$TMP/repeat")
ratio=$(calc "$rep / $first")
echo "cache: repeated question median $(printf %.1f "$(calc "$rep * 1000")") ms vs first ask $(printf %.1f "$(calc "$first * 1000")") ms, ratio 1/$(printf %.0f "$(calc "$first / $rep")") (model delay $DELAY_MS ms; target <= 1/20): $(verdict "$(calc "$ratio <= 0.05")")"
echo "cache: model calls for $((QUESTIONS * REPEATS)) repeats: $((c2 - c1)) ($((c1 - c0)) for the $QUESTIONS first asks; target 0): $(verdict "$(calc "$c2 - $c1 == 0")")"
bench_exit
