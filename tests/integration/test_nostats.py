"""Values without statistics (issue 10): a database created and queried before any ANALYZE
still answers a value question through the offline planner, because the catalog samples the
common values of low-cardinality text columns that pg_stats knows nothing of yet; with
catalog_sample_rows = 0 it does not; and once ANALYZE has run, the statistics replace the
sample."""

import time

import pytest
import requests

from conftest import fresh_database, install_service, pg_connect, pg_exec, post_query

DB = "trust_nostats"
# the demo's semantic layer names demo tables: none for this database
PLANNER = {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": "", "T2SQL_DB_NAME": DB,
           "T2SQL_SEMANTIC_FILE": ""}
SAMPLED = ("nostats-sampled", 18084, dict(PLANNER))
UNSAMPLED = ("nostats-off", 18085, dict(PLANNER, T2SQL_CATALOG_SAMPLE_ROWS="0"))
COUNTRIES = {"Nepal": 10, "China": 8, "Pakistan": 7, "India": 5, "Bhutan": 1}
QUESTION = "how many mountains in Nepal"


@pytest.fixture(scope="module")
def fresh_db(stack_env):
    fresh_database(DB)
    install_service(DB)
    c = pg_connect(DB)
    with c.cursor() as cur:
        # autovacuum must not analyze it behind the test's back
        cur.execute("CREATE TABLE mountains (mountain_id int PRIMARY KEY, name text NOT NULL,"
                    " country text NOT NULL, height_m int NOT NULL)"
                    " WITH (autovacuum_enabled = false)")
        n = 0
        for country, k in COUNTRIES.items():
            for i in range(k):
                n += 1
                cur.execute("INSERT INTO mountains VALUES (%s, %s, %s, %s)",
                            (n, "%s peak %d" % (country, i), country, 5000 + n))
        cur.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC")
        cur.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'mountains'")
        assert cur.fetchone()[0] == 0, "the table has statistics already"
    try:
        yield c
    finally:
        c.close()
        pg_exec("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)


def country_values(url):
    r = requests.get(url + "/schema", timeout=30)
    assert r.status_code == 200, r.text[:300]
    for t in r.json()["tables"]:
        if t["name"] == "mountains":
            for col in t["columns"]:
                if col["name"] == "country":
                    return col.get("common_values") or []
    raise AssertionError("no mountains.country in /schema")


def ask(url):
    return post_query(url, {"question": QUESTION, "stream": False}, timeout=60)


def test_value_question_before_any_analyze(instances, fresh_db):
    off = instances.start(*UNSAMPLED[:2], **UNSAMPLED[2])
    r = ask(off.url)
    assert r.status_code != 200, "answered without knowing the values: " + r.text[:300]
    assert country_values(off.url) == []

    on = instances.start(*SAMPLED[:2], **SAMPLED[2])
    assert sorted(country_values(on.url)) == sorted(COUNTRIES)  # the sample: every value
    r = ask(on.url)
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["source"] == "planner" and "'Nepal'" in body["sql"], body["sql"]
    assert body["rows"] == [[COUNTRIES["Nepal"]]], body["rows"]

    # statistics appear: both instances see pg_stats' values instead (within the catalog's
    # two-second freshness check), and the one that does not sample answers now too
    with fresh_db.cursor() as cur:
        cur.execute("ANALYZE mountains")
        cur.execute("SELECT most_common_vals::text::text[] FROM pg_stats"
                    " WHERE tablename = 'mountains' AND attname = 'country'")
        stats = sorted(cur.fetchone()[0] or [])
    assert stats, "ANALYZE left no common values"
    end = time.time() + 30
    while True:
        now_on, now_off = sorted(country_values(on.url)), sorted(country_values(off.url))
        if now_on == stats and now_off == stats:
            break
        assert time.time() < end, (now_on, now_off, stats)
        time.sleep(0.5)
    # /schema answered by one worker; each other worker (query workers and waiting ones) has
    # its own catalog and sees the statistics at its own two-second check
    end = time.time() + 10
    r = ask(off.url)
    while r.status_code != 200 and time.time() < end:
        time.sleep(0.5)
        r = ask(off.url)
    assert r.status_code == 200 and r.json()["rows"] == [[COUNTRIES["Nepal"]]], r.text[:500]
