//! Who is asking: sessions (pages, and the API from the browser) and API tokens (automation);
//! what they may do ([`policy`]); anti-forgery tokens; a fresh second factor for privileged
//! actions; and the events that record sign-ins and refusals.

pub mod known;
pub mod limiter;
pub mod password;
pub mod policy;
pub mod session;
pub mod totp;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use gatehouse_model::{
    AccessDenied, CredentialKind, ErrorCode, Stamped, Timestamp, TokenCreated, UserEvent,
};
use gatehouse_store::users::{ApiTokenRow, UserRow, credential_digest};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::middleware::{Now, RequestCtx, RequestId};
use crate::{App, WebError, WebResult};

pub use policy::{Action, Decision, Scope};
pub use session::{Session, Stage};

/// `N` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // Without the operating system's randomness nothing secret can be made; the zero bytes
    // that would remain are caught by the callers' checks only in theory, so fail hard.
    if let Err(e) = getrandom::fill(&mut b) {
        tracing::error!(error = %e, "no randomness from the operating system");
        std::process::abort();
    }
    b
}

/// `n` random bytes as URL-safe base64.
pub fn random_token(n: usize) -> String {
    let b = random_bytes::<64>();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&b[..n.min(64)])
}

/// The session cookie's name: `__Host-` prefixed when cookies are `Secure`, so that no
/// subdomain or plain-HTTP page can set it.
pub fn cookie_name(app: &App) -> &'static str {
    if app.config.secure_cookies {
        "__Host-gatehouse_session"
    } else {
        "gatehouse_session"
    }
}

/// The `Set-Cookie` value that gives the browser a session id.
pub fn session_cookie(app: &App, id: &str) -> String {
    let secure = if app.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        cookie_name(app),
        app.config.session_lifetime.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(app: &App) -> String {
    let secure = if app.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
        cookie_name(app)
    )
}

/// The session id the request's cookie carries.
pub fn session_id(app: &App, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(app);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The client's address: the connection's, or the first of `X-Forwarded-For` when the server
/// trusts its proxy.
pub fn client_address(app: &App, parts: &Parts) -> Option<String> {
    if app.config.trust_forwarded
        && let Some(v) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        && let Some(first) = v.split(',').next()
    {
        let first = first.trim();
        if !first.is_empty() && first.len() <= 64 {
            return Some(first.to_owned());
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<crate::tls::PeerAddr>>()
        .map(|c| c.0.0.ip().to_string())
}

/// How the request authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    /// A browser session.
    Session {
        /// The session id (never logged).
        id: String,
        /// The session.
        session: Session,
    },
    /// An API token.
    Token {
        /// The token's public id.
        id: String,
        /// Its scopes.
        scopes: Vec<Scope>,
    },
}

/// A signed-in user, or a token acting as one.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user.
    pub user: UserRow,
    /// How.
    pub via: Via,
    /// The request's time.
    pub now: Timestamp,
    /// The request's id.
    pub request: String,
    /// The method and path asked for.
    pub action: String,
}

impl Principal {
    /// Who acts, as recorded in events: `web:<user>`, or `token:<id>` for a token.
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Session { .. } => format!("web:{}", self.user.name),
            Via::Token { id, .. } => format!("token:{id}:{}", self.user.name),
        }
    }

    /// The session's anti-forgery token (empty for API tokens, which need none).
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { session, .. } => &session.csrf,
            Via::Token { .. } => "",
        }
    }

    /// Checks a form's or header's anti-forgery token; API tokens carry no ambient authority
    /// and need none.
    pub fn check_csrf(&self, given: Option<&str>) -> WebResult<()> {
        match &self.via {
            Via::Token { .. } => Ok(()),
            Via::Session { session, .. } => {
                if csrf_matches(&session.csrf, given) {
                    Ok(())
                } else {
                    Err(WebError::csrf())
                }
            }
        }
    }

    /// Decides an action; a refusal is recorded as an event and answered 403, or 404 for
    /// something the user may not know exists.
    pub async fn authorize(&self, app: &App, action: Action<'_>) -> WebResult<()> {
        let scopes = match &self.via {
            Via::Token { scopes, .. } => Some(scopes.as_slice()),
            Via::Session { .. } => None,
        };
        let decision = policy::decide(&self.user, scopes, &action);
        match decision {
            Decision::Allow => Ok(()),
            Decision::Forbidden(why) => {
                self.record_denial(app, &action).await;
                Err(WebError::forbidden(why))
            }
            Decision::Hidden => {
                self.record_denial(app, &action).await;
                Err(WebError::not_found("there is nothing here you may see"))
            }
        }
    }

    /// Refuses an action that the role allows but this case does not (someone deciding on
    /// their own access): recorded as a denial, answered 403 with `why`.
    pub async fn refuse(&self, app: &App, action: Action<'_>, why: &'static str) -> WebError {
        self.record_denial(app, &action).await;
        WebError::forbidden(why)
    }

    async fn record_denial(&self, app: &App, action: &Action<'_>) {
        app.metrics
            .denials
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let who = match &self.via {
            Via::Session { .. } => self.user.name.clone(),
            Via::Token { id, .. } => format!("token:{id}"),
        };
        tracing::warn!(request_id = %self.request, user = %who, action = %self.action, refused = ?action, "access denied");
        let event = UserEvent::AccessDenied(Stamped {
            as_of: self.now,
            import: None,
            record: AccessDenied {
                user: who,
                action: format!("{} ({})", self.action, action.name()),
                request: self.request.clone(),
            },
        });
        record(app, &self.actor(), self.now, event).await;
    }

    /// Requires a second factor given with this request (`code`) or within the fresh window
    /// for a privileged action. API tokens cannot do privileged actions.
    pub async fn second_factor(&self, app: &App, code: Option<&str>) -> WebResult<()> {
        let Via::Session { id, session } = &self.via else {
            return Err(WebError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::SecondFactorRequired,
                "this action needs a person with a second factor; API tokens cannot do it",
            ));
        };
        let fresh = app.config.fresh_second_factor.as_secs() as i64;
        if session
            .second_factor_at
            .is_some_and(|t| self.now.as_second() - t.as_second() <= fresh)
        {
            return Ok(());
        }
        let code = code.map(str::trim).filter(|c| !c.is_empty());
        let Some(code) = code else {
            return Err(second_factor_error());
        };
        if !check_user_totp(app, &self.user, code, self.now).await? {
            return Err(second_factor_error());
        }
        let mut s = session.clone();
        s.second_factor_at = Some(self.now);
        app.sessions.update(id, s);
        Ok(())
    }
}

fn second_factor_error() -> WebError {
    WebError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::SecondFactorRequired,
        "this action needs the current code from your authenticator app",
    )
}

/// Whether a given anti-forgery token is the session's (compared in constant time).
pub fn csrf_matches(expected: &str, given: Option<&str>) -> bool {
    match given {
        Some(g) if !expected.is_empty() => bool::from(g.as_bytes().ct_eq(expected.as_bytes())),
        _ => false,
    }
}

/// Checks a TOTP code against the user's enrolled seed, refusing a code already used.
pub async fn check_user_totp(
    app: &App,
    user: &UserRow,
    code: &str,
    now: Timestamp,
) -> WebResult<bool> {
    let u = user.clone();
    let secret = app
        .store
        .read_async(move |r| r.credential(&u, CredentialKind::Totp))
        .await?;
    let Some(secret) = secret else {
        return Ok(false);
    };
    Ok(accept_totp(app, &user.name, &secret, code, now))
}

/// Checks a code against a seed and remembers its time step, so that it is not accepted twice.
pub fn accept_totp(app: &App, user: &str, secret: &str, code: &str, now: Timestamp) -> bool {
    let Some(step) = totp::check(secret, code, now) else {
        return false;
    };
    let Ok(mut used) = app.totp_used.lock() else {
        return false;
    };
    if used.get(user).is_some_and(|last| *last >= step) {
        return false;
    }
    used.insert(user.to_owned(), step);
    true
}

/// Records a users-domain event; a failure is logged (the request it describes is answered
/// anyway).
pub async fn record(app: &App, actor: &str, now: Timestamp, event: UserEvent) {
    let result = app
        .store
        .write_async(actor.to_owned(), now, move |w| w.record_user_event(event))
        .await;
    match result {
        Ok(_) => app.changed(),
        Err(e) => tracing::error!(error = %e, "cannot record a users event"),
    }
}

/// Splits `gh_<id>_<secret>`.
fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("gh_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() >= 32)
        .then_some((id, secret))
}

/// A new API token for `user`: the text to hand over once, and the event record.
pub fn new_token(user: &str, scopes: &[Scope], expires_at: Timestamp) -> (String, TokenCreated) {
    let id = hex::encode(random_bytes::<6>());
    let secret = random_token(32);
    let record = TokenCreated {
        id: id.clone(),
        user: user.to_owned(),
        scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        expires_at,
        digest: credential_digest(&secret),
    };
    (format!("gh_{id}_{secret}"), record)
}

/// Whether a token's secret matches its stored digest (in constant time).
fn token_matches(row: &ApiTokenRow, secret: &str) -> bool {
    let digest = hex::encode(Sha256::digest(secret.as_bytes()));
    bool::from(digest.as_bytes().ct_eq(row.digest.as_bytes()))
}

fn token_invalid() -> WebError {
    WebError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::TokenInvalid,
        "the API token is unknown, expired or revoked",
    )
}

impl FromRequestParts<App> for Principal {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Now(now) = Now::from_request_parts(parts, app).await?;
        let request = RequestId::from_request_parts(parts, app)
            .await
            .map(|r| r.0)
            .unwrap_or_default();
        let action = format!("{} {}", parts.method, parts.uri.path());
        if let Some(auth) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = auth
                .strip_prefix("Bearer ")
                .map(str::trim)
                .ok_or_else(token_invalid)?;
            let (id, secret) = parse_token(token).ok_or_else(token_invalid)?;
            let id = id.to_owned();
            let found = {
                let id = id.clone();
                app.store
                    .read_async(move |r| {
                        let Some(t) = r.api_token(&id)? else {
                            return Ok::<_, gatehouse_store::StoreError>(None);
                        };
                        let u = r.user(&t.user)?;
                        Ok(u.map(|u| (t, u)))
                    })
                    .await?
            };
            let Some((row, user)) = found else {
                return Err(token_invalid());
            };
            if !token_matches(&row, secret)
                || row.revoked_at.is_some()
                || row.expires_at <= now
                || user.disabled
            {
                return Err(token_invalid());
            }
            let scopes = row.scopes.iter().filter_map(|s| s.parse().ok()).collect();
            RequestCtx::set_signed_in();
            return Ok(Principal {
                user,
                via: Via::Token { id, scopes },
                now,
                request,
                action,
            });
        }
        let id = session_id(app, &parts.headers).ok_or_else(WebError::unauthenticated)?;
        let session = app
            .sessions
            .get(&id, now)
            .filter(|s| s.stage == Stage::Full)
            .ok_or_else(WebError::unauthenticated)?;
        let name = session.user.clone().unwrap_or_default();
        // Read before the record, so that a change committed meanwhile is seen next time.
        let version = app.store.users_version();
        let user = match app.users.get(&name, version) {
            Some(user) => Some(user),
            None => {
                let name = name.clone();
                let user = app.store.read_async(move |r| r.user(&name)).await?;
                if let Some(u) = &user {
                    app.users.put(u, version);
                }
                user
            }
        };
        let user = user.filter(|u| !u.disabled).ok_or_else(|| {
            app.users.forget(&name);
            app.sessions.end(&id);
            WebError::unauthenticated()
        })?;
        RequestCtx::set_signed_in();
        Ok(Principal {
            user,
            via: Via::Session { id, session },
            now,
            request,
            action,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_and_match() {
        let t: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let (text, rec) = new_token("ada", &[Scope::Read], t);
        let (id, secret) = parse_token(&text).unwrap();
        assert_eq!(id, rec.id);
        let row = ApiTokenRow {
            id: rec.id.clone(),
            user: "ada".into(),
            scopes: rec.scopes.clone(),
            digest: rec.digest.clone(),
            created_at: t,
            expires_at: t,
            revoked_at: None,
        };
        assert!(token_matches(&row, secret));
        assert!(!token_matches(&row, "x"));
        assert!(parse_token("gh_zz_secret").is_none());
        assert!(csrf_matches("abc", Some("abc")));
        assert!(!csrf_matches("abc", Some("abd")));
        assert!(!csrf_matches("", Some("")));
        assert!(!csrf_matches("abc", None));
    }
}
