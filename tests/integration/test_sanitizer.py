"""test_sanitizer -- the soak's mix, briefly, on binaries built with AddressSanitizer,
LeakSanitizer and UndefinedBehaviorSanitizer (make SAN=address,undefined: bin-san/).

One host of its own (scripts/stack.sh host: t2sql-fcgi with 2 workers and exportd, on the test
stack's PostgreSQL, Redis and S3) behind an nginx (port 18067 + offset) gets bench/soakmix.py's
mix for a short while: cached and new questions, streamed and NDJSON pages, /health, bad
requests, exports. The stack's own exportd is paused meanwhile, so the sanitized exportd runs
the exports. Then the host is stopped with SIGTERM: every worker and master exits, and the
leak check runs in each (the master's children run it before _exit()). Passes when the mix
saw no 5xx and every export succeeded, and no sanitizer wrote a report."""
import glob
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import PORT_OFFSET, ROOT, env

PORT = 18067 + PORT_OFFSET
SECONDS = int(os.environ.get("T2SQL_SAN_SECONDS", "20"))


def stack(*args, extra_env=None, check=True):
    e = dict(os.environ)
    e.update(extra_env or {})
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "stack.sh")] + list(args),
                       cwd=ROOT, capture_output=True, text=True, timeout=120, env=e)
    assert not check or p.returncode == 0, "stack.sh %s: %s" % (" ".join(args), p.stderr[-2000:])
    return p.stdout


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def san_bin():
    """bin-san/, built (incrementally) the way the Makefile documents."""
    p = subprocess.run(["make", "-s", "-j2", "SAN=address,undefined", "bin-san/t2sql-fcgi",
                        "bin-san/exportd"], cwd=ROOT, capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, "sanitizer build failed:\n" + (p.stdout + p.stderr)[-3000:]
    return os.path.join(ROOT, "bin-san")


def test_mix_under_sanitizers(san_bin, fakellm):
    var = env("T2SQL_TEST_VAR")
    reports = os.path.join(var, "log", "san")
    shutil.rmtree(reports, ignore_errors=True)
    os.makedirs(reports)
    opts = {
        "ASAN_OPTIONS": "detect_leaks=1:log_path=%s/asan:abort_on_error=0" % reports,
        "LSAN_OPTIONS": "log_path=%s/lsan" % reports,
        "UBSAN_OPTIONS": "print_stacktrace=1:log_path=%s/ubsan" % reports,
    }
    host_env = ["T2SQL_WORKERS=2", "T2SQL_EXPORT_CONCURRENCY=2", "T2SQL_MAX_PAGE_SIZE=5000",
                # the mix tests leaks, not overload: sanitized workers are slow, let them queue
                "T2SQL_QUEUE_TIMEOUT_MS=60000"]
    host_env += ["%s=%s" % kv for kv in opts.items()]
    sock = os.path.join(env("T2SQL_TEST_SHARED_VAR"), "run", "san.sock")
    with open(os.path.join(var, "run", "exportd.pid")) as f:
        main_exportd = int(f.read())
    os.killpg(main_exportd, signal.SIGSTOP)
    out = None
    try:
        stack("host", "san", *host_env, extra_env={"T2SQL_BIN_DIR": san_bin})
        stack("nginx", "san", str(PORT), "nginx/t2sql.conf.in", "unix:" + sock)
        pidfiles = [os.path.join(var, "run", "san.pid"), os.path.join(var, "run", "exportd-san.pid")]
        p = subprocess.run(
            ["/usr/bin/python3", os.path.join(ROOT, "bench", "soakmix.py"),
             "--url", "http://127.0.0.1:%d" % PORT, "--llm", fakellm.url,
             "--seconds", str(SECONDS), "--warmup", "3", "--conns", "8", "--big-rows", "5000",
             "--no-flat-check"] + sum([["--pidfile", f] for f in pidfiles], []),
            capture_output=True, text=True, timeout=SECONDS + 300)
        out = p.stdout + p.stderr
        pids = []
        for f in pidfiles:
            with open(f) as fh:
                pids.append(int(fh.read()))
    finally:
        stack("nginx-stop", "san", check=False)
        stack("host-stop", "san", check=False)
        os.killpg(main_exportd, signal.SIGCONT)
    end = time.time() + 30
    while any(pid_alive(x) for x in pids) and time.time() < end:
        time.sleep(0.2)
    assert not any(pid_alive(x) for x in pids), "the sanitized host did not stop"
    found = []
    for f in sorted(glob.glob(os.path.join(reports, "*"))):
        with open(f, errors="replace") as fh:
            text = fh.read()
        if text.strip():
            found.append("%s:\n%s" % (os.path.basename(f), text[:3000]))
    assert not found, "sanitizer reports:\n" + "\n".join(found[:3])
    assert p.returncode == 0, "the mix failed under the sanitizers:\n" + out[-3000:]
    assert "soak: PASS" in out, out[-3000:]
    # the mix really ran: every route answered
    for route in ("cached", "new", "stream", "ndjson", "health", "bad"):
        assert ("soak:   %s" % route) in out, out[-3000:]
    assert '"SUCCESS"' in out, out[-3000:]
