//! `gatehouse notify …`: send what is due (digests, alerts, retries), list what was sent and
//! what failed, send a test. Settings are `policy/notify.toml` (see docs/reviews.md); secrets
//! come from files or the environment.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use gatehouse_notify::{Dispatched, NotifySettings};
use gatehouse_store::Store;
use gatehouse_workflow::campaigns::Acting;
use gatehouse_workflow::campaigns::notify::{Recipient, test_message};

use crate::context::Ctx;
use crate::output::{opt_when, when};

/// `gatehouse notify …`.
#[derive(Subcommand)]
pub enum NotifyCommand {
    /// Send what is due now: reviewers' digests, alerts, retries of failed sends.
    #[command(after_help = "Examples:
  gatehouse notify send")]
    Send,
    /// Notifications sent and attempted, newest first.
    #[command(after_help = "Examples:
  gatehouse notify list
  gatehouse notify list --failed --format csv")]
    List {
        /// Only those whose latest attempt failed.
        #[arg(long)]
        failed: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Send a test message to an e-mail address or `webhook:<name>`.
    #[command(after_help = "Examples:
  gatehouse notify test --to ops@example.com
  gatehouse notify test --to webhook:security")]
    Test {
        /// The recipient.
        #[arg(long)]
        to: String,
    },
}

/// The notification settings, if `notify.toml` exists in the policy folder.
pub fn settings(ctx: &Ctx) -> Result<Option<NotifySettings>> {
    let file = ctx.config.policy_dir.join("notify.toml");
    if !file.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read `{}`", file.display()))?;
    Ok(Some(NotifySettings::from_toml(
        &text,
        &file.display().to_string(),
        &ctx.config.policy_dir,
    )?))
}

/// Sends what is due, when notifications are configured.
pub fn dispatch(ctx: &Ctx, store: &Store) -> Result<Option<Dispatched>> {
    let Some(s) = settings(ctx)? else {
        return Ok(None);
    };
    Ok(Some(gatehouse_notify::dispatch(
        store,
        &s,
        &Acting::system(ctx.actor.clone()),
        ctx.now,
    )?))
}

/// Sends what is due once an import or the analysis has recorded its work — alerts about
/// new findings, reopened remediation and privileged changes, with any digests and retries
/// that are due — when notifications are configured, and says what was sent or failed. A
/// problem here does not undo the command's work: it is said, and `notify send` or the next
/// `campaign tick` tries again.
pub fn send_due(ctx: &Ctx, store: &Store) -> Option<Dispatched> {
    match dispatch(ctx, store) {
        Ok(Some(d)) => {
            if !d.sent.is_empty() || !d.failed.is_empty() {
                println!("{d}");
            }
            Some(d)
        }
        Ok(None) => None,
        Err(e) => {
            eprintln!("warning: notifications were not sent: {e:#}");
            None
        }
    }
}

/// Runs `gatehouse notify …`.
pub fn run(ctx: &Ctx, cmd: NotifyCommand) -> Result<ExitCode> {
    match cmd {
        NotifyCommand::Send => {
            let store = ctx.open()?;
            let result = dispatch(ctx, &store);
            ctx.seal(&store)?;
            match result? {
                Some(d) => println!("{d}"),
                None => println!(
                    "notifications are not configured: write `{}` (see docs/reviews.md)",
                    ctx.config.policy_dir.join("notify.toml").display()
                ),
            }
        }
        NotifyCommand::List { failed, limit } => {
            let store = ctx.open()?;
            let (mut rows, at) = crate::commands::campaign::answered(&store, |r| {
                if failed {
                    r.latest_notification_attempts()
                } else {
                    r.notifications(limit)
                }
            })?;
            if failed {
                rows.retain(|r| !r.delivered);
                rows.sort_by_key(|r| std::cmp::Reverse(r.seq));
                rows.truncate(limit as usize);
            }
            let about = at.about(
                ctx,
                &store,
                if failed {
                    "which notifications could not be delivered".into()
                } else {
                    "which notifications were sent and attempted".into()
                },
                rows.len(),
            );
            crate::answer::print_answer(
                ctx.format,
                &about,
                &[
                    "event",
                    "id",
                    "attempt",
                    "channel",
                    "to",
                    "kind",
                    "subject",
                    "delivered",
                    "error",
                    "retry at",
                    "at",
                ],
                &rows,
                |n| {
                    vec![
                        n.seq.to_string(),
                        n.id.clone(),
                        n.attempt.to_string(),
                        n.channel.to_string(),
                        n.to.clone(),
                        n.kind.clone(),
                        n.subject.clone(),
                        if n.delivered { "yes" } else { "no" }.into(),
                        n.error.clone().unwrap_or_default(),
                        if n.delivered {
                            String::new()
                        } else {
                            n.retry_at.map(when).unwrap_or_else(|| "given up".into())
                        },
                        opt_when(Some(n.at)),
                    ]
                },
                if failed {
                    "no failed notification"
                } else {
                    "no notification yet"
                },
            )?;
        }
        NotifyCommand::Test { to } => {
            let s = settings(ctx)?.with_context(|| {
                format!(
                    "notifications are not configured: write `{}` (see docs/reviews.md)",
                    ctx.config.policy_dir.join("notify.toml").display()
                )
            })?;
            let store = ctx.open()?;
            let recipient = match to.strip_prefix("webhook:") {
                Some(name) => Recipient::Webhook(name.to_owned()),
                None => Recipient::Email {
                    address: to.clone(),
                    name: None,
                },
            };
            let m = test_message(recipient, &ctx.actor, ctx.now);
            let d = gatehouse_notify::deliver_one(
                &store,
                &s,
                &Acting::system(ctx.actor.clone()),
                ctx.now,
                &m,
            )?;
            ctx.seal(&store)?;
            println!("{d}");
            if !d.failed.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
