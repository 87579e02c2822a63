-- tenants.sql -- tenant roles and row-level security for the demo data: many users, one
-- database. Each API key (t2sql-keys create --role R --claims city=...) or JWT maps to a
-- database role and claims; generated SQL runs after SET LOCAL ROLE R with the claims set for
-- the transaction only, so PostgreSQL itself decides which rows and columns it sees:
--
--   current_setting('t2sql.claims', true)::jsonb   the identity's claims, one JSON object
--   current_setting('t2sql.claim.<name>', true)    one claim's text (e.g. t2sql.claim.city)
--
-- Run it after conf/roles.sql (it needs t2sql_service); idempotent. `make demo` and
-- `make test` apply it to their own cluster (scripts/stack.sh).
--
--   t2sql_tenant      NOLOGIN group: USAGE on public, SELECT on venues, events,
--                     ticket_sales and on customers but its email column (so no tenant ever
--                     sees an email: the column is absent from /schema and the prompt).
--   t2sql_tenant_a    NOLOGIN, in t2sql_tenant, and SELECT on merch_orders.
--   t2sql_tenant_b    NOLOGIN, in t2sql_tenant only: merch_orders is not in its catalog.
-- Both are granted to t2sql_service (which may then SET ROLE to them; t2sql-keys refuses a
-- role that is not).
--
-- Policies: customers rows whose city is the city claim; ticket_sales rows of those
-- customers. t2sql_reader (keys without a role) keeps seeing every row. A tenant key without
-- a city claim sees no customer at all (current_setting(..., true) is NULL).

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['t2sql_tenant', 't2sql_tenant_a', 't2sql_tenant_b'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
        EXECUTE format('ALTER ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'
                       ' NOREPLICATION NOBYPASSRLS', r);
    END LOOP;
END
$$;
ALTER ROLE t2sql_tenant NOINHERIT;
ALTER ROLE t2sql_tenant_a INHERIT;
ALTER ROLE t2sql_tenant_b INHERIT;
GRANT t2sql_tenant TO t2sql_tenant_a, t2sql_tenant_b;
GRANT t2sql_tenant_a, t2sql_tenant_b TO t2sql_service;

GRANT USAGE ON SCHEMA public TO t2sql_tenant;
REVOKE ALL ON public.customers FROM t2sql_tenant;
GRANT SELECT ON public.venues, public.events, public.ticket_sales TO t2sql_tenant;
GRANT SELECT (customer_id, name, city, is_member, signup_date, loyalty_points)
    ON public.customers TO t2sql_tenant;
GRANT SELECT ON public.merch_orders TO t2sql_tenant_a;

ALTER TABLE public.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ticket_sales ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS reader_all ON public.customers;
DROP POLICY IF EXISTS tenant_city ON public.customers;
DROP POLICY IF EXISTS reader_all ON public.ticket_sales;
DROP POLICY IF EXISTS tenant_city ON public.ticket_sales;
CREATE POLICY reader_all ON public.customers FOR SELECT TO t2sql_reader USING (true);
CREATE POLICY tenant_city ON public.customers FOR SELECT TO t2sql_tenant
    USING (city = current_setting('t2sql.claim.city', true));
CREATE POLICY reader_all ON public.ticket_sales FOR SELECT TO t2sql_reader USING (true);
CREATE POLICY tenant_city ON public.ticket_sales FOR SELECT TO t2sql_tenant
    USING (EXISTS (SELECT 1 FROM public.customers c
                    WHERE c.customer_id = ticket_sales.customer_id));

RESET client_min_messages;
