-- Quflux schema for SQLite.
--
-- Conventions:
-- - ids are TEXT uuids;
-- - instants are UTC RFC 3339 TEXT with exactly nine fractional digits and a `Z`
--   (`2026-03-08T07:30:00.000000000Z`), so text order is time order;
-- - JSON documents (post content, platform lists, attempt ledgers, scopes, metadata, tokens)
--   are TEXT;
-- - `version` columns carry optimistic concurrency: every update bumps them by one.
--
-- There are no foreign keys between entity tables: each store trait is usable (and tested) on
-- its own, e.g. a connection may be stored before its user.

CREATE TABLE users (
    id           TEXT PRIMARY KEY NOT NULL,
    email        TEXT NOT NULL,
    -- trimmed, lowercased e-mail: the unique lookup key
    email_key    TEXT NOT NULL UNIQUE,
    display_name TEXT,
    time_zone    TEXT NOT NULL,
    is_active    INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

CREATE TABLE platform_connections (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL,
    platform          TEXT NOT NULL,
    platform_user_id  TEXT NOT NULL,
    platform_username TEXT NOT NULL,
    access_token      TEXT NOT NULL, -- JSON EncryptedToken
    refresh_token     TEXT,          -- JSON EncryptedToken
    expires_at        TEXT,
    scopes            TEXT NOT NULL, -- JSON array of strings
    status            TEXT NOT NULL,
    metadata          TEXT NOT NULL, -- JSON
    version           INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (user_id, platform, platform_user_id)
) STRICT;

CREATE INDEX platform_connections_user ON platform_connections (user_id, created_at);

CREATE TABLE posts (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL,
    content     TEXT NOT NULL, -- JSON PostContent
    search_text TEXT NOT NULL, -- lowercased content.text, for `text_contains`
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE INDEX posts_user_created ON posts (user_id, created_at);

CREATE TABLE media_files (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    storage_key   TEXT NOT NULL,
    width         INTEGER,
    height        INTEGER,
    duration_secs REAL,
    ai_generated  INTEGER NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;

CREATE INDEX media_files_user_created ON media_files (user_id, created_at);

CREATE TABLE schedules (
    id           TEXT PRIMARY KEY NOT NULL,
    post_id      TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    scheduled_at TEXT NOT NULL,
    time_zone    TEXT NOT NULL,
    local_time   TEXT NOT NULL, -- wall clock in time_zone, `YYYY-MM-DDTHH:MM:SS.fffffffff`
    platforms    TEXT NOT NULL, -- JSON array of platform ids
    status       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

CREATE INDEX schedules_user_time ON schedules (user_id, scheduled_at);
CREATE INDEX schedules_status_time ON schedules (status, scheduled_at);

CREATE TABLE publications (
    id               TEXT PRIMARY KEY NOT NULL,
    schedule_id      TEXT NOT NULL,
    post_id          TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    platform         TEXT NOT NULL,
    connection_id    TEXT,
    status           TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    platform_post_id TEXT,
    url              TEXT,
    thread_ids       TEXT NOT NULL, -- JSON array of platform post ids
    attempts         TEXT NOT NULL, -- JSON array of Attempt
    manual_retries   INTEGER NOT NULL,
    last_error_kind  TEXT,
    last_error       TEXT,
    published_at     TEXT,
    version          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (schedule_id, platform)
) STRICT;

CREATE INDEX publications_user_created ON publications (user_id, created_at);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY NOT NULL,
    queue        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL, -- JSON
    run_at       TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    unique_key   TEXT UNIQUE,
    state        TEXT NOT NULL, -- queued | running | dead
    lease_token  TEXT,
    lease_until  TEXT,
    locked_by    TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL
) STRICT;

CREATE INDEX jobs_queue_state_run_at ON jobs (queue, state, run_at);
CREATE INDEX jobs_queue_state_lease_until ON jobs (queue, state, lease_until);

CREATE TABLE cache_store (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL, -- JSON
    expires_at TEXT,          -- NULL: never expires
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX cache_store_expires_at ON cache_store (expires_at);
