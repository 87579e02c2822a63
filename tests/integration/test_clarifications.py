"""Clarifying questions of the offline planner (issue 14), one test per kind of ambiguity: a
table joined by two paths (orders refer to users as buyer and as seller), a value in two
columns (a city of venues and of customers, from the columns' common values), and rows that
may be counted or totalled ("sales by category" on the demo: their number, the semantic
layer's ticket revenue, a total of their price or quantity). Each asks back with
{"question", "options": [{"label", "question"}]} and no rows; answering with an option (its
question or its label) in the same conversation gives psql's rows for the intended SQL; and a
question asked instead of an answer is planned on its own. The join and value cases run on a
small database made here, the demo having neither."""
import pytest
import requests

from conftest import fresh_database, install_service, pg_connect, pg_exec, pg_rows
from test_conversations import NOMODEL, ask, same_rows

DB = "convo_clarify"
# the demo's semantic layer names demo tables: none for this database
SMALL = ("clarify-small", 18089, {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": "",
                                  "T2SQL_PLANNER_FALLBACK": "false", "T2SQL_DB_NAME": DB,
                                  "T2SQL_SEMANTIC_FILE": ""})
CITIES = ["Mumbai", "Pune", "Delhi", "London"]

SCHEMA = """
CREATE TABLE users (user_id int PRIMARY KEY, name text NOT NULL, city text NOT NULL);
CREATE TABLE orders (order_id int PRIMARY KEY, buyer_id int NOT NULL REFERENCES users,
                     seller_id int NOT NULL REFERENCES users, amount numeric(10,2) NOT NULL);
CREATE TABLE venues (venue_id int PRIMARY KEY, name text NOT NULL, city text NOT NULL);
CREATE TABLE customers (customer_id int PRIMARY KEY, name text NOT NULL, city text NOT NULL);
CREATE TABLE bookings (booking_id int PRIMARY KEY, venue_id int NOT NULL REFERENCES venues,
                       customer_id int NOT NULL REFERENCES customers, seats int NOT NULL);
INSERT INTO users SELECT g, 'user ' || g, (ARRAY['Mumbai', 'Pune', 'Delhi', 'London'])[1 + g % 4]
  FROM generate_series(1, 40) g;
INSERT INTO orders SELECT g, 1 + g % 40, 1 + (g * 7) % 40, 10 + g % 90 FROM generate_series(1, 300) g;
INSERT INTO venues SELECT g, 'venue ' || g, (ARRAY['Mumbai', 'Pune', 'London'])[1 + g % 3]
  FROM generate_series(1, 12) g;
INSERT INTO customers SELECT g, 'customer ' || g, (ARRAY['Mumbai', 'Delhi', 'Pune', 'Delhi'])[1 + g % 4]
  FROM generate_series(1, 60) g;
INSERT INTO bookings SELECT g, 1 + g % 12, 1 + (g * 11) % 60, 1 + g % 4 FROM generate_series(1, 500) g;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC;
ANALYZE;
"""


@pytest.fixture(scope="module")
def small(instances, stack_env):
    fresh_database(DB)
    install_service(DB)
    c = pg_connect(DB)
    with c.cursor() as cur:
        cur.execute(SCHEMA)
    c.close()
    inst = instances.start(SMALL[0], SMALL[1], **SMALL[2])
    try:
        yield inst
    finally:
        instances.stop(inst)
        pg_exec("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)


@pytest.fixture
def nomodel(instances):
    return instances.start(NOMODEL[0], NOMODEL[1], **NOMODEL[2])


def asked_back(url, question):
    """Asks question in a new conversation; returns (conversation_id, clarification)."""
    r = ask(url, question, "new")
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["rows"] == [] and "sql" not in body, body
    cl = body["clarification"]
    assert set(cl) == {"question", "options"} and cl["question"], cl
    assert len(cl["options"]) >= 2
    assert all(set(o) == {"label", "question"} and o["label"] and o["question"]
               for o in cl["options"]), cl
    return body["conversation_id"], cl


def option(cl, word):
    found = [o for o in cl["options"] if word in o["label"]]
    assert len(found) == 1, (word, cl)
    return found[0]


def answers(url, conv, text, gold_sql, dbname=None):
    """text sent in conversation conv is answered by the planner with gold_sql's rows."""
    r = ask(url, text, conv)
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["conversation_id"] == conv and body["source"] in ("planner", "cache"), body
    gold = pg_rows(gold_sql, dbname)
    assert same_rows(gold, body["rows"], False), (text, body["sql"], gold[:5], body["rows"][:5])
    return body["sql"]


def test_two_join_paths(small):
    q = "Number of orders by city"
    conv, cl = asked_back(small.url, q)
    assert "buyer" in cl["question"] and "seller" in cl["question"]
    seller = option(cl, "seller")
    option(cl, "buyer")
    gold = ("SELECT u.city, count(*) FROM orders o JOIN users u ON u.user_id = o.seller_id"
            " GROUP BY u.city")
    sql = answers(small.url, conv, seller["question"], gold, DB)
    assert "seller_id" in sql and "buyer_id" not in sql
    # the label alone answers as well, in another conversation
    conv2, cl2 = asked_back(small.url, q)
    buyer = option(cl2, "buyer")
    answers(small.url, conv2, buyer["label"],
            "SELECT u.city, count(*) FROM orders o JOIN users u ON u.user_id = o.buyer_id"
            " GROUP BY u.city", DB)
    turns = requests.get(small.url + "/conversations/" + conv2, timeout=30).json()["turns"]
    assert "clarification" in turns[0] and "sql" not in turns[0] and "sql" in turns[1]


def test_a_value_in_two_columns(small):
    conv, cl = asked_back(small.url, "How many bookings in Mumbai?")
    assert "Mumbai" in cl["question"]
    venue = option(cl, "venues")
    option(cl, "customers")
    answers(small.url, conv, venue["question"],
            "SELECT count(*) FROM bookings b JOIN venues v USING (venue_id) WHERE v.city = 'Mumbai'",
            DB)
    # a value of one column only is answered at once
    answers(small.url, conv, "How many bookings in Delhi?",
            "SELECT count(*) FROM bookings b JOIN customers c USING (customer_id)"
            " WHERE c.city = 'Delhi'", DB)


def test_a_clarification_ignored(small):
    conv, _ = asked_back(small.url, "Number of orders by city")
    # another question instead of an option: planned on its own, not as an edit
    answers(small.url, conv, "total amount of orders by seller city",
            "SELECT u.city, sum(o.amount) FROM orders o JOIN users u ON u.user_id = o.seller_id"
            " GROUP BY u.city", DB)
    # without a conversation the planner declines, as before
    r = ask(small.url, "Number of orders by city")
    assert r.status_code == 422 and r.json()["code"] == "cannot_answer", r.text[:300]


def test_a_count_or_a_sum(nomodel, stack_env):
    q = "sales by category"
    conv, cl = asked_back(nomodel.url, q)
    assert "sales" in cl["question"]
    count = option(cl, "number of")
    qty = option(cl, "quantity")
    revenue = option(cl, "revenue")  # the semantic layer's total of those rows
    answers(nomodel.url, conv, qty["question"],
            "SELECT e.category, sum(t.quantity) FROM ticket_sales t JOIN events e USING (event_id)"
            " GROUP BY e.category")
    conv3, _ = asked_back(nomodel.url, q)
    answers(nomodel.url, conv3, revenue["question"],
            "SELECT e.category, sum(t.price * t.quantity) FROM ticket_sales t"
            " JOIN events e USING (event_id) GROUP BY e.category")
    conv2, _ = asked_back(nomodel.url, q)
    answers(nomodel.url, conv2, count["label"],
            "SELECT e.category, count(*) FROM ticket_sales t JOIN events e USING (event_id)"
            " GROUP BY e.category")
    # after an answered turn, an ambiguous whole question is asked back, not read as an edit
    c4 = ask(nomodel.url, "Number of customers by city", "new").json()["conversation_id"]
    r = ask(nomodel.url, q, c4)
    assert r.status_code == 200 and r.json()["clarification"]["options"] == cl["options"], r.text
    answers(nomodel.url, c4, revenue["label"],
            "SELECT e.category, sum(t.price * t.quantity) FROM ticket_sales t"
            " JOIN events e USING (event_id) GROUP BY e.category")
    # said outright: no question
    answers(nomodel.url, conv2, "number of ticket sales by channel",
            "SELECT channel, count(*) FROM ticket_sales GROUP BY channel")
