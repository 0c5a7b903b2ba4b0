//! Reads for the risk analysis: the whole current inventory in one pass per table, and the
//! recorded findings, analysis runs and assessments.

use std::collections::BTreeMap;

use gatehouse_model::state::{
    AccountState, EntitlementState, GrantState, Inventory, Move, NONE, SystemState,
};
use gatehouse_model::{
    AccountKind, Assessment, Entitlement, Finding, FindingStatus, GrantSource, Identity,
    IdentityKey, Role, Severity, SystemConfig, Timestamp, Warrant, WarrantRecord,
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

/// Loads the current inventory with the history facts the analysis needs: when each account
/// and grant was first seen (uninterrupted), grants that came back after a removal, and
/// people who changed department or title.
pub fn load_inventory(db: &mut Db) -> Result<Inventory, StoreError> {
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
    let mut system_index: FxHashMap<i64, u32> = FxHashMap::default();
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
            system_index.insert(r.i64(0)?, inv.systems.len() as u32);
            inv.systems.push(SystemState { config, as_of });
            Ok(())
        },
    )?;

    // Identities, current and past versions in order, to find moves.
    // (department, title, since) before the latest change of either.
    type Previous = Option<(Option<String>, Option<String>, i64)>;
    let mut current: Vec<(Identity, Previous)> = Vec::new();
    {
        let mut prev: Option<(i64, Option<String>, Option<String>)> = None;
        let mut last_move: Option<(Option<String>, Option<String>, i64)> = None;
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
                    _ => last_move = None,
                }
                prev = Some((id, dept, title));
                if r.i64(2)? == OPEN {
                    current.push((identity, last_move.take()));
                }
                Ok(())
            },
        )?;
    }
    current.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    for (i, (identity, moved)) in current.into_iter().enumerate() {
        if let Some((from_department, from_title, at)) = moved {
            inv.moves.push(Move {
                identity: i as u32,
                from_department,
                from_title,
                at: ts(at)?,
            });
        }
        inv.identities.push(identity);
    }

    // Entitlements.
    let mut ent_index: FxHashMap<i64, u32> = FxHashMap::default();
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
            ent_index.insert(r.i64(0)?, inv.entitlements.len() as u32);
            inv.entitlements.push(EntitlementState { system, record });
            Ok(())
        },
    )?;

    // Accounts: native ids and last logins, then versions in key order.
    let mut natives: FxHashMap<i64, (String, Option<i64>)> = FxHashMap::default();
    db.query_each(
        "SELECT account_id, native_id, last_login FROM account",
        &[],
        |r| {
            natives.insert(r.i64(0)?, (r.str(1)?, r.opt_i64(2)?));
            Ok(())
        },
    )?;
    let mut account_index: FxHashMap<i64, u32> = FxHashMap::default();
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
                    .remove(&id)
                    .ok_or_else(|| StoreError::Corrupt(format!("account {id} has no row")))?;
                let key = r.opt_str(5)?;
                let identity = key
                    .as_deref()
                    .and_then(|k| inv.identity_index(k))
                    .unwrap_or(NONE);
                let dangling_identity = match (&key, identity) {
                    (Some(k), NONE) => Some(IdentityKey::new(k.as_str())?),
                    _ => None,
                };
                account_index.insert(id, inv.accounts.len() as u32);
                inv.accounts.push(AccountState {
                    system,
                    native_id: native_id.into(),
                    username: r.str(4)?.into(),
                    identity,
                    dangling_identity,
                    kind: r.str(6)?.parse::<AccountKind>()?,
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

    // Grants, in (system, account, entitlement, seq) order: an account's grants are contiguous
    // and in the same order as the accounts above.
    {
        let mut warrant_index: FxHashMap<String, u32> = FxHashMap::default();
        // (account_id, entitlement_id, chain start, chain end, removed before)
        let mut chain: Option<(i64, i64, i64, i64, Option<i64>)> = None;
        let grants = &mut inv.grants;
        let warrants = &mut inv.warrants;
        let accounts = &mut inv.accounts;
        db.query_each(
            "SELECT account_id, entitlement_id, valid_from, valid_to, source, warrant, expires_at \
             FROM grant_version ORDER BY system_id, account_id, entitlement_id, seq",
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
                let (Some(&account), Some(&entitlement)) =
                    (account_index.get(&a), ent_index.get(&e))
                else {
                    return Ok(());
                };
                let warrant = match r.opt_str(5)? {
                    None => NONE,
                    Some(text) => match warrant_index.get(&text) {
                        Some(&i) => i,
                        None => match text.parse::<Warrant>() {
                            Ok(w) => {
                                let i = warrants.len() as u32;
                                warrants.push(w);
                                warrant_index.insert(text, i);
                                i
                            }
                            Err(_) => NONE,
                        },
                    },
                };
                let index = grants.len() as u32;
                let acc = &mut accounts[account as usize];
                if acc.grants_to == 0 && acc.grants_from == 0 {
                    acc.grants_from = index;
                }
                acc.grants_to = index + 1;
                grants.push(GrantState {
                    account,
                    entitlement,
                    source: r.str(4)?.parse::<GrantSource>()?,
                    warrant,
                    expires_at: r.opt_i64(6)?.map(ts).transpose()?,
                    first_seen: ts(start)?,
                    removed_before: removed.map(ts).transpose()?,
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
    Ok(inv)
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

/// Ids of resolved findings (to tell "opened" from "back again").
pub fn resolved_finding_ids(db: &mut Db) -> Result<Vec<String>, StoreError> {
    db.query(
        "SELECT id FROM finding WHERE status = 'resolved'",
        &[],
        |r| r.str(0),
    )
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

/// Time of the latest analysis run, if any.
pub fn last_analysis(db: &mut Db) -> Result<Option<Timestamp>, StoreError> {
    db.query_opt(
        "SELECT as_of FROM analysis_run ORDER BY seq DESC LIMIT 1",
        &[],
        |r| ts(r.i64(0)?),
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
