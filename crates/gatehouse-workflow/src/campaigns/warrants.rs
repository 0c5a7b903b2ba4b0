//! Review decisions as the analysis sees them. A keep decision is a warrant of kind `review`
//! for its grant until the next review is due (the campaign's `keep_days` after the
//! decision), a keep-until decision until its date (after which the analysis reports the
//! grant as past its end date). A revoke whose remediation was reopened is a contradiction
//! the analysis reports, naming the decision.

use std::collections::BTreeMap;

use gatehouse_model::state::{AccountIx, ContradictedRevoke, EntitlementIx, Inventory, WarrantIx};
use gatehouse_model::{
    CampaignId, EntitlementRef, TaskStatus, Timestamp, Verdict, Warrant, WarrantKind, WarrantRecord,
};
use gatehouse_store::campaigns::query::{GrantVerdict, TaskFilter};
use gatehouse_store::{Store, StoreError};
use rustc_hash::FxHashMap;

use super::plus_days;

/// Adds the review decisions to an inventory loaded for the analysis: current keep decisions
/// as warrant records of kind `review` that the kept grants cite (when they cite nothing, or
/// a record that does not exist), and reopened revokes as contradictions.
pub fn apply_reviews(store: &Store, inv: &mut Inventory, now: Timestamp) -> Result<(), StoreError> {
    let (verdicts, tasks, keep_days) = store.read(|r| {
        let keep_days: FxHashMap<CampaignId, u32> = r
            .campaigns()?
            .into_iter()
            .map(|c| (c.id, c.created.rules.keep_days))
            .collect();
        Ok::<_, StoreError>((
            r.grant_verdicts()?,
            r.remediation_tasks(&TaskFilter {
                status: vec![TaskStatus::Reopened],
                ..TaskFilter::default()
            })?,
            keep_days,
        ))
    })?;
    if verdicts.is_empty() {
        return Ok(());
    }
    // Where each decided grant is in the inventory (the maps borrow it; they end here).
    let (latest, contradicted) = {
        let accounts: FxHashMap<(&str, &str), AccountIx> = inv
            .accounts_ix()
            .map(|(a, acc)| {
                (
                    (inv.systems[acc.system].config.key.as_str(), &*acc.native_id),
                    a,
                )
            })
            .collect();
        let entitlements: FxHashMap<(&str, &str), EntitlementIx> = inv
            .entitlements
            .iter()
            .enumerate()
            .map(|(i, e)| {
                (
                    (e.record.system.as_str(), e.record.native_id.as_str()),
                    EntitlementIx::new(i),
                )
            })
            .collect();
        let locate = |v: &GrantVerdict| -> Option<(AccountIx, EntitlementIx)> {
            Some((
                *accounts.get(&(v.system.as_str(), v.account.as_str()))?,
                *entitlements.get(&(v.system.as_str(), v.entitlement.as_str()))?,
            ))
        };
        // The latest final decision per grant.
        let mut latest: BTreeMap<(AccountIx, EntitlementIx), &GrantVerdict> = BTreeMap::new();
        for v in &verdicts {
            if let Some(k) = locate(v) {
                match latest.get(&k) {
                    Some(prev) if prev.at > v.at => {}
                    _ => {
                        latest.insert(k, v);
                    }
                }
            }
        }
        let by_item: FxHashMap<_, &GrantVerdict> = verdicts.iter().map(|v| (v.item, v)).collect();
        let contradicted: Vec<ContradictedRevoke> = tasks
            .iter()
            .filter_map(|t| {
                let v = by_item.get(&t.task.item)?;
                let (account, entitlement) = locate(v)?;
                Some(ContradictedRevoke {
                    account,
                    entitlement,
                    decision: t.task.item.to_string(),
                    decided_by: v
                        .by
                        .as_ref()
                        .map(|b| b.to_string())
                        .unwrap_or_else(|| "the deadline default".into()),
                    decided_at: v.at,
                    why: t.reopen_reason.clone().unwrap_or_default(),
                })
            })
            .collect();
        let latest: Vec<((AccountIx, EntitlementIx), GrantVerdict)> =
            latest.into_iter().map(|(k, v)| (k, v.clone())).collect();
        (latest, contradicted)
    };
    let known: std::collections::HashSet<(WarrantKind, String)> = inv
        .warrant_records
        .iter()
        .map(|w| (w.kind, w.id.clone()))
        .collect();
    let mut cite: Vec<(AccountIx, EntitlementIx, WarrantIx)> = Vec::new();
    for ((account, entitlement), v) in &latest {
        let (account, entitlement) = (*account, *entitlement);
        let expires_at = match v.verdict {
            Verdict::Keep => {
                let days = keep_days.get(&v.item.campaign).copied().unwrap_or(365);
                if plus_days(v.at, i64::from(days)) <= now {
                    continue;
                }
                None
            }
            Verdict::KeepUntil => v.until,
            Verdict::Revoke | Verdict::Exception => continue,
        };
        let Some(holder) = v.identity.clone() else {
            continue;
        };
        let id = v.item.to_string();
        inv.warrant_records.push(WarrantRecord {
            id: id.clone(),
            kind: WarrantKind::Review,
            identity: Some(holder),
            entitlement: Some(EntitlementRef {
                system: v.system.clone(),
                native_id: v.entitlement.clone(),
            }),
            owner: None,
            approved_by: v.by.clone(),
            approved_at: v.at,
            expires_at,
            reason: Some("kept in an access review".into()),
            attributes: Default::default(),
        });
        let ix = WarrantIx::new(inv.warrants.len());
        inv.warrants.push(Warrant {
            kind: WarrantKind::Review,
            reference: id,
        });
        cite.push((account, entitlement, ix));
    }
    for (account, entitlement, ix) in cite {
        let acc = &inv.accounts[account];
        let (from, to) = (acc.grants_from as usize, acc.grants_to as usize);
        for g in &mut inv.grants[from..to] {
            if g.entitlement != entitlement {
                continue;
            }
            let own = g.warrant.and_then(|w| inv.warrants.get(w.index()));
            let stands = own.is_some_and(|w| match w.kind {
                WarrantKind::Role | WarrantKind::Birthright => true,
                kind => known.contains(&(kind, w.reference.clone())),
            });
            if !stands {
                g.warrant = Some(ix);
            }
        }
    }
    inv.contradicted = contradicted;
    Ok(())
}
