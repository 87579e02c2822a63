#!/usr/bin/env bash
# rag.sh -- schema-retrieval benchmark through bin/t2sql-rag-eval: gold-table recall and prompt
# size on the project's enterprise-style schema (tests/rag/enterprise, 377 tables, 4000
# tokens), on the hospital schema (tests/rag/hospital, 1000 tokens), and on Spider dev (per
# database at 3000 tokens, one merged schema of all 166 databases at 4000; skipped without
# ../shared/data/spider); then retrieval's own time per question (rag_context, median and
# p90) on the enterprise schema grown to 1,000 tables. Offline: no database, no model.
#   bench/rag.sh            (from the project root; builds bin/t2sql-rag-eval if needed)
# One line per target ending in PASS or MISS; exit status 1 if a target is missed.
. "$(dirname "$0")/lib.bash"
DATA=${SPIDER_DIR:-../shared/data/spider}
BUDGET=${RAG_BUDGET:-3000}
MERGED_BUDGET=${RAG_MERGED_BUDGET:-4000}
ENT_BUDGET=${RAG_ENTERPRISE_BUDGET:-4000}
TIMED_TABLES=${RAG_TIMED_TABLES:-1000}
EVAL=bin/t2sql-rag-eval
PY=${PYTHON:-/usr/bin/python3}

make --no-print-directory -s build/libt2sql.a "$EVAL" >/dev/null
bench_tmp rag

# run LABEL TARGET TABLES QUESTIONS ARGS...: recall line, timing line, verdict on recall
run() {
    label=$1 target=$2 tables=$3 questions=$4
    shift 4
    timing=$("$EVAL" --tables "$tables" --questions "$questions" "$@" 2>&1 >"$TMP/out")
    last=$(tail -n 1 "$TMP/out")
    recall=$(echo "$last" | awk '{print $2}')
    ok=$(awk -v r="$recall" -v t="$target" 'BEGIN {print (r >= t) ? 1 : 0}')
    printf 'rag: %-34s %s (target >= %s): %s\n' "$label" "$last" "$target" "$(verdict "$ok")"
    printf '     %-34s %s\n' "" "$timing"
}

E=tests/rag/enterprise H=tests/rag/hospital
run "enterprise, budget $ENT_BUDGET:" 0.92 "$E/tables.json" "$E/questions.json" --budget "$ENT_BUDGET"
run "hospital, budget 1000:" 0.90 "$H/tables.json" "$H/questions.json" --budget 1000

if [ -r "$DATA/tables.json" ] && [ -r "$DATA/dev_gold_tables.json" ]; then
    # dev_gold_tables.json already carries db_id, question and gold_tables per question;
    # older copies without them are joined with dev.json by index.
    QUESTIONS=$DATA/dev_gold_tables.json
    if ! "$PY" -c 'import json,sys; q=json.load(open(sys.argv[1])); sys.exit(0 if all("db_id" in x and "question" in x for x in q) else 1)' "$QUESTIONS"; then
        "$PY" - "$DATA/dev.json" "$QUESTIONS" >"$TMP/questions.json" <<'PY'
import json, sys
dev, gold = (json.load(open(p)) for p in sys.argv[1:3])
print(json.dumps([{"db_id": d["db_id"], "question": d["question"], "gold_tables": g["gold_tables"]}
                  for d, g in zip(dev, gold)]))
PY
        QUESTIONS=$TMP/questions.json
    fi
    run "spider per database, budget $BUDGET:" 0.99 "$DATA/tables.json" "$QUESTIONS" --budget "$BUDGET"
    run "spider merged 166 dbs, budget $MERGED_BUDGET:" 0.99 "$DATA/tables.json" "$QUESTIONS" \
        --merge --budget "$MERGED_BUDGET"
else
    echo "rag: spider skipped: needs $DATA/tables.json and dev_gold_tables.json"
fi

# retrieval's own time per question at TIMED_TABLES tables (copies of the enterprise schema
# under business-unit prefixes), the index built beforehand as a worker does once per catalog
"$PY" tests/rag/generate.py --tables "$TIMED_TABLES" --out "$TMP/grown" enterprise >/dev/null
timing=$("$EVAL" --tables "$TMP/grown/tables.json" --questions "$TMP/grown/questions.json" \
    --budget "$ENT_BUDGET" 2>&1 >/dev/null)
median=$(echo "$timing" | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p')
p90=$(echo "$timing" | sed -n 's/.*p90 \([0-9.]*\) ms.*/\1/p')
ok=$(awk -v m="$median" 'BEGIN {print (m != "" && m <= 2) ? 1 : 0}')
echo "rag: retrieval per question at $TIMED_TABLES tables: median $median ms, p90 $p90 ms" \
    "(target median <= 2 ms): $(verdict "$ok")"
echo "     $timing"
bench_exit
