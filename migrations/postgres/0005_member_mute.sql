-- Per-member mute (POST /api/conversations/{id}/mute): a muted conversation gives its member no
-- desktop notifications and does not count in their tab's title and icon. Each member's own.
-- A constant default: no table rewrite (PostgreSQL 11+).
ALTER TABLE conversation_members ADD COLUMN muted BOOLEAN NOT NULL DEFAULT FALSE;
