"""test_export -- exportd end to end against the stack's PostgreSQL and S3 stand-in.

Uses the PostgreSQL and S3 (the verifying proxy before s3rver) that scripts/stack.sh started
(T2SQL_TEST_PG, T2SQL_TEST_S3): a database of its own (t2sql_export_test, made afresh with conf/schema.sql) and a bucket of
its own (t2sql-export-<random>, emptied and removed afterwards), so the stack's own exportd,
which serves the database t2sql, never sees these jobs. It starts its own bin/exportd
processes with overrides and drives them by creating jobs with bin/t2sql-jobs (core/jobs.c's
jobs_create: insert + NOTIFY). Failure injection uses a small HTTP proxy in front of s3rver
on an ephemeral port.

Covered: CSV byte-equal to psql's COPY (header included, multipart), csv.gz, single PUT and
empty results, live counters, status documents (not_found for malformed, unknown and foreign
ids; conflict on cancelling a finished job), query errors, read-only and statement timeout,
kill -9 mid-multipart x20, S3 answering 500 / dropping connections mid-upload, database
restart with jobs waiting, the COPY connection killed, cancel while running, SIGTERM
hand-back, lease expiry and attempt limit, concurrency, no secrets in the log; a cancel
racing the final PUT / CompleteMultipartUpload (no object left), COPY waiting on a table lock
(lock timeout once; a long wait keeps its job, no second claim), the sweeper of uploads left
on finished jobs, SIGTERM to the whole process group, a lost CompleteMultipartUpload reply
(NoSuchUpload on the retry, object there), dot segments in keys, export_part_uploads parts
in flight at once and never more; the master's SIGHUP reload
(a changed setting taken, an invalid or bucketless file refused) and its fast second SIGTERM."""
import gzip
import hashlib
import http.client
import http.server
import json
import os
import random
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
import uuid

import psycopg2
import pytest
import requests

from conftest import restart_postgres, s3_add_key, s3_client, s3_uploads, url_host_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DBNAME = "t2sql_export_test"
# the stack's servers (conftest's stack_env fixture fails every test when they are not set)
_PG = dict(re.findall(r"(\w+)=(\S+)", os.environ.get("T2SQL_TEST_PG", "")))
PGHOST, PGPORT = _PG.get("host", "127.0.0.1"), int(_PG.get("port", "0"))
PGPASS = _PG.get("password", "")  # the locked-down cluster's superuser password
S3URL = os.environ.get("T2SQL_TEST_S3", "http://127.0.0.1:0").rstrip("/")
S3HOST, S3PORT = url_host_port(S3URL)
BUCKET = "t2sql-export-" + uuid.uuid4().hex[:12]
ACCESS = "T2SQLEXPORTTEST"
SECRET = "t2sqlTestSecretKey9f3b1c"  # the verifying proxy checks it; it must never be logged
S3 = s3_client(ACCESS, SECRET) if os.environ.get("T2SQL_TEST_S3_KEYS") else None
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
import awsmeta  # noqa: E402  (the STS / ECS / IMDS stand-ins)

EXPORTD = os.path.join(ROOT, "bin", "exportd")
JOBS = os.path.join(ROOT, "bin", "t2sql-jobs")

BASE_ENV = {
    "T2SQL_DB_HOST": PGHOST,
    "T2SQL_DB_PORT": str(PGPORT),
    "T2SQL_DB_USER": "postgres",
    "T2SQL_DB_NAME": DBNAME,
    "T2SQL_DB_PASS": PGPASS,
    "S3_ENDPOINT": S3URL,
    "EXPORT_BUCKET": BUCKET,
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": ACCESS,
    "AWS_SECRET_ACCESS_KEY": SECRET,
    "T2SQL_EXPORT_PART_MB": "5",
    "T2SQL_EXPORT_CONCURRENCY": "2",
    "T2SQL_EXPORT_LEASE_S": "5",
    "T2SQL_EXPORT_RETRIES": "2",
    "T2SQL_LOG_LEVEL": "info",
    "T2SQL_QUERY_ROLE": "",
}

SETUP_SQL = r"""
CREATE TABLE big AS
  SELECT g AS id, 'name ' || g AS name, (g * 1.25)::numeric(12,2) AS amount,
         timestamptz '2024-01-01 00:00:00+00' + g * interval '17 seconds' AS ts,
         CASE WHEN g % 7 = 0 THEN E'quote " comma , newline\n and \\ backslash'
              WHEN g % 11 = 0 THEN 'caf' || chr(233) || ' ' || chr(8364) || ' ' || chr(20013)
              WHEN g % 13 = 0 THEN NULL ELSE repeat('x', g % 40) END AS note
  FROM generate_series(1, 160000) g;
CREATE TABLE kt AS SELECT g AS id, md5(g::text) || repeat('k', 150) AS payload
  FROM generate_series(1, 60000) g;
CREATE FUNCTION t_pause(n int, after_n int, every int, secs float8) RETURNS int
  LANGUAGE plpgsql AS $$ BEGIN
    IF n > after_n AND n % every = 0 THEN PERFORM pg_sleep(secs); END IF;
    RETURN n; END $$;
CREATE SEQUENCE seq_for_readonly_test;
"""

BIG_SQL = "SELECT * FROM big ORDER BY id"
# ~12 MB in ~1.5 s: long enough to be killed mid-multipart
KILL_SQL = "SELECT id, payload FROM kt WHERE t_pause(id, 0, 1000, 0.025) > 0"
# 6 MB fast (multipart begins), then slow for a long time
SLOW_SQL = "SELECT id, payload FROM kt WHERE t_pause(id, 32000, 100, 0.05) > 0"


def run(cmd, **kw):
    """Runs cmd from / (the postgres user may not enter the checkout)."""
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=kw.pop("timeout", 60), cwd=kw.pop("cwd", "/"), **kw)


def connect(dbname=DBNAME):
    c = psycopg2.connect(host=PGHOST, port=PGPORT, user="postgres", password=PGPASS,
                         dbname=dbname, connect_timeout=5)
    c.autocommit = True
    return c


@pytest.fixture(scope="module")
def export_db(stack_env):
    """The module's database on the stack's PostgreSQL, made afresh; dropped afterwards."""
    run(["make", "-C", ROOT, "bin/exportd", "bin/t2sql-jobs"], timeout=300)
    admin = connect("postgres")
    try:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        admin.cursor().execute(f"CREATE DATABASE {DBNAME}")
        with open(os.path.join(ROOT, "conf", "schema.sql")) as f:
            schema = f.read()
        c = connect()
        c.cursor().execute(schema)
        c.cursor().execute(SETUP_SQL)
        c.close()
        yield DBNAME
    finally:
        try:
            connect("postgres").cursor().execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        except psycopg2.Error:
            pass  # the stack is going away
        admin.close()


@pytest.fixture(scope="module")
def s3(export_db):
    """The module's bucket on the stack's S3 (the verifying proxy, which knows the module's
    key); emptied and removed afterwards."""
    s3_add_key(ACCESS, SECRET)
    S3.create_bucket(Bucket=BUCKET)
    try:
        yield BUCKET
    finally:
        for key, uid in s3_uploads(S3, BUCKET):
            S3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid)
        for key in list_keys(""):
            S3.delete_object(Bucket=BUCKET, Key=key)
        S3.delete_bucket(Bucket=BUCKET)


def sql1(q, *args):
    c = connect()
    try:
        cur = c.cursor()
        cur.execute(q, args)
        return cur.fetchone() if cur.description else None
    finally:
        c.close()


class Exportd:
    """One bin/exportd process with its own log file."""

    def __init__(self, tmpdir, new_group=False, args=(), **env):
        """env: overrides; a value of None removes the variable (the -c file then counts)."""
        self.log = os.path.join(tmpdir, f"exportd-{time.time_ns()}.log")
        e = dict(os.environ)
        e.update(BASE_ENV)
        e["T2SQL_LOG_FILE"] = self.log
        for k, v in env.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
        self.env = e
        self.proc = subprocess.Popen([EXPORTD, *args], env=e, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=new_group)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # workers die with the master (PDEATHSIG); make sure before the next test
        deadline = time.time() + 5
        while time.time() < deadline and worker_pids(self.proc.pid):
            time.sleep(0.05)

    def text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""


def worker_pids(master):
    out = subprocess.run(["pgrep", "-P", str(master)], stdout=subprocess.PIPE, text=True)
    return out.stdout.split()


@pytest.fixture
def exportd_factory(s3, tmp_path):
    started = []

    def make(new_group=False, args=(), **env):
        d = Exportd(str(tmp_path), new_group=new_group, args=args, **env)
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop(signal.SIGKILL)
        text = d.text()
        assert SECRET not in text, "a secret reached the log"
        assert not PGPASS or PGPASS not in text, "the database password reached the log"


def jobs_tool(*args, env=None):
    """env: overrides; a value of None removes the variable."""
    e = dict(os.environ)
    e.update(BASE_ENV)
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    p = subprocess.run([JOBS, *args], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    out = p.stdout.strip()
    if p.returncode != 0:
        return None, json.loads(out)
    return out, None


def create(sql, owner="alice", fmt="csv"):
    out, err = jobs_tool("create", sql, owner, fmt)
    assert err is None, err
    return out


def status(job_id, owner="alice"):
    out, err = jobs_tool("status", job_id, owner)
    return json.loads(out) if out else err


def wait_status(job_id, want, timeout=60, owner="alice"):
    deadline = time.time() + timeout
    st = None
    while time.time() < deadline:
        st = status(job_id, owner)
        if st.get("status") in want:
            return st
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach {want}: {st}")


def wait_for(pred, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def psql_copy(sql):
    env = dict(os.environ, PGCLIENTENCODING="UTF8", PGPASSWORD=PGPASS)
    return run(["psql", "-X", "-h", PGHOST, "-p", str(PGPORT), "-U", "postgres", "-d", DBNAME, "-c",
                f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)"], env=env,
               timeout=120).stdout


def download(st):
    r = requests.get(st["download_url"], timeout=60)
    assert r.status_code == 200, r.text[:300]
    return r.content


def list_keys(prefix):
    """Every key under prefix in the module's bucket (all pages of the listing)."""
    keys, marker = [], ""
    while True:
        r = S3.list_objects(Bucket=BUCKET, Prefix=prefix, Marker=marker)
        page = [o["Key"] for o in r.get("Contents", [])]
        keys += page
        if not page or not r.get("IsTruncated"):
            return keys
        marker = page[-1]


def parts_left(prefix):
    """Multipart uploads still open under prefix (each holds its parts' bytes)."""
    return s3_uploads(S3, BUCKET, prefix)


def upload_id(job_id):
    row = sql1("SELECT upload_id FROM t2sql.export_jobs WHERE id = %s", job_id)
    return row and row[0]


def rows_in(csv_bytes):
    """Data rows of a CSV body (quoted newlines are not row ends)."""
    n, quoted = 0, False
    for ch in csv_bytes.decode():
        if ch == '"':
            quoted = not quoted
        elif ch == "\n" and not quoted:
            n += 1
    return n - 1


@pytest.fixture(scope="module")
def big_ref(export_db):
    return psql_copy(BIG_SQL)


@pytest.fixture(scope="module")
def kill_ref(export_db):
    return hashlib.sha256(psql_copy(KILL_SQL)).hexdigest()


# ---- results ------------------------------------------------------------------------------


def test_csv_equals_psql_copy(exportd_factory, big_ref):
    d = exportd_factory(EXPORT_PREFIX="csv/")
    job = create(BIG_SQL)
    st = wait_status(job, {"SUCCESS", "FAILED"})
    assert st["status"] == "SUCCESS", st
    body = download(st)
    assert len(big_ref) > 10 << 20  # several 5 MiB parts
    assert body[:40] == big_ref[:40] and body.startswith(b"id,name,amount,ts,note\n")
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(big_ref).hexdigest()
    assert st["row_count"] == 160000 == rows_in(big_ref)
    assert st["bytes"] == len(big_ref)
    assert st["expires_in"] == 3600
    assert st["created_at"] and st["started_at"] and st["finished_at"]
    assert list_keys(f"csv/{job}") == [f"csv/{job}.csv"]
    assert re.search(rf"job {job}: SUCCESS, 160000 rows, \d+ bytes, [3-9] parts", d.text())


def test_wrong_secret_refused_by_s3(exportd_factory):
    """The stack's S3 recomputes every signature: a wrong secret fails the export (no object,
    no upload left) and a download URL presigned with it is refused."""
    d = exportd_factory(EXPORT_PREFIX="badkey/", AWS_SECRET_ACCESS_KEY=SECRET + "-wrong")
    job = create("SELECT 1 AS one")
    st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=60)
    d.stop()
    assert st["status"] == "FAILED" and "PutObject" in st["error"], st
    assert "403 SignatureDoesNotMatch" in st["error"], st
    assert SECRET not in st["error"]
    assert list_keys(f"badkey/{job}") == []
    good = create("SELECT 2 AS two")
    exportd_factory(EXPORT_PREFIX="badkey/")
    st = wait_status(good, {"SUCCESS", "FAILED"}, timeout=60)
    assert st["status"] == "SUCCESS", st
    bad, err = jobs_tool("status", good, "alice", env={"AWS_SECRET_ACCESS_KEY": "wrong"})
    assert err is None
    r = requests.get(json.loads(bad)["download_url"], timeout=30)
    assert r.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in r.content
    assert download(st) == b"two\n2\n"


def test_session_token_signed(exportd_factory):
    """Temporary credentials: the token travels signed (multipart and the presigned URL);
    without it S3 refuses the key."""
    s3_add_key("ASIAT2SQLEXPORTTEST", SECRET, "FwoGZXIvYXdzEexport/token+=")
    tok = {"AWS_ACCESS_KEY_ID": "ASIAT2SQLEXPORTTEST",
           "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEexport/token+="}
    d = exportd_factory(EXPORT_PREFIX="token/", **tok)
    job = create(BIG_SQL)
    st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=90)
    d.stop()
    assert st["status"] == "SUCCESS", st
    assert tok["AWS_SESSION_TOKEN"] not in d.text()  # the token is a secret too
    out, err = jobs_tool("status", job, "alice", env=tok)
    url = json.loads(out)["download_url"]
    assert "X-Amz-Security-Token=" in url
    r = requests.get(url, timeout=60)
    assert r.status_code == 200 and rows_in(r.content) == 160000
    assert parts_left("token/") == []
    notok = {"AWS_ACCESS_KEY_ID": "ASIAT2SQLEXPORTTEST", "AWS_SESSION_TOKEN": None}
    exportd_factory(EXPORT_PREFIX="notoken/", **notok)
    job = create("SELECT 1 AS one")
    st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=60)
    assert st["status"] == "FAILED" and "403 InvalidToken" in st["error"], st


@pytest.fixture
def meta():
    """The STS / ECS / IMDS stand-ins; what they hand out the S3 proxy accepts until expiry."""
    m = awsmeta.AwsMeta(lambda ak, sk, tok, exp: s3_add_key(ak, sk, tok, exp))
    yield m
    m.close()


NO_KEYS = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None}
S3_RETRY = re.compile(r"s3: .*\(attempt \d+ of")


def test_credential_chain_signs_exports(exportd_factory, meta, tmp_path):
    """No keys configured: each source of the chain signs exportd's requests and the
    presigned URL (the proxy knows only what the source handed out)."""
    token = tmp_path / "web-token"
    token.write_text(meta.web_token + "\n")
    creds = tmp_path / "credentials"
    creds.write_text(f"[exports]\naws_access_key_id = {ACCESS}\naws_secret_access_key = {SECRET}\n")
    sources = {
        "profile exports": {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_PROFILE": "exports"},
        "web-identity": {"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/t2sql",
                         "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
                         "AWS_ENDPOINT_URL_STS": meta.url + "/sts"},
        "ecs": {"AWS_CONTAINER_CREDENTIALS_FULL_URI": meta.url + "/ecs/creds",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": meta.ecs_token},
        "imds": {"AWS_EC2_METADATA_SERVICE_ENDPOINT": meta.url},
    }
    for name, extra in sources.items():
        env = dict(NO_KEYS, HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true", **extra)
        if name == "imds":
            env.pop("AWS_EC2_METADATA_DISABLED")
        d = exportd_factory(EXPORT_PREFIX="chain/", **env)
        job = create("SELECT 1 AS one")
        st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=60)
        d.stop()
        assert st["status"] == "SUCCESS", (name, st)
        assert f"aws credentials from {name}" in d.text(), name
        out, err = jobs_tool("status", job, "alice", env=env)
        assert err is None, err
        r = requests.get(json.loads(out)["download_url"], timeout=30)
        assert (r.status_code, r.content) == (200, b"one\n1\n"), (name, r.text[:300])
    assert meta.issued["sts"] >= 2 and meta.issued["ecs"] >= 2 and meta.issued["imds"] >= 2


def test_short_lived_credentials_refreshed_mid_export(exportd_factory, meta, tmp_path):
    """IMDS hands out 8-second credentials (the proxy refuses them after that); an export
    of ~14 s refreshes them before they expire: no request refused, none retried."""
    meta.lifetime = 8
    env = dict(NO_KEYS, HOME=str(tmp_path), AWS_EC2_METADATA_SERVICE_ENDPOINT=meta.url)
    d = exportd_factory(EXPORT_PREFIX="refresh/", T2SQL_EXPORT_CONCURRENCY=1, **env)
    t0 = time.time()
    job = create(SLOW_SQL)
    st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=180)
    took = time.time() - t0
    d.stop()
    assert st["status"] == "SUCCESS", st
    assert took > meta.lifetime, took  # it outlived the first credentials
    assert meta.issued["imds"] >= 2
    log = d.text()
    assert not S3_RETRY.search(log) and "ExpiredToken" not in log, log[-2000:]
    assert parts_left("refresh/") == []
    out, err = jobs_tool("status", job, "alice", env=env)
    r = requests.get(json.loads(out)["download_url"], timeout=60)
    assert r.status_code == 200 and rows_in(r.content) == 60000


def test_gzip_decompresses_to_the_same(exportd_factory, big_ref):
    exportd_factory(EXPORT_PREFIX="gz/")
    job = create(BIG_SQL, fmt="csv.gz")
    st = wait_status(job, {"SUCCESS", "FAILED"})
    assert st["status"] == "SUCCESS", st
    body = download(st)
    assert gzip.decompress(body) == big_ref
    assert st["bytes"] == len(body) and st["row_count"] == 160000
    assert list_keys(f"gz/{job}") == [f"gz/{job}.csv.gz"]


def test_small_and_empty_results_single_put(exportd_factory):
    d = exportd_factory(EXPORT_PREFIX="small/")
    small = create("SELECT id, name FROM big WHERE id <= 3 ORDER BY id;")
    empty = create("SELECT id FROM big WHERE false")
    st = wait_status(small, {"SUCCESS", "FAILED"})
    assert download(st) == b"id,name\n1,name 1\n2,name 2\n3,name 3\n"
    assert st["row_count"] == 3
    st = wait_status(empty, {"SUCCESS", "FAILED"})
    assert download(st) == b"id\n" and st["row_count"] == 0
    assert "multipart" not in d.text()


def test_status_not_found_and_conflict(exportd_factory):
    exportd_factory(EXPORT_PREFIX="st/")
    job = create("SELECT 1 AS one", owner="alice")
    st = wait_status(job, {"SUCCESS"})
    assert st["job_id"] == job
    for bad in ["nope", "", job.upper().replace("-", ""), job + "0", "'; DROP TABLE x; --",
                "00000000-0000-0000-0000-000000000000"]:
        assert status(bad) == {"code": "not_found", "detail": "job not found", "status": 404}
    assert status(job, owner="mallory")["code"] == "not_found"  # a job belongs to its creator
    assert status(job, owner="")["code"] == "not_found"
    assert jobs_tool("cancel", job, "mallory")[1]["code"] == "not_found"
    assert jobs_tool("cancel", "zzz", "alice")[1]["code"] == "not_found"
    err = jobs_tool("cancel", job, "alice")[1]
    assert err["code"] == "conflict" and err["status"] == 409
    err = jobs_tool("create", "SELECT 1", "alice", "xlsx")[1]
    assert err["code"] == "validation_error"
    n = sql1("SELECT count(*) FROM t2sql.export_jobs WHERE format NOT IN ('csv','csv.gz')")[0]
    assert n == 0


def test_query_errors_read_only_and_timeout(exportd_factory):
    exportd_factory(EXPORT_PREFIX="err/", T2SQL_EXPORT_STATEMENT_TIMEOUT_MS=500)
    bad = create("SELECT 1 / (id - id) FROM big")
    write = create("SELECT nextval('seq_for_readonly_test')")
    slow = create("SELECT pg_sleep(3)")
    st = wait_status(bad, {"SUCCESS", "FAILED"})
    assert st["status"] == "FAILED" and "division by zero" in st["error"]
    st = wait_status(write, {"SUCCESS", "FAILED"})
    assert st["status"] == "FAILED" and "read-only transaction" in st["error"]
    st = wait_status(slow, {"SUCCESS", "FAILED"})
    assert st["status"] == "FAILED" and "statement timeout" in st["error"]
    assert "download_url" not in st


LIMITS_SQL = ("SELECT current_setting('transaction_read_only') AS ro,"
              " current_setting('temp_file_limit') AS temp,"
              " current_setting('statement_timeout') AS st,"
              " current_setting('lock_timeout') AS lt,"
              " current_setting('idle_in_transaction_session_timeout') AS it,"
              " current_setting('work_mem') AS wm,"
              " current_setting('standard_conforming_strings') AS scs,"
              " current_user AS who, current_setting('search_path') AS sp")


def test_copy_runs_under_the_same_limits(exportd_factory):
    """exportd's COPY opens its transaction through core/txn, as /query's pages do: read-only,
    temp_file_limit, export's own statement timeout, the lock and idle timeouts, work_mem, the
    query role and the quoted search path of `schemas` (t2sql left out, names kept as written)."""
    exportd_factory(EXPORT_PREFIX="lim/", T2SQL_QUERY_ROLE="t2sql_reader",
                    T2SQL_SCHEMAS="public, t2sql, Sales", T2SQL_TEMP_FILE_LIMIT_KB=3072,
                    T2SQL_EXPORT_STATEMENT_TIMEOUT_MS=7000, T2SQL_STATEMENT_TIMEOUT_MS=1000,
                    T2SQL_LOCK_TIMEOUT_MS=1500, T2SQL_IDLE_TX_TIMEOUT_MS=45000,
                    T2SQL_WORK_MEM="6MB")
    st = wait_status(create(LIMITS_SQL), {"SUCCESS", "FAILED"})
    assert st["status"] == "SUCCESS", st
    lines = download(st).decode().splitlines()
    assert lines[0] == "ro,temp,st,lt,it,wm,scs,who,sp"
    # set_config keeps the quoted list as written (SET LOCAL would show it as public, "Sales")
    assert lines[1] == ('on,3MB,7s,1500ms,45s,6MB,on,t2sql_reader,"""public"", ""Sales"""'), lines[1]


def test_live_counters_and_concurrency(exportd_factory):
    exportd_factory(EXPORT_PREFIX="live/", T2SQL_EXPORT_CONCURRENCY=3)
    # wide rows: the server flushes COPY data in 8 kB packets, not row by row
    slow = "SELECT g, repeat('x', 3000) FROM generate_series(1, 40) g WHERE t_pause(g, 0, 1, 0.1) > 0"
    jobs = [create(slow) for _ in range(3)]
    seen = wait_for(lambda: [s for s in map(status, jobs)
                             if s["status"] == "IN_PROGRESS" and s["rows_written"] > 0],
                    what="live rows_written")
    assert seen[0]["bytes"] > 0 and seen[0]["started_at"]
    for j in jobs:
        st = wait_status(j, {"SUCCESS", "FAILED"})
        assert st["status"] == "SUCCESS" and st["row_count"] == 40
    # three at once: every job started before any finished
    r = sql1("SELECT max(started_at) < min(finished_at), count(DISTINCT worker) "
             "FROM t2sql.export_jobs WHERE id = ANY(%s::uuid[])", jobs)
    assert r == (True, 3)


# ---- limits (issue 11): temp files, time, bytes, rows, fairness ----------------------------

# the attack run's reproductions: a count whose series spills to temp files, an endless CTE
COUNT_1E12 = "SELECT count(*) FROM generate_series(1, (10^12)::bigint) g"
ENDLESS = ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
           "SELECT n, repeat('z', 200) AS pad FROM r")


def assert_failed_and_aborted(d, job, prefix, words, ext=None):
    """FAILED with the limit named in the error, no object, the COPY stopped, and -- when its
    multipart upload had begun (ext: the key's extension) -- the upload aborted (the abort sent;
    an S3 that refuses it leaves the id on the row for the sweeper)."""
    st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=180)
    assert st["status"] == "FAILED", st
    for w in words:
        assert w in st["error"], st["error"]
    assert "download_url" not in st
    assert list_keys(f"{prefix}{job}") == []
    if ext:
        wait_for(lambda: f"aborting multipart upload of {prefix}{job}.{ext}" in d.text(),
                 timeout=30, what="the upload's abort")
    else:
        assert upload_id(job) is None
    wait_for(lambda: sql1("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                          "'exportd-copy' AND state = 'active' "
                          "AND datname = current_database()")[0] == 0,
             timeout=30, what="the COPY to stop")
    return st


def test_export_past_temp_file_limit(exportd_factory):
    """The count of 10^12 rows stops at temp_file_limit (it grew temp files past 2.5 GB)."""
    d = exportd_factory(EXPORT_PREFIX="tmp/", T2SQL_TEMP_FILE_LIMIT_KB=8192)
    job = create(COUNT_1E12)
    st = assert_failed_and_aborted(d, job, "tmp/", ["temp_file_limit"])
    assert st["rows_written"] == 0


def test_export_default_statement_timeout_is_minutes(exportd_factory):
    """No setting: the export's own timeout is 10 minutes, /query's does not apply to it."""
    exportd_factory(EXPORT_PREFIX="deflim/", T2SQL_STATEMENT_TIMEOUT_MS=1000)
    st = wait_status(create("SELECT current_setting('statement_timeout') AS st"),
                     {"SUCCESS", "FAILED"})
    assert st["status"] == "SUCCESS", st
    assert download(st).decode().splitlines() == ["st", "10min"]


def test_export_past_its_time_mid_upload(exportd_factory):
    """A slow export past export_statement_timeout_ms after its multipart upload began: FAILED
    with the timeout named, the upload aborted."""
    d = exportd_factory(EXPORT_PREFIX="time/", T2SQL_EXPORT_STATEMENT_TIMEOUT_MS=15000)
    # 6 MB fast (the multipart upload begins), then 2.8 minutes of pauses
    job = create("SELECT id, payload FROM kt WHERE t_pause(id, 32000, 10, 0.05) > 0")
    wait_for(lambda: upload_id(job), timeout=60, what="multipart upload to begin")
    assert_failed_and_aborted(d, job, "time/", ["statement timeout"], ext="csv")


@pytest.mark.parametrize("fmt", ["csv", "csv.gz"])
def test_export_past_max_bytes(exportd_factory, fmt):
    """The endless WITH RECURSIVE (736 MB in 25 s before) fails past export_max_bytes, after
    its multipart upload began (5 MiB parts); the upload is aborted."""
    limit = 7 << 20
    d = exportd_factory(EXPORT_PREFIX="bytes/", T2SQL_EXPORT_MAX_BYTES=limit)
    sql = ENDLESS if fmt == "csv" else ENDLESS.replace("repeat('z', 200)", "md5(n::text)")
    job = create(sql, fmt=fmt)
    st = assert_failed_and_aborted(d, job, "bytes/", ["export_max_bytes", str(limit)], ext=fmt)
    assert limit < st["bytes"] <= limit + (1 << 20), st


def test_export_past_max_rows(exportd_factory):
    """export_max_rows rows are exported; one more fails the job (and the endless CTE too)."""
    d = exportd_factory(EXPORT_PREFIX="rows/", T2SQL_EXPORT_MAX_ROWS=30000)
    at = create("SELECT g FROM generate_series(1, 30000) g")
    over = create("SELECT g FROM generate_series(1, 30001) g")
    endless = create(ENDLESS)
    st = wait_status(at, {"SUCCESS", "FAILED"})
    assert st["status"] == "SUCCESS" and st["row_count"] == 30000, st
    assert_failed_and_aborted(d, over, "rows/", ["export_max_rows (30000)"])
    st = assert_failed_and_aborted(d, endless, "rows/", ["export_max_rows (30000)"], ext="csv")
    assert st["rows_written"] <= 30001


SLOW8 = "SELECT g FROM generate_series(1, 40) g WHERE t_pause(g, 0, 1, 0.2) > 0"  # ~8 s
SLOW2 = "SELECT g FROM generate_series(1, 10) g WHERE t_pause(g, 0, 1, 0.2) > 0"  # ~2 s


def started(job):
    return sql1("SELECT started_at FROM t2sql.export_jobs WHERE id = %s", job)[0]


def finished(job):
    return sql1("SELECT finished_at FROM t2sql.export_jobs WHERE id = %s", job)[0]


def test_fairness_other_owners_first(exportd_factory):
    """export_concurrency = 2, export_max_per_owner = 0 (= 1 here). Both slots busy (alice's
    long export, zed's short one); then alice's second and bob's export wait, alice's the
    older. When zed's ends, the free slot goes to bob (alice has one running), not to the
    oldest job; alice's second runs after."""
    exportd_factory(EXPORT_PREFIX="fair/", T2SQL_EXPORT_CONCURRENCY=2)
    a1 = create(SLOW8, owner="alice")
    wait_status(a1, {"IN_PROGRESS"}, owner="alice")
    z1 = create(SLOW2, owner="zed")
    wait_status(z1, {"IN_PROGRESS"}, owner="zed")
    a2 = create("SELECT 2 AS two", owner="alice")
    b1 = create("SELECT 1 AS one", owner="bob")
    for j, who in ((a1, "alice"), (z1, "zed"), (a2, "alice"), (b1, "bob")):
        st = wait_status(j, {"SUCCESS", "FAILED"}, timeout=120, owner=who)
        assert st["status"] == "SUCCESS", st
    assert started(b1) < started(a2), "the older job of an owner at its limit went first"
    assert started(b1) >= finished(z1)


def test_fairness_never_leaves_a_slot_idle(exportd_factory):
    """export_max_per_owner = 2, export_concurrency = 3: with no other owner's job waiting,
    carol's third export runs beside her two (the rule never leaves a slot idle)."""
    exportd_factory(EXPORT_PREFIX="fair2/", T2SQL_EXPORT_CONCURRENCY=3,
                    T2SQL_EXPORT_MAX_PER_OWNER=2)
    a = [create(SLOW8, owner="carol") for _ in range(2)]
    for j in a:
        wait_status(j, {"IN_PROGRESS"}, owner="carol")
    a3 = create(SLOW8, owner="carol")
    wait_status(a3, {"IN_PROGRESS", "SUCCESS", "FAILED"}, owner="carol")
    for j in a + [a3]:
        assert wait_status(j, {"SUCCESS", "FAILED"}, timeout=120,
                           owner="carol")["status"] == "SUCCESS"
    r = sql1("SELECT max(started_at) < min(finished_at) FROM t2sql.export_jobs "
             "WHERE id = ANY(%s::uuid[])", a + [a3])
    assert r == (True,), "three of one owner's exports did not run at once with slots free"


# ---- failures -----------------------------------------------------------------------------


def test_kill9_mid_multipart_20_runs(exportd_factory, kill_ref):
    runs = int(os.environ.get("T2SQL_KILL_RUNS", "20"))
    rng = random.Random(5)
    d = exportd_factory(EXPORT_PREFIX="kill/")
    jobs = []
    for i in range(runs):
        job = create(KILL_SQL)
        jobs.append(job)
        wait_for(lambda: upload_id(job), what=f"run {i}: multipart upload to begin")
        time.sleep(rng.uniform(0.0, 0.6))
        d.proc.kill()  # SIGKILL the master; the workers die with it
        d.proc.wait()
        assert sql1("SELECT status FROM t2sql.export_jobs WHERE id = %s", job)[0] == \
            "IN_PROGRESS", f"run {i}: the job finished before the kill"
        d = exportd_factory(EXPORT_PREFIX="kill/")
        st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=30)
        assert st["status"] == "SUCCESS", st
    assert "aborting multipart upload left by an earlier attempt" in d.text() or runs == 0
    for job in jobs:
        st = status(job)
        assert st["status"] == "SUCCESS"
        assert hashlib.sha256(download(st)).hexdigest() == kill_ref
        assert sql1("SELECT attempts FROM t2sql.export_jobs WHERE id = %s", job)[0] == 2
    keys = list_keys("kill/")
    assert sorted(keys) == sorted(f"kill/{j}.csv" for j in jobs)  # one object each, no extras
    assert parts_left("kill/") == []  # each killed attempt's upload was aborted: no parts left
    n = sql1("SELECT count(*) FROM t2sql.export_jobs WHERE s3_key LIKE 'kill/%%'")[0]
    assert n == runs


class FaultProxy:
    """HTTP proxy in front of s3rver. mode: 'pass', '500' (after `after` UploadPart
    requests, answers 500 to everything), 'drop' (same, but closes the connection),
    'hold_abort' (an AbortMultipartUpload reaches s3rver once `release` is set), 'slow_parts'
    (each UploadPart waits `delay` seconds before it is forwarded; `max_parts_in_flight` is
    the most UploadPart requests it held at once)."""

    def __init__(self):
        self.mode, self.after, self.parts, self.log = "pass", 0, 0, []
        self.delay, self.in_flight, self.max_parts_in_flight = 0.0, 0, 0
        self.lock = threading.Lock()
        # hold_final: the final PutObject / CompleteMultipartUpload reaches s3rver, its reply
        # is held until `release` is set. lose_complete: the first CompleteMultipartUpload
        # reaches s3rver, its reply is lost (connection closed).
        self.held, self.release, self.lost = threading.Event(), threading.Event(), 0
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                is_part = "partNumber=" in self.path
                proxy.log.append((self.command, self.path))
                if proxy.mode == "lose_complete" and proxy.lost and self.command == "POST" \
                        and "uploadId=" in self.path:
                    # what S3 answers a retried complete (s3rver answers 500 instead)
                    msg = (b"<Error><Code>NoSuchUpload</Code><Message>The specified upload "
                           b"does not exist.</Message></Error>")
                    self.send_response(404)
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                failing = proxy.mode in ("500", "drop") and proxy.parts >= proxy.after
                if is_part and not failing:
                    proxy.parts += 1
                if is_part and proxy.mode == "slow_parts":
                    with proxy.lock:
                        proxy.in_flight += 1
                        proxy.max_parts_in_flight = max(proxy.max_parts_in_flight,
                                                        proxy.in_flight)
                    time.sleep(proxy.delay)
                    with proxy.lock:
                        proxy.in_flight -= 1
                if failing:
                    if proxy.mode == "drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    msg = (b"<Error><Code>InternalError</Code><Message>injected failure"
                           b"</Message></Error>")
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                c = http.client.HTTPConnection(S3HOST, S3PORT, timeout=30)
                hdrs = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                hdrs["Host"] = self.headers.get("Host", "")
                c.request(self.command, self.path, body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                final = ((self.command == "PUT" and "partNumber=" not in self.path) or
                         (self.command == "POST" and "uploadId=" in self.path))
                if proxy.mode == "hold_abort" and self.command == "DELETE" and \
                        "uploadId=" in self.path:
                    proxy.held.set()
                    proxy.release.wait(30)
                if proxy.mode == "hold_final" and final:
                    proxy.held.set()
                    proxy.release.wait(30)
                if proxy.mode == "lose_complete" and final and self.command == "POST" and \
                        proxy.lost == 0:
                    proxy.lost += 1
                    c.close()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", r.getheader("Content-Length", "0")
                                 if self.command == "HEAD" else str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                c.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = S(("127.0.0.1", 0), H)  # ephemeral port: no clash with other servers
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.mark.parametrize("uploads", [1, 2])
def test_parts_upload_in_parallel(exportd_factory, big_ref, uploads):
    """export_part_uploads parts go up at once, never more (the next part fills meanwhile, so
    at most uploads + 1 parts are in memory), and the object is still psql's COPY byte for
    byte, its parts in order."""
    proxy = FaultProxy()
    try:
        proxy.mode, proxy.delay = "slow_parts", 0.5
        d = exportd_factory(EXPORT_PREFIX=f"par{uploads}/",
                            S3_ENDPOINT=f"http://127.0.0.1:{proxy.port}",
                            T2SQL_EXPORT_CONCURRENCY=1, T2SQL_EXPORT_PART_UPLOADS=uploads)
        job = create(BIG_SQL)
        st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=60)
        assert st["status"] == "SUCCESS", st
        assert hashlib.sha256(download(st)).hexdigest() == hashlib.sha256(big_ref).hexdigest()
        assert proxy.parts >= 3 and proxy.max_parts_in_flight == uploads
        assert re.search(rf"job {job}: SUCCESS, 160000 rows, \d+ bytes, {proxy.parts} parts",
                         d.text())
    finally:
        proxy.close()


@pytest.mark.parametrize("mode", ["500", "drop"])
def test_s3_failing_mid_upload(exportd_factory, mode, big_ref):
    proxy = FaultProxy()
    try:
        d = exportd_factory(EXPORT_PREFIX=f"fail{mode}/",
                            S3_ENDPOINT=f"http://127.0.0.1:{proxy.port}",
                            T2SQL_EXPORT_CONCURRENCY=1, T2SQL_EXPORT_SWEEP_S=1)
        proxy.mode, proxy.after = mode, 1
        job = create(BIG_SQL)
        st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=60)
        assert st["status"] == "FAILED", st
        assert "UploadPart" in st["error"] and "after 3 attempts" in st["error"]
        if mode == "500":
            assert "HTTP 500 InternalError: injected failure" in st["error"]
        log = d.text()
        assert f"aborting multipart upload of fail{mode}/{job}.csv" in log
        assert any(m == "DELETE" and "uploadId=" in p for m, p in proxy.log)  # abort tried
        assert len(re.findall(r"UploadPart .*attempt [123] of 3", log)) >= 3  # retried
        # S3 is back: the same exportd serves the next job
        proxy.mode = "pass"
        job2 = create("SELECT id, name FROM big WHERE id < 100 ORDER BY id")
        st = wait_status(job2, {"SUCCESS", "FAILED"}, timeout=30)
        assert st["status"] == "SUCCESS", st
        assert list_keys(f"fail{mode}/{job}") == []
        # the abort failed too (S3 was down); the sweeper aborts it once S3 is back
        wait_for(lambda: parts_left(f"fail{mode}/") == [], timeout=30,
                 what="the failed upload's parts to be aborted")
        assert upload_id(job) is None
    finally:
        proxy.close()


def test_s3_down_from_the_start(exportd_factory):
    # nothing listens on the proxy's port once it is closed
    proxy = FaultProxy()
    port = proxy.port
    proxy.close()
    exportd_factory(EXPORT_PREFIX="down/", S3_ENDPOINT=f"http://127.0.0.1:{port}")
    job = create("SELECT 1 AS one")
    st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=30)
    assert st["status"] == "FAILED" and "PutObject" in st["error"]
    assert "after 3 attempts" in st["error"]


def test_database_restart_while_jobs_wait(exportd_factory, big_ref):
    d = exportd_factory(EXPORT_PREFIX="dbr/")
    jobs = [create(BIG_SQL) for _ in range(5)]
    restart_postgres()
    jobs.append(create(BIG_SQL))  # and one created after the restart
    ref = hashlib.sha256(big_ref).hexdigest()
    for j in jobs:
        st = wait_status(j, {"SUCCESS", "FAILED"}, timeout=90)
        assert st["status"] == "SUCCESS", st
        assert hashlib.sha256(download(st)).hexdigest() == ref
    assert sorted(list_keys("dbr/")) == sorted(f"dbr/{j}.csv" for j in jobs)
    assert "attempt 2" in d.text() or "handed back" in d.text() or "cannot connect" in d.text()


def test_cancel_while_running(exportd_factory):
    d = exportd_factory(EXPORT_PREFIX="cancel/")
    job = create(SLOW_SQL)
    wait_for(lambda: upload_id(job), what="multipart upload to begin")
    out, err = jobs_tool("cancel", job, "alice")
    assert err is None
    assert status(job)["status"] == "CANCELLED"
    wait_for(lambda: f"job {job}: no longer ours (CANCELLED); upload aborted" in d.text(),
             timeout=10, what="the worker to notice the cancel")
    assert f"aborting multipart upload of cancel/{job}.csv" in d.text()
    # the COPY was cancelled too
    wait_for(lambda: sql1("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                          "'exportd-copy' AND state = 'active' "
                          "AND datname = current_database()")[0] == 0,
             timeout=10, what="the COPY to stop")
    st = status(job)
    assert st["status"] == "CANCELLED" and "download_url" not in st
    assert list_keys(f"cancel/{job}") == []
    assert parts_left("cancel/") == []  # the cancelled upload's parts are gone
    # the worker is free again
    job2 = create("SELECT 2 AS two")
    assert wait_status(job2, {"SUCCESS", "FAILED"})["status"] == "SUCCESS"


def test_sigterm_hands_back_running_jobs(exportd_factory):
    d = exportd_factory(EXPORT_PREFIX="term/")
    job = create(SLOW_SQL)
    wait_for(lambda: upload_id(job), what="multipart upload to begin")
    t0 = time.time()
    d.proc.send_signal(signal.SIGTERM)
    d.proc.wait(15)
    assert time.time() - t0 < 10
    row = sql1("SELECT status, attempts, worker FROM t2sql.export_jobs WHERE id = %s", job)
    assert row == ("PENDING", 0, None)
    assert f"job {job}: handed back (shutting down)" in d.text()
    assert f"aborting multipart upload of term/{job}.csv" in d.text()
    assert parts_left("term/") == []
    # a new exportd takes it from the start; cancel it to keep the test short
    d2 = exportd_factory(EXPORT_PREFIX="term/")
    wait_for(lambda: sql1("SELECT status FROM t2sql.export_jobs WHERE id = %s", job)[0] ==
             "IN_PROGRESS", what="the job to be claimed again")
    jobs_tool("cancel", job, "alice")
    d2.stop()
    assert d2.proc.returncode == 0


def test_lease_expiry_and_attempt_limit(exportd_factory):
    c = connect()
    cur = c.cursor()
    ins = ("INSERT INTO t2sql.export_jobs (owner, sql, status, attempts, worker, heartbeat_at) "
           "VALUES ('alice', 'SELECT 42 AS answer', 'IN_PROGRESS', %s, 'ghost:1:0', "
           "now() - %s::interval) RETURNING id::text")
    cur.execute(ins, (1, "1 hour"))
    stale = cur.fetchone()[0]
    cur.execute(ins, (3, "1 hour"))
    exhausted = cur.fetchone()[0]
    # a live worker (holding the lock) with a fresh heartbeat keeps its job ...
    cur.execute(ins, (1, "0 seconds"))
    held = cur.fetchone()[0]
    # ... and so does one whose heartbeat stopped: its session is alive and holds the lock
    # (a blocked worker must not have its job run twice)
    cur.execute(ins, (1, "1 hour"))
    stuck = cur.fetchone()[0]
    holder = connect()
    for j in (held, stuck):
        holder.cursor().execute("SELECT pg_advisory_lock(29746, hashtext(%s))", (j,))
    stop = threading.Event()

    def keep_fresh():  # `held`'s live worker heartbeats
        k = connect()
        while not stop.wait(0.3):
            k.cursor().execute("UPDATE t2sql.export_jobs SET heartbeat_at = now() "
                               "WHERE id = %s", (held,))
        k.close()

    t = threading.Thread(target=keep_fresh, daemon=True)
    t.start()
    try:
        exportd_factory(EXPORT_PREFIX="lease/", T2SQL_EXPORT_MAX_ATTEMPTS=3)
        st = wait_status(stale, {"SUCCESS", "FAILED"}, timeout=20)
        assert st["status"] == "SUCCESS" and download(st) == b"answer\n42\n"
        st = wait_status(exhausted, {"SUCCESS", "FAILED"}, timeout=20)
        assert st["status"] == "FAILED" and "gave up after 3 attempts" in st["error"]
        time.sleep(7)  # longer than the 5 s lease
        assert sql1("SELECT status, attempts, worker FROM t2sql.export_jobs WHERE id = %s",
                    stuck) == ("IN_PROGRESS", 1, "ghost:1:0")
        assert status(held)["status"] == "IN_PROGRESS"
        assert sql1("SELECT worker FROM t2sql.export_jobs WHERE id = %s", held)[0] == "ghost:1:0"
    finally:
        stop.set()
        t.join()
        cur.execute("UPDATE t2sql.export_jobs SET status = 'CANCELLED' WHERE id = ANY(%s::uuid[])",
                    ([held, stuck],))
        holder.close()
        c.close()


def test_copy_connection_killed_hands_back_and_counts(exportd_factory, kill_ref):
    d = exportd_factory(EXPORT_PREFIX="killcopy/")
    job = create(KILL_SQL)
    wait_for(lambda: upload_id(job), what="multipart upload to begin")
    n = sql1("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = 'exportd-copy' AND datname = current_database()")[0]
    assert n == 1
    st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=30)
    assert st["status"] == "SUCCESS"
    assert hashlib.sha256(download(st)).hexdigest() == kill_ref
    # handed back at once, and the attempt still counts (a query that kills its backend
    # must run out of attempts rather than loop)
    assert f"job {job}: handed back (" in d.text()
    assert sql1("SELECT attempts FROM t2sql.export_jobs WHERE id = %s", job)[0] == 2
    assert list_keys(f"killcopy/{job}") == [f"killcopy/{job}.csv"]


# ---- review fixes: races, lock waits, orphans, signals ---------------------------------------


@pytest.mark.parametrize("final", ["put", "complete"])
@pytest.mark.parametrize("release_at_once", [False, True])
def test_cancel_racing_the_final_request(exportd_factory, final, release_at_once):
    """A cancel while the final PutObject / CompleteMultipartUpload is in flight (it reached
    S3; the reply is held): the job stays CANCELLED and no object is left."""
    proxy = FaultProxy()
    try:
        prefix = f"race{final}{int(release_at_once)}/"
        d = exportd_factory(EXPORT_PREFIX=prefix, S3_ENDPOINT=f"http://127.0.0.1:{proxy.port}",
                            T2SQL_EXPORT_CONCURRENCY=1)
        proxy.mode = "hold_final"
        job = create("SELECT 1 AS one" if final == "put" else BIG_SQL)
        assert proxy.held.wait(60), "the final request never came"
        assert list_keys(f"{prefix}{job}") == [f"{prefix}{job}.csv"]  # S3 has it already
        out, err = jobs_tool("cancel", job, "alice")
        assert err is None
        if release_at_once:
            proxy.release.set()  # the reply arrives before any heartbeat sees the cancel
        wait_for(lambda: f"job {job}: deleting {prefix}{job}.csv (CANCELLED)" in d.text(),
                 timeout=15, what="the worker to delete the object")
        proxy.release.set()
        wait_for(lambda: list_keys(f"{prefix}{job}") == [], timeout=10, what="no object")
        st = status(job)
        assert st["status"] == "CANCELLED" and "download_url" not in st
        assert f"job {job}: SUCCESS" not in d.text()
    finally:
        proxy.release.set()
        proxy.close()


def test_table_lock_times_out_once(exportd_factory):
    """COPY waiting on a table lock ends at lock_timeout_ms with a clear error, once."""
    holder = connect()
    holder.autocommit = False
    try:
        holder.cursor().execute("LOCK TABLE kt IN ACCESS EXCLUSIVE MODE")
        d = exportd_factory(EXPORT_PREFIX="lockto/", T2SQL_LOCK_TIMEOUT_MS=1500)
        job = create("SELECT count(*) FROM kt")
        st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=30)
        assert st["status"] == "FAILED", st
        assert "lock timeout" in st["error"] and "1500 ms" in st["error"], st["error"]
        assert sql1("SELECT attempts FROM t2sql.export_jobs WHERE id = %s", job)[0] == 1
        assert d.text().count(f"job {job}: attempt") == 1
    finally:
        holder.rollback()
        holder.close()


def test_long_lock_wait_keeps_the_job(exportd_factory):
    """A COPY waiting on a lock for longer than the lease keeps heartbeating and holding its
    job: no second claim, and it finishes once the lock goes."""
    holder = connect()
    holder.autocommit = False
    try:
        holder.cursor().execute("LOCK TABLE kt IN ACCESS EXCLUSIVE MODE")
        d = exportd_factory(EXPORT_PREFIX="lockwait/", T2SQL_LOCK_TIMEOUT_MS=30000,
                            T2SQL_EXPORT_CONCURRENCY=3)
        job = create("SELECT count(*) AS n FROM kt")
        wait_for(lambda: sql1("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                              "'exportd-copy' AND wait_event_type = 'Lock' "
                              "AND datname = current_database()")[0] == 1,
                 what="the COPY to wait on the lock")
        time.sleep(7)  # longer than the 5 s lease
        row = sql1("SELECT status, attempts, now() - heartbeat_at < interval '3 seconds' "
                   "FROM t2sql.export_jobs WHERE id = %s", job)
        assert row == ("IN_PROGRESS", 1, True), row
        holder.rollback()
        st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=30)
        assert st["status"] == "SUCCESS" and download(st) == b"n\n60000\n"
        assert sql1("SELECT attempts FROM t2sql.export_jobs WHERE id = %s", job)[0] == 1
        assert d.text().count(f"job {job}: attempt") == 1
    finally:
        holder.rollback()
        holder.close()


def test_sweeper_aborts_uploads_of_finished_jobs(exportd_factory):
    """Uploads recorded on CANCELLED/FAILED rows (a worker died between a cancel and its
    abort) are aborted by the sweeper and cleared: real uploads with a part each, none
    left afterwards."""
    c = connect()
    cur = c.cursor()
    ids = []
    for st in ("CANCELLED", "FAILED"):
        key = f"sweep/{st}.csv"
        uid = S3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        S3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=1, Body=b"x" * 4096)
        cur.execute("INSERT INTO t2sql.export_jobs (owner, sql, status, s3_key, upload_id, "
                    "finished_at) VALUES ('alice', 'SELECT 1', %s, %s, %s, now()) "
                    "RETURNING id::text", (st, key, uid))
        ids.append(cur.fetchone()[0])
    c.close()
    assert len(parts_left("sweep/")) == 2
    d = exportd_factory(EXPORT_PREFIX="sweep/", T2SQL_EXPORT_SWEEP_S=1)
    for j in ids:
        wait_for(lambda: upload_id(j) is None, timeout=30, what="the sweeper to clear the upload")
        assert f"sweep: job {j}: aborting multipart upload of sweep/" in d.text()
        assert f"sweep: job {j}: aborted multipart upload of sweep/" in d.text()
    assert parts_left("sweep/") == []


def test_sigterm_to_process_group_hands_back(exportd_factory, kill_ref):
    """systemd / Ctrl-C signal the whole group: each worker gets SIGTERM directly and again
    from the master; that is still a graceful stop with the job handed back."""
    d = exportd_factory(EXPORT_PREFIX="pgrp/", new_group=True)
    job = create(SLOW_SQL)
    wait_for(lambda: upload_id(job), what="multipart upload to begin")
    os.killpg(d.proc.pid, signal.SIGTERM)
    d.proc.wait(15)
    assert d.proc.returncode == 0
    row = sql1("SELECT status, attempts, worker FROM t2sql.export_jobs WHERE id = %s", job)
    assert row == ("PENDING", 0, None)
    assert f"job {job}: handed back (shutting down)" in d.text()
    # and it finishes later (a short query in place of the slow one)
    sql1("UPDATE t2sql.export_jobs SET sql = %s WHERE id = %s", KILL_SQL, job)
    exportd_factory(EXPORT_PREFIX="pgrp/")
    st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=30)
    assert st["status"] == "SUCCESS"
    assert hashlib.sha256(download(st)).hexdigest() == kill_ref
    assert sql1("SELECT attempts FROM t2sql.export_jobs WHERE id = %s", job)[0] == 1


def test_complete_reply_lost_then_nosuchupload(exportd_factory, big_ref):
    proxy = FaultProxy()
    try:
        d = exportd_factory(EXPORT_PREFIX="lost/", S3_ENDPOINT=f"http://127.0.0.1:{proxy.port}",
                            T2SQL_EXPORT_CONCURRENCY=1)
        proxy.mode = "lose_complete"
        job = create(BIG_SQL)
        st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=60)
        assert proxy.lost == 1
        assert st["status"] == "SUCCESS", st
        assert "found the upload completed already" in d.text()
        assert hashlib.sha256(download(st)).hexdigest() == hashlib.sha256(big_ref).hexdigest()
    finally:
        proxy.close()


def test_dot_segments_in_the_key(exportd_factory):
    """The key goes on the wire as signed: curl must not squash "./" and "../" (on AWS the
    signature would not match). s3rver itself normalises the path, so look at the proxy."""
    proxy = FaultProxy()
    try:
        exportd_factory(EXPORT_PREFIX="dots/./a/../",
                        S3_ENDPOINT=f"http://127.0.0.1:{proxy.port}")
        job = create("SELECT 7 AS seven")
        st = wait_status(job, {"SUCCESS", "FAILED"}, timeout=30)
        assert st["status"] == "SUCCESS", st
        assert sql1("SELECT s3_key FROM t2sql.export_jobs WHERE id = %s", job)[0] == \
            f"dots/./a/../{job}.csv"
        assert ("PUT", f"/{BUCKET}/dots/./a/../{job}.csv") in proxy.log, proxy.log
    finally:
        proxy.close()


# ---- the master: reload, fast stop ----------------------------------------------------------


def test_reload_picks_up_a_changed_setting(exportd_factory, tmp_path):
    """SIGHUP: new workers use the changed file while a job in progress finishes under the
    old configuration (not handed back); an invalid file, or one without a bucket, is refused
    and the old configuration and workers are kept."""
    cfile = tmp_path / "exportd.conf"

    def conf(prefix, bucket=BUCKET, extra=""):
        cfile.write_text(f'export_prefix = "{prefix}"\nexport_bucket = "{bucket}"\n{extra}')
    conf("reload-a/")
    d = exportd_factory(args=["-c", str(cfile)], EXPORT_PREFIX=None, T2SQL_EXPORT_PREFIX=None,
                        EXPORT_BUCKET=None, T2SQL_EXPORT_BUCKET=None)
    wait_for(lambda: len(worker_pids(d.proc.pid)) == 2, what="two workers")
    old = set(worker_pids(d.proc.pid))
    slow = create("SELECT g FROM generate_series(1, 30) g WHERE t_pause(g, 0, 1, 0.1) > 0")
    wait_status(slow, {"IN_PROGRESS"})
    conf("reload-b/")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded; 2 workers" in d.text(), what="the reload")
    quick = create("SELECT 1 AS one")
    st = wait_status(quick, {"SUCCESS", "FAILED"})
    assert st["status"] == "SUCCESS"
    assert list_keys(f"reload-b/{quick}") == [f"reload-b/{quick}.csv"]
    st = wait_status(slow, {"SUCCESS", "FAILED"}, timeout=30)
    assert st["status"] == "SUCCESS" and st["row_count"] == 30
    assert list_keys(f"reload-a/{slow}") == [f"reload-a/{slow}.csv"]
    assert sql1("SELECT attempts FROM t2sql.export_jobs WHERE id = %s", slow)[0] == 1
    wait_for(lambda: not (set(worker_pids(d.proc.pid)) & old), what="the old workers to exit")
    new = set(worker_pids(d.proc.pid))
    assert len(new) == 2

    refused = (  # (bucket, extra lines, what the log says)
        (BUCKET, "export_part_mb = 1\n", "reload failed, keeping the old configuration"),
        ("", "", "reload refused, keeping the old configuration: export_bucket is empty"))
    for bucket, extra, why in refused:
        conf("reload-c/", bucket=bucket, extra=extra)
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: why in d.text(), what=why)
        job = create("SELECT 2 AS two")
        assert wait_status(job, {"SUCCESS", "FAILED"})["status"] == "SUCCESS"
        assert list_keys(f"reload-b/{job}") == [f"reload-b/{job}.csv"]  # the old prefix
        assert set(worker_pids(d.proc.pid)) == new  # the workers were kept
    assert d.proc.poll() is None


def test_second_sigterm_stops_at_once(exportd_factory):
    """The first SIGTERM waits for the workers to hand their jobs back (here: an abort S3
    does not answer); the second kills them, and the job is recovered by the next claim."""
    proxy = FaultProxy()
    try:
        d = exportd_factory(EXPORT_PREFIX="fast/", S3_ENDPOINT=f"http://127.0.0.1:{proxy.port}",
                            T2SQL_EXPORT_CONCURRENCY=1)
        job = create(SLOW_SQL)
        wait_for(lambda: upload_id(job), what="multipart upload to begin")
        proxy.mode = "hold_abort"
        d.proc.send_signal(signal.SIGTERM)
        assert proxy.held.wait(15), "the worker never tried to abort the upload"
        time.sleep(1)
        assert d.proc.poll() is None, "the master did not wait for its worker"
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(10)
        assert time.time() - t0 < 5 and d.proc.returncode == 0
        assert worker_pids(d.proc.pid) == []
        assert "stopping now" in d.text() and f"job {job}: handed back" not in d.text()
        assert sql1("SELECT status FROM t2sql.export_jobs WHERE id = %s", job)[0] == \
            "IN_PROGRESS"
    finally:
        proxy.release.set()
        proxy.close()
    exportd_factory(EXPORT_PREFIX="fast/")  # claims it again once the lease expires
    wait_for(lambda: sql1("SELECT attempts FROM t2sql.export_jobs WHERE id = %s", job)[0] == 2,
             timeout=30, what="the job to be claimed again")
    jobs_tool("cancel", job, "alice")


def test_json_lifecycle_log_and_metrics_textfile(exportd_factory, tmp_path):
    """log_format = json: every line one object, each job's start and end with its fields;
    exportd_metrics_file: the histograms count the exports and sum their bytes."""
    prom = tmp_path / "exportd.prom"
    d = exportd_factory(EXPORT_PREFIX="obs/", T2SQL_LOG_FORMAT="json",
                        T2SQL_EXPORTD_METRICS_FILE=str(prom))
    jobs = [create("SELECT g, md5(g::text) FROM generate_series(1, %d) g" % n)
            for n in (10, 1000, 20000)]
    done = {j: wait_status(j, {"SUCCESS", "FAILED"}) for j in jobs}
    assert all(st["status"] == "SUCCESS" for st in done.values()), done

    def series(text, name, **labels):
        lab = ",".join('%s="%s"' % kv for kv in labels.items())
        m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape("{%s}" % lab) if lab else ""),
                      text, re.M)
        return float(m.group(1)) if m else None

    text = ""

    def counted():
        nonlocal text
        text = prom.read_text() if prom.exists() else ""
        return series(text, "exportd_export_duration_seconds_count") == 3

    wait_for(counted, 30, "the textfile counting 3 exports")
    assert series(text, "exportd_export_bytes_count") == 3
    assert series(text, "exportd_export_bytes_sum") == sum(st["bytes"] for st in done.values())
    assert series(text, "exportd_export_bytes_bucket", le="+Inf") == 3
    assert series(text, "exportd_jobs_finished_total", status="SUCCESS") == 3
    assert series(text, "exportd_jobs", status="SUCCESS") >= 3
    assert series(text, "exportd_export_duration_seconds_sum") > 0
    lines = [ln for ln in d.text().splitlines() if ln.strip()]
    recs = [json.loads(ln) for ln in lines]  # every line is JSON
    assert all({"time", "level", "msg", "prog", "pid"} <= set(r) for r in recs), recs[:3]
    for j, st in done.items():
        mine = [r for r in recs if r.get("job_id") == j]
        started = [r for r in mine if r["event"] == "started"]
        finished = [r for r in mine if r["event"] == "finished"]
        assert started and started[0]["status"] == "IN_PROGRESS" and started[0]["format"] == "csv"
        assert len(finished) == 1, mine
        f = finished[0]
        assert f["status"] == "SUCCESS" and f["level"] == "info", f
        assert f["rows"] == st["row_count"] and f["bytes"] == st["bytes"], (f, st)
        assert f["duration_ms"] > 0 and f["msg"].startswith("job %s: SUCCESS" % j), f
