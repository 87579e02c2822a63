"""The master's lifecycle under load: a graceful stop finishes the responses in flight, and a
reload (SIGHUP) serves new requests at once while a slow old one completes."""
import json
import os
import signal
import subprocess
import threading
import time
import uuid

import requests

PORT = 18066 + int(os.environ.get("T2SQL_TEST_PORT_OFFSET", "0") or 0)


def stack(env, *args):
    return subprocess.run([os.path.join(env["T2SQL_ROOT"], "scripts", "stack.sh")] + list(args),
                          capture_output=True, text=True, timeout=120, check=True).stdout


def start(env, **kv):
    out = stack(env, "instance", "life", str(PORT), *["%s=%s" % i for i in kv.items()])
    return int(out.strip().splitlines()[-1])


def slow_request(base, question, result):
    try:
        r = requests.post(base + "/query", json={"question": question}, timeout=30)
        result["status"] = r.status_code
        result["body"] = r.text
    except requests.RequestException as e:
        result["error"] = repr(e)


def test_graceful_stop_finishes_the_response_in_flight(stack_env, fakellm):
    base = "http://127.0.0.1:%d" % PORT
    master = start(stack_env, T2SQL_WORKERS=1)
    try:
        q = "slow while stopping " + uuid.uuid4().hex
        fakellm.rules({"match": q, "delay_ms": 1200,
                       "reply": "<sql>SELECT g FROM generate_series(1, 50000) g</sql>"})
        res = {}
        t = threading.Thread(target=slow_request, args=(base, q, res))
        t.start()
        time.sleep(0.4)  # the worker is now waiting on the model
        os.kill(master, signal.SIGTERM)
        t.join(30)
        assert res.get("status") == 200, res
        body = json.loads(res["body"])  # complete, valid JSON to the last byte
        assert len(body["rows"]) == 50 and body["pagination"]["total_rows"] == 50000
        end = time.time() + 10
        while time.time() < end and subprocess.run(["kill", "-0", str(master)]).returncode == 0:
            time.sleep(0.1)
        assert subprocess.run(["kill", "-0", str(master)]).returncode != 0, "master did not stop"
    finally:
        stack(stack_env, "instance-stop", "life")


def test_reload_serves_new_requests_while_old_ones_finish(stack_env, fakellm):
    base = "http://127.0.0.1:%d" % PORT
    # two processes exactly (no waiting ones, no health pool): the count below is theirs
    master = start(stack_env, T2SQL_WORKERS=2, T2SQL_QUEUE_WORKERS=0, T2SQL_HEALTH_WORKERS=0)
    try:
        q = "slow while reloading " + uuid.uuid4().hex
        fakellm.rules({"match": q, "delay_ms": 2000, "reply": "<sql>SELECT 1 AS one</sql>"})
        res = {}
        t = threading.Thread(target=slow_request, args=(base, q, res))
        t.start()
        time.sleep(0.4)
        before = set(subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                                    text=True).stdout.split())
        os.kill(master, signal.SIGHUP)
        time.sleep(0.3)
        t0 = time.time()
        for _ in range(5):  # answered by the new workers, not after the slow request
            assert requests.get(base + "/health", timeout=5).status_code == 200
        assert time.time() - t0 < 1.0
        t.join(30)
        assert res.get("status") == 200 and json.loads(res["body"])["rows"] == [[1]], res
        time.sleep(0.5)
        after = set(subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                                   text=True).stdout.split())
        assert len(after) == 2 and not (after & before), (before, after)
    finally:
        stack(stack_env, "instance-stop", "life")
