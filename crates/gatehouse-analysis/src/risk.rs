//! Explainable risk scores per identity, account and system: a score is the sum of its
//! factors, and each factor says where its points come from. Weights are in the policy.

use std::collections::BTreeMap;

use gatehouse_model::state::{AccountIx, Inventory};
use gatehouse_model::{Criticality, Finding, FindingStatus};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::policy::RiskWeights;

/// One contribution to a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Factor {
    /// What it is ("2 open sod_conflict findings (critical)").
    pub what: String,
    /// Points.
    pub points: u32,
}

/// A score and its factors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Score {
    /// `identity`, `account` or `system`.
    pub kind: &'static str,
    /// Identity key, `system:account`, or system key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Sum of the factors.
    pub total: u32,
    /// The factors, largest first.
    pub factors: Vec<Factor>,
}

/// A finding with its status, as scores need them.
pub type Present<'a> = (&'a Finding, FindingStatus);

fn finding_factors(
    findings: &[Present<'_>],
    w: &RiskWeights,
    include: impl Fn(&Finding) -> bool,
) -> Vec<Factor> {
    // (rule, severity, accepted) → count
    let mut groups: BTreeMap<(String, gatehouse_model::Severity, bool), u32> = BTreeMap::new();
    for (f, status) in findings {
        // Insights are hints for role design, not risk.
        if *status == FindingStatus::Resolved || !include(f) || crate::is_insight(f) {
            continue;
        }
        *groups
            .entry((
                f.rule.clone(),
                f.severity,
                *status == FindingStatus::Accepted,
            ))
            .or_default() += 1;
    }
    groups
        .into_iter()
        .filter_map(|((rule, severity, accepted), n)| {
            let mut points = w.of(severity) * n;
            if accepted {
                points = points * w.accepted_percent / 100;
            }
            (points > 0).then(|| Factor {
                what: format!(
                    "{n} {} {rule} finding{} ({severity})",
                    if accepted { "accepted" } else { "open" },
                    if n == 1 { "" } else { "s" }
                ),
                points,
            })
        })
        .collect()
}

fn finish(kind: &'static str, key: String, name: String, mut factors: Vec<Factor>) -> Score {
    factors.sort_by(|a, b| b.points.cmp(&a.points).then_with(|| a.what.cmp(&b.what)));
    Score {
        kind,
        key,
        name,
        total: factors.iter().map(|f| f.points).sum(),
        factors,
    }
}

fn exposure_factors(
    inv: &Inventory,
    w: &RiskWeights,
    accounts: impl Iterator<Item = AccountIx>,
) -> Vec<Factor> {
    let mut privileged = 0u32;
    let mut critical = std::collections::BTreeSet::new();
    for a in accounts {
        let acc = &inv.accounts[a];
        let grants = inv.grants_of(acc);
        privileged += grants
            .iter()
            .filter(|g| inv.entitlements[g.entitlement].privileged())
            .count() as u32;
        if !grants.is_empty()
            && inv.systems[acc.system].criticality() == Some(Criticality::Critical)
        {
            critical.insert(acc.system);
        }
    }
    let mut out = Vec::new();
    if privileged > 0 && w.privileged_grant > 0 {
        out.push(Factor {
            what: format!(
                "{privileged} privileged grant{}",
                if privileged == 1 { "" } else { "s" }
            ),
            points: (privileged * w.privileged_grant).min(w.privileged_cap),
        });
    }
    if !critical.is_empty() && w.critical_system > 0 {
        let keys: Vec<&str> = critical
            .iter()
            .map(|&s| inv.systems[s].config.key.as_str())
            .collect();
        out.push(Factor {
            what: format!("access to critical systems: {}", keys.join(", ")),
            points: critical.len() as u32 * w.critical_system,
        });
    }
    out
}

/// Scores of every identity with a non-zero score, riskiest first.
pub fn identities(inv: &Inventory, findings: &[Present<'_>], w: &RiskWeights) -> Vec<Score> {
    let mut by_identity: FxHashMap<&str, Vec<Present<'_>>> = FxHashMap::default();
    for p in findings {
        if let Some(k) = &p.0.identity {
            by_identity.entry(k.as_str()).or_default().push(*p);
        }
    }
    let mut accounts_of: Vec<Vec<AccountIx>> = vec![Vec::new(); inv.identities.len()];
    for (a, acc) in inv.accounts_ix() {
        if let Some(i) = acc.identity {
            accounts_of[i.index()].push(a);
        }
    }
    let mut out: Vec<Score> = inv
        .identities
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mine = by_identity
                .get(id.key.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let mut factors = finding_factors(mine, w, |_| true);
            factors.extend(exposure_factors(inv, w, accounts_of[i].iter().copied()));
            finish("identity", id.key.to_string(), id.name.clone(), factors)
        })
        .filter(|s| s.total > 0)
        .collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)));
    out
}

/// Scores of every system, riskiest first.
pub fn systems(inv: &Inventory, findings: &[Present<'_>], w: &RiskWeights) -> Vec<Score> {
    let mut uncorrelated = vec![0u32; inv.systems.len()];
    for a in inv
        .accounts
        .iter()
        .filter(|a| a.enabled && a.identity.is_none())
    {
        uncorrelated[a.system.index()] += 1;
    }
    let mut out: Vec<Score> = inv
        .systems
        .iter()
        .enumerate()
        .map(|(s, sys)| {
            let key = sys.config.key.as_str();
            let mut factors = finding_factors(findings, w, |f| {
                f.system.as_ref().is_some_and(|k| k.as_str() == key)
            });
            if sys.config.owner.is_none() && w.system_without_owner > 0 {
                factors.push(Factor {
                    what: "no owner".into(),
                    points: w.system_without_owner,
                });
            }
            if sys.config.criticality.is_none() && w.system_unclassified > 0 {
                factors.push(Factor {
                    what: "no criticality".into(),
                    points: w.system_unclassified,
                });
            }
            let uncorrelated = uncorrelated[s];
            if uncorrelated > 0 && w.uncorrelated_account > 0 {
                factors.push(Factor {
                    what: format!("{uncorrelated} enabled account(s) linked to nobody"),
                    points: uncorrelated * w.uncorrelated_account,
                });
            }
            finish("system", key.to_owned(), sys.config.name.clone(), factors)
        })
        .collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)));
    out
}

/// The score of one account (`system`, native id), if it exists.
pub fn account(
    inv: &Inventory,
    findings: &[Present<'_>],
    w: &RiskWeights,
    system: &str,
    native_id: &str,
) -> Option<Score> {
    let a = AccountIx::new(inv.accounts.iter().position(|a| {
        inv.systems[a.system].config.key.as_str() == system && &*a.native_id == native_id
    })?);
    let acc = &inv.accounts[a];
    let mut factors = finding_factors(findings, w, |f| {
        f.system.as_ref().is_some_and(|k| k.as_str() == system)
            && f.account.as_deref() == Some(native_id)
    });
    factors.extend(exposure_factors(inv, w, std::iter::once(a)));
    Some(finish(
        "account",
        format!("{system}:{native_id}"),
        acc.username.to_string(),
        factors,
    ))
}
