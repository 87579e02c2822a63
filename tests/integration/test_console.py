"""The web console (/console) in a real browser (browser.py): a question asked by keyboard, the
table's cells against the API's rows (and those against PostgreSQL's), a chart with a point per
row, page 2, copying a page as CSV and TSV, an export to SUCCESS whose link downloads the CSV,
390 px wide, and with auth on: a 401 that asks for the key, then a 422 shown as such; a
question the service cannot answer shows its suggestions, and one clicked is answered; a click
on a column header sorts by it in the service (then descending, then page 2 of that), "Edit and
run" shows the edited SQL's rows or the guard's refusal, and with an admin key "Save as
verified example" stores the question and SQL. Conversations (tests/browser/convo.js, the
planner answering, auth on): a follow-up typed in the same box is a second turn whose table
equals that turn's rows through the API with the same key (and psql's), an earlier turn is
shown again, a reload restores the thread, "New conversation" clears it, a clarification's
options are buttons and the one pressed by keyboard answers as the API does, and a deleted
conversation starts afresh.
Screenshots: var/test/screenshots/console-{1280,390,401,422,cannot-answer,sorted,edit-sql,
unsafe-sql,example-saved}.png, conversation-{1280,390,clarify-1280,clarify-390,
clarified-1280}.png."""

import csv
import io
import json
import os
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

import requests

from browser import run_browser, screenshot_dir
from conftest import assert_rows_match, pagination, pg_rows, post_query
from test_conversations import same_rows
from test_security import bearer, create_key

SQL = ("SELECT sale_date AS day, count(*) AS tickets, sum(quantity) AS seats "
       "FROM ticket_sales GROUP BY 1 ORDER BY 1")
# other shapes of result -> the chart the console picks
SHAPES = {
    "events per category": ("SELECT category, count(*) AS events FROM events GROUP BY 1 ORDER BY 1",
                            "bar"),
    "capacity against price": ("SELECT capacity, base_price FROM events ORDER BY event_id",
                               "scatter"),
    "how many sales": ("SELECT count(*) AS sales FROM ticket_sales", "number"),
    "event names": ("SELECT name, category FROM events ORDER BY event_id", "none"),
}
AUTH = ("console-auth", 18081, {"T2SQL_AUTH_REQUIRED": "true", "T2SQL_MAX_QUESTION_CHARS": "60"})
PLANNER = ("console-planner", 18081, {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": ""})


def cell_text(v):
    """How the console writes a JSON value in a cell."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def api_cells(doc):
    return [[cell_text(v) for v in row] for row in doc["body"]["rows"]]


@pytest.fixture(scope="module")
def main_run(request, base_url, fakellm):
    question = "tickets per day in the console %s" % os.getpid()
    fakellm.rules([{"match": question, "reply": "<sql>%s</sql>" % SQL}] +
                  [{"match": q, "reply": "<sql>%s</sql>" % sql} for q, (sql, _) in SHAPES.items()])
    out = run_browser("console.js", {"scenario": "main", "url": base_url, "question": question,
                                     "screenshots": screenshot_dir(), "shapes": list(SHAPES)})
    out["question"] = question
    return out


@pytest.fixture(autouse=True)
def _reset_fakellm():
    """The module's browser run sets its own rule once (overrides conftest's per-test reset)."""
    yield


def test_table_equals_api_rows(main_run, pg):
    first = main_run["first"]
    api = first["api"]
    assert api["status"] == 200
    assert first["columns"] == api["body"]["columns"] == ["day", "tickets", "seats"]
    assert len(first["cells"]) == 50
    assert first["cells"] == api_cells(api)
    names, oids, rows = pg.run(SQL)
    assert_rows_match(api["body"], (names, oids, rows[:50]))
    assert api["body"]["pagination"] == pagination(1, 50, len(rows))
    assert first["pageInfo"].startswith("Page 1 of %d · %d rows" % (-(-len(rows) // 50), len(rows)))
    assert first["prevDisabled"] and not first["nextDisabled"]
    assert first["sql"] == api["body"]["sql"]
    assert first["error"] is None and not main_run["pageErrors"]


def test_chart_has_a_point_per_row(main_run):
    first = main_run["first"]
    # a date column and two measures: a line per measure, a point per row
    assert first["chartKind"] == "line"
    assert first["chart"]["type"] == "line"
    assert first["chart"]["points"] == [len(first["cells"])] * 2
    assert first["chart"]["labels"] == len(first["cells"])
    # the user's choice, and hiding it
    assert main_run["switched"]["type"] == "bar" and main_run["switched"]["points"] == [50]
    assert main_run["hidden"]["chartAreaHidden"] is True
    assert main_run["shown"]["chartAreaHidden"] is False and main_run["shown"]["chart"]["type"] == "line"


def test_chart_chosen_from_the_shape(main_run, pg):
    assert [s["question"] for s in main_run["shapes"]] == list(SHAPES)
    for snap in main_run["shapes"]:
        sql, kind = SHAPES[snap["question"]]
        body = snap["api"]["body"]
        assert snap["api"]["status"] == 200 and snap["sql"] == body["sql"]
        assert_rows_match(body, pg.run(sql))
        assert snap["cells"] == api_cells(snap["api"])
        assert snap["chartKind"] == kind, (snap["question"], snap["chartKind"])
        if kind == "number":
            assert snap["chart"] is None
            assert snap["bignum"] == "{:,}".format(body["rows"][0][0])
        elif kind == "none":
            assert snap["chart"] is None and snap["bignum"] is None
        else:
            assert snap["chart"]["type"] == kind
            assert snap["chart"]["points"] == [len(body["rows"])]
        if kind == "bar":  # sorted by the measure, largest first
            want = sorted(body["rows"], key=lambda r: -r[1])
            assert snap["chart"]["values"] == [r[1] for r in want]
            assert sorted(snap["chart"]["labelList"]) == sorted(r[0] for r in body["rows"])
            assert snap["chart"]["values"][0] == max(r[1] for r in body["rows"])


def test_page_two(main_run, pg):
    second = main_run["second"]
    api = second["api"]
    assert api["status"] == 200 and api["body"]["query_id"] == main_run["first"]["api"]["body"]["query_id"]
    names, oids, rows = pg.run(SQL)
    assert_rows_match(api["body"], (names, oids, rows[50:100]))
    assert api["body"]["pagination"] == pagination(2, 50, len(rows))
    assert second["cells"] == api_cells(api)
    assert second["cells"] != main_run["first"]["cells"]
    assert second["pageInfo"].startswith("Page 2 of ")
    assert not second["prevDisabled"] and not second["nextDisabled"]
    assert second["chart"]["points"] == [50, 50]


def test_copy_page_as_csv_and_tsv(main_run):
    first = main_run["first"]
    want = [first["columns"]] + first["cells"]
    assert list(csv.reader(io.StringIO(main_run["csv"]))) == want
    assert [ln.split("\t") for ln in main_run["tsv"].splitlines()] == want


def test_export_to_success_and_download(main_run, pg):
    ex = main_run["export"]
    assert ex["status"] == "SUCCESS", ex
    assert ex["seen"][-1].startswith("Export SUCCESS") and "rows" in ex["seen"][-1], ex["seen"]
    names, oids, rows = pg.run(SQL)
    assert "%d rows" % len(rows) in ex["seen"][-1] and "%d rows" % len(rows) in ex["linkText"]
    assert ex["link"] and urlsplit(ex["link"]).hostname == "127.0.0.1"
    assert ex["fetched"]["status"] == 200
    got = list(csv.reader(io.StringIO(ex["fetched"]["text"])))
    assert got[0] == names
    assert [[r[0], Decimal(r[1]), Decimal(r[2])] for r in got[1:]] == \
        [[r[0], Decimal(r[1]), Decimal(r[2])] for r in rows]
    # the click itself: the browser downloaded the file (or showed it)
    dl = ex["download"]
    assert dl["via"] in ("file", "page"), dl
    assert dl["text"].strip().splitlines() == ex["fetched"]["text"].strip().splitlines()


def test_narrow_screen_keyboard_and_no_external_requests(main_run):
    narrow = main_run["narrow"]
    assert narrow["scrollWidth"] <= 390, "the page scrolls sideways at 390 px"
    assert narrow["chart"] and narrow["chart"]["width"] <= 390
    assert narrow["cells"] == main_run["second"]["cells"]
    assert main_run["focusedAtStart"] == "q" and main_run["focusedAfterAnswer"] == "result-title"
    assert main_run["unlabelled"] == []
    hosts = {urlsplit(u).netloc for u in main_run["requests"]}
    assert hosts == {urlsplit(os.environ["T2SQL_TEST_URL"]).netloc}, hosts
    # the tab keeps the conversation's id only (no key was asked for)
    conv = main_run["first"]["api"]["body"]["conversation_id"]
    assert main_run["storage"] == {"session": {"t2sql.conversation": conv}, "local": [], "cookie": ""}
    for name in ("shot1280", "shot390"):
        with open(main_run[name], "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_unauthorized_asks_for_a_key_then_422(instances, fakellm, pg):
    inst = instances.start(AUTH[0], AUTH[1], **AUTH[2])
    key = create_key("console", scopes="query,export")
    question = "tickets per day, with a key"
    fakellm.sql(question, SQL)
    long_question = "tickets per day " + "and then some more words " * 3
    assert len(long_question) > 60
    out = run_browser("console.js", {"scenario": "auth", "url": inst.url, "key": key,
                                     "question": question, "long_question": long_question,
                                     "screenshots": screenshot_dir()})
    asked = out["asked"]
    assert asked["api"]["status"] == 401
    assert asked["keyFormShown"] and asked["focused"] == "key"
    assert asked["error"]["status"] == "401" and asked["error"]["code"] == "unauthorized"
    assert "request id" in asked["error"]["text"]
    assert asked["cells"] == []
    answered = out["answered"]
    assert answered["api"]["status"] == 200 and not answered["keyFormShown"]
    assert answered["error"] is None
    assert answered["cells"] == api_cells(answered["api"])
    names, oids, rows = pg.run(SQL)
    assert_rows_match(answered["api"]["body"], (names, oids, rows[:50]))
    assert out["storage"]["session"] == {"t2sql.apiKey": key, "t2sql.conversation":
                                         answered["api"]["body"]["conversation_id"]}
    assert out["storage"]["local"] == [] and out["storage"]["cookie"] == ""
    assert out["otherTab"]["session"] == {}
    too_long = out["tooLong"]
    assert too_long["api"]["status"] == 422
    assert too_long["error"]["status"] == "422" and too_long["error"]["code"] == "validation_error"
    text = too_long["error"]["text"]
    assert text.startswith("422 validation_error") and "field: question" in text
    assert "request id" in text and too_long["api"]["body"]["detail"] in text
    assert not too_long["keyFormShown"]
    assert not out["pageErrors"]


def test_cannot_answer_shows_suggestions_that_answer(instances):
    inst = instances.start(PLANNER[0], PLANNER[1], **PLANNER[2])
    out = run_browser("console.js", {"scenario": "declined", "url": inst.url,
                                     "question": "what is the meaning of life %d" % os.getpid(),
                                     "screenshots": screenshot_dir()})
    assert out["pageErrors"] == []
    d = out["declined"]
    assert d["api"]["status"] == 422 and d["api"]["body"]["code"] == "cannot_answer"
    assert d["error"]["status"] == "422" and d["error"]["code"] == "cannot_answer"
    sugg = d["api"]["body"]["suggestions"]
    assert sugg and d["buttons"] == sugg, (d["buttons"], sugg)
    c = out["clicked"]
    assert c["question"] == sugg[0]
    assert c["api"]["status"] == 200 and c["error"] is None
    assert c["cells"] == api_cells(c["api"])


# sorting, editing and saving: events has ties in category, broken by the other columns
TOOLS_SQL = "SELECT event_id, name, category, capacity FROM events ORDER BY event_id"
EDITED_SQL = "SELECT category, count(*) AS events FROM events GROUP BY 1 ORDER BY 2 DESC, 1"
UNSAFE_SQL = "DELETE FROM events WHERE event_id = 1"


@pytest.fixture(scope="module")
def tools_run(fakellm):
    question = "events for the console's tools %d" % os.getpid()
    fakellm.sql(question, TOOLS_SQL)
    out = run_browser("console.js", {"scenario": "tools", "url": os.environ["T2SQL_TEST_URL"],
                                     "question": question, "sort": "category", "sql": EDITED_SQL,
                                     "unsafe_sql": UNSAFE_SQL, "screenshots": screenshot_dir()})
    assert out["pageErrors"] == []
    return out


def sorted_by_category(pg, desc):
    """What the service's sort means, in PostgreSQL's words: the column, then the tie-breaker
    (every other column by position)."""
    return pg.run("SELECT * FROM (%s) t ORDER BY category%s, event_id, name, capacity" %
                  (TOOLS_SQL, " DESC" if desc else ""))


def test_header_click_sorts_in_the_service(tools_run, pg):
    qid = tools_run["unsorted"]["api"]["body"]["query_id"]
    for snap, desc in ((tools_run["asc"], False), (tools_run["desc"], True)):
        api = snap["api"]
        assert api["status"] == 200 and api["body"]["query_id"] == qid
        names, oids, rows = sorted_by_category(pg, desc)
        assert_rows_match(api["body"], (names, oids, rows[:10]))
        assert api["body"]["pagination"] == pagination(1, 10, len(rows))
        assert snap["cells"] == api_cells(api)
        assert snap["columns"] == names and snap["pageInfo"].startswith("Page 1 of 5")
        cats = [r[2] for r in api["body"]["rows"]]
        assert cats == sorted(cats, reverse=desc)
    assert tools_run["asc"]["cells"] != tools_run["desc"]["cells"]
    assert "ORDER BY 3 DESC" in tools_run["desc"]["sql"]


def test_page_two_of_a_sorted_result(tools_run, pg):
    snap = tools_run["desc2"]
    assert snap["sortedHeader"] == ["category", "descending"]
    names, oids, rows = sorted_by_category(pg, True)
    assert_rows_match(snap["api"]["body"], (names, oids, rows[10:20]))
    assert snap["api"]["body"]["pagination"] == pagination(2, 10, len(rows))
    assert snap["cells"] == api_cells(snap["api"])


def test_edit_and_run_sql(tools_run, pg):
    snap = tools_run["edited"]
    body = snap["api"]["body"]
    assert snap["api"]["status"] == 200 and body["source"] == "user" and body["sql"] == EDITED_SQL
    assert body["query_id"] != tools_run["unsorted"]["api"]["body"]["query_id"]
    assert_rows_match(body, pg.run(EDITED_SQL))
    assert snap["cells"] == api_cells(snap["api"]) and snap["sql"] == EDITED_SQL
    assert snap["editorHidden"] and snap["error"] is None
    assert snap["pageInfo"].startswith("Page 1 of 1")


def test_unsafe_edited_sql_shows_the_guard_error(tools_run):
    snap = tools_run["unsafe"]
    assert snap["api"]["status"] == 400 and snap["api"]["body"]["code"] == "unsafe_sql"
    assert snap["error"]["status"] == "400" and snap["error"]["code"] == "unsafe_sql"
    assert snap["error"]["text"].startswith("400 unsafe_sql") and "request id" in snap["error"]["text"]
    # the editor stays open with the text, and the last good answer stays shown
    assert snap["editorShown"] and snap["editText"] == UNSAFE_SQL
    assert snap["cells"] == tools_run["edited"]["cells"]


def test_save_as_verified_example_with_an_admin_key(instances, fakellm, pg):
    inst = instances.start(AUTH[0], AUTH[1], **AUTH[2])
    key = create_key("console-admin", scopes="query,export,admin")
    question = "events to keep as an example %d" % os.getpid()
    fakellm.sql(question, TOOLS_SQL)
    out = run_browser("console.js", {"scenario": "example", "url": inst.url, "key": key,
                                     "question": question, "screenshots": screenshot_dir()})
    assert out["pageErrors"] == []
    assert out["answered"]["api"]["status"] == 200 and out["answered"]["saveShown"]
    saved = out["saved"]
    try:
        assert saved["status"] == 201, saved
        assert saved["body"]["question"] == question and saved["body"]["sql"] == TOOLS_SQL
        assert "Saved as verified example %s" % saved["body"]["id"] in saved["statusText"]
        r = requests.get(inst.url + "/examples", headers=bearer(key), timeout=10)
        assert r.status_code == 200
        listed = [e for e in r.json()["examples"] if e["id"] == saved["body"]["id"]]
        assert [(e["question"], e["sql"]) for e in listed] == [(question, TOOLS_SQL)]
    finally:
        if saved.get("body", {}).get("id"):
            requests.delete(inst.url + "/examples/%s" % saved["body"]["id"], headers=bearer(key),
                            timeout=10)


# ---- conversations: the thread, follow-ups, clarifications (tests/browser/convo.js) ---------
# the planner answers (no model) with auth on: a conversation belongs to the key
CONVO = ("console-convo", 18081, {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": "",
                                  "T2SQL_AUTH_REQUIRED": "true"})
FIRST_Q, FOLLOW_UP = "Number of customers by city", "only members"
FOLLOW_UP_SQL = "SELECT city, count(*) FROM customers WHERE is_member GROUP BY city"
CLARIFY_Q, OPTION = "Number of ticket sales by name", "events"  # "name": customers and events
OPTION_SQL = "SELECT e.name, count(*) FROM ticket_sales t JOIN events e USING (event_id) GROUP BY e.name"
GONE_Q, FAILING_Q = "How many customers in Pune?", "and the flux capacitor readings?"
SAVE_Q = "what about Delhi?"
CONV_ID = re.compile(r"c_[0-9a-f]{32}")


@pytest.fixture(scope="module")
def convo_run(instances):
    inst = instances.start(CONVO[0], CONVO[1], **CONVO[2])
    key = create_key("console-convo", scopes="query,export,admin")
    out = run_browser("convo.js", {"url": inst.url, "key": key, "question": FIRST_Q,
                                   "follow_up": FOLLOW_UP, "clarify": CLARIFY_Q, "option": OPTION,
                                   "gone": GONE_Q, "failing": FAILING_Q, "save": SAVE_Q,
                                   "screenshots": screenshot_dir()})
    out["url"], out["key"] = inst.url, key
    saved = out["saved"]["body"]
    if out["saved"]["status"] == 201:  # no other test's planner answers may come from it
        requests.delete(inst.url + "/examples/%s" % saved["id"], headers=bearer(key), timeout=10)
    assert out["pageErrors"] == []
    return out


def turn_page(run, query_id):
    """Page 1 (50 rows) of a turn's query_id, asked through the API with the console's key."""
    r = post_query(run["url"], {"query_id": query_id, "page": 1, "page_size": 50, "stream": False},
                   headers=bearer(run["key"]))
    assert r.status_code == 200, r.text
    return {"status": 200, "body": r.json(parse_float=Decimal)}


def listed(run, conv):
    r = requests.get(run["url"] + "/conversations/" + conv, headers=bearer(run["key"]), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["turns"]


def test_follow_up_typed_in_place(convo_run):
    first, fu = convo_run["first"], convo_run["followUp"]
    assert convo_run["start"]["label"] == "Question" and not convo_run["start"]["newConversation"]
    conv = first["api"]["body"]["conversation_id"]
    assert CONV_ID.fullmatch(conv) and fu["api"]["body"]["conversation_id"] == conv
    # the box became "ask a follow-up", emptied for the next turn, and the id is in the tab
    assert first["box"]["label"] == "Ask a follow-up" and first["box"]["button"] == "Ask follow-up"
    assert first["box"]["value"] == "" and first["box"]["newConversation"]
    assert first["box"]["conversation"] == conv == fu["box"]["conversation"]
    turns = listed(convo_run, conv)
    assert [t["question"] for t in turns] == [FIRST_Q, FOLLOW_UP]  # restoring and re-showing add none
    shown = fu["thread"]["turns"]
    assert [(t["n"], t["question"]) for t in shown] == [(1, FIRST_Q), (2, FOLLOW_UP)]
    assert [t["sql"] for t in shown] == [t["sql"] for t in turns]
    assert all(t["sqlOpen"] is False and t["show"] for t in shown)  # collapsible, re-showable
    assert [t["current"] for t in shown] == [False, True]
    for t, lt in zip(shown, turns):
        assert t["answer"] == "%d rows · source %s" % (lt["row_count"], lt["source"])
    assert fu["thread"]["live"] == "polite" and not fu["thread"]["hidden"]
    # the table holds the follow-up's rows: as the API gives that turn to the same key, as psql
    api = turn_page(convo_run, turns[1]["query_id"])
    assert fu["api"]["body"]["query_id"] == turns[1]["query_id"]
    assert fu["cells"] == api_cells(api) == api_cells(fu["api"])
    assert fu["cells"] != first["cells"]
    assert same_rows(pg_rows(FOLLOW_UP_SQL), api["body"]["rows"], False)
    assert fu["sql"] == turns[1]["sql"] and fu["error"] is None
    # another identity (here: none) does not see the conversation
    r = requests.get(convo_run["url"] + "/conversations/" + conv, timeout=30)
    assert r.status_code == 401


def test_an_earlier_turn_is_shown_again(convo_run):
    conv = convo_run["first"]["api"]["body"]["conversation_id"]
    t1 = listed(convo_run, conv)[0]
    e = convo_run["earlier"]
    assert e["api"]["body"]["query_id"] == t1["query_id"]  # by its query_id: no new turn
    assert e["cells"] == api_cells(turn_page(convo_run, t1["query_id"])) == convo_run["first"]["cells"]
    assert [t["current"] for t in e["thread"]["turns"]] == [True, False]
    assert e["focused"] == "result-title"


def test_reload_restores_the_thread(convo_run):
    fu, r = convo_run["followUp"], convo_run["restored"]
    strip = lambda ts: [{k: t[k] for k in ("n", "question", "sql", "answer")} for t in ts]
    assert strip(r["thread"]["turns"]) == strip(fu["thread"]["turns"])
    assert r["box"]["conversation"] == fu["box"]["conversation"]
    assert r["box"]["label"] == "Ask a follow-up" and r["box"]["newConversation"]
    # the latest turn's result is shown again
    assert r["cells"] == fu["cells"] and r["thread"]["turns"][1]["current"]
    assert r["api"]["body"]["query_id"] == fu["api"]["body"]["query_id"]


def test_new_conversation_clears_the_thread(convo_run):
    c = convo_run["cleared"]
    assert c["thread"]["hidden"] and c["thread"]["turns"] == []
    assert c["box"]["label"] == "Question" and not c["box"]["newConversation"]
    assert c["box"]["resultHidden"] and c["box"]["focused"] == "q"
    assert c["storage"]["session"] == {"t2sql.apiKey": convo_run["key"]}


def test_clarification_options_are_buttons_that_answer(convo_run):
    cl = convo_run["clarify"]
    body = cl["api"]["body"]
    assert cl["api"]["status"] == 200 and body["rows"] == []
    conv = body["conversation_id"]
    assert CONV_ID.fullmatch(conv) and conv != convo_run["first"]["api"]["body"]["conversation_id"]
    opts = body["clarification"]["options"]
    assert len(opts) >= 2
    (turn,) = cl["thread"]["turns"]
    assert turn["question"] == CLARIFY_Q and turn["sql"] is None and not turn["show"]
    assert turn["answer"] == "asked back: " + body["clarification"]["question"]
    assert [o["label"] for o in turn["options"]] == [o["label"] for o in opts]
    assert all(o["type"] == "button" and o["tabIndex"] == 0 for o in turn["options"])
    assert turn["options"][0]["group"] == "Answers to: " + body["clarification"]["question"]
    assert cl["box"]["focused"] == opts[0]["label"]  # the focus went to the first option
    # reached by Tab and pressed with Enter: the option's question is the next turn
    opt = next(o for o in opts if OPTION in o["label"])
    assert OPTION in convo_run["pressed"]
    done = convo_run["clarified"]
    assert [t["question"] for t in done["thread"]["turns"]] == [CLARIFY_Q, opt["question"]]
    assert [t["options"] for t in done["thread"]["turns"]] == [[], []]  # answered: no buttons
    assert done["api"]["body"]["conversation_id"] == conv and done["cells"] == api_cells(done["api"])
    # the same option asked through the API in that conversation, with the same key
    r = post_query(convo_run["url"], {"question": opt["question"], "conversation_id": conv,
                                      "stream": False, "page_size": 50}, headers=bearer(convo_run["key"]))
    assert r.status_code == 200, r.text
    api = {"body": r.json(parse_float=Decimal)}
    assert api["body"]["sql"] == done["sql"]
    assert sorted(done["cells"]) == sorted(api_cells(api))
    assert same_rows(pg_rows(OPTION_SQL), api["body"]["rows"], False)


def test_a_deleted_conversation_starts_fresh(convo_run):
    assert convo_run["deleted"]["status"] == 204
    g = convo_run["gone"]
    assert "conversation is gone" in g["box"]["status"] and g["error"] is None
    assert g["thread"]["hidden"] and g["thread"]["turns"] == [] and g["box"]["conversation"] is None
    assert g["box"]["label"] == "Question"
    a = convo_run["afterGone"]
    assert a["api"]["status"] == 200 and CONV_ID.fullmatch(a["box"]["conversation"])
    assert a["box"]["conversation"] != convo_run["deleted"]["id"]
    assert [t["question"] for t in a["thread"]["turns"]] == [GONE_Q]


def test_a_failed_follow_up_is_a_turn_with_its_error(convo_run):
    f = convo_run["failedTurn"]
    assert f["api"]["status"] == 422 and f["api"]["body"]["code"] == "cannot_answer"
    assert f["error"]["code"] == "cannot_answer"
    t1, t2 = f["thread"]["turns"]
    assert t2["question"] == FAILING_Q and t2["sql"] is None and not t2["show"]
    assert t2["answer"] == "422 cannot_answer: " + f["api"]["body"]["detail"]
    assert t1["current"] and f["cells"] == convo_run["afterGone"]["cells"]  # the last result stays
    assert f["box"]["value"] == FAILING_Q  # kept to be rephrased
    turns = listed(convo_run, f["box"]["conversation"])
    assert [("sql" in t, t.get("error", {}).get("code")) for t in turns[:2]] == \
        [(True, None), (False, "cannot_answer")]


def test_a_follow_up_is_saved_as_an_example_in_its_standalone_form(convo_run):
    s = convo_run["saved"]
    assert s["status"] == 201, s
    t = listed(convo_run, s["id"])[2]
    assert t["question"] == SAVE_Q and t["standalone_question"] != SAVE_Q
    assert s["body"]["question"] == t["standalone_question"] and "delhi" in s["body"]["question"].lower()
    assert s["body"]["sql"] == t["sql"]


def test_thread_screens_labels_and_no_external_requests(convo_run):
    assert convo_run["scrollWidth390"] <= 390, "the page scrolls sideways at 390 px"
    assert convo_run["unlabelled"] == []
    hosts = {urlsplit(u).netloc for u in convo_run["requests"]}
    assert hosts == {urlsplit(convo_run["url"]).netloc}, hosts
    for name in ("thread1280", "thread390", "clarify1280", "clarify390", "clarified1280"):
        with open(convo_run[name], "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
