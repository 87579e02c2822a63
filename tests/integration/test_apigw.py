"""test_apigw -- the service behind an API Gateway HTTP proxy, played by an nginx configured as
one (tests/fixtures/apigw-nginx.conf.in: 29 s integration timeout, 10 MB payloads, HTTPS
terminated, X-Forwarded-For/-Proto added) in front of an instance with base_path = /stage.
A stage prefix the proxy strips (/prod), passes with X-Forwarded-Prefix (/v1) or passes as it
is (/stage, base_path) all reach the same endpoints; the per-request log line names the
client and the scheme the proxy saw; presigned URLs name s3_public_endpoint. Ports: the
instance 18073, the proxy 18074 (+ offset)."""
import os
import re
import subprocess
import time

import pytest
import requests

from conftest import (PORT_OFFSET, ROOT, assert_error, assert_ok, env, post_query)

INST = ("apigw-stage", 18073 + PORT_OFFSET)
PROXY = ("apigw", 18074 + PORT_OFFSET)
STAGES = ["/prod", "/v1", "/stage"]


def stack(*args):
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "stack.sh")] + list(args), cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "stack.sh %s: %s" % (" ".join(args), p.stderr[-2000:])
    return p.stdout


@pytest.fixture(scope="module")
def gw():
    name, port = INST
    stack("instance", name, str(port), "T2SQL_BASE_PATH=/stage", "T2SQL_WORKERS=2",
          "T2SQL_S3_PUBLIC_ENDPOINT=" + public_s3())
    stack("nginx", PROXY[0], str(PROXY[1]), "tests/fixtures/apigw-nginx.conf.in",
          "127.0.0.1:%d" % port)
    try:
        yield "http://127.0.0.1:%d" % PROXY[1]
    finally:
        stack("nginx-stop", PROXY[0])
        stack("instance-stop", name)


def public_s3():
    """The S3 stand-in by another name than the service's (localhost, not 127.0.0.1), as a
    client outside would reach it: s3_public_endpoint."""
    return env("T2SQL_TEST_S3").replace("127.0.0.1", "localhost")


def log_lines(needle):
    with open(os.path.join(env("T2SQL_TEST_VAR"), "log", INST[0] + ".log"), errors="replace") as f:
        return [ln for ln in f if needle in ln]


@pytest.mark.parametrize("stage", STAGES)
def test_query_under_a_stage(gw, fakellm, uq, stage):
    fakellm.sql(uq, "SELECT 41 + 1 AS answer")
    body = assert_ok(post_query(gw + stage, {"question": "gw " + uq, "stream": False}))
    assert body["rows"] == [[42]]
    r = requests.get(gw + stage + "/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"ok": True}


@pytest.mark.parametrize("stage", STAGES)
def test_export_under_a_stage(gw, fakellm, uq, stage):
    """Path parameters after the prefix: /export/status/{id} routes under every stage."""
    fakellm.sql(uq, "SELECT g FROM generate_series(1, 3) g")
    r = requests.post(gw + stage + "/export/start", json={"question": "gw export " + uq},
                      timeout=30)
    job = assert_ok(r)["job_id"]
    end = time.time() + 60
    while True:
        st = assert_ok(requests.get(gw + stage + "/export/status/" + job, timeout=10))
        if st["status"] in ("SUCCESS", "FAILED"):
            break
        assert time.time() < end, st
        time.sleep(0.2)
    assert st["status"] == "SUCCESS", st
    assert st["row_count"] == 3
    # the URL names the public endpoint, and its signature holds there
    assert st["download_url"].startswith(public_s3() + "/"), st["download_url"]
    r = requests.get(st["download_url"], timeout=30)
    assert r.status_code == 200 and r.text.split() == ["g", "1", "2", "3"], r.text[:300]


def test_unknown_paths_under_a_stage_are_json_404(gw):
    for path, seen in (("/stage/nope", "/nope"), ("/v1/nope", "/nope"), ("/prod/nope", "/nope"),
                       ("/stage/stagequery", "/stagequery")):
        r = requests.get(gw + path, timeout=10)
        body = assert_error(r, 404, "not_found")
        assert body["detail"].endswith(": " + seen), (path, body)


def test_base_path_is_only_this_instances(gw, base_url):
    """The main instance has no base_path: /stage/health is not one of its paths."""
    assert_error(requests.get(base_url + "/stage/health", timeout=10), 404, "not_found")
    assert requests.get(base_url + "/health", timeout=10).status_code == 200


def test_log_names_the_forwarded_client_and_scheme(gw, fakellm, uq):
    fakellm.sql(uq, "SELECT 1 AS one")
    rid = "gw-" + uq[-10:]
    r = post_query(gw + "/prod", {"question": "gw log " + uq, "stream": False},
                   headers={"X-Forwarded-For": "203.0.113.9", "X-Request-Id": rid})
    assert_ok(r)
    end = time.time() + 5
    while not log_lines("req=%s " % rid) and time.time() < end:
        time.sleep(0.1)
    lines = [ln for ln in log_lines("req=%s " % rid) if "POST /query 200" in ln]
    assert lines, "no request line for %s" % rid
    # the client as sent, then the proxy's peer; the scheme the client used
    assert 'xff="203.0.113.9, 127.0.0.1"' in lines[-1], lines[-1]
    assert "proto=https" in lines[-1], lines[-1]
    assert re.search(r"peer=127\.0\.0\.1\b", lines[-1]), lines[-1]


def test_payload_within_the_gateway_limit_meets_the_service_limit(gw):
    """API Gateway takes 10 MB; the service's own limit (max_body_bytes, nginx's 1 MB) answers
    first, as JSON, through the proxy."""
    body = '{"question": "%s"}' % ("q" * (2 * 1024 * 1024))
    r = requests.post(gw + "/prod/query", data=body, timeout=30,
                      headers={"Content-Type": "application/json"})
    assert_error(r, 413, "body_too_large")
