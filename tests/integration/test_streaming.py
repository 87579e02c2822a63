"""Streaming of /query pages (issue 3): big pages as one valid JSON document or as NDJSON,
errors after rows were sent (data error, statement timeout, backend killed, a count that
times out, a row larger than the stream buffer), count modes (and that the exact count
neither delays the first row nor runs when the page tells the total), pages past the end,
page_size limits, and a client hanging up mid-stream or before the first row (the query
must be cancelled on the server within a second). Big pages, the first byte and hang-ups are
tested through both front ends, nginx and Apache httpd (mod_proxy_fcgi, flushpackets=on).

Needs the test stack (`make test`, or `. var/test/env.sh` of a running one). Extra service
instances run on ports 18070-18072 (+ T2SQL_TEST_PORT_OFFSET) through
$T2SQL_ROOT/scripts/stack.sh instance, Apache over stream-big and stream-hup on 18075 and
18077 (stack.sh apache); they are stopped at the end of the module.
"""

import hashlib
import json
import math
import os
import re
import socket
import subprocess
import threading
import time

import pytest
import requests

from conftest import (PORT_OFFSET, ROOT, assert_error, assert_ok, loads, pg_connect, pg_rows,
                      port_open, pagination, post_query)

# name, port, env overrides. One worker each, so the worker that served a request is the
# one that serves the next (reconnect and "ready for the next request" are really tested).
BIG = ("stream-big", 18070, {"T2SQL_WORKERS": "1", "T2SQL_MAX_PAGE_SIZE": "1000000"})
TMO = ("stream-tmo", 18071, {"T2SQL_WORKERS": "1", "T2SQL_MAX_PAGE_SIZE": "1000000",
                             # long enough for the first rows even on a busy machine (the
                             # 1M-row generate_series is materialised before the first row)
                             "T2SQL_STATEMENT_TIMEOUT_MS": "3000"})
HANGUP = ("stream-hup", 18072, {"T2SQL_WORKERS": "1", "T2SQL_MAX_PAGE_SIZE": "50000000"})

NDJSON = {"Accept": "application/x-ndjson"}
FRONTS = pytest.mark.parametrize("front", ["nginx", "apache"])

# Rows PostgreSQL produces slowly (a correlated subquery per row, ~0.2 ms each): the first
# 8 KB of rows (what the backend buffers before sending) leave within tens of milliseconds,
# the statement would take minutes.
SLOW_COUNT = 2000
SLOW_ROWS = ("SELECT g AS n, md5(g::text) AS h, "
             "(SELECT count(*) FROM generate_series(1, %d + 0 * g)) AS c "
             "FROM generate_series(1, %%d) g" % SLOW_COUNT)


# ---------------------------------------------------------------------------------------------
# Instances on 18070-18079


class Inst:
    def __init__(self, name, port, pid):
        self.name, self.port, self.pid = name, port, pid
        self.url = "http://127.0.0.1:%d" % port


def _stack(*args, timeout=120):
    script = os.path.join(ROOT, "scripts", "stack.sh")
    assert os.path.exists(script), "%s is missing" % script
    return subprocess.run(["bash", script] + list(args), cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


class Instances:
    def __init__(self):
        self.running = {}

    def get(self, spec):
        name, port, env = spec
        port += PORT_OFFSET
        inst = self.running.get(name)
        if inst is not None:
            try:
                os.kill(inst.pid, 0)
                return inst
            except OSError:
                pass
        _stack("instance-stop", name, timeout=60)  # leftovers of an aborted run
        end = time.time() + 10
        while port_open(port) and time.time() < end:
            time.sleep(0.2)
        assert not port_open(port), "port %d is taken; cannot start instance %s" % (port, name)
        args = ["instance", name, str(port)] + ["%s=%s" % kv for kv in env.items()]
        p = _stack(*args)
        assert p.returncode == 0, "stack.sh %s failed (%d):\n%s\n%s" % (
            " ".join(args), p.returncode, p.stdout[-2000:], p.stderr[-2000:])
        lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
        assert lines and lines[-1].isdigit(), "stack.sh instance: no pid:\n" + p.stdout
        inst = Inst(name, port, int(lines[-1]))
        end = time.time() + 30
        while True:
            try:
                if requests.get(inst.url + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.time() < end, "instance %s on :%d is not healthy" % (name, port)
            time.sleep(0.1)
        self.running[name] = inst
        return inst

    def front(self, spec, front):
        """The instance of spec as reached through front ("nginx" or "apache"): an object
        with url and port."""
        inst = self.get(spec)
        if front == "nginx":
            return inst
        name, port = "%s-%s" % (front, inst.name), inst.port + 5
        if name not in self.running:
            p = _stack("apache", name, str(port), inst.name)
            assert p.returncode == 0, "stack.sh apache %s failed:\n%s" % (name, p.stderr[-2000:])
            self.running[name] = Inst(name, port, 0)
        return self.running[name]

    def stop_all(self):
        for name in list(self.running):
            try:
                if name.startswith("apache-"):
                    _stack("apache-stop", name, timeout=60)
                else:
                    _stack("instance-stop", name, timeout=60)
            except Exception:
                pass
            self.running.pop(name, None)


@pytest.fixture(scope="module")
def inst():
    f = Instances()
    yield f
    f.stop_all()


# ---------------------------------------------------------------------------------------------
# Helpers


def ask(fakellm, url, tok, sql, headers=None, stream=False, timeout=120, **fields):
    """Script the model to answer `sql` for questions containing tok and ask one. With
    stream=True the response is returned unread (requests stream=True).

    The scripted model is shared: another suite running against the same stack may replace
    its rules between ours being set and the service asking, which shows as 502 llm_error
    ("no SQL"); then the rule is set again and the question asked again (at most 3 times)."""
    body = {"question": "streaming check %s" % tok}
    body.update(fields)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    for _ in range(3):
        fakellm.sql(tok, sql)
        r = requests.post(url + "/query", data=json.dumps(body), headers=h, timeout=timeout,
                          stream=stream)
        if r.status_code != 502 or "llm_error" not in r.text:
            break
    return r


def page(url, query_id, headers=None, **fields):
    """Another page of a query asked earlier (no model, no question cache)."""
    body = {"query_id": query_id}
    body.update(fields)
    return post_query(url, body, headers=headers)


def md5(i):
    return hashlib.md5(str(i).encode()).hexdigest()


def assert_streamed(r):
    """Streamed: no Content-Length, chunked transfer encoding."""
    assert "Content-Length" not in r.headers, "a streamed page has Content-Length %s" % \
        r.headers.get("Content-Length")
    assert "chunked" in r.headers.get("Transfer-Encoding", "").lower(), \
        "not chunked: %s" % dict(r.headers)


def ndjson_lines(text):
    assert text.endswith("\n"), "NDJSON body does not end with a newline: %r" % text[-200:]
    lines = text[:-1].split("\n")
    out = []
    for i, ln in enumerate(lines):
        try:
            out.append(loads(ln))
        except ValueError as e:
            raise AssertionError("NDJSON line %d is not JSON (%s): %r" % (i, e, ln[:300]))
    return out


def assert_error_member(body, codes):
    """A document that failed after rows: rows, then "error": {"detail", "code"} (and no
    pagination)."""
    keys = list(body.keys())
    assert "error" in body, "no error member; keys %s" % keys
    assert "rows" in keys and keys.index("error") > keys.index("rows"), keys
    assert "pagination" not in body, body.get("pagination")
    err = body["error"]
    assert isinstance(err, dict) and isinstance(err.get("detail"), str) and err["detail"], err
    assert err.get("code") in codes, err
    return err


def active_queries(cur, token):
    """(pid, query) of the service's active statements whose text contains token."""
    cur.execute("SELECT pid, query FROM pg_stat_activity WHERE application_name = 't2sql'"
                " AND state = 'active' AND pid <> pg_backend_pid() AND position(%s in query) > 0",
                (token,))
    return cur.fetchall()


class Watcher(threading.Thread):
    """Samples pg_stat_activity every 20 ms and remembers, for each distinct active statement
    of the service containing token, when it was first seen: the time a sample that showed it
    returned (a statement seen there started before then; the time the sample began would put
    a statement starting during the sample before events that came before it)."""

    def __init__(self, token):
        super().__init__(daemon=True)
        self.token = token
        self.seen = {}
        self.stop = threading.Event()
        self.conn = pg_connect()

    def run(self):
        with self.conn.cursor() as cur:
            while not self.stop.is_set():
                active = active_queries(cur, self.token)
                now = time.monotonic()
                for _, q in active:
                    self.seen.setdefault(q, now)
                time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.join(10)
        self.conn.close()
        return self.seen


def is_count(q):
    return q.lstrip().lower().startswith("select count(*) from (")


def is_page(q):
    # the page's statement: COPY (SELECT * FROM (<sql>) q LIMIT n OFFSET m) TO STDOUT, or for a
    # page of at most 100 rows (one ordinary result) SELECT * FROM (<sql>) q LIMIT n OFFSET m;
    return "LIMIT $1 OFFSET $2" in q or re.search(r"\) q LIMIT \d+ OFFSET \d+(\) TO STDOUT|;)", q)


# ---------------------------------------------------------------------------------------------
# Big pages


@FRONTS
def test_big_page_is_one_valid_json_document(inst, fakellm, uq, front):
    i = inst.front(BIG, front)
    n = 200000
    sql = "SELECT g AS n, md5(g::text) AS h FROM generate_series(1, %d) g" % n
    r = ask(fakellm, i.url, uq, sql, page_size=n)
    assert r.status_code == 200, r.text[:500]
    assert r.headers.get("Content-Type", "").startswith("application/json")
    assert_streamed(r)
    body = assert_ok(r)
    assert body["columns"] == ["n", "h"]
    assert body["column_types"] == ["int4", "text"]
    rows = body["rows"]
    assert len(rows) == n
    bad = [k for k, row in enumerate(rows, 1) if row != [k, md5(k)]]
    assert not bad, "wrong rows at %s: %s" % (bad[:5], [rows[k - 1] for k in bad[:5]])
    assert body["pagination"] == pagination(1, n, n)
    assert body["query_id"] and body["sql"]


def test_big_page_ndjson(inst, fakellm, uq):
    i = inst.get(BIG)
    n = 50000
    sql = "SELECT g AS n, md5(g::text) AS h, g %% 2 = 0 AS even FROM generate_series(1, %d) g" % n
    r = ask(fakellm, i.url, uq, sql, headers=NDJSON, page_size=n)
    assert r.status_code == 200, r.text[:500]
    assert r.headers.get("Content-Type", "").startswith("application/x-ndjson"), r.headers
    assert_streamed(r)
    lines = ndjson_lines(r.text)
    head, rows, last = lines[0], lines[1:-1], lines[-1]
    assert isinstance(head, dict), head
    for k in ("sql", "columns", "column_types", "query_id"):
        assert k in head, "header line lacks %s: %s" % (k, head)
    assert head["columns"] == ["n", "h", "even"]
    assert head["column_types"] == ["int4", "text", "bool"]
    assert "rows" not in head
    assert len(rows) == n
    bad = [k for k, row in enumerate(rows, 1) if row != [k, md5(k), k % 2 == 0]]
    assert not bad, "wrong rows at %s" % bad[:5]
    assert isinstance(last, dict) and set(last) >= {"pagination"}, last
    assert "error" not in last
    assert last["pagination"] == pagination(1, n, n)


@FRONTS
def test_count_exact_does_not_delay_the_first_row(inst, fakellm, uq, front):
    """A full page: the exact count runs after the rows, so the first row reaches the client
    before the count query even starts."""
    i = inst.front(BIG, front)
    tok = uq.replace("-", "_")
    sql = ("SELECT a, b, '%s' AS tok FROM generate_series(1, 5000) a, generate_series(1, 5000) b"
           % tok)
    w = Watcher(tok)
    w.start()
    try:
        t0 = time.monotonic()
        r = ask(fakellm, i.url, uq, sql, stream=True, page_size=10)
        assert r.status_code == 200
        it = r.iter_content(chunk_size=None)
        first = next(it)
        t_first = time.monotonic()
        text = first + b"".join(it)
        t_end = time.monotonic()
    finally:
        seen = w.finish()
    body = loads(text.decode())
    assert len(body["rows"]) == 10 and "error" not in body
    assert body["pagination"]["total_rows"] == 25000000
    counts = [t for q, t in seen.items() if is_count(q)]
    assert counts, "the count query was never seen running: %s" % list(seen)
    # the count starts the moment the first row is flushed, so the two are a hop apart: allow
    # 50 ms (a count run before the rows would hold the first byte back for the whole count,
    # over 0.1 s, as the last assertion shows)
    hop = 0.05
    assert t_first < min(counts) + hop, \
        "first byte %.3f s after the request, count query started at %.3f s" % (
            t_first - t0, min(counts) - t0)
    assert t_end - t_first > 0.1, "the count query took no time?"


# ---------------------------------------------------------------------------------------------
# Errors after rows were sent


@pytest.mark.parametrize("ndjson", [False, True], ids=["json", "ndjson"])
def test_data_error_mid_stream(inst, fakellm, uq, ndjson):
    i = inst.get(BIG)
    sql = "SELECT g AS n, 1 / (g - 50000) AS q FROM generate_series(1, 100000) g"
    r = ask(fakellm, i.url, uq, sql, headers=NDJSON if ndjson else None, page_size=100000)
    assert r.status_code == 200, r.text[:500]
    assert_streamed(r)
    want = [[k, int(1 / (k - 50000))] for k in range(1, 50000)]  # truncating division
    if ndjson:
        lines = ndjson_lines(r.text)
        head, rows, last = lines[0], lines[1:-1], lines[-1]
        assert head["columns"] == ["n", "q"]
        assert set(last) == {"error"}, last
        err = last["error"]
        assert isinstance(err.get("detail"), str) and err["detail"], err
        assert err.get("code") == "query_failed", err
    else:
        body = loads(r.text)  # valid JSON to the last byte
        err = assert_error_member(body, ("query_failed",))
        rows = body["rows"]
    assert "division by zero" in err["detail"], err
    assert rows == want, "rows before the error: %d, first bad %r" % (
        len(rows), next(((k, a) for k, (a, b) in enumerate(zip(rows, want)) if a != b), None))
    # the worker serves the next request
    assert_ok(ask(fakellm, i.url, uq + "-next", "SELECT 1 AS one", stream=False))


@pytest.mark.parametrize("ndjson", [False, True], ids=["json", "ndjson"])
def test_statement_timeout_mid_stream(inst, fakellm, uq, ndjson):
    i = inst.get(TMO)
    t0 = time.monotonic()
    r = ask(fakellm, i.url, uq, SLOW_ROWS % 1000000, headers=NDJSON if ndjson else None,
            page_size=1000000, count="none")
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text[:500]
    assert_streamed(r)
    if ndjson:
        lines = ndjson_lines(r.text)
        rows, last = lines[1:-1], lines[-1]
        assert set(last) == {"error"}, last
        err = last["error"]
        assert err.get("code") == "query_timeout" and err.get("detail"), err
    else:
        body = loads(r.text)
        err = assert_error_member(body, ("query_timeout",))
        rows = body["rows"]
    assert rows, "no rows before the timeout"
    assert rows == [[k, md5(k), SLOW_COUNT] for k in range(1, len(rows) + 1)]
    assert took < 15, "a 3 s statement timeout took %.1f s to end the stream" % took
    assert_ok(ask(fakellm, i.url, uq + "-next", "SELECT 1 AS one", stream=False))


@pytest.mark.parametrize("ndjson", [False, True], ids=["json", "ndjson"])
def test_row_larger_than_the_stream_buffer(inst, fakellm, uq, ndjson):
    """A value bigger than the whole stream buffer (64 MiB) after a row was sent: the partial
    row is dropped and the document still ends as valid JSON with the error."""
    i = inst.get(BIG)
    sql = ("SELECT g, CASE WHEN g = 2 THEN repeat(md5(g::text), 2200000) ELSE md5(g::text) END"
           " AS v FROM generate_series(1, 3) g")  # row 2: 70.4 MB
    r = ask(fakellm, i.url, uq, sql, headers=NDJSON if ndjson else None)
    assert r.status_code == 200, r.text[:500]
    if ndjson:
        lines = ndjson_lines(r.text)
        rows, err = lines[1:-1], lines[-1].get("error")
        assert err and err.get("code") == "query_failed", lines[-1]
    else:
        body = loads(r.text)
        err = assert_error_member(body, ("query_failed",))
        rows = body["rows"]
    assert rows == [[1, md5(1)]]
    assert err["detail"]


def test_count_timeout_after_rows(inst, fakellm, uq):
    """The rows of a full page are out when the exact count runs past the statement timeout:
    the document still ends as valid JSON, rows then the error."""
    i = inst.get(TMO)
    sql = "SELECT a, b FROM generate_series(1, 400000) a, generate_series(1, 5000) b"
    r = ask(fakellm, i.url, uq, sql, page_size=10, count="exact")
    assert r.status_code == 200, r.text[:500]
    body = loads(r.text)
    assert_error_member(body, ("query_timeout",))
    rows = body["rows"]
    assert len(rows) == 10 and all(len(x) == 2 and all(isinstance(v, int) for v in x)
                                   for x in rows), rows


def test_backend_killed_mid_stream(inst, fakellm, uq):
    i = inst.get(BIG)
    tok = uq.replace("-", "_")
    sql = (SLOW_ROWS % 100000).replace("SELECT g AS n,", "SELECT g AS n, '%s' AS tok," % tok)
    r = ask(fakellm, i.url, uq, sql, stream=True, page_size=100000, count="none")
    assert r.status_code == 200
    assert_streamed(r)
    it = r.iter_content(chunk_size=None)
    got = [next(it)]
    with pg_connect() as c, c.cursor() as cur:
        victims = active_queries(cur, tok)
        assert len(victims) == 1, "expected one active statement with %s: %s" % (tok, victims)
        cur.execute("SELECT pg_terminate_backend(%s)", (victims[0][0],))
        assert cur.fetchone()[0] is True
    c.close()
    got.extend(it)
    body = loads(b"".join(got).decode())
    err = assert_error_member(body, ("db_unavailable",))
    assert body["rows"], "no rows before the backend was killed"
    assert body["rows"][0] == [1, tok, md5(1), SLOW_COUNT]
    assert err["detail"]
    # the same (only) worker reconnects and answers
    r2 = ask(fakellm, i.url, uq + "-next", "SELECT 2 AS two")
    assert assert_ok(r2)["rows"] == [[2]]


# ---------------------------------------------------------------------------------------------
# count modes


def test_count_exact_full_page(inst, fakellm, uq, base_url):
    sql = "SELECT sale_id, quantity FROM ticket_sales WHERE quantity >= 2 ORDER BY sale_id"
    want = pg_rows("SELECT count(*) FROM (%s) q" % sql)[0][0]
    assert want > 100, "the test data is too small (%d rows)" % want
    body = assert_ok(ask(fakellm, base_url, uq, sql, page_size=100))
    assert len(body["rows"]) == 100
    assert body["pagination"] == pagination(1, 100, want)
    # the default is exact too, and a later page via query_id agrees
    body2 = assert_ok(page(base_url, body["query_id"], page=2, page_size=100, count="exact"))
    assert body2["pagination"]["total_rows"] == want
    assert body2["rows"][0][0] > body["rows"][-1][0]


def test_count_estimated(inst, fakellm, uq, base_url):
    sql = "SELECT sale_id FROM ticket_sales WHERE quantity >= 2"
    exact = pg_rows("SELECT count(*) FROM (%s) q" % sql)[0][0]
    body = assert_ok(ask(fakellm, base_url, uq, sql, page_size=10, count="estimated"))
    total = body["pagination"]["total_rows"]
    assert isinstance(total, int) and not isinstance(total, bool) and total >= 10, total
    assert exact / 3 <= total <= exact * 3, "estimate %d vs %d rows" % (total, exact)
    assert body["pagination"]["total_pages"] == math.ceil(total / 10)
    # small: exact
    small = assert_ok(ask(fakellm, base_url, uq + "-small",
                          "SELECT g FROM generate_series(1, 737) g WHERE g % 3 <> 1",
                          page_size=10, count="estimated"))
    assert small["pagination"]["total_rows"] == 491, small["pagination"]
    assert small["pagination"]["total_pages"] == 50


def test_count_none(inst, fakellm, uq, base_url):
    sql = "SELECT g FROM generate_series(1, 500) g"
    body = assert_ok(ask(fakellm, base_url, uq, sql, page_size=100, count="none"))
    assert len(body["rows"]) == 100
    assert body["pagination"] == pagination(1, 100, None, has_more=True)
    nd = ndjson_lines(page(base_url, body["query_id"], headers=NDJSON, page=5, page_size=100,
                           count="none").text)
    assert nd[-1]["pagination"]["total_rows"] is None
    assert len(nd) == 102


def test_one_row_aggregate_costs_one_query(inst, fakellm, uq):
    """A page that is not full tells the total: no count query runs (watched in
    pg_stat_activity while a deliberately slow aggregate runs)."""
    i = inst.get(BIG)
    tok = uq.replace("-", "_")
    sql = ("SELECT sum(c) AS s, '%s' AS tok FROM (SELECT (SELECT count(*) FROM "
           "generate_series(1, 20000 + 0 * g)) AS c FROM generate_series(1, 300) g) x" % tok)
    w = Watcher(tok)
    w.start()
    try:
        body = assert_ok(ask(fakellm, i.url, uq, sql, count="exact"))
    finally:
        seen = w.finish()
    assert body["rows"] == [[6000000, tok]]
    assert body["pagination"] == pagination(1, 50, 1)
    assert any(is_page(q) for q in seen), "the page query was never seen: %s" % list(seen)
    assert not [q for q in seen if is_count(q) or q.lstrip().upper().startswith("EXPLAIN")], \
        "a second query ran: %s" % list(seen)


def test_page_far_past_the_end(inst, fakellm, uq, base_url):
    sql = "SELECT g FROM generate_series(1, 250) g"
    body = assert_ok(ask(fakellm, base_url, uq, sql, page=1000, page_size=100))
    assert body["rows"] == []
    assert body["pagination"] == pagination(1000, 100, 250), body["pagination"]
    qid = body["query_id"]
    body = assert_ok(page(base_url, qid, page=1000, page_size=100, count="estimated"))
    assert body["rows"] == []
    assert body["pagination"] == pagination(1000, 100, 250), body["pagination"]
    body = assert_ok(page(base_url, qid, page=3, page_size=100))
    assert body["rows"] == [[g] for g in range(201, 251)]
    assert body["pagination"]["total_rows"] == 250
    body = assert_ok(page(base_url, qid, page=2, page_size=100, stream=False))
    assert len(body["rows"]) == 100 and body["pagination"]["total_pages"] == 3
    nd = ndjson_lines(page(base_url, qid, headers=NDJSON, page=99, page_size=100).text)
    assert len(nd) == 2 and nd[-1]["pagination"]["total_rows"] == 250


def test_page_size_above_max_is_422(inst, fakellm, uq, base_url):
    fakellm.sql(uq, "SELECT 1 AS one")
    r = post_query(base_url, {"question": "too big %s" % uq, "page_size": 10001})
    assert_error(r, 422, "validation_error", field="page_size")
    i = inst.get(BIG)
    r = post_query(i.url, {"question": "too big %s" % uq, "page_size": 1000001})
    assert_error(r, 422, "validation_error", field="page_size")
    r = ask(fakellm, i.url, uq, "SELECT 1 AS one", page_size=1000000)
    assert assert_ok(r)["pagination"]["page_size"] == 1000000
    r = page(i.url, assert_ok(r)["query_id"], page_size=1000001)
    assert_error(r, 422, "validation_error", field="page_size")


# ---------------------------------------------------------------------------------------------
# Client hang-up


def gone_then_healthy(c, tok, t_close, limit, fakellm, url, uq):
    """The statement tagged tok ends within limit seconds of the client leaving at t_close
    (watched on connection c, closed here), and the same (only) worker then answers a normal
    request."""
    cur = c.cursor()
    try:
        while True:
            left = active_queries(cur, tok)
            waited = time.monotonic() - t_close
            if not left:
                break
            assert waited <= limit, "query still active %.2f s after the client left: %s" % (
                waited, left)
            time.sleep(0.05)
    finally:
        c.close()
    r = ask(fakellm, url, uq + "-after", "SELECT 3 AS three")
    assert assert_ok(r)["rows"] == [[3]]


@FRONTS
@pytest.mark.parametrize("ndjson", [False, True], ids=["json", "ndjson"])
def test_client_hangup_cancels_query(inst, fakellm, uq, ndjson, front):
    i = inst.front(HANGUP, front)
    tok = uq.replace("-", "_")
    sql = ("SELECT a, b, '%s' AS tok FROM generate_series(1, 10000) a, "
           "generate_series(1, 5000) b" % tok)
    qid = assert_ok(ask(fakellm, i.url, uq, sql, page_size=1))["query_id"]
    # 50M rows: they cannot all fit in the socket buffers, the query is busy for minutes
    body = json.dumps({"query_id": qid, "page_size": 50000000}).encode()
    head = ("POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n%s\r\n" % (len(body), "Accept: application/x-ndjson\r\n"
                                               if ndjson else "")).encode()
    s = socket.create_connection(("127.0.0.1", i.port), timeout=30)
    got = b""
    try:
        s.sendall(head + body)
        while len(got) < 16384:
            chunk = s.recv(4096)
            assert chunk, "the service closed the stream after %d bytes: %r" % (len(got), got[:500])
            got += chunk
        assert got.startswith(b"HTTP/1.1 200"), got[:300]
        c = pg_connect()
        cur = c.cursor()
        assert active_queries(cur, tok), "the query is not running while it streams"
    finally:
        s.close()
    gone_then_healthy(c, tok, time.monotonic(), 1.0, fakellm, i.url, uq)


@FRONTS
def test_client_hangup_before_the_first_row_cancels_query(inst, fakellm, uq, front):
    """The client leaves while PostgreSQL is still working towards the first rows (nothing
    has been written yet, so no write can fail): the worker watches the connection while it
    waits and cancels the query within a second, not when the statement ends.

    Through nginx, that is. Apache's mod_proxy_fcgi does not watch its client while the
    backend is silent, so it keeps the FastCGI connection open and the statement runs until
    it writes (or statement_timeout); the README says so. The Apache case checks exactly
    that, and that the worker is fine afterwards: should Apache start noticing, it fails and
    the README needs changing."""
    i = inst.front(HANGUP, front)
    tok = uq.replace("-", "_")
    # ~1 s per row, 8 rows: the backend sends nothing until the statement ends
    sql = ("SELECT g, '%s' AS tok, (SELECT count(*) FROM generate_series(1, 5000) a, "
           "generate_series(1, 5000 + 0 * g) b) AS c FROM generate_series(1, 8) g" % tok)
    # the query_id (the first row alone takes a second)
    qid = assert_ok(ask(fakellm, i.url, uq, sql, page_size=1, count="none"))["query_id"]
    body = json.dumps({"query_id": qid, "page_size": 100, "count": "none"}).encode()
    c = pg_connect()
    cur = c.cursor()
    s = socket.create_connection(("127.0.0.1", i.port), timeout=30)
    try:
        s.sendall(b"POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                  b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        end = time.monotonic() + 10
        while not [q for _, q in active_queries(cur, tok) if is_page(q)]:
            assert time.monotonic() < end, "the page query never started"
            time.sleep(0.02)
        time.sleep(0.3)
    finally:
        s.close()
    t_close = time.monotonic()
    limit = 1.0
    if front == "apache":
        time.sleep(1.5)
        assert active_queries(cur, tok), \
            "Apache cancelled a silent query: the README's Apache section is out of date"
        limit = 30.0  # it ends by itself (8 s of work)
    gone_then_healthy(c, tok, t_close, limit, fakellm, i.url, uq)
