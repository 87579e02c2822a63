/* txn -- the read-only transaction of generated SQL; see txn.h. */
#include "txn.h"

#include "buf.h"
#include "log.h"
#include "pg.h"

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

/* Appends literal(s) to q as a quoted SQL string; -1 if it cannot be quoted. */
static int add_literal(PGconn *conn, buf *q, const char *s)
{
    char *lit = PQescapeLiteral(conn, s, strlen(s));
    int rc;

    if (!lit) return -1;
    rc = buf_adds(q, lit);
    PQfreemem(lit);
    return rc;
}

/* ", set_config('t2sql.claims', ..., true), set_config('t2sql.claim.x', ..., true)" */
static int add_claims(PGconn *conn, buf *q, const txn_identity *id, t2err *err)
{
    json_object *obj = NULL;
    const char *js = id->claims_json;
    int i, rc = -1;

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
    if (buf_adds(q, ", set_config('t2sql.claims', ") < 0 || add_literal(conn, q, js) < 0 ||
        buf_adds(q, ", true)") < 0)
        goto fail;
    for (i = 0; i < id->nclaims; i++)
        if (buf_printf(q, ", set_config('t2sql.claim.%s', ", id->claims[i].name) < 0 ||
            add_literal(conn, q, id->claims[i].value) < 0 || buf_adds(q, ", true)") < 0)
            goto fail;
    rc = 0;
fail:
    if (rc < 0) err_set(err, E_FORBIDDEN, "the claims cannot be passed to the database");
    json_object_put(obj);
    return rc;
}

/* The whole opening of the transaction as one multi-statement string: BEGIN, then every
 * setting as set_config(..., true) in one SELECT (the same as SET LOCAL, but one statement
 * for PostgreSQL to parse and run instead of one per setting; the target list runs in order,
 * so the role, set last, comes after the settings only its login may make). *n (if not NULL)
 * is set to the results it produces: 2. */
static int build_begin(PGconn *conn, buf *q, const txn_limits *lim, const txn_identity *id, int *n,
                       t2err *err)
{
    const char *role = id && id->role && *id->role ? id->role : lim->role;

    buf_printf(q,
               "BEGIN READ ONLY; SELECT set_config('statement_timeout', '%ld', true),"
               " set_config('lock_timeout', '%ld', true),"
               " set_config('standard_conforming_strings', 'on', true)," /* as libpg_query parses */
               " set_config('idle_in_transaction_session_timeout', '%ld', true),"
               " set_config('search_path', ",
               lim->statement_timeout_ms, lim->lock_timeout_ms, lim->idle_tx_timeout_ms);
    if (add_literal(conn, q,
                    lim->search_path && *lim->search_path ? lim->search_path : "\"public\"") < 0 ||
        buf_adds(q, ", true)") < 0)
        return err_set(err, E_INTERNAL, "cannot quote the search path");
    if (lim->temp_file_limit_kb >= 0 && (!lim->temp_limit_ok || *lim->temp_limit_ok))
        buf_printf(q, ", set_config('temp_file_limit', '%ld', true)", lim->temp_file_limit_kb);
    if (lim->work_mem && *lim->work_mem &&
        (buf_adds(q, ", set_config('work_mem', ") < 0 || add_literal(conn, q, lim->work_mem) < 0 ||
         buf_adds(q, ", true)") < 0))
        return err_set(err, E_INTERNAL, "cannot quote work_mem");
    if (id && (id->nclaims > 0 || id->claims_json) && add_claims(conn, q, id, err) < 0) return -1;
    if (role && *role &&
        (buf_adds(q, ", set_config('role', ") < 0 || add_literal(conn, q, role) < 0 ||
         buf_adds(q, ", true)") < 0))
        return err_set(err, E_INTERNAL, "cannot quote the query role");
    if (q->len == 0 || (q->max && q->len >= q->max))
        return err_set(err, E_INTERNAL, "the transaction's settings are too long");
    if (n) *n = 2;
    return 0;
}

int txn_begin_text(PGconn *conn, const txn_limits *lim, const txn_identity *id, buf *q, int *n,
                   t2err *err)
{
    const char *scs = PQparameterStatus(conn, "standard_conforming_strings");

    /* PostgreSQL lexes a whole simple query before running any of it: the SET LOCAL
     * standard_conforming_strings in it would come too late for the statements after it */
    if (!scs || strcmp(scs, "on") != 0) return 0;
    if (build_begin(conn, q, lim, id, n, err) < 0 ||
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

    if ((rc = build_begin(conn, &q, lim, id, NULL, err)) == 0)
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
