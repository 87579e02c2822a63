/* sqlguard -- proves a statement is one read-only SELECT on libpg_query's parse tree; see
 * sqlguard.h. It does not run, rewrite or resolve anything: names are checked as written.
 *
 * The tree comes from pg_query_parse() as JSON, read into a flat token array (guardtree.c).
 * Every node is visited (a generic walk), and a few node types get a closer look: SelectStmt
 * (SELECT INTO, row locks, WITH scoping, nesting, joins, the rows its aggregates read),
 * FuncCall (denylist, allowlist, session functions, sizes), A_Expr (schema-qualified
 * operators, the size of ||), SQLValueFunction (CURRENT_USER and the other session
 * keywords), ColumnRef and A_Indirection (x.fn and (expr).fn are calls of fn), RangeVar
 * (schemas, catalogs). Any other statement node found anywhere is refused, so a node type
 * the walk does not know can only make it stricter. The name tables are in guardfn.c, the
 * constant folding behind the size caps in guardfold.c. */
#include "sqlguard.h"

#include "buf.h"
#include "guardfn.h"
#include "guardfold.h"
#include "guardtree.h"

#include <pg_query.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* CTE names in scope at once. */
#define GUARD_MAX_CTES 256

typedef struct gctx {
    gtree g; /* the tree */
    gfold fold;
    const guard_policy *p;
    guard_result *res;
    const char *ctes[GUARD_MAX_CTES]; /* names in scope, innermost last; owned by the tree */
    int nctes;
    int qdepth;      /* query level: 1 for the statement, +1 per subquery or CTE */
    int nfrom;       /* relations joined at the current query level */
    double agg_rows; /* rows an aggregate at the current level reads, when known; else 0 */
} gctx;

static int deny(gctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets res->why; always returns -1. */
static int deny(gctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->res->why, sizeof c->res->why, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_stmt_node(const char *type)
{
    size_t n = strlen(type);

    return n > 4 && strcmp(type + n - 4, "Stmt") == 0;
}

static int walk(gctx *c, int o, int depth);
static int check_select(gctx *c, int s, int arm, int depth);

/* Refuses node n when the folding proves it larger than GUARD_MAX_COUNT characters,
 * elements or rows; label names it ("repeat()", "the || operator"). */
static int check_size(gctx *c, int n, const char *label)
{
    const char *what;
    double size = gfold_size(&c->fold, n, c->agg_rows, &what);

    if (size > GUARD_MAX_COUNT)
        return deny(c,
                    "%s would produce at least %.0f %s (counted from constant arguments); the "
                    "limit is %.0f, as one call would make the server allocate or produce that "
                    "much before statement_timeout could stop it",
                    label, size, what, GUARD_MAX_COUNT);
    return 0;
}

static const char session_why[] =
    "it discloses facts about the database session (role, database, schema, server)";

static int check_func(gctx *c, int fc)
{
    const char *schema, *name;
    char label[80];
    int n;

    if (gtree_name(&c->g, gtree_field(&c->g, fc, "funcname"), &schema, &name, &n) < 0)
        return deny(c, "function call with an unreadable name");
    if (n > 2) return deny(c, "function %s: cross-database references are not allowed", name);
    if (guardfn_denied(name))
        return deny(c, "function %s%s%s is not allowed", schema ? schema : "", schema ? "." : "",
                    name);
    if (c->p->allowlist) {
        if (schema && strcmp(schema, "pg_catalog") != 0)
            return deny(c,
                        "function %s.%s is not allowed: only pg_catalog functions may be "
                        "called with a schema",
                        schema, name);
        if (guardfn_session(name)) {
            if (!c->p->allow_session)
                return deny(c, "function %s is not allowed: %s", name, session_why);
        } else if (!guardfn_allowed(name)) {
            return deny(c, "function %s is not on the list of allowed functions", name);
        }
    }
    snprintf(label, sizeof label, "%.64s()", name);
    return check_size(c, fc - 2, label);
}

/* CURRENT_USER, SESSION_USER, CURRENT_CATALOG and the other keywords that read the session
 * (libpg_query's SQLValueFunction), in allowlist mode. */
static int check_value_function(gctx *c, int body)
{
    const char *sql = guardfn_session_value(gtree_str(&c->g, body, "op"));

    if (!sql || !c->p->allowlist || c->p->allow_session) return 0;
    return deny(c,
                "function %s is not allowed: %s (a column or table of that name is written "
                "\"%s\")",
                sql, session_why, sql);
}

/* A name used as a field: PostgreSQL reads x.name and (expr).name as name(x) when x has no
 * column of that name, so field names meet the function checks. The denylist applies
 * everywhere; in allowlist mode so does attr_funcs (the catalog is not at hand, so a name
 * there is refused even where it is a real column; none of them is a common column name). */
static int check_attr(gctx *c, const char *name)
{
    if (guardfn_denied(name))
        return deny(c, "function %s is not allowed (x.%s and (x).%s call %s(x))", name, name, name,
                    name);
    if (c->p->allowlist && guardfn_attr(name))
        return deny(c,
                    "%s is not allowed as a field name: it is a built-in function that is not "
                    "on the list of allowed functions (x.%s and (x).%s call %s(x))",
                    name, name, name, name);
    return 0;
}

/* The String elements of list a, from index from on, through check_attr(). */
static int check_attr_list(gctx *c, int a, int from)
{
    const char *t, *v;
    int e, k, body = -1;

    if (a < 0 || c->g.t[a].type != J_ARR) return 0;
    for (e = a + 1, k = 0; k < c->g.t[a].size; k++, e = c->g.t[e].next) {
        t = gtree_node(&c->g, e, &body);
        if (k < from || !t || strcmp(t, "String") != 0) continue;
        v = gtree_str(&c->g, body, "sval");
        if (!v) return deny(c, "a field with an unreadable name");
        if (check_attr(c, v) < 0) return -1;
    }
    return 0;
}

/* ColumnRef: its last name, when there are two or more, may be a function applied to what
 * precedes it (o.f_orders is f_orders(o); schema.rel.fn is fn(schema.rel)). PostgreSQL
 * never calls the names before the last, so only that one is checked: a table or schema
 * named like a function (lo_orders.id) stays readable. */
static int check_columnref(gctx *c, int cr)
{
    int a = gtree_field(&c->g, cr, "fields");

    if (a < 0 || c->g.t[a].type != J_ARR || c->g.t[a].size < 2) return 0;
    return check_attr_list(c, a, c->g.t[a].size - 1);
}

/* A_Indirection: (expr).name is name(expr) when expr has no such field. In allowlist mode
 * field selection is allowed only on a column reference ((t).col, (row_col).f1), where the
 * name passes check_attr(); subscripts ([1]) and .* are not names and pass. */
static int check_indirection(gctx *c, int ind)
{
    const char *t, *at;
    int e, k, body = -1, abody = -1, list = gtree_field(&c->g, ind, "indirection");

    if (check_attr_list(c, list, 0) < 0) return -1;
    if (!c->p->allowlist || list < 0 || c->g.t[list].type != J_ARR) return 0;
    at = gtree_node(&c->g, gtree_field(&c->g, ind, "arg"), &abody);
    if (at && strcmp(at, "ColumnRef") == 0) return 0;
    for (e = list + 1, k = 0; k < c->g.t[list].size; k++, e = c->g.t[e].next) {
        t = gtree_node(&c->g, e, &body);
        if (t && strcmp(t, "String") == 0)
            return deny(c, "field selection (expr).%s is not allowed: only (column).field is",
                        gtree_str(&c->g, body, "sval") ? gtree_str(&c->g, body, "sval") : "?");
    }
    return 0;
}

/* Operators can be user-defined too: a schema other than pg_catalog is refused in allowlist
 * mode (OPERATOR(myschema.+)). || is sized like a call. */
static int check_operator(gctx *c, int ae)
{
    const char *schema, *name;
    int n, list = gtree_field(&c->g, ae, "name");

    if (list < 0) return 0;
    if (gtree_name(&c->g, list, &schema, &name, &n) < 0)
        return c->p->allowlist ? deny(c, "operator with an unreadable name") : 0;
    if (c->p->allowlist && schema && strcmp(schema, "pg_catalog") != 0)
        return deny(c,
                    "operator %s.%s is not allowed: only pg_catalog operators may be "
                    "called with a schema",
                    schema, name);
    return strcmp(name, "||") == 0 ? check_size(c, ae - 2, "the || operator") : 0;
}

static int check_tablesample(gctx *c, int ts)
{
    const char *schema, *name;
    int n;

    if (!c->p->allowlist) return 0;
    if (gtree_name(&c->g, gtree_field(&c->g, ts, "method"), &schema, &name, &n) < 0)
        return deny(c, "TABLESAMPLE with an unreadable method name");
    if (schema && strcmp(schema, "pg_catalog") != 0)
        return deny(c, "TABLESAMPLE method %s.%s is not allowed", schema, name);
    return 0;
}

static int is_cte(const gctx *c, const char *name)
{
    int i;

    for (i = c->nctes - 1; i >= 0; i--)
        if (strcmp(c->ctes[i], name) == 0) return 1;
    return 0;
}

static int schema_listed(const guard_policy *p, const char *schema)
{
    int i;

    for (i = 0; i < p->nschemas; i++)
        if (p->schemas && p->schemas[i] && strcmp(p->schemas[i], schema) == 0) return 1;
    return 0;
}

static int add_rel(gctx *c, const char *schema, const char *name)
{
    guard_result *r = c->res;
    int i;

    for (i = 0; i < r->nrels; i++)
        if (strcmp(r->rels[i].schema, schema) == 0 && strcmp(r->rels[i].name, name) == 0) return 0;
    if (r->nrels == GUARD_MAX_RELS)
        return deny(c, "the statement reads more than %d relations", GUARD_MAX_RELS);
    if (str_copy(r->rels[r->nrels].schema, sizeof r->rels[0].schema, schema) < 0 ||
        str_copy(r->rels[r->nrels].name, sizeof r->rels[0].name, name) < 0)
        return deny(c, "relation name %.64s... is too long", name);
    r->nrels++;
    return 0;
}

static int check_rangevar(gctx *c, int rv)
{
    const guard_policy *p = c->p;
    const char *schema = gtree_str(&c->g, rv, "schemaname");
    const char *name = gtree_str(&c->g, rv, "relname");
    const char *db = gtree_str(&c->g, rv, "catalogname");
    int catalog;

    if (!name) return deny(c, "relation with an unreadable name");
    if (db)
        return deny(c, "relation %s.%s.%s is not allowed: cross-database references", db,
                    schema ? schema : "", name);
    if (!schema) {
        if (is_cte(c, name)) return 0;
        if (guardfn_catalog_denied(name))
            return deny(c, "relation %s is not allowed: it is a protected system catalog", name);
        if (!p->allow_catalogs && strncasecmp(name, "pg_", 3) == 0)
            return deny(c, "relation %s is not allowed: system catalogs are not enabled", name);
        return add_rel(c, "", name);
    }
    if (strcasecmp(schema, "t2sql") == 0)
        return deny(c, "relation %s.%s is not allowed: the t2sql schema is internal", schema, name);
    catalog = strcmp(schema, "pg_catalog") == 0 || strcmp(schema, "information_schema") == 0;
    if (catalog) {
        if (schema[0] == 'p' ? guardfn_catalog_denied(name) : guardfn_infoschema_denied(name))
            return deny(c, "relation %s.%s is not allowed: it is a protected system catalog",
                        schema, name);
        if (!p->allow_catalogs && !schema_listed(p, schema))
            return deny(c, "relation %s.%s is not allowed: system catalogs are not enabled", schema,
                        name);
    } else if (!schema_listed(p, schema)) {
        return deny(c,
                    "relation %s.%s is not allowed: schema %s is not one of the allowed "
                    "schemas",
                    schema, name, schema);
    }
    return add_rel(c, schema, name);
}

/* One more relation joined at the current query level. */
static int count_from(gctx *c)
{
    c->nfrom++;
    if (c->p->max_joins > 0 && c->nfrom > c->p->max_joins)
        return deny(c, "a query joins more than %d relations", c->p->max_joins);
    return 0;
}

/* Walks every value of object o except the keys in skip (NULL-terminated). */
static int walk_fields(gctx *c, int o, const char *const *skip, int depth)
{
    const char *const *s;
    int i, k;

    if (o < 0 || c->g.t[o].type != J_OBJ) return 0;
    for (i = o + 1, k = 0; k < c->g.t[o].size; k++, i = c->g.t[i + 1].next) {
        for (s = skip; s && *s; s++)
            if (strcmp(*s, c->g.t[i].s) == 0) break;
        if (s && *s) continue;
        if (walk(c, i + 1, depth) < 0) return -1;
    }
    return 0;
}

static int walk_node(gctx *c, const char *type, int body, int depth)
{
    static const char *const skip_func[] = {"funcname", NULL};
    static const char *const skip_expr[] = {"name", NULL};

    switch (type[0]) {
    case 'A':
        if (strcmp(type, "A_Expr") == 0) {
            if (check_operator(c, body) < 0) return -1;
            return walk_fields(c, body, skip_expr, depth);
        }
        if (strcmp(type, "A_Indirection") == 0 && check_indirection(c, body) < 0) return -1;
        break;
    case 'C':
        if (strcmp(type, "CommonTableExpr") == 0)
            return deny(c, "WITH is only allowed at the start of a query");
        if (strcmp(type, "ColumnRef") == 0 && check_columnref(c, body) < 0) return -1;
        break;
    case 'F':
        if (strcmp(type, "FuncCall") == 0) {
            if (check_func(c, body) < 0) return -1;
            return walk_fields(c, body, skip_func, depth);
        }
        break;
    case 'I':
        if (strcmp(type, "IntoClause") == 0) return deny(c, "SELECT INTO is not allowed");
        break;
    case 'L':
        if (strcmp(type, "LockingClause") == 0)
            return deny(c, "row locks (FOR UPDATE/SHARE) are not allowed");
        break;
    case 'R':
        if (strcmp(type, "RangeVar") == 0) {
            if (count_from(c) < 0 || check_rangevar(c, body) < 0) return -1;
            return walk(c, body, depth);
        }
        if (strcmp(type, "RangeSubselect") == 0 || strcmp(type, "RangeFunction") == 0 ||
            strcmp(type, "RangeTableFunc") == 0) {
            if (count_from(c) < 0) return -1;
            return walk(c, body, depth);
        }
        if (strcmp(type, "RangeTableSample") == 0) {
            if (check_tablesample(c, body) < 0) return -1;
            return walk(c, body, depth);
        }
        break;
    case 'S':
        if (strcmp(type, "SelectStmt") == 0) return check_select(c, body, 0, depth);
        if (strcmp(type, "SQLValueFunction") == 0 && check_value_function(c, body) < 0) return -1;
        break;
    case 'W':
        if (strcmp(type, "WithClause") == 0)
            return deny(c, "WITH is only allowed at the start of a query");
        break;
    default:
        break;
    }
    if (is_stmt_node(type))
        return deny(c, "%s inside a query is not allowed", guardfn_stmt_sql(type));
    return walk(c, body, depth);
}

static int walk(gctx *c, int o, int depth)
{
    const char *key;
    int i, k, v;

    if (depth > GUARD_TREE_DEPTH) return deny(c, "the statement is nested too deeply");
    switch (c->g.t[o].type) {
    case J_ARR:
        for (i = o + 1, k = 0; k < c->g.t[o].size; k++, i = c->g.t[i].next)
            if (walk(c, i, depth + 1) < 0) return -1;
        return 0;
    case J_OBJ:
        for (i = o + 1, k = 0; k < c->g.t[o].size; k++, i = c->g.t[v].next) {
            key = c->g.t[i].s;
            v = i + 1;
            if (strcmp(key, "intoClause") == 0) return deny(c, "SELECT INTO is not allowed");
            if (strcmp(key, "lockingClause") == 0)
                return deny(c, "row locks (FOR UPDATE/SHARE) are not allowed");
            if (strcmp(key, "withClause") == 0)
                return deny(c, "WITH is only allowed at the start of a query");
            /* Node types start with a capital (SelectStmt, A_Expr); field names do not. */
            if (key[0] >= 'A' && key[0] <= 'Z' && c->g.t[v].type == J_OBJ) {
                if (walk_node(c, key, v, depth + 1) < 0) return -1;
            } else if (walk(c, v, depth + 1) < 0) {
                return -1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

static int push_cte(gctx *c, const char *name)
{
    if (c->nctes == GUARD_MAX_CTES) return deny(c, "more than %d WITH queries", GUARD_MAX_CTES);
    c->ctes[c->nctes++] = name;
    return 0;
}

/* WITH: a CTE's name is in scope for the rest of the query; inside the CTE list, for the
 * CTEs after it, or for all of them (itself included) with RECURSIVE. The names stay pushed;
 * check_select() pops them when the query ends. */
static int check_with(gctx *c, int with, int depth)
{
    static const char *const skip_cte[] = {"ctequery", "ctename", NULL};
    int ctes = gtree_field(&c->g, with, "ctes"), rec = gtree_field(&c->g, with, "recursive");
    int recursive = rec >= 0 && c->g.t[rec].type == J_PRIM && c->g.t[rec].s[0] == 't';
    int i, n, e, cte = -1, qbody = -1;
    const char *t, *name, *qt;

    if (ctes < 0 || c->g.t[ctes].type != J_ARR) return deny(c, "WITH without queries");
    n = c->g.t[ctes].size;
    for (i = 0, e = ctes + 1; recursive && i < n; i++, e = c->g.t[e].next) {
        t = gtree_node(&c->g, e, &cte);
        name = t && strcmp(t, "CommonTableExpr") == 0 ? gtree_str(&c->g, cte, "ctename") : NULL;
        if (!name) return deny(c, "WITH with an unreadable query");
        if (push_cte(c, name) < 0) return -1;
    }
    for (i = 0, e = ctes + 1; i < n; i++, e = c->g.t[e].next) {
        t = gtree_node(&c->g, e, &cte);
        name = t && strcmp(t, "CommonTableExpr") == 0 ? gtree_str(&c->g, cte, "ctename") : NULL;
        if (!name) return deny(c, "WITH with an unreadable query");
        qt = gtree_node(&c->g, gtree_field(&c->g, cte, "ctequery"), &qbody);
        if (!qt) return deny(c, "WITH query %s is unreadable", name);
        if (strcmp(qt, "SelectStmt") != 0)
            return deny(c, "%s inside WITH is not allowed", guardfn_stmt_sql(qt));
        if (check_select(c, qbody, 0, depth + 1) < 0 || walk_fields(c, cte, skip_cte, depth) < 0)
            return -1;
        if (!recursive && push_cte(c, name) < 0) return -1;
    }
    return 0;
}

static const char *lock_sql(const gctx *c, int locks)
{
    const char *t, *s;
    int lc = -1;

    t = gtree_node(&c->g, gtree_elem(&c->g, locks, 0), &lc);
    s = t ? gtree_str(&c->g, lc, "strength") : NULL;
    if (!s) return "FOR UPDATE/SHARE";
    if (strcmp(s, "LCS_FORKEYSHARE") == 0) return "FOR KEY SHARE";
    if (strcmp(s, "LCS_FORSHARE") == 0) return "FOR SHARE";
    if (strcmp(s, "LCS_FORNOKEYUPDATE") == 0) return "FOR NO KEY UPDATE";
    return "FOR UPDATE";
}

/* A SelectStmt body. arm: the left or right side of UNION/INTERSECT/EXCEPT, which is not a
 * new query level. */
static int check_select(gctx *c, int s, int arm, int depth)
{
    static const char *const skip_sel[] = {"withClause", "larg", "rarg", NULL};
    const guard_policy *p = c->p;
    int saved_ctes = c->nctes, saved_from = c->nfrom, rc = -1, v;
    double saved_rows = c->agg_rows, rows;

    if (!arm) c->qdepth++;
    c->nfrom = 0;
    if (depth > GUARD_TREE_DEPTH) {
        deny(c, "the statement is nested too deeply");
        goto done;
    }
    if (s < 0 || c->g.t[s].type != J_OBJ) {
        deny(c, "unreadable SELECT");
        goto done;
    }
    if (p->max_nesting > 0 && c->qdepth > p->max_nesting) {
        deny(c, "subqueries are nested more than %d deep", p->max_nesting);
        goto done;
    }
    if (gtree_field(&c->g, s, "intoClause") >= 0) {
        deny(c, "SELECT INTO is not allowed");
        goto done;
    }
    v = gtree_field(&c->g, s, "lockingClause");
    if (v >= 0) {
        deny(c, "row locks (%s) are not allowed", lock_sql(c, v));
        goto done;
    }
    v = gtree_field(&c->g, s, "withClause");
    if (v >= 0 && check_with(c, v, depth + 1) < 0) goto done;
    v = gtree_field(&c->g, s, "larg");
    if (v >= 0 && check_select(c, v, 1, depth + 1) < 0) goto done;
    v = gtree_field(&c->g, s, "rarg");
    if (v >= 0 && check_select(c, v, 1, depth + 1) < 0) goto done;
    /* Aggregates read every row of the FROM unless WHERE or GROUP BY splits them. The rows
     * themselves are not capped: a join is produced lazily (paging stops it early) and
     * statement_timeout can stop it; only one call's result is built whole. */
    rows = gfold_from_rows(&c->fold, s);
    c->agg_rows =
        gtree_field(&c->g, s, "whereClause") < 0 && gtree_field(&c->g, s, "groupClause") < 0 ? rows
                                                                                             : 0;
    if (walk_fields(c, s, skip_sel, depth + 1) < 0) goto done;
    rc = 0;
done:
    c->nctes = saved_ctes;
    c->nfrom = saved_from;
    c->agg_rows = saved_rows;
    if (!arm) c->qdepth--;
    return rc;
}

int guard_check(const char *sql, const guard_policy *p, guard_result *res)
{
    PgQueryParseResult pr;
    const char *type;
    size_t len;
    int parsed = 0, rc = -1, stmts, n, body = -1;
    gctx c;

    if (!res) return -1;
    res->nrels = 0;
    res->is_parse_error = 0;
    res->why[0] = '\0';
    memset(&c, 0, sizeof c);
    c.p = p;
    c.res = res;
    if (!sql) {
        deny(&c, "no SQL was given");
        goto fail;
    }
    if (!p) {
        deny(&c, "no guard policy was given");
        goto fail;
    }
    len = strlen(sql);
    c.g.sql = sql;
    c.g.sqllen = len;
    c.fold.g = &c.g;
    if (p->max_bytes > 0 && len > p->max_bytes) {
        deny(&c, "the statement is %zu bytes; the limit is %zu", len, p->max_bytes);
        goto fail;
    }
    pr = pg_query_parse(sql);
    parsed = 1;
    if (pr.error) {
        res->is_parse_error = 1;
        if (pr.error->cursorpos > 0)
            deny(&c, "%s (at character %d)", pr.error->message ? pr.error->message : "syntax error",
                 pr.error->cursorpos);
        else
            deny(&c, "%s", pr.error->message ? pr.error->message : "syntax error");
        goto fail;
    }
    n = pr.parse_tree ? gtree_read(&c.g, pr.parse_tree) : -1;
    if (n < 0) {
        deny(&c, n == -2 ? "the statement is nested too deeply" : "could not read the parse tree");
        goto fail;
    }
    stmts = gtree_field(&c.g, 0, "stmts");
    n = stmts >= 0 && c.g.t[stmts].type == J_ARR ? c.g.t[stmts].size : 0;
    if (n == 0) {
        deny(&c, "no statement was found (the input is empty or only comments)");
        goto fail;
    }
    if (n > 1) {
        deny(&c, "statement 2 of %d: only one statement is allowed", n);
        goto fail;
    }
    type = gtree_node(&c.g, gtree_field(&c.g, stmts + 1, "stmt"), &body);
    if (!type) {
        deny(&c, "could not read the parse tree");
        goto fail;
    }
    if (strcmp(type, "SelectStmt") != 0) {
        deny(&c, "only a SELECT statement is allowed, not %s", guardfn_stmt_sql(type));
        goto fail;
    }
    if (check_select(&c, body, 0, 3) < 0) goto fail;
    rc = 0;
fail:
    if (rc < 0) res->nrels = 0;
    gfold_free(&c.fold);
    gtree_free(&c.g);
    if (parsed) pg_query_free_parse_result(pr);
    return rc;
}
