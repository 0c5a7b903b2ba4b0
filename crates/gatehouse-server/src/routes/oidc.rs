//! OpenID Connect sign-in (authorization code with PKCE): `/login/oidc` sends the browser to
//! the configured provider, `/login/oidc/callback` takes the code back, checks the ID token
//! (signature, issuer, audience, nonce) and maps its subject — or, the first time, its e-mail
//! — to a Gatehouse user. The first match records the subject on the user (an event), so the
//! mapping cannot move to another user later. The provider's own second factor applies;
//! privileged actions still ask for the user's Gatehouse authenticator code.

use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use gatehouse_model::{ErrorCode, SignedIn, Stamped, UserEvent};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;

use crate::auth::session::OidcPending;
use crate::auth::{self, Session, Stage};
use crate::middleware::Now;
use crate::routes::see_other;
use crate::routes::signin::{ClientAddr, record_failure, with_cookie};
use crate::{App, OidcSettings, WebError, WebResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/login/oidc", get(start))
        .route("/login/oidc/callback", get(callback))
}

/// An error talking to the provider.
#[derive(Debug)]
pub struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// The HTTP client the OpenID Connect library uses: ureq (rustls), synchronous, on a blocking
/// thread.
fn http(req: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, HttpError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut res = agent.run(req).map_err(|e| HttpError(e.to_string()))?;
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .body_mut()
        .read_to_vec()
        .map_err(|e| HttpError(e.to_string()))?;
    let mut out = openidconnect::HttpResponse::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

fn unavailable(e: impl std::fmt::Display) -> WebError {
    tracing::error!(error = %e, "OpenID Connect provider");
    WebError::new(
        StatusCode::BAD_GATEWAY,
        ErrorCode::SignInFailed,
        "the identity provider cannot be reached or answered wrongly; the server's log has the detail",
    )
}

/// How long the provider's metadata and signing keys are used before they are fetched again
/// (providers publish a new key well before they sign with it).
const METADATA_FOR: Duration = Duration::from_secs(10 * 60);

/// The provider's metadata with its signing keys (discovery, then its `jwks_uri`), fetched
/// again after [`METADATA_FOR`].
async fn metadata(app: &App, settings: &OidcSettings) -> WebResult<CoreProviderMetadata> {
    if let Ok(m) = app.oidc_metadata.lock()
        && let Some((fetched, m)) = m.as_ref()
        && fetched.elapsed() < METADATA_FOR
    {
        return Ok(m.clone());
    }
    let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(unavailable)?;
    let found = tokio::task::spawn_blocking(move || CoreProviderMetadata::discover(&issuer, &http))
        .await
        .map_err(WebError::internal)?
        .map_err(unavailable)?;
    if let Ok(mut m) = app.oidc_metadata.lock() {
        *m = Some((std::time::Instant::now(), found.clone()));
    }
    Ok(found)
}

fn settings(app: &App) -> WebResult<OidcSettings> {
    app.config
        .oidc
        .clone()
        .ok_or_else(|| WebError::not_found("OpenID Connect sign-in is not configured"))
}

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
}

async fn start(
    State(app): State<App>,
    Now(now): Now,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> WebResult<Response> {
    let s = settings(&app)?;
    let meta = metadata(&app, &s).await?;
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(s.client_id.clone()),
        Some(ClientSecret::new(s.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(s.redirect_url.clone()).map_err(unavailable)?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = OidcPending {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
    };
    let (id, session) = match auth::session_id(&app, &headers).and_then(|id| {
        let s = app.sessions.get(&id, now)?;
        Some((id, s))
    }) {
        Some(x) => x,
        None => app.sessions.anonymous(now),
    };
    let next = Session {
        oidc: Some(Box::new(pending)),
        next: Some(crate::routes::signin::safe_next(q.next.as_deref())),
        stage: Stage::Anonymous,
        user: None,
        ..session
    };
    let new_id = app.sessions.rotate(&id, next);
    Ok(with_cookie(&app, &new_id, see_other(url.as_str())))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(app): State<App>,
    Now(now): Now,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> WebResult<Response> {
    let s = settings(&app)?;
    let refused = || {
        WebError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::SignInFailed,
            "the sign-in with the identity provider did not succeed; start again from the sign-in page",
        )
    };
    let (id, session) = auth::session_id(&app, &headers)
        .and_then(|id| {
            let s = app.sessions.get(&id, now)?;
            Some((id, s))
        })
        .ok_or_else(refused)?;
    let Some(pending) = session.oidc.clone() else {
        return Err(refused());
    };
    if let Some(e) = &q.error {
        record_failure(
            &app,
            "(oidc)",
            &format!("provider refused: {e}"),
            &addr,
            now,
        )
        .await;
        return Err(refused());
    }
    // The state ties the callback to the browser that started the sign-in (CSRF).
    if !auth::csrf_matches(&pending.state, q.state.as_deref()) {
        record_failure(&app, "(oidc)", "state does not match", &addr, now).await;
        return Err(WebError::csrf());
    }
    let code = q.code.ok_or_else(refused)?;
    let meta = metadata(&app, &s).await?;
    let settings = s.clone();
    let exchanged = tokio::task::spawn_blocking(move || {
        let client = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(settings.client_id.clone()),
            Some(ClientSecret::new(settings.client_secret.clone())),
        )
        .set_redirect_uri(
            RedirectUrl::new(settings.redirect_url.clone()).map_err(|e| e.to_string())?,
        );
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| e.to_string())?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request(&http)
            .map_err(|e| format!("token exchange: {e}"))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| "the provider sent no ID token".to_string())?;
        let claims = id_token
            .claims(
                &client.id_token_verifier(),
                &Nonce::new(pending.nonce.clone()),
            )
            .map_err(|e| format!("ID token: {e}"))?;
        let subject = claims.subject().clone();
        let mut email = claims
            .email()
            .filter(|_| claims.email_verified() != Some(false))
            .map(|e| e.as_str().to_owned());
        // Many providers put the e-mail in the UserInfo answer rather than the ID token (the
        // specification's default for the code flow): ask there, for the same subject.
        if email.is_none()
            && let Ok(request) =
                client.user_info(token.access_token().clone(), Some(subject.clone()))
        {
            let info: CoreUserInfoClaims = request
                .request(&http)
                .map_err(|e| format!("UserInfo: {e}"))?;
            email = info
                .email()
                .filter(|_| info.email_verified() != Some(false))
                .map(|e| e.as_str().to_owned());
        }
        Ok::<_, String>((subject.as_str().to_owned(), email))
    })
    .await
    .map_err(WebError::internal)?;
    let (subject, email) = match exchanged {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, "OpenID Connect sign-in refused");
            let why: String = format!("token or ID token refused: {e}")
                .chars()
                .take(300)
                .collect();
            record_failure(&app, "(oidc)", &why, &addr, now).await;
            return Err(refused());
        }
    };
    let (sub, mail) = (subject.clone(), email.clone());
    let user = app
        .store
        .read_async(move |r| r.user_for_oidc(&sub, mail.as_deref()))
        .await?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        let shown = email.clone().unwrap_or_else(|| format!("oidc:{subject}"));
        record_failure(
            &app,
            &shown,
            "no Gatehouse user for this OpenID Connect identity",
            &addr,
            now,
        )
        .await;
        return Err(WebError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::SignInFailed,
            "the identity provider signed you in, but no Gatehouse user matches that identity; ask an admin to add you",
        ));
    };
    let actor = format!("web:{}", user.name);
    if user.oidc_subject.is_none() {
        let mut record = user.record();
        record.oidc_subject = Some(subject.clone());
        app.store
            .write_async(actor.clone(), now, move |w| w.change_user(record))
            .await?;
    }
    let next = session.next.clone().unwrap_or_else(|| "/".into());
    let new_id = app.sessions.rotate(
        &id,
        Session {
            user: Some(user.name.clone()),
            stage: Stage::Full,
            second_factor_at: None,
            oidc: None,
            enrolling: None,
            ..session
        },
    );
    app.metrics
        .sign_ins
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(user = %user.name, method = "oidc", "signed in");
    let event = UserEvent::SignedIn(Stamped {
        as_of: now,
        import: None,
        record: SignedIn {
            user: user.name.clone(),
            method: "oidc".into(),
            address: addr,
        },
    });
    auth::record(&app, &actor, now, event).await;
    Ok(with_cookie(&app, &new_id, see_other(&next)))
}
