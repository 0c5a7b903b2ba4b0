//! Campaigns, for admins (who run them) and auditors (who read them and take their
//! evidence): what the review policy says is due, create a draft from a scope, preview what
//! a launch would freeze, launch, follow progress per reviewer, remind, close and sign off
//! (with a fresh second factor), and download the evidence as CSV, XLSX, PDF or JSON. The
//! review policy decides who may run which campaign; its refusals are shown as they are.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_evidence::ExportFormat;
use gatehouse_model::{CampaignId, CampaignKind, CampaignState, DeadlineDefault};
use gatehouse_store::StoreError;
use gatehouse_store::campaigns::query::CampaignRow;
use gatehouse_workflow::campaigns::{self, Acting, DueScope, NewCampaign, Preview};
use serde::Deserialize;

use crate::auth::{Action, Decision, Principal, policy};
use crate::routes::reviews::{blocking, completion, with_status};
use crate::routes::{csrf_of, page, see_other};
use crate::views::{Chrome, date, when, when_opt};
use crate::{App, WebError, WebResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/campaigns", get(list).post(create))
        .route("/campaigns/{id}", get(show))
        .route("/campaigns/{id}/launch", post(launch))
        .route("/campaigns/{id}/remind", post(remind))
        .route("/campaigns/{id}/close", post(close))
        .route("/campaigns/{id}/report/{format}", get(report))
}

/// A campaign in a list.
pub struct CampaignItem {
    pub id: String,
    pub href: String,
    pub name: String,
    pub kind: String,
    pub state: String,
    pub owner: String,
    pub due: String,
    pub overdue: bool,
    pub completion: String,
    pub percent: u64,
}

/// A campaign as a list row.
pub fn campaign_item(c: &CampaignRow, now: gatehouse_model::Timestamp) -> CampaignItem {
    CampaignItem {
        id: c.id.to_string(),
        href: format!("/campaigns/{}", c.id),
        name: c.created.name.clone(),
        kind: c.created.kind.to_string(),
        state: c.state.to_string(),
        owner: c.created.owner.to_string(),
        due: c.due.map(date).unwrap_or_else(|| "—".into()),
        overdue: c.state == CampaignState::Active && c.due.is_some_and(|d| d < now),
        completion: completion(c),
        percent: (c.decided * 100).checked_div(c.items).unwrap_or(0),
    }
}

/// A scope of the policy and whether it is due.
pub struct DueItem {
    pub scope: String,
    pub kind: String,
    pub systems: String,
    pub cadence: u32,
    pub last: String,
    pub running: String,
    pub due_on: String,
    pub due: bool,
}

fn due_item(d: &DueScope) -> DueItem {
    DueItem {
        scope: d.scope.clone(),
        kind: d.kind.to_string(),
        systems: d
            .systems
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        cadence: d.cadence_days,
        last: d
            .last
            .as_ref()
            .map(|(id, at)| format!("{id} on {}", date(*at)))
            .unwrap_or_else(|| "never".into()),
        running: d.running.map(|c| c.to_string()).unwrap_or_default(),
        due_on: d
            .due_on
            .map(date)
            .unwrap_or_else(|| "now (never run)".into()),
        due: d.due,
    }
}

#[derive(askama::Template)]
#[template(path = "campaigns.html")]
struct ListPage {
    chrome: Chrome,
    campaigns: Vec<CampaignItem>,
    scopes: Vec<DueItem>,
    can_run: bool,
    kinds: Vec<&'static str>,
    error: Option<String>,
}

async fn list_page(
    app: &App,
    p: &Principal,
    error: Option<String>,
    status: StatusCode,
) -> WebResult<Response> {
    p.authorize(app, Action::ViewCampaigns).await?;
    let store = app.store.clone();
    let reviews = app.config.reviews.clone();
    let now = p.now;
    let (rows, due) = blocking(move || {
        let rows = store.read(|r| r.campaigns())?;
        let due = campaigns::due(&store, &reviews, now)?;
        Ok((rows, due))
    })
    .await??;
    let chrome = Chrome::new(app, p, "Campaigns", "/campaigns").await;
    with_status(
        page(&ListPage {
            chrome,
            campaigns: rows.iter().map(|c| campaign_item(c, now)).collect(),
            scopes: due.iter().map(due_item).collect(),
            can_run: policy::decide(&p.user, None, &Action::RunCampaigns) == Decision::Allow,
            kinds: vec![
                "full",
                "delta",
                "privileged",
                "non_human",
                "sod",
                "role_definitions",
            ],
            error,
        }),
        status,
    )
}

async fn list(State(app): State<App>, p: Principal) -> WebResult<Response> {
    list_page(&app, &p, None, StatusCode::OK).await
}

/// The person a web admin acts as in the review policy.
fn acting(p: &Principal) -> WebResult<Acting> {
    let who = p.user.identity.clone().ok_or_else(|| {
        WebError::forbidden(
            "your Gatehouse user is linked to no person, and the review policy names people: \
             link your user to your identity (gatehouse user add --identity)",
        )
    })?;
    Ok(Acting::person(p.actor(), who))
}

#[derive(Deserialize)]
struct CreateForm {
    csrf: Option<String>,
    scope: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    deadline_default: Option<String>,
}

fn field(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

async fn create(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Form(f): Form<CreateForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    p.authorize(&app, Action::RunCampaigns).await?;
    let who = acting(&p)?;
    let kind = match field(&f.kind)
        .map(|k| k.parse::<CampaignKind>())
        .transpose()
    {
        Ok(k) => k,
        Err(e) => return list_page(&app, &p, Some(e.to_string()), StatusCode::BAD_REQUEST).await,
    };
    let deadline_default = match field(&f.deadline_default)
        .map(|k| k.parse::<DeadlineDefault>())
        .transpose()
    {
        Ok(k) => k,
        Err(e) => return list_page(&app, &p, Some(e.to_string()), StatusCode::BAD_REQUEST).await,
    };
    let new = NewCampaign {
        scope: field(&f.scope),
        kind,
        name: field(&f.name),
        deadline_default,
        ..NewCampaign::default()
    };
    let (store, reviews, now) = (app.store.clone(), app.config.reviews.clone(), p.now);
    match blocking(move || campaigns::create(&store, &reviews, &who, now, new)).await? {
        Ok(c) => {
            app.changed();
            Ok(see_other(&format!("/campaigns/{}", c.id)))
        }
        Err(e) => list_page(&app, &p, Some(e.message), e.status).await,
    }
}

/// Progress of one reviewer.
pub struct ReviewerProgress {
    pub reviewer: String,
    pub items: u64,
    pub open: u64,
    pub percent: u64,
}

#[derive(askama::Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    chrome: Chrome,
    c: CampaignItem,
    scope: String,
    systems: String,
    instructions: String,
    created: String,
    launched: String,
    population: String,
    sources: Vec<String>,
    exclusions: Vec<String>,
    stages: String,
    deadline_default: String,
    preview: Option<PreviewView>,
    reviewers: Vec<ReviewerProgress>,
    reminders: Vec<String>,
    closing: Option<String>,
    draft: bool,
    active: bool,
    can_run: bool,
    can_sign: bool,
    can_export: bool,
    error: Option<String>,
    notice: Option<String>,
}

/// What a launch would freeze, for the page.
pub struct PreviewView {
    pub items: u64,
    pub privileged: u64,
    pub recommend_revoke: u64,
    pub sod: u64,
    pub reassigned: u64,
    pub systems: Vec<(String, u64)>,
    pub reviewers: Vec<(String, u64)>,
    pub population_sha256: String,
}

fn preview_view(p: Preview) -> PreviewView {
    PreviewView {
        items: p.items,
        privileged: p.privileged,
        recommend_revoke: p.recommend_revoke,
        sod: p.sod,
        reassigned: p.reassigned,
        systems: p.systems.into_iter().collect(),
        reviewers: p.reviewers.into_iter().collect(),
        population_sha256: p.population_sha256,
    }
}

fn parse_id(id: &str) -> WebResult<CampaignId> {
    id.parse()
        .map_err(|_| WebError::not_found(format!("there is no campaign `{id}`")))
}

async fn campaign_page(
    app: &App,
    p: &Principal,
    id: CampaignId,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> WebResult<Response> {
    p.authorize(app, Action::ViewCampaigns).await?;
    let (store, reviews, now) = (app.store.clone(), app.config.reviews.clone(), p.now);
    let (c, reviewers, reminders, preview) = blocking(move || {
        let (c, reviewers, reminders) = store.read(|r| {
            Ok::<_, StoreError>((
                r.campaign(id)?,
                r.progress_by_reviewer(id)?,
                r.reminders(id)?,
            ))
        })?;
        // A draft shows what a launch would freeze (the population is read, nothing written).
        let preview = if c.state == CampaignState::Draft {
            Some(campaigns::preview(&store, &reviews, id, &[], now)?)
        } else {
            None
        };
        Ok((c, reviewers, reminders, preview))
    })
    .await??;
    let allowed = |a: Action<'_>| policy::decide(&p.user, None, &a) == Decision::Allow;
    let chrome = Chrome::new(app, p, c.created.name.clone(), "/campaigns").await;
    let launch = c.launch.as_ref();
    with_status(
        page(&CampaignPage {
            chrome,
            c: campaign_item(&c, now),
            scope: c.created.scope.clone().unwrap_or_default(),
            systems: c
                .created
                .systems
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            instructions: c.created.instructions.clone().unwrap_or_default(),
            created: when(c.created_at),
            launched: when_opt(c.launched_at),
            population: launch
                .map(|l| {
                    format!(
                        "{} items, SHA-256 {}, read at ledger size {}",
                        l.items, l.population_sha256, l.ledger_size
                    )
                })
                .unwrap_or_default(),
            sources: launch
                .map(|l| {
                    l.sources
                        .iter()
                        .map(|s| {
                            format!(
                                "{} as of {} (event {}, digest {})",
                                s.source,
                                date(s.as_of),
                                s.seq,
                                &s.digest[..s.digest.len().min(16)]
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            exclusions: launch
                .map(|l| {
                    l.exclusions
                        .iter()
                        .map(|e| format!("{}: {} ({} grants)", e.subject, e.reason, e.grants))
                        .collect()
                })
                .unwrap_or_default(),
            stages: c
                .created
                .rules
                .stages
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", then "),
            deadline_default: c.created.rules.deadline_default.to_string(),
            preview: preview.map(preview_view),
            reviewers: reviewers
                .into_iter()
                .map(|(r, items, open)| ReviewerProgress {
                    reviewer: r.to_string(),
                    items,
                    open,
                    percent: ((items - open) * 100).checked_div(items).unwrap_or(0),
                })
                .collect(),
            reminders: reminders
                .iter()
                .rev()
                .take(20)
                .map(|m| {
                    format!(
                        "{}: {} reminded of {} open item(s), {} day(s) before the due date",
                        when(m.at),
                        m.reviewer,
                        m.open,
                        m.days_before
                    )
                })
                .collect(),
            closing: c.closing.as_ref().map(|s| {
                format!(
                    "Signed off by {} on {}: “{}”{}",
                    s.signed_off_by,
                    when_opt(c.closed_at),
                    s.statement,
                    s.forced
                        .as_ref()
                        .map(|f| format!(
                            " — forced with {} undecided item(s) given the default: {f}",
                            s.defaulted
                        ))
                        .unwrap_or_default()
                )
            }),
            draft: c.state == CampaignState::Draft,
            active: c.state == CampaignState::Active,
            can_run: allowed(Action::RunCampaigns),
            can_sign: allowed(Action::SignOff),
            can_export: allowed(Action::ExportEvidence),
            error,
            notice,
        }),
        status,
    )
}

async fn show(State(app): State<App>, p: Principal, Path(id): Path<String>) -> WebResult<Response> {
    let id = parse_id(&id)?;
    campaign_page(&app, &p, id, None, None, StatusCode::OK).await
}

/// The campaign's page after a change: with `notice` when it was made (and the scheduler
/// told), with the refusal and its status when not.
async fn after(
    app: &App,
    p: &Principal,
    id: CampaignId,
    outcome: Result<String, WebError>,
) -> WebResult<Response> {
    match outcome {
        Ok(notice) => {
            app.changed();
            campaign_page(app, p, id, None, Some(notice), StatusCode::OK).await
        }
        Err(e) => campaign_page(app, p, id, Some(e.message), None, e.status).await,
    }
}

#[derive(Deserialize)]
struct LaunchForm {
    csrf: Option<String>,
    /// One exclusion per line: `subject: reason`.
    exclusions: Option<String>,
}

/// Exclusions from a text area, one per line, `subject: reason`.
fn exclusions(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.split_once(": ") {
            Some((s, r)) if !s.trim().is_empty() && !r.trim().is_empty() => {
                out.push((s.trim().to_owned(), r.trim().to_owned()))
            }
            _ => {
                return Err(format!(
                    "exclusions, line {}: write `what: why` (for example `erp:u1/role/Admin: \
                     emergency account, reviewed separately`)",
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

async fn launch(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<LaunchForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    let id = parse_id(&id)?;
    p.authorize(&app, Action::RunCampaigns).await?;
    let who = acting(&p)?;
    let excluded = match exclusions(f.exclusions.as_deref().unwrap_or("")) {
        Ok(x) => x,
        Err(e) => {
            return campaign_page(&app, &p, id, Some(e), None, StatusCode::BAD_REQUEST).await;
        }
    };
    let (store, reviews, now) = (app.store.clone(), app.config.reviews.clone(), p.now);
    let outcome = blocking(move || campaigns::launch(&store, &reviews, &who, now, id, &excluded))
        .await?
        .map(|l| {
            format!(
                "Launched: {} items frozen, due {}.",
                l.preview.items,
                date(l.due)
            )
        });
    after(&app, &p, id, outcome).await
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn remind(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    let id = parse_id(&id)?;
    p.authorize(&app, Action::RunCampaigns).await?;
    let who = acting(&p)?;
    let (store, reviews, now) = (app.store.clone(), app.config.reviews.clone(), p.now);
    let outcome = blocking(move || campaigns::remind(&store, &reviews, &who, now, id))
        .await?
        .map(|reminded| {
            format!(
                "{} reviewer(s) with open items reminded; the notifications send them a digest.",
                reminded.len()
            )
        });
    after(&app, &p, id, outcome).await
}

#[derive(Deserialize)]
struct CloseForm {
    csrf: Option<String>,
    statement: String,
    force: Option<String>,
    code: Option<String>,
}

async fn close(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CloseForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    let id = parse_id(&id)?;
    p.authorize(&app, Action::SignOff).await?;
    let who = acting(&p)?;
    if let Err(e) = p.second_factor(&app, f.code.as_deref()).await {
        return campaign_page(&app, &p, id, Some(e.message), None, e.status).await;
    }
    let force = field(&f.force);
    let (store, now) = (app.store.clone(), p.now);
    let outcome =
        blocking(move || campaigns::close(&store, &who, now, id, &f.statement, force.as_deref()))
            .await?
            .map(|r| {
                let defaulted = if r.defaulted > 0 {
                    format!(
                        ", {} undecided item(s) given the deadline default",
                        r.defaulted
                    )
                } else {
                    String::new()
                };
                format!(
                    "Signed off{defaulted}; {} remediation task(s) opened.",
                    r.tasks.len()
                )
            });
    after(&app, &p, id, outcome).await
}

/// `GET /campaigns/{id}/report/{csv|xlsx|pdf|json}`: the campaign's evidence, tied to a
/// checkpoint signed for what the log holds now (the server signs one first).
async fn report(
    State(app): State<App>,
    p: Principal,
    Path((id, format)): Path<(String, String)>,
) -> WebResult<Response> {
    let id = parse_id(&id)?;
    p.authorize(&app, Action::ExportEvidence).await?;
    let format = match format.as_str() {
        "csv" => ExportFormat::Csv,
        "xlsx" => ExportFormat::Xlsx,
        "pdf" => ExportFormat::Pdf,
        "json" => ExportFormat::Json,
        other => {
            return Err(WebError::not_found(format!(
                "there is no `{other}` report; ask for csv, xlsx, pdf or json"
            )));
        }
    };
    // Evidence names the checkpoint it was answered at: seal what the log holds first.
    crate::scheduler::seal(&app, p.now)
        .await
        .map_err(WebError::internal)?;
    let (store, now) = (app.store.clone(), p.now);
    let bytes = blocking(move || {
        let report = campaigns::report::campaign_report(&store, id, now)?;
        gatehouse_evidence::campaign(&report, format)
            .map_err(|e| campaigns::CampaignError::Invalid(e.to_string()))
    })
    .await??;
    let mime = match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ExportFormat::Pdf => "application/pdf",
        ExportFormat::Json => "application/json",
    };
    let name = format!(
        "gatehouse-campaign-{}-{}.{}",
        id,
        date(now),
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
