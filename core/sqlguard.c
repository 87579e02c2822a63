/* sqlguard -- proves a statement is one read-only SELECT on libpg_query's parse tree; see
 * sqlguard.h. It does not run, rewrite or resolve anything: names are checked as written.
 *
 * The tree comes from pg_query_parse() as JSON. It is tokenized in place (strings unescaped
 * and NUL-terminated inside pg_query's own buffer) into a flat token array: a general JSON
 * library spent two thirds of the guard's time building objects that are read once. Every
 * node is visited (a generic walk), and a few node types get a closer look: SelectStmt
 * (SELECT INTO, row locks, WITH scoping, nesting, joins), FuncCall (denylist, allowlist),
 * RangeVar (schemas, catalogs), A_Expr (schema-qualified operators). Any other statement
 * node found anywhere is refused, so a node type the walk does not know can only make it
 * stricter. */
#include "sqlguard.h"

#include "buf.h"

#include <pg_query.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* JSON levels of the parse tree; spider's deepest query needs 40. The walk recurses once per
 * level, so this also bounds the stack it uses. */
#define GUARD_TREE_DEPTH 1000
/* CTE names in scope at once. */
#define GUARD_MAX_CTES 256

/* One JSON value. Object tokens are followed by key, value, key, value...; next skips the
 * whole subtree. */
enum { J_OBJ, J_ARR, J_STR, J_PRIM };

typedef struct jtok {
    int type;
    int size;      /* J_OBJ: keys; J_ARR: elements */
    int next;      /* index of the first token after this value */
    const char *s; /* J_STR: unescaped, NUL-terminated; J_PRIM: first character */
} jtok;

typedef struct gctx {
    jtok *t; /* the tree; t[0] is the root */
    int nt, capt;
    const guard_policy *p;
    guard_result *res;
    const char *ctes[GUARD_MAX_CTES]; /* names in scope, innermost last; owned by the tree */
    int nctes;
    int qdepth; /* query level: 1 for the statement, +1 per subquery or CTE */
    int nfrom;  /* relations joined at the current query level */
} gctx;

/* The name tables are packed several names a line. */
/* clang-format off */
/* A name ending in '*' matches every name with that prefix. Compared case-insensitively. */
static const char *const deny_funcs[] = {
    "pg_sleep*", "pg_read_*", "pg_ls_*", "pg_stat_file", "pg_file_*", "pg_logdir_ls",
    "lo_*", "loread", "lowrite", "dblink*", "set_config", "current_setting",
    "pg_terminate_backend", "pg_cancel_backend", "pg_signal_backend", "pg_reload_conf",
    "pg_rotate_logfile*", "pg_advisory_*", "pg_try_advisory_*", "nextval", "setval", "currval",
    "lastval", "query_to_xml*", "table_to_xml*", "cursor_to_xml*", "database_to_xml*",
    "schema_to_xml*", "ts_stat", "pg_logical_*", "pg_replication_*", "pg_create_*", "pg_drop_*",
    "pg_copy_*", "pg_switch_wal", "pg_switch_xlog", "pg_promote", "pg_wal_replay_*",
    "pg_xlog_replay_*", "txid_current*", "pg_current_xact_id*", "pg_notify", "pg_stat_reset*",
    "pg_stat_statements*", "pg_stat_get_activity", "pg_stat_get_backend_*",
    "pg_import_system_collations", "pg_export_snapshot", "pg_backup_*", "pg_start_backup",
    "pg_stop_backup", "pg_log_backend_memory_contexts", "pg_get_backend_memory_contexts",
    "pg_show_all_settings", "pg_show_all_file_settings", "pg_hba_file_rules",
    "pg_ident_file_mappings", "pg_config", "pg_control_*", "pg_current_logfile",
    "pg_get_shmem_allocations", "pg_get_replication_slots", "pg_stat_get_wal_receiver",
    "pg_stat_get_subscription*", "pg_truncate_visibility_map", "pg_prewarm",
    "pg_relation_filepath", "pg_tablespace_location", "pg_nextoid",
};

/* Ordinary analytics functions: aggregates, window functions, math, strings, dates, JSON,
 * arrays, type conversions, and the pg_catalog functions the grammar itself calls (EXTRACT,
 * SUBSTRING ... FROM, TRIM, AT TIME ZONE, LIKE ... ESCAPE, OVERLAPS, ...). Lower case and
 * sorted (bsearch). */
static const char *const allow_funcs[] = {
    "abbrev", "abs", "acos", "acosd", "acosh", "age", "any_value", "area", "array_agg",
    "array_append", "array_cat", "array_dims", "array_fill", "array_length", "array_lower",
    "array_ndims", "array_position", "array_positions", "array_prepend", "array_remove",
    "array_replace", "array_to_json", "array_to_string", "array_upper", "ascii", "asin", "asind",
    "asinh", "atan", "atan2", "atan2d", "atand", "atanh", "avg", "bit_and", "bit_count",
    "bit_length", "bit_or", "bit_xor", "bool", "bool_and", "bool_or", "bpchar", "broadcast",
    "btrim", "cardinality", "cbrt", "ceil", "ceiling", "char_length", "character_length", "chr",
    "clock_timestamp", "coalesce", "concat", "concat_ws", "convert_from", "convert_to", "corr",
    "cos", "cosd", "cosh", "cot", "cotd", "count", "covar_pop", "covar_samp", "cume_dist",
    "current_database", "date", "date_add", "date_bin", "date_part", "date_subtract",
    "date_trunc", "daterange", "decode", "degrees", "dense_rank", "div", "encode", "every", "exp",
    "extract", "factorial", "family", "first_value", "float4", "float8", "floor", "format",
    "format_type", "gcd", "gen_random_uuid", "generate_series", "generate_subscripts",
    "get_bit", "get_byte", "greatest", "host", "initcap", "int2", "int4", "int4range", "int8",
    "int8range", "interval", "is_normalized", "isempty", "isfinite", "json_agg",
    "json_array_elements", "json_array_elements_text", "json_array_length", "json_build_array",
    "json_build_object", "json_each", "json_each_text", "json_extract_path",
    "json_extract_path_text", "json_object", "json_object_agg", "json_object_keys",
    "json_populate_record", "json_populate_recordset", "json_strip_nulls", "json_to_record",
    "json_to_recordset", "json_typeof", "jsonb_agg", "jsonb_array_elements",
    "jsonb_array_elements_text", "jsonb_array_length", "jsonb_build_array",
    "jsonb_build_object", "jsonb_each", "jsonb_each_text", "jsonb_extract_path",
    "jsonb_extract_path_text", "jsonb_insert", "jsonb_object", "jsonb_object_agg",
    "jsonb_object_keys", "jsonb_path_exists", "jsonb_path_match", "jsonb_path_query",
    "jsonb_path_query_array", "jsonb_path_query_first", "jsonb_populate_record",
    "jsonb_populate_recordset", "jsonb_pretty", "jsonb_set", "jsonb_set_lax",
    "jsonb_strip_nulls", "jsonb_to_record", "jsonb_to_recordset", "jsonb_typeof",
    "justify_days", "justify_hours", "justify_interval", "lag", "last_value", "lcm", "lead",
    "least", "left", "length", "like_escape", "ln", "log", "log10", "lower", "lower_inc",
    "lower_inf", "lpad", "ltrim", "make_date", "make_interval", "make_time", "make_timestamp",
    "make_timestamptz", "masklen", "max", "md5", "min", "min_scale", "mod", "mode", "netmask",
    "network", "normalize", "now", "nth_value", "ntile", "nullif", "num_nonnulls", "num_nulls",
    "numeric", "numrange", "octet_length", "overlaps", "overlay", "percent_rank",
    "percentile_cont", "percentile_disc", "pg_collation_for", "pg_typeof", "phraseto_tsquery",
    "pi", "plainto_tsquery", "position", "pow", "power", "quote_ident", "quote_literal",
    "quote_nullable", "radians", "random", "range_agg", "range_intersect_agg", "range_merge",
    "rank", "regexp_count", "regexp_instr", "regexp_like", "regexp_match", "regexp_matches",
    "regexp_replace", "regexp_split_to_array", "regexp_split_to_table", "regexp_substr",
    "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2", "regr_slope",
    "regr_sxx", "regr_sxy", "regr_syy", "repeat", "replace", "reverse", "right", "round",
    "row_number", "row_to_json", "rpad", "rtrim", "scale", "setweight", "sha224", "sha256",
    "sha384", "sha512", "sign", "similar_escape", "similar_to_escape", "sin", "sind", "sinh",
    "split_part", "sqrt", "starts_with", "statement_timestamp", "stddev", "stddev_pop",
    "stddev_samp", "string_agg", "string_to_array", "string_to_table", "strpos", "substr",
    "substring", "sum", "tan", "tand", "tanh", "text", "time", "timeofday", "timestamp",
    "timestamptz", "timetz", "timezone", "to_ascii", "to_char", "to_date", "to_hex", "to_json",
    "to_jsonb", "to_number", "to_timestamp", "to_tsquery", "to_tsvector",
    "transaction_timestamp", "translate", "trim_array", "trim_scale", "trunc", "ts_headline",
    "ts_rank", "ts_rank_cd", "tsrange", "tstzrange", "unistr", "unnest", "upper", "upper_inc",
    "upper_inf", "var_pop", "var_samp", "varchar", "variance", "websearch_to_tsquery",
    "width_bucket", "xmlexists",
};

/* Catalog relations never readable, qualified with pg_catalog or not (pg_catalog comes first
 * on every search_path). */
static const char *const deny_catalog_rels[] = {
    "pg_authid", "pg_shadow", "pg_roles", "pg_user", "pg_group", "pg_auth_members",
    "pg_user_mappings", "pg_user_mapping", "pg_stat_activity", "pg_settings",
    "pg_file_settings", "pg_hba_file_rules", "pg_ident_file_mappings", "pg_config",
    "pg_stat_ssl", "pg_stat_gssapi", "pg_largeobject", "pg_largeobject_metadata",
    "pg_statistic", "pg_statistic_ext_data", "pg_subscription", "pg_subscription_rel",
    "pg_replication_*", "pg_stat_replication*", "pg_stat_subscription*", "pg_stat_wal_receiver",
    "pg_db_role_setting", "pg_stat_statements*", "pg_locks", "pg_prepared_xacts",
    "pg_backend_memory_contexts", "pg_shmem_allocations", "pg_seclabel", "pg_seclabels",
    "pg_shseclabel", "pg_foreign_server", "pg_foreign_data_wrapper",
};

/* information_schema views that show foreign-server and user-mapping options. */
static const char *const deny_infoschema_rels[] = {
    "user_mapping_options", "user_mappings", "foreign_server_options",
    "foreign_data_wrapper_options",
};

/* clang-format on */

/* Statement node names as SQL, for the reason given to the caller. */
static const struct {
    const char *node, *sql;
} stmt_names[] = {
    {"InsertStmt", "INSERT"},
    {"UpdateStmt", "UPDATE"},
    {"DeleteStmt", "DELETE"},
    {"MergeStmt", "MERGE"},
    {"CopyStmt", "COPY"},
    {"ExplainStmt", "EXPLAIN"},
    {"VariableSetStmt", "SET/RESET"},
    {"VariableShowStmt", "SHOW"},
    {"TransactionStmt", "transaction control"},
    {"DoStmt", "DO"},
    {"CreateTableAsStmt", "CREATE TABLE AS"},
    {"CreateStmt", "CREATE TABLE"},
    {"DropStmt", "DROP"},
    {"AlterTableStmt", "ALTER TABLE"},
    {"PrepareStmt", "PREPARE"},
    {"ExecuteStmt", "EXECUTE"},
    {"VacuumStmt", "VACUUM/ANALYZE"},
    {"ListenStmt", "LISTEN"},
    {"NotifyStmt", "NOTIFY"},
    {"LoadStmt", "LOAD"},
    {"GrantStmt", "GRANT/REVOKE"},
    {"GrantRoleStmt", "GRANT/REVOKE role"},
    {"TruncateStmt", "TRUNCATE"},
    {"CallStmt", "CALL"},
    {"DeclareCursorStmt", "DECLARE CURSOR"},
    {"LockStmt", "LOCK"},
};

static int deny(gctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets res->why; always returns -1. */
static int deny(gctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->res->why, sizeof c->res->why, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *stmt_sql(const char *node)
{
    size_t i;

    for (i = 0; i < sizeof stmt_names / sizeof stmt_names[0]; i++)
        if (strcmp(stmt_names[i].node, node) == 0) return stmt_names[i].sql;
    return node;
}

static int is_stmt_node(const char *type)
{
    size_t n = strlen(type);

    return n > 4 && strcmp(type + n - 4, "Stmt") == 0;
}

/* 1 if name matches one of the patterns (trailing '*' = prefix), case-insensitively. */
static int match_any(const char *name, const char *const *pat, size_t npat)
{
    size_t i, n;

    for (i = 0; i < npat; i++) {
        n = strlen(pat[i]);
        if (n && pat[i][n - 1] == '*') {
            if (strncasecmp(name, pat[i], n - 1) == 0) return 1;
        } else if (strcasecmp(name, pat[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int cmp_name(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

static int on_allowlist(const char *name)
{
    char low[64];
    size_t i, n = strlen(name);

    if (n >= sizeof low) return 0;
    for (i = 0; i <= n; i++)
        low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
    return bsearch(low, allow_funcs, sizeof allow_funcs / sizeof allow_funcs[0],
                   sizeof allow_funcs[0], cmp_name) != NULL;
}

/* ---- the token tree ---- */

static int tok_add(gctx *c, int type, const char *s)
{
    jtok *nt;
    int ncap;

    if (c->nt == c->capt) {
        if (c->capt > (1 << 28)) return -1;
        ncap = c->capt ? c->capt * 2 : 256;
        nt = realloc(c->t, (size_t)ncap * sizeof *nt);
        if (!nt) return -1;
        c->t = nt;
        c->capt = ncap;
    }
    c->t[c->nt].type = type;
    c->t[c->nt].size = 0;
    c->t[c->nt].next = c->nt + 1;
    c->t[c->nt].s = s;
    return c->nt++;
}

static int hexval(char h)
{
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
}

/* Unescapes the JSON string starting after its opening quote, in place, and NUL-terminates
 * it. Returns the position after the closing quote, NULL if the string is malformed. */
static char *jstring(char *p)
{
    char *dst = p, *src = p;
    int i, h;
    unsigned cp;

    while (*src != '"') {
        if (*src == '\0') return NULL;
        if (*src != '\\') {
            *dst++ = *src++;
            continue;
        }
        src++;
        switch (*src) {
        case '"':
        case '\\':
        case '/':
            *dst++ = *src;
            break;
        case 'b':
            *dst++ = '\b';
            break;
        case 'f':
            *dst++ = '\f';
            break;
        case 'n':
            *dst++ = '\n';
            break;
        case 'r':
            *dst++ = '\r';
            break;
        case 't':
            *dst++ = '\t';
            break;
        case 'u':
            /* \uXXXX is at least as long as its UTF-8 form (at most 3 bytes). */
            for (cp = 0, i = 1; i <= 4; i++) {
                h = hexval(src[i]);
                if (h < 0) return NULL;
                cp = cp * 16 + (unsigned)h;
            }
            src += 4;
            if (cp < 0x80) {
                *dst++ = (char)cp;
            } else if (cp < 0x800) {
                *dst++ = (char)(0xc0 | (cp >> 6));
                *dst++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *dst++ = (char)(0xe0 | (cp >> 12));
                *dst++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *dst++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        default:
            return NULL;
        }
        src++;
    }
    *dst = '\0';
    return src + 1;
}

enum { X_VALUE, X_KEY_OR_END, X_VALUE_OR_END, X_KEY, X_COLON, X_AFTER };

/* Tokenizes the JSON text p (modified in place) into c->t. Returns 0, -1 on malformed JSON
 * or out of memory, -2 when nested deeper than GUARD_TREE_DEPTH. */
static int json_read(gctx *c, char *p)
{
    int stack[GUARD_TREE_DEPTH];
    int sp = 0, x = X_VALUE, idx, top;
    char ch;

    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        ch = *p;
        if (ch == '\0') break;
        top = sp ? stack[sp - 1] : -1;
        switch (ch) {
        case '{':
        case '[':
            if (x != X_VALUE && x != X_VALUE_OR_END) return -1;
            if (sp == 0 && c->nt > 0) return -1; /* a second root */
            if (sp == GUARD_TREE_DEPTH) return -2;
            idx = tok_add(c, ch == '{' ? J_OBJ : J_ARR, p);
            if (idx < 0) return -1;
            if (top >= 0 && c->t[top].type == J_ARR) c->t[top].size++;
            stack[sp++] = idx;
            x = ch == '{' ? X_KEY_OR_END : X_VALUE_OR_END;
            p++;
            break;
        case '}':
        case ']':
            if (top < 0 || c->t[top].type != (ch == '}' ? J_OBJ : J_ARR)) return -1;
            if (x != X_AFTER && x != (ch == '}' ? X_KEY_OR_END : X_VALUE_OR_END)) return -1;
            c->t[top].next = c->nt;
            sp--;
            x = X_AFTER;
            p++;
            break;
        case ',':
            if (top < 0 || x != X_AFTER) return -1;
            x = c->t[top].type == J_OBJ ? X_KEY : X_VALUE;
            p++;
            break;
        case ':':
            if (x != X_COLON) return -1;
            x = X_VALUE;
            p++;
            break;
        case '"':
            if (x == X_KEY || x == X_KEY_OR_END) {
                c->t[top].size++;
                x = X_COLON;
            } else if (x == X_VALUE || x == X_VALUE_OR_END) {
                if (sp == 0 && c->nt > 0) return -1;
                if (top >= 0 && c->t[top].type == J_ARR) c->t[top].size++;
                x = X_AFTER;
            } else {
                return -1;
            }
            if (tok_add(c, J_STR, p + 1) < 0) return -1;
            p = jstring(p + 1);
            if (!p) return -1;
            break;
        default:
            if ((x != X_VALUE && x != X_VALUE_OR_END) || (sp == 0 && c->nt > 0)) return -1;
            if (!((ch >= '0' && ch <= '9') || ch == '-' || ch == 't' || ch == 'f' || ch == 'n'))
                return -1;
            if (tok_add(c, J_PRIM, p) < 0) return -1;
            if (top >= 0 && c->t[top].type == J_ARR) c->t[top].size++;
            while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
                   *p != '\t' && *p != '\r')
                p++;
            x = X_AFTER;
            break;
        }
    }
    return (sp == 0 && c->nt > 0 && x == X_AFTER) ? 0 : -1;
}

/* The value of key in object o, or -1. */
static int field(const gctx *c, int o, const char *key)
{
    int i, k;

    if (o < 0 || c->t[o].type != J_OBJ) return -1;
    for (i = o + 1, k = 0; k < c->t[o].size; k++, i = c->t[i + 1].next)
        if (strcmp(c->t[i].s, key) == 0) return i + 1;
    return -1;
}

static const char *field_str(const gctx *c, int o, const char *key)
{
    int v = field(c, o, key);

    return v >= 0 && c->t[v].type == J_STR ? c->t[v].s : NULL;
}

/* The only key of a node object ({"Type": {...}}), its body in *body; NULL if not a node. */
static const char *node_type(const gctx *c, int n, int *body)
{
    if (n < 0 || c->t[n].type != J_OBJ || c->t[n].size != 1) return NULL;
    *body = n + 2;
    return c->t[n + 1].s;
}

/* Element i of array a, or -1. */
static int elem(const gctx *c, int a, int i)
{
    int e, k;

    if (a < 0 || c->t[a].type != J_ARR || i >= c->t[a].size) return -1;
    for (e = a + 1, k = 0; k < i; k++)
        e = c->t[e].next;
    return e;
}

/* Splits a name list ([{"String":{"sval":..}}, ...]) into its last part and the one before
 * it (NULL when unqualified); *nparts is the list length. -1 if the list is malformed. */
static int name_parts(const gctx *c, int list, const char **schema, const char **name, int *nparts)
{
    const char *t, *v;
    int i, e, n, body = -1;

    *schema = *name = NULL;
    *nparts = 0;
    if (list < 0 || c->t[list].type != J_ARR) return -1;
    n = c->t[list].size;
    if (n == 0 || n > 4) return -1;
    for (i = 0, e = list + 1; i < n; i++, e = c->t[e].next) {
        t = node_type(c, e, &body);
        v = t && strcmp(t, "String") == 0 ? field_str(c, body, "sval") : NULL;
        if (!v) return -1;
        if (i + 2 == n) *schema = v;
        if (i + 1 == n) *name = v;
    }
    *nparts = n;
    return 0;
}

/* ---- the checks ---- */

static int walk(gctx *c, int o, int depth);
static int check_select(gctx *c, int s, int arm, int depth);

static int check_func(gctx *c, int fc)
{
    const char *schema, *name;
    int n;

    if (name_parts(c, field(c, fc, "funcname"), &schema, &name, &n) < 0)
        return deny(c, "function call with an unreadable name");
    if (n > 2) return deny(c, "function %s: cross-database references are not allowed", name);
    if (match_any(name, deny_funcs, sizeof deny_funcs / sizeof deny_funcs[0]))
        return deny(c, "function %s%s%s is not allowed", schema ? schema : "", schema ? "." : "",
                    name);
    if (!c->p->allowlist) return 0;
    if (schema && strcmp(schema, "pg_catalog") != 0)
        return deny(c,
                    "function %s.%s is not allowed: only pg_catalog functions may be called "
                    "with a schema",
                    schema, name);
    if (!on_allowlist(name))
        return deny(c, "function %s is not on the list of allowed functions", name);
    return 0;
}

/* Operators can be user-defined too: a schema other than pg_catalog is refused in allowlist
 * mode (OPERATOR(myschema.+)). */
static int check_operator(gctx *c, int ae)
{
    const char *schema, *name;
    int n, list = field(c, ae, "name");

    if (list < 0 || !c->p->allowlist) return 0;
    if (name_parts(c, list, &schema, &name, &n) < 0)
        return deny(c, "operator with an unreadable name");
    if (schema && strcmp(schema, "pg_catalog") != 0)
        return deny(c,
                    "operator %s.%s is not allowed: only pg_catalog operators may be "
                    "called with a schema",
                    schema, name);
    return 0;
}

static int check_tablesample(gctx *c, int ts)
{
    const char *schema, *name;
    int n;

    if (!c->p->allowlist) return 0;
    if (name_parts(c, field(c, ts, "method"), &schema, &name, &n) < 0)
        return deny(c, "TABLESAMPLE with an unreadable method name");
    if (schema && strcmp(schema, "pg_catalog") != 0)
        return deny(c, "TABLESAMPLE method %s.%s is not allowed", schema, name);
    return 0;
}

static int is_cte(const gctx *c, const char *name)
{
    int i;

    for (i = c->nctes - 1; i >= 0; i--)
        if (strcmp(c->ctes[i], name) == 0) return 1;
    return 0;
}

static int schema_listed(const guard_policy *p, const char *schema)
{
    int i;

    for (i = 0; i < p->nschemas; i++)
        if (p->schemas && p->schemas[i] && strcmp(p->schemas[i], schema) == 0) return 1;
    return 0;
}

static int add_rel(gctx *c, const char *schema, const char *name)
{
    guard_result *r = c->res;
    int i;

    for (i = 0; i < r->nrels; i++)
        if (strcmp(r->rels[i].schema, schema) == 0 && strcmp(r->rels[i].name, name) == 0) return 0;
    if (r->nrels == GUARD_MAX_RELS)
        return deny(c, "the statement reads more than %d relations", GUARD_MAX_RELS);
    if (str_copy(r->rels[r->nrels].schema, sizeof r->rels[0].schema, schema) < 0 ||
        str_copy(r->rels[r->nrels].name, sizeof r->rels[0].name, name) < 0)
        return deny(c, "relation name %.64s... is too long", name);
    r->nrels++;
    return 0;
}

static int check_rangevar(gctx *c, int rv)
{
    const guard_policy *p = c->p;
    const char *schema = field_str(c, rv, "schemaname");
    const char *name = field_str(c, rv, "relname");
    const char *db = field_str(c, rv, "catalogname");
    int catalog;

    if (!name) return deny(c, "relation with an unreadable name");
    if (db)
        return deny(c, "relation %s.%s.%s is not allowed: cross-database references", db,
                    schema ? schema : "", name);
    if (!schema) {
        if (is_cte(c, name)) return 0;
        if (match_any(name, deny_catalog_rels,
                      sizeof deny_catalog_rels / sizeof deny_catalog_rels[0]))
            return deny(c, "relation %s is not allowed: it is a protected system catalog", name);
        if (!p->allow_catalogs && strncasecmp(name, "pg_", 3) == 0)
            return deny(c, "relation %s is not allowed: system catalogs are not enabled", name);
        return add_rel(c, "", name);
    }
    if (strcasecmp(schema, "t2sql") == 0)
        return deny(c, "relation %s.%s is not allowed: the t2sql schema is internal", schema, name);
    catalog = strcmp(schema, "pg_catalog") == 0 || strcmp(schema, "information_schema") == 0;
    if (catalog) {
        if (schema[0] == 'p'
                ? match_any(name, deny_catalog_rels,
                            sizeof deny_catalog_rels / sizeof deny_catalog_rels[0])
                : match_any(name, deny_infoschema_rels,
                            sizeof deny_infoschema_rels / sizeof deny_infoschema_rels[0]))
            return deny(c, "relation %s.%s is not allowed: it is a protected system catalog",
                        schema, name);
        if (!p->allow_catalogs && !schema_listed(p, schema))
            return deny(c, "relation %s.%s is not allowed: system catalogs are not enabled", schema,
                        name);
    } else if (!schema_listed(p, schema)) {
        return deny(c,
                    "relation %s.%s is not allowed: schema %s is not one of the allowed "
                    "schemas",
                    schema, name, schema);
    }
    return add_rel(c, schema, name);
}

/* One more relation joined at the current query level. */
static int count_from(gctx *c)
{
    c->nfrom++;
    if (c->p->max_joins > 0 && c->nfrom > c->p->max_joins)
        return deny(c, "a query joins more than %d relations", c->p->max_joins);
    return 0;
}

/* Walks every value of object o except the keys in skip (NULL-terminated). */
static int walk_fields(gctx *c, int o, const char *const *skip, int depth)
{
    const char *const *s;
    int i, k;

    if (o < 0 || c->t[o].type != J_OBJ) return 0;
    for (i = o + 1, k = 0; k < c->t[o].size; k++, i = c->t[i + 1].next) {
        for (s = skip; s && *s; s++)
            if (strcmp(*s, c->t[i].s) == 0) break;
        if (s && *s) continue;
        if (walk(c, i + 1, depth) < 0) return -1;
    }
    return 0;
}

static int walk_node(gctx *c, const char *type, int body, int depth)
{
    static const char *const skip_func[] = {"funcname", NULL};
    static const char *const skip_expr[] = {"name", NULL};

    switch (type[0]) {
    case 'A':
        if (strcmp(type, "A_Expr") == 0) {
            if (check_operator(c, body) < 0) return -1;
            return walk_fields(c, body, skip_expr, depth);
        }
        break;
    case 'C':
        if (strcmp(type, "CommonTableExpr") == 0)
            return deny(c, "WITH is only allowed at the start of a query");
        break;
    case 'F':
        if (strcmp(type, "FuncCall") == 0) {
            if (check_func(c, body) < 0) return -1;
            return walk_fields(c, body, skip_func, depth);
        }
        break;
    case 'I':
        if (strcmp(type, "IntoClause") == 0) return deny(c, "SELECT INTO is not allowed");
        break;
    case 'L':
        if (strcmp(type, "LockingClause") == 0)
            return deny(c, "row locks (FOR UPDATE/SHARE) are not allowed");
        break;
    case 'R':
        if (strcmp(type, "RangeVar") == 0) {
            if (count_from(c) < 0 || check_rangevar(c, body) < 0) return -1;
            return walk(c, body, depth);
        }
        if (strcmp(type, "RangeSubselect") == 0 || strcmp(type, "RangeFunction") == 0 ||
            strcmp(type, "RangeTableFunc") == 0) {
            if (count_from(c) < 0) return -1;
            return walk(c, body, depth);
        }
        if (strcmp(type, "RangeTableSample") == 0) {
            if (check_tablesample(c, body) < 0) return -1;
            return walk(c, body, depth);
        }
        break;
    case 'S':
        if (strcmp(type, "SelectStmt") == 0) return check_select(c, body, 0, depth);
        break;
    case 'W':
        if (strcmp(type, "WithClause") == 0)
            return deny(c, "WITH is only allowed at the start of a query");
        break;
    default:
        break;
    }
    if (is_stmt_node(type)) return deny(c, "%s inside a query is not allowed", stmt_sql(type));
    return walk(c, body, depth);
}

static int walk(gctx *c, int o, int depth)
{
    const char *key;
    int i, k, v;

    if (depth > GUARD_TREE_DEPTH) return deny(c, "the statement is nested too deeply");
    switch (c->t[o].type) {
    case J_ARR:
        for (i = o + 1, k = 0; k < c->t[o].size; k++, i = c->t[i].next)
            if (walk(c, i, depth + 1) < 0) return -1;
        return 0;
    case J_OBJ:
        for (i = o + 1, k = 0; k < c->t[o].size; k++, i = c->t[v].next) {
            key = c->t[i].s;
            v = i + 1;
            if (strcmp(key, "intoClause") == 0) return deny(c, "SELECT INTO is not allowed");
            if (strcmp(key, "lockingClause") == 0)
                return deny(c, "row locks (FOR UPDATE/SHARE) are not allowed");
            if (strcmp(key, "withClause") == 0)
                return deny(c, "WITH is only allowed at the start of a query");
            /* Node types start with a capital (SelectStmt, A_Expr); field names do not. */
            if (key[0] >= 'A' && key[0] <= 'Z' && c->t[v].type == J_OBJ) {
                if (walk_node(c, key, v, depth + 1) < 0) return -1;
            } else if (walk(c, v, depth + 1) < 0) {
                return -1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

static int push_cte(gctx *c, const char *name)
{
    if (c->nctes == GUARD_MAX_CTES) return deny(c, "more than %d WITH queries", GUARD_MAX_CTES);
    c->ctes[c->nctes++] = name;
    return 0;
}

/* WITH: a CTE's name is in scope for the rest of the query; inside the CTE list, for the
 * CTEs after it, or for all of them (itself included) with RECURSIVE. The names stay pushed;
 * check_select() pops them when the query ends. */
static int check_with(gctx *c, int with, int depth)
{
    static const char *const skip_cte[] = {"ctequery", "ctename", NULL};
    int ctes = field(c, with, "ctes"), rec = field(c, with, "recursive");
    int recursive = rec >= 0 && c->t[rec].type == J_PRIM && c->t[rec].s[0] == 't';
    int i, n, e, cte = -1, qbody = -1;
    const char *t, *name, *qt;

    if (ctes < 0 || c->t[ctes].type != J_ARR) return deny(c, "WITH without queries");
    n = c->t[ctes].size;
    for (i = 0, e = ctes + 1; recursive && i < n; i++, e = c->t[e].next) {
        t = node_type(c, e, &cte);
        name = t && strcmp(t, "CommonTableExpr") == 0 ? field_str(c, cte, "ctename") : NULL;
        if (!name) return deny(c, "WITH with an unreadable query");
        if (push_cte(c, name) < 0) return -1;
    }
    for (i = 0, e = ctes + 1; i < n; i++, e = c->t[e].next) {
        t = node_type(c, e, &cte);
        name = t && strcmp(t, "CommonTableExpr") == 0 ? field_str(c, cte, "ctename") : NULL;
        if (!name) return deny(c, "WITH with an unreadable query");
        qt = node_type(c, field(c, cte, "ctequery"), &qbody);
        if (!qt) return deny(c, "WITH query %s is unreadable", name);
        if (strcmp(qt, "SelectStmt") != 0)
            return deny(c, "%s inside WITH is not allowed", stmt_sql(qt));
        if (check_select(c, qbody, 0, depth + 1) < 0 || walk_fields(c, cte, skip_cte, depth) < 0)
            return -1;
        if (!recursive && push_cte(c, name) < 0) return -1;
    }
    return 0;
}

static const char *lock_sql(const gctx *c, int locks)
{
    const char *t, *s;
    int lc = -1;

    t = node_type(c, elem(c, locks, 0), &lc);
    s = t ? field_str(c, lc, "strength") : NULL;
    if (!s) return "FOR UPDATE/SHARE";
    if (strcmp(s, "LCS_FORKEYSHARE") == 0) return "FOR KEY SHARE";
    if (strcmp(s, "LCS_FORSHARE") == 0) return "FOR SHARE";
    if (strcmp(s, "LCS_FORNOKEYUPDATE") == 0) return "FOR NO KEY UPDATE";
    return "FOR UPDATE";
}

/* A SelectStmt body. arm: the left or right side of UNION/INTERSECT/EXCEPT, which is not a
 * new query level. */
static int check_select(gctx *c, int s, int arm, int depth)
{
    static const char *const skip_sel[] = {"withClause", "larg", "rarg", NULL};
    const guard_policy *p = c->p;
    int saved_ctes = c->nctes, saved_from = c->nfrom, rc = -1, v;

    if (!arm) c->qdepth++;
    c->nfrom = 0;
    if (depth > GUARD_TREE_DEPTH) {
        deny(c, "the statement is nested too deeply");
        goto done;
    }
    if (s < 0 || c->t[s].type != J_OBJ) {
        deny(c, "unreadable SELECT");
        goto done;
    }
    if (p->max_nesting > 0 && c->qdepth > p->max_nesting) {
        deny(c, "subqueries are nested more than %d deep", p->max_nesting);
        goto done;
    }
    if (field(c, s, "intoClause") >= 0) {
        deny(c, "SELECT INTO is not allowed");
        goto done;
    }
    v = field(c, s, "lockingClause");
    if (v >= 0) {
        deny(c, "row locks (%s) are not allowed", lock_sql(c, v));
        goto done;
    }
    v = field(c, s, "withClause");
    if (v >= 0 && check_with(c, v, depth + 1) < 0) goto done;
    v = field(c, s, "larg");
    if (v >= 0 && check_select(c, v, 1, depth + 1) < 0) goto done;
    v = field(c, s, "rarg");
    if (v >= 0 && check_select(c, v, 1, depth + 1) < 0) goto done;
    if (walk_fields(c, s, skip_sel, depth + 1) < 0) goto done;
    rc = 0;
done:
    c->nctes = saved_ctes;
    c->nfrom = saved_from;
    if (!arm) c->qdepth--;
    return rc;
}

int guard_check(const char *sql, const guard_policy *p, guard_result *res)
{
    PgQueryParseResult pr;
    const char *type;
    size_t len;
    int parsed = 0, rc = -1, stmts, n, body = -1;
    gctx c;

    if (!res) return -1;
    res->nrels = 0;
    res->is_parse_error = 0;
    res->why[0] = '\0';
    memset(&c, 0, sizeof c);
    c.p = p;
    c.res = res;
    if (!sql) {
        deny(&c, "no SQL was given");
        goto fail;
    }
    if (!p) {
        deny(&c, "no guard policy was given");
        goto fail;
    }
    len = strlen(sql);
    if (p->max_bytes > 0 && len > p->max_bytes) {
        deny(&c, "the statement is %zu bytes; the limit is %zu", len, p->max_bytes);
        goto fail;
    }
    pr = pg_query_parse(sql);
    parsed = 1;
    if (pr.error) {
        res->is_parse_error = 1;
        if (pr.error->cursorpos > 0)
            deny(&c, "%s (at character %d)", pr.error->message ? pr.error->message : "syntax error",
                 pr.error->cursorpos);
        else
            deny(&c, "%s", pr.error->message ? pr.error->message : "syntax error");
        goto fail;
    }
    n = pr.parse_tree ? json_read(&c, pr.parse_tree) : -1;
    if (n < 0) {
        deny(&c, n == -2 ? "the statement is nested too deeply" : "could not read the parse tree");
        goto fail;
    }
    stmts = field(&c, 0, "stmts");
    n = stmts >= 0 && c.t[stmts].type == J_ARR ? c.t[stmts].size : 0;
    if (n == 0) {
        deny(&c, "no statement was found (the input is empty or only comments)");
        goto fail;
    }
    if (n > 1) {
        deny(&c, "statement 2 of %d: only one statement is allowed", n);
        goto fail;
    }
    type = node_type(&c, field(&c, stmts + 1, "stmt"), &body);
    if (!type) {
        deny(&c, "could not read the parse tree");
        goto fail;
    }
    if (strcmp(type, "SelectStmt") != 0) {
        deny(&c, "only a SELECT statement is allowed, not %s", stmt_sql(type));
        goto fail;
    }
    if (check_select(&c, body, 0, 3) < 0) goto fail;
    rc = 0;
fail:
    if (rc < 0) res->nrels = 0;
    free(c.t);
    if (parsed) pg_query_free_parse_result(pr);
    return rc;
}
