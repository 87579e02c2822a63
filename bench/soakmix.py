#!/usr/bin/python3
"""soakmix.py -- sustained mixed load against a running t2sql, then a report.

    /usr/bin/python3 bench/soakmix.py --url http://127.0.0.1:38080 --llm http://127.0.0.1:38099 \
        --seconds 600 --conns 64 --pidfile var/bench/run/t2sql.pid --pidfile var/bench/run/exportd.pid

The --conns connections are shared among one wrk per route: a cached question (45%), a new
question each time (a model call through the scripted model; 10%), a streamed page of
--big-rows rows (10%), an NDJSON page (15%), GET /health (10%), bad requests that must get
their 4xx (malformed JSON, a wrong type, an unsafe statement from the model; 10%); beside them
an export is started every second and polled to its end. The scripted model's rules are
replaced for the run. Latencies are wrk's, over the whole run (warm-up included).

Reported: requests and 5xx per route, p50/p99 per route, the exports' final states, and for
each process under the pid files (and their children) RSS and open descriptors after the
warm-up (--warmup seconds) and at the end. The last line is
"soak: PASS" or "soak: FAIL (<reasons>)": any unexpected status (5xx, or a bad request that
was not refused), an export that did not succeed, or RSS/descriptors growing by more than
--max-growth (5%) plus --slack-kib between the two samples. Exit status 0 on PASS.
"""

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

CACHED_Q = "soak: the event number 42"
CACHED_SQL = "SELECT event_id, name, category, event_date FROM events WHERE event_id = 42"
NEW_SQL = "SELECT venue_id, name, city FROM venues ORDER BY venue_id LIMIT 5"
BIG_SQL = "SELECT * FROM ticket_sales ORDER BY sale_id LIMIT %d"
ND_SQL = "SELECT sale_id, customer_id, quantity FROM ticket_sales ORDER BY sale_id LIMIT 1000"
EXPORT_SQL = "SELECT sale_id, sale_date, quantity FROM ticket_sales ORDER BY sale_id LIMIT 20000"
UNSAFE_SQL = "DELETE FROM customers"


class Conn:
    """One kept-alive connection (for the export poller); reconnects after an error."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.c = None

    def request(self, method, path, body=None):
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                h = {"Content-Type": "application/json"} if body is not None else {}
                self.c.request(method, path, body=body, headers=h)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    return 0, b""
        return 0, b""

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None


# One wrk per route, each with its share of the connections. The Lua script counts statuses
# per thread (5xx and "unexpected": not 2xx for good requests, not 4xx for bad ones) and
# prints them from done(), with the latency percentiles.
LUA = r"""
local bodies = {%(bodies)s}
local accept = "%(accept)s"
local method = "%(method)s"
local expect4xx = %(expect4xx)s
local unique = %(unique)s
local threads = {}
local n = 0
local tid = 0
function setup(thread)
  tid = tid + 1
  thread:set("id", tid)
  table.insert(threads, thread)
end
function init(args)
  counts = {}
  unexpected = 0
  five = 0
end
function request()
  n = n + 1
  local h = {}
  if method == "POST" then h["Content-Type"] = "application/json" end
  if accept ~= "" then h["Accept"] = accept end
  local b = bodies[(n %% #bodies) + 1]
  if unique then b = string.format(b, id, n, math.random(1000000)) end
  if method == "GET" then b = nil end
  return wrk.format(method, nil, h, b)
end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status >= 500 then five = five + 1 end
  if expect4xx then
    if status < 400 or status >= 500 then unexpected = unexpected + 1 end
  elseif status ~= 200 then
    unexpected = unexpected + 1
  end
end
function done(summary, latency, requests)
  local all = {}
  local u, f = 0, 0
  for _, t in ipairs(threads) do
    u = u + t:get("unexpected")
    f = f + t:get("five")
    local c = t:get("counts")
    for k, v in pairs(c) do all[k] = (all[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(all) do table.insert(parts, string.format('"%%d": %%d', k, v)) end
  io.write(string.format('SOAKJSON {"requests": %%d, "errors": %%d, "five": %%d, ' ..
    '"unexpected": %%d, "p50_ms": %%.2f, "p99_ms": %%.2f, "statuses": {%%s}}\n',
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, f, u, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    table.concat(parts, ", ")))
end
"""


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def routes(big_rows):
    """name -> (method, path, [bodies], accept, expect4xx, unique)"""
    q = lambda text, **kw: json.dumps(dict({"question": text}, **kw))
    return {
        "cached": ("POST", "/query", [q(CACHED_Q, stream=False)], "", False, False),
        "new": ("POST", "/query", [q("soak new question %d-%d-%d", stream=False)], "", False,
                True),
        "stream": ("POST", "/query", [q("soak big page", stream=True, page_size=big_rows,
                                        count="none")], "", False, False),
        "ndjson": ("POST", "/query", [q("soak ndjson page", page_size=1000)],
                   "application/x-ndjson", False, False),
        "health": ("GET", "/health", [""], "", False, False),
        "bad": ("POST", "/query", ['{"question": "soak", ',
                                   '{"question": "soak", "page_size": [1]}',
                                   q("soak unsafe statement")], "", True, False),
    }


def start_wrk(url, name, spec, conns, seconds, tmp):
    method, path, bodies, accept, bad, unique = spec
    script = os.path.join(tmp, name + ".lua")
    with open(script, "w") as f:
        f.write(LUA % {"bodies": ", ".join(lua_str(b) for b in bodies), "accept": accept,
                       "method": method, "expect4xx": "true" if bad else "false",
                       "unique": "true" if unique else "false"})
    threads = max(1, min(2, conns))
    return subprocess.Popen(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % int(seconds),
                             "--timeout", "60s", "--latency", "-s", script, url + path],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def exporter(base, stop, ids):
    """Starts an export every second or so until stop is set."""
    c = Conn(base)
    while not stop.is_set():
        s, data = c.request("POST", "/export/start", json.dumps({"question": "soak export"}))
        try:
            ids.append(json.loads(data)["job_id"] if s == 200 else "!HTTP %d" % s)
        except (ValueError, KeyError):
            ids.append("!bad answer")
        stop.wait(1.0)


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def sample(pidfiles):
    """{label: (pid, rss_kib, fds)} for each pid file's process and its children."""
    out = {}
    for pf in pidfiles:
        try:
            pid = int(open(pf).read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        name = os.path.basename(pf).rsplit(".", 1)[0]
        for i, p in enumerate([pid] + sorted(children(pid))):
            label = name if i == 0 else "%s worker %d" % (name, i)
            try:
                rss = 0
                for line in open("/proc/%d/status" % p):
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
                fds = len(os.listdir("/proc/%d/fd" % p))
            except OSError:
                continue
            out[label] = (p, rss, fds)
    return out


def set_rules(llm, big_rows):
    rules = [
        {"match": "soak: the event", "reply": "<sql>%s</sql>" % CACHED_SQL},
        {"match": "soak new question", "reply": "<sql>%s</sql>" % NEW_SQL},
        {"match": "soak big page", "reply": "<sql>%s</sql>" % (BIG_SQL % big_rows)},
        {"match": "soak ndjson page", "reply": "<sql>%s</sql>" % ND_SQL},
        {"match": "soak export", "reply": "<sql>%s</sql>" % EXPORT_SQL},
        {"match": "soak unsafe", "reply": "<sql>%s</sql>" % UNSAFE_SQL},
    ]
    u = urllib.parse.urlsplit(llm)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("POST", "/_rules", json.dumps({"rules": rules}), {"Content-Type": "application/json"})
    assert c.getresponse().status == 200, "the scripted model refused the rules"
    c.close()


def wait_exports(base, ids, limit_s):
    c, states, end = Conn(base), {}, time.time() + limit_s
    pending = list(ids)
    while pending and time.time() < end:
        left = []
        for j in pending:
            s, data = c.request("GET", "/export/status/%s" % j)
            st = "HTTP %d" % s
            if s == 200:
                st = json.loads(data).get("status", "?")
            if st in ("PENDING", "IN_PROGRESS"):
                left.append(j)
            else:
                states[st] = states.get(st, 0) + 1
        pending = left
        if pending:
            time.sleep(0.5)
    if pending:
        states["unfinished"] = len(pending)
    c.close()
    return states


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--llm", required=True)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--warmup", type=float, default=None, help="default: 10%% of --seconds")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--big-rows", type=int, default=100000)
    ap.add_argument("--pidfile", action="append", default=[])
    ap.add_argument("--max-growth", type=float, default=0.05)
    ap.add_argument("--slack-kib", type=int, default=1024, help="RSS noise allowed on top")
    ap.add_argument("--no-flat-check", action="store_true",
                    help="report RSS and descriptors without judging them (sanitizer builds)")
    ap.add_argument("--json", help="also write the report here")
    a = ap.parse_args(argv)
    warm = a.warmup if a.warmup is not None else a.seconds * 0.1
    share = {"cached": 0.45, "new": 0.1, "stream": 0.05, "ndjson": 0.15, "health": 0.15,
             "bad": 0.1}
    conns = {k: max(1, int(round(a.conns * v))) for k, v in share.items()}
    set_rules(a.llm, a.big_rows)
    tmp = tempfile.mkdtemp(prefix="t2sql-soak.")
    start = sample(a.pidfile)
    total_s = warm + a.seconds
    procs = {k: start_wrk(a.url, k, spec, conns[k], total_s, tmp)
             for k, spec in routes(a.big_rows).items()}
    stop, ids = threading.Event(), []
    ex = threading.Thread(target=exporter, args=(a.url, stop, ids), daemon=True)
    ex.start()
    time.sleep(warm)
    warm_sample = sample(a.pidfile)
    results = {}
    for k, p in procs.items():
        out, _ = p.communicate(timeout=total_s + 120)
        line = [ln for ln in out.splitlines() if ln.startswith("SOAKJSON ")]
        results[k] = json.loads(line[-1][9:]) if line else {"failed": out[-500:]}
    stop.set()
    ex.join()
    exports = wait_exports(a.url, [j for j in ids if not j.startswith("!")], 120)
    for j in ids:
        if j.startswith("!"):
            exports[j[1:]] = exports.get(j[1:], 0) + 1
    time.sleep(1)
    end = sample(a.pidfile)

    fails = []
    total = sum(r.get("requests", 0) for r in results.values())
    print("soak: %d requests in %.0f s (%.0f s warm-up included; %.0f req/s), %d connections "
          "(%s)" % (total, total_s, warm, total / total_s, sum(conns.values()),
                    ", ".join("%s %d" % kv for kv in conns.items())))
    n5xx = 0
    for k in routes(a.big_rows):
        r = results[k]
        if "failed" in r:
            fails.append("wrk for %s failed: %s" % (k, r["failed"]))
            continue
        n5xx += r["five"] + r["errors"]
        if r["unexpected"] or r["errors"]:
            fails.append("%s: %d unexpected statuses, %d socket errors (%s)" % (
                k, r["unexpected"], r["errors"], r["statuses"]))
        print("soak:   %-7s %8d requests, statuses %s, p50 %.1f ms, p99 %.1f ms" % (
            k, r["requests"], json.dumps(r["statuses"], sort_keys=True), r["p50_ms"],
            r["p99_ms"]))
    print("soak: 5xx or socket errors: %d" % n5xx)
    print("soak: exports %s" % json.dumps(exports, sort_keys=True))
    if not exports or any(k != "SUCCESS" for k in exports):
        fails.append("exports not all SUCCESS: %s" % exports)
    print("soak: %-22s %8s %10s %10s %10s %5s %5s %5s" % ("process", "pid", "rss start",
                                                          "rss warm", "rss end", "fd s",
                                                          "fd w", "fd e"))
    for label in sorted(set(warm_sample) | set(end)):
        s, w, e = start.get(label), warm_sample.get(label), end.get(label)
        fmt = lambda x, i: ("%d" % x[i]) if x else "-"
        print("soak: %-22s %8s %9sK %9sK %9sK %5s %5s %5s" % (
            label, fmt(e or w, 0), fmt(s, 1), fmt(w, 1), fmt(e, 1), fmt(s, 2), fmt(w, 2),
            fmt(e, 2)))
        if a.no_flat_check:
            continue
        if not w or not e:
            fails.append("%s: not running at both samples" % label)
        elif w[0] != e[0]:
            fails.append("%s: restarted during the run (pid %d -> %d)" % (label, w[0], e[0]))
        else:
            if e[1] > w[1] * (1 + a.max_growth) + a.slack_kib:
                fails.append("%s: RSS grew %d -> %d KiB" % (label, w[1], e[1]))
            if e[2] > w[2] * (1 + a.max_growth) + 1:
                fails.append("%s: descriptors grew %d -> %d" % (label, w[2], e[2]))
    report = {"requests": total, "seconds": total_s, "routes": results, "exports": exports,
              "processes": {"start": start, "warm": warm_sample, "end": end}, "fails": fails}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1, default=str)
    shutil.rmtree(tmp, ignore_errors=True)
    print("soak: PASS" if not fails else "soak: FAIL (%s)" % "; ".join(fails))
    return 0 if not fails else 1


if __name__ == "__main__":
    sys.exit(main())
