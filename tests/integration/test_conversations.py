"""Conversations (issue 14): follow-ups read in the context of earlier turns, answered by the
planner (each turn's rows equal psql's for the intended standalone SQL, or a turn asked back
with the options it lists, from tests/planner/conversations.jsonl) and by the scripted model (turn 1's SQL in turn 2's prompt,
no rows unless allowed, a follow-up's cache entry never served in another conversation);
ownership, retention, the turn limit, deletion, failed turns, clarifications, bad ids, and an
export from a follow-up turn's query_id."""
import csv
import io
import json
import os
import re
import time
from decimal import Decimal

import pytest
import requests

from conftest import ROOT, assert_error, pg_exec, pg_rows, post_query
from test_security import bearer, create_key

CASES = os.path.join(ROOT, "tests", "planner", "conversations.jsonl")
MAX_TURNS = 4
NOMODEL = ("convo-nomodel", 18083, {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": "",
                                    "T2SQL_PLANNER_FALLBACK": "false",
                                    "T2SQL_CONVERSATION_MAX_TURNS": str(MAX_TURNS)})
AUTH = ("convo-auth", 18084, {"T2SQL_AUTH_REQUIRED": "true"})


@pytest.fixture
def nomodel(instances):
    return instances.start(NOMODEL[0], NOMODEL[1], **NOMODEL[2])  # reused while it runs


def norm(v):
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float, Decimal)):
        return round(Decimal(str(v)), 4)
    if hasattr(v, "isoformat"):
        s = v.isoformat()
        return s[:10] if s[10:].strip("T0:+") == "" else s.replace("T", " ")
    if isinstance(v, str):
        if re.fullmatch(r"-?\d+(\.\d+)?", v):
            return round(Decimal(v), 4)
        m = re.fullmatch(r"(\d{4}-\d\d-\d\d)[ T]00:00:00(\+00(:00)?)?", v)
        if m:
            return m.group(1)
        return v.replace("T", " ").replace("+00:00", "+00")
    return v


def columns_match(gold, got):
    """Every gold column matches a distinct column of got, value for value (the planner may
    return more columns, as in tests/planner/README.md)."""
    if len(gold) != len(got):
        return False
    if not gold:
        return True
    used = set()
    for gi in range(len(gold[0])):
        col = [norm(r[gi]) for r in gold]
        for j in range(len(got[0])):
            if j not in used and [norm(r[j]) for r in got] == col:
                used.add(j)
                break
        else:
            return False
    return True


def same_rows(gold, got, ordered):
    if not ordered:
        key = lambda r: repr([norm(v) for v in r])
        # sort both by their shared columns: compare as multisets column-wise after sorting
        gold = sorted(gold, key=key)
        got_sorted = sorted(got, key=key)
        if columns_match(gold, got_sorted):
            return True
        # column order may differ: try every sort of got by each gold-matching projection
        return sorted(map(lambda r: sorted(map(repr, map(norm, r))), gold)) == \
            sorted(map(lambda r: sorted(map(repr, map(norm, r))), got)) or \
            _subset_match(gold, got)
    return columns_match(gold, got)


def _subset_match(gold, got):
    """Got has extra columns: find columns of got equal (as a multiset of row tuples) to gold."""
    import itertools
    if not gold or not got or len(gold) != len(got):
        return not gold and not got
    n = len(gold[0])
    want = sorted(repr([norm(v) for v in r]) for r in gold)
    for cols in itertools.permutations(range(len(got[0])), n):
        if sorted(repr([norm(r[c]) for c in cols]) for r in got) == want:
            return True
    return False


def ask(url, question, conv=None, headers=None, **extra):
    body = {"question": question, "stream": False, "page_size": 1000}
    if conv:
        body["conversation_id"] = conv
    body.update(extra)
    return post_query(url, body, headers=headers)


def load_cases():
    with open(CASES, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def test_the_data_file_has_enough_conversations():
    cases = load_cases()
    assert len(cases) >= 30
    assert all(2 <= len(c["turns"]) <= 3 for c in cases)
    assert sum(len(c["turns"]) == 3 for c in cases) >= 10


@pytest.mark.parametrize("case", load_cases(), ids=lambda c: " / ".join(t["question"] for t in c["turns"]))
def test_planner_conversation_rows_equal_psql(nomodel, stack_env, case):
    conv = "new"
    for i, t in enumerate(case["turns"]):
        r = ask(nomodel.url, t["question"], conv)
        assert r.status_code == 200, (t["question"], r.text[:500])
        body = r.json()
        assert re.fullmatch(r"c_[0-9a-f]{32}", body["conversation_id"])
        if conv != "new":
            assert body["conversation_id"] == conv
        conv = body["conversation_id"]
        if "options" in t:  # asked back: these option labels, no rows; the next turn answers
            labels = [o["label"] for o in body.get("clarification", {}).get("options", [])]
            assert labels == t["options"] and body["rows"] == [] and "sql" not in body, body
            continue
        assert body["source"] in ("planner", "cache"), body
        gold = pg_rows(t["sql"])
        ordered = "limit" in t["sql"].lower()
        assert same_rows(gold, body["rows"], ordered), (
            "turn %d %r: %s\ngold %s\ngot %s" % (i + 1, t["question"], body["sql"], gold[:5],
                                                 body["rows"][:5]))
    listed = requests.get(nomodel.url + "/conversations/" + conv, timeout=30).json()
    assert [x["question"] for x in listed["turns"]] == [t["question"] for t in case["turns"]]
    assert all(x["sql"] and x["columns"] and "row_count" in x
               for x, t in zip(listed["turns"], case["turns"]) if "options" not in t)
    assert all("clarification" in x and "sql" not in x
               for x, t in zip(listed["turns"], case["turns"]) if "options" in t)


def test_a_question_without_conversation_id_keeps_the_old_contract(nomodel, stack_env):
    r1 = ask(nomodel.url, "How many customers in Pune?")
    assert r1.status_code == 200
    assert "conversation_id" not in r1.json()  # no conversation is started or stored
    r2 = ask(nomodel.url, "what about Mumbai?")  # no context: not read as a follow-up
    assert r2.status_code != 200 or "Pune" not in r2.json()["sql"]
    j = requests.post(nomodel.url + "/export/start", json={"question": "How many customers in Pune?"},
                      timeout=30)
    assert j.status_code == 200 and "conversation_id" not in j.json()


def test_follow_up_to_a_failed_turn_uses_the_last_answered_one(nomodel, stack_env):
    c = ask(nomodel.url, "How many customers in Pune?", "new").json()["conversation_id"]
    bad = ask(nomodel.url, "and the flux capacitor readings?", c)
    assert_error(bad, 422, "cannot_answer")
    assert bad.json()["conversation_id"] == c
    r = ask(nomodel.url, "what about Delhi?", c)
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [[pg_rows("SELECT count(*) FROM customers WHERE city = 'Delhi'")[0][0]]]
    turns = requests.get(nomodel.url + "/conversations/" + c, timeout=30).json()["turns"]
    assert [("sql" in t, "error" in t) for t in turns] == [(True, False), (False, True), (True, False)]
    assert turns[1]["error"]["code"] == "cannot_answer"


def test_turn_limit(nomodel):
    c = ask(nomodel.url, "Number of customers by city", "new").json()["conversation_id"]
    for q in ["only members", "in 2023", "top 5"][:MAX_TURNS - 1]:
        assert ask(nomodel.url, q, c).status_code == 200, q
    r = ask(nomodel.url, "by month", c)
    assert_error(r, 422, "validation_error", "conversation_id")
    assert "turns" in r.json()["detail"]
    assert len(requests.get(nomodel.url + "/conversations/" + c, timeout=30).json()["turns"]) == MAX_TURNS


def test_deleted_conversation_is_gone(nomodel):
    c = ask(nomodel.url, "Number of customers by city", "new").json()["conversation_id"]
    assert requests.delete(nomodel.url + "/conversations/" + c, timeout=30).status_code == 204
    assert_error(requests.get(nomodel.url + "/conversations/" + c, timeout=30), 404, "not_found")
    assert_error(ask(nomodel.url, "only members", c), 404, "not_found")
    assert_error(requests.delete(nomodel.url + "/conversations/" + c, timeout=30), 404, "not_found")


def test_retention_expires_idle_conversations(nomodel, stack_env):
    c = ask(nomodel.url, "Number of customers by city", "new").json()["conversation_id"]
    pg_exec("UPDATE t2sql.conversations SET updated_at = now() - interval '8 days'"
            " WHERE id = '%s'" % c)
    assert_error(ask(nomodel.url, "only members", c), 404, "not_found")
    assert_error(requests.get(nomodel.url + "/conversations/" + c, timeout=30), 404, "not_found")
    ask(nomodel.url, "How many events are there?", "new")  # a new conversation purges expired ones
    assert pg_rows("SELECT count(*) FROM t2sql.turns WHERE conversation_id = '%s'" % c) == [(0,)]


@pytest.mark.parametrize("bad", ["x", "c_123", "C_" + "a" * 32, "c_" + "g" * 32, 7, [], {"a": 1},
                                 "c_" + "a" * 33, True])
def test_bad_conversation_ids_are_422(nomodel, bad):
    r = post_query(nomodel.url, {"question": "How many customers?", "conversation_id": bad})
    assert_error(r, 422, "validation_error", "conversation_id")


def test_bad_ids_in_the_path(nomodel):
    assert_error(requests.get(nomodel.url + "/conversations/nope", timeout=30), 422,
                 "validation_error")
    assert_error(requests.get(nomodel.url + "/conversations/c_" + "0" * 32, timeout=30), 404,
                 "not_found")


def test_clarification_answered(nomodel, stack_env):
    r = ask(nomodel.url, "Number of ticket sales by name", "new")
    assert r.status_code == 200, r.text
    body = r.json()
    cl = body["clarification"]
    assert body["rows"] == [] and cl["question"] and len(cl["options"]) == 2
    labels = [o["label"] for o in cl["options"]]
    assert any("customers" in l for l in labels) and any("events" in l for l in labels)
    opt = next(o for o in cl["options"] if "events" in o["label"])
    r2 = ask(nomodel.url, opt["question"], body["conversation_id"])
    assert r2.status_code == 200, r2.text
    gold = pg_rows("SELECT e.name, count(*) FROM ticket_sales t JOIN events e"
                                " USING (event_id) GROUP BY e.name")
    assert same_rows(gold, r2.json()["rows"], False)
    # the label alone answers as well
    r3 = ask(nomodel.url, "Number of ticket sales by name", "new")
    c3 = r3.json()["conversation_id"]
    r4 = ask(nomodel.url, opt["label"], c3)
    assert r4.status_code == 200 and r4.json()["sql"] == r2.json()["sql"]
    turns = requests.get(nomodel.url + "/conversations/" + c3, timeout=30).json()["turns"]
    assert "clarification" in turns[0] and "sql" not in turns[0]


def test_clarification_ignored(nomodel, stack_env):
    r = ask(nomodel.url, "Number of ticket sales by name", "new")
    c = r.json()["conversation_id"]
    assert "clarification" in r.json()
    r2 = ask(nomodel.url, "How many customers in Pune?", c)
    assert r2.status_code == 200, r2.text
    assert r2.json()["rows"] == [list(pg_rows("SELECT count(*) FROM customers WHERE city = 'Pune'")[0])]
    # without a conversation, the old contract: a decline
    assert_error(ask(nomodel.url, "Number of ticket sales by name"), 422, "cannot_answer")


def test_ownership(instances):
    inst = instances.start(AUTH[0], AUTH[1], **AUTH[2])
    a, b = create_key("convo-a"), create_key("convo-b")
    r = ask(inst.url, "How many customers are there?", "new", headers=bearer(a))
    assert r.status_code == 200, r.text
    c = r.json()["conversation_id"]
    assert requests.get(inst.url + "/conversations/" + c, headers=bearer(a), timeout=30).status_code == 200
    assert_error(requests.get(inst.url + "/conversations/" + c, headers=bearer(b), timeout=30), 404, "not_found")
    assert_error(ask(inst.url, "only members", c, headers=bearer(b)), 404, "not_found")
    assert_error(requests.delete(inst.url + "/conversations/" + c, headers=bearer(b), timeout=30), 404, "not_found")
    assert_error(requests.get(inst.url + "/conversations/" + c, timeout=30), 401, "unauthorized")
    assert_error(ask(inst.url, "only members", c), 401, "unauthorized")
    assert requests.get(inst.url + "/conversations/" + c, headers=bearer(a), timeout=30).status_code == 200


# ---- the scripted model -------------------------------------------------------------------

T1_SQL = "SELECT city, count(*) AS n FROM customers GROUP BY city"
T2_SQL = "SELECT city, count(*) AS n FROM customers WHERE is_member GROUP BY city"


def user_prompt(req):
    return [m for m in req["messages"] if m["role"] == "user"][-1]["content"]


def test_model_prompt_carries_earlier_turns_without_rows(base_url, fakellm, uq):
    # the follow-up's rule first: its prompt holds turn 1's question too
    fakellm.rules({"match": "Question: only members " + uq, "reply": "<sql>%s</sql>" % T2_SQL},
                  {"match": "Question: customers per city " + uq, "reply": "<sql>%s</sql>" % T1_SQL})
    r1 = ask(base_url, "customers per city " + uq, "new")
    assert r1.status_code == 200, r1.text
    c = r1.json()["conversation_id"]
    r2 = ask(base_url, "only members " + uq, c)
    assert r2.status_code == 200, r2.text
    assert r2.json()["sql"] == T2_SQL and r2.json()["conversation_id"] == c
    prompt = user_prompt(fakellm.calls()["requests"][-1])
    assert T1_SQL in prompt and "customers per city " + uq in prompt
    assert "standalone SELECT" in prompt
    first_city = r1.json()["rows"][0][0]
    assert "first rows" not in prompt and str(r1.json()["rows"][0][1]) + "]" not in prompt
    assert first_city not in prompt.split("Earlier turns")[1]


def test_follow_up_cache_entry_not_served_in_a_new_conversation(base_url, fakellm, uq):
    # the follow-up's rule first: its prompt holds turn 1's question too
    fakellm.rules({"match": "Question: only members " + uq, "reply": "<sql>%s</sql>" % T2_SQL},
                  {"match": "Question: customers per city " + uq, "reply": "<sql>%s</sql>" % T1_SQL})
    c = ask(base_url, "customers per city " + uq, "new").json()["conversation_id"]
    assert ask(base_url, "only members " + uq, c).status_code == 200
    n = fakellm.count()
    r = ask(base_url, "only members " + uq, "new")  # same words, no earlier turns
    assert r.status_code == 200, r.text
    assert fakellm.count() == n + 1  # asked again, not the follow-up's cached SQL
    assert r.json()["source"] == "llm"
    prompt = user_prompt(fakellm.calls()["requests"][-1])
    assert "Earlier turns" not in prompt
    # the same follow-up in the same context is served from the cache
    c2 = ask(base_url, "customers per city " + uq, "new").json()["conversation_id"]
    n = fakellm.count()
    r = ask(base_url, "only members " + uq, c2)
    assert r.status_code == 200 and r.json()["source"] == "cache" and fakellm.count() == n


def test_model_clarification_format(base_url, fakellm, uq):
    clar = {"question": "Count of sales or revenue?",
            "options": [{"label": "count", "question": "number of ticket sales " + uq},
                        {"label": "revenue", "question": "ticket revenue " + uq}]}
    fakellm.rules({"match": "Question: ticket revenue " + uq,
                   "reply": "<sql>SELECT sum(price * quantity) FROM ticket_sales</sql>"},
                  {"match": "Question: sales " + uq, "reply": "<clarify>%s</clarify>" % json.dumps(clar)},
                  {"match": "Question: customers per city " + uq, "reply": "<sql>%s</sql>" % T1_SQL})
    c = ask(base_url, "customers per city " + uq, "new").json()["conversation_id"]
    r = ask(base_url, "sales " + uq, c)
    assert r.status_code == 200, r.text
    assert r.json()["clarification"] == clar and r.json()["rows"] == []
    r2 = ask(base_url, "revenue", c)  # the label answers it
    assert r2.status_code == 200, r2.text
    assert r2.json()["sql"] == "SELECT sum(price * quantity) FROM ticket_sales"


def test_export_of_a_follow_up_turn_equals_its_pages(nomodel, stack_env):
    c = ask(nomodel.url, "Number of customers by city", "new").json()["conversation_id"]
    t2 = ask(nomodel.url, "only members", c).json()
    pages, page = [], 1
    while True:
        r = post_query(nomodel.url, {"query_id": t2["query_id"], "page": page, "page_size": 5,
                                     "stream": False}).json()
        pages += r["rows"]
        if page >= r["pagination"]["total_pages"]:
            break
        page += 1
    assert pages == t2["rows"]
    j = requests.post(nomodel.url + "/export/start", json={"query_id": t2["query_id"],
                                                           "conversation_id": c}, timeout=30)
    assert j.status_code == 200, j.text
    assert j.json()["conversation_id"] == c and j.json()["sql"] == t2["sql"]
    deadline, st = time.time() + 60, {}
    while time.time() < deadline and st.get("status") not in ("SUCCESS", "FAILED"):
        st = requests.get(nomodel.url + "/export/status/" + j.json()["job_id"], timeout=30).json()
        time.sleep(0.1)
    assert st["status"] == "SUCCESS", st
    text = requests.get(st["download_url"], timeout=60).content.decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == t2["columns"]
    csvval = lambda v: "t" if v is True else "f" if v is False else "" if v is None else str(v)
    assert [[csvval(v) for v in r] for r in pages] == rows[1:]


def test_rows_reach_the_prompt_only_when_allowed(instances, fakellm, uq):
    inst = instances.start("convo-rows", 18085, T2SQL_CONVERSATION_PROMPT_ROWS="true")
    fakellm.rules({"match": "Question: only members " + uq, "reply": "<sql>%s</sql>" % T2_SQL},
                  {"match": "Question: customers per city " + uq,
                   "reply": "<sql>%s ORDER BY city</sql>" % T1_SQL})
    r1 = ask(inst.url, "customers per city " + uq, "new")
    assert r1.status_code == 200, r1.text
    r2 = ask(inst.url, "only members " + uq, r1.json()["conversation_id"])
    assert r2.status_code == 200, r2.text
    prompt = user_prompt(fakellm.calls()["requests"][-1])
    context = prompt.split("Earlier turns")[1]
    assert "Turn 1 first rows: " in context
    line = context.split("Turn 1 first rows: ")[1].split("\n")[0]
    assert json.loads(line) == r1.json()["rows"][:5]  # the first 5 rows of the turn, no more
