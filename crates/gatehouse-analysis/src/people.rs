//! Rules about a person's standing as a whole: leavers who still have access (by their HR
//! status, or by an end date that has passed while the status lags), and people whose HR
//! status keeps no access (suspended, by default) with enabled accounts. One finding per
//! person, listing the accounts.

use gatehouse_model::state::{AccountIx, IdentityIx};

use crate::policy::StatusAccess;
use crate::{Context, DAY, Gone, Item, and_list, date, midnight, plural};

pub(crate) fn run(cx: &mut Context<'_>) {
    let leavers = cx.enabled("leaver_access");
    let statuses = cx.enabled("status_access");
    for i in IdentityIx::all(cx.inv.identities.len()) {
        match cx.gone[i.index()] {
            Some(gone) if leavers => leaver(cx, i, gone),
            None if statuses && cx.access[i.index()] == StatusAccess::None => status(cx, i),
            _ => {}
        }
    }
}

/// The privileged grants of an account.
fn privileged_count(cx: &Context<'_>, a: AccountIx) -> usize {
    cx.inv
        .grants_of(cx.account(a))
        .iter()
        .filter(|g| cx.privileged(g.entitlement))
        .count()
}

fn leaver(cx: &mut Context<'_>, i: IdentityIx, gone: Gone) {
    let who = cx.who(i);
    let identity = cx.identity(i);
    let last_day = gone.last_day();
    // Logins from the day after the last day on are logins after the departure.
    let after = last_day.map(|d| midnight(d).as_second() + DAY);
    let mut items = Vec::new();
    let mut used_after = false;
    let mut grants = 0;
    let mut enabled = 0;
    let mut last_login = None;
    for &a in &cx.accounts_of[i.index()] {
        let acc = cx.account(a);
        let held = cx.inv.grants_of(acc);
        if !acc.enabled && held.is_empty() {
            continue;
        }
        let privileged = privileged_count(cx, a);
        let mut escalate = 0;
        let mut notes = Vec::new();
        if privileged > 0 {
            escalate += 1;
            notes.push(format!("{privileged} of the grants are privileged"));
        }
        if let (Some(after), Some(login)) = (after, acc.last_login)
            && login.as_second() >= after
        {
            escalate += 1;
            used_after = true;
            notes.push(format!(
                "the account was used on {}, after the last day",
                date(login)
            ));
        }
        grants += held.len();
        enabled += usize::from(acc.enabled);
        last_login = last_login.max(acc.last_login);
        items.push(Item {
            account: a,
            entitlements: held.iter().map(|g| g.entitlement).collect(),
            severity: cx.severity("leaver_access", escalate, Some(acc.system)),
            since: None,
            line: format!(
                "account `{}` on {} is {} and holds {}{}",
                acc.username,
                cx.system_name(acc.system),
                if acc.enabled {
                    "still enabled"
                } else {
                    "disabled"
                },
                plural(held.len(), "grant", "grants"),
                if notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", and_list(&notes))
                }
            ),
            facts: vec![("enabled", acc.enabled.to_string())],
        });
    }
    if items.is_empty() {
        return;
    }
    let accounts = plural(items.len(), "account", "accounts");
    let (intro, advice) = match gone {
        Gone::Terminated(end) => (
            format!(
                "{who} left{}; {accounts} still {}:",
                end.map(|e| format!(" on {e}")).unwrap_or_default(),
                if items.len() == 1 {
                    "has access"
                } else {
                    "have access"
                }
            ),
            "Disable the accounts and remove their access; check what they were used for after \
             the last day.",
        ),
        Gone::EndDatePassed(end) => (
            format!(
                "{who}'s end date {end} has passed, but the HR feed still lists them as {}: the \
                 status and the date disagree (HR statuses lag behind end dates, contractors' \
                 most of all). {accounts} still {}:",
                identity
                    .person
                    .as_ref()
                    .map(|p| p.status_text())
                    .unwrap_or("employed"),
                if items.len() == 1 {
                    "has access"
                } else {
                    "have access"
                }
            ),
            "Confirm the departure with HR (or correct the end date if the contract was \
             extended), then disable the accounts and remove their access.",
        ),
    };
    let mut d = cx.group("leaver_access", i, &items, &intro, advice);
    match gone {
        Gone::Terminated(Some(end)) => {
            d.fact("terminated_on", end.to_string());
        }
        Gone::Terminated(None) => {}
        Gone::EndDatePassed(end) => {
            d.fact("end_date", end.to_string());
            if let Some(p) = &identity.person {
                d.fact("status", p.status.as_str());
                if let Some(words) = &p.hr_status {
                    d.fact("hr_status", words.as_str());
                }
            }
            d.fact("status_disagrees", "true");
        }
    }
    if used_after {
        d.fact("login_after_termination", "true");
    }
    if let Some(t) = last_login {
        d.fact("last_login", date(t));
    }
    d.fact("accounts", items.len().to_string());
    d.fact("enabled_accounts", enabled.to_string());
    d.fact("grants", grants.to_string());
    d.title = match (gone, d.system) {
        (Gone::Terminated(_), Some(s)) => {
            format!(
                "Leaver {} still has access on {}",
                identity.name,
                cx.system_name(s)
            )
        }
        (Gone::Terminated(_), None) => format!(
            "Leaver {} still has access on {} systems",
            identity.name,
            d.facts.get("systems").map_or(0, |s| s.split(", ").count())
        ),
        (Gone::EndDatePassed(end), _) => format!(
            "{} is past their end date ({end}) and still has access",
            identity.name
        ),
    };
    cx.push(d);
}

fn status(cx: &mut Context<'_>, i: IdentityIx) {
    let identity = cx.identity(i);
    let Some(person) = &identity.person else {
        return;
    };
    let mut items = Vec::new();
    for &a in &cx.accounts_of[i.index()] {
        let acc = cx.account(a);
        if !acc.enabled {
            continue;
        }
        let held = cx.inv.grants_of(acc);
        let privileged = privileged_count(cx, a);
        items.push(Item {
            account: a,
            entitlements: held.iter().map(|g| g.entitlement).collect(),
            severity: cx.severity("status_access", i32::from(privileged > 0), Some(acc.system)),
            since: None,
            line: format!(
                "account `{}` on {} is enabled and holds {}{}",
                acc.username,
                cx.system_name(acc.system),
                plural(held.len(), "grant", "grants"),
                if privileged > 0 {
                    format!(" ({privileged} privileged)")
                } else {
                    String::new()
                }
            ),
            facts: Vec::new(),
        });
    }
    if items.is_empty() {
        return;
    }
    let words = person.status_text();
    let canonical = person.status.as_str();
    let intro = format!(
        "{} is {words}{}, and the status policy keeps no access while a person is {canonical} \
         (`[status] {canonical}` in the policy{}). Yet {} enabled:",
        cx.who(i),
        if person.hr_status.is_some() {
            format!(" ({canonical})")
        } else {
            String::new()
        },
        if person.hr_status.is_some() {
            ", or `[status.hr_status]` by the HR feed's words"
        } else {
            ""
        },
        if items.len() == 1 {
            "this account is".to_owned()
        } else {
            format!("these {} accounts are", items.len())
        }
    );
    let mut d = cx.group(
        "status_access",
        i,
        &items,
        &intro,
        "Disable the accounts while the status lasts (their grants may stay for the return), or \
         change the status policy if people in this status keep their access here.",
    );
    d.fact("status", canonical);
    if let Some(w) = &person.hr_status {
        d.fact("hr_status", w.as_str());
    }
    d.fact("enabled_accounts", items.len().to_string());
    d.title = format!("{} is {words} but has enabled accounts", identity.name);
    cx.push(d);
}
