//! Rules about non-human identities: service accounts, API keys, tokens and certificates.

use gatehouse_model::IdentityKind;
use gatehouse_model::state::{AccountIx, IdentityIx, SystemIx};

use crate::{Context, Draft, Gone, and_list, date, days_between};

pub(crate) fn run(cx: &mut Context<'_>) {
    let inv = cx.inv;
    for (i, identity) in inv.identities.iter().enumerate() {
        if identity.kind == IdentityKind::Person {
            continue;
        }
        let Some(nh) = &identity.non_human else {
            continue;
        };
        let i = IdentityIx::new(i);
        let who = cx.who(i);
        let new = |rule: &'static str| {
            let mut d = Draft::new(rule);
            d.identity = Some(i);
            d
        };

        match &nh.owner {
            None => {
                if cx.enabled("nhi_no_owner") {
                    let mut d = new("nhi_no_owner");
                    d.title = format!("{} has no owner", identity.name);
                    d.explanation = format!(
                        "{who} has no owner in the inventory: nobody answers for its access, \
                         rotates its credential or decommissions it. Assign an owner."
                    );
                    cx.push(d);
                }
            }
            Some(owner) => {
                let found = inv.identity_index(owner.as_str());
                let gone = match found {
                    None => Some("is in no identity feed".to_owned()),
                    Some(o) => match cx.gone[o.index()] {
                        Some(Gone::Terminated(end)) => Some(format!(
                            "has left{}",
                            end.map(|d| format!(" (last day {d})")).unwrap_or_default()
                        )),
                        Some(Gone::EndDatePassed(end)) => Some(format!(
                            "is past their end date ({end}), though the HR status still says \
                             employed"
                        )),
                        None => None,
                    },
                };
                if let Some(gone) = gone
                    && cx.enabled("nhi_owner_left")
                {
                    let mut d = new("nhi_owner_left");
                    d.fact("owner", owner.as_str());
                    d.title = format!("Owner of {} has left", identity.name);
                    d.explanation = format!(
                        "{who} is owned by {}, who {gone}. Hand it over to a current owner or \
                         decommission it.",
                        found
                            .map(|o| cx.who(o))
                            .unwrap_or_else(|| owner.to_string())
                    );
                    cx.push(d);
                }
            }
        }

        if nh.purpose.as_deref().is_none_or(|p| p.trim().is_empty()) && cx.enabled("nhi_no_purpose")
        {
            let mut d = new("nhi_no_purpose");
            d.title = format!("{} has no business purpose", identity.name);
            d.explanation = format!(
                "{who} has no business purpose recorded, so nobody can judge whether its access \
                 is needed. Record what it is for, or decommission it."
            );
            cx.push(d);
        }

        if let (Some(limit), Some(rotated)) = (
            cx.policy.thresholds.rotation_days.of(identity.kind),
            nh.last_rotated.or(nh.credential_created),
        ) && cx.enabled("nhi_rotation_overdue")
        {
            let age = days_between(rotated, cx.now);
            if age > i64::from(limit) {
                let mut d = new("nhi_rotation_overdue");
                if age > 2 * i64::from(limit) {
                    d.escalate += 1;
                }
                d.fact("last_rotated", date(rotated));
                d.fact("max_age_days", limit.to_string());
                d.title = format!(
                    "Credential of {} not rotated since {}",
                    identity.name,
                    date(rotated)
                );
                d.explanation = format!(
                    "The credential of {who} was last rotated on {}; the policy for a {} is \
                     {limit} days. Rotate it.",
                    date(rotated),
                    identity.kind.as_str().replace('_', " ")
                );
                cx.push(d);
            }
        }

        if let Some(expires) = nh.expires_at {
            let left = days_between(cx.now, expires);
            if expires <= cx.now && cx.enabled("nhi_credential_expired") {
                let mut d = new("nhi_credential_expired");
                d.fact("expired_on", date(expires));
                d.title = format!(
                    "Credential of {} expired on {}",
                    identity.name,
                    date(expires)
                );
                d.explanation = format!(
                    "The credential of {who} expired on {}. Renew it if the identity is still \
                     needed, otherwise remove the identity and its accounts.",
                    date(expires)
                );
                cx.push(d);
            } else if expires > cx.now
                && left < i64::from(cx.policy.thresholds.expiry_warning_days)
                && cx.enabled("nhi_credential_expiring")
            {
                let mut d = new("nhi_credential_expiring");
                d.fact("expires_on", date(expires));
                d.title = format!(
                    "Credential of {} expires on {}",
                    identity.name,
                    date(expires)
                );
                d.explanation = format!(
                    "The credential of {who} expires on {}. Renew it in time, or let it lapse \
                     and decommission the identity.",
                    date(expires)
                );
                cx.push(d);
            }
        }

        if cx.enabled("nhi_unused") {
            let limit = i64::from(cx.policy.thresholds.nhi_unused_days);
            // Idle days per source: the inventory's last use against now, each account's
            // last login against its system's latest snapshot; the freshest sign counts.
            let mut idle: Option<(i64, gatehouse_model::Timestamp)> =
                nh.last_used.map(|t| (days_between(t, cx.now), t));
            for &a in &cx.accounts_of[i.index()] {
                let acc = cx.account(a);
                if let Some(t) = acc.last_login {
                    let days = days_between(t, cx.observed(acc.system));
                    if idle.is_none_or(|(d, _)| days < d) {
                        idle = Some((days, t));
                    }
                }
            }
            let never = idle.is_none();
            let idle = idle.or_else(|| nh.credential_created.map(|c| (days_between(c, cx.now), c)));
            if let Some((days, since)) = idle
                && days > limit
            {
                let mut d = new("nhi_unused");
                d.fact(if never { "created" } else { "last_used" }, date(since));
                d.fact("threshold_days", limit.to_string());
                d.title = format!("{} unused since {}", identity.name, date(since));
                d.explanation = format!(
                    "{who} {} {} (threshold {limit} days). Decommission it, or confirm with its \
                     owner that it is still needed.",
                    if never {
                        "has not been used since it was created on"
                    } else {
                        "was last used on"
                    },
                    date(since)
                );
                cx.push(d);
            }
        }

        if !nh.scope.is_empty() && cx.enabled("nhi_out_of_scope") {
            // One finding per system outside the scope, listing its accounts there.
            let mut by_system: std::collections::BTreeMap<SystemIx, Vec<AccountIx>> =
                Default::default();
            for &a in &cx.accounts_of[i.index()] {
                let system = cx.account(a).system;
                if !nh.scope.contains(&cx.inv.systems[system].config.key) {
                    by_system.entry(system).or_default().push(a);
                }
            }
            for (system, accounts) in by_system {
                let sys = cx.system_key(system);
                let mut d = new("nhi_out_of_scope");
                d.system = Some(system);
                if let [one] = accounts.as_slice() {
                    d.account = Some(*one);
                }
                d.entitlements = accounts
                    .iter()
                    .flat_map(|&a| {
                        cx.inv
                            .grants_of(cx.account(a))
                            .iter()
                            .map(|g| g.entitlement)
                    })
                    .collect();
                let usernames: Vec<String> = accounts
                    .iter()
                    .map(|&a| format!("`{}`", cx.account(a).username))
                    .collect();
                let scope: Vec<&str> = nh.scope.iter().map(|s| s.as_str()).collect();
                d.fact("declared_scope", scope.join(", "));
                d.fact("accounts", usernames.join(", "));
                d.title = format!("{} used on {sys}, outside its scope", identity.name);
                d.explanation = format!(
                    "{who} has {} {} on {}, but its declared scope is {}. Remove the account or \
                     widen the declared scope with its owner's agreement.",
                    if usernames.len() == 1 {
                        "account"
                    } else {
                        "accounts"
                    },
                    and_list(&usernames),
                    cx.system_name(system),
                    scope.join(", ")
                );
                cx.push(d);
            }
        }
    }
}
