//! A member's own changes to their membership: leaving a group, muting a conversation. The
//! store records them; the engine tells whom they concern — never the HTTP handler, so every
//! adapter that offers them gets the same effects.

use app::model::{Conversation, ConversationId, User};
use app::protocol::ServerFrame;

use super::Delivery;
use crate::error::{AppError, AppResult};
use crate::store::LeaveOutcome;

impl Delivery {
    /// `by` leaves group `id`: every tab of theirs forgets it, messages that were only waiting
    /// for them become delivered (or read), and the other members see the new member list.
    pub async fn leave(&self, by: &User, id: ConversationId) -> AppResult<()> {
        let (members, changes, removed) = match self.store.leave_conversation(id, by.id).await? {
            LeaveOutcome::NotMember => return Err(AppError::NotFound),
            LeaveOutcome::Direct => {
                return Err(AppError::refused(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "direct_conversation",
                    "a direct conversation cannot be left",
                ))
            }
            LeaveOutcome::Left {
                members,
                changes,
                removed_records,
            } => (members, changes, removed_records),
        };
        tracing::info!(
            user = by.id,
            conversation = id,
            remaining = members.len(),
            removed_records = removed,
            "left conversation"
        );
        self.send_to_user(
            by.id,
            &ServerFrame::ConversationLeft {
                conversation_id: id,
            },
        );
        self.announce(&changes);
        if !members.is_empty() {
            if let Some(views) = self.store.conversation_views(id).await? {
                self.announce_conversation(views, None);
            }
        }
        Ok(())
    }

    /// Mutes or unmutes `id` for `by` alone; every tab of theirs gets the conversation again,
    /// so their other devices follow. The conversation as they now see it.
    pub async fn set_muted(
        &self,
        by: &User,
        id: ConversationId,
        muted: bool,
    ) -> AppResult<Conversation> {
        if !self.store.set_muted(id, by.id, muted).await? {
            return Err(AppError::NotFound);
        }
        let mine = self
            .store
            .conversation(id, by.id)
            .await?
            .ok_or(AppError::NotFound)?;
        tracing::info!(
            user = by.id,
            conversation = id,
            muted,
            "conversation mute set"
        );
        self.send_to_user(
            by.id,
            &ServerFrame::Conversation {
                conversation: mine.clone(),
            },
        );
        Ok(mine)
    }
}
