-- roles.sql -- the database roles of t2sql: a login role for the service and a SELECT-only
-- role that generated SQL runs as (SET LOCAL ROLE inside the read-only transaction).
--
--   psql -X -v ON_ERROR_STOP=1 -d DBNAME -v db=DBNAME [-v schemas=public,sales]
--        [-v service_password=SECRET] -f conf/roles.sql
--
-- Run it as a superuser after conf/schema.sql and after the data is loaded; it is idempotent
-- (run it again after adding schemas). `make demo` and `make test` apply it (scripts/stack.sh).
--
--   t2sql_service  LOGIN. Owns the t2sql schema (jobs, queries, examples, glossary, api_keys),
--                  is a member of t2sql_reader (so it can SET ROLE to it), and keeps EXECUTE on
--                  the functions revoked from PUBLIC below (exportd's advisory locks, NOTIFY).
--                  Its password is set only when -v service_password=... is given.
--   t2sql_reader   NOLOGIN. USAGE + SELECT on the allowed schemas (default: public), also on
--                  tables created there later by the role running this script. Nothing on
--                  t2sql, no TEMP, no CREATE anywhere, and no EXECUTE on:
--                    set_config()          - SET ROLE / session settings from inside a SELECT:
--                                            set_config('role', ...) is checked against the
--                                            session user, so it would undo SET LOCAL ROLE
--                    pg_advisory_*lock*    - session advisory locks outlive the transaction
--                                            and would block exportd's job claims
--                    pg_notify()           - wakes listeners (exportd) from a read-only query
--                    lo_* large objects    - lo_create()/lo_from_bytea() write even in a
--                                            read-only transaction (not granted back: the
--                                            service uses no large objects)
--                    ts_stat(text[, text]) - runs the SELECT text it is given, out of the
--                                            guard's sight (the guard refuses it too; this is
--                                            defence in depth)
--                  Those are revoked from PUBLIC in this database (PostgreSQL has no per-role
--                  deny) and granted back to t2sql_service; grant them to other roles that
--                  need them (e.g. a non-superuser running pg_dump needs set_config).
-- Tenants (many users, one database): conf/tenants.sql, run after this file, shows how to
-- add tenant roles (granted to t2sql_service, so it may SET ROLE to them), column grants and
-- row-level security policies that read the identity's claims (t2sql.claim.<name>); API keys
-- name their role and claims with t2sql-keys create --role R --claims k=v.
-- What the read-only transaction already stops (writes, nextval/setval, large objects, DDL)
-- and what is superuser-only by default (pg_authid, pg_shadow passwords, pg_read_file, COPY
-- PROGRAM, pg_ls_dir, lo_import, pg_reload_conf) is not repeated here; pg_sleep stays PUBLIC
-- and is bounded by statement_timeout.

\set ON_ERROR_STOP 1
\if :{?db}
\else
\set db :DBNAME
\endif
\if :{?schemas}
\else
\set schemas public
\endif

SET client_min_messages = warning;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 't2sql_service') THEN
        CREATE ROLE t2sql_service LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 't2sql_reader') THEN
        CREATE ROLE t2sql_reader NOLOGIN;
    END IF;
END
$$;

-- Re-assert the attributes, in case the roles existed with more.
ALTER ROLE t2sql_service LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;
ALTER ROLE t2sql_reader NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
\if :{?service_password}
ALTER ROLE t2sql_service PASSWORD :'service_password';
\endif

-- The reader must not gain anything through other roles.
SELECT format('REVOKE %I FROM t2sql_reader', r.rolname)
  FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
 WHERE m.member = 't2sql_reader'::regrole
\gexec
GRANT t2sql_reader TO t2sql_service;

-- Database: the service connects and may use temp tables; nobody else gets TEMP or CREATE.
REVOKE TEMPORARY, CREATE ON DATABASE :"db" FROM PUBLIC;
-- CREATE: the service applies conf/schema.sql at start (CREATE SCHEMA IF NOT EXISTS t2sql).
GRANT CONNECT, TEMPORARY, CREATE ON DATABASE :"db" TO t2sql_service;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The allowed schemas (never t2sql, never the catalogs).
SELECT format('GRANT USAGE ON SCHEMA %I TO t2sql_reader', s),
       format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO t2sql_reader', s),
       format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO t2sql_reader', s)
  FROM (SELECT btrim(x) AS s FROM unnest(string_to_array(:'schemas', ',')) AS u(x)) n
 WHERE s <> '' AND s NOT IN ('t2sql', 'pg_catalog', 'information_schema', 'pg_toast')
   AND EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = s)
\gexec

-- The service's own schema: owned by t2sql_service, invisible to PUBLIC and the reader.
CREATE SCHEMA IF NOT EXISTS t2sql;
ALTER SCHEMA t2sql OWNER TO t2sql_service;
SELECT format('ALTER %s t2sql.%I OWNER TO t2sql_service',
              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.relname)
  FROM pg_class c
 WHERE c.relnamespace = 't2sql'::regnamespace AND c.relkind IN ('r', 'p', 'S')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d       -- owned sequences follow their table
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype IN ('a', 'i'))
\gexec
REVOKE ALL ON SCHEMA t2sql FROM PUBLIC, t2sql_reader;
REVOKE ALL ON ALL TABLES IN SCHEMA t2sql FROM PUBLIC, t2sql_reader;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA t2sql FROM PUBLIC, t2sql_reader;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA t2sql FROM PUBLIC, t2sql_reader;
GRANT ALL ON SCHEMA t2sql TO t2sql_service;
GRANT ALL ON ALL TABLES IN SCHEMA t2sql TO t2sql_service;
GRANT ALL ON ALL SEQUENCES IN SCHEMA t2sql TO t2sql_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA t2sql REVOKE ALL ON TABLES FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA t2sql REVOKE ALL ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA t2sql GRANT ALL ON TABLES TO t2sql_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA t2sql GRANT ALL ON SEQUENCES TO t2sql_service;

-- Functions that escape the read-only, SELECT-only sandbox (see the header).
SELECT format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', p.oid::regprocedure),
       format('GRANT EXECUTE ON FUNCTION %s TO t2sql_service', p.oid::regprocedure)
  FROM pg_proc p
 WHERE p.pronamespace = 'pg_catalog'::regnamespace
   AND (p.proname IN ('set_config', 'pg_notify', 'ts_stat')
        OR p.proname ~ '^pg_(try_)?advisory_(xact_)?(un)?lock(_shared|_all)?$')
\gexec
SELECT format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', p.oid::regprocedure)
  FROM pg_proc p
 WHERE p.pronamespace = 'pg_catalog'::regnamespace
   AND (p.proname ~ '^lo_' OR p.proname IN ('loread', 'lowrite'))
\gexec

-- exec_begin() sets temp_file_limit (superuser-only by default) before SET LOCAL ROLE.
SELECT 'GRANT SET ON PARAMETER temp_file_limit TO t2sql_service'
 WHERE current_setting('server_version_num')::int >= 150000
\gexec

RESET client_min_messages;
