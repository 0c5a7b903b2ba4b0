//! The files of each system's latest import, kept (LZ4-compressed, in `import_memory`) so that
//! the next import can compare its files with them record by record and plan from the records
//! that differ (see `gatehouse_connect::read_system_changes` and
//! [`Reader::plan_system_changes`]).
//!
//! The memory is a cache beside the events, not state: `ledger verify` does not compare it,
//! and deleting it only makes the next import read every record. It is trusted only when all of
//! these hold, and the import reads every record otherwise:
//! - its files are byte for byte those the source's latest import recorded (their SHA-256 is
//!   checked against the `import` row, which the ledger covers, after decompressing);
//! - nothing changed the system's accounts, entitlements or grants, or its configuration,
//!   since it was written ([`Reader::system_since`]); when only identities (or links) changed,
//!   the import compares and then re-links the system's accounts;
//! - the store holds what those files said for every record the comparison names
//!   ([`Reader::plan_system_changes`] checks it).

use gatehouse_model::SystemKey;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use sha2::{Digest, Sha256};

use super::import::{
    ACCOUNTS_NAMED, ACCOUNTS_NOW, Fingerprints, GRANTS_NOW, ImportLock, PlanState, SystemImport,
};
use crate::conn::{RowRef, Value};
use crate::error::StoreError;
use crate::sink::OPEN;
use crate::txn::Reader;

/// How a system's files differ from those of its latest import, beside the new records (which
/// travel in a [`SystemImport`]).
#[derive(Debug, Clone, Default)]
pub struct RecordChanges {
    /// Native ids of the accounts whose record of the latest import's file is gone (changed
    /// or removed).
    pub accounts_gone: Vec<String>,
    /// Native ids of the entitlements whose earlier record is gone.
    pub entitlements_gone: Vec<String>,
    /// `(account, entitlement)` native ids of the grants whose earlier record is gone.
    pub grants_gone: Vec<(String, String)>,
    /// The snapshot holds every account record, not only the changed ones (identities changed
    /// since the latest import: every account is correlated again, as a full read would);
    /// `accounts_gone` is then ignored.
    pub accounts_whole: bool,
    /// Account records of the latest import's file (its current accounts), for the
    /// mass-removal guard.
    pub accounts_before: usize,
    /// Grant records of the latest import's file.
    pub grants_before: usize,
}

/// What happened to a system since its files were kept ([`Reader::system_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemSince {
    /// Nothing: the store holds what the kept files said, linked as the identities say.
    Untouched,
    /// Identities changed (or the system's accounts were re-linked): the store holds what the
    /// kept files said, but an account that did not change may now link to another identity.
    /// Compare, then re-link the system's accounts.
    Relinked,
    /// Something else changed the system: read every record.
    Changed,
}

/// A file of an import, to be kept for the next one (compressed when made, so that the
/// compressing happens on the thread that read the file).
#[derive(Debug, Clone)]
pub struct RememberedFile {
    name: String,
    sha256: String,
    size: usize,
    packed: Vec<u8>,
}

impl RememberedFile {
    /// Compresses a file's bytes; `sha256` is the digest its import recorded.
    pub fn new(name: &str, sha256: &str, bytes: &[u8]) -> RememberedFile {
        RememberedFile {
            name: name.to_owned(),
            sha256: sha256.to_owned(),
            size: bytes.len(),
            packed: lz4_flex::block::compress(bytes),
        }
    }
}

/// The kept files of a source's latest import.
#[derive(Debug, Clone)]
pub struct ImportMemory {
    /// The import that read them.
    pub import_seq: u64,
    /// The last event when they were kept: a change to the system after it makes them stale.
    pub last_seq: u64,
    /// The version of the reading of records that read them (see [`ImportLock::remember`]).
    pub format: i64,
    /// `(name, sha256, bytes)` of each file.
    pub files: Vec<(String, String, Vec<u8>)>,
}

impl ImportMemory {
    /// Whether these are the files `recorded` (the source's latest import) names, by name and
    /// digest.
    pub fn matches(&self, recorded: &[gatehouse_model::ImportFile]) -> bool {
        self.files.len() == recorded.len()
            && recorded.iter().all(|r| {
                self.files
                    .iter()
                    .any(|(name, sha, _)| *name == r.name && *sha == r.sha256)
            })
    }
}

/// Rows asked for at once by [`Reader::each_named`].
const CHUNK: usize = 200;

/// When the accounts a comparison names are more than one in `WHOLE_AT` of the system's, its
/// accounts and grants are read whole rather than looked up.
const WHOLE_AT: usize = 8;

impl Reader<'_> {
    /// The kept files of `source`'s latest import; `None` when there are none, or when one
    /// does not decompress to the bytes its digest names (a damaged cache is not used).
    pub fn import_memory(&mut self, source: &str) -> Result<Option<ImportMemory>, StoreError> {
        let rows = self.conn.query(
            "SELECT name, import_seq, last_seq, format, sha256, size, content FROM import_memory \
             WHERE source = $1 ORDER BY name",
            &[Value::from(source)],
            |r| {
                Ok((
                    r.str(0)?,
                    r.i64(1)?,
                    r.i64(2)?,
                    r.i64(3)?,
                    r.str(4)?,
                    r.i64(5)?,
                    r.blob(6)?,
                ))
            },
        )?;
        let Some((_, import_seq, last_seq, format, ..)) = rows.first().cloned() else {
            return Ok(None);
        };
        let mut files = Vec::with_capacity(rows.len());
        for (name, _, _, _, sha, size, packed) in rows {
            let Ok(bytes) = lz4_flex::block::decompress(&packed, size.max(0) as usize) else {
                return Ok(None);
            };
            if hex::encode(Sha256::digest(&bytes)) != sha {
                return Ok(None);
            }
            files.push((name, sha, bytes));
        }
        Ok(Some(ImportMemory {
            import_seq: import_seq as u64,
            last_seq: last_seq as u64,
            format,
            files,
        }))
    }

    /// What happened to a system after event `seq` (when its files were kept).
    pub fn system_since(&mut self, key: &SystemKey, seq: u64) -> Result<SystemSince, StoreError> {
        let k = key.as_str();
        let params = [
            Value::Int(seq as i64),
            Value::from(format!("account:{k}")),
            Value::from(format!("entitlement:{k}")),
            Value::from(format!("grant:{k}")),
            Value::from(format!("system:{k}")),
        ];
        let changed = self.conn.query_opt(
            "SELECT 1 FROM event WHERE seq > $1 AND (object IN ($3, $4, $5) \
             OR (object = $2 AND kind <> 'account.correlated')) LIMIT 1",
            &params,
            |r| r.i64(0),
        )?;
        if changed.is_some() {
            return Ok(SystemSince::Changed);
        }
        let relinked = self.conn.query_opt(
            "SELECT 1 FROM event WHERE seq > $1 AND (object = 'identity' \
             OR (object = $2 AND kind = 'account.correlated')) LIMIT 1",
            &params[..2],
            |r| r.i64(0),
        )?;
        Ok(if relinked.is_some() {
            SystemSince::Relinked
        } else {
            SystemSince::Untouched
        })
    }

    /// The current state planning needs for a [`RecordChanges`]: the system's entitlements,
    /// the accounts the changes name (and those their grants name), and the current grants
    /// of those accounts among the changed ones. `None` when the store does not hold what
    /// the latest import's files said (see [`Reader::plan_system_changes`]).
    pub(super) fn load_changed(
        &mut self,
        snapshot: &SystemImport,
        changes: &RecordChanges,
        fp: &Fingerprints,
    ) -> Result<Option<PlanState>, StoreError> {
        let Some((sid, config)) = self.system_row(&snapshot.config.key)? else {
            return Ok(None);
        };
        let entitlements = self.current_entitlements(sid)?;
        let gone_e: HashSet<&str> = changes
            .entitlements_gone
            .iter()
            .map(String::as_str)
            .collect();
        let new_e: HashSet<&str> = snapshot
            .entitlements
            .iter()
            .map(|e| e.native_id.as_str())
            .collect();
        if gone_e.iter().any(|k| !entitlements.contains_key(*k))
            || new_e
                .iter()
                .any(|k| entitlements.contains_key(*k) && !gone_e.contains(k))
        {
            return Ok(None);
        }
        let gone_named: HashSet<&str> = changes.accounts_gone.iter().map(String::as_str).collect();
        let new_a: HashSet<&str> = snapshot
            .accounts
            .iter()
            .map(|a| a.native_id.as_str())
            .collect();
        let mut named: Vec<&str> = gone_named
            .iter()
            .chain(&new_a)
            .copied()
            .chain(snapshot.grants.iter().map(|g| g.account.as_str()))
            .chain(changes.grants_gone.iter().map(|(a, _)| a.as_str()))
            .collect::<HashSet<&str>>()
            .into_iter()
            .collect();
        named.sort_unstable();
        // Looked up by name when they are few; when many accounts changed (a month's logins),
        // reading the whole system once is faster than looking each up.
        let whole = changes.accounts_whole
            || named.len().saturating_mul(WHOLE_AT) > changes.accounts_before;
        let mut accounts = HashMap::with_capacity_and_hasher(named.len(), Default::default());
        let mut add = |r: &RowRef<'_, '_>| {
            let (native, account) = fp.account_row(r)?;
            accounts.insert(native, account);
            Ok(())
        };
        if whole {
            self.conn
                .query_each(ACCOUNTS_NOW, &[Value::Int(sid)], add)?;
        } else {
            let sql = format!("{ACCOUNTS_NAMED} AND a.native_id IN");
            self.each_named(&sql, sid, &named, |s| Value::from(*s), &mut add)?;
        }
        // With every account record in the snapshot, every current account's record is
        // replaced: all are "gone", and those the snapshot lacks are removed.
        let gone_a: HashSet<&str> = if changes.accounts_whole {
            accounts.keys().map(String::as_str).collect()
        } else {
            gone_named
        };
        if gone_a.iter().any(|k| !accounts.contains_key(*k))
            || new_a
                .iter()
                .any(|k| accounts.contains_key(*k) && !gone_a.contains(k))
        {
            return Ok(None);
        }
        // Every new grant names an account and an entitlement the files have.
        let account_kept =
            |k: &str| new_a.contains(k) || (accounts.contains_key(k) && !gone_a.contains(k));
        let entitlement_kept =
            |k: &str| new_e.contains(k) || (entitlements.contains_key(k) && !gone_e.contains(k));
        if snapshot
            .grants
            .iter()
            .any(|g| !account_kept(&g.account) || !entitlement_kept(&g.entitlement))
        {
            return Ok(None);
        }
        // The current grants of every account concerned: those of the changed grants and the
        // removed accounts.
        let mut ids: Vec<i64> = snapshot
            .grants
            .iter()
            .map(|g| g.account.as_str())
            .chain(changes.grants_gone.iter().map(|(a, _)| a.as_str()))
            .chain(gone_a.iter().copied().filter(|k| !new_a.contains(k)))
            .filter_map(|k| accounts.get(k).map(|a| a.id))
            .collect::<HashSet<i64>>()
            .into_iter()
            .collect();
        ids.sort_unstable();
        let mut held: HashMap<(i64, i64), u64> = HashMap::default();
        let mut add = |r: &RowRef<'_, '_>| {
            let (k, f) = fp.grant_row(r)?;
            held.insert(k, f);
            Ok(())
        };
        if ids.len().saturating_mul(WHOLE_AT) > changes.accounts_before {
            let sql = format!("{GRANTS_NOW} WHERE g.system_id = $1 AND g.valid_to = {OPEN}");
            self.conn.query_each(&sql, &[Value::Int(sid)], add)?;
        } else {
            let sql = format!(
                "{GRANTS_NOW} WHERE g.system_id = $1 AND g.valid_to = {OPEN} AND g.account_id IN"
            );
            self.each_named(&sql, sid, &ids, |i| Value::Int(*i), &mut add)?;
        }
        let id_of = |a: &str, e: &str| {
            accounts
                .get(a)
                .map(|a| a.id)
                .zip(entitlements.get(e).map(|(id, _)| *id))
        };
        let mut gone_g: HashSet<(i64, i64)> = HashSet::default();
        for (a, e) in &changes.grants_gone {
            match id_of(a, e) {
                Some(k) if held.contains_key(&k) => gone_g.insert(k),
                _ => return Ok(None),
            };
        }
        let mut new_g: HashSet<(i64, i64)> = HashSet::default();
        for g in &snapshot.grants {
            if let Some(k) = id_of(&g.account, &g.entitlement) {
                if held.contains_key(&k) && !gone_g.contains(&k) {
                    return Ok(None);
                }
                new_g.insert(k);
            }
        }
        // A removed account or entitlement keeps no grant the files kept.
        let removed_a: HashSet<i64> = gone_a
            .iter()
            .filter(|k| !new_a.contains(*k))
            .filter_map(|k| accounts.get(*k).map(|a| a.id))
            .collect();
        if held
            .keys()
            .any(|k| removed_a.contains(&k.0) && !gone_g.contains(k))
        {
            return Ok(None);
        }
        for k in gone_e.iter().filter(|k| !new_e.contains(*k)) {
            let Some((eid, _)) = entitlements.get(*k) else {
                return Ok(None);
            };
            let holders = self.conn.query(
                &format!(
                    "SELECT g.account_id FROM grant_version g \
                     WHERE g.entitlement_id = $1 AND g.valid_to = {OPEN}"
                ),
                &[Value::Int(*eid)],
                |r| r.i64(0),
            )?;
            if holders.iter().any(|a| !gone_g.contains(&(*a, *eid))) {
                return Ok(None);
            }
        }
        held.retain(|k, _| gone_g.contains(k) || new_g.contains(k));
        Ok(Some(PlanState {
            config: Some(config),
            accounts,
            entitlements,
            grants: held,
        }))
    }

    /// Runs `sql` (ending in `IN`, its first parameter the system's id) for `keys`, a chunk
    /// of them at a time, and hands every row to `each`. Every chunk has the same number of
    /// parameters (the last is padded with its last key), so one statement serves them all.
    fn each_named<K>(
        &mut self,
        sql: &str,
        sid: i64,
        keys: &[K],
        value: impl Fn(&K) -> Value,
        mut each: impl FnMut(&RowRef<'_, '_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let marks: Vec<String> = (2..CHUNK + 2).map(|i| format!("${i}")).collect();
        let sql = format!("{sql} ({})", marks.join(", "));
        for chunk in keys.chunks(CHUNK) {
            let mut params = Vec::with_capacity(CHUNK + 1);
            params.push(Value::Int(sid));
            params.extend(chunk.iter().map(&value));
            while params.len() < CHUNK + 1 {
                params.push(value(&chunk[chunk.len() - 1]));
            }
            self.conn.query_each(&sql, &params, &mut each)?;
        }
        Ok(())
    }
}

impl ImportLock<'_> {
    /// Keeps `files` as the files of `source`'s import `import_seq` (which must just have
    /// been recorded, under this lock: no other change to the inventory comes between),
    /// replacing those kept before. `format` is the version of the reading of records that read
    /// them; the caller compares only kept files of its own version.
    pub fn remember(
        &mut self,
        source: &str,
        import_seq: u64,
        format: i64,
        files: Vec<RememberedFile>,
    ) -> Result<(), StoreError> {
        self.store().maintain(|conn| {
            conn.exec(
                "DELETE FROM import_memory WHERE source = $1",
                &[Value::from(source)],
            )?;
            let last = conn.scalar("SELECT max(seq) FROM event", &[])?;
            for f in files {
                conn.exec(
                    "INSERT INTO import_memory (source, name, import_seq, last_seq, format, sha256, size, content) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        Value::from(source),
                        Value::from(f.name),
                        Value::Int(import_seq as i64),
                        Value::Int(last),
                        Value::Int(format),
                        Value::from(f.sha256),
                        Value::Int(f.size as i64),
                        Value::from(f.packed),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// Drops the kept files of `source` (its latest import read files that are not kept).
    pub fn forget(&mut self, source: &str) -> Result<(), StoreError> {
        self.store().maintain(|conn| {
            conn.exec(
                "DELETE FROM import_memory WHERE source = $1",
                &[Value::from(source)],
            )
            .map(|_| ())
        })
    }
}
