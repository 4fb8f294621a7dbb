-- When a conversation's log last changed (ms), so that each node can tell its own connections,
-- from the database, the latest rev of the conversations that changed lately (the `heads` frame:
-- what a live frame lost between nodes left behind is found without a reconnect). Set with
-- last_rev; 0 for changes made before this release (nothing recent to announce).
ALTER TABLE conversations ADD COLUMN last_change_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX idx_conversations_last_change ON conversations(last_change_at);
