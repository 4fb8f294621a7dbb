-- One change log per conversation (docs/API.md, "Resume after reconnect"): every change to a
-- conversation's messages — a new message, a recall, and what later issues add — takes the
-- conversation's next `rev`, allocated with `seq` by the one writer. A message row carries the
-- rev of its latest change and holds its current state, so "everything after rev r" is one
-- index range: the messages whose rev is above r, in their current state.
ALTER TABLE conversations ADD COLUMN last_rev INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;

-- Existing history, replayed into the log: each message's insert took rev = seq (messages were
-- the only changes so far, in seq order), and each recall a rev after all of them, in the order
-- the recalls happened. A recalled message carries its recall's rev (its latest change).
UPDATE messages SET rev = seq WHERE recalled_at IS NULL;
UPDATE messages SET rev = r.rev
FROM (
    SELECT m.id, c.last_seq + ROW_NUMBER() OVER (PARTITION BY m.conversation_id ORDER BY m.recalled_at, m.id) AS rev
    FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE m.recalled_at IS NOT NULL
) r
WHERE messages.id = r.id;
UPDATE conversations SET last_rev = last_seq
    + (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = conversations.id AND m.recalled_at IS NOT NULL);

CREATE UNIQUE INDEX idx_messages_rev ON messages(conversation_id, rev);
