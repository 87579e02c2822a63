"""test_apache -- Apache httpd (apache/t2sql.conf.in, mod_proxy_fcgi) as a front end: its own
errors answer in the API's JSON shape with X-Request-Id, its error pages are not served as
such, a worker socket that is gone is a JSON 503 with Retry-After, a path with dot
segments is 400 (as through nginx), and the console comes with its assets. The contract,
streaming, body limits and hang-ups through Apache are the nginx tests run over both front
ends (test_api_basic, test_api_errors, test_streaming)."""
import os
import socket
import subprocess
import time

import pytest
import requests

from conftest import (PORT_OFFSET, ROOT, RawResponse, assert_error, env, raw_http,
                      url_host_port)


def apache():
    return url_host_port(env("T2SQL_TEST_APACHE_URL"))


def raw(head, body=b""):
    host, port = apache()
    return RawResponse(*raw_http(host, port, head, body))


def test_request_line_too_long_is_json_414():
    r = raw(b"GET /health?" + b"x" * 20000 + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert_error(r, 414, "uri_too_long")


def test_header_too_large_is_json_400():
    r = raw(b"GET /health HTTP/1.1\r\nHost: a\r\nX-Big: " + b"y" * 20000 +
            b"\r\nConnection: close\r\n\r\n")
    assert_error(r, 400, "bad_request")


def test_malformed_request_is_json_400():
    r = raw(b"GET /health HTTP/1.1\r\nHost: a\r\nBroken header line\r\nConnection: close\r\n\r\n")
    assert_error(r, 400, "bad_request")


def test_trace_is_json_405():
    r = raw(b"TRACE /query HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert_error(r, 405, "method_not_allowed")


def test_error_pages_are_not_served_directly():
    r = requests.get(env("T2SQL_TEST_APACHE_URL") + "/_err/413.json", timeout=10)
    assert_error(r, 403, "forbidden")


def test_request_id_kept_on_apache_errors():
    r = raw(b"TRACE /query HTTP/1.1\r\nHost: a\r\nX-Request-Id: apache-err-1\r\n"
            b"Connection: close\r\n\r\n")
    assert r.headers.get("X-Request-Id") == "apache-err-1", dict(r.headers)


def test_slow_body_is_json_408():
    """RequestReadTimeout body=10: a body that never comes is cut after 10 s, with JSON."""
    host, port = apache()
    s = socket.create_connection((host, port), timeout=30)
    try:
        s.sendall(b"POST /query HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"question\"")
        t0 = time.monotonic()
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        waited = time.monotonic() - t0
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if "content-length" in hdrs:
        body = body[:int(hdrs["content-length"])]
    assert_error(RawResponse(int(lines[0].split()[1]), hdrs, body), 408, "request_timeout")
    assert 8 <= waited <= 20, waited


def test_worker_socket_gone_is_json_503():
    """Apache over a FastCGI socket nobody listens on: 503 overloaded, JSON, Retry-After."""
    port = 18079 + PORT_OFFSET
    run = lambda *a: subprocess.run(["bash", os.path.join(ROOT, "scripts", "stack.sh")] + list(a),
                                    cwd=ROOT, capture_output=True, text=True, timeout=60)
    p = run("apache", "apache-nowhere", str(port), "no-such-instance")
    try:
        # the start itself waits for /health, which cannot answer: it reports that
        assert p.returncode != 0 and "no answer" in p.stderr, p.stderr
        r = requests.post("http://127.0.0.1:%d/query" % port, json={"question": "x"}, timeout=10)
        assert_error(r, 503, "overloaded")
    finally:
        run("apache-stop", "apache-nowhere")


def test_static_pages_through_apache():
    """The console and the contract are served by Apache itself, with their types."""
    base = env("T2SQL_TEST_APACHE_URL")
    r = requests.get(base + "/console", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), r.headers
    r = requests.get(base + "/openapi.json", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json()["openapi"].startswith("3.")
    r = requests.get(base + "/", timeout=10, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/console"), r.headers


def test_console_assets_through_apache():
    """The console's script, style sheet and charting library, with their types, and the
    console under the same Content-Security-Policy as through nginx."""
    base = env("T2SQL_TEST_APACHE_URL")
    for path, ctype in (("/console/console.js", "application/javascript"),
                        ("/console/thread.js", "application/javascript"),
                        ("/console/console.css", "text/css"),
                        ("/console/vendor/chart.umd.min.js", "application/javascript")):
        r = requests.get(base + path, timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(ctype), \
            (path, r.status_code, r.headers)
    r = requests.get(base + "/console", timeout=10)
    assert "default-src 'self'" in r.headers.get("Content-Security-Policy", ""), r.headers
    assert_error(requests.get(base + "/console/no-such.js", timeout=10), 404, "not_found")


def test_no_api_path_redirects_through_apache():
    """As through nginx (test_hardening): a path with . or .. segments is 400, never the
    console's redirect that its normalised form would get; dots in a query are data."""
    for path in ("/query/..", "/query/../", "/export/..", "/health/.", "/query/%2E%2E",
                 "/schema/.%2e?x=1", "/x/../console", "/examples/%2e", "/./health"):
        r = raw(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert r.status_code != 302, path
        assert_error(r, 400, "bad_request")
    r = requests.get(env("T2SQL_TEST_APACHE_URL") + "/health?next=/..", timeout=10)
    assert r.status_code == 200
    r = raw(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert r.status_code == 302 and r.headers["Location"].endswith("/console")
