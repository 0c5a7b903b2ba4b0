use gatehouse_model::ErrorCode;

/// What can go wrong in the store. Every variant has a stable [`ErrorCode`]; messages are in
/// the store's words (what is wrong), and leave it to the program in front of the user (the
/// CLI, the web server) to say which flag or button to use.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error. Its message already says everything, so it is not also
    /// given as the error's source (which would print it twice).
    #[error("sqlite: {}", sqlite_message(.0))]
    Sqlite(rusqlite::Error),
    /// PostgreSQL reported an error (its message, not its source, for the same reason).
    #[error("postgresql: {}", pg_message(.0))]
    Postgres(postgres::Error),
    /// Reading or writing a stream failed.
    #[error("i/o: {0}")]
    Io(String),
    /// There is no store at the given location.
    #[error("there is no gatehouse store at `{0}`")]
    NotFound(String),
    /// The database exists but holds no Gatehouse schema.
    #[error("the database at `{0}` holds no gatehouse store")]
    NotInitialised(String),
    /// The store was written by a newer Gatehouse.
    #[error(
        "the store has schema version {found}, newer than this gatehouse understands ({known}); \
         use a gatehouse at least as new as the one that last migrated it"
    )]
    TooNew {
        /// Version in the store.
        found: i64,
        /// Newest version known here.
        known: i64,
    },
    /// The store's schema is older than this Gatehouse.
    #[error(
        "the store has schema version {found} and this gatehouse needs version {known}; \
         the store must be migrated"
    )]
    Outdated {
        /// Version in the store.
        found: i64,
        /// Version this build needs.
        known: i64,
    },
    /// Neither a SQLite path nor a PostgreSQL URL.
    #[error("`{0}` is not a store location: give a SQLite file path or a postgres:// URL")]
    InvalidLocation(String),
    /// No connection or lock became free in time.
    #[error("the store stayed busy for {0} seconds (no connection or lock became free)")]
    Busy(u64),
    /// A transaction was started inside another one on the same thread, which would wait for
    /// itself.
    #[error(
        "a transaction was started inside another transaction of the same store; read through \
         the open transaction instead"
    )]
    Nested,
    /// A change without an actor.
    #[error("a change must name who makes it, and the actor is empty")]
    NoActor,
    /// The stored data contradicts itself: a row or event that cannot be what it claims.
    #[error("the store is inconsistent: {0}")]
    Corrupt(String),
    /// A request that cannot be satisfied, with its code: an unknown or ambiguous reference,
    /// an import older than the last, a snapshot that would remove most of its source, …
    #[error("{message}")]
    Refused {
        /// Why, as a stable code.
        code: ErrorCode,
        /// What is wrong, in the store's words.
        message: String,
    },
    /// Another import into this store holds the import lock.
    #[error("another import into this store is running; it must finish before this one starts")]
    ImportRunning,
    /// An import whose first changes were recorded stopped before its last ones.
    #[error(
        "the import of `{source_name}` (event {import}) stopped after {recorded} of its {total} changes were \
         recorded: {cause}; importing the same snapshot again completes it"
    )]
    ImportInterrupted {
        /// The source.
        source_name: String,
        /// Its `import.applied` event.
        import: u64,
        /// Changes recorded.
        recorded: u64,
        /// Changes the import counts.
        total: u64,
        /// What stopped it.
        cause: Box<StoreError>,
    },
    /// The ledger could not be updated; nothing was written.
    #[error("ledger: {0}")]
    Ledger(String),
    /// The transaction that carried this write with others (a group commit) failed to
    /// commit: nothing of the group was written.
    #[error("the write was not recorded: its group's commit failed: {message}")]
    Commit {
        /// The code of the commit's error.
        code: ErrorCode,
        /// The commit's error.
        message: String,
    },
}

impl StoreError {
    /// A refusal with its code.
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> StoreError {
        StoreError::Refused {
            code,
            message: message.into(),
        }
    }

    /// A reference to something the store does not know.
    pub fn unknown(message: impl Into<String>) -> StoreError {
        StoreError::refused(ErrorCode::UnknownObject, message)
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::Sqlite(e) => match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    ErrorCode::StoreBusy
                }
                _ => ErrorCode::Database,
            },
            StoreError::Postgres(_) => ErrorCode::Database,
            StoreError::Io(_) => ErrorCode::Io,
            StoreError::NotFound(_) => ErrorCode::StoreNotFound,
            StoreError::NotInitialised(_) => ErrorCode::StoreNotInitialised,
            StoreError::TooNew { .. } => ErrorCode::SchemaTooNew,
            StoreError::Outdated { .. } => ErrorCode::SchemaOutdated,
            StoreError::InvalidLocation(_) => ErrorCode::StoreLocationInvalid,
            StoreError::Busy(_) => ErrorCode::StoreBusy,
            StoreError::Nested => ErrorCode::NestedTransaction,
            StoreError::NoActor => ErrorCode::NoActor,
            StoreError::Corrupt(_) => ErrorCode::Corrupt,
            StoreError::Refused { code, .. } => *code,
            StoreError::ImportRunning => ErrorCode::ImportRunning,
            StoreError::ImportInterrupted { .. } => ErrorCode::ImportInterrupted,
            StoreError::Ledger(_) => ErrorCode::LedgerUnavailable,
            StoreError::Commit { code, .. } => *code,
        }
    }

    /// This error as seen by each write of a group whose commit it stopped (the error itself
    /// is not `Clone`: it may hold a driver's error).
    pub(crate) fn for_group(&self) -> StoreError {
        match self {
            StoreError::Commit { code, message } => StoreError::Commit {
                code: *code,
                message: message.clone(),
            },
            other => StoreError::Commit {
                code: other.code(),
                message: other.to_string(),
            },
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Postgres(e)
    }
}

/// SQLite's message once: its display repeats the code's description after the message.
fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(code, Some(msg)) => {
            format!("{msg} (sqlite code {})", code.extended_code)
        }
        rusqlite::Error::SqliteFailure(code, None) => {
            format!("{code} (sqlite code {})", code.extended_code)
        }
        other => other.to_string(),
    }
}

/// PostgreSQL's message once: a server error's text and SQLSTATE, or the client's error
/// with its cause (which its display leaves out).
fn pg_message(e: &postgres::Error) -> String {
    let mut out = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut out = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let text = c.to_string();
                if !out.contains(&text) {
                    out.push_str(": ");
                    out.push_str(&text);
                }
                cause = c.source();
            }
            out
        }
    };
    if let Some(hint) = tls_hint(&out) {
        out.push_str(" — ");
        out.push_str(hint);
    }
    out
}

/// What to do about a refused TLS handshake.
fn tls_hint(message: &str) -> Option<&'static str> {
    if message.contains("UnknownIssuer") {
        Some(
            "the server's certificate is not signed by a CA of the file `sslrootcert` names \
             (or, without it, by a public CA); name the CA that signed it",
        )
    } else if message.contains("not valid for name") {
        Some(
            "the server's certificate is not issued for the host of the URL; connect by a name \
             the certificate holds, or use sslmode=verify-ca to check its CA only",
        )
    } else if message.contains("no encryption") {
        Some("the server takes only encrypted connections; remove sslmode=disable")
    } else if message.contains("server does not support TLS") {
        Some("the server does not offer TLS; enable `ssl` on it, or use sslmode=prefer")
    } else {
        None
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
