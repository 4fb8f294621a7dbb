//! Delivered and read. Status only moves forward; the sender's connections hear about every
//! change live, and every member hears about read positions (the reader's other tabs too).

use app::model::{
    AckResponse, ConversationId, MarkOfflineReadResponse, MessageId, MessageStatus, ReadPosition,
    Seq, UserId,
};
use app::protocol::ServerFrame;
use app::validate::Rule;

use super::{frame, Delivery};
use crate::clock::now_ms;

/// Most message ids one acknowledgement may carry.
pub const MAX_ACK_IDS: usize = 10_000;
use crate::error::{AppError, AppResult};
use crate::store::StatusChange;

impl Delivery {
    /// A device of `user` has these messages.
    pub async fn acknowledge(&self, user: UserId, ids: &[MessageId]) -> AppResult<AckResponse> {
        if ids.len() > MAX_ACK_IDS {
            return Err(AppError::invalid(
                "message_ids",
                Rule::Count,
                "at most 10000 ids per acknowledgement",
            ));
        }
        self.fanout.settle(user, ids);
        if ids.is_empty() {
            return Ok(AckResponse { acknowledged: 0 });
        }
        let pending = self.batcher.enqueue_ack(user, ids.to_vec()).await?;
        let out = super::batcher::outcome(pending).await?;
        if out.acknowledged > 0 {
            self.metrics.push("acknowledged", out.acknowledged);
            tracing::debug!(user, acknowledged = out.acknowledged, "push acknowledged");
        }
        self.announce(&out.delivered);
        Ok(AckResponse {
            acknowledged: out.acknowledged,
        })
    }

    /// "I have read `conversation` up to `seq`."
    pub async fn mark_read(
        &self,
        user: UserId,
        conversation: ConversationId,
        seq: Seq,
    ) -> AppResult<ReadPosition> {
        if seq < 0 {
            return Err(AppError::invalid(
                "seq",
                Rule::Range,
                "seq must not be negative",
            ));
        }
        let out = self
            .store
            .mark_read(conversation, user, seq, now_ms())
            .await?
            .ok_or(AppError::NotFound)?;
        if out.moved {
            let f = frame(&ServerFrame::ReadPosition {
                conversation_id: conversation,
                user_id: user,
                seq: out.position.read_seq,
            });
            for member in &out.members {
                self.fanout.send_to_user(*member, &f, None);
            }
            if out.acknowledged > 0 {
                self.metrics.push("acknowledged", out.acknowledged);
            }
            self.announce(&out.changes);
        }
        Ok(out.position)
    }

    /// The original `markOfflineMessagesAsRead`: reads every conversation (or just one) up to the
    /// newest message still waiting for the user there.
    pub async fn mark_offline_read(
        &self,
        user: UserId,
        only: Option<ConversationId>,
    ) -> AppResult<MarkOfflineReadResponse> {
        let waiting = self.store.waiting_conversations(user).await?;
        if let Some(c) = only {
            if !self.store.is_member(c, user).await? {
                return Err(AppError::NotFound);
            }
        }
        let mut positions = Vec::new();
        for (conversation, seq) in waiting
            .into_iter()
            .filter(|(c, _)| only.is_none_or(|o| o == *c))
        {
            positions.push(self.mark_read(user, conversation, seq).await?);
        }
        Ok(MarkOfflineReadResponse { positions })
    }

    /// Tells senders about status changes of their messages.
    pub(crate) fn announce(&self, changes: &[StatusChange]) {
        let now = now_ms();
        for c in changes {
            if c.status >= MessageStatus::Delivered {
                // Counted once per message: a message reaches Delivered (or skips to Read) once.
                self.metrics
                    .send_to_delivered
                    .observe(((now - c.created_at).max(0)) as f64 / 1000.0);
            }
            let f = frame(&ServerFrame::Status {
                message_id: c.message_id,
                conversation_id: c.conversation_id,
                seq: c.seq,
                status: c.status,
            });
            self.fanout.send_to_user(c.sender_id, &f, None);
        }
    }
}
