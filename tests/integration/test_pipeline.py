"""Question -> SQL pipeline (issue 4): what reaches the model, caches, verified examples."""
import json
import os
import subprocess
import time
import uuid

import requests

from conftest import assert_error, pg_exec, post_query


def last_prompt(fakellm):
    calls = fakellm.calls()["requests"]
    assert calls, "the model was not called"
    return json.dumps(calls[-1]["messages"])


def ok(r):
    assert r.status_code == 200, r.text[:500]
    return r.json()


def test_glossary_terms_reach_the_prompt(base_url, fakellm, uq):
    fakellm.rules({"reply": "<sql>SELECT count(*) FROM customers WHERE is_member</sql>"})
    ok(post_query(base_url, {"question": "how many membership holders are there " + uq,
                             "stream": False}))
    prompt = last_prompt(fakellm)
    assert "is_member = TRUE" in prompt            # the glossary hint
    assert "customers" in prompt and "is_member" in prompt


def test_catalog_change_reaches_the_prompt_without_restart(base_url, fakellm, stack_env, uq):
    col = "loyalty_" + uuid.uuid4().hex[:8]
    pg_exec("ALTER TABLE customers ADD COLUMN %s text" % col)
    pg_exec("COMMENT ON COLUMN customers.%s IS 'loyalty programme tier %s'" % (col, uq))
    try:
        fakellm.rules({"reply": "<sql>SELECT %s FROM customers LIMIT 1</sql>" % col})
        deadline = time.time() + 10
        while True:  # workers re-check the catalog fingerprint every two seconds
            r = post_query(base_url, {"question": "loyalty tiers %s %s" % (uq, time.time()),
                                      "stream": False})
            if r.status_code == 200 and col in last_prompt(fakellm):
                break
            assert time.time() < deadline, "the new column never reached the prompt: " + r.text
            time.sleep(0.3)
        assert "loyalty programme tier " + uq in last_prompt(fakellm)
        assert ok(r)["columns"] == [col]
    finally:
        pg_exec("ALTER TABLE customers DROP COLUMN %s" % col)
        time.sleep(2.5)  # let every worker see the schema again: cache keys carry it


def test_repeated_question_makes_no_model_call(base_url, fakellm, uq):
    fakellm.rules({"reply": "<sql>SELECT city, count(*) FROM customers GROUP BY city</sql>",
                   "delay_ms": 200})
    q = "customers per city " + uq
    first = ok(post_query(base_url, {"question": q, "stream": False}))
    assert first["source"] == "llm" and fakellm.count() == 1
    for variant in (q, "  Customers per CITY  " + uq + " ", q + "?"):
        again = ok(post_query(base_url, {"question": variant, "stream": False}))
        assert again["source"] == "cache" and again["rows"] == first["rows"]
    assert fakellm.count() == 1


def test_caches_survive_a_redis_restart(base_url, fakellm, stack_env, uq):
    port = stack_env["T2SQL_TEST_REDIS_PORT"]
    var = stack_env["T2SQL_TEST_VAR"]
    fakellm.rules({"reply": "<sql>SELECT count(*) FROM events</sql>"})
    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], stdout=subprocess.DEVNULL)
    try:
        down = ok(post_query(base_url, {"question": "events while redis is down " + uq,
                                        "stream": False}))
        assert down["source"] == "llm"
    finally:
        subprocess.run(["redis-server", "--port", port, "--bind", "127.0.0.1", "--daemonize",
                        "yes", "--pidfile", var + "/run/redis.pid", "--dir", var + "/redis",
                        "--save", "", "--appendonly", "no", "--logfile", var + "/log/redis.log"],
                       check=True, stdout=subprocess.DEVNULL)
    time.sleep(1.2)  # a worker retries a lost Redis at most once a second
    q = "events after redis is back " + uq
    n = fakellm.count()
    first = [ok(post_query(base_url, {"question": q, "stream": False}))["source"]
             for _ in range(10)]  # reach the workers (query workers and waiting ones)
    assert first[0] == "llm" and "cache" in first[1:], first
    # a worker may miss once: the key names its catalog's fingerprint, which can differ from
    # another worker's when one reloaded the catalog (with newer statistics) after Redis lost
    # the cached one; the next round is answered by the cache everywhere
    m = fakellm.count()
    assert m - n <= first.count("llm"), (m - n, first)
    again = [ok(post_query(base_url, {"question": q, "stream": False}))["source"]
             for _ in range(10)]
    assert again == ["cache"] * 10 and fakellm.count() == m, \
        "after the restart the cache should answer repeats: %s" % again


def test_examples_crud_and_direct_answers(base_url, fakellm, uq):
    url = base_url + "/examples"
    bad = [({"question": "q " + uq}, 422, "validation_error"),
           ({"sql": "SELECT 1"}, 422, "validation_error"),
           ({"question": ["5"], "sql": "SELECT 1"}, 422, "validation_error"),  # (5 would be "5")
           ({"question": "delete all " + uq, "sql": "DELETE FROM customers"}, 400, "unsafe_sql"),
           ({"question": "bad col " + uq, "sql": "SELECT nosuch FROM customers"}, 400,
            "invalid_sql")]
    for body, status, code in bad:
        assert_error(requests.post(url, json=body, timeout=10), status, code)
    tag = uuid.uuid4().hex[:8]  # one word, so that similarity is about the real words
    q = "which cities have venues " + tag
    r = requests.post(url, json={"question": q,
                                 "sql": "SELECT DISTINCT city FROM venues ORDER BY city;"},
                      timeout=10)
    assert r.status_code == 201, r.text
    ex = r.json()
    assert ex["sql"] == "SELECT DISTINCT city FROM venues ORDER BY city"  # stored as validated
    listed = requests.get(url, timeout=10).json()["examples"]
    assert any(e["id"] == ex["id"] for e in listed)
    time.sleep(2.2)  # workers pick up new examples with the catalog check
    same = ok(post_query(base_url, {"question": q, "stream": False}))
    assert same["source"] == "example" and fakellm.count() == 0
    # a related question goes to the model with the example as a few-shot pair
    fakellm.rules({"reply": "<sql>SELECT DISTINCT city FROM venues</sql>"})
    ok(post_query(base_url, {"question": "list the cities that have venues and arenas " + tag,
                             "stream": False}))
    assert "SELECT DISTINCT city FROM venues ORDER BY city" in last_prompt(fakellm)
    assert requests.delete("%s/%d" % (url, ex["id"]), timeout=10).status_code == 204
    assert_error(requests.delete("%s/%d" % (url, ex["id"]), timeout=10), 404, "not_found")
    assert_error(requests.delete(url + "/abc", timeout=10), 404, "not_found")


def test_anthropic_provider(stack_env, fakellm, uq):
    """llm_provider = anthropic speaks the Messages API: system apart, x-api-key header."""
    import subprocess as sp
    root = stack_env["T2SQL_ROOT"]
    port = str(18069 + int(os.environ.get("T2SQL_TEST_PORT_OFFSET", "0") or 0))
    sp.run([root + "/scripts/stack.sh", "instance", "anthropic", port,
            "T2SQL_LLM_PROVIDER=anthropic", "OPENAI_API_KEY=test-llm-key-123456",
            "OPENAI_BASE_URL=%s/v1" % stack_env["T2SQL_TEST_LLM"], "T2SQL_WORKERS=1"],
           check=True, stdout=sp.DEVNULL)
    try:
        fakellm.rules({"match": uq, "reply": "Here:\n<sql>SELECT count(*) AS n FROM events</sql>"})
        r = post_query("http://127.0.0.1:" + port, {"question": "events " + uq, "stream": False})
        assert r.status_code == 200, r.text
        assert r.json()["columns"] == ["n"] and r.json()["source"] == "llm"
        call = fakellm.calls()["requests"][-1]
        assert "system" in call and all(m["role"] != "system" for m in call["messages"])
    finally:
        sp.run([root + "/scripts/stack.sh", "instance-stop", "anthropic"], stdout=sp.DEVNULL)


def test_questions_differing_only_in_punctuation_are_not_confused(base_url, fakellm):
    tag = uuid.uuid4().hex[:8]
    fakellm.rules({"match": "total > 100", "reply": "<sql>SELECT 'more' AS x</sql>"},
                  {"match": "total < 100", "reply": "<sql>SELECT 'less' AS x</sql>"})
    more = ok(post_query(base_url, {"question": "orders %s with total > 100" % tag,
                                    "stream": False}))
    less = ok(post_query(base_url, {"question": "orders %s with total < 100" % tag,
                                    "stream": False}))
    assert more["rows"] == [["more"]] and less["rows"] == [["less"]]
    assert less["source"] == "llm"


def test_unstreamed_page_failing_midway_is_a_clean_error(base_url, fakellm, uq):
    fakellm.rules({"reply": "<sql>SELECT g, 1 / (g - 500) AS x FROM generate_series(1, 1000) g"
                            "</sql>"})
    r = post_query(base_url, {"question": "fails midway " + uq, "stream": False,
                              "page_size": 1000})
    assert_error(r, 400, "query_failed")
    assert "division by zero" in r.json()["detail"]


def test_export_question_length_rule_matches_query(base_url, fakellm):
    r = requests.post(base_url + "/export/start", json={"question": "é" * 2001}, timeout=10)
    assert_error(r, 422, "validation_error", field="question")
    assert fakellm.count() == 0
