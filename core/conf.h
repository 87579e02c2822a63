/* conf -- the configuration: one table of keys (type, default, bounds, env names, secret,
 * reloadable), loaded from conf/t2sql.conf and overridden by the environment.
 *
 * Precedence: T2SQL_<KEY> > the old service's name (DB_HOST, OPENAI_API_KEY, ...) > file >
 * default. A secret key may instead name a file holding its value: "<key>_file = path" in a
 * config file (relative to that file), T2SQL_<KEY>_FILE or <OLD>_FILE in the environment
 * (Docker secrets); each takes the place of the key at its level. A config file may
 * "include = path" or "include_if_exists = path" (relative to it) another one. A conf owns its
 * strings; conf_free() releases them. conf_load() leaves `out` untouched on failure, so a reload
 * that fails keeps the old configuration. */
#ifndef T2_CONF_H
#define T2_CONF_H

#include <stddef.h>
#include <stdio.h>

typedef struct conf {
    /* service */
    char *listen;
    long workers;          /* query workers that may work at once; 0 in the file = 2 per core */
    long queue_workers;    /* more processes that accept and wait for a free one; -1 = workers */
    long queue_timeout_ms; /* the longest wait for a free query worker before 503 overloaded */
    char *health_listen;   /* the health pool's socket; "" = listen + ".health" for a path */
    long health_workers;   /* processes serving /health, /ready and /metrics; 0 = none */
    long max_requests;
    long worker_max_kept_mb; /* memory a worker may keep past its size after request 1 */
    char *log_file;
    char *log_level;
    char *log_format;           /* "text" or "json" */
    long slow_request_ms;       /* requests slower than this log their SQL; 0 = never */
    char *exportd_metrics_file; /* exportd's Prometheus textfile; "" = none */
    char *pid_file;
    char *base_path; /* a prefix the front end leaves on every path ("/prod"), "" = none */
    /* database */
    char *db_host;
    long db_port;
    char *db_name;
    char *db_user;
    char *db_pass;
    long db_connect_timeout;
    char *db_pool_host;    /* the query workers' way in: a transaction pooler, "" = db_host */
    long db_pool_port;     /* (exportd and the tools always connect to db_host directly) */
    char *db_replica_host; /* a streaming replica generated SQL reads from, "" = none */
    long db_replica_port;
    long replica_max_lag_ms; /* a replica further behind is not read from; 0 = no limit */
    char *replica_fallback;  /* replica down or behind: "primary" (read there) or "error" (503) */
    long replica_check_ms;   /* how often a worker asks the replica for its state */
    char *schemas;
    char *query_role;
    long statement_timeout_ms;
    long lock_timeout_ms;
    long idle_tx_timeout_ms;
    long temp_file_limit_kb;
    char *work_mem; /* SET LOCAL work_mem for generated SQL ("64MB"), "" = PostgreSQL's */
    /* requests */
    long max_body_bytes;
    long max_question_chars;
    long max_page_size;
    long default_page_size;
    long max_result_bytes;
    int numeric_as_string; /* numeric columns as JSON strings */
    /* redis */
    char *redis_host;
    long redis_port;
    char *redis_password;
    long redis_timeout_ms;
    long cache_ttl_sql;
    long cache_ttl_llm;
    long cache_ttl_catalog;
    long catalog_sample_rows; /* 0 = never sample values without statistics */
    long catalog_sample_ms;
    int result_cache;
    long result_cache_ttl;
    long result_cache_max_bytes;
    long result_cache_version_ms;
    /* model */
    char *llm_provider;
    char *llm_base_url;
    char *llm_api_key;
    char *llm_model;
    long llm_connect_timeout_ms;
    long llm_timeout_ms;
    long llm_max_tokens;
    char *bedrock_model_id; /* llm_provider = bedrock: the model (or inference profile) id */
    char *bedrock_region;   /* "" = aws_region */
    char *bedrock_endpoint; /* "" = https://bedrock-runtime.<region>.amazonaws.com */
    int planner_enabled;
    int planner_fallback;
    long prompt_budget_tokens;
    char *glossary_file;
    char *semantic_file;
    long example_match_pct;
    long few_shot_examples;
    long conversation_retention_s;   /* a conversation idle this long is gone */
    long conversation_max_turns;     /* turns one conversation may hold */
    long conversation_context_turns; /* earlier turns in a follow-up's prompt */
    int conversation_prompt_rows; /* earlier turns' first rows in the prompt (data to the model) */
    /* guard */
    int guard_enabled;
    int guard_allowlist;
    int allow_catalogs;
    int allow_session_functions;
    int allow_user_sql; /* POST /query's "sql": SQL the user wrote, through the same guard */
    long max_sql_bytes;
    long max_nesting;
    long max_joins;
    /* auth */
    int auth_required;
    long rate_limit_per_min;
    char *jwt_secret;          /* HS256 secret ("" = no HS256); secret */
    char *jwt_jwks_file;       /* RS256/ES256 public keys (JWKS), re-read on SIGHUP; "" = none */
    char *jwt_issuer;          /* required "iss" ("" = not checked) */
    char *jwt_audience;        /* required in "aud" ("" = not checked) */
    long jwt_leeway_s;         /* clock skew allowed on exp/nbf */
    char *jwt_role_claim;      /* the claim naming the database role */
    char *jwt_claims;          /* claims passed on to t2sql.claim.<name> (comma-separated) */
    char *jwt_scopes;          /* scopes a valid JWT carries */
    long audit_retention_days; /* t2sql.audit rows older than this are deleted; 0 = kept */
    /* browser clients on other origins (CORS) */
    char *cors_allow_origins;
    int cors_any_origin_with_auth;
    long cors_max_age;
    /* export */
    char *aws_region;
    char *export_bucket;
    char *export_prefix;
    char *s3_endpoint;
    char *s3_public_endpoint; /* the endpoint presigned URLs name, "" = s3_endpoint */
    char *aws_access_key_id;
    char *aws_secret_access_key;
    char *aws_session_token;
    long presign_expires;
    long export_concurrency;
    long export_lease_s;
    long export_max_attempts;
    long export_part_mb;
    long export_part_uploads;
    long export_statement_timeout_ms;
    long export_max_bytes;     /* the object's size past which the job fails; 0 = no limit */
    long export_max_rows;      /* rows past which the job fails; 0 = no limit */
    long export_max_per_owner; /* running jobs of one owner; 0 = export_concurrency - 1 (>= 1) */
    long export_retries;
    long export_sweep_s;
    /* export notifications (exportd/notify.c) */
    char *export_notify_url;        /* webhook, "" = none */
    char *export_notify_secret;     /* the webhook's HMAC-SHA256 key */
    char *export_notify_sqs_url;    /* SQS queue URL, "" = none */
    int export_notify_download_url; /* put the presigned URL into the message */
    long export_notify_timeout_ms;
    long export_notify_backoff_ms; /* the first retry's delay; doubles each time */
    long export_notify_backoff_max_s;
} conf;

/* Fills out with defaults, the file at path (NULL = defaults and env only) and the
 * environment. Returns 0, or -1 with a message in err. On success the caller owns out
 * and frees it with conf_free(). */
int conf_load(const char *path, conf *out, char *err, size_t errlen);
/* Like conf_load() with text[0..len) as the file's content and no environment (tests, the
 * config fuzzer). text need not be NUL-terminated. */
int conf_load_buffer(const char *text, size_t len, conf *out, char *err, size_t errlen);
void conf_free(conf *c);
/* For a reload: every key that is not reloadable (listen, pid_file) keeps old's value in
 * nw, with a warning logged for each one that changed (they take effect at a restart).
 * 0, or -1 out of memory (nw is then partly updated; the caller drops it). */
int conf_keep_fixed(conf *nw, const conf *old);
/* Prints "key = value" for every key, secrets masked. */
void conf_print(const conf *c, FILE *f);
/* Registers every non-empty secret with log_add_secret(). */
void conf_register_secrets(const conf *c);
/* Builds a libpq conninfo string into dst (keywords quoted). -1 if it does not fit. */
int conf_pg_conninfo(const conf *c, char *dst, size_t len, const char *appname);
/* Which server a conninfo is for: the primary directly (db_host, db_port), the query workers'
 * pooler (db_pool_host, db_pool_port; the primary when db_pool_host is empty) or the read
 * replica (db_replica_host, db_replica_port). Name, user and password are the same for all. */
typedef enum { CONF_DB_PRIMARY, CONF_DB_POOL, CONF_DB_REPLICA } conf_db;
int conf_pg_conninfo_at(const conf *c, conf_db which, char *dst, size_t len, const char *appname);
/* Whether a browser page from origin (the request's Origin header, NULL when absent) may
 * read the response: CONF_ORIGIN_ANY when cors_allow_origins is "*", CONF_ORIGIN_LISTED
 * when origin is one of the listed origins (exact match), else CONF_ORIGIN_NO. */
enum { CONF_ORIGIN_NO = 0, CONF_ORIGIN_LISTED = 1, CONF_ORIGIN_ANY = 2 };
int conf_origin_allowed(const conf *c, const char *origin);
/* Splits c->schemas into up to max trimmed names (owned by the returned block, which the
 * caller frees with free()). Returns the count, or -1. */
int conf_schema_list(const conf *c, char ***names, int max);

#endif
