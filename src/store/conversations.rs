//! Conversations and their members.

use async_trait::async_trait;

use super::*;

/// Conversations and their members.
#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    /// Creates the 1:1 conversation of `a` and `b`, or returns the existing one. `None` if `b` is unknown.
    async fn direct_conversation(
        &self,
        a: UserId,
        b: UserId,
        now: i64,
    ) -> StoreResult<Option<ConversationId>>;
    /// `None` if a member id is unknown.
    async fn create_group(
        &self,
        creator: UserId,
        title: &str,
        members: &[UserId],
        now: i64,
    ) -> StoreResult<Option<ConversationId>>;
    /// The conversation as `viewer` sees it; `None` if it does not exist or `viewer` is not a member.
    async fn conversation(
        &self,
        id: ConversationId,
        viewer: UserId,
    ) -> StoreResult<Option<Conversation>>;
    /// Every conversation of `viewer` as they see it, newest activity first (`updated_at`, then
    /// `id`, descending), from a fixed number of statements whatever the number of
    /// conversations (counted in `courier_db_statements_total{op="conversations"}`).
    async fn conversations(&self, viewer: UserId) -> StoreResult<Vec<Conversation>>;
    /// The conversation as every member sees it, from a fixed number of statements whatever
    /// the number of members (announcing a group must stay linear in its members).
    async fn conversation_views(
        &self,
        id: ConversationId,
    ) -> StoreResult<Option<ConversationViews>>;
    /// The existing 1:1 conversation of `a` and `b`, if any (creates nothing).
    async fn find_direct(&self, a: UserId, b: UserId) -> StoreResult<Option<ConversationId>>;
    /// `user` leaves the group: membership and the records still waiting for them there go.
    async fn leave_conversation(
        &self,
        id: ConversationId,
        user: UserId,
    ) -> StoreResult<LeaveOutcome>;
    /// Sets `user`'s mute flag on the conversation (theirs alone). False if they are not a member.
    async fn set_muted(&self, id: ConversationId, user: UserId, muted: bool) -> StoreResult<bool>;
    async fn is_member(&self, id: ConversationId, user: UserId) -> StoreResult<bool>;
    async fn member_ids(&self, id: ConversationId) -> StoreResult<Vec<UserId>>;
    /// The conversations of `users` whose change log changed at or after `since` (ms), each
    /// as (user, conversation, its `last_rev`), ordered by user then conversation: what the
    /// `heads` frame tells each user.
    async fn changed_since(
        &self,
        users: &[UserId],
        since: i64,
    ) -> StoreResult<Vec<(UserId, ConversationId, Rev)>>;
}
