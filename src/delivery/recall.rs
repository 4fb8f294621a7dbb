//! Recall: only the sender, only within the window. The message keeps its seq; its content is
//! erased, and the recall is the conversation's next change (rev). Every member's connections
//! hear of it now, untracked; members who are offline learn of it on resume, by `sync` from the
//! rev they hold (the message comes back recalled). A recall writes no push record, so the
//! live `recalled` frame awaits no acknowledgement: an ack of the message id only ever settles
//! the message's own record.

use app::model::{Message, MessageId, User};
use app::protocol::ServerFrame;

use super::{frame, Delivery};
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::RecallOutcome;

impl Delivery {
    pub async fn recall(&self, by: &User, message_id: MessageId) -> AppResult<Message> {
        let window_ms = (self.config.delivery.recall_window_secs as i64).saturating_mul(1000);
        match self
            .store
            .recall(message_id, by.id, window_ms, now_ms())
            .await?
        {
            RecallOutcome::Recalled { message, members } => {
                let f = frame(&ServerFrame::Recalled {
                    message_id: message.id,
                    conversation_id: message.conversation_id,
                    seq: message.seq,
                    recalled_at: message.recalled_at.unwrap_or_else(now_ms),
                    rev: message.rev,
                });
                // Not `deliver_to_user`: that would track the message id in flight on each
                // connection and, without an ack in time, mark the member's record of the
                // message failed — a record the recall has nothing to do with.
                for member in members {
                    self.fanout.send_to_user(member, &f, None);
                }
                tracing::info!(message = message.id, user = by.id, "message recalled");
                Ok(message)
            }
            // Recalling twice is harmless: the answer is the same.
            RecallOutcome::AlreadyRecalled { message } => Ok(message),
            RecallOutcome::NotFound => Err(AppError::NotFound),
            RecallOutcome::NotSender => Err(AppError::Forbidden {
                code: "recall_not_allowed",
                message: "only the sender can recall a message".into(),
            }),
            RecallOutcome::WindowPassed => Err(AppError::Conflict {
                code: "recall_window_passed",
                message: format!(
                    "messages can be recalled only within {} seconds of sending",
                    self.config.delivery.recall_window_secs
                ),
            }),
        }
    }
}
