"""test_tenants -- many users, one database: each API key maps to a database role and claims
(bin/t2sql-keys create --role R --claims k=v), generated SQL runs as that role with the claims
set for the transaction only, and PostgreSQL's row-level security (conf/tenants.sql: customers
and ticket_sales scoped by the `city` claim) decides the rows. Every answer is compared with
psql run as that role with those claims. Query ids, jobs and caches never cross identities;
exports run as their owner. The instance uses port 18094 (test_security.py's block)."""
import csv
import io
import json
import os
import subprocess
import time

import pytest
import requests

from conftest import ROOT, TIMEOUT, assert_error, loads, pg_connect, post_query
from test_security import bearer, create_key, service_env, start

TENANTS = ("tenants", 18094, {"T2SQL_AUTH_REQUIRED": "true"})
CITY = {"a": "Mumbai", "b": "Pune"}
ROLE = {"a": "t2sql_tenant_a", "b": "t2sql_tenant_b"}


@pytest.fixture(scope="module")
def inst(instances):
    return start(instances, TENANTS)


@pytest.fixture(scope="module")
def keys():
    return {
        "a": create_key_as("ten-a", ROLE["a"], "city=" + CITY["a"]),
        "b": create_key_as("ten-b", ROLE["b"], "city=" + CITY["b"]),
        "reader": create_key("ten-reader", "query,export"),
    }


def keys_tool(*args):
    cmd = [os.path.join(ROOT, "bin", "t2sql-keys"), "-c", os.path.join(ROOT, "conf", "t2sql.conf")]
    env = dict(os.environ)
    env.update(service_env())
    return subprocess.run(cmd + list(args), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=30)


def create_key_as(name, role, claims, scopes="query,export"):
    p = keys_tool("create", name, "--scopes", scopes, "--role", role, "--claims", claims)
    assert p.returncode == 0, p.stderr
    from test_security import record_key
    key = p.stdout.strip()
    record_key(key)
    return key


def as_role(sql, role, claims):
    """Rows of sql run by psycopg2 as role with the claims, as the service sets them."""
    c = pg_connect()
    try:
        with c.cursor() as cur:
            cur.execute("BEGIN READ ONLY")
            cur.execute("SELECT set_config('t2sql.claims', %s, true)", (json.dumps(claims),))
            for k, v in claims.items():
                cur.execute("SELECT set_config(%s, %s, true)", ("t2sql.claim." + k, v))
            cur.execute('SET LOCAL ROLE "%s"' % role)
            cur.execute(sql)
            rows = [list(r) for r in cur.fetchall()]
            cur.execute("ROLLBACK")
            return rows
    finally:
        c.close()


def norm(rows):
    return [[str(v) for v in r] for r in rows]


BY_CITY = "SELECT city, count(*) AS n FROM customers GROUP BY city ORDER BY city"
SALES = ("SELECT c.city, count(*) AS sales FROM ticket_sales t JOIN customers c"
         " ON c.customer_id = t.customer_id GROUP BY c.city ORDER BY c.city")


def ask(inst, key, question, **more):
    body = dict({"question": question, "stream": False}, **more)
    r = post_query(inst.url, body, headers=bearer(key))
    assert r.status_code == 200, r.text
    return loads(r.text)


def test_two_tenants_same_question_different_rows(inst, keys, fakellm, uq):
    fakellm.sql(uq, BY_CITY)
    got = {t: ask(inst, keys[t], "customers per city " + uq) for t in ("a", "b")}
    for t in ("a", "b"):
        want = as_role(BY_CITY, ROLE[t], {"city": CITY[t]})
        assert want and all(r[0] == CITY[t] for r in want), want
        assert norm(got[t]["rows"]) == norm(want), (t, got[t]["rows"], want)
    assert got["a"]["rows"] != got["b"]["rows"]
    # the same SQL without a role (the reader) sees every city
    everyone = ask(inst, keys["reader"], "customers per city " + uq)
    assert len(everyone["rows"]) > 2


def test_joined_table_policy_and_psql_agree(inst, keys, fakellm, uq):
    fakellm.sql(uq, SALES)
    for t in ("a", "b"):
        got = ask(inst, keys[t], "sales per city " + uq)
        want = as_role(SALES, ROLE[t], {"city": CITY[t]})
        assert norm(got["rows"]) == norm(want) and len(want) == 1, (t, got["rows"], want)


def test_streaming_ndjson_and_pages_respect_the_tenant(inst, keys, fakellm, uq):
    sql = "SELECT customer_id, city FROM customers ORDER BY customer_id"
    fakellm.sql(uq, sql)
    want = as_role(sql, ROLE["a"], {"city": CITY["a"]})
    assert len(want) > 25
    # streamed JSON, page 1
    r = requests.post(inst.url + "/query", json={"question": "list " + uq, "page_size": 10},
                      headers=bearer(keys["a"]), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    body = loads(r.text)
    assert norm(body["rows"]) == norm(want[:10])
    assert body["pagination"]["total_rows"] == len(want)
    # page 3 by query_id: the same tenant's rows
    r = post_query(inst.url, {"query_id": body["query_id"], "page": 3, "page_size": 10,
                                         "stream": False}, headers=bearer(keys["a"]))
    assert r.status_code == 200, r.text
    assert norm(loads(r.text)["rows"]) == norm(want[20:30])
    # NDJSON
    r = requests.post(inst.url + "/query", json={"question": "list " + uq, "page_size": 5},
                      headers=dict(bearer(keys["a"]), Accept="application/x-ndjson"),
                      timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    lines = [json.loads(x) for x in r.text.splitlines() if x.strip()]
    rows = [x for x in lines if isinstance(x, list)] or \
        [x["row"] for x in lines if isinstance(x, dict) and "row" in x]
    assert rows, lines[:3]
    assert all(str(x[1]) == CITY["a"] for x in rows), rows


def test_query_id_of_another_tenant_is_404(inst, keys, fakellm, uq):
    fakellm.sql(uq, BY_CITY)
    qa = ask(inst, keys["a"], "qid " + uq)["query_id"]
    r = post_query(inst.url, {"query_id": qa, "stream": False},
                   headers=bearer(keys["b"]))
    assert_error(r, 404, "not_found")
    r = post_query(inst.url, {"query_id": qa, "stream": False},
                   headers=bearer(keys["reader"]))
    assert_error(r, 404, "not_found")
    qb = ask(inst, keys["b"], "qid " + uq)["query_id"]
    assert qa != qb  # same SQL, two identities: two query ids


def test_cache_never_crosses_tenants(inst, keys, fakellm, uq):
    fakellm.sql(uq, BY_CITY)
    a1 = ask(inst, keys["a"], "cached " + uq)
    a2 = ask(inst, keys["a"], "cached " + uq)
    assert a2["source"] == "cache" and a2["rows"] == a1["rows"]
    b1 = ask(inst, keys["b"], "cached " + uq)
    assert norm(b1["rows"]) == norm(as_role(BY_CITY, ROLE["b"], {"city": CITY["b"]}))
    assert b1["query_id"] != a1["query_id"]


def wait_job(inst, key, job, timeout=90):
    end = time.time() + timeout
    while time.time() < end:
        r = requests.get(inst.url + "/export/status/" + job, headers=bearer(key), timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        st = r.json()
        if st["status"] in ("SUCCESS", "FAILED", "CANCELLED"):
            return st
        time.sleep(0.3)
    raise AssertionError("job %s did not finish" % job)


def test_export_runs_as_its_owner_and_is_404_for_others(inst, keys, fakellm, uq):
    sql = "SELECT customer_id, city FROM customers ORDER BY customer_id"
    fakellm.sql(uq, sql)
    r = requests.post(inst.url + "/export/start", json={"question": "export " + uq},
                      headers=bearer(keys["b"]), timeout=TIMEOUT)
    assert r.status_code in (200, 202), r.text
    job = r.json()["job_id"]
    r = requests.get(inst.url + "/export/status/" + job, headers=bearer(keys["a"]),
                     timeout=TIMEOUT)
    assert_error(r, 404, "not_found")
    st = wait_job(inst, keys["b"], job)
    assert st["status"] == "SUCCESS", st
    data = requests.get(st["download_url"], timeout=60).content.decode()
    rows = list(csv.reader(io.StringIO(data)))
    assert rows[0] == ["customer_id", "city"]
    want = as_role(sql, ROLE["b"], {"city": CITY["b"]})
    assert norm(rows[1:]) == norm(want) and want
    # exportd's audit row for the end of the job: the owner's role and claims, rows and bytes
    end = audit_rows("detail = %s", ("job %s SUCCESS" % job,))
    assert len(end) == 1 and end[0]["action"] == "export.end", end
    assert end[0]["role"] == ROLE["b"] and end[0]["claims"] == {"city": CITY["b"]}
    assert end[0]["rows"] == len(want) and end[0]["bytes"] == len(data.encode())
    assert end[0]["subject"] == "key:%d" % key_id(keys["b"])


def test_keys_refuse_a_role_not_granted_to_the_service():
    p = keys_tool("create", "ten-bad", "--role", "postgres")
    assert p.returncode != 0 and "not granted" in p.stderr, p.stderr
    p = keys_tool("create", "ten-bad", "--role", "no_such_role_t2")
    assert p.returncode != 0 and "not granted" in p.stderr, p.stderr
    p = keys_tool("create", "ten-bad", "--role", ROLE["a"], "--claims", "bad-name=x")
    assert p.returncode == 2 and "simple identifier" in p.stderr, p.stderr


def test_keys_table_has_the_role_and_claims(keys):
    c = pg_connect()
    with c.cursor() as cur:
        cur.execute("SELECT role, claims FROM t2sql.api_keys WHERE name = 'ten-a'"
                    " ORDER BY id DESC LIMIT 1")
        role, claims = cur.fetchone()
    c.close()
    assert role == ROLE["a"] and claims == {"city": CITY["a"]}


# ---------------------------------------------------------------------------------------------
# the audit trail


def audit_rows(where, args, want=1, timeout=20):
    """Rows of t2sql.audit matching where (written once the response is complete: poll)."""
    end = time.time() + timeout
    while True:
        c = pg_connect()
        with c.cursor() as cur:
            cur.execute("SELECT subject, role, claims, action, question, sql, source, status, rows,"
                        " bytes, duration_ms, request_id, detail FROM t2sql.audit WHERE " + where +
                        " ORDER BY id", args)
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
        c.close()
        if len(rows) >= want or time.time() > end:
            return rows
        time.sleep(0.2)


def key_id(key):
    import hashlib
    c = pg_connect()
    with c.cursor() as cur:
        cur.execute("SELECT id FROM t2sql.api_keys WHERE key_hash = %s",
                    (hashlib.sha256(key.encode()).hexdigest(),))
        kid = cur.fetchone()[0]
    c.close()
    return kid


def test_audit_row_per_query_with_the_right_fields(inst, keys, fakellm, uq):
    fakellm.sql(uq, BY_CITY)
    rid = "audit-" + uq[-10:]
    r = requests.post(inst.url + "/query", json={"question": "audited " + uq, "stream": False},
                      headers=dict(bearer(keys["a"]), **{"X-Request-Id": rid}), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    body = loads(r.text)
    rows = audit_rows("request_id = %s", (rid,))
    assert len(rows) == 1, rows
    a = rows[0]
    assert a["subject"] == "key:%d" % key_id(keys["a"])
    assert a["role"] == ROLE["a"] and a["claims"] == {"city": CITY["a"]}
    assert a["action"] == "query" and a["question"] == "audited " + uq
    assert a["sql"] == body["sql"] and a["source"] == body["source"]
    assert a["status"] == 200 and a["rows"] == len(body["rows"])
    assert a["bytes"] >= len(r.content) and a["duration_ms"] > 0
    # a refused request is audited too, and never carries the key
    rid2 = rid + "-x"
    r = requests.post(inst.url + "/query", json={"question": "audited " + uq},
                      headers={"Authorization": "Bearer t2k_not-a-key-at-all-000000000000",
                               "X-Request-Id": rid2}, timeout=TIMEOUT)
    assert r.status_code == 401
    rows = audit_rows("request_id = %s", (rid2,))
    assert len(rows) == 1 and rows[0]["status"] == 401 and rows[0]["subject"] == "", rows
    c = pg_connect()
    with c.cursor() as cur:
        cur.execute("SELECT count(*) FROM t2sql.audit t WHERE t::text LIKE ANY(%s)",
                    (["%" + k + "%" for k in keys.values()] + ["%t2k_not-a-key%"],))
        assert cur.fetchone()[0] == 0
    c.close()


def test_audit_export_key_and_cli_changes(inst, keys, fakellm, uq):
    fakellm.sql(uq, BY_CITY)
    rid = "auditx-" + uq[-10:]
    r = requests.post(inst.url + "/export/start", json={"question": "exp " + uq},
                      headers=dict(bearer(keys["b"]), **{"X-Request-Id": rid}), timeout=TIMEOUT)
    assert r.status_code in (200, 202), r.text
    job = r.json()["job_id"]
    rows = audit_rows("request_id = %s", (rid,))
    assert rows and rows[0]["action"] == "export" and rows[0]["detail"] == "job " + job
    assert rows[0]["role"] == ROLE["b"] and rows[0]["sql"] == r.json()["sql"]
    # bin/t2sql-keys create and revoke
    p = keys_tool("create", "ten-audited-" + uq[-6:], "--role", ROLE["b"], "--claims", "city=Delhi")
    assert p.returncode == 0, p.stderr
    from test_security import record_key
    record_key(p.stdout.strip())
    kid = key_id(p.stdout.strip())
    p = keys_tool("revoke", str(kid))
    assert p.returncode == 0, p.stderr
    rows = audit_rows("detail = %s", ("key %d" % kid,), want=2)
    assert [x["action"] for x in rows] == ["key.create", "key.revoke"], rows
    assert rows[0]["subject"].startswith("cli:") and rows[0]["role"] == ROLE["b"]
    assert rows[0]["claims"] == {"city": "Delhi"}
    # bin/t2sql-jobs cancel
    env = dict(os.environ)
    env.update(service_env())
    p = subprocess.run([os.path.join(ROOT, "bin", "t2sql-jobs"), "-c",
                        os.path.join(ROOT, "conf", "t2sql.conf"), "create", "SELECT 1 AS x",
                        "ten-cli"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    cid = p.stdout.strip()
    rows = audit_rows("detail = %s", ("job " + cid,))
    assert rows and rows[0]["action"] == "export" and rows[0]["sql"] == "SELECT 1 AS x"


def test_get_audit_filters_pages_and_needs_admin(inst, keys, fakellm, uq):
    admin = create_key("ten-admin", "query,export,admin")
    fakellm.sql(uq, BY_CITY)
    rid = "auditg-" + uq[-10:]
    for i in range(3):
        r = requests.post(inst.url + "/query", json={"question": "g " + uq, "stream": False},
                          headers=dict(bearer(keys["a"]), **{"X-Request-Id": rid}),
                          timeout=TIMEOUT)
        assert r.status_code == 200, r.text
    assert len(audit_rows("request_id = %s", (rid,), want=3)) == 3
    r = requests.get(inst.url + "/audit", params={"request_id": rid, "page_size": 2},
                     headers=bearer(admin), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    d = r.json()
    assert len(d["rows"]) == 2 and d["pagination"]["total_rows"] == 3
    assert d["pagination"]["has_more"] is True
    assert all(x["request_id"] == rid and x["role"] == ROLE["a"] for x in d["rows"])
    r2 = requests.get(inst.url + "/audit", params={"request_id": rid, "page_size": 2, "page": 2},
                      headers=bearer(admin), timeout=TIMEOUT).json()
    assert len(r2["rows"]) == 1 and r2["pagination"]["has_more"] is False
    assert r2["rows"][0]["id"] < d["rows"][-1]["id"]  # newest first
    r = requests.get(inst.url + "/audit", params={"role": ROLE["b"], "action": "query"},
                     headers=bearer(admin), timeout=TIMEOUT)
    assert r.status_code == 200 and all(x["role"] == ROLE["b"] for x in r.json()["rows"])
    assert_error(requests.get(inst.url + "/audit", headers=bearer(keys["a"]), timeout=TIMEOUT),
                 403, "forbidden")
    assert_error(requests.get(inst.url + "/audit", params={"since": "yesterday-ish"},
                              headers=bearer(admin), timeout=TIMEOUT), 422, "validation_error",
                 "since")
    assert_error(requests.get(inst.url + "/audit", params={"nope": "1"}, headers=bearer(admin),
                              timeout=TIMEOUT), 422, "validation_error", "query")


def test_audit_survives_a_restart(instances, keys, fakellm, uq):
    inst = start(instances, TENANTS)
    fakellm.sql(uq, BY_CITY)
    rid = "auditr-" + uq[-10:]
    r = requests.post(inst.url + "/query", json={"question": "r " + uq, "stream": False},
                      headers=dict(bearer(keys["b"]), **{"X-Request-Id": rid}), timeout=TIMEOUT)
    assert r.status_code == 200
    assert len(audit_rows("request_id = %s", (rid,))) == 1
    instances.stop(inst)
    inst = start(instances, TENANTS)
    admin = create_key("ten-admin2", "query,export,admin")
    d = requests.get(inst.url + "/audit", params={"request_id": rid}, headers=bearer(admin),
                     timeout=TIMEOUT).json()
    assert len(d["rows"]) == 1 and d["rows"][0]["role"] == ROLE["b"]


# ---------------------------------------------------------------------------------------------
# a catalog per role


def schema_json(inst, key):
    r = requests.get(inst.url + "/schema", headers=bearer(key), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return {t["name"]: t for t in r.json()["tables"]}


def schema_of(inst, key):
    return {n: [c["name"] for c in t["columns"]] for n, t in schema_json(inst, key).items()}


def test_rls_tables_show_no_other_tenants_values(inst, keys):
    """Common values and row estimates of a table under row-level security describe every
    tenant's rows: a tenant's catalog leaves them out. (pg_stats already hides them from a
    login subject to RLS, as the test stack's is; the role's catalog does not count on it, for
    a login that owns the tables or bypasses RLS.)"""
    rd, b = schema_json(inst, keys["reader"]), schema_json(inst, keys["b"])
    for t in ("customers", "ticket_sales"):
        assert all(not c.get("values") for c in b[t]["columns"]), b[t]
        assert b[t]["rows"] == -1 and rd[t]["rows"] > 0, (b[t]["rows"], rd[t]["rows"])
    # a table without a policy keeps its values for the tenant too
    vcity = lambda s: next(c for c in s["venues"]["columns"] if c["name"] == "city")
    assert json.dumps(vcity(b)) == json.dumps(vcity(rd))


def test_schema_shows_only_what_the_role_can_read(inst, keys):
    a, b, rd = (schema_of(inst, keys[k]) for k in ("a", "b", "reader"))
    assert "merch_orders" in rd and "email" in rd["customers"]
    assert "merch_orders" in a and "merch_orders" not in b
    for s in (a, b):
        assert "customers" in s and "email" not in s["customers"]
        assert "city" in s["customers"] and "ticket_sales" in s


def prompts(fakellm):
    """The prompts the model received, without the question (the user's own words)."""
    out = []
    for x in fakellm.calls()["requests"]:
        text = "\n".join(m.get("content", "") for m in x.get("messages", []))
        out.append(text.split("\nQuestion:")[0])
    return out


def test_prompt_holds_only_readable_names(inst, keys, fakellm, uq):
    fakellm.sql(uq, BY_CITY)
    ask(inst, keys["reader"], "merchandise orders and customer email per city " + uq)
    seen = prompts(fakellm)
    assert seen and "merch_orders" in seen[-1] and "email" in seen[-1]  # the control
    fakellm.reset()
    fakellm.sql(uq, BY_CITY)
    ask(inst, keys["b"], "merchandise orders and customer email per city " + uq)
    seen = prompts(fakellm)
    assert seen
    for p in seen:
        assert "merch_orders" not in p and "email" not in p, p[:2000]


@pytest.mark.parametrize("tenant,sql", [
    ("b", "SELECT count(*) AS n FROM merch_orders"),
    ("a", "SELECT email FROM customers"),
    ("b", "SELECT c.email FROM customers c JOIN ticket_sales t ON t.customer_id = c.customer_id"),
])
def test_sql_naming_unreadable_names_is_refused_before_it_runs(inst, keys, fakellm, uq, tenant,
                                                               sql):
    fakellm.sql(uq, sql)
    rid = "refused-" + uq[-10:]
    r = requests.post(inst.url + "/query", json={"question": "unreadable " + uq, "stream": False},
                      headers=dict(bearer(keys[tenant]), **{"X-Request-Id": rid}),
                      timeout=TIMEOUT)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["code"] in ("invalid_sql", "unsafe_sql"), r.json()
    assert "rows" not in r.json()
    # the reader runs the same SQL: the refusal is the role's doing
    r = requests.post(inst.url + "/query", json={"question": "unreadable " + uq, "stream": False},
                      headers=bearer(keys["reader"]), timeout=TIMEOUT)
    assert r.status_code == 200, r.text


def test_result_cache_never_crosses_tenants(instances, keys, fakellm, uq):
    """With the result cache on, a tenant's cached page is never another tenant's answer."""
    rc = start(instances, ("tenants-rcache", 18096, {"T2SQL_AUTH_REQUIRED": "true",
                                                     "T2SQL_RESULT_CACHE": "true"}))
    fakellm.sql(uq, BY_CITY)
    seen = {}
    for t in ("a", "b", "a", "b"):
        r = requests.post(rc.url + "/query", json={"question": "rc " + uq, "stream": False},
                          headers=bearer(keys[t]), timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        want = norm(as_role(BY_CITY, ROLE[t], {"city": CITY[t]}))
        assert norm(loads(r.text)["rows"]) == want, (t, r.headers.get("X-Cache"))
        seen.setdefault(t, []).append(r.headers.get("X-Cache"))
    assert seen["a"][1] == "hit" and seen["b"][1] == "hit", seen  # the cache was in play
    instances.stop(rc)
