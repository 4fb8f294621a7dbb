//! Recall: only the sender, only within the window. The message keeps its seq; its content is
//! erased, and the recall is the conversation's next change (rev). Every member's connections
//! hear of it now, untracked; members who are offline learn of it on resume, by `sync` from the
//! rev they hold (the message comes back recalled). A recall writes no push record, so the
//! live `recalled` frame awaits no acknowledgement: an ack of the message id only ever settles
//! the message's own record.

use app::model::{Message, MessageId, User};

use super::Delivery;
use crate::error::{AppError, AppResult};
use crate::store::{Change, ChangeOutcome};

impl Delivery {
    /// Recalls `message_id` as `by`, through the writer like every change; `client_op_id`
    /// (optional: a recall is the same change however often it is asked for) makes a retry
    /// apply once.
    pub async fn recall(
        &self,
        by: &User,
        message_id: MessageId,
        client_op_id: Option<&str>,
    ) -> AppResult<Message> {
        let window_ms = (self.config.delivery.recall_window_secs as i64).saturating_mul(1000);
        let change = Change::Recall {
            message_id,
            window_ms,
        };
        match self.change(by, client_op_id, change).await? {
            ChangeOutcome::Applied { message, .. } => {
                tracing::info!(
                    message = message.id,
                    user = by.id,
                    rev = message.rev,
                    "message recalled"
                );
                Ok(message)
            }
            // Recalling twice (or retrying a recall) is harmless: the answer is the same.
            ChangeOutcome::Unchanged { message } => Ok(message),
            ChangeOutcome::Failed(e) => Err(AppError::Internal(anyhow::anyhow!(
                "applying a recall failed: {e}"
            ))),
            ChangeOutcome::OpReused => Err(AppError::Conflict {
                code: "client_op_id_reused",
                message: "this client_op_id was used for a change of another message".into(),
            }),
            ChangeOutcome::NotFound => Err(AppError::NotFound),
            ChangeOutcome::NotSender => Err(AppError::Forbidden {
                code: "recall_not_allowed",
                message: "only the sender can recall a message".into(),
            }),
            ChangeOutcome::WindowPassed => Err(AppError::Conflict {
                code: "recall_window_passed",
                message: format!(
                    "messages can be recalled only within {} seconds of sending",
                    self.config.delivery.recall_window_secs
                ),
            }),
        }
    }
}
