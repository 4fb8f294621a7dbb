//! Resume: what a (re)connecting device is owed, read from the database in bounded pages.
//! The socket task drives the paging (the next page goes out when the previous one is
//! acknowledged), so a backlog of any size never sits in memory at once.

use app::model::{ConversationId, Message, MessageId, OfflinePage, Seq, UserId};

use super::Delivery;
use crate::error::{AppError, AppResult};

impl Delivery {
    /// Messages waiting for `user` after message id `after` (the original `getOfflineMessages`).
    pub async fn waiting_page(
        &self,
        user: UserId,
        after: MessageId,
        limit: i64,
    ) -> AppResult<OfflinePage> {
        let limit = limit.clamp(1, 1000);
        // One extra row says whether another page follows.
        let mut messages = self.store.waiting_for(user, after, limit + 1).await?;
        let has_more = messages.len() as i64 > limit;
        messages.truncate(limit as usize);
        let pending_total = self.store.waiting_count(user).await?;
        Ok(OfflinePage {
            messages,
            pending_total,
            has_more,
        })
    }

    /// Messages of a conversation after `after_seq`, for a member that resumes.
    pub async fn tail_page(
        &self,
        user: UserId,
        conversation: ConversationId,
        after_seq: Seq,
        limit: i64,
    ) -> AppResult<Vec<Message>> {
        if !self.store.is_member(conversation, user).await? {
            return Err(AppError::NotFound);
        }
        Ok(self
            .store
            .messages_after(conversation, after_seq.max(0), limit.clamp(1, 1000))
            .await?)
    }

    pub async fn recalled_since(
        &self,
        user: UserId,
        conversation: ConversationId,
        since: i64,
    ) -> AppResult<Vec<Message>> {
        if !self.store.is_member(conversation, user).await? {
            return Err(AppError::NotFound);
        }
        Ok(self.store.recalled_since(conversation, since).await?)
    }
}
