#!/bin/sh
# rag.sh -- schema-retrieval benchmark: gold-table recall and prompt size on Spider dev, per
# database at the default budget and on one merged schema of all 166 databases, with the
# retrieval time per question. Offline: no database, no model.
#   bench/rag.sh            (from the project root; builds bin/t2sql-rag-eval if needed)
set -eu

cd "$(dirname "$0")/.."
DATA=${SPIDER_DIR:-../shared/data/spider}
BUDGET=${RAG_BUDGET:-3000}
MERGED_BUDGET=${RAG_MERGED_BUDGET:-4000}
EVAL=bin/t2sql-rag-eval

make --no-print-directory -s build/libt2sql.a "$EVAL" >/dev/null
for f in tables.json dev_gold_tables.json; do
    [ -r "$DATA/$f" ] || { echo "rag.sh: missing $DATA/$f" >&2; exit 1; }
done

# dev_gold_tables.json already carries db_id, question and gold_tables per question; older
# copies without them are joined with dev.json by index.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
QUESTIONS=$DATA/dev_gold_tables.json
if ! /usr/bin/python3 -c 'import json,sys; q=json.load(open(sys.argv[1])); sys.exit(0 if all("db_id" in x and "question" in x for x in q) else 1)' "$QUESTIONS"; then
    /usr/bin/python3 - "$DATA/dev.json" "$QUESTIONS" >"$tmp/questions.json" <<'PY'
import json, sys
dev, gold = (json.load(open(p)) for p in sys.argv[1:3])
print(json.dumps([{"db_id": d["db_id"], "question": d["question"], "gold_tables": g["gold_tables"]}
                  for d, g in zip(dev, gold)]))
PY
    QUESTIONS=$tmp/questions.json
fi

run() { # label, args...
    label=$1; shift
    timing=$("$EVAL" --tables "$DATA/tables.json" --questions "$QUESTIONS" "$@" 2>&1 >"$tmp/out")
    printf '%-34s %s\n' "$label" "$(tail -n 1 "$tmp/out")"
    printf '%-34s %s\n' "" "$timing"
}
run "per database, budget $BUDGET:" --budget "$BUDGET"
run "merged 166 dbs, budget $MERGED_BUDGET:" --merge --budget "$MERGED_BUDGET"
