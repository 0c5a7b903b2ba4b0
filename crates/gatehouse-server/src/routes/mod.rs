//! Every route, by module; each module owns its `router()`.

mod api;
mod assets;
mod campaigns;
mod dashboard;
mod findings;
mod health;
mod identities;
mod ledger;
mod me;
mod oidc;
mod remediation;
mod reviews;
mod signin;
mod systems;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::{App, WebError, WebResult};

/// The whole surface, wrapped in the request middleware.
pub fn router(app: App) -> Router {
    Router::new()
        .merge(health::router())
        .merge(assets::router())
        .merge(signin::router())
        .merge(oidc::router())
        .merge(dashboard::router())
        .merge(identities::router())
        .merge(systems::router())
        .merge(findings::router())
        .merge(ledger::router())
        .merge(me::router())
        .merge(reviews::router())
        .merge(campaigns::router())
        .merge(remediation::router())
        .merge(api::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::middleware::around,
        ))
        .with_state(app)
}

async fn not_found() -> WebError {
    WebError::not_found("there is no such page")
}

/// Renders a template as a page.
pub fn page(t: &impl askama::Template) -> WebResult<Response> {
    t.render()
        .map(|html| Html(html).into_response())
        .map_err(WebError::internal)
}

/// A redirect after a form (303).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The anti-forgery token of a change request: the form field, else the `X-CSRF-Token`
/// header (htmx and API calls from the browser).
pub fn csrf_of<'a>(field: Option<&'a str>, headers: &'a HeaderMap) -> Option<&'a str> {
    field.or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))
}

/// A `Content-Type` header value.
pub fn content_type(v: &'static str) -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_TYPE, v)]
}
