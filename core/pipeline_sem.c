/* pipeline_sem -- loading the semantic layer into a t2ctx and checking a configuration's
 * layer before the daemon uses it (start-up, SIGHUP); see pipeline.h. Every definition's
 * probe SQL goes through pipeline_validate(): the guard, the catalog's names and PREPARE in
 * the read-only transaction. */
#include "pipeline.h"

#include "log.h"
#include "text.h"

#include <ctype.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <strings.h>

static int probe(void *arg, const char *sql, t2err *err)
{
    buf clean = BUF_INIT(1u << 20);
    int rc = pipeline_validate(arg, sql, &clean, err);

    buf_free(&clean);
    return rc;
}

/* The layer's text as the master last checked it (pipeline_semantic_check), inherited by every
 * worker it forks: workers parse this, never the file as it is on disk later, so an edit that a
 * reload refused reaches no worker, not even one that loads its layer (or is started) after
 * the edit. Owned by this module; replaced only by a check that passed. */
static struct {
    int have, present; /* a check passed; the file existed then */
    char *path;
    buf text;
} checked = {0, 0, NULL, BUF_INIT(SEMANTIC_FILE_MAX)};

static int same_path(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Parses text (NULL: no file), checks every definition against x's database, and makes it
 * x's layer; the old one stays on failure. */
static int install(t2ctx *x, const char *text, size_t len, t2err *err)
{
    semantic *s = semantic_parse(x->cf->semantic_file, text, len, err);

    if (!s || semantic_check(s, x->cf->semantic_file, probe, x, err) < 0) {
        semantic_free(s);
        return -1;
    }
    semantic_free(x->sem);
    x->sem = s;
    return 0;
}

/* What pipeline_semantic_explain() said lately for a question and its SQL, per process: the
 * same pair under the same semantic layer is explained alike, so a repeated question skips
 * the parse and the glossary match. Exact texts are compared (no hash trusted); emptied
 * whenever the layer or its glossary is (re)loaded; entries past EXPLAIN_MEMO_MAX bytes are
 * not kept. */
#define EXPLAIN_MEMO     32
#define EXPLAIN_MEMO_MAX 4096

typedef struct explain_memo {
    const t2ctx *x;
    char *question, *sql, *expl, *meas; /* NULL question = an empty slot */
    size_t elen, mlen;
    int nmeasures;
} explain_memo;

static explain_memo memo[EXPLAIN_MEMO];

static void memo_free(explain_memo *m)
{
    free(m->question);
    free(m->sql);
    free(m->expl);
    free(m->meas);
    memset(m, 0, sizeof *m);
}

static void memo_clear(void)
{
    for (int i = 0; i < EXPLAIN_MEMO; i++)
        memo_free(&memo[i]);
}

static explain_memo *memo_slot(const char *question, const char *sql)
{
    unsigned long h = 1469598103934665603UL; /* FNV-1a over both texts */
    const char *p;

    for (p = question; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211UL;
    for (p = sql; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211UL;
    return &memo[h % EXPLAIN_MEMO];
}

/* 1 with out's explanation and measures filled from the memo, else 0. */
static int memo_get(const t2ctx *x, const char *question, gen_result *out)
{
    const char *sql = buf_cstr(&out->sql);
    explain_memo *m = memo_slot(question, sql);

    if (!m->question || m->x != x || strcmp(m->question, question) != 0 || strcmp(m->sql, sql) != 0)
        return 0;
    buf_reset(&out->explanation);
    buf_reset(&out->measures_used);
    if (buf_add(&out->explanation, m->expl, m->elen) < 0 ||
        buf_add(&out->measures_used, m->meas, m->mlen) < 0)
        return 0;
    out->nmeasures = m->nmeasures;
    return 1;
}

static char *dup_bytes(const char *p, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, p ? p : "", n);
        d[n] = '\0';
    }
    return d;
}

static void memo_put(const t2ctx *x, const char *question, const gen_result *out)
{
    const char *sql = buf_cstr(&out->sql);
    explain_memo *m = memo_slot(question, sql);
    size_t ql = strlen(question), sl = strlen(sql);

    memo_free(m);
    if (ql + sl + out->explanation.len + out->measures_used.len > EXPLAIN_MEMO_MAX) return;
    m->x = x;
    m->sql = dup_bytes(sql, sl);
    m->expl = dup_bytes(out->explanation.p, out->explanation.len);
    m->meas = dup_bytes(out->measures_used.p, out->measures_used.len);
    m->elen = out->explanation.len;
    m->mlen = out->measures_used.len;
    m->nmeasures = out->nmeasures;
    m->question = dup_bytes(question, ql);
    if (!m->sql || !m->expl || !m->meas || !m->question) memo_free(m);
}

int pipeline_semantic_load(t2ctx *x, t2err *err)
{
    buf text = BUF_INIT(SEMANTIC_FILE_MAX);
    int got, rc;

    memo_clear();

    if (checked.have && same_path(checked.path, x->cf->semantic_file))
        return install(x, checked.present ? buf_cstr(&checked.text) : NULL, checked.text.len, err);
    got = semantic_read(x->cf->semantic_file, &text, err);
    rc = got < 0 ? -1 : install(x, got ? buf_cstr(&text) : NULL, text.len, err);
    buf_free(&text);
    return rc;
}

/* After a check passed: text (moved from the caller) is what workers forked from now on use. */
static void remember(const conf *cf, int present, buf *text)
{
    char *path = strdup(cf->semantic_file ? cf->semantic_file : "");

    if (!path) return; /* out of memory: workers read the file themselves */
    free(checked.path);
    buf_free(&checked.text);
    checked.path = path;
    checked.text = *text;
    *text = (buf)BUF_INIT(SEMANTIC_FILE_MAX);
    checked.present = present;
    checked.have = 1;
}

void pipeline_semantic_refresh(t2ctx *x)
{
    t2err err = {0};

    if (!x->cat || strcmp(x->sem_probe, x->cat_probe) == 0) return;
    str_copy(x->sem_probe, sizeof x->sem_probe, x->cat_probe);
    if (pipeline_semantic_load(x, &err) < 0)
        log_error("semantic layer refused%s: %s", x->sem ? ", keeping the old one" : "",
                  err.detail);
    if (pipeline_semantic_merge(x) < 0) log_warn("semantic layer: out of memory for the prompt");
}

int pipeline_semantic_check(const conf *cf, char *errbuf, size_t len)
{
    t2ctx *x = calloc(1, sizeof *x);
    t2err err = {0};
    semantic *s = NULL;
    buf text = BUF_INIT(SEMANTIC_FILE_MAX);
    int rc = -1, inited = 0, got;

    if (!x) {
        str_copy(errbuf, len, "out of memory");
        return -1;
    }
    if ((got = semantic_read(cf->semantic_file, &text, &err)) < 0) goto done;
    if (!(s = semantic_parse(cf->semantic_file, got ? buf_cstr(&text) : NULL, text.len, &err)))
        goto done;
    inited = 1;
    if (t2ctx_init(x, cf, "t2sql-check") == 0) /* the catalog may take a moment: ask again */
        for (int tries = 0; tries < 10 && t2ctx_ready(x, &err) < 0; tries++) {
            err_clear(&err);
            nanosleep(&(struct timespec){0, 200000000L}, NULL);
        }
    if (!x->cat || t2ctx_ready(x, &err) < 0) {
        /* no database now: the shape is checked, the workers PREPARE when it is back */
        log_warn("semantic layer %s: not checked against the database (%s)", cf->semantic_file,
                 err.detail[0] ? err.detail : "unreachable");
        rc = 0;
        goto done;
    }
    if (install(x, got ? buf_cstr(&text) : NULL, text.len, &err) == 0) rc = 0;
done:
    if (rc == 0) remember(cf, got > 0, &text);
    if (rc < 0) str_copy(errbuf, len, err.detail[0] ? err.detail : "invalid semantic layer");
    buf_free(&text);
    semantic_free(s);
    if (inited) t2ctx_free(x);
    free(x);
    return rc;
}

/* "semantic layer measure "tickets sold" = sum(ticket_sales.quantity) over ticket_sales where
 * ...": the canonical expression the model is asked to use. */
static int def_hint(const semantic *s, const sem_def *d, buf *h)
{
    static const char *const KIND[] = {"", "measure", "ratio", "dimension", "entity"};
    int i, rc = buf_printf(h, "semantic layer %s \"%s\"", KIND[d->kind], d->name);

    if (d->description) rc |= buf_printf(h, " (%s)", d->description);
    if (d->kind == SEM_MEASURE && !d->nparts)
        rc |= buf_printf(h, " = %s over %s%s%s", d->expr, d->table, d->filter ? " where " : "",
                         d->filter ? d->filter : "");
    if (d->kind == SEM_DIMENSION && d->expr) rc |= buf_printf(h, " = %s", d->expr);
    if (d->kind == SEM_ENTITY) rc |= buf_printf(h, " = %s rows where %s", d->table, d->filter);
    if (d->kind == SEM_RATIO)
        rc |=
            buf_printf(h, " = %s(%s) / (%s)", d->percent ? "100 * " : "", d->parts[0], d->parts[1]);
    if (d->kind == SEM_MEASURE && d->nparts) rc |= buf_adds(h, " = the sum of");
    for (i = 0; i < d->nparts; i++) {
        int m = semantic_find(s, SEM_MEASURE, d->parts[i]);
        const sem_def *p = &s->d[m];
        rc |= buf_printf(h, "%s %s = %s over %s%s%s", i ? ";" : "", p->name, p->expr, p->table,
                         p->filter ? " where " : "", p->filter ? p->filter : "");
    }
    if (d->kind == SEM_MEASURE && d->nparts)
        rc |= buf_adds(h, " (each over its own table, then added: never one inner join)");
    return rc ? -1 : 0;
}

/* The tables a definition reads, comma-separated. */
static void def_tables(const semantic *s, const sem_def *d, buf *t)
{
    int i;

    if (d->table) buf_adds(t, d->table);
    for (i = 0; i < d->nparts; i++) {
        int m = semantic_find(s, SEM_MEASURE, d->parts[i]);
        if (m >= 0 && s->d[m].table) buf_printf(t, "%s%s", t->len ? "," : "", s->d[m].table);
    }
}

static int defined_term(const semantic *s, const char *term)
{
    int i, k;

    for (i = 0; i < s->n; i++) {
        if (strcasecmp(s->d[i].name, term) == 0) return 1;
        for (k = 0; k < s->d[i].nsyn; k++)
            if (strcasecmp(s->d[i].syn[k], term) == 0) return 1;
    }
    return 0;
}

static int merge_add(glossary *g, int **map, int def, const char *term, const char *hint,
                     const char *tables, const char *filter)
{
    int *m = realloc(*map, (size_t)(g->n + 1) * sizeof **map);

    if (!m) return -1;
    *map = m;
    m[g->n] = def;
    return glossary_add(g, term, hint, tables, filter);
}

int pipeline_semantic_merge(t2ctx *x)
{
    glossary *g;
    int *map = NULL, i, k, rc = 0;

    memo_clear();
    glossary_free(x->semgl);
    free(x->semdef);
    x->semgl = NULL, x->semdef = NULL;
    if (!x->sem || !x->sem->n || !(g = glossary_new())) return x->sem && x->sem->n ? -1 : 0;
    for (i = 0; x->gl && i < x->gl->n && rc == 0; i++) {
        const gloss_entry *e = &x->gl->e[i];
        if (!defined_term(x->sem, e->term))
            rc = merge_add(g, &map, -1, e->term, e->hint, e->tables, e->filter);
    }
    for (i = 0; i < x->sem->n && rc == 0; i++) {
        const sem_def *d = &x->sem->d[i];
        buf h = BUF_INIT(1u << 14), t = BUF_INIT(1024);
        if (def_hint(x->sem, d, &h) < 0) rc = -1;
        def_tables(x->sem, d, &t);
        if (rc == 0) rc = merge_add(g, &map, i, d->name, buf_cstr(&h), buf_cstr(&t), NULL);
        for (k = 0; k < d->nsyn && rc == 0; k++)
            rc = merge_add(g, &map, i, d->syn[k], buf_cstr(&h), buf_cstr(&t), NULL);
        buf_free(&h);
        buf_free(&t);
    }
    if (rc < 0) {
        glossary_free(g);
        free(map);
        return -1;
    }
    x->semgl = g, x->semdef = map;
    return 0;
}

int pipeline_semantic_named(const t2ctx *x, const char *question, buf *names)
{
    int idx[16], n, i, j, count = 0, seen[16];

    if (!x->semgl) return 0;
    n = glossary_match(x->semgl, question, idx, 16);
    for (i = 0; i < n; i++) {
        int d = x->semdef[idx[i]], dup = 0;
        if (d < 0 || (x->sem->d[d].kind != SEM_MEASURE && x->sem->d[d].kind != SEM_RATIO)) continue;
        for (j = 0; j < count; j++)
            dup |= seen[j] == d;
        if (dup) continue;
        seen[count++] = d;
        buf_add(names, x->sem->d[d].name, strlen(x->sem->d[d].name) + 1);
    }
    return count;
}

/* text folded to lower case without spaces, and without "name." qualifiers before columns */
static void squash(const char *s, buf *out)
{
    for (; *s; s++) {
        if (isspace((unsigned char)*s) || *s == '"') continue;
        if (isalpha((unsigned char)*s) || *s == '_') { /* a word: drop it if a '.' follows */
            const char *e = s;
            while (isalnum((unsigned char)*e) || *e == '_')
                e++;
            if (*e == '.') {
                s = e;
                continue;
            }
            for (; s < e; s++)
                buf_addc(out, (char)tolower((unsigned char)*s));
            s--;
            continue;
        }
        buf_addc(out, (char)tolower((unsigned char)*s));
    }
}

/* 1 if the SQL uses the expression of simple measure m. */
static int uses_measure(const semantic *s, int m, const char *sqlsq)
{
    buf e = BUF_INIT(1u << 14);
    int hit;

    squash(s->d[m].expr, &e);
    hit = e.len && strstr(sqlsq, buf_cstr(&e)) != NULL;
    buf_free(&e);
    return hit;
}

int pipeline_semantic_explain(t2ctx *x, const char *question, gen_result *out)
{
    buf names = BUF_INIT(1u << 14), sq = BUF_INIT(4u << 20);
    guard_result *gr = calloc(1, sizeof *gr);
    const char *n;
    int k, i, j;

    if (!gr) return -1;
    if (memo_get(x, question, out)) {
        free(gr);
        return 0;
    }
    buf_reset(&out->explanation);
    buf_reset(&out->measures_used);
    out->nmeasures = 0;
    if (guard_check(buf_cstr(&out->sql), &x->policy, gr) == 0 && gr->nrels) {
        buf_adds(&out->explanation, "reads ");
        for (i = 0; i < gr->nrels; i++)
            buf_printf(&out->explanation, "%s%s", i ? (i + 1 == gr->nrels ? " and " : ", ") : "",
                       gr->rels[i].name);
    }
    squash(buf_cstr(&out->sql), &sq);
    k = pipeline_semantic_named(x, question, &names);
    for (i = 0, n = names.p; i < k; i++, n += strlen(n) + 1) {
        int d = semantic_find(x->sem, 0, n), used = 1;
        const sem_def *sd = &x->sem->d[d];
        if (!sd->nparts) used = uses_measure(x->sem, d, buf_cstr(&sq));
        for (j = 0; j < sd->nparts; j++)
            used &= uses_measure(x->sem, semantic_find(x->sem, SEM_MEASURE, sd->parts[j]),
                                 buf_cstr(&sq));
        if (!used) continue;
        buf_add(&out->measures_used, n, strlen(n) + 1);
        buf_printf(&out->explanation, "%s%s",
                   out->nmeasures         ? ", "
                   : out->explanation.len ? "; uses the semantic layer's "
                                          : "uses the semantic layer's ",
                   sd->name);
        if (sd->description) buf_printf(&out->explanation, " (%s)", sd->description);
        out->nmeasures++;
    }
    memo_put(x, question, out);
    buf_free(&names);
    buf_free(&sq);
    free(gr);
    return 0;
}
