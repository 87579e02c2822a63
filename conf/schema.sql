-- The service's own schema. Applied by the service itself at start (core/migrate.c embeds
-- this file) under an advisory lock, so it is idempotent and safe to run from many processes.
-- Nothing here is visible to the SELECT-only role that runs generated SQL.
CREATE SCHEMA IF NOT EXISTS t2sql;

-- Validated SQL behind a query_id: any worker can page through it, exports reuse it.
CREATE TABLE IF NOT EXISTS t2sql.queries (
    id          text PRIMARY KEY,            -- 'q_' || first 32 hex of sha256(sql)
    sql         text NOT NULL,
    question    text,
    source      text NOT NULL DEFAULT 'llm', -- llm | cache | example | planner
    owner       text NOT NULL DEFAULT '',    -- API key id, '' when anonymous
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Export jobs: the row is the queue entry (claimed with FOR UPDATE SKIP LOCKED).
CREATE TABLE IF NOT EXISTS t2sql.export_jobs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner         text NOT NULL DEFAULT '',
    query_id      text,
    question      text,
    sql           text NOT NULL,
    format        text NOT NULL DEFAULT 'csv' CHECK (format IN ('csv', 'csv.gz')),
    status        text NOT NULL DEFAULT 'PENDING'
                  CHECK (status IN ('PENDING', 'IN_PROGRESS', 'SUCCESS', 'FAILED', 'CANCELLED')),
    s3_key        text,
    upload_id     text,
    rows_written  bigint NOT NULL DEFAULT 0,
    bytes         bigint NOT NULL DEFAULT 0,
    attempts      int NOT NULL DEFAULT 0,
    error         text,
    worker        text,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    heartbeat_at  timestamptz
);
CREATE INDEX IF NOT EXISTS export_jobs_open ON t2sql.export_jobs (created_at)
    WHERE status IN ('PENDING', 'IN_PROGRESS');

-- The notification outbox: one row per (finished job, target), written in the same statement
-- (so the same transaction) as the job's final state, sent by exportd, then marked delivered.
CREATE TABLE IF NOT EXISTS t2sql.export_notify (
    job_id       uuid NOT NULL REFERENCES t2sql.export_jobs (id) ON DELETE CASCADE,
    target       text NOT NULL CHECK (target IN ('sqs', 'webhook')),
    state        text NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'DELIVERED')),
    attempts     int NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    PRIMARY KEY (job_id, target)
);
CREATE INDEX IF NOT EXISTS export_notify_due ON t2sql.export_notify (next_at)
    WHERE state = 'PENDING';

-- Verified question -> SQL pairs (few-shot examples, direct answers).
CREATE TABLE IF NOT EXISTS t2sql.examples (
    id          bigserial PRIMARY KEY,
    question    text NOT NULL,
    sql         text NOT NULL,
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Business terms added at run time (besides conf/glossary).
CREATE TABLE IF NOT EXISTS t2sql.glossary (
    term    text PRIMARY KEY,
    tables  text NOT NULL DEFAULT '',
    hint    text NOT NULL DEFAULT '',
    filter  text
);

-- API keys, stored as sha256 hex of the key; the key itself is never stored.
CREATE TABLE IF NOT EXISTS t2sql.api_keys (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    key_hash    text NOT NULL UNIQUE,
    scopes      text[] NOT NULL DEFAULT '{query,export}',
    rate_limit_per_min int,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Identity (issue 15): a key's database role and claims. Rows from before get no role (the
-- service's query_role) and no claims.
ALTER TABLE t2sql.api_keys ADD COLUMN IF NOT EXISTS role text;
ALTER TABLE t2sql.api_keys ADD COLUMN IF NOT EXISTS claims jsonb NOT NULL DEFAULT '{}';
-- Who a query_id and an export belong to: the role and claims it was validated for. A job
-- runs its COPY as that role with those claims.
ALTER TABLE t2sql.queries ADD COLUMN IF NOT EXISTS role text NOT NULL DEFAULT '';
ALTER TABLE t2sql.queries ADD COLUMN IF NOT EXISTS claims jsonb NOT NULL DEFAULT '{}';
ALTER TABLE t2sql.export_jobs ADD COLUMN IF NOT EXISTS role text NOT NULL DEFAULT '';
ALTER TABLE t2sql.export_jobs ADD COLUMN IF NOT EXISTS claims jsonb NOT NULL DEFAULT '{}';

-- The audit trail: one row per /query, export, example change and key change (the service
-- and bin/t2sql-keys, bin/t2sql-jobs). Never a key, token or password.
CREATE TABLE IF NOT EXISTS t2sql.audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    subject     text NOT NULL DEFAULT '',   -- "key:<id>", "jwt:<sub>", "cli:<user>", '' anonymous
    role        text NOT NULL DEFAULT '',
    claims      jsonb NOT NULL DEFAULT '{}',
    action      text NOT NULL,              -- query | export | example.add | key.create | ...
    question    text,
    sql         text,
    source      text,
    status      int,
    rows        bigint,
    bytes       bigint,
    duration_ms double precision,
    request_id  text,
    detail      text
);
CREATE INDEX IF NOT EXISTS audit_at ON t2sql.audit (at);

-- Conversations (core/convo.c): a follow-up question is read in the context of the earlier
-- turns. Owned like queries: owner is the key id / identity hash, '' when anonymous.
CREATE TABLE IF NOT EXISTS t2sql.conversations (
    id          text PRIMARY KEY,            -- 'c_' || 32 hex digits
    owner       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS conversations_updated ON t2sql.conversations (updated_at);
CREATE TABLE IF NOT EXISTS t2sql.turns (
    conversation_id text NOT NULL REFERENCES t2sql.conversations (id) ON DELETE CASCADE,
    n             int NOT NULL,              -- 1, 2, ... in the order asked
    question      text NOT NULL,             -- as asked
    standalone    text,                      -- the question resolved against earlier turns
    sql           text,                      -- NULL: the turn failed or asked back
    query_id      text,
    columns       jsonb,
    row_count     bigint,
    source        text,
    explanation   text,
    error         jsonb,                     -- {"detail", "code"} of a failed turn
    clarification jsonb,                     -- the question asked back, with its options
    rows          jsonb,                     -- first rows, only with conversation_prompt_rows
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, n)
);
