//! Applying a source's snapshot: compare it with what the store holds for that source and append
//! the difference as events.
//!
//! Each import is a snapshot of one source (`hr`, `nhi`, `roles`, `warrants`, `system:<key>`).
//! What the snapshot lacks and the store has was removed; what differs changed. Re-importing
//! the same content appends nothing. History is kept as validity intervals that start and end
//! at the snapshot's `as_of`, which must not go back in time for a source.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use gatehouse_model::{
    Account, AccountActivity, AccountRemoved, BATCH_RECORDS, Batch, Entitlement,
    EntitlementRemoved, ErrorCode, EventData, Grant, GrantRemoved, Identity, IdentityKind,
    IdentityRemoved, ImportApplied, ImportFile, InventoryEvent, Role, RoleRemoved, SnapshotPart,
    Stamped, SystemConfig, SystemKey, Timestamp, WarrantKind, WarrantRecord, WarrantRecordRemoved,
};
use sha2::{Digest, Sha256};

use super::memory::RecordChanges;
use crate::Store;
use crate::conn::{Backend, Value};
use crate::error::StoreError;
use crate::inventory::{DEFERRABLE_INDEXES, DeferrableIndex, Directory};
use crate::lock::{Holder, release_import_lock, try_import_lock};
use crate::sink::OPEN;
use crate::txn::Reader;
use crate::writer::{Durability, Progress, from_micros, micros};

/// The most changes one write transaction of an import records: a small write that arrives
/// during an import waits for at most this many.
pub const UNIT_CHANGES: u64 = 16_000;

/// Rows below which a bulk load keeps the indexes: dropping them only pays for large loads.
const BULK_ROWS: usize = 50_000;

/// On PostgreSQL, the history rows an import must add (and at least a tenth of what the table
/// held) for the inventory's planner statistics to be gathered at its end.
const ANALYZE_ROWS: usize = 1_000;

/// The inventory's tables whose statistics the questions' plans depend on.
const ANALYZED_TABLES: &str = "identity, identity_version, account, account_version, account_login, \
     entitlement, entitlement_version, grant_version";

/// Common settings of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The time the snapshot describes.
    pub as_of: Timestamp,
    /// The files it was read from, as evidence.
    pub files: Vec<ImportFile>,
    /// Rows left out with `--skip-invalid`.
    pub skipped_rows: u64,
    /// The parts of the snapshot that lost rows with `--skip-invalid`: what they lack is not
    /// recorded as removed (it may be among the rows left out), only reported.
    pub partial: Vec<SnapshotPart>,
    /// Accept a snapshot that removes more than half of what the source had.
    pub allow_mass_removal: bool,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// The source.
    pub source: String,
    /// The `import.applied` event: every import records that its source was read, with the
    /// digests of its files, even when nothing changed.
    pub import_seq: Option<u64>,
    /// Changes by event kind; empty when the snapshot matched the store.
    pub changes: BTreeMap<String, u64>,
    /// References to things the store does not know (kept, but worth a look).
    pub warnings: Vec<String>,
    /// The interrupted import of the same source that this one completed.
    pub resumed: Option<u64>,
    /// What the snapshot lacks but was not recorded as removed, because its part lost rows
    /// with `--skip-invalid` (`grant acme:alice → acme:admins`), in order.
    pub unconfirmed: Vec<String>,
}

impl ImportSummary {
    /// Whether the import changed nothing.
    pub fn unchanged(&self) -> bool {
        self.changes.is_empty()
    }
}

/// A system's snapshot, as the store takes it.
#[derive(Debug, Clone)]
pub struct SystemImport {
    /// The system's description.
    pub config: SystemConfig,
    /// Accounts, already correlated.
    pub accounts: Vec<Account>,
    /// Entitlements.
    pub entitlements: Vec<Entitlement>,
    /// Grants; each names an account and entitlement of this snapshot.
    pub grants: Vec<Grant>,
}

/// The changes one import will record, computed in a read transaction by the `plan_*` methods
/// of [`Reader`] and recorded by [`ImportLock::apply`]. Planning checks everything that can
/// refuse the import (time order, mass removal, key clashes), so applying a plan only fails
/// if the database does.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    source: String,
    applied: ImportApplied,
    events: Vec<EventData>,
    warnings: Vec<String>,
    unconfirmed: Vec<String>,
    /// New versions per history table, to decide on a bulk load.
    rows: Vec<(&'static str, usize)>,
}

impl ImportPlan {
    /// The source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Changes by event kind.
    pub fn changes(&self) -> &BTreeMap<String, u64> {
        &self.applied.changes
    }

    /// Whether the snapshot matches the store: the import records only that the source was
    /// read (its `import.applied`, with its files and no changes).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.applied.resumes.is_none()
    }

    /// A plan that records a source as read and unchanged, without having compared it: its
    /// files are byte for byte those of its latest, complete import.
    pub fn unchanged(source: &str, options: &ImportOptions) -> ImportPlan {
        Delta::new(options).plan(source, options, Vec::new(), None)
    }

    /// References to things the store does not know.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// What the snapshot lacks but will not be recorded as removed (see
    /// [`ImportOptions::partial`]).
    pub fn unconfirmed(&self) -> &[String] {
        &self.unconfirmed
    }
}

/// Pending changes of one import, counted before any event is written.
struct Delta {
    as_of: Timestamp,
    events: Vec<EventData>,
    counts: BTreeMap<String, u64>,
    rows: Vec<(&'static str, usize)>,
    partial: Vec<SnapshotPart>,
    unconfirmed: BTreeMap<String, u64>,
    unconfirmed_keys: Vec<String>,
}

impl Delta {
    fn new(options: &ImportOptions) -> Delta {
        Delta {
            as_of: options.as_of,
            events: Vec::new(),
            counts: BTreeMap::new(),
            rows: Vec::new(),
            partial: options.partial.clone(),
            unconfirmed: BTreeMap::new(),
            unconfirmed_keys: Vec::new(),
        }
    }

    /// Splits what a part of the snapshot lacks into the removals to record and, when the
    /// part lost rows with `--skip-invalid`, none: the lacking ones are kept as unconfirmed
    /// removals of `kind`, described by `describe`, for the report.
    fn confirm<T>(
        &mut self,
        part: SnapshotPart,
        kind: &str,
        lacking: Vec<T>,
        describe: impl Fn(&T) -> String,
    ) -> Vec<T> {
        if lacking.is_empty() || !self.partial.contains(&part) {
            return lacking;
        }
        *self.unconfirmed.entry(kind.to_owned()).or_default() += lacking.len() as u64;
        self.unconfirmed_keys.extend(lacking.iter().map(describe));
        Vec::new()
    }

    /// One event of its own.
    fn push(&mut self, e: InventoryEvent) {
        *self.counts.entry(e.kind().to_owned()).or_default() += e.changes() as u64;
        self.events.push(e.into());
    }

    /// Records of one kind, as batch events of at most [`BATCH_RECORDS`].
    fn batch<T: Clone>(&mut self, records: &[T], make: impl Fn(Batch<T>) -> InventoryEvent) {
        for chunk in records.chunks(BATCH_RECORDS) {
            self.push(make(Batch {
                as_of: self.as_of,
                import: None,
                records: chunk.to_vec(),
            }));
        }
    }

    /// Announces `n` new versions in a history table.
    fn expect_rows(&mut self, table: &'static str, n: usize) {
        self.rows.push((table, n));
    }

    fn plan(
        self,
        source: &str,
        options: &ImportOptions,
        warnings: Vec<String>,
        resumes: Option<u64>,
    ) -> ImportPlan {
        ImportPlan {
            source: source.to_owned(),
            applied: ImportApplied {
                source: source.to_owned(),
                as_of: options.as_of,
                digest: digest(&options.files),
                files: options.files.clone(),
                changes: self.counts,
                skipped_rows: options.skipped_rows,
                resumes,
                partial: options.partial.clone(),
                unconfirmed: self.unconfirmed,
            },
            events: self.events,
            warnings,
            unconfirmed: self.unconfirmed_keys,
            rows: self.rows,
        }
    }
}

fn digest(files: &[ImportFile]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.name.as_bytes());
        h.update(b"\n");
        h.update(f.sha256.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

fn stamped<T>(as_of: Timestamp, record: T) -> Stamped<T> {
    Stamped {
        as_of,
        import: None,
        record,
    }
}

fn mass_removal_guard(
    what: &str,
    source: &str,
    removed: usize,
    current: usize,
    allow: bool,
) -> Result<(), StoreError> {
    if !allow && current >= 100 && removed * 2 > current {
        return Err(StoreError::refused(
            ErrorCode::MassRemoval,
            format!(
                "this snapshot of `{source}` would remove {removed} of {current} {what} ({}%); \
                 an incomplete export looks like this",
                removed * 100 / current
            ),
        ));
    }
    Ok(())
}

impl Reader<'_> {
    /// Refuses a snapshot older than the last import of its source, and finds an interrupted
    /// import of the source that this one will complete.
    fn check_as_of(&mut self, source: &str, as_of: Timestamp) -> Result<Option<u64>, StoreError> {
        let last = self.conn.query_opt(
            "SELECT max(as_of) FROM import WHERE source = $1",
            &[Value::from(source)],
            |r| r.opt_i64(0),
        )?;
        if let Some(Some(last)) = last
            && micros(as_of) < last
        {
            return Err(StoreError::refused(
                ErrorCode::HistoryRewrite,
                format!(
                    "this snapshot of `{source}` is as of {as_of}, before the last import of it \
                     (as of {}); history cannot be rewritten: snapshots of a source are imported \
                     in time order",
                    from_micros(last)?
                ),
            ));
        }
        self.conn
            .query_opt(
                "SELECT seq, remaining FROM import WHERE source = $1 ORDER BY seq DESC LIMIT 1",
                &[Value::from(source)],
                |r| Ok((r.i64(1)? > 0).then_some(r.i64(0)? as u64)),
            )
            .map(Option::flatten)
    }

    /// Every current identity's key, kind and e-mail: what correlation needs. Shared by the
    /// clones of a store handle and read again only after an identity event.
    pub fn identity_directory(&mut self) -> Result<Directory, StoreError> {
        let stamp = self.conn.scalar(
            "SELECT max(seq) FROM event WHERE kind IN ('identity.added', 'identity.changed', 'identity.removed')",
            &[],
        )?;
        if let Ok(cache) = self.directory.lock()
            && let Some((at, d)) = cache.as_ref()
            && *at == stamp
        {
            return Ok(d.clone());
        }
        let rows = self.conn.query(
            "SELECT key, kind, email FROM identity_version WHERE valid_to = 9223372036854775807",
            &[],
            |r| Ok((r.parse(0)?, r.parse(1)?, r.opt_str(2)?)),
        )?;
        let d: Directory = std::sync::Arc::new(rows);
        if let Ok(mut cache) = self.directory.lock() {
            *cache = Some((stamp, d.clone()));
        }
        Ok(d)
    }

    /// Number of systems in the store.
    pub fn system_count(&mut self) -> Result<u64, StoreError> {
        Ok(self.conn.scalar("SELECT count(*) FROM system", &[])? as u64)
    }

    fn identity_exists(&mut self, key: &str) -> Result<bool, StoreError> {
        Ok(self.conn.scalar(
            "SELECT count(*) FROM identity i JOIN identity_version v ON v.identity_id = i.identity_id \
             AND v.valid_to = 9223372036854775807 WHERE i.key = $1",
            &[Value::from(key)],
        )? > 0)
    }

    fn known_identity_keys(&mut self) -> Result<HashSet<String>, StoreError> {
        let rows = self.conn.query(
            "SELECT key FROM identity_version WHERE valid_to = 9223372036854775807",
            &[],
            |r| r.str(0),
        )?;
        Ok(rows.into_iter().collect())
    }

    /// Imports a snapshot of identities: the HR feed (`source = "hr"`, people only) or the
    /// non-human identity inventory (`"nhi"`).
    pub fn plan_identities(
        &mut self,
        source: &str,
        identities: Vec<Identity>,
        options: &ImportOptions,
    ) -> Result<ImportPlan, StoreError> {
        let people = source == "hr";
        let resumes = self.check_as_of(source, options.as_of)?;
        let other_source = if people { "nhi" } else { "hr" };
        let others: HashSet<String> = self
            .conn
            .query(
                "SELECT key FROM identity WHERE source = $1",
                &[Value::from(other_source)],
                |r| r.str(0),
            )?
            .into_iter()
            .collect();
        for i in &identities {
            if (i.kind == IdentityKind::Person) != people {
                return Err(StoreError::refused(
                    ErrorCode::IdentityFeedConflict,
                    format!(
                        "identity `{}` is a {} and cannot come from the `{source}` feed",
                        i.key, i.kind
                    ),
                ));
            }
            if others.contains(i.key.as_str()) {
                return Err(StoreError::refused(
                    ErrorCode::IdentityFeedConflict,
                    format!(
                        "identity key `{}` already belongs to an identity of the `{other_source}` feed; \
                     keys must be unique across people and non-human identities",
                        i.key
                    ),
                ));
            }
        }
        let current: HashMap<String, Identity> = self
            .conn
            .query(
                &format!(
                    "SELECT v.key, v.record FROM identity_version v CROSS JOIN identity i \
                     WHERE i.identity_id = v.identity_id AND v.valid_to = {OPEN} AND i.source = $1"
                ),
                &[Value::from(source)],
                |r| Ok((r.str(0)?, r.str(1)?)),
            )?
            .into_iter()
            .map(|(k, rec)| Ok((k, serde_json::from_str::<Identity>(&rec)?)))
            .collect::<Result<_, StoreError>>()?;
        let mut delta = Delta::new(options);
        let mut seen = HashSet::with_capacity_and_hasher(identities.len(), Default::default());
        let mut warnings = Vec::new();
        let all_keys: HashSet<String> = identities.iter().map(|i| i.key.to_string()).collect();
        let known = if people {
            HashSet::default()
        } else {
            self.known_identity_keys()?
        };
        let (mut added, mut changed) = (Vec::new(), Vec::new());
        for i in identities {
            if let Some(owner) = i.non_human.as_ref().and_then(|n| n.owner.as_ref())
                && !known.contains(owner.as_str())
                && !all_keys.contains(owner.as_str())
            {
                warnings.push(format!(
                    "`{}` is owned by `{owner}`, who is not a known identity",
                    i.key
                ));
            }
            seen.insert(i.key.to_string());
            match current.get(i.key.as_str()) {
                None => added.push(i),
                Some(old) if *old != i => changed.push(i),
                Some(_) => {}
            }
        }
        let mut removed: Vec<&String> = current.keys().filter(|k| !seen.contains(*k)).collect();
        removed.sort();
        let removed = delta.confirm(SnapshotPart::Identities, "identity.removed", removed, |k| {
            format!("identity {k}")
        });
        mass_removal_guard(
            "identities",
            source,
            removed.len(),
            current.len(),
            options.allow_mass_removal,
        )?;
        let removed = removed
            .into_iter()
            .map(|k| Ok(IdentityRemoved { key: k.parse()? }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        delta.batch(&added, InventoryEvent::IdentityAdded);
        delta.batch(&changed, InventoryEvent::IdentityChanged);
        delta.batch(&removed, InventoryEvent::IdentityRemoved);
        Ok(delta.plan(source, options, warnings, resumes))
    }

    /// Imports a snapshot of one system.
    pub fn plan_system(
        &mut self,
        snapshot: SystemImport,
        options: &ImportOptions,
    ) -> Result<ImportPlan, StoreError> {
        let fp = Fingerprints::new();
        let current = self.load_for_plan(&snapshot.config.key, &fp)?;
        self.plan_system_against(snapshot, options, &fp, current, None)
    }

    /// Plans a system's import from the records that differ from its latest import's files
    /// (see [`RecordChanges`]): `snapshot` holds only the new records. The store's current
    /// state is read only for the accounts, entitlements and grants they name. `None` when the
    /// store does not hold what the latest import's files said (a record the files lost is
    /// not current, a new record's key is held by a record the files kept, a grant names an
    /// account or entitlement the files no longer have, a removed account still holds a grant
    /// the files kept): the whole snapshot must then be read and planned.
    pub fn plan_system_changes(
        &mut self,
        snapshot: SystemImport,
        changes: &RecordChanges,
        options: &ImportOptions,
    ) -> Result<Option<ImportPlan>, StoreError> {
        let fp = Fingerprints::new();
        let Some(current) = self.load_changed(&snapshot, changes, &fp)? else {
            return Ok(None);
        };
        self.plan_system_against(snapshot, options, &fp, current, Some(changes))
            .map(Some)
    }

    /// Plans a system's import against `current`: the whole current state (`changes` is
    /// `None`), or the part a [`RecordChanges`] names.
    fn plan_system_against(
        &mut self,
        snapshot: SystemImport,
        options: &ImportOptions,
        fp: &Fingerprints,
        current: PlanState,
        changes: Option<&RecordChanges>,
    ) -> Result<ImportPlan, StoreError> {
        let key = snapshot.config.key.clone();
        let source = format!("system:{key}");
        let resumes = self.check_as_of(&source, options.as_of)?;
        let as_of = options.as_of;
        let mut warnings = Vec::new();
        if let Some(owner) = &snapshot.config.owner
            && !self.identity_exists(owner.as_str())?
        {
            warnings.push(format!("system owner `{owner}` is not a known identity"));
        }
        let mut delta = Delta::new(options);
        if current.config.as_ref() != Some(&snapshot.config) {
            delta.push(InventoryEvent::SystemConfigured(stamped(
                as_of,
                snapshot.config.clone(),
            )));
        }

        // Entitlements. Classify first (borrowing), then move the records into their batches.
        let SystemImport {
            config: _,
            accounts,
            entitlements,
            grants,
        } = snapshot;
        let fates: Vec<Fate> = entitlements
            .iter()
            .map(|e| match current.entitlements.get(&e.native_id) {
                None => Fate::Added,
                Some((_, old)) if old != e => Fate::Changed,
                Some(_) => Fate::Same,
            })
            .collect();
        let removed_e: Vec<String> = {
            let present: HashSet<&str> =
                entitlements.iter().map(|e| e.native_id.as_str()).collect();
            let mut v: Vec<String> = match changes {
                None => current.entitlements.keys().cloned().collect(),
                Some(c) => c.entitlements_gone.clone(),
            };
            v.retain(|k| !present.contains(k.as_str()));
            v.sort();
            v
        };
        let (added_e, changed_e) = split(entitlements, &fates);
        delta.batch(&added_e, InventoryEvent::EntitlementAdded);
        delta.batch(&changed_e, InventoryEvent::EntitlementChanged);

        // Accounts, and logins of otherwise unchanged accounts.
        let mut logins: Vec<(String, Timestamp)> = Vec::new();
        let fates: Vec<Fate> = accounts
            .iter()
            .map(|a| match current.accounts.get(&a.native_id) {
                None => Ok(Fate::Added),
                Some(old) if old.fingerprint != fp.account(a)? => Ok(Fate::Changed),
                Some(old) => {
                    if let Some(login) = a.last_login
                        && old.last_login.is_none_or(|l| l < micros(login))
                    {
                        logins.push((a.native_id.clone(), login));
                    }
                    Ok(Fate::Same)
                }
            })
            .collect::<Result<_, StoreError>>()?;
        let removed_a: Vec<String> = {
            let present: HashSet<&str> = accounts.iter().map(|a| a.native_id.as_str()).collect();
            let mut v: Vec<String> = match changes {
                None => current.accounts.keys().cloned().collect(),
                Some(c) if !c.accounts_whole => c.accounts_gone.clone(),
                Some(_) => current.accounts.keys().cloned().collect(),
            };
            v.retain(|k| !present.contains(k.as_str()));
            v.sort();
            v
        };
        let (added_a, changed_a) = split(accounts, &fates);
        delta.expect_rows("account_version", added_a.len() + changed_a.len());
        delta.batch(&added_a, InventoryEvent::AccountAdded);
        delta.batch(&changed_a, InventoryEvent::AccountChanged);
        drop((added_a, changed_a, added_e, changed_e));
        logins.sort();
        for chunk in logins.chunks(BATCH_RECORDS) {
            delta.push(InventoryEvent::AccountActivity(stamped(
                as_of,
                AccountActivity {
                    system: key.clone(),
                    logins: chunk.to_vec(),
                },
            )));
        }

        // Grants.
        let mut seen_g: HashSet<(i64, i64)> =
            HashSet::with_capacity_and_hasher(current.grants.len(), Default::default());
        let fates: Vec<Fate> = grants
            .iter()
            .map(|g| {
                let ids = current
                    .accounts
                    .get(&g.account)
                    .map(|a| a.id)
                    .zip(current.entitlements.get(&g.entitlement).map(|(e, _)| *e));
                match ids.and_then(|k| current.grants.get(&k).map(|old| (k, old))) {
                    None => Ok(Fate::Added),
                    Some((k, old)) => {
                        seen_g.insert(k);
                        Ok(if *old == fp.grant(g)? {
                            Fate::Same
                        } else {
                            Fate::Changed
                        })
                    }
                }
            })
            .collect::<Result<_, StoreError>>()?;
        let (added, changed) = split(grants, &fates);
        let account_native: HashMap<i64, &String> =
            current.accounts.iter().map(|(n, a)| (a.id, n)).collect();
        let entitlement_native: HashMap<i64, &String> = current
            .entitlements
            .iter()
            .map(|(n, (id, _))| (*id, n))
            .collect();
        let mut removed_g: Vec<(i64, i64)> = current
            .grants
            .keys()
            .filter(|k| !seen_g.contains(k))
            .copied()
            .collect();
        removed_g.sort_unstable();
        let grant_name = |(a, e): &(i64, i64)| {
            let an = account_native.get(a).map_or("?", |s| s.as_str());
            let en = entitlement_native.get(e).map_or("?", |s| s.as_str());
            format!("grant {key}:{an} → {key}:{en}")
        };
        let removed_g = delta.confirm(SnapshotPart::Grants, "grant.removed", removed_g, grant_name);
        let removed_a = delta.confirm(SnapshotPart::Accounts, "account.removed", removed_a, |n| {
            format!("account {key}:{n}")
        });
        let removed_e = delta.confirm(
            SnapshotPart::Entitlements,
            "entitlement.removed",
            removed_e,
            |n| format!("entitlement {key}:{n}"),
        );
        let (accounts_before, grants_before) = match changes {
            None => (current.accounts.len(), current.grants.len()),
            Some(c) => (c.accounts_before, c.grants_before),
        };
        mass_removal_guard(
            "grants",
            &source,
            removed_g.len(),
            grants_before,
            options.allow_mass_removal,
        )?;
        mass_removal_guard(
            "accounts",
            &source,
            removed_a.len(),
            accounts_before,
            options.allow_mass_removal,
        )?;
        let mut gone = Vec::with_capacity(removed_g.len());
        for (a, e) in removed_g {
            let (Some(an), Some(en)) = (account_native.get(&a), entitlement_native.get(&e)) else {
                return Err(StoreError::Corrupt(format!(
                    "a current grant of `{key}` refers to account {a} or entitlement {e}, which are not current"
                )));
            };
            gone.push(GrantRemoved {
                system: key.clone(),
                account: (*an).clone(),
                entitlement: (*en).clone(),
            });
        }
        delta.expect_rows("grant_version", changed.len() + added.len());
        delta.batch(&gone, InventoryEvent::GrantRemoved);
        delta.batch(&changed, InventoryEvent::GrantChanged);
        delta.batch(&added, InventoryEvent::GrantAdded);
        drop((gone, changed, added));
        let removed_a: Vec<AccountRemoved> = removed_a
            .into_iter()
            .map(|native_id| AccountRemoved {
                system: key.clone(),
                native_id,
            })
            .collect();
        delta.batch(&removed_a, InventoryEvent::AccountRemoved);
        let removed_e: Vec<EntitlementRemoved> = removed_e
            .into_iter()
            .map(|native_id| EntitlementRemoved {
                system: key.clone(),
                native_id,
            })
            .collect();
        delta.batch(&removed_e, InventoryEvent::EntitlementRemoved);
        Ok(delta.plan(&source, options, warnings, resumes))
    }

    /// Imports the role catalogue.
    pub fn plan_roles(
        &mut self,
        roles: Vec<Role>,
        options: &ImportOptions,
    ) -> Result<ImportPlan, StoreError> {
        let resumes = self.check_as_of("roles", options.as_of)?;
        let current: HashMap<String, Role> = self
            .conn
            .query("SELECT key, record FROM role", &[], |r| {
                Ok((r.str(0)?, r.str(1)?))
            })?
            .into_iter()
            .map(|(k, rec)| Ok((k, serde_json::from_str::<Role>(&rec)?)))
            .collect::<Result<_, StoreError>>()?;
        let known_entitlements = self.current_entitlement_refs()?;
        let mut warnings = Vec::new();
        let mut delta = Delta::new(options);
        let mut seen = HashSet::default();
        let (mut added, mut changed) = (Vec::new(), Vec::new());
        let members_partial = options.partial.contains(&SnapshotPart::RoleMembers);
        let mut kept_members = Vec::new();
        for mut r in roles {
            // Members a partial members file lacks stay members: their rows may be among
            // those left out.
            if members_partial && let Some(old) = current.get(r.key.as_str()) {
                for m in &old.members {
                    if !r.members.contains(m) {
                        kept_members.push((r.key.to_string(), m.clone()));
                        r.members.push(m.clone());
                    }
                }
                r.members.sort();
            }
            for e in &r.entitlements {
                if !known_entitlements.contains(&e.to_string()) {
                    warnings.push(format!(
                        "role `{}` bundles `{e}`, which is not a known entitlement",
                        r.key
                    ));
                }
            }
            seen.insert(r.key.to_string());
            match current.get(r.key.as_str()) {
                None => added.push(r),
                Some(old) if *old != r => changed.push(r),
                Some(_) => {}
            }
        }
        let mut removed: Vec<&String> = current.keys().filter(|k| !seen.contains(*k)).collect();
        removed.sort();
        let removed = removed
            .into_iter()
            .map(|k| Ok(RoleRemoved { key: k.parse()? }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        delta.batch(&added, InventoryEvent::RoleDefined);
        delta.batch(&changed, InventoryEvent::RoleChanged);
        delta.batch(&removed, InventoryEvent::RoleRemoved);
        kept_members.sort();
        delta.confirm(
            SnapshotPart::RoleMembers,
            "role.member_removed",
            kept_members,
            |(role, m)| format!("member {m} of role {role}"),
        );
        Ok(delta.plan("roles", options, warnings, resumes))
    }

    /// Imports warrant records (approved requests, review decisions, break-glass uses).
    pub fn plan_warrants(
        &mut self,
        records: Vec<WarrantRecord>,
        options: &ImportOptions,
    ) -> Result<ImportPlan, StoreError> {
        let resumes = self.check_as_of("warrants", options.as_of)?;
        let current: HashMap<(String, String), WarrantRecord> = self
            .conn
            .query("SELECT kind, id, record FROM warrant_record", &[], |r| {
                Ok((r.str(0)?, r.str(1)?, r.str(2)?))
            })?
            .into_iter()
            .map(|(k, id, rec)| Ok(((k, id), serde_json::from_str::<WarrantRecord>(&rec)?)))
            .collect::<Result<_, StoreError>>()?;
        let known = self.known_identity_keys()?;
        let mut warnings = Vec::new();
        let mut delta = Delta::new(options);
        let mut seen = HashSet::default();
        let (mut added, mut changed) = (Vec::new(), Vec::new());
        for r in records {
            if let Some(who) = &r.identity
                && !known.contains(who.as_str())
            {
                warnings.push(format!(
                    "{} `{}` is for `{who}`, who is not a known identity",
                    r.kind, r.id
                ));
            }
            let k = (r.kind.as_str().to_owned(), r.id.clone());
            seen.insert(k.clone());
            match current.get(&k) {
                None => added.push(r),
                Some(old) if *old != r => changed.push(r),
                Some(_) => {}
            }
        }
        let mut removed: Vec<&(String, String)> =
            current.keys().filter(|k| !seen.contains(*k)).collect();
        removed.sort();
        let removed = delta.confirm(
            SnapshotPart::Warrants,
            "warrant.removed",
            removed,
            |(k, id)| format!("{k} {id}"),
        );
        mass_removal_guard(
            "warrant records",
            "warrants",
            removed.len(),
            current.len(),
            options.allow_mass_removal,
        )?;
        let removed = removed
            .into_iter()
            .map(|(kind, id)| {
                Ok(WarrantRecordRemoved {
                    kind: kind.parse::<WarrantKind>()?,
                    id: id.clone(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        delta.batch(&added, InventoryEvent::WarrantRecorded);
        delta.batch(&changed, InventoryEvent::WarrantChanged);
        delta.batch(&removed, InventoryEvent::WarrantRemoved);
        Ok(delta.plan("warrants", options, warnings, resumes))
    }

    /// Re-links every current account of every system with `correlate`, which receives the
    /// system's configuration and its accounts (their `identity` being the declared one, if
    /// any) and sets `identity` and `linked_by`. Returns the `account.correlated` events of
    /// every link that changes, taking effect at `as_of` (the snapshot time of the identity
    /// import that made them necessary), for [`ImportLock::append`].
    /// Systems in `skip` are left out (a snapshot folder re-imports them, correlating every
    /// account of theirs anyway).
    pub fn plan_relink(
        &mut self,
        as_of: Timestamp,
        skip: &[SystemKey],
        mut correlate: impl FnMut(&SystemConfig, &mut [Account]),
    ) -> Result<Vec<EventData>, StoreError> {
        let systems: Vec<String> =
            self.conn
                .query("SELECT key FROM system ORDER BY key", &[], |r| r.str(0))?;
        let mut events = Vec::new();
        for key in systems {
            let key: SystemKey = key.parse()?;
            if skip.contains(&key) {
                continue;
            }
            events.extend(self.plan_relink_system(as_of, &key, &mut correlate)?);
        }
        Ok(events)
    }

    /// [`Reader::plan_relink`] for one system.
    pub fn plan_relink_system(
        &mut self,
        as_of: Timestamp,
        key: &SystemKey,
        mut correlate: impl FnMut(&SystemConfig, &mut [Account]),
    ) -> Result<Vec<EventData>, StoreError> {
        let mut events = Vec::new();
        {
            let state = self.load_system_accounts(key)?;
            let Some(config) = state.config else {
                return Ok(events);
            };
            let mut natives: Vec<&String> = state.accounts.keys().collect();
            natives.sort();
            let before: Vec<Account> = natives
                .iter()
                .map(|n| state.accounts[*n].1.clone())
                .collect();
            let mut after: Vec<Account> = before
                .iter()
                .map(|a| {
                    let mut a = a.clone();
                    if a.linked_by.as_deref() != Some("identity") {
                        a.identity = None;
                    }
                    a
                })
                .collect();
            correlate(&config, &mut after);
            let relinked: Vec<Account> = before
                .iter()
                .zip(after)
                .filter(|(old, new)| old.identity != new.identity || old.linked_by != new.linked_by)
                .map(|(_, new)| new)
                .collect();
            for chunk in relinked.chunks(BATCH_RECORDS) {
                events.push(
                    InventoryEvent::AccountCorrelated(Batch {
                        as_of,
                        import: None,
                        records: chunk.to_vec(),
                    })
                    .into(),
                );
            }
        }
        Ok(events)
    }

    fn current_entitlement_refs(&mut self) -> Result<HashSet<String>, StoreError> {
        let rows = self.conn.query(
            &format!(
                "SELECT s.key, e.native_id FROM entitlement e JOIN system s ON s.system_id = e.system_id \
                 JOIN entitlement_version v ON v.entitlement_id = e.entitlement_id AND v.valid_to = {OPEN}"
            ),
            &[],
            |r| Ok(format!("{}:{}", r.str(0)?, r.str(1)?)),
        )?;
        Ok(rows.into_iter().collect())
    }

    /// A system's configuration and current accounts, whole (what re-linking needs).
    fn load_system_accounts(&mut self, key: &SystemKey) -> Result<SystemState, StoreError> {
        let db = &mut *self.conn;
        let row = db.query_opt(
            "SELECT system_id, config FROM system WHERE key = $1",
            &[Value::from(key.as_str())],
            |r| Ok((r.i64(0)?, r.str(1)?)),
        )?;
        let Some((sid, config)) = row else {
            return Ok(SystemState::default());
        };
        let config: SystemConfig = serde_json::from_str(&config)?;
        let mut accounts = HashMap::with_capacity_and_hasher(1024, Default::default());
        db.query_each(ACCOUNTS_NOW, &[Value::Int(sid)], |r| {
            let account = Account {
                system: key.clone(),
                native_id: r.str(1)?,
                username: r.str(3)?,
                identity: r.opt_parse(4)?,
                linked_by: r.opt_str(5)?,
                kind: r.parse(6)?,
                enabled: r.i64(7)? != 0,
                mfa: r.opt_i64(8)?.map(|m| m != 0),
                last_login: r.opt_i64(2)?.map(from_micros).transpose()?,
                employee_id: r.opt_str(9)?,
                email: r.opt_str(10)?,
                attributes: match r.opt_str(11)? {
                    Some(a) => serde_json::from_str(&a)?,
                    None => Default::default(),
                },
            };
            accounts.insert(account.native_id.clone(), (r.i64(0)?, account));
            Ok(())
        })?;
        Ok(SystemState {
            config: Some(config),
            accounts,
        })
    }

    /// A system's current state as planning compares it: the configuration and entitlements
    /// whole (they are few), accounts and grants as keyed fingerprints of their stored columns
    /// (there may be millions; a fingerprint is compared with the snapshot's without building
    /// a record).
    fn load_for_plan(
        &mut self,
        key: &SystemKey,
        fp: &Fingerprints,
    ) -> Result<PlanState, StoreError> {
        let Some((sid, config)) = self.system_row(key)? else {
            return Ok(PlanState::default());
        };
        let db = &mut *self.conn;
        let mut accounts = HashMap::with_capacity_and_hasher(1024, Default::default());
        db.query_each(ACCOUNTS_NOW, &[Value::Int(sid)], |r| {
            let (native, account) = fp.account_row(r)?;
            accounts.insert(native, account);
            Ok(())
        })?;
        let entitlements = self.current_entitlements(sid)?;
        let db = &mut *self.conn;
        let mut grants = HashMap::with_capacity_and_hasher(accounts.len() * 4, Default::default());
        db.query_each(
            &format!("{GRANTS_NOW} WHERE g.system_id = $1 AND g.valid_to = {OPEN}"),
            &[Value::Int(sid)],
            |r| {
                let (k, f) = fp.grant_row(r)?;
                grants.insert(k, f);
                Ok(())
            },
        )?;
        Ok(PlanState {
            config: Some(config),
            accounts,
            entitlements,
            grants,
        })
    }

    /// A system's id and configuration, if the store knows it.
    pub(super) fn system_row(
        &mut self,
        key: &SystemKey,
    ) -> Result<Option<(i64, SystemConfig)>, StoreError> {
        let row = self.conn.query_opt(
            "SELECT system_id, config FROM system WHERE key = $1",
            &[Value::from(key.as_str())],
            |r| Ok((r.i64(0)?, r.str(1)?)),
        )?;
        row.map(|(sid, config)| Ok((sid, serde_json::from_str(&config)?)))
            .transpose()
    }

    /// A system's current entitlements by native id, with their ids.
    pub(super) fn current_entitlements(
        &mut self,
        sid: i64,
    ) -> Result<HashMap<String, (i64, Entitlement)>, StoreError> {
        self.conn
            .query(
                &format!(
                    "SELECT e.entitlement_id, e.native_id, v.record FROM entitlement e \
                     JOIN entitlement_version v ON v.entitlement_id = e.entitlement_id AND v.valid_to = {OPEN} \
                     WHERE e.system_id = $1"
                ),
                &[Value::Int(sid)],
                |r| Ok((r.i64(0)?, r.str(1)?, r.str(2)?)),
            )?
            .into_iter()
            .map(|(id, native, rec)| Ok((native, (id, serde_json::from_str(&rec)?))))
            .collect()
    }
}

/// Grant versions with the columns a fingerprint covers (see [`Fingerprints::grant_row`]).
pub(super) const GRANTS_NOW: &str = "SELECT g.account_id, g.entitlement_id, g.source, g.warrant, \
     g.expires_at, g.attributes, g.granted_at FROM grant_version g";

/// Accounts of a system by native id (the query goes on with `AND a.native_id IN (…)`),
/// with the columns of [`ACCOUNTS_NOW`]. The accounts are looked up first (`CROSS JOIN` keeps
/// SQLite from reading every version of the system's accounts for a long `IN` list).
pub(super) const ACCOUNTS_NAMED: &str = "SELECT a.account_id, a.native_id, l.last_login, v.username, \
     v.identity, v.linked_by, v.kind, v.enabled, v.mfa, v.employee_id, v.email, v.attributes \
     FROM account a CROSS JOIN account_version v \
     LEFT JOIN account_login l ON l.account_id = a.account_id \
     WHERE a.system_id = $1 AND v.system_id = a.system_id AND v.account_id = a.account_id \
     AND v.valid_to = 9223372036854775807";

/// A system's current accounts with their version's columns and last login.
pub(super) const ACCOUNTS_NOW: &str = "SELECT a.account_id, a.native_id, l.last_login, v.username, v.identity, \
     v.linked_by, v.kind, v.enabled, v.mfa, v.employee_id, v.email, v.attributes \
     FROM account_version v CROSS JOIN account a \
     LEFT JOIN account_login l ON l.account_id = a.account_id \
     WHERE v.system_id = $1 AND v.valid_to = 9223372036854775807 AND a.account_id = v.account_id";

/// Fingerprints of stored rows and of snapshot records, made with one random key per plan:
/// equal columns give equal fingerprints, and nobody who writes a source can predict the key
/// to make a changed record collide with the stored one (a 64-bit keyed hash; two different
/// records agree with a probability of 2^-64).
pub(super) struct Fingerprints(std::collections::hash_map::RandomState);

impl Fingerprints {
    pub(super) fn new() -> Fingerprints {
        Fingerprints(std::collections::hash_map::RandomState::new())
    }

    fn hasher(&self) -> std::collections::hash_map::DefaultHasher {
        std::hash::BuildHasher::build_hasher(&self.0)
    }

    /// A row of [`ACCOUNTS_NOW`]'s columns: the native id and the account as planning
    /// compares it.
    pub(super) fn account_row(
        &self,
        r: &crate::conn::RowRef<'_, '_>,
    ) -> Result<(String, CurrentAccount), StoreError> {
        let mut h = self.hasher();
        r.with_str(3, |v| v.hash(&mut h))?;
        r.with_str(4, |v| v.hash(&mut h))?;
        r.with_str(5, |v| v.hash(&mut h))?;
        r.with_str(6, |v| v.hash(&mut h))?;
        (r.i64(7)? != 0).hash(&mut h);
        r.opt_i64(8)?.map(|m| m != 0).hash(&mut h);
        r.with_str(9, |v| v.hash(&mut h))?;
        r.with_str(10, |v| v.hash(&mut h))?;
        r.with_str(11, |v| v.hash(&mut h))?;
        Ok((
            r.str(1)?,
            CurrentAccount {
                id: r.i64(0)?,
                fingerprint: h.finish(),
                last_login: r.opt_i64(2)?,
            },
        ))
    }

    /// A row of [`GRANTS_NOW`]'s columns: the grant's `(account, entitlement)` ids and its
    /// fingerprint.
    pub(super) fn grant_row(
        &self,
        r: &crate::conn::RowRef<'_, '_>,
    ) -> Result<((i64, i64), u64), StoreError> {
        let mut h = self.hasher();
        r.with_str(2, |v| v.hash(&mut h))?;
        r.with_str(3, |v| v.hash(&mut h))?;
        r.opt_i64(4)?.hash(&mut h);
        r.with_str(5, |v| v.hash(&mut h))?;
        r.opt_i64(6)?.hash(&mut h);
        Ok(((r.i64(0)?, r.i64(1)?), h.finish()))
    }

    /// An account's stored columns but its last login, as the projection writes them.
    fn account(&self, a: &Account) -> Result<u64, StoreError> {
        let mut h = self.hasher();
        Some(a.username.as_str()).hash(&mut h);
        a.identity.as_ref().map(|k| k.as_str()).hash(&mut h);
        a.linked_by.as_deref().hash(&mut h);
        Some(a.kind.as_str()).hash(&mut h);
        a.enabled.hash(&mut h);
        a.mfa.hash(&mut h);
        a.employee_id.as_deref().hash(&mut h);
        a.email.as_deref().hash(&mut h);
        let attributes = match super::attributes(&a.attributes)? {
            crate::conn::Value::Text(t) => Some(t),
            _ => None,
        };
        attributes.as_deref().hash(&mut h);
        Ok(h.finish())
    }

    /// A grant's stored columns, as the projection writes them.
    fn grant(&self, g: &Grant) -> Result<u64, StoreError> {
        let mut h = self.hasher();
        Some(g.source.as_str()).hash(&mut h);
        g.warrant
            .as_ref()
            .map(|w| w.to_string())
            .as_deref()
            .hash(&mut h);
        g.expires_at.map(micros).hash(&mut h);
        let attributes = match super::attributes(&g.attributes)? {
            crate::conn::Value::Text(t) => Some(t),
            _ => None,
        };
        attributes.as_deref().hash(&mut h);
        g.granted_at.map(micros).hash(&mut h);
        Ok(h.finish())
    }
}

/// A current account as planning compares it.
pub(super) struct CurrentAccount {
    pub(super) id: i64,
    fingerprint: u64,
    last_login: Option<i64>,
}

/// A system's current state as planning compares it (see `Reader::load_for_plan`).
#[derive(Default)]
pub(super) struct PlanState {
    pub(super) config: Option<SystemConfig>,
    pub(super) accounts: HashMap<String, CurrentAccount>,
    pub(super) entitlements: HashMap<String, (i64, Entitlement)>,
    pub(super) grants: HashMap<(i64, i64), u64>,
}

/// What a snapshot record is, compared with the store.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Added,
    Changed,
    Same,
}

/// Moves the added and the changed records out of a snapshot.
fn split<T>(records: Vec<T>, fates: &[Fate]) -> (Vec<T>, Vec<T>) {
    let (mut added, mut changed) = (Vec::new(), Vec::new());
    for (r, f) in records.into_iter().zip(fates) {
        match f {
            Fate::Added => added.push(r),
            Fate::Changed => changed.push(r),
            Fate::Same => {}
        }
    }
    (added, changed)
}

#[derive(Default)]
struct SystemState {
    config: Option<SystemConfig>,
    accounts: HashMap<String, (i64, Account)>,
}

/// The right to change the inventory: one import (or re-correlation) at a time per store,
/// across processes. Plans are computed in read transactions while it is held, and recorded
/// with [`ImportLock::apply`], in batches of write transactions of at most [`UNIT_CHANGES`]
/// changes each. Dropping it releases it; [`ImportLock::release`] also reports whether the
/// indexes dropped for a bulk load were rebuilt.
pub struct ImportLock<'s> {
    store: &'s Store,
    holder: Option<Holder>,
    /// Part of a bulk load (a snapshot folder): rebuild dropped indexes only at the end.
    bulk: bool,
    dropped: Vec<&'static DeferrableIndex>,
    progress: Option<Progress>,
    /// The inventory's ids, carried from one batch to the next.
    ids: Option<super::Ids>,
    /// History rows added per table by the imports recorded under this lock, to decide
    /// whether the planner's statistics are gathered at the end (PostgreSQL).
    added: BTreeMap<&'static str, usize>,
}

impl Store {
    /// Takes the import lock, or says that another import holds it. Rebuilds any index a
    /// bulk load left dropped when its process died.
    pub fn import_lock(&self) -> Result<ImportLock<'_>, StoreError> {
        let holder = try_import_lock(self.shared.pool.target(), &self.shared.memory_import)?
            .ok_or(StoreError::ImportRunning)?;
        let lock = ImportLock {
            store: self,
            holder: Some(holder),
            bulk: false,
            dropped: Vec::new(),
            progress: None,
            ids: None,
            added: BTreeMap::new(),
        };
        if self.backend() == Backend::Sqlite {
            self.maintain(super::restore_indexes)?;
        }
        Ok(lock)
    }
}

impl<'s> ImportLock<'s> {
    /// The store this lock is for.
    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// Makes the following imports one bulk load: an index that one of them drops for speed
    /// stays dropped until [`ImportLock::release`], which rebuilds it once.
    pub fn set_bulk(&mut self) {
        self.bulk = true;
    }

    /// Reports the progress of the following imports to `f(events appended, events
    /// expected)`.
    pub fn set_progress(&mut self, f: Option<Progress>) {
        self.progress = f;
    }

    /// Plans and records a snapshot of identities: the HR feed (`source = "hr"`) or the
    /// non-human identity inventory (`"nhi"`).
    pub fn import_identities(
        &mut self,
        source: &str,
        identities: Vec<Identity>,
        options: &ImportOptions,
        actor: &str,
        now: Timestamp,
    ) -> Result<ImportSummary, StoreError> {
        let plan = self
            .store
            .read(|r| r.plan_identities(source, identities, options))?;
        self.apply(plan, actor, now)
    }

    /// Plans and records a snapshot of one system.
    pub fn import_system(
        &mut self,
        snapshot: SystemImport,
        options: &ImportOptions,
        actor: &str,
        now: Timestamp,
    ) -> Result<ImportSummary, StoreError> {
        let plan = self.store.read(|r| r.plan_system(snapshot, options))?;
        self.apply(plan, actor, now)
    }

    /// Plans and records a system's import from the records that differ from its latest
    /// import's files (see [`Reader::plan_system_changes`]); `None`, with nothing recorded,
    /// when the store does not hold what those files said.
    pub fn import_system_changes(
        &mut self,
        snapshot: SystemImport,
        changes: &RecordChanges,
        options: &ImportOptions,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<ImportSummary>, StoreError> {
        let plan = self
            .store
            .read(|r| r.plan_system_changes(snapshot, changes, options))?;
        plan.map(|plan| self.apply(plan, actor, now)).transpose()
    }

    /// Plans and records the role catalogue.
    pub fn import_roles(
        &mut self,
        roles: Vec<Role>,
        options: &ImportOptions,
        actor: &str,
        now: Timestamp,
    ) -> Result<ImportSummary, StoreError> {
        let plan = self.store.read(|r| r.plan_roles(roles, options))?;
        self.apply(plan, actor, now)
    }

    /// Plans and records warrant records.
    pub fn import_warrants(
        &mut self,
        records: Vec<WarrantRecord>,
        options: &ImportOptions,
        actor: &str,
        now: Timestamp,
    ) -> Result<ImportSummary, StoreError> {
        let plan = self.store.read(|r| r.plan_warrants(records, options))?;
        self.apply(plan, actor, now)
    }

    /// Records a plan: `import.applied` and the delta events, in batches of at most
    /// [`UNIT_CHANGES`] changes, each committed on its own. If a batch after the first fails,
    /// the error says how much was recorded ([`StoreError::ImportInterrupted`]); importing
    /// the same snapshot again completes it.
    pub fn apply(
        &mut self,
        plan: ImportPlan,
        actor: &str,
        now: Timestamp,
    ) -> Result<ImportSummary, StoreError> {
        let progress = self.progress.clone();
        let ImportPlan {
            source,
            applied,
            mut events,
            warnings,
            unconfirmed,
            rows,
        } = plan;
        let total: u64 = applied.changes.values().sum();
        let changes = applied.changes.clone();
        let resumed = applied.resumes;
        let drop_indexes = self.indexes_to_drop(&rows)?;
        let mut counted = 0u64;
        let mut first = Some(applied);
        let mut import_seq = 0;
        // The first load of a store (its history tables still empty, their indexes dropped)
        // is written in one transaction: nothing is there to read or decide on yet, and every
        // page is then written to the log once rather than once per batch.
        let mut units = if drop_indexes.is_empty() && self.dropped.is_empty() {
            unit_boundaries(&events)
        } else {
            vec![events.len()]
        };
        units.reverse();
        let expected = events.len() as u64 + 1;
        let mut appended = 0u64;
        let mut remaining_events = events.drain(..);
        let mut done = 0;
        loop {
            let len = units.pop().unwrap_or(0);
            let unit: Vec<EventData> = remaining_events.by_ref().take(len).collect();
            let last = units.is_empty();
            let unit_changes: u64 = unit.iter().map(|e| e.changes() as u64).sum();
            let durability = if last {
                Durability::Full
            } else {
                Durability::Batch
            };
            let head = first.take();
            let dropping = if head.is_some() {
                drop_indexes.clone()
            } else {
                Vec::new()
            };
            let base = appended;
            let result = self
                .store
                .write_carrying(actor, now, durability, &mut self.ids, |w| {
                    if let Some(p) = progress.clone() {
                        w.set_progress(std::sync::Arc::new(move |a, _| p(base + a, expected)));
                    }
                    for index in &dropping {
                        w.db()?
                            .batch(&format!("DROP INDEX IF EXISTS {}", index.name))?;
                    }
                    let seq = match head {
                        Some(head) => w.append(InventoryEvent::ImportApplied(head))?,
                        None => import_seq,
                    };
                    let mut unit = unit;
                    for e in &mut unit {
                        if let EventData::Inventory(e) = e {
                            e.set_import(seq);
                        }
                    }
                    w.append_all(unit)?;
                    Ok::<_, StoreError>((seq, w.appended()))
                });
            match result {
                Ok((seq, n)) => {
                    import_seq = seq;
                    appended += n;
                    counted += unit_changes;
                    self.dropped.extend(dropping);
                    if let Some(p) = &progress {
                        p(appended, expected);
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(e) => {
                    return Err(StoreError::ImportInterrupted {
                        source_name: source,
                        import: import_seq,
                        recorded: counted,
                        total,
                        cause: Box::new(e),
                    });
                }
            }
            done += 1;
            if last {
                break;
            }
            if self.store.backend() == Backend::Sqlite {
                // Let a writer of another process, polling for SQLite's lock every
                // millisecond, in before the next batch.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        for (table, n) in &rows {
            *self.added.entry(table).or_default() += n;
        }
        if !self.bulk {
            self.rebuild()?;
            self.analyze()?;
        }
        Ok(ImportSummary {
            source,
            import_seq: Some(import_seq),
            changes,
            warnings,
            resumed,
            unconfirmed,
        })
    }

    /// Records changes to the inventory that belong to no import (re-linked accounts), in
    /// batches like [`ImportLock::apply`]. Returns the number of records.
    pub fn append(
        &mut self,
        events: Vec<EventData>,
        actor: &str,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let total: u64 = events.iter().map(|e| e.changes() as u64).sum();
        let mut units = unit_boundaries(&events);
        units.reverse();
        let mut events = events.into_iter();
        while let Some(len) = units.pop() {
            let unit: Vec<EventData> = events.by_ref().take(len).collect();
            let durability = if units.is_empty() {
                Durability::Full
            } else {
                Durability::Batch
            };
            self.store
                .write_carrying(actor, now, durability, &mut self.ids, |w| {
                    w.append_all(unit)
                })?;
        }
        Ok(total)
    }

    /// Which indexes the first batch of an import drops: on SQLite, a history table's
    /// secondary index when the import adds many versions to a table that is still empty
    /// (the first load of a store). A table that already holds data keeps its indexes, so
    /// that questions asked during the import stay fast.
    fn indexes_to_drop(
        &self,
        rows: &[(&'static str, usize)],
    ) -> Result<Vec<&'static DeferrableIndex>, StoreError> {
        if self.store.backend() != Backend::Sqlite {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (table, n) in rows {
            if *n < BULK_ROWS {
                continue;
            }
            for index in DEFERRABLE_INDEXES.iter().filter(|i| i.table == *table) {
                if self.dropped.iter().any(|d| d.name == index.name) {
                    continue;
                }
                let empty = self.store.read(|r| {
                    Ok::<_, StoreError>(
                        r.conn
                            .query_opt(
                                &format!("SELECT 1 FROM {} LIMIT 1", index.table),
                                &[],
                                |r| r.i64(0),
                            )?
                            .is_none(),
                    )
                })?;
                if empty {
                    out.push(index);
                }
            }
        }
        Ok(out)
    }

    /// Rebuilds the indexes dropped so far, in a transaction of its own.
    fn rebuild(&mut self) -> Result<(), StoreError> {
        if self.dropped.is_empty() {
            return Ok(());
        }
        let dropped = std::mem::take(&mut self.dropped);
        self.store
            .maintain(|conn| dropped.iter().try_for_each(|i| conn.batch(i.create)))
    }

    /// Gathers PostgreSQL's planner statistics for the inventory's tables when the imports
    /// recorded since the last time added many history rows: at least [`ANALYZE_ROWS`] to a
    /// table, and a tenth of what it held. Without them (the first load of a store, before
    /// the server's own autovacuum gets to it a minute or more later) the planner knows nothing
    /// of the tables and a page of holders can take seconds instead of milliseconds. `ANALYZE`
    /// blocks neither readers nor writers; it runs outside any write transaction, and skips a
    /// table the server's autovacuum is busy with.
    fn analyze(&mut self) -> Result<(), StoreError> {
        let added = std::mem::take(&mut self.added);
        if self.store.backend() != Backend::Postgres {
            return Ok(());
        }
        let candidates: Vec<(&str, usize)> = added
            .into_iter()
            .filter(|(_, n)| *n >= ANALYZE_ROWS)
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        self.store.unlocked(|conn| {
            let mut stale = false;
            for (table, n) in &candidates {
                // -1 when the table was never analyzed.
                let known = conn.query_opt(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)",
                    &[Value::from(*table)],
                    |r| r.i64(0),
                )?;
                stale |= known.is_none_or(|k| k < 0 || (*n as i64).saturating_mul(10) >= k);
            }
            if stale {
                conn.batch(&format!("ANALYZE (SKIP_LOCKED) {ANALYZED_TABLES}"))?;
            }
            Ok(())
        })
    }

    /// Rebuilds what a bulk load dropped, gathers statistics after a large load (PostgreSQL),
    /// and releases the lock.
    pub fn release(mut self) -> Result<(), StoreError> {
        self.rebuild()?;
        self.analyze()
    }
}

impl Drop for ImportLock<'_> {
    fn drop(&mut self) {
        // Best effort: a failure leaves the index to the next import (see `import_lock`).
        let _ = self.rebuild();
        if let Some(holder) = self.holder.take() {
            release_import_lock(holder, &self.store.shared.memory_import);
        }
    }
}

/// Cuts events into write transactions of at most [`UNIT_CHANGES`] changes (at least one
/// event each); returns the number of events in each. No events make one empty unit (an
/// import that records only its `import.applied`).
fn unit_boundaries(events: &[EventData]) -> Vec<usize> {
    let mut units = Vec::new();
    let (mut n, mut changes) = (0usize, 0u64);
    for e in events {
        let c = e.changes() as u64;
        if n > 0 && changes + c > UNIT_CHANGES {
            units.push(n);
            (n, changes) = (0, 0);
        }
        n += 1;
        changes += c;
    }
    units.push(n);
    units
}

/// An import that stopped before all its changes were recorded, and that no later import of
/// its source has completed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IncompleteImport {
    /// Its `import.applied` event.
    pub seq: u64,
    /// The source.
    pub source: String,
    /// The snapshot time.
    pub as_of: Timestamp,
    /// Changes recorded.
    pub recorded: u64,
    /// Changes it announced.
    pub total: u64,
}

impl Reader<'_> {
    /// Imports interrupted before their last batch (their process died) and not completed
    /// since: the history of their source after their snapshot time is partial.
    pub fn incomplete_imports(&mut self) -> Result<Vec<IncompleteImport>, StoreError> {
        let rows = self.conn.query(
            "SELECT i.seq, i.source, i.as_of, i.changes, i.remaining FROM import i \
             WHERE i.remaining > 0 AND NOT EXISTS \
               (SELECT 1 FROM import later WHERE later.source = i.source AND later.seq > i.seq) \
             ORDER BY i.seq",
            &[],
            |r| {
                Ok((
                    r.i64(0)? as u64,
                    r.str(1)?,
                    r.i64(2)?,
                    r.str(3)?,
                    r.i64(4)? as u64,
                ))
            },
        )?;
        rows.into_iter()
            .map(|(seq, source, as_of, changes, remaining)| {
                let changes: BTreeMap<String, u64> = serde_json::from_str(&changes)?;
                let total: u64 = changes.values().sum();
                Ok(IncompleteImport {
                    seq,
                    source,
                    as_of: from_micros(as_of)?,
                    recorded: total.saturating_sub(remaining),
                    total,
                })
            })
            .collect()
    }
}

/// The latest import of a source, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastImport {
    /// Its `import.applied` event.
    pub seq: u64,
    /// The snapshot time.
    pub as_of: Timestamp,
    /// The files it was read from.
    pub files: Vec<ImportFile>,
    /// Invalid rows it left out.
    pub skipped_rows: u64,
    /// Whether all its changes were recorded.
    pub complete: bool,
}

impl Reader<'_> {
    /// The latest import of `source` (`hr`, `system:erp`, …) that recorded anything, if any.
    pub fn last_import(&mut self, source: &str) -> Result<Option<LastImport>, StoreError> {
        let row = self.conn.query_opt(
            "SELECT seq, remaining FROM import WHERE source = $1 ORDER BY seq DESC LIMIT 1",
            &[Value::from(source)],
            |r| Ok((r.i64(0)? as u64, r.i64(1)?)),
        )?;
        let Some((seq, remaining)) = row else {
            return Ok(None);
        };
        let event = self.event(seq)?;
        let EventData::Inventory(InventoryEvent::ImportApplied(applied)) = event.data else {
            return Err(StoreError::Corrupt(format!(
                "event {seq} is in the import table but is not an import"
            )));
        };
        Ok(Some(LastImport {
            seq,
            as_of: applied.as_of,
            files: applied.files,
            skipped_rows: applied.skipped_rows,
            complete: remaining == 0,
        }))
    }
}

/// One import as the log records it: when a source was read, by whom, which files, and what it
/// changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportLogEntry {
    /// Its `import.applied` event.
    pub seq: u64,
    /// The source.
    pub source: String,
    /// The snapshot time.
    pub as_of: Timestamp,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Who recorded it.
    pub actor: String,
    /// The files read, with their digests and rows.
    pub files: Vec<ImportFile>,
    /// Changes it recorded (0: the source was read and matched the store).
    pub changes: u64,
    /// Whether all its changes were recorded.
    pub complete: bool,
}

impl Reader<'_> {
    /// Every import, oldest first, optionally of one source and with a snapshot time in
    /// `[from, to)`.
    pub fn import_log(
        &mut self,
        source: Option<&str>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<ImportLogEntry>, StoreError> {
        let rows = self.conn.query(
            "SELECT i.seq, i.remaining, e.body FROM import i JOIN event e ON e.seq = i.seq \
             WHERE ($1 = '' OR i.source = $1) AND i.as_of >= $2 AND i.as_of < $3 ORDER BY i.seq",
            &[
                Value::from(source.unwrap_or("")),
                Value::Int(from.map_or(i64::MIN, micros)),
                Value::Int(to.map_or(i64::MAX, micros)),
            ],
            |r| Ok((r.i64(0)? as u64, r.i64(1)?, r.blob(2)?)),
        )?;
        rows.into_iter()
            .map(|(seq, remaining, body)| {
                let body = crate::ledger::unpack(seq as i64, body)?;
                let event = gatehouse_model::Event::decode(&body)
                    .map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
                let EventData::Inventory(InventoryEvent::ImportApplied(a)) = event.data else {
                    return Err(StoreError::Corrupt(format!(
                        "event {seq} is in the import table but is not an import"
                    )));
                };
                Ok(ImportLogEntry {
                    seq,
                    source: a.source,
                    as_of: a.as_of,
                    recorded_at: event.at,
                    actor: event.actor,
                    files: a.files,
                    changes: a.changes.values().sum(),
                    complete: remaining == 0,
                })
            })
            .collect()
    }
}
