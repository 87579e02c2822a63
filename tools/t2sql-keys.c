/* t2sql-keys -- creates, lists and revokes API keys in t2sql.api_keys.
 *
 *   t2sql-keys [-c conf] create NAME [--scopes query,export,admin] [--rate N]
 *        [--role ROLE] [--claims k=v[,k=v...]] (--claims may be repeated)
 *        prints the new key (once, on stdout; only its sha256 is stored), the id on stderr.
 *        ROLE must be one the service's login may SET ROLE to (a role granted to it);
 *        each claim name is a simple identifier (t2sql.claim.<name> in the transaction).
 *   t2sql-keys [-c conf] list     id, name, scopes, rate, created, revoked (never a key)
 *   t2sql-keys [-c conf] revoke ID
 * Scopes default to query,export; --rate is requests per minute (0 = unlimited; default:
 * the service's rate_limit_per_min). Exit 0, 1 on failure, 2 on usage errors. */
#include "audit.h"
#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "log.h"

#include <libpq-fe.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_BYTES 32

static int usage(void)
{
    fprintf(stderr, "usage: t2sql-keys [-c conf] create NAME [--scopes query,export,admin] "
                    "[--rate N] [--role ROLE] [--claims k=v,...] | list | revoke ID\n");
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

static long retention_days = 90;

/* One audit row for a change made here ("cli:<user>"); a failure is reported, not fatal. */
static void cli_audit(PGconn *c, const char *action, const char *id, const auth_ctx *a)
{
    char detail[96];
    t2err e;

    snprintf(detail, sizeof detail, "key %s", id);
    if (audit_cli(c, action, detail, a ? a->role : NULL, a ? a->claims_json : NULL, NULL,
                  retention_days, &e) < 0)
        fprintf(stderr, "t2sql-keys: audit row not written: %s\n", e.detail);
}

/* Adds "k=v,k2=v2" to the JSON object o; -1 (with a message) on a malformed pair. */
static int claims_add(json_object *o, const char *list)
{
    const char *p = list;

    while (*p) {
        size_t n = strcspn(p, ","), k = strcspn(p, "=");
        char name[64];
        if (k >= n || k == 0 || k >= sizeof name) {
            fprintf(stderr, "t2sql-keys: --claims wants name=value pairs separated by commas\n");
            return -1;
        }
        memcpy(name, p, k);
        name[k] = 0;
        if (!txn_claim_name_ok(name)) {
            fprintf(stderr, "t2sql-keys: claim name '%s' is not a simple identifier\n", name);
            return -1;
        }
        json_object_object_add(o, name, json_object_new_string_len(p + k + 1, (int)(n - k - 1)));
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

/* 0 if the login may SET ROLE to role (a member of it, directly or not), else -1. */
static int role_allowed(PGconn *c, const char *role)
{
    t2err e;

    if (auth_role_allowed(c, role, &e) == 0) return 0;
    if (e.code == E_FORBIDDEN)
        fprintf(stderr,
                "t2sql-keys: role '%s' does not exist or is not granted to the service's login "
                "(GRANT %s TO <login>; see conf/roles.sql)\n",
                role, role);
    else
        fprintf(stderr, "t2sql-keys: %s\n", e.detail);
    return -1;
}

static int cmd_create(PGconn *c, int argc, char **argv)
{
    const char *name = NULL, *scopes = "query,export", *rate = NULL, *role = NULL, *params[6];
    char arr[128], key[80], hex[65];
    json_object *claims = json_object_new_object();
    auth_ctx *a = calloc(1, sizeof *a);
    long n;
    PGresult *r = NULL;
    t2err e;
    int i, rc = 2;

    if (!claims || !a) goto done;
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--scopes") == 0 && i + 1 < argc)
            scopes = argv[++i];
        else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc)
            rate = argv[++i];
        else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else if (strcmp(argv[i], "--claims") == 0 && i + 1 < argc) {
            if (claims_add(claims, argv[++i]) < 0) goto done;
        } else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            rc = usage();
            goto done;
        }
    }
    if (!name || !*name) {
        rc = usage();
        goto done;
    }
    if (rate && str_to_long(rate, 0, 100000000, &n) < 0) {
        fprintf(stderr, "t2sql-keys: --rate must be an integer in [0, 100000000]\n");
        goto done;
    }
    if (scopes_array(scopes, arr, sizeof arr) < 0) goto done;
    if (auth_identity_set(a, role, json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN),
                          &e) < 0) {
        fprintf(stderr, "t2sql-keys: %s\n", e.detail);
        goto done;
    }
    rc = 1;
    if (role && *role && role_allowed(c, role) < 0) goto done;
    if (key_new(key, sizeof key) < 0) {
        fprintf(stderr, "t2sql-keys: no random bytes\n");
        goto done;
    }
    auth_hash_key(key, hex);
    params[0] = name;
    params[1] = hex;
    params[2] = arr;
    params[3] = rate;
    params[4] = role && *role ? role : NULL;
    params[5] = a->claims_json;
    r = PQexecParams(c,
                     "INSERT INTO t2sql.api_keys"
                     " (name, key_hash, scopes, rate_limit_per_min, role, claims)"
                     " VALUES ($1, $2, $3::text[], $4::int, $5, $6::jsonb) RETURNING id",
                     6, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "t2sql-keys: create failed: %s", PQresultErrorMessage(r));
    } else {
        printf("%s\n", key);
        fprintf(stderr,
                "t2sql-keys: created key id %s (%s, scopes %s, role %s); it is shown "
                "only once\n",
                PQgetvalue(r, 0, 0), name, arr, a->role[0] ? a->role : "(query_role)");
        cli_audit(c, "key.create", PQgetvalue(r, 0, 0), a);
        rc = 0;
    }
    memset(key, 0, sizeof key);
done:
    PQclear(r);
    json_object_put(claims);
    free(a);
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
    else {
        printf("revoked key %s\n", id);
        cli_audit(c, "key.revoke", id, NULL);
        rc = 0;
    }
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
    retention_days = cf.audit_retention_days;
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
