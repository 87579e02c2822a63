/* t2sql-rag-eval -- offline schema-retrieval recall: builds catalogs from a Spider-format
 * tables.json, runs each question through rag_context (the server's retrieval code) and
 * reports which gold tables the context misses. No database, no model.
 *
 *   t2sql-rag-eval --tables TABLES.json --questions QUESTIONS.json [--budget TOKENS]
 *                  [--merge] [--show N]
 *
 * QUESTIONS.json is a list of {"db_id", "question", "gold_tables": [...]} (other keys are
 * ignored). Spider's readable names ("DNO" -> "department number") become comments where
 * they say more than the identifier, as COMMENT ON would in PostgreSQL; an optional
 * "column_values": [[column_index, ["v1", ...]], ...] gives columns common values, as pg_stats
 * would (tests/rag/enterprise/tables.json has them). --merge puts every
 * database's tables into one catalog, each table named
 * "<db_id>__<table>". --show N prints question N's context to stderr. The last line of stdout
 * is "recall R over N questions, mean prompt T tokens", R being the share of questions whose
 * gold tables are all in the context. Each question's line is
 *   INDEX <tab> DB_ID <tab> tokens=T <tab> gold_rank=K <tab> missed=A,B|- <tab> selected=X,Y,...
 * where K is the 1-based position in the context of the last gold table (-1 if one is
 * missing). The time rag_context takes per question (median, p90, mean; every catalog's
 * index is built first and timed apart) goes to stderr. */
#include "buf.h"
#include "catalog.h"
#include "rag.h"
#include "text.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BUDGET 3000 /* conf key prompt_budget_tokens */
#define MERGE_SEP      "__"

typedef struct db_cat {
    const char *db_id; /* borrowed from the tables JSON */
    catalog *cat;
} db_cat;

typedef struct eval_opts {
    const char *tables, *questions;
    long budget;
    int merge;
    long show;
} eval_opts;

static void usage(void)
{
    fprintf(stderr, "usage: t2sql-rag-eval --tables TABLES.json --questions QUESTIONS.json"
                    " [--budget TOKENS] [--merge] [--show N]\n");
}

static int parse_args(int argc, char **argv, eval_opts *o)
{
    int i;

    o->tables = o->questions = NULL;
    o->budget = DEFAULT_BUDGET;
    o->merge = 0;
    o->show = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--merge") == 0) {
            o->merge = 1;
            continue;
        }
        if (!v) return -1;
        if (strcmp(a, "--tables") == 0)
            o->tables = v;
        else if (strcmp(a, "--questions") == 0)
            o->questions = v;
        else if (strcmp(a, "--budget") == 0) {
            if (str_to_long(v, 50, 10000000, &o->budget) < 0) return -1;
        } else if (strcmp(a, "--show") == 0) {
            if (str_to_long(v, 0, 100000000, &o->show) < 0) return -1;
        } else
            return -1;
        i++;
    }
    return o->tables && o->questions ? 0 : -1;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static json_object *jarr(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array) ? v
                                                                                            : NULL;
}

/* Spider's column types as PostgreSQL types. */
static const char *pg_type(const char *t)
{
    if (!t) return "text";
    if (strcmp(t, "number") == 0) return "numeric";
    if (strcmp(t, "time") == 0) return "timestamp";
    if (strcmp(t, "boolean") == 0) return "boolean";
    return "text";
}

/* 1 if column index col is in Spider's primary_keys (ints, or lists of ints). */
static int is_pk(json_object *pks, int col)
{
    size_t i, j;

    for (i = 0; pks && i < json_object_array_length(pks); i++) {
        json_object *p = json_object_array_get_idx(pks, i);
        if (json_object_is_type(p, json_type_array)) {
            for (j = 0; j < json_object_array_length(p); j++)
                if (json_object_get_int(json_object_array_get_idx(p, j)) == col) return 1;
        } else if (json_object_get_int(p) == col) {
            return 1;
        }
    }
    return 0;
}

/* Spider's readable name for an identifier ("DNO" -> "department number"), used as the
 * comment when its words differ from the identifier's own; else NULL. Borrowed string. */
static const char *readable(json_object *names, size_t i, int pair, const char *orig)
{
    json_object *o = names ? json_object_array_get_idx(names, i) : NULL;
    const char *nice;
    text_words a, b;
    int k;

    if (o && pair) o = json_object_array_get_idx(o, 1);
    if (!o || !(nice = json_object_get_string(o)) || !orig) return NULL;
    text_split(orig, 1, &a);
    text_split(nice, 1, &b);
    if (a.n == b.n) {
        for (k = 0; k < a.n; k++)
            if (strcmp(a.w[k], b.w[k]) != 0) break;
        if (k == a.n) return NULL;
    }
    return nice;
}

/* Adds one Spider database to cat; with prefix, table names become "<db_id>__<name>".
 * Returns 0 or -1 (malformed entry or out of memory). */
static int add_database(catalog *cat, json_object *db, int prefix)
{
    const char *db_id = jstr(db, "db_id");
    json_object *tnames = jarr(db, "table_names_original");
    json_object *cols = jarr(db, "column_names_original");
    json_object *types = jarr(db, "column_types"), *pks = jarr(db, "primary_keys");
    json_object *fks = jarr(db, "foreign_keys"), *vals = jarr(db, "column_values");
    size_t i, nt, nc;
    int base = cat->ntables, *colmap = NULL, *coltab = NULL, rc = -1;

    if (!db_id || !tnames || !cols) return -1;
    nt = json_object_array_length(tnames);
    nc = json_object_array_length(cols);
    colmap = calloc(nc + 1, sizeof(int));
    coltab = calloc(nc + 1, sizeof(int));
    if (!colmap || !coltab) goto fail;
    for (i = 0; i < nt; i++) {
        const char *tn = json_object_get_string(json_object_array_get_idx(tnames, i));
        buf name = BUF_INIT(0);
        int t;
        if (prefix ? buf_printf(&name, "%s" MERGE_SEP "%s", db_id, tn) < 0
                   : buf_adds(&name, tn) < 0)
            goto fail;
        t = catalog_add_table(cat, "public", buf_cstr(&name), 'r',
                              readable(jarr(db, "table_names"), i, 0, tn), -1);
        buf_free(&name);
        if (t < 0) goto fail;
    }
    for (i = 0; i < nc; i++) {
        json_object *c = json_object_array_get_idx(cols, i);
        int ti = json_object_get_int(json_object_array_get_idx(c, 0));
        const char *cn = json_object_get_string(json_object_array_get_idx(c, 1));
        const char *ty = types ? json_object_get_string(json_object_array_get_idx(types, i)) : NULL;

        colmap[i] = coltab[i] = -1;
        if (ti < 0 || (size_t)ti >= nt || !cn) /* the "*" pseudo-column */
            continue;
        coltab[i] = base + ti;
        colmap[i] =
            catalog_add_column(cat, base + ti, cn, pg_type(ty),
                               readable(jarr(db, "column_names"), i, 1, cn), is_pk(pks, (int)i), 0);
        if (colmap[i] < 0) goto fail;
    }
    for (i = 0; vals && i < json_object_array_length(vals); i++) {
        json_object *cv = json_object_array_get_idx(vals, i);
        json_object *list = json_object_array_get_idx(cv, 1);
        int ci = json_object_get_int(json_object_array_get_idx(cv, 0));
        size_t k;
        if (ci < 0 || (size_t)ci >= nc || colmap[ci] < 0 ||
            !json_object_is_type(list, json_type_array))
            continue;
        for (k = 0; k < json_object_array_length(list); k++) {
            const char *v = json_object_get_string(json_object_array_get_idx(list, k));
            if (v && catalog_add_value(cat, coltab[ci], colmap[ci], v) < 0) goto fail;
        }
    }
    for (i = 0; fks && i < json_object_array_length(fks); i++) {
        json_object *f = json_object_array_get_idx(fks, i);
        int a = json_object_get_int(json_object_array_get_idx(f, 0));
        int b = json_object_get_int(json_object_array_get_idx(f, 1));
        if (a < 0 || b < 0 || (size_t)a >= nc || (size_t)b >= nc || colmap[a] < 0 || colmap[b] < 0)
            continue;
        if (catalog_add_fk(cat, coltab[a], colmap[a], coltab[b], colmap[b]) < 0) goto fail;
    }
    rc = 0;
fail:
    free(colmap);
    free(coltab);
    return rc;
}

/* Builds one catalog per database, or one merged catalog (dbs[0], db_id NULL). Returns the
 * number of entries in *out (caller frees with free_cats), or -1. */
static int load_tables(json_object *root, int merge, db_cat **out)
{
    size_t i, n = json_object_array_length(root);
    db_cat *dbs = calloc(n + 1, sizeof *dbs);
    int nd = 0;

    if (!dbs) return -1;
    if (merge && !(dbs[nd++].cat = catalog_new())) goto fail;
    for (i = 0; i < n; i++) {
        json_object *db = json_object_array_get_idx(root, i);
        db_cat *d = merge ? &dbs[0] : &dbs[nd];
        if (!merge) {
            d->db_id = jstr(db, "db_id");
            if (!(d->cat = catalog_new())) goto fail;
            nd++;
        }
        if (add_database(d->cat, db, merge) < 0) {
            fprintf(stderr, "t2sql-rag-eval: bad or oversized database entry %zu\n", i);
            goto fail;
        }
    }
    *out = dbs;
    return nd;
fail:
    for (i = 0; i < (size_t)nd; i++)
        catalog_free(dbs[i].cat);
    free(dbs);
    return -1;
}

static void free_cats(db_cat *dbs, int n)
{
    int i;

    for (i = 0; i < n; i++)
        catalog_free(dbs[i].cat);
    free(dbs);
}

static const catalog *find_cat(const db_cat *dbs, int n, int merge, const char *db_id)
{
    int i;

    if (merge) return dbs[0].cat;
    for (i = 0; i < n; i++)
        if (dbs[i].db_id && db_id && strcmp(dbs[i].db_id, db_id) == 0) return dbs[i].cat;
    return NULL;
}

static double now_ms(void);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Builds every catalog's retrieval index (what the first question would otherwise pay for);
 * returns the milliseconds it took, or -1. */
static double prepare_all(const db_cat *dbs, int n, int *ntables)
{
    double t0 = now_ms();
    int i;

    *ntables = 0;
    for (i = 0; i < n; i++) {
        if (rag_prepare(dbs[i].cat) < 0) return -1;
        *ntables += dbs[i].cat->ntables;
    }
    return now_ms() - t0;
}

/* The timing line (stderr): median, p90 and mean of rag_context per question. */
static void report_times(const eval_opts *o, double *ms, size_t n, int ncats, int ntables,
                         double build_ms)
{
    double sum = 0;
    size_t i;

    for (i = 0; i < n; i++)
        sum += ms[i];
    qsort(ms, n, sizeof *ms, cmp_double);
    fprintf(stderr,
            "retrieval per question: median %.3f ms, p90 %.3f ms, mean %.3f ms (%s, %d tables"
            " in %d catalog%s, budget %ld); index%s built in %.1f ms, once per catalog\n",
            n ? ms[n / 2] : 0.0, n ? ms[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1] : 0.0,
            n ? sum / (double)n : 0.0, o->merge ? "merged schema" : "per database", ntables, ncats,
            ncats == 1 ? "" : "s", o->budget, ncats == 1 ? "" : "es", build_ms);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs one question; prints its line; adds to the totals. Returns 0 or -1. */
static int eval_question(const eval_opts *o, const catalog *cat, json_object *q, long qi, int *hit,
                         long *tokens, double *ms)
{
    const char *db_id = jstr(q, "db_id"), *question = jstr(q, "question");
    json_object *gold = jarr(q, "gold_tables");
    buf ctx = BUF_INIT(0), name = BUF_INIT(0), missed = BUF_INIT(0);
    rag_selection sel;
    size_t g;
    int i, rank = 0, rc = -1;
    double t0;

    t0 = now_ms();
    if (rag_context(cat, NULL, NULL, 0, question, o->budget, &ctx, &sel) < 0) goto fail;
    *ms = now_ms() - t0;
    *tokens += sel.tokens;
    for (g = 0; g < json_object_array_length(gold); g++) {
        const char *gt = json_object_get_string(json_object_array_get_idx(gold, g));
        int t;
        buf_reset(&name);
        if (o->merge ? buf_printf(&name, "%s" MERGE_SEP "%s", db_id, gt) < 0
                     : buf_adds(&name, gt) < 0)
            goto fail;
        t = catalog_find_table(cat, buf_cstr(&name));
        for (i = 0; t >= 0 && i < sel.ntables; i++)
            if (sel.tables[i] == t) break;
        if (t < 0 || i == sel.ntables) {
            if (buf_printf(&missed, "%s%s", missed.len ? "," : "", buf_cstr(&name)) < 0) goto fail;
        } else if (i + 1 > rank) {
            rank = i + 1;
        }
    }
    *hit = missed.len == 0;
    printf("%ld\t%s\ttokens=%d\tgold_rank=%d\tmissed=%s\tselected=", qi, db_id, sel.tokens,
           *hit ? rank : -1, missed.len ? buf_cstr(&missed) : "-");
    for (i = 0; i < sel.ntables; i++)
        printf("%s%s", i ? "," : "", cat->tables[sel.tables[i]].name);
    printf("\n");
    if (qi == o->show)
        fprintf(stderr, "--- question %ld: %s\n%s\n---\n", qi, question, buf_cstr(&ctx));
    rc = 0;
fail:
    buf_free(&ctx);
    buf_free(&name);
    buf_free(&missed);
    return rc;
}

int main(int argc, char **argv)
{
    eval_opts o;
    json_object *tables = NULL, *questions = NULL;
    db_cat *dbs = NULL;
    int ndb = 0, rc = 1;
    size_t i, n, asked = 0, found = 0;
    long tokens = 0;
    double *ms = NULL, build_ms;
    int ntables = 0;

    if (parse_args(argc, argv, &o) < 0) {
        usage();
        return 2;
    }
    if (!(tables = json_object_from_file(o.tables)) ||
        !json_object_is_type(tables, json_type_array)) {
        fprintf(stderr, "t2sql-rag-eval: %s: %s\n", o.tables, json_util_get_last_err());
        goto fail;
    }
    if (!(questions = json_object_from_file(o.questions)) ||
        !json_object_is_type(questions, json_type_array)) {
        fprintf(stderr, "t2sql-rag-eval: %s: %s\n", o.questions, json_util_get_last_err());
        goto fail;
    }
    if ((ndb = load_tables(tables, o.merge, &dbs)) < 0) goto fail;
    n = json_object_array_length(questions);
    if (!(ms = calloc(n + 1, sizeof *ms)) || (build_ms = prepare_all(dbs, ndb, &ntables)) < 0) {
        fprintf(stderr, "t2sql-rag-eval: out of memory\n");
        goto fail;
    }
    for (i = 0; i < n; i++) {
        json_object *q = json_object_array_get_idx(questions, i);
        const char *db_id = jstr(q, "db_id");
        const catalog *cat = find_cat(dbs, ndb, o.merge, db_id);
        int hit = 0;

        if (!db_id || !jstr(q, "question") || !jarr(q, "gold_tables")) {
            fprintf(stderr, "t2sql-rag-eval: question %zu lacks db_id, question or gold_tables\n",
                    i);
            goto fail;
        }
        if (!cat) {
            fprintf(stderr, "t2sql-rag-eval: question %zu: unknown db_id %s\n", i, db_id);
            goto fail;
        }
        if (eval_question(&o, cat, q, (long)i, &hit, &tokens, &ms[asked]) < 0) {
            fprintf(stderr, "t2sql-rag-eval: out of memory\n");
            goto fail;
        }
        asked++;
        found += (size_t)hit;
    }
    report_times(&o, ms, asked, ndb, ntables, build_ms);
    printf("recall %.4f over %zu questions, mean prompt %.0f tokens\n",
           asked ? (double)found / asked : 0.0, asked, asked ? (double)tokens / asked : 0.0);
    rc = 0;
fail:
    free(ms);
    if (dbs) free_cats(dbs, ndb);
    json_object_put(tables);
    json_object_put(questions);
    return rc;
}
