//! What each server frame means for the client state: the pure mapping from a [`ServerFrame`] to
//! the [`Event`]s the reducer applies. The browser side (state.rs) only adds the effects a frame
//! calls for (answering `welcome` with `sync`, a notice for an error, a desktop notification).

use super::Event;
use crate::protocol::ServerFrame;

/// How long a `typing` frame keeps the indicator on (the sender repeats it every 3 s).
pub const TYPING_SHOW_MS: i64 = 5_000;

/// The events a frame maps to. `local_now` is this machine's clock (for offsets and retry
/// times), `now` the server-aligned clock the UI shows (for typing expiry).
pub fn frame_events(frame: ServerFrame, local_now: i64, now: i64) -> Vec<Event> {
    match frame {
        ServerFrame::Welcome {
            user,
            server_time,
            recall_window_ms,
            ..
        } => vec![Event::Welcomed {
            user,
            server_time,
            recall_window_ms: recall_window_ms as i64,
            local_now,
        }],
        ServerFrame::Pong { server_time, .. } => vec![Event::Pong { server_time }],
        ServerFrame::Sent {
            client_msg_id,
            message,
            ..
        } => vec![Event::Sent {
            client_msg_id,
            message,
        }],
        ServerFrame::Message { message } => vec![Event::Live(message)],
        ServerFrame::Batch {
            reason,
            messages,
            through,
            ..
        } => vec![Event::Batch {
            reason,
            messages,
            through,
        }],
        // Nothing changes in memory; whether to continue the sync is the caller's effect.
        ServerFrame::CaughtUp { .. } => vec![],
        ServerFrame::Status {
            message_id,
            conversation_id,
            seq,
            status,
        } => vec![Event::Status {
            conversation_id,
            message_id,
            seq,
            status,
        }],
        ServerFrame::ReadPosition {
            conversation_id,
            user_id,
            seq,
        } => vec![Event::ReadPosition {
            conversation_id,
            user_id,
            seq,
        }],
        ServerFrame::Recalled {
            message_id,
            conversation_id,
            seq,
            recalled_at,
            rev,
        } => vec![Event::Recalled {
            conversation_id,
            message_id,
            seq,
            recalled_at,
            rev,
        }],
        ServerFrame::Heads { conversations } => vec![Event::Heads(conversations)],
        ServerFrame::Typing {
            conversation_id,
            user_id,
        } => vec![Event::Typing {
            conversation_id,
            user_id,
            until: now + TYPING_SHOW_MS,
        }],
        ServerFrame::Conversation { conversation } => {
            vec![Event::ConversationUpserted(conversation)]
        }
        ServerFrame::ConversationLeft { conversation_id } => {
            vec![Event::ConversationLeft(conversation_id)]
        }
        // An error about one of my sends fails (or, rate limited, delays) that send; any other
        // error is only shown (the caller's effect).
        ServerFrame::Error {
            code,
            client_msg_id: Some(client_msg_id),
            retry_after_ms,
            ..
        } => vec![Event::SendRefused {
            client_msg_id,
            code,
            retry_at: retry_after_ms.map(|ms| local_now + ms as i64),
        }],
        ServerFrame::Error { .. } => vec![],
    }
}
