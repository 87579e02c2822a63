"""test_bedrock -- llm_provider = bedrock: the Converse API, SigV4-signed for service bedrock.

The model stand-in (tests/fixtures/fakellm.py) answers POST /model/{modelId}/converse as the
AWS documentation shows, after recomputing each request's signature with botocore (the same
verification as the S3 proxy's); its rules make it fail on demand. Covered: the request's
shape (system blocks, a user message of content blocks, inferenceConfig, the model id in the
path, encoded), the signature (region, service, session token), SQL extraction, the answer
cache, the repair round, and the errors: ThrottlingException / 5xx -> 503 llm_unavailable
with Retry-After; ValidationException, a wrong secret, an answer without SQL -> 502
llm_error; ModelTimeoutException and a slow model -> 504 llm_timeout."""
import pytest
import requests

from conftest import assert_error, env, post_query, s3_add_key

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
AK, SK, TOKEN = "ASIABEDROCKTEST", "bedrockSecret/0123+abc", "IQoJb3JpZ2luX2VjEBedrock/token="
BASE = {"T2SQL_LLM_PROVIDER": "bedrock", "T2SQL_BEDROCK_MODEL_ID": MODEL,
        "T2SQL_BEDROCK_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": AK,
        "AWS_SECRET_ACCESS_KEY": SK, "AWS_SESSION_TOKEN": TOKEN, "T2SQL_WORKERS": "1",
        "T2SQL_LLM_TIMEOUT_MS": "3000", "OPENAI_BASE_URL": "", "OPENAI_API_KEY": ""}


@pytest.fixture(scope="module")
def bedrock(instances):
    s3_add_key(AK, SK, TOKEN)
    return instances.start("bedrock", 18081, T2SQL_BEDROCK_ENDPOINT=env("T2SQL_TEST_LLM"),
                           **BASE)


def ask(inst, q):
    return post_query(inst.url, {"question": q, "stream": False})


def test_converse_request_and_answer(bedrock, fakellm, uq):
    fakellm.rules({"match": uq, "reply": "Here:\n<sql>SELECT count(*) AS n FROM events</sql>"})
    r = ask(bedrock, "zorblax events " + uq)
    assert r.status_code == 200, r.text
    assert r.json()["columns"] == ["n"] and r.json()["source"] == "llm"
    calls = fakellm.calls()
    call, head = calls["requests"][-1], {k.lower(): v for k, v in calls["headers"][-1].items()}
    assert call["_model_id"] == MODEL
    assert isinstance(call["system"], list) and call["system"][0]["text"]
    assert [m["role"] for m in call["messages"]] == ["user"]
    assert uq in call["messages"][0]["content"][0]["text"]
    assert call["inferenceConfig"]["temperature"] == 0 and call["inferenceConfig"]["maxTokens"] > 0
    assert "/eu-west-1/bedrock/aws4_request" in head["authorization"]
    assert head["x-amz-security-token"] == TOKEN
    # the same question again: from the cache, no second model call
    n = fakellm.count()
    r2 = ask(bedrock, "zorblax events " + uq)
    assert r2.status_code == 200 and r2.json()["rows"] == r.json()["rows"]
    assert fakellm.count() == n


def test_repair_round(bedrock, fakellm, uq):
    fakellm.rules({"match": "It failed with", "reply": "<sql>SELECT count(*) AS n FROM venues</sql>"},
                  {"match": uq, "reply": "<sql>SELECT no_such_column FROM venues</sql>"})
    r = ask(bedrock, "quuxify venues " + uq)
    assert r.status_code == 200, r.text
    assert r.json()["columns"] == ["n"]
    assert fakellm.count() == 2


@pytest.mark.parametrize("rule,status,code", [
    ({"status": 429}, 503, "llm_unavailable"),           # ThrottlingException
    ({"status": 500}, 503, "llm_unavailable"),           # InternalServerException
    ({"status": 503}, 503, "llm_unavailable"),           # ServiceUnavailableException
    ({"status": 400}, 502, "llm_error"),                 # ValidationException
    ({"status": 424}, 502, "llm_error"),                 # ModelErrorException
    ({"reply": "I cannot tell."}, 502, "llm_error"),      # no SQL
    ({"raw": "{\"output\": {}}"}, 502, "llm_error"),       # not a Converse message
    ({"status": 408}, 504, "llm_timeout"),               # ModelTimeoutException
    ({"delay_ms": 6000, "reply": "<sql>SELECT 1</sql>"}, 504, "llm_timeout"),
])
def test_errors(bedrock, fakellm, uq, rule, status, code):
    fakellm.rules(dict(rule, match=uq))
    r = ask(bedrock, "blorptastic " + uq)
    body = assert_error(r, status, code)
    assert SK not in r.text and TOKEN not in r.text
    if status == 503:
        assert int(r.headers["Retry-After"]) > 0
    assert body["code"] == code


def test_wrong_secret_refused(instances, fakellm, uq):
    s3_add_key(AK, SK, TOKEN)
    bad = instances.start("bedrock-bad", 18082, T2SQL_BEDROCK_ENDPOINT=env("T2SQL_TEST_LLM"),
                          **dict(BASE, AWS_SECRET_ACCESS_KEY=SK + "x"))
    fakellm.rules({"match": uq, "reply": "<sql>SELECT 1 AS one</sql>"})
    r = ask(bad, "snargle " + uq)
    assert_error(r, 502, "llm_error")
    assert "credentials" in r.json()["detail"]
    assert fakellm.count() == 1  # it reached the stand-in, which refused the signature


def test_model_id_with_slash_is_one_segment(instances, fakellm, uq):
    """An inference-profile ARN as model id: its '/' and ':' are encoded in the path."""
    s3_add_key(AK, SK, TOKEN)
    arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-v1:0"
    inst = instances.start("bedrock-arn", 18083, T2SQL_BEDROCK_ENDPOINT=env("T2SQL_TEST_LLM"),
                           **dict(BASE, T2SQL_BEDROCK_MODEL_ID=arn))
    fakellm.rules({"match": uq, "reply": "<sql>SELECT 2 AS two</sql>"})
    r = ask(inst, "wibblewobble " + uq)
    assert r.status_code == 200, r.text
    assert fakellm.calls()["requests"][-1]["_model_id"] == arn
    assert requests.get(inst.url + "/health", timeout=10).status_code == 200
