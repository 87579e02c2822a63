"""Error contract of POST /query (API.md, "Errors"): every error is JSON
{"detail": str, "code": str}, the right status, no secrets, Retry-After on 503."""

import glob
import json
import os
import re
import time

import pytest
import requests

from conftest import (LLM_KEY, RawResponse, assert_error, assert_ok, post_query, raw_http,
                      url_host_port)

# extra instances (ports 18081-18089; see conftest.Instances)
NOMODEL = ("nomodel", 18081, {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": "", "T2SQL_PLANNER_ENABLED": "false",
                              "T2SQL_PLANNER_FALLBACK": "false"})
LIMITS = ("limits", 18088, {"T2SQL_LLM_TIMEOUT_MS": "500", "T2SQL_STATEMENT_TIMEOUT_MS": "300",
                            "T2SQL_MAX_BODY_BYTES": "1024"})
AUTH = ("auth", 18082, {"T2SQL_AUTH_REQUIRED": "true"})


def start(instances, spec):
    name, port, env = spec
    return instances.start(name, port, **env)


# --------------------------------------------------------------------------- request validation


def test_malformed_json(base_url, fakellm):
    for raw in (b"{not json", b'{"question": "x"', b"", b"\xff\xfe{}", b'{"question": "a"} trailing'):
        r = post_query(base_url, raw)
        assert_error(r, 400, "bad_json")
    assert fakellm.count() == 0


@pytest.mark.parametrize("raw", [b'["question"]', b'"just a string"', b"42", b"null", b"true"])
def test_body_not_an_object(base_url, fakellm, raw):
    assert_error(post_query(base_url, raw), 422, "validation_error")
    assert fakellm.count() == 0


@pytest.mark.parametrize("body,field", [
    ({}, "question"),
    ({"page": 1}, "question"),
    ({"question": None}, "question"),
    ({"question": ["a"]}, "question"),
    ({"question": ""}, "question"),
    ({"question": "   \n\t  "}, "question"),
    ({"question": "x" * 2001}, "question"),
    ({"question": "  " + "y" * 2001 + "  "}, "question"),
    ({"question": "ok?", "page": 0}, "page"),
    ({"question": "ok?", "page": -1}, "page"),
    ({"question": "ok?", "page_size": 0}, "page_size"),
    ({"question": "ok?", "page_size": 10001}, "page_size"),
    ({"question": "ok?", "count": "bogus"}, "count"),
    ({"question": "ok?", "count": 1}, "count"),
    # what the old service coerced ("2" for page, "yes" for stream) is valid: test_coercion.py
    ({"question": "ok?", "page": "2.0"}, "page"),
    ({"question": "ok?", "page": None}, "page"),
    ({"question": "ok?", "stream": "2"}, "stream"),
    ({"question": "ok?", "page_size": "10001"}, "page_size"),
], ids=lambda x: json.dumps(x)[:40] if isinstance(x, dict) else str(x))
def test_validation_error(base_url, fakellm, body, field):
    r = post_query(base_url, body)
    assert_error(r, 422, "validation_error", field=field)
    assert fakellm.count() == 0, "an invalid request must not reach the model"


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x"])
def test_unsupported_media_type(base_url, fakellm, ctype):
    r = requests.post(base_url + "/query", data=json.dumps({"question": "hello"}),
                      headers={"Content-Type": ctype}, timeout=30)
    assert_error(r, 415, "unsupported_media_type")
    assert fakellm.count() == 0


def test_body_too_large_main(front_url, fakellm):
    """2 MB: over any sane limit; the front end (nginx, Apache) may answer itself, but the
    body must be our JSON."""
    host, port = url_host_port(front_url)
    body = json.dumps({"question": "q" * (2 * 1024 * 1024)}).encode()
    head = ("POST /query HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (host, port, len(body))).encode()
    st, hdrs, resp = raw_http(host, port, head, body)
    assert_error(RawResponse(st, hdrs, resp), 413, "body_too_large")
    assert fakellm.count() == 0


def test_body_too_large_chunked(front_url, fakellm):
    host, port = url_host_port(front_url)
    payload = json.dumps({"question": "z" * (2 * 1024 * 1024)}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 65536]), payload[i:i + 65536])
                      for i in range(0, len(payload), 65536)) + b"0\r\n\r\n"
    head = ("POST /query HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % (host, port)).encode()
    st, hdrs, resp = raw_http(host, port, head, chunks)
    assert_error(RawResponse(st, hdrs, resp), 413, "body_too_large")
    assert fakellm.count() == 0


def test_body_over_configured_limit(instances, fakellm, uq):
    inst = start(instances, LIMITS)
    fakellm.sql(uq, "SELECT 1 AS one")
    r = post_query(inst.url, {"question": uq + " " + "w" * 1500})
    assert_error(r, 413, "body_too_large")
    assert fakellm.count() == 0
    # just under the limit is served
    ok = post_query(inst.url, {"question": uq + " small", "stream": False})
    assert assert_ok(ok)["rows"] == [[1]]


# --------------------------------------------------------------------------- unsafe SQL


UNSAFE = [
    "DELETE FROM customers",
    "SELECT 1; DROP TABLE customers",
    "WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d",
    "SELECT pg_sleep(10)",
    "SELECT * FROM pg_authid",
    "SELECT * INTO t2sql_test_stolen FROM customers",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT * FROM t2sql.queries",
    "UPDATE customers SET city = 'x'",
    "SELECT * FROM customers FOR UPDATE",
]


@pytest.mark.parametrize("sql", UNSAFE)
def test_unsafe_sql(base_url, fakellm, pg, uq, sql):
    before = pg.scalar("SELECT count(*) FROM customers")
    cities = pg.scalar("SELECT md5(string_agg(city, ',' ORDER BY customer_id)) FROM customers")
    fakellm.rules({"reply": "<sql>%s</sql>" % sql})  # also answers any repair round
    t0 = time.time()
    r = post_query(base_url, {"question": "Do something " + uq, "stream": False})
    elapsed = time.time() - t0
    assert_error(r, 400, "unsafe_sql")
    assert elapsed < 5, "unsafe SQL took %.1fs: was it executed?" % elapsed
    assert pg.scalar("SELECT count(*) FROM customers") == before
    assert pg.scalar("SELECT md5(string_agg(city, ',' ORDER BY customer_id)) FROM customers") == cities
    assert pg.scalar("SELECT to_regclass('public.t2sql_test_stolen') IS NULL") == "t"
    assert fakellm.count() >= 1


def test_unsafe_sql_streamed(base_url, fakellm, uq):
    fakellm.rules({"reply": "<sql>DELETE FROM customers</sql>"})
    r = post_query(base_url, {"question": "Delete everyone " + uq})  # stream: true default
    assert_error(r, 400, "unsafe_sql")


# --------------------------------------------------------------------------- model failures


def test_model_prose_without_sql(base_url, fakellm, uq):
    fakellm.rules({"reply": "I think you should look at the customers table, it has cities."})
    r = post_query(base_url, {"question": "prose please " + uq, "stream": False})
    assert_error(r, 502, "llm_error")
    assert fakellm.count() >= 1


@pytest.mark.parametrize("status", [500, 400, 404])
def test_model_http_error(base_url, fakellm, uq, status):
    fakellm.rules({"status": status, "message": "upstream exploded"})
    r = post_query(base_url, {"question": "model fails %d %s" % (status, uq), "stream": False})
    assert_error(r, 502, "llm_error")


@pytest.mark.parametrize("status", [429, 503])
def test_model_overloaded(base_url, fakellm, uq, status):
    """The provider says "later": llm_error or llm_unavailable (then with Retry-After)."""
    fakellm.rules({"status": status, "message": "overloaded", "retry_after": 1})
    r = post_query(base_url, {"question": "model busy %d %s" % (status, uq), "stream": False})
    assert_error(r, (502, 503), ("llm_error", "llm_unavailable"))


def test_model_401_is_error_without_key_leak(base_url, fakellm, uq):
    fakellm.rules({"status": 401, "message": "Incorrect API key provided: test-llm-key-123456"})
    r = post_query(base_url, {"question": "bad key " + uq, "stream": False})
    assert_error(r, (502, 503), ("llm_error", "llm_unavailable"))  # assert_error checks the leak


@pytest.mark.parametrize("raw", ["not json{", "", "{}", '{"choices": []}',
                                 '{"choices": [{"message": {"content": null}}]}', "[1,2,3]"])
def test_model_garbage(base_url, fakellm, uq, raw):
    fakellm.rules({"raw": raw})
    r = post_query(base_url, {"question": "garbage %r %s" % (raw, uq), "stream": False})
    assert_error(r, 502, "llm_error")


def test_model_connection_closed(base_url, fakellm, uq):
    fakellm.rules({"close": True})
    r = post_query(base_url, {"question": "hang up " + uq, "stream": False})
    assert_error(r, (502, 503), ("llm_error", "llm_unavailable"))


def test_model_timeout(instances, fakellm, uq):
    inst = start(instances, LIMITS)
    fakellm.rules({"match": uq, "delay_ms": 3000, "reply": "<sql>SELECT 1</sql>"})
    t0 = time.time()
    r = post_query(inst.url, {"question": "slow model " + uq, "stream": False})
    elapsed = time.time() - t0
    assert_error(r, 504, "llm_timeout")
    assert elapsed < 2.9, "llm_timeout_ms=500 but the request took %.1fs" % elapsed


def test_no_model_configured(instances, fakellm, uq):
    inst = start(instances, NOMODEL)
    fakellm.rules({"reply": "<sql>SELECT 1</sql>"})
    r = post_query(inst.url, {"question": "what is the meaning of life " + uq, "stream": False})
    assert_error(r, 503, "llm_not_configured")
    assert fakellm.count() == 0, "no model is configured, yet the fake model was called"
    assert requests.get(inst.url + "/health", timeout=10).json() == {"ok": True}


# --------------------------------------------------------------------------- PostgreSQL failures


@pytest.mark.parametrize("sql", [
    "SELECT 1/0",
    "SELECT 1 / (count(*) - count(*)) AS x FROM customers",
    "SELECT 'abc'::int AS x FROM customers",
])
def test_query_failed(base_url, fakellm, uq, sql):
    fakellm.rules({"reply": "<sql>%s</sql>" % sql})
    r = post_query(base_url, {"question": "fails at run time " + uq, "stream": False})
    assert_error(r, 400, "query_failed")


def test_invalid_sql_after_repair(base_url, fakellm, uq):
    fakellm.rules(
        {"match": uq, "reply": "<sql>SELECT nosuchcolumn FROM customers</sql>"},
        {"reply": "<sql>SELECT nosuchcolumn_either FROM customers</sql>"},  # the repair round
    )
    r = post_query(base_url, {"question": "bad column " + uq, "stream": False})
    assert_error(r, 400, "invalid_sql")
    assert fakellm.count() == 2, "expected exactly one repair round, got %d model calls" % fakellm.count()


def test_repair_round_fixes_sql(base_url, fakellm, pg, uq):
    fakellm.rules(
        {"match": uq, "times": 1, "reply": "<sql>SELECT citty FROM customers ORDER BY customer_id</sql>"},
        {"reply": "<sql>SELECT city FROM customers ORDER BY customer_id</sql>"},
    )
    r = post_query(base_url, {"question": "typo column " + uq, "page_size": 5, "stream": False})
    body = assert_ok(r)
    assert body["columns"] == ["city"]
    assert body["rows"] == [list(x) for x in pg.run(
        "SELECT city FROM customers ORDER BY customer_id LIMIT 5")[2]]
    assert fakellm.count() == 2
    repair = fakellm.calls()["requests"][-1]
    text = json.dumps(repair["messages"])
    assert "citty" in text, "the repair prompt should show the failing SQL or its error"


def test_invalid_syntax_after_repair(base_url, fakellm, uq):
    fakellm.rules({"reply": "<sql>SELEC city FROM customers</sql>"})
    r = post_query(base_url, {"question": "syntax " + uq, "stream": False})
    assert_error(r, 400, ("invalid_sql", "unsafe_sql"))


def test_statement_timeout(instances, fakellm, pg, uq):
    inst = start(instances, LIMITS)
    n = int(pg.scalar("SELECT count(*) FROM ticket_sales"))
    assert n >= 2, "ticket_sales is too small for this test"
    k = 2
    while n ** k < 10 ** 10 and k < 8:
        k += 1
    aliases = ["t%d" % i for i in range(k)]
    sql = "SELECT count(*) AS n FROM " + " CROSS JOIN ".join("ticket_sales " + a for a in aliases)
    fakellm.rules({"match": uq, "reply": "<sql>%s</sql>" % sql})
    t0 = time.time()
    r = post_query(inst.url, {"question": "cross join " + uq, "stream": False})
    elapsed = time.time() - t0
    assert_error(r, 504, "query_timeout")
    assert elapsed < 10, elapsed
    # the statement was really cancelled on the server
    end = time.time() + 5
    while time.time() < end:
        left = pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                         "AND query ILIKE %s AND pid <> pg_backend_pid()", ("%CROSS JOIN ticket_sales t1%",))
        if left == "0":
            break
        time.sleep(0.2)
    assert left == "0", "the timed-out statement is still running"


# --------------------------------------------------------------------------- auth


def test_auth_required(instances, fakellm, uq):
    inst = start(instances, AUTH)
    fakellm.rules({"reply": "<sql>SELECT 1</sql>"})
    assert requests.get(inst.url + "/health", timeout=10).status_code == 200
    r = post_query(inst.url, {"question": "no key " + uq})
    assert_error(r, 401, "unauthorized")
    r = post_query(inst.url, {"question": "bad key " + uq},
                   headers={"Authorization": "Bearer definitely-not-a-key"})
    assert_error(r, 401, "unauthorized")
    r = post_query(inst.url, {"question": "bad key " + uq}, headers={"X-API-Key": "nope"})
    assert_error(r, 401, "unauthorized")
    assert fakellm.count() == 0


# --------------------------------------------------------------------------- general shape


def test_error_bodies_never_leak(base_url, fakellm, uq):
    """A grab-bag of failures; assert_error() checks shape, secrets and Retry-After."""
    fakellm.rules({"match": "boom", "status": 503, "message": "key test-llm-key-123456 overloaded"},
                  {"match": "echo", "reply": "Your key is test-llm-key-123456, no SQL"},
                  {"match": "leak", "reply": "<sql>SELECT 'test-llm-key-123456' FROM nosuchtable</sql>"},
                  {"reply": "<sql>SELECT 'test-llm-key-123456' FROM nosuchtable</sql>"})  # repair
    for q, statuses, codes in (
            ("boom " + uq, (502, 503), ("llm_error", "llm_unavailable")),
            ("echo " + uq, 502, "llm_error"),
            ("leak " + uq, 400, ("invalid_sql", "query_failed", "unsafe_sql"))):
        r = post_query(base_url, {"question": q, "stream": False})
        assert_error(r, statuses, codes)


def test_request_id_in_log(base_url, fakellm, uq):
    """API.md: on an error "the log has the request id"."""
    rid = "it-log-" + uq
    fakellm.rules({"reply": "<sql>SELECT 1 / (count(*) - count(*)) AS x FROM customers</sql>"})
    r = post_query(base_url, {"question": "log me " + uq, "stream": False},
                   headers={"X-Request-Id": rid})
    assert_error(r, 400, "query_failed")
    assert r.headers["X-Request-Id"] == rid
    logdir = os.path.join(os.environ["T2SQL_TEST_VAR"], "log")
    end = time.time() + 5
    while time.time() < end:
        found = False
        for p in glob.glob(os.path.join(logdir, "*")):
            with open(p, errors="replace") as f:
                if rid in f.read():
                    found = True
                    break
        if found:
            break
        time.sleep(0.2)
    assert found, "request id %s not in any log under %s" % (rid, logdir)


def test_logs_never_contain_the_model_key():
    """Runs late in the module: by now every kind of model failure has been logged."""
    logdir = os.path.join(os.environ["T2SQL_TEST_VAR"], "log")
    # every file below it (the sanitizer run keeps its logs in a directory of their own)
    files = [p for p in glob.glob(os.path.join(logdir, "**", "*"), recursive=True)
             if os.path.isfile(p)
             and not re.match(r"(nginx|postgres|redis|fakellm)", os.path.basename(p))]
    assert files, "no service logs under " + logdir
    for p in files:
        with open(p, errors="replace") as f:
            assert LLM_KEY not in f.read(), "%s contains the model key" % p
