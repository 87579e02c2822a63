/* pipeline -- question -> validated SQL; see pipeline.h. */
#include "pipeline.h"

#include "log.h"
#include "planner.h"
#include "rag.h"
#include "text.h"

#include <ctype.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <pg_query.h>
#include <stdlib.h>
#include <string.h>

static const char SYSTEM_PROMPT[] =
    "You are an expert PostgreSQL analyst. Translate the user's question into exactly one "
    "read-only PostgreSQL SELECT statement over the schema given. Use only the tables and "
    "columns listed; qualify ambiguous columns; use the glossary's definitions; never modify "
    "data. Answer with the SQL inside <sql></sql> tags and nothing else. If the question "
    "cannot be answered from this schema (it is about something else, or the data does not "
    "hold it), answer <cannot_answer>one sentence saying why</cannot_answer> instead.";

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

const catalog *pipeline_catalog(t2ctx *x, t2err *err)
{
    PGconn *conn;
    const catalog *c;

    if (!x->cat) {
        err_set(err, E_DB_UNAVAILABLE, "the database is unavailable");
        return NULL;
    }
    if (!x->who || !x->who->role[0]) return x->cat;
    if (!x->rcat && !(x->rcat = rolecat_new())) {
        err_set(err, E_INTERNAL, "out of memory");
        return NULL;
    }
    if (!(conn = pgc_get(&x->db, err))) return NULL;
    /* never the whole catalog when the role's part cannot be read: fail closed */
    if (!(c = rolecat_get(x->rcat, conn, x->cat, x->schemas, x->nschemas, x->who->role, err)))
        pgc_check(&x->db);
    return c;
}

void gen_result_init(gen_result *g)
{
    memset(g, 0, sizeof *g);
    g->sql.max = 1u << 20;
    g->explanation.max = 1u << 14;
    g->measures_used.max = 1u << 14;
    g->standalone.max = 1u << 16;
    g->clarification.max = 1u << 16;
}

void gen_result_free(gen_result *g)
{
    buf_free(&g->standalone);
    buf_free(&g->clarification);
    buf_free(&g->sql);
    buf_free(&g->explanation);
    buf_free(&g->measures_used);
}

/* Appends the text of the single statement in sql, without trailing semicolon/space. */
static int single_statement(const char *sql, buf *out)
{
    PgQuerySplitResult r = pg_query_split_with_scanner(sql);
    int rc = -1;

    if (!r.error && r.n_stmts == 1) {
        const char *s = sql + r.stmts[0]->stmt_location;
        size_t n = r.stmts[0]->stmt_len ? (size_t)r.stmts[0]->stmt_len : strlen(s);
        while (n && strchr(" \t\r\n", *s))
            s++, n--;
        while (n && strchr(" \t\r\n;", s[n - 1]))
            n--;
        rc = n ? buf_add(out, s, n) : -1;
    }
    pg_query_free_split_result(r);
    return rc;
}

/* Lists (into hint) catalog names close to an unknown name. */
static void closest_names(const catalog *cat, const char *name, buf *hint)
{
    int i, j, k = 0;

    for (i = 0; i < cat->ntables && k < 5; i++)
        if (text_edit_distance(cat->tables[i].name, name, 4) < 4 ||
            strstr(cat->tables[i].name, name) || strstr(name, cat->tables[i].name)) {
            buf_printf(hint, "%s%s", k++ ? ", " : " Closest tables: ", cat->tables[i].name);
        }
    if (k == 0)
        for (i = 0; i < cat->ntables && k < 5; i++)
            for (j = 0; j < cat->tables[i].ncols && k < 5; j++)
                if (text_edit_distance(cat->tables[i].cols[j].name, name, 3) < 3)
                    buf_printf(hint, "%s%s.%s",
                               k++ ? ", " : " Closest columns: ", cat->tables[i].name,
                               cat->tables[i].cols[j].name);
}

/* Relations the guard found must exist in the catalog. */
static int check_names(t2ctx *x, const guard_result *gr, t2err *err)
{
    int i;
    char qn[160];

    const catalog *cat;

    if (!x->cat) return 0;
    if (!(cat = pipeline_catalog(x, err))) return -1;
    for (i = 0; i < gr->nrels; i++) {
        buf hint = BUF_INIT(1024);
        if (gr->rels[i].schema[0])
            snprintf(qn, sizeof qn, "%s.%s", gr->rels[i].schema, gr->rels[i].name);
        else
            str_copy(qn, sizeof qn, gr->rels[i].name);
        if (catalog_find_table(cat, qn) >= 0) {
            buf_free(&hint);
            continue;
        }
        closest_names(cat, gr->rels[i].name, &hint);
        err_set(err, E_INVALID_SQL, "relation \"%s\" does not exist.%s", qn, buf_cstr(&hint));
        buf_free(&hint);
        return -1;
    }
    return 0;
}

int pipeline_validate(t2ctx *x, const char *sql, buf *clean, t2err *err)
{
    guard_result *gr = calloc(1, sizeof *gr);
    PGconn *conn;
    int rc = -1;

    if (!gr) return err_set(err, E_INTERNAL, "out of memory");
    if (x->cf->guard_enabled) {
        if (guard_check(sql, &x->policy, gr) < 0) {
            err_set(err, gr->is_parse_error ? E_INVALID_SQL : E_UNSAFE_SQL, "%s: %s",
                    gr->is_parse_error ? "Invalid SQL generated"
                                       : "Unsafe or invalid SQL generated",
                    gr->why);
            goto done;
        }
        if (check_names(x, gr, err) < 0) goto done;
    }
    if (single_statement(sql, clean) < 0) {
        err_set(err, x->cf->guard_enabled ? E_INVALID_SQL : E_UNSAFE_SQL,
                "Unsafe or invalid SQL generated: expected exactly one statement");
        goto done;
    }
    if (!(conn = pgc_get(&x->db, err))) goto done;
    if (exec_check(conn, &x->lim, auth_txn_identity(x->who), buf_cstr(clean), err) < 0) {
        pgc_check(&x->db);
        buf_reset(clean);
        goto done;
    }
    rc = 0;
done:
    free(gr);
    return rc;
}

/* The identity's part of every cache key: "" for the service's own role and no claims. */
static const char *who_hash(const t2ctx *x)
{
    return x->who ? x->who->id_hash : "";
}

static int store_query(t2ctx *x, const char *question, const char *owner, gen_result *out,
                       t2err *err)
{
    PGconn *conn;

    queries_make_id(owner, buf_cstr(&out->sql), out->query_id);
    if (queries_memo_has(&x->stored, out->query_id)) return 0; /* no connection needed */
    if (!(conn = pgc_get(&x->db, err))) return -1;
    if (queries_store(&x->stored, conn, out->query_id, buf_cstr(&out->sql), question, out->source,
                      owner, x->who ? x->who->role : NULL, x->who ? x->who->claims_json : NULL,
                      err) < 0) {
        pgc_check(&x->db);
        return -1;
    }
    return 0;
}

int pipeline_query_id(t2ctx *x, const char *query_id, const char *owner, gen_result *out,
                      t2err *err)
{
    PGconn *conn = pgc_get(&x->db, err);

    if (!conn) return -1;
    if (queries_lookup(conn, query_id, owner, &out->sql, err) < 0) {
        if (err->code != E_NOT_FOUND) pgc_check(&x->db);
        return -1;
    }
    str_copy(out->query_id, sizeof out->query_id, query_id);
    out->source = "cache";
    return 0;
}

int pipeline_user_sql(t2ctx *x, const char *sql, const char *owner, gen_result *out, t2err *err)
{
    struct timespec t0, t1;
    int rc = -1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!x->cf->allow_user_sql || !x->cf->guard_enabled)
        return err_set(err, E_FORBIDDEN,
                       "running your own SQL is switched off on this service "
                       "(allow_user_sql = false, or the guard is off)");
    if (t2ctx_ready(x, err) < 0 || pipeline_validate(x, sql, &out->sql, err) < 0) goto done;
    out->source = "user";
    if (x->sem) pipeline_semantic_explain(x, "", out);
    if (store_query(x, NULL, owner, out, err) < 0) goto done;
    rc = 0;
done:
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->generate_ms = ms_between(&t0, &t1);
    return rc;
}

/* 1 if s holds word as a whole identifier (case-insensitive), else 0. */
static int has_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    const char *p;

    for (p = s; (p = strcasestr(p, word)) != NULL; p++) {
        int before = p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = isalnum((unsigned char)p[n]) || p[n] == '_';
        if (!before && !after) return 1;
    }
    return 0;
}

/* 1 if an example's SQL names only what cat (the role's catalog) holds: every relation, and
 * none of the columns of those relations the role cannot read. Without a role: 1. */
static int example_visible(t2ctx *x, const catalog *cat, const char *sql)
{
    guard_result *gr;
    int i, k, ok = 1;

    if (cat == x->cat) return 1;
    if (!(gr = calloc(1, sizeof *gr))) return 0;
    if (guard_check(sql, &x->policy, gr) < 0) ok = 0;
    for (i = 0; ok && i < gr->nrels; i++) {
        int bt = catalog_find_table(x->cat, gr->rels[i].name),
            rt = catalog_find_table(cat, gr->rels[i].name);
        if (rt < 0) ok = 0;
        for (k = 0; ok && bt >= 0 && k < x->cat->tables[bt].ncols; k++) {
            const char *col = x->cat->tables[bt].cols[k].name;
            if (catalog_find_column(cat, rt, col) < 0 && has_word(sql, col)) ok = 0;
        }
    }
    free(gr);
    return ok;
}

/* The glossary a role's prompt may show: x->gl itself for the whole catalog, else a copy
 * without the entries naming a table cat lacks (the caller frees a copy). */
static glossary *role_glossary(t2ctx *x, const catalog *cat, glossary *src)
{
    glossary *g;
    int i;

    if (cat == x->cat || !src || !(g = glossary_new())) return src;
    for (i = 0; i < src->n; i++) {
        const gloss_entry *e = &src->e[i];
        const char *p = e->tables ? e->tables : "";
        int ok = 1;
        while (*p && ok) {
            char t[160];
            size_t n = strcspn(p, ", ");
            if (n > 0 && n < sizeof t) {
                memcpy(t, p, n);
                t[n] = 0;
                ok = catalog_find_table(cat, t) >= 0;
            }
            p += n;
            while (*p == ',' || *p == ' ')
                p++;
        }
        if (ok && glossary_add(g, e->term, e->hint, e->tables, e->filter) < 0) {
            glossary_free(g);
            return NULL; /* out of memory: no glossary at all rather than a leaking one */
        }
    }
    return g;
}

/* Builds the prompt's user message: retrieved context, then the question. */
static int build_prompt(t2ctx *x, const char *question, const char *context, buf *user, t2err *err)
{
    const catalog *cat = pipeline_catalog(x, err);
    glossary *gl, *src;
    int rc;

    if (!cat) return -1;
    rag_example few[20];
    rag_selection sel;
    int i, n = 0, k = (int)x->cf->few_shot_examples;

    while (n < k && n < 20) { /* the k most similar examples, best first */
        double best = 0.2;
        int bi = -1;
        for (i = 0; i < x->examples.n; i++) {
            double s;
            int j, taken = 0;
            for (j = 0; j < n; j++)
                taken |= few[j].question == x->examples.v[i].question;
            if (!taken && (s = text_similarity(question, x->examples.v[i].question)) > best &&
                example_visible(x, cat, x->examples.v[i].sql))
                best = s, bi = i;
        }
        if (bi < 0) break;
        few[n].question = x->examples.v[bi].question;
        few[n++].sql = x->examples.v[bi].sql;
    }
    src = x->semgl ? x->semgl : x->gl; /* with the semantic layer's definitions */
    gl = role_glossary(x, cat, src);
    rc = rag_context(cat, gl, few, n, question, x->cf->prompt_budget_tokens, user, &sel);
    if (gl != src) glossary_free(gl);
    if (rc < 0) return err_set(err, E_INTERNAL, "out of memory building the prompt");
    if (context && buf_adds(user, context) < 0)
        return err_set(err, E_INTERNAL, "out of memory building the prompt");
    return buf_printf(user, "\nQuestion: %s\n", question);
}

static void remember_reply(t2ctx *x, const char *key, const buf *reply);

/* 1 when the model's reply declines (<cannot_answer>why</cannot_answer>, the format the system
 * prompt asks for), with why: its first 300 bytes, control characters as spaces. */
static int model_declined(const char *reply, char *why, size_t len)
{
    const char *a = strstr(reply, "<cannot_answer>"), *e;
    size_t n, i;

    if (!a) return 0;
    a += strlen("<cannot_answer>");
    e = strstr(a, "</cannot_answer>");
    n = e ? (size_t)(e - a) : strlen(a);
    while (n && strchr(" \t\r\n", *a))
        a++, n--;
    while (n && strchr(" \t\r\n", a[n - 1]))
        n--;
    if (n >= len) n = len - 1;
    while (n && ((unsigned char)a[n] & 0xC0) == 0x80 && n < strlen(a)) /* whole UTF-8 chars */
        n--;
    for (i = 0; i < n; i++)
        why[i] = (unsigned char)a[i] < 0x20 ? ' ' : a[i];
    why[n] = '\0';
    if (!n) snprintf(why, len, "the language model found nothing in this data that answers it");
    return 1;
}

/* Asks the model through the reply cache; appends the extracted SQL to sql and the raw reply
 * to reply. A reply is cached only by remember_reply(), once its SQL has validated (or when it
 * declines). A reply that declines is 422 cannot_answer; one with neither SQL nor a decline is
 * 502 llm_error. */
static int ask_model(t2ctx *x, const char *user, char key[96], buf *reply, buf *sql, t2err *err)
{
    char h[65], why[304];

    cache_key_hash(h, x->cf->llm_provider, llm_model(x->llm), SYSTEM_PROMPT, user, who_hash(x),
                   (const char *)NULL);
    snprintf(key, 96, "t2sql:llm:%s", h);
    buf_reset(reply);
    if (!cache_get(x->cache, key, reply)) {
        x->llm_calls++;
        if (llm_chat(x->llm, SYSTEM_PROMPT, user, reply, err) < 0) return -1;
    }
    if (llm_extract_sql(buf_cstr(reply), sql) < 0) {
        if (model_declined(buf_cstr(reply), why, sizeof why)) {
            remember_reply(x, key, reply); /* a decline is as good an answer as SQL */
            return err_set(err, E_CANNOT_ANSWER,
                           "This question cannot be answered from this data: %s", why);
        }
        return err_set(err, E_LLM_ERROR, "the language model's answer contained no SQL");
    }
    return 0;
}

static void remember_reply(t2ctx *x, const char *key, const buf *reply)
{
    cache_set(x->cache, key, buf_cstr(reply), reply->len, x->cf->cache_ttl_llm);
}

/* The repair round names the semantic layer's measures the question asks for. */
static void name_definitions(const t2ctx *x, const char *question, buf *fix)
{
    buf names = BUF_INIT(1u << 14);
    int k = pipeline_semantic_named(x, question, &names), i;
    const char *nm = names.p;

    for (i = 0; i < k; i++, nm += strlen(nm) + 1)
        buf_printf(fix, "%s%s", i ? ", " : "\nUse the semantic layer's definitions of ", nm);
    if (k) buf_adds(fix, " as given above.");
    buf_free(&names);
}

/* Model path: prompt, answer, validate, one repair round. */
static int via_model(t2ctx *x, const char *question, const char *context, gen_result *out,
                     t2err *err)
{
    buf user = BUF_INIT(4u << 20), sql = BUF_INIT(1u << 20), fix = BUF_INIT(4u << 20);
    buf reply = BUF_INIT(4u << 20);
    char key[96];
    int rc = -1;

    if (build_prompt(x, question, context, &user, err) < 0) goto done;
    if (ask_model(x, buf_cstr(&user), key, &reply, &sql, err) < 0) {
        if (context) pipeline_clarification(buf_cstr(&reply), out); /* asked back */
        goto done;
    }
    if (pipeline_validate(x, buf_cstr(&sql), &out->sql, err) == 0) {
        remember_reply(x, key, &reply);
        rc = 0;
        goto done;
    }
    if (err->code != E_INVALID_SQL)
        goto done; /* unsafe SQL is refused and failing data is reported, not repaired */
    log_info("repair round: %s", err->detail);
    buf_printf(&fix,
               "%s\nYour previous answer was:\n<sql>%s</sql>\nIt failed with: %s\n"
               "Write a corrected query using only the tables and columns above.",
               buf_cstr(&user), buf_cstr(&sql), err->detail);
    name_definitions(x, question, &fix);
    buf_reset(&sql);
    if (ask_model(x, buf_cstr(&fix), key, &reply, &sql, err) < 0) goto done;
    if (pipeline_validate(x, buf_cstr(&sql), &out->sql, err) == 0) {
        remember_reply(x, key, &reply);
        rc = 0;
    }
done:
    buf_free(&user);
    buf_free(&sql);
    buf_free(&fix);
    buf_free(&reply);
    return rc;
}

static int via_planner(t2ctx *x, const char *question, gen_result *out, t2err *err,
                       const t2err *model_err)
{
    buf sql = BUF_INIT(1u << 20);
    char why[512];
    int rc = -1;

    const catalog *cat;

    if (!x->cat) return err_set(err, E_DB_UNAVAILABLE, "the database is unavailable");
    if (!(cat = pipeline_catalog(x, err))) return -1;
    if (planner_semantic(cat, x->sem, question, &sql, &out->explanation, &out->measures_used,
                         &out->nmeasures) == 0) {
        /* the semantic layer's words only: its definitions answer */
    } else if (planner_plan(cat, x->gl, question, &sql, why, sizeof why) < 0) {
        if (model_err)
            *err = *model_err;
        else
            err_set(err, E_CANNOT_ANSWER, "This question cannot be answered from this data: %s",
                    why);
        goto done;
    }
    if (pipeline_validate(x, buf_cstr(&sql), &out->sql, err) < 0) {
        log_warn("planner SQL failed validation: %s", err->detail);
        goto done;
    }
    out->source = "planner";
    rc = 0;
done:
    buf_free(&sql);
    return rc;
}

/* 1 if SQL taken from the cache still passes the guard under the current policy. */
/* The guard again on SQL from the cache; SQL this process has seen pass lately (the same
 * text under the same policy passes again) is not parsed again. */
static int cached_sql_ok(t2ctx *x, const char *sql)
{
    guard_result *gr;
    char h[65], *slot;
    int ok;

    if (!x->cf->guard_enabled) return 1;
    cache_key_hash(h, "guard-ok", sql, (const char *)NULL);
    slot = x->guard_ok[strtoul(h + 58, NULL, 16) % (sizeof x->guard_ok / sizeof x->guard_ok[0])];
    if (strcmp(slot, h) == 0) return 1;
    if (!(gr = calloc(1, sizeof *gr))) return 0;
    ok = guard_check(sql, &x->policy, gr) == 0;
    free(gr);
    if (ok) memcpy(slot, h, sizeof h);
    return ok;
}

int pipeline_question(t2ctx *x, const char *question, const char *owner, gen_result *out,
                      t2err *err)
{
    return pipeline_in_context(x, question, NULL, owner, out, err);
}

int pipeline_in_context(t2ctx *x, const char *question, const char *context, const char *owner,
                        gen_result *out, t2err *err)
{
    struct timespec t0, t1;
    buf norm = BUF_INIT(1u << 16);
    char h[65], key[96];
    int i, rc = -1;
    double best = 0;
    int best_i = -1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (t2ctx_ready(x, err) < 0) return -1;
    pipeline_semantic_refresh(x);
    if (text_fold(question, &norm) < 0) {
        err_set(err, E_INTERNAL, "out of memory");
        goto done;
    }
    /* a follow-up's key holds its context, so it is never served in another conversation */
    cache_key_hash(h, buf_cstr(&norm), x->cat->fingerprint, llm_model(x->llm), who_hash(x), context,
                   (const char *)NULL);
    snprintf(key, sizeof key, "t2sql:q:%s", h);
    if (cache_get(x->cache, key, &out->sql)) {
        /* Redis is outside our trust: what comes back is checked again (~10 us) */
        if (cached_sql_ok(x, buf_cstr(&out->sql))) {
            out->source = "cache";
            goto found;
        }
        log_warn("cached SQL for %.16s failed the guard; asking again", h);
        cache_del(x->cache, key);
        buf_reset(&out->sql);
    }
    for (i = 0; i < x->examples.n; i++) {
        double s = text_similarity(question, x->examples.v[i].question);
        if (s > best) best = s, best_i = i;
    }
    if (best_i >= 0 && best * 100 >= (double)x->cf->example_match_pct &&
        pipeline_validate(x, x->examples.v[best_i].sql, &out->sql, err) == 0) {
        out->source = "example";
        goto store;
    }
    buf_reset(&out->sql);
    if (!llm_configured(x->llm)) {
        if (!x->cf->planner_enabled) {
            err_set(err, E_LLM_NOT_CONFIGURED,
                    "no language model is configured and the offline planner is off");
            goto done;
        }
        if (via_planner(x, question, out, err, NULL) < 0) goto done;
    } else if (via_model(x, question, context, out, err) == 0) {
        out->source = "llm";
    } else if (out->clarification.len) {
        out->source = "llm"; /* the model asked back: no SQL, nothing stored */
        rc = 0;
        goto done;
    } else {
        t2err model_err = *err;
        if (!x->cf->planner_enabled || !x->cf->planner_fallback ||
            (err->code != E_LLM_ERROR && err->code != E_LLM_TIMEOUT &&
             err->code != E_LLM_UNAVAILABLE))
            goto done;
        buf_reset(&out->sql);
        if (via_planner(x, question, out, err, &model_err) < 0) goto done;
        log_info("the model failed (%s); the planner answered", model_err.detail);
    }
store:
    cache_set(x->cache, key, out->sql.p, out->sql.len, x->cf->cache_ttl_sql);
found:
    if (!out->explanation.len && x->sem) pipeline_semantic_explain(x, question, out);
    if (store_query(x, question, owner, out, err) < 0) goto done;
    rc = 0;
done:
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->generate_ms = ms_between(&t0, &t1);
    buf_free(&norm);
    return rc;
}
