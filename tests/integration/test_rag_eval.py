"""test_rag_eval -- schema-retrieval recall on Spider dev through bin/t2sql-rag-eval.

Per database at the default budget (3000 tokens) and on one merged schema of all 166
databases at 4000 tokens; also the tool's input handling. Offline: no database, no model.
Run from the project root: /usr/bin/python3 -m pytest tests/integration/test_rag_eval.py
"""
import json
import os
import re
import subprocess

import pytest

from conftest import shared_missing

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPIDER = os.path.join(ROOT, "..", "shared", "data", "spider")
TABLES = os.path.join(SPIDER, "tables.json")
GOLD = os.path.join(SPIDER, "dev_gold_tables.json")
DEV = os.path.join(SPIDER, "dev.json")
EVAL = os.path.join(ROOT, "bin", "t2sql-rag-eval")
pytestmark = pytest.mark.skipif(shared_missing("spider", "tables.json") is not None,
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


def test_spider_dev_per_database(questions):
    recall, n, tokens, lines = run_eval("--tables", TABLES, "--questions", questions)
    assert n == 1034
    assert recall >= 0.97
    assert tokens <= 3000
    check_lines(lines, n, 3000)


def test_spider_dev_merged_schema(questions):
    recall, n, tokens, lines = run_eval("--tables", TABLES, "--questions", questions,
                                        "--merge", "--budget", "4000")
    assert n == 1034
    assert recall >= 0.95
    assert tokens <= 4000
    check_lines(lines, n, 4000)
    # the merged schema has 876 tables: the prompt holds the budget's worth, not all of them
    assert all(len(LINE.match(l).group(6).split(",")) < 876 for l in lines)


def test_small_budget_still_within(questions):
    recall, n, tokens, lines = run_eval("--tables", TABLES, "--questions", questions,
                                        "--merge", "--budget", "300")
    assert tokens <= 300
    check_lines(lines, n, 300)
    assert recall > 0.5


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
