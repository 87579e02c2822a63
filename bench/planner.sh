#!/bin/sh
# planner.sh -- the offline planner's numbers: median planning time per question on the demo
# catalog (with the semantic layer, as /query plans), execution accuracy on
# tests/planner/demo_questions.jsonl and on tests/planner/semantic_questions.jsonl, the
# share of the defog idk.csv questions it declines, and on defog's questions_gen_postgres.csv
# the shares answered with exactly the gold rows, answered wrongly and declined (targets
# >= 40% and <= 3%; the idk and defog lines are skipped without ../shared/data/defog).
#   T2SQL_TEST_PG="host=/tmp port=5432 user=postgres dbname=postgres" bench/planner.sh
# Needs bin/t2sql-plan (make bin/t2sql-plan) and a superuser conninfo in T2SQL_TEST_PG; it
# (re)creates the databases t2sql_planner_demo and t2sql_idk_<db> there.
set -eu
cd "$(dirname "$0")/.."
: "${T2SQL_TEST_PG:?set T2SQL_TEST_PG to a libpq conninfo of a PostgreSQL superuser}"
PY=${PYTHON:-/usr/bin/python3}

# accuracy and declines (this also loads the demo database at scale T2SQL_DEMO_SCALE, 0.02)
out=$("$PY" tests/integration/test_planner.py)
# the password, if any, goes in through the environment: never on a command line (ps)
pw=$("$PY" -c 'import os, psycopg2.extensions as e
print(e.parse_dsn(os.environ["T2SQL_TEST_PG"]).get("password", ""))')
[ -z "$pw" ] || export PGPASSWORD="$pw"
demo=$("$PY" -c 'import os, psycopg2.extensions as e
d = e.parse_dsn(os.environ["T2SQL_TEST_PG"])
d.pop("password", None)
d["dbname"] = "t2sql_planner_demo"
print(e.make_dsn(**d))')
"$PY" -c 'import json, sys
for f in ("demo_questions", "semantic_questions"):
    for l in open("tests/planner/%s.jsonl" % f):
        print(json.loads(l)["question"])' |
    bin/t2sql-plan --conninfo "$demo" --glossary conf/glossary --semantic conf/semantic.yaml \
        --time 2>&1 >/dev/null |
    sed 's/^/planner /'
echo "$out"
# a missed defog target fails the script, as the other bench scripts' MISS lines do
if printf '%s\n' "$out" | grep -q '^planner defog:.*MISS'; then exit 1; fi
