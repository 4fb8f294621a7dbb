-- Courier schema, SQLite backend. Times are integer milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Server-side sessions; only the SHA-256 of the cookie token is stored.
CREATE TABLE sessions (
    token_hash  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX idx_sessions_user ON sessions(user_id);

-- kind: 'direct' (exactly two members, direct_key = "<low id>:<high id>") or 'group'.
-- last_seq is the conversation's sequence counter, advanced inside the message insert transaction.
CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('direct', 'group')),
    title       TEXT    NOT NULL DEFAULT '',
    direct_key  TEXT    UNIQUE,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    last_seq    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Per-member read position (read_seq only moves forward).
CREATE TABLE conversation_members (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    read_seq        INTEGER NOT NULL DEFAULT 0,
    joined_at       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX idx_members_user ON conversation_members(user_id);

-- status: 0 sent, 1 delivered, 2 read (as the sender sees it; only moves forward).
-- A recalled message keeps its row and seq; its content is erased and recalled_at set.
CREATE TABLE messages (
    id             INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    sender_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_msg_id  TEXT    NOT NULL,
    content        TEXT    NOT NULL,
    status         INTEGER NOT NULL DEFAULT 0,
    recalled_at    INTEGER,
    created_at     INTEGER NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (sender_id, client_msg_id)
);
CREATE INDEX idx_messages_recalled ON messages(conversation_id, recalled_at) WHERE recalled_at IS NOT NULL;

-- The original design's delivery ledger, one row per (message, recipient[, kind]).
-- push_status: 0 pending, 1 pushed (a device acknowledged), 2 failed (retried with backoff;
-- terminal once retry_count reaches the configured maximum).
-- kind: 0 the message itself, 1 its recall event (so devices that were offline learn of it).
CREATE TABLE message_push_records (
    id             INTEGER PRIMARY KEY,
    message_id     INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind           INTEGER NOT NULL DEFAULT 0,
    push_status    INTEGER NOT NULL DEFAULT 0,
    retry_count    INTEGER NOT NULL DEFAULT 0,
    push_time      INTEGER,
    next_retry_at  INTEGER,
    error_message  TEXT,
    create_time    INTEGER NOT NULL,
    update_time    INTEGER NOT NULL,
    UNIQUE (message_id, user_id, kind)
);
CREATE INDEX idx_push_records_message_id  ON message_push_records(message_id);
CREATE INDEX idx_push_records_user_id     ON message_push_records(user_id);
CREATE INDEX idx_push_records_push_status ON message_push_records(push_status);
-- Offline drain: a user's unacknowledged records in message order.
CREATE INDEX idx_push_records_waiting ON message_push_records(user_id, message_id) WHERE push_status <> 1;
-- Retry sweep and cleanup.
CREATE INDEX idx_push_records_retry ON message_push_records(next_retry_at) WHERE push_status = 2;
CREATE INDEX idx_push_records_cleanup ON message_push_records(update_time) WHERE push_status = 1;
