"""Pages partition the result (issue 10): for one query_id over unchanged data, page N always
holds the same rows, pages are disjoint and their union is the whole result, whatever else
reads the table; streamed, NDJSON and exported rows come in the pages' order. The table is
larger than a quarter of shared_buffers, so that concurrent sequential scans synchronise
(each starts where another is) and parallel query hands rows back in arrival order: without
a total order, pages of such a table overlap and skip rows."""

import csv
import io
import json
import threading
import time

import pytest
import requests

from conftest import assert_ok, loads, pg_connect, post_query

NDJSON = {"Accept": "application/x-ndjson"}
TABLE = "trust_pages"
ROWS = 500000  # about 90 MB: past shared_buffers / 4 (256 MB / 4) on the test cluster
PAGES, SIZE = 20, 500
SQL = "SELECT city, note FROM %s WHERE id %% 50 = 0" % TABLE  # 10,000 rows, no key in them


@pytest.fixture(scope="module")
def table(stack_env):
    c = pg_connect()
    with c.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS %s" % TABLE)
        cur.execute("CREATE TABLE %s AS SELECT g AS id, 'city ' || (g %% 37) AS city,"
                    " md5(g::text) AS note, repeat('p', 100) AS pad"
                    " FROM generate_series(1, %d) g" % (TABLE, ROWS))
        cur.execute("ALTER TABLE %s ADD PRIMARY KEY (id)" % TABLE)
        cur.execute("ANALYZE %s" % TABLE)
    try:
        yield TABLE
    finally:
        with c.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS %s" % TABLE)
        c.close()


class Scanners:
    """Three connections seq-scanning the table in a loop with parallel query on."""

    def __init__(self, stack_env):
        self.stop = threading.Event()
        self.scans = 0
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(stack_env,)) for _ in range(3)]

    def run(self, stack_env):
        try:
            c = pg_connect()
            with c.cursor() as cur:
                cur.execute("SET max_parallel_workers_per_gather = 2")
                cur.execute("SET parallel_setup_cost = 0")
                cur.execute("SET parallel_tuple_cost = 0")
                while not self.stop.is_set():
                    cur.execute("SELECT count(*) FROM %s WHERE pad <> 'x'" % TABLE)
                    cur.fetchone()
                    self.scans += 1
            c.close()
        except Exception as e:  # reported by the test
            self.errors.append(repr(e))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(120)


def ask(base_url, fakellm, question, sql):
    fakellm.sql(question, sql)
    end = time.time() + 20
    while True:  # the new table reaches each worker's catalog at its next check
        r = post_query(base_url, {"question": question, "page_size": SIZE, "stream": False},
                       timeout=120)
        if r.status_code != 400 or "does not exist" not in r.text or time.time() > end:
            return assert_ok(r)
        time.sleep(0.3)


def page(base_url, qid, n, stream=False, headers=None, size=SIZE):
    r = post_query(base_url, {"query_id": qid, "page": n, "page_size": size, "stream": stream,
                              "count": "none"}, headers=headers, timeout=120)
    assert r.status_code == 200, r.text[:300]
    if headers:
        lines = [loads(x) for x in r.text.splitlines() if x.strip()]
        assert "pagination" in lines[-1], lines[-1]
        return lines[1:-1]
    return loads(r.text)["rows"]


def all_rows(stack_env, sql):
    c = pg_connect()
    with c.cursor() as cur:
        cur.execute(sql)
        rows = [list(r) for r in cur.fetchall()]
    c.close()
    return rows


def test_pages_partition_while_others_scan(base_url, fakellm, stack_env, table, uq):
    body = ask(base_url, fakellm, "pages " + uq, SQL)
    qid = body["query_id"]
    assert body["sql"] == SQL  # the tie-breaker is the service's, not shown as the user's SQL
    want = all_rows(stack_env, SQL)
    assert len(want) == PAGES * SIZE
    with Scanners(stack_env) as sc:
        got = [page(base_url, qid, n) for n in range(1, PAGES + 1)]
        again = page(base_url, qid, 7)
        streamed = page(base_url, qid, 7, stream=True)
        ndjson = page(base_url, qid, 7, stream=True, headers=NDJSON)
        time.sleep(0.5)
    assert not sc.errors, sc.errors
    assert sc.scans > 0, "the concurrent scans never ran"
    flat = [tuple(r) for p in got for r in p]
    assert all(len(p) == SIZE for p in got), [len(p) for p in got]
    assert len(set(flat)) == len(flat), "%d rows appear on two pages" % (len(flat) - len(set(flat)))
    assert sorted(flat) == sorted(tuple(r) for r in want), "the pages miss rows of the result"
    assert again == got[6], "the same page fetched twice differs"
    assert streamed == got[6] and ndjson == got[6], "stream/NDJSON order differs from the page"


def test_order_by_with_ties(base_url, fakellm, stack_env, table, uq):
    """ORDER BY city has 37 values over 10,000 rows: the user's order is kept, and the ties
    are broken the same way on every page."""
    sql = SQL + " ORDER BY city DESC"
    qid = ask(base_url, fakellm, "ties " + uq, sql)["query_id"]
    with Scanners(stack_env):
        got = [page(base_url, qid, n) for n in range(1, PAGES + 1)]
        again = [page(base_url, qid, n) for n in (3, 11)]
    flat = [tuple(r) for p in got for r in p]
    cities = [r[0] for r in flat]
    assert cities == sorted(cities, reverse=True), "the user's ORDER BY was not kept"
    assert len(set(flat)) == len(flat) == PAGES * SIZE
    assert sorted(flat) == sorted(tuple(r) for r in all_rows(stack_env, sql))
    assert again == [got[2], got[10]]


def test_user_limit_keeps_its_meaning(base_url, fakellm, stack_env, table, uq):
    """The tie-breaker goes before the user's LIMIT: still the first 700 rows by city."""
    sql = SQL + " ORDER BY city LIMIT 700"
    qid = ask(base_url, fakellm, "limit " + uq, sql)["query_id"]
    got = page(base_url, qid, 1) + page(base_url, qid, 2)
    assert len(got) == 700 and len({tuple(r) for r in got}) == 700
    first = sorted(r[0] for r in all_rows(stack_env, SQL))[:700]
    assert [r[0] for r in got] == first


def test_primary_key_order_is_left_as_it_is(base_url, fakellm, stack_env, table, uq):
    """An ORDER BY covering the primary key of the one table read is total already: pages
    come straight from the index, nothing is appended."""
    sql = "SELECT id, city FROM %s ORDER BY id" % TABLE
    qid = ask(base_url, fakellm, "by key " + uq, sql)["query_id"]
    assert page(base_url, qid, 3, size=1000) == [[i, "city %d" % (i % 37)]
                                                 for i in range(2001, 3001)]


def test_primary_key_breaks_the_ties(base_url, fakellm, stack_env, table, uq):
    """No ORDER BY, but the table's primary key is an output column: it alone orders."""
    sql = "SELECT city, id FROM %s WHERE id <= 5000" % TABLE
    qid = ask(base_url, fakellm, "key out " + uq, sql)["query_id"]
    assert page(base_url, qid, 3, size=1000) == [["city %d" % (i % 37), i]
                                                 for i in range(2001, 3001)]


def test_table_free_queries_stream_unsorted(base_url, fakellm, uq):
    """Functions and VALUES only: the same plan gives the same rows in the same order, so
    nothing is added (no sort before the first row) and pages still partition."""
    sql = "SELECT g % 7 AS k, g FROM generate_series(1, 1000) g"
    qid = ask(base_url, fakellm, "series " + uq, sql)["query_id"]
    got = [r for n in range(1, 5) for r in page(base_url, qid, n, size=250)]
    assert got == [[g % 7, g] for g in range(1, 1001)]


def test_columns_without_ordering(base_url, fakellm, table, uq):
    """json and point have no btree ordering: the other columns break the ties."""
    sql = ("SELECT json_build_object('n', id %% 3) AS j, ('(' || id || ',' || id || ')')::point"
           " AS p, id %% 3 AS k, id + 0 AS v FROM %s WHERE id <= 30" % TABLE)
    qid = ask(base_url, fakellm, "no order " + uq, sql)["query_id"]
    rows = page(base_url, qid, 1, size=10) + page(base_url, qid, 2, size=10) + \
        page(base_url, qid, 3, size=10)
    assert [r[3] for r in rows] == sorted(range(1, 31), key=lambda g: (g % 3, g))


def test_export_equals_the_pages(base_url, fakellm, stack_env, table, uq):
    qid = ask(base_url, fakellm, "export " + uq, SQL + " ORDER BY city")["query_id"]
    pages = [r for n in range(1, PAGES + 1) for r in page(base_url, qid, n)]
    job = assert_ok(requests.post(base_url + "/export/start", json={"query_id": qid},
                                  timeout=60))["job_id"]
    end = time.time() + 180
    while True:
        st = assert_ok(requests.get(base_url + "/export/status/" + job, timeout=10))
        if st["status"] in ("SUCCESS", "FAILED"):
            break
        assert time.time() < end, st
        time.sleep(0.3)
    assert st["status"] == "SUCCESS", st
    r = requests.get(st["download_url"], timeout=60)
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["city", "note"]
    assert rows[1:] == pages, "the export's order differs from the pages'"
