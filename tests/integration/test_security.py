"""Security in depth: each layer alone keeps generated SQL from changing data or reading
secrets, and API keys (401/403), per-key rate limits (429) and job ownership hold.

Layers (../shared/data/sql-reject.jsonl plus attacks aimed at the role itself):
  * guard off, role on  (T2SQL_GUARD_ENABLED=false T2SQL_QUERY_ROLE=t2sql_reader): the model's
    SQL runs as it is; the read-only transaction and conf/roles.sql must stop every write and
    every secret read. The status may be anything; the database must not change.
  * role off, guard on  (T2SQL_QUERY_ROLE=): the guard alone answers 400 unsafe_sql/invalid_sql.

Every API key created here is appended to $T2SQL_TEST_VAR/created_keys.txt so that
test_log_secrets.py can check that no log contains one. Instances use ports 18090-18098.
"""

import hashlib
import json
import os
import re
import subprocess
import time
import uuid

import psycopg2
import pytest
import requests

from conftest import (DATA, PORT_OFFSET, ROOT, Instance, assert_error, assert_no_secrets,
                      assert_ok, need_shared, conninfo, pg_connect, port_open, post_query)

GUARD_OFF = ("sec-guardoff", 18090, {"T2SQL_GUARD_ENABLED": "false",
                                     "T2SQL_QUERY_ROLE": "t2sql_reader",
                                     "T2SQL_STATEMENT_TIMEOUT_MS": "3000"})
ROLE_OFF = ("sec-roleoff", 18091, {"T2SQL_QUERY_ROLE": ""})
AUTH = ("sec-auth", 18092, {"T2SQL_AUTH_REQUIRED": "true"})
AUTH_NOREDIS = ("sec-auth-noredis", 18093, {"T2SQL_AUTH_REQUIRED": "true",
                                            "T2SQL_REDIS_PORT": "1", "T2SQL_WORKERS": "1",
                                            "T2SQL_QUEUE_WORKERS": "0"})  # one process

# Attacks on the sandbox itself, beyond the guard's corpus: undoing SET ROLE from inside a
# SELECT, SQL strings run by functions, the service's own tables, writes that a read-only
# transaction allows (large objects), locks that outlive the transaction, waking exportd.
EXTRA_ATTACKS = [
    "SELECT set_config('role', 'postgres', true) AS r, "
    "query_to_xml('SELECT rolname, rolpassword FROM pg_authid', true, true, '') AS x",
    "SELECT set_config('role', 'postgres', false) AS r",
    "SELECT query_to_xml('SELECT * FROM t2sql.api_keys', true, true, '') AS x",
    "SELECT * FROM t2sql.api_keys",
    "SELECT * FROM t2sql.export_jobs",
    "SELECT * FROM t2sql.queries",
    "SELECT key_hash FROM t2sql.api_keys",
    "SELECT lo_from_bytea(0, 'stolen'::bytea) AS lo",
    "SELECT lo_create(0) AS lo",
    "SELECT pg_advisory_lock(424242) AS l",
    "SELECT pg_notify('t2sql_export', 'x') AS n",
    "SELECT set_config('transaction_read_only', 'off', true) AS r",
    "SELECT rolname, rolpassword FROM pg_authid",
    "SELECT * FROM pg_catalog.pg_shadow",
    "SELECT pg_read_file('postgresql.auto.conf') AS f",
    "SELECT query_to_xml('CREATE TEMP TABLE stolen AS SELECT 1', true, true, '') AS x",
]

NO_SQL = re.compile(r"^\s*(--[^\n]*\s*)*$")  # empty, blanks, or only a line comment


def reject_statements():
    """The shared corpus when it is beside the checkout (test_reject_corpus_present says when it
    is not); the attacks of this file run either way."""
    path = os.path.join(DATA, "sql-reject.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(ln)["sql"] for ln in f if ln.strip()]


def test_reject_corpus_present():
    need_shared("sql-reject.jsonl")
    assert len(reject_statements()) >= 50


# ---------------------------------------------------------------------------------------------
# helpers


def start(instances, spec, fresh=False, **more):
    """stack.sh instance NAME PORT K=V... on this module's ports (18090-18098, shifted by
    T2SQL_TEST_PORT_OFFSET like the suite's own). A running instance of the same settings is
    reused unless fresh: a module fixture that rewrites the files an instance read at start
    (keys, a replica made again) wants one that has read them, whatever ran before it."""
    name, port, env = spec
    port += PORT_OFFSET
    env = dict(env, **more)
    cur = instances.by_port.get(port)
    if not fresh and cur is not None and cur.name == name and cur.env == env and cur.alive():
        return cur
    if cur is not None:
        instances.stop(cur)
    instances._stack("instance-stop", name, timeout=60)
    end = time.time() + 10
    while port_open(port) and time.time() < end:
        time.sleep(0.2)
    assert not port_open(port), "port %d is taken; cannot start instance %s" % (port, name)
    args = ["instance", name, str(port)] + ["%s=%s" % kv for kv in env.items()]
    p = instances._stack(*args)
    assert p.returncode == 0, "stack.sh %s failed:\n%s\n%s" % (" ".join(args), p.stdout[-2000:],
                                                                p.stderr[-2000:])
    lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
    assert lines and lines[-1].isdigit(), p.stdout
    inst = Instance(name, port, env, int(lines[-1]))
    instances.by_port[port] = inst
    end = time.time() + 30
    while time.time() < end:
        try:
            if requests.get(inst.url + "/health", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.2)
    else:
        raise AssertionError("instance %s not healthy" % name)
    want = int(env.get("T2SQL_WORKERS", "0") or 0)
    end = time.time() + 15
    while want and time.time() < end and len(inst.children()) < want:
        time.sleep(0.1)
    return inst


def keys_file():
    return os.path.join(os.environ["T2SQL_TEST_VAR"], "created_keys.txt")


def record_key(key):
    with open(keys_file(), "a") as f:
        f.write(key + "\n")


def service_env():
    """The stack's service environment (DB_HOST, ...) as a dict."""
    out = {}
    path = os.path.join(os.environ["T2SQL_TEST_VAR"], "service.env")
    with open(path) as f:
        for tok in re.findall(r"([A-Z0-9_]+)=('(?:[^']*)'|\S*)", f.read()):
            out[tok[0]] = tok[1].strip("'")
    return out


def create_key(name, scopes="query,export", rate=None):
    """A new key through bin/t2sql-keys (stdout: the key; only its hash is stored)."""
    cmd = [os.path.join(ROOT, "bin", "t2sql-keys"), "-c", os.path.join(ROOT, "conf", "t2sql.conf"),
           "create", name, "--scopes", scopes]
    if rate is not None:
        cmd += ["--rate", str(rate)]
    env = dict(os.environ)
    env.update(service_env())
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, "t2sql-keys create failed: %s" % p.stderr
    key = p.stdout.strip()
    assert re.fullmatch(r"t2k_[A-Za-z0-9_-]{40,}", key), "unexpected key format"
    record_key(key)
    return key


def bearer(key):
    return {"Authorization": "Bearer " + key}


def snapshot():
    """What generated SQL must never change: every demo table, the service's tables, the
    relations, roles, large objects, advisory locks left behind."""
    c = pg_connect()
    out = {}
    with c.cursor() as cur:
        cur.execute("SELECT n.nspname, c.relname FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' ORDER BY 1, 2")
        rels = cur.fetchall()
        for ns, rel in rels + [("t2sql", "api_keys"), ("t2sql", "examples"),
                               ("t2sql", "glossary")]:
            cur.execute('SELECT count(*), md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text),'
                        ' \'\')) FROM "%s"."%s" t' % (ns, rel))
            out["%s.%s" % (ns, rel)] = cur.fetchone()
        # the service adds queries and exportd updates jobs; existing rows must stay as they are
        cur.execute("SELECT id, sql, owner FROM t2sql.queries")
        out["queries"] = set(cur.fetchall())
        cur.execute("SELECT id::text, sql, owner FROM t2sql.export_jobs")
        out["jobs"] = set(cur.fetchall())
        cur.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname !~ '^pg_(toast_)?temp_'")
        out["relations"] = cur.fetchone()[0]
        cur.execute("SELECT md5(string_agg(rolname || rolsuper::text || rolcanlogin::text"
                    " || coalesce(rolpassword, ''), ',' ORDER BY rolname)) FROM pg_authid")
        out["roles"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM pg_largeobject_metadata")
        out["large_objects"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND objid = 424242")
        out["attack_locks"] = cur.fetchone()[0]
        cur.execute("SELECT key_hash FROM t2sql.api_keys")
        out["_hashes"] = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT rolpassword FROM pg_authid WHERE rolpassword IS NOT NULL")
        out["_passwords"] = [r[0] for r in cur.fetchall()]
    c.close()
    return out


def assert_unchanged(before, after):
    for k, v in before.items():
        if k.startswith("_"):
            continue
        if k == "queries":
            assert v <= after[k], "rows of t2sql.queries were changed or deleted"
        elif k == "jobs":
            assert after[k] == v, "t2sql.export_jobs gained, lost or changed jobs"
        else:
            assert after[k] == v, "%s changed: %r -> %r" % (k, v, after[k])


def assert_no_secret_read(text, snap, sql):
    for marker in ("SCRAM-SHA-256$", "rolpassword"):
        assert marker not in text, "secret read (%s) by %r" % (marker, sql)
    assert not re.search(r"md5[0-9a-f]{32}", text), "md5 password hash returned for %r" % sql
    for h in snap["_hashes"] + snap["_passwords"]:
        assert h not in text, "API key hash or password hash returned for %r" % sql
    assert_no_secrets(text)


def ask(url, fakellm, uq, i, sql, headers=None):
    tok = "%s-%d" % (uq, i)
    fakellm.rules({"match": tok, "reply": "<sql>%s</sql>" % sql})
    return post_query(url, {"question": "security probe %s" % tok, "stream": False},
                      headers=headers, timeout=60)


@pytest.fixture(scope="module", autouse=True)
def canary():
    """Secrets worth stealing: a role with a password (pg_authid shows its SCRAM hash) and an
    API key row, so that a read of either shows up in a response."""
    role = "t2sql_canary_" + uuid.uuid4().hex[:8]
    c = pg_connect()
    with c.cursor() as cur:
        cur.execute("CREATE ROLE %s NOLOGIN PASSWORD %%s" % role, ("canary-" + uuid.uuid4().hex,))
        cur.execute("INSERT INTO t2sql.api_keys (name, key_hash, scopes, revoked_at)"
                    " VALUES ('canary', %s, '{query}', now())",
                    (hashlib.sha256(uuid.uuid4().bytes).hexdigest(),))
    c.close()
    yield role
    c = pg_connect()  # a fresh one: the server may have been restarted meanwhile
    with c.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS %s" % role)
    c.close()


# ---------------------------------------------------------------------------------------------
# conf/roles.sql on its own (no service): the role and the read-only transaction, exactly as
# core/exec.c opens it, against every reject statement and the sandbox attacks


def run_as_reader(cur, sql):
    """exec_begin() + the page query; -> rows, or the PostgreSQL error text."""
    cur.execute("BEGIN READ ONLY; SET LOCAL statement_timeout = 2000; SET LOCAL lock_timeout = 1000;"
                " SET LOCAL idle_in_transaction_session_timeout = 60000;"
                " SET LOCAL search_path = public; SET LOCAL temp_file_limit = 1048576;"
                " SET LOCAL ROLE t2sql_reader")
    try:
        cur.execute("SELECT * FROM (\n%s\n) q LIMIT 100 OFFSET 0" % sql.replace("%", "%%"))
        rows = cur.fetchall()
        cur.execute("COMMIT")  # what a write would need to stick
        return rows
    except psycopg2.Error as e:
        cur.execute("ROLLBACK")
        return str(e).splitlines()[0]


def test_roles_sql_is_idempotent_and_roles_are_minimal():
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "db=t2sql",
                        "-d", conninfo(), "-f", os.path.join(ROOT, "conf", "roles.sql")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "conf/roles.sql failed when applied again: %s" % p.stderr[-2000:]
    c = pg_connect()
    with c.cursor() as cur:
        cur.execute("SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
                    " FROM pg_roles WHERE rolname IN ('t2sql_service', 't2sql_reader') ORDER BY 1")
        roles = {r[0]: r[1:] for r in cur.fetchall()}
        assert roles.get("t2sql_reader") == (False, False, False, False, False), roles
        assert roles.get("t2sql_service") == (True, False, False, False, False), roles
        cur.execute("SELECT pg_has_role('t2sql_service', 't2sql_reader', 'MEMBER'),"
                    " pg_has_role('t2sql_reader', 't2sql_service', 'MEMBER')")
        assert cur.fetchone() == (True, False)
        cur.execute("SELECT has_schema_privilege('t2sql_reader', 't2sql', 'USAGE'),"
                    " has_table_privilege('t2sql_reader', 't2sql.api_keys', 'SELECT'),"
                    " has_database_privilege('t2sql_reader', current_database(), 'TEMP'),"
                    " has_function_privilege('t2sql_reader', 'set_config(text,text,boolean)', 'EXECUTE'),"
                    " has_table_privilege('t2sql_reader', 'public.ticket_sales', 'SELECT'),"
                    " has_table_privilege('t2sql_reader', 'public.ticket_sales', 'INSERT'),"
                    " has_table_privilege('t2sql_service', 't2sql.api_keys', 'SELECT,INSERT,UPDATE')")
        assert cur.fetchone() == (False, False, False, False, True, False, True)
    c.close()


def test_role_and_read_only_transaction_alone():
    before = snapshot()
    c = pg_connect()  # like the test stack: the session user is a superuser
    bad = []
    with c.cursor() as cur:
        for sql in reject_statements() + EXTRA_ATTACKS + [
                "SELECT key_hash FROM t2sql.api_keys",
                "SELECT set_config('role', 'postgres', true) AS r, (SELECT count(*) FROM pg_authid) AS n"]:
            out = run_as_reader(cur, sql)
            text = repr(out)
            try:
                assert_no_secret_read(text, before, sql)
            except AssertionError as e:
                bad.append(str(e))
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] != "t2sql_reader"  # SET LOCAL ended with each transaction
        cur.execute("BEGIN READ ONLY; SET LOCAL ROLE t2sql_reader")
        cur.execute("SELECT current_user, count(*) FROM public.customers GROUP BY 1")
        assert cur.fetchone()[0] == "t2sql_reader"
        cur.execute("ROLLBACK")
    c.close()
    assert not bad, "\n".join(bad)
    assert_unchanged(before, snapshot())


# ---------------------------------------------------------------------------------------------
# Layers


def test_guard_off_role_on_nothing_changes_nothing_leaks(instances, fakellm, uq):
    inst = start(instances, GUARD_OFF)
    before = snapshot()
    stmts = reject_statements() + EXTRA_ATTACKS
    statuses = {}
    for i, sql in enumerate(stmts):
        r = ask(inst.url, fakellm, uq, i, sql)
        statuses[sql] = r.status_code
        assert_no_secret_read(r.text, before, sql)
        if r.status_code == 200:
            body = r.json()
            assert "rolpassword" not in body.get("columns", []), sql
        else:
            assert 400 <= r.status_code < 600, (sql, r.status_code)
            assert r.headers.get("Content-Type", "").startswith("application/json"), sql
    after = snapshot()
    assert_unchanged(before, after)
    # sanity: the instance really runs unguarded SQL (a harmless statement the guard would
    # refuse without catalogs still answers)
    r = ask(inst.url, fakellm, uq, 9999, "SELECT current_user AS u")
    body = assert_ok(r)
    assert body["rows"] == [["t2sql_reader"]], "generated SQL does not run as t2sql_reader: %r" % body


def test_role_off_guard_on_refuses_every_reject(instances, fakellm, uq):
    inst = start(instances, ROLE_OFF)
    before = snapshot()
    for i, sql in enumerate(reject_statements() + EXTRA_ATTACKS):
        r = ask(inst.url, fakellm, uq, i, sql)
        if NO_SQL.match(sql):  # nothing to guard: the reply carries no SQL at all
            assert_error(r, (400, 502), ("unsafe_sql", "invalid_sql", "llm_error"))
        else:
            body = assert_error(r, 400, ("unsafe_sql", "invalid_sql"))
            assert body["detail"], sql
        assert_no_secret_read(r.text, before, sql)
    assert_unchanged(before, snapshot())
    body = assert_ok(ask(inst.url, fakellm, uq, 9999, "SELECT 1 AS one"))
    assert body["rows"] == [[1]]


# ---------------------------------------------------------------------------------------------
# API keys


@pytest.fixture(scope="module")
def keys():
    k = {
        "query": create_key("sec-query", "query"),
        "both": create_key("sec-both", "query,export"),
        "other": create_key("sec-other", "query,export"),
        "admin": create_key("sec-admin", "query,export,admin"),
        "limited": create_key("sec-limited", "query", rate=5),
        "limited2": create_key("sec-limited2", "query", rate=3),
        "revoked": create_key("sec-revoked", "query"),
    }
    c = pg_connect()
    with c.cursor() as cur:
        h = hashlib.sha256(k["revoked"].encode()).hexdigest()
        cur.execute("UPDATE t2sql.api_keys SET revoked_at = now() WHERE key_hash = %s", (h,))
        assert cur.rowcount == 1
        # only the hash is stored
        cur.execute("SELECT count(*) FROM t2sql.api_keys WHERE key_hash = ANY(%s)",
                    ([hashlib.sha256(v.encode()).hexdigest() for v in k.values()],))
        assert cur.fetchone()[0] == len(k)
        cur.execute("SELECT count(*) FROM t2sql.api_keys t WHERE t::text LIKE ANY(%s)",
                    (["%" + v + "%" for v in k.values()],))
        assert cur.fetchone()[0] == 0, "a key is stored in clear"
    yield k
    with c.cursor() as cur:  # leave no usable key behind
        cur.execute("UPDATE t2sql.api_keys SET revoked_at = now() WHERE key_hash = ANY(%s)"
                    " AND revoked_at IS NULL",
                    ([hashlib.sha256(v.encode()).hexdigest() for v in k.values()],))
    c.close()


def test_auth_health_and_ready_need_no_key(instances):
    inst = start(instances, AUTH)
    r = requests.get(inst.url + "/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"ok": True}
    r = requests.get(inst.url + "/ready", timeout=30)
    assert r.status_code in (200, 503), r.status_code
    assert "ok" in r.json()


def test_auth_missing_or_wrong_key_is_401(instances, keys, fakellm, uq):
    inst = start(instances, AUTH)
    fakellm.sql(uq, "SELECT 1 AS one")
    q = {"question": "one %s" % uq, "stream": False}
    wrong = "t2k_" + uuid.uuid4().hex + uuid.uuid4().hex[:11]
    cases = [
        {},
        {"Authorization": "Bearer " + wrong},
        {"X-API-Key": wrong},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer " + keys["revoked"]},
        {"Authorization": "Bearer " + keys["query"] + "x"},
        {"Authorization": "Bearer " + keys["query"][:-1]},
    ]
    for h in cases:
        r = post_query(inst.url, q, headers=h)
        assert_error(r, 401, "unauthorized")
        for v in h.values():
            token = v.split()[-1] if v.split() else v
            if len(token) > 8:
                assert token not in r.text, "the 401 echoes the key"
    for path in ("/schema", "/examples", "/metrics", "/export/status/" + str(uuid.uuid4())):
        assert_error(requests.get(inst.url + path, timeout=30), 401, "unauthorized")
    assert_error(requests.post(inst.url + "/export/start", json={"question": q["question"]},
                               timeout=30), 401, "unauthorized")


def test_auth_valid_key_is_accepted(instances, keys, fakellm, uq):
    inst = start(instances, AUTH)
    fakellm.sql(uq, "SELECT 1 AS one")
    q = {"question": "one %s" % uq, "stream": False}
    body = assert_ok(post_query(inst.url, q, headers=bearer(keys["query"])))
    assert body["rows"] == [[1]]
    body = assert_ok(post_query(inst.url, q, headers={"X-API-Key": keys["both"]}))
    assert body["rows"] == [[1]]
    body = assert_ok(post_query(inst.url, q, headers={"Authorization": "bearer " + keys["admin"]}))
    assert body["rows"] == [[1]]
    r = requests.get(inst.url + "/schema", headers=bearer(keys["query"]), timeout=30)
    assert r.status_code == 200, r.text[:300]


def test_auth_scopes_are_enforced(instances, keys, fakellm, uq):
    inst = start(instances, AUTH)
    fakellm.sql(uq, "SELECT 1 AS one")
    for k in ("query", "both"):
        r = requests.get(inst.url + "/examples", headers=bearer(keys[k]), timeout=30)
        assert_error(r, 403, "forbidden")
        r = requests.post(inst.url + "/examples", headers=bearer(keys[k]),
                          json={"question": "q %s" % uq, "sql": "SELECT 1"}, timeout=30)
        assert_error(r, 403, "forbidden")
        r = requests.get(inst.url + "/metrics", headers=bearer(keys[k]), timeout=30)
        assert_error(r, 403, "forbidden")
    r = requests.get(inst.url + "/examples", headers=bearer(keys["admin"]), timeout=30)
    assert r.status_code == 200, r.text[:300]
    r = requests.get(inst.url + "/metrics", headers=bearer(keys["admin"]), timeout=30)
    assert r.status_code == 200, r.text[:300]
    # a query-only key cannot export
    r = requests.post(inst.url + "/export/start", headers=bearer(keys["query"]),
                      json={"question": "one %s" % uq}, timeout=60)
    assert_error(r, 403, "forbidden")


def test_jobs_and_queries_are_visible_only_to_their_creator(instances, keys, fakellm, uq):
    inst = start(instances, AUTH)
    fakellm.sql(uq, "SELECT 1 AS one")
    r = requests.post(inst.url + "/export/start", headers=bearer(keys["both"]),
                      json={"question": "one %s" % uq}, timeout=60)
    assert r.status_code == 200, r.text[:500]
    job = r.json()["job_id"]
    r = requests.get(inst.url + "/export/status/" + job, headers=bearer(keys["both"]), timeout=30)
    assert r.status_code == 200 and r.json()["job_id"] == job, r.text[:300]
    r = requests.get(inst.url + "/export/status/" + job, headers=bearer(keys["other"]), timeout=30)
    assert_error(r, 404, "not_found")
    r = requests.post(inst.url + "/export/cancel/" + job, headers=bearer(keys["other"]), timeout=30)
    assert_error(r, 404, "not_found")
    # a query_id is the creator's too
    body = assert_ok(post_query(inst.url, {"question": "one %s" % uq, "stream": False},
                                headers=bearer(keys["both"])))
    qid = body["query_id"]
    r = post_query(inst.url, {"query_id": qid, "stream": False}, headers=bearer(keys["other"]))
    assert r.status_code in (404, 422), (r.status_code, r.text[:300])
    assert "rows" not in r.json()
    body = assert_ok(post_query(inst.url, {"query_id": qid, "stream": False},
                                headers=bearer(keys["both"])))
    assert body["rows"] == [[1]]


def test_rate_limit_per_key_in_redis(instances, keys):
    inst = start(instances, AUTH)
    got = []
    for _ in range(6):
        got.append(requests.get(inst.url + "/schema", headers=bearer(keys["limited"]), timeout=30))
    assert [r.status_code for r in got[:5]] == [200] * 5, [r.status_code for r in got]
    body = assert_error(got[5], 429, "rate_limited")
    ra = int(got[5].headers["Retry-After"])
    assert 1 <= ra <= 60, ra
    assert body["detail"]
    # another key is not affected
    r = requests.get(inst.url + "/schema", headers=bearer(keys["query"]), timeout=30)
    assert r.status_code == 200
    # the bucket is shared by the instance's workers: still limited on the next requests
    r = requests.get(inst.url + "/schema", headers=bearer(keys["limited"]), timeout=30)
    assert_error(r, 429, "rate_limited")


def test_rate_limit_without_redis_counts_per_worker(instances, keys):
    inst = start(instances, AUTH_NOREDIS)
    codes = [requests.get(inst.url + "/schema", headers=bearer(keys["limited2"]),
                          timeout=30).status_code for _ in range(4)]
    assert codes[:3] == [200] * 3, codes
    assert codes[3] == 429, codes
    r = requests.get(inst.url + "/schema", headers=bearer(keys["limited2"]), timeout=30)
    assert_error(r, 429, "rate_limited")
