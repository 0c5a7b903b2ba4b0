//! What to tell whom: reviewers learn of work waiting for them in one digest (new
//! campaigns, reminders, items delegated or escalated to them), and alerts go where the
//! routing rules say the moment the store shows them (findings of the analysis, reopened
//! remediation, changes to privileged access and to administrator and emergency accounts). This module decides and records; sending is the caller's
//! (`gatehouse-notify`), so that nothing here does network IO.
//!
//! Each message covers a set of *tokens* (`reminder:<event>`, `finding:<id>`, …). A token is
//! covered once a message carrying it was delivered, is waiting for its retry, or has used up
//! its attempts (then it is shown as failed, never silently dropped); a retry rebuilds the
//! message from the current state with the same id and the next attempt number.

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_model::{
    CampaignEvent, CampaignState, Channel, FindingStatus, IdentityKey, Notice, NotificationFailed,
    NotificationSent, Severity, Stamped, Timestamp,
};
use gatehouse_store::findings::FindingFilter;
use gatehouse_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::policy::hex;
use super::{Acting, date, plus_days};

/// Attempts per notification before it is given up (and shown as failed).
pub const MAX_ATTEMPTS: u32 = 5;

/// The alert for a change to privileged access or to an administrator or emergency account,
/// as routes name it.
pub const PRIVILEGED_CHANGE: &str = "privileged_access_changed";

/// An alert routing rule: which findings (by rule, system, severity) and remediation
/// reopenings go to whom.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Route {
    /// Finding rules (`unwarranted_grant`, …), `remediation_reopened` and
    /// `privileged_access_changed`; empty: all.
    pub rules: Vec<String>,
    /// Only these systems; empty: all.
    pub systems: Vec<String>,
    /// Only findings at or above this severity.
    pub min_severity: Option<Severity>,
    /// Recipients: `email:address`, `webhook:name`, or `owner` (the system's owner).
    pub to: Vec<String>,
}

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Recipient {
    /// An e-mail address, and the person's name when known.
    Email {
        /// The address.
        address: String,
        /// The person's name.
        name: Option<String>,
    },
    /// A configured chat webhook, by name.
    Webhook(String),
}

impl Recipient {
    /// The channel.
    pub fn channel(&self) -> Channel {
        match self {
            Recipient::Email { .. } => Channel::Email,
            Recipient::Webhook(_) => Channel::Webhook,
        }
    }

    /// As recorded: the address, or the webhook's name (never its URL).
    pub fn label(&self) -> String {
        match self {
            Recipient::Email { address, .. } => address.clone(),
            Recipient::Webhook(name) => name.clone(),
        }
    }
}

/// One open item in a digest.
#[derive(Debug, Clone, Serialize)]
pub struct DigestItem {
    /// `C-0007/42`.
    pub item: String,
    /// Who holds the access.
    pub holder: String,
    /// What: `erp:u1 holds role/AP_Approver (AP Approver)`.
    pub access: String,
    /// Gatehouse's recommendation and why.
    pub recommendation: String,
}

/// A campaign's part of a digest.
#[derive(Debug, Clone, Serialize)]
pub struct DigestCampaign {
    /// `C-0007`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its due date, `YYYY-MM-DD`.
    pub due: String,
    /// Whether it is overdue.
    pub overdue: bool,
    /// The reviewer's open items in it.
    pub open: u64,
    /// Why now: "new campaign", "reminder: due in 2 days", "5 items escalated to you".
    pub reasons: Vec<String>,
    /// The first open items (at most 20).
    pub items: Vec<DigestItem>,
    /// A link to the campaign in the web UI, when a base URL is configured.
    pub link: Option<String>,
}

/// One alert.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// A finding id or a task id.
    pub reference: String,
    /// The rule (or `remediation_reopened`).
    pub rule: String,
    /// Its severity.
    pub severity: String,
    /// One line.
    pub title: String,
    /// The system.
    pub system: Option<String>,
    /// A link, when a base URL is configured.
    pub link: Option<String>,
}

/// What a message says, for the templates.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// Work waiting for a reviewer.
    Digest {
        /// The reviewer's name.
        name: String,
        /// Per campaign.
        campaigns: Vec<DigestCampaign>,
        /// Open items in all.
        open: u64,
    },
    /// Alerts.
    Alert {
        /// The alerts.
        alerts: Vec<Alert>,
    },
    /// A test message.
    Test {
        /// Who asked for it.
        by: String,
    },
}

/// A message to send.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// Stable id: a retry keeps it.
    pub id: String,
    /// To whom.
    pub to: Recipient,
    /// The subject line.
    pub subject: String,
    /// What it says.
    pub content: Content,
    /// The tokens it covers.
    pub about: Vec<String>,
    /// Which attempt this is.
    pub attempt: u32,
}

impl Message {
    /// The notice recorded for it.
    pub fn notice(&self) -> Notice {
        Notice {
            id: self.id.clone(),
            channel: self.to.channel(),
            to: self.to.label(),
            kind: match self.content {
                Content::Digest { .. } => "digest",
                Content::Alert { .. } => "alert",
                Content::Test { .. } => "test",
            }
            .into(),
            subject: self.subject.clone(),
            about: self.about.clone(),
            attempt: self.attempt,
        }
    }
}

/// Where and what to send.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// Alert routes.
    pub routes: Vec<Route>,
    /// Webhooks that also receive every digest's summary (a team channel).
    pub digest_webhooks: Vec<String>,
    /// The web UI's address, for links (`https://gatehouse.example.com`).
    pub base_url: Option<String>,
    /// Alerts only about findings first seen this many days before now (so that a first
    /// dispatch on an old store does not send its whole history).
    pub alert_max_age_days: u32,
}

fn id_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    format!("N-{}", &hex(&h.finalize())[..16])
}

/// The state of earlier notifications: tokens covered, and retries due.
struct Ledgered {
    covered: BTreeSet<String>,
    /// `(id, recipient label, tokens, next attempt)` of failed messages whose retry is due.
    retries: Vec<(String, String, Vec<String>, u32)>,
}

fn ledgered(store: &Store, now: Timestamp) -> Result<Ledgered, StoreError> {
    let attempts = store.read(|r| r.latest_notification_attempts())?;
    let mut covered = BTreeSet::new();
    let mut retries = Vec::new();
    for a in attempts {
        covered.extend(a.about.iter().cloned());
        if !a.delivered && a.retry_at.is_some_and(|t| t <= now) {
            retries.push((a.id, a.to, a.about, a.attempt + 1));
        }
    }
    Ok(Ledgered { covered, retries })
}

/// The messages to send now: digests, alerts, and retries that are due.
pub fn pending(
    store: &Store,
    routing: &Routing,
    now: Timestamp,
) -> Result<Vec<Message>, StoreError> {
    let l = ledgered(store, now)?;
    // Every token that calls for a message now, by recipient.
    // Digests are keyed by recipient and reviewer (a team webhook gets one per reviewer),
    // alerts by recipient alone.
    type Key = (Recipient, Option<IdentityKey>);
    let mut wanted: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
    let (identities, campaigns, configs) = store.read(|r| {
        Ok::<_, StoreError>((r.current_identities()?, r.campaigns()?, r.system_configs()?))
    })?;
    let people: BTreeMap<&IdentityKey, &gatehouse_model::Identity> =
        identities.iter().map(|i| (&i.key, i)).collect();
    let email_of = |k: &IdentityKey| -> Option<Recipient> {
        let p = people.get(k)?;
        Some(Recipient::Email {
            address: p.email.clone()?,
            name: Some(p.name.clone()),
        })
    };
    // Reviewer tokens, by reviewer (for digests).
    let mut reviewer_tokens: BTreeMap<IdentityKey, BTreeSet<String>> = BTreeMap::new();
    let active: Vec<_> = campaigns
        .iter()
        .filter(|c| c.state == CampaignState::Active)
        .collect();
    for c in &active {
        let (open, reminders, moves) = store.read(|r| {
            Ok::<_, StoreError>((
                r.open_items_by_reviewer(c.id)?,
                r.reminders(c.id)?,
                r.reassignments(c.id)?,
            ))
        })?;
        for (reviewer, _) in &open {
            reviewer_tokens
                .entry(reviewer.clone())
                .or_default()
                .insert(format!("launched:{}:{reviewer}", c.id));
        }
        for m in reminders {
            reviewer_tokens
                .entry(m.reviewer)
                .or_default()
                .insert(format!("reminder:{}", m.seq));
        }
        for m in moves {
            if open.iter().any(|(k, _)| *k == m.to) {
                reviewer_tokens
                    .entry(m.to)
                    .or_default()
                    .insert(format!("reassigned:{}", m.seq));
            }
        }
    }
    let mut no_address: Vec<Key> = Vec::new();
    for (reviewer, tokens) in reviewer_tokens {
        let fresh: Vec<String> = tokens
            .into_iter()
            .filter(|t| !l.covered.contains(t))
            .collect();
        if fresh.is_empty() {
            continue;
        }
        match email_of(&reviewer) {
            Some(to) => {
                wanted
                    .entry((to, Some(reviewer.clone())))
                    .or_default()
                    .extend(fresh.iter().cloned());
            }
            None => {
                // Sent nowhere, and recorded as failed for good: shown, never dropped.
                let to = Recipient::Email {
                    address: String::new(),
                    name: Some(reviewer.to_string()),
                };
                let key = (to, Some(reviewer.clone()));
                no_address.push(key.clone());
                wanted.entry(key).or_default().extend(fresh.iter().cloned());
            }
        }
        for hook in &routing.digest_webhooks {
            wanted
                .entry((Recipient::Webhook(hook.clone()), Some(reviewer.clone())))
                .or_default()
                .extend(fresh.iter().map(|t| format!("{t}@{reviewer}")));
        }
    }

    // Alerts.
    let owners: BTreeMap<String, Option<IdentityKey>> = configs
        .iter()
        .map(|c| (c.key.to_string(), c.owner.clone()))
        .collect();
    let mut alerts: BTreeMap<String, Alert> = BTreeMap::new();
    if !routing.routes.is_empty() {
        let since = plus_days(now, -i64::from(routing.alert_max_age_days.max(1)));
        let (findings, reopened, privileged) = store.read(|r| {
            Ok::<_, StoreError>((
                r.findings(&FindingFilter {
                    status: vec![FindingStatus::Open],
                    ..FindingFilter::default()
                })?,
                r.remediation_tasks(&gatehouse_store::campaigns::query::TaskFilter {
                    status: vec![gatehouse_model::TaskStatus::Reopened],
                    ..Default::default()
                })?,
                r.privileged_changes(since, now)?,
            ))
        })?;
        let link = |path: String| {
            routing
                .base_url
                .as_ref()
                .map(|b| format!("{}{path}", b.trim_end_matches('/')))
        };
        let mut candidates: Vec<(String, Alert)> = findings
            .into_iter()
            .filter(|f| f.first_seen >= since)
            .map(|f| {
                (
                    format!("finding:{}", f.finding.id),
                    Alert {
                        reference: f.finding.id.clone(),
                        rule: f.finding.rule.clone(),
                        severity: f.finding.severity.to_string(),
                        title: f.finding.title.clone(),
                        system: f.finding.system.as_ref().map(|s| s.to_string()),
                        link: link(format!("/findings/{}", f.finding.id)),
                    },
                )
            })
            .collect();
        candidates.extend(
            reopened
                .into_iter()
                .filter(|t| t.reopened_at.is_some_and(|r| r >= since))
                .map(|t| {
                    (
                        format!("reopened:{}:{}", t.task.item, t.reopens),
                        Alert {
                            reference: t.task.item.to_string(),
                            rule: "remediation_reopened".into(),
                            severity: Severity::High.to_string(),
                            title: format!(
                                "remediation {} reopened: {}",
                                t.task.item,
                                t.reopen_reason.clone().unwrap_or_default()
                            ),
                            system: Some(t.task.system.to_string()),
                            link: link(format!("/remediation/{}", t.task.item)),
                        },
                    )
                }),
        );
        // Changes to privileged access and to administrator and emergency accounts, as the
        // imports saw them: one alert per change, for the routes that ask for them.
        candidates.extend(privileged.into_iter().map(|c| {
            let token = format!(
                "privileged:{}:{}:{}",
                c.seq,
                c.account,
                hex(&Sha256::digest(c.what.as_bytes()))[..12].to_owned()
            );
            (
                token,
                Alert {
                    reference: format!("event {}", c.seq),
                    rule: PRIVILEGED_CHANGE.into(),
                    severity: Severity::High.to_string(),
                    title: format!("{} on {} ({})", c.what, c.system, date(c.at)),
                    system: Some(c.system.to_string()),
                    link: link(format!("/ledger/events/{}", c.seq)),
                },
            )
        }));
        for (token, alert) in candidates {
            for route in &routing.routes {
                if !route.rules.is_empty() && !route.rules.contains(&alert.rule) {
                    continue;
                }
                if !route.systems.is_empty()
                    && !alert
                        .system
                        .as_ref()
                        .is_some_and(|s| route.systems.contains(s))
                {
                    continue;
                }
                if let Some(min) = route.min_severity
                    && alert.severity.parse::<Severity>().is_ok_and(|s| s < min)
                {
                    continue;
                }
                for target in &route.to {
                    let to = match target.split_once(':') {
                        Some(("email", addr)) => Some(Recipient::Email {
                            address: addr.to_owned(),
                            name: None,
                        }),
                        Some(("webhook", name)) => Some(Recipient::Webhook(name.to_owned())),
                        _ if target == "owner" => alert
                            .system
                            .as_ref()
                            .and_then(|s| owners.get(s).cloned().flatten())
                            .and_then(|k| email_of(&k)),
                        _ => None,
                    };
                    if let Some(to) = to {
                        let t = format!("{token}@{}", to.label());
                        if !l.covered.contains(&t) {
                            wanted.entry((to, None)).or_default().insert(t);
                        }
                    }
                }
                alerts.insert(token.clone(), alert.clone());
            }
        }
    }

    // Build the messages: retries first (with their id), then new ones.
    let mut out = Vec::new();
    let build = |(to, reviewer): Key, tokens: Vec<String>, id: Option<String>, attempt: u32| {
        let id = id.unwrap_or_else(|| {
            let mut parts = vec![to.label()];
            parts.extend(tokens.iter().cloned());
            id_of(&parts.iter().map(String::as_str).collect::<Vec<_>>())
        });
        let content = match &reviewer {
            Some(reviewer) => digest(store, &campaigns, reviewer, &people, &tokens, routing, now),
            None => {
                let mut list: Vec<Alert> = tokens
                    .iter()
                    .filter_map(|t| alerts.get(t.split('@').next().unwrap_or(t)).cloned())
                    .collect();
                list.dedup_by(|a, b| a.reference == b.reference);
                Content::Alert { alerts: list }
            }
        };
        let subject = match &content {
            Content::Digest {
                open, campaigns, ..
            } => format!(
                "{open} access review item{} wait{} for you{}",
                if *open == 1 { "" } else { "s" },
                if *open == 1 { "s" } else { "" },
                if campaigns.iter().any(|c| c.overdue) {
                    " (overdue)"
                } else {
                    ""
                }
            ),
            Content::Alert { alerts } => match alerts.as_slice() {
                [one] => format!("[{}] {}", one.severity, one.title),
                many => format!("{} access alerts", many.len()),
            },
            Content::Test { .. } => "Gatehouse test notification".into(),
        };
        Message {
            id,
            to,
            subject,
            content,
            about: tokens,
            attempt,
        }
    };
    let by_email: BTreeMap<&str, &IdentityKey> = identities
        .iter()
        .filter_map(|i| Some((i.email.as_deref()?, &i.key)))
        .collect();
    let mut retried: BTreeSet<(String, Option<IdentityKey>)> = BTreeSet::new();
    for (id, label, tokens, attempt) in l.retries {
        let digest_of = tokens.iter().find(|t| {
            t.starts_with("launched:") || t.starts_with("reminder:") || t.starts_with("reassigned:")
        });
        let reviewer = digest_of.and_then(|t| match t.split_once('@') {
            Some((_, who)) => IdentityKey::new(who).ok(),
            None => by_email.get(label.as_str()).map(|k| (*k).clone()),
        });
        let to = if label.contains('@') {
            Recipient::Email {
                address: label.clone(),
                name: by_email
                    .get(label.as_str())
                    .and_then(|k| people.get(k))
                    .map(|p| p.name.clone()),
            }
        } else {
            Recipient::Webhook(label.clone())
        };
        retried.insert((label, reviewer.clone()));
        out.push(build((to, reviewer), tokens, Some(id), attempt));
    }
    for (key, tokens) in wanted {
        if retried.contains(&(key.0.label(), key.1.clone())) {
            continue;
        }
        let tokens: Vec<String> = tokens.into_iter().collect();
        let attempt = if no_address.contains(&key) {
            MAX_ATTEMPTS
        } else {
            1
        };
        out.push(build(key, tokens, None, attempt));
    }
    Ok(out)
}

/// A reviewer's digest: their open items per active campaign.
fn digest(
    store: &Store,
    campaigns: &[gatehouse_store::campaigns::query::CampaignRow],
    reviewer: &IdentityKey,
    people: &BTreeMap<&IdentityKey, &gatehouse_model::Identity>,
    tokens: &[String],
    routing: &Routing,
    now: Timestamp,
) -> Content {
    let mut out = Vec::new();
    let mut total = 0;
    for c in campaigns
        .iter()
        .filter(|c| c.state == CampaignState::Active)
    {
        let items = store
            .read(|r| {
                r.review_items(
                    c.id,
                    &gatehouse_store::campaigns::query::ItemFilter {
                        reviewer: Some(reviewer.clone()),
                        open: Some(true),
                        ..Default::default()
                    },
                )
            })
            .unwrap_or_default();
        if items.is_empty() {
            continue;
        }
        total += items.len() as u64;
        let mut reasons = Vec::new();
        let mine = |t: &String| t.split('@').next().unwrap_or(t).to_owned();
        if tokens
            .iter()
            .map(mine)
            .any(|t| t == format!("launched:{}:{reviewer}", c.id))
        {
            reasons.push("new campaign".to_owned());
        }
        if tokens.iter().map(mine).any(|t| t.starts_with("reminder:"))
            && let Some(due) = c.due
        {
            let days = gatehouse_analysis::days_between(now, due);
            reasons.push(if days >= 0 {
                format!("reminder: due in {days} days")
            } else {
                format!("overdue since {}", date(due))
            });
        }
        if tokens
            .iter()
            .map(mine)
            .any(|t| t.starts_with("reassigned:"))
        {
            reasons.push("items delegated or escalated to you".to_owned());
        }
        out.push(DigestCampaign {
            id: c.id.to_string(),
            name: c.created.name.clone(),
            due: c.due.map(date).unwrap_or_default(),
            overdue: c.due.is_some_and(|d| d < now),
            open: items.len() as u64,
            reasons,
            items: items
                .iter()
                .take(20)
                .map(|i| DigestItem {
                    item: i.reference().to_string(),
                    holder: match (&i.item.identity, &i.item.context.name) {
                        (Some(k), Some(n)) => format!("{n} ({k})"),
                        (Some(k), None) => k.to_string(),
                        _ => String::new(),
                    },
                    access: match &i.item.account {
                        Some(a) => format!("{}:{a} holds {}", i.item.system, i.item.entitlement),
                        None => format!(
                            "role {} bundles {}:{}",
                            i.item.role.as_ref().map(|r| r.as_str()).unwrap_or(""),
                            i.item.system,
                            i.item.entitlement
                        ),
                    },
                    recommendation: format!("{}: {}", i.item.recommendation, i.item.reason),
                })
                .collect(),
            link: routing
                .base_url
                .as_ref()
                .map(|b| format!("{}/reviews?campaign={}", b.trim_end_matches('/'), c.id)),
        });
    }
    Content::Digest {
        name: people
            .get(reviewer)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| reviewer.to_string()),
        campaigns: out,
        open: total,
    }
}

/// Records that a message was delivered.
pub fn record_sent(
    store: &Store,
    acting: &Acting,
    now: Timestamp,
    message: &Message,
) -> Result<u64, StoreError> {
    store.write(&acting.actor, now, |w| {
        w.append(CampaignEvent::NotificationSent(Stamped {
            as_of: now,
            import: None,
            record: NotificationSent {
                notice: message.notice(),
            },
        }))
    })
}

/// Records that a message could not be delivered, and when it is tried again (15 minutes,
/// doubling, until [`MAX_ATTEMPTS`]).
pub fn record_failed(
    store: &Store,
    acting: &Acting,
    now: Timestamp,
    message: &Message,
    error: &str,
) -> Result<Option<Timestamp>, StoreError> {
    let retry_at = (message.attempt < MAX_ATTEMPTS).then(|| {
        let minutes = 15i64 << (message.attempt.saturating_sub(1)).min(10);
        now.checked_add(jiff::SignedDuration::from_mins(minutes))
            .unwrap_or(now)
    });
    store.write(&acting.actor, now, |w| {
        w.append(CampaignEvent::NotificationFailed(Stamped {
            as_of: now,
            import: None,
            record: NotificationFailed {
                notice: message.notice(),
                error: error.to_owned(),
                retry_at,
            },
        }))
    })?;
    Ok(retry_at)
}

/// A test message to one recipient.
pub fn test_message(to: Recipient, by: &str, now: Timestamp) -> Message {
    let id = id_of(&["test", &to.label(), &now.to_string()]);
    Message {
        id,
        to,
        subject: "Gatehouse test notification".into(),
        content: Content::Test { by: by.to_owned() },
        about: vec![format!("test:{now}")],
        attempt: MAX_ATTEMPTS,
    }
}
