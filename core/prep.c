/* prep -- named prepared statements per connection; see prep.h. */
#include "prep.h"

#include "pg.h"

#include <stdlib.h>
#include <string.h>

enum { S_EMPTY = 0, S_READY, S_PENDING };

typedef struct slot {
    unsigned long long hash;
    char *sql; /* owned: scope, a NUL, the text; NULL when empty */
    size_t scope_len;
    unsigned long used; /* the record's clock at its last use */
    int state;
    int was_ready; /* a PENDING slot replaced a prepared statement (DEALLOCATE sent) */
} slot;

typedef struct rec {
    PGconn *conn;
    int pid;    /* PQbackendPID when the record began: another backend, another record */
    int direct; /* 1: prepared statements may be used on it */
    int reset;  /* the next use begins with DEALLOCATE ALL (nothing is known to exist) */
    unsigned long clock;
    slot s[PREP_SLOTS];
} rec;

static rec recs[PREP_CONNS];
static unsigned long rec_clock;
static unsigned long rec_used[PREP_CONNS];

static void rec_clear(rec *r)
{
    int i;

    for (i = 0; i < PREP_SLOTS; i++) {
        free(r->s[i].sql);
        memset(&r->s[i], 0, sizeof r->s[i]);
    }
}

/* The record of conn: found, or begun (replacing the least recently used one). */
static rec *rec_of(PGconn *conn)
{
    int i, lru = 0, pid = PQbackendPID(conn);
    rec *r;

    for (i = 0; i < PREP_CONNS; i++) {
        if (recs[i].conn == conn) break;
        if (rec_used[i] < rec_used[lru]) lru = i;
    }
    r = &recs[i < PREP_CONNS ? i : lru];
    rec_used[r - recs] = ++rec_clock;
    if (r->conn == conn && r->pid == pid) return r;
    rec_clear(r);
    r->conn = conn;
    r->pid = pid;
    r->direct = pg_through_pooler(conn) == 0;
    r->reset = 1; /* whatever this backend holds, it is not in this record */
    r->clock = 0;
    return r;
}

static unsigned long long fnv1a(unsigned long long h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* 1 if slot sl holds scope (len bytes) and sql. */
static int slot_is(const slot *sl, unsigned long long h, const char *scope, size_t len,
                   const char *sql)
{
    return sl->sql && sl->hash == h && sl->scope_len == len && memcmp(sl->sql, scope, len) == 0 &&
           strcmp(sl->sql + len + 1, sql) == 0;
}

int prep_append(PGconn *conn, buf *q, const char *scope, const char *sql, const char *args)
{
    unsigned long long h;
    size_t len = strlen(sql), slen = scope ? strlen(scope) : 0, at = q->len;
    rec *r;
    slot *sl = NULL;
    int i, extra = 0;

    if (len + slen > PREP_MAX_SQL || !(r = rec_of(conn)) || !r->direct) return -1;
    if (r->reset) { /* (before the lookup: none of the record is to be trusted) */
        if (buf_adds(q, "DEALLOCATE ALL;\n") < 0) goto oom;
        rec_clear(r);
        r->reset = 0;
        extra++;
    }
    h = fnv1a(fnv1a(1469598103934665603ULL, scope ? scope : ""), sql);
    for (i = 0; i < PREP_SLOTS && !sl; i++)
        if (slot_is(&r->s[i], h, scope ? scope : "", slen, sql)) sl = &r->s[i];
    if (sl) { /* (a PENDING one is this query's own: it comes before) */
        sl->used = ++r->clock;
        if (buf_printf(q, "EXECUTE t2sql_%d%s", (int)(sl - r->s), args ? args : "") < 0) goto oom;
        return 0;
    }
    for (i = 0; i < PREP_SLOTS; i++) { /* an empty slot, else the least recently used one */
        if (r->s[i].state == S_PENDING) continue;
        if (!sl || r->s[i].state == S_EMPTY || (sl->state != S_EMPTY && r->s[i].used < sl->used))
            sl = &r->s[i];
        if (sl->state == S_EMPTY) break;
    }
    if (!sl) goto oom; /* (every slot is this query's own: never, with PREP_SLOTS > 2) */
    i = (int)(sl - r->s);
    sl->was_ready = sl->state == S_READY;
    if (sl->was_ready && buf_printf(q, "DEALLOCATE t2sql_%d;\n", i) < 0) goto oom;
    free(sl->sql);
    sl->sql = NULL;
    sl->state = S_EMPTY;
    if (buf_printf(q, "PREPARE t2sql_%d AS %s;\nEXECUTE t2sql_%d%s", i, sql, i, args ? args : "") <
            0 ||
        !(sl->sql = malloc(slen + 1 + len + 1)))
        goto oom;
    memcpy(sl->sql, scope ? scope : "", slen);
    sl->sql[slen] = '\0';
    memcpy(sl->sql + slen + 1, sql, len + 1);
    sl->scope_len = slen;
    sl->hash = h;
    sl->used = ++r->clock;
    sl->state = S_PENDING;
    return extra + sl->was_ready + 1;
oom:
    /* what was appended is taken back; the record may have changed: trust none of it */
    q->len = at;
    if (q->p) q->p[at] = '\0';
    r->reset = 1;
    return -1;
}

void prep_settle(PGconn *conn, int ok)
{
    int i, j;

    for (i = 0; i < PREP_CONNS; i++)
        if (recs[i].conn == conn)
            for (j = 0; j < PREP_SLOTS; j++)
                if (recs[i].s[j].state == S_PENDING) {
                    recs[i].s[j].state = S_READY;
                    if (!ok) recs[i].reset = 1; /* (cleared at the next use) */
                }
}

void prep_reset(PGconn *conn)
{
    int i;

    for (i = 0; i < PREP_CONNS; i++)
        if (recs[i].conn == conn) recs[i].reset = 1;
}

int prep_stale(const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (!st) return 0;
    return strcmp(st, "26000") == 0 || strcmp(st, "42P05") == 0 ||
           (strcmp(st, "0A000") == 0 && msg && strstr(msg, "cached plan must not change"));
}

void prep_forget(void)
{
    int i;

    for (i = 0; i < PREP_CONNS; i++) {
        rec_clear(&recs[i]);
        memset(&recs[i], 0, sizeof recs[i]);
        rec_used[i] = 0;
    }
}
