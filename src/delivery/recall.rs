//! Recall: only the sender, only within the window. The message keeps its seq; its content is
//! erased. Every member's connections hear of it now; members who are offline get a pending
//! recall record and learn of it on resume.

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
                for member in members {
                    if member == by.id {
                        self.fanout.send_to_user(member, &f, None);
                    } else {
                        self.fanout.deliver_to_user(member, &f, &[message.id]);
                    }
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
