"""The old service's input rules (issue 10): page, page_size, stream and question accept and
refuse what pydantic v1 does for int, bool and str fields (FastAPI 0.92 on pydantic 1.10).
Each row of the table states the old service's outcome; the test checks the row against
pydantic itself (Debian's python3-pydantic, installed by scripts/deps.sh) and then against
the service. The body stays strict JSON (test_hardening.py): only member values coerce."""

import json
import os

import pydantic  # python3-pydantic 1.10 (scripts/deps.sh): the oracle
import pytest
import requests

from conftest import ROOT, assert_error, assert_ok, post_query

assert pydantic.VERSION.startswith("1."), "the oracle must be pydantic v1, not %s" % pydantic.VERSION

REFUSED = object()
DEFAULT_PAGE_SIZE = 50


class OldQuery(pydantic.BaseModel):
    """The old service's request model (API.md's ranges)."""
    question: str
    page: int = pydantic.Field(1, ge=1)
    page_size: int = pydantic.Field(DEFAULT_PAGE_SIZE, ge=1, le=10000)
    stream: bool = True


def load_table():
    """(field, JSON value sent, what the old service made of it, or REFUSED), one case a line
    of tests/cases/coercion.jsonl (JSON keeps 2 and 2.0 apart, as the table must)."""
    rows = []
    with open(os.path.join(ROOT, "tests", "cases", "coercion.jsonl")) as f:
        for line in f:
            c = json.loads(line)
            rows.append((c["field"], c["value"], REFUSED if c.get("refused") else c["want"]))
    return rows


TABLE = load_table()
IDS = ["%s=%s" % (f, json.dumps(v)) for f, v, _ in TABLE]


def body_for(field, value, uq):
    body = {"question": "numbers " + uq}
    body[field] = value
    return body


def oracle(field, value, uq):
    try:
        m = OldQuery.parse_obj(body_for(field, value, uq))
    except pydantic.ValidationError as e:
        assert [x["loc"] for x in e.errors()] == [(field,)], e.errors()
        return REFUSED
    return getattr(m, field)


def test_the_table_is_pydantics():
    """Every stated outcome is what pydantic v1 itself answers (types included: 1 is not True)."""
    for field, value, want in TABLE:
        got = oracle(field, value, "x")
        if want is REFUSED:
            assert got is REFUSED, (field, value, got)
        else:
            assert got == want and type(got) is type(want), (field, value, got, want)
    assert len(TABLE) >= 20


@pytest.mark.parametrize("field,value,want", TABLE, ids=IDS)
def test_service_agrees(base_url, fakellm, uq, field, value, want):
    fakellm.rules({"reply": "<sql>SELECT g FROM generate_series(1, 200000) g</sql>"})
    r = post_query(base_url, body_for(field, value, uq))
    if want is REFUSED:
        assert_error(r, 422, "validation_error", field=field)
        assert fakellm.count() == 0, "a refused request must not reach the model"
        return
    body = assert_ok(r)
    pag = body["pagination"]
    if field == "page":
        assert pag["page"] == want and pag["page_size"] == DEFAULT_PAGE_SIZE
        assert body["rows"][0] == [(want - 1) * DEFAULT_PAGE_SIZE + 1]
    elif field == "page_size":
        assert pag["page"] == 1 and pag["page_size"] == want and len(body["rows"]) == want
    elif field == "stream":
        # a held (stream: false) answer has a length; a streamed one is chunked
        assert ("Content-Length" in r.headers) == (not want), dict(r.headers)
    else:
        users = [m for m in fakellm.calls()["requests"][-1]["messages"] if m.get("role") == "user"]
        assert want in users[-1]["content"], users[-1]["content"][-300:]


def test_export_takes_the_same_rules(base_url, fakellm, uq):
    fakellm.rules({"reply": "<sql>SELECT 1 AS one</sql>"})
    # a number of its own: the question "42" it would cache must not answer test_service_agrees
    r = requests.post(base_url + "/export/start", json={"question": 4217}, timeout=30)
    assert_ok(r)
    r = requests.post(base_url + "/export/start", json={"question": None}, timeout=30)
    assert_error(r, 422, "validation_error", field="question")
