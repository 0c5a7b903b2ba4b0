//! Scripts and styles, compiled into the binary (nothing is fetched from elsewhere, so the UI
//! works in an air-gapped network). htmx is vendored from the `htmx.org` npm package, 2.0.11.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::App;

const HTMX: &str = include_str!("../../assets/htmx.min.js");
const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/assets/htmx.min.js",
            get(|| asset(HTMX, "text/javascript")),
        )
        .route("/assets/app.js", get(|| asset(JS, "text/javascript")))
        .route("/assets/app.css", get(|| asset(CSS, "text/css")))
}

async fn asset(body: &'static str, mime: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
}
