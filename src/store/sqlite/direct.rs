//! The ONE writer connection, and the hot path that drives it directly.
//!
//! Through sqlx, every statement — and `BEGIN` and `COMMIT` — is a round trip to the
//! connection's worker thread: a channel send, a thread wake-up and a reply, about 45 µs each
//! on this kind of machine, nine of them for a batch of one send. That was most of what a send
//! cost above its fsync (docs/BENCHMARKS.md, "Latency: where a send's time goes"). For the hot
//! path, sqlx lends us its connection instead (`lock_handle`: one round trip, after which its
//! worker waits), and the whole transaction runs synchronously on the calling thread through
//! rusqlite, built on the very same `libsqlite3-sys`. It is still the one writer connection, so
//! nothing about the single-writer design changes.
//!
//! The rusqlite side keeps its prepared statements from batch to batch (preparing the batch's
//! statements afresh cost ~220 µs per batch, more than running them). That is why the writer is
//! owned here rather than borrowed from a pool: the statements belong to this very connection,
//! which no pool can close or replace under them.

use rusqlite::Connection;
use sqlx::SqliteConnection;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::store::error::StoreError;

/// Distinct statements kept prepared: a batch's statements differ by its size (one VALUES row
/// per send), so this holds the common sizes of every statement of the hot path.
const PREPARED_STATEMENTS: usize = 128;

/// The writer connection with the hot path's prepared statements. Taken through the store's
/// mutex, so one task at a time writes.
pub(crate) struct Writer {
    // Declared before `conn`, so it is dropped first: its statements are finalized before sqlx
    // closes the connection (SQLite refuses to close a connection with live statements).
    direct: Option<Connection>,
    pub(crate) conn: SqliteConnection,
}

impl Writer {
    pub(crate) fn new(conn: SqliteConnection) -> Writer {
        Writer { direct: None, conn }
    }

    /// Runs `work` in one go on the writer's own SQLite handle (see the module comment).
    pub(crate) async fn run_direct<T>(
        &mut self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send,
    ) -> Result<T, StoreError> {
        run_direct(&mut self.conn, &mut self.direct, work).await
    }

    /// The parts, for direct work inside a sqlx transaction open on the connection: begin the
    /// transaction on the first, and pass it with the second to [`run_direct`].
    pub(crate) fn split(&mut self) -> (&mut SqliteConnection, &mut Option<Connection>) {
        (&mut self.conn, &mut self.direct)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(direct) = self.direct.take() {
            // Finalizing statements is use of the connection: do it under sqlx's lock, like
            // everything else here. (sqlx's worker is its own thread, so blocking on it cannot
            // deadlock this one.) If the worker is gone, so is the connection: just let go.
            match futures_executor::block_on(self.conn.lock_handle()) {
                Ok(locked) => {
                    drop(direct);
                    drop(locked);
                }
                Err(_) => std::mem::forget(direct),
            }
        }
    }
}

/// Runs `work` on `conn`'s own SQLite handle, through `cache` — the rusqlite view of this same
/// connection, made on first use. `work` may open and end a transaction of its own, or run
/// inside a sqlx transaction already open on `conn`; either way it must leave the connection
/// as it found it (rusqlite's `Transaction` rolls back on drop, so an error or a panic leaves
/// no transaction open behind sqlx's back).
///
/// On a multi-threaded runtime the blocking work (a commit waits for an fsync) runs under
/// `block_in_place`, so the runtime moves its other tasks to another thread meanwhile; on a
/// current-thread runtime (tests) it simply runs in place.
pub(crate) async fn run_direct<T>(
    conn: &mut SqliteConnection,
    cache: &mut Option<Connection>,
    work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send,
) -> Result<T, StoreError> {
    let mut locked = conn.lock_handle().await?;
    let raw = locked.as_raw_handle();
    let run = move || {
        let direct = match cache {
            // A cache made on another connection would be a bug here; refuse it, never use it.
            Some(c) if unsafe { c.handle() } != raw.as_ptr() => {
                return Err(rusqlite::Error::InvalidParameterName(
                    "the writer's direct view belongs to another connection".into(),
                ));
            }
            Some(c) => c,
            None => {
                // SAFETY: `raw` is the handle of the connection `conn`, which the `Writer`
                // holding both `conn` and `cache` owns and drops after `cache`;
                // `from_handle` borrows the handle and never closes it. It is used only here,
                // while `locked` holds the connection exclusively (sqlx's worker thread waits
                // on that lock meanwhile).
                let c = unsafe { Connection::from_handle(raw.as_ptr()) }?;
                c.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
                cache.insert(c)
            }
        };
        work(direct)
    };
    let multi_threaded = Handle::try_current()
        .map(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
        .unwrap_or(false);
    let out = if multi_threaded {
        tokio::task::block_in_place(run)
    } else {
        run()
    };
    drop(locked);
    Ok(out?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::store::sqlite::SqliteStore;
    use crate::store::{AccountStore, ConversationStore, InsertOutcome, MessageStore, NewMessage};
    use crate::telemetry::Metrics;

    fn send(conversation_id: i64, sender_id: i64, id: &str, content: &str) -> NewMessage {
        NewMessage {
            conversation_id,
            sender_id,
            client_msg_id: id.into(),
            content: content.into(),
        }
    }

    /// A batch that fails half-way (here: a trigger aborts its INSERT) is rolled back whole, and
    /// the writer connection is left as it was: the next batch and the next sqlx transaction on
    /// it both commit. Without the rollback the connection would stay inside a transaction that
    /// sqlx knows nothing of, and every later write would fail.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_rolls_back_and_leaves_the_writer_usable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::connect(&url, "full", Arc::new(Metrics::default()))
            .await
            .unwrap();
        let a = store
            .create_user("ann", "Ann", "x", 1)
            .await
            .unwrap()
            .unwrap();
        let b = store
            .create_user("bob", "Bob", "x", 1)
            .await
            .unwrap()
            .unwrap();
        let c = store
            .direct_conversation(a.id, b.id, 1)
            .await
            .unwrap()
            .unwrap();
        sqlx::query(
            "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN new.content = 'boom' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .execute(&mut store.writer().await.conn)
        .await
        .unwrap();

        let failed = store
            .write_batch(
                &[send(c, a.id, "m1", "fine"), send(c, a.id, "m2", "boom")],
                &[],
                &[],
                2,
            )
            .await;
        assert!(failed.is_err(), "the trigger must fail the batch");

        let sent = store
            .write_batch(&[send(c, a.id, "m3", "after")], &[], &[], 3)
            .await
            .expect("the writer is usable after a failed batch")
            .sent;
        let InsertOutcome::Inserted(first) = &sent[0] else {
            panic!("expected an insert, got {:?}", sent[0]);
        };
        assert_eq!(first.message.seq, 1, "the failed batch advanced nothing");
        let (history, _) = store.history(c, None, 50).await.unwrap();
        assert_eq!(
            history
                .iter()
                .map(|m| m.client_msg_id.as_str())
                .collect::<Vec<_>>(),
            ["m3"],
            "nothing of the failed batch was kept"
        );
        // A sqlx transaction on the same connection still works (sqlx's view is intact).
        let g = store.create_group(a.id, "g", &[b.id], 4).await.unwrap();
        assert!(g.is_some());
    }
}
