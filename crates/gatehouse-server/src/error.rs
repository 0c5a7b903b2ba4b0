//! One error type for every route: a stable [`ErrorCode`], a message for the user, the HTTP
//! status, and the request id (added when the response is made), shown as a page or as JSON.
//! Database and internal errors are logged with their detail and shown only by code and
//! request id.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use gatehouse_model::ErrorCode;
use gatehouse_store::{StoreError, VerifyError};
use gatehouse_workflow::campaigns::CampaignError;
use gatehouse_workflow::{AcceptError, WorkflowError};
use serde::Serialize;

use crate::middleware::RequestCtx;

/// What a route returns when it fails.
#[derive(Debug)]
pub struct WebError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code.
    pub code: ErrorCode,
    /// What the user is told (never a database message).
    pub message: String,
}

/// A route's result.
pub type WebResult<T> = Result<T, WebError>;

impl WebError {
    /// An error with a status, a code and a message for the user.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> WebError {
        WebError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 404: nothing there (also what someone gets who may not know whether it is there).
    pub fn not_found(what: impl Into<String>) -> WebError {
        WebError::new(StatusCode::NOT_FOUND, ErrorCode::UnknownObject, what)
    }

    /// 403: signed in, but not allowed.
    pub fn forbidden(why: impl Into<String>) -> WebError {
        WebError::new(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied, why)
    }

    /// 401: not signed in.
    pub fn unauthenticated() -> WebError {
        WebError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::SignInRequired,
            "sign in first",
        )
    }

    /// 400: the request is malformed.
    pub fn bad_request(why: impl Into<String>) -> WebError {
        WebError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, why)
    }

    /// 403: the form's anti-forgery token is missing or wrong.
    pub fn csrf() -> WebError {
        WebError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::CsrfRejected,
            "the form is out of date or was not sent from Gatehouse; reload the page and try again",
        )
    }

    /// 500: something unexpected; the detail goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> WebError {
        tracing::error!(error = %detail, "internal error");
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "an internal error occurred",
        )
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> WebError {
        let code = e.code();
        let status = match code {
            ErrorCode::UnknownObject => StatusCode::NOT_FOUND,
            ErrorCode::AmbiguousReference
            | ErrorCode::InvalidReference
            | ErrorCode::InvalidInput
            | ErrorCode::OutsideHistory
            | ErrorCode::LedgerRange => StatusCode::BAD_REQUEST,
            ErrorCode::NotCheckpointed => StatusCode::CONFLICT,
            ErrorCode::StoreBusy => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR || status == StatusCode::SERVICE_UNAVAILABLE
        {
            // Database messages may name tables, values or the store's location: logged, not
            // shown.
            tracing::error!(code = %code, error = %e, "store error");
            let message = if status == StatusCode::SERVICE_UNAVAILABLE {
                "the store is busy; try again shortly"
            } else {
                "the store failed; the server's log has the detail"
            };
            return WebError::new(status, code, message);
        }
        WebError::new(status, code, e.to_string())
    }
}

impl From<WorkflowError> for WebError {
    fn from(e: WorkflowError) -> WebError {
        match e {
            WorkflowError::Store(e) => e.into(),
            other => {
                let code = other.code();
                tracing::error!(code = %code, error = %other, "workflow error");
                WebError::new(StatusCode::INTERNAL_SERVER_ERROR, code, other.to_string())
            }
        }
    }
}

impl From<AcceptError> for WebError {
    fn from(e: AcceptError) -> WebError {
        match e {
            AcceptError::Store(e) => e.into(),
            AcceptError::Invalid(m) => {
                WebError::new(StatusCode::BAD_REQUEST, ErrorCode::AcceptanceRefused, m)
            }
        }
    }
}

impl From<CampaignError> for WebError {
    fn from(e: CampaignError) -> WebError {
        let status = match &e {
            CampaignError::Store(_) => {
                return match e {
                    CampaignError::Store(e) => e.into(),
                    _ => unreachable!("matched above"),
                };
            }
            CampaignError::NotAllowed(_) | CampaignError::SelfReview(_) => StatusCode::FORBIDDEN,
            CampaignError::State(_)
            | CampaignError::AlreadyDecided(_)
            | CampaignError::Undecided(_)
            | CampaignError::Remediation(_) => StatusCode::CONFLICT,
            CampaignError::Policy(_) | CampaignError::Invalid(_) | CampaignError::Input(_) => {
                StatusCode::BAD_REQUEST
            }
        };
        WebError::new(status, e.code(), e.to_string())
    }
}

impl From<VerifyError> for WebError {
    fn from(e: VerifyError) -> WebError {
        match e {
            VerifyError::Store(e) => e.into(),
            other => WebError::new(StatusCode::CONFLICT, other.code(), other.to_string()),
        }
    }
}

/// The JSON form of an error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The stable code (`GH301`).
    pub code: String,
    /// Its name (`unknown_object`).
    pub name: String,
    /// What went wrong.
    pub message: String,
    /// The request id, to find the request in the server's log.
    pub request_id: String,
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    code: &'a str,
    message: &'a str,
    request_id: &'a str,
    signed_in: bool,
}

#[derive(askama::Template)]
#[template(
    source = "<p class=\"error\" role=\"alert\">{{ message }} <span class=\"muted\">(error {{ code }}, request {{ request_id }})</span></p>",
    ext = "html"
)]
struct ErrorFragment<'a> {
    code: &'a str,
    message: &'a str,
    request_id: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let ctx = RequestCtx::current();
        let body = ErrorBody {
            code: self.code.as_str().to_owned(),
            name: self.code.name().to_owned(),
            message: self.message.clone(),
            request_id: ctx.id.clone(),
        };
        if self.code == ErrorCode::SignInRequired && !ctx.wants_json {
            let target = format!("/login?next={}", crate::views::url_encode(&ctx.path));
            return (
                StatusCode::SEE_OTHER,
                [(axum::http::header::LOCATION, target)],
            )
                .into_response();
        }
        if ctx.wants_json {
            return (self.status, axum::Json(body)).into_response();
        }
        if ctx.htmx {
            let fragment = ErrorFragment {
                code: self.code.as_str(),
                message: &self.message,
                request_id: &ctx.id,
            };
            if let Ok(html) = askama::Template::render(&fragment) {
                return (self.status, Html(html)).into_response();
            }
        }
        let page = ErrorPage {
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or("Error"),
            code: self.code.as_str(),
            message: &self.message,
            request_id: &ctx.id,
            signed_in: ctx.signed_in,
        };
        match askama::Template::render(&page) {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(_) => (self.status, format!("{} {}", self.code, self.message)).into_response(),
        }
    }
}
