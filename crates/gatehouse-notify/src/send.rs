//! Sending: e-mail through lettre's SMTP client over rustls, webhooks through ureq. Errors
//! name the server or the webhook, never a password or a webhook's URL.

use std::time::Duration;

use gatehouse_workflow::campaigns::notify::{Message, Recipient};
use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

use crate::NotifyError;
use crate::settings::{NotifySettings, Security, Smtp, Webhook, WebhookKind};
use crate::template::Rendered;

/// Sends rendered messages.
pub struct Sender {
    smtp: Option<(SmtpTransport, Mailbox, String)>,
    webhooks: Vec<Webhook>,
    agent: ureq::Agent,
}

fn smtp_transport(s: &Smtp) -> Result<SmtpTransport, NotifyError> {
    let bad = |what: String| NotifyError::Settings(format!("[smtp] {what}"));
    let tls = || -> Result<TlsParameters, NotifyError> {
        let mut b =
            TlsParameters::builder(s.host.clone()).certificate_store(CertificateStore::WebpkiRoots);
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| bad(format!("cannot read ca_file `{}`: {e}", ca.display())))?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                bad(format!(
                    "ca_file `{}` is not a PEM certificate: {e}",
                    ca.display()
                ))
            })?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls()
            .map_err(|e| bad(format!("TLS settings: {e}")))
    };
    let (security, port) = match s.security {
        Security::Starttls => (Tls::Required(tls()?), s.port.unwrap_or(587)),
        Security::Tls => (Tls::Wrapper(tls()?), s.port.unwrap_or(465)),
        Security::None => (Tls::None, s.port.unwrap_or(25)),
    };
    let mut t = SmtpTransport::builder_dangerous(s.host.clone())
        .port(port)
        .tls(security)
        .timeout(Some(Duration::from_secs(s.timeout_seconds)));
    if let (Some(user), Some(password)) = (&s.username, &s.password) {
        t = t.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(t.build())
}

impl Sender {
    /// A sender for the configured SMTP server and webhooks.
    pub fn new(settings: &NotifySettings) -> Result<Sender, NotifyError> {
        let smtp = match &settings.smtp {
            Some(s) => {
                let from: Mailbox = s.from.parse().map_err(|e| {
                    NotifyError::Settings(format!(
                        "[smtp] from `{}` is not an address: {e}",
                        s.from
                    ))
                })?;
                Some((smtp_transport(s)?, from, s.host.clone()))
            }
            None => None,
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(true)
            .build()
            .into();
        Ok(Sender {
            smtp,
            webhooks: settings.webhooks.clone(),
            agent,
        })
    }

    /// The payload kind of the webhook a message goes to, if it goes to one.
    pub fn webhook_kind(&self, m: &Message) -> Option<WebhookKind> {
        match &m.to {
            Recipient::Webhook(name) => self
                .webhooks
                .iter()
                .find(|w| &w.name == name)
                .map(|w| w.kind)
                .or(Some(WebhookKind::Slack)),
            Recipient::Email { .. } => None,
        }
    }

    /// Sends one rendered message.
    pub fn send(&self, m: &Message, r: &Rendered) -> Result<(), NotifyError> {
        match &m.to {
            Recipient::Email { address, name } => {
                if address.is_empty() {
                    return Err(NotifyError::Send(format!(
                        "{} has no e-mail address in the identity feeds",
                        name.as_deref().unwrap_or("the recipient")
                    )));
                }
                let Some((transport, from, host)) = &self.smtp else {
                    return Err(NotifyError::Send(
                        "no SMTP server is configured ([smtp] in policy/notify.toml)".into(),
                    ));
                };
                let to: Mailbox = match name {
                    Some(n) => format!("{n} <{address}>").parse(),
                    None => address.parse(),
                }
                .map_err(|e| NotifyError::Send(format!("`{address}` is not an address: {e}")))?;
                let body = match &r.html {
                    Some(html) => MultiPart::alternative()
                        .singlepart(
                            SinglePart::builder()
                                .header(ContentType::TEXT_PLAIN)
                                .body(r.text.clone()),
                        )
                        .singlepart(
                            SinglePart::builder()
                                .header(ContentType::TEXT_HTML)
                                .body(html.clone()),
                        ),
                    None => MultiPart::mixed().singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(r.text.clone()),
                    ),
                };
                let email = lettre::Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(r.subject.clone())
                    .multipart(body)
                    .map_err(|e| NotifyError::Send(format!("cannot build the message: {e}")))?;
                transport
                    .send(&email)
                    .map(|_| ())
                    .map_err(|e| NotifyError::Send(format!("SMTP server {host}: {e}")))
            }
            Recipient::Webhook(name) => {
                let hook = self
                    .webhooks
                    .iter()
                    .find(|w| &w.name == name)
                    .ok_or_else(|| {
                        NotifyError::Send(format!("webhook `{name}` is not configured"))
                    })?;
                let payload = match hook.kind {
                    WebhookKind::Slack => serde_json::json!({ "text": r.text }),
                    WebhookKind::Teams => serde_json::json!({
                        "@type": "MessageCard",
                        "@context": "https://schema.org/extensions",
                        "summary": r.subject,
                        "title": r.subject,
                        "text": r.text.replace('\n', "\n\n"),
                    }),
                };
                self.agent
                    .post(&hook.url)
                    .header("Content-Type", "application/json")
                    .send(payload.to_string())
                    .map(|_| ())
                    .map_err(|e| {
                        // ureq's errors may quote the URL; say only which webhook failed.
                        let why = match e {
                            ureq::Error::StatusCode(code) => format!("answered HTTP {code}"),
                            ureq::Error::Timeout(_) => "timed out".into(),
                            ureq::Error::Io(io) => format!("cannot be reached ({})", io.kind()),
                            _ => "cannot be reached".into(),
                        };
                        NotifyError::Send(format!("webhook `{name}` {why}"))
                    })
            }
        }
    }
}
