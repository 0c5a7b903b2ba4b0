//! Privilege creep: movers who kept their previous job's access, people who came back and
//! still hold access of their earlier employment, and peer-group outliers.
//!
//! A move is known from the HR feed's position columns (the date of the current position,
//! the previous department and title) or, without them, from the feed's history; a rehire from
//! the rehire or original hire date, or from the history (terminated, then employed again).
//! The grants themselves are judged with the others (see `warrants`), which hands the kept
//! ones to [`mover_finding`] and [`rehire_finding`]: one finding per person, listing them.

use gatehouse_model::Timestamp;
use gatehouse_model::state::{EntitlementIx, GrantState, IdentityIx};

use crate::warrants::Verdict;
use crate::{Context, Draft, Item, and_list, date, days_between, job_of};

/// A change of job the mover rule looks at now.
pub(crate) struct Change<'a> {
    pub department: &'a str,
    pub title: &'a str,
    pub at: Timestamp,
    pub from_hr: bool,
    /// Still within `mover_grace_days`: the old access may stay while the move settles.
    pub in_grace: bool,
}

/// A person's change of job, when it is recent enough to examine (within
/// `mover_window_days`) and the rule runs.
pub(crate) fn job_change<'a>(cx: &Context<'a>, i: IdentityIx) -> Option<Change<'a>> {
    let c = cx.job_change[i.index()].as_ref()?;
    let t = &cx.policy.thresholds;
    let age = days_between(c.at, cx.now);
    if age > i64::from(t.mover_window_days) || !cx.enabled("mover_kept_access") {
        return None;
    }
    Some(Change {
        department: c.department,
        title: c.title,
        at: c.at,
        from_hr: c.from_hr,
        in_grace: age < i64::from(t.mover_grace_days),
    })
}

/// Whether a grant is access a mover kept from the previous job.
pub(crate) enum Kept {
    No,
    /// Kept, but the grace period is not over.
    InGrace,
    /// Kept, and why it counts as the previous job's access.
    Yes(String),
}

/// Shares (per cent) of the old peers and of the new peers holding an entitlement, when it is
/// typical of the old job and not of the new one.
fn typical_of_old_job(
    cx: &Context<'_>,
    i: IdentityIx,
    ent: EntitlementIx,
    change: &Change<'_>,
) -> Option<(u32, u32)> {
    let t = &cx.policy.thresholds;
    let old = cx.groups.get(&(change.department, change.title))?;
    let new = job_of(cx.identity(i)).and_then(|k| cx.groups.get(&k))?;
    let old_share = old.share(ent, false)?;
    let new_share = new.share(ent, true).unwrap_or(0);
    (old_share >= t.mover_old_share_percent && new_share < t.mover_new_share_percent)
        .then_some((old_share, new_share))
}

/// Judges whether a grant of a mover is access kept from the previous job: not explained by a
/// current role, not given after the move, and either citing a role or birthright rule that no
/// longer applies, or typical of the old job and not of the new one (without a warrant, or
/// approved before the move).
pub(crate) fn kept_by_move(
    cx: &Context<'_>,
    i: IdentityIx,
    g: &GrantState,
    verdict: &Verdict<'_>,
    change: &Change<'_>,
) -> Kept {
    let ent = g.entitlement;
    if cx.role_explaining(i, ent).is_some() || g.granted_at.is_some_and(|t| t >= change.at) {
        return Kept::No;
    }
    let typical = || {
        typical_of_old_job(cx, i, ent, change).map(|(old, new)| {
            format!(
                "held by {old}% of {}s in {} and {new}% of the new peers",
                change.title, change.department
            )
        })
    };
    let why = match verdict {
        Verdict::Unwarranted {
            reason,
            stale_role: true,
        } => Some(reason.clone()),
        Verdict::Unwarranted { .. } => typical().map(|t| format!("{t}; no warrant explains it")),
        Verdict::Record(rec) if rec.approved_at < change.at => typical().map(|t| {
            format!(
                "{t}; approved through {} on {}, before the move",
                rec.warrant(),
                date(rec.approved_at)
            )
        }),
        _ => None,
    };
    match why {
        None => Kept::No,
        Some(_) if change.in_grace => Kept::InGrace,
        Some(why) => Kept::Yes(why),
    }
}

/// Whether a grant of a person who came back at `at` dates from the earlier employment and
/// nothing current explains it: returns why.
pub(crate) fn from_before_rehire(
    cx: &Context<'_>,
    i: IdentityIx,
    g: &GrantState,
    verdict: &Verdict<'_>,
    at: Timestamp,
) -> Option<String> {
    if cx.role_explaining(i, g.entitlement).is_some() {
        return None;
    }
    match verdict {
        Verdict::Unwarranted { reason, .. } if g.since() < at => Some(format!(
            "held since {}, before the return on {}, and {reason}",
            date(g.since()),
            date(at)
        )),
        Verdict::Record(rec) if rec.approved_at < at => Some(format!(
            "approved through {} on {}, during the earlier employment",
            rec.warrant(),
            date(rec.approved_at)
        )),
        _ => None,
    }
}

/// The escalation of a finding that lists kept access: privileged, or on a SOX system.
fn escalation(cx: &Context<'_>, items: &[Item]) -> i32 {
    i32::from(
        items
            .iter()
            .flat_map(|i| &i.entitlements)
            .any(|&e| cx.privileged(e) || cx.sox(e)),
    )
}

/// One `mover_kept_access` finding listing the access a mover kept.
pub(crate) fn mover_finding(
    cx: &mut Context<'_>,
    i: IdentityIx,
    change: &Change<'_>,
    items: Vec<Item>,
) {
    let to = job_of(cx.identity(i))
        .map(|(d, t)| format!("{d}, {t}"))
        .unwrap_or_default();
    let intro = format!(
        "{} moved from {} ({}) on {} ({}) and still holds {} of the previous job that none of \
         their current roles explains:",
        cx.who(i),
        change.department,
        change.title,
        date(change.at),
        if change.from_hr {
            "the date of the current position in the HR feed"
        } else {
            "when the HR feed first showed the new position"
        },
        if items.len() == 1 {
            "access".to_owned()
        } else {
            format!("{} grants", items.len())
        },
    );
    let mut d = cx.group(
        "mover_kept_access",
        i,
        &items,
        &intro,
        "Remove what the new job does not need, or request it anew.",
    );
    d.fixed = Some(cx.severity("mover_kept_access", escalation(cx, &items), None));
    d.key = vec![date(change.at)];
    d.fact("moved_on", date(change.at));
    d.fact("from", format!("{}, {}", change.department, change.title));
    d.fact("to", to);
    d.fact("grants", items.len().to_string());
    d.fact("source", if change.from_hr { "hr" } else { "history" });
    let name = &cx.identity(i).name;
    d.title = format!("{name} kept access from the previous job");
    cx.push(d);
}

/// One `rehire_kept_access` finding listing the access left from an earlier employment.
pub(crate) fn rehire_finding(
    cx: &mut Context<'_>,
    i: IdentityIx,
    at: Timestamp,
    from_hr: bool,
    items: Vec<Item>,
) {
    let intro = format!(
        "{} left and came back on {} ({}); {} from the earlier employment that the current \
         position does not explain:",
        cx.who(i),
        date(at),
        if from_hr {
            "the rehire date in the HR feed"
        } else {
            "when the HR feed showed them employed again"
        },
        if items.len() == 1 {
            "one grant remains".to_owned()
        } else {
            format!("{} grants remain", items.len())
        },
    );
    let mut d = cx.group(
        "rehire_kept_access",
        i,
        &items,
        &intro,
        "Access should have ended with the earlier employment: remove it, or request it anew \
         for the current position.",
    );
    d.fixed = Some(cx.severity("rehire_kept_access", escalation(cx, &items), None));
    d.key = vec![date(at)];
    d.fact("rehired_on", date(at));
    d.fact("grants", items.len().to_string());
    d.fact("source", if from_hr { "hr" } else { "history" });
    let name = &cx.identity(i).name;
    d.title = format!("{name} holds access from an earlier employment");
    cx.push(d);
}

/// Peer outliers: entitlements few of a person's peers hold, that no role explains and no
/// other finding already reports. Approved ones are insights for role design; unusual
/// privileged access without a valid warrant (only possible when the grant rules are switched
/// off) escalates.
pub(crate) fn run(cx: &mut Context<'_>) {
    if !cx.enabled("peer_outlier") {
        return;
    }
    let t = cx.policy.thresholds.clone();
    for i in IdentityIx::all(cx.inv.identities.len()) {
        if cx.is_gone(i) {
            continue;
        }
        let Some(key) = job_of(cx.identity(i)) else {
            continue;
        };
        let Some(g) = cx.groups.get(&key) else {
            continue;
        };
        let peers = g.members.saturating_sub(1);
        if peers < t.peer_min_group {
            continue;
        }
        let unusual: Vec<EntitlementIx> = cx.holds[i.index()]
            .iter()
            .copied()
            .filter(|&e| {
                cx.role_explaining(i, e).is_none()
                    && cx.reported[i.index()].binary_search(&e).is_err()
                    && g.share(e, true).unwrap_or(100) <= t.peer_max_share_percent
            })
            .collect();
        if unusual.is_empty() {
            continue;
        }
        let mut d = Draft::new("peer_outlier");
        d.identity = Some(i);
        if unusual
            .iter()
            .any(|&e| cx.privileged(e) && cx.backed[i.index()].binary_search(&e).is_err())
        {
            d.escalate += 1;
        }
        d.fact("peer_group", format!("{}, {}", key.0, key.1));
        d.fact("peers", peers.to_string());
        d.entitlements = unusual.clone();
        let name = &cx.identity(i).name;
        d.title = format!("{name} holds access unusual among peers");
        let shares: Vec<String> = unusual
            .iter()
            .map(|&e| {
                let n = g.holders.get(&e).copied().unwrap_or(1).saturating_sub(1);
                format!("{} ({} of {peers} peers)", cx.ent_name(e), n)
            })
            .collect();
        d.explanation = format!(
            "{} holds {}, which at most {}% of the other {peers} {}s in {} hold and no role of \
             theirs explains. Confirm the need at the next review; if peers need the same, a role \
             would make it reviewable as one.",
            cx.who(i),
            and_list(&shares),
            t.peer_max_share_percent,
            key.1,
            key.0
        );
        cx.push(d);
    }
}
