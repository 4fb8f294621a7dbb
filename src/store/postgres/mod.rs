//! The PostgreSQL backend: for operators who outgrow one machine (and, with [4/6], for several
//! Courier nodes sharing one database).
//!
//! Unlike SQLite there is no single writer here: any number of connections — of this node and
//! of others — write at once. So every read-decide-write below either lets the database decide
//! (`INSERT … ON CONFLICT DO NOTHING`) or first locks the rows it decides on, always in one
//! order: a conversation row before anything else, then push records, then messages, each set
//! in id order. A transaction PostgreSQL still aborts (deadlock victim, serialization failure)
//! is run again from the start by [`in_transaction!`], so neither reaches a client.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{
    Conversation, ConversationId, MemberReceipt, Message, MessageId, MessageReceipts,
    MessageStatus, PushRecord, PushStats, PushStatus, ReadPosition, Seq, User, UserId,
};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{FromRow, PgConnection, PgPool, Row};

mod accounts;
mod batch;
mod changes;
mod conversations;
mod ledger;
mod messages;

use super::accounts::operator_list_diff;
use super::error::StoreResult;
use super::rows::{
    last_message_keys, push_stats, pushed, shared_conversations, ChangeRow, ConversationMemberRow,
    ConversationRow, DueRetryRow, MessageRow, RecordRow, RecordStatus, StoredStatus, UserRow,
    ViewedRow,
};
use super::rules::{DELIVERED, READ, SENDER_IS_MEMBER};
use super::sql::{self, MSG_COLS};
use super::{
    AccountStore, AckOutcome, ConversationStore, ConversationViews, DueRetry, LeaveOutcome,
    LedgerStore, MessageStore, NewMessage, OperatorGrant, OperatorListChanges, ReadOutcome,
    StalePush, StatusChange, Viewer,
};
use crate::config::DatabaseUrl;
use crate::telemetry::Metrics;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How often a transaction PostgreSQL aborted as a deadlock victim or serialization failure
/// is run again before the error is returned.
pub(crate) const TX_ATTEMPTS: u32 = 8;

/// True for the errors after which running the whole transaction again is correct and likely
/// to succeed: `40001` serialization_failure and `40P01` deadlock_detected.
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    matches!(
        e.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("40001" | "40P01")
    )
}

/// Runs `$body` (an expression of type `Result<T, sqlx::Error>` that uses `$tx`, a
/// transaction on `$pool`) and commits; from the start again when PostgreSQL aborted it as a
/// deadlock victim or serialization failure (a rolled-back attempt left nothing behind).
macro_rules! in_transaction {
    ($pool:expr, |$tx:ident| $body:expr) => {{
        let mut attempt: u32 = 1;
        loop {
            let mut $tx = $pool.begin().await?;
            let result: Result<_, sqlx::Error> = async { $body }.await;
            let result = match result {
                Ok(v) => $tx.commit().await.map(|()| v),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if super::is_retryable(&e) && attempt < super::TX_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "transaction aborted by PostgreSQL; running it again");
                    // A little jitter, so two victims of the same conflict do not meet again.
                    let pause = 1 + (std::process::id() as u64 + attempt as u64 * 7) % 5;
                    tokio::time::sleep(std::time::Duration::from_millis(pause * attempt as u64)).await;
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use in_transaction;

pub struct PgStore {
    pool: PgPool,
    metrics: Arc<Metrics>,
}

impl PgStore {
    /// Connects, checks the server answers, and migrates (concurrent starts of several nodes
    /// are safe: the migrator holds an advisory lock). Errors are one line without the password.
    pub async fn connect(
        url: &DatabaseUrl,
        max_connections: u32,
        metrics: Arc<Metrics>,
    ) -> Result<PgStore, String> {
        let shown = url.redacted();
        let options = PgConnectOptions::from_str(url.as_str())
            .map_err(|e| {
                format!(
                    "invalid DATABASE_URL {shown}: {}",
                    redact_in(&e.to_string(), url)
                )
            })?
            .application_name("courier")
            .statement_cache_capacity(256);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| {
                format!(
                    "cannot connect to PostgreSQL at DATABASE_URL {shown}: {} (is the server running, and are the address, user and password right?)",
                    redact_in(&e.to_string(), url)
                )
            })?;
        MIGRATOR.run(&pool).await.map_err(|e| {
            format!(
                "database migration failed on {shown}: {}",
                redact_in(&e.to_string(), url)
            )
        })?;
        Ok(PgStore { pool, metrics })
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

/// `text` with the URL's password (if it appears) replaced, for driver messages that might echo it.
fn redact_in(text: &str, url: &DatabaseUrl) -> String {
    let password = url
        .as_str()
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, pw)| pw)
        .filter(|pw| !pw.is_empty());
    match password {
        Some(pw) => text.replace(pw, "***"),
        None => text.to_string(),
    }
}

/// The shared statements' list test (store/sql.rs): the ids are bound as one array.
macro_rules! in_list {
    ($n:literal) => {
        concat!("= ANY(", $n, ")")
    };
}
pub(crate) use in_list;

/// The shared statements' name test (store/sql.rs): the unique index is on `lower(username)`.
macro_rules! name_is {
    ($n:literal) => {
        concat!("lower(username) = lower(", $n, ")")
    };
}
pub(crate) use name_is;

pub(crate) fn message_from_row(row: &PgRow) -> Result<Message, sqlx::Error> {
    MessageRow::from_row(row).map(Message::from)
}

fn user_from_row(row: &PgRow) -> Result<User, sqlx::Error> {
    UserRow::from_row(row).map(User::from)
}

fn change_from_row(row: &PgRow, status: MessageStatus) -> Result<StatusChange, sqlx::Error> {
    ChangeRow::from_row(row).map(|c| c.to(status))
}

async fn member_ids_on(
    conn: &mut PgConnection,
    id: ConversationId,
) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar(sql::MEMBER_IDS)
        .bind(id)
        .fetch_all(conn)
        .await
}

/// Marks `user`'s records for `ids` pushed and returns the messages that became delivered.
async fn acknowledge_on(
    conn: &mut PgConnection,
    user: UserId,
    ids: &[MessageId],
    now: i64,
) -> Result<AckOutcome, sqlx::Error> {
    let mut out = batch::acknowledge_batch_on(conn, &[(user, ids.to_vec())], now).await?;
    Ok(out.pop().unwrap_or_default())
}

/// Locks the conversation row: read positions, membership and status rules of one
/// conversation change one transaction at a time (sends lock it too), so two members reading
/// at once on two nodes cannot each miss the other's position.
async fn lock_conversation(conn: &mut PgConnection, id: ConversationId) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT id FROM conversations WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(())
}

/// A member's place in a conversation: `None` if the conversation does not exist or `user` is
/// not a member.
pub(crate) struct Membership {
    pub is_group: bool,
    pub last_seq: Seq,
    pub read_seq: Seq,
}

/// The member's place, read after [`lock_conversation`] so it cannot change until commit.
pub(crate) async fn membership_on(
    conn: &mut PgConnection,
    id: ConversationId,
    user: UserId,
) -> Result<Option<Membership>, sqlx::Error> {
    lock_conversation(conn, id).await?;
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

/// Moves the messages among `ids` that are delivered by the rule ([`DELIVERED`]: recipients'
/// records exist and all are acknowledged) to delivered — unless their sender left the
/// conversation (nobody is left to be told; see [`SENDER_IS_MEMBER`]).
///
/// The messages are locked (in id order) by a statement of their own first: two nodes
/// acknowledging the last two records of one message at once each commit their own record,
/// and the second to take the lock then sees both — in one statement neither would.
pub(crate) async fn mark_delivered_on(
    conn: &mut PgConnection,
    ids: &[MessageId],
) -> Result<Vec<StatusChange>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let locked: Vec<MessageId> = sqlx::query_scalar(
        "SELECT id FROM messages WHERE id = ANY($1) AND status < $2 ORDER BY id FOR UPDATE",
    )
    .bind(ids)
    .bind(StoredStatus::Delivered)
    .fetch_all(&mut *conn)
    .await?;
    if locked.is_empty() {
        return Ok(Vec::new());
    }
    // Not a prepared statement: planned on every run for its own ids and the tables' current size.
    // A generic plan cached while the tables were nearly empty (a new database) made this the
    // slowest statement of the hot path until autoanalyze (send p99 54–66 ms instead of 11 ms
    // within 20 s of a fresh start; docs/BENCHMARKS.md).
    let rows = sqlx::query(&format!(
        "UPDATE messages SET status = $1 WHERE id = ANY($2) AND status < $1 \
         AND {DELIVERED} AND {SENDER_IS_MEMBER} \
         RETURNING id, conversation_id, seq, sender_id, created_at"
    ))
    .persistent(false)
    .bind(StoredStatus::Delivered)
    .bind(&locked)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| change_from_row(r, MessageStatus::Delivered))
        .collect()
}

/// Moves the messages of `conversation` with `after < seq <= up_to` not sent by `reader` that
/// are read by the rule ([`READ`]: every other member's position is at or past them) to read
/// (unless their sender left). Callers hold the conversation's lock ([`membership_on`]).
pub(crate) async fn mark_read_on(
    conn: &mut PgConnection,
    conversation: ConversationId,
    after: Seq,
    up_to: Option<Seq>,
    reader: UserId,
) -> Result<Vec<StatusChange>, sqlx::Error> {
    // The rows are locked in id order first, like every other status change.
    let locked: Vec<MessageId> = sqlx::query_scalar(
        "SELECT id FROM messages WHERE conversation_id = $1 AND seq > $2 AND seq <= $3 \
         AND sender_id <> $4 AND status < $5 ORDER BY id FOR UPDATE",
    )
    .bind(conversation)
    .bind(after)
    .bind(up_to.unwrap_or(Seq::MAX))
    .bind(reader)
    .bind(StoredStatus::Read)
    .fetch_all(&mut *conn)
    .await?;
    if locked.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(&format!(
        "UPDATE messages SET status = $1 WHERE id = ANY($2) AND status < $1 AND {SENDER_IS_MEMBER} AND {READ} \
         RETURNING id, conversation_id, seq, sender_id, created_at"
    ))
    .bind(StoredStatus::Read)
    .bind(&locked)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| change_from_row(r, MessageStatus::Read))
        .collect()
}

/// The conversation rows `rows` as their member sees them, in their order: [`load_shared`] for
/// all of them, then each row's own fields. Returns the number of statements run too.
async fn load_viewed(
    conn: &mut PgConnection,
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

/// The viewer-independent part of the conversation rows `rows` (`id, kind, title, last_seq,
/// last_rev, created_at, updated_at`), in their order: members with their positions, and the
/// last message. At most three statements whatever the number of conversations and members
/// (none for no rows, two when none has a message); the ids go in as arrays. Returns the
/// number of statements run too.
async fn load_shared(
    conn: &mut PgConnection,
    rows: Vec<ConversationRow>,
) -> Result<(Vec<Conversation>, u64), sqlx::Error> {
    if rows.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let mut statements = 0;
    let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
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
    let (with_messages, last_seqs): (Vec<i64>, Vec<i64>) =
        last_message_keys(&rows).into_iter().unzip();
    let mut last_messages = Vec::new();
    if !with_messages.is_empty() {
        last_messages = sqlx::query(&format!(
            "SELECT {MSG_COLS} WHERE (m.conversation_id, m.seq) IN \
             (SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[]))"
        ))
        .bind(&with_messages)
        .bind(&last_seqs)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_messages_lose_the_password() {
        let url: DatabaseUrl = "postgres://courier:s3cret@db.internal:5432/chat".into();
        assert_eq!(
            redact_in("password authentication failed for s3cret", &url),
            "password authentication failed for ***"
        );
        let no_pw: DatabaseUrl = "postgres://courier@db/chat".into();
        assert_eq!(redact_in("refused", &no_pw), "refused");
    }
}
