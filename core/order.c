/* order -- a total order for validated SQL, so that pages partition the result; see order.h.
 * The statement text is only ever extended by positional ORDER BY items (or wrapped in an
 * outer SELECT that orders by position), and the result is parsed again to check that it is
 * still one SELECT whose ORDER BY grew by exactly those items. */
#include "order.h"

#include "guardtree.h"
#include "pg.h"

#include <pg_query.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEYS 32

/* What the parse tree says about the top-level SELECT. */
typedef struct facts {
    int nsort;        /* items of the user's own ORDER BY */
    int has_limit;    /* LIMIT, OFFSET or FETCH at the top level */
    int with_ties;    /* FETCH ... WITH TIES: more keys would change which rows are kept */
    int distinct_on;  /* DISTINCT ON (...) */
    int single;       /* a plain SELECT of one table: no set operation, join, GROUP BY,
                       * DISTINCT or set-returning function in the select list */
    int reads_tables; /* names a relation anywhere (a table, view or CTE) */
    int nkeys;        /* the ORDER BY items that are a column name or a position */
    char key_name[MAX_KEYS][64]; /* "" when the item is a position */
    int key_pos[MAX_KEYS];       /* 1-based; 0 when a name */
} facts;

/* Set-returning functions the allowlist lets into a select list: any of these words in the
 * select list keeps the one-row-per-table-row proof away (conservative: a column of that
 * name does too). */
static const char *const srf_names[] = {
    "generate_series",
    "unnest",
    "json_array_elements",
    "jsonb_array_elements",
    "json_each",
    "jsonb_each",
    "json_each_text",
    "jsonb_each_text",
    "regexp_matches",
    "regexp_split_to_table",
    "string_to_table",
    "json_object_keys",
    "jsonb_object_keys",
    "generate_subscripts",
    "json_array_elements_text",
    "jsonb_array_elements_text",
    "jsonb_path_query",
};

static int has_srf_word(const gtree *g, int v)
{
    int i, end = v >= 0 ? g->t[v].next : v;
    size_t k;

    for (i = v; i >= 0 && i < end; i++)
        if (g->t[i].type == J_STR)
            for (k = 0; k < sizeof srf_names / sizeof srf_names[0]; k++)
                if (strcmp(g->t[i].s, srf_names[k]) == 0) return 1;
    return 0;
}

static int has_word(const gtree *g, const char *w)
{
    int i;

    for (i = 0; i < g->nt; i++)
        if (g->t[i].type == J_STR && strcmp(g->t[i].s, w) == 0) return 1;
    return 0;
}

static int arr_size(const gtree *g, int v)
{
    return v >= 0 && g->t[v].type == J_ARR ? g->t[v].size : 0;
}

/* Reads one ORDER BY item (a SortBy node) into f's keys when it is a name or a position. */
static void read_key(const gtree *g, int item, facts *f)
{
    int body, nb, fields, val;
    const char *t = gtree_node(g, item, &body), *schema, *name;
    int nparts;

    if (!t || strcmp(t, "SortBy") != 0 || f->nkeys >= MAX_KEYS) return;
    t = gtree_node(g, gtree_field(g, body, "node"), &nb);
    if (t && strcmp(t, "ColumnRef") == 0) {
        fields = gtree_field(g, nb, "fields");
        if (gtree_name(g, fields, &schema, &name, &nparts) == 0 && name) {
            str_copy(f->key_name[f->nkeys], sizeof f->key_name[0], name);
            f->key_pos[f->nkeys++] = 0;
        }
    } else if (t && strcmp(t, "A_Const") == 0 && (val = gtree_field(g, nb, "ival")) >= 0) {
        int iv = gtree_field(g, val, "ival");
        if (iv >= 0 && g->t[iv].type == J_PRIM) {
            f->key_name[f->nkeys][0] = '\0';
            f->key_pos[f->nkeys++] = atoi(g->t[iv].s); /* digits from pg_query's JSON */
        }
    }
}

/* Parses sql and fills f; -1 when it is not exactly one SELECT. */
static int analyse(const char *sql, facts *f)
{
    PgQueryParseResult pr = pg_query_parse(sql);
    gtree g;
    int rc = -1, stmts, body, sort, from, dist, i, fbody;
    const char *type, *s;

    memset(f, 0, sizeof *f);
    memset(&g, 0, sizeof g);
    if (pr.error || !pr.parse_tree || gtree_read(&g, pr.parse_tree) < 0) goto done;
    stmts = gtree_field(&g, 0, "stmts");
    if (arr_size(&g, stmts) != 1) goto done;
    type = gtree_node(&g, gtree_field(&g, stmts + 1, "stmt"), &body);
    if (!type || strcmp(type, "SelectStmt") != 0) goto done;
    sort = gtree_field(&g, body, "sortClause");
    f->nsort = arr_size(&g, sort);
    for (i = 0; i < f->nsort; i++)
        read_key(&g, gtree_elem(&g, sort, i), f);
    f->has_limit =
        gtree_field(&g, body, "limitCount") >= 0 || gtree_field(&g, body, "limitOffset") >= 0;
    s = gtree_str(&g, body, "limitOption");
    f->with_ties = s && strcmp(s, "LIMIT_OPTION_WITH_TIES") == 0;
    dist = gtree_field(&g, body, "distinctClause");
    if (arr_size(&g, dist) > 0) {
        int d0 = gtree_elem(&g, dist, 0);
        f->distinct_on = d0 >= 0 && g.t[d0].type == J_OBJ && g.t[d0].size > 0;
    }
    f->reads_tables = has_word(&g, "RangeVar");
    s = gtree_str(&g, body, "op");
    from = gtree_field(&g, body, "fromClause");
    type = arr_size(&g, from) == 1 ? gtree_node(&g, gtree_elem(&g, from, 0), &fbody) : NULL;
    f->single = (!s || strcmp(s, "SETOP_NONE") == 0) && type && strcmp(type, "RangeVar") == 0 &&
                arr_size(&g, dist) == 0 &&
                arr_size(&g, gtree_field(&g, body, "groupClause")) == 0 &&
                !has_srf_word(&g, gtree_field(&g, body, "targetList"));
    rc = 0;
done:
    gtree_free(&g);
    pg_query_free_parse_result(pr);
    return rc;
}

/* Skips whitespace and comments from i; returns the next token's start (b at the end). */
static size_t skip_space(const char *s, size_t i, size_t b)
{
    for (;;) {
        while (i < b && strchr(" \t\r\n\f\v", s[i]))
            i++;
        if (i + 1 < b && s[i] == '-' && s[i + 1] == '-') {
            while (i < b && s[i] != '\n')
                i++;
        } else if (i + 1 < b && s[i] == '/' && s[i + 1] == '*') {
            int depth = 0;
            do {
                if (i + 1 < b && s[i] == '/' && s[i + 1] == '*')
                    depth++, i += 2;
                else if (i + 1 < b && s[i] == '*' && s[i + 1] == '/')
                    depth--, i += 2;
                else
                    i++;
            } while (i < b && depth > 0);
        } else {
            return i;
        }
    }
}

static int word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || (unsigned char)c >= 0x80;
}

/* The end of the token starting at i (a string, quoted name, dollar-quoted string, word or
 * one character). Strings follow standard_conforming_strings = on, as the guard parsed. */
static size_t tok_end(const char *s, size_t i, size_t b)
{
    size_t j;

    if ((s[i] == 'e' || s[i] == 'E') && i + 1 < b && s[i + 1] == '\'') {
        for (j = i + 2; j < b; j++)
            if (s[j] == '\\')
                j++;
            else if (s[j] == '\'' && !(j + 1 < b && s[j + 1] == '\''))
                return j + 1;
            else if (s[j] == '\'')
                j++;
        return b;
    }
    if (s[i] == '\'' || s[i] == '"') {
        for (j = i + 1; j < b; j++)
            if (s[j] == s[i] && j + 1 < b && s[j + 1] == s[i])
                j++;
            else if (s[j] == s[i])
                return j + 1;
        return b;
    }
    if (s[i] == '$') { /* $tag$ ... $tag$ (a positional parameter never reaches here) */
        size_t t = i + 1;
        while (t < b && s[t] != '$' && word_char(s[t]))
            t++;
        if (t < b && s[t] == '$') {
            size_t tl = t - i + 1;
            for (j = t + 1; j + tl <= b; j++)
                if (s[j] == '$' && strncmp(s + j, s + i, tl) == 0) return j + tl;
            return b;
        }
    }
    if (word_char(s[i])) {
        for (j = i; j < b && word_char(s[j]); j++)
            ;
        return j;
    }
    return i + 1;
}

static int limit_word(const char *s, size_t i, size_t e)
{
    return (e - i == 5 &&
            (strncasecmp(s + i, "limit", 5) == 0 || strncasecmp(s + i, "fetch", 5) == 0)) ||
           (e - i == 6 && strncasecmp(s + i, "offset", 6) == 0);
}

/* The offset of the first LIMIT, OFFSET or FETCH outside parentheses in sql[a, b), or the end
 * of the statement. A statement wrapped whole in parentheses is looked into. */
static size_t limit_pos(const char *s, size_t a, size_t b)
{
    size_t i, e, first = skip_space(s, a, b), last = first, close = 0;
    int depth = 0, closed = 0;

    for (i = first; i < b; i = skip_space(s, e, b)) {
        e = tok_end(s, i, b);
        last = i;
        if (s[i] == '(') {
            depth++;
        } else if (s[i] == ')') {
            if (--depth == 0 && !closed) closed = 1, close = i;
        } else if (depth == 0 && limit_word(s, i, e)) {
            return i;
        }
    }
    if (first < b && s[first] == '(' && closed && close == last)
        return limit_pos(s, first + 1, last);
    return b;
}

static void add_positions(buf *out, int ncols, const char *orderable, int leading_comma)
{
    int i, any = leading_comma;

    for (i = 0; i < ncols; i++) {
        if (!orderable[i]) continue;
        buf_printf(out, "%s%d", any ? ", " : "", i + 1);
        any = 1;
    }
}

/* The ORDER BY length of the top-level SELECT, or -1 if it is not one SELECT. */
static int sort_len(const char *sql)
{
    facts f;

    return analyse(sql, &f) < 0 ? -1 : f.nsort;
}

static int build(const char *sql, const facts *f, int ncols, const char *orderable, int unique,
                 buf *out)
{
    size_t len = strlen(sql), pos;
    int i, nadd = 0;

    for (i = 0; i < ncols; i++)
        nadd += orderable[i] != 0;
    buf_reset(out);
    if (unique || nadd == 0 || f->with_ties) return buf_add(out, sql, len);
    if (f->distinct_on && f->nsort == 0) {
        /* DISTINCT ON must lead the ORDER BY: order outside it instead */
        buf_adds(out, "SELECT * FROM (\n");
        buf_add(out, sql, len);
        buf_adds(out, "\n) t2sql_ordered ORDER BY ");
        add_positions(out, ncols, orderable, 0);
    } else {
        pos = limit_pos(sql, 0, len);
        buf_add(out, sql, pos);
        buf_adds(out, f->nsort ? "\n, " : "\nORDER BY ");
        add_positions(out, ncols, orderable, 0);
        buf_adds(out, "\n");
        buf_add(out, sql + pos, len - pos);
    }
    if (buf_cstr(out)[0] == '\0' ||
        sort_len(buf_cstr(out)) != (f->distinct_on && f->nsort == 0 ? nadd : f->nsort + nadd)) {
        buf_reset(out); /* not what was meant: page the statement as it is */
        return buf_add(out, sql, len);
    }
    return 0;
}

int order_rewrite(const char *sql, int ncols, const char *orderable, int unique, buf *out)
{
    facts f;

    if (analyse(sql, &f) < 0) {
        buf_reset(out);
        buf_adds(out, sql);
        return -1;
    }
    return build(sql, &f, ncols, orderable, unique, out) < 0 ? -1 : 0;
}

/* ---- the per-process cache of decisions ---- */

#define CACHE_N 64
static struct {
    char *sql, *ordered;
} cache[CACHE_N];
static int cache_next;

void order_reset(void)
{
    int i;

    for (i = 0; i < CACHE_N; i++) {
        free(cache[i].sql);
        free(cache[i].ordered);
        cache[i].sql = cache[i].ordered = NULL;
    }
}

static const char *cache_get(const char *sql)
{
    int i;

    for (i = 0; i < CACHE_N; i++)
        if (cache[i].sql && strcmp(cache[i].sql, sql) == 0) return cache[i].ordered;
    return NULL;
}

static void cache_put(const char *sql, const char *ordered)
{
    char *a = strdup(sql), *b = strdup(ordered);
    int i = cache_next;

    if (!a || !b) {
        free(a);
        free(b);
        return;
    }
    free(cache[i].sql);
    free(cache[i].ordered);
    cache[i].sql = a;
    cache[i].ordered = b;
    cache_next = (cache_next + 1) % CACHE_N;
}

/* Orderability of each described column ('t'/'f' per column, in out) and the primary key
 * of table rel (attribute numbers, "1 2"; "" if none, or rel 0). A type is orderable when it
 * (or a domain's base type; an array's element type) has a default btree operator class;
 * composite and pseudo types (record) are not, since their fields may have none. */
static const char types_sql[] =
    "SELECT coalesce(string_agg(CASE WHEN k.ok THEN 't' ELSE 'f' END, '' ORDER BY u.n), ''),"
    " coalesce((SELECT i.indkey::text FROM pg_catalog.pg_index i"
    "  JOIN pg_catalog.pg_class r ON r.oid = i.indrelid"
    "  WHERE i.indrelid = $2::oid AND i.indisprimary"
    "   AND (r.relkind = 'p' OR NOT r.relhassubclass)), '')"
    " FROM unnest($1::oid[]) WITH ORDINALITY u(t, n) LEFT JOIN LATERAL ("
    "  SELECT x.typtype NOT IN ('c', 'p') AND EXISTS (SELECT 1 FROM pg_catalog.pg_opclass c"
    "   WHERE c.opcmethod = 403 AND c.opcdefault"
    "    AND c.opcintype = CASE WHEN x.typtype = 'e' THEN 3500 ELSE x.oid END) AS ok"
    "  FROM pg_catalog.pg_type b0"
    "  JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN b0.typtype = 'd'"
    "   THEN b0.typbasetype ELSE b0.oid END"
    "  JOIN pg_catalog.pg_type x0 ON x0.oid = CASE WHEN b.typcategory = 'A' AND b.typelem <> 0"
    "   THEN b.typelem ELSE b.oid END"
    "  JOIN pg_catalog.pg_type x ON x.oid = CASE WHEN x0.typtype = 'd'"
    "   THEN x0.typbasetype ELSE x0.oid END"
    "  WHERE b0.oid = u.t) k ON true";

/* The output column an ORDER BY item names (0-based), or -1. */
static int key_column(const facts *f, int k, const PGresult *d, int nf)
{
    int i, hit = -1;

    if (f->key_pos[k] > 0) return f->key_pos[k] <= nf ? f->key_pos[k] - 1 : -1;
    for (i = 0; i < nf; i++)
        if (strcmp(PQfname(d, i), f->key_name[k]) == 0) {
            if (hit >= 0) return -1; /* ambiguous */
            hit = i;
        }
    return hit;
}

/* 1 when the ORDER BY items cover every column of the primary key pk ("1 2") of the table
 * the columns come from. */
static int covers_key(const facts *f, const PGresult *d, int nf, Oid rel, const char *pk)
{
    const char *p = pk;
    char *end;
    int k, c, found;
    long att;

    if (!*pk) return 0;
    while (*p) {
        att = strtol(p, &end, 10);
        if (end == p) return 0;
        p = end + strspn(end, " ");
        for (found = 0, k = 0; k < f->nkeys && !found; k++)
            found = (c = key_column(f, k, d, nf)) >= 0 && PQftable(d, c) == rel &&
                    PQftablecol(d, c) == att;
        if (!found) return 0;
    }
    return 1;
}

/* When every column of the primary key pk of rel is an output column, marks (only) those in
 * ok and returns 1; 0 otherwise. */
static int key_columns(const PGresult *d, int nf, Oid rel, const char *pk, char *ok)
{
    const char *p = pk;
    char *end;
    long att;
    int c, found;

    if (!*pk) return 0;
    memset(ok, 0, (size_t)nf);
    while (*p) {
        att = strtol(p, &end, 10);
        if (end == p) return 0;
        p = end + strspn(end, " ");
        for (found = 0, c = 0; c < nf && !found; c++)
            if (PQftable(d, c) == rel && PQftablecol(d, c) == att) found = 1, ok[c] = 1;
        if (!found) return 0;
    }
    return 1;
}

/* types_sql's row for the columns d describes and table rel (0 = none): one 't'/'f' per
 * column, then rel's primary key. The caller PQclears it; NULL with err. */
static PGresult *column_types(PGconn *conn, const PGresult *d, Oid rel, t2err *err)
{
    buf oids = BUF_INIT(0);
    char relbuf[16];
    const char *params[2];
    PGresult *t;
    int i, nf = PQnfields(d);

    buf_addc(&oids, '{');
    for (i = 0; i < nf; i++)
        buf_printf(&oids, "%s%u", i ? "," : "", PQftype(d, i));
    buf_addc(&oids, '}');
    snprintf(relbuf, sizeof relbuf, "%u", rel);
    params[0] = buf_cstr(&oids);
    params[1] = relbuf;
    t = PQexecParams(conn, types_sql, 2, NULL, params, NULL, NULL, 0);
    buf_free(&oids);
    if (PQresultStatus(t) != PGRES_TUPLES_OK || PQntuples(t) != 1 ||
        (int)strlen(PQgetvalue(t, 0, 0)) != nf) {
        pg_result_err(conn, t, E_QUERY_FAILED, err, "column types");
        PQclear(t);
        return NULL;
    }
    return t;
}

/* sql PREPAREd (never run) and described: its output columns. The caller PQclears the
 * result; NULL with err when PostgreSQL refused it. */
static PGresult *describe(PGconn *conn, const char *sql, t2err *err)
{
    PGresult *r = PQprepare(conn, "", sql, 0, NULL), *d;

    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_result_err(conn, r, E_QUERY_FAILED, err, "query");
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    d = PQdescribePrepared(conn, "");
    if (PQresultStatus(d) != PGRES_COMMAND_OK) {
        pg_result_err(conn, d, E_QUERY_FAILED, err, "query");
        PQclear(d);
        return NULL;
    }
    return d;
}

/* Describes sql and decides; 0 or -1 with err. */
static int decide(PGconn *conn, const char *sql, const facts *f, buf *out, t2err *err)
{
    PGresult *d, *t = NULL;
    Oid rel = 0;
    int nf, i, c, unique = 0, rc = -1;

    if (!(d = describe(conn, sql, err))) return -1;
    nf = PQnfields(d);
    for (c = 0; f->single && c < nf && !rel; c++)
        rel = PQftable(d, c); /* the one table's oid, when a column is one of its own */
    if (!(t = column_types(conn, d, rel, err))) goto done;
    unique = rel && covers_key(f, d, nf, rel, PQgetvalue(t, 0, 1));
    {
        char *ok = malloc((size_t)nf + 1);
        if (!ok) {
            err_set(err, E_INTERNAL, "out of memory");
            goto done;
        }
        /* the primary key among the output columns breaks every tie alone, and an index
         * on it may give the order without a sort; else every orderable column */
        if (unique || !rel || !key_columns(d, nf, rel, PQgetvalue(t, 0, 1), ok))
            for (i = 0; i < nf; i++)
                ok[i] = PQgetvalue(t, 0, 0)[i] == 't';
        rc = build(sql, f, nf, ok, unique, out) < 0
                 ? (err_set(err, E_INTERNAL, "out of memory"), -1)
                 : 0;
        free(ok);
    }
done:
    PQclear(d);
    PQclear(t);
    return rc;
}

/* The 0-based output column named name in d, or -1 (none: -1, more than one: -2). */
static int column_named(const PGresult *d, const char *name)
{
    int i, hit = -1, nf = PQnfields(d);

    for (i = 0; i < nf; i++)
        if (strcmp(PQfname(d, i), name) == 0) {
            if (hit >= 0) return -2;
            hit = i;
        }
    return hit;
}

/* Maps keys to 1-based positions in pos; 0, or -1 with the 422 on "sort". */
static int sort_positions(const PGresult *d, const char *orderable, const order_key *keys,
                          int nkeys, int *pos, t2err *err)
{
    int k, c;

    for (k = 0; k < nkeys; k++) {
        c = column_named(d, keys[k].column);
        if (c == -1)
            return err_field(err, "sort", "sort: \"%.64s\" is not a column of this query",
                             keys[k].column);
        if (c == -2)
            return err_field(err, "sort",
                             "sort: this query has more than one column named \"%.64s\"",
                             keys[k].column);
        if (orderable[c] != 't')
            return err_field(err, "sort", "sort: column \"%.64s\" has a type with no ordering",
                             keys[k].column);
        pos[k] = c + 1;
    }
    return 0;
}

int order_sort(PGconn *conn, const char *sql, const order_key *keys, int nkeys, buf *out,
               t2err *err)
{
    PGresult *d, *t = NULL;
    int pos[ORDER_MAX_SORT], i, rc = -1;

    buf_reset(out);
    if (nkeys < 1 || nkeys > ORDER_MAX_SORT)
        return err_field(err, "sort", "sort must list 1 to %d columns", ORDER_MAX_SORT);
    if (!(d = describe(conn, sql, err))) return -1;
    if (!(t = column_types(conn, d, 0, err))) goto done;
    if (sort_positions(d, PQgetvalue(t, 0, 0), keys, nkeys, pos, err) < 0) goto done;
    /* positions, not names: no quoting, and a name the inner query repeats cannot mislead */
    buf_printf(out, "SELECT * FROM (\n%s\n) t2sql_sorted ORDER BY ", sql);
    for (i = 0; i < nkeys; i++)
        buf_printf(out, "%s%d%s", i ? ", " : "", pos[i], keys[i].desc ? " DESC" : "");
    if (sort_len(buf_cstr(out)) != nkeys) {
        err_set(err, E_INTERNAL, "the sorted statement did not parse as one SELECT");
        goto done;
    }
    rc = 0;
done:
    if (rc < 0) buf_reset(out);
    PQclear(d);
    PQclear(t);
    return rc;
}

int order_cached(const char *sql, buf *out)
{
    const char *hit = cache_get(sql);

    buf_reset(out);
    return hit && buf_adds(out, hit) == 0;
}

int order_total(PGconn *conn, const char *sql, buf *out, t2err *err)
{
    const char *hit = cache_get(sql);
    facts f;

    buf_reset(out);
    if (hit) return buf_adds(out, hit) < 0 ? err_set(err, E_INTERNAL, "out of memory") : 0;
    if (analyse(sql, &f) < 0) /* validated SQL always parses; page it as it is otherwise */
        return buf_adds(out, sql) < 0 ? err_set(err, E_INTERNAL, "out of memory") : 0;
    if (!f.reads_tables) {
        /* functions and VALUES only: no scan to synchronise, no parallel worker, so the same
         * plan gives the same order every time; no sort is added before the first row */
        if (buf_adds(out, sql) < 0) return err_set(err, E_INTERNAL, "out of memory");
    } else if (decide(conn, sql, &f, out, err) < 0) {
        return -1;
    }
    cache_put(sql, buf_cstr(out));
    return 0;
}
