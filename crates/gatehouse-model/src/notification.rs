//! Notifications: e-mail digests and chat messages telling reviewers, owners and campaign
//! owners of work waiting for them, and alerts. Every attempt is recorded as an event, so a
//! failed send is shown and retried, never silently dropped.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, shorten};
use crate::time::Timestamp;

word_enum!(
    /// How a notification travels.
    Channel, "channel", "email, webhook",
    {
        /// E-mail over SMTP.
        Email => "email" | "smtp",
        /// A chat webhook (Slack- or Teams-compatible).
        Webhook => "webhook" | "chat",
    }
);

/// One notification, as sent or attempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// Stable id (`N-` and 16 hex digits, from what it is about and for whom): a retry has
    /// the id of the attempt it repeats.
    pub id: String,
    /// How it travels.
    pub channel: Channel,
    /// To whom: an e-mail address, or the name of a webhook (never its URL, which holds a
    /// secret).
    pub to: String,
    /// What it is: `digest`, `escalation`, `alert`, `test`.
    pub kind: String,
    /// Its subject line.
    pub subject: String,
    /// What it is about: campaign ids, item references, finding ids, task ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub about: Vec<String>,
    /// The attempt, from 1.
    pub attempt: u32,
}

/// A notification was delivered (the server accepted it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSent {
    /// What was sent.
    pub notice: Notice,
}

/// A notification could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationFailed {
    /// What was attempted.
    pub notice: Notice,
    /// Why it failed (secrets left out).
    pub error: String,
    /// When it will be tried again; absent when the attempts are used up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
}

impl NotificationSent {
    /// Its id.
    pub fn id(&self) -> &str {
        &self.notice.id
    }
}

impl NotificationFailed {
    /// Its id.
    pub fn id(&self) -> &str {
        &self.notice.id
    }
}
