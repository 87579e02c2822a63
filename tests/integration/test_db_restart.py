"""A PostgreSQL restart between requests is invisible to clients: every worker notices its
dead connection before using it and reconnects, so no request gets a 503; and the audit rows
the workers still held when the database went away are written once it is back."""
import time
import uuid

import requests

from conftest import restart_postgres


def ask(base, q):
    return requests.post(base + "/query", json={"question": q, "stream": False}, timeout=30)


def audited(pg, q):
    return int(pg.scalar("SELECT count(*) FROM t2sql.audit WHERE question = %s", (q,)))


def test_requests_survive_a_database_restart(base_url, fakellm, pg):
    q = "customers after restart " + uuid.uuid4().hex
    fakellm.rules({"reply": "<sql>SELECT count(*) AS n FROM customers</sql>"})
    first = [ask(base_url, q) for _ in range(8)]  # warm every worker's connection
    assert [r.status_code for r in first] == [200] * 8
    n = first[0].json()["rows"][0][0]
    restart_postgres()
    after = [ask(base_url, q) for _ in range(12)]
    assert [r.status_code for r in after] == [200] * 12, [r.text[:200] for r in after]
    assert all(r.json()["rows"][0][0] == n for r in after)
    end = time.time() + 10  # a batch is written within about 100 ms of its first row
    while time.time() < end and audited(pg, q) < 20:
        time.sleep(0.2)
    assert audited(pg, q) == 20
