//! The store's own error: what went wrong in the database layer, with its cause kept for the
//! log. The delivery engine and the adapters turn it into `AppError` (a 500 whose details are
//! logged, never shown).

/// What a store method can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed the operation (connection, constraint, I/O, …).
    #[error("database operation failed")]
    Database(#[from] sqlx::Error),
    /// The same, from the SQLite writer's hot path, which drives its connection directly
    /// (store/sqlite/direct.rs) instead of through sqlx.
    #[error("database operation failed")]
    Embedded(#[from] rusqlite::Error),
    /// The statement ran past the deadline it was given, and was stopped (searches).
    #[error("the operation ran past its deadline")]
    Timeout,
}

pub type StoreResult<T> = Result<T, StoreError>;
