"""Resilience: worker crashes, dependencies down, concurrency."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import assert_error, assert_ok, assert_rows_match, log_tail, post_query

# exactly two processes: no waiting ones, no health pool
WORKERS2 = ("workers2", 18089, {"T2SQL_WORKERS": "2", "T2SQL_QUEUE_WORKERS": "0",
                                "T2SQL_HEALTH_WORKERS": "0"})
DBDOWN = ("dbdown", 18086, {"T2SQL_DB_PORT": "1"})
REDISDOWN = ("redisdown", 18087, {"T2SQL_REDIS_PORT": "1"})


def start(instances, spec):
    name, port, env = spec
    return instances.start(name, port, **env)


def test_worker_killed_mid_request_is_respawned(instances, fakellm, uq):
    inst = start(instances, WORKERS2)
    kids0 = inst.children()
    assert len(kids0) == 2, "T2SQL_WORKERS=2 but the master has children %s" % kids0
    fakellm.rules({"match": uq + "-slow", "delay_ms": 3000, "reply": "<sql>SELECT 1 AS one</sql>"},
                  {"match": uq + "-fast", "reply": "<sql>SELECT 2 AS two</sql>"})
    results = {}

    def ask(tag):
        try:
            r = post_query(inst.url, {"question": "slow %s %s-slow" % (tag, uq), "stream": False},
                           timeout=30)
            results[tag] = r
        except requests.RequestException as e:  # connection dropped: acceptable for the victim
            results[tag] = e

    threads = [threading.Thread(target=ask, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    # both workers are now inside the model call (one request per worker)
    assert fakellm.wait_count(2, timeout=15), "the two slow requests did not reach the model"
    victim = sorted(kids0)[0]
    os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join(40)
    ok = [r for r in results.values() if isinstance(r, requests.Response) and r.status_code == 200]
    failed = [r for r in results.values() if r not in ok]
    assert len(ok) == 1 and len(failed) == 1, \
        "expected one success and one failure: %r" % {k: getattr(v, "status_code", v)
                                                      for k, v in results.items()}
    assert ok[0].json()["rows"] == [[1]]
    bad = failed[0]
    if isinstance(bad, requests.Response):
        assert bad.status_code >= 500, bad.status_code
        assert bad.headers.get("X-Request-Id") or bad.status_code == 502

    # the master replaces the dead worker
    end = time.time() + 10
    kids = inst.children()
    while time.time() < end:
        kids = inst.children()
        if len(kids) == 2 and victim not in kids:
            break
        time.sleep(0.1)
    assert victim not in kids and len(kids) == 2, \
        "workers after kill: %s (before %s)\n%s" % (kids, kids0, log_tail())
    assert inst.alive()

    # and the instance keeps serving
    for i in range(6):
        r = post_query(inst.url, {"question": "after crash %d %s-fast" % (i, uq), "stream": i % 2 == 0},
                       timeout=30)
        assert assert_ok(r)["rows"] == [[2]]


def test_idle_worker_killed_is_respawned(instances, fakellm, uq):
    inst = start(instances, WORKERS2)
    end = time.time() + 10
    while time.time() < end and len(inst.children()) != 2:
        time.sleep(0.1)
    kids0 = inst.children()
    assert len(kids0) == 2
    for pid in kids0:
        os.kill(pid, signal.SIGKILL)
    end = time.time() + 10
    while time.time() < end:
        kids = inst.children()
        if len(kids) == 2 and not (kids & kids0):
            break
        time.sleep(0.1)
    assert len(kids) == 2 and not (kids & kids0), (kids0, kids)
    fakellm.sql(uq, "SELECT 3 AS three")
    r = post_query(inst.url, {"question": "after killing all " + uq, "stream": False}, timeout=30)
    assert assert_ok(r)["rows"] == [[3]]


def test_database_down(instances, fakellm, uq):
    inst = start(instances, DBDOWN)
    fakellm.rules({"reply": "<sql>SELECT 1 AS one</sql>"})
    h = requests.get(inst.url + "/health", timeout=10)
    assert h.status_code == 200 and h.json() == {"ok": True}
    for stream in (False, True):
        t0 = time.time()
        r = post_query(inst.url, {"question": "db down %s %s" % (stream, uq), "stream": stream},
                       timeout=30)
        assert_error(r, 503, "db_unavailable")
        assert time.time() - t0 < 15
    r = post_query(inst.url, {"query_id": "q_" + "1" * 32, "stream": False}, timeout=30)
    assert_error(r, 503, "db_unavailable")
    rd = requests.get(inst.url + "/ready", timeout=30)
    assert rd.status_code == 503, rd.text
    body = rd.json()
    assert body["ok"] is False
    assert body["checks"]["db"] not in (True, "ok", "up"), body


def test_redis_down_still_answers(instances, fakellm, pg, uq):
    inst = start(instances, REDISDOWN)
    sql = "SELECT city, count(*) AS n FROM customers GROUP BY city ORDER BY city"
    fakellm.sql(uq, sql)
    q = "customers per city without redis " + uq
    for i in range(2):
        body = assert_ok(post_query(inst.url, {"question": q, "stream": bool(i)}, timeout=30))
        assert_rows_match(body, pg.run(sql))
        assert body["source"] == "llm", "no Redis, so no cache hit is possible"
    assert fakellm.count() == 2
    assert requests.get(inst.url + "/health", timeout=10).status_code == 200


def test_concurrent_requests(base_url, fakellm, pg, uq):
    n = 40
    rules = []
    for i in range(n):
        rules.append({"match": "[%s-%02d]" % (uq, i),
                      "reply": "<sql>SELECT %d AS n, count(*) AS c FROM customers WHERE customer_id %% 40 = %d</sql>"
                               % (i, i)})
    fakellm.rules(rules)
    want = {i: int(pg.scalar("SELECT count(*) FROM customers WHERE customer_id %% 40 = %s", (i,)))
            for i in range(n)}
    session_local = threading.local()

    def one(i):
        s = getattr(session_local, "s", None)
        if s is None:
            s = session_local.s = requests.Session()
        r = post_query(base_url, {"question": "concurrent [%s-%02d]" % (uq, i), "stream": i % 2 == 0},
                       timeout=60, session=s)
        return i, r

    with ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(one, range(n)))
    for i, r in results:
        body = assert_ok(r)
        assert body["columns"] == ["n", "c"]
        assert body["rows"] == [[i, want[i]]], (i, body["rows"])
    assert fakellm.count() == n
