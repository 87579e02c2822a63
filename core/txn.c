/* txn -- the read-only transaction of generated SQL; see txn.h. */
#include "txn.h"

#include "buf.h"
#include "log.h"
#include "pg.h"
#include "prep.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

void txn_limits_from_conf(txn_limits *lim, const conf *cf, const char *search_path,
                          const int *temp_limit_ok, int for_export)
{
    memset(lim, 0, sizeof *lim);
    lim->search_path = search_path;
    lim->role = cf->query_role;
    lim->statement_timeout_ms =
        for_export ? cf->export_statement_timeout_ms : cf->statement_timeout_ms;
    lim->lock_timeout_ms = cf->lock_timeout_ms;
    lim->idle_tx_timeout_ms = cf->idle_tx_timeout_ms;
    lim->temp_file_limit_kb = cf->temp_file_limit_kb;
    lim->temp_limit_ok = temp_limit_ok;
    lim->work_mem = cf->work_mem;
}

int txn_search_path(const conf *cf, char *dst, size_t len)
{
    char **names = NULL;
    buf sp = BUF_INIT(len - 1);
    int n, i, rc = -1;

    if ((n = conf_schema_list(cf, &names, 32)) < 0) return -1;
    for (i = 0; i < n; i++) {
        const char *c;
        if (strcmp(names[i], "t2sql") == 0)
            continue; /* the service's own schema is never on generated SQL's path */
        if (sp.len && buf_adds(&sp, ", ") < 0) goto done;
        if (buf_addc(&sp, '"') < 0) goto done;
        for (c = names[i]; *c; c++)
            if ((*c == '"' && buf_addc(&sp, '"') < 0) || buf_addc(&sp, *c) < 0) goto done;
        if (buf_addc(&sp, '"') < 0) goto done;
    }
    str_copy(dst, len, sp.len ? buf_cstr(&sp) : "\"public\"");
    rc = 0;
done:
    buf_free(&sp);
    free(names);
    return rc;
}

int txn_temp_limit_allowed(PGconn *conn, int *is_super)
{
    PGresult *r = PQexec(conn, "SELECT current_setting('is_superuser') = 'on'");
    int super = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't', ok = super;

    PQclear(r);
    if (!super) {
        r = PQexec(conn, "SELECT has_parameter_privilege('temp_file_limit', 'SET')");
        ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
    }
    if (is_super) *is_super = super;
    return ok;
}

int txn_claim_name_ok(const char *s)
{
    size_t i;

    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return 0;
    for (i = 1; s[i]; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return i <= 63;
}

/* The opening's settings while they are written: each a set_config(name, value, true) call,
 * in lit with its value quoted, in shape with its value as the next parameter ($k), the quoted
 * value then appended to args, "('v1', 'v2', ...)". */
typedef struct opening {
    PGconn *conn;
    buf lit, shape, args;
    int k, failed;
} opening;

/* Adds setting name (a plain name: no quoting needed) = value. */
static void add_setting(opening *o, const char *name, const char *value)
{
    char *v = PQescapeLiteral(o->conn, value, strlen(value));
    const char *sep = o->k ? ", " : "SELECT ";

    if (!v || buf_printf(&o->lit, "%sset_config('%s', %s, true)", sep, name, v) < 0 ||
        buf_printf(&o->shape, "%sset_config('%s', $%d, true)", sep, name, o->k + 1) < 0 ||
        buf_printf(&o->args, "%s%s", o->k ? ", " : "(", v) < 0)
        o->failed = 1;
    o->k++;
    PQfreemem(v);
}

static void add_number(opening *o, const char *name, long value)
{
    char v[24];

    snprintf(v, sizeof v, "%ld", value);
    add_setting(o, name, v);
}

/* 't2sql.claims' = the claims as one JSON object, then 't2sql.claim.<name>' = each value. */
static int add_claims(opening *o, const txn_identity *id, t2err *err)
{
    json_object *obj = NULL;
    const char *js = id->claims_json;
    char name[96];
    int i;

    for (i = 0; i < id->nclaims; i++)
        if (!txn_claim_name_ok(id->claims[i].name) || !id->claims[i].value)
            return err_set(err, E_FORBIDDEN, "a claim's name is not a simple identifier");
    if (!js) {
        if (!(obj = json_object_new_object())) return err_set(err, E_INTERNAL, "out of memory");
        for (i = 0; i < id->nclaims; i++)
            json_object_object_add(obj, id->claims[i].name,
                                   json_object_new_string(id->claims[i].value));
        js = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
    }
    add_setting(o, "t2sql.claims", js);
    for (i = 0; i < id->nclaims; i++) {
        snprintf(name, sizeof name, "t2sql.claim.%s", id->claims[i].name);
        add_setting(o, name, id->claims[i].value);
    }
    json_object_put(obj);
    if (o->failed) return err_set(err, E_FORBIDDEN, "the claims cannot be passed to the database");
    return 0;
}

/* The whole opening of the transaction as one multi-statement string appended to q: BEGIN,
 * then every setting as set_config(..., true) in one SELECT (the same as SET LOCAL, but one
 * statement for PostgreSQL to parse and run instead of one per setting; the target list runs
 * in order, so the role, set last, comes after the settings only its login may make). With
 * prepared, that SELECT is a prepared statement of this connection (prep.h) when it can be,
 * its values the parameters: parsed and planned once per connection. *n (if not NULL) is set
 * to the results it produces: 2, and one per PREPARE or DEALLOCATE. */
static int build_begin(PGconn *conn, buf *q, const txn_limits *lim, const txn_identity *id,
                       int prepared, int *n, t2err *err)
{
    const char *role = id && id->role && *id->role ? id->role : lim->role;
    opening o = {conn, BUF_INIT(q->max), BUF_INIT(q->max), BUF_INIT(q->max), 0, 0};
    int extra = -1, rc = -1;

    add_number(&o, "statement_timeout", lim->statement_timeout_ms);
    add_number(&o, "lock_timeout", lim->lock_timeout_ms);
    add_setting(&o, "standard_conforming_strings", "on"); /* as libpg_query parses */
    add_number(&o, "idle_in_transaction_session_timeout", lim->idle_tx_timeout_ms);
    add_setting(&o, "search_path",
                lim->search_path && *lim->search_path ? lim->search_path : "\"public\"");
    if (lim->temp_file_limit_kb >= 0 && (!lim->temp_limit_ok || *lim->temp_limit_ok))
        add_number(&o, "temp_file_limit", lim->temp_file_limit_kb);
    if (lim->work_mem && *lim->work_mem) add_setting(&o, "work_mem", lim->work_mem);
    if (id && (id->nclaims > 0 || id->claims_json) && add_claims(&o, id, err) < 0) goto done;
    if (role && *role) add_setting(&o, "role", role);
    if (o.failed || buf_addc(&o.args, ')') < 0) {
        err_set(err, E_INTERNAL, "cannot quote the transaction's settings");
        goto done;
    }
    if (buf_adds(q, "BEGIN READ ONLY; ") < 0 ||
        ((!prepared ||
          (extra = prep_append(conn, q, NULL, buf_cstr(&o.shape), buf_cstr(&o.args))) < 0) &&
         buf_add(q, o.lit.p, o.lit.len) < 0) ||
        (q->max && q->len >= q->max)) {
        if (extra >= 0) prep_settle(conn, 0); /* (its PREPARE is never sent) */
        err_set(err, E_INTERNAL, "the transaction's settings are too long");
        goto done;
    }
    if (n) *n = 2 + (extra > 0 ? extra : 0);
    rc = 0;
done:
    buf_free(&o.lit);
    buf_free(&o.shape);
    buf_free(&o.args);
    return rc;
}

int txn_begin_text(PGconn *conn, const txn_limits *lim, const txn_identity *id, buf *q, int *n,
                   t2err *err)
{
    const char *scs = PQparameterStatus(conn, "standard_conforming_strings");

    /* PostgreSQL lexes a whole simple query before running any of it: the SET LOCAL
     * standard_conforming_strings in it would come too late for the statements after it */
    if (!scs || strcmp(scs, "on") != 0) return 0;
    if (build_begin(conn, q, lim, id, 1, n, err) < 0 ||
        (buf_adds(q, ";\n") < 0 && err_set(err, E_INTERNAL, "out of memory") < 0)) {
        txn_begin_failed(err);
        return -1;
    }
    return 1;
}

void txn_begin_failed(const t2err *err)
{
    if (err->code == E_INTERNAL)
        log_error("cannot open the read-only transaction: %s", err->detail);
}

int txn_begin(PGconn *conn, const txn_limits *lim, const txn_identity *id, t2err *err)
{
    buf q = BUF_INIT(1 << 20);
    int rc;

    if ((rc = build_begin(conn, &q, lim, id, 0, NULL, err)) == 0)
        rc = pg_command(conn, buf_cstr(&q), err);
    if (rc < 0 && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK")); /* leave no aborted transaction behind */
    if (rc < 0) txn_begin_failed(err);
    buf_free(&q);
    return rc;
}

void txn_end(PGconn *conn)
{
    PGresult *r;
    char *line;

    while ((r = PQgetResult(conn)) != NULL) {
        /* a COPY OUT still running (a page read through COPY that stopped early) answers
         * PQgetResult() with COPY_OUT until its rows are read */
        if (PQresultStatus(r) == PGRES_COPY_OUT)
            while (PQgetCopyData(conn, &line, 0) > 0)
                PQfreemem(line);
        PQclear(r);
    }
    if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
}
