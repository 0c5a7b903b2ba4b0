//! Schema migrations, one list for both backends.

use crate::OpenMode;
use crate::db::{Db, Value};
use crate::error::StoreError;

/// `(version, name, SQLite script, PostgreSQL script)`, in order. Never edit a released one;
/// add a new one.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "inventory",
        include_str!("../migrations/sqlite/0001_inventory.sql"),
        include_str!("../migrations/postgres/0001_inventory.sql"),
    ),
    (
        2,
        "findings",
        include_str!("../migrations/sqlite/0002_findings.sql"),
        include_str!("../migrations/postgres/0002_findings.sql"),
    ),
    (
        3,
        "point_in_time",
        include_str!("../migrations/sqlite/0003_point_in_time.sql"),
        include_str!("../migrations/postgres/0003_point_in_time.sql"),
    ),
    (
        10,
        "precision",
        include_str!("../migrations/sqlite/0010_precision.sql"),
        include_str!("../migrations/postgres/0010_precision.sql"),
    ),
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = 10;

/// Brings the schema up to date. With [`OpenMode::Existing`], an empty database is refused
/// rather than silently initialised.
pub fn migrate(db: &mut Db, mode: OpenMode) -> Result<(), StoreError> {
    db.batch(
        "CREATE TABLE IF NOT EXISTS schema_migration (version BIGINT PRIMARY KEY, name TEXT NOT NULL)",
    )?;
    let current = db.scalar("SELECT max(version) FROM schema_migration", &[])?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    if current == 0 && mode == OpenMode::Existing {
        return Err(StoreError::NotFound(
            "this database (it has no gatehouse schema)".into(),
        ));
    }
    for (version, name, sqlite, postgres) in MIGRATIONS {
        if *version <= current {
            continue;
        }
        let script = match db.backend() {
            crate::Backend::Sqlite => sqlite,
            crate::Backend::Postgres => postgres,
        };
        db.batch("BEGIN")?;
        let applied = db.batch(script).and_then(|()| {
            db.exec(
                "INSERT INTO schema_migration (version, name) VALUES ($1, $2)",
                &[Value::Int(*version), Value::from(*name)],
            )
            .map(|_| ())
        });
        match applied {
            Ok(()) => db.batch("COMMIT")?,
            Err(e) => {
                let _ = db.batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    Ok(())
}
