-- Message search off the hot path. With 0003's insert trigger every send batch indexed its
-- messages inside its own transaction: one new FTS5 segment per commit (hundreds a second), and
-- FTS5 merging those segments inside whichever commit came next. At 5,000 msgs/s that put the
-- send p99.9 from 9 to 13-17 ms (docs/BENCHMARKS.md). Now a send only notes its message in
-- `search_backlog` (one small B-tree insert), and the backlog is indexed in chunks — a few
-- segments a second — by a background job and before every search, so results stay exact
-- (store/sqlite/messages.rs: `index_search_backlog`).
-- Merging the index's segments is done by the indexer too, a little at a time ('merge', after
-- each chunk), never as a large automatic merge inside some transaction the sends wait for.
INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 0);
INSERT INTO messages_fts(messages_fts, rank) VALUES ('crisismerge', 64);

CREATE TABLE search_backlog (
    message_id INTEGER PRIMARY KEY
);

DROP TRIGGER messages_fts_insert;
CREATE TRIGGER search_backlog_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_backlog(message_id) VALUES (new.id);
END;

-- The index holds exactly the rows with recalled_at IS NULL that are not in the backlog, with
-- their current text. A row still in the backlog is not in the index: changing it touches only
-- the backlog (the indexer skips recalled rows).
DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, recalled_at ON messages
WHEN NOT EXISTS (SELECT 1 FROM search_backlog WHERE message_id = old.id) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content WHERE old.recalled_at IS NULL;
    INSERT INTO messages_fts(rowid, content)
        SELECT new.id, new.content WHERE new.recalled_at IS NULL;
END;

DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content
        WHERE old.recalled_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE message_id = old.id);
    DELETE FROM search_backlog WHERE message_id = old.id;
END;
