//! What wraps every request: a request id (taken from a valid `X-Request-Id` or made here),
//! the clock read once, a structured log line, metrics, and security headers.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_model::Timestamp;

use crate::App;

/// What the handlers and the error page know about the request being served.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// The request id.
    pub id: String,
    /// The path asked for.
    pub path: String,
    /// Whether errors are answered as JSON (the API) rather than pages.
    pub wants_json: bool,
    /// Whether a user is signed in (set by the authentication extractor).
    pub signed_in: bool,
    /// Whether htmx asked (`HX-Request`): errors are answered as a fragment to swap in.
    pub htmx: bool,
}

tokio::task_local! {
    static CURRENT: std::cell::RefCell<RequestCtx>;
}

impl RequestCtx {
    /// The request being served (outside a request: an empty one).
    pub fn current() -> RequestCtx {
        CURRENT
            .try_with(|c| c.borrow().clone())
            .unwrap_or_else(|_| RequestCtx {
                id: String::new(),
                path: String::new(),
                wants_json: true,
                signed_in: false,
                htmx: false,
            })
    }

    /// Notes that a user is signed in.
    pub fn set_signed_in() {
        let _ = CURRENT.try_with(|c| c.borrow_mut().signed_in = true);
    }
}

/// The time of the request, read once by the middleware.
#[derive(Debug, Clone, Copy)]
pub struct Now(pub Timestamp);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Now {
    type Rejection = crate::WebError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Now>()
            .copied()
            .ok_or_else(|| crate::WebError::internal("the request has no time"))
    }
}

/// The request id, as an extractor.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestId(
            parts
                .extensions
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default(),
        ))
    }
}

fn valid_id(s: &str) -> bool {
    (8..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new random id (16 hex digits).
pub fn new_request_id() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return "0000000000000000".into();
    }
    hex::encode(b)
}

/// The middleware.
pub async fn around(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_id(v))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    let now = app.read_clock();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let wants_json = path.starts_with("/api/")
        || (accept.contains("application/json") && !accept.contains("text/html"));
    let htmx = req.headers().contains_key("hx-request");
    req.extensions_mut().insert(Now(now));
    req.extensions_mut().insert(RequestId(id.clone()));
    let ctx = RequestCtx {
        id: id.clone(),
        path: path_and_query(&req),
        wants_json,
        signed_in: false,
        htmx,
    };
    let mut res = CURRENT
        .scope(std::cell::RefCell::new(ctx), next.run(req))
        .await;
    let status = res.status().as_u16();
    let took = started.elapsed();
    app.metrics.observe(method.as_str(), &route, status, took);
    tracing::info!(
        request_id = %id,
        method = %method,
        path = %path,
        status,
        ms = took.as_secs_f64() * 1000.0,
        "request"
    );
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-request-id", v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if app.config.tls.is_some() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

fn path_and_query(req: &Request) -> String {
    req.uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into())
}
