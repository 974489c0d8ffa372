-- Password hashes, login sessions and the per-user notification log (`AuthStore`,
-- `NotificationStore`). Conventions as in 0001_init.sql.
--
-- Credentials and sessions belong to a user: unlike the entity tables of 0001, they carry
-- foreign keys.

CREATE TABLE user_credentials (
    user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password_hash text NOT NULL, -- PHC string
    updated_at    timestamptz NOT NULL
);

CREATE TABLE sessions (
    -- lowercase hex SHA-256 of the token; the token itself is never stored
    token_hash text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    user_agent text,
    address    text
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- `seq` is the log position, from one sequence for the whole store. A sequence value is
-- handed out before its transaction commits, so with plain `DEFAULT nextval(...)` a reader
-- tailing `seq > last seen` could see seq 8 committed before seq 7 and skip 7 for good.
-- The store therefore inserts under a per-user transaction-scoped advisory lock
-- (`pg_advisory_xact_lock(<namespace>, hashtext(user_id::text))`) and draws the seq inside
-- it: one user's notifications get their seqs in commit order, so tailing one user never
-- skips a row (users whose ids hash alike merely wait for each other). No foreign key:
-- notifications may name users of another store.
CREATE SEQUENCE notifications_seq AS bigint;

CREATE TABLE notifications (
    seq              bigint PRIMARY KEY,
    id               uuid NOT NULL UNIQUE,
    user_id          uuid NOT NULL,
    kind             text NOT NULL,
    title            text NOT NULL,
    message          text NOT NULL,
    platform         text,
    post_id          uuid,
    publication_id   uuid,
    connection_id    uuid,
    platform_post_id text,
    url              text,
    created_at       timestamptz NOT NULL
);

ALTER SEQUENCE notifications_seq OWNED BY notifications.seq;

CREATE INDEX notifications_user_seq ON notifications (user_id, seq);
