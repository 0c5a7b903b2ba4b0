//! `policy/notify.toml`: the SMTP server, the webhooks, the alert routes and the templates.
//! Secrets are read from files or the environment, never from this file itself: the SMTP
//! password from `GATEHOUSE_SMTP_PASSWORD`, `GATEHOUSE_SMTP_PASSWORD_FILE` or
//! `password_file`; a webhook's URL from the environment variable `url_env` names or the file
//! `url_file` names.

use std::path::{Path, PathBuf};

use gatehouse_workflow::campaigns::notify::{Route, Routing};
use serde::Deserialize;

use crate::NotifyError;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
    /// No encryption: only to a relay on this machine (loopback).
    None,
}

/// The SMTP server.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    /// Host name (also the name its certificate must carry).
    pub host: String,
    /// Port (default 587 with STARTTLS, 465 with TLS, 25 without).
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is protected.
    #[serde(default)]
    pub security: Security,
    /// The user to authenticate as, if the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// A file holding the password (mode 0600); the environment may give it instead.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The sender: `Gatehouse <gatehouse@example.com>`.
    pub from: String,
    /// A PEM file of extra trusted root certificates (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for the server.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// The resolved password (never printed).
    #[serde(skip)]
    pub password: Option<String>,
}

fn default_timeout() -> u64 {
    30
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .finish()
    }
}

/// The payload a webhook takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// Slack incoming webhooks (and Mattermost, Rocket.Chat): `{"text": …}`.
    #[default]
    Slack,
    /// Microsoft Teams incoming webhooks: a message card.
    Teams,
}

/// A chat webhook.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Its name, used in routes (`webhook:security`) and records.
    pub name: String,
    /// Its payload.
    #[serde(default)]
    pub kind: WebhookKind,
    /// The environment variable holding its URL.
    #[serde(default)]
    pub url_env: Option<String>,
    /// A file holding its URL.
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// The resolved URL (a secret: never printed).
    #[serde(skip)]
    pub url: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"***")
            .finish()
    }
}

/// Digest settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Digest {
    /// Webhooks that also get every digest (a team channel).
    pub webhooks: Vec<String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// The SMTP server; without one, e-mail cannot be sent (and is recorded as failed).
    pub smtp: Option<Smtp>,
    /// Chat webhooks.
    #[serde(rename = "webhook")]
    pub webhooks: Vec<Webhook>,
    /// Alert routes.
    #[serde(rename = "route")]
    pub routes: Vec<Route>,
    /// Digests.
    pub digest: Digest,
    /// The web UI's address, for links.
    pub base_url: Option<String>,
    /// Alerts only about findings first seen within this many days (default 7).
    pub alert_max_age_days: Option<u32>,
    /// A folder of templates replacing the built-in ones (same names).
    pub templates: Option<PathBuf>,
}

fn secret_file(path: &Path) -> Result<String, NotifyError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| NotifyError::Settings(format!("cannot read `{}`: {e}", path.display())))
}

fn loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
}

impl NotifySettings {
    /// Reads the settings from TOML text (`origin` names it in errors; relative paths are
    /// relative to `base`), resolving secrets from files and the environment.
    pub fn from_toml(text: &str, origin: &str, base: &Path) -> Result<NotifySettings, NotifyError> {
        let mut s: NotifySettings = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|sp| text[..sp.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            NotifyError::Settings(format!("{origin}:{line}: {}", e.message().trim()))
        })?;
        let rel = |p: &Path| {
            if p.is_absolute() {
                p.to_owned()
            } else {
                base.join(p)
            }
        };
        if let Some(t) = &s.templates {
            s.templates = Some(rel(t));
        }
        if let Some(smtp) = &mut s.smtp {
            if smtp.security == Security::None && !loopback(&smtp.host) {
                return Err(NotifyError::Settings(format!(
                    "{origin}: [smtp] security = \"none\" sends mail unencrypted and is allowed \
                     only to a relay on this machine, not to `{}`; use starttls or tls",
                    smtp.host
                )));
            }
            if let Some(ca) = &smtp.ca_file {
                smtp.ca_file = Some(rel(ca));
            }
            smtp.password = match (
                std::env::var("GATEHOUSE_SMTP_PASSWORD").ok(),
                std::env::var_os("GATEHOUSE_SMTP_PASSWORD_FILE"),
                &smtp.password_file,
            ) {
                (Some(p), _, _) => Some(p),
                (None, Some(f), _) => Some(secret_file(Path::new(&f))?),
                (None, None, Some(f)) => Some(secret_file(&rel(f))?),
                _ => None,
            };
            if smtp.username.is_some() && smtp.password.is_none() {
                return Err(NotifyError::Settings(format!(
                    "{origin}: [smtp] names a username but no password: set \
                     GATEHOUSE_SMTP_PASSWORD(_FILE) or password_file"
                )));
            }
        }
        for w in &mut s.webhooks {
            w.url = match (&w.url_env, &w.url_file) {
                (Some(var), _) => std::env::var(var).map_err(|_| {
                    NotifyError::Settings(format!(
                        "{origin}: webhook `{}` takes its URL from ${var}, which is not set",
                        w.name
                    ))
                })?,
                (None, Some(f)) => secret_file(&rel(f))?,
                (None, None) => {
                    return Err(NotifyError::Settings(format!(
                        "{origin}: webhook `{}` needs url_env or url_file (its URL carries a \
                         secret and is not written in this file)",
                        w.name
                    )));
                }
            };
            if !(w.url.starts_with("https://")
                || w.url.starts_with("http://127.0.0.1")
                || w.url.starts_with("http://localhost"))
            {
                return Err(NotifyError::Settings(format!(
                    "{origin}: webhook `{}` must be an https:// URL",
                    w.name
                )));
            }
        }
        for r in &s.routes {
            for to in &r.to {
                let ok = match to.split_once(':') {
                    Some(("email", a)) => a.contains('@'),
                    Some(("webhook", n)) => s.webhooks.iter().any(|w| w.name == n),
                    _ => to == "owner",
                };
                if !ok {
                    return Err(NotifyError::Settings(format!(
                        "{origin}: route recipient `{to}` is not `email:address`, \
                         `webhook:<a configured webhook>` or `owner`"
                    )));
                }
            }
        }
        for n in &s.digest.webhooks {
            if !s.webhooks.iter().any(|w| &w.name == n) {
                return Err(NotifyError::Settings(format!(
                    "{origin}: [digest] names webhook `{n}`, which is not configured"
                )));
            }
        }
        Ok(s)
    }

    /// The routing the workflow needs.
    pub fn routing(&self) -> Routing {
        Routing {
            routes: self.routes.clone(),
            digest_webhooks: self.digest.webhooks.clone(),
            base_url: self.base_url.clone(),
            alert_max_age_days: self.alert_max_age_days.unwrap_or(7),
        }
    }
}
