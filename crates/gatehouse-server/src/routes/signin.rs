//! Signing in and out: password, then the authenticator code (or a recovery code); a
//! one-time password is replaced first and a second factor enrolled when there is none. Each
//! step issues a new session id. Failures are counted per user name and address
//! ([`crate::auth::limiter`]) and recorded as events, and so are sign-ins.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_model::{CredentialKind, SignInFailed, SignedIn, Stamped, Timestamp, UserEvent};
use serde::Deserialize;

use crate::auth::{self, Session, Stage, password, totp};
use crate::middleware::Now;
use crate::routes::{page, see_other};
use crate::views::Chrome;
use crate::{App, WebError, WebResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/login/totp", get(totp_form).post(totp_submit))
        .route("/login/password", get(password_form).post(password_submit))
        .route("/login/enrol", get(enrol_form).post(enrol_submit))
        .route("/logout", post(logout))
}

/// The client's address, as the server sees it.
pub struct ClientAddr(pub Option<String>);

impl FromRequestParts<App> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(auth::client_address(app, parts)))
    }
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    error: Option<String>,
    next: String,
    username: String,
    /// The OpenID Connect button: its text and link.
    oidc: Option<(String, String)>,
}

fn oidc_button(app: &App, next: &str) -> Option<(String, String)> {
    app.config.oidc.as_ref().map(|o| {
        (
            o.label.clone(),
            format!("/login/oidc?next={}", crate::views::url_encode(next)),
        )
    })
}

#[derive(askama::Template)]
#[template(path = "login_totp.html")]
struct TotpPage {
    chrome: Chrome,
    error: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "login_password.html")]
struct PasswordPage {
    chrome: Chrome,
    error: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "login_enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    error: Option<String>,
    qr: String,
    secret: String,
}

#[derive(askama::Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryPage {
    chrome: Chrome,
    codes: Vec<String>,
    next: String,
}

/// Only local paths are followed after sign-in (no open redirect).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

pub(crate) fn with_cookie(app: &App, id: &str, res: Response) -> Response {
    let mut res = res;
    if let Ok(v) = auth::session_cookie(app, id).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The session the request carries, at any stage.
fn current(app: &App, headers: &HeaderMap, now: Timestamp) -> Option<(String, Session)> {
    let id = auth::session_id(app, headers)?;
    let s = app.sessions.get(&id, now)?;
    Some((id, s))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(
    State(app): State<App>,
    Now(now): Now,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> WebResult<Response> {
    let next = safe_next(q.next.as_deref());
    let (id, session, fresh) = match current(&app, &headers, now) {
        Some((_, s)) if s.stage == Stage::Full => return Ok(see_other(&next)),
        Some((id, s)) => (id, s, false),
        None => {
            let (id, s) = app.sessions.anonymous(now);
            (id, s, true)
        }
    };
    let res = page(&LoginPage {
        chrome: Chrome::anonymous("Sign in", &session.csrf),
        error: None,
        oidc: oidc_button(&app, &next),
        next,
        username: String::new(),
    })?;
    Ok(if fresh {
        with_cookie(&app, &id, res)
    } else {
        res
    })
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    username: String,
    password: String,
    next: Option<String>,
}

/// The session of a sign-in step, with the form's anti-forgery token checked.
fn step_session(
    app: &App,
    headers: &HeaderMap,
    now: Timestamp,
    csrf: &str,
) -> WebResult<(String, Session)> {
    let (id, s) = current(app, headers, now).ok_or_else(WebError::csrf)?;
    if !auth::csrf_matches(&s.csrf, Some(csrf)) {
        return Err(WebError::csrf());
    }
    Ok((id, s))
}

fn limiter_keys(user: &str, addr: &Option<String>) -> Vec<String> {
    let mut keys = vec![format!("user:{}", user.to_lowercase())];
    if let Some(a) = addr {
        keys.push(format!("addr:{a}"));
    }
    keys
}

pub(crate) async fn record_failure(
    app: &App,
    user: &str,
    reason: &str,
    addr: &Option<String>,
    now: Timestamp,
) {
    app.metrics
        .sign_in_failures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let shown: String = user.chars().take(64).collect();
    tracing::warn!(user = %shown, reason, address = ?addr, "sign-in refused");
    let event = UserEvent::SignInFailed(Stamped {
        as_of: now,
        import: None,
        record: SignInFailed {
            user: shown,
            reason: reason.to_owned(),
            address: addr.clone(),
        },
    });
    auth::record(app, "web:sign-in", now, event).await;
}

fn rate_limited(app: &App, keys: &[String], user: &str, now: Timestamp) -> Option<WebError> {
    let wait = app.limiter.blocked(keys, now)?;
    tracing::warn!(user = %user.chars().take(64).collect::<String>(), wait, "sign-in rate limited");
    app.metrics
        .sign_in_failures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Some(WebError::new(
        StatusCode::TOO_MANY_REQUESTS,
        gatehouse_model::ErrorCode::SignInRateLimited,
        format!(
            "too many failed sign-ins; try again in {} minute(s)",
            (wait + 59) / 60
        ),
    ))
}

async fn login(
    State(app): State<App>,
    Now(now): Now,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> WebResult<Response> {
    let (id, session) = step_session(&app, &headers, now, &f.csrf)?;
    let name = f.username.trim().to_owned();
    let keys = limiter_keys(&name, &addr);
    if let Some(e) = rate_limited(&app, &keys, &name, now) {
        return Err(e);
    }
    let lookup = {
        let name = name.clone();
        app.store
            .read_async(move |r| {
                let Some(u) = r.user(&name)? else {
                    return Ok::<_, gatehouse_store::StoreError>(None);
                };
                let p = r.credential(&u, CredentialKind::Password)?;
                Ok(Some((u, p)))
            })
            .await?
    };
    let phc = lookup
        .as_ref()
        .and_then(|(_, p)| p.clone())
        .unwrap_or_else(|| password::decoy().to_owned());
    let given = f.password.clone();
    let matches = tokio::task::spawn_blocking(move || password::verify(&given, &phc))
        .await
        .map_err(WebError::internal)?;
    let failure = match &lookup {
        None => Some("unknown user"),
        Some((_, None)) => Some("no password set"),
        Some(_) if !matches => Some("wrong password"),
        Some((u, _)) if u.disabled => Some("disabled"),
        Some(_) => None,
    };
    if let Some(reason) = failure {
        app.limiter.fail(&keys, now);
        record_failure(&app, &name, reason, &addr, now).await;
        let res = page(&LoginPage {
            chrome: Chrome::anonymous("Sign in", &session.csrf),
            error: Some("Wrong user name or password.".into()),
            oidc: oidc_button(&app, &safe_next(f.next.as_deref())),
            next: safe_next(f.next.as_deref()),
            username: name,
        })?;
        return Ok((StatusCode::UNAUTHORIZED, res).into_response());
    }
    let Some((user, _)) = lookup else {
        return Err(WebError::internal("sign-in lost its user"));
    };
    let stage = if user.password_one_time {
        Stage::ChangePassword
    } else if !user.has_totp() {
        Stage::EnrolTotp
    } else {
        Stage::NeedTotp
    };
    let target = stage_path(&stage);
    let next = Session {
        user: Some(user.name.clone()),
        stage,
        next: Some(safe_next(f.next.as_deref())),
        ..session
    };
    let new_id = app.sessions.rotate(&id, next);
    Ok(with_cookie(&app, &new_id, see_other(target)))
}

fn stage_path(stage: &Stage) -> &'static str {
    match stage {
        Stage::ChangePassword => "/login/password",
        Stage::EnrolTotp => "/login/enrol",
        Stage::NeedTotp => "/login/totp",
        Stage::Anonymous => "/login",
        Stage::Full => "/",
    }
}

/// The session of a sign-in step that must be at `stage`; elsewhere, a redirect to where it is.
fn at_stage(
    app: &App,
    headers: &HeaderMap,
    now: Timestamp,
    stage: Stage,
) -> Result<(String, Session), Box<Response>> {
    match current(app, headers, now) {
        Some((id, s)) if s.stage == stage => Ok((id, s)),
        Some((_, s)) => Err(Box::new(see_other(stage_path(&s.stage)))),
        None => Err(Box::new(see_other("/login"))),
    }
}

async fn totp_form(
    State(app): State<App>,
    Now(now): Now,
    headers: HeaderMap,
) -> WebResult<Response> {
    let (_, s) = match at_stage(&app, &headers, now, Stage::NeedTotp) {
        Ok(x) => x,
        Err(r) => return Ok(*r),
    };
    page(&TotpPage {
        chrome: Chrome::anonymous("Authenticator code", &s.csrf),
        error: None,
    })
}

#[derive(Deserialize)]
struct CodeForm {
    csrf: String,
    code: String,
}

/// Finishes sign-in: a new session id, the second factor fresh, the event recorded.
async fn complete(
    app: &App,
    old: &str,
    session: Session,
    method: &str,
    addr: &Option<String>,
    now: Timestamp,
) -> String {
    let user = session.user.clone().unwrap_or_default();
    app.limiter
        .succeed(&format!("user:{}", user.to_lowercase()));
    let id = app.sessions.rotate(
        old,
        Session {
            stage: Stage::Full,
            second_factor_at: Some(now),
            enrolling: None,
            ..session
        },
    );
    app.metrics
        .sign_ins
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(user = %user, method, "signed in");
    let event = UserEvent::SignedIn(Stamped {
        as_of: now,
        import: None,
        record: SignedIn {
            user: user.clone(),
            method: method.to_owned(),
            address: addr.clone(),
        },
    });
    auth::record(app, &format!("web:{user}"), now, event).await;
    id
}

async fn totp_submit(
    State(app): State<App>,
    Now(now): Now,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> WebResult<Response> {
    let (id, s) = step_session(&app, &headers, now, &f.csrf)?;
    if s.stage != Stage::NeedTotp {
        return Ok(see_other(stage_path(&s.stage)));
    }
    let name = s.user.clone().unwrap_or_default();
    let keys = limiter_keys(&name, &addr);
    if let Some(e) = rate_limited(&app, &keys, &name, now) {
        return Err(e);
    }
    let user = {
        let name = name.clone();
        app.store.read_async(move |r| r.user(&name)).await?
    }
    .ok_or_else(WebError::unauthenticated)?;
    let code = f.code.trim().to_owned();
    let method = if code.chars().all(|c| c.is_ascii_digit() || c == ' ') {
        auth::check_user_totp(&app, &user, &code, now)
            .await?
            .then_some("password+totp")
    } else if use_recovery_code(&app, &user, &code, now).await? {
        Some("password+recovery_code")
    } else {
        None
    };
    let Some(method) = method else {
        app.limiter.fail(&keys, now);
        record_failure(&app, &name, "wrong code", &addr, now).await;
        let res = page(&TotpPage {
            chrome: Chrome::anonymous("Authenticator code", &s.csrf),
            error: Some("That code is not right (or was used already).".into()),
        })?;
        return Ok((StatusCode::UNAUTHORIZED, res).into_response());
    };
    let next = s.next.clone().unwrap_or_else(|| "/".into());
    let new_id = complete(&app, &id, s, method, &addr, now).await;
    Ok(with_cookie(&app, &new_id, see_other(&next)))
}

/// Uses up a recovery code if it is one of the user's.
async fn use_recovery_code(
    app: &App,
    user: &gatehouse_store::users::UserRow,
    code: &str,
    now: Timestamp,
) -> WebResult<bool> {
    let u = user.clone();
    let stored = app
        .store
        .read_async(move |r| r.credential(&u, CredentialKind::RecoveryCodes))
        .await?;
    let Some(stored) = stored else {
        return Ok(false);
    };
    let given = gatehouse_store::users::credential_digest(&code.to_lowercase());
    let hashes: Vec<&str> = stored.lines().collect();
    if !hashes
        .iter()
        .any(|h| auth::csrf_matches(h, Some(given.as_str())))
    {
        return Ok(false);
    }
    let left: Vec<&str> = hashes.into_iter().filter(|h| *h != given).collect();
    let left = (!left.is_empty()).then(|| left.join("\n"));
    let name = user.name.clone();
    app.store
        .write_async(format!("web:{name}"), now, move |w| {
            w.set_credential(&name, CredentialKind::RecoveryCodes, left.as_deref(), false)
        })
        .await?;
    Ok(true)
}

async fn password_form(
    State(app): State<App>,
    Now(now): Now,
    headers: HeaderMap,
) -> WebResult<Response> {
    let (_, s) = match at_stage(&app, &headers, now, Stage::ChangePassword) {
        Ok(x) => x,
        Err(r) => return Ok(*r),
    };
    page(&PasswordPage {
        chrome: Chrome::anonymous("Choose your password", &s.csrf),
        error: None,
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    password: String,
    confirm: String,
}

async fn password_submit(
    State(app): State<App>,
    Now(now): Now,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> WebResult<Response> {
    let (id, s) = step_session(&app, &headers, now, &f.csrf)?;
    if s.stage != Stage::ChangePassword {
        return Ok(see_other(stage_path(&s.stage)));
    }
    let name = s.user.clone().unwrap_or_default();
    if let Err(why) = password::check_new(&f.password, &f.confirm, &name) {
        let res = page(&PasswordPage {
            chrome: Chrome::anonymous("Choose your password", &s.csrf),
            error: Some(why),
        })?;
        return Ok((StatusCode::BAD_REQUEST, res).into_response());
    }
    let given = f.password.clone();
    let phc = tokio::task::spawn_blocking(move || password::hash(&given))
        .await
        .map_err(WebError::internal)?
        .map_err(WebError::internal)?;
    let user = {
        let name = name.clone();
        app.store
            .write_async(format!("web:{name}"), now, move |w| {
                w.set_credential(&name, CredentialKind::Password, Some(&phc), false)?;
                w.read()?.user(&name)
            })
            .await?
    }
    .ok_or_else(WebError::unauthenticated)?;
    app.changed();
    let stage = if user.has_totp() {
        Stage::NeedTotp
    } else {
        Stage::EnrolTotp
    };
    let target = stage_path(&stage);
    let new_id = app.sessions.rotate(&id, Session { stage, ..s });
    Ok(with_cookie(&app, &new_id, see_other(target)))
}

async fn enrol_form(
    State(app): State<App>,
    Now(now): Now,
    headers: HeaderMap,
) -> WebResult<Response> {
    let (id, mut s) = match at_stage(&app, &headers, now, Stage::EnrolTotp) {
        Ok(x) => x,
        Err(r) => return Ok(*r),
    };
    let secret = match &s.enrolling {
        Some(secret) => secret.clone(),
        None => {
            let secret = totp::new_secret();
            s.enrolling = Some(secret.clone());
            app.sessions.update(&id, s.clone());
            secret
        }
    };
    enrol_page(&app, &s, secret, None)
}

fn enrol_page(
    app: &App,
    s: &Session,
    secret: String,
    error: Option<String>,
) -> WebResult<Response> {
    let user = s.user.clone().unwrap_or_default();
    page(&EnrolPage {
        chrome: Chrome::anonymous("Set up your second factor", &s.csrf),
        error,
        qr: totp::qr_svg(&totp::uri(&app.config.totp_issuer, &user, &secret)),
        secret,
    })
}

async fn enrol_submit(
    State(app): State<App>,
    Now(now): Now,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> WebResult<Response> {
    let (id, s) = step_session(&app, &headers, now, &f.csrf)?;
    if s.stage != Stage::EnrolTotp {
        return Ok(see_other(stage_path(&s.stage)));
    }
    let name = s.user.clone().unwrap_or_default();
    let Some(secret) = s.enrolling.clone() else {
        return Ok(see_other("/login/enrol"));
    };
    if !auth::accept_totp(&app, &name, &secret, &f.code, now) {
        let res = enrol_page(
            &app,
            &s,
            secret,
            Some("That code is not right; try the next one the app shows.".into()),
        )?;
        return Ok((StatusCode::BAD_REQUEST, res).into_response());
    }
    let codes: Vec<String> = (0..10).map(|_| password::random_words(3)).collect();
    let hashes = codes
        .iter()
        .map(|c| gatehouse_store::users::credential_digest(c))
        .collect::<Vec<_>>()
        .join("\n");
    {
        let name = name.clone();
        app.store
            .write_async(format!("web:{name}"), now, move |w| {
                w.set_credential(&name, CredentialKind::Totp, Some(&secret), false)?;
                w.set_credential(&name, CredentialKind::RecoveryCodes, Some(&hashes), false)
            })
            .await?;
    }
    let next = s.next.clone().unwrap_or_else(|| "/".into());
    let new_id = complete(&app, &id, s, "password+totp (enrolled)", &addr, now).await;
    let session = app
        .sessions
        .get(&new_id, now)
        .ok_or_else(|| WebError::internal("the new session is gone"))?;
    let res = page(&RecoveryPage {
        chrome: Chrome::anonymous("Your recovery codes", &session.csrf),
        codes,
        next,
    })?;
    Ok(with_cookie(&app, &new_id, res))
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: Option<String>,
}

async fn logout(
    State(app): State<App>,
    Now(now): Now,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> WebResult<Response> {
    if let Some((id, s)) = current(&app, &headers, now) {
        if !auth::csrf_matches(&s.csrf, f.csrf.as_deref()) {
            return Err(WebError::csrf());
        }
        app.sessions.end(&id);
    }
    let mut res = see_other("/login");
    if let Ok(v) = auth::clear_cookie(&app).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}
