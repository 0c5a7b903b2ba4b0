//! Notifications: e-mail over SMTP (STARTTLS or implicit TLS through rustls; plain text only
//! to a relay on this machine), chat webhooks (Slack- and Teams-compatible payloads), and the
//! routing of alerts — from `policy/notify.toml` (documented in docs/reviews.md).
//!
//! What to send, and recording what was sent, is the workflow's
//! (`gatehouse_workflow::campaigns::notify`); this crate renders messages with templates a
//! company can change (minijinja, built-in defaults overridable from a folder), sends them,
//! and reports each outcome so that it is recorded. Secrets (the SMTP password, webhook
//! URLs, which carry a token) come from files or the environment and are never printed:
//! errors name the webhook, not its URL.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod send;
mod settings;
mod template;

use gatehouse_model::{ErrorCode, Timestamp};
use gatehouse_store::Store;
use gatehouse_workflow::campaigns::Acting;
use gatehouse_workflow::campaigns::notify::{self, Message};

pub use send::Sender;
pub use settings::{NotifySettings, Security, Smtp, Webhook, WebhookKind};
pub use template::Templates;

/// What can go wrong with notifications.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The settings file is invalid, or a secret is missing.
    #[error("{0}")]
    Settings(String),
    /// A template does not render.
    #[error("template `{name}`: {message}")]
    Template {
        /// The template.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A message could not be sent.
    #[error("{0}")]
    Send(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] gatehouse_store::StoreError),
}

impl NotifyError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            NotifyError::Store(e) => e.code(),
            _ => ErrorCode::NotificationFailed,
        }
    }
}

/// What a dispatch did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Dispatched {
    /// Messages delivered: `(id, recipient, subject)`.
    pub sent: Vec<(String, String, String)>,
    /// Messages that failed: `(id, recipient, error, retried)`.
    pub failed: Vec<(String, String, String, bool)>,
}

impl std::fmt::Display for Dispatched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "notifications: {} sent, {} failed",
            self.sent.len(),
            self.failed.len()
        )?;
        for (id, to, error, retried) in &self.failed {
            write!(
                f,
                "\n  {id} to {}: {error}{}",
                if to.is_empty() { "(no address)" } else { to },
                if *retried {
                    " (will be retried)"
                } else {
                    " (given up: see `gatehouse notify list --failed`)"
                }
            )?;
        }
        Ok(())
    }
}

/// Sends every message that is due (digests, alerts, retries) and records each outcome.
pub fn dispatch(
    store: &Store,
    settings: &NotifySettings,
    acting: &Acting,
    now: Timestamp,
) -> Result<Dispatched, NotifyError> {
    let messages = notify::pending(store, &settings.routing(), now)?;
    let templates = Templates::load(settings.templates.as_deref())?;
    let sender = Sender::new(settings)?;
    let mut out = Dispatched::default();
    for m in messages {
        deliver(store, &templates, &sender, acting, now, &m, &mut out)?;
    }
    Ok(out)
}

/// Sends one message (a test, say) and records the outcome.
pub fn deliver_one(
    store: &Store,
    settings: &NotifySettings,
    acting: &Acting,
    now: Timestamp,
    message: &Message,
) -> Result<Dispatched, NotifyError> {
    let templates = Templates::load(settings.templates.as_deref())?;
    let sender = Sender::new(settings)?;
    let mut out = Dispatched::default();
    deliver(store, &templates, &sender, acting, now, message, &mut out)?;
    Ok(out)
}

fn deliver(
    store: &Store,
    templates: &Templates,
    sender: &Sender,
    acting: &Acting,
    now: Timestamp,
    m: &Message,
    out: &mut Dispatched,
) -> Result<(), NotifyError> {
    let result = templates
        .render(m, sender.webhook_kind(m))
        .and_then(|rendered| sender.send(m, &rendered));
    match result {
        Ok(()) => {
            notify::record_sent(store, acting, now, m)?;
            out.sent
                .push((m.id.clone(), m.to.label(), m.subject.clone()));
        }
        Err(e) => {
            let error = e.to_string();
            let retry = notify::record_failed(store, acting, now, m, &error)?;
            out.failed
                .push((m.id.clone(), m.to.label(), error, retry.is_some()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
