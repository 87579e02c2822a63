/* t2sql-keys -- creates, lists and revokes API keys in t2sql.api_keys.
 *
 *   t2sql-keys [-c conf] create NAME [--scopes query,export,admin] [--rate N]
 *        prints the new key (once, on stdout; only its sha256 is stored), the id on stderr
 *   t2sql-keys [-c conf] list     id, name, scopes, rate, created, revoked (never a key)
 *   t2sql-keys [-c conf] revoke ID
 * Scopes default to query,export; --rate is requests per minute (0 = unlimited; default:
 * the service's rate_limit_per_min). Exit 0, 1 on failure, 2 on usage errors. */
#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "log.h"

#include <libpq-fe.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KEY_BYTES 32

static int usage(void)
{
    fprintf(stderr, "usage: t2sql-keys [-c conf] create NAME [--scopes query,export,admin] "
                    "[--rate N] | list | revoke ID\n");
    return 2;
}

/* "t2k_" + base64url (no padding) of KEY_BYTES random bytes. */
static int key_new(char *dst, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char rnd[KEY_BYTES];
    size_t i, o = 4;
    unsigned bits = 0;
    int nbits = 0;

    if (len < 4 + (KEY_BYTES * 8 + 5) / 6 + 1 || RAND_bytes(rnd, sizeof rnd) != 1) return -1;
    memcpy(dst, "t2k_", 4);
    for (i = 0; i < sizeof rnd; i++) {
        bits = (bits << 8) | rnd[i];
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            dst[o++] = b64[(bits >> nbits) & 63];
        }
    }
    if (nbits > 0) dst[o++] = b64[(bits << (6 - nbits)) & 63];
    dst[o] = '\0';
    memset(rnd, 0, sizeof rnd);
    return 0;
}

/* Checks a comma list of scopes and turns it into a text[] literal "{a,b}". */
static int scopes_array(const char *list, char *dst, size_t len)
{
    static const char *known[] = {"query", "export", "admin"};
    buf b = BUF_INIT(0);
    const char *p = list;
    int rc = -1;

    buf_addc(&b, '{');
    while (*p) {
        size_t n = strcspn(p, ","), i;
        int ok = 0;
        for (i = 0; i < sizeof known / sizeof known[0]; i++)
            if (n == strlen(known[i]) && strncmp(p, known[i], n) == 0) ok = 1;
        if (!ok) {
            fprintf(stderr, "t2sql-keys: unknown scope '%.*s' (query, export, admin)\n", (int)n, p);
            goto done;
        }
        if (b.len > 1) buf_addc(&b, ',');
        buf_add(&b, p, n);
        p += n;
        if (*p == ',') p++;
    }
    buf_addc(&b, '}');
    rc = str_copy(dst, len, buf_cstr(&b));
done:
    buf_free(&b);
    return rc;
}

static int cmd_create(PGconn *c, int argc, char **argv)
{
    const char *name = NULL, *scopes = "query,export", *rate = NULL, *params[4];
    char arr[128], key[80], hex[65];
    long n;
    PGresult *r;
    int i, rc = 1;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--scopes") == 0 && i + 1 < argc)
            scopes = argv[++i];
        else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc)
            rate = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return usage();
    }
    if (!name || !*name) return usage();
    if (rate && str_to_long(rate, 0, 100000000, &n) < 0) {
        fprintf(stderr, "t2sql-keys: --rate must be an integer in [0, 100000000]\n");
        return 2;
    }
    if (scopes_array(scopes, arr, sizeof arr) < 0) return 2;
    if (key_new(key, sizeof key) < 0) {
        fprintf(stderr, "t2sql-keys: no random bytes\n");
        return 1;
    }
    auth_hash_key(key, hex);
    params[0] = name;
    params[1] = hex;
    params[2] = arr;
    params[3] = rate;
    r = PQexecParams(c,
                     "INSERT INTO t2sql.api_keys (name, key_hash, scopes, rate_limit_per_min)"
                     " VALUES ($1, $2, $3::text[], $4::int) RETURNING id",
                     4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "t2sql-keys: create failed: %s", PQresultErrorMessage(r));
    } else {
        printf("%s\n", key);
        fprintf(stderr, "t2sql-keys: created key id %s (%s, scopes %s); it is shown only once\n",
                PQgetvalue(r, 0, 0), name, arr);
        rc = 0;
    }
    PQclear(r);
    memset(key, 0, sizeof key);
    return rc;
}

static int cmd_list(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT id, name, array_to_string(scopes, ','),"
                            " coalesce(rate_limit_per_min::text, 'default'),"
                            " to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SSOF'),"
                            " coalesce(to_char(revoked_at, 'YYYY-MM-DD\"T\"HH24:MI:SSOF'), '-')"
                            " FROM t2sql.api_keys ORDER BY id");
    int i, rc = 1;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "t2sql-keys: list failed: %s", PQresultErrorMessage(r));
        goto done;
    }
    printf("id\tname\tscopes\trate_per_min\tcreated\trevoked\n");
    for (i = 0; i < PQntuples(r); i++)
        printf("%s\t%s\t%s\t%s\t%s\t%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
    rc = 0;
done:
    PQclear(r);
    return rc;
}

static int cmd_revoke(PGconn *c, const char *id)
{
    const char *params[1] = {id};
    long n;
    PGresult *r;
    int rc = 1;

    if (str_to_long(id, 1, 9223372036854775807L, &n) < 0) return usage();
    r = PQexecParams(c,
                     "UPDATE t2sql.api_keys SET revoked_at = now()"
                     " WHERE id = $1::bigint AND revoked_at IS NULL",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "t2sql-keys: revoke failed: %s", PQresultErrorMessage(r));
    else if (strcmp(PQcmdTuples(r), "1") != 0)
        fprintf(stderr, "t2sql-keys: no active key with id %s\n", id);
    else
        printf("revoked key %s\n", id), rc = 0;
    PQclear(r);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *cmd;
    char err[512], ci[2048];
    conf cf;
    PGconn *c = NULL;
    int opt, rc = 1;

    while ((opt = getopt(argc, argv, "+c:")) != -1) {
        if (opt != 'c') return usage();
        path = optarg;
    }
    if (optind >= argc) return usage();
    cmd = argv[optind];
    if (strcmp(cmd, "create") != 0 && strcmp(cmd, "list") != 0 && strcmp(cmd, "revoke") != 0)
        return usage();
    if (strcmp(cmd, "revoke") == 0 && optind + 2 != argc) return usage();
    if (conf_load(path, &cf, err, sizeof err) < 0) {
        fprintf(stderr, "t2sql-keys: %s\n", err);
        return 1;
    }
    conf_register_secrets(&cf);
    if (conf_pg_conninfo(&cf, ci, sizeof ci, "t2sql-keys") < 0 ||
        PQstatus(c = PQconnectdb(ci)) != CONNECTION_OK) {
        fprintf(stderr, "t2sql-keys: cannot connect to the database %s on %s:%ld\n", cf.db_name,
                cf.db_host, cf.db_port);
        goto done;
    }
    if (strcmp(cmd, "create") == 0)
        rc = cmd_create(c, argc - optind - 1, argv + optind + 1);
    else if (strcmp(cmd, "list") == 0)
        rc = cmd_list(c);
    else
        rc = cmd_revoke(c, argv[optind + 1]);
done:
    PQfinish(c);
    conf_free(&cf);
    return rc;
}
