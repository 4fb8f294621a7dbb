-- Per-member mute (POST /api/conversations/{id}/mute): a muted conversation gives its member no
-- desktop notifications and does not count in their tab's title and icon. Each member's own.
ALTER TABLE conversation_members ADD COLUMN muted INTEGER NOT NULL DEFAULT 0 CHECK (muted IN (0, 1));
