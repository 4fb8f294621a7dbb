//! The SQLite backend (the embedded default). WAL mode, foreign keys on.
//!
//! Two pools: many readers, and ONE writer connection. Every write goes through the writer, so
//! writers never contend for SQLite's lock (no SQLITE_BUSY between our own writes), and the
//! delivery engine's batched inserts commit many sends per fsync.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{
    Conversation, ConversationId, ConversationKind, Member, MemberReceipt, Message, MessageId,
    MessageReceipts, MessageStatus, PushRecord, PushStats, PushStatus, ReadPosition, Seq, User,
    UserId,
};
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use super::error::{StoreError, StoreResult};
use super::{
    AckOutcome, ConversationViews, DueRetry, InsertOutcome, LeaveOutcome, NewMessage, ReadOutcome,
    RecallOutcome, StatusChange, Store, Viewer,
};
use crate::telemetry::Metrics;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub(crate) const MSG_COLS: &str =
    "m.id, m.conversation_id, m.seq, m.sender_id, u.display_name AS sender_name, \
     m.client_msg_id, m.content, m.status, m.recalled_at, m.created_at \
     FROM messages m JOIN users u ON u.id = m.sender_id";

pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    metrics: Arc<Metrics>,
}

impl SqliteStore {
    /// Opens (creating file and folder if needed) and migrates the database.
    pub async fn connect(
        url: &str,
        synchronous: &str,
        metrics: Arc<Metrics>,
    ) -> Result<SqliteStore, String> {
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(|e| format!("invalid DATABASE_URL {url:?}: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .synchronous(match synchronous.to_ascii_lowercase().as_str() {
                "normal" => SqliteSynchronous::Normal,
                "off" => SqliteSynchronous::Off,
                _ => SqliteSynchronous::Full,
            })
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-32000")
            // Deleted and overwritten content is zeroed on disk, so recalled text is not left
            // behind in free space (see `recall`, which also checkpoints the WAL).
            .pragma("secure_delete", "on");
        let path = options.get_filename().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create the database folder {}: {e}", dir.display()))?;
        }
        options = options.statement_cache_capacity(256);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(|e| {
                format!(
                    "cannot open the database {}: {e} (check DATABASE_URL)",
                    path.display()
                )
            })?;
        MIGRATOR
            .run(&write)
            .await
            .map_err(|e| format!("database migration failed on {}: {e}", path.display()))?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| {
                format!(
                    "cannot open the database {} for reading: {e}",
                    path.display()
                )
            })?;
        Ok(SqliteStore {
            read,
            write,
            metrics,
        })
    }

    fn observe(&self, op: &'static str, started: Instant) {
        self.metrics.observe_db(op, started.elapsed());
    }
}

pub(crate) fn message_from_row(row: &SqliteRow) -> Result<Message, sqlx::Error> {
    let recalled_at: Option<i64> = row.try_get("recalled_at")?;
    Ok(Message {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        seq: row.try_get("seq")?,
        sender_id: row.try_get("sender_id")?,
        sender_name: row.try_get("sender_name")?,
        client_msg_id: row.try_get("client_msg_id")?,
        // Recalled content is never served.
        content: if recalled_at.is_some() {
            None
        } else {
            Some(row.try_get("content")?)
        },
        recalled: recalled_at.is_some(),
        recalled_at,
        status: MessageStatus::from_i64(row.try_get("status")?),
        created_at: row.try_get("created_at")?,
    })
}

fn user_from_row(row: &SqliteRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn change_from_row(row: &SqliteRow, status: MessageStatus) -> Result<StatusChange, sqlx::Error> {
    Ok(StatusChange {
        message_id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        seq: row.try_get("seq")?,
        sender_id: row.try_get("sender_id")?,
        created_at: row.try_get("created_at")?,
        status,
    })
}

fn stats_from_rows(rows: &[SqliteRow]) -> Result<PushStats, sqlx::Error> {
    let mut s = PushStats {
        pending: 0,
        pushed: 0,
        failed: 0,
    };
    for r in rows {
        let n: i64 = r.try_get("n")?;
        match PushStatus::from_i64(r.try_get("push_status")?) {
            PushStatus::Pending => s.pending += n,
            PushStatus::Pushed => s.pushed += n,
            PushStatus::Failed => s.failed += n,
        }
    }
    Ok(s)
}

async fn member_ids_on(
    conn: &mut SqliteConnection,
    id: ConversationId,
) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT user_id FROM conversation_members WHERE conversation_id = ? ORDER BY user_id",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

/// Marks `user`'s records for `ids` pushed and returns the messages that became delivered.
async fn acknowledge_on(
    conn: &mut SqliteConnection,
    user: UserId,
    ids: &[MessageId],
    now: i64,
) -> Result<AckOutcome, sqlx::Error> {
    let mut out =
        super::sqlite_batch::acknowledge_batch_on(conn, &[(user, ids.to_vec())], now).await?;
    Ok(out.pop().unwrap_or_default())
}

/// A message is delivered when no recipient's record for it is still unacknowledged.
pub(crate) async fn mark_delivered_on(
    conn: &mut SqliteConnection,
    ids: &[MessageId],
) -> Result<Vec<StatusChange>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
        "UPDATE messages SET status = 1 WHERE status < 1 AND NOT EXISTS (SELECT 1 FROM message_push_records r \
         WHERE r.message_id = messages.id AND r.kind = 0 AND r.push_status <> 1) AND id IN (",
    );
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    qb.push(") RETURNING id, conversation_id, seq, sender_id, created_at");
    let rows = qb.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| change_from_row(r, MessageStatus::Delivered))
        .collect()
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        hash: &str,
        now: i64,
    ) -> StoreResult<Option<User>> {
        let t = Instant::now();
        let res = sqlx::query(
            "INSERT INTO users (username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (username) DO NOTHING RETURNING id, username, display_name, created_at",
        )
        .bind(username)
        .bind(display_name)
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.write)
        .await?;
        self.observe("create_user", t);
        Ok(res.as_ref().map(user_from_row).transpose()?)
    }

    async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query("SELECT id, username, display_name, created_at, password_hash FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.read)
            .await?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    async fn search_users(
        &self,
        query: &str,
        exclude: UserId,
        limit: i64,
    ) -> StoreResult<Vec<User>> {
        // LIKE metacharacters in the query are escaped so they match literally.
        let escaped = query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let rows = sqlx::query(
            "SELECT id, username, display_name, created_at FROM users \
             WHERE id <> ? AND (username LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\') \
             ORDER BY (username = ? COLLATE NOCASE) DESC, length(username), username LIMIT ?",
        )
        .bind(exclude)
        .bind(&pattern)
        .bind(&pattern)
        .bind(query)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: UserId,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &str, now: i64) -> StoreResult<Option<(User, i64)>> {
        let t = Instant::now();
        let row = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = ? AND s.expires_at > ?",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        self.observe("session_user", t);
        let Some(row) = row else { return Ok(None) };
        Ok(Some((user_from_row(&row)?, row.try_get("expires_at")?)))
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: UserId) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user_id)
            .execute(&self.write)
            .await?;
        Ok(r.rows_affected())
    }

    async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.write)
            .await?;
        Ok(r.rows_affected())
    }

    async fn set_password_hash(&self, user_id: UserId, password_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn direct_conversation(
        &self,
        a: UserId,
        b: UserId,
        now: i64,
    ) -> StoreResult<Option<ConversationId>> {
        let key = format!("{}:{}", a.min(b), a.max(b));
        let mut tx = self.write.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = ?")
            .bind(b)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        if let Some(id) =
            sqlx::query_scalar::<_, i64>("SELECT id FROM conversations WHERE direct_key = ?")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?
        {
            return Ok(Some(id));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO conversations (kind, title, direct_key, created_by, created_at, updated_at) \
             VALUES ('direct', '', ?, ?, ?, ?) RETURNING id",
        )
        .bind(&key)
        .bind(a)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for user in [a, b] {
            sqlx::query("INSERT INTO conversation_members (conversation_id, user_id, joined_at) VALUES (?, ?, ?)")
                .bind(id)
                .bind(user)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(id))
    }

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
        let mut tx = self.write.begin().await?;
        // A fixed number of statements (the writer is shared: a big group must not hold it
        // for one round trip per member). Callers cap the members (GROUP_MEMBERS_MAX), which
        // keeps the bound parameters far below SQLite's limit.
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT COUNT(*) FROM users WHERE id IN (");
        let mut sep = qb.separated(", ");
        for user in &all {
            sep.push_bind(*user);
        }
        qb.push(")");
        let known: i64 = qb.build_query_scalar().fetch_one(&mut *tx).await?;
        if known != all.len() as i64 {
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO conversations (kind, title, created_by, created_at, updated_at) VALUES ('group', ?, ?, ?, ?) RETURNING id",
        )
        .bind(title)
        .bind(creator)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO conversation_members (conversation_id, user_id, joined_at) ",
        );
        qb.push_values(&all, |mut b, user| {
            b.push_bind(id).push_bind(*user).push_bind(now);
        });
        qb.build().execute(&mut *tx).await?;
        tx.commit().await?;
        self.observe("create_group", t);
        Ok(Some(id))
    }

    async fn conversation(
        &self,
        id: ConversationId,
        viewer: UserId,
    ) -> StoreResult<Option<Conversation>> {
        let t = Instant::now();
        let mut conn = self.read.acquire().await?;
        let row = sqlx::query(
            "SELECT c.id, c.kind, c.title, c.last_seq, c.created_at, c.updated_at, cm.read_seq \
             FROM conversations c JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = ? \
             WHERE c.id = ?",
        )
        .bind(viewer)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let conv = load_conversation(&mut conn, &row, viewer).await?;
        self.observe("conversation", t);
        Ok(Some(conv))
    }

    async fn conversations(&self, viewer: UserId) -> StoreResult<Vec<Conversation>> {
        let t = Instant::now();
        let mut conn = self.read.acquire().await?;
        let rows = sqlx::query(
            "SELECT c.id, c.kind, c.title, c.last_seq, c.created_at, c.updated_at, cm.read_seq \
             FROM conversations c JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = ? \
             ORDER BY c.updated_at DESC, c.id DESC",
        )
        .bind(viewer)
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(load_conversation(&mut conn, row, viewer).await?);
        }
        self.observe("conversations", t);
        Ok(out)
    }

    async fn conversation_views(
        &self,
        id: ConversationId,
    ) -> StoreResult<Option<ConversationViews>> {
        let t = Instant::now();
        let mut conn = self.read.acquire().await?;
        let row = sqlx::query(
            "SELECT id, kind, title, last_seq, created_at, updated_at FROM conversations WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let shared = load_shared(&mut conn, &row).await?;
        // Every member's unread count in one statement (derived as for one viewer).
        let rows = sqlx::query(
            "SELECT cm.user_id, cm.read_seq, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = cm.conversation_id \
             AND m.seq > cm.read_seq AND m.sender_id <> cm.user_id AND m.recalled_at IS NULL) AS unread \
             FROM conversation_members cm WHERE cm.conversation_id = ? ORDER BY cm.user_id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let viewers = rows
            .iter()
            .map(|r| {
                Ok(Viewer {
                    user_id: r.try_get("user_id")?,
                    read_seq: r.try_get("read_seq")?,
                    unread: r.try_get("unread")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        self.observe("conversation_views", t);
        Ok(Some(ConversationViews { shared, viewers }))
    }

    async fn find_direct(&self, a: UserId, b: UserId) -> StoreResult<Option<ConversationId>> {
        let key = format!("{}:{}", a.min(b), a.max(b));
        Ok(
            sqlx::query_scalar("SELECT id FROM conversations WHERE direct_key = ?")
                .bind(&key)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn leave_conversation(
        &self,
        id: ConversationId,
        user: UserId,
    ) -> StoreResult<LeaveOutcome> {
        let t = Instant::now();
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "SELECT c.kind, cm.read_seq FROM conversations c JOIN conversation_members cm \
             ON cm.conversation_id = c.id AND cm.user_id = ? WHERE c.id = ?",
        )
        .bind(user)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(LeaveOutcome::NotMember);
        };
        if row.try_get::<String, _>("kind")? != "group" {
            return Ok(LeaveOutcome::Direct);
        }
        let read_seq: i64 = row.try_get("read_seq")?;
        // What still waits for the leaver there (messages and recall events) is never pushed.
        let removed: Vec<(i64, i64)> = sqlx::query_as(
            "DELETE FROM message_push_records WHERE user_id = ? AND push_status <> 1 \
             AND message_id IN (SELECT id FROM messages WHERE conversation_id = ?) RETURNING message_id, kind",
        )
        .bind(user)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM conversation_members WHERE conversation_id = ? AND user_id = ?")
            .bind(id)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        // Messages only the leaver had not acknowledged are now delivered (if anyone else
        // was to receive them).
        let mut waited: Vec<i64> = removed
            .iter()
            .filter(|(_, kind)| *kind == 0)
            .map(|(m, _)| *m)
            .collect();
        waited.sort_unstable();
        waited.dedup();
        let mut delivered = Vec::new();
        for chunk in waited.chunks(500) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "UPDATE messages SET status = 1 WHERE status < 1 \
                 AND NOT EXISTS (SELECT 1 FROM message_push_records r WHERE r.message_id = messages.id AND r.kind = 0 AND r.push_status <> 1) \
                 AND EXISTS (SELECT 1 FROM message_push_records r WHERE r.message_id = messages.id AND r.kind = 0) \
                 AND id IN (",
            );
            let mut sep = qb.separated(", ");
            for m in chunk {
                sep.push_bind(*m);
            }
            qb.push(") RETURNING id, conversation_id, seq, sender_id, created_at");
            for r in qb.build().fetch_all(&mut *tx).await? {
                delivered.push(change_from_row(&r, MessageStatus::Delivered)?);
            }
        }
        // Messages after the leaver's read position that every other remaining member has read.
        let read_rows = sqlx::query(
            "UPDATE messages SET status = 2 WHERE conversation_id = ? AND seq > ? AND sender_id <> ? AND status < 2 \
             AND EXISTS (SELECT 1 FROM conversation_members cm WHERE cm.conversation_id = messages.conversation_id \
             AND cm.user_id <> messages.sender_id) \
             AND NOT EXISTS (SELECT 1 FROM conversation_members cm WHERE cm.conversation_id = messages.conversation_id \
             AND cm.user_id <> messages.sender_id AND cm.read_seq < messages.seq) \
             RETURNING id, conversation_id, seq, sender_id, created_at",
        )
        .bind(id)
        .bind(read_seq)
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        let members = member_ids_on(&mut tx, id).await?;
        tx.commit().await?;
        let read: Vec<StatusChange> = read_rows
            .iter()
            .map(|r| change_from_row(r, MessageStatus::Read))
            .collect::<Result<_, _>>()?;
        // Report each message once, at its highest new status.
        let mut changes: Vec<StatusChange> = delivered
            .into_iter()
            .filter(|d| !read.iter().any(|r| r.message_id == d.message_id))
            .collect();
        changes.extend(read);
        self.observe("leave_conversation", t);
        Ok(LeaveOutcome::Left {
            members,
            changes,
            removed_records: removed.len() as u64,
        })
    }

    async fn is_member(&self, id: ConversationId, user: UserId) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM conversation_members WHERE conversation_id = ? AND user_id = ?",
        )
        .bind(id)
        .bind(user)
        .fetch_one(&self.read)
        .await?;
        Ok(n > 0)
    }

    async fn member_ids(&self, id: ConversationId) -> StoreResult<Vec<UserId>> {
        let mut conn = self.read.acquire().await?;
        Ok(member_ids_on(&mut conn, id).await?)
    }

    async fn write_batch(
        &self,
        batch: &[NewMessage],
        acks: &[(UserId, Vec<MessageId>)],
        now: i64,
    ) -> StoreResult<(Vec<InsertOutcome>, Vec<AckOutcome>)> {
        let t = Instant::now();
        let mut tx = self.write.begin().await?;
        let sent = super::sqlite_batch::insert_batch_on(&mut tx, batch, now).await?;
        let acked = if acks.is_empty() {
            Vec::new()
        } else {
            super::sqlite_batch::acknowledge_batch_on(&mut tx, acks, now).await?
        };
        tx.commit().await?;
        self.observe("write_batch", t);
        Ok((sent, acked))
    }

    async fn history(
        &self,
        id: ConversationId,
        before: Option<Seq>,
        limit: i64,
    ) -> StoreResult<(Vec<Message>, bool)> {
        let t = Instant::now();
        let rows = sqlx::query(&format!(
            "SELECT {MSG_COLS} WHERE m.conversation_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?"
        ))
        .bind(id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        let mut messages: Vec<Message> = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()?;
        messages.reverse();
        // Seqs are gap-free from 1, so older messages exist exactly when the first seq is above 1.
        let has_more = messages.first().map(|m| m.seq > 1).unwrap_or(false);
        self.observe("history", t);
        Ok((messages, has_more))
    }

    async fn messages_after(
        &self,
        id: ConversationId,
        after: Seq,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let t = Instant::now();
        let rows = sqlx::query(&format!(
            "SELECT {MSG_COLS} WHERE m.conversation_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?"
        ))
        .bind(id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        self.observe("messages_after", t);
        Ok(rows
            .iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn recalled_since(&self, id: ConversationId, since: i64) -> StoreResult<Vec<Message>> {
        let rows = sqlx::query(&format!(
            "SELECT {MSG_COLS} WHERE m.conversation_id = ? AND m.recalled_at IS NOT NULL AND m.recalled_at >= ? ORDER BY m.seq"
        ))
        .bind(id)
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let row = sqlx::query(&format!("SELECT {MSG_COLS} WHERE m.id = ?"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    async fn receipts(&self, id: MessageId) -> StoreResult<Option<MessageReceipts>> {
        let Some(message) = self.message(id).await? else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT cm.user_id, u.display_name, cm.read_seq, r.push_status FROM conversation_members cm \
             JOIN users u ON u.id = cm.user_id \
             LEFT JOIN message_push_records r ON r.message_id = ? AND r.user_id = cm.user_id AND r.kind = 0 \
             WHERE cm.conversation_id = ? AND cm.user_id <> ? ORDER BY cm.user_id",
        )
        .bind(id)
        .bind(message.conversation_id)
        .bind(message.sender_id)
        .fetch_all(&self.read)
        .await?;
        let mut members = Vec::with_capacity(rows.len());
        for r in &rows {
            let push_status: Option<i64> = r.try_get("push_status")?;
            let read = r.try_get::<i64, _>("read_seq")? >= message.seq;
            let push_status = push_status.map(PushStatus::from_i64);
            members.push(MemberReceipt {
                user_id: r.try_get("user_id")?,
                display_name: r.try_get("display_name")?,
                // A cleaned-up record (None) was pushed before the cleanup removed it.
                delivered: read || matches!(push_status, Some(PushStatus::Pushed) | None),
                read,
                push_status,
            });
        }
        Ok(Some(MessageReceipts {
            message_id: id,
            status: message.status,
            members,
        }))
    }

    async fn waiting_for(
        &self,
        user: UserId,
        after: MessageId,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let t = Instant::now();
        let rows = sqlx::query(&format!(
            "SELECT {MSG_COLS} WHERE m.id IN (SELECT DISTINCT r.message_id FROM message_push_records r \
             WHERE r.user_id = ? AND r.push_status <> 1 AND r.message_id > ? ORDER BY r.message_id LIMIT ?) ORDER BY m.id"
        ))
        .bind(user)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        self.observe("waiting_for", t);
        Ok(rows
            .iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn waiting_count(&self, user: UserId) -> StoreResult<i64> {
        let t = Instant::now();
        // Messages, not records: a message and its recall event count once.
        let n = sqlx::query_scalar("SELECT COUNT(DISTINCT message_id) FROM message_push_records WHERE user_id = ? AND push_status <> 1")
            .bind(user)
            .fetch_one(&self.read)
            .await?;
        self.observe("waiting_count", t);
        Ok(n)
    }

    async fn mark_failed(
        &self,
        user: UserId,
        message_ids: &[MessageId],
        error: &str,
        now: i64,
        max_retries: i64,
        backoff: &(dyn Fn(i64) -> i64 + Sync),
    ) -> StoreResult<u64> {
        let mut tx = self.write.begin().await?;
        let mut n = 0;
        for id in message_ids {
            let rows = sqlx::query("SELECT id, retry_count FROM message_push_records WHERE user_id = ? AND message_id = ? AND push_status <> 1")
                .bind(user)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            for r in rows {
                let record: i64 = r.try_get("id")?;
                let attempts = r.try_get::<i64, _>("retry_count")? + 1;
                // Terminal after max_retries attempts: no next retry (still replayed on connect).
                let next = (attempts < max_retries).then(|| now + backoff(attempts));
                sqlx::query(
                    "UPDATE message_push_records SET push_status = 2, retry_count = ?, error_message = ?, \
                     update_time = ?, next_retry_at = ? WHERE id = ?",
                )
                .bind(attempts)
                .bind(error)
                .bind(now)
                .bind(next)
                .bind(record)
                .execute(&mut *tx)
                .await?;
                n += 1;
            }
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn mark_read(
        &self,
        id: ConversationId,
        user: UserId,
        seq: Seq,
        now: i64,
    ) -> StoreResult<Option<ReadOutcome>> {
        let t = Instant::now();
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "SELECT c.last_seq, cm.read_seq FROM conversations c JOIN conversation_members cm \
             ON cm.conversation_id = c.id AND cm.user_id = ? WHERE c.id = ?",
        )
        .bind(user)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let last_seq: i64 = row.try_get("last_seq")?;
        let old: i64 = row.try_get("read_seq")?;
        let new = seq.clamp(0, last_seq);
        let members = member_ids_on(&mut tx, id).await?;
        if new <= old {
            return Ok(Some(ReadOutcome {
                position: ReadPosition {
                    conversation_id: id,
                    user_id: user,
                    read_seq: old,
                },
                moved: false,
                members,
                changes: Vec::new(),
                acknowledged: 0,
            }));
        }
        sqlx::query("UPDATE conversation_members SET read_seq = ? WHERE conversation_id = ? AND user_id = ?")
            .bind(new)
            .bind(id)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        // Reading implies the messages reached a device: acknowledge them too.
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT r.message_id FROM message_push_records r JOIN messages m ON m.id = r.message_id \
             WHERE r.user_id = ? AND r.push_status <> 1 AND m.conversation_id = ? AND m.seq <= ?",
        )
        .bind(user)
        .bind(id)
        .bind(new)
        .fetch_all(&mut *tx)
        .await?;
        let ack = acknowledge_on(&mut tx, user, &ids, now).await?;
        let read_rows = sqlx::query(
            "UPDATE messages SET status = 2 WHERE conversation_id = ? AND seq > ? AND seq <= ? AND sender_id <> ? \
             AND status < 2 AND NOT EXISTS (SELECT 1 FROM conversation_members cm WHERE cm.conversation_id = messages.conversation_id \
             AND cm.user_id <> messages.sender_id AND cm.read_seq < messages.seq) \
             RETURNING id, conversation_id, seq, sender_id, created_at",
        )
        .bind(id)
        .bind(old)
        .bind(new)
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let read: Vec<StatusChange> = read_rows
            .iter()
            .map(|r| change_from_row(r, MessageStatus::Read))
            .collect::<Result<_, _>>()?;
        // Report each message once, at its highest new status.
        let mut changes: Vec<StatusChange> = ack
            .delivered
            .into_iter()
            .filter(|d| !read.iter().any(|r| r.message_id == d.message_id))
            .collect();
        changes.extend(read);
        self.observe("mark_read", t);
        Ok(Some(ReadOutcome {
            position: ReadPosition {
                conversation_id: id,
                user_id: user,
                read_seq: new,
            },
            moved: true,
            members,
            changes,
            acknowledged: ack.acknowledged,
        }))
    }

    async fn waiting_conversations(&self, user: UserId) -> StoreResult<Vec<(ConversationId, Seq)>> {
        let rows = sqlx::query(
            "SELECT m.conversation_id, MAX(m.seq) AS seq FROM message_push_records r JOIN messages m ON m.id = r.message_id \
             WHERE r.user_id = ? AND r.push_status <> 1 GROUP BY m.conversation_id",
        )
        .bind(user)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("conversation_id")?, r.try_get("seq")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn recall(
        &self,
        id: MessageId,
        by: UserId,
        window_ms: i64,
        now: i64,
    ) -> StoreResult<RecallOutcome> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(&format!("SELECT {MSG_COLS} WHERE m.id = ?"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(RecallOutcome::NotFound);
        };
        let message = message_from_row(&row)?;
        let members = member_ids_on(&mut tx, message.conversation_id).await?;
        if !members.contains(&by) {
            return Ok(RecallOutcome::NotFound);
        }
        if message.sender_id != by {
            return Ok(RecallOutcome::NotSender);
        }
        if message.recalled {
            return Ok(RecallOutcome::AlreadyRecalled { message });
        }
        if now - message.created_at > window_ms {
            return Ok(RecallOutcome::WindowPassed);
        }
        // The content is erased, not hidden: recalled text is never served again.
        sqlx::query("UPDATE messages SET recalled_at = ?, content = '' WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO message_push_records (message_id, user_id, kind, push_status, create_time, update_time) \
             SELECT ?, user_id, 1, 0, ?, ? FROM conversation_members WHERE conversation_id = ? AND user_id <> ? \
             ON CONFLICT (message_id, user_id, kind) DO NOTHING",
        )
        .bind(id)
        .bind(now)
        .bind(now)
        .bind(message.conversation_id)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // The old text still sits in WAL frames until they are checkpointed and the WAL is
        // truncated; do that now so a recall scrubs the disk (backups taken earlier keep it).
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.write)
            .await
        {
            Ok((0, _, _)) => {}
            Ok(_) => tracing::warn!(message = id, "WAL checkpoint after a recall was blocked by readers; the next checkpoint scrubs it"),
            Err(e) => tracing::warn!(message = id, error = %e, "WAL checkpoint after a recall failed"),
        }
        let message = Message {
            content: None,
            recalled: true,
            recalled_at: Some(now),
            ..message
        };
        Ok(RecallOutcome::Recalled { message, members })
    }

    async fn due_retries(
        &self,
        now: i64,
        max_retries: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueRetry>> {
        let rows = sqlx::query(
            "SELECT id, message_id, user_id, kind, retry_count FROM message_push_records WHERE push_status = 2 \
             AND next_retry_at IS NOT NULL AND next_retry_at <= ? AND retry_count < ? ORDER BY next_retry_at, id LIMIT ?",
        )
        .bind(now)
        .bind(max_retries)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueRetry {
                    record_id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    user_id: r.try_get("user_id")?,
                    kind: r.try_get("kind")?,
                    retry_count: r.try_get("retry_count")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    async fn postpone_retry(
        &self,
        record_id: i64,
        error: &str,
        now: i64,
        max_retries: i64,
        next_retry_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE message_push_records SET retry_count = retry_count + 1, error_message = ?, update_time = ?, \
             next_retry_at = CASE WHEN retry_count + 1 >= ? THEN NULL ELSE ? END WHERE id = ? AND push_status = 2",
        )
        .bind(error)
        .bind(now)
        .bind(max_retries)
        .bind(next_retry_at)
        .bind(record_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn mark_retrying(&self, record_id: i64, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE message_push_records SET push_status = 0, push_time = ?, update_time = ?, next_retry_at = NULL \
             WHERE id = ? AND push_status = 2",
        )
        .bind(now)
        .bind(now)
        .bind(record_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn cleanup_pushed(&self, before: i64) -> StoreResult<u64> {
        let t = Instant::now();
        let mut total = 0;
        // In chunks, so a huge cleanup never holds the writer for long.
        loop {
            let n = sqlx::query(
                "DELETE FROM message_push_records WHERE id IN (SELECT id FROM message_push_records \
                 WHERE push_status = 1 AND update_time < ? LIMIT 5000)",
            )
            .bind(before)
            .execute(&self.write)
            .await?
            .rows_affected();
            total += n;
            if n < 5000 {
                break;
            }
        }
        self.observe("cleanup_pushed", t);
        Ok(total)
    }

    async fn push_stats(&self) -> StoreResult<PushStats> {
        let rows = sqlx::query(
            "SELECT push_status, COUNT(*) AS n FROM message_push_records GROUP BY push_status",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(stats_from_rows(&rows)?)
    }

    async fn push_stats_for_recipient(&self, user: UserId) -> StoreResult<PushStats> {
        let rows = sqlx::query(
            "SELECT push_status, COUNT(*) AS n FROM message_push_records WHERE user_id = ? GROUP BY push_status",
        )
        .bind(user)
        .fetch_all(&self.read)
        .await?;
        Ok(stats_from_rows(&rows)?)
    }

    async fn push_stats_for_sender(&self, user: UserId) -> StoreResult<PushStats> {
        let rows = sqlx::query(
            "SELECT r.push_status, COUNT(*) AS n FROM message_push_records r JOIN messages m ON m.id = r.message_id \
             WHERE m.sender_id = ? GROUP BY r.push_status",
        )
        .bind(user)
        .fetch_all(&self.read)
        .await?;
        Ok(stats_from_rows(&rows)?)
    }

    async fn recent_records_for_sender(
        &self,
        user: UserId,
        limit: i64,
    ) -> StoreResult<Vec<PushRecord>> {
        let rows = sqlx::query(
            "SELECT r.id, r.message_id, r.user_id, r.push_status, r.retry_count, r.push_time, r.error_message, \
             r.create_time, r.update_time FROM message_push_records r JOIN messages m ON m.id = r.message_id \
             WHERE m.sender_id = ? AND r.kind = 0 ORDER BY r.id DESC LIMIT ?",
        )
        .bind(user)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PushRecord {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    user_id: r.try_get("user_id")?,
                    push_status: PushStatus::from_i64(r.try_get("push_status")?),
                    retry_count: r.try_get("retry_count")?,
                    push_time: r.try_get("push_time")?,
                    error_message: r.try_get("error_message")?,
                    create_time: r.try_get("create_time")?,
                    update_time: r.try_get("update_time")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

/// One conversation row as `viewer` (a member: the row carries their `read_seq`) sees it.
async fn load_conversation(
    conn: &mut SqliteConnection,
    row: &SqliteRow,
    viewer: UserId,
) -> Result<Conversation, sqlx::Error> {
    let mut conv = load_shared(conn, row).await?;
    let read_seq: i64 = row.try_get("read_seq")?;
    // Derived, never incremented: others' messages after my read position, not recalled.
    let unread: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE conversation_id = ? AND seq > ? AND sender_id <> ? AND recalled_at IS NULL",
    )
    .bind(conv.id)
    .bind(read_seq)
    .bind(viewer)
    .fetch_one(&mut *conn)
    .await?;
    Viewer {
        user_id: viewer,
        read_seq,
        unread,
    }
    .apply(&mut conv);
    Ok(conv)
}

/// The viewer-independent part of one conversation row (`id, kind, title, last_seq,
/// created_at, updated_at`): members with their positions, and the last message. Three
/// statements, whatever the number of members.
async fn load_shared(
    conn: &mut SqliteConnection,
    row: &SqliteRow,
) -> Result<Conversation, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    let last_seq: i64 = row.try_get("last_seq")?;
    let kind = if row.try_get::<String, _>("kind")? == "group" {
        ConversationKind::Group
    } else {
        ConversationKind::Direct
    };
    let member_rows = sqlx::query(
        "SELECT cm.user_id, u.username, u.display_name, cm.read_seq FROM conversation_members cm \
         JOIN users u ON u.id = cm.user_id WHERE cm.conversation_id = ? ORDER BY cm.user_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    // Delivered up to just below the oldest message still waiting for each member: one
    // grouped query for all members (members with nothing waiting have no row).
    let waiting_rows = sqlx::query(
        "SELECT r.user_id, MIN(m.seq) AS oldest FROM message_push_records r JOIN messages m ON m.id = r.message_id \
         WHERE m.conversation_id = ? AND r.push_status <> 1 AND r.kind = 0 GROUP BY r.user_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut oldest_waiting = std::collections::HashMap::with_capacity(waiting_rows.len());
    for w in &waiting_rows {
        oldest_waiting.insert(
            w.try_get::<i64, _>("user_id")?,
            w.try_get::<i64, _>("oldest")?,
        );
    }
    let mut members = Vec::with_capacity(member_rows.len());
    for m in &member_rows {
        let user_id: i64 = m.try_get("user_id")?;
        members.push(Member {
            user_id,
            username: m.try_get("username")?,
            display_name: m.try_get("display_name")?,
            read_seq: m.try_get("read_seq")?,
            delivered_seq: oldest_waiting
                .get(&user_id)
                .map(|s| s - 1)
                .unwrap_or(last_seq),
        });
    }
    let last_message = if last_seq > 0 {
        sqlx::query(&format!(
            "SELECT {MSG_COLS} WHERE m.conversation_id = ? AND m.seq = ?"
        ))
        .bind(id)
        .bind(last_seq)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(message_from_row)
        .transpose()?
    } else {
        None
    };
    Ok(Conversation {
        id,
        kind,
        title: match kind {
            ConversationKind::Group => row.try_get("title")?,
            ConversationKind::Direct => String::new(),
        },
        members,
        last_seq,
        last_message,
        read_seq: 0,
        unread: 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
