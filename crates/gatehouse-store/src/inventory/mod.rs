//! The inventory domain: imports of sources and the systems, identities, accounts,
//! entitlements, grants, roles and warrant records they bring, with full history.
//!
//! - `project` (here): how each [`InventoryEvent`] changes the tables;
//! - [`import`]: planning an import (the delta of a snapshot against the store) and applying
//!   it in batches under the import lock;
//! - [`query`]: point-in-time questions, histories and listings;
//! - [`load`]: the whole current inventory for the risk analysis.
//!
//! Each versioned table keeps `[valid_from, valid_to)` intervals at the snapshot's `as_of`;
//! the current version has `valid_to = OPEN`. `seq`/`end_seq` name the events that opened and
//! closed a version, which is how a history explains itself.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use gatehouse_model::{
    Account, Entitlement, Identity, IdentityKey, IdentityKind, InventoryEvent, SystemConfig,
    Timestamp,
};

use crate::conn::{Backend, Conn, Value};
use crate::domain::StateTable;
use crate::error::StoreError;
use crate::sink::{KeyedUpdate, OPEN, Phase, TableSpec, Versioned};
use crate::writer::{Writer, micros};

pub mod changes;
pub mod import;
pub mod load;
pub mod memory;
pub mod query;

/// Every current identity's key, kind and e-mail, shared: what correlation needs.
pub type Directory = std::sync::Arc<Vec<(IdentityKey, IdentityKind, Option<String>)>>;

/// The domain's state tables, with their key columns.
pub(crate) const TABLES: &[StateTable] = &[
    StateTable {
        name: "import",
        keys: "seq",
    },
    StateTable {
        name: "system",
        keys: "system_id",
    },
    StateTable {
        name: "identity",
        keys: "identity_id",
    },
    StateTable {
        name: "identity_version",
        keys: "identity_id, seq",
    },
    StateTable {
        name: "account",
        keys: "account_id",
    },
    StateTable {
        name: "account_login",
        keys: "account_id",
    },
    StateTable {
        name: "account_version",
        keys: "system_id, account_id, seq",
    },
    StateTable {
        name: "entitlement",
        keys: "entitlement_id",
    },
    StateTable {
        name: "entitlement_version",
        keys: "entitlement_id, seq",
    },
    StateTable {
        name: "grant_version",
        keys: "system_id, account_id, entitlement_id, seq",
    },
    StateTable {
        name: "role",
        keys: "key",
    },
    StateTable {
        name: "warrant_record",
        keys: "kind, id",
    },
];

const IDENTITY: TableSpec = TableSpec {
    name: "identity",
    columns: &["identity_id", "key", "source"],
    phase: Phase::Objects,
};
const ACCOUNT: TableSpec = TableSpec {
    name: "account",
    columns: &["account_id", "system_id", "native_id"],
    phase: Phase::Objects,
};
const ENTITLEMENT: TableSpec = TableSpec {
    name: "entitlement",
    columns: &["entitlement_id", "system_id", "native_id"],
    phase: Phase::Objects,
};
const IDENTITY_VERSION: TableSpec = TableSpec {
    name: "identity_version",
    columns: &[
        "identity_id",
        "seq",
        "key",
        "valid_from",
        "valid_to",
        "end_seq",
        "kind",
        "name",
        "email",
        "status",
        "department",
        "record",
    ],
    phase: Phase::Versions,
};
const ACCOUNT_VERSION: TableSpec = TableSpec {
    name: "account_version",
    columns: &[
        "system_id",
        "account_id",
        "seq",
        "valid_from",
        "valid_to",
        "end_seq",
        "username",
        "identity",
        "linked_by",
        "kind",
        "enabled",
        "mfa",
        "employee_id",
        "email",
        "attributes",
    ],
    phase: Phase::Versions,
};
const ENTITLEMENT_VERSION: TableSpec = TableSpec {
    name: "entitlement_version",
    columns: &[
        "entitlement_id",
        "seq",
        "valid_from",
        "valid_to",
        "end_seq",
        "name",
        "privileged",
        "record",
    ],
    phase: Phase::Versions,
};
const GRANT_VERSION: TableSpec = TableSpec {
    name: "grant_version",
    columns: &[
        "system_id",
        "account_id",
        "entitlement_id",
        "seq",
        "valid_from",
        "valid_to",
        "end_seq",
        "source",
        "warrant",
        "expires_at",
        "attributes",
        "granted_at",
    ],
    phase: Phase::Versions,
};

const IDENTITIES: Versioned = Versioned {
    table: "identity_version",
    keys: &["identity_id"],
};
const ACCOUNTS: Versioned = Versioned {
    table: "account_version",
    keys: &["system_id", "account_id"],
};
const ENTITLEMENTS: Versioned = Versioned {
    table: "entitlement_version",
    keys: &["entitlement_id"],
};
const GRANTS: Versioned = Versioned {
    table: "grant_version",
    keys: &["system_id", "account_id", "entitlement_id"],
};

const LAST_LOGIN: KeyedUpdate = KeyedUpdate {
    table: "account_login",
    key: "account_id",
    column: "last_login",
};

/// Ids of the objects met so far, so that projection never has to read its own writes. Loaded
/// on first use: a transaction that changes no inventory never reads them. An import carries
/// them from one of its write transactions to the next (under the import lock nothing else
/// changes the inventory), so that each batch does not read a system's ids again.
pub(crate) struct Ids {
    next_identity: i64,
    next_account: i64,
    next_entitlement: i64,
    next_system: i64,
    systems: HashMap<String, i64>,
    identities: Option<HashMap<String, i64>>,
    accounts: HashMap<i64, HashMap<String, i64>>,
    entitlements: HashMap<i64, HashMap<String, i64>>,
}

/// What the inventory projection keeps for the length of a write transaction.
#[derive(Default)]
pub(crate) struct TxState {
    pub(crate) ids: Option<Ids>,
    /// Changes recorded per import (`import.applied` seq) since the last flush.
    recorded: BTreeMap<u64, i64>,
}

/// A secondary index that a bulk load may drop and rebuild (SQLite only): inserting a million
/// rows into it one by one, at random places, costs more than sorting them once.
#[derive(Debug)]
pub(crate) struct DeferrableIndex {
    pub(crate) table: &'static str,
    pub(crate) name: &'static str,
    /// As the latest migration creates it, made idempotent (SQLite stores it without the
    /// `IF NOT EXISTS`; a test compares the two).
    pub(crate) create: &'static str,
}

/// The history tables' secondary indexes, as the migrations leave them.
pub(crate) const DEFERRABLE_INDEXES: [DeferrableIndex; 2] = [
    DeferrableIndex {
        table: "grant_version",
        name: "grant_version_entitlement",
        create: "CREATE INDEX IF NOT EXISTS grant_version_entitlement ON grant_version (entitlement_id, valid_from, valid_to)",
    },
    DeferrableIndex {
        table: "account_version",
        name: "account_version_identity",
        create: "CREATE INDEX IF NOT EXISTS account_version_identity ON account_version (identity, valid_from)",
    },
];

/// Rebuilds any history index that a bulk load dropped and did not live to rebuild (its
/// process died), inside the caller's write transaction. Readers never do this; they answer
/// correctly without the index, only more slowly, until the next write.
pub(crate) fn restore_indexes(conn: &mut Conn) -> Result<(), StoreError> {
    if conn.backend() != Backend::Sqlite {
        return Ok(());
    }
    let present = conn.query(
        "SELECT name FROM sqlite_master WHERE type = 'index'",
        &[],
        |r| r.str(0),
    )?;
    DEFERRABLE_INDEXES
        .iter()
        .filter(|i| !present.iter().any(|p| p == i.name))
        .try_for_each(|i| conn.batch(i.create))
}

/// Turns the changes counted per import into `import.remaining` updates.
pub(crate) fn before_flush(w: &mut Writer<'_>) {
    for (import, n) in std::mem::take(&mut w.inventory.recorded) {
        w.sink.statement(
            "UPDATE import SET remaining = remaining - $1 WHERE seq = $2",
            vec![Value::Int(n), Value::Int(import as i64)],
        );
    }
}

/// Applies one inventory event to the tables.
pub(crate) fn project(w: &mut Writer<'_>, seq: u64, e: &InventoryEvent) -> Result<(), StoreError> {
    use InventoryEvent as E;
    let end = seq as i64;
    if let Some(import) = e.import() {
        *w.inventory.recorded.entry(import).or_default() += e.changes() as i64;
    }
    match e {
        E::ImportApplied(i) => {
            let total: u64 = i.changes.values().sum();
            w.sink.statement(
                "INSERT INTO import (seq, source, as_of, digest, changes, remaining) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    Value::Int(end),
                    Value::Text(i.source.clone()),
                    Value::Int(micros(i.as_of)),
                    Value::Text(i.digest.clone()),
                    Value::Text(serde_json::to_string(&i.changes)?),
                    Value::Int(total as i64),
                ],
            );
        }
        E::SystemConfigured(s) => configure_system(w, &s.record, seq)?,
        E::IdentityAdded(b) | E::IdentityChanged(b) => {
            let changed = matches!(e, E::IdentityChanged(_));
            for i in &b.records {
                identity_version(w, i, b.as_of, seq, changed)?;
            }
        }
        E::IdentityRemoved(b) => {
            for r in &b.records {
                let key = r.key.as_str();
                let id = *identity_ids(w)?.get(key).ok_or_else(|| {
                    StoreError::Corrupt(format!("event {seq}: identity `{key}` does not exist"))
                })?;
                close(w, &IDENTITIES, [id, 0, 0], micros(b.as_of), end)?;
            }
        }
        E::AccountAdded(b) | E::AccountChanged(b) | E::AccountCorrelated(b) => {
            let changed = !matches!(e, E::AccountAdded(_));
            for a in &b.records {
                account_version(w, a, b.as_of, seq, changed)?;
            }
        }
        E::AccountRemoved(b) => {
            for r in &b.records {
                let sid = system_id(w, r.system.as_str(), seq)?;
                let id = existing_object(w, true, r.system.as_str(), &r.native_id, seq)?;
                close(w, &ACCOUNTS, [sid, id, 0], micros(b.as_of), end)?;
            }
        }
        E::AccountActivity(s) => {
            let sid = system_id(w, s.record.system.as_str(), seq)?;
            for (native, at) in &s.record.logins {
                let id = *object_ids(w, true, sid)?.get(native).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "event {seq}: account `{}:{native}` does not exist",
                        s.record.system
                    ))
                })?;
                w.sink.update(&LAST_LOGIN, id, micros(*at));
            }
        }
        E::EntitlementAdded(b) | E::EntitlementChanged(b) => {
            let changed = matches!(e, E::EntitlementChanged(_));
            for ent in &b.records {
                entitlement_version(w, ent, b.as_of, seq, changed)?;
            }
        }
        E::EntitlementRemoved(b) => {
            for r in &b.records {
                let id = existing_object(w, false, r.system.as_str(), &r.native_id, seq)?;
                close(w, &ENTITLEMENTS, [id, 0, 0], micros(b.as_of), end)?;
            }
        }
        E::GrantAdded(b) | E::GrantChanged(b) => {
            let changed = matches!(e, E::GrantChanged(_));
            let from = micros(b.as_of);
            for g in &b.records {
                let sid = system_id(w, g.system.as_str(), seq)?;
                let a = existing_object(w, true, g.system.as_str(), &g.account, seq)?;
                let en = existing_object(w, false, g.system.as_str(), &g.entitlement, seq)?;
                if changed {
                    close(w, &GRANTS, [sid, a, en], from, end)?;
                }
                w.sink.touch(&GRANTS, [sid, a, en]);
                w.sink.insert(
                    &GRANT_VERSION,
                    vec![
                        Value::Int(sid),
                        Value::Int(a),
                        Value::Int(en),
                        Value::Int(end),
                        Value::Int(from),
                        Value::Int(OPEN),
                        Value::Null,
                        Value::from(g.source.as_str()),
                        Value::from(g.warrant.as_ref().map(|w| w.to_string())),
                        Value::from(g.expires_at.map(micros)),
                        attributes(&g.attributes)?,
                        Value::from(g.granted_at.map(micros)),
                    ],
                );
            }
        }
        E::GrantRemoved(b) => {
            for g in &b.records {
                let sid = system_id(w, g.system.as_str(), seq)?;
                let a = existing_object(w, true, g.system.as_str(), &g.account, seq)?;
                let en = existing_object(w, false, g.system.as_str(), &g.entitlement, seq)?;
                close(w, &GRANTS, [sid, a, en], micros(b.as_of), end)?;
            }
        }
        E::RoleDefined(b) | E::RoleChanged(b) => {
            for r in &b.records {
                w.sink.statement(
                    "INSERT INTO role (key, record, seq) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET record = excluded.record, seq = excluded.seq",
                    vec![
                        Value::from(r.key.as_str()),
                        Value::Text(serde_json::to_string(r)?),
                        Value::Int(end),
                    ],
                );
            }
        }
        E::RoleRemoved(b) => {
            for r in &b.records {
                w.sink.statement(
                    "DELETE FROM role WHERE key = $1",
                    vec![Value::from(r.key.as_str())],
                );
            }
        }
        E::WarrantRecorded(b) | E::WarrantChanged(b) => {
            for r in &b.records {
                w.sink.statement(
                    "INSERT INTO warrant_record (kind, id, identity, entitlement, record, seq) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, id) DO UPDATE SET \
                     identity = excluded.identity, entitlement = excluded.entitlement, \
                     record = excluded.record, seq = excluded.seq",
                    vec![
                        Value::from(r.kind.as_str()),
                        Value::from(r.id.as_str()),
                        // A standing policy may name no holder or entitlement.
                        Value::from(r.identity.as_ref().map_or("", |k| k.as_str())),
                        Value::Text(
                            r.entitlement
                                .as_ref()
                                .map(|e| e.to_string())
                                .unwrap_or_default(),
                        ),
                        Value::Text(serde_json::to_string(r)?),
                        Value::Int(end),
                    ],
                );
            }
        }
        E::WarrantRemoved(b) => {
            for r in &b.records {
                w.sink.statement(
                    "DELETE FROM warrant_record WHERE kind = $1 AND id = $2",
                    vec![Value::from(r.kind.as_str()), Value::from(r.id.as_str())],
                );
            }
        }
    }
    Ok(())
}

/// Free attributes as stored: JSON text, or NULL when there are none.
pub(crate) fn attributes(a: &gatehouse_model::Attributes) -> Result<Value, StoreError> {
    Ok(if a.is_empty() {
        Value::Null
    } else {
        Value::Text(serde_json::to_string(a)?)
    })
}

/// The transaction's id state, loaded on first use.
fn ids<'a>(w: &'a mut Writer<'_>) -> Result<&'a mut Ids, StoreError> {
    if w.inventory.ids.is_none() {
        let db = w.db()?;
        let ids = Ids {
            next_identity: db.scalar("SELECT max(identity_id) FROM identity", &[])? + 1,
            next_account: db.scalar("SELECT max(account_id) FROM account", &[])? + 1,
            next_entitlement: db.scalar("SELECT max(entitlement_id) FROM entitlement", &[])? + 1,
            next_system: db.scalar("SELECT max(system_id) FROM system", &[])? + 1,
            systems: HashMap::default(),
            identities: None,
            accounts: HashMap::default(),
            entitlements: HashMap::default(),
        };
        w.inventory.ids = Some(ids);
    }
    w.inventory
        .ids
        .as_mut()
        .ok_or_else(|| StoreError::Corrupt("inventory ids".into()))
}

/// Closes an object's current version, flushing first if the batch already changed it.
fn close(
    w: &mut Writer<'_>,
    v: &'static Versioned,
    keys: [i64; 3],
    valid_to: i64,
    end_seq: i64,
) -> Result<(), StoreError> {
    if w.sink.touched(v, keys) {
        w.flush()?;
    }
    w.sink.close(v, keys, valid_to, end_seq);
    Ok(())
}

fn system_id(w: &mut Writer<'_>, key: &str, seq: u64) -> Result<i64, StoreError> {
    if let Some(id) = ids(w)?.systems.get(key) {
        return Ok(*id);
    }
    let found = w.db()?.query_opt(
        "SELECT system_id FROM system WHERE key = $1",
        &[Value::from(key)],
        |r| r.i64(0),
    )?;
    let id = found.ok_or_else(|| {
        StoreError::Corrupt(format!("event {seq}: system `{key}` was never configured"))
    })?;
    ids(w)?.systems.insert(key.to_owned(), id);
    Ok(id)
}

fn identity_ids<'a>(w: &'a mut Writer<'_>) -> Result<&'a mut HashMap<String, i64>, StoreError> {
    if ids(w)?.identities.is_none() {
        let rows = w
            .db()?
            .query("SELECT key, identity_id FROM identity", &[], |r| {
                Ok((r.str(0)?, r.i64(1)?))
            })?;
        ids(w)?.identities = Some(rows.into_iter().collect());
    }
    Ok(ids(w)?.identities.get_or_insert_with(HashMap::default))
}

fn object_ids<'a>(
    w: &'a mut Writer<'_>,
    accounts: bool,
    system_id: i64,
) -> Result<&'a mut HashMap<String, i64>, StoreError> {
    let loaded = {
        let ids = ids(w)?;
        if accounts {
            ids.accounts.contains_key(&system_id)
        } else {
            ids.entitlements.contains_key(&system_id)
        }
    };
    if !loaded {
        let sql = if accounts {
            "SELECT native_id, account_id FROM account WHERE system_id = $1"
        } else {
            "SELECT native_id, entitlement_id FROM entitlement WHERE system_id = $1"
        };
        let rows = w.db()?.query(sql, &[Value::Int(system_id)], |r| {
            Ok((r.str(0)?, r.i64(1)?))
        })?;
        let map: HashMap<String, i64> = rows.into_iter().collect();
        let ids = ids(w)?;
        if accounts {
            ids.accounts.insert(system_id, map);
        } else {
            ids.entitlements.insert(system_id, map);
        }
    }
    let ids = ids(w)?;
    let map = if accounts {
        ids.accounts.get_mut(&system_id)
    } else {
        ids.entitlements.get_mut(&system_id)
    };
    map.ok_or_else(|| StoreError::Corrupt("id cache".into()))
}

fn existing_object(
    w: &mut Writer<'_>,
    accounts: bool,
    system: &str,
    native: &str,
    seq: u64,
) -> Result<i64, StoreError> {
    let sid = system_id(w, system, seq)?;
    object_ids(w, accounts, sid)?
        .get(native)
        .copied()
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "event {seq}: {} `{system}:{native}` does not exist",
                if accounts { "account" } else { "entitlement" }
            ))
        })
}

fn configure_system(w: &mut Writer<'_>, c: &SystemConfig, seq: u64) -> Result<(), StoreError> {
    let known = ids(w)?.systems.get(c.key.as_str()).copied();
    let id = match known {
        Some(id) => id,
        None => {
            let found = w.db()?.query_opt(
                "SELECT system_id FROM system WHERE key = $1",
                &[Value::from(c.key.as_str())],
                |r| r.i64(0),
            )?;
            let ids = ids(w)?;
            let id = match found {
                Some(id) => id,
                None => {
                    ids.next_system += 1;
                    ids.next_system - 1
                }
            };
            ids.systems.insert(c.key.to_string(), id);
            id
        }
    };
    w.sink.statement(
        "INSERT INTO system (system_id, key, name, owner, criticality, financial_reporting, config, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO UPDATE SET \
         name = excluded.name, owner = excluded.owner, criticality = excluded.criticality, \
         financial_reporting = excluded.financial_reporting, config = excluded.config, seq = excluded.seq",
        vec![
            Value::Int(id),
            Value::from(c.key.as_str()),
            Value::from(c.name.as_str()),
            Value::from(c.owner.as_ref().map(|o| o.to_string())),
            Value::from(c.criticality.map(|c| c.as_str())),
            Value::from(c.financial_reporting),
            Value::Text(serde_json::to_string(c)?),
            Value::Int(seq as i64),
        ],
    );
    // Make the row visible to the id lookups of the same batch.
    w.flush()
}

fn identity_version(
    w: &mut Writer<'_>,
    i: &Identity,
    as_of: Timestamp,
    seq: u64,
    changed: bool,
) -> Result<(), StoreError> {
    let key = i.key.as_str();
    let existing = identity_ids(w)?.get(key).copied();
    let id = match existing {
        Some(id) => id,
        None => {
            let id = {
                let ids = ids(w)?;
                ids.next_identity += 1;
                ids.next_identity - 1
            };
            identity_ids(w)?.insert(key.to_owned(), id);
            let source = if i.kind == IdentityKind::Person {
                "hr"
            } else {
                "nhi"
            };
            w.sink.insert(
                &IDENTITY,
                vec![Value::Int(id), Value::from(key), Value::from(source)],
            );
            id
        }
    };
    let from = micros(as_of);
    if changed {
        close(w, &IDENTITIES, [id, 0, 0], from, seq as i64)?;
    }
    let p = i.person.as_ref();
    w.sink.touch(&IDENTITIES, [id, 0, 0]);
    w.sink.insert(
        &IDENTITY_VERSION,
        vec![
            Value::Int(id),
            Value::Int(seq as i64),
            Value::from(key),
            Value::Int(from),
            Value::Int(OPEN),
            Value::Null,
            Value::from(i.kind.as_str()),
            Value::from(i.name.as_str()),
            Value::from(i.email.clone()),
            Value::from(p.map(|p| p.status.as_str())),
            Value::from(p.and_then(|p| p.department.clone())),
            Value::Text(serde_json::to_string(i)?),
        ],
    );
    Ok(())
}

fn account_version(
    w: &mut Writer<'_>,
    a: &Account,
    as_of: Timestamp,
    seq: u64,
    changed: bool,
) -> Result<(), StoreError> {
    let sid = system_id(w, a.system.as_str(), seq)?;
    let existing = object_ids(w, true, sid)?.get(&a.native_id).copied();
    let last_login = a.last_login.map(micros);
    let id = match existing {
        Some(id) => id,
        None => {
            let id = {
                let ids = ids(w)?;
                ids.next_account += 1;
                ids.next_account - 1
            };
            object_ids(w, true, sid)?.insert(a.native_id.clone(), id);
            w.sink.insert(
                &ACCOUNT,
                vec![
                    Value::Int(id),
                    Value::Int(sid),
                    Value::from(a.native_id.as_str()),
                ],
            );
            id
        }
    };
    if let Some(at) = last_login {
        w.sink.update(&LAST_LOGIN, id, at);
    }
    let from = micros(as_of);
    if changed {
        close(w, &ACCOUNTS, [sid, id, 0], from, seq as i64)?;
    }
    // The last login lives on `account`; the version keeps everything else.
    w.sink.touch(&ACCOUNTS, [sid, id, 0]);
    w.sink.insert(
        &ACCOUNT_VERSION,
        vec![
            Value::Int(sid),
            Value::Int(id),
            Value::Int(seq as i64),
            Value::Int(from),
            Value::Int(OPEN),
            Value::Null,
            Value::from(a.username.as_str()),
            Value::from(a.identity.as_ref().map(|k| k.to_string())),
            Value::from(a.linked_by.clone()),
            Value::from(a.kind.as_str()),
            Value::from(a.enabled),
            Value::from(a.mfa),
            Value::from(a.employee_id.clone()),
            Value::from(a.email.clone()),
            attributes(&a.attributes)?,
        ],
    );
    Ok(())
}

fn entitlement_version(
    w: &mut Writer<'_>,
    e: &Entitlement,
    as_of: Timestamp,
    seq: u64,
    changed: bool,
) -> Result<(), StoreError> {
    let sid = system_id(w, e.system.as_str(), seq)?;
    let existing = object_ids(w, false, sid)?.get(&e.native_id).copied();
    let id = match existing {
        Some(id) => id,
        None => {
            let id = {
                let ids = ids(w)?;
                ids.next_entitlement += 1;
                ids.next_entitlement - 1
            };
            object_ids(w, false, sid)?.insert(e.native_id.clone(), id);
            w.sink.insert(
                &ENTITLEMENT,
                vec![
                    Value::Int(id),
                    Value::Int(sid),
                    Value::from(e.native_id.as_str()),
                ],
            );
            id
        }
    };
    let from = micros(as_of);
    if changed {
        close(w, &ENTITLEMENTS, [id, 0, 0], from, seq as i64)?;
    }
    w.sink.touch(&ENTITLEMENTS, [id, 0, 0]);
    w.sink.insert(
        &ENTITLEMENT_VERSION,
        vec![
            Value::Int(id),
            Value::Int(seq as i64),
            Value::Int(from),
            Value::Int(OPEN),
            Value::Null,
            Value::from(e.name.as_str()),
            Value::from(e.privileged),
            Value::Text(serde_json::to_string(e)?),
        ],
    );
    Ok(())
}
