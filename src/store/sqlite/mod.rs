//! The SQLite backend (the embedded default). WAL mode, foreign keys on.
//!
//! Two pools: many readers, and ONE writer connection. Every write goes through the writer, so
//! writers never contend for SQLite's lock (no SQLITE_BUSY between our own writes), and the
//! delivery engine's batched inserts commit many sends per fsync.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{
    Conversation, ConversationId, MemberReceipt, Message, MessageId, MessageReceipts,
    MessageStatus, PushRecord, PushStats, PushStatus, ReadPosition, Seq, User, UserId,
};
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{
    ConnectOptions, Connection, FromRow, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool,
};

mod accounts;
mod batch;
mod changes;
mod conversations;
mod direct;
mod ledger;
mod messages;

use super::accounts::operator_list_diff;
use super::error::{StoreError, StoreResult};
use super::rows::{
    last_message_keys, push_stats, pushed, shared_conversations, ChangeRow, ConversationMemberRow,
    ConversationRow, DueRetryRow, MessageRow, RecordRow, RecordStatus, StoredStatus, UserRow,
    ViewedRow,
};
use super::rules::{READ, SENDER_IS_MEMBER};
use super::sql::{self, MSG_COLS};
use super::{
    AccountStore, AckOutcome, ConversationStore, ConversationViews, DueRetry, InsertOutcome,
    LeaveOutcome, LedgerStore, MessageStore, NewMessage, OperatorGrant, OperatorListChanges,
    ReadOutcome, StalePush, StatusChange, Viewer,
};
use crate::telemetry::Metrics;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    read: SqlitePool,
    write: tokio::sync::Mutex<direct::Writer>,
    metrics: Arc<Metrics>,
    /// A search indexed messages without merging index segments (store/sqlite/messages): the
    /// background job owes a merge step even if it finds no backlog.
    merge_due: std::sync::atomic::AtomicBool,
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
            // Freed space inside pages that are written anyway is zeroed (no extra I/O, unlike
            // `on`). A recall also overwrites the text in place first and checkpoints the WAL,
            // so recalled text is not left in the files (see `recall`).
            .pragma("secure_delete", "fast");
        let path = options.get_filename().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create the database folder {}: {e}", dir.display()))?;
        }
        options = options.statement_cache_capacity(256);
        // The one writer: a connection of its own, not a pool's (store/sqlite/direct.rs).
        let mut write = options.connect().await.map_err(|e| {
            format!(
                "cannot open the database {}: {e} (check DATABASE_URL)",
                path.display()
            )
        })?;
        MIGRATOR
            .run(&mut write)
            .await
            .map_err(|e| format!("database migration failed on {}: {e}", path.display()))?;
        // No ping before each acquire (sqlx's default): the connection lives in this process and
        // cannot have been hung up on, and the ping is one more round trip to its worker thread
        // in front of every transaction and every read.
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
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
            write: tokio::sync::Mutex::new(direct::Writer::new(write)),
            metrics,
            merge_due: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The writer connection, for this task alone until the guard drops.
    async fn writer(&self) -> tokio::sync::MutexGuard<'_, direct::Writer> {
        self.write.lock().await
    }

    fn observe(&self, op: &'static str, started: Instant) {
        self.metrics.observe_db(op, started.elapsed());
    }

    /// Like [`Self::observe`], and counts the `statements` the call ran.
    fn observe_counted(&self, op: &'static str, started: Instant, statements: u64) {
        self.metrics.count_db_statements(op, statements);
        self.observe(op, started);
    }
}

pub(crate) fn message_from_row(row: &SqliteRow) -> Result<Message, sqlx::Error> {
    MessageRow::from_row(row).map(Message::from)
}

fn user_from_row(row: &SqliteRow) -> Result<User, sqlx::Error> {
    UserRow::from_row(row).map(User::from)
}

fn change_from_row(row: &SqliteRow, status: MessageStatus) -> Result<StatusChange, sqlx::Error> {
    ChangeRow::from_row(row).map(|c| c.to(status))
}

async fn member_ids_on(
    conn: &mut SqliteConnection,
    id: ConversationId,
) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar(sql::MEMBER_IDS)
        .bind(id)
        .fetch_all(conn)
        .await
}

/// Marks `user`'s records for `ids` pushed and returns the messages that became delivered.
async fn acknowledge_on(
    conn: &mut SqliteConnection,
    direct: &mut Option<rusqlite::Connection>,
    user: UserId,
    ids: &[MessageId],
    now: i64,
) -> StoreResult<AckOutcome> {
    let jobs = [(user, ids.to_vec())];
    let mut out =
        direct::run_direct(conn, direct, |c| batch::acknowledge_batch(c, &jobs, now)).await?;
    Ok(out.pop().unwrap_or_default())
}

/// A member's place in a conversation: `None` if the conversation does not exist or `user` is
/// not a member.
pub(crate) struct Membership {
    pub is_group: bool,
    pub last_seq: Seq,
    pub read_seq: Seq,
}

pub(crate) async fn membership_on(
    conn: &mut SqliteConnection,
    id: ConversationId,
    user: UserId,
) -> Result<Option<Membership>, sqlx::Error> {
    let row = sqlx::query(sql::MEMBERSHIP)
        .bind(user)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(Membership {
            is_group: r.try_get::<String, _>("kind")? == "group",
            last_seq: r.try_get("last_seq")?,
            read_seq: r.try_get("read_seq")?,
        })
    })
    .transpose()
}

/// Moves the messages of `conversation` with `after < seq <= up_to` not sent by `reader` that
/// are read by the rule ([`READ`]: every other member's position is at or past them) to read
/// (unless their sender left).
pub(crate) async fn mark_read_on(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    after: Seq,
    up_to: Option<Seq>,
    reader: UserId,
) -> Result<Vec<StatusChange>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "UPDATE messages SET status = ? WHERE conversation_id = ? AND seq > ? AND seq <= ? AND sender_id <> ? \
         AND status < ? AND {SENDER_IS_MEMBER} AND {READ} \
         RETURNING id, conversation_id, seq, sender_id, created_at"
    ))
    .bind(StoredStatus::Read)
    .bind(conversation)
    .bind(after)
    .bind(up_to.unwrap_or(Seq::MAX))
    .bind(reader)
    .bind(StoredStatus::Read)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| change_from_row(r, MessageStatus::Read))
        .collect()
}

/// The conversation rows `rows` as their member sees them, in their order: [`load_shared`] for
/// all of them, then each row's own fields. Returns the number of statements run too.
async fn load_viewed(
    conn: &mut SqliteConnection,
    rows: Vec<ViewedRow>,
) -> Result<(Vec<Conversation>, u64), sqlx::Error> {
    let (conversations, viewers): (Vec<_>, Vec<_>) =
        rows.into_iter().map(|r| (r.conversation, r.viewer)).unzip();
    let (mut out, statements) = load_shared(conn, conversations).await?;
    for (conv, v) in out.iter_mut().zip(&viewers) {
        v.apply(conv);
    }
    Ok((out, statements))
}

/// The shared statements' list test (store/sql.rs): the ids are bound as one [`json_array`].
macro_rules! in_list {
    ($n:literal) => {
        concat!("IN (SELECT value FROM json_each(", $n, "))")
    };
}
pub(crate) use in_list;

/// The shared statements' name test (store/sql.rs): `username` is `COLLATE NOCASE`.
macro_rules! name_is {
    ($n:literal) => {
        concat!("username = ", $n)
    };
}
pub(crate) use name_is;

/// A JSON array of `values`, bound as one parameter and read with `json_each`: a list of any
/// length in one statement (SQLite caps bound parameters at 32,766).
fn json_array<T: std::fmt::Display>(values: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = values.into_iter().map(|v| v.to_string()).collect();
    format!("[{}]", items.join(","))
}

/// The viewer-independent part of the conversation rows `rows` (`id, kind, title, last_seq,
/// last_rev, created_at, updated_at`), in their order: members with their positions, and the
/// last message. At most three statements whatever the number of conversations and members
/// (none for no rows, two when none has a message). Returns the number of statements run too.
async fn load_shared(
    conn: &mut SqliteConnection,
    rows: Vec<ConversationRow>,
) -> Result<(Vec<Conversation>, u64), sqlx::Error> {
    if rows.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let mut statements = 0;
    let ids = json_array(rows.iter().map(|c| c.id));
    let members: Vec<ConversationMemberRow> = sqlx::query_as(sql::members_of!(in_list!("$1")))
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    statements += 1;
    // Delivered up to just below the oldest message still waiting for each member: one
    // grouped query for all members of all the conversations (members with nothing waiting
    // have no row).
    let waiting: Vec<(i64, i64, i64)> = sqlx::query_as(sql::oldest_waiting_in!(in_list!("$1")))
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    statements += 1;
    // Each conversation's message at the `last_seq` its row says (not a later one sent since);
    // nothing to read when none has a message yet.
    let keys = last_message_keys(&rows);
    let mut last_messages = Vec::new();
    if !keys.is_empty() {
        let keys = json_array(keys.into_iter().map(|(id, seq)| format!("[{id},{seq}]")));
        last_messages = sqlx::query(&format!(
            "SELECT {MSG_COLS} WHERE (m.conversation_id, m.seq) IN \
             (SELECT j.value ->> 0, j.value ->> 1 FROM json_each(?) j)"
        ))
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(message_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        statements += 1;
    }
    Ok((
        shared_conversations(rows, members, waiting, last_messages),
        statements,
    ))
}
