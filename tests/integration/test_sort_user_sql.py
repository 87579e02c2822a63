"""POST /query's "sort" (the service sorts a query_id's result) and "sql" (SQL the user wrote,
through the same guard): sort's validation (422 on field sort), sorted pages that partition
the sorted result (disjoint, complete, in PostgreSQL's order), a sorted export; the user's SQL
answered with source "user" and paged by its query_id, the guard's refusals as 400s, and
allow_user_sql = false as 403 forbidden."""

import csv
import io
import os
import time

import pytest
import requests

from conftest import assert_rows_match, pagination, post_query

EVENTS = "SELECT event_id, name, category, capacity FROM events ORDER BY event_id"
# no key and repeated rows: only the sort and the tie-breaker order it
CATEGORIES = "SELECT category, capacity > 1000 AS big FROM events"
OFF = ("user-sql-off", 18082, {"T2SQL_ALLOW_USER_SQL": "false"})


def query(base_url, body, status=200):
    r = post_query(base_url, dict({"stream": False}, **body))
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()


@pytest.fixture(scope="module")
def events_id(base_url):
    return query(base_url, {"sql": EVENTS})["query_id"]


@pytest.mark.parametrize("sort, says", [
    ([{"column": "nope"}], "not a column"),
    ([{"column": "category"}, {"column": "NAME"}], "not a column"),
    ("category", "list"),
    ({"column": "category"}, "list"),
    ([], "list"),
    ([{"column": "name"}] * 9, "list"),
    ([{"column": 3}], "column"),
    ([{"column": ""}], "column"),
    ([{"column": None}], "column"),
    (["category"], "column"),
    ([{"column": "category", "desc": "maybe"}], "desc"),
    ([{"column": "category", "desc": None}], "desc"),
    ([{"column": "category", "direction": "desc"}], "members"),
])
def test_sort_validation(base_url, events_id, sort, says):
    body = query(base_url, {"query_id": events_id, "sort": sort}, 422)
    assert body["code"] == "validation_error" and body["field"] == "sort", body
    assert says in body["detail"], body


@pytest.mark.parametrize("sql, says", [
    ("SELECT 1 AS a, 2 AS a", "more than one column"),
    ("SELECT '{}'::json AS a", "no ordering"),
])
def test_sort_needs_one_orderable_column(base_url, sql, says):
    qid = query(base_url, {"sql": sql})["query_id"]
    body = query(base_url, {"query_id": qid, "sort": [{"column": "a"}]}, 422)
    assert body["field"] == "sort" and says in body["detail"], body


def all_pages(base_url, qid, sort, size, stream):
    rows, page = [], 1
    while True:
        r = post_query(base_url, {"query_id": qid, "sort": sort, "page": page,
                                  "page_size": size, "stream": stream})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["query_id"] == qid
        rows += body["rows"]
        if not body["pagination"]["has_more"]:
            return rows, body
        page += 1


@pytest.mark.parametrize("stream", [False, True])
def test_sorted_pages_partition_the_result(base_url, pg, stream):
    qid = query(base_url, {"sql": CATEGORIES})["query_id"]
    sort = [{"column": "big", "desc": True}, {"column": "category"}]
    rows, last = all_pages(base_url, qid, sort, 7, stream)
    names, oids, want = pg.run("SELECT * FROM (%s) t ORDER BY big DESC, category" % CATEGORIES)
    assert len(rows) == len(want) == last["pagination"]["total_rows"] == 50
    # the same rows as PostgreSQL's sort, in its order (the rows are equal within a tie)
    assert_rows_match({"columns": last["columns"], "rows": rows}, (names, oids, want))
    # and the same every time: a page asked again holds the same rows
    again = query(base_url, {"query_id": qid, "sort": sort, "page": 3, "page_size": 7})
    assert again["rows"] == rows[14:21]
    assert again["pagination"] == pagination(3, 7, 50)


def test_sorted_pages_with_ties_are_disjoint(base_url, pg, events_id):
    sort = [{"column": "category", "desc": True}]
    rows, _ = all_pages(base_url, events_id, sort, 6, False)
    ids = [r[0] for r in rows]
    assert sorted(ids) == list(range(1, 51)), "a row missing or repeated across pages"
    names, oids, want = pg.run("SELECT * FROM (%s) t ORDER BY category DESC, event_id" % EVENTS)
    assert_rows_match({"columns": names, "rows": rows}, (names, oids, want))


def test_sort_answers_with_the_sorted_sql(base_url, events_id):
    body = query(base_url, {"query_id": events_id, "sort": [{"column": "capacity",
                                                              "desc": "true"}]})
    assert body["sql"].startswith("SELECT * FROM (\n" + EVENTS + "\n)")
    assert body["sql"].endswith("ORDER BY 4 DESC")
    caps = [r[3] for r in body["rows"]]
    assert caps == sorted(caps, reverse=True)
    # without sort the query_id's own SQL again
    assert query(base_url, {"query_id": events_id})["sql"] == EVENTS


def test_sorted_export_is_the_sorted_pages(base_url, events_id):
    sort = [{"column": "category"}, {"column": "capacity", "desc": True}]
    rows, _ = all_pages(base_url, events_id, sort, 20, False)
    r = requests.post(base_url + "/export/start", json={"query_id": events_id, "sort": sort},
                      timeout=30)
    assert r.status_code == 200, r.text
    job = r.json()["job_id"]
    end = time.time() + 90
    while time.time() < end:
        st = requests.get(base_url + "/export/status/" + job, timeout=30).json()
        if st["status"] in ("SUCCESS", "FAILED", "CANCELLED"):
            break
        time.sleep(0.2)
    assert st["status"] == "SUCCESS", st
    got = list(csv.reader(io.StringIO(requests.get(st["download_url"], timeout=30).text)))
    assert got[0] == ["event_id", "name", "category", "capacity"]
    assert got[1:] == [[str(v) for v in row] for row in rows]


def test_user_sql_is_answered_and_paged(base_url, pg):
    sql = "SELECT sale_id, quantity FROM ticket_sales WHERE sale_id <= 25 ORDER BY sale_id"
    first = query(base_url, {"sql": "  " + sql + " ;\n", "page_size": 10})
    assert first["source"] == "user" and first["sql"] == sql
    names, oids, rows = pg.run(sql)
    assert_rows_match(first, (names, oids, rows[:10]))
    assert first["pagination"] == pagination(1, 10, 25)
    second = query(base_url, {"query_id": first["query_id"], "page": 2, "page_size": 10})
    assert second["query_id"] == first["query_id"]
    assert_rows_match(second, (names, oids, rows[10:20]))


@pytest.mark.parametrize("sql, code", [
    ("DELETE FROM events", "unsafe_sql"),
    ("SELECT 1; SELECT 2", "unsafe_sql"),
    ("SELECT pg_sleep(1)", "unsafe_sql"),
    ("SELECT * FROM pg_authid", "unsafe_sql"),
    ("SELEC 1", "invalid_sql"),
    ("SELECT * FROM no_such_table", "invalid_sql"),
    ("SELECT no_such_column FROM events", "invalid_sql"),
])
def test_user_sql_guard_refusals(base_url, sql, code):
    body = query(base_url, {"sql": sql}, 400)
    assert body["code"] == code, body


@pytest.mark.parametrize("extra, field", [
    ({"sql": ["SELECT 1"]}, "sql"),
    ({"sql": "SELECT 1", "question": "how many"}, "sql"),
    ({"sql": "SELECT 1", "query_id": "q_0"}, "sql"),
])
def test_user_sql_field_rules(base_url, extra, field):
    body = query(base_url, extra, 422)
    assert body["code"] == "validation_error" and body["field"] == field, body


def test_user_sql_switched_off(instances, fakellm):
    inst = instances.start(OFF[0], OFF[1], **OFF[2])
    body = query(inst.url, {"sql": "SELECT 1 AS one"}, 403)
    assert body["code"] == "forbidden" and "allow_user_sql" in body["detail"], body
    r = requests.post(inst.url + "/export/start", json={"sql": "SELECT 1 AS one"}, timeout=30)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    q = "one, with user SQL off %d" % os.getpid()
    fakellm.sql(q, "SELECT 1 AS one")
    assert query(inst.url, {"question": q})["rows"] == [[1]]
