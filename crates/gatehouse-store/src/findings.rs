//! Reads for the risk analysis: the whole current inventory in one pass per table, and the
//! recorded findings, analysis runs and assessments.

use std::collections::BTreeMap;

use gatehouse_model::state::{
    AccountIx, AccountState, EntitlementIx, EntitlementState, GrantState, IdentityIx, Inventory,
    Move, Rehire, SystemIx, SystemState, WarrantIx,
};
use gatehouse_model::{
    AccountKind, Assessment, EmploymentStatus, Entitlement, Finding, FindingStatus, GrantSource,
    Identity, IdentityKey, Role, Severity, SystemConfig, Timestamp, Warrant, WarrantRecord,
};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::db::{Db, Value};
use crate::error::StoreError;
use crate::sink::OPEN;
use crate::writer::from_micros;

fn ts(us: i64) -> Result<Timestamp, StoreError> {
    from_micros(us)
}

/// A current grant as scanned, before ids become indices.
struct RawGrant {
    account_id: i64,
    entitlement_id: i64,
    source: GrantSource,
    warrant: Option<WarrantIx>,
    expires_at: Option<i64>,
    granted_at: Option<i64>,
    first_seen: i64,
    removed_before: Option<i64>,
}

/// Scans every grant version in key order: the current ones, with the start of their
/// uninterrupted presence and the end of the version before a gap (a removal), if any.
fn scan_grants(db: &mut Db) -> Result<(Vec<RawGrant>, Vec<Warrant>), StoreError> {
    let mut warrant_index: FxHashMap<String, WarrantIx> = FxHashMap::default();
    let mut warrants = Vec::new();
    let mut grants = Vec::new();
    // (account_id, entitlement_id, chain start, chain end, removed before)
    let mut chain: Option<(i64, i64, i64, i64, Option<i64>)> = None;
    db.query_each(
        "SELECT account_id, entitlement_id, valid_from, valid_to, source, warrant, expires_at, \
         granted_at FROM grant_version ORDER BY system_id, account_id, entitlement_id, seq",
        &[],
        |r| {
            let a = r.i64(0)?;
            let e = r.i64(1)?;
            let from = r.i64(2)?;
            let to = r.i64(3)?;
            let (start, removed) = match chain {
                Some((ca, ce, start, end, removed)) if ca == a && ce == e => {
                    if end == from {
                        (start, removed)
                    } else {
                        (from, Some(end))
                    }
                }
                _ => (from, None),
            };
            chain = Some((a, e, start, to, removed));
            if to != OPEN {
                return Ok(());
            }
            let warrant = r.with_str(5, |text| match text {
                None => None,
                Some(text) => match warrant_index.get(text) {
                    Some(&i) => Some(i),
                    None => match text.parse::<Warrant>() {
                        Ok(w) => {
                            let i = WarrantIx::new(warrants.len());
                            warrants.push(w);
                            warrant_index.insert(text.to_owned(), i);
                            Some(i)
                        }
                        Err(_) => None,
                    },
                },
            })?;
            let source = r.with_str(4, |s| s.unwrap_or("").parse::<GrantSource>())??;
            grants.push(RawGrant {
                account_id: a,
                entitlement_id: e,
                source,
                warrant,
                expires_at: r.opt_i64(6)?,
                granted_at: r.opt_i64(7)?,
                first_seen: start,
                removed_before: removed,
            });
            Ok(())
        },
    )?;
    Ok((grants, warrants))
}

/// Loads the current inventory with the history facts the analysis needs: when each account
/// and grant was first seen (uninterrupted), grants that came back after a removal, and
/// people who changed department or title. The grants, by far the largest table, are read on
/// a second connection in parallel when the store allows one.
pub fn load_inventory(store: &mut crate::Store) -> Result<Inventory, StoreError> {
    match store.reader() {
        Some(mut reader) => std::thread::scope(|scope| {
            let grants = scope.spawn(move || scan_grants(reader.db()));
            let rest = load_rest(store.db());
            let grants = grants
                .join()
                .map_err(|_| StoreError::Corrupt("the grant reader panicked".into()))??;
            let (mut inv, ids) = rest?;
            attach_grants(&mut inv, &ids, grants)?;
            Ok(inv)
        }),
        None => {
            let (mut inv, ids) = load_rest(store.db())?;
            let grants = scan_grants(store.db())?;
            attach_grants(&mut inv, &ids, grants)?;
            Ok(inv)
        }
    }
}

/// Store ids of accounts and entitlements → their indices in the inventory.
struct Ids {
    accounts: FxHashMap<i64, AccountIx>,
    entitlements: FxHashMap<i64, EntitlementIx>,
}

fn attach_grants(
    inv: &mut Inventory,
    ids: &Ids,
    (raw, warrants): (Vec<RawGrant>, Vec<Warrant>),
) -> Result<(), StoreError> {
    inv.warrants = warrants;
    inv.grants.reserve_exact(raw.len());
    for g in raw {
        let (Some(&account), Some(&entitlement)) = (
            ids.accounts.get(&g.account_id),
            ids.entitlements.get(&g.entitlement_id),
        ) else {
            continue;
        };
        let index = inv.grants.len() as u32;
        let acc = &mut inv.accounts[account.index()];
        if acc.grants_to == 0 && acc.grants_from == 0 {
            acc.grants_from = index;
        }
        acc.grants_to = index + 1;
        inv.grants.push(GrantState {
            account,
            entitlement,
            source: g.source,
            warrant: g.warrant,
            expires_at: g.expires_at.map(ts).transpose()?,
            granted_at: g.granted_at.map(ts).transpose()?,
            first_seen: ts(g.first_seen)?,
            removed_before: g.removed_before.map(ts).transpose()?,
        });
    }
    Ok(())
}

fn load_rest(db: &mut Db) -> Result<(Inventory, Ids), StoreError> {
    let mut inv = Inventory::default();
    // Systems, with the time of their latest snapshot.
    let mut last_import: FxHashMap<String, i64> = FxHashMap::default();
    db.query_each(
        "SELECT source, max(as_of) FROM import GROUP BY source",
        &[],
        |r| {
            last_import.insert(r.str(0)?, r.i64(1)?);
            Ok(())
        },
    )?;
    let mut system_index: FxHashMap<i64, SystemIx> = FxHashMap::default();
    db.query_each(
        "SELECT system_id, config FROM system ORDER BY key",
        &[],
        |r| {
            let config: SystemConfig = serde_json::from_str(&r.str(1)?)?;
            let as_of = last_import
                .get(&format!("system:{}", config.key))
                .copied()
                .map(ts)
                .transpose()?;
            system_index.insert(r.i64(0)?, SystemIx::new(inv.systems.len()));
            inv.systems.push(SystemState { config, as_of });
            Ok(())
        },
    )?;

    // Identities, current and past versions in order, to find moves and rehires.
    // (department, title, since) before the latest change of either.
    type Previous = Option<(Option<String>, Option<String>, i64)>;
    let mut current: Vec<(Identity, Previous, Option<i64>)> = Vec::new();
    {
        let mut prev: Option<(i64, Option<String>, Option<String>)> = None;
        let mut last_move: Option<(Option<String>, Option<String>, i64)> = None;
        // (identity, the version before was terminated) and when the person came back.
        let mut was_terminated = (0i64, false);
        let mut back: Option<i64> = None;
        db.query_each(
            "SELECT identity_id, valid_from, valid_to, record FROM identity_version \
             ORDER BY identity_id, seq",
            &[],
            |r| {
                let id = r.i64(0)?;
                let from = r.i64(1)?;
                let identity: Identity = serde_json::from_str(&r.str(3)?)?;
                let (dept, title) = identity
                    .person
                    .as_ref()
                    .map(|p| (p.department.clone(), p.title.clone()))
                    .unwrap_or_default();
                match &prev {
                    Some((pid, pd, pt)) if *pid == id => {
                        if (pd, pt) != (&dept, &title) {
                            last_move = Some((pd.clone(), pt.clone(), from));
                        }
                    }
                    _ => {
                        last_move = None;
                        back = None;
                    }
                }
                let terminated = identity.status() == Some(EmploymentStatus::Terminated);
                if was_terminated == (id, true) && !terminated {
                    back = Some(from);
                }
                was_terminated = (id, terminated);
                prev = Some((id, dept, title));
                if r.i64(2)? == OPEN {
                    current.push((identity, last_move.take(), back.take()));
                }
                Ok(())
            },
        )?;
    }
    current.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    for (i, (identity, moved, rehired)) in current.into_iter().enumerate() {
        if let Some((from_department, from_title, at)) = moved {
            inv.moves.push(Move {
                identity: IdentityIx::new(i),
                from_department,
                from_title,
                at: ts(at)?,
            });
        }
        if let Some(at) = rehired {
            inv.rehires.push(Rehire {
                identity: IdentityIx::new(i),
                at: ts(at)?,
            });
        }
        inv.identities.push(identity);
    }

    // Entitlements.
    let mut ent_index: FxHashMap<i64, EntitlementIx> = FxHashMap::default();
    db.query_each(
        &format!(
            "SELECT e.entitlement_id, e.system_id, v.record FROM entitlement e \
             JOIN entitlement_version v ON v.entitlement_id = e.entitlement_id \
             AND v.valid_to = {OPEN} ORDER BY e.system_id, e.native_id"
        ),
        &[],
        |r| {
            let record: Entitlement = serde_json::from_str(&r.str(2)?)?;
            let system = *system_index
                .get(&r.i64(1)?)
                .ok_or_else(|| StoreError::Corrupt("entitlement of an unknown system".into()))?;
            ent_index.insert(r.i64(0)?, EntitlementIx::new(inv.entitlements.len()));
            inv.entitlements.push(EntitlementState { system, record });
            Ok(())
        },
    )?;

    // Accounts: native ids and last logins (ids are dense from 1), then versions in key order.
    let mut natives: Vec<(Box<str>, Option<i64>)> = Vec::new();
    db.query_each(
        "SELECT account_id, native_id, last_login FROM account ORDER BY account_id",
        &[],
        |r| {
            let id = r.i64(0)?.max(0) as usize;
            if natives.len() <= id {
                natives.resize_with(id + 1, || (Box::from(""), None));
            }
            natives[id] = (
                r.with_str(1, |s| Box::<str>::from(s.unwrap_or("")))?,
                r.opt_i64(2)?,
            );
            Ok(())
        },
    )?;
    let identity_at: FxHashMap<IdentityKey, IdentityIx> = inv
        .identities_ix()
        .map(|(i, id)| (id.key.clone(), i))
        .collect();
    let mut account_index: FxHashMap<i64, AccountIx> = FxHashMap::default();
    {
        let mut chain: Option<(i64, i64, i64)> = None; // (account_id, chain start, valid_to)
        db.query_each(
            "SELECT system_id, account_id, valid_from, valid_to, username, identity, kind, \
             enabled, mfa FROM account_version ORDER BY system_id, account_id, seq",
            &[],
            |r| {
                let id = r.i64(1)?;
                let from = r.i64(2)?;
                let to = r.i64(3)?;
                let start = match chain {
                    Some((cid, start, end)) if cid == id && end == from => start,
                    _ => from,
                };
                chain = Some((id, start, to));
                if to != OPEN {
                    return Ok(());
                }
                let system = *system_index
                    .get(&r.i64(0)?)
                    .ok_or_else(|| StoreError::Corrupt("account of an unknown system".into()))?;
                let (native_id, last_login) = natives
                    .get_mut(id.max(0) as usize)
                    .map(std::mem::take)
                    .ok_or_else(|| StoreError::Corrupt(format!("account {id} has no row")))?;
                let (identity, dangling_identity) = r.with_str(5, |key| match key {
                    None => Ok((None, None)),
                    Some(k) => match identity_at.get(k) {
                        Some(&i) => Ok((Some(i), None)),
                        None => IdentityKey::new(k).map(|k| (None, Some(k))),
                    },
                })??;
                account_index.insert(id, AccountIx::new(inv.accounts.len()));
                inv.accounts.push(AccountState {
                    system,
                    native_id,
                    username: r.with_str(4, |s| Box::<str>::from(s.unwrap_or("")))?,
                    identity,
                    dangling_identity,
                    kind: r.with_str(6, |s| s.unwrap_or("").parse::<AccountKind>())??,
                    enabled: r.i64(7)? != 0,
                    mfa: r.opt_i64(8)?.map(|m| m != 0),
                    last_login: last_login.map(ts).transpose()?,
                    first_seen: ts(start)?,
                    grants_from: 0,
                    grants_to: 0,
                });
                Ok(())
            },
        )?;
    }

    db.query_each("SELECT record FROM role ORDER BY key", &[], |r| {
        inv.roles.push(serde_json::from_str::<Role>(&r.str(0)?)?);
        Ok(())
    })?;
    db.query_each(
        "SELECT record FROM warrant_record ORDER BY kind, id",
        &[],
        |r| {
            inv.warrant_records
                .push(serde_json::from_str::<WarrantRecord>(&r.str(0)?)?);
            Ok(())
        },
    )?;
    Ok((
        inv,
        Ids {
            accounts: account_index,
            entitlements: ent_index,
        },
    ))
}

/// A finding as recorded, with its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRow {
    /// The finding as last recorded.
    #[serde(flatten)]
    pub finding: Finding,
    /// Open, accepted or resolved.
    pub status: FindingStatus,
    /// When an analysis first found it.
    pub first_seen: Timestamp,
    /// When an analysis last found it.
    pub last_seen: Timestamp,
    /// When it was resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    /// Who accepted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_reason: Option<String>,
    /// Until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_until: Option<Timestamp>,
}

/// Which findings to list; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// Only this rule.
    pub rule: Option<String>,
    /// Only at or above this severity.
    pub min_severity: Option<Severity>,
    /// Only findings on this system.
    pub system: Option<String>,
    /// Only findings about this identity.
    pub identity: Option<String>,
    /// Only in these statuses (all when empty).
    pub status: Vec<FindingStatus>,
}

const FINDING_COLUMNS: &str = "record, status, first_seen, last_seen, resolved_at, accepted_by, \
                               accepted_reason, accepted_until";

fn finding_row(r: &crate::db::RowRef<'_, '_>) -> Result<FindingRow, StoreError> {
    Ok(FindingRow {
        finding: serde_json::from_str(&r.str(0)?)?,
        status: r.str(1)?.parse()?,
        first_seen: ts(r.i64(2)?)?,
        last_seen: ts(r.i64(3)?)?,
        resolved_at: r.opt_i64(4)?.map(ts).transpose()?,
        accepted_by: r.opt_str(5)?,
        accepted_reason: r.opt_str(6)?,
        accepted_until: r.opt_i64(7)?.map(ts).transpose()?,
    })
}

/// Findings matching a filter, most severe first, then by rule and id.
pub fn findings(db: &mut Db, filter: &FindingFilter) -> Result<Vec<FindingRow>, StoreError> {
    let statuses: Vec<&str> = filter.status.iter().map(|s| s.as_str()).collect();
    let mut rows = db.query(
        &format!(
            "SELECT {FINDING_COLUMNS} FROM finding \
             WHERE ($1 = '' OR rule = $1) AND ($2 = '' OR system = $2) \
             AND ($3 = '' OR identity = $3) ORDER BY rule, id"
        ),
        &[
            Value::from(filter.rule.clone().unwrap_or_default()),
            Value::from(filter.system.clone().unwrap_or_default()),
            Value::from(filter.identity.clone().unwrap_or_default()),
        ],
        finding_row,
    )?;
    rows.retain(|f| {
        (statuses.is_empty() || statuses.contains(&f.status.as_str()))
            && filter.min_severity.is_none_or(|m| f.finding.severity >= m)
    });
    rows.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then_with(|| a.finding.rule.cmp(&b.finding.rule))
            .then_with(|| a.finding.id.cmp(&b.finding.id))
    });
    Ok(rows)
}

/// One finding by id.
pub fn finding(db: &mut Db, id: &str) -> Result<FindingRow, StoreError> {
    db.query_opt(
        &format!("SELECT {FINDING_COLUMNS} FROM finding WHERE id = $1"),
        &[Value::from(id)],
        finding_row,
    )?
    .ok_or_else(|| StoreError::NotFound(format!("finding `{id}`")))
}

/// Every finding not resolved, keyed by id, for the analysis to compare against.
pub fn present_findings(db: &mut Db) -> Result<BTreeMap<String, FindingRow>, StoreError> {
    let rows = db.query(
        &format!("SELECT {FINDING_COLUMNS} FROM finding WHERE status <> 'resolved'"),
        &[],
        finding_row,
    )?;
    Ok(rows
        .into_iter()
        .map(|r| (r.finding.id.clone(), r))
        .collect())
}

/// The latest recorded assessments, newest first, with their times.
pub fn assessments(
    db: &mut Db,
    limit: u64,
) -> Result<Vec<(u64, Timestamp, Assessment)>, StoreError> {
    db.query(
        "SELECT seq, as_of, record FROM assessment ORDER BY seq DESC LIMIT $1",
        &[Value::Int(limit as i64)],
        |r| {
            Ok((
                r.i64(0)? as u64,
                ts(r.i64(1)?)?,
                serde_json::from_str(&r.str(2)?)?,
            ))
        },
    )
}

/// [`present_findings`], read inside a write transaction so that the comparison and the
/// events it leads to see the same state.
pub fn present_findings_in(
    w: &mut crate::Writer<'_>,
) -> Result<BTreeMap<String, FindingRow>, StoreError> {
    present_findings(w.db()?)
}

/// [`assessments`] inside a write transaction.
pub fn assessments_in(
    w: &mut crate::Writer<'_>,
    limit: u64,
) -> Result<Vec<(u64, Timestamp, Assessment)>, StoreError> {
    assessments(w.db()?, limit)
}
