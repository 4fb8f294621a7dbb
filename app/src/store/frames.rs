//! What each server frame means for the client, in one place per frame type: the [`Event`]s the
//! reducer applies and the [`Command`]s — effects — it then asks for (acknowledgements, syncs,
//! fetches, notices). Pure: the browser side (state.rs) only carries the commands out, and host
//! tests check both halves.

use super::{apply, ClientState, Event};
use crate::model::{ConversationId, Message, MessageId, UserId};
use crate::protocol::{ClientFrame, ReplayReason, ResumePoint, ServerFrame};

/// An effect a frame calls for, carried out by the browser side after the state has changed
/// (so an acknowledgement always follows the merge: it promises the message is on this device).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Send this frame on the socket (`ack`, `sync`).
    Send(ClientFrame),
    /// Load a conversation that frames referred to but the list lacks.
    FetchConversation(ConversationId),
    /// A live message: it may deserve a desktop notification (the notification rule decides).
    Notify(Message),
    /// A `welcome` on a connection: resume (same account as before) or start over (another
    /// account logged in from another tab).
    Welcomed { same_user: bool, user_id: UserId },
    /// Show an error the server reported that concerns no send of mine.
    Notice {
        code: String,
        field: Option<String>,
        rule: Option<String>,
        retry_after_secs: Option<u64>,
    },
    /// A line for the diagnostics log (`warn`: shown as a warning).
    Log { warn: bool, text: String },
}

fn ack(ids: Vec<MessageId>) -> Option<Command> {
    (!ids.is_empty()).then_some(Command::Send(ClientFrame::Ack { message_ids: ids }))
}

/// Applies a frame: its events through the reducer, then the effects it calls for, and those
/// the new state calls for (a sync of conversations with a rev gap, conversations to fetch).
pub fn on_frame(
    state: &mut ClientState,
    frame: ServerFrame,
    local_now: i64,
    now: i64,
) -> Vec<Command> {
    let me_before = state.me_id();
    for ev in frame_events(frame.clone(), local_now, now) {
        apply(state, ev);
    }
    let mut out: Vec<Command> = Vec::new();
    match frame {
        ServerFrame::Welcome { user, .. } => out.push(Command::Welcomed {
            same_user: me_before == Some(user.id),
            user_id: user.id,
        }),
        ServerFrame::Message { message } => {
            out.extend(ack(vec![message.id]));
            out.push(Command::Notify(message));
        }
        ServerFrame::Batch {
            reason,
            messages,
            remaining,
            ..
        } => {
            out.push(Command::Log {
                warn: false,
                text: format!(
                    "replay {reason:?}: {} messages, {remaining} remaining",
                    messages.len()
                ),
            });
            out.extend(ack(messages.iter().map(|m| m.id).collect()));
        }
        // A recall the retry sweep sends stands in for a waiting message: acknowledge it (a
        // live one needs none, and acknowledging it is harmless).
        ServerFrame::Recalled { message_id, .. } => out.extend(ack(vec![message_id])),
        ServerFrame::CaughtUp {
            reason,
            replayed,
            more,
        } => {
            out.push(Command::Log {
                warn: false,
                text: format!("caught up ({reason:?}, {replayed} replayed)"),
            });
            // The server capped this sync: continue from where the store now is.
            if more && reason == ReplayReason::Sync {
                out.push(Command::Send(ClientFrame::Sync {
                    conversations: state.resume_points(),
                }));
            }
        }
        ServerFrame::Error {
            code,
            message,
            client_msg_id,
            retry_after_ms,
            field,
            rule,
            ..
        } => {
            out.push(Command::Log {
                warn: true,
                text: format!("server error {code}: {message}"),
            });
            // An error about a send failed that send (an event above); others are shown.
            if client_msg_id.is_none() {
                out.push(Command::Notice {
                    code,
                    field,
                    rule,
                    retry_after_secs: retry_after_ms.map(|ms| ms.div_ceil(1000)),
                });
            }
        }
        _ => {}
    }
    out.extend(follow_up(state));
    out
}

/// What the state now calls for: a `sync` of the conversations with a rev gap (from where
/// each is known to be complete), and the conversations to fetch. Each is asked for once.
fn follow_up(state: &mut ClientState) -> Vec<Command> {
    let mut out = Vec::new();
    if !state.gaps.is_empty() {
        let gaps: Vec<ResumePoint> = state
            .resume_points()
            .into_iter()
            .filter(|r| state.gaps.contains(&r.conversation_id))
            .collect();
        apply(state, Event::GapsRequested);
        if !gaps.is_empty() {
            out.push(Command::Send(ClientFrame::Sync {
                conversations: gaps,
            }));
        }
    }
    if !state.unknown_conversations.is_empty() {
        let unknown: Vec<ConversationId> = state.unknown_conversations.iter().copied().collect();
        apply(state, Event::UnknownRequested);
        out.extend(unknown.into_iter().map(Command::FetchConversation));
    }
    out
}

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
