//! PostgreSQL: conversations and their members.

use super::*;
use app::model::Rev;

#[async_trait]
impl ConversationStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn direct_conversation(
        &self,
        a: UserId,
        b: UserId,
        now: i64,
    ) -> StoreResult<Option<ConversationId>> {
        let key = format!("{}:{}", a.min(b), a.max(b));
        let id = in_transaction!(self.pool, |tx| {
            let exists: Option<i64> = sqlx::query_scalar(sql::USER_EXISTS)
                .bind(b)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Ok(None);
            }
            // The database decides which of several concurrent starters (of any node) creates
            // the conversation: the unique direct_key lets exactly one insert through.
            let created: Option<i64> = sqlx::query_scalar(sql::CREATE_DIRECT)
                .bind(&key)
                .bind(a)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(id) = created {
                sqlx::query(sql::ADD_DIRECT_MEMBERS)
                    .bind(id)
                    .bind(a)
                    .bind(now)
                    .bind(b)
                    .execute(&mut *tx)
                    .await?;
                return Ok(Some(id));
            }
            // It existed, or a concurrent inserter won: the conflicting insert waited for that
            // transaction to commit, so (READ COMMITTED) this statement sees its row.
            let id: i64 = sqlx::query_scalar(sql::DIRECT_BY_KEY)
                .bind(&key)
                .fetch_one(&mut *tx)
                .await?;
            Ok::<_, sqlx::Error>(Some(id))
        })?;
        Ok(id)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_group(
        &self,
        creator: UserId,
        title: &str,
        members: &[UserId],
        now: i64,
    ) -> StoreResult<Option<ConversationId>> {
        let mut all: Vec<UserId> = members.to_vec();
        all.push(creator);
        all.sort_unstable();
        all.dedup();
        let t = Instant::now();
        // A fixed number of statements whatever the number of members: the ids go as one
        // array parameter.
        let id = in_transaction!(self.pool, |tx| {
            let known: i64 = sqlx::query_scalar(sql::users_known!(in_list!("$1")))
                .bind(&all)
                .fetch_one(&mut *tx)
                .await?;
            if known != all.len() as i64 {
                return Ok(None);
            }
            let id: i64 = sqlx::query_scalar(sql::CREATE_GROUP)
                .bind(title)
                .bind(creator)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO conversation_members (conversation_id, user_id, joined_at) \
                 SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u",
            )
            .bind(id)
            .bind(&all)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            Ok::<_, sqlx::Error>(Some(id))
        })?;
        if id.is_some() {
            self.observe("create_group", t);
        }
        Ok(id)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn conversation(
        &self,
        id: ConversationId,
        viewer: UserId,
    ) -> StoreResult<Option<Conversation>> {
        let t = Instant::now();
        let mut conn = self.pool.acquire().await?;
        let row: Option<ViewedRow> = sqlx::query_as(sql::VIEWED_CONVERSATION)
            .bind(viewer)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (conv, statements) = load_viewed(&mut conn, vec![row]).await?;
        self.observe_counted("conversation", t, 1 + statements);
        Ok(conv.into_iter().next())
    }

    /// At most four statements whatever the number of conversations (one when there are
    /// none): the rows with the viewer's own fields, then [`load_shared`]'s for all of them.
    #[tracing::instrument(level = "debug", skip_all)]
    async fn conversations(&self, viewer: UserId) -> StoreResult<Vec<Conversation>> {
        let t = Instant::now();
        let mut conn = self.pool.acquire().await?;
        let rows: Vec<ViewedRow> = sqlx::query_as(sql::VIEWED_CONVERSATIONS)
            .bind(viewer)
            .fetch_all(&mut *conn)
            .await?;
        let (out, statements) = load_viewed(&mut conn, rows).await?;
        self.observe_counted("conversations", t, 1 + statements);
        Ok(out)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn conversation_views(
        &self,
        id: ConversationId,
    ) -> StoreResult<Option<ConversationViews>> {
        let t = Instant::now();
        let mut conn = self.pool.acquire().await?;
        let row: Option<ConversationRow> = sqlx::query_as(sql::CONVERSATION_ROW)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (shared, statements) = load_shared(&mut conn, vec![row]).await?;
        let Some(shared) = shared.into_iter().next() else {
            return Ok(None);
        };
        // Every member's unread count in one statement.
        let viewers: Vec<Viewer> = sqlx::query_as(sql::MEMBER_VIEWS)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        self.observe_counted("conversation_views", t, 2 + statements);
        Ok(Some(ConversationViews { shared, viewers }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn find_direct(&self, a: UserId, b: UserId) -> StoreResult<Option<ConversationId>> {
        let key = format!("{}:{}", a.min(b), a.max(b));
        Ok(sqlx::query_scalar(sql::DIRECT_BY_KEY)
            .bind(&key)
            .fetch_optional(&self.pool)
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn leave_conversation(
        &self,
        id: ConversationId,
        user: UserId,
    ) -> StoreResult<LeaveOutcome> {
        let t = Instant::now();
        let outcome = in_transaction!(self.pool, |tx| {
            // Locks the conversation row first: no send, read or leave of this conversation
            // interleaves with the rest.
            let Some(membership) = membership_on(&mut tx, id, user).await? else {
                return Ok(LeaveOutcome::NotMember);
            };
            if !membership.is_group {
                return Ok(LeaveOutcome::Direct);
            }
            let read_seq = membership.read_seq;
            // What still waits for the leaver there is never pushed.
            let removed: Vec<i64> = sqlx::query_scalar(sql::DROP_WAITING_IN)
                .bind(user)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            sqlx::query(sql::REMOVE_MEMBER)
                .bind(id)
                .bind(user)
                .execute(&mut *tx)
                .await?;
            // Messages only the leaver had not acknowledged are now delivered (if anyone else
            // was to receive them).
            let mut waited: Vec<i64> = removed.clone();
            waited.sort_unstable();
            waited.dedup();
            let delivered = mark_delivered_on(&mut tx, &waited).await?;
            // Messages after the leaver's read position that every other remaining member has read.
            let read = mark_read_on(&mut tx, id, read_seq, None, user).await?;
            let members = member_ids_on(&mut tx, id).await?;
            // Report each message once, at its highest new status.
            let mut changes: Vec<StatusChange> = delivered
                .into_iter()
                .filter(|d| !read.iter().any(|r| r.message_id == d.message_id))
                .collect();
            changes.extend(read);
            Ok::<_, sqlx::Error>(LeaveOutcome::Left {
                members,
                changes,
                removed_records: removed.len() as u64,
            })
        })?;
        if matches!(outcome, LeaveOutcome::Left { .. }) {
            self.observe("leave_conversation", t);
        }
        Ok(outcome)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn set_muted(&self, id: ConversationId, user: UserId, muted: bool) -> StoreResult<bool> {
        let t = Instant::now();
        let done = sqlx::query(sql::SET_MUTED)
            .bind(muted)
            .bind(id)
            .bind(user)
            .execute(&self.pool)
            .await?;
        self.observe("set_muted", t);
        Ok(done.rows_affected() > 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn is_member(&self, id: ConversationId, user: UserId) -> StoreResult<bool> {
        Ok(sqlx::query_scalar(sql::IS_MEMBER)
            .bind(id)
            .bind(user)
            .fetch_one(&self.pool)
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn member_ids(&self, id: ConversationId) -> StoreResult<Vec<UserId>> {
        let mut conn = self.pool.acquire().await?;
        Ok(member_ids_on(&mut conn, id).await?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn changed_since(
        &self,
        users: &[UserId],
        since: i64,
    ) -> StoreResult<Vec<(UserId, ConversationId, Rev)>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(sql::changed_since!(in_list!("$2")))
            .bind(since)
            .bind(users)
            .fetch_all(&self.pool)
            .await?)
    }
}
