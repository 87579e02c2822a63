"""Hardening (issue 11): strict JSON bodies, the question's text, session functions and folded
size caps in the guard, JSON from nginx's own errors, and per-address connection limits that
never lock out /health and /ready. Raw requests go through the test nginx."""

import json
import os
import re
import socket
import threading
import time

import pytest
import requests

from conftest import (RawResponse, assert_error, assert_ok, post_query, raw_http,
                      url_host_port)

# extra instances (conftest.INSTANCE_PORTS); 18083-18085 are otherwise used only by
# test_defog_e2e, which runs before this module
SESSION_ON = ("session-on", 18085, {"T2SQL_ALLOW_SESSION_FUNCTIONS": "true"})


def raw(base_url, head, body=b"", timeout=30):
    host, port = url_host_port(base_url)
    st, hdrs, resp = raw_http(host, port, head, body, timeout=timeout)
    return RawResponse(st, hdrs, resp)


# --------------------------------------------------------------------------- strict JSON

# (body, what the detail says): none of these is strict JSON (RFC 8259)
NOT_STRICT = [
    (b"{'question': 'x'}", "single quotes"),
    (b'{"question": \'x\'}', "single quotes"),
    (b'{"question": "x" /* comment */}', "comments"),
    (b'{"question": "x"} // comment', "comments"),
    (b'{"question": "x",}', "not valid JSON"),
    (b'{"question": "x", "page": [1, 2,]}', "not valid JSON"),
    (b'{question: "x"}', "bare word"),
    (b'{"question": "x", "page": NaN}', "bare word"),
    (b'{"question": "x", "page": Infinity}', "bare word"),
    (b'{"question": "x", "page": -Infinity}', "digit"),
    (b'{"question": "x", "page": 012}', "leading zero"),
    (b'{"question": "x", "page": 0x1f}', "hex"),
    (b'{"question": "x", "page": 1.}', "decimal point"),
    (b'{"question": "x", "page": .5}', "unexpected character"),
    (b'{"question": "x", "page": +1}', "unexpected character"),
    (b'{"question": "x", "stream": True}', "bare word"),
    (b'{"question": "a\tb"}', "control character"),
    (b'{"question": "a\x01b"}', "control character"),
    (b'{"question": "x", "a": {"b": "caf\xe9"}}', "UTF-8"),
    (b'{"question": "x", "a": {"b": "\xc0\xaf"}}', "UTF-8"),
    (b'{"question": "x", "a": {"b": "\xed\xa0\x80"}}', "UTF-8"),
    (b'{"question": "x", "a": {"b": "\\ud800"}}', "unpaired surrogate"),
    (b'{"question": "\\u0000"}', "\\u0000"),
    (b'{"question": "\\x41"}', "invalid escape"),
    (b'{"question": "x", "question": "y"}', "repeats a key"),
    (b'{"question": "x"} {"question": "y"}', "not valid JSON"),
    (b'{"question": "x"} trailing', "bare word"),
    (b"\xef\xbb\xbf\xef\xbb\xbf{}", "byte order mark"),
    (b'{"question": "x", "page": ' + b"[" * 40 + b"]" * 40 + b"}", "nest deeper"),
]


@pytest.mark.parametrize("body,why", NOT_STRICT, ids=[repr(b[:28]) for b, _ in NOT_STRICT])
def test_not_strict_json_is_bad_json(base_url, fakellm, body, why):
    r = post_query(base_url, body)
    detail = assert_error(r, 400, "bad_json")["detail"]
    assert why in detail, detail
    assert fakellm.count() == 0


def test_twenty_non_strict_bodies():
    assert len(NOT_STRICT) >= 20


# strict edge cases: each is accepted, and the question the model sees is the one sent
STRICT = [
    ('{"question": "caf\\u00e9 \\u20ac \\ud83d\\ude00 %s"}', "café € 😀 %s"),
    ('\ufeff{"question": "with a byte order mark %s"}', "with a byte order mark %s"),
    (' \t\r\n{ "question" : "spaced %s" , "page" : 1 }\r\n\t ', "spaced %s"),
    # 1e0 is an integral float: the old service (pydantic v1) took it as 1 (test_coercion.py)
    ('{"question": "quotes \\" \\\\ \\/ %s", "page_size": 1e0}', 'quotes " \\ / %s'),
    ('{"question": "big page %s", "page": 1, "count": "none", "x": 123456789012345678901234567890}',
     "big page %s"),
    ('{"question": "nested %s", "x": {"question": 1, "y": {"question": 2}}}', "nested %s"),
]


@pytest.mark.parametrize("text,seen", STRICT, ids=[t[:24] for t, _ in STRICT])
def test_strict_edge_cases_are_accepted(base_url, fakellm, uq, text, seen):
    fakellm.sql(uq, "SELECT 1 AS one")
    r = post_query(base_url, (text % uq).encode("utf-8"))
    assert assert_ok(r)["rows"] == [[1]]
    msg = [m for m in fakellm.calls()["requests"][-1]["messages"] if m["role"] == "user"][-1]
    assert (seen % uq) in msg["content"]


@pytest.mark.parametrize("question", [
    "bell \u0007 " , "escape \u001b[31m red", "nul-free but \u0001 inside", "form\ffeed",
    "vertical\u000btab", "delete \u007f", "c1 \u0085 next line", "c1 \u009f",
])
def test_question_with_control_characters_is_422(base_url, fakellm, uq, question):
    fakellm.sql(uq, "SELECT 1 AS one")
    r = post_query(base_url, {"question": question + " " + uq})
    body = assert_error(r, 422, "validation_error", field="question")
    assert "control character" in body["detail"]
    r = requests.post(base_url + "/export/start", json={"question": question + " " + uq},
                      timeout=30)
    assert_error(r, 422, "validation_error", field="question")
    assert fakellm.count() == 0, "a question with control characters reached the model"


def test_question_whitespace_is_still_fine(base_url, fakellm, uq):
    fakellm.sql(uq, "SELECT 1 AS one")
    r = post_query(base_url, {"question": "\t several\r\nlines  " + uq + " \n"})
    assert assert_ok(r)["rows"] == [[1]]


def test_invalid_utf8_question_never_reaches_the_model(base_url, fakellm, uq):
    """Issue 11 item 4: invalid UTF-8 in the question came back 502 from the model. A question
    that is not Unicode text -- raw bytes that are not UTF-8, an encoded surrogate, or an
    unpaired surrogate escape (which json-c would have made U+FFFD) -- is the client's field
    sent wrongly: 422 on "question", and the model never sees it."""
    fakellm.sql(uq, "SELECT 1 AS one")
    for body in (b'{"question": "\xff\xfe ' + uq.encode() + b'"}',
                 b'{"question": "\xed\xb2\x80 ' + uq.encode() + b'"}',
                 b'{"question": "\\udc80 ' + uq.encode() + b'"}',
                 b'{"page": 1, "question": "caf\xe9 ' + uq.encode() + b'"}'):
        assert_error(post_query(base_url, body), 422, "validation_error", field="question")
    assert fakellm.count() == 0


# --------------------------------------------------------------------------- the guard

SESSION_SQL = "SELECT current_user, session_user, current_catalog, current_schema"


def test_session_facts_refused(base_url, fakellm, uq):
    """Issue 11 item 7: role and database names were served."""
    for sql in (SESSION_SQL, "SELECT current_database()", "SELECT version()",
                "SELECT inet_server_addr(), inet_server_port()", "SELECT pg_backend_pid()",
                "SELECT current_setting('server_version')", "SELECT * FROM user"):
        fakellm.sql(uq, sql)
        body = assert_error(post_query(base_url, {"question": uq, "stream": False}), 400,
                            "unsafe_sql")
        assert "not allowed" in body["detail"], body
        fakellm.reset()


def test_session_facts_allowed_when_configured(instances, fakellm, uq):
    name, port, env = SESSION_ON
    inst = instances.start(name, port, **env)
    fakellm.sql(uq, SESSION_SQL + ", current_database() AS db")
    body = assert_ok(post_query(inst.url, {"question": uq, "stream": False}))
    row = body["rows"][0]
    assert all(isinstance(v, str) and v for v in row), row
    assert row[2] == row[4], row  # current_catalog is current_database()
    fakellm.sql(uq + "-setting", "SELECT current_setting('server_version')")
    assert_error(post_query(inst.url, {"question": uq + "-setting", "stream": False}), 400,
                 "unsafe_sql")


@pytest.mark.parametrize("sql", [
    "SELECT repeat('x', (10^9)::int)",
    "SELECT repeat(repeat('ab', 5000) || '', 100000)",
    "SELECT repeat($$z$$, (9*10^8)::int) AS blob",
    "SELECT count(*) FROM generate_series(1, (10^12)::bigint) g",
    "SELECT string_agg(repeat('x', 1000), ',') FROM generate_series(1, 1000000) g",
])
def test_folded_size_caps(base_url, fakellm, uq, sql):
    """Issue 11 item 2 (the guard's part): these were served, allocating a gigabyte."""
    fakellm.sql(uq, sql)
    t = time.time()
    body = assert_error(post_query(base_url, {"question": uq, "stream": False}), 400,
                        "unsafe_sql")
    assert "would produce at least" in body["detail"], body
    assert time.time() - t < 20


# --------------------------------------------------------------------------- nginx's own errors

def head(line, *headers):
    return ("%s\r\nHost: t2sql\r\n%s\r\n" % (line, "".join(h + "\r\n" for h in headers))).encode()


NGINX_STATUS = [
    ("bad request line", head("GARBAGE"), b"", 400, "bad_request"),
    ("lower-case method", head("get /health HTTP/1.1"), b"", 400, "bad_request"),
    ("header without colon", head("GET /health HTTP/1.1", "Broken Header"), b"", 400,
     "bad_request"),
    ("bad chunked encoding",
     head("POST /query HTTP/1.1", "Content-Type: application/json", "Transfer-Encoding: chunked"),
     b"zz\r\n{}\r\n0\r\n\r\n", 400, "bad_request"),
    ("chunked and Content-Length",
     head("POST /query HTTP/1.1", "Content-Type: application/json", "Transfer-Encoding: chunked",
          "Content-Length: 2"), b"2\r\n{}\r\n0\r\n\r\n", 400, "bad_request"),
    ("%00 in the path", head("GET /query%00 HTTP/1.1"), b"", 400, "bad_request"),
    (".. in the path", head("GET /query/.. HTTP/1.1"), b"", 400, "bad_request"),
    ("encoded .. in the path", head("GET /export/status/%2e%2e HTTP/1.1"), b"", 400,
     "bad_request"),
    (". in the path", head("GET /./health HTTP/1.1"), b"", 400, "bad_request"),
    ("above the root", head("GET /../etc/passwd HTTP/1.1"), b"", 400, "bad_request"),
    ("an internal page", head("GET /_err/500.json HTTP/1.1"), b"", 404, "not_found"),
    ("TRACE", head("TRACE /query HTTP/1.1"), b"", 405, "method_not_allowed"),
    ("POST to a static file", head("POST /openapi.json HTTP/1.1", "Content-Length: 0"), b"", 405,
     "method_not_allowed"),
    ("a 60 KB query string", head("GET /health?" + "q" * 60000 + " HTTP/1.1"), b"", 414,
     "uri_too_long"),
    ("a 40 KB header", head("GET /health HTTP/1.1", "X-Big: " + "h" * 40000), b"", 431,
     "header_too_large"),
    ("a body over the limit",
     head("POST /query HTTP/1.1", "Content-Type: application/json", "Content-Length: 2097152"),
     b"{" * 2097152, 413, "body_too_large"),
]


@pytest.mark.parametrize("what,head_,body,status,code", NGINX_STATUS,
                         ids=[c[0] for c in NGINX_STATUS])
def test_nginx_errors_are_json(base_url, fakellm, what, head_, body, status, code):
    r = raw(base_url, head_, body)
    assert_error(r, status, code)
    assert "nosniff" in r.headers.get("X-Content-Type-Options", "")
    if status == 405:
        assert r.headers.get("Allow"), "405 without Allow"
    assert fakellm.count() == 0


def test_nginx_error_keeps_a_plain_request_id(base_url):
    r = raw(base_url, head("TRACE /query HTTP/1.1", "X-Request-Id: trace-1234"))
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["X-Request-Id"] == "trace-1234"
    r = raw(base_url, head("TRACE /query HTTP/1.1", "X-Request-Id: " + "<b>" * 30))
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-Id"]), r.headers["X-Request-Id"]


def test_no_api_path_redirects(base_url):
    """Issue 11 item 5: /query/.. normalised to / and redirected to the console. (Raw
    requests: HTTP clients remove dot segments themselves.)"""
    for path in ("/query/..", "/query/../", "/export/..", "/health/.", "/query/%2E%2E",
                 "/schema/.%2e?x=1", "/x/../console", "/examples/%2e"):
        r = raw(base_url, head("GET %s HTTP/1.1" % path))
        assert r.status_code != 302, path
        assert_error(r, 400, "bad_request")
    r = raw(base_url, head("GET / HTTP/1.1"))
    assert r.status_code == 302 and r.headers["Location"].endswith("/console")
    r = requests.get(base_url + "/health?next=/..", timeout=30)  # dots in a query are data
    assert r.status_code == 200


def test_nginx_gateway_errors_are_json(instances, fakellm, uq, monkeypatch):
    """504: fastcgi_read_timeout passed (NGINX_READ_TIMEOUT renders it); 502: the FastCGI
    master is gone (answered as 500 internal)."""
    monkeypatch.setenv("NGINX_READ_TIMEOUT", "2s")
    inst = instances.start("nginx-gw", 18083)
    try:
        fakellm.rules({"match": uq, "delay_ms": 5000, "reply": "<sql>SELECT 1 AS one</sql>"})
        r = post_query(inst.url, {"question": uq, "stream": False}, timeout=30)
        assert_error(r, 504, "query_timeout")
        os.kill(inst.pid, 15)
        end = time.time() + 15
        while inst.alive() and time.time() < end:
            time.sleep(0.1)
        assert not inst.alive()
        r = requests.get(inst.url + "/health", timeout=30)
        assert_error(r, 500, "internal")
    finally:
        instances.stop(inst)


# --------------------------------------------------------------------------- slow clients

def _send_slowly(socks, stop, every=3.0):
    while not stop.wait(every):
        for s in list(socks):
            try:
                s.send(b" ")
            except OSError:
                socks.remove(s)


def test_health_answers_while_one_address_holds_its_whole_quota(base_url, fakellm):
    """Issue 11 item 6: 256 bodies sent one byte every 3 s held every connection of the
    address, and /health got 429 too. The per-address cap (limit_conn 256) still holds for
    the API; /health and /ready are not counted."""
    host, port = url_host_port(base_url)
    socks, stop = [], threading.Event()
    try:
        for _ in range(256):
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(b"POST /query HTTP/1.1\r\nHost: t2sql\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{")
            socks.append(s)
        t = threading.Thread(target=_send_slowly, args=(socks, stop), daemon=True)
        t.start()
        time.sleep(1.5)  # every header read: all 256 counted
        over = post_query(base_url, {"question": "one too many"}, timeout=30)
        assert_error(over, 429, "rate_limited")
        time.sleep(11)  # past client_body_timeout (per read): the trickle keeps them open
        assert len(socks) == 256, "slow bodies were cut early: %d left" % len(socks)
        for _ in range(3):
            r = requests.get(base_url + "/health", timeout=10)
            assert r.status_code == 200 and r.json() == {"ok": True}, r.text
            r = requests.get(base_url + "/ready", timeout=30)
            assert r.status_code in (200, 503) and "checks" in r.json(), r.text
        assert_error(post_query(base_url, {"question": "still over"}, timeout=30), 429,
                     "rate_limited")
    finally:
        stop.set()
        for s in socks:
            s.close()
    end = time.time() + 10
    while time.time() < end:  # the quota comes back as soon as they are gone
        r = post_query(base_url, {"question": "after"}, timeout=30)
        if r.status_code != 429:
            break
        time.sleep(0.2)
    assert r.status_code != 429
    assert fakellm.count() <= 1


def _read_all(sock):
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_timeouts_close_without_an_html_page(base_url):
    """client_header_timeout is one deadline for the whole header (a header trickled one
    byte every 3 s is cut at 10 s); client_body_timeout cuts a body that stops. nginx
    answers neither (it logs 408): the client sees the connection closed, never HTML."""
    host, port = url_host_port(base_url)
    out = {}

    def header_trickle():
        s = socket.create_connection((host, port), timeout=30)
        t = time.time()
        s.sendall(b"GET /health HTTP/1.1\r\nHost: t2sql\r\n")
        try:
            for _ in range(8):
                time.sleep(3)
                s.sendall(b"X: y\r\n")
        except OSError:
            pass
        out["header"] = (_read_all(s), time.time() - t)
        s.close()

    def body_stops():
        s = socket.create_connection((host, port), timeout=30)
        t = time.time()
        s.sendall(b"POST /query HTTP/1.1\r\nHost: t2sql\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{")
        out["body"] = (_read_all(s), time.time() - t)
        s.close()

    threads = [threading.Thread(target=f) for f in (header_trickle, body_stops)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for k in ("header", "body"):
        data, took = out[k]
        assert b"<html" not in data.lower(), (k, data[:200])
        assert 9 <= took < 20, (k, took)
