-- Message search (GET /api/search; what a query means: src/store/search): a full-text index of
-- the text of every message that is not recalled.
--
-- External content (content='messages'): the index keeps tokens only, the text stays in
-- `messages`. Not contentless_delete=1: a contentless table deletes by tombstone, so a deleted
-- row's tokens stay in the index pages until some later merge, and 'secure-delete' cannot apply
-- (it needs the row's tokens, which a contentless table cannot supply). Here the triggers hand
-- the old text to the 'delete' command, and with 'secure-delete' its tokens are removed from the
-- index pages in the same transaction (a recall then checkpoints the WAL: store/sqlite/messages.rs).
--
-- unicode61 folds letter case but keeps diacritics (remove_diacritics 0): PostgreSQL's index
-- (migrations/postgres/0003_message_search.sql) cannot remove them, and both backends must
-- answer alike.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO messages_fts(messages_fts, rank) VALUES ('secure-delete', 1);
INSERT INTO messages_fts(rowid, content) SELECT id, content FROM messages WHERE recalled_at IS NULL;

-- The index holds exactly the rows with recalled_at IS NULL, with their current text. A recall
-- first overwrites the text with zero bytes (the index follows: the text's tokens go, the zeros
-- have none), then sets recalled_at and empties it (the entry goes).
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.recalled_at IS NULL BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, recalled_at ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content WHERE old.recalled_at IS NULL;
    INSERT INTO messages_fts(rowid, content)
        SELECT new.id, new.content WHERE new.recalled_at IS NULL;
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.recalled_at IS NULL BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
