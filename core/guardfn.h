/* guardfn -- the SQL guard's name tables and their lookups. Internal to the guard
 * (sqlguard.c). Names are compared case-insensitively; nothing is allocated, and every
 * string returned is static. */
#ifndef T2_GUARDFN_H
#define T2_GUARDFN_H

/* 1 if calling name is refused in every mode (pg_sleep, pg_read_file, lo_*, dblink, ...). */
int guardfn_denied(const char *name);
/* 1 if name is on the allowlist of ordinary analytics functions. */
int guardfn_allowed(const char *name);
/* 1 if name is a built-in, neither allowed nor harmless, that x.name or (x).name would call
 * (refused as a field name in allowlist mode). */
int guardfn_attr(const char *name);
/* 1 if name is a function that discloses the session (current_database, version,
 * inet_server_addr, pg_backend_pid, ...). */
int guardfn_session(const char *name);
/* The SQL keyword of a SQLValueFunction op ("SVFOP_CURRENT_USER") that discloses the
 * session ("current_user"); NULL for the others (CURRENT_DATE, LOCALTIME, ...). */
const char *guardfn_session_value(const char *op);
/* 1 if name is a catalog relation never readable (pg_authid, pg_settings, ...). */
int guardfn_catalog_denied(const char *name);
/* 1 if name is an information_schema view with foreign-server or user-mapping options. */
int guardfn_infoschema_denied(const char *name);
/* The SQL for a statement node name ("DeleteStmt" -> "DELETE"); the name itself if none. */
const char *guardfn_stmt_sql(const char *node);

#endif
