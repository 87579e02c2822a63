"""test_result_cache -- the result cache (result_cache = true on an instance of its own): a
repeated page is a hit with the same rows, its Age, and no statement run; a write to a table
it reads, a TRUNCATE, another page or page size, another format make a miss; Cache-Control
no-cache / no-store / max-age; SQL that is not cacheable (volatile functions, a view) never
hits; pages over result_cache_max_bytes are not stored; Redis down is a miss, never an error;
off by default."""
import json
import time

import pytest
import requests

from conftest import assert_ok, connect_text, post_query

RC = ("rcache", 18087, {"T2SQL_RESULT_CACHE": "true", "T2SQL_RESULT_CACHE_VERSION_MS": "200",
                         "T2SQL_WORKERS": "2"})
TABLE = "rc_items"


def strip_timing(body):
    """What a hit must repeat: all but the timing and where the SQL came from this time."""
    b = dict(body)
    b.pop("timing_ms", None)
    b.pop("source", None)
    return b


@pytest.fixture(scope="module")
def table():
    w = connect_text()  # set up in a session of its own: its statistics are reported at its end
    with w.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS %s CASCADE" % TABLE)
        cur.execute("CREATE TABLE %s (id int PRIMARY KEY, label text)" % TABLE)
        cur.execute("INSERT INTO %s SELECT g, 'item ' || g FROM generate_series(1, 300) g" % TABLE)
        cur.execute("CREATE VIEW rc_items_v AS SELECT * FROM %s" % TABLE)
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = 't2sql_reader'")
        if cur.fetchone():
            cur.execute("GRANT SELECT ON %s, rc_items_v TO t2sql_reader" % TABLE)
    w.close()
    c = connect_text()
    settled(c, TABLE, 300)
    yield c
    with c.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS %s CASCADE" % TABLE)
    c.close()


@pytest.fixture(scope="module")
def inst(instances, table):
    name, port, env = RC
    i = instances.start(name, port, **env)
    yield i


def ask(fakellm, url, uq, sql, headers=None, **fields):
    fakellm.sql(uq, sql)
    body = {"question": "result cache %s" % uq, "stream": False}
    body.update(fields)
    end = time.time() + 10
    while True:  # a new table reaches the catalog within its probe interval
        r = post_query(url, body, headers=headers)
        if r.status_code == 200 or time.time() > end or "does not exist" not in r.text:
            return r
        time.sleep(0.3)


def test_off_by_default(base_url, fakellm, uq):
    r = ask(fakellm, base_url, uq, "SELECT 1 AS one")
    assert_ok(r)
    assert "X-Cache" not in r.headers and "Age" not in r.headers


def test_hit_after_miss_same_rows(inst, fakellm, uq):
    sql = "SELECT id, label FROM %s WHERE id <= 20 ORDER BY id -- %s" % (TABLE, uq)
    a = ask(fakellm, inst.url, uq, sql)
    assert_ok(a)
    assert a.headers.get("X-Cache") == "miss"
    b = ask(fakellm, inst.url, uq, sql)
    assert_ok(b)
    assert b.headers.get("X-Cache") == "hit", dict(b.headers)
    assert int(b.headers["Age"]) >= 0
    ja, jb = a.json(), b.json()
    assert strip_timing(ja) == strip_timing(jb)
    assert jb["timing_ms"]["execute"] == 0.0
    assert [r[0] for r in jb["rows"]] == list(range(1, 21))
    # a streamed answer is the same document: the same entry, sent chunked
    st = ask(fakellm, inst.url, uq, sql, stream=True)
    assert st.status_code == 200 and st.headers.get("X-Cache") == "hit"
    assert "Content-Length" not in st.headers
    assert strip_timing(st.json()) == strip_timing(ja)
    # NDJSON is an entry of its own
    nd = {"Accept": "application/x-ndjson"}
    first = ask(fakellm, inst.url, uq, sql, headers=nd)
    again = ask(fakellm, inst.url, uq, sql, headers=nd)
    assert first.status_code == 200 and again.status_code == 200
    assert [first.headers.get("X-Cache"), again.headers.get("X-Cache")] == ["miss", "hit"]
    assert again.headers["Content-Type"].startswith("application/x-ndjson")
    la = [json.loads(x) for x in first.text.splitlines()]
    lb = [json.loads(x) for x in again.text.splitlines()]
    assert strip_timing(la[0]) == strip_timing(lb[0]) and la[1:-1] == lb[1:-1]
    assert la[-1]["pagination"] == lb[-1]["pagination"] and len(lb) == 22


def test_pages_and_sizes_are_separate(inst, fakellm, uq):
    sql = "SELECT id FROM %s ORDER BY id -- %s" % (TABLE, uq)
    p1 = ask(fakellm, inst.url, uq, sql, page=1, page_size=10)
    p2 = ask(fakellm, inst.url, uq, sql, page=2, page_size=10)
    p1b = ask(fakellm, inst.url, uq, sql, page=1, page_size=10)
    p2b = ask(fakellm, inst.url, uq, sql, page=2, page_size=10)
    s5 = ask(fakellm, inst.url, uq, sql, page=1, page_size=5)
    assert [h.headers.get("X-Cache") for h in (p1, p2, p1b, p2b, s5)] == \
        ["miss", "miss", "hit", "hit", "miss"]
    assert [r[0] for r in p1b.json()["rows"]] == list(range(1, 11))
    assert [r[0] for r in p2b.json()["rows"]] == list(range(11, 21))
    assert p2b.json()["pagination"] == p2.json()["pagination"]
    assert p2b.json()["pagination"]["total_rows"] == 300


def wait_for_change(fakellm, inst, uq, sql, want, limit_s=15.0):
    """Asks until the page shows want (a predicate on the body); returns (seconds, response)."""
    t0 = time.time()
    while True:
        r = ask(fakellm, inst.url, uq, sql)
        assert_ok(r)
        if want(r.json()):
            return time.time() - t0, r
        assert time.time() - t0 < limit_s, "the cache kept serving the old page: %s" % r.text[:300]
        time.sleep(0.1)


def test_a_write_invalidates(inst, fakellm, uq, table):
    sql = "SELECT count(*) AS n, max(label) AS m FROM %s -- %s" % (TABLE, uq)
    assert ask(fakellm, inst.url, uq, sql).headers.get("X-Cache") == "miss"
    r = ask(fakellm, inst.url, uq, sql)
    assert r.headers.get("X-Cache") == "hit"
    n0 = r.json()["rows"][0][0]
    with table.cursor() as cur:
        cur.execute("INSERT INTO %s VALUES (100000, 'zzz written')" % TABLE)
    secs, r = wait_for_change(fakellm, inst, uq, sql, lambda b: b["rows"][0][0] == n0 + 1)
    assert r.json()["rows"][0][1] == "zzz written"
    print("a write was seen after %.2f s" % secs)
    # an UPDATE, then a DELETE
    with table.cursor() as cur:
        cur.execute("UPDATE %s SET label = 'zzzz updated' WHERE id = 100000" % TABLE)
    wait_for_change(fakellm, inst, uq, sql, lambda b: b["rows"][0][1] == "zzzz updated")
    with table.cursor() as cur:
        cur.execute("DELETE FROM %s WHERE id = 100000" % TABLE)
    wait_for_change(fakellm, inst, uq, sql, lambda b: b["rows"][0][0] == n0)


def settled(table, name, n_ins):
    """Waits until the statistics show a table's inserts: a page stored before they arrive
    has another data version than one asked after (a session's delayed report)."""
    end = time.time() + 20
    with table.cursor() as cur:
        while True:
            cur.execute("SELECT coalesce(n_tup_ins, 0) FROM pg_stat_all_tables WHERE relid = %s::regclass",
                        (name,))
            if int(cur.fetchone()[0]) >= n_ins:
                return
            assert time.time() < end, "the statistics never showed the inserts into " + name
            time.sleep(0.1)


def test_truncate_invalidates(inst, fakellm, uq, table):
    w = connect_text()  # a session of its own: its statistics are reported when it ends
    with w.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS rc_trunc")
        cur.execute("CREATE TABLE rc_trunc (x int)")
        cur.execute("INSERT INTO rc_trunc SELECT generate_series(1, 5)")
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = 't2sql_reader'")
        if cur.fetchone():
            cur.execute("GRANT SELECT ON rc_trunc TO t2sql_reader")
    w.close()
    settled(table, "rc_trunc", 5)
    try:
        sql = "SELECT count(*) AS n FROM rc_trunc -- %s" % uq
        ask(fakellm, inst.url, uq, sql)
        r = ask(fakellm, inst.url, uq, sql)
        assert r.headers.get("X-Cache") == "hit", r.text[:300]
        with table.cursor() as cur:
            cur.execute("TRUNCATE rc_trunc")
        wait_for_change(fakellm, inst, uq, sql, lambda b: b["rows"][0][0] == 0)
    finally:
        with table.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS rc_trunc")


def test_cache_control(inst, fakellm, uq):
    sql = "SELECT id FROM %s WHERE id < 4 ORDER BY id -- %s" % (TABLE, uq)
    assert ask(fakellm, inst.url, uq, sql).headers.get("X-Cache") == "miss"
    assert ask(fakellm, inst.url, uq, sql).headers.get("X-Cache") == "hit"
    for cc in ("no-cache", "no-store", "max-age=0, no-cache"):
        r = ask(fakellm, inst.url, uq, sql, headers={"Cache-Control": cc})
        assert r.headers.get("X-Cache") == "miss", cc
    time.sleep(1.1)
    r = ask(fakellm, inst.url, uq, sql, headers={"Cache-Control": "max-age=0"})
    assert r.headers.get("X-Cache") == "miss"
    r = ask(fakellm, inst.url, uq, sql, headers={"Cache-Control": "max-age=3600"})
    assert r.headers.get("X-Cache") == "hit"


@pytest.mark.parametrize("what,sql", [
    ("random", "SELECT id, random() AS r FROM %s WHERE id < 3 ORDER BY id" % TABLE),
    ("clock", "SELECT id, now() AS t FROM %s WHERE id < 3 ORDER BY id" % TABLE),
    ("view", "SELECT id FROM rc_items_v WHERE id < 3 ORDER BY id"),
    ("no table", "SELECT 41 + 1 AS answer"),
])
def test_not_cacheable_never_hits(inst, fakellm, uq, what, sql):
    sql = "%s -- %s" % (sql, uq)
    for _ in range(3):
        r = ask(fakellm, inst.url, uq, sql)
        assert_ok(r)
        assert r.headers.get("X-Cache") == "miss", what


def test_large_pages_not_stored(instances, fakellm, uq, table):
    i = instances.start("rcache-small", 18088, T2SQL_RESULT_CACHE="true",
                        T2SQL_RESULT_CACHE_MAX_BYTES="2048")
    sql = "SELECT id, label FROM %s ORDER BY id -- %s" % (TABLE, uq)
    small = "SELECT id FROM %s WHERE id = 1 -- %s" % (TABLE, uq)
    for _ in range(2):
        r = ask(fakellm, i.url, uq, sql, page_size=200)
        assert_ok(r)
        assert r.headers.get("X-Cache") == "miss"
    ask(fakellm, i.url, uq + "s", small)
    assert ask(fakellm, i.url, uq + "s", small).headers.get("X-Cache") == "hit"


def test_redis_down_is_a_miss(instances, fakellm, uq, table):
    i = instances.start("rcache-noredis", 18089, T2SQL_RESULT_CACHE="true",
                        T2SQL_REDIS_PORT="1")
    sql = "SELECT id FROM %s WHERE id < 3 ORDER BY id -- %s" % (TABLE, uq)
    for _ in range(3):
        r = ask(fakellm, i.url, uq, sql)
        assert_ok(r)
        assert r.headers.get("X-Cache") == "miss"
        assert [x[0] for x in r.json()["rows"]] == [1, 2]


def test_hits_counted_in_metrics(inst, fakellm, uq):
    def count(kind):
        t = requests.get(inst.url + "/metrics", timeout=10).text
        for line in t.splitlines():
            if line.startswith('t2sql_result_cache_total{result="%s"}' % kind):
                return int(line.split()[-1])
        raise AssertionError("no result cache metric in /metrics")
    sql = "SELECT id FROM %s WHERE id = 7 -- %s" % (TABLE, uq)
    h0, m0 = count("hit"), count("miss")
    ask(fakellm, inst.url, uq, sql)
    ask(fakellm, inst.url, uq, sql)
    ask(fakellm, inst.url, uq, sql)
    assert count("hit") - h0 == 2 and count("miss") - m0 == 1
