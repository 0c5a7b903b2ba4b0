//! Findings: filter, explain, and accept a risk until a date (admins, with a fresh second
//! factor).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_model::{FindingStatus, Severity};
use gatehouse_store::findings::{FindingFilter, FindingRow};
use serde::Deserialize;

use crate::auth::{Action, Decision, Principal, policy};
use crate::routes::{csrf_of, page, see_other};
use crate::views::{Chrome, date, url_encode, when, when_opt};
use crate::{App, WebError, WebResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/findings", get(list))
        .route("/findings/{id}", get(show))
        .route("/findings/{id}/accept", post(accept))
}

#[derive(Deserialize, Default)]
struct Filter {
    severity: Option<String>,
    system: Option<String>,
    rule: Option<String>,
    status: Option<String>,
}

/// A row.
pub struct FindingItem {
    pub href: String,
    pub severity: String,
    pub title: String,
    pub rule: String,
    pub system: String,
    pub identity: String,
    pub status: String,
    pub last_seen: String,
}

#[derive(askama::Template)]
#[template(path = "findings.html")]
struct ListPage {
    chrome: Chrome,
    items: Vec<FindingItem>,
    total: usize,
    severity: String,
    system: String,
    rule: String,
    status: String,
    systems: Vec<String>,
    rules: Vec<String>,
}

const LIMIT: usize = 500;

async fn list(
    State(app): State<App>,
    p: Principal,
    Query(f): Query<Filter>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    let nonempty = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    let min_severity = nonempty(&f.severity)
        .map(|s| s.parse::<Severity>())
        .transpose()
        .map_err(|e| WebError::bad_request(e.to_string()))?;
    let status = match nonempty(&f.status).as_deref() {
        None => vec![FindingStatus::Open],
        Some("all") => vec![],
        Some(s) => vec![
            s.parse()
                .map_err(|e: gatehouse_model::ModelError| WebError::bad_request(e.to_string()))?,
        ],
    };
    let filter = FindingFilter {
        rule: nonempty(&f.rule),
        min_severity,
        system: nonempty(&f.system),
        identity: None,
        status,
    };
    let (rows, systems) = app
        .store
        .read_async(move |r| {
            Ok::<_, gatehouse_store::StoreError>((r.findings(&filter)?, r.systems()?))
        })
        .await?;
    let mut rules: Vec<String> = rows.iter().map(|r| r.finding.rule.clone()).collect();
    rules.sort();
    rules.dedup();
    page(&ListPage {
        chrome: Chrome::new(&app, &p, "Findings", "/findings").await,
        total: rows.len(),
        items: rows.iter().take(LIMIT).map(item).collect(),
        severity: f.severity.unwrap_or_default(),
        system: f.system.unwrap_or_default(),
        rule: f.rule.unwrap_or_default(),
        status: f.status.unwrap_or_else(|| "open".into()),
        systems: systems.into_iter().map(|s| s.key.to_string()).collect(),
        rules,
    })
}

fn item(r: &FindingRow) -> FindingItem {
    FindingItem {
        href: format!("/findings/{}", url_encode(&r.finding.id)),
        severity: r.finding.severity.to_string(),
        title: r.finding.title.clone(),
        rule: r.finding.rule.clone(),
        system: r
            .finding
            .system
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        identity: r
            .finding
            .identity
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        status: r.status.to_string(),
        last_seen: date(r.last_seen),
    }
}

#[derive(askama::Template)]
#[template(path = "finding.html")]
struct FindingPage {
    chrome: Chrome,
    f: FindingItem,
    id: String,
    explanation: String,
    facts: Vec<(String, String)>,
    entitlements: Vec<String>,
    account: String,
    identity_href: String,
    first_seen: String,
    accepted: Option<String>,
    can_accept: bool,
    error: Option<String>,
    notice: Option<String>,
    max_days: u32,
}

async fn finding_page(
    app: &App,
    p: &Principal,
    id: String,
    error: Option<String>,
    notice: Option<String>,
) -> WebResult<Response> {
    p.authorize(app, Action::ViewOrganisation).await?;
    let wanted = id.clone();
    let row = app.store.read_async(move |r| r.finding(&wanted)).await?;
    let own = p.user.identity.is_some() && row.finding.identity == p.user.identity;
    let can_accept = policy::decide(&p.user, None, &Action::AcceptRisk) == Decision::Allow
        && row.status != FindingStatus::Resolved
        && !own;
    let notice = notice.or_else(|| {
        own.then(|| "This finding is about your own access: another admin decides on it.".into())
    });
    page(&FindingPage {
        chrome: Chrome::new(app, p, row.finding.title.clone(), "/findings").await,
        f: item(&row),
        id,
        explanation: row.finding.explanation.clone(),
        facts: row.finding.facts.clone().into_iter().collect(),
        entitlements: row
            .finding
            .entitlements
            .iter()
            .map(|e| e.to_string())
            .collect(),
        account: row.finding.account.clone().unwrap_or_default(),
        identity_href: row
            .finding
            .identity
            .as_ref()
            .map(|i| format!("/identities/{}", url_encode(i.as_str())))
            .unwrap_or_default(),
        first_seen: when(row.first_seen),
        accepted: row.accepted_by.as_ref().map(|by| {
            format!(
                "accepted by {by} until {}: {}",
                when_opt(row.accepted_until),
                row.accepted_reason.clone().unwrap_or_default()
            )
        }),
        can_accept,
        error,
        notice,
        max_days: app.config.policy.acceptance.max_days,
    })
}

async fn show(State(app): State<App>, p: Principal, Path(id): Path<String>) -> WebResult<Response> {
    finding_page(&app, &p, id, None, None).await
}

#[derive(Deserialize)]
struct AcceptForm {
    csrf: Option<String>,
    reason: String,
    until: String,
    code: Option<String>,
}

async fn accept(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<AcceptForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    p.authorize(&app, Action::AcceptRisk).await?;
    // No self-approval: nobody accepts the risk of a finding about their own access. Only a
    // user who is an identity can be one the finding is about: nobody else pays for the read.
    if let Some(own) = &p.user.identity {
        let wanted = id.clone();
        let row = app.store.read_async(move |r| r.finding(&wanted)).await?;
        if row.finding.identity.as_ref() == Some(own) {
            return Err(p
                .refuse(
                    &app,
                    Action::AcceptRisk,
                    "this finding is about your own access: another admin must decide on it",
                )
                .await);
        }
    }
    if let Err(e) = p.second_factor(&app, f.code.as_deref()).await {
        return finding_page(&app, &p, id, Some(e.message), None).await;
    }
    let until = match gatehouse_model::parse_point_in_time(&f.until) {
        Ok(t) => t,
        Err(e) => return finding_page(&app, &p, id, Some(format!("until: {e}")), None).await,
    };
    let store = app.store.clone();
    let policy = app.config.policy.clone();
    let (actor, now, fid) = (p.actor(), p.now, id.clone());
    let result = tokio::task::spawn_blocking(move || {
        gatehouse_workflow::accept(&store, &policy, &fid, &f.reason, until, &actor, now)
    })
    .await
    .map_err(WebError::internal)?;
    match result {
        Ok(_) => {
            app.changed();
            Ok(see_other(&format!("/findings/{}", url_encode(&id))))
        }
        Err(e) => {
            let e = WebError::from(e);
            if e.status.is_server_error() {
                return Err(e);
            }
            finding_page(&app, &p, id, Some(e.message), None).await
        }
    }
}
