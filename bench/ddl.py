#!/usr/bin/python3
"""ddl -- the SQL that creates a Spider-format catalog (tables.json, one database) as empty
tables in one PostgreSQL schema, for the benchmarks that need a large catalog in the
database (bench/newq.sh: the enterprise schema grown to 1,000 tables).

    bench/ddl.py TABLES_JSON SCHEMA ROLE > schema.sql

Columns get a type from Spider's (number: numeric, time: timestamp, boolean, else text),
primary keys, the comments tables.json carries (table_names / column_names where they differ
from the identifiers) and the foreign keys whose target is its table's one-column key. The
schema is dropped first; ROLE gets USAGE on it and SELECT on its tables.
"""
import json
import sys

TYPES = {"number": "numeric", "time": "timestamp", "boolean": "boolean"}


def ident(s):
    return '"' + s.replace('"', '""') + '"'


def literal(s):
    return "'" + s.replace("'", "''") + "'"


def ddl(db, schema, role):
    tables, cols = db["table_names_original"], db["column_names_original"]
    pks = {}
    for ci in db["primary_keys"]:
        pks.setdefault(cols[ci][0], []).append(ci)
    s = ident(schema)
    out = ["BEGIN;", "DROP SCHEMA IF EXISTS %s CASCADE;" % s, "CREATE SCHEMA %s;" % s]
    for ti, name in enumerate(tables):
        defs, seen = [], set()
        for ci, (t, c) in enumerate(cols):
            if t == ti and c not in seen:  # (a copy may repeat a column of its base: once)
                seen.add(c)
                defs.append("%s %s" % (ident(c), TYPES.get(db["column_types"][ci], "text")))
        if ti in pks:
            keys = dict.fromkeys(cols[ci][1] for ci in pks[ti])
            defs.append("PRIMARY KEY (%s)" % ", ".join(ident(k) for k in keys))
        out.append("CREATE TABLE %s.%s (%s);" % (s, ident(name), ", ".join(defs)))
        if db["table_names"][ti] != name:
            out.append("COMMENT ON TABLE %s.%s IS %s;" % (s, ident(name),
                                                         literal(db["table_names"][ti])))
    said = set()
    for ci, (t, c) in enumerate(cols):
        if t >= 0 and db["column_names"][ci][1] != c and (t, c) not in said:
            said.add((t, c))
            out.append("COMMENT ON COLUMN %s.%s.%s IS %s;" % (s, ident(tables[t]), ident(c),
                                                             literal(db["column_names"][ci][1])))
    for src, dst in db["foreign_keys"]:
        st, dt = cols[src][0], cols[dst][0]
        if pks.get(dt) == [dst]:
            out.append("ALTER TABLE %s.%s ADD FOREIGN KEY (%s) REFERENCES %s.%s (%s);"
                       % (s, ident(tables[st]), ident(cols[src][1]), s, ident(tables[dt]),
                          ident(cols[dst][1])))
    out += ["GRANT USAGE ON SCHEMA %s TO %s;" % (s, ident(role)),
            "GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s;" % (s, ident(role)),
            "COMMIT;"]
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__)
    db = json.load(open(argv[0], encoding="utf-8"))[0]
    sys.stdout.write(ddl(db, argv[1], argv[2]))


if __name__ == "__main__":
    main(sys.argv[1:])
