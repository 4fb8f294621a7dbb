-- Every change to an existing message (a recall; edits and reactions later), one row each, in
-- the conversation's log beside the messages that carry their latest state: which rev it took,
-- who made it and under which client id. The unique (actor_id, client_op_id) is what makes a
-- retried change apply once.
-- kind: 1 recall.
CREATE TABLE message_changes (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT  NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    rev             BIGINT  NOT NULL,
    message_id      BIGINT  NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    actor_id        BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_op_id    TEXT    NOT NULL,
    kind            SMALLINT NOT NULL,
    created_at      BIGINT  NOT NULL,
    UNIQUE (actor_id, client_op_id),
    UNIQUE (conversation_id, rev)
);
CREATE INDEX idx_message_changes_message ON message_changes(message_id);

-- The recalls made before this release, as the changes they were (their rev is the message's,
-- since nothing changes a recalled message again), under the id a client that sends none gets.
INSERT INTO message_changes (conversation_id, rev, message_id, actor_id, client_op_id, kind, created_at)
SELECT conversation_id, rev, id, sender_id, 'recall:' || id, 1, recalled_at
FROM messages WHERE recalled_at IS NOT NULL;
