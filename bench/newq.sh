#!/usr/bin/env bash
# newq.sh -- a new question's own overhead at 1,000 tables (issue 19): everything the service
# does for a question it has never seen (retrieval over the catalog, the prompt, the guard,
# PREPARE, storing the query, the page), without the model call itself.
# The enterprise schema grown to TABLES (1000) tables (tests/rag/generate.py, bench/ddl.py) is
# created, empty, in the bench PostgreSQL as schema ent1000 (dropped at the end); an instance of
# its own (port 38073 + T2SQL_PORT_OFFSET, one worker, schemas = ent1000, no semantic layer or
# glossary: they name the demo's tables) asks the scripted model, which answers at once.
# After WARMUP questions (the first loads the catalog and builds its index), QUESTIONS
# questions never asked before (the corpus's 246 enterprise questions in turn, each with the
# run's tag) are asked one after another through nginx; for each, the request log's
# duration_ms minus its model_ms (the service's own timing of the request, and of the model
# call in it) is the overhead. Prints p50 and p99; target p50 <= 2 ms.
#   QUESTIONS=200 TABLES=1000 bench/newq.sh          (the bench stack must be running)
. "$(dirname "$0")/lib.bash"
need_stack newq.sh
QUESTIONS=${QUESTIONS:-200}
WARMUP=${WARMUP:-5}
TABLES=${TABLES:-1000}
LLM=$T2SQL_TEST_LLM
PORT=$((38073 + ${T2SQL_TEST_PORT_OFFSET:-0}))
URL=http://127.0.0.1:$PORT
RUN=$$-$(date +%s)
SQL="SELECT cust_id, cust_nm FROM cust_mstr ORDER BY cust_id LIMIT 10"
STACK="env T2SQL_STACK_MODE=bench bash scripts/stack.sh"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$T2SQL_TEST_PG")
LOG=$T2SQL_TEST_VAR/log/newq.log

CLEANUP='$STACK instance-stop newq >/dev/null 2>&1 || true;
         "${PSQL[@]}" -c "DROP SCHEMA IF EXISTS ent1000 CASCADE" >/dev/null 2>&1 || true'
bench_tmp newq
/usr/bin/python3 tests/rag/generate.py --tables "$TABLES" --out "$TMP/grown" enterprise >/dev/null
/usr/bin/python3 bench/ddl.py "$TMP/grown/tables.json" ent1000 t2sql_reader >"$TMP/ddl.sql"
"${PSQL[@]}" -f "$TMP/ddl.sql" 2>&1 | grep -v NOTICE || true
ntables=$("${PSQL[@]}" -Atc "SELECT count(*) FROM pg_tables WHERE schemaname = 'ent1000'")
$STACK instance newq "$PORT" T2SQL_WORKERS=1 T2SQL_QUEUE_WORKERS=0 T2SQL_SCHEMAS=ent1000 \
    T2SQL_SEMANTIC_FILE= T2SQL_GLOSSARY_FILE= >/dev/null
curl -sf -X POST "$LLM/_rules" \
    -d "{\"rules\": [{\"match\": \"newq bench $RUN\", \"reply\": \"<sql>$SQL</sql>\"}]}" >/dev/null
/usr/bin/python3 -c 'import json,sys
for q in json.load(open(sys.argv[1])): print(q["question"])' "$TMP/grown/questions.json" >"$TMP/q"
nq=$(wc -l <"$TMP/q")

ask() { # ask I: a question never asked before; fails unless the model wrote its SQL
    local q
    q=$(sed -n "$(($1 % nq + 1))p" "$TMP/q")
    curl -sS -o "$TMP/body" -H 'Content-Type: application/json' \
        -d "{\"question\": \"$q (newq bench $RUN $1)\", \"count\": \"none\"}" "$URL/query"
    grep -q '"source":"llm"' "$TMP/body" || { echo "newq.sh: not answered by the model: $(head -c 300 "$TMP/body")" >&2; exit 1; }
}
for i in $(seq 1 "$WARMUP"); do ask "$((100000 + i))"; done
from=$(($(wc -l <"$LOG") + 1))
for i in $(seq 1 "$QUESTIONS"); do ask "$i"; done
# the request lines of the measured questions: duration_ms - model_ms, and db_ms apart
tail -n +"$from" "$LOG" | grep ' POST /query 200 ' | awk '{
    d = m = b = ""
    for (i = 1; i <= NF; i++) {
        if ($i ~ /^duration_ms=/) d = substr($i, 13)
        if ($i ~ /^model_ms=/) m = substr($i, 10)
        if ($i ~ /^db_ms=/) b = substr($i, 7)
    }
    if (d != "" && m != "") { print d - m > "/dev/stderr"; print b }
}' 2>"$TMP/over" >"$TMP/db"
n=$(wc -l <"$TMP/over")
[ "$n" -eq "$QUESTIONS" ] || { echo "newq.sh: $n request lines with model_ms for $QUESTIONS questions"; exit 1; }
pct() { sort -g "$1" | awk -v p="$2" '{a[NR] = $1} END {i = int(NR * p / 100 + 0.999); print a[i < 1 ? 1 : i]}'; }
p50=$(pct "$TMP/over" 50) p99=$(pct "$TMP/over" 99)
echo "newq: a new question's own overhead at $ntables tables: p50 $p50 ms, p99 $p99 ms (duration_ms - model_ms of $n questions; target p50 <= 2 ms): $(verdict "$(calc "$p50 <= 2")")"
echo "      (of which the page's database time: p50 $(pct "$TMP/db" 50) ms, p99 $(pct "$TMP/db" 99) ms; one worker, questions one at a time)"
bench_exit
