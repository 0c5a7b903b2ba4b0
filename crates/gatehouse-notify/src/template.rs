//! Templates a company can change: `digest.txt`, `digest.html`, `alert.txt`, `alert.html`,
//! `test.txt` (e-mail bodies) and `chat.txt` (webhook messages), written in minijinja
//! (Jinja2). The built-in ones are used unless the configured folder has a file of the same
//! name. HTML templates escape what they are given; names and titles come from imported
//! files.

use std::path::Path;

use gatehouse_workflow::campaigns::notify::{Content, Message};
use minijinja::Environment;

use crate::NotifyError;
use crate::settings::WebhookKind;

const BUILT_IN: &[(&str, &str)] = &[
    ("digest.txt", include_str!("templates/digest.txt")),
    ("digest.html", include_str!("templates/digest.html")),
    ("alert.txt", include_str!("templates/alert.txt")),
    ("alert.html", include_str!("templates/alert.html")),
    ("test.txt", include_str!("templates/test.txt")),
    ("chat.txt", include_str!("templates/chat.txt")),
];

/// A message rendered for its channel.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The subject.
    pub subject: String,
    /// The plain text body (e-mail) or the chat text (webhook).
    pub text: String,
    /// The HTML alternative of an e-mail.
    pub html: Option<String>,
}

/// The templates in use.
pub struct Templates {
    env: Environment<'static>,
}

fn template_error(name: &str, e: minijinja::Error) -> NotifyError {
    NotifyError::Template {
        name: name.to_owned(),
        message: e.to_string(),
    }
}

impl Templates {
    /// The built-in templates, each replaced by a file of the same name in `dir`, if given.
    pub fn load(dir: Option<&Path>) -> Result<Templates, NotifyError> {
        let mut env = Environment::new();
        for (name, text) in BUILT_IN {
            let text = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(p) => std::fs::read_to_string(&p).map_err(|e| {
                    NotifyError::Settings(format!("cannot read `{}`: {e}", p.display()))
                })?,
                None => (*text).to_owned(),
            };
            env.add_template_owned(*name, text)
                .map_err(|e| template_error(name, e))?;
        }
        Ok(Templates { env })
    }

    fn render_one(&self, name: &str, ctx: &serde_json::Value) -> Result<String, NotifyError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(ctx))))
            .map_err(|e| template_error(name, e))
    }

    /// Renders a message: for e-mail, text and HTML bodies; for a webhook, the chat text.
    pub fn render(
        &self,
        m: &Message,
        webhook: Option<WebhookKind>,
    ) -> Result<Rendered, NotifyError> {
        let mut ctx = serde_json::to_value(&m.content)
            .map_err(|e| NotifyError::Send(format!("cannot render {}: {e}", m.id)))?;
        if let Some(obj) = ctx.as_object_mut() {
            obj.insert("subject".into(), m.subject.clone().into());
        }
        let base = match m.content {
            Content::Digest { .. } => "digest",
            Content::Alert { .. } => "alert",
            Content::Test { .. } => "test",
        };
        if webhook.is_some() {
            return Ok(Rendered {
                subject: m.subject.clone(),
                text: self.render_one("chat.txt", &ctx)?,
                html: None,
            });
        }
        let html = match base {
            "test" => None,
            b => Some(self.render_one(&format!("{b}.html"), &ctx)?),
        };
        Ok(Rendered {
            subject: m.subject.clone(),
            text: self.render_one(&format!("{base}.txt"), &ctx)?,
            html,
        })
    }
}
