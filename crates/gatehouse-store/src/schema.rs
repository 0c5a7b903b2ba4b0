//! Schema migrations, one list for both backends. Migrations run only when asked
//! ([`crate::Store::open`] with `migrate`, as `gatehouse init`, `gatehouse migrate` and the
//! server at its start do); opening a store only reads its version.
//!
//! Migrations 1 to 3 were written twice, once per backend. From 4 on, a migration is written
//! once, in SQLite's dialect, and [`for_postgres`] translates its few differences (a test
//! checks that the translation of 1 to 3 gives the hand-written PostgreSQL scripts).

use crate::conn::{Backend, Conn, Value};
use crate::error::StoreError;

/// The text of one migration.
enum Script {
    /// Written for each backend.
    PerBackend {
        sqlite: &'static str,
        postgres: &'static str,
    },
    /// Written once, in SQLite's dialect.
    Common(&'static str),
    /// For PostgreSQL alone (SQLite records the version and does nothing).
    PostgresOnly(&'static str),
    /// Written once in SQLite's dialect, with more for PostgreSQL alone after it.
    CommonThenPostgres {
        common: &'static str,
        postgres: &'static str,
    },
}

/// `(version, name, script)`, in order. Never edit a released one; add a new one.
const MIGRATIONS: &[(i64, &str, Script)] = &[
    (
        1,
        "inventory",
        Script::PerBackend {
            sqlite: include_str!("../migrations/sqlite/0001_inventory.sql"),
            postgres: include_str!("../migrations/postgres/0001_inventory.sql"),
        },
    ),
    (
        2,
        "findings",
        Script::PerBackend {
            sqlite: include_str!("../migrations/sqlite/0002_findings.sql"),
            postgres: include_str!("../migrations/postgres/0002_findings.sql"),
        },
    ),
    (
        3,
        "point_in_time",
        Script::PerBackend {
            sqlite: include_str!("../migrations/sqlite/0003_point_in_time.sql"),
            postgres: include_str!("../migrations/postgres/0003_point_in_time.sql"),
        },
    ),
    (
        4,
        "import_progress",
        Script::Common(include_str!(
            "../migrations/common/0004_import_progress.sql"
        )),
    ),
    (
        5,
        "current_versions",
        Script::PostgresOnly(include_str!(
            "../migrations/postgres/0005_current_versions.sql"
        )),
    ),
    (
        6,
        "account_login",
        Script::CommonThenPostgres {
            common: include_str!("../migrations/common/0006_account_login.sql"),
            postgres: include_str!("../migrations/postgres/0006_account_login.sql"),
        },
    ),
    (
        7,
        "granted_at",
        Script::Common(include_str!("../migrations/common/0007_granted_at.sql")),
    ),
    (
        8,
        "campaigns",
        Script::Common(include_str!("../migrations/common/0008_campaigns.sql")),
    ),
    (
        9,
        "users",
        Script::Common(include_str!("../migrations/common/0009_users.sql")),
    ),
    (
        10,
        "review_context",
        Script::Common(include_str!("../migrations/common/0010_review_context.sql")),
    ),
    (
        11,
        "inbox_index",
        Script::Common(include_str!("../migrations/common/0011_inbox_index.sql")),
    ),
    (
        12,
        "open_counts",
        Script::Common(include_str!("../migrations/common/0012_open_counts.sql")),
    ),
    (
        13,
        "holders_index",
        Script::PostgresOnly(include_str!(
            "../migrations/postgres/0013_holders_index.sql"
        )),
    ),
    (
        14,
        "import_memory",
        Script::Common(include_str!("../migrations/common/0014_import_memory.sql")),
    ),
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = 14;

/// Translates a migration written in SQLite's dialect for PostgreSQL: 64-bit `INTEGER`s are
/// `BIGINT`, `BLOB` is `BYTEA`, and `WITHOUT ROWID` (a SQLite storage hint) goes.
pub(crate) fn for_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    for line in sql.split_inclusive('\n') {
        if line.trim_start().starts_with("--") {
            out.push_str(line);
            continue;
        }
        let line = line.replace(" WITHOUT ROWID", "");
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            out.push_str(match word.as_str() {
                "INTEGER" => "BIGINT",
                "BLOB" => "BYTEA",
                w => w,
            });
            word.clear();
        };
        for c in line.chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
    }
    out
}

fn script(backend: Backend, s: &Script) -> String {
    match (s, backend) {
        (Script::PerBackend { sqlite, .. }, Backend::Sqlite) => (*sqlite).to_owned(),
        (Script::PerBackend { postgres, .. }, Backend::Postgres) => (*postgres).to_owned(),
        (Script::Common(sql), Backend::Sqlite) => (*sql).to_owned(),
        (Script::Common(sql), Backend::Postgres) => for_postgres(sql),
        (Script::PostgresOnly(_), Backend::Sqlite) => String::new(),
        (Script::PostgresOnly(sql), Backend::Postgres) => (*sql).to_owned(),
        (Script::CommonThenPostgres { common, .. }, Backend::Sqlite) => (*common).to_owned(),
        (Script::CommonThenPostgres { common, postgres }, Backend::Postgres) => {
            format!("{}\n{postgres}", for_postgres(common))
        }
    }
}

/// The schema version of the store: `None` when the database holds no Gatehouse schema. Only
/// reads.
pub(crate) fn version(conn: &mut Conn) -> Result<Option<i64>, StoreError> {
    let exists = match conn.backend() {
        Backend::Sqlite => conn.scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration'",
            &[],
        )? > 0,
        Backend::Postgres => {
            conn.scalar(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = 'schema_migration'",
                &[],
            )? > 0
        }
    };
    if !exists {
        return Ok(None);
    }
    Ok(Some(conn.scalar(
        "SELECT max(version) FROM schema_migration",
        &[],
    )?))
}

/// A migration that was applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Migration {
    /// Its version.
    pub version: i64,
    /// Its name.
    pub name: &'static str,
}

/// Brings the schema up to date, each migration in a transaction of its own, and returns what
/// it applied. Two processes migrating at once are serialised; the second finds nothing left.
/// On SQLite, also switches the file to write-ahead logging (a property of the file).
pub(crate) fn migrate(conn: &mut Conn) -> Result<Vec<Migration>, StoreError> {
    let backend = conn.backend();
    if backend == Backend::Sqlite {
        // Not allowed inside a transaction; a no-op on a file already in WAL mode and on an
        // in-memory database (which keeps its own journal).
        conn.query_opt("PRAGMA journal_mode = WAL", &[], |r| r.opt_str(0))?;
    }
    let mut applied = Vec::new();
    for (version, name, text) in MIGRATIONS {
        match backend {
            Backend::Sqlite => conn.batch("BEGIN IMMEDIATE")?,
            Backend::Postgres => {
                conn.batch("BEGIN")?;
                if let Err(e) = conn.batch("SELECT pg_advisory_xact_lock(7202611229)") {
                    let _ = conn.batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        let step = (|| {
            conn.batch(
                "CREATE TABLE IF NOT EXISTS schema_migration (version BIGINT PRIMARY KEY, name TEXT NOT NULL)",
            )?;
            let current = conn.scalar("SELECT max(version) FROM schema_migration", &[])?;
            if current > SCHEMA_VERSION {
                return Err(StoreError::TooNew {
                    found: current,
                    known: SCHEMA_VERSION,
                });
            }
            if *version <= current {
                return Ok(false);
            }
            let sql = script(backend, text);
            if !sql.is_empty() {
                conn.batch(&sql)?;
            }
            conn.exec(
                "INSERT INTO schema_migration (version, name) VALUES ($1, $2)",
                &[Value::Int(*version), Value::from(*name)],
            )?;
            Ok(true)
        })();
        match step {
            Ok(done) => {
                conn.batch("COMMIT")?;
                if done {
                    applied.push(Migration {
                        version: *version,
                        name,
                    });
                }
            }
            Err(e) => {
                let _ = conn.batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalise(sql: &str) -> String {
        sql.lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .flat_map(|l| l.split_whitespace())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn translation_matches_the_hand_written_postgresql_scripts() {
        for (version, _, s) in MIGRATIONS {
            if let Script::PerBackend { sqlite, postgres } = s {
                assert_eq!(
                    normalise(&for_postgres(sqlite)),
                    normalise(postgres),
                    "migration {version}"
                );
            }
        }
    }

    #[test]
    fn the_last_migration_is_the_schema_version() {
        assert_eq!(MIGRATIONS.last().map(|m| m.0), Some(SCHEMA_VERSION));
    }
}
