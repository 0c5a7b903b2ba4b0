//! Applying a source's snapshot: compare it with what the store holds for that source and append
//! the difference as events.
//!
//! Each import is a snapshot of one source (`hr`, `nhi`, `roles`, `warrants`, `system:<key>`).
//! What the snapshot lacks and the store has was removed; what differs changed. Re-importing
//! the same content appends nothing. History is kept as validity intervals that start and end
//! at the snapshot's `as_of`, which must not go back in time for a source.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use gatehouse_model::{
    Account, AccountActivity, AccountRemoved, BATCH_RECORDS, Batch, Entitlement,
    EntitlementRemoved, EventData, Grant, GrantRemoved, Identity, IdentityKind, IdentityRemoved,
    ImportApplied, ImportFile, Role, RoleRemoved, Stamped, SystemConfig, SystemKey, Timestamp,
    WarrantKind, WarrantRecord, WarrantRecordRemoved,
};
use sha2::{Digest, Sha256};

use crate::db::Value;
use crate::error::StoreError;
use crate::sink::OPEN;
use crate::writer::{Directory, Writer, from_micros, micros};

/// Common settings of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The time the snapshot describes.
    pub as_of: Timestamp,
    /// The files it was read from, as evidence.
    pub files: Vec<ImportFile>,
    /// Rows left out with `--skip-invalid`.
    pub skipped_rows: u64,
    /// Accept a snapshot that removes more than half of what the source had.
    pub allow_mass_removal: bool,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// The source.
    pub source: String,
    /// The `import.applied` event, when anything changed.
    pub import_seq: Option<u64>,
    /// Changes by event kind; empty when the snapshot matched the store.
    pub changes: BTreeMap<String, u64>,
    /// References to things the store does not know (kept, but worth a look).
    pub warnings: Vec<String>,
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

/// Pending changes of one import, counted before any event is written.
struct Delta {
    as_of: Timestamp,
    events: Vec<EventData>,
    counts: BTreeMap<String, u64>,
}

impl Delta {
    fn new(as_of: Timestamp) -> Delta {
        Delta {
            as_of,
            events: Vec::new(),
            counts: BTreeMap::new(),
        }
    }

    /// One event of its own.
    fn push(&mut self, e: EventData) {
        *self.counts.entry(e.kind().to_owned()).or_default() += e.changes() as u64;
        self.events.push(e);
    }

    /// Records of one kind, as batch events of at most [`BATCH_RECORDS`].
    fn batch<T: Clone>(&mut self, records: &[T], make: impl Fn(Batch<T>) -> EventData) {
        for chunk in records.chunks(BATCH_RECORDS) {
            self.push(make(Batch {
                as_of: self.as_of,
                import: None,
                records: chunk.to_vec(),
            }));
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
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
        return Err(StoreError::Refused(format!(
            "this snapshot of `{source}` would remove {removed} of {current} {what} ({}%); \
             an incomplete export looks like this. If it is intended, import again with \
             --allow-mass-removal",
            removed * 100 / current
        )));
    }
    Ok(())
}

impl Writer<'_> {
    fn check_as_of(&mut self, source: &str, as_of: Timestamp) -> Result<(), StoreError> {
        let last = self.db()?.query_opt(
            "SELECT max(as_of) FROM import WHERE source = $1",
            &[Value::from(source)],
            |r| r.opt_i64(0),
        )?;
        if let Some(Some(last)) = last
            && micros(as_of) < last
        {
            return Err(StoreError::Refused(format!(
                "this snapshot of `{source}` is as of {as_of}, before the last import of it \
                     (as of {}); history cannot be rewritten — import snapshots in time order",
                from_micros(last)?
            )));
        }
        Ok(())
    }

    /// Writes `import.applied` and the delta; nothing at all when the delta is empty.
    fn apply(
        &mut self,
        source: &str,
        options: &ImportOptions,
        delta: Delta,
        warnings: Vec<String>,
    ) -> Result<ImportSummary, StoreError> {
        if delta.events.is_empty() {
            return Ok(ImportSummary {
                source: source.to_owned(),
                import_seq: None,
                changes: BTreeMap::new(),
                warnings,
            });
        }
        self.expect(delta.events.len() as u64 + 1);
        let import = self.append(EventData::ImportApplied(ImportApplied {
            source: source.to_owned(),
            as_of: options.as_of,
            digest: digest(&options.files),
            files: options.files.clone(),
            changes: delta.counts.clone(),
            skipped_rows: options.skipped_rows,
        }))?;
        let mut events = delta.events;
        for e in &mut events {
            set_import(e, import);
        }
        self.append_all(events)?;
        self.expect(0);
        Ok(ImportSummary {
            source: source.to_owned(),
            import_seq: Some(import),
            changes: delta.counts,
            warnings,
        })
    }

    /// Every current identity's key, kind and e-mail: what correlation needs. Reused from
    /// the previous write of this store handle when nothing has changed since.
    pub fn identity_directory(&mut self) -> Result<Directory, StoreError> {
        if let Some(d) = self.cached_directory() {
            return Ok(d);
        }
        let rows = self.db()?.query(
            &format!("SELECT key, kind, email FROM identity_version WHERE valid_to = {OPEN}"),
            &[],
            |r| Ok((r.str(0)?.parse()?, r.str(1)?.parse()?, r.opt_str(2)?)),
        )?;
        let d: Directory = std::sync::Arc::new(rows);
        self.remember_directory(d.clone());
        Ok(d)
    }

    /// Number of systems in the store.
    pub fn system_count(&mut self) -> Result<u64, StoreError> {
        Ok(self.db()?.scalar("SELECT count(*) FROM system", &[])? as u64)
    }

    fn identity_exists(&mut self, key: &str) -> Result<bool, StoreError> {
        Ok(self.db()?.scalar(
            &format!(
                "SELECT count(*) FROM identity i JOIN identity_version v ON v.identity_id = i.identity_id \
                 AND v.valid_to = {OPEN} WHERE i.key = $1"
            ),
            &[Value::from(key)],
        )? > 0)
    }

    fn known_identity_keys(&mut self) -> Result<HashSet<String>, StoreError> {
        let rows = self.db()?.query(
            &format!("SELECT key FROM identity_version WHERE valid_to = {OPEN}"),
            &[],
            |r| r.str(0),
        )?;
        Ok(rows.into_iter().collect())
    }

    /// Imports a snapshot of identities: the HR feed (`source = "hr"`, people only) or the
    /// non-human identity inventory (`"nhi"`).
    pub fn import_identities(
        &mut self,
        source: &str,
        identities: Vec<Identity>,
        options: &ImportOptions,
    ) -> Result<ImportSummary, StoreError> {
        let people = source == "hr";
        self.check_as_of(source, options.as_of)?;
        let other_source = if people { "nhi" } else { "hr" };
        let others: HashSet<String> = self
            .db()?
            .query(
                "SELECT key FROM identity WHERE source = $1",
                &[Value::from(other_source)],
                |r| r.str(0),
            )?
            .into_iter()
            .collect();
        for i in &identities {
            if (i.kind == IdentityKind::Person) != people {
                return Err(StoreError::Refused(format!(
                    "identity `{}` is a {} and cannot come from the `{source}` feed",
                    i.key, i.kind
                )));
            }
            if others.contains(i.key.as_str()) {
                return Err(StoreError::Refused(format!(
                    "identity key `{}` already belongs to an identity of the `{other_source}` feed; \
                     keys must be unique across people and non-human identities",
                    i.key
                )));
            }
        }
        let current: HashMap<String, Identity> = self
            .db()?
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
        let as_of = options.as_of;
        let mut delta = Delta::new(as_of);
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
        delta.batch(&added, EventData::IdentityAdded);
        delta.batch(&changed, EventData::IdentityChanged);
        delta.batch(&removed, EventData::IdentityRemoved);
        self.apply(source, options, delta, warnings)
    }

    /// Imports a snapshot of one system.
    pub fn import_system(
        &mut self,
        snapshot: SystemImport,
        options: &ImportOptions,
    ) -> Result<ImportSummary, StoreError> {
        let key = snapshot.config.key.clone();
        let source = format!("system:{key}");
        self.check_as_of(&source, options.as_of)?;
        let as_of = options.as_of;
        let mut warnings = Vec::new();
        if let Some(owner) = &snapshot.config.owner
            && !self.identity_exists(owner.as_str())?
        {
            warnings.push(format!("system owner `{owner}` is not a known identity"));
        }
        let current = self.load_system(&key)?;
        let mut delta = Delta::new(as_of);
        if current.config.as_ref() != Some(&snapshot.config) {
            delta.push(EventData::SystemConfigured(stamped(
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
            let mut v: Vec<String> = current
                .entitlements
                .keys()
                .filter(|k| !present.contains(k.as_str()))
                .cloned()
                .collect();
            v.sort();
            v
        };
        let (added_e, changed_e) = split(entitlements, &fates);
        delta.batch(&added_e, EventData::EntitlementAdded);
        delta.batch(&changed_e, EventData::EntitlementChanged);

        // Accounts, and logins of otherwise unchanged accounts.
        let mut logins: Vec<(String, Timestamp)> = Vec::new();
        let fates: Vec<Fate> = accounts
            .iter()
            .map(|a| match current.accounts.get(&a.native_id) {
                None => Fate::Added,
                Some((_, old)) if old.differs_beyond_activity(a) => Fate::Changed,
                Some((_, old)) => {
                    if let Some(login) = a.last_login
                        && old.last_login.is_none_or(|l| l < login)
                    {
                        logins.push((a.native_id.clone(), login));
                    }
                    Fate::Same
                }
            })
            .collect();
        let removed_a: Vec<String> = {
            let present: HashSet<&str> = accounts.iter().map(|a| a.native_id.as_str()).collect();
            let mut v: Vec<String> = current
                .accounts
                .keys()
                .filter(|k| !present.contains(k.as_str()))
                .cloned()
                .collect();
            v.sort();
            v
        };
        let (added_a, changed_a) = split(accounts, &fates);
        self.expect_rows("account_version", added_a.len() + changed_a.len())?;
        delta.batch(&added_a, EventData::AccountAdded);
        delta.batch(&changed_a, EventData::AccountChanged);
        drop((added_a, changed_a, added_e, changed_e));
        logins.sort();
        for chunk in logins.chunks(BATCH_RECORDS) {
            delta.push(EventData::AccountActivity(stamped(
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
                    .map(|(a, _)| *a)
                    .zip(current.entitlements.get(&g.entitlement).map(|(e, _)| *e));
                match ids.and_then(|k| current.grants.get(&k).map(|old| (k, old))) {
                    None => Fate::Added,
                    Some((k, old)) => {
                        seen_g.insert(k);
                        if old.same_as(g) {
                            Fate::Same
                        } else {
                            Fate::Changed
                        }
                    }
                }
            })
            .collect();
        let (added, changed) = split(grants, &fates);
        let mut removed_g: Vec<(i64, i64)> = current
            .grants
            .keys()
            .filter(|k| !seen_g.contains(k))
            .copied()
            .collect();
        removed_g.sort_unstable();
        mass_removal_guard(
            "grants",
            &source,
            removed_g.len(),
            current.grants.len(),
            options.allow_mass_removal,
        )?;
        mass_removal_guard(
            "accounts",
            &source,
            removed_a.len(),
            current.accounts.len(),
            options.allow_mass_removal,
        )?;
        let account_native: HashMap<i64, &String> = current
            .accounts
            .iter()
            .map(|(n, (id, _))| (*id, n))
            .collect();
        let entitlement_native: HashMap<i64, &String> = current
            .entitlements
            .iter()
            .map(|(n, (id, _))| (*id, n))
            .collect();
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
        self.expect_rows("grant_version", changed.len() + added.len())?;
        delta.batch(&gone, EventData::GrantRemoved);
        delta.batch(&changed, EventData::GrantChanged);
        delta.batch(&added, EventData::GrantAdded);
        drop((gone, changed, added));
        let removed_a: Vec<AccountRemoved> = removed_a
            .into_iter()
            .map(|native_id| AccountRemoved {
                system: key.clone(),
                native_id,
            })
            .collect();
        delta.batch(&removed_a, EventData::AccountRemoved);
        let removed_e: Vec<EntitlementRemoved> = removed_e
            .into_iter()
            .map(|native_id| EntitlementRemoved {
                system: key.clone(),
                native_id,
            })
            .collect();
        delta.batch(&removed_e, EventData::EntitlementRemoved);
        self.apply(&source, options, delta, warnings)
    }

    /// Imports the role catalogue.
    pub fn import_roles(
        &mut self,
        roles: Vec<Role>,
        options: &ImportOptions,
    ) -> Result<ImportSummary, StoreError> {
        self.check_as_of("roles", options.as_of)?;
        let current: HashMap<String, Role> = self
            .db()?
            .query("SELECT key, record FROM role", &[], |r| {
                Ok((r.str(0)?, r.str(1)?))
            })?
            .into_iter()
            .map(|(k, rec)| Ok((k, serde_json::from_str::<Role>(&rec)?)))
            .collect::<Result<_, StoreError>>()?;
        let known_entitlements = self.current_entitlement_refs()?;
        let mut warnings = Vec::new();
        let mut delta = Delta::new(options.as_of);
        let mut seen = HashSet::default();
        let (mut added, mut changed) = (Vec::new(), Vec::new());
        for r in roles {
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
        delta.batch(&added, EventData::RoleDefined);
        delta.batch(&changed, EventData::RoleChanged);
        delta.batch(&removed, EventData::RoleRemoved);
        self.apply("roles", options, delta, warnings)
    }

    /// Imports warrant records (approved requests, review decisions, break-glass uses).
    pub fn import_warrants(
        &mut self,
        records: Vec<WarrantRecord>,
        options: &ImportOptions,
    ) -> Result<ImportSummary, StoreError> {
        self.check_as_of("warrants", options.as_of)?;
        let current: HashMap<(String, String), WarrantRecord> = self
            .db()?
            .query("SELECT kind, id, record FROM warrant_record", &[], |r| {
                Ok((r.str(0)?, r.str(1)?, r.str(2)?))
            })?
            .into_iter()
            .map(|(k, id, rec)| Ok(((k, id), serde_json::from_str::<WarrantRecord>(&rec)?)))
            .collect::<Result<_, StoreError>>()?;
        let known = self.known_identity_keys()?;
        let mut warnings = Vec::new();
        let mut delta = Delta::new(options.as_of);
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
        delta.batch(&added, EventData::WarrantRecorded);
        delta.batch(&changed, EventData::WarrantChanged);
        delta.batch(&removed, EventData::WarrantRemoved);
        self.apply("warrants", options, delta, warnings)
    }

    /// Re-links every current account of every system with `correlate`, which receives the
    /// system's configuration and its accounts (their `identity` being the declared one, if
    /// any) and sets `identity` and `linked_by`. Appends `account.correlated` for every link
    /// that changes. Returns the number of accounts re-linked.
    pub fn recorrelate(
        &mut self,
        mut correlate: impl FnMut(&SystemConfig, &mut [Account]),
    ) -> Result<u64, StoreError> {
        let systems: Vec<String> =
            self.db()?
                .query("SELECT key FROM system ORDER BY key", &[], |r| r.str(0))?;
        let mut changed = 0;
        let now = self.now();
        for key in systems {
            let key: SystemKey = key.parse()?;
            let state = self.load_system(&key)?;
            let Some(config) = state.config else { continue };
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
            changed += relinked.len() as u64;
            for chunk in relinked.chunks(BATCH_RECORDS) {
                self.append(EventData::AccountCorrelated(Batch {
                    as_of: now,
                    import: None,
                    records: chunk.to_vec(),
                }))?;
            }
        }
        Ok(changed)
    }

    fn current_entitlement_refs(&mut self) -> Result<HashSet<String>, StoreError> {
        let rows = self.db()?.query(
            &format!(
                "SELECT s.key, e.native_id FROM entitlement e JOIN system s ON s.system_id = e.system_id \
                 JOIN entitlement_version v ON v.entitlement_id = e.entitlement_id AND v.valid_to = {OPEN}"
            ),
            &[],
            |r| Ok(format!("{}:{}", r.str(0)?, r.str(1)?)),
        )?;
        Ok(rows.into_iter().collect())
    }

    fn load_system(&mut self, key: &SystemKey) -> Result<SystemState, StoreError> {
        let db = self.db()?;
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
        db.query_each(
                &format!(
                    "SELECT a.account_id, a.native_id, a.last_login, v.username, v.identity, v.linked_by, \
                      v.kind, v.enabled, v.mfa, v.employee_id, v.email, v.attributes \
                     FROM account_version v CROSS JOIN account a \
                     WHERE v.system_id = $1 AND v.valid_to = {OPEN} AND a.account_id = v.account_id"
                ),
                &[Value::Int(sid)],
                |r| {
                    let account = Account {
                        system: key.clone(),
                        native_id: r.str(1)?,
                        username: r.str(3)?,
                        identity: r.opt_str(4)?.map(|k| k.parse()).transpose()?,
                        linked_by: r.opt_str(5)?,
                        kind: r.str(6)?.parse()?,
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
                },
            )?;
        let entitlements = db
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
            .collect::<Result<HashMap<_, _>, StoreError>>()?;
        let mut grants = HashMap::with_capacity_and_hasher(accounts.len() * 4, Default::default());
        db.query_each(
                &format!(
                    "SELECT g.account_id, g.entitlement_id, g.source, g.warrant, g.expires_at, g.attributes, \
                     g.granted_at FROM grant_version g WHERE g.system_id = $1 AND g.valid_to = {OPEN}"
                ),
                &[Value::Int(sid)],
                |r| {
                    grants.insert(
                        (r.i64(0)?, r.i64(1)?),
                        GrantState {
                            source: r.str(2)?,
                            warrant: r.opt_str(3)?,
                            expires_at: r.opt_i64(4)?,
                            attributes: r.opt_str(5)?,
                            granted_at: r.opt_i64(6)?,
                        },
                    );
                    Ok(())
                },
            )?;
        Ok(SystemState {
            config: Some(config),
            accounts,
            entitlements,
            grants,
        })
    }
}

/// A grant's mutable part, as stored.
#[derive(Debug, PartialEq, Eq)]
struct GrantState {
    source: String,
    warrant: Option<String>,
    expires_at: Option<i64>,
    attributes: Option<String>,
    granted_at: Option<i64>,
}

impl GrantState {
    /// Whether a snapshot grant has this state, without building one.
    fn same_as(&self, g: &Grant) -> bool {
        self.source == g.source.as_str()
            && self.expires_at == g.expires_at.map(micros)
            && self.granted_at == g.granted_at.map(micros)
            && match (&self.warrant, &g.warrant) {
                (None, None) => true,
                (Some(a), Some(b)) => *a == b.to_string(),
                _ => false,
            }
            && match &self.attributes {
                None => g.attributes.is_empty(),
                Some(a) => {
                    !g.attributes.is_empty()
                        && serde_json::to_string(&g.attributes).ok().as_deref() == Some(a.as_str())
                }
            }
    }
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
    entitlements: HashMap<String, (i64, Entitlement)>,
    grants: HashMap<(i64, i64), GrantState>,
}

fn set_import(e: &mut EventData, import: u64) {
    use EventData as E;
    let slot = match e {
        E::SystemConfigured(s) => &mut s.import,
        E::AccountActivity(s) => &mut s.import,
        E::IdentityAdded(b) | E::IdentityChanged(b) => &mut b.import,
        E::IdentityRemoved(b) => &mut b.import,
        E::AccountAdded(b) | E::AccountChanged(b) | E::AccountCorrelated(b) => &mut b.import,
        E::AccountRemoved(b) => &mut b.import,
        E::EntitlementAdded(b) | E::EntitlementChanged(b) => &mut b.import,
        E::EntitlementRemoved(b) => &mut b.import,
        E::GrantAdded(b) | E::GrantChanged(b) => &mut b.import,
        E::GrantRemoved(b) => &mut b.import,
        E::RoleDefined(b) | E::RoleChanged(b) => &mut b.import,
        E::RoleRemoved(b) => &mut b.import,
        E::WarrantRecorded(b) | E::WarrantChanged(b) => &mut b.import,
        E::WarrantRemoved(b) => &mut b.import,
        E::ImportApplied(_)
        | E::AnalysisRan(_)
        | E::FindingOpened(_)
        | E::FindingChanged(_)
        | E::FindingResolved(_)
        | E::FindingReopened(_)
        | E::FindingAccepted(_)
        | E::AssessmentRecorded(_) => return,
    };
    *slot = Some(import);
}
