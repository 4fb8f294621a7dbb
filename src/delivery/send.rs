//! Sending: validate, rate-limit, commit through the batcher, acknowledge, then push.

use std::time::Instant;

use app::model::{ConversationId, SendAck, User, MAX_CLIENT_MSG_ID_LEN, MAX_CONTENT_CHARS};
use app::validate::{self, Rule};

use super::batcher::{self, Pending};
use super::Delivery;
use crate::error::{AppError, AppResult};
use crate::store::{InsertOutcome, NewMessage};

/// Checks a send's fields; the content is returned as stored (unchanged, never trimmed).
pub fn validate(client_msg_id: &str, content: &str) -> AppResult<()> {
    if client_msg_id.is_empty() || client_msg_id.len() > MAX_CLIENT_MSG_ID_LEN {
        return Err(AppError::invalid(
            "client_msg_id",
            if client_msg_id.is_empty() {
                Rule::Required
            } else {
                Rule::Length
            },
            format!("client_msg_id must be 1 to {MAX_CLIENT_MSG_ID_LEN} bytes"),
        ));
    }
    if client_msg_id
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || crate::accounts::is_format_char(c))
    {
        return Err(AppError::invalid(
            "client_msg_id",
            Rule::Format,
            "client_msg_id must not contain spaces, control characters or invisible formatting characters",
        ));
    }
    match validate::message_content(content) {
        Ok(()) => Ok(()),
        Err(Rule::Required) => Err(AppError::invalid(
            "content",
            Rule::Required,
            "message content must not be empty",
        )),
        Err(rule) => {
            let chars = content.chars().count();
            Err(AppError::invalid(
                "content",
                rule,
                format!("message content is {chars} characters; the limit is {MAX_CONTENT_CHARS}"),
            ))
        }
    }
}

/// A send queued for commit; [`Delivery::finish_send`] waits for it.
pub struct PendingSend {
    client_msg_id: String,
    started: Instant,
    outcome: Pending<InsertOutcome>,
}

impl Delivery {
    /// Validates, rate-limits and queues a send without waiting for the commit, so one
    /// connection can have many sends in flight (they commit in the order queued).
    /// `origin` is the sending connection, which gets the acknowledgement instead of an echo.
    pub async fn submit_send(
        &self,
        sender: &User,
        conversation_id: ConversationId,
        client_msg_id: String,
        content: String,
        origin: Option<u64>,
    ) -> AppResult<PendingSend> {
        validate(&client_msg_id, &content)?;
        if let Err(retry_after_ms) = self.limiter.check(sender.id) {
            self.metrics.rate_limited.inc();
            return Err(AppError::RateLimited { retry_after_ms });
        }
        let started = Instant::now();
        let message = NewMessage {
            conversation_id,
            sender_id: sender.id,
            client_msg_id: client_msg_id.clone(),
            content,
        };
        let outcome = self.batcher.enqueue_send(message, origin).await?;
        Ok(PendingSend {
            client_msg_id,
            started,
            outcome,
        })
    }

    /// Waits for a queued send's commit. A repeated `client_msg_id` returns the original
    /// acknowledgement with `duplicate = true` and stores nothing. (The batcher has already
    /// pushed a new message to its recipients.)
    pub async fn finish_send(&self, pending: PendingSend) -> AppResult<SendAck> {
        let PendingSend {
            client_msg_id,
            started,
            outcome,
        } = pending;
        match batcher::outcome(outcome).await? {
            InsertOutcome::Inserted(committed) => {
                self.metrics.messages_sent.inc();
                self.metrics
                    .send_to_sent
                    .observe(started.elapsed().as_secs_f64());
                Ok(SendAck {
                    client_msg_id,
                    message: committed.message,
                    duplicate: false,
                })
            }
            InsertOutcome::Duplicate(committed) => {
                self.metrics.duplicates_absorbed.inc();
                tracing::debug!(
                    user = committed.message.sender_id,
                    client_msg_id,
                    "duplicate send absorbed"
                );
                Ok(SendAck {
                    client_msg_id,
                    message: committed.message,
                    duplicate: true,
                })
            }
            InsertOutcome::NotMember => Err(AppError::NotFound),
            InsertOutcome::IdReused => Err(AppError::Conflict {
                code: "client_msg_id_reused",
                message: "this client_msg_id was already used for a different conversation".into(),
            }),
        }
    }

    /// Commits a message and acknowledges it (submit, then wait).
    pub async fn send(
        &self,
        sender: &User,
        conversation_id: ConversationId,
        client_msg_id: String,
        content: String,
        origin: Option<u64>,
    ) -> AppResult<SendAck> {
        let pending = self
            .submit_send(sender, conversation_id, client_msg_id, content, origin)
            .await?;
        self.finish_send(pending).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(validate("a", "hi").is_ok());
        assert!(validate("", "hi").is_err());
        assert!(validate("a b", "hi").is_err());
        assert!(validate(&"x".repeat(65), "hi").is_err());
        assert!(validate("a", "  \n ").is_err());
        assert!(validate("a", &"字".repeat(MAX_CONTENT_CHARS)).is_ok());
        assert!(validate("a", &"字".repeat(MAX_CONTENT_CHARS + 1)).is_err());
    }
}
