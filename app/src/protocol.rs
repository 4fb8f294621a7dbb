//! The WebSocket protocol (`GET /ws`), version [`PROTOCOL_VERSION`].
//!
//! Every frame is one JSON text message with a `type` field. The server answers a frame it
//! cannot parse with [`ServerFrame::Error`] and keeps the connection open; clients must ignore
//! frame types they do not know (newer servers may add some). Documented in docs/API.md.

use serde::{Deserialize, Serialize};

use crate::model::{
    Conversation, ConversationId, Message, MessageId, MessageStatus, Rev, Seq, User, UserId,
};

pub const PROTOCOL_VERSION: u32 = 1;

/// A point the client already has in one conversation's change log, so the server replays only
/// what changed after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    pub conversation_id: ConversationId,
    /// The highest rev the client has seen in that conversation with no change missed below it
    /// (the `through` of the last sync page, a live change that followed it, or the
    /// conversation's `last_rev` read before the history it holds). Earlier releases sent
    /// `after_seq`, accepted here as a rev: a message's rev is never below its seq, so it
    /// replays a superset of what such a client lacks.
    #[serde(alias = "after_seq")]
    pub after_rev: Rev,
}

/// How far one conversation's change log is covered (see `batch{sync}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevMark {
    pub conversation_id: ConversationId,
    pub rev: Rev,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Application-level heartbeat; answered by `pong` with the same nonce.
    Ping { nonce: u64 },
    /// Send a message. Idempotent per `client_msg_id` (unique per sender).
    Send {
        client_msg_id: String,
        conversation_id: ConversationId,
        content: String,
    },
    /// "These messages reached this device": marks them delivered to me.
    Ack { message_ids: Vec<MessageId> },
    /// "I have read conversation X up to seq N".
    Read {
        conversation_id: ConversationId,
        seq: Seq,
    },
    /// Recall one of my messages (within the server's recall window).
    /// `client_op_id` as in `POST /api/messages/{id}/recall` (optional).
    Recall {
        message_id: MessageId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_op_id: Option<String>,
    },
    /// Replay, from the database, every message that changed after each given point — new
    /// messages and recalled ones alike, each once, in its current state, in rev order — as
    /// `batch` frames with reason `sync` (gated by acks, each saying how far the conversation's
    /// log is covered: `through_rev`), then `caught_up` with reason `sync`. A conversation named
    /// twice counts once (from the lower rev); at most `sync_max_messages` are replayed per sync,
    /// and `caught_up{more: true}` asks the client to sync again from where it now is. Sent by a
    /// client after it reconnects, for the conversations it holds, and when a live change skips
    /// a rev. After `caught_up{sync}`, everything still waiting for the user is replayed again
    /// (as on connect: `batch{pending}` pages, then `caught_up{pending}`) unless a replay is
    /// running.
    Sync {
        #[serde(default)]
        conversations: Vec<ResumePoint>,
    },
    /// Ephemeral; relayed to the conversation's online members, never stored.
    Typing { conversation_id: ConversationId },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayReason {
    /// Messages that were waiting for this user (offline delivery).
    Pending,
    /// Conversation tails after the client's resume points.
    Sync,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection.
    Welcome {
        protocol_version: u32,
        connection_id: u64,
        user: User,
        server_time: i64,
        /// The client should send something (e.g. `ping`) at least this often.
        heartbeat_interval_ms: u64,
        /// A connection silent for longer than this is closed by the server.
        heartbeat_timeout_ms: u64,
        /// How long after sending a message its sender may recall it (0 from older servers).
        #[serde(default)]
        recall_window_ms: u64,
    },
    Pong {
        nonce: u64,
        server_time: i64,
    },
    /// The acknowledgement of `send`: the message is committed. `duplicate` is true when the
    /// `client_msg_id` had been committed before (nothing new was stored).
    Sent {
        client_msg_id: String,
        message: Message,
        duplicate: bool,
    },
    /// A new message, pushed live (to recipients and to the sender's other connections).
    /// Recipients acknowledge it with `ack`.
    Message {
        message: Message,
    },
    /// A bounded page of replayed messages, oldest first. Acknowledge with `ack`: the server
    /// keeps at most about two pages of a replay unacknowledged and sends more as acks arrive.
    Batch {
        reason: ReplayReason,
        messages: Vec<Message>,
        /// Messages still waiting after this page (for `pending`).
        remaining: i64,
        /// For `sync`: the conversation this page is of and how far its change log is now
        /// covered — every change up to this rev is in this page, an earlier one, or a state
        /// the client already had. The client resumes from here.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        through: Option<RevMark>,
    },
    /// The replay is complete: everything stored for this client has been sent. For reason
    /// `sync`, `more` says the sync stopped at its cap (the server's `sync_max_messages`): send
    /// `sync` again with the new resume points to continue.
    CaughtUp {
        reason: ReplayReason,
        replayed: i64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        more: bool,
    },
    /// A message of mine changed status (sent → delivered → read).
    Status {
        message_id: MessageId,
        conversation_id: ConversationId,
        seq: Seq,
        status: MessageStatus,
    },
    /// A member's read position moved (sent to all members, including the reader's other tabs).
    ReadPosition {
        conversation_id: ConversationId,
        user_id: UserId,
        seq: Seq,
    },
    /// A message was recalled; its content must no longer be shown. Acknowledge with `ack`.
    /// The recall is change `rev` of the conversation's log.
    Recalled {
        message_id: MessageId,
        conversation_id: ConversationId,
        seq: Seq,
        recalled_at: i64,
        #[serde(default)]
        rev: Rev,
    },
    /// The latest rev of the user's conversations that changed lately, from the database, sent
    /// by each node to its own connections once per ack timeout: a conversation whose rev is
    /// above what the client has seen missed a live frame (lost between nodes) — sync it.
    Heads {
        conversations: Vec<RevMark>,
    },
    Typing {
        conversation_id: ConversationId,
        user_id: UserId,
    },
    /// A conversation I am a member of was created or changed.
    Conversation {
        conversation: Conversation,
    },
    /// I left this conversation (from this or another tab): forget it. Nothing more about it
    /// is sent to me.
    ConversationLeft {
        conversation_id: ConversationId,
    },
    /// Something the client sent was refused. `client_msg_id` / `message_id` tie it to a request.
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<MessageId>,
        /// For `rate_limited`: when to try again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// For `invalid_input`: the field at fault and the rule it breaks (as in HTTP errors).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
    },
}

/// Parses a frame from the server, tolerating unknown frame types (returns `Ok(None)`).
pub fn parse_server_frame(text: &str) -> Result<Option<ServerFrame>, serde_json::Error> {
    match serde_json::from_str::<ServerFrame>(text) {
        Ok(f) => Ok(Some(f)),
        Err(e) => {
            // Unknown `type` → ignore; anything else (not JSON, missing fields) is an error.
            let v: serde_json::Value = serde_json::from_str(text)?;
            match v.get("type").and_then(|t| t.as_str()) {
                Some(t) if !KNOWN_SERVER_TYPES.contains(&t) => Ok(None),
                _ => Err(e),
            }
        }
    }
}

const KNOWN_SERVER_TYPES: &[&str] = &[
    "welcome",
    "pong",
    "sent",
    "message",
    "batch",
    "caught_up",
    "status",
    "read_position",
    "recalled",
    "typing",
    "conversation",
    "conversation_left",
    "error",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_round_trip_with_snake_case_tags() {
        let f = ClientFrame::Send {
            client_msg_id: "c1".into(),
            conversation_id: 7,
            content: "hi".into(),
        };
        let s = serde_json::to_string(&f).unwrap();
        assert_eq!(
            s,
            r#"{"type":"send","client_msg_id":"c1","conversation_id":7,"content":"hi"}"#
        );
        assert_eq!(serde_json::from_str::<ClientFrame>(&s).unwrap(), f);
        let sync: ClientFrame = serde_json::from_str(r#"{"type":"sync"}"#).unwrap();
        assert_eq!(
            sync,
            ClientFrame::Sync {
                conversations: vec![],
            }
        );
    }

    #[test]
    fn unknown_server_frames_are_ignored_but_broken_ones_are_errors() {
        assert_eq!(
            parse_server_frame(r#"{"type":"future_thing","x":1}"#).unwrap(),
            None
        );
        assert!(parse_server_frame(r#"{"type":"pong"}"#).is_err());
        assert!(parse_server_frame("not json").is_err());
        let pong = parse_server_frame(r#"{"type":"pong","nonce":3,"server_time":9}"#).unwrap();
        assert_eq!(
            pong,
            Some(ServerFrame::Pong {
                nonce: 3,
                server_time: 9
            })
        );
    }
}
