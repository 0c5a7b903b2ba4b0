//! A user's own API tokens: list, create (shown once; a fresh second factor needed), revoke.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::auth::{self, Action, Principal, Scope};
use crate::routes::{csrf_of, page, see_other};
use crate::views::{Chrome, when, when_opt};
use crate::{App, WebError, WebResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/me/tokens", get(list).post(create))
        .route("/me/tokens/{id}/revoke", post(revoke))
}

/// A token row.
pub struct TokenItem {
    pub id: String,
    pub scopes: String,
    pub created: String,
    pub expires: String,
    pub state: String,
    pub live: bool,
}

#[derive(askama::Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenItem>,
    created: Option<String>,
    error: Option<String>,
}

async fn render(
    app: &App,
    p: &Principal,
    created: Option<String>,
    error: Option<String>,
) -> WebResult<Response> {
    p.authorize(app, Action::ManageOwnTokens).await?;
    let name = p.user.name.clone();
    let rows = app
        .store
        .read_async(move |r| r.api_tokens(Some(&name)))
        .await?;
    let now = p.now;
    page(&TokensPage {
        chrome: Chrome::new(app, p, "API tokens", "/me/tokens").await,
        tokens: rows
            .into_iter()
            .map(|t| {
                let state = if t.revoked_at.is_some() {
                    format!("revoked {}", when_opt(t.revoked_at))
                } else if t.expires_at <= now {
                    "expired".into()
                } else {
                    "active".into()
                };
                TokenItem {
                    live: state == "active",
                    id: t.id,
                    scopes: t.scopes.join(" "),
                    created: when(t.created_at),
                    expires: when(t.expires_at),
                    state,
                }
            })
            .collect(),
        created,
        error,
    })
}

async fn list(State(app): State<App>, p: Principal) -> WebResult<Response> {
    render(&app, &p, None, None).await
}

#[derive(Deserialize)]
struct CreateForm {
    csrf: Option<String>,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    evidence: Option<String>,
    #[serde(default)]
    write: Option<String>,
    days: u32,
    code: Option<String>,
}

async fn create(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Form(f): Form<CreateForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    p.authorize(&app, Action::ManageOwnTokens).await?;
    if let Err(e) = p.second_factor(&app, f.code.as_deref()).await {
        return render(&app, &p, None, Some(e.message)).await;
    }
    let mut scopes = Vec::new();
    for (on, s) in [
        (&f.read, Scope::Read),
        (&f.evidence, Scope::Evidence),
        (&f.write, Scope::Write),
    ] {
        if on.is_some() {
            scopes.push(s);
        }
    }
    if scopes.is_empty() {
        return render(&app, &p, None, Some("choose at least one scope".into())).await;
    }
    if !(1..=366).contains(&f.days) {
        return render(&app, &p, None, Some("a token lasts 1 to 366 days".into())).await;
    }
    let expires = p
        .now
        .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(f.days)))
        .map_err(WebError::internal)?;
    let (text, record) = auth::new_token(&p.user.name, &scopes, expires);
    app.store
        .write_async(p.actor(), p.now, move |w| w.create_token(record))
        .await?;
    app.changed();
    render(&app, &p, Some(text), None).await
}

#[derive(Deserialize)]
struct RevokeForm {
    csrf: Option<String>,
}

async fn revoke(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<RevokeForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    p.authorize(&app, Action::ManageOwnTokens).await?;
    let name = p.user.name.clone();
    let wanted = id.clone();
    let token = app.store.read_async(move |r| r.api_token(&wanted)).await?;
    // Another user's token is as unknown as a missing one.
    if token.is_none_or(|t| t.user != name) {
        return Err(WebError::not_found("there is no such token of yours"));
    }
    app.store
        .write_async(p.actor(), p.now, move |w| w.revoke_token(&id))
        .await?;
    app.changed();
    Ok(see_other("/me/tokens"))
}
