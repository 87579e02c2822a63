"""test_pgbouncer -- the query workers through PgBouncer (Debian's pgbouncer, transaction
pooling, scripts/stack.sh pgbouncer on 17432 + offset) in front of the test stack's PostgreSQL.
An instance (port 18062 + offset, auth on) has db_pool_host/db_pool_port pointing at it and
more workers than the pool has server connections (2), so consecutive transactions of one
worker land on different server sessions and those of different workers on the same one:
anything kept in a session (a named statement, a SET, a role, a claim) would show. Every
/query feature is asked through it and its rows compared with the stack's direct connection:
pages and counts, query_id pages on other workers, streaming JSON and NDJSON, errors and the
statement timeout after rows, the tenants' roles and claims (row-level security), an export
started and followed to its end. PgBouncer's own counters show the traffic went through it.
exportd, which needs LISTEN and session locks, refuses a db_host that is a pooler (exit 2)."""
import os
import subprocess
import threading

import psycopg2
import pytest
import requests

from conftest import (PORT_OFFSET, ROOT, assert_error, assert_ok, assert_rows_match, loads,
                      pg_rows, post_query)
from test_security import bearer, create_key, service_env, start
from test_streaming import (NDJSON, SLOW_COUNT, SLOW_ROWS, assert_error_member, assert_streamed,
                            md5, ndjson_lines)
from test_tenants import CITY, EXPORT_SQL, ROLE, as_role, create_key_as, export_as, norm

PGB_PORT = 17432 + PORT_OFFSET
POOL_SIZE = 2
INST_ENV = {"T2SQL_AUTH_REQUIRED": "true", "T2SQL_DB_POOL_HOST": "127.0.0.1",
            "T2SQL_DB_POOL_PORT": str(PGB_PORT), "T2SQL_WORKERS": "4",
            "T2SQL_STATEMENT_TIMEOUT_MS": "3000", "T2SQL_QUEUE_TIMEOUT_MS": "30000",
            "T2SQL_MAX_PAGE_SIZE": "1000000"}


def stack(*args, extra_env=None):
    e = dict(os.environ, T2SQL_PORT_OFFSET=str(PORT_OFFSET), **(extra_env or {}))
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", "stack.sh")] + list(args),
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=e)


def admin(sql):
    """Rows of PgBouncer's admin console (SHOW ...) as the service's login (stats_users)."""
    se = service_env()
    c = psycopg2.connect(host="127.0.0.1", port=PGB_PORT, dbname="pgbouncer", user=se["DB_USER"],
                         password=se["DB_PASS"])
    c.autocommit = True
    try:
        with c.cursor() as cur:
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        c.close()


def xacts():
    return sum(int(r["total_xact_count"]) for r in admin("SHOW STATS") if r["database"] == "t2sql")


@pytest.fixture(scope="module")
def bouncer():
    p = stack("pgbouncer", "pgb", str(PGB_PORT), extra_env={"PGBOUNCER_POOL_SIZE": str(POOL_SIZE)})
    assert p.returncode == 0, p.stderr
    yield PGB_PORT
    stack("pgbouncer-stop", "pgb")


@pytest.fixture(scope="module")
def inst(instances, bouncer):
    return start(instances, ("pgbouncer", 18062, INST_ENV))


@pytest.fixture(scope="module")
def keys():
    return {"reader": create_key("pgb-reader", "query,export"),
            "a": create_key_as("pgb-a", ROLE["a"], "city=" + CITY["a"]),
            "b": create_key_as("pgb-b", ROLE["b"], "city=" + CITY["b"])}


def ask(inst, key, fakellm, uq, sql, headers=None, question=None, **fields):
    """Scripts the model (sql for questions with uq) and asks; question: the question's text
    when several threads ask with one rule set beforehand (fakellm = None: do not set it)."""
    body = {"question": question or "pooled %s" % uq}
    body.update(fields)
    h = dict(bearer(key), **(headers or {}))
    for _ in range(3):  # another suite may replace the shared model's rules meanwhile
        if fakellm:
            fakellm.sql(uq, sql)
        r = requests.post(inst.url + "/query", json=body, headers=h, timeout=120)
        if r.status_code != 502 or "llm_error" not in r.text:
            break
    return r


def by_id(inst, key, query_id, headers=None, **fields):
    h = dict(bearer(key), **(headers or {}))
    return requests.post(inst.url + "/query", json=dict({"query_id": query_id}, **fields),
                         headers=h, timeout=120)


def test_pool_is_transaction_mode_and_carries_the_queries(inst, keys, fakellm, uq):
    cfg = {r["key"]: r["value"] for r in admin("SHOW CONFIG")}
    assert cfg["pool_mode"] == "transaction" and cfg["default_pool_size"] == str(POOL_SIZE), cfg
    before = xacts()
    sql = "SELECT event_id, name FROM events ORDER BY event_id"
    for i in range(5):
        assert_ok(ask(inst, keys["reader"], fakellm, "%s-%d" % (uq, i), sql, stream=False))
    # each answer is several transactions (keys, query_id, the read-only page, audit)
    assert xacts() - before >= 5 * 3, "the instance's transactions did not go through PgBouncer"
    servers = [r for r in admin("SHOW SERVERS") if r["database"] == "t2sql"]
    assert 0 < len(servers) <= POOL_SIZE, servers


def test_pages_counts_and_query_id_across_workers(inst, keys, fakellm, uq, pg):
    sql = "SELECT customer_id, name, city FROM customers ORDER BY customer_id"
    want = pg.run(sql)
    first = assert_ok(ask(inst, keys["reader"], fakellm, uq, sql, page_size=300, count="exact",
                          stream=False))
    total = len(want[2])
    assert first["pagination"]["total_rows"] == total
    npages = first["pagination"]["total_pages"]
    got = {1: first["rows"]}
    errors = []

    def fetch(p):
        try:
            r = by_id(inst, keys["reader"], first["query_id"], page=p, page_size=300,
                      count="exact", stream=p % 2 == 0)
            body = assert_ok(r)
            assert body["pagination"]["total_rows"] == total
            got[p] = body["rows"]
        except AssertionError as e:  # reported below, with the page
            errors.append((p, e))

    threads = [threading.Thread(target=fetch, args=(p,)) for p in range(2, npages + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    rows = [r for p in sorted(got) for r in got[p]]
    assert_rows_match({"columns": first["columns"], "rows": rows}, want)


def test_count_estimated_and_none(inst, keys, fakellm, uq):
    sql = "SELECT sale_id FROM ticket_sales ORDER BY sale_id"
    est = assert_ok(ask(inst, keys["reader"], fakellm, uq, sql, count="estimated", stream=False))
    assert est["pagination"]["total_rows"] and est["pagination"]["total_rows"] > 0
    none = assert_ok(by_id(inst, keys["reader"], est["query_id"], count="none", stream=False))
    assert none["pagination"]["total_rows"] is None and none["pagination"]["has_more"] is True
    assert none["rows"] == est["rows"]


@pytest.mark.parametrize("ndjson", [False, True], ids=["json", "ndjson"])
def test_big_streamed_page(inst, keys, fakellm, uq, pg, ndjson):
    sql = "SELECT g AS n, md5(g::text) AS h FROM generate_series(1, 30000) g"
    r = ask(inst, keys["reader"], fakellm, uq, sql, headers=NDJSON if ndjson else None,
            page_size=30000)
    assert r.status_code == 200, r.text[:500]
    assert_streamed(r)
    if ndjson:
        lines = ndjson_lines(r.text)
        body = {"columns": lines[0]["columns"], "rows": [ln for ln in lines[1:-1]]}
        assert "pagination" in lines[-1], lines[-1]
    else:
        body = loads(r.text)
    assert_rows_match(body, pg.run(sql))


@pytest.mark.parametrize("ndjson", [False, True], ids=["json", "ndjson"])
def test_error_after_rows_then_the_next_request(inst, keys, fakellm, uq, ndjson):
    sql = "SELECT g AS n, 1 / (g - 20000) AS q FROM generate_series(1, 40000) g"
    r = ask(inst, keys["reader"], fakellm, uq, sql, headers=NDJSON if ndjson else None,
            page_size=40000)
    assert r.status_code == 200, r.text[:500]
    if ndjson:
        lines = ndjson_lines(r.text)
        rows, err = lines[1:-1], lines[-1]["error"]
        assert err["code"] == "query_failed", err
    else:
        body = loads(r.text)
        err, rows = assert_error_member(body, ("query_failed",)), body["rows"]
    assert "division by zero" in err["detail"]
    assert rows == [[k, int(1 / (k - 20000))] for k in range(1, 20000)]
    # the aborted transaction went back to the pool rolled back: every worker still answers
    for i in range(6):
        assert_ok(ask(inst, keys["reader"], fakellm, "%s-n%d" % (uq, i), "SELECT 1 AS one",
                      stream=False))


def test_statement_timeout_through_the_pool(inst, keys, fakellm, uq):
    r = ask(inst, keys["reader"], fakellm, uq, SLOW_ROWS % 1000000, page_size=1000000,
            count="none")
    assert r.status_code == 200, r.text[:500]
    body = loads(r.text)
    err = assert_error_member(body, ("query_timeout",))
    assert err["detail"]
    assert body["rows"] == [[k, md5(k), SLOW_COUNT] for k in range(1, len(body["rows"]) + 1)]
    # before any row: the error itself, and the worker's next transaction has no timeout left
    r = ask(inst, keys["reader"], fakellm, uq + "-count",
            "SELECT count(*) AS n FROM generate_series(1, 100000) a, generate_series(1, 100000) b",
            stream=False)
    assert_error(r, 504, "query_timeout")
    assert_ok(ask(inst, keys["reader"], fakellm, uq + "-next", "SELECT 1 AS one", stream=False))


def test_tenants_roles_and_claims_through_the_pool(inst, keys, fakellm, uq):
    """Roles and claims are SET LOCAL: with two server connections shared by four workers,
    the two tenants' transactions interleave on the same sessions and each still sees only
    its own rows."""
    sql = "SELECT city, count(*) AS n FROM customers GROUP BY city ORDER BY city"
    want = {t: as_role(sql, ROLE[t], {"city": CITY[t]}) for t in ("a", "b")}
    results, errors = [], []

    def one(t, i):
        try:
            r = ask(inst, keys[t], None, uq, sql, question="pooled %s-%s%d" % (uq, t, i),
                    stream=False)
            results.append((t, assert_ok(r)["rows"]))
        except AssertionError as e:
            errors.append(e)

    fakellm.sql(uq, sql)
    threads = [threading.Thread(target=one, args=(t, i)) for i in range(4) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert len(results) == 8
    for t, rows in results:
        assert norm(rows) == norm(want[t]) and len(rows) == 1, (t, rows, want[t])
    everyone = assert_ok(ask(inst, keys["reader"], fakellm, uq + "-all", sql, stream=False))
    assert len(everyone["rows"]) > 2


def test_export_start_and_status_through_the_pool(inst, keys, fakellm, uq):
    """Started and followed through the pool; the stack's exportd (direct) runs it."""
    _, rows, _ = export_as(inst, keys["b"], fakellm, uq, keys["a"])
    assert norm(rows[1:]) == norm(as_role(EXPORT_SQL, ROLE["b"], {"city": CITY["b"]}))

PREPARED = ("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND query ~ '(EXECUTE|PREPARE) t2sql_[0-9]'")


def test_named_statements_only_on_direct_connections(inst, keys, fakellm, uq, base_url, pg):
    """A repeated page runs as named prepared statements on the stack's direct connections
    (the opening and the page parsed once per connection), never through the pooler: the
    pool's server sessions (PgBouncer's SHOW SERVERS ports) show none, and every answer is
    right although consecutive transactions land on other sessions."""
    sql = "SELECT event_id, name FROM events WHERE event_id <= 3 ORDER BY event_id"
    want = pg.run(sql)
    fakellm.sql(uq, sql)
    for _ in range(12):  # every worker: the order found, then the page prepared and executed
        assert_rows_match(assert_ok(post_query(base_url, {"question": "direct %s" % uq,
                                                          "stream": False})), want)
    assert int(pg_rows(PREPARED)[0][0]) > 0, "the stack's workers prepared nothing"
    for i in range(16):
        body = assert_ok(ask(inst, keys["reader"], fakellm, uq, sql, stream=False))
        assert_rows_match(body, want)
    ports = [str(r["local_port"]) for r in admin("SHOW SERVERS") if r["database"] == "t2sql"]
    assert ports
    n = pg_rows(PREPARED + " AND client_port IN (%s)" % ", ".join(ports))[0][0]
    assert int(n) == 0, "a pooled session ran a named statement"



def test_exportd_refuses_a_pooler(bouncer):
    """exportd with db_host:db_port at PgBouncer exits 2 saying why; pointed at PostgreSQL it
    runs (and is stopped by its pid)."""
    e = dict(os.environ, **service_env())
    e.update({"DB_PORT": str(PGB_PORT), "T2SQL_LOG_FILE": "", "T2SQL_EXPORT_CONCURRENCY": "1"})
    exd = os.path.join(ROOT, "bin", "exportd")
    conf = os.path.join(ROOT, "conf", "t2sql.conf")
    p = subprocess.run([exd, "-c", conf], cwd=ROOT, env=e, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert "connection pooler" in p.stderr and "directly" in p.stderr, p.stderr[-2000:]
    assert service_env()["DB_PASS"] not in p.stderr
    e["DB_PORT"] = service_env()["DB_PORT"]
    d = subprocess.Popen([exd, "-c", conf], cwd=ROOT, env=e, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            d.wait(3)
    finally:
        d.terminate()
        _, err = d.communicate(timeout=30)
    assert "connection pooler" not in err, err[-2000:]
