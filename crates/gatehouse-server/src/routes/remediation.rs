//! Remediation: the tasks revoke decisions opened, each with every path by which the holder
//! has the access; the assignee (or the campaign's owner, or an administrator of the review
//! policy) says a task is done with a note, and only the next import of the system closes it
//! as verified. Admins and auditors see every task; everyone else sees the tasks assigned to
//! them (another person's task answers 404).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_model::{ItemRef, TaskStatus, UserRole};
use gatehouse_store::campaigns::query::{TaskFilter, TaskRow};
use gatehouse_workflow::campaigns::{self, Acting};
use serde::Deserialize;

use crate::auth::{Action, Decision, Principal, policy};
use crate::routes::reviews::{blocking, hidden, item_href, parse_item, reviewer, with_status};
use crate::routes::{csrf_of, page, see_other};
use crate::views::{Chrome, date, when, when_opt};
use crate::{App, WebError, WebResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/remediation", get(list))
        .route("/remediation/{campaign}/{n}", get(show))
        .route("/remediation/{campaign}/{n}/done", post(done))
}

/// A task in a list.
pub struct TaskItem {
    pub id: String,
    pub href: String,
    pub system: String,
    pub access: String,
    pub holder: String,
    pub assignee: String,
    pub status: String,
    pub due: String,
    pub overdue: bool,
    pub reopens: u64,
}

fn task_item(t: &TaskRow, now: gatehouse_model::Timestamp) -> TaskItem {
    let k = &t.task;
    TaskItem {
        id: k.item.to_string(),
        href: format!("/remediation/{}/{}", k.item.campaign, k.item.item),
        system: k.system.to_string(),
        access: match (&k.account, &k.role) {
            (Some(a), _) => format!("{} on account {a}", k.entitlement),
            (None, Some(r)) => format!("{} in role {r}", k.entitlement),
            _ => k.entitlement.clone(),
        },
        holder: k
            .identity
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_default(),
        assignee: k
            .assignee
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_else(|| "nobody (the campaign's owner assigns it)".into()),
        status: t.status.to_string(),
        due: date(k.due),
        overdue: k.due < now && !matches!(t.status, TaskStatus::Verified),
        reopens: t.reopens,
    }
}

#[derive(Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "remediation.html")]
struct ListPage {
    chrome: Chrome,
    tasks: Vec<TaskItem>,
    status: String,
    all: bool,
}

async fn list(
    State(app): State<App>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> WebResult<Response> {
    let all = matches!(p.user.role, UserRole::Admin | UserRole::Auditor);
    let assignee = if all {
        p.authorize(&app, Action::ViewCampaigns).await?;
        None
    } else {
        Some(reviewer(&app, &p).await?)
    };
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("all") => Vec::new(),
        Some(s) => vec![
            s.parse::<TaskStatus>()
                .map_err(|e| WebError::bad_request(e.to_string()))?,
        ],
    };
    let filter = TaskFilter {
        status,
        campaign: None,
        assignee,
    };
    let rows = app
        .store
        .read_async(move |r| r.remediation_tasks(&filter))
        .await?;
    let now = p.now;
    page(&ListPage {
        chrome: Chrome::new(&app, &p, "Remediation", "/remediation").await,
        tasks: rows.iter().map(|t| task_item(t, now)).collect(),
        status: q.status.unwrap_or_default(),
        all,
    })
}

#[derive(askama::Template)]
#[template(path = "remediation_task.html")]
struct TaskPage {
    chrome: Chrome,
    t: TaskItem,
    review_href: String,
    opened: String,
    paths: Vec<(String, String, String)>,
    note: String,
    done: String,
    verified: String,
    reopened: String,
    can_complete: bool,
    error: Option<String>,
}

async fn task_page(
    app: &App,
    p: &Principal,
    at: ItemRef,
    error: Option<String>,
    status: StatusCode,
) -> WebResult<Response> {
    let t = app
        .store
        .read_async(move |r| r.remediation_task(at))
        .await
        .map_err(hidden)?;
    match &t.task.assignee {
        Some(a) => p.authorize(app, Action::ViewReviewItem(a)).await?,
        None => p.authorize(app, Action::ViewCampaigns).await?,
    }
    let can_complete = matches!(t.status, TaskStatus::Open | TaskStatus::Reopened)
        && policy::decide(&p.user, None, &Action::Review) == Decision::Allow;
    let chrome = Chrome::new(app, p, format!("Remediation {at}"), "/remediation").await;
    with_status(
        page(&TaskPage {
            chrome,
            t: task_item(&t, p.now),
            review_href: item_href(at),
            opened: when(t.opened_at),
            paths: t
                .task
                .paths
                .iter()
                .map(|x| {
                    (
                        x.kind.to_string(),
                        x.via.clone(),
                        x.also_removes
                            .iter()
                            .map(|e| e.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                })
                .collect(),
            note: t.note.clone().unwrap_or_default(),
            done: match (&t.done_by, t.done_at) {
                (Some(by), at) => format!("{by}, {}", when_opt(at)),
                _ => String::new(),
            },
            verified: match (t.verified_at, t.verified_import) {
                (Some(at), Some(seq)) => {
                    format!(
                        "the import of {} (event {seq}) shows the access gone",
                        date(at)
                    )
                }
                _ => String::new(),
            },
            reopened: match (t.reopened_at, &t.reopen_reason) {
                (Some(at), Some(why)) => format!("{}: {why}", when(at)),
                _ => String::new(),
            },
            can_complete,
            error,
        }),
        status,
    )
}

async fn show(
    State(app): State<App>,
    p: Principal,
    Path((campaign, n)): Path<(String, String)>,
) -> WebResult<Response> {
    let at = parse_item(&campaign, &n)?;
    task_page(&app, &p, at, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct DoneForm {
    csrf: Option<String>,
    note: String,
}

async fn done(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Path((campaign, n)): Path<(String, String)>,
    Form(f): Form<DoneForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    let me = reviewer(&app, &p).await?;
    let at = parse_item(&campaign, &n)?;
    let (store, reviews, now) = (app.store.clone(), app.config.reviews.clone(), p.now);
    let acting = Acting::person(p.actor(), me);
    match blocking(move || campaigns::mark_done(&store, &reviews, &acting, now, at, &f.note))
        .await?
    {
        Ok(_) => {
            app.changed();
            Ok(see_other(&format!(
                "/remediation/{}/{}",
                at.campaign, at.item
            )))
        }
        Err(e) if e.status == StatusCode::NOT_FOUND || e.status == StatusCode::FORBIDDEN => {
            // Someone else's task: as if it did not exist.
            Err(WebError::not_found("there is nothing here you may see"))
        }
        Err(e) => task_page(&app, &p, at, Some(e.message), e.status).await,
    }
}
