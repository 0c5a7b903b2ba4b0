//! The whole current inventory for the risk analysis, in one pass per table, with the bits
//! of history the rules need.

use gatehouse_model::state::{
    AccountIx, AccountState, EntitlementIx, EntitlementState, Feed, GrantState, IdentityIx,
    Inventory, Move, Rehire, SystemIx, SystemState, WarrantIx,
};
use gatehouse_model::{
    AccountKind, EmploymentStatus, Entitlement, GrantSource, Identity, IdentityKey, Role,
    SystemConfig, Timestamp, Warrant, WarrantRecord,
};
use rustc_hash::FxHashMap;

use crate::Store;
use crate::conn::Conn;
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
fn scan_grants(db: &mut Conn) -> Result<(Vec<RawGrant>, Vec<Warrant>), StoreError> {
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

impl Store {
    /// Loads the current inventory with the history facts the analysis needs: when each
    /// account and grant was first seen (uninterrupted), grants that came back after a
    /// removal, and people who changed department or title. The grants, by far the largest
    /// table, are read in a second read transaction in parallel; both must see the same
    /// ledger size (one state of the store), or the load starts again.
    pub fn load_inventory(&self) -> Result<Inventory, StoreError> {
        loop {
            let (rest, grants) = std::thread::scope(|scope| {
                let grants = scope
                    .spawn(|| self.read(|r| Ok::<_, StoreError>((r.size(), scan_grants(r.conn)?))));
                let rest = self.read(|r| Ok::<_, StoreError>((r.size(), load_rest(r.conn)?)));
                let grants = grants
                    .join()
                    .map_err(|_| StoreError::Corrupt("the grant reader panicked".into()));
                (rest, grants)
            });
            let (size_a, (mut inv, ids)) = rest?;
            let (size_b, grants) = grants??;
            if size_a != size_b {
                continue;
            }
            attach_grants(&mut inv, &ids, grants)?;
            return Ok(inv);
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

fn load_rest(db: &mut Conn) -> Result<(Inventory, Ids), StoreError> {
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
    let mut feeds: Vec<(&String, &i64)> = last_import.iter().collect();
    feeds.sort();
    for (source, at) in feeds {
        inv.feeds.push(Feed {
            source: source.clone(),
            last_snapshot: ts(*at)?,
        });
    }
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
        "SELECT a.account_id, a.native_id, l.last_login FROM account a \
         LEFT JOIN account_login l ON l.account_id = a.account_id ORDER BY a.account_id",
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
