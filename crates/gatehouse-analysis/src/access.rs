//! Rules about accounts: orphans, dormancy, privileged access without MFA or on shared
//! accounts.

use gatehouse_model::state::{AccountIx, EntitlementIx};
use gatehouse_model::{AccountKind, IdentityKind};
use regex::RegexBuilder;

use crate::policy::StatusAccess;
use crate::{Context, Draft, and_list, date, days_between, plural};

pub(crate) fn run(cx: &mut Context<'_>) {
    let mut generic = Vec::new();
    for p in &cx.policy.thresholds.generic_usernames {
        match generic_pattern(p) {
            Ok(r) => generic.push(r),
            Err(e) => cx.warnings.push(format!(
                "thresholds.generic_usernames: `{p}` is not a valid regular expression: {e}"
            )),
        }
    }
    // Systems that report a login for at least one account; the others say nothing about
    // activity.
    let mut reports_logins = vec![false; cx.inv.systems.len()];
    for acc in &cx.inv.accounts {
        if acc.last_login.is_some() {
            reports_logins[acc.system.index()] = true;
        }
    }
    for a in AccountIx::all(cx.inv.accounts.len()) {
        let acc = cx.account(a);
        let grants = cx.inv.grants_of(acc);
        let privileged: Vec<EntitlementIx> = grants
            .iter()
            .map(|g| g.entitlement)
            .filter(|&e| cx.privileged(e))
            .collect();
        let system = acc.system;
        let sys_name = crate::SystemName(cx.inv, system);

        let Some(identity) = acc.identity else {
            if cx.enabled("orphaned_account") && (acc.enabled || !grants.is_empty()) {
                let mut d = Draft::new("orphaned_account");
                d.system = Some(system);
                d.account = Some(a);
                d.entitlements = grants.iter().map(|g| g.entitlement).collect();
                if !privileged.is_empty() {
                    d.escalate += 1;
                }
                if !acc.enabled {
                    d.escalate -= 1;
                }
                let linked = match &acc.dangling_identity {
                    Some(k) => {
                        d.fact("names_identity", k.as_str());
                        format!("names identity {k}, which is in no identity feed")
                    }
                    None => "is linked to no person or non-human identity".into(),
                };
                d.fact("enabled", acc.enabled.to_string());
                d.fact("grants", grants.len().to_string());
                d.fact("privileged_grants", privileged.len().to_string());
                if let Some(t) = acc.last_login {
                    d.fact("last_login", date(t));
                }
                d.title = format!("Orphaned account `{}` on {sys_name}", acc.username);
                let what = if acc.kind == AccountKind::Service {
                    "Service account"
                } else {
                    "Account"
                };
                d.explanation = format!(
                    "{what} `{}` on {sys_name} {linked}. It is {} and holds {}{}. Find its owner and \
                     link it (correlation rule or identity column), or disable and remove it.",
                    acc.username,
                    if acc.enabled { "enabled" } else { "disabled" },
                    plural(grants.len(), "grant", "grants"),
                    if privileged.is_empty() {
                        String::new()
                    } else {
                        format!(", {} of them privileged", privileged.len())
                    }
                );
                cx.push(d);
            }
            continue;
        };

        // Leavers and people whose status keeps no access have rules of their own.
        if !cx.judged(identity) {
            continue;
        }
        let who_rec = cx.identity(identity);
        let who = crate::Who(cx.inv, Some(identity));
        let person = who_rec.kind == IdentityKind::Person;

        // Dormancy: service accounts are judged by the non-human identity rules, emergency
        // accounts are meant to lie unused, people away (on leave, by the status policy) are
        // expected not to log in, and a system that reports no logins at all says nothing.
        if cx.enabled("dormant_access")
            && acc.enabled
            && !matches!(acc.kind, AccountKind::Service | AccountKind::Emergency)
            && person
            && cx.access[identity.index()] == StatusAccess::All
            && reports_logins[system.index()]
        {
            let crit = cx.inv.systems[system].config.criticality;
            let mut limit = i64::from(cx.policy.thresholds.dormant_days.of(crit));
            let mut limit_note = format!("the threshold for this system is {limit} days");
            let employment = who_rec
                .person
                .as_ref()
                .and_then(|p| p.employment_type.as_deref());
            if let Some(kind) = employment
                && let Some((_, &days)) = cx
                    .policy
                    .thresholds
                    .dormant_days_by_employment_type
                    .iter()
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case(kind.trim()))
                && i64::from(days) < limit
            {
                limit = i64::from(days);
                limit_note = format!("the threshold for a {kind} is {limit} days");
            }
            let observed = cx.observed(system);
            let (since, never) = match acc.last_login {
                Some(t) => (t, false),
                None => (acc.first_seen, true),
            };
            let idle = days_between(since, observed);
            if idle > limit {
                let mut d = Draft::new("dormant_access");
                d.identity = Some(identity);
                d.system = Some(system);
                d.account = Some(a);
                d.entitlements = privileged.clone();
                if !privileged.is_empty() {
                    d.escalate += 1;
                }
                if never {
                    d.fact("never_logged_in", "true");
                    d.fact("first_seen", date(acc.first_seen));
                } else {
                    d.fact("last_login", date(since));
                }
                d.fact("threshold_days", limit.to_string());
                d.fact("observed_at", date(observed));
                d.title = format!(
                    "Dormant {}account `{}` on {sys_name}",
                    if privileged.is_empty() {
                        ""
                    } else {
                        "privileged "
                    },
                    acc.username
                );
                d.explanation = format!(
                    "Account `{}` of {who} on {sys_name} {} (the snapshot of {} is the reference; \
                     {limit_note}){}. Disable it or confirm the need at the next review.",
                    acc.username,
                    if never {
                        format!("has never been used since it appeared on {}", date(since))
                    } else {
                        format!("was last used on {}", date(since))
                    },
                    date(observed),
                    if privileged.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; it holds privileged access: {}",
                            and_list(&names(cx, &privileged))
                        )
                    }
                );
                cx.push(d);
            }
        }

        if privileged.is_empty() {
            continue;
        }

        // Service accounts authenticate with keys, not a second factor: their credentials
        // are the non-human identity rules' business.
        if cx.enabled("privileged_without_mfa")
            && acc.enabled
            && acc.mfa == Some(false)
            && acc.kind != AccountKind::Service
        {
            let mut d = Draft::new("privileged_without_mfa");
            d.identity = Some(identity);
            d.system = Some(system);
            d.account = Some(a);
            d.entitlements = privileged.clone();
            d.fact("mfa", "false");
            d.title = format!(
                "Privileged account `{}` on {sys_name} without MFA",
                acc.username
            );
            d.explanation = format!(
                "Account `{}` of {who} on {sys_name} holds {} but has multi-factor \
                 authentication turned off. Turn MFA on or remove the privileged access.",
                acc.username,
                and_list(&names(cx, &privileged))
            );
            cx.push(d);
        }

        // An emergency account covered by a standing policy is shared by design.
        let generic_name = generic.iter().any(|r| r.is_match(&acc.username));
        if cx.enabled("shared_privileged")
            && (acc.kind == AccountKind::Shared || generic_name)
            && !crate::warrants::covered_emergency(cx, a)
        {
            let mut d = Draft::new("shared_privileged");
            d.identity = Some(identity);
            d.system = Some(system);
            d.account = Some(a);
            d.entitlements = privileged.clone();
            d.fact("kind", acc.kind.as_str());
            d.fact("generic_username", generic_name.to_string());
            d.title = format!(
                "Shared account `{}` on {sys_name} holds privileged access",
                acc.username
            );
            d.explanation = format!(
                "Account `{}` on {sys_name} is {} (registered to {who}) and holds {}. Actions \
                 through it cannot be traced to a person: give each administrator a personal \
                 privileged account, or vault the credential with check-out.",
                acc.username,
                if acc.kind == AccountKind::Shared {
                    "a shared account"
                } else {
                    "a generic account by its name"
                },
                and_list(&names(cx, &privileged))
            );
            cx.push(d);
        }
    }
}

/// A `generic_usernames` pattern, matched case-insensitively against the whole username.
pub(crate) fn generic_pattern(p: &str) -> Result<regex::Regex, regex::Error> {
    RegexBuilder::new(&format!("^(?:{p})$"))
        .case_insensitive(true)
        .build()
}

pub(crate) fn names(cx: &Context<'_>, ents: &[EntitlementIx]) -> Vec<String> {
    ents.iter().map(|&e| cx.ent_name(e)).collect()
}
