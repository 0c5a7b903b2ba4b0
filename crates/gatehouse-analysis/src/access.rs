//! Rules about accounts: leavers, orphans, dormancy and privileged access.

use gatehouse_model::state::{AccountIx, EntitlementIx};
use gatehouse_model::{AccountKind, GrantSource, IdentityKind};
use regex::RegexBuilder;

use crate::{Context, DAY, Draft, and_list, date, days_between, plural};

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

        let who_rec = cx.identity(identity);
        let who = crate::Who(cx.inv, Some(identity));

        if cx.is_terminated(identity) {
            if cx.enabled("leaver_access") && (acc.enabled || !grants.is_empty()) {
                let mut d = Draft::new("leaver_access");
                d.identity = Some(identity);
                d.system = Some(system);
                d.account = Some(a);
                d.entitlements = grants.iter().map(|g| g.entitlement).collect();
                let end = who_rec.person.as_ref().and_then(|p| p.end_date);
                let mut notes = Vec::new();
                if !privileged.is_empty() {
                    d.escalate += 1;
                    notes.push(format!("{} of the grants are privileged", privileged.len()));
                }
                if let (Some(end), Some(login)) = (end, acc.last_login) {
                    let end_ts = end
                        .to_zoned(jiff::tz::TimeZone::UTC)
                        .map(|z| z.timestamp().as_second() + DAY)
                        .unwrap_or(i64::MAX);
                    if login.as_second() >= end_ts {
                        d.escalate += 1;
                        d.fact("login_after_termination", "true");
                        notes.push(format!(
                            "the account was used on {}, after the last day",
                            date(login)
                        ));
                    }
                }
                if let Some(end) = end {
                    d.fact("terminated_on", end.to_string());
                }
                d.fact("enabled", acc.enabled.to_string());
                d.fact("grants", grants.len().to_string());
                if let Some(t) = acc.last_login {
                    d.fact("last_login", date(t));
                }
                d.title = format!("Leaver {} still has access on {sys_name}", who_rec.name);
                d.explanation = format!(
                    "{who} left{}; account `{}` on {sys_name} is {} and holds {}{}. Disable the \
                     account and remove its access; check what it was used for after the last day.",
                    end.map(|e| format!(" on {e}")).unwrap_or_default(),
                    acc.username,
                    if acc.enabled {
                        "still enabled"
                    } else {
                        "disabled"
                    },
                    plural(grants.len(), "grant", "grants"),
                    if notes.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", and_list(&notes))
                    }
                );
                cx.push(d);
            }
            continue;
        }

        let person = who_rec.kind == IdentityKind::Person;
        let on_leave = who_rec.status() == Some(gatehouse_model::EmploymentStatus::Leave);

        // Dormancy (service accounts are judged by the non-human identity rules).
        if cx.enabled("dormant_access")
            && acc.enabled
            && acc.kind != AccountKind::Service
            && person
            && !on_leave
        {
            let crit = cx.inv.systems[system].config.criticality;
            let limit = i64::from(cx.policy.thresholds.dormant_days.of(crit));
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
                     the threshold for this system is {limit} days){}. Disable it or confirm \
                     the need at the next review.",
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

        if cx.enabled("privileged_without_mfa") && acc.enabled && acc.mfa == Some(false) {
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

        let generic_name = generic.iter().any(|r| r.is_match(&acc.username));
        if cx.enabled("shared_privileged") && (acc.kind == AccountKind::Shared || generic_name) {
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

        if cx.enabled("standing_privilege") && person {
            let standing: Vec<EntitlementIx> = grants
                .iter()
                .filter(|g| {
                    cx.privileged(g.entitlement)
                        && g.expires_at.is_none()
                        && !cx.record_ends(g)
                        && matches!(
                            g.source,
                            GrantSource::Direct | GrantSource::Request | GrantSource::Review
                        )
                })
                .map(|g| g.entitlement)
                .collect();
            if !standing.is_empty() {
                let mut d = Draft::new("standing_privilege");
                d.identity = Some(identity);
                d.system = Some(system);
                d.account = Some(a);
                d.entitlements = standing.clone();
                d.title = format!(
                    "Standing privileged access for {} on {sys_name}",
                    who_rec.name
                );
                d.explanation = format!(
                    "{who} holds {} on {sys_name} permanently: it was granted individually with \
                     no end date. Make it just-in-time (time-bound requests) or give it an end \
                     date.",
                    and_list(&names(cx, &standing))
                );
                cx.push(d);
            }
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
