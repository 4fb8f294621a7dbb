-- Substring search (CJK queries: src/store/search) through an index instead of a LIKE scan of
-- every message the viewer can see. A LIKE '%…%' test costs up to (text length × pattern length):
-- 99 × 的 + 乙 against 5,000 texts of 4,000 characters took 1.8 s and held a core
-- (../shared/reviews/security.md #1). The trigram table finds the messages that hold every
-- trigram of a substring, in order (a phrase); LIKE then decides on those few.
--
-- Like messages_fts (0003, 0004): external content (the text stays in `messages`), secure-delete
-- (a recalled text's trigrams are scrubbed from the index pages), filled by the backlog indexer
-- off the send path, and merged a little with every chunk instead of inside some commit.
-- case_sensitive 0 folds letter case over all of Unicode: a superset of what LIKE folds (ASCII),
-- so no LIKE match is ever missing from the candidates.
CREATE VIRTUAL TABLE messages_trigram USING fts5(
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 0'
);
INSERT INTO messages_trigram(messages_trigram, rank) VALUES ('secure-delete', 1);
INSERT INTO messages_trigram(messages_trigram, rank) VALUES ('automerge', 0);
INSERT INTO messages_trigram(messages_trigram, rank) VALUES ('crisismerge', 64);
INSERT INTO messages_trigram(rowid, content)
    SELECT id, content FROM messages
    WHERE recalled_at IS NULL AND id NOT IN (SELECT message_id FROM search_backlog);

-- Both indexes follow the same rule (0004): they hold exactly the rows with recalled_at IS NULL
-- that are not in the backlog, with their current text. One trigger per event for both, so the
-- backlog test is made once, before the delete trigger removes the backlog row.
DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, recalled_at ON messages
WHEN NOT EXISTS (SELECT 1 FROM search_backlog WHERE message_id = old.id) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content WHERE old.recalled_at IS NULL;
    INSERT INTO messages_fts(rowid, content)
        SELECT new.id, new.content WHERE new.recalled_at IS NULL;
    INSERT INTO messages_trigram(messages_trigram, rowid, content)
        SELECT 'delete', old.id, old.content WHERE old.recalled_at IS NULL;
    INSERT INTO messages_trigram(rowid, content)
        SELECT new.id, new.content WHERE new.recalled_at IS NULL;
END;

DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content
        WHERE old.recalled_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE message_id = old.id);
    INSERT INTO messages_trigram(messages_trigram, rowid, content)
        SELECT 'delete', old.id, old.content
        WHERE old.recalled_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE message_id = old.id);
    DELETE FROM search_backlog WHERE message_id = old.id;
END;
