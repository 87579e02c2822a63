"""The real-browser harness: tests run a script of tests/browser/ (node + puppeteer-core,
driving Debian's headless Chromium) and assert on the JSON it prints. make deps installs
chromium (Debian) and puppeteer-core (npm, into var/npm); without them the tests fail saying
so. Screenshots go to var/test/screenshots/.

OriginServer is a second web origin for the CORS tests: an nginx of its own serving
tests/fixtures/origin/ on two loopback ports (18060 and 18061, shifted by the port offset;
no instance uses them)."""

import json
import os
import shutil
import signal
import subprocess
import time
from decimal import Decimal

import pytest

from conftest import PORT_OFFSET, ROOT, port_open

NODE_MODULES = os.path.join(ROOT, "var", "npm", "node_modules")
CHROMIUM = os.environ.get("T2SQL_CHROMIUM", "/usr/bin/chromium")
ORIGIN_PORTS = (18060 + PORT_OFFSET, 18061 + PORT_OFFSET)


def screenshot_dir():
    return os.path.join(os.environ.get("T2SQL_TEST_VAR", os.path.join(ROOT, "var", "test")),
                        "screenshots")


def run_browser(script, args, timeout=240):
    """Runs tests/browser/<script> with args (JSON) and returns the JSON it printed."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("%s is missing: make deps installs Debian's chromium" % CHROMIUM,
                    pytrace=False)
    if not os.path.isdir(os.path.join(NODE_MODULES, "puppeteer-core")):
        pytest.fail("puppeteer-core is not in var/npm: make deps installs it", pytrace=False)
    env = dict(os.environ, NODE_PATH=NODE_MODULES, PUPPETEER_SKIP_DOWNLOAD="1")
    p = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", script), json.dumps(args)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "%s failed (%d):\n%s" % (script, p.returncode, p.stderr[-4000:])
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    assert lines, "%s printed nothing; stderr:\n%s" % (script, p.stderr[-2000:])
    return json.loads(lines[-1], parse_float=Decimal)  # numbers as the page had them


class OriginServer:
    def __init__(self):
        base = os.environ.get("T2SQL_TEST_SHARED_VAR") or os.environ["T2SQL_TEST_VAR"]
        self.dir = os.path.join(base, "origin")  # where nginx's workers (nobody) can read
        self.urls = ["http://127.0.0.1:%d" % p for p in ORIGIN_PORTS]

    def start(self):
        self.stop()
        src = os.path.join(ROOT, "tests", "fixtures", "origin")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(os.path.join(self.dir, "tmp"))
        shutil.copytree(src, os.path.join(self.dir, "www"))
        for d, _, files in os.walk(self.dir):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        with open(os.path.join(src, "nginx.conf.in")) as f:
            conf = f.read()
        conf = (conf.replace("@DIR@", self.dir).replace("@PORT_ALLOWED@", str(ORIGIN_PORTS[0]))
                .replace("@PORT_OTHER@", str(ORIGIN_PORTS[1])))
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        for port in ORIGIN_PORTS:
            assert not port_open(port), "port %d is taken; cannot serve the second origin" % port
        p = subprocess.run(["nginx", "-c", path, "-p", self.dir, "-e", os.path.join(self.dir,
                           "error.log")], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, "the origin nginx did not start: %s" % p.stderr
        end = time.time() + 10
        while not all(port_open(p) for p in ORIGIN_PORTS) and time.time() < end:
            time.sleep(0.1)
        assert all(port_open(p) for p in ORIGIN_PORTS), "the origin nginx does not answer"
        return self

    def stop(self):
        pidfile = os.path.join(self.dir, "nginx.pid")
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGQUIT)
        except OSError:
            return
        end = time.time() + 10
        while time.time() < end:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
