#!/usr/bin/env bash
# busy.sh -- a service responsive when busy (issue 10): its own instance (2 query workers,
# 2 waiting, queue_timeout_ms 1000, the guard off so that the scripted model's pg_sleep runs)
# on port 38076 (+ T2SQL_PORT_OFFSET), stopped at the end. Measures, in one run:
#   /health and /ready p99 over N requests each with both query workers pinned by 10 s
#   pg_sleep queries, against /health p99 on the same instance idle (target: busy p99 under
#   50 ms, or under 3x the idle p99 when the idle p99 itself is above 17 ms: a loaded machine);
#   the time a third query takes to be refused with 503 overloaded, against queue_timeout_ms
#   (target 1.0 to 1.5).
#   N=200 bench/busy.sh     (the bench stack must be running)
. "$(dirname "$0")/lib.bash"
need_stack busy.sh
N=${N:-200}
bench_instance busy 38076
RUN=$$-$(date +%s)

$STACK instance $NAME "$PORT" T2SQL_WORKERS=2 T2SQL_QUEUE_WORKERS=2 T2SQL_QUEUE_TIMEOUT_MS=1000 \
    T2SQL_GUARD_ENABLED=false T2SQL_STATEMENT_TIMEOUT_MS=60000 >/dev/null

URL=$URL LLM=$LLM RUN=$RUN N=$N /usr/bin/python3 - <<'PY'
import json, os, sys, threading, time, urllib.request, urllib.error

URL, LLM, RUN, N = os.environ["URL"], os.environ["LLM"], os.environ["RUN"], int(os.environ["N"])

def post(url, body, timeout=120):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()

def get(path):
    with urllib.request.urlopen(URL + path, timeout=30) as r:
        return r.read().decode()

def p99(path):
    xs = []
    for _ in range(N):
        t0 = time.perf_counter()
        get(path)
        xs.append(time.perf_counter() - t0)
    xs.sort()
    return xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]

def busy():
    for ln in get("/metrics").splitlines():
        if ln.startswith("t2sql_workers_busy "):
            return float(ln.split()[1])
    return 0

post(LLM + "/_rules", {"rules": [
    {"match": "busy bench %s sleep" % RUN, "reply": "<sql>SELECT pg_sleep(10) AS slept</sql>"},
    {"match": "busy bench %s third" % RUN, "reply": "<sql>SELECT 3 AS three</sql>"}]})
idle = p99("/health")
ts = [threading.Thread(target=post, args=(URL + "/query", {"question": "busy bench %s sleep %d" % (RUN, i),
                                                          "stream": False})) for i in range(2)]
for t in ts:
    t.start()
end = time.time() + 20
while busy() < 2 and time.time() < end:
    time.sleep(0.05)
if busy() < 2:
    sys.exit("busy.sh: the sleeping queries did not occupy both workers")
t_pin = time.time()
h, r = p99("/health"), p99("/ready")
t0 = time.perf_counter()
st, hdr, body = post(URL + "/query", {"question": "busy bench %s third" % RUN, "stream": False})
refused = time.perf_counter() - t0
still = busy()
pinned_for = time.time() - t_pin
for t in ts:
    t.join()
code = json.loads(body).get("code")
ok_pin = still == 2 and pinned_for < 10
bound = max(0.050, 3 * idle)
ok_h = h < bound and r < bound and ok_pin
ratio = refused / 1.0
ok_o = st == 503 and code == "overloaded" and hdr.get("Retry-After") and 1.0 <= ratio <= 1.5
print("busy: /health p99 %.1f ms, /ready p99 %.1f ms with both query workers pinned vs idle /health p99 %.1f ms, ratio %.1f (%d requests each; target < %.0f ms): %s" % (
    h * 1e3, r * 1e3, idle * 1e3, max(h, r) / idle, N, bound * 1e3, "PASS" if ok_h else "MISS"))
print("busy: a third query refused %d %s (Retry-After %s) after %.2f s, ratio %.2f to queue_timeout_ms 1000 (target 1.0-1.5): %s" % (
    st, code, hdr.get("Retry-After"), refused, ratio, "PASS" if ok_o else "MISS"))
sys.exit(0 if ok_h and ok_o else 1)
PY
