//! Questions about the inventory, now or at any point in time.

use gatehouse_model::{
    AccountKind, Criticality, EmploymentStatus, ErrorCode, Event, EventData, GrantSource,
    IdentityKey, IdentityKind, InventoryEvent, SystemKey, Timestamp, Warrant,
};
use serde::Serialize;

use crate::Backend;
use crate::conn::{Conn, RowRef, Value};
use crate::error::StoreError;
use crate::sink::OPEN;
use crate::txn::Reader;
use crate::writer::{from_micros, micros};

/// One holder of an entitlement at a point in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The account's native id.
    pub account: String,
    /// Its username.
    pub username: String,
    /// Account kind.
    pub account_kind: AccountKind,
    /// Whether the account was enabled.
    pub enabled: bool,
    /// The linked identity's key, if any.
    pub identity: Option<IdentityKey>,
    /// Its name at that time.
    pub name: Option<String>,
    /// Its e-mail at that time.
    pub email: Option<String>,
    /// Its employment status at that time (people only).
    pub status: Option<EmploymentStatus>,
    /// How the grant came about.
    pub source: GrantSource,
    /// What justifies it.
    pub warrant: Option<Warrant>,
    /// Since when this version of the grant held.
    pub since: Timestamp,
    /// When the grant is meant to end.
    pub expires_at: Option<Timestamp>,
}

/// An entitlement, resolved from a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntitlementInfo {
    /// System key.
    pub system: SystemKey,
    /// Native id.
    pub native_id: String,
    /// Name (latest).
    pub name: String,
    /// Privileged (latest).
    pub privileged: bool,
    #[serde(skip)]
    pub(crate) id: i64,
    #[serde(skip)]
    system_id: i64,
}

/// An account, resolved from a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountInfo {
    /// System key.
    pub system: SystemKey,
    /// Native id.
    pub native_id: String,
    /// Username (latest).
    pub username: String,
    #[serde(skip)]
    id: i64,
    #[serde(skip)]
    system_id: i64,
}

/// An identity, resolved from a reference, as it was at the asked time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityInfo {
    /// Key.
    pub key: IdentityKey,
    /// Kind.
    pub kind: IdentityKind,
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Status (people).
    pub status: Option<EmploymentStatus>,
    /// Department (people).
    pub department: Option<String>,
    #[serde(skip)]
    id: i64,
}

/// One account of an identity at a point in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessAccount {
    /// System key.
    pub system: SystemKey,
    /// Native id.
    pub account: String,
    /// Username.
    pub username: String,
    /// Kind.
    pub kind: AccountKind,
    /// Enabled.
    pub enabled: bool,
    /// Last login observed (latest, not as of the asked time).
    pub last_login: Option<Timestamp>,
}

/// One grant of an identity at a point in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessGrant {
    /// System key.
    pub system: SystemKey,
    /// Account native id.
    pub account: String,
    /// Username.
    pub username: String,
    /// Entitlement native id.
    pub entitlement: String,
    /// Entitlement name.
    pub entitlement_name: String,
    /// Whether the entitlement is privileged.
    pub privileged: bool,
    /// How the grant came about.
    pub source: GrantSource,
    /// What justifies it.
    pub warrant: Option<Warrant>,
    /// Since when.
    pub since: Timestamp,
    /// When it is meant to end.
    pub expires_at: Option<Timestamp>,
}

/// Everything one identity held at a point in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    /// Who.
    pub identity: IdentityInfo,
    /// Their accounts.
    pub accounts: Vec<AccessAccount>,
    /// Their grants.
    pub grants: Vec<AccessGrant>,
}

/// The import an event belonged to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportInfo {
    /// Its `import.applied` event.
    pub seq: u64,
    /// Source.
    pub source: String,
    /// Snapshot time.
    pub as_of: Timestamp,
    /// Digest of its input files.
    pub digest: String,
}

/// One step in an object's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// The event.
    pub seq: u64,
    /// Its kind (`grant.added`).
    pub kind: &'static str,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Who recorded it.
    pub actor: String,
    /// When it took effect.
    pub as_of: Timestamp,
    /// The import it came with.
    pub import: Option<ImportInfo>,
    /// The object's state after the event (none when removed).
    pub state: Option<serde_json::Value>,
    /// Fields that differ from the previous state.
    pub changed: Vec<String>,
}

/// Which kind of object a history is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// `system:account/entitlement`.
    Grant,
    /// `system:account`.
    Account,
    /// `system:entitlement`.
    Entitlement,
    /// identity key or e-mail.
    Identity,
}

fn split_system(reference: &str) -> Result<(&str, &str), StoreError> {
    reference
        .split_once(':')
        .filter(|(s, r)| !s.is_empty() && !r.is_empty())
        .ok_or_else(|| {
            StoreError::refused(
                ErrorCode::InvalidReference,
                format!(
                    "`{reference}` is not a reference; write `system:name`, e.g. `erp:role/AP_Approver`"
                ),
            )
        })
}

fn system_id(db: &mut Conn, key: &str) -> Result<i64, StoreError> {
    match db.query_opt(
        "SELECT system_id FROM system WHERE key = $1",
        &[Value::from(key)],
        |r| r.i64(0),
    )? {
        Some(id) => Ok(id),
        None => {
            let keys = db.query("SELECT key FROM system", &[], |r| r.str(0))?;
            Err(StoreError::unknown(format!(
                "there is no system `{key}`{}",
                did_you_mean(key, keys, |k| format!("`{k}`"))
            )))
        }
    }
}

/// `; did you mean …?` naming the candidate closest to what was written, if one is close
/// enough to be a likely typing mistake (case and small slips), or nothing.
pub(crate) fn did_you_mean(
    written: &str,
    candidates: impl IntoIterator<Item = String>,
    show: impl Fn(&str) -> String,
) -> String {
    let w = written.to_lowercase();
    let best = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&w, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.88)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
    match best {
        Some((_, c)) => format!("; did you mean {}?", show(&c)),
        None => String::new(),
    }
}

/// Finds an entitlement by `system:native_id`, or by `system:name` when the name is unique.
fn resolve_entitlement(db: &mut Conn, reference: &str) -> Result<EntitlementInfo, StoreError> {
    let (system, rest) = split_system(reference)?;
    let sid = system_id(db, system)?;
    let key: SystemKey = system.parse()?;
    let sql = "SELECT e.entitlement_id, e.native_id, v.name, v.privileged FROM entitlement e \
               JOIN entitlement_version v ON v.entitlement_id = e.entitlement_id \
               WHERE e.system_id = $1 AND e.native_id = $2 ORDER BY v.seq DESC";
    let map = |r: &RowRef<'_, '_>| {
        Ok(EntitlementInfo {
            system: key.clone(),
            system_id: sid,
            id: r.i64(0)?,
            native_id: r.str(1)?,
            name: r.str(2)?,
            privileged: r.i64(3)? != 0,
        })
    };
    if let Some(e) = db.query_opt(sql, &[Value::Int(sid), Value::from(rest)], map)? {
        return Ok(e);
    }
    let by_name = db.query(
        "SELECT DISTINCT e.entitlement_id, e.native_id, v.name, v.privileged FROM entitlement e \
         JOIN entitlement_version v ON v.entitlement_id = e.entitlement_id \
         WHERE e.system_id = $1 AND v.name = $2 AND v.seq = (SELECT max(seq) FROM entitlement_version \
         WHERE entitlement_id = e.entitlement_id)",
        &[Value::Int(sid), Value::from(rest)],
        map,
    )?;
    match by_name.as_slice() {
        [one] => Ok(one.clone()),
        [] => {
            let names = db.query(
                "SELECT e.native_id, v.name FROM entitlement e \
                 JOIN entitlement_version v ON v.entitlement_id = e.entitlement_id \
                 WHERE e.system_id = $1 AND v.valid_to = $2",
                &[Value::Int(sid), Value::Int(OPEN)],
                |r| Ok((r.str(0)?, r.str(1)?)),
            )?;
            Err(StoreError::unknown(format!(
                "system `{system}` has no entitlement with id or name `{rest}`{}",
                did_you_mean(
                    rest,
                    names.into_iter().flat_map(|(id, name)| [id, name]),
                    |c| format!("`{system}:{c}`")
                )
            )))
        }
        many => Err(StoreError::refused(
            ErrorCode::AmbiguousReference,
            format!(
                "`{rest}` names {} entitlements of `{system}`; use the id: {}",
                many.len(),
                many.iter()
                    .map(|e| format!("`{}`", e.native_id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Finds an account by `system:native_id`, or by `system:username` when unique.
fn resolve_account(db: &mut Conn, reference: &str) -> Result<AccountInfo, StoreError> {
    let (system, rest) = split_system(reference)?;
    let sid = system_id(db, system)?;
    match resolve_account_in(db, system, sid, rest)? {
        Some(a) => Ok(a),
        None => {
            let names = db.query(
                "SELECT a.native_id, v.username FROM account a \
                 JOIN account_version v ON v.system_id = a.system_id AND v.account_id = a.account_id \
                 WHERE a.system_id = $1 AND v.valid_to = $2",
                &[Value::Int(sid), Value::Int(OPEN)],
                |r| Ok((r.str(0)?, r.str(1)?)),
            )?;
            Err(StoreError::unknown(format!(
                "system `{system}` has no account with id or username `{rest}`{}",
                did_you_mean(
                    rest,
                    names.into_iter().flat_map(|(id, name)| [id, name]),
                    |c| format!("`{system}:{c}`")
                )
            )))
        }
    }
}

fn resolve_account_in(
    db: &mut Conn,
    system: &str,
    sid: i64,
    rest: &str,
) -> Result<Option<AccountInfo>, StoreError> {
    let key: SystemKey = system.parse()?;
    let map = |r: &RowRef<'_, '_>| {
        Ok(AccountInfo {
            system: key.clone(),
            system_id: sid,
            id: r.i64(0)?,
            native_id: r.str(1)?,
            username: r.str(2)?,
        })
    };
    if let Some(a) = db.query_opt(
        "SELECT a.account_id, a.native_id, v.username FROM account a JOIN account_version v \
         ON v.system_id = a.system_id AND v.account_id = a.account_id WHERE a.system_id = $1 AND a.native_id = $2 ORDER BY v.seq DESC",
        &[Value::Int(sid), Value::from(rest)],
        map,
    )? {
        return Ok(Some(a));
    }
    let by_name = db.query(
        "SELECT DISTINCT a.account_id, a.native_id, v.username FROM account_version v JOIN account a \
         ON a.account_id = v.account_id WHERE v.system_id = $1 AND lower(v.username) = lower($2)",
        &[Value::Int(sid), Value::from(rest)],
        map,
    )?;
    match by_name.as_slice() {
        [one] => Ok(Some(one.clone())),
        [] => Ok(None),
        many => Err(StoreError::refused(
            ErrorCode::AmbiguousReference,
            format!(
                "`{rest}` is the username of {} accounts of `{system}`; use the account id: {}",
                many.len(),
                many.iter()
                    .map(|a| format!("`{}`", a.native_id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Finds a grant by `system:account/entitlement`. Both ids may contain `/`; every split is
/// tried and exactly one must name an existing account and entitlement.
fn resolve_grant(
    db: &mut Conn,
    reference: &str,
) -> Result<(AccountInfo, EntitlementInfo), StoreError> {
    let (system, rest) = split_system(reference)?;
    let sid = system_id(db, system)?;
    let mut found = Vec::new();
    for (i, _) in rest.match_indices('/') {
        let (acct, ent) = (&rest[..i], &rest[i + 1..]);
        if acct.is_empty() || ent.is_empty() {
            continue;
        }
        let Some(a) = resolve_account_in(db, system, sid, acct)? else {
            continue;
        };
        if let Ok(e) = resolve_entitlement(db, &format!("{system}:{ent}")) {
            let held = db.scalar(
                "SELECT count(*) FROM grant_version WHERE system_id = $1 AND account_id = $2 AND entitlement_id = $3",
                &[Value::Int(sid), Value::Int(a.id), Value::Int(e.id)],
            )?;
            if held > 0 {
                found.push((a, e));
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(StoreError::unknown(format!(
            "no grant matches `{reference}`; write `system:account/entitlement`, e.g. `erp:jdoe/role/AP_Approver`"
        ))),
        _ => Err(StoreError::refused(
            ErrorCode::AmbiguousReference,
            format!(
                "`{reference}` is ambiguous: {}",
                found
                    .iter()
                    .map(|(a, e)| format!(
                        "account `{}` with entitlement `{}`",
                        a.native_id, e.native_id
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )),
    }
}

/// Finds an identity by key or e-mail, as it was at `at` (or its latest version if it did not
/// exist then).
fn resolve_identity(
    db: &mut Conn,
    reference: &str,
    at: Timestamp,
) -> Result<IdentityInfo, StoreError> {
    let map = |r: &RowRef<'_, '_>| {
        Ok(IdentityInfo {
            id: r.i64(0)?,
            key: r.parse(1)?,
            kind: r.parse(2)?,
            name: r.str(3)?,
            email: r.opt_str(4)?,
            status: r.opt_parse(5)?,
            department: r.opt_str(6)?,
        })
    };
    // Prefer the version valid at `$2`, else the latest one. The time is a parameter: the
    // statement's text is the same for every question.
    const BY_KEY: &str = "SELECT i.identity_id, i.key, v.kind, v.name, v.email, v.status, v.department \
         FROM identity i JOIN identity_version v ON v.identity_id = i.identity_id WHERE i.key = $1 \
         ORDER BY CASE WHEN v.valid_from <= $2 AND v.valid_to > $2 THEN 0 ELSE 1 END, v.seq DESC";
    const BY_ID: &str = "SELECT i.identity_id, i.key, v.kind, v.name, v.email, v.status, v.department \
         FROM identity i JOIN identity_version v ON v.identity_id = i.identity_id WHERE i.identity_id = $1 \
         ORDER BY CASE WHEN v.valid_from <= $2 AND v.valid_to > $2 THEN 0 ELSE 1 END, v.seq DESC";
    let t = Value::Int(micros(at));
    if let Some(i) = db.query_opt(BY_KEY, &[Value::from(reference), t.clone()], map)? {
        return Ok(i);
    }
    let ids = db.query(
        "SELECT DISTINCT i.identity_id FROM identity i JOIN identity_version v ON v.identity_id = i.identity_id \
         WHERE lower(v.email) = lower($1)",
        &[Value::from(reference)],
        |r| r.i64(0),
    )?;
    match ids.as_slice() {
        [id] => db
            .query_opt(BY_ID, &[Value::Int(*id), t], map)?
            .ok_or_else(|| StoreError::unknown(format!("no identity `{reference}`"))),
        [] => {
            let names = db.query(
                "SELECT key, email FROM identity_version WHERE valid_to = $1",
                &[Value::Int(OPEN)],
                |r| Ok((r.str(0)?, r.opt_str(1)?)),
            )?;
            Err(StoreError::unknown(format!(
                "no identity has the key or e-mail `{reference}`{}",
                did_you_mean(
                    reference,
                    names
                        .into_iter()
                        .flat_map(|(key, email)| std::iter::once(key).chain(email)),
                    |c| format!("`{c}`")
                )
            )))
        }
        _ => Err(StoreError::refused(
            ErrorCode::AmbiguousReference,
            format!(
                "`{reference}` was the e-mail of {} identities; use the employee id",
                ids.len()
            ),
        )),
    }
}

/// Which holders `who_has` returns: those whose account's native id sorts after `after`, at
/// most `limit` of them (all when `None`).
#[derive(Debug, Clone, Default)]
pub struct HolderPage {
    /// Start after this account (its native id), as printed at the end of the previous page.
    pub after: Option<String>,
    /// At most this many holders.
    pub limit: Option<usize>,
}

/// The answer to `who_has`: how many held the entitlement and (a page of) who they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holders {
    /// How many accounts held it at that time, in all.
    pub total: u64,
    /// The holders on this page, by account native id.
    pub holders: Vec<Holder>,
    /// Whether more holders follow the last one on this page.
    pub more: bool,
}

/// Columns and joins of a holder row; `$2` is the time.
const HOLDER_COLUMNS: &str = "a.native_id, av.username, av.kind, av.enabled, av.identity, iv.name, iv.email, iv.status, \
     g.source, g.warrant, g.valid_from, g.expires_at";
const HOLDER_IDENTITY: &str = "JOIN account_version av ON av.system_id = g.system_id AND av.account_id = g.account_id \
          AND av.valid_from <= $2 AND av.valid_to > $2 \
     LEFT JOIN identity i ON i.key = av.identity \
     LEFT JOIN identity_version iv ON iv.identity_id = i.identity_id AND iv.valid_from <= $2 AND iv.valid_to > $2";

fn holder_row(r: &RowRef<'_, '_>) -> Result<Holder, StoreError> {
    Ok(Holder {
        account: r.str(0)?,
        username: r.str(1)?,
        account_kind: r.parse(2)?,
        enabled: r.i64(3)? != 0,
        identity: r.opt_parse(4)?,
        name: r.opt_str(5)?,
        email: r.opt_str(6)?,
        status: r.opt_parse(7)?,
        source: r.parse(8)?,
        warrant: r.opt_parse(9)?,
        since: from_micros(r.i64(10)?)?,
        expires_at: r.opt_i64(11)?.map(from_micros).transpose()?,
    })
}

/// How long a count of a system's accounts is reused for choosing a plan.
const ACCOUNT_COUNT_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Each system's number of accounts, counted at most once a minute per store: `who_has`
/// needs it only to choose how to find a page, never in an answer, so a count a minute old
/// (or a few imports old) can only make a question slower, not wrong. Counting it afresh for
/// every page read a whole system's index (54,000 entries for a page of 1,000, 15–18 ms on
/// PostgreSQL).
#[derive(Default)]
pub(crate) struct AccountCounts(
    std::sync::Mutex<std::collections::HashMap<i64, (u64, std::time::Instant)>>,
);

impl AccountCounts {
    fn get(&self, db: &mut Conn, system_id: i64) -> Result<u64, StoreError> {
        if let Ok(counts) = self.0.lock()
            && let Some((n, at)) = counts.get(&system_id)
            && at.elapsed() < ACCOUNT_COUNT_AGE
        {
            return Ok(*n);
        }
        let n = count_accounts(db, system_id)?;
        if let Ok(mut counts) = self.0.lock() {
            counts.insert(system_id, (n, std::time::Instant::now()));
        }
        Ok(n)
    }
}

fn count_accounts(db: &mut Conn, system_id: i64) -> Result<u64, StoreError> {
    Ok(db.scalar(
        "SELECT count(*) FROM account WHERE system_id = $1",
        &[Value::Int(system_id)],
    )? as u64)
}

/// How `who_has` finds a page of holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HolderPlan {
    /// Join every holder, sort, keep the page: for a whole list, or a page of a short one.
    Join,
    /// Sort the holders' keys alone, then join the page: for a page of a mid-sized list.
    KeysFirst,
    /// Walk the system's accounts in order, probing each for the grant, until the page is
    /// full: for a page of an entitlement most of the system holds.
    WalkAccounts,
}

/// Who held an entitlement at `at`, ordered by the account's native id: the number of holders
/// and the requested page of them.
///
/// A whole list costs time in proportion to the holders. A page should not: see `HolderPlan`
/// for how a page of a birthright group of 100,000 members is found as quickly as a page of a
/// small one.
fn who_has(
    db: &mut Conn,
    counts: Option<&AccountCounts>,
    entitlement: &EntitlementInfo,
    at: Timestamp,
    page: &HolderPage,
) -> Result<Holders, StoreError> {
    let t = micros(at);
    let total = db
        .query_planned(
            "SELECT count(*) FROM grant_version WHERE entitlement_id = $1 AND valid_from <= $2 AND valid_to > $2",
            &[Value::Int(entitlement.id), Value::Int(t)],
            |r| r.i64(0),
        )?
        .first()
        .copied()
        .unwrap_or(0) as u64;
    let after = Value::from(page.after.as_deref().unwrap_or(""));
    // One more than asked for tells whether more follow.
    let limit = page
        .limit
        .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX - 1) + 1);
    let plan = match page.limit {
        Some(l) if (l as u64) < total => {
            let accounts = match counts {
                Some(counts) => counts.get(db, entitlement.system_id)?,
                None => count_accounts(db, entitlement.system_id)?,
            };
            // Relative costs: reading one holder's key and native id, against passing one
            // account over in the walk (about four times as much).
            let walked = (l as u64).saturating_mul(accounts) / total.max(1);
            if walked.saturating_mul(4) < total {
                HolderPlan::WalkAccounts
            } else {
                HolderPlan::KeysFirst
            }
        }
        _ => HolderPlan::Join,
    };
    // `CROSS JOIN` fixes the order of the loops in SQLite (PostgreSQL plans it as any join):
    // otherwise SQLite may walk the accounts to avoid sorting where the grants should lead.
    // Where a grant is found by its account, its time conditions are written `+g.…` so that
    // SQLite probes it by its key rather than scanning the entitlement's index; where it is
    // found by its entitlement, `+g.system_id` keeps SQLite from scanning the whole system.
    let sql = match plan {
        HolderPlan::Join => format!(
            "SELECT {HOLDER_COLUMNS} FROM grant_version g CROSS JOIN account a \
             {HOLDER_IDENTITY} \
             WHERE g.entitlement_id = $1 AND g.valid_from <= $2 AND g.valid_to > $2 \
                   AND +g.system_id = $3 AND a.account_id = g.account_id AND a.native_id > $4 \
             ORDER BY a.native_id LIMIT {limit}"
        ),
        HolderPlan::KeysFirst => format!(
            "WITH page AS ( \
                 SELECT a.account_id, a.native_id FROM grant_version g CROSS JOIN account a \
                 WHERE g.entitlement_id = $1 AND g.valid_from <= $2 AND g.valid_to > $2 \
                       AND +g.system_id = $3 AND a.account_id = g.account_id AND a.native_id > $4 \
                 ORDER BY a.native_id LIMIT {limit}) \
             SELECT {HOLDER_COLUMNS} FROM page p CROSS JOIN account a CROSS JOIN grant_version g \
             {HOLDER_IDENTITY} \
             WHERE a.account_id = p.account_id \
                   AND g.system_id = $3 AND g.account_id = p.account_id AND g.entitlement_id = $1 \
                   AND +g.valid_from <= $2 AND +g.valid_to > $2 \
             ORDER BY p.native_id"
        ),
        // PostgreSQL would rather find every holder and sort them; the lateral probe of one
        // grant per account makes it walk the accounts in order and stop at the page's end.
        HolderPlan::WalkAccounts if db.backend() == Backend::Postgres => format!(
            "SELECT {HOLDER_COLUMNS} FROM account a CROSS JOIN LATERAL ( \
                 SELECT g.* FROM grant_version g \
                 WHERE g.system_id = a.system_id AND g.account_id = a.account_id \
                       AND g.entitlement_id = $1 AND g.valid_from <= $2 AND g.valid_to > $2 \
                 LIMIT 1) g \
             {HOLDER_IDENTITY} \
             WHERE a.system_id = $3 AND a.native_id > $4 \
             ORDER BY a.native_id LIMIT {limit}"
        ),
        HolderPlan::WalkAccounts => format!(
            "SELECT {HOLDER_COLUMNS} FROM account a CROSS JOIN grant_version g \
             {HOLDER_IDENTITY} \
             WHERE a.system_id = $3 AND a.native_id > $4 \
                   AND g.system_id = a.system_id AND g.account_id = a.account_id \
                   AND g.entitlement_id = $1 AND +g.valid_from <= $2 AND +g.valid_to > $2 \
             ORDER BY a.native_id LIMIT {limit}"
        ),
    };
    let mut holders = db.query_planned(
        &sql,
        &[
            Value::Int(entitlement.id),
            Value::Int(t),
            Value::Int(entitlement.system_id),
            after,
        ],
        holder_row,
    )?;
    let more = page.limit.is_some_and(|l| holders.len() > l);
    if more {
        holders.truncate(page.limit.unwrap_or_default());
    }
    Ok(Holders {
        total,
        holders,
        more,
    })
}

/// Everything an identity held at `at`, on every system.
fn access(db: &mut Conn, identity: IdentityInfo, at: Timestamp) -> Result<Access, StoreError> {
    let t = micros(at);
    let accounts = db.query(
        "SELECT s.key, a.native_id, av.username, av.kind, av.enabled, l.last_login \
         FROM account_version av JOIN account a ON a.account_id = av.account_id \
         JOIN system s ON s.system_id = a.system_id \
         LEFT JOIN account_login l ON l.account_id = a.account_id \
         WHERE av.identity = $1 AND av.valid_from <= $2 AND av.valid_to > $2 \
         ORDER BY s.key, av.username",
        &[Value::from(identity.key.as_str()), Value::Int(t)],
        |r| {
            Ok(AccessAccount {
                system: r.parse(0)?,
                account: r.str(1)?,
                username: r.str(2)?,
                kind: r.parse(3)?,
                enabled: r.i64(4)? != 0,
                last_login: r.opt_i64(5)?.map(from_micros).transpose()?,
            })
        },
    )?;
    let grants = db.query(
        "SELECT s.key, a.native_id, av.username, e.native_id, ev.name, ev.privileged, \
                g.source, g.warrant, g.valid_from, g.expires_at \
         FROM account_version av \
         JOIN account a ON a.account_id = av.account_id \
         JOIN system s ON s.system_id = a.system_id \
         JOIN grant_version g ON g.system_id = av.system_id AND g.account_id = av.account_id \
              AND g.valid_from <= $2 AND g.valid_to > $2 \
         JOIN entitlement e ON e.entitlement_id = g.entitlement_id \
         JOIN entitlement_version ev ON ev.entitlement_id = g.entitlement_id AND ev.valid_from <= $2 AND ev.valid_to > $2 \
         WHERE av.identity = $1 AND av.valid_from <= $2 AND av.valid_to > $2 \
         ORDER BY s.key, av.username, e.native_id",
        &[Value::from(identity.key.as_str()), Value::Int(t)],
        |r| {
            Ok(AccessGrant {
                system: r.parse(0)?,
                account: r.str(1)?,
                username: r.str(2)?,
                entitlement: r.str(3)?,
                entitlement_name: r.str(4)?,
                privileged: r.i64(5)? != 0,
                source: r.parse(6)?,
                warrant: r.opt_parse(7)?,
                since: from_micros(r.i64(8)?)?,
                expires_at: r.opt_i64(9)?.map(from_micros).transpose()?,
            })
        },
    )?;
    Ok(Access {
        identity,
        accounts,
        grants,
    })
}

/// The history of one object: every event that created or ended one of its versions.
fn history(
    db: &mut Conn,
    kind: ObjectKind,
    reference: &str,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let target: Target;
    let seqs: Vec<(i64, Option<i64>)> = match kind {
        ObjectKind::Grant => {
            let (a, e) = resolve_grant(db, reference)?;
            target = Target::Grant(
                a.system.to_string(),
                a.native_id.clone(),
                e.native_id.clone(),
            );
            db.query(
                "SELECT seq, end_seq FROM grant_version WHERE system_id = $1 AND account_id = $2 AND entitlement_id = $3",
                &[Value::Int(a.system_id), Value::Int(a.id), Value::Int(e.id)],
                |r| Ok((r.i64(0)?, r.opt_i64(1)?)),
            )?
        }
        ObjectKind::Account => {
            let a = resolve_account(db, reference)?;
            target = Target::Account(a.system.to_string(), a.native_id.clone());
            db.query(
                "SELECT seq, end_seq FROM account_version WHERE system_id = $1 AND account_id = $2",
                &[Value::Int(a.system_id), Value::Int(a.id)],
                |r| Ok((r.i64(0)?, r.opt_i64(1)?)),
            )?
        }
        ObjectKind::Entitlement => {
            let e = resolve_entitlement(db, reference)?;
            target = Target::Entitlement(e.system.to_string(), e.native_id.clone());
            db.query(
                "SELECT seq, end_seq FROM entitlement_version WHERE entitlement_id = $1",
                &[Value::Int(e.id)],
                |r| Ok((r.i64(0)?, r.opt_i64(1)?)),
            )?
        }
        ObjectKind::Identity => {
            let i = resolve_identity(db, reference, Timestamp::MAX)?;
            target = Target::Identity(i.key.to_string());
            db.query(
                "SELECT seq, end_seq FROM identity_version WHERE identity_id = $1",
                &[Value::Int(i.id)],
                |r| Ok((r.i64(0)?, r.opt_i64(1)?)),
            )?
        }
    };
    let mut all: Vec<i64> = seqs
        .iter()
        .flat_map(|(s, e)| std::iter::once(*s).chain(*e))
        .collect();
    all.sort_unstable();
    all.dedup();
    let mut out: Vec<HistoryEntry> = Vec::with_capacity(all.len());
    let mut previous: Option<serde_json::Value> = None;
    for seq in all {
        let event = load_event(db, seq as u64)?;
        let (as_of, import, state) = describe(&event, &target);
        let import = match import {
            Some(i) => load_import(db, i)?,
            None => None,
        };
        let changed = match (&previous, &state) {
            (Some(p), Some(s)) => changed_fields(p, s),
            _ => Vec::new(),
        };
        previous = state.clone();
        out.push(HistoryEntry {
            seq: event.seq,
            kind: event.data.kind(),
            recorded_at: event.at,
            actor: event.actor.clone(),
            as_of,
            import,
            state,
            changed,
        });
    }
    Ok(out)
}

/// Loads and decodes one event.
fn load_event(db: &mut Conn, seq: u64) -> Result<Event, StoreError> {
    let body = db
        .query_opt(
            "SELECT body FROM event WHERE seq = $1",
            &[Value::Int(seq as i64)],
            |r| r.blob(0),
        )?
        .ok_or_else(|| StoreError::unknown(format!("there is no event {seq}")))?;
    let body = crate::ledger::unpack(seq as i64, body)?;
    Event::decode(&body).map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))
}

fn load_import(db: &mut Conn, seq: u64) -> Result<Option<ImportInfo>, StoreError> {
    db.query_opt(
        "SELECT source, as_of, digest FROM import WHERE seq = $1",
        &[Value::Int(seq as i64)],
        |r| {
            Ok(ImportInfo {
                seq,
                source: r.str(0)?,
                as_of: from_micros(r.i64(1)?)?,
                digest: r.str(2)?,
            })
        },
    )
}

/// The object a history is about, to pick its record out of batch events.
enum Target {
    Grant(String, String, String),
    Account(String, String),
    Entitlement(String, String),
    Identity(String),
}

impl Target {
    fn grant(&self, system: &str, account: &str, entitlement: &str) -> bool {
        matches!(self, Target::Grant(s, a, e) if s == system && a == account && e == entitlement)
    }
    fn account(&self, system: &str, native: &str) -> bool {
        matches!(self, Target::Account(s, n) if s == system && n == native)
    }
    fn entitlement(&self, system: &str, native: &str) -> bool {
        matches!(self, Target::Entitlement(s, n) if s == system && n == native)
    }
    fn identity(&self, key: &str) -> bool {
        matches!(self, Target::Identity(k) if k == key)
    }
}

/// When an event took effect, its import, and the target's state after it.
fn describe(event: &Event, t: &Target) -> (Timestamp, Option<u64>, Option<serde_json::Value>) {
    use InventoryEvent as E;
    fn v<T: Serialize>(t: Option<&T>) -> Option<serde_json::Value> {
        t.and_then(|t| serde_json::to_value(t).ok())
    }
    let (as_of, import) = (event.data.as_of(), event.data.import());
    let EventData::Inventory(e) = &event.data else {
        return (as_of, import, None);
    };
    let state = match e {
        E::SystemConfigured(s) => v(Some(&s.record)),
        E::IdentityAdded(b) | E::IdentityChanged(b) => {
            v(b.records.iter().find(|i| t.identity(i.key.as_str())))
        }
        E::AccountAdded(b) | E::AccountChanged(b) | E::AccountCorrelated(b) => {
            let a = b
                .records
                .iter()
                .find(|a| t.account(a.system.as_str(), &a.native_id))
                .map(|a| {
                    let mut a = a.clone();
                    a.last_login = None;
                    a
                });
            v(a.as_ref())
        }
        E::EntitlementAdded(b) | E::EntitlementChanged(b) => v(b
            .records
            .iter()
            .find(|e| t.entitlement(e.system.as_str(), &e.native_id))),
        E::GrantAdded(b) | E::GrantChanged(b) => v(b
            .records
            .iter()
            .find(|g| t.grant(g.system.as_str(), &g.account, &g.entitlement))),
        _ => None,
    };
    (as_of, import, state)
}

fn changed_fields(before: &serde_json::Value, after: &serde_json::Value) -> Vec<String> {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| match v {
                None => "(none)".to_owned(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            format!("{k}: {} → {}", show(b.get(k)), show(a.get(k)))
        })
        .collect()
}

/// A system with its size and last import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemRow {
    /// Key.
    pub key: SystemKey,
    /// Name.
    pub name: String,
    /// Owner (identity key).
    pub owner: Option<IdentityKey>,
    /// Criticality.
    pub criticality: Option<Criticality>,
    /// Frameworks in scope.
    pub frameworks: Vec<String>,
    /// In SOX financial-reporting scope.
    pub financial_reporting: bool,
    /// Current accounts.
    pub accounts: i64,
    /// Current grants.
    pub grants: i64,
    /// Snapshot time of the last import that changed it.
    pub last_import: Option<Timestamp>,
}

/// Every system.
fn systems(db: &mut Conn) -> Result<Vec<SystemRow>, StoreError> {
    let rows = db.query(
        &format!(
            "SELECT s.key, s.name, s.owner, s.criticality, s.financial_reporting, s.config,              (SELECT count(*) FROM account_version v WHERE v.system_id = s.system_id AND v.valid_to = {OPEN}),              (SELECT count(*) FROM grant_version g WHERE g.system_id = s.system_id AND g.valid_to = {OPEN}),              (SELECT max(as_of) FROM import i WHERE i.source = 'system:' || s.key)              FROM system s ORDER BY s.key"
        ),
        &[],
        |r| {
            let config: gatehouse_model::SystemConfig = serde_json::from_str(&r.str(5)?)?;
            Ok(SystemRow {
                key: r.parse(0)?,
                name: r.str(1)?,
                owner: r.opt_parse(2)?,
                criticality: r.opt_parse(3)?,
                frameworks: config.frameworks,
                financial_reporting: r.i64(4)? != 0,
                accounts: r.i64(6)?,
                grants: r.i64(7)?,
                last_import: r.opt_i64(8)?.map(from_micros).transpose()?,
            })
        },
    )?;
    Ok(rows)
}

/// One system in detail: its description and what the store holds of it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemDetail {
    /// Its description, as its latest snapshot gave it.
    pub config: gatehouse_model::SystemConfig,
    /// The owner's name, when the owner is a known identity.
    pub owner_name: Option<String>,
    /// Current accounts.
    pub accounts: u64,
    /// Of which enabled.
    pub enabled_accounts: u64,
    /// Of which linked to no identity.
    pub uncorrelated_accounts: u64,
    /// Current entitlements.
    pub entitlements: u64,
    /// Of which privileged.
    pub privileged_entitlements: u64,
    /// Current grants.
    pub grants: u64,
    /// Of which of privileged entitlements.
    pub privileged_grants: u64,
    /// Imports of it recorded (every read of its source, unchanged ones included).
    pub imports: u64,
    /// The period its snapshots cover.
    pub period: Option<Period>,
}

fn system_detail(db: &mut Conn, key: &str) -> Result<SystemDetail, StoreError> {
    let sid = system_id(db, key)?;
    let config: gatehouse_model::SystemConfig = serde_json::from_str(&db.query_one(
        "SELECT config FROM system WHERE system_id = $1",
        &[Value::Int(sid)],
        |r| r.str(0),
    )?)?;
    let owner_name = match &config.owner {
        Some(o) => db.query_opt(
            &format!(
                "SELECT v.name FROM identity i JOIN identity_version v \
                 ON v.identity_id = i.identity_id AND v.valid_to = {OPEN} WHERE i.key = $1"
            ),
            &[Value::from(o.as_str())],
            |r| r.str(0),
        )?,
        None => None,
    };
    let sys = [Value::Int(sid)];
    let (accounts, enabled, uncorrelated) = db.query_one(
        &format!(
            "SELECT count(*), coalesce(sum(CASE WHEN enabled <> 0 THEN 1 ELSE 0 END), 0), \
                    coalesce(sum(CASE WHEN identity IS NULL THEN 1 ELSE 0 END), 0) \
             FROM account_version WHERE system_id = $1 AND valid_to = {OPEN}"
        ),
        &sys,
        |r| Ok((r.i64(0)?, r.i64(1)?, r.i64(2)?)),
    )?;
    let (entitlements, privileged) = db.query_one(
        &format!(
            "SELECT count(*), coalesce(sum(CASE WHEN v.privileged <> 0 THEN 1 ELSE 0 END), 0) \
             FROM entitlement e JOIN entitlement_version v ON v.entitlement_id = e.entitlement_id \
             WHERE e.system_id = $1 AND v.valid_to = {OPEN}"
        ),
        &sys,
        |r| Ok((r.i64(0)?, r.i64(1)?)),
    )?;
    let (grants, privileged_grants) = db.query_one(
        &format!(
            "SELECT count(*), coalesce(sum(CASE WHEN v.privileged <> 0 THEN 1 ELSE 0 END), 0) \
             FROM grant_version g JOIN entitlement_version v \
                  ON v.entitlement_id = g.entitlement_id AND v.valid_to = {OPEN} \
             WHERE g.system_id = $1 AND g.valid_to = {OPEN}"
        ),
        &sys,
        |r| Ok((r.i64(0)?, r.i64(1)?)),
    )?;
    let source = Value::from(format!("system:{key}"));
    let (imports, first, last) = db.query_one(
        "SELECT count(*), min(as_of), max(as_of) FROM import WHERE source = $1",
        &[source],
        |r| Ok((r.i64(0)?, r.opt_i64(1)?, r.opt_i64(2)?)),
    )?;
    Ok(SystemDetail {
        config,
        owner_name,
        accounts: accounts as u64,
        enabled_accounts: enabled as u64,
        uncorrelated_accounts: uncorrelated as u64,
        entitlements: entitlements as u64,
        privileged_entitlements: privileged as u64,
        grants: grants as u64,
        privileged_grants: privileged_grants as u64,
        imports: imports as u64,
        period: period(Some((first, last)))?,
    })
}

/// A current account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRow {
    /// System key.
    pub system: SystemKey,
    /// Native id.
    pub account: String,
    /// Username.
    pub username: String,
    /// Kind.
    pub kind: AccountKind,
    /// Enabled.
    pub enabled: bool,
    /// Linked identity.
    pub identity: Option<IdentityKey>,
    /// The rule that linked it.
    pub linked_by: Option<String>,
    /// Last login.
    pub last_login: Option<Timestamp>,
}

/// Current accounts, optionally of one system, optionally only the uncorrelated ones.
fn accounts(
    db: &mut Conn,
    system: Option<&str>,
    uncorrelated: bool,
) -> Result<Vec<AccountRow>, StoreError> {
    let rows = db.query(
        &format!(
            "SELECT s.key, a.native_id, v.username, v.kind, v.enabled, v.identity, v.linked_by, l.last_login \
             FROM account a JOIN system s ON s.system_id = a.system_id \
             LEFT JOIN account_login l ON l.account_id = a.account_id \
             JOIN account_version v ON v.system_id = a.system_id AND v.account_id = a.account_id \
              AND v.valid_to = {OPEN} \
             WHERE ($1 = '' OR s.key = $1) {} ORDER BY s.key, v.username, a.native_id",
            if uncorrelated { "AND v.identity IS NULL" } else { "" }
        ),
        &[Value::from(system.unwrap_or(""))],
        |r| {
            Ok(AccountRow {
                system: r.parse(0)?,
                account: r.str(1)?,
                username: r.str(2)?,
                kind: r.parse(3)?,
                enabled: r.i64(4)? != 0,
                identity: r.opt_parse(5)?,
                linked_by: r.opt_str(6)?,
                last_login: r.opt_i64(7)?.map(from_micros).transpose()?,
            })
        },
    )?;
    Ok(rows)
}

impl Reader<'_> {
    /// Finds an entitlement by `system:native_id`, or by `system:name` when the name is
    /// unique.
    pub fn resolve_entitlement(&mut self, reference: &str) -> Result<EntitlementInfo, StoreError> {
        resolve_entitlement(self.conn, reference)
    }

    /// One system in detail.
    pub fn system_detail(&mut self, key: &str) -> Result<SystemDetail, StoreError> {
        system_detail(self.conn, key)
    }

    /// Finds a system by its key.
    pub fn resolve_system(&mut self, key: &str) -> Result<SystemKey, StoreError> {
        system_id(self.conn, key)?;
        Ok(key.parse()?)
    }

    /// Finds an account by `system:native_id`, or by `system:username` when unique.
    pub fn resolve_account(&mut self, reference: &str) -> Result<AccountInfo, StoreError> {
        resolve_account(self.conn, reference)
    }

    /// Finds a grant by `system:account/entitlement`. Both ids may contain `/`; every split
    /// is tried and exactly one must name an existing account and entitlement.
    pub fn resolve_grant(
        &mut self,
        reference: &str,
    ) -> Result<(AccountInfo, EntitlementInfo), StoreError> {
        resolve_grant(self.conn, reference)
    }

    /// Finds an identity by key or e-mail, as it was at `at` (or its latest version if it did
    /// not exist then).
    pub fn resolve_identity(
        &mut self,
        reference: &str,
        at: Timestamp,
    ) -> Result<IdentityInfo, StoreError> {
        resolve_identity(self.conn, reference, at)
    }

    /// Who held an entitlement at `at`, ordered by the account's native id: the number of
    /// holders and the requested page of them.
    ///
    /// A whole list costs time in proportion to the holders. A page should not: see
    /// `HolderPlan` for how a page of a birthright group of 100,000 members is found as
    /// quickly as a page of a small one.
    pub fn who_has(
        &mut self,
        entitlement: &EntitlementInfo,
        at: Timestamp,
        page: &HolderPage,
    ) -> Result<Holders, StoreError> {
        who_has(self.conn, self.account_counts, entitlement, at, page)
    }

    /// Everything an identity held at `at`, on every system.
    pub fn access(&mut self, identity: IdentityInfo, at: Timestamp) -> Result<Access, StoreError> {
        access(self.conn, identity, at)
    }

    /// The history of one object: every event that created or ended one of its versions.
    pub fn history(
        &mut self,
        kind: ObjectKind,
        reference: &str,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        history(self.conn, kind, reference)
    }

    /// One event, decoded.
    pub fn event(&mut self, seq: u64) -> Result<Event, StoreError> {
        load_event(self.conn, seq)
    }

    /// Every system, with its size and last import.
    pub fn systems(&mut self) -> Result<Vec<SystemRow>, StoreError> {
        systems(self.conn)
    }

    /// Current accounts, optionally of one system, optionally only the uncorrelated ones.
    pub fn accounts(
        &mut self,
        system: Option<&str>,
        uncorrelated: bool,
    ) -> Result<Vec<AccountRow>, StoreError> {
        accounts(self.conn, system, uncorrelated)
    }
}

/// The period the store has data for: from the snapshot time of its first import to that of
/// its latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// The earliest snapshot time.
    pub first: Timestamp,
    /// The latest snapshot time.
    pub last: Timestamp,
}

fn period(row: Option<(Option<i64>, Option<i64>)>) -> Result<Option<Period>, StoreError> {
    match row {
        Some((Some(first), Some(last))) => Ok(Some(Period {
            first: from_micros(first)?,
            last: from_micros(last)?,
        })),
        _ => Ok(None),
    }
}

/// A current entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntitlementRow {
    /// System key.
    pub system: SystemKey,
    /// Native id.
    pub native_id: String,
    /// Name.
    pub name: String,
    /// Whether it is privileged.
    pub privileged: bool,
    /// Current holders.
    pub holders: u64,
}

/// A current identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityRow {
    /// Key.
    pub key: IdentityKey,
    /// Kind.
    pub kind: IdentityKind,
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Status (people).
    pub status: Option<EmploymentStatus>,
    /// Department (people).
    pub department: Option<String>,
}

impl Reader<'_> {
    /// The period the store has data for, if it has any.
    pub fn recorded_period(&mut self) -> Result<Option<Period>, StoreError> {
        let row = self
            .conn
            .query_opt("SELECT min(as_of), max(as_of) FROM import", &[], |r| {
                Ok((r.opt_i64(0)?, r.opt_i64(1)?))
            })?;
        period(row)
    }

    /// The period one source (`hr`, `system:erp`, …) has data for: from its first snapshot
    /// to its latest.
    pub fn source_period(&mut self, source: &str) -> Result<Option<Period>, StoreError> {
        let row = self.conn.query_opt(
            "SELECT min(as_of), max(as_of) FROM import WHERE source = $1",
            &[Value::from(source)],
            |r| Ok((r.opt_i64(0)?, r.opt_i64(1)?)),
        )?;
        period(row)
    }

    /// Current entitlements, optionally of one system, with their number of holders.
    pub fn entitlements(
        &mut self,
        system: Option<&str>,
    ) -> Result<Vec<EntitlementRow>, StoreError> {
        self.conn.query(
            "SELECT s.key, e.native_id, v.name, v.privileged, \
                (SELECT count(*) FROM grant_version g WHERE g.entitlement_id = e.entitlement_id \
                 AND g.valid_to = 9223372036854775807) \
             FROM entitlement e JOIN system s ON s.system_id = e.system_id \
             JOIN entitlement_version v ON v.entitlement_id = e.entitlement_id \
              AND v.valid_to = 9223372036854775807 \
             WHERE ($1 = '' OR s.key = $1) ORDER BY s.key, e.native_id",
            &[Value::from(system.unwrap_or(""))],
            |r| {
                Ok(EntitlementRow {
                    system: r.parse(0)?,
                    native_id: r.str(1)?,
                    name: r.str(2)?,
                    privileged: r.i64(3)? != 0,
                    holders: r.i64(4)? as u64,
                })
            },
        )
    }

    /// Current identities (people and non-human identities), by key.
    pub fn identities(&mut self) -> Result<Vec<IdentityRow>, StoreError> {
        self.conn.query(
            "SELECT key, kind, name, email, status, department FROM identity_version \
             WHERE valid_to = 9223372036854775807 ORDER BY key",
            &[],
            |r| {
                Ok(IdentityRow {
                    key: r.parse(0)?,
                    kind: r.parse(1)?,
                    name: r.str(2)?,
                    email: r.opt_str(3)?,
                    status: r.opt_parse(4)?,
                    department: r.opt_str(5)?,
                })
            },
        )
    }
}

/// Current grants of one system and how many of them a warrant explains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantCoverage {
    /// System key.
    pub system: SystemKey,
    /// Current grants.
    pub grants: u64,
    /// Current grants that carry a warrant.
    pub warranted: u64,
}

/// One interval during which an identity's account held an entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantInterval {
    /// System key.
    pub system: SystemKey,
    /// Account native id.
    pub account: String,
    /// Entitlement native id.
    pub entitlement: String,
    /// How the grant came about.
    pub source: GrantSource,
    /// What justified it.
    pub warrant: Option<Warrant>,
    /// From when.
    pub from: Timestamp,
    /// Until when (`None` while it holds).
    pub to: Option<Timestamp>,
}

impl Reader<'_> {
    /// Per system, the current grants and how many of them carry a warrant.
    pub fn grant_coverage(&mut self) -> Result<Vec<GrantCoverage>, StoreError> {
        self.conn.query(
            &format!(
                "SELECT s.key, count(*), count(g.warrant) FROM grant_version g \
                 JOIN system s ON s.system_id = g.system_id WHERE g.valid_to = {OPEN} \
                 GROUP BY s.key ORDER BY s.key"
            ),
            &[],
            |r| {
                Ok(GrantCoverage {
                    system: r.parse(0)?,
                    grants: r.i64(1)? as u64,
                    warranted: r.i64(2)? as u64,
                })
            },
        )
    }

    /// The grant intervals of every account ever linked to an identity, latest change first
    /// (at most `limit`): its timeline of grants and removals. Versions that only changed a
    /// grant's details are merged into one interval per grant, account and start.
    pub fn grant_timeline(
        &mut self,
        identity: &IdentityKey,
        limit: u64,
    ) -> Result<Vec<GrantInterval>, StoreError> {
        self.conn.query(
            &format!(
                "SELECT s.key, a.native_id, e.native_id, g.source, g.warrant, g.valid_from, \
                 g.valid_to \
                 FROM (SELECT DISTINCT system_id, account_id FROM account_version \
                 WHERE identity = $1) av \
                 JOIN grant_version g ON g.system_id = av.system_id AND g.account_id = av.account_id \
                 JOIN system s ON s.system_id = g.system_id \
                 JOIN account a ON a.account_id = g.account_id \
                 JOIN entitlement e ON e.entitlement_id = g.entitlement_id \
                 ORDER BY CASE WHEN g.valid_to = {OPEN} THEN g.valid_from ELSE g.valid_to END DESC, \
                 s.key, a.native_id, e.native_id LIMIT {limit}"
            ),
            &[Value::from(identity.as_str())],
            |r| {
                let to = r.i64(6)?;
                Ok(GrantInterval {
                    system: r.parse(0)?,
                    account: r.str(1)?,
                    entitlement: r.str(2)?,
                    source: r.parse(3)?,
                    warrant: r.opt_parse(4)?,
                    from: from_micros(r.i64(5)?)?,
                    to: if to == OPEN {
                        None
                    } else {
                        Some(from_micros(to)?)
                    },
                })
            },
        )
    }
}
