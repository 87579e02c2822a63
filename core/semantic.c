/* semantic -- loads, checks and prints the semantic layer file; see semantic.h. */
#include "semantic.h"

#include "mem.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

static const char *const KIND_NAME[] = {"", "measure", "ratio", "dimension", "entity"};
static const char *const SECTION[] = {"", "measures", "ratios", "dimensions", "entities"};
static const char *const GRAIN[] = {"day", "week", "month", "quarter", "year"};

const char *semantic_grain_name(int grain)
{
    int i;

    for (i = 0; i < 5; i++)
        if (grain == 1 << i) return GRAIN[i];
    return NULL;
}

static void def_free(sem_def *d)
{
    int i;

    free(d->name);
    for (i = 0; i < d->nsyn; i++)
        free(d->syn[i]);
    for (i = 0; i < d->nparts; i++)
        free(d->parts[i]);
    free(d->description);
    free(d->table);
    free(d->expr);
    free(d->filter);
    free(d->time);
    free(d->unit);
    free(d->format);
}

void semantic_free(semantic *s)
{
    int i;

    if (!s) return;
    for (i = 0; i < s->n; i++)
        def_free(&s->d[i]);
    free(s->d);
    free(s);
}

int semantic_find(const semantic *s, int kind, const char *name)
{
    int i;

    for (i = 0; s && i < s->n; i++)
        if ((!kind || s->d[i].kind == kind) && strcasecmp(s->d[i].name, name) == 0) return i;
    return -1;
}

/* ---- reading the YAML document ---- */

typedef struct rd {
    yaml_document_t doc;
    const char *path;
    t2err *err;
} rd;

static int fail_at(rd *r, const yaml_node_t *n, const sem_def *d, const char *why)
{
    if (d && d->name)
        return err_set(r->err, E_VALIDATION, "%s:%d: %s \"%s\": %s", r->path,
                       (int)n->start_mark.line + 1, KIND_NAME[d->kind], d->name, why);
    return err_set(r->err, E_VALIDATION, "%s:%d: %s", r->path, (int)n->start_mark.line + 1, why);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar or a list of scalars into list[*n] (copies); 0, or -1 on a wrong shape or too many. */
static int str_list(rd *r, yaml_node_t *v, char **list, int *n, int max)
{
    yaml_node_item_t *it;

    if (scalar(v)) {
        if (*n >= max || !(list[*n] = strdup(scalar(v)))) return -1;
        (*n)++;
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE) return -1;
    for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        const char *s = scalar(yaml_document_get_node(&r->doc, *it));
        if (!s || *n >= max || !(list[*n] = strdup(s))) return -1;
        (*n)++;
    }
    return 0;
}

static int grains_of(rd *r, yaml_node_t *v, int *out)
{
    char *g[8];
    int n = 0, i, j, rc = 0;

    if (str_list(r, v, g, &n, 8) < 0) rc = -1;
    for (i = 0; i < n; i++) {
        for (j = 0; j < 5 && strcasecmp(g[i], GRAIN[j]) != 0; j++)
            ;
        if (j == 5) rc = -1;
        *out |= 1 << (j < 5 ? j : 0);
        free(g[i]);
    }
    return rc;
}

/* One key: value of a definition; 0, or -1 with err. */
static int def_field(rd *r, sem_def *d, const char *k, yaml_node_t *v)
{
    char **dst = NULL;

    if (strcmp(k, "synonyms") == 0)
        return str_list(r, v, d->syn, &d->nsyn, SEM_MAX_SYN) < 0
                   ? fail_at(r, v, d, "synonyms must be a list of at most 16 strings")
                   : 0;
    if (strcmp(k, "sum_of") == 0 && d->kind == SEM_MEASURE)
        return str_list(r, v, d->parts, &d->nparts, SEM_MAX_PART) < 0
                   ? fail_at(r, v, d, "sum_of must be a list of at most 8 measure names")
                   : 0;
    if (strcmp(k, "grains") == 0 && d->kind == SEM_DIMENSION)
        return grains_of(r, v, &d->grains) < 0
                   ? fail_at(r, v, d, "grains are day, week, month, quarter or year")
                   : 0;
    if (!scalar(v)) return fail_at(r, v, d, "expected a string value");
    if (strcmp(k, "percent") == 0 && d->kind == SEM_RATIO) {
        d->percent = strcasecmp(scalar(v), "true") == 0 || strcasecmp(scalar(v), "yes") == 0;
        return 0;
    }
    if ((strcmp(k, "numerator") == 0 || strcmp(k, "denominator") == 0) && d->kind == SEM_RATIO) {
        int at = k[0] == 'n' ? 0 : 1;
        if (d->parts[at]) return fail_at(r, v, d, "numerator or denominator given twice");
        if (!(d->parts[at] = strdup(scalar(v)))) return err_set(r->err, E_INTERNAL, "oom");
        if (d->nparts < at + 1) d->nparts = at + 1;
        return 0;
    }
    if (strcmp(k, "name") == 0) dst = &d->name;
    if (strcmp(k, "description") == 0) dst = &d->description;
    if (strcmp(k, "table") == 0 && d->kind != SEM_RATIO) dst = &d->table;
    if (strcmp(k, "expr") == 0 && (d->kind == SEM_MEASURE || d->kind == SEM_DIMENSION))
        dst = &d->expr;
    if (strcmp(k, "filter") == 0 && (d->kind == SEM_MEASURE || d->kind == SEM_ENTITY))
        dst = &d->filter;
    if (strcmp(k, "time") == 0 && d->kind == SEM_MEASURE) dst = &d->time;
    if (strcmp(k, "unit") == 0) dst = &d->unit;
    if (strcmp(k, "format") == 0) dst = &d->format;
    if (!dst) {
        char why[160];
        snprintf(why, sizeof why, "unknown key \"%.60s\" for a %s", k, KIND_NAME[d->kind]);
        return fail_at(r, v, d, why);
    }
    if (*dst) return fail_at(r, v, d, "a key is given twice");
    if (!(*dst = strdup(scalar(v)))) return err_set(r->err, E_INTERNAL, "out of memory");
    return 0;
}

/* What a definition of its kind must have; 0 or -1 with err. */
static int def_complete(rd *r, const yaml_node_t *n, const sem_def *d)
{
    if (!d->name || !*d->name) return fail_at(r, n, NULL, "a definition without a name");
    if (d->kind == SEM_MEASURE && d->nparts == 0 && (!d->table || !d->expr))
        return fail_at(r, n, d, "a measure needs table and expr (or sum_of)");
    if (d->kind == SEM_MEASURE && d->nparts && (d->table || d->expr || d->filter))
        return fail_at(r, n, d, "a sum_of measure takes no table, expr or filter");
    if (d->kind == SEM_RATIO && (d->nparts != 2 || !d->parts[0] || !d->parts[1]))
        return fail_at(r, n, d, "a ratio needs numerator and denominator");
    if (d->kind == SEM_DIMENSION && !d->grains && (!d->table || !d->expr))
        return fail_at(r, n, d, "a dimension needs table and expr (or grains)");
    if (d->kind == SEM_ENTITY && (!d->table || !d->filter))
        return fail_at(r, n, d, "an entity needs table and filter");
    return 0;
}

static int add_def(rd *r, semantic *s, int kind, yaml_node_t *n)
{
    yaml_node_pair_t *p;
    sem_def *d;

    if (n->type != YAML_MAPPING_NODE) return fail_at(r, n, NULL, "a definition must be a mapping");
    if (s->n >= SEM_MAX_DEFS) return fail_at(r, n, NULL, "more than 512 definitions");
    if (mem_grow(&s->d, &s->cap, s->n, sizeof *s->d) < 0)
        return err_set(r->err, E_INTERNAL, "out of memory");
    d = &s->d[s->n++];
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->line = (int)n->start_mark.line + 1;
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) /* name first */
        if (scalar(yaml_document_get_node(&r->doc, p->key)) &&
            strcmp(scalar(yaml_document_get_node(&r->doc, p->key)), "name") == 0 &&
            def_field(r, d, "name", yaml_document_get_node(&r->doc, p->value)) < 0)
            return -1;
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = scalar(yaml_document_get_node(&r->doc, p->key));
        if (!k) return fail_at(r, n, d, "keys must be strings");
        if (strcmp(k, "name") != 0 &&
            def_field(r, d, k, yaml_document_get_node(&r->doc, p->value)) < 0)
            return -1;
    }
    return def_complete(r, n, d);
}

/* Names unique across kinds; sum_of parts, numerators and denominators name measures. */
static int cross_check(rd *r, const semantic *s)
{
    int i, j;
    char why[200];

    for (i = 0; i < s->n; i++) {
        const sem_def *d = &s->d[i];
        if (semantic_find(s, 0, d->name) != i) {
            snprintf(why, sizeof why, "%s:%d: %s \"%s\": the name is defined twice", r->path,
                     d->line, KIND_NAME[d->kind], d->name);
            return err_set(r->err, E_VALIDATION, "%s", why);
        }
        for (j = 0; j < d->nparts; j++) {
            int m = semantic_find(s, SEM_MEASURE, d->parts[j]);
            if (m >= 0 && (d->kind == SEM_RATIO || !s->d[m].nparts)) continue;
            return err_set(r->err, E_VALIDATION, "%s:%d: %s \"%s\": \"%s\" is not a %smeasure",
                           r->path, d->line, KIND_NAME[d->kind], d->name, d->parts[j],
                           d->kind == SEM_MEASURE ? "simple " : "");
        }
    }
    return 0;
}

static int load_doc(rd *r, semantic *s)
{
    yaml_node_t *root = yaml_document_get_root_node(&r->doc);
    yaml_node_pair_t *p;
    int kind;

    if (!root) return 0; /* an empty file */
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(r, root, NULL, "the file must be a mapping of measures, ratios, ...");
    for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const char *k = scalar(yaml_document_get_node(&r->doc, p->key));
        yaml_node_t *v = yaml_document_get_node(&r->doc, p->value);
        yaml_node_item_t *it;
        if (k && strcmp(k, "version") == 0) continue;
        for (kind = SEM_MEASURE; kind <= SEM_ENTITY && (!k || strcmp(k, SECTION[kind])); kind++)
            ;
        if (kind > SEM_ENTITY)
            return fail_at(r, v, NULL, "sections are measures, ratios, dimensions, entities");
        if (scalar(v) && !*scalar(v)) continue; /* an empty section */
        if (v->type != YAML_SEQUENCE_NODE) return fail_at(r, v, NULL, "a section is a list");
        for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
            if (add_def(r, s, kind, yaml_document_get_node(&r->doc, *it)) < 0) return -1;
    }
    return cross_check(r, s);
}

int semantic_read(const char *path, buf *text, t2err *err)
{
    char chunk[8192];
    size_t n;
    FILE *f;
    int rc = 1;

    if (!path || !*path) return 0;
    if (!(f = fopen(path, "rb"))) {
        if (errno == ENOENT) return 0;
        return err_set(err, E_VALIDATION, "%s: %s", path, strerror(errno));
    }
    while (rc > 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_add(text, chunk, n) < 0)
            rc = err_set(err, E_VALIDATION, "%s: larger than %d bytes", path, SEMANTIC_FILE_MAX);
    if (rc > 0 && ferror(f)) rc = err_set(err, E_VALIDATION, "%s: %s", path, strerror(errno));
    fclose(f);
    return rc;
}

semantic *semantic_parse(const char *path, const char *text, size_t len, t2err *err)
{
    semantic *s = calloc(1, sizeof *s);
    yaml_parser_t parser;
    rd r = {.path = path, .err = err};
    int rc;

    if (!s) return err_set(err, E_INTERNAL, "out of memory"), NULL;
    if (!text) return s;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &r.doc)) {
        err_set(err, E_VALIDATION, "%s:%d: %s", path, (int)parser.problem_mark.line + 1,
                parser.problem ? parser.problem : "invalid YAML");
        yaml_parser_delete(&parser);
        semantic_free(s);
        return NULL;
    }
    rc = load_doc(&r, s);
    yaml_document_delete(&r.doc);
    yaml_parser_delete(&parser);
    if (rc < 0) {
        semantic_free(s);
        return NULL;
    }
    return s;
}

semantic *semantic_load(const char *path, t2err *err)
{
    buf text = BUF_INIT(SEMANTIC_FILE_MAX);
    int got = semantic_read(path, &text, err);
    semantic *s =
        got < 0 ? NULL : semantic_parse(path, got ? buf_cstr(&text) : NULL, text.len, err);

    buf_free(&text);
    return s;
}

/* ---- checking against the database and printing ---- */

int semantic_probe_sql(const semantic *s, int i, buf *out)
{
    const sem_def *d = &s->d[i];
    int rc;

    if (d->kind == SEM_RATIO || (d->kind == SEM_MEASURE && d->nparts) || !d->table) return 1;
    if (d->kind == SEM_MEASURE && d->time)
        rc = buf_printf(out, "SELECT %s, min(%s) FROM %s WHERE (%s)", d->expr, d->time, d->table,
                        d->filter ? d->filter : "true");
    else if (d->kind == SEM_MEASURE)
        rc = buf_printf(out, "SELECT %s FROM %s WHERE (%s)", d->expr, d->table,
                        d->filter ? d->filter : "true");
    else if (d->kind == SEM_DIMENSION)
        rc = buf_printf(out, "SELECT %s FROM %s GROUP BY 1", d->expr, d->table);
    else
        rc = buf_printf(out, "SELECT count(*) FROM %s WHERE (%s)", d->table, d->filter);
    return rc < 0 ? -1 : 0;
}

int semantic_check(const semantic *s, const char *path, sem_check_fn check, void *arg, t2err *err)
{
    int i, rc = 0;

    for (i = 0; s && i < s->n && rc == 0; i++) {
        buf sql = BUF_INIT(1u << 16);
        int p = semantic_probe_sql(s, i, &sql);
        if (p < 0) {
            rc = err_set(err, E_VALIDATION, "%s:%d: %s \"%s\": too long", path, s->d[i].line,
                         KIND_NAME[s->d[i].kind], s->d[i].name);
        } else if (p == 0 && check(arg, buf_cstr(&sql), err) < 0) {
            t2err why = *err;
            rc = err_set(err, why.code, "%s:%d: %s \"%s\": %s", path, s->d[i].line,
                         KIND_NAME[s->d[i].kind], s->d[i].name, why.detail);
        }
        buf_free(&sql);
    }
    return rc;
}

static void put_str(json_object *o, const char *k, const char *v)
{
    if (v) json_object_object_add(o, k, json_object_new_string(v));
}

static json_object *def_json(const sem_def *d)
{
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    int i;

    put_str(o, "name", d->name);
    for (i = 0; i < d->nsyn; i++)
        json_object_array_add(a, json_object_new_string(d->syn[i]));
    json_object_object_add(o, "synonyms", a);
    put_str(o, "description", d->description);
    put_str(o, "table", d->table);
    put_str(o, "expr", d->expr);
    put_str(o, "filter", d->filter);
    put_str(o, "time", d->time);
    put_str(o, "unit", d->unit);
    put_str(o, "format", d->format);
    if (d->kind == SEM_MEASURE && d->nparts) {
        a = json_object_new_array();
        for (i = 0; i < d->nparts; i++)
            json_object_array_add(a, json_object_new_string(d->parts[i]));
        json_object_object_add(o, "sum_of", a);
    }
    if (d->kind == SEM_RATIO) {
        put_str(o, "numerator", d->parts[0]);
        put_str(o, "denominator", d->parts[1]);
        json_object_object_add(o, "percent", json_object_new_boolean(d->percent));
    }
    if (d->grains) {
        a = json_object_new_array();
        for (i = 0; i < 5; i++)
            if (d->grains & (1 << i)) json_object_array_add(a, json_object_new_string(GRAIN[i]));
        json_object_object_add(o, "grains", a);
    }
    json_object_object_add(o, "line", json_object_new_int(d->line));
    return o;
}

json_object *semantic_to_json(const semantic *s)
{
    json_object *o = json_object_new_object();
    int kind, i;

    if (!o) return NULL;
    for (kind = SEM_MEASURE; kind <= SEM_ENTITY; kind++) {
        json_object *a = json_object_new_array();
        for (i = 0; s && i < s->n; i++)
            if (s->d[i].kind == kind) json_object_array_add(a, def_json(&s->d[i]));
        json_object_object_add(o, SECTION[kind], a);
    }
    return o;
}
