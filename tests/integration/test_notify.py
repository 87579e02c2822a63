"""test_notify -- export notifications (exportd/notify.c, core/outbox.c) end to end.

Runs on test_export's database, bucket and exportd processes (its fixtures), with a webhook
receiver of its own (a small HTTP server on an ephemeral port, told what to answer) and the
stack's SQS stand-in (sqslite) behind the verifying proxy, which recomputes every SQS
request's SigV4 signature with botocore: the queue URL given to exportd is the proxy's. Each
test makes a queue of its own on sqslite and reads it there directly.

Covered: the webhook's and SQS's messages for SUCCESS, FAILED (a query error, attempts given
up at the claim) and CANCELLED, their bodies against the status document; the HMAC, computed
here independently; the presigned URL only when export_notify_download_url is on; retries
with backoff; a webhook that is down for a while (delivered later); exportd killed (-9) before
delivery, delivered exactly once after the restart; a wrong AWS secret refused by the proxy
(then delivered with the right one); the secret from a _FILE; the notification state in the
status document; no secret in the log; the configuration checks."""
import hashlib
import hmac
import http.server
import json
import os
import re
import signal
import socketserver
import subprocess
import threading
import time
import uuid
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
import requests

import test_export as tx
from test_export import export_db, s3  # noqa: F401  (fixtures: the module's database, bucket)
from test_export import exportd_factory  # noqa: F401
from test_export import create, sql1, status, wait_for, wait_status

HOOK_SECRET = "t2sqlHookSecret-7d1e" + uuid.uuid4().hex[:8]
SQS_INNER = os.environ.get("T2SQL_TEST_SQS_INNER", "")
SQS_NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"


class Hook:
    """The webhook receiver: answers each POST with the next status of `plan` (200 once the
    plan is spent) and records (arrival time, headers, body, status)."""

    def __init__(self):
        self.plan, self.got, self.lock = [], [], threading.Lock()
        self.port, self.srv = 0, None
        self.up()

    def up(self):
        hook = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook.lock:
                    code = hook.plan.pop(0) if hook.plan else 200
                    hook.got.append((time.time(), dict(self.headers), body, code))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = S(("127.0.0.1", self.port), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def down(self):
        self.srv.shutdown()
        self.srv.server_close()

    @property
    def url(self):
        return "http://127.0.0.1:%d/hooks/t2sql" % self.port

    def accepted(self, job_id=None):
        """The messages answered 2xx (for job_id when given), parsed."""
        with self.lock:
            out = [(h, json.loads(b)) for _, h, b, c in self.got if 200 <= c < 300]
        return [(h, m) for h, m in out if job_id is None or m["job_id"] == job_id]

    def attempts(self, job_id):
        with self.lock:
            return [(t, c) for t, _, b, c in self.got if json.loads(b)["job_id"] == job_id]


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.down()


def sqs_call(**params):
    """One call of SQS's query protocol to the stand-in itself (test-side reads, unsigned)."""
    port = SQS_INNER.rsplit(":", 1)[1]
    r = requests.post(SQS_INNER + "/", data=urlencode(dict(params, Version="2012-11-05")),
                      headers={"Host": "localhost:" + port,
                               "Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert r.status_code == 200, r.text
    return ElementTree.fromstring(r.content)


class Queue:
    """A queue of the test's own on sqslite; url is the proxy's address of it for exportd."""

    def __init__(self):
        assert SQS_INNER, "no SQS stand-in (T2SQL_TEST_SQS_INNER)"
        self.name = "t2sql-notify-" + uuid.uuid4().hex[:10]
        x = sqs_call(Action="CreateQueue", QueueName=self.name)
        self.inner = x.find(".//%sQueueUrl" % SQS_NS).text
        self.url = "%s/000000000000/%s" % (tx.S3URL, self.name)
        self.seen = []

    def drain(self):
        """Every message received so far (read and deleted from the queue), parsed."""
        while True:
            x = sqs_call(Action="ReceiveMessage", QueueUrl=self.inner, MaxNumberOfMessages=10)
            msgs = x.findall(".//%sMessage" % SQS_NS)
            if not msgs:
                return self.seen
            for m in msgs:
                body = m.find(SQS_NS + "Body").text
                assert m.find(SQS_NS + "MD5OfBody").text == hashlib.md5(body.encode()).hexdigest()
                self.seen.append(json.loads(body))
                sqs_call(Action="DeleteMessage", QueueUrl=self.inner,
                         ReceiptHandle=m.find(SQS_NS + "ReceiptHandle").text)

    def of(self, job_id):
        return [m for m in self.drain() if m["job_id"] == job_id]


@pytest.fixture
def queue():
    return Queue()


def notify_env(hook=None, queue=None, **more):
    e = {"T2SQL_EXPORT_NOTIFY_BACKOFF_MS": "200", "T2SQL_EXPORT_NOTIFY_BACKOFF_MAX_S": "1",
         "T2SQL_EXPORT_NOTIFY_TIMEOUT_MS": "3000"}
    if hook:
        e.update(T2SQL_EXPORT_NOTIFY_URL=hook.url, T2SQL_EXPORT_NOTIFY_SECRET=HOOK_SECRET)
    if queue:
        e["T2SQL_EXPORT_NOTIFY_SQS_URL"] = queue.url
    e.update(more)
    return e


def delivered(job_id, *targets, timeout=60):
    """Waits until the job's notifications to targets are DELIVERED; its status document."""
    def done():
        st = status(job_id)
        n = st.get("notifications") or {}
        return st if all(n.get(t, {}).get("state") == "DELIVERED" for t in targets) else None
    return wait_for(done, timeout=timeout, what="notifications of %s delivered" % job_id)


def assert_signed(headers, body_bytes):
    """The webhook's signature, recomputed here: HMAC-SHA256(secret, ts "." body)."""
    ts = headers["X-T2SQL-Timestamp"]
    assert re.fullmatch(r"\d+", ts) and abs(int(ts) - time.time()) < 300
    want = hmac.new(HOOK_SECRET.encode(), ts.encode() + b"." + body_bytes,
                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-T2SQL-Signature"], "v1=" + want)
    wrong = hmac.new(b"another secret", ts.encode() + b"." + body_bytes,
                     hashlib.sha256).hexdigest()
    assert headers["X-T2SQL-Signature"] != "v1=" + wrong


def assert_message(m, st):
    """A message against the job's status document."""
    assert m["event"] == "export.finished"
    assert m["job_id"] == st["job_id"] and m["status"] == st["status"]
    assert m["row_count"] == st["rows_written"] and m["bytes"] == st["bytes"]
    assert m["format"] == "csv" and m["key_id"] == "alice"
    assert m["error"] == st.get("error")
    assert m["finished_at"] == st["finished_at"]
    assert "download_url" not in m and "expires_in" not in m  # off by default


def test_success_to_webhook_and_sqs(exportd_factory, hook, queue):
    d = exportd_factory(**notify_env(hook, queue))
    job = create("SELECT g, 'row ' || g AS label FROM generate_series(1, 25) g")
    st = delivered(job, "webhook", "sqs")
    assert st["status"] == "SUCCESS" and st["row_count"] == 25 and st["download_url"]
    for t in ("webhook", "sqs"):
        n = st["notifications"][t]
        assert n["attempts"] == 1 and n["delivered_at"] and n["last_error"] is None
        assert n["next_attempt_at"] is None
    [(h, m)] = hook.accepted(job)
    assert_message(m, st)
    assert h["Content-Type"] == "application/json" and h["X-T2SQL-Job-Id"] == job
    [(_, _, raw, _)] = [g for g in hook.got if json.loads(g[2])["job_id"] == job]
    assert_signed(h, raw)
    [q] = queue.of(job)
    assert q == m  # the same message on both
    d.stop()
    text = d.text()
    assert HOOK_SECRET not in text and tx.SECRET not in text
    assert re.search(rf"job {job}: sqs notification delivered \(attempt 1\)", text)


def test_failed_and_cancelled(exportd_factory, hook, queue):
    """FAILED (a query error; attempts given up at the claim) and CANCELLED each notify."""
    env = notify_env(hook, queue)
    cancelled = create("SELECT 1 AS one")
    out, err = tx.jobs_tool("cancel", cancelled, "alice", env=env)
    assert err is None, err
    gave_up = create("SELECT 2 AS two")
    sql1("UPDATE t2sql.export_jobs SET attempts = 3, error = 'earlier' WHERE id = %s", gave_up)
    exportd_factory(**env)
    failed = create("SELECT 1 / (g - 3) FROM generate_series(1, 5) g")
    for job, want in ((cancelled, "CANCELLED"), (gave_up, "FAILED"), (failed, "FAILED")):
        st = delivered(job, "webhook", "sqs")
        assert st["status"] == want, st
        [(h, m)] = hook.accepted(job)
        assert_message(m, st)
        assert queue.of(job) == [m]
        assert m["error"]
    assert "division by zero" in status(failed)["error"]
    assert status(gave_up)["error"].startswith("gave up after 3 attempts")
    assert status(cancelled)["error"] == "cancelled"


def test_no_targets_no_rows(exportd_factory):
    """Without targets nothing is queued, and the status document says so ({})."""
    exportd_factory()
    job = create("SELECT 1 AS one")
    st = wait_status(job, {"SUCCESS", "FAILED"})
    assert st["status"] == "SUCCESS" and st["notifications"] == {}
    assert sql1("SELECT count(*) FROM t2sql.export_notify WHERE job_id = %s", job)[0] == 0


def test_download_url_when_allowed(exportd_factory, queue, tmp_path):
    """export_notify_download_url: SUCCESS messages carry the presigned URL, which works."""
    exportd_factory(**notify_env(queue=queue, T2SQL_EXPORT_NOTIFY_DOWNLOAD_URL="true"))
    job = create("SELECT 7 AS seven")
    delivered(job, "sqs")
    [m] = queue.of(job)
    assert m["expires_in"] == 3600
    r = requests.get(m["download_url"], timeout=30)
    assert r.status_code == 200 and r.content == b"seven\n7\n"


def test_webhook_retries_with_backoff(exportd_factory, hook, tmp_path):
    """Two 5xx answers, then 200: delivered on the third attempt, each after a longer wait
    (200 ms, then 400 ms at least); the secret from a _FILE."""
    secret_file = tmp_path / "hook.secret"
    secret_file.write_text(HOOK_SECRET + "\n")
    hook.plan = [500, 503]
    env = notify_env(hook)
    del env["T2SQL_EXPORT_NOTIFY_SECRET"]
    exportd_factory(T2SQL_EXPORT_NOTIFY_SECRET_FILE=str(secret_file), **env)
    job = create("SELECT 1 AS one")
    st = delivered(job, "webhook")
    n = st["notifications"]["webhook"]
    assert n["attempts"] == 3 and n["last_error"] is None
    tries = hook.attempts(job)
    assert [c for _, c in tries] == [500, 503, 200]
    assert tries[1][0] - tries[0][0] >= 0.19 and tries[2][0] - tries[1][0] >= 0.39
    [(h, m)] = hook.accepted(job)
    [raw] = [b for _, _, b, c in hook.got if c == 200 and json.loads(b)["job_id"] == job]
    assert_signed(h, raw)  # the secret as the file has it, without its newline


def test_webhook_down_for_a_while(exportd_factory, hook):
    """Connections refused for a while: the row stays PENDING with the reason, and is
    delivered once the receiver is back."""
    hook.down()
    d = exportd_factory(**notify_env(hook))
    job = create("SELECT 1 AS one")
    wait_status(job, {"SUCCESS"})

    def failing():
        n = status(job)["notifications"].get("webhook", {})
        return n if n.get("attempts", 0) >= 3 else None
    n = wait_for(failing, timeout=60, what="three failed attempts")
    assert n["state"] == "PENDING" and n["next_attempt_at"]
    assert "onnect" in n["last_error"]  # curl's "Couldn't connect to server"
    hook.up()
    st = delivered(job, "webhook")
    assert st["notifications"]["webhook"]["attempts"] >= 4
    assert len(hook.accepted(job)) == 1
    assert re.search(rf"job {job}: webhook notification failed \(attempt 1\)", d.text())


def test_exportd_killed_before_delivery(exportd_factory, hook, queue):
    """The job finished, its notifications not yet delivered (the webhook answers 503, the
    queue's URL is wrong), exportd killed -9: the next exportd delivers each exactly once."""
    hook.plan = [503] * 1000
    d = exportd_factory(**notify_env(hook, queue,
                                     T2SQL_EXPORT_NOTIFY_SQS_URL=queue.url + "-missing"))
    job = create("SELECT 1 AS one")
    wait_status(job, {"SUCCESS"})
    wait_for(lambda: all(status(job)["notifications"].get(t, {}).get("attempts", 0) >= 1
                         for t in ("webhook", "sqs")), timeout=60, what="first attempts")
    assert "NonExistentQueue" in status(job)["notifications"]["sqs"]["last_error"]
    d.stop(signal.SIGKILL)
    assert hook.accepted(job) == [] and queue.of(job) == []
    hook.plan = []
    exportd_factory(**notify_env(hook, queue))
    delivered(job, "webhook", "sqs")
    # a later job's notifications, sent by the same process after it, are the barrier
    later = create("SELECT 2 AS two")
    delivered(later, "webhook", "sqs")
    assert len(hook.accepted(job)) == 1 and len(queue.of(job)) == 1


def test_wrong_aws_secret_refused_by_proxy(exportd_factory, queue):
    """SQS requests signed with a wrong secret are refused (SignatureDoesNotMatch) and retried;
    with the right one the message arrives."""
    env = notify_env(queue=queue)
    job = create("SELECT 1 AS one")
    out, err = tx.jobs_tool("cancel", job, "alice", env=env)
    assert err is None, err
    d = exportd_factory(AWS_SECRET_ACCESS_KEY=tx.SECRET + "-wrong", **env)

    def refused():
        n = status(job)["notifications"]["sqs"]
        return n if n["attempts"] >= 2 else None
    n = wait_for(refused, timeout=60, what="refused attempts")
    assert n["state"] == "PENDING" and "403 SignatureDoesNotMatch" in n["last_error"], n
    assert tx.SECRET not in n["last_error"]
    d.stop(signal.SIGKILL)
    assert queue.of(job) == []
    assert tx.SECRET not in d.text()
    exportd_factory(**env)
    st = delivered(job, "sqs")
    [m] = queue.of(job)
    assert m["status"] == "CANCELLED" and m["job_id"] == job == st["job_id"]


def test_config_checks(export_db):
    base = dict(os.environ, **tx.BASE_ENV)
    for extra, msg in (({"T2SQL_EXPORT_NOTIFY_URL": "http://127.0.0.1:9/x"},
                        "export_notify_url needs export_notify_secret"),
                       ({"T2SQL_EXPORT_NOTIFY_SQS_URL": "sqs://queue"},
                        "must be http(s) URLs")):
        p = subprocess.run([tx.EXPORTD, "-t"], env=dict(base, **extra), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        assert p.returncode != 0 and msg in p.stdout, p.stdout
    ok = dict(base, T2SQL_EXPORT_NOTIFY_URL="http://127.0.0.1:9/x",
              T2SQL_EXPORT_NOTIFY_SECRET=HOOK_SECRET)
    p = subprocess.run([tx.EXPORTD, "-t"], env=ok, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    assert p.returncode == 0, p.stdout
    assert HOOK_SECRET not in p.stdout  # -t masks it
