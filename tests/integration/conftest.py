"""Shared fixtures and helpers for the t2sql HTTP integration suite.

The stack (PostgreSQL, Redis, the fake model, nginx + t2sql-fcgi, S3, exportd) is started
by `make test`, which then runs pytest with these variables set:

    T2SQL_TEST_URL         the service through nginx, e.g. http://127.0.0.1:18080
    T2SQL_TEST_APACHE_URL  the same workers through Apache httpd, e.g. http://127.0.0.1:18078
    T2SQL_TEST_PG          libpq conninfo of the test server (superuser), dbname=t2sql
    T2SQL_TEST_LLM         the fake model (tests/fixtures/fakellm.py), e.g. http://127.0.0.1:18099
    T2SQL_TEST_REDIS_PORT  Redis port
    T2SQL_TEST_VAR         absolute path of var/test (logs in log/*.log)
    T2SQL_TEST_S3          the S3 stand-in: the verifying proxy (tests/fixtures/s3verify.py)
    T2SQL_TEST_S3_KEYS     the keys it accepts (s3_add_key adds to it); _DATA: s3rver's files
    T2SQL_ROOT             absolute project root

Nothing is skipped for a missing variable: every test then fails with a message saying so.

Order: tests must not depend on it. `--shuffle=SEED` runs them in a random order made from
SEED (printed in the header); without it the order is pytest's. Tests marked `after_all`
(the scan of every log for secrets) run once every other test has run and the session's
fixtures are torn down, whatever the order or the selection.
Tests that read the shared corpora (../shared/data beside the checkout) are skipped, saying
which file they need, when that directory is not there (a plain clone of the repository);
with it present nothing is skipped.
"""

import json
import math
import os
import random
import re
import socket
import subprocess
import threading
import time
import uuid
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extensions as pgext
import pytest
import requests

REQUIRED_ENV = ("T2SQL_TEST_URL", "T2SQL_TEST_PG", "T2SQL_TEST_LLM",
                "T2SQL_TEST_REDIS_PORT", "T2SQL_TEST_VAR", "T2SQL_ROOT")

LLM_KEY = "test-llm-key-123456"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("T2SQL_ROOT") or os.path.abspath(os.path.join(HERE, "..", ".."))
DATA = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))

# Ports the suite may give to extra instances (scripts/stack.sh instance NAME PORT ...).
# T2SQL_TEST_PORT_OFFSET shifts them all (two suites on one host).
INSTANCE_PORTS = range(18081, 18090)
PORT_OFFSET = int(os.environ.get("T2SQL_TEST_PORT_OFFSET", "0") or 0)

TIMEOUT = 60  # seconds for any single HTTP request to the service


# ---------------------------------------------------------------------------------------------
# Order: --shuffle SEED, and the after_all tests


def pytest_addoption(parser):
    parser.addoption("--shuffle", metavar="SEED", type=int, default=None,
                     help="run the tests in a random order made from SEED")


def pytest_configure(config):
    config.addinivalue_line("markers", "after_all: run after every other test (and after the "
                            "session's fixtures are torn down)")


def pytest_report_header(config):
    seed = config.getoption("--shuffle")
    return None if seed is None else "test order shuffled with --shuffle %d" % seed


_AFTER_ALL = []


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    seed = config.getoption("--shuffle")
    if seed is not None:
        random.Random(seed).shuffle(items)
    _AFTER_ALL[:] = [i for i in items if i.get_closest_marker("after_all")]
    items[:] = [i for i in items if not i.get_closest_marker("after_all")]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session):
    """Runs the after_all tests once the main loop is done, through the normal protocol (so
    they are reported, and counted in junit.xml, like any other test)."""
    yield
    for item in _AFTER_ALL:
        if session.shouldfail or session.shouldstop:
            break
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=None)


def shared_missing(*parts):
    """The skip reason when ../shared/data/<parts> is not beside the checkout, else None."""
    path = os.path.join(DATA, *parts)
    if os.path.exists(path):
        return None
    return "needs ../shared/data/%s, which is not beside this checkout" % "/".join(parts)


def need_shared(*parts):
    """The path of ../shared/data/<parts>; skips the calling test (saying why) without it."""
    why = shared_missing(*parts)
    if why:
        pytest.skip(why)
    return os.path.join(DATA, *parts)


def env(name):
    v = os.environ.get(name)
    if not v:
        pytest.fail("integration tests need the stack started by `make test`: %s is not set "
                    "(required: %s)" % (name, ", ".join(REQUIRED_ENV)), pytrace=False)
    return v


@pytest.fixture(scope="session", autouse=True)
def stack_env():
    """Fail loudly (never skip) when the stack's variables are missing."""
    missing = [k for k in REQUIRED_ENV if not os.environ.get(k)]
    if missing:
        pytest.fail("integration tests need the stack started by `make test`; missing "
                    "environment: %s" % ", ".join(missing), pytrace=False)
    return {k: os.environ[k] for k in REQUIRED_ENV}


@pytest.fixture(scope="session")
def base_url(stack_env):
    return stack_env["T2SQL_TEST_URL"].rstrip("/")


# The front ends the test stack runs over the same workers (scripts/stack.sh).
FRONT_URL_ENV = {"nginx": "T2SQL_TEST_URL", "apache": "T2SQL_TEST_APACHE_URL"}


@pytest.fixture(params=sorted(FRONT_URL_ENV))
def front_url(request, stack_env):
    """The service through each front end in turn: Apache httpd (mod_proxy_fcgi) and nginx."""
    return env(FRONT_URL_ENV[request.param]).rstrip("/")


@pytest.fixture(scope="session")
def http(stack_env):
    s = requests.Session()
    yield s
    s.close()


# ---------------------------------------------------------------------------------------------
# The fake model


class FakeLLM:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.s = requests.Session()

    def _post(self, path, obj=None):
        r = self.s.post(self.url + path, json=obj if obj is not None else {}, timeout=10)
        assert r.status_code == 200, "fakellm %s: %s %s" % (path, r.status_code, r.text)
        return r.json()

    def reset(self):
        return self._post("/_reset")

    def rules(self, *rules):
        """Replace the rules: fakellm.rules({"match": tok, "reply": "<sql>...</sql>"}, ...)."""
        if len(rules) == 1 and isinstance(rules[0], list):
            rules = rules[0]
        return self._post("/_rules", {"rules": list(rules)})

    def sql(self, match, sql, **extra):
        """One rule answering `sql` in <sql> tags when `match` is in the question."""
        rule = {"match": match, "reply": "<sql>%s</sql>" % sql}
        rule.update(extra)
        return self.rules(rule)

    def calls(self):
        r = self.s.get(self.url + "/_calls", timeout=10)
        assert r.status_code == 200
        return r.json()

    def count(self):
        return self.calls()["count"]

    def wait_count(self, n, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            if self.count() >= n:
                return True
            time.sleep(0.05)
        return False


@pytest.fixture(scope="session")
def fakellm(stack_env):
    f = FakeLLM(stack_env["T2SQL_TEST_LLM"])
    r = f.s.get(f.url + "/_health", timeout=5)
    assert r.status_code == 200 and r.json() == {"ok": True}, "fake model not answering"
    return f


@pytest.fixture(autouse=True)
def _reset_fakellm(request, stack_env):
    """Every test starts with no rules and an empty call log."""
    FakeLLM(stack_env["T2SQL_TEST_LLM"]).reset()
    yield


@pytest.fixture
def uq(request):
    """A token unique to this test run, to put in questions and match in rules."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:40]
    return "tok-%s-%s" % (name, uuid.uuid4().hex[:10])


# ---------------------------------------------------------------------------------------------
# HTTP helpers


def loads(text):
    """Parse a response body keeping numbers exact (floats become Decimal)."""
    return json.loads(text, parse_float=Decimal)


def post_query(url, body, headers=None, timeout=TIMEOUT, session=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return (session or requests).post(url.rstrip("/") + "/query", data=data, headers=h,
                                      timeout=timeout)


def secrets():
    out = [LLM_KEY]
    for k in ("DB_PASS", "T2SQL_DB_PASS", "PGPASSWORD", "T2SQL_TEST_DB_PASS"):
        v = os.environ.get(k)
        if v and len(v) >= 4:
            out.append(v)
    m = re.search(r"password=(\S+)", os.environ.get("T2SQL_TEST_PG", ""))
    if m:
        out.append(m.group(1))
    return out


def assert_no_secrets(text):
    for s in secrets():
        assert s not in text, "response leaks a secret"
    assert "Traceback" not in text
    assert not re.search(r"\bat 0x[0-9a-f]{6,}", text), "response looks like a stack dump"


def assert_error(r, status, code, field=None):
    """Check an error response: status, JSON {"detail": str, "code": str}, no secrets,
    Retry-After on 429/503, X-Request-Id. `status`/`code` may be tuples of accepted values."""
    statuses = status if isinstance(status, (tuple, list, set)) else (status,)
    codes = code if isinstance(code, (tuple, list, set)) else (code,)
    text = r.text
    assert r.status_code in statuses, \
        "expected %s %s, got %s: %s" % (statuses, codes, r.status_code, text[:500])
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == "application/json", \
        "error Content-Type is %r: %s" % (ctype, text[:300])
    body = loads(text)
    assert isinstance(body, dict), body
    assert isinstance(body.get("detail"), str) and body["detail"].strip(), body
    assert isinstance(body.get("code"), str), body
    assert body["code"] in codes, "expected code %s, got %r (%s)" % (codes, body["code"], body)
    if field is not None:
        assert body.get("field") == field, "expected field %r: %s" % (field, body)
    assert_no_secrets(text)
    if r.status_code in (429, 503):
        ra = r.headers.get("Retry-After")
        assert ra is not None and ra.strip().isdigit() and int(ra) >= 0, \
            "%d without a valid Retry-After (%r)" % (r.status_code, ra)
    assert r.headers.get("X-Request-Id"), "error response without X-Request-Id"
    return body


def assert_ok(r):
    assert r.status_code == 200, "expected 200, got %s: %s" % (r.status_code, r.text[:800])
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == "application/json", ctype
    body = loads(r.text)
    assert isinstance(body, dict)
    assert "error" not in body, body.get("error")
    return body


def raw_http(host, port, head, body=b"", timeout=30):
    """Send a raw request (head: bytes up to and including the blank line) and body, tolerating
    the server closing early (nginx answering 413 before reading everything). Returns
    (status, headers dict lower-cased, body bytes)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(head)
        try:
            view = memoryview(body)
            for i in range(0, len(view), 65536):
                s.sendall(view[i:i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    assert data, "no response at all"
    headpart, _, rest = data.partition(b"\r\n\r\n")
    lines = headpart.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = b""
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            out += rest[:n]
            rest = rest[n + 2:]
        rest = out
    elif "content-length" in headers:
        rest = rest[:int(headers["content-length"])]
    return status, headers, rest


class RawResponse:
    """Just enough of requests.Response for assert_error()."""

    def __init__(self, status, headers, body):
        self.status_code = status
        self._h = headers
        self.text = body.decode("utf-8", "replace")
        self.headers = requests.structures.CaseInsensitiveDict(headers)


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def conninfo(dbname=None):
    ci = env("T2SQL_TEST_PG")
    if dbname:
        if re.search(r"\bdbname=\S+", ci):
            ci = re.sub(r"\bdbname=\S+", "dbname=" + dbname, ci)
        else:
            ci += " dbname=" + dbname
    return ci


def libpq_argv(ci):
    """(ci without its password, the environment with PGPASSWORD) for a libpq program run as a
    subprocess (psql, pgbench, load.sh, bin/t2sql-plan): a password on a command line is
    readable by every local user (ps)."""
    m = re.search(r"\s*\bpassword=(\S+)", ci)
    e = dict(os.environ)
    if m:
        e["PGPASSWORD"] = m.group(1)
        ci = (ci[:m.start()] + ci[m.end():]).strip()
    return ci, e


def pg_connect(dbname=None):
    """An autocommit connection to the test PostgreSQL (dbname: another database on it)."""
    c = psycopg2.connect(conninfo(dbname))
    c.autocommit = True
    return c


def pg_rows(sql, dbname=None, text=False):
    """All rows of sql on a connection of its own (text: values in PostgreSQL's text form)."""
    c = connect_text(dbname) if text else pg_connect(dbname)
    try:
        with c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        c.close()


def pg_exec(sql, dbname=None):
    """Runs sql (DDL, writes) in autocommit on a connection of its own."""
    c = pg_connect(dbname)
    try:
        with c.cursor() as cur:
            cur.execute(sql)
    finally:
        c.close()


PSQL_BIN = "/usr/bin/psql"


def psql_file(dbname, path, timeout=60, **variables):
    """psql -f path on database dbname, stopping at the first error (which fails the test)."""
    ci, pgenv = libpq_argv(conninfo(dbname))
    argv = [PSQL_BIN, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for k, v in variables.items():
        argv += ["-v", "%s=%s" % (k, v)]
    p = subprocess.run(argv + ["-d", ci, "-f", path], capture_output=True, text=True,
                       timeout=timeout, env=pgenv)
    assert p.returncode == 0, "psql -f %s failed:\n%s" % (path, p.stderr[-3000:])


def fresh_database(dbname):
    """Drops and creates dbname on the test PostgreSQL."""
    pg_exec("DROP DATABASE IF EXISTS %s WITH (FORCE)" % dbname)
    pg_exec("CREATE DATABASE %s" % dbname)


def install_service(dbname):
    """As a deployment does: the service's schema, then its roles (login + SELECT-only)."""
    root = os.environ["T2SQL_ROOT"]
    for f in ("conf/schema.sql", "conf/roles.sql"):
        psql_file(dbname, os.path.join(root, f), db=dbname)


def connect_text(dbname=None):
    """A connection whose every value comes back as PostgreSQL's text form (or None)."""
    c = psycopg2.connect(conninfo(dbname))
    c.autocommit = True
    for oid in list(pgext.string_types):
        pgext.register_type(pgext.new_type((oid,), "TEXT%d" % oid, lambda v, cur: v), c)
    return c


class PG:
    def __init__(self):
        self._conns = {}

    def conn(self, dbname=None):
        """A live connection: one that a server restart (or a database dropped WITH (FORCE)
        and made again) has cut is replaced, whatever test did that before."""
        c = self._conns.get(dbname)
        if c is not None and not c.closed:
            try:
                with c.cursor() as cur:
                    cur.execute("SELECT 1")
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                c.close()
        if c is None or c.closed:
            c = self._conns[dbname] = connect_text(dbname)
        return c

    def run(self, sql, params=None, dbname=None):
        """-> (column names, type oids, rows of text values). Runs read-only."""
        c = self.conn(dbname)
        with c.cursor() as cur:
            cur.execute("BEGIN READ ONLY")
            try:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description else []
                names = [d.name for d in cur.description] if cur.description else []
                oids = [d.type_code for d in cur.description] if cur.description else []
            finally:
                cur.execute("ROLLBACK")
        return names, oids, rows

    def scalar(self, sql, params=None, dbname=None):
        return self.run(sql, params, dbname)[2][0][0]

    def typnames(self, oids, dbname=None):
        out = []
        for o in oids:
            out.append(self.scalar("SELECT typname FROM pg_type WHERE oid = %s", (o,), dbname))
        return out

    def close(self):
        for c in self._conns.values():
            try:
                c.close()
            except Exception:
                pass


PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"


def restart_postgres():
    """Restarts the stack's PostgreSQL (fast shutdown) with the options and the log file
    scripts/stack.sh started it with (env.sh carries them)."""
    log = os.path.join(env("T2SQL_TEST_SHARED_VAR"), "log", "postgres.log")
    subprocess.run(["runuser", "-u", "postgres", "--", PG_CTL, "-D", env("T2SQL_TEST_PGDATA"),
                    "-m", "fast", "-w", "-t", "60", "restart", "-o", env("T2SQL_TEST_PGOPTS"),
                    "-l", log], check=True, stdout=subprocess.DEVNULL, cwd="/", timeout=120)


@pytest.fixture(scope="session")
def pg(stack_env):
    p = PG()
    yield p
    p.close()


# ---------------------------------------------------------------------------------------------
# Value normalisation: both sides become comparable tuples, typed by the PostgreSQL type oid.
#   int2/int4/int8/oid          JSON integer
#   numeric                     JSON number (exact digits); NaN/Infinity null
#   float4/float8               JSON number; NaN/Infinity null
# (one JSON type per column besides null; numeric_as_string is checked in test_types.py)
#   bool                        JSON boolean
#   json/jsonb                  embedded JSON
#   everything else             string, PostgreSQL's text form

INT_OIDS = {20, 21, 23, 26}
FLOAT_OIDS = {700, 701}
NUMERIC_OIDS = {1700}
BOOL_OIDS = {16}
JSON_OIDS = {114, 3802}
SPECIAL_FLOATS = {"NaN", "Infinity", "-Infinity"}


def _dec(x):
    d = Decimal(x)
    return d.normalize() if d.is_finite() else d


def _flt(x, oid):
    f = float(x)
    return float("%.6g" % f) if oid == 700 else f  # float4: 6 significant digits


def canon_pg(text, oid):
    if text is None:
        return None
    if oid in INT_OIDS:
        return ("n", _dec(text))
    if oid in NUMERIC_OIDS:
        return None if text in SPECIAL_FLOATS else ("n", _dec(text))
    if oid in FLOAT_OIDS:
        return None if text in SPECIAL_FLOATS else ("f", _flt(text, oid))
    if oid in BOOL_OIDS:
        return ("b", text == "t")
    if oid in JSON_OIDS:
        return ("j", json.dumps(json.loads(text, parse_float=Decimal), sort_keys=True, default=str))
    return ("s", text)


def canon_api(v, oid):
    """Map one JSON value from the API; a value of the wrong JSON type maps to a "bad" tuple
    that never equals the PostgreSQL side."""
    if v is None:
        return None
    bad = ("bad:%s" % type(v).__name__, repr(v))
    isnum = isinstance(v, (int, Decimal, float)) and not isinstance(v, bool)
    if oid in INT_OIDS:
        return ("n", _dec(v)) if isinstance(v, int) and not isinstance(v, bool) else bad
    if oid in NUMERIC_OIDS:
        return ("n", _dec(v)) if isnum else bad
    if oid in FLOAT_OIDS:
        return ("f", _flt(v, oid)) if isnum else bad
    if oid in BOOL_OIDS:
        return ("b", v) if isinstance(v, bool) else bad
    if oid in JSON_OIDS:
        return ("j", json.dumps(v, sort_keys=True, default=str))
    return ("s", v) if isinstance(v, str) else bad


def canon_rows_pg(rows, oids):
    return [[canon_pg(x, o) for x, o in zip(r, oids)] for r in rows]


def canon_rows_api(rows, oids):
    out = []
    for r in rows:
        assert isinstance(r, list) and len(r) == len(oids), "row shape %r vs %d columns" % (r, len(oids))
        out.append([canon_api(x, o) for x, o in zip(r, oids)])
    return out


def sort_rows(rows):
    return sorted(rows, key=repr)


def assert_rows_match(api_body, pg_result, ordered=True):
    names, oids, rows = pg_result
    assert api_body["columns"] == names, (api_body["columns"], names)
    got = canon_rows_api(api_body["rows"], oids)
    want = canon_rows_pg(rows, oids)
    if not ordered:
        got, want = sort_rows(got), sort_rows(want)
    assert got == want, "rows differ:\nAPI %r\nPG  %r" % (got[:20], want[:20])


def pages(total, size):
    return (total + size - 1) // size


def pagination(page, page_size, total, has_more=None):
    """The pagination object of a page; has_more (a row follows the page) defaults to what
    total implies, and must be given when total is None (count: none)."""
    if has_more is None:
        assert total is not None, "has_more must be given when total_rows is null"
        has_more = page * page_size < total
    return {"page": page, "page_size": page_size, "total_rows": total,
            "total_pages": None if total is None else pages(total, page_size),
            "has_more": has_more}


def norm_sql(s):
    return re.sub(r"\s+", " ", s.strip().rstrip(";").strip()).lower()


# ---------------------------------------------------------------------------------------------
# Extra service instances: scripts/stack.sh instance NAME PORT KEY=VALUE ...


class Instance:
    def __init__(self, name, port, env, pid):
        self.name = name
        self.port = port
        self.env = dict(env)
        self.pid = pid
        self.url = "http://127.0.0.1:%d" % port

    def children(self):
        """Child pids of the master (its workers)."""
        kids = set()
        try:
            for t in os.listdir("/proc/%d/task" % self.pid):
                try:
                    with open("/proc/%d/task/%s/children" % (self.pid, t)) as f:
                        kids.update(int(x) for x in f.read().split())
                except OSError:
                    pass
        except OSError:
            pass
        if not kids:
            try:
                out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True,
                                     text=True, timeout=5).stdout
                kids.update(int(x) for x in out.split())
            except (OSError, subprocess.SubprocessError):
                pass
        return kids

    def alive(self):
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False

    def __repr__(self):
        return "Instance(%s :%d pid %d)" % (self.name, self.port, self.pid)


class Instances:
    def __init__(self):
        self.by_port = {}

    def _stack(self, *args, timeout=120):
        script = os.path.join(ROOT, "scripts", "stack.sh")
        assert os.path.exists(script), "%s is missing" % script
        return subprocess.run(["bash", script] + list(args), cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout)

    def start(self, name, port, **overrides):
        """Start (or reuse) an instance. overrides: KEY=VALUE env for the worker, e.g.
        T2SQL_WORKERS="2", OPENAI_BASE_URL="". Another instance on the same port is stopped."""
        assert port in INSTANCE_PORTS, "instance ports are 18081-18089"
        port += PORT_OFFSET
        env_items = {k: str(v) for k, v in overrides.items()}
        cur = self.by_port.get(port)
        if cur is not None:
            if cur.name == name and cur.env == env_items and cur.alive():
                return cur
            self.stop(cur)
        self._stack("instance-stop", name, timeout=60)  # leftovers of an aborted run
        end = time.time() + 10
        while port_open(port) and time.time() < end:
            time.sleep(0.2)
        assert not port_open(port), \
            "port %d is taken by something else; cannot start instance %s" % (port, name)
        args = ["instance", name, str(port)] + ["%s=%s" % kv for kv in env_items.items()]
        p = self._stack(*args)
        assert p.returncode == 0, "stack.sh %s failed (%d):\n%s\n%s" % (
            " ".join(args), p.returncode, p.stdout[-2000:], p.stderr[-2000:])
        lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
        assert lines and lines[-1].isdigit(), "stack.sh instance: last line is not a pid:\n" + p.stdout
        inst = Instance(name, port, env_items, int(lines[-1]))
        self.by_port[port] = inst
        end = time.time() + 30
        last = None
        while time.time() < end:
            try:
                r = requests.get(inst.url + "/health", timeout=2)
                if r.status_code == 200:
                    break
                last = r.status_code
            except requests.RequestException as e:
                last = e
            time.sleep(0.2)
        else:
            raise AssertionError("instance %s on :%d not healthy: %s\n%s" % (
                name, port, last, log_tail()))
        assert inst.alive(), "instance %s: master pid %d is not running" % (name, inst.pid)
        # wait until the configured number of workers is up
        want = int(env_items.get("T2SQL_WORKERS", "0") or 0)
        if want:
            end = time.time() + 15
            while time.time() < end and len(inst.children()) < want:
                time.sleep(0.1)
        return inst

    def stop(self, inst):
        self.by_port.pop(inst.port, None)
        self._stack("instance-stop", inst.name, timeout=60)

    def stop_all(self):
        for inst in list(self.by_port.values()):
            try:
                self.stop(inst)
            except Exception:
                pass


@pytest.fixture(scope="session")
def instances(stack_env):
    """Factory: instances.start(NAME, PORT, T2SQL_KEY="value", ...) -> Instance."""
    f = Instances()
    yield f
    f.stop_all()


def log_tail(name_glob="*.log", n=60):
    """Last lines of the stack's logs, for assertion messages."""
    import glob
    out = []
    for p in sorted(glob.glob(os.path.join(os.environ.get("T2SQL_TEST_VAR", "/nonexistent"),
                                           "log", name_glob))):
        try:
            with open(p, errors="replace") as f:
                lines = f.readlines()[-n:]
            out.append("== %s\n%s" % (p, "".join(lines)))
        except OSError:
            pass
    return "\n".join(out)


def port_open(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def url_host_port(url):
    u = urlsplit(url)
    return u.hostname, u.port or 80


# The test stack's S3 is the verifying proxy (tests/fixtures/s3verify.py): every request must
# be SigV4-signed with a key it knows. Tests sign theirs with botocore (the independent signer)
# and register the keys their processes use.
_S3_KEYS_LOCK = threading.Lock()


def s3_add_key(access_key, secret, token=None, expires=None):
    """Makes the verifying proxy accept access_key with secret (and session token), until
    expires (unix time) when given."""
    path = env("T2SQL_TEST_S3_KEYS")
    with _S3_KEYS_LOCK:  # the credential stand-ins add keys from their own threads
        with open(path, encoding="utf-8") as f:
            keys = json.load(f)
        keys[access_key] = {"secret": secret, "token": token}
        if expires:
            keys[access_key]["expires"] = expires
        tmp = "%s.%d.tmp" % (path, os.getpid())
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(keys, f)
        os.replace(tmp, path)  # the proxy rereads the file when it changes (mtime, size)
        time.sleep(0.01)  # a distinct mtime for a second change within the same tick


def s3_client(access_key="S3RVER", secret="S3RVER", token=None, style="path", endpoint=None):
    """A botocore S3 client on the stack's S3 (no retries: a refusal shows at once)."""
    import botocore.session
    from botocore.config import Config
    return botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url=endpoint or env("T2SQL_TEST_S3"),
        aws_access_key_id=access_key, aws_secret_access_key=secret, aws_session_token=token,
        config=Config(signature_version="s3v4", s3={"addressing_style": style},
                      retries={"max_attempts": 1}))


def s3_uploads(client, bucket, prefix=""):
    """[(key, upload id)] of the bucket's unfinished multipart uploads under prefix."""
    r = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    return [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]
