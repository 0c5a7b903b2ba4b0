//! Identities: the searchable list, and one identity's access on every system at any date,
//! with how each grant is warranted, its findings and its timeline of joins, moves, grants and
//! removals. `/me` is the signed-in person's own.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use gatehouse_model::{IdentityKey, Timestamp};
use gatehouse_store::findings::FindingFilter;
use gatehouse_store::inventory::query::ObjectKind;
use serde::Deserialize;

use crate::auth::{Action, Principal};
use crate::middleware::Now;
use crate::routes::{page, see_other};
use crate::views::{Chrome, date, parse_at, url_encode, when_opt};
use crate::{App, WebError, WebResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/identities", get(list))
        .route("/identities/{key}", get(show))
        .route("/me", get(me))
}

const PAGE: usize = 100;

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    page: Option<usize>,
}

/// One row of the list.
pub struct IdentityItem {
    pub key: String,
    pub href: String,
    pub name: String,
    pub kind: String,
    pub email: String,
    pub status: String,
    pub department: String,
}

#[derive(askama::Template)]
#[template(path = "identities.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    items: Vec<IdentityItem>,
    total: usize,
    page: usize,
    prev: Option<String>,
    next: Option<String>,
}

async fn list(
    State(app): State<App>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    let needle = q.q.clone().unwrap_or_default().trim().to_lowercase();
    let all = app.store.read_async(|r| r.identities()).await?;
    let matching: Vec<_> = all
        .into_iter()
        .filter(|i| {
            needle.is_empty()
                || i.key.as_str().to_lowercase().contains(&needle)
                || i.name.to_lowercase().contains(&needle)
                || i.email
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase().contains(&needle))
                || i.department
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains(&needle))
        })
        .collect();
    let page_no = q.page.unwrap_or(1).max(1);
    let total = matching.len();
    let items = matching
        .into_iter()
        .skip((page_no - 1) * PAGE)
        .take(PAGE)
        .map(|i| IdentityItem {
            href: format!("/identities/{}", url_encode(i.key.as_str())),
            key: i.key.to_string(),
            name: i.name,
            kind: i.kind.to_string(),
            email: i.email.unwrap_or_default(),
            status: i.status.map(|s| s.to_string()).unwrap_or_default(),
            department: i.department.unwrap_or_default(),
        })
        .collect();
    let link = |n: usize| format!("/identities?q={}&page={n}", url_encode(&needle));
    page(&ListPage {
        chrome: Chrome::new(&app, &p, "Identities", "/identities").await,
        q: q.q.unwrap_or_default(),
        items,
        total,
        page: page_no,
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (page_no * PAGE < total).then(|| link(page_no + 1)),
    })
}

#[derive(Deserialize)]
struct AtQuery {
    at: Option<String>,
}

/// A grant row.
pub struct GrantItem {
    pub system: String,
    pub account: String,
    pub entitlement: String,
    pub entitlement_name: String,
    pub privileged: bool,
    pub source: String,
    pub warrant: String,
    pub since: String,
    pub expires: String,
}

/// An account row.
pub struct AccountItem {
    pub system: String,
    pub account: String,
    pub username: String,
    pub kind: String,
    pub enabled: bool,
    pub last_login: String,
}

/// A finding row.
pub struct FindingItem {
    pub href: String,
    pub severity: String,
    pub title: String,
    pub status: String,
}

/// A timeline entry.
pub struct TimelineItem {
    pub at: String,
    pub class: &'static str,
    pub text: String,
    sort: Timestamp,
}

#[derive(askama::Template)]
#[template(path = "identity.html")]
struct IdentityPage {
    chrome: Chrome,
    key: String,
    name: String,
    kind: String,
    email: String,
    status: String,
    department: String,
    at: String,
    at_is_now: bool,
    grants: Vec<GrantItem>,
    accounts: Vec<AccountItem>,
    findings: Vec<FindingItem>,
    timeline: Vec<TimelineItem>,
    show_findings: bool,
}

async fn me(p: Principal) -> WebResult<Response> {
    match &p.user.identity {
        Some(k) => Ok(see_other(&format!(
            "/identities/{}",
            url_encode(k.as_str())
        ))),
        None => Err(WebError::not_found(
            "your Gatehouse user is not linked to an identity in the inventory",
        )),
    }
}

async fn show(
    State(app): State<App>,
    p: Principal,
    Now(now): Now,
    Path(key): Path<String>,
    Query(q): Query<AtQuery>,
) -> WebResult<Response> {
    let at = parse_at(q.at.as_deref(), now)?;
    let asked =
        IdentityKey::new(key.clone()).map_err(|_| WebError::not_found("no such identity"))?;
    // Decided on the key asked for, before anything is looked up: a person asking for
    // someone else learns nothing, not even whether they exist.
    p.authorize(&app, Action::ViewIdentity(&asked)).await?;
    let org = crate::auth::policy::decide(&p.user, None, &Action::ViewOrganisation)
        == crate::auth::Decision::Allow;
    let (access, findings, history, timeline) = app
        .store
        .read_async(move |r| {
            let identity = r.resolve_identity(asked.as_str(), at)?;
            let key = identity.key.clone();
            let access = r.access(identity, at)?;
            let findings = r.findings(&FindingFilter {
                identity: Some(key.to_string()),
                ..FindingFilter::default()
            })?;
            let history = r.history(ObjectKind::Identity, key.as_str())?;
            let timeline = r.grant_timeline(&key, 500)?;
            Ok::<_, gatehouse_store::StoreError>((access, findings, history, timeline))
        })
        .await?;
    let id = &access.identity;
    let mut items: Vec<TimelineItem> = Vec::new();
    for h in &history {
        let text = match h.kind {
            "identity.added" => "joined (first seen in the feed)".to_string(),
            "identity.removed" => "left the feed".to_string(),
            _ if h.changed.is_empty() => "record changed".to_string(),
            _ => format!("changed: {}", h.changed.join("; ")),
        };
        items.push(TimelineItem {
            at: date(h.as_of),
            class: "",
            text,
            sort: h.as_of,
        });
    }
    for g in &timeline {
        let what = format!("{} on {}:{}", g.entitlement, g.system, g.account);
        items.push(TimelineItem {
            at: date(g.from),
            class: "added",
            text: format!(
                "granted {what} ({}{})",
                g.source,
                g.warrant
                    .as_ref()
                    .map(|w| format!(", warrant {w}"))
                    .unwrap_or_default()
            ),
            sort: g.from,
        });
        if let Some(to) = g.to {
            items.push(TimelineItem {
                at: date(to),
                class: "removed",
                text: format!("removed {what}"),
                sort: to,
            });
        }
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.sort));
    items.truncate(300);
    let path = format!("/identities/{}", url_encode(id.key.as_str()));
    let own = p.user.identity.as_ref() == Some(&id.key);
    page(&IdentityPage {
        chrome: Chrome::new(
            &app,
            &p,
            id.name.clone(),
            if own && !org { "/me" } else { &path },
        )
        .await,
        key: id.key.to_string(),
        name: id.name.clone(),
        kind: id.kind.to_string(),
        email: id.email.clone().unwrap_or_default(),
        status: id.status.map(|s| s.to_string()).unwrap_or_default(),
        department: id.department.clone().unwrap_or_default(),
        at: date(at),
        at_is_now: q.at.as_deref().is_none_or(|s| s.trim().is_empty()),
        grants: access
            .grants
            .iter()
            .map(|g| GrantItem {
                system: g.system.to_string(),
                account: g.account.clone(),
                entitlement: g.entitlement.clone(),
                entitlement_name: g.entitlement_name.clone(),
                privileged: g.privileged,
                source: g.source.to_string(),
                warrant: g
                    .warrant
                    .as_ref()
                    .map(|w| w.to_string())
                    .unwrap_or_else(|| "none".into()),
                since: date(g.since),
                expires: g.expires_at.map(date).unwrap_or_default(),
            })
            .collect(),
        accounts: access
            .accounts
            .iter()
            .map(|a| AccountItem {
                system: a.system.to_string(),
                account: a.account.clone(),
                username: a.username.clone(),
                kind: a.kind.to_string(),
                enabled: a.enabled,
                last_login: when_opt(a.last_login),
            })
            .collect(),
        show_findings: org,
        findings: findings
            .iter()
            .map(|f| FindingItem {
                href: format!("/findings/{}", url_encode(&f.finding.id)),
                severity: f.finding.severity.to_string(),
                title: f.finding.title.clone(),
                status: f.status.to_string(),
            })
            .collect(),
        timeline: items,
    })
}
