"""pagination.has_more: true exactly when a row follows the page, in every count mode, for
the first, a middle, the last (partial and exactly full) and an empty page past the end, in
the JSON document, the streamed document and NDJSON's last line alike."""

import json

import pytest

from conftest import assert_ok, pagination, post_query

NDJSON = {"Accept": "application/x-ndjson"}


def first_page(base_url, fakellm, uq, n):
    sql = "SELECT g FROM generate_series(1, %d) g ORDER BY g" % n
    fakellm.sql(uq, sql)
    body = assert_ok(post_query(base_url, {"question": "numbers " + uq, "page_size": 10,
                                           "stream": False}))
    assert body["pagination"] == pagination(1, 10, n)
    return body["query_id"]


def pages_of(base_url, qid, page, count):
    """The same page as a JSON document, streamed and as NDJSON: (rows, pagination) each."""
    out = []
    for stream, headers in ((False, None), (True, None), (True, NDJSON)):
        r = post_query(base_url, {"query_id": qid, "page": page, "page_size": 10,
                                  "count": count, "stream": stream}, headers=headers)
        if headers:
            assert r.status_code == 200, r.text[:300]
            lines = [json.loads(x) for x in r.text.splitlines() if x.strip()]
            out.append((lines[1:-1], lines[-1]["pagination"]))
        else:
            body = assert_ok(r)
            out.append((body["rows"], body["pagination"]))
    return out


# (rows in the result, page, rows expected on it, has_more)
CASES = [
    (25, 1, list(range(1, 11)), True),     # first
    (25, 2, list(range(11, 21)), True),    # middle
    (25, 3, list(range(21, 26)), False),   # last, partial
    (20, 2, list(range(11, 21)), False),   # last, exactly full: only the extra row tells
    (25, 4, [], False),                    # past the end
    (25, 1000, [], False),                 # far past the end
]


@pytest.mark.parametrize("count", ["exact", "estimated", "none"])
def test_has_more(base_url, fakellm, uq, count):
    qids = {n: first_page(base_url, fakellm, "%s-%d" % (uq, n), n) for n in (20, 25)}
    for n, page, want_rows, more in CASES:
        for rows, pag in pages_of(base_url, qids[n], page, count):
            assert rows == [[g] for g in want_rows], (n, page, count, rows)
            total = None if count == "none" else n
            assert pag == pagination(page, 10, total, has_more=more), (n, page, count, pag)


def test_has_more_empty_result(base_url, fakellm, uq):
    fakellm.sql(uq, "SELECT g FROM generate_series(1, 5) g WHERE g > 5")
    body = assert_ok(post_query(base_url, {"question": "none " + uq, "stream": False}))
    for count in ("exact", "estimated", "none"):
        for rows, pag in pages_of(base_url, body["query_id"], 1, count):
            assert rows == []
            assert pag == pagination(1, 10, None if count == "none" else 0, has_more=False)
