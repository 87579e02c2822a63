"""test_hosts -- several hosts: two complete t2sql instances ("hosts" A and B: t2sql-fcgi and
exportd each, one process group each, scripts/stack.sh host) on the test stack's PostgreSQL
and Redis, behind one nginx upstream (nginx/t2sql.conf.in over both FastCGI sockets, port
18076 + offset). Under load -- client threads asking questions, export jobs running on both
-- host A's whole process group gets SIGKILL. Then:
  - only requests in flight at the kill may fail; every request started after it succeeds
    (nginx skips the dead host: its socket refuses connections);
  - every export finishes, exactly once: the jobs A was running are claimed again by B once
    their lease expires (5 s here), each ends SUCCESS with all its rows, on B, in its second
    attempt, and its object in S3 is the size the job recorded;
  - nothing is lost: every job the service accepted ends SUCCESS.
The stack's own exportd is paused (SIGSTOP to its process group) meanwhile, so that A and B
are the only ones taking jobs. `pytest -s` prints the figures (docs/scaling.md)."""
import os
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import PG, PORT_OFFSET, ROOT, assert_ok, env

LB_PORT = 18076 + PORT_OFFSET
# the load outnumbers one host's two query workers once A is gone: B's waiting requests may
# wait for a worker as long as they need (this test is about failover, not overload)
HOST_ENV = ["T2SQL_WORKERS=2", "T2SQL_EXPORT_CONCURRENCY=2", "T2SQL_EXPORT_LEASE_S=5",
            "T2SQL_QUEUE_TIMEOUT_MS=60000"]
FAST_SQL = "SELECT event_id, name FROM events WHERE event_id = %d"
# ~0.2-0.5 s: so that requests are in flight on A when it dies
SLOW_SQL = "SELECT count(*) AS n FROM generate_series(1, 1500) a, generate_series(1, %d) b"
EXPORT_ROWS = 400000
EXPORT_SQL = "SELECT g AS n, md5(g::text) AS h, %d AS job FROM generate_series(1, %d) g"
N_JOBS = 6
CLIENTS = 8


def stack(*args, check=True):
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "stack.sh")] + list(args), cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert not check or p.returncode == 0, "stack.sh %s: %s" % (" ".join(args), p.stderr[-2000:])
    return p.stdout


def group_pids(pgid):
    """Every live process in process group pgid (from /proc)."""
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.add(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def worker_pid(worker):
    """exportd's worker column is host:pid:slot."""
    m = re.match(r".*:(\d+):\d+$", worker or "")
    return int(m.group(1)) if m else None


@pytest.fixture
def pg():
    """A connection of this test's own (the session's may predate a database restart)."""
    p = PG()
    yield p
    p.close()


@pytest.fixture
def two_hosts(pg):
    sock = os.path.join(env("T2SQL_TEST_SHARED_VAR"), "run")
    with open(os.path.join(env("T2SQL_TEST_VAR"), "run", "exportd.pid")) as f:
        main_exportd = int(f.read())
    os.killpg(main_exportd, signal.SIGSTOP)
    try:
        a = int(stack("host", "hosta", *HOST_ENV).split()[-1])
        b = int(stack("host", "hostb", *HOST_ENV).split()[-1])
        stack("nginx", "lb", str(LB_PORT), "nginx/t2sql.conf.in",
              "unix:%s/hosta.sock" % sock, "unix:%s/hostb.sock" % sock)
        url = "http://127.0.0.1:%d" % LB_PORT
        end = time.time() + 30
        while len(group_pids(a)) < 6 or len(group_pids(b)) < 6:  # masters, workers, leader
            assert time.time() < end, "hosts not up: %s %s" % (group_pids(a), group_pids(b))
            time.sleep(0.1)
        yield url, a, b
    finally:
        stack("nginx-stop", "lb", check=False)
        stack("host-stop", "hosta", check=False)
        stack("host-stop", "hostb", check=False)
        os.killpg(main_exportd, signal.SIGCONT)


class Load(threading.Thread):
    """One client asking questions in a loop; records (start, end, ok, what)."""

    def __init__(self, url, n, stop):
        super().__init__(daemon=True)
        self.url, self.n, self.stop, self.log = url, n, stop, []
        self.s = requests.Session()

    def run(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            q = ("hosts load slow %d" % (i % 3)) if self.n % 2 else ("hosts load fast %d" % (i % 5))
            t0 = time.monotonic()
            try:
                r = self.s.post(self.url + "/query", json={"question": q, "stream": False},
                                timeout=30)
                ok = r.status_code == 200 and "rows" in r.json()
                what = "%d %s" % (r.status_code, r.text[:120])
            except (requests.RequestException, ValueError) as e:
                ok, what = False, repr(e)[:160]
            self.log.append((t0, time.monotonic(), ok, what))


def test_kill_one_host_under_load(two_hosts, pg, fakellm):
    url, pg_a, pg_b = two_hosts
    rules = [{"match": "hosts load slow %d" % k, "reply": "<sql>%s</sql>" % (SLOW_SQL % (1000 + k))}
             for k in range(3)]
    rules += [{"match": "hosts load fast %d" % k, "reply": "<sql>%s</sql>" % (FAST_SQL % (k + 1))}
              for k in range(5)]
    rules += [{"match": "hosts export %d" % k, "reply": "<sql>%s</sql>" % (EXPORT_SQL % (k, EXPORT_ROWS))}
              for k in range(N_JOBS)]
    fakellm.rules(rules)
    for k in range(3):  # the questions are in the cache: the load measures the hosts
        assert_ok(requests.post(url + "/query", json={"question": "hosts load slow %d" % k,
                                                       "stream": False}, timeout=30))
    stop = threading.Event()
    load = [Load(url, n, stop) for n in range(CLIENTS)]
    for t in load:
        t.start()
    time.sleep(1.0)
    jobs = []
    for k in range(N_JOBS):
        r = requests.post(url + "/export/start", json={"question": "hosts export %d" % k},
                          timeout=30)
        jobs.append(assert_ok(r)["job_id"])
    # wait until both hosts are running exports, then kill A's whole group
    a_pids, deadline = group_pids(pg_a), time.time() + 20
    while True:
        running = pg.run("SELECT id::text, worker FROM t2sql.export_jobs WHERE id = ANY(%s::uuid[])"
                         " AND status = 'IN_PROGRESS'", (jobs,))[2]
        on_a = {j for j, w in running if worker_pid(w) in a_pids}
        if on_a and len(on_a) < len(running):
            break
        assert time.time() < deadline, "exports never ran on both hosts: %s" % running
        time.sleep(0.05)
    a_pids = group_pids(pg_a)
    t_kill = time.monotonic()
    os.killpg(pg_a, signal.SIGKILL)
    # SIGKILL takes effect asynchronously: until the last of A's processes is gone, a request
    # nginx hands to A is in flight on it
    while group_pids(pg_a) and time.monotonic() < t_kill + 5:
        time.sleep(0.001)
    t_dead = time.monotonic()
    time.sleep(4.0)
    stop.set()
    for t in load:
        t.join(60)
    b_pids = group_pids(pg_b)
    assert not group_pids(pg_a), "host A survived SIGKILL"

    # requests: failures only among those in flight at the kill
    log = [e for t in load for e in t.log]
    failed = [e for e in log if not e[2]]
    in_flight = [e for e in log if e[0] < t_dead and e[1] > t_kill]
    after = [e for e in log if e[0] > t_dead]
    assert all(e[0] < t_dead and e[1] >= t_kill for e in failed), \
        "failures not in flight at the kill: %s" % [
            e for e in failed if not (e[0] < t_dead and e[1] >= t_kill)]
    assert len(failed) <= len(in_flight)
    assert len(after) > 20 and all(e[2] for e in after), [e for e in after if not e[2]][:5]

    # exports: every job SUCCESS, exactly once, the ones A ran finished by B
    end = time.time() + 120
    while True:
        rows = pg.run("SELECT id::text, status, attempts, worker, rows_written, bytes, error,"
                      " finished_at - created_at FROM t2sql.export_jobs"
                      " WHERE id = ANY(%s::uuid[])", (jobs,))[2]
        if all(r[1] in ("SUCCESS", "FAILED", "CANCELLED") for r in rows):
            break
        assert time.time() < end, "exports not finished 120 s after the kill: %s" % rows
        time.sleep(0.25)
    assert len(rows) == N_JOBS
    for jid, status, attempts, worker, nrows, nbytes, error, took in rows:
        assert status == "SUCCESS", (jid, status, error)
        assert int(nrows) == EXPORT_ROWS, (jid, nrows)
        if jid in on_a:
            assert worker_pid(worker) in b_pids, "job %s finished by %s, not host B" % (jid, worker)
            assert int(attempts) == 2, (jid, attempts)
        st = assert_ok(requests.get(url + "/export/status/" + jid, timeout=10))
        assert st["status"] == "SUCCESS" and st["row_count"] == EXPORT_ROWS
        # a GET (the URL is presigned for GET: S3 refuses a HEAD with it), headers only
        with requests.get(st["download_url"], timeout=30, stream=True) as head:
            assert head.status_code == 200 and \
                int(head.headers["Content-Length"]) == int(nbytes), \
                (jid, head.status_code, head.headers, nbytes)
    took_a = max(float(str(r[7]).split(":")[-1]) + 60 * int(str(r[7]).split(":")[-2])
                 for r in rows if r[0] in on_a)
    rate = len(log) / (log[-1][1] - log[0][0]) if log else 0
    print("\nhosts: %d requests from %d clients (%.0f/s), %d in flight on both hosts at the "
          "kill, %d failed; %d after the kill, all served by host B" % (
              len(log), CLIENTS, rate, len(in_flight), len(failed), len(after)))
    print("hosts: %d exports, %d of them running on A at the kill: all SUCCESS, A's finished on "
          "B in their 2nd attempt, the slowest %.1f s after it was created (lease 5 s)" % (
              N_JOBS, len(on_a), took_a))
