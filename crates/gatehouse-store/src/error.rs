/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error.
    #[error("postgresql: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    /// Reading or writing a stream failed.
    #[error("i/o: {0}")]
    Io(String),
    /// There is no store at the given location.
    #[error("no gatehouse store at `{0}`; create one with `gatehouse init`")]
    NotFound(String),
    /// The store was written by a newer Gatehouse.
    #[error(
        "the store has schema version {found}, newer than this gatehouse understands ({known}); upgrade gatehouse"
    )]
    TooNew {
        /// Version in the store.
        found: i64,
        /// Newest version known here.
        known: i64,
    },
    /// The stored data contradicts itself: a row or event that cannot be what it claims.
    #[error("the store is inconsistent: {0}")]
    Corrupt(String),
    /// A request that cannot be satisfied: an unknown reference, an import older than the last.
    #[error("{0}")]
    Refused(String),
    /// A reference that names nothing.
    #[error("{0}")]
    NotFoundRef(String),
    /// The ledger could not be updated; nothing was written.
    #[error("ledger: {0}")]
    Ledger(String),
}

fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl From<gatehouse_ledger::LedgerError> for StoreError {
    fn from(e: gatehouse_ledger::LedgerError) -> Self {
        StoreError::Ledger(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(format!("a stored record is not valid json: {e}"))
    }
}

impl From<gatehouse_model::ModelError> for StoreError {
    fn from(e: gatehouse_model::ModelError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
