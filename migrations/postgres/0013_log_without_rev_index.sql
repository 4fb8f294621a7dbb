-- The change log without an index on messages.rev: keeping one cost every send a second index
-- write (docs/BENCHMARKS.md, issue 22). A rev is either a message's insert or a row of
-- message_changes, and inserts take seqs in rev order; so each change records the
-- conversation's last_seq when it was made (how many messages were inserted before it), and
-- "the messages inserted after rev r" is a range of seqs found from the latest change at or
-- below r (src/store/sql.rs, CHANGES_IN_WINDOW). This holds as long as the log is append-only:
-- no change row is deleted while its conversation exists.
ALTER TABLE message_changes ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;

-- The changes made so far: of the revs up to a change's, all but the changes are inserts.
UPDATE message_changes SET last_seq = rev - (
    SELECT COUNT(*) FROM message_changes c
    WHERE c.conversation_id = message_changes.conversation_id AND c.rev <= message_changes.rev
);

DROP INDEX idx_messages_rev;
