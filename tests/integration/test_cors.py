"""Browser clients on another origin (CORS, decided by the service) and JSON written without
escaping "/". The preflights and headers are checked here with plain HTTP; test_browser.py
checks the same from a real browser on a second origin."""

import json
import os
import subprocess

import pytest
import requests

from browser import ORIGIN_PORTS, OriginServer, run_browser
from conftest import PORT_OFFSET, ROOT, TIMEOUT, assert_error, assert_ok, post_query

ALLOWED = "http://127.0.0.1:%d" % ORIGIN_PORTS[0]   # browser.OriginServer's ports
OTHER = "http://127.0.0.1:%d" % ORIGIN_PORTS[1]
CORS = ("cors", 18083, {"T2SQL_CORS_ALLOW_ORIGINS": "https://app.example.com, " + ALLOWED})
CORS_AUTH = ("cors-auth", 18084, {"T2SQL_CORS_ALLOW_ORIGINS": ALLOWED,
                                  "T2SQL_AUTH_REQUIRED": "true"})
CORS_ANY = ("cors-any", 18085, {"T2SQL_CORS_ALLOW_ORIGINS": "*"})

# every API path, with the methods the service routes there
PATHS = [
    ("/health", "GET"), ("/ready", "GET"), ("/query", "POST"), ("/export/start", "POST"),
    ("/export/status/00000000-0000-0000-0000-000000000000", "GET"),
    ("/export/cancel/00000000-0000-0000-0000-000000000000", "POST"), ("/schema", "GET"),
    ("/examples", "GET, POST"), ("/examples/1", "DELETE"), ("/metrics", "GET"),
]
EXPOSED = {"x-request-id", "retry-after", "x-cache"}


def start(instances, spec):
    name, port, env = spec
    return instances.start(name, port, **env)


def methods(value):
    return {m.strip().upper() for m in (value or "").split(",") if m.strip()}


def preflight(url, origin, method, req_headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if req_headers:
        h["Access-Control-Request-Headers"] = req_headers
    return requests.options(url, headers=h, timeout=TIMEOUT)


def assert_cors(r, origin):
    assert r.headers.get("Access-Control-Allow-Origin") == origin, dict(r.headers)
    assert "origin" in {v.strip().lower() for v in r.headers.get("Vary", "").split(",")}, \
        dict(r.headers)
    exposed = {v.strip().lower() for v in r.headers.get("Access-Control-Expose-Headers",
                                                         "").split(",")}
    assert exposed >= EXPOSED, r.headers.get("Access-Control-Expose-Headers")
    assert "Access-Control-Allow-Credentials" not in r.headers


def assert_no_cors(r):
    bad = [k for k in r.headers if k.lower().startswith("access-control-")]
    assert not bad, "CORS headers for a foreign origin: %s" % bad


@pytest.mark.parametrize("auth", [False, True], ids=["open", "auth-required"])
@pytest.mark.parametrize("path,allowed", PATHS, ids=[p for p, _ in PATHS])
def test_preflight_every_path(instances, auth, path, allowed):
    inst = start(instances, CORS_AUTH if auth else CORS)
    want = methods(allowed)
    for req_headers in (None, "content-type", "authorization, content-type, x-request-id",
                        "x-api-key"):
        r = preflight(inst.url + path, ALLOWED, sorted(want)[0], req_headers)
        assert r.status_code == 204, (path, req_headers, r.status_code, r.text[:300])
        assert r.content == b""
        assert_cors(r, ALLOWED)
        assert methods(r.headers.get("Access-Control-Allow-Methods")) == want | {"OPTIONS"}
        assert methods(r.headers.get("Allow")) == want | {"OPTIONS"}
        listed = {v.strip().lower() for v in r.headers["Access-Control-Allow-Headers"].split(",")}
        assert listed >= {"content-type", "authorization", "x-api-key", "x-request-id"}, listed
        assert int(r.headers["Access-Control-Max-Age"]) == 600
        assert r.headers.get("X-Request-Id")
    # another origin: answered, but without a single CORS header
    r = preflight(inst.url + path, OTHER, sorted(want)[0], "authorization, content-type")
    assert r.status_code == 204
    assert_no_cors(r)
    assert methods(r.headers.get("Allow")) == want | {"OPTIONS"}


def test_options_unknown_path_and_without_cors(instances, base_url):
    inst = start(instances, CORS)
    r = preflight(inst.url + "/nope", ALLOWED, "GET")
    assert_error(r, 404, "not_found")
    assert_cors(r, ALLOWED)  # an error a page may read
    # cors_allow_origins empty (the main stack): OPTIONS still answers Allow, nothing more
    r = preflight(base_url + "/query", ALLOWED, "POST", "content-type")
    assert r.status_code == 204 and methods(r.headers.get("Allow")) == {"POST", "OPTIONS"}
    assert_no_cors(r)
    assert "Vary" not in r.headers
    r = requests.get(base_url + "/health", headers={"Origin": ALLOWED}, timeout=TIMEOUT)
    assert r.status_code == 200
    assert_no_cors(r)


def test_actual_responses_carry_cors(instances, fakellm, uq):
    inst = start(instances, CORS)
    sql = "SELECT g FROM generate_series(1, 30) g"
    fakellm.sql(uq, sql)
    h = {"Origin": ALLOWED}
    q = {"question": "numbers " + uq, "page_size": 10}
    docs = [post_query(inst.url, dict(q, stream=False), headers=h),
            post_query(inst.url, dict(q, stream=True), headers=h),
            post_query(inst.url, dict(q, stream=True),
                       headers=dict(h, Accept="application/x-ndjson"))]
    for r in docs:
        assert r.status_code == 200, r.text[:300]
        assert_cors(r, ALLOWED)
    assert "Content-Length" not in docs[1].headers  # streamed
    assert docs[2].headers["Content-Type"].startswith("application/x-ndjson")
    assert_cors(requests.get(inst.url + "/health", headers=h, timeout=TIMEOUT), ALLOWED)
    # errors: 422, 404, 405
    r = post_query(inst.url, {}, headers=h)
    assert_error(r, 422, "validation_error", field="question")
    assert_cors(r, ALLOWED)
    r = requests.get(inst.url + "/export/status/nope", headers=h, timeout=TIMEOUT)
    assert_error(r, 404, "not_found")
    assert_cors(r, ALLOWED)
    r = requests.get(inst.url + "/query", headers=h, timeout=TIMEOUT)
    assert_error(r, 405, "method_not_allowed")
    assert_cors(r, ALLOWED)
    assert methods(r.headers["Allow"]) == {"POST", "OPTIONS"}
    # the same requests from elsewhere: no CORS headers at all
    for origin in (OTHER, "null", ALLOWED + "/", ALLOWED.upper()):
        r = post_query(inst.url, dict(q, stream=True), headers={"Origin": origin})
        assert r.status_code == 200
        assert_no_cors(r)
        assert "origin" in r.headers.get("Vary", "").lower()  # caches keep them apart


def test_unauthorized_is_readable_cross_origin(instances):
    """A 401 from another origin must reach the page (so it can ask for a key)."""
    inst = start(instances, CORS_AUTH)
    r = post_query(inst.url, {"question": "anything"}, headers={"Origin": ALLOWED})
    assert_error(r, 401, "unauthorized")
    assert_cors(r, ALLOWED)
    r = requests.get(inst.url + "/health", headers={"Origin": ALLOWED}, timeout=TIMEOUT)
    assert r.status_code == 200
    assert_cors(r, ALLOWED)


def test_wildcard(instances):
    inst = start(instances, CORS_ANY)
    r = preflight(inst.url + "/query", "https://any.example", "POST", "content-type")
    assert r.status_code == 204
    assert r.headers.get("Access-Control-Allow-Origin") == "*"
    assert "Vary" not in r.headers  # the answer is the same for every origin
    r = requests.get(inst.url + "/health", headers={"Origin": OTHER}, timeout=TIMEOUT)
    assert r.headers.get("Access-Control-Allow-Origin") == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


def config_check(**env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("T2SQL_")}
    e.update(env)
    return subprocess.run([os.path.join(ROOT, "bin", "t2sql-fcgi"), "-c",
                           os.path.join(ROOT, "conf", "t2sql.conf"), "-t"],
                          capture_output=True, text=True, env=e, timeout=30)


def test_wildcard_with_auth_refused_unless_stated():
    p = config_check(T2SQL_CORS_ALLOW_ORIGINS="*", T2SQL_AUTH_REQUIRED="true")
    assert p.returncode != 0
    assert "cors_any_origin_with_auth" in p.stdout + p.stderr
    p = config_check(T2SQL_CORS_ALLOW_ORIGINS="*", T2SQL_AUTH_REQUIRED="true",
                     T2SQL_CORS_ANY_ORIGIN_WITH_AUTH="true")
    assert p.returncode == 0, p.stderr
    assert "cors_allow_origins = *" in p.stdout
    p = config_check(T2SQL_CORS_ALLOW_ORIGINS="https://app.example.com/path")
    assert p.returncode != 0 and "not an origin" in p.stdout + p.stderr


# ---------------------------------------------------------------------------------------------
# "/" is written as itself


def test_no_slash_escaping(base_url, fakellm, uq):
    sql = "SELECT 'a/b' AS \"x/y\", '{\"u\": \"http://h/p\"}'::jsonb AS j"
    fakellm.sql(uq, sql)
    for stream, headers in ((False, None), (True, None),
                            (True, {"Accept": "application/x-ndjson"})):
        r = post_query(base_url, {"question": "slashes %s %s" % (stream, uq), "stream": stream},
                       headers=headers)
        assert r.status_code == 200, r.text[:300]
        assert "\\/" not in r.text, r.text[:300]
        assert '"a/b"' in r.text and '"x/y"' in r.text and "http://h/p" in r.text
    # documents built with json-c: errors, the export start answer, the job's status
    r = requests.get(base_url + "/no/such/path", timeout=TIMEOUT)
    assert_error(r, 404, "not_found")
    assert "/no/such/path" in r.text and "\\/" not in r.text
    r = requests.post(base_url + "/export/start", json={"question": "slashes export " + uq},
                      timeout=TIMEOUT)
    body = assert_ok(r)
    assert "'a/b'" in r.text and "\\/" not in r.text, r.text
    r = requests.get(base_url + "/export/status/" + body["job_id"], timeout=TIMEOUT)
    assert r.status_code == 200 and "\\/" not in r.text, r.text
    assert json.loads(r.text)["job_id"] == body["job_id"]


# ---------------------------------------------------------------------------------------------
# From a real browser: a page on a second origin calls the API with fetch()


@pytest.fixture(scope="module")
def origin():
    s = OriginServer().start()
    yield s
    s.stop()


def test_browser_on_another_origin(instances, origin, fakellm, pg, uq):
    inst = start(instances, CORS)
    assert origin.urls == [ALLOWED, OTHER]
    sql = "SELECT g AS n, 'x/' || g AS label FROM generate_series(1, 25) g ORDER BY g"
    fakellm.rules({"match": uq, "reply": "<sql>%s</sql>" % sql})
    question = "numbers from the browser " + uq
    out = run_browser("cors.js", {"pages": {"allowed": ALLOWED + "/", "other": OTHER + "/"},
                                  "api": inst.url, "question": question})
    ok, other = out["allowed"], out["other"]
    assert ok["origin"] == ALLOWED and other["origin"] == OTHER
    want = [[n, "x/%d" % n] for n in range(1, 11)]

    # the allowed origin reads everything, the exposed headers included
    for k in ("health", "healthWithKey", "query", "queryStreamed", "queryNdjson", "error",
              "exportStart", "exportStatus"):
        assert not ok[k].get("blocked"), (k, ok[k], ok["consoleErrors"])
    assert ok["health"] == {"status": 200, "body": {"ok": True},
                            "requestId": ok["health"]["requestId"]} and ok["health"]["requestId"]
    assert ok["healthWithKey"]["requestId"] == "cors-page-1"
    assert ok["query"]["status"] == 200 and ok["query"]["body"]["rows"] == want
    assert ok["query"]["body"]["pagination"]["has_more"] is True
    assert ok["query"]["requestId"]
    assert ok["queryStreamed"]["status"] == 200 and ok["queryStreamed"]["length"] is None
    assert ok["queryStreamed"]["body"]["rows"] == want
    nd = ok["queryNdjson"]
    assert nd["status"] == 200 and nd["type"].startswith("application/x-ndjson")
    assert nd["lines"][1:-1] == want and nd["lines"][-1]["pagination"]["total_rows"] == 25
    assert ok["error"]["status"] == 422 and ok["error"]["body"]["code"] == "validation_error"
    assert ok["error"]["requestId"]
    assert ok["exportStart"]["status"] == 200 and ok["exportStart"]["body"]["status"] == "PENDING"
    st = ok["exportStatus"]
    assert st["status"] == 200 and st["body"]["status"] == "SUCCESS", st
    assert st["body"]["row_count"] == 25 and st["body"]["download_url"].startswith("http")

    # the other origin: every call blocked by the browser, nothing readable
    for k in ("health", "healthWithKey", "query", "queryStreamed", "queryNdjson", "error",
              "exportStart", "exportStatus"):
        assert other[k].get("blocked") is True, (k, other[k])
    assert any("CORS" in m or "Access-Control" in m for m in other["consoleErrors"]), \
        other["consoleErrors"]
    # its POSTs never reached the service: the preflight failed, so no job was made for it
    jobs = pg.scalar("SELECT count(*) FROM t2sql.export_jobs WHERE question = %s", (question,))
    assert int(jobs) == 1, jobs


def test_same_cors_through_apache(instances):
    """CORS is decided in the service: Apache in front (apache/t2sql.conf.in over the same
    instance's socket) passes the preflight through and answers exactly as nginx does."""
    inst = start(instances, CORS)
    port = 18068 + PORT_OFFSET
    stack = ["bash", os.path.join(ROOT, "scripts", "stack.sh")]
    p = subprocess.run(stack + ["apache", "apache-cors", str(port), inst.name], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    try:
        apache = "http://127.0.0.1:%d" % port
        for base in (inst.url, apache):
            r = preflight(base + "/query", ALLOWED, "POST", "content-type, x-api-key")
            assert r.status_code == 204, (base, r.status_code, r.text[:300])
            assert_cors(r, ALLOWED)
            assert "POST" in methods(r.headers.get("Access-Control-Allow-Methods"))
            allowed = {h.strip().lower() for h in
                       r.headers.get("Access-Control-Allow-Headers", "").split(",")}
            assert {"content-type", "authorization", "x-api-key", "x-request-id"} <= allowed
            assert_no_cors(preflight(base + "/query", OTHER, "POST"))
            r = requests.get(base + "/health", headers={"Origin": ALLOWED}, timeout=TIMEOUT)
            assert r.status_code == 200
            assert_cors(r, ALLOWED)
            r = requests.post(base + "/query", data="{", headers={
                "Origin": ALLOWED, "Content-Type": "application/json"}, timeout=TIMEOUT)
            assert_error(r, 400, "bad_json")
            assert_cors(r, ALLOWED)
            assert_no_cors(requests.get(base + "/health", headers={"Origin": OTHER},
                                        timeout=TIMEOUT))
    finally:
        subprocess.run(stack + ["apache-stop", "apache-cors"], cwd=ROOT, capture_output=True,
                       timeout=60)
