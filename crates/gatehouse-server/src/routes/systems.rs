//! Systems (owner, criticality, scope, accounts, entitlements, last import) and who holds an
//! entitlement at any date, with paging. A reviewer sees the systems they own.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use gatehouse_model::UserRole;
use gatehouse_store::inventory::query::HolderPage;
use serde::Deserialize;

use crate::auth::{Action, Principal};
use crate::middleware::Now;
use crate::routes::page;
use crate::views::{Chrome, date, parse_at, url_encode, when_opt};
use crate::{App, WebError, WebResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/systems", get(list))
        .route("/systems/{key}", get(show))
        .route("/who-has", get(who_has))
}

/// A system row.
pub struct SystemItem {
    pub key: String,
    pub href: String,
    pub name: String,
    pub owner: String,
    pub criticality: String,
    pub scope: String,
    pub accounts: i64,
    pub grants: i64,
    pub last_import: String,
}

#[derive(askama::Template)]
#[template(path = "systems.html")]
struct ListPage {
    chrome: Chrome,
    items: Vec<SystemItem>,
    mine_only: bool,
}

fn scope_of(s: &gatehouse_store::inventory::query::SystemRow) -> String {
    let mut scope = s.frameworks.join(", ");
    if s.financial_reporting {
        if !scope.is_empty() {
            scope.push_str(", ");
        }
        scope.push_str("financial reporting");
    }
    scope
}

fn item(s: gatehouse_store::inventory::query::SystemRow) -> SystemItem {
    SystemItem {
        href: format!("/systems/{}", url_encode(s.key.as_str())),
        key: s.key.to_string(),
        owner: s.owner.as_ref().map(|o| o.to_string()).unwrap_or_default(),
        criticality: s.criticality.map(|c| c.to_string()).unwrap_or_default(),
        scope: scope_of(&s),
        accounts: s.accounts,
        grants: s.grants,
        last_import: when_opt(s.last_import),
        name: s.name,
    }
}

async fn list(State(app): State<App>, p: Principal) -> WebResult<Response> {
    let mine_only = matches!(p.user.role, UserRole::Reviewer);
    if !mine_only {
        p.authorize(&app, Action::ViewOrganisation).await?;
    }
    let systems = app.store.read_async(|r| r.systems()).await?;
    let items = systems
        .into_iter()
        .filter(|s| !mine_only || (s.owner.is_some() && s.owner == p.user.identity))
        .map(item)
        .collect();
    page(&ListPage {
        chrome: Chrome::new(&app, &p, "Systems", "/systems").await,
        items,
        mine_only,
    })
}

/// An entitlement row.
pub struct EntitlementItem {
    pub native_id: String,
    pub name: String,
    pub privileged: bool,
    pub holders: u64,
    pub href: String,
}

/// An account row.
pub struct AccountItem {
    pub account: String,
    pub username: String,
    pub kind: String,
    pub enabled: bool,
    pub identity: String,
    pub identity_href: String,
    pub last_login: String,
}

#[derive(askama::Template)]
#[template(path = "system.html")]
struct SystemPage {
    chrome: Chrome,
    system: SystemItem,
    entitlements: Vec<EntitlementItem>,
    accounts: Vec<AccountItem>,
    accounts_total: usize,
    page: usize,
    prev: Option<String>,
    next: Option<String>,
    can_follow: bool,
    last_review: String,
    running_review: String,
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

const PAGE: usize = 200;

async fn show(
    State(app): State<App>,
    p: Principal,
    Path(key): Path<String>,
    Query(q): Query<PageQuery>,
) -> WebResult<Response> {
    let systems = app.store.read_async(|r| r.systems()).await?;
    let found = systems.into_iter().find(|s| s.key.as_str() == key);
    // An unknown system and one the user may not see answer the same.
    let owner = found.as_ref().and_then(|s| s.owner.clone());
    p.authorize(&app, Action::ViewSystem(owner.as_ref()))
        .await?;
    let system = found.ok_or_else(|| WebError::not_found(format!("there is no system `{key}`")))?;
    let k = key.clone();
    let (entitlements, accounts, campaigns) = app
        .store
        .read_async(move |r| {
            Ok::<_, gatehouse_store::StoreError>((
                r.entitlements(Some(&k))?,
                r.accounts(Some(&k), false)?,
                r.campaigns()?,
            ))
        })
        .await?;
    // The campaigns that reviewed this system: the population's systems once launched.
    let reviewed = |c: &&gatehouse_store::campaigns::query::CampaignRow| {
        c.launch
            .as_ref()
            .is_some_and(|l| l.systems.contains_key(key.as_str()))
    };
    let last_review = campaigns
        .iter()
        .filter(reviewed)
        .find(|c| c.state == gatehouse_model::CampaignState::Closed)
        .map(|c| {
            format!(
                "{} ({}), signed off {}",
                c.created.name,
                c.id,
                when_opt(c.closed_at)
            )
        })
        .unwrap_or_else(|| "never reviewed in Gatehouse".into());
    let running_review = campaigns
        .iter()
        .filter(reviewed)
        .find(|c| c.state == gatehouse_model::CampaignState::Active)
        .map(|c| {
            format!(
                "{} ({}), {}",
                c.created.name,
                c.id,
                crate::routes::reviews::completion(c)
            )
        })
        .unwrap_or_default();
    let can_follow = crate::auth::policy::decide(&p.user, None, &Action::ViewOrganisation)
        == crate::auth::Decision::Allow;
    let page_no = q.page.unwrap_or(1).max(1);
    let total = accounts.len();
    let base = format!("/systems/{}", url_encode(&key));
    page(&SystemPage {
        chrome: Chrome::new(&app, &p, system.name.clone(), &base).await,
        entitlements: entitlements
            .into_iter()
            .map(|e| EntitlementItem {
                href: format!(
                    "/who-has?entitlement={}",
                    url_encode(&format!("{}:{}", e.system, e.native_id))
                ),
                native_id: e.native_id,
                name: e.name,
                privileged: e.privileged,
                holders: e.holders,
            })
            .collect(),
        accounts: accounts
            .into_iter()
            .skip((page_no - 1) * PAGE)
            .take(PAGE)
            .map(|a| AccountItem {
                identity_href: a
                    .identity
                    .as_ref()
                    .map(|i| format!("/identities/{}", url_encode(i.as_str())))
                    .unwrap_or_default(),
                identity: a.identity.map(|i| i.to_string()).unwrap_or_default(),
                account: a.account,
                username: a.username,
                kind: a.kind.to_string(),
                enabled: a.enabled,
                last_login: when_opt(a.last_login),
            })
            .collect(),
        accounts_total: total,
        page: page_no,
        prev: (page_no > 1).then(|| format!("{base}?page={}", page_no - 1)),
        next: (page_no * PAGE < total).then(|| format!("{base}?page={}", page_no + 1)),
        system: item(system),
        can_follow,
        last_review,
        running_review,
    })
}

#[derive(Deserialize)]
struct WhoHasQuery {
    entitlement: Option<String>,
    at: Option<String>,
    after: Option<String>,
}

/// A holder row.
pub struct HolderItem {
    pub account: String,
    pub username: String,
    pub enabled: bool,
    pub identity: String,
    pub identity_href: String,
    pub name: String,
    pub status: String,
    pub source: String,
    pub warrant: String,
    pub since: String,
}

#[derive(askama::Template)]
#[template(path = "who_has.html")]
struct WhoHasPage {
    chrome: Chrome,
    entitlement: String,
    at: String,
    asked: bool,
    title: String,
    total: u64,
    holders: Vec<HolderItem>,
    next: Option<String>,
    error: Option<String>,
}

const HOLDERS_PAGE: usize = 100;

async fn who_has(
    State(app): State<App>,
    p: Principal,
    Now(now): Now,
    Query(q): Query<WhoHasQuery>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    let chrome = Chrome::new(&app, &p, "Who has access", "/who-has").await;
    let reference = q.entitlement.clone().unwrap_or_default().trim().to_owned();
    let at_text = q.at.clone().unwrap_or_default();
    let mut view = WhoHasPage {
        chrome,
        entitlement: reference.clone(),
        at: at_text.clone(),
        asked: !reference.is_empty(),
        title: String::new(),
        total: 0,
        holders: Vec::new(),
        next: None,
        error: None,
    };
    if reference.is_empty() {
        return page(&view);
    }
    let at = parse_at(q.at.as_deref(), now)?;
    let after = q.after.clone();
    let answer = app
        .store
        .read_async(move |r| {
            let e = r.resolve_entitlement(&reference)?;
            let h = r.who_has(
                &e,
                at,
                &HolderPage {
                    after,
                    limit: Some(HOLDERS_PAGE),
                },
            )?;
            Ok::<_, gatehouse_store::StoreError>((e, h))
        })
        .await;
    match answer {
        Ok((e, h)) => {
            view.title = format!(
                "{} ({}:{}){}",
                e.name,
                e.system,
                e.native_id,
                if e.privileged { ", privileged" } else { "" }
            );
            view.total = h.total;
            view.next = match (h.more, h.holders.last()) {
                (true, Some(last)) => Some(format!(
                    "/who-has?entitlement={}&at={}&after={}",
                    url_encode(&view.entitlement),
                    url_encode(&at_text),
                    url_encode(&last.account)
                )),
                _ => None,
            };
            view.holders = h
                .holders
                .into_iter()
                .map(|h| HolderItem {
                    identity_href: h
                        .identity
                        .as_ref()
                        .map(|i| format!("/identities/{}", url_encode(i.as_str())))
                        .unwrap_or_default(),
                    identity: h.identity.map(|i| i.to_string()).unwrap_or_default(),
                    account: h.account,
                    username: h.username,
                    enabled: h.enabled,
                    name: h.name.unwrap_or_default(),
                    status: h.status.map(|s| s.to_string()).unwrap_or_default(),
                    source: h.source.to_string(),
                    warrant: h
                        .warrant
                        .map(|w| w.to_string())
                        .unwrap_or_else(|| "none".into()),
                    since: date(h.since),
                })
                .collect();
        }
        Err(e) => {
            let e = WebError::from(e);
            if e.status.is_server_error() {
                return Err(e);
            }
            view.error = Some(e.message);
        }
    }
    page(&view)
}
