-- Password hashes, login sessions and the per-user notification log (`AuthStore`,
-- `NotificationStore`). Conventions as in 0001_init.sql.
--
-- Credentials and sessions belong to a user: unlike the entity tables of 0001, they carry
-- foreign keys (enforced: the store opens every connection with `PRAGMA foreign_keys = ON`).

CREATE TABLE user_credentials (
    user_id       TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL, -- PHC string
    updated_at    TEXT NOT NULL
) STRICT;

CREATE TABLE sessions (
    -- lowercase hex SHA-256 of the token; the token itself is never stored
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    user_agent TEXT,
    address    TEXT
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- `seq` is the log position. AUTOINCREMENT never reuses a value, and SQLite runs one write
-- transaction at a time, so seqs are assigned in commit order: a reader tailing a user's
-- notifications with `seq > last seen` never skips one. No foreign key: notifications may name
-- users of another store.
CREATE TABLE notifications (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    user_id          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    title            TEXT NOT NULL,
    message          TEXT NOT NULL,
    platform         TEXT,
    post_id          TEXT,
    publication_id   TEXT,
    connection_id    TEXT,
    platform_post_id TEXT,
    url              TEXT,
    created_at       TEXT NOT NULL
) STRICT;

CREATE INDEX notifications_user_seq ON notifications (user_id, seq);
