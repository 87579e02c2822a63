"""One JSON type per column besides null (issue 10): numeric is always a JSON number written
with PostgreSQL's exact digits (avg() included), NaN and Infinity are null in numeric and
float columns, and numeric_as_string = true makes every value of a numeric column a string
(NaN as "NaN"); column_types names the type either way. The JSON document, the streamed
document and NDJSON agree."""

import json
from decimal import Decimal

import pytest

from conftest import assert_ok, pg_rows, post_query

NDJSON = {"Accept": "application/x-ndjson"}
STRINGS = ("numeric-strings", 18086, {"T2SQL_NUMERIC_AS_STRING": "true"})

AVG_SQL = ("SELECT city, avg(loyalty_points) AS avg_points,"
           " sum(loyalty_points) AS total FROM customers GROUP BY city")
HUGE_SQL = ("SELECT x FROM (VALUES (1.5), (12345678901234567890123456789.123456789),"
            " (10::numeric ^ 300), (-0.000000000000000000000000001), (0.1)) v(x)")
SPECIAL_SQL = ("SELECT n, f FROM (VALUES ('NaN'::numeric, 'NaN'::float8),"
               " ('Infinity'::numeric, '-Infinity'::float8), (2.5, 2.5),"
               " ('-Infinity'::numeric, 'Infinity'::float8), (NULL, NULL)) v(n, f)")


def three_ways(url, question):
    """(columns, column_types, rows) of the JSON document, the stream and NDJSON; each body
    parsed keeping numbers exact (Decimal for every non-integer)."""
    out = []
    for stream, headers in ((False, None), (True, None), (True, NDJSON)):
        r = post_query(url, {"question": question, "stream": stream, "page_size": 1000},
                       headers=headers)
        assert r.status_code == 200, r.text[:300]
        if headers:
            lines = [json.loads(x, parse_float=Decimal) for x in r.text.splitlines() if x.strip()]
            out.append((lines[0]["columns"], lines[0]["column_types"], lines[1:-1]))
        else:
            b = json.loads(r.text, parse_float=Decimal)
            out.append((b["columns"], b["column_types"], b["rows"]))
    assert out[0] == out[1] == out[2], "the JSON, streamed and NDJSON bodies disagree"
    return out[0]


def one_type(rows, col):
    kinds = {type(r[col]).__name__ for r in rows if r[col] is not None}
    assert len(kinds) <= 1, "column %d mixes JSON types %s" % (col, kinds)
    return kinds.pop() if kinds else None


def exact(v):
    """A JSON number as PostgreSQL's digits: Decimal keeps them, int is its own digits."""
    assert isinstance(v, (int, Decimal)) and not isinstance(v, bool), repr(v)
    return format(v, "f") if isinstance(v, Decimal) else str(v)


def test_avg_is_a_number_with_postgres_digits(base_url, fakellm, uq):
    fakellm.sql(uq, AVG_SQL)
    cols, types, rows = three_ways(base_url, "average points " + uq)
    assert types == ["text", "numeric", "int8"], types
    assert one_type(rows, 1) == "Decimal" and one_type(rows, 2) == "int"
    want = {r[0]: r[1] for r in pg_rows(AVG_SQL, text=True)}
    assert len(rows) == len(want) > 1
    for city, avg, _ in rows:
        assert exact(avg) == want[city], (city, avg, want[city])  # e.g. 69.6988561596971468
    # more digits than a double carries: the old service sent these as strings
    assert any(len(exact(a).replace(".", "").lstrip("0")) > 15 for _, a, _ in rows)


def test_huge_numerics_keep_every_digit(base_url, fakellm, uq):
    fakellm.sql(uq, HUGE_SQL)
    _, types, rows = three_ways(base_url, "huge " + uq)
    assert types == ["numeric"]
    want = sorted(r[0] for r in pg_rows(HUGE_SQL, text=True))
    got = sorted(exact(r[0]) for r in rows)
    assert got == want, (got, want)
    assert any(len(v) > 300 for v in got)  # 10^300 with its decimals


def test_non_finite_values_are_null(base_url, fakellm, uq):
    fakellm.sql(uq, SPECIAL_SQL)
    _, types, rows = three_ways(base_url, "special " + uq)
    assert types == ["numeric", "float8"]
    assert sorted(rows, key=repr) == sorted([[None, None], [None, None], [Decimal("2.5"),
                                             Decimal("2.5")], [None, None], [None, None]],
                                            key=repr)


@pytest.fixture(scope="module")
def strings(instances):
    return instances.start(*STRINGS[:2], **STRINGS[2])


def test_numeric_as_string(strings, fakellm, uq):
    fakellm.sql(uq + "a", AVG_SQL)
    _, types, rows = three_ways(strings.url, "average points " + uq + "a")
    assert types == ["text", "numeric", "int8"]
    assert one_type(rows, 1) == "str" and one_type(rows, 2) == "int"  # only numeric changes
    want = {r[0]: r[1] for r in pg_rows(AVG_SQL, text=True)}
    assert all(avg == want[city] for city, avg, _ in rows)
    fakellm.sql(uq + "s", SPECIAL_SQL)
    _, types, rows = three_ways(strings.url, "special " + uq + "s")
    assert sorted([r[0] for r in rows], key=repr) == sorted(["NaN", "Infinity", "2.5", "-Infinity",
                                                             None], key=repr)
    assert sorted([r[1] for r in rows], key=repr) == sorted([None, None, Decimal("2.5"), None,
                                                             None], key=repr)  # float: as before
    fakellm.sql(uq + "h", HUGE_SQL)
    _, _, rows = three_ways(strings.url, "huge " + uq + "h")
    assert sorted(r[0] for r in rows) == sorted(r[0] for r in pg_rows(HUGE_SQL, text=True))
