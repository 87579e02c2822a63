#!/usr/bin/python3
"""generate -- writes the retrieval corpora (tests/rag/<corpus>/) from their schema.txt and
questions.txt: enterprise (377 tables) and hospital (a schema with other naming habits).

    tests/rag/generate.py                  rewrites every corpus's tables.json, questions.json
    tests/rag/generate.py --check          exits 1 if one differs from what it would write
    tests/rag/generate.py --tables 1000 --out DIR enterprise
                                           a copy grown to 1,000 tables (for timing)

tables.json is in Spider's format (one database, db_id the corpus's name), which
bin/t2sql-rag-eval reads: table_names/column_names hold the comment where there is one and
the identifier otherwise; the extra key column_values lists common values as
[column_index, [values]]. Deterministic: the same input always gives the same bytes.
"""
import json
import os
import re
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPORA = ["enterprise", "hospital"]

# What each kind of copy adds to its base table's columns, and how it is named.
CLONES = {
    "hist": ("{b}_hist", ["hist_id*", "eff_strt_ts", "eff_end_ts", "curr_rec_flg"], []),
    "aud": ("{b}_aud", ["aud_id*", "aud_actn_cd=I|U|D", "aud_ts", "aud_usr_id"], []),
    "stg": ("stg_{b}", [], ["load_batch_id", "load_ts", "src_sys_cd"]),
    "bak": ("{b}_bak", [], []),
    "arch": ("{b}_arch", [], ["arch_dt"]),
    "snap": ("{b}_snap", ["snap_dt"], []),
    "tmp": ("tmp_{b}", [], []),
}
# Prefixes of the copies that grow the schema to --tables N: more business units running
# the same applications, as merged companies do.
UNITS = ["emea", "apac", "latam", "na", "uk", "de", "fr", "jp", "in", "br", "cn", "au"]


def col_type(name):
    n = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    last = n.rsplit("_", 1)[-1]
    if last in ("id", "nbr", "no", "seq", "cnt", "yr", "qtr", "lvl", "days", "mths", "sec",
                "mins", "minutes", "hdct", "scr", "clicks", "imprsns", "cnvrsns", "liters",
                "km", "kg", "m", "ft", "capcty", "dial"):
        return "number"
    if last in ("amt", "prc", "cost", "price", "qty", "hrs", "pct", "rt", "rate", "bal",
                "amount", "revenue", "probability", "factor", "point", "stock", "val", "pts",
                "redeemed", "earned", "quantity", "employees"):
        return "number"
    if last in ("dt", "ts", "date", "at", "tm", "mth", "start", "modstamp"):
        return "time"
    if last in ("flg", "flag") or n.startswith(("is_", "has_")) or n.startswith("do_not"):
        return "boolean"
    return "text"


def parse_col(tok):
    m = re.match(r"^(\w+)(\*?)(?:>(\w+)\.(\w+))?(?:=([^#]*))?(?:#(.*))?$", tok)
    if not m:
        raise SystemExit("generate: bad column token %r" % tok)
    name, pk, rt, rc, vals, comment = m.groups()
    values = [v.replace("~", " ") for v in vals.split("|")] if vals else []
    return {"name": name, "pk": bool(pk), "ref": (rt, rc) if rt else None, "values": values,
            "comment": comment}


def parse_schema(path):
    tables, audit, cur = [], [], None
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("@audit"):
            audit = [parse_col(t) for t in shlex.split(line)[1:]]
            cur = None
            continue
        if line.startswith("@clone"):
            parts = shlex.split(line)[1:]
            kind, base = parts[0], parts[1]
            name = parts[2] if len(parts) > 2 else CLONES[kind][0].format(b=base)
            tables.append({"name": name, "comment": None, "clone": (kind, base), "cols": []})
            cur = None
            continue
        if not line[0].isspace():
            name, _, comment = line.partition("#")
            cur = {"name": name.strip(), "comment": comment.strip() or None, "clone": None,
                   "cols": [], "audit": audit}
            tables.append(cur)
            continue
        if cur is None:
            raise SystemExit("generate: columns outside a table: %r" % line)
        cur["cols"].extend(parse_col(t) for t in shlex.split(line))
    by_name = {t["name"]: t for t in tables}
    for t in tables:  # audit columns last
        if not t["clone"]:
            t["cols"] = t["cols"] + [dict(c) for c in t.pop("audit")]
    for t in tables:  # copies once their bases are complete
        if t["clone"]:
            kind, base = t["clone"]
            _, before, after = CLONES[kind]
            own = [dict(c, pk=False, ref=None, comment=None) for c in by_name[base]["cols"]]
            t["cols"] = [parse_col(c) for c in before] + own + [parse_col(c) for c in after]
    names = [t["name"] for t in tables]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SystemExit("generate: tables defined twice: %s" % ", ".join(sorted(dup)))
    return tables


def grow(tables, n):
    """Copies of the whole schema under business-unit prefixes until there are n tables."""
    out = list(tables)
    for unit in UNITS:
        for t in tables:
            if len(out) >= n:
                return out
            out.append(dict(t, name="%s_%s" % (unit, t["name"]),
                            cols=[dict(c, ref=None) for c in t["cols"]]))
    return out


def spider(tables, db_id):
    index = {t["name"]: i for i, t in enumerate(tables)}
    db = {"db_id": db_id, "table_names_original": [], "table_names": [],
          "column_names_original": [[-1, "*"]], "column_names": [[-1, "*"]],
          "column_types": ["text"], "primary_keys": [], "foreign_keys": [], "column_values": []}
    colpos, refs = {}, []
    for ti, t in enumerate(tables):
        db["table_names_original"].append(t["name"])
        db["table_names"].append(t["comment"] or t["name"])
        for c in t["cols"]:
            ci = len(db["column_names_original"])
            colpos[(t["name"], c["name"])] = ci
            db["column_names_original"].append([ti, c["name"]])
            db["column_names"].append([ti, c["comment"] or c["name"]])
            db["column_types"].append(col_type(c["name"]))
            if c["pk"]:
                db["primary_keys"].append(ci)
            if c["values"]:
                db["column_values"].append([ci, c["values"]])
            if c["ref"]:
                refs.append((ci, c["ref"]))
    for ci, (rt, rc) in refs:
        if (rt, rc) not in colpos:
            raise SystemExit("generate: foreign key to unknown %s.%s" % (rt, rc))
        db["foreign_keys"].append([ci, colpos[(rt, rc)]])
    return [db], index


def parse_questions(path, index, db_id):
    out = []
    for lineno, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        q, _, gold = line.rpartition("|")
        tables = [g.strip() for g in gold.split(",") if g.strip()]
        unknown = [g for g in tables if g not in index]
        if not q.strip() or not tables or unknown:
            raise SystemExit("generate: questions.txt:%d: bad line or unknown table %s"
                             % (lineno, ", ".join(unknown)))
        out.append({"db_id": db_id, "question": q.strip(), "gold_tables": tables})
    return out


def dump(obj):
    return json.dumps(obj, indent=1, ensure_ascii=False) + "\n"


def corpus_files(corpus, grow_to=None):
    src = os.path.join(HERE, corpus)
    tables = parse_schema(os.path.join(src, "schema.txt"))
    if grow_to:
        tables = grow(tables, grow_to)
    db, index = spider(tables, corpus)
    questions = parse_questions(os.path.join(src, "questions.txt"), index, corpus)
    return len(tables), {"tables.json": dump(db), "questions.json": dump(questions)}


def main(argv):
    out, grow_to, check, corpora = None, None, False, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--check":
            check = True
        elif a in ("--out", "--tables") and i + 1 < len(argv):
            if a == "--out":
                out = argv[i + 1]
            else:
                grow_to = int(argv[i + 1])
            i += 1
        elif a in CORPORA:
            corpora.append(a)
        else:
            raise SystemExit(__doc__)
        i += 1
    corpora = corpora or CORPORA
    if (out or grow_to) and len(corpora) != 1:
        raise SystemExit("generate: --out and --tables take one corpus")
    stale = []
    for corpus in corpora:
        ntables, files = corpus_files(corpus, grow_to)
        dest = out or os.path.join(HERE, corpus)
        if check:
            stale += [os.path.join(corpus, f) for f, text in files.items()
                      if not os.path.exists(os.path.join(dest, f))
                      or open(os.path.join(dest, f), encoding="utf-8").read() != text]
            continue
        os.makedirs(dest, exist_ok=True)
        for f, text in files.items():
            with open(os.path.join(dest, f), "w", encoding="utf-8") as fh:
                fh.write(text)
        print("generate: %s: %d tables, %d questions -> %s"
              % (corpus, ntables, len(json.loads(files["questions.json"])), dest))
    if stale:
        print("generate: out of date: %s (run %s)" % (", ".join(stale), sys.argv[0]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
