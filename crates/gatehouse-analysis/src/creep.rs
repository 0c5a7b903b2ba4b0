//! Privilege creep: movers who kept their previous job's access, and peer-group outliers.

use gatehouse_model::state::{EntitlementIx, IdentityIx};
use rustc_hash::FxHashMap;

use crate::access::names;
use crate::{Context, Draft, and_list, date, days_between};

#[derive(Default)]
struct Group {
    members: u32,
    holders: FxHashMap<EntitlementIx, u32>,
}

impl Group {
    /// Share (per cent) of members holding `ent`, leaving out one member who holds it when
    /// `exclude_self`.
    fn share(&self, ent: EntitlementIx, exclude_self: bool) -> Option<u32> {
        let held = self.holders.get(&ent).copied().unwrap_or(0);
        let (held, members) = if exclude_self {
            (held.saturating_sub(1), self.members.saturating_sub(1))
        } else {
            (held, self.members)
        };
        (members > 0).then(|| held * 100 / members)
    }
}

fn job<'a>(cx: &Context<'a>, i: IdentityIx) -> Option<(&'a str, &'a str)> {
    let p = cx.identity(i).person.as_ref()?;
    Some((p.department.as_deref()?, p.title.as_deref()?))
}

pub(crate) fn run(cx: &mut Context<'_>) {
    let movers = cx.enabled("mover_kept_access") && !cx.inv.moves.is_empty();
    let outliers = cx.enabled("peer_outlier");
    if !movers && !outliers {
        return;
    }
    let mut groups: FxHashMap<(&str, &str), Group> = FxHashMap::default();
    for i in IdentityIx::all(cx.inv.identities.len()) {
        if cx.is_terminated(i) {
            continue;
        }
        let Some(key) = job(cx, i) else { continue };
        let g = groups.entry(key).or_default();
        g.members += 1;
        for &e in &cx.holds[i.index()] {
            *g.holders.entry(e).or_default() += 1;
        }
    }
    let t = cx.policy.thresholds.clone();

    if movers {
        for m in &cx.inv.moves {
            let i = m.identity;
            if cx.is_terminated(i) {
                continue;
            }
            let age = days_between(m.at, cx.now);
            if age < i64::from(t.mover_grace_days) || age > i64::from(t.mover_window_days) {
                continue;
            }
            let (Some(now_job), Some(old_dept), Some(old_title)) = (
                job(cx, i),
                m.from_department.as_deref(),
                m.from_title.as_deref(),
            ) else {
                continue;
            };
            let (Some(old), Some(new)) = (groups.get(&(old_dept, old_title)), groups.get(&now_job))
            else {
                continue;
            };
            let kept: Vec<EntitlementIx> = cx.holds[i.index()]
                .iter()
                .copied()
                .filter(|&e| {
                    cx.role_explaining(i, e).is_none()
                        && old.share(e, false).unwrap_or(0) >= t.mover_old_share_percent
                        && new.share(e, true).unwrap_or(0) < t.mover_new_share_percent
                })
                .collect();
            if kept.is_empty() {
                continue;
            }
            let mut d = Draft::new("mover_kept_access");
            d.identity = Some(i);
            d.key = vec![date(m.at)];
            if kept
                .iter()
                .any(|&e| cx.privileged(e) || cx.inv.systems[cx.inv.entitlements[e].system].sox())
            {
                d.escalate += 1;
            }
            d.fact("moved_on", date(m.at));
            d.fact("from", format!("{old_dept}, {old_title}"));
            d.fact("to", format!("{}, {}", now_job.0, now_job.1));
            d.entitlements = kept.clone();
            let name = &cx.identity(i).name;
            d.title = format!("{name} kept access from the previous job");
            d.explanation = format!(
                "{} moved from {old_dept} ({old_title}) on {} and still holds {}: held by at \
                 least {}% of {old_title}s in {old_dept} but by fewer than {}% of their new \
                 peers, and explained by none of their current roles. Remove what the new job \
                 does not need, or request it anew.",
                cx.who(i),
                date(m.at),
                and_list(&names(cx, &kept)),
                t.mover_old_share_percent,
                t.mover_new_share_percent
            );
            cx.push(d);
        }
    }

    if outliers {
        for i in IdentityIx::all(cx.inv.identities.len()) {
            if cx.is_terminated(i) {
                continue;
            }
            let Some(key) = job(cx, i) else { continue };
            let Some(g) = groups.get(&key) else { continue };
            let peers = g.members.saturating_sub(1);
            if peers < t.peer_min_group {
                continue;
            }
            let unusual: Vec<EntitlementIx> = cx.holds[i.index()]
                .iter()
                .copied()
                .filter(|&e| {
                    cx.role_explaining(i, e).is_none()
                        && g.share(e, true).unwrap_or(100) <= t.peer_max_share_percent
                })
                .collect();
            if unusual.is_empty() {
                continue;
            }
            let mut d = Draft::new("peer_outlier");
            d.identity = Some(i);
            if unusual.iter().any(|&e| cx.privileged(e)) {
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
                "{} holds {}, which at most {}% of the other {peers} {}s in {} hold and no \
                 role of theirs explains. Confirm the need at the next review.",
                cx.who(i),
                and_list(&shares),
                t.peer_max_share_percent,
                key.1,
                key.0
            );
            cx.push(d);
        }
    }
}
