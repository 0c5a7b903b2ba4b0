//! Liveness (`/healthz`: the process answers), readiness (`/readyz`: the store answers a
//! read) and Prometheus metrics (`/metrics`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::App;
use crate::routes::content_type;

pub fn router() -> Router<App> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(app): State<App>) -> impl IntoResponse {
    match app
        .store
        .read_async(|r| Ok::<_, gatehouse_store::StoreError>(r.size()))
        .await
    {
        Ok(size) => (StatusCode::OK, format!("ready: {size} events\n")),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the store does not answer\n".to_owned(),
            )
        }
    }
}

async fn metrics(State(app): State<App>) -> impl IntoResponse {
    (
        content_type("text/plain; version=0.0.4"),
        app.metrics.render(app.sessions.len()),
    )
}
