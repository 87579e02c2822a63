/* t2sql-plan -- command-line front of the offline planner: loads the catalog of a database
 * (a glossary and a semantic layer), plans each question and prints its SQL or why it
 * declined: the semantic layer's path first, then the ordinary planner, as /query does.
 *
 *   t2sql-plan --conninfo "host=... dbname=..." [--schemas public,sales] [--glossary FILE]
 *              [--semantic FILE] [--json] [--time] [QUESTION...]
 *
 * Without QUESTION arguments, questions are read from stdin, one per line. Output is one line
 * per question: the SQL, or "DECLINE: why"; with --json one object per line
 * ({"question", "sql"} or {"question", "decline"}). --time plans each question repeatedly
 * and prints the median planning time over the questions on stderr at the end. --after PREV
 * reads each question as a follow-up of PREV (planner_followup) and prints the standalone
 * question first ("STANDALONE: ..."). */
#include "buf.h"
#include "catalog.h"
#include "err.h"
#include "glossary.h"
#include "planner.h"
#include "semantic.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SCHEMAS 16
#define TIME_REPEAT 200

typedef struct opts {
    const char *conninfo;
    const char *glossary;
    const char *semantic;
    char schemas_buf[1024];
    char *schemas[MAX_SCHEMAS];
    int nschemas;
    int json, time;
} opts;

static void usage(void)
{
    fprintf(stderr, "usage: t2sql-plan --conninfo CONNINFO [--schemas a,b] [--glossary FILE]"
                    " [--semantic FILE] [--json] [--time] [QUESTION...]\n");
}

static int split_schemas(opts *o, const char *list)
{
    char *p;

    if (str_copy(o->schemas_buf, sizeof o->schemas_buf, list) < 0) return -1;
    o->nschemas = 0;
    p = o->schemas_buf;
    while (*p && o->nschemas < MAX_SCHEMAS) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (*p) o->schemas[o->nschemas++] = p;
        if (!comma) break;
        p = comma + 1;
    }
    return o->nschemas > 0 ? 0 : -1;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static semantic *g_sem;     /* the layer given with --semantic, NULL without */
static const char *g_after; /* --after: the previous standalone question, NULL without */

/* The semantic path, then the ordinary planner (as the pipeline's offline path). */
static int plan(const catalog *cat, const glossary *g, const char *q, buf *sql, char *why,
                size_t whylen)
{
    buf e = BUF_INIT(1 << 14), m = BUF_INIT(1 << 14);
    int nm = 0, rc = planner_semantic(cat, g_sem, q, sql, &e, &m, &nm);

    buf_free(&e);
    buf_free(&m);
    if (rc == 0) return 0;
    buf_reset(sql);
    return planner_plan(cat, g, q, sql, why, whylen);
}

/* Plans one question and prints the result; adds its planning time to times when timing. */
static int plan_one(const opts *o, const catalog *cat, const glossary *g, const char *q,
                    double *times, int *ntimes, int cap)
{
    buf sql = BUF_INIT(1 << 20), line = BUF_INIT(1 << 21);
    char why[1024];
    int rc, i;

    why[0] = '\0';
    if (g_after) {
        buf sa = BUF_INIT(1 << 16);
        if (planner_followup(cat, g, g_after, q, &sa, why, sizeof why) < 0) {
            printf("DECLINE: %s\n", why);
            buf_free(&sa);
            goto out;
        }
        printf("STANDALONE: %s\n", buf_cstr(&sa));
        rc = plan(cat, g, buf_cstr(&sa), &sql, why, sizeof why);
        buf_free(&sa);
    } else
        rc = plan(cat, g, q, &sql, why, sizeof why);
    if (o->time && *ntimes < cap) {
        double t0 = now_ms();
        for (i = 0; i < TIME_REPEAT; i++) {
            char w2[1024];
            buf_reset(&sql);
            plan(cat, g, q, &sql, w2, sizeof w2);
        }
        times[(*ntimes)++] = (now_ms() - t0) / TIME_REPEAT;
        buf_reset(&sql);
        plan(cat, g, q, &sql, why, sizeof why);
    }
    if (o->json) {
        if (buf_adds(&line, "{\"question\": ") < 0 || buf_add_json_cstr(&line, q) < 0 ||
            buf_adds(&line, rc == 0 ? ", \"sql\": " : ", \"decline\": ") < 0 ||
            buf_add_json_cstr(&line, rc == 0 ? buf_cstr(&sql) : why) < 0 ||
            buf_adds(&line, "}") < 0)
            goto fail;
        puts(buf_cstr(&line));
    } else if (rc == 0) {
        puts(buf_cstr(&sql));
    } else {
        printf("DECLINE: %s\n", why);
    }
out:
    fflush(stdout);
    buf_free(&sql);
    buf_free(&line);
    return 0;
fail:
    buf_free(&sql);
    buf_free(&line);
    return -1;
}

int main(int argc, char **argv)
{
    opts o;
    PGconn *conn = NULL;
    catalog *cat = NULL;
    glossary *g = NULL;
    t2err err;
    double *times = NULL;
    int ntimes = 0, cap = 100000, i, first_q = argc, rc = 1;
    char line[8192];

    memset(&o, 0, sizeof o);
    err_clear(&err);
    split_schemas(&o, "public");
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--conninfo") == 0 && i + 1 < argc)
            o.conninfo = argv[++i];
        else if (strcmp(argv[i], "--schemas") == 0 && i + 1 < argc) {
            if (split_schemas(&o, argv[++i]) < 0) {
                usage();
                return 2;
            }
        } else if (strcmp(argv[i], "--glossary") == 0 && i + 1 < argc)
            o.glossary = argv[++i];
        else if (strcmp(argv[i], "--semantic") == 0 && i + 1 < argc)
            o.semantic = argv[++i];
        else if (strcmp(argv[i], "--after") == 0 && i + 1 < argc)
            g_after = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            o.json = 1;
        else if (strcmp(argv[i], "--time") == 0)
            o.time = 1;
        else if (strcmp(argv[i], "--") == 0) {
            first_q = i + 1;
            break;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            usage();
            return 2;
        } else {
            first_q = i;
            break;
        }
    }
    if (!o.conninfo) {
        usage();
        return 2;
    }
    conn = PQconnectdb(o.conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "t2sql-plan: cannot connect: %s", PQerrorMessage(conn));
        goto out;
    }
    if (catalog_load(conn, o.schemas, o.nschemas, &cat, &err) < 0) {
        fprintf(stderr, "t2sql-plan: %s\n", err.detail);
        goto out;
    }
    if (!(g = glossary_new()) || glossary_load_file(g, o.glossary, &err) < 0 ||
        glossary_load_db(g, conn, &err) < 0) {
        fprintf(stderr, "t2sql-plan: glossary: %s\n", err.detail);
        goto out;
    }
    if (o.semantic && !(g_sem = semantic_load(o.semantic, &err))) {
        fprintf(stderr, "t2sql-plan: semantic layer: %s\n", err.detail);
        goto out;
    }
    PQfinish(conn);
    conn = NULL;
    if (o.time && !(times = calloc((size_t)cap, sizeof *times))) {
        fprintf(stderr, "t2sql-plan: out of memory\n");
        goto out;
    }
    if (first_q < argc) {
        for (i = first_q; i < argc; i++)
            if (plan_one(&o, cat, g, argv[i], times, &ntimes, cap) < 0) goto out;
    } else {
        while (fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (!line[0]) continue;
            if (plan_one(&o, cat, g, line, times, &ntimes, cap) < 0) goto out;
        }
    }
    if (o.time && ntimes > 0) {
        qsort(times, (size_t)ntimes, sizeof *times, cmp_double);
        fprintf(stderr, "median planning time: %.4f ms over %d questions (max %.4f ms)\n",
                ntimes % 2 ? times[ntimes / 2] : (times[ntimes / 2 - 1] + times[ntimes / 2]) / 2,
                ntimes, times[ntimes - 1]);
    }
    rc = 0;
out:
    free(times);
    glossary_free(g);
    semantic_free(g_sem);
    catalog_free(cat);
    if (conn) PQfinish(conn);
    return rc;
}
