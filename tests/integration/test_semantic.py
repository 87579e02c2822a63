"""The semantic layer (issue 13): GET /semantic, the offline planner answering in the layer's
measures (rows equal to psql running the hand-written correct SQL), explanation and
measures_used in the answer, and a SIGHUP reload that keeps the old layer when the new one has
an invalid definition."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from decimal import Decimal

import pytest
import requests

from conftest import ROOT, pg_rows, post_query

NOMODEL = ("nomodel", 18081, {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": "",
                              "T2SQL_PLANNER_FALLBACK": "false"})


@pytest.fixture(autouse=True)
def _no_cached_questions():
    """Every answer here is the planner's own: a question another module asked first (the
    showcase question in a conversation, say) would come from the shared question cache."""
    cli = ["redis-cli", "-p", os.environ["T2SQL_TEST_REDIS_PORT"]]
    keys = subprocess.run(cli + ["--scan", "--pattern", "t2sql:q:*"], capture_output=True,
                          text=True, timeout=30).stdout.split()
    for i in range(0, len(keys), 500):
        subprocess.run(cli + ["DEL"] + keys[i:i + 500], capture_output=True, timeout=30)


def start(instances, spec):
    name, port, env = spec
    return instances.start(name, port, **env)


def canon(rows):
    """Rows as a sorted list of tuples: numbers rounded to 4 places, None kept."""
    out = []
    for r in rows:
        t = []
        for v in r:
            if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
                t.append(round(Decimal(str(v)), 4))
            elif isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v):
                t.append(round(Decimal(v), 4))
            else:
                t.append(v)
        out.append(tuple(t))
    return sorted(out, key=repr)


def ask(inst, question):
    r = post_query(inst.url, {"question": question, "stream": False, "page_size": 1000})
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["source"] == "planner", body
    return body


# total revenue = ticket revenue + merch revenue, each over its own table; online merch orders
# (no event) are the row whose category is null
TOTAL_REVENUE_SQL = """
SELECT category, sum(amount) FROM (
    SELECT e.category, t.price * t.quantity AS amount
      FROM ticket_sales t JOIN events e ON e.event_id = t.event_id
    UNION ALL
    SELECT e.category, m.revenue
      FROM merch_orders m LEFT JOIN events e ON e.event_id = m.event_id) x
 GROUP BY category"""


def test_get_semantic_lists_the_layer(base_url):
    r = requests.get(base_url + "/semantic", timeout=30)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert set(body) == {"measures", "ratios", "dimensions", "entities"}
    measures = {m["name"]: m for m in body["measures"]}
    assert measures["total revenue"]["sum_of"] == ["ticket revenue", "merch revenue"]
    assert measures["tickets sold"]["expr"] == "sum(ticket_sales.quantity)"
    assert "refunded" in measures["tickets sold"]["filter"]
    assert measures["tickets sold"]["line"] > 0
    ratios = {m["name"]: m for m in body["ratios"]}
    assert ratios["refund rate"]["percent"] is True
    assert {"online share", "average order value"} <= set(ratios)
    assert "concerts" in {e["name"] for e in body["entities"]}


def test_showcase_question_counts_both_revenue_sources(instances, stack_env):
    inst = start(instances, NOMODEL)
    body = ask(inst, "total revenue by event category")
    assert body["measures_used"][0] == "total revenue"
    assert set(body["measures_used"]) >= {"ticket revenue", "merch revenue"}
    assert "total revenue" in body["explanation"] and "event category" in body["explanation"]
    gold = canon(pg_rows(TOTAL_REVENUE_SQL))
    assert any(r[0] is None for r in gold), "the demo has online merch orders"
    assert canon(body["rows"]) == gold


def test_console_placeholder_question(instances, stack_env):
    with open(os.path.join(ROOT, "web", "index.html")) as f:
        question = re.search(r'placeholder="e\.g\. ([^"]+)"', f.read()).group(1)
    inst = start(instances, NOMODEL)
    body = ask(inst, question)
    assert body["measures_used"], body
    sql = {"total ticket revenue by event category":
           "SELECT e.category, sum(t.price * t.quantity) FROM ticket_sales t"
           " JOIN events e ON e.event_id = t.event_id GROUP BY e.category",
           "total revenue by event category": TOTAL_REVENUE_SQL}[question]
    assert canon(body["rows"]) == canon(pg_rows(sql))


def test_tickets_sold_and_ratios_match_psql(instances, stack_env):
    inst = start(instances, NOMODEL)
    cases = [
        ("how many tickets were sold by event category",
         "SELECT e.category, sum(t.quantity) FROM ticket_sales t JOIN events e USING (event_id)"
         " WHERE t.status NOT IN ('refunded', 'cancelled') GROUP BY 1", "tickets sold"),
        ("refund rate by event category",
         "SELECT e.category, 100.0 * count(*) FILTER (WHERE t.status = 'refunded') / count(*)"
         " FROM ticket_sales t JOIN events e USING (event_id) GROUP BY 1", "refund rate"),
        ("percentage of merch orders placed online",
         "SELECT 100.0 * count(*) FILTER (WHERE event_id IS NULL) / count(*) FROM merch_orders",
         "online merch share"),
        ("average order value by product category",
         "SELECT product_category, avg(revenue) FROM merch_orders GROUP BY 1",
         "average order value"),
        ("ticket revenue for concerts by venue city in 2024",
         "SELECT v.city, sum(t.price * t.quantity) FROM ticket_sales t JOIN events e USING"
         " (event_id) JOIN venues v ON v.venue_id = e.venue_id WHERE e.category = 'Concert'"
         " AND t.sale_date >= '2024-01-01' AND t.sale_date < '2025-01-01' GROUP BY 1",
         "ticket revenue"),
    ]
    for question, sql, measure in cases:
        body = ask(inst, question)
        assert body["measures_used"][0] == measure, (question, body["measures_used"])
        assert body["explanation"].startswith(measure), body["explanation"]
        assert canon(body["rows"]) == canon(pg_rows(sql)), question


def test_planner_declines_what_the_layer_cannot_say(instances):
    """A measure word next to a word the layer does not know is not guessed at."""
    inst = start(instances, NOMODEL)
    r = post_query(inst.url, {"question": "refund rate by favourite colour", "stream": False})
    assert r.status_code != 200 or r.json()["source"] == "planner" and \
        "colour" not in r.json()["sql"], r.text[:300]
    if r.status_code == 200:
        assert "refund rate" not in r.json()["measures_used"]


def _semantic_names(url):
    r = requests.get(url + "/semantic", timeout=30)
    assert r.status_code == 200, r.text[:300]
    b = r.json()
    return {d["name"] for k in ("measures", "ratios", "dimensions", "entities") for d in b[k]}


def _wait_names(url, want, absent=(), timeout=60):
    end = time.time() + timeout
    names = set()
    while time.time() < end:
        names = _semantic_names(url)
        if want <= names and not (set(absent) & names):
            return names
        time.sleep(0.5)
    raise AssertionError("layer after reload: %s" % sorted(names))


def test_reload_keeps_the_old_layer_when_a_definition_is_invalid(instances):
    tmp = tempfile.mkdtemp(prefix="t2sql-sem-")
    path = os.path.join(tmp, "semantic.yaml")
    shutil.copy(os.path.join(ROOT, "conf", "semantic.yaml"), path)
    os.chmod(tmp, 0o755)
    os.chmod(path, 0o644)
    try:
        inst = instances.start("semreload", 18085, T2SQL_SEMANTIC_FILE=path, T2SQL_WORKERS="1")
        assert "tickets sold" in _semantic_names(inst.url)
        with open(path, "a") as f:  # a column that does not exist: PREPARE refuses it
            f.write("\n  - name: broken thing\n    table: events\n"
                    "    filter: events.no_such_column = 1\n")
        os.kill(inst.pid, signal.SIGHUP)
        time.sleep(3)
        names = _semantic_names(inst.url)
        assert "tickets sold" in names and "broken thing" not in names
        # workers started after the refused reload (here: every worker killed and respawned)
        # take the layer the master checked, not the file as it is now on disk
        old = inst.children()
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        end = time.time() + 30
        while time.time() < end and (not inst.children() or inst.children() & old):
            time.sleep(0.1)
        assert inst.children() and not inst.children() & old, "the workers were not respawned"
        names = _wait_names(inst.url, {"tickets sold"}, absent={"broken thing"})
        shutil.copy(os.path.join(ROOT, "conf", "semantic.yaml"), path)
        with open(path, "a") as f:  # a valid new entity appears after the next reload
            f.write("\n  - name: big venues\n    table: venues\n    filter: venues.seats > 10000\n")
        os.kill(inst.pid, signal.SIGHUP)
        _wait_names(inst.url, {"big venues", "tickets sold"}, absent={"broken thing"})
    finally:
        instances.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def _prompts(fakellm):
    return [json.dumps(c["messages"]) for c in fakellm.calls()["requests"]]


def test_model_prompt_carries_the_definitions(base_url, fakellm, uq):
    """Retrieval puts the named measures into the prompt as canonical expressions, and the
    answer names the measure its SQL uses."""
    fakellm.rules({"match": uq, "reply": "<sql>SELECT e.category, sum(t.quantity) AS n FROM"
                   " ticket_sales t JOIN events e USING (event_id) WHERE t.status NOT IN"
                   " ('refunded', 'cancelled') GROUP BY 1</sql>"})
    r = post_query(base_url, {"question": "tickets sold by event category " + uq,
                              "stream": False})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["source"] == "llm"
    prompt = _prompts(fakellm)[-1]
    assert 'semantic layer measure \\"tickets sold\\"' in prompt, prompt[:3000]
    assert "sum(ticket_sales.quantity) over ticket_sales where ticket_sales.status NOT IN" \
        in prompt
    assert body["measures_used"] == ["tickets sold"]
    assert "ticket_sales" in body["explanation"] and "tickets sold" in body["explanation"]


def test_repeated_questions_keep_their_own_explanation(base_url, fakellm, uq):
    """A repeated question (its SQL from the cache) is explained as its first ask was, and
    another question with the same SQL by its own words: the worker's memo of explanations
    is per question and SQL, not per SQL."""
    sql = ("SELECT e.category, sum(t.quantity) AS n FROM ticket_sales t JOIN events e"
           " USING (event_id) WHERE t.status NOT IN ('refunded', 'cancelled') GROUP BY 1")
    fakellm.rules({"match": uq, "reply": "<sql>%s</sql>" % sql})
    named = "tickets sold by event category " + uq
    plain = "list each category with a number " + uq
    for _ in range(6):  # both questions, again and again, over the workers
        for q, measures in ((named, ["tickets sold"]), (plain, [])):
            r = post_query(base_url, {"question": q, "stream": False})
            assert r.status_code == 200, r.text[:300]
            body = r.json()
            assert body["sql"] == sql
            assert body["measures_used"] == measures, (q, body)
            assert ("tickets sold" in body["explanation"]) == bool(measures), body["explanation"]
            assert "ticket_sales" in body["explanation"]


def test_model_prompt_for_total_revenue_names_both_sources(base_url, fakellm, uq):
    fakellm.rules({"match": uq, "reply": "<sql>SELECT 1 AS one</sql>"})
    r = post_query(base_url, {"question": "total revenue by event category " + uq,
                              "stream": False})
    assert r.status_code == 200, r.text[:300]
    prompt = _prompts(fakellm)[-1]
    assert "sum(ticket_sales.price * ticket_sales.quantity)" in prompt
    assert "sum(merch_orders.revenue)" in prompt and "never one inner join" in prompt
    assert r.json()["measures_used"] == []  # its SQL computes no measure of the layer


def test_repair_round_names_the_definitions(base_url, fakellm, uq):
    fakellm.rules([
        {"match": "failed with", "reply": "<sql>SELECT sum(ticket_sales.quantity) AS n FROM"
         " ticket_sales WHERE ticket_sales.status NOT IN ('refunded', 'cancelled')</sql>"},
        {"match": uq, "reply": "<sql>SELECT sum(tickets_sold) FROM ticket_sales</sql>"},
    ])
    r = post_query(base_url, {"question": "how many tickets sold " + uq, "stream": False})
    assert r.status_code == 200, r.text[:300]
    prompts = _prompts(fakellm)
    assert "failed with" in prompts[-1]
    assert "Use the semantic layer's definitions of tickets sold" in prompts[-1]
    assert r.json()["measures_used"] == ["tickets sold"]
