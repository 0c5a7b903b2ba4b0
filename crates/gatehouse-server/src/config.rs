//! The server's settings, resolved by the binary from `[server]` in `gatehouse.toml`, the
//! environment and flags (see docs/server.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gatehouse_analysis::{Policy, Ruleset};
use gatehouse_ledger::{NoteSigner, NoteVerifier};
use gatehouse_notify::NotifySettings;
use gatehouse_workflow::Witnesses;
use gatehouse_workflow::campaigns::ReviewPolicy;

/// A certificate chain and its private key, in PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain (leaf first).
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// OpenID Connect sign-in: an identity provider, and this server as its client.
#[derive(Clone)]
pub struct OidcSettings {
    /// The provider's issuer URL (discovery at `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// This server's client id at the provider.
    pub client_id: String,
    /// Its client secret (read from a file; never logged).
    pub client_secret: String,
    /// Where the provider sends the browser back: this server's `/login/oidc/callback`, as the
    /// browser reaches it.
    pub redirect_url: String,
    /// The button's text: "Sign in with …".
    pub label: String,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .finish_non_exhaustive()
    }
}

/// How the server runs.
#[derive(Clone)]
pub struct ServerConfig {
    /// Where it listens.
    pub listen: SocketAddr,
    /// Serve HTTPS with these files; plain HTTP (behind a reverse proxy) without.
    pub tls: Option<TlsFiles>,
    /// Mark cookies `Secure` (and name the session cookie `__Host-…`). On by default; a
    /// server reached over plain HTTP other than on localhost needs a TLS proxy in front.
    pub secure_cookies: bool,
    /// Take the client's address from `X-Forwarded-For` (only behind a reverse proxy that
    /// sets it).
    pub trust_forwarded: bool,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however busy.
    pub session_lifetime: Duration,
    /// How long a second factor counts as fresh for privileged actions.
    pub fresh_second_factor: Duration,
    /// Failed sign-ins allowed per user name and per address within `sign_in_window`.
    pub sign_in_attempts: u32,
    /// The window failed sign-ins are counted in.
    pub sign_in_window: Duration,
    /// Sign a checkpoint at least this often (when the log grew); `None`: only after changes.
    pub checkpoint_interval: Option<Duration>,
    /// The ledger's signing key (no checkpoints are signed without it).
    pub signer: Option<NoteSigner>,
    /// The key `verify now` trusts (default: the signer's public half).
    pub trusted_key: Option<NoteVerifier>,
    /// The witnesses that cosign checkpoints.
    pub witnesses: Witnesses,
    /// Where new checkpoints are also written.
    pub publish_dir: Option<PathBuf>,
    /// The analysis policy (acceptance limits, rules).
    pub policy: Policy,
    /// The segregation-of-duties ruleset.
    pub sod: Ruleset,
    /// The review policy: scopes, schedules, who runs campaigns.
    pub reviews: ReviewPolicy,
    /// Where notifications go (e-mail, webhooks); none are sent without.
    pub notify: Option<NotifySettings>,
    /// The issuer shown in authenticator apps.
    pub totp_issuer: String,
    /// OpenID Connect sign-in, when configured.
    pub oidc: Option<OidcSettings>,
}

impl ServerConfig {
    /// Defaults for a server on `listen` with no key, no witnesses and the built-in policy.
    pub fn new(listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            listen,
            tls: None,
            secure_cookies: true,
            trust_forwarded: false,
            session_idle: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
            fresh_second_factor: Duration::from_secs(5 * 60),
            sign_in_attempts: 5,
            sign_in_window: Duration::from_secs(15 * 60),
            checkpoint_interval: Some(Duration::from_secs(3600)),
            signer: None,
            trusted_key: None,
            witnesses: Witnesses::none(),
            publish_dir: None,
            policy: Policy::default(),
            sod: Ruleset::default(),
            reviews: ReviewPolicy::default(),
            notify: None,
            totp_issuer: "Gatehouse".into(),
            oidc: None,
        }
    }

    /// The key `verify now` trusts.
    pub fn verifier(&self) -> Option<NoteVerifier> {
        self.trusted_key
            .clone()
            .or_else(|| self.signer.as_ref().map(NoteSigner::verifier))
    }
}
