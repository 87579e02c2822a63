"""test_rag_eval -- schema-retrieval recall through bin/t2sql-rag-eval.

The project's own corpora (tests/rag/, always run): the enterprise-style schema (377 tables
of abbreviated, prefixed, glued names, copies and code tables) at 4000 tokens, and the
hospital schema at 1000. Spider dev (../shared/data/spider, skipped without it): per database
at the default budget (3000 tokens) and on one merged schema of all 166 databases at 4000
tokens. Also the tool's input handling. Offline: no database, no model.
Run from the project root: /usr/bin/python3 -m pytest tests/integration/test_rag_eval.py
"""
import json
import os
import re
import subprocess

import pytest

from conftest import need_shared, shared_missing

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPIDER = os.path.join(ROOT, "..", "shared", "data", "spider")
TABLES = os.path.join(SPIDER, "tables.json")
GOLD = os.path.join(SPIDER, "dev_gold_tables.json")
DEV = os.path.join(SPIDER, "dev.json")
EVAL = os.path.join(ROOT, "bin", "t2sql-rag-eval")
RAG = os.path.join(ROOT, "tests", "rag")
spider = pytest.mark.skipif(shared_missing("spider", "tables.json") is not None,
                            reason=shared_missing("spider", "tables.json") or "")

LAST = re.compile(r"^recall (\d\.\d+) over (\d+) questions, mean prompt (\d+) tokens$")
LINE = re.compile(r"^(\d+)\t(\S+)\ttokens=(\d+)\tgold_rank=(-?\d+)\tmissed=(\S+)\tselected=(.*)$")


@pytest.fixture(scope="module", autouse=True)
def built():
    subprocess.run(["make", "-s", "build/libt2sql.a", "bin/t2sql-rag-eval"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    """dev_gold_tables.json as {db_id, question, gold_tables}, joined with dev.json if needed."""
    need_shared("spider", "dev_gold_tables.json")
    gold = json.load(open(GOLD))
    if all("db_id" in g and "question" in g for g in gold):
        return GOLD
    dev = json.load(open(DEV))
    path = tmp_path_factory.mktemp("rag") / "questions.json"
    path.write_text(json.dumps([{"db_id": d["db_id"], "question": d["question"],
                                 "gold_tables": g["gold_tables"]} for d, g in zip(dev, gold)]))
    return str(path)


def run_eval(*args):
    p = subprocess.run([EVAL, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.rstrip("\n").split("\n")
    m = LAST.match(lines[-1])
    assert m, lines[-1]
    return float(m.group(1)), int(m.group(2)), int(m.group(3)), lines[:-1]


def check_lines(lines, n, budget):
    assert len(lines) == n
    for line in lines:
        m = LINE.match(line)
        assert m, line
        assert int(m.group(3)) <= budget
        selected = m.group(6).split(",")
        missed = m.group(5)
        assert missed == "-" or all(t not in selected for t in missed.split(","))


def corpus(name):
    return (os.path.join(RAG, name, "tables.json"), os.path.join(RAG, name, "questions.json"))


def test_corpora_are_generated():
    """tables.json and questions.json are what tests/rag/generate.py makes of the sources."""
    p = subprocess.run(["/usr/bin/python3", os.path.join(RAG, "generate.py"), "--check"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_enterprise_schema():
    tables, qs = corpus("enterprise")
    db = json.load(open(tables))[0]
    assert len(db["table_names_original"]) >= 300
    recall, n, tokens, lines = run_eval("--tables", tables, "--questions", qs, "--budget", "4000")
    assert n >= 150
    assert recall >= 0.92
    assert tokens <= 4000
    check_lines(lines, n, 4000)
    # the context holds a budget's worth, not the whole schema
    assert all(len(LINE.match(l).group(6).split(",")) < len(db["table_names_original"]) // 2
               for l in lines)


def test_enterprise_copies_rank_below_their_tables():
    """Copies (history, audit, staging, backup, archive) of a table a question needs rarely
    push in before the tables it needs: of the copies in the context, at most 5% come before
    the last gold table (about 8% when copies are not down-weighted)."""
    tables, qs = corpus("enterprise")
    names = json.load(open(tables))[0]["table_names_original"]
    gold = [q["gold_tables"] for q in json.load(open(qs))]
    _, _, _, lines = run_eval("--tables", tables, "--questions", qs, "--budget", "4000")
    before = after = 0
    for line, need in zip(lines, gold):
        selected = LINE.match(line).group(6).split(",")
        found = [selected.index(g) for g in need if g in selected]
        if not found:
            continue
        for g in need:
            copy = re.compile(r"^((stg|tmp)_%s|%s_(hist|aud|bak|old|arch)(_\d+)?)$" % (g, g))
            for c in names:
                if copy.match(c) and c not in need and c in selected:
                    if selected.index(c) < max(found):
                        before += 1
                    else:
                        after += 1
    assert before + after > 100
    assert before <= 0.05 * (before + after), (before, after)


def test_hospital_schema():
    tables, qs = corpus("hospital")
    recall, n, tokens, lines = run_eval("--tables", tables, "--questions", qs, "--budget", "1000")
    assert n >= 60
    assert recall >= 0.9
    assert tokens <= 1000
    check_lines(lines, n, 1000)


@spider
def test_spider_dev_per_database(questions):
    recall, n, tokens, lines = run_eval("--tables", TABLES, "--questions", questions)
    assert n == 1034
    assert recall >= 0.99
    assert tokens <= 3000
    check_lines(lines, n, 3000)


@spider
def test_spider_dev_merged_schema(questions):
    recall, n, tokens, lines = run_eval("--tables", TABLES, "--questions", questions,
                                        "--merge", "--budget", "4000")
    assert n == 1034
    assert recall >= 0.99
    assert tokens <= 4000
    check_lines(lines, n, 4000)
    # the merged schema has 876 tables: the prompt holds the budget's worth, not all of them
    assert all(len(LINE.match(l).group(6).split(",")) < 876 for l in lines)


@spider
def test_small_budget_still_within(questions):
    recall, n, tokens, lines = run_eval("--tables", TABLES, "--questions", questions,
                                        "--merge", "--budget", "300")
    assert tokens <= 300
    check_lines(lines, n, 300)
    assert recall > 0.5


@spider
def test_bad_input(tmp_path):
    p = subprocess.run([EVAL, "--tables", TABLES], capture_output=True, text=True)
    assert p.returncode == 2 and "usage" in p.stderr
    q = tmp_path / "q.json"
    q.write_text(json.dumps([{"db_id": "no_such_db", "question": "x", "gold_tables": ["t"]}]))
    p = subprocess.run([EVAL, "--tables", TABLES, "--questions", str(q)], capture_output=True,
                       text=True)
    assert p.returncode == 1 and "unknown db_id" in p.stderr
    q.write_text(json.dumps([{"db_id": "concert_singer", "question": "How many singers?",
                              "gold_tables": ["singer"]}]))
    recall, n, _, lines = run_eval("--tables", TABLES, "--questions", str(q))
    assert (recall, n) == (1.0, 1)
    assert LINE.match(lines[0]).group(5) == "-"
