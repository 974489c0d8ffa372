-- Quflux schema for PostgreSQL (13 or later: `gen_random_uuid()` is built in).
--
-- Conventions:
-- - ids are `uuid`; instants are `timestamptz` (microsecond precision: finer digits of a
--   `DateTime<Utc>` are truncated); wall-clock times are `timestamp`;
-- - JSON documents (post content, attempt ledgers, metadata, tokens, job payloads, cache values)
--   are `jsonb`; lists of names (platforms, scopes, thread ids) are `text[]`;
-- - `version` columns carry optimistic concurrency: every update bumps them by one.
--
-- There are no foreign keys between entity tables: each store trait is usable (and tested) on
-- its own, e.g. a connection may be stored before its user.

CREATE TABLE users (
    id           uuid PRIMARY KEY,
    email        text NOT NULL,
    -- trimmed, lowercased e-mail: the unique lookup key
    email_key    text NOT NULL UNIQUE,
    display_name text,
    time_zone    text NOT NULL,
    is_active    boolean NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE platform_connections (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL,
    platform          text NOT NULL,
    platform_user_id  text NOT NULL,
    platform_username text NOT NULL,
    access_token      jsonb NOT NULL, -- EncryptedToken
    refresh_token     jsonb,          -- EncryptedToken
    expires_at        timestamptz,
    scopes            text[] NOT NULL,
    status            text NOT NULL,
    metadata          jsonb NOT NULL,
    version           bigint NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    UNIQUE (user_id, platform, platform_user_id)
);

CREATE INDEX platform_connections_user ON platform_connections (user_id, created_at);

CREATE TABLE posts (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL,
    content     jsonb NOT NULL, -- PostContent
    search_text text NOT NULL,  -- lowercased content.text, for `text_contains`
    status      text NOT NULL,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX posts_user_created ON posts (user_id, created_at);

CREATE TABLE media_files (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL,
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL,
    storage_key   text NOT NULL,
    width         bigint,
    height        bigint,
    duration_secs double precision,
    ai_generated  boolean NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE INDEX media_files_user_created ON media_files (user_id, created_at);

CREATE TABLE schedules (
    id           uuid PRIMARY KEY,
    post_id      uuid NOT NULL,
    user_id      uuid NOT NULL,
    scheduled_at timestamptz NOT NULL,
    time_zone    text NOT NULL,
    local_time   timestamp NOT NULL, -- wall clock in time_zone
    platforms    text[] NOT NULL,    -- platform ids, in the user's order
    status       text NOT NULL,
    version      bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE INDEX schedules_user_time ON schedules (user_id, scheduled_at);
CREATE INDEX schedules_active_time ON schedules (scheduled_at, id) WHERE status = 'active';

CREATE TABLE publications (
    id               uuid PRIMARY KEY,
    schedule_id      uuid NOT NULL,
    post_id          uuid NOT NULL,
    user_id          uuid NOT NULL,
    platform         text NOT NULL,
    connection_id    uuid,
    status           text NOT NULL,
    idempotency_key  text NOT NULL,
    platform_post_id text,
    url              text,
    thread_ids       text[] NOT NULL,
    attempts         jsonb NOT NULL, -- array of Attempt
    manual_retries   bigint NOT NULL,
    last_error_kind  text,
    last_error       text,
    published_at     timestamptz,
    version          bigint NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (schedule_id, platform)
);

CREATE INDEX publications_user_created ON publications (user_id, created_at);

-- The job queue. A job is `queued` (waiting for `run_at`), `running` (leased until
-- `lease_until` to the claim holding `lease_token`) or `dead` (dead-lettered, keeping
-- `last_error`). Completed jobs are deleted, which frees their `unique_key`.
--
-- Claims take due jobs in `(priority DESC, run_at, id)` order with `FOR UPDATE SKIP LOCKED`
-- on `jobs_claim`; expired leases are found through `jobs_lease`. Every claim and settle
-- changes `state`, which both partial indexes filter on, so updates are never HOT: a lower
-- fillfactor still keeps new row versions on their page, and aggressive autovacuum keeps the
-- head of `jobs_claim` free of dead entries while a queue drains.
CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    queue        text NOT NULL,
    kind         text NOT NULL,
    payload      jsonb NOT NULL,
    run_at       timestamptz NOT NULL,
    priority     integer NOT NULL,
    attempts     integer NOT NULL,
    max_attempts integer NOT NULL,
    unique_key   text,
    state        text NOT NULL CHECK (state IN ('queued', 'running', 'dead')),
    lease_token  uuid,
    lease_until  timestamptz,
    locked_by    text,
    last_error   text,
    created_at   timestamptz NOT NULL,
    -- Fenced statements match on `(id, lease_token)` alone and rely on this.
    CONSTRAINT jobs_token_iff_running CHECK ((state = 'running') = (lease_token IS NOT NULL))
) WITH (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05
);

-- Partial, so that the many jobs without a key cost no entry; `ON CONFLICT (unique_key)
-- WHERE unique_key IS NOT NULL` infers it.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'running';

-- The cache. Expiry is checked on every read; `purge_expired` deletes expired rows.
CREATE TABLE cache_store (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    expires_at timestamptz, -- NULL: never expires
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX cache_store_expires_at ON cache_store (expires_at) WHERE expires_at IS NOT NULL;
