/* sqlguard -- proves a statement is one read-only SELECT on libpg_query's parse tree; see
 * sqlguard.h. It does not run, rewrite or resolve anything: names are checked as written.
 *
 * The tree comes from pg_query_parse() as JSON. It is tokenized in place (strings unescaped
 * and NUL-terminated inside pg_query's own buffer) into a flat token array: a general JSON
 * library spent two thirds of the guard's time building objects that are read once. Every
 * node is visited (a generic walk), and a few node types get a closer look: SelectStmt
 * (SELECT INTO, row locks, WITH scoping, nesting, joins), FuncCall (denylist, allowlist,
 * constant sizes), ColumnRef and A_Indirection (x.fn and (expr).fn are calls of fn), RangeVar
 * (schemas, catalogs), A_Expr (schema-qualified operators). Any other statement
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
    const char *sql; /* the statement; locations in the tree are offsets into it */
    size_t sqllen;
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

/* Built-in functions that attribute syntax could call (x.fn and (x).fn mean fn(x)) and that
 * are neither on the allowlist nor harmless: PostgreSQL 15's pg_catalog functions callable
 * with one argument that is not "internal", with a one-argument form that is not IMMUTABLE
 * (immutable ones read nothing but their argument: name, path, width, radius ... stay usable
 * as column names). money and xml are left out: common column names, harmless as casts.
 * Lower case and sorted (bsearch). Generated, minus allow_funcs, with:
 *   SELECT proname FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace
 *      AND pronargs >= 1 AND pronargs - pronargdefaults <= 1
 *      AND proargtypes[0] <> 'internal'::regtype AND proname NOT IN ('money', 'xml')
 *    GROUP BY proname HAVING bool_or(provolatile <> 'i') ORDER BY 1 */
static const char *const attr_funcs[] = {
    "aclexplode", "aclitemin", "aclitemout", "amvalidate", "anyarray_out", "anyarray_send",
    "anycompatiblearray_out", "anycompatiblearray_send", "anycompatiblemultirange_out",
    "anycompatiblerange_out", "anyenum_out", "anymultirange_out", "anyrange_out", "array_out",
    "array_send", "binary_upgrade_set_next_array_pg_type_oid",
    "binary_upgrade_set_next_attribute_versions", "binary_upgrade_set_next_heap_pg_class_oid",
    "binary_upgrade_set_next_heap_relfilenode", "binary_upgrade_set_next_index_pg_class_oid",
    "binary_upgrade_set_next_index_relfilenode",
    "binary_upgrade_set_next_multirange_array_pg_type_oid",
    "binary_upgrade_set_next_multirange_pg_type_oid", "binary_upgrade_set_next_pg_authid_oid",
    "binary_upgrade_set_next_pg_enum_oid", "binary_upgrade_set_next_pg_tablespace_oid",
    "binary_upgrade_set_next_pg_type_oid", "binary_upgrade_set_next_toast_pg_class_oid",
    "binary_upgrade_set_next_toast_relfilenode", "binary_upgrade_set_record_init_privs",
    "bpcharsend", "brin_bloom_summary_send", "brin_minmax_multi_summary_send",
    "brin_summarize_new_values", "cash_in", "cash_out", "cstring_send", "current_schemas",
    "current_setting", "currval", "date_in", "date_out", "enum_first", "enum_last", "enum_out",
    "enum_range", "enum_send", "fmgr_c_validator", "fmgr_internal_validator", "fmgr_sql_validator",
    "gin_clean_pending_list", "interval_out", "lo_close", "lo_creat", "lo_create", "lo_get",
    "lo_import", "lo_tell", "lo_tell64", "lo_unlink", "multirange_out", "multirange_send",
    "mxid_age", "namesend", "nextval", "obj_description", "oidvectortypes", "pg_advisory_lock",
    "pg_advisory_lock_shared", "pg_advisory_unlock", "pg_advisory_unlock_shared",
    "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared", "pg_backup_start", "pg_backup_stop",
    "pg_blocking_pids", "pg_cancel_backend", "pg_char_to_encoding", "pg_collation_actual_version",
    "pg_collation_is_visible", "pg_column_compression", "pg_column_size",
    "pg_conversion_is_visible", "pg_create_physical_replication_slot", "pg_create_restore_point",
    "pg_current_logfile", "pg_database_collation_actual_version", "pg_database_size",
    "pg_dependencies_send", "pg_drop_replication_slot", "pg_encoding_to_char",
    "pg_extension_update_paths", "pg_function_is_visible", "pg_get_constraintdef",
    "pg_get_function_arguments", "pg_get_function_identity_arguments", "pg_get_function_result",
    "pg_get_function_sqlbody", "pg_get_functiondef", "pg_get_indexdef", "pg_get_multixact_members",
    "pg_get_partition_constraintdef", "pg_get_partkeydef", "pg_get_publication_tables",
    "pg_get_replica_identity_index", "pg_get_ruledef", "pg_get_statisticsobjdef",
    "pg_get_statisticsobjdef_columns", "pg_get_statisticsobjdef_expressions", "pg_get_triggerdef",
    "pg_get_userbyid", "pg_get_viewdef", "pg_import_system_collations", "pg_indexes_size",
    "pg_is_other_temp_schema", "pg_log_backend_memory_contexts", "pg_ls_dir", "pg_ls_replslotdir",
    "pg_ls_tmpdir", "pg_mcv_list_items", "pg_mcv_list_send", "pg_ndistinct_send",
    "pg_node_tree_send", "pg_opclass_is_visible", "pg_operator_is_visible",
    "pg_opfamily_is_visible", "pg_options_to_table", "pg_partition_ancestors", "pg_partition_tree",
    "pg_promote", "pg_read_binary_file", "pg_read_file", "pg_relation_filenode",
    "pg_relation_filepath", "pg_relation_is_publishable", "pg_relation_size",
    "pg_replication_origin_create", "pg_replication_origin_drop", "pg_replication_origin_oid",
    "pg_replication_origin_session_progress", "pg_replication_origin_session_setup",
    "pg_safe_snapshot_blocking_pids", "pg_sequence_last_value", "pg_sequence_parameters",
    "pg_settings_get_flags", "pg_sleep", "pg_sleep_for", "pg_sleep_until", "pg_stat_file",
    "pg_stat_get_activity", "pg_stat_get_analyze_count", "pg_stat_get_autoanalyze_count",
    "pg_stat_get_autovacuum_count", "pg_stat_get_backend_activity",
    "pg_stat_get_backend_activity_start", "pg_stat_get_backend_client_addr",
    "pg_stat_get_backend_client_port", "pg_stat_get_backend_dbid", "pg_stat_get_backend_pid",
    "pg_stat_get_backend_start", "pg_stat_get_backend_userid", "pg_stat_get_backend_wait_event",
    "pg_stat_get_backend_wait_event_type", "pg_stat_get_backend_xact_start",
    "pg_stat_get_blocks_fetched", "pg_stat_get_blocks_hit", "pg_stat_get_db_active_time",
    "pg_stat_get_db_blk_read_time", "pg_stat_get_db_blk_write_time",
    "pg_stat_get_db_blocks_fetched", "pg_stat_get_db_blocks_hit",
    "pg_stat_get_db_checksum_failures", "pg_stat_get_db_checksum_last_failure",
    "pg_stat_get_db_conflict_all", "pg_stat_get_db_conflict_bufferpin",
    "pg_stat_get_db_conflict_lock", "pg_stat_get_db_conflict_snapshot",
    "pg_stat_get_db_conflict_startup_deadlock", "pg_stat_get_db_conflict_tablespace",
    "pg_stat_get_db_deadlocks", "pg_stat_get_db_idle_in_transaction_time",
    "pg_stat_get_db_numbackends", "pg_stat_get_db_session_time", "pg_stat_get_db_sessions",
    "pg_stat_get_db_sessions_abandoned", "pg_stat_get_db_sessions_fatal",
    "pg_stat_get_db_sessions_killed", "pg_stat_get_db_stat_reset_time", "pg_stat_get_db_temp_bytes",
    "pg_stat_get_db_temp_files", "pg_stat_get_db_tuples_deleted", "pg_stat_get_db_tuples_fetched",
    "pg_stat_get_db_tuples_inserted", "pg_stat_get_db_tuples_returned",
    "pg_stat_get_db_tuples_updated", "pg_stat_get_db_xact_commit", "pg_stat_get_db_xact_rollback",
    "pg_stat_get_dead_tuples", "pg_stat_get_function_calls", "pg_stat_get_function_self_time",
    "pg_stat_get_function_total_time", "pg_stat_get_ins_since_vacuum",
    "pg_stat_get_last_analyze_time", "pg_stat_get_last_autoanalyze_time",
    "pg_stat_get_last_autovacuum_time", "pg_stat_get_last_vacuum_time", "pg_stat_get_live_tuples",
    "pg_stat_get_mod_since_analyze", "pg_stat_get_numscans", "pg_stat_get_progress_info",
    "pg_stat_get_replication_slot", "pg_stat_get_subscription", "pg_stat_get_subscription_stats",
    "pg_stat_get_tuples_deleted", "pg_stat_get_tuples_fetched", "pg_stat_get_tuples_hot_updated",
    "pg_stat_get_tuples_inserted", "pg_stat_get_tuples_returned", "pg_stat_get_tuples_updated",
    "pg_stat_get_vacuum_count", "pg_stat_get_xact_blocks_fetched", "pg_stat_get_xact_blocks_hit",
    "pg_stat_get_xact_function_calls", "pg_stat_get_xact_function_self_time",
    "pg_stat_get_xact_function_total_time", "pg_stat_get_xact_numscans",
    "pg_stat_get_xact_tuples_deleted", "pg_stat_get_xact_tuples_fetched",
    "pg_stat_get_xact_tuples_hot_updated", "pg_stat_get_xact_tuples_inserted",
    "pg_stat_get_xact_tuples_returned", "pg_stat_get_xact_tuples_updated",
    "pg_stat_reset_replication_slot", "pg_stat_reset_shared",
    "pg_stat_reset_single_function_counters", "pg_stat_reset_single_table_counters",
    "pg_stat_reset_slru", "pg_stat_reset_subscription_stats", "pg_statistics_obj_is_visible",
    "pg_table_is_visible", "pg_table_size", "pg_tablespace_databases", "pg_tablespace_location",
    "pg_tablespace_size", "pg_terminate_backend", "pg_total_relation_size", "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock", "pg_try_advisory_xact_lock_shared",
    "pg_ts_config_is_visible", "pg_ts_dict_is_visible", "pg_ts_parser_is_visible",
    "pg_ts_template_is_visible", "pg_type_is_visible", "pg_xact_commit_timestamp",
    "pg_xact_commit_timestamp_origin", "pg_xact_status", "plpgsql_validator", "range_out",
    "range_send", "record_out", "record_send", "regclass", "regclassin", "regclassout",
    "regcollationin", "regcollationout", "regconfigin", "regconfigout", "regdictionaryin",
    "regdictionaryout", "regnamespacein", "regnamespaceout", "regoperatorin", "regoperatorout",
    "regoperin", "regoperout", "regprocedurein", "regprocedureout", "regprocin", "regprocout",
    "regrolein", "regroleout", "regtypein", "regtypeout", "row_security_active", "setseed",
    "textsend", "timestamp_out", "timestamptz_out", "to_regclass", "to_regcollation",
    "to_regnamespace", "to_regoper", "to_regoperator", "to_regproc", "to_regprocedure",
    "to_regrole", "to_regtype", "ts_debug", "ts_stat", "ts_token_type", "txid_status",
    "varcharsend", "xml_in", "xml_is_well_formed", "xml_send",
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

/* 1 if name, lowered, is in the sorted table tab of n names. */
static int in_sorted(const char *name, const char *const *tab, size_t n)
{
    char low[64];
    size_t i, len = strlen(name);

    if (len >= sizeof low) return 0;
    for (i = 0; i <= len; i++)
        low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
    return bsearch(low, tab, n, sizeof tab[0], cmp_name) != NULL;
}

static int on_allowlist(const char *name)
{
    return in_sorted(name, allow_funcs, sizeof allow_funcs / sizeof allow_funcs[0]);
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

/* ---- constant sizes ---- */

/* A constant count above this in repeat/lpad/rpad/array_fill/generate_series is refused: one
 * such call makes a backend allocate up to 1 GB (repeat, lpad, rpad, array_fill build the
 * whole value in memory) or run a billion rows, before statement_timeout can stop it. Counts
 * that are not constants are left to statement_timeout and temp_file_limit. */
#define GUARD_MAX_COUNT 10000000.0
/* Levels of arithmetic on constants followed (100000 * 100000). */
#define GUARD_CONST_DEPTH 32

/* A string that is a whole number with optional blanks around it ('20000000' passed where
 * an integer is wanted). Returns 0 and the value in *out, -1 otherwise. */
static int num_text(const char *s, double *out)
{
    char *end;

    if (!s) return -1;
    *out = strtod(s, &end);
    if (end == s) return -1;
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    return *end == '\0' ? 0 : -1;
}

/* The integer written at offset loc of the statement when it is a negative one ("-5",
 * "- 5"), else 0. */
static double neg_int_at(const gctx *c, long loc)
{
    const char *q;

    if (loc < 0 || (size_t)loc >= c->sqllen || c->sql[loc] != '-') return 0;
    for (q = c->sql + loc + 1; *q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'; q++)
        ;
    return *q >= '0' && *q <= '9' ? -strtod(q, NULL) : 0;
}

/* The value of a numeric constant expression: literals, casts of literals, and + - * / on
 * them. Returns 0 with *out set, -1 when the node is not such a constant. */
static int const_num(const gctx *c, int n, double *out, int depth)
{
    const char *t, *op, *sch;
    double l = 0, r;
    int body = -1, v, np;

    t = node_type(c, n, &body);
    if (!t || depth > GUARD_CONST_DEPTH) return -1;
    if (strcmp(t, "A_Const") == 0) {
        if ((v = field(c, body, "ival")) >= 0) {
            if ((v = field(c, v, "ival")) >= 0 && c->t[v].type == J_PRIM) {
                *out = strtod(c->t[v].s, NULL);
                return 0;
            }
            /* {"ival": {}}: libpg_query writes 0 and negative integers so; read the text. */
            v = field(c, body, "location");
            *out =
                v >= 0 && c->t[v].type == J_PRIM ? neg_int_at(c, strtol(c->t[v].s, NULL, 10)) : 0;
            return 0;
        }
        if ((v = field(c, body, "fval")) >= 0) return num_text(field_str(c, v, "fval"), out);
        if ((v = field(c, body, "sval")) >= 0) return num_text(field_str(c, v, "sval"), out);
        return -1;
    }
    if (strcmp(t, "TypeCast") == 0) return const_num(c, field(c, body, "arg"), out, depth + 1);
    op = strcmp(t, "A_Expr") == 0 ? field_str(c, body, "kind") : NULL;
    if (!op || strcmp(op, "AEXPR_OP") != 0 ||
        name_parts(c, field(c, body, "name"), &sch, &op, &np) < 0 || np != 1)
        return -1;
    if (field(c, body, "lexpr") >= 0 && const_num(c, field(c, body, "lexpr"), &l, depth + 1) < 0)
        return -1;
    if (const_num(c, field(c, body, "rexpr"), &r, depth + 1) < 0) return -1;
    if (strcmp(op, "+") == 0)
        *out = l + r;
    else if (strcmp(op, "-") == 0)
        *out = l - r;
    else if (strcmp(op, "*") == 0)
        *out = l * r;
    else if (strcmp(op, "/") == 0 && r != 0)
        *out = l / r;
    else
        return -1;
    return 0;
}

/* The number of elements an array_fill dimensions argument asks for: the product of its
 * constant elements (ARRAY[10000, 10000], '{10000,10000}'::int[]); 0 when none is known. */
static double const_dims(const gctx *c, int n)
{
    const char *t, *s;
    double prod = 0, v;
    char *end;
    int body = -1, e, k, els;

    t = node_type(c, n, &body);
    if (t && strcmp(t, "TypeCast") == 0) return const_dims(c, field(c, body, "arg"));
    if (t && strcmp(t, "A_ArrayExpr") == 0) {
        els = field(c, body, "elements");
        if (els < 0 || c->t[els].type != J_ARR) return 0;
        for (e = els + 1, k = 0; k < c->t[els].size; k++, e = c->t[e].next)
            if (const_num(c, e, &v, 0) == 0) prod = (prod ? prod : 1) * (v < 0 ? 0 : v);
        return prod;
    }
    if (t && strcmp(t, "A_Const") == 0 && (e = field(c, body, "sval")) >= 0 &&
        (s = field_str(c, e, "sval")) != NULL) {
        while (*s) {
            v = strtod(s, &end);
            if (end == s) {
                s++;
                continue;
            }
            prod = (prod ? prod : 1) * (v < 0 ? 0 : v);
            s = end;
        }
    }
    return prod;
}

static double const_len(const gctx *c, int n, int depth);

/* The length of what repeat/lpad/rpad call fc returns, when its arguments say: the count for
 * lpad/rpad, the count times the known length of the text for repeat. 0 when not known. */
static double call_len(const gctx *c, int fc, const char *name, int depth)
{
    int args = field(c, fc, "args");
    double v;

    if (const_num(c, elem(c, args, 1), &v, 0) < 0 || v <= 0) return 0;
    if (strcasecmp(name, "repeat") == 0) return const_len(c, elem(c, args, 0), depth + 1) * v;
    if (strcasecmp(name, "lpad") == 0 || strcasecmp(name, "rpad") == 0) return v;
    return 0;
}

/* The length of a text argument when it is known: a literal, or repeat/lpad/rpad of
 * constants (repeat(repeat('x', 10000), 10000)). 0 when not known. */
static double const_len(const gctx *c, int n, int depth)
{
    const char *t, *sch, *name, *lit;
    int body = -1, np, v;

    t = node_type(c, n, &body);
    if (!t || depth > GUARD_CONST_DEPTH) return 0;
    if (strcmp(t, "A_Const") == 0) {
        v = field(c, body, "sval");
        lit = v >= 0 ? field_str(c, v, "sval") : NULL;
        return lit ? (double)strlen(lit) : 0;
    }
    if (strcmp(t, "TypeCast") == 0) return const_len(c, field(c, body, "arg"), depth + 1);
    if (strcmp(t, "FuncCall") != 0 ||
        name_parts(c, field(c, body, "funcname"), &sch, &name, &np) < 0)
        return 0;
    return call_len(c, body, name, depth + 1);
}

/* Refuses a call of repeat, lpad, rpad, array_fill or generate_series whose constant
 * arguments ask for more than GUARD_MAX_COUNT characters, elements or rows. */
static int check_sizes(gctx *c, int fc, const char *name)
{
    int args = field(c, fc, "args");
    double n = 0, a, b, step = 1;
    const char *what = NULL;

    if (strcasecmp(name, "repeat") == 0) {
        n = call_len(c, fc, name, 0);
        if (const_num(c, elem(c, args, 1), &a, 0) == 0 && a > n) n = a;
        what = "characters";
    } else if (strcasecmp(name, "lpad") == 0 || strcasecmp(name, "rpad") == 0) {
        if (const_num(c, elem(c, args, 1), &n, 0) < 0) n = 0;
        what = "characters";
    } else if (strcasecmp(name, "array_fill") == 0) {
        n = const_dims(c, elem(c, args, 1));
        what = "array elements";
    } else if (strcasecmp(name, "generate_series") == 0) {
        if (const_num(c, elem(c, args, 0), &a, 0) == 0 &&
            const_num(c, elem(c, args, 1), &b, 0) == 0 &&
            (elem(c, args, 2) < 0 || const_num(c, elem(c, args, 2), &step, 0) == 0) && step != 0)
            n = (b - a) / step;
        what = "rows";
    }
    if (what && n > GUARD_MAX_COUNT)
        return deny(c,
                    "%s() with constant arguments asking for %.0f %s is not allowed: the limit "
                    "is %.0f (one call would make the server allocate or produce that much)",
                    name, n, what, GUARD_MAX_COUNT);
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
    if (!c->p->allowlist) return check_sizes(c, fc, name);
    if (schema && strcmp(schema, "pg_catalog") != 0)
        return deny(c,
                    "function %s.%s is not allowed: only pg_catalog functions may be called "
                    "with a schema",
                    schema, name);
    if (!on_allowlist(name))
        return deny(c, "function %s is not on the list of allowed functions", name);
    return check_sizes(c, fc, name);
}

/* A name used as a field: PostgreSQL reads x.name and (expr).name as name(x) when x has no
 * column of that name, so field names meet the function checks. The denylist applies
 * everywhere; in allowlist mode so does attr_funcs (the catalog is not at hand, so a name
 * there is refused even where it is a real column; none of them is a common column name). */
static int check_attr(gctx *c, const char *name)
{
    if (match_any(name, deny_funcs, sizeof deny_funcs / sizeof deny_funcs[0]))
        return deny(c, "function %s is not allowed (x.%s and (x).%s call %s(x))", name, name, name,
                    name);
    if (c->p->allowlist && in_sorted(name, attr_funcs, sizeof attr_funcs / sizeof attr_funcs[0]))
        return deny(c,
                    "%s is not allowed as a field name: it is a built-in function that is not "
                    "on the list of allowed functions (x.%s and (x).%s call %s(x))",
                    name, name, name, name);
    return 0;
}

/* The String elements of list a, from index from on, through check_attr(). */
static int check_attr_list(gctx *c, int a, int from)
{
    const char *t, *v;
    int e, k, body = -1;

    if (a < 0 || c->t[a].type != J_ARR) return 0;
    for (e = a + 1, k = 0; k < c->t[a].size; k++, e = c->t[e].next) {
        t = node_type(c, e, &body);
        if (k < from || !t || strcmp(t, "String") != 0) continue;
        v = field_str(c, body, "sval");
        if (!v) return deny(c, "a field with an unreadable name");
        if (check_attr(c, v) < 0) return -1;
    }
    return 0;
}

/* ColumnRef: its last name, when there are two or more, may be a function applied to what
 * precedes it (o.f_orders is f_orders(o); schema.rel.fn is fn(schema.rel)). PostgreSQL
 * never calls the names before the last, so only that one is checked: a table or schema
 * named like a function (lo_orders.id) stays readable. */
static int check_columnref(gctx *c, int cr)
{
    int a = field(c, cr, "fields");

    if (a < 0 || c->t[a].type != J_ARR || c->t[a].size < 2) return 0;
    return check_attr_list(c, a, c->t[a].size - 1);
}

/* A_Indirection: (expr).name is name(expr) when expr has no such field. In allowlist mode
 * field selection is allowed only on a column reference ((t).col, (row_col).f1), where the
 * name passes check_attr(); subscripts ([1]) and .* are not names and pass. */
static int check_indirection(gctx *c, int ind)
{
    const char *t, *at;
    int e, k, body = -1, abody = -1, list = field(c, ind, "indirection");

    if (check_attr_list(c, list, 0) < 0) return -1;
    if (!c->p->allowlist || list < 0 || c->t[list].type != J_ARR) return 0;
    at = node_type(c, field(c, ind, "arg"), &abody);
    if (at && strcmp(at, "ColumnRef") == 0) return 0;
    for (e = list + 1, k = 0; k < c->t[list].size; k++, e = c->t[e].next) {
        t = node_type(c, e, &body);
        if (t && strcmp(t, "String") == 0)
            return deny(c, "field selection (expr).%s is not allowed: only (column).field is",
                        field_str(c, body, "sval") ? field_str(c, body, "sval") : "?");
    }
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
        if (strcmp(type, "A_Indirection") == 0 && check_indirection(c, body) < 0) return -1;
        break;
    case 'C':
        if (strcmp(type, "CommonTableExpr") == 0)
            return deny(c, "WITH is only allowed at the start of a query");
        if (strcmp(type, "ColumnRef") == 0 && check_columnref(c, body) < 0) return -1;
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
    c.sql = sql;
    c.sqllen = len;
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
