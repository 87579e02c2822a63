/* guardfn -- the SQL guard's name tables: functions denied everywhere, the allowlist,
 * built-ins reachable through attribute syntax, functions and SQL value keywords that
 * disclose facts about the session, protected catalog relations, and statement names; see
 * guardfn.h. Tables only: no state, nothing allocated. */
#include "guardfn.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    "date", "date_add", "date_bin", "date_part", "date_subtract",
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

/* Functions that tell who and where the session is: role, database, schemas, server and
 * client addresses, backend pid, server version and start. In allowlist mode they need
 * guard_policy.allow_session (current_setting(), txid_current() and friends stay on the
 * denylist in every mode). Lower case and sorted (bsearch). */
static const char *const session_funcs[] = {
    "current_catalog", "current_database", "current_role", "current_schema", "current_schemas",
    "current_user", "inet_client_addr", "inet_client_port", "inet_server_addr",
    "inet_server_port", "pg_backend_pid", "pg_conf_load_time", "pg_my_temp_schema",
    "pg_postmaster_start_time", "session_user", "user", "version",
};

/* SQLValueFunction ops (the keyword forms: CURRENT_USER, USER, ...) that disclose the
 * session, with their SQL spelling. CURRENT_DATE, LOCALTIME and the other clock keywords
 * are not among them. */
static const struct {
    const char *op, *sql;
} session_values[] = {
    {"SVFOP_CURRENT_ROLE", "current_role"},
    {"SVFOP_CURRENT_USER", "current_user"},
    {"SVFOP_USER", "user"},
    {"SVFOP_SESSION_USER", "session_user"},
    {"SVFOP_CURRENT_CATALOG", "current_catalog"},
    {"SVFOP_CURRENT_SCHEMA", "current_schema"},
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

int guardfn_denied(const char *name)
{
    return match_any(name, deny_funcs, sizeof deny_funcs / sizeof deny_funcs[0]);
}

int guardfn_allowed(const char *name)
{
    return in_sorted(name, allow_funcs, sizeof allow_funcs / sizeof allow_funcs[0]);
}

int guardfn_attr(const char *name)
{
    return in_sorted(name, attr_funcs, sizeof attr_funcs / sizeof attr_funcs[0]);
}

int guardfn_session(const char *name)
{
    return in_sorted(name, session_funcs, sizeof session_funcs / sizeof session_funcs[0]);
}

const char *guardfn_session_value(const char *op)
{
    size_t i;

    for (i = 0; op && i < sizeof session_values / sizeof session_values[0]; i++)
        if (strcmp(session_values[i].op, op) == 0) return session_values[i].sql;
    return NULL;
}

int guardfn_catalog_denied(const char *name)
{
    return match_any(name, deny_catalog_rels,
                     sizeof deny_catalog_rels / sizeof deny_catalog_rels[0]);
}

int guardfn_infoschema_denied(const char *name)
{
    return match_any(name, deny_infoschema_rels,
                     sizeof deny_infoschema_rels / sizeof deny_infoschema_rels[0]);
}

const char *guardfn_stmt_sql(const char *node)
{
    size_t i;

    for (i = 0; i < sizeof stmt_names / sizeof stmt_names[0]; i++)
        if (strcmp(stmt_names[i].node, node) == 0) return stmt_names[i].sql;
    return node;
}
