//! What the server does by itself: after every change (soon after, so that a burst of changes
//! makes one checkpoint) and at the configured interval, it seals the log — signs a checkpoint,
//! has the witnesses cosign it, publishes it to the configured folder — through
//! [`gatehouse_workflow::seal`]; it reopens findings whose risk acceptance has expired; it
//! runs the review campaigns' schedule (reminders, escalations, replacing reviewers who left,
//! deadline defaults, remediation verified against the imports, the review policy's
//! event-driven reviews); it sends what notifications are due (digests, alerts, retries) when
//! they are configured; and it drops expired sessions. Each tick reads the clock once.

use std::sync::atomic::Ordering;
use std::time::Duration;

use gatehouse_model::Timestamp;
use gatehouse_workflow::campaigns::{self, Acting};
use tokio::sync::watch;

use crate::App;

/// How long after a change the seal waits for more changes.
const SETTLE: Duration = Duration::from_secs(2);

/// The scheduler's actor in events.
pub const ACTOR: &str = "server:scheduler";

/// Runs until `stop` turns true, then seals once more.
pub async fn run(app: App, mut stop: watch::Receiver<bool>) {
    let interval = app
        .config
        .checkpoint_interval
        .unwrap_or(Duration::from_secs(3600));
    tick(&app).await;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = app.changed.notified() => {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tokio::time::sleep(SETTLE) => {}
                }
            }
            _ = tokio::time::sleep(interval) => {}
        }
        tick(&app).await;
    }
    tick(&app).await;
}

/// One round: expiries, the campaigns' schedule, notifications, then the seal, then the
/// sessions.
pub async fn tick(app: &App) {
    let now = app.read_clock();
    let store = app.store.clone();
    let expired = tokio::task::spawn_blocking(move || {
        gatehouse_workflow::expire_acceptances(&store, ACTOR, now)
    })
    .await;
    match expired {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(reopened = n, "risk acceptances expired"),
        Ok(Err(e)) => fail(app, "expiring acceptances", &e.to_string()),
        Err(e) => fail(app, "expiring acceptances", &e.to_string()),
    }
    if reviews_due(app, now) {
        review_schedule(app, now).await;
    }
    if let Err(e) = seal(app, now).await {
        fail(app, "sealing", &e);
    }
    app.sessions.sweep(now);
}

/// The review schedule's steps are a day or more apart (reminders, escalations, deadlines), and
/// a round reads every current person: it runs at most every [`REVIEW_EVERY`], not after every
/// change a busy server makes.
pub const REVIEW_EVERY: Duration = Duration::from_secs(10 * 60);

fn reviews_due(app: &App, now: Timestamp) -> bool {
    let mut last = app
        .reviews_ran
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let due = last.is_none_or(|t| now.as_second() - t.as_second() >= REVIEW_EVERY.as_secs() as i64);
    if due {
        *last = Some(now);
    }
    due
}

/// The campaigns' schedule, then the notifications that are due.
async fn review_schedule(app: &App, now: Timestamp) {
    let (store, reviews) = (app.store.clone(), app.config.reviews.clone());
    let ticked = tokio::task::spawn_blocking(move || {
        campaigns::tick(&store, &reviews, &Acting::system(ACTOR), now)
    })
    .await;
    match ticked {
        Ok(Ok(t)) => {
            let changed = t.campaigns.len() + t.opened.len() + t.launched.len();
            if changed > 0 {
                tracing::info!(
                    campaigns = t.campaigns.len(),
                    opened = t.opened.len(),
                    launched = t.launched.len(),
                    "review schedule: reminders, escalations, defaults and launches recorded"
                );
            }
            for (scope, why) in &t.not_launched {
                tracing::warn!(scope = %scope, "a due campaign could not be launched: {why}");
            }
        }
        Ok(Err(e)) => fail(app, "running the review schedule", &e.to_string()),
        Err(e) => fail(app, "running the review schedule", &e.to_string()),
    }
    if let Some(settings) = app.config.notify.clone() {
        let store = app.store.clone();
        let sent = tokio::task::spawn_blocking(move || {
            gatehouse_notify::dispatch(&store, &settings, &Acting::system(ACTOR), now)
        })
        .await;
        match sent {
            Ok(Ok(d)) => {
                if !d.sent.is_empty() || !d.failed.is_empty() {
                    tracing::info!(
                        sent = d.sent.len(),
                        failed = d.failed.len(),
                        "notifications"
                    );
                }
            }
            Ok(Err(e)) => fail(app, "sending notifications", &e.to_string()),
            Err(e) => fail(app, "sending notifications", &e.to_string()),
        }
    }
}

fn fail(app: &App, what: &str, e: &str) {
    app.metrics
        .scheduler_failures
        .fetch_add(1, Ordering::Relaxed);
    tracing::error!(error = %e, "scheduler: {what} failed");
}

/// Signs and witnesses a checkpoint if the log grew, and publishes it when it changed.
pub async fn seal(app: &App, now: Timestamp) -> Result<(), String> {
    let Some(signer) = app.config.signer.clone() else {
        return Ok(());
    };
    let store = app.store.clone();
    let witnesses = app.config.witnesses.clone();
    let sealed = tokio::task::spawn_blocking(move || {
        gatehouse_workflow::seal(&store, &signer, &witnesses, now)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let Some(sealed) = sealed else {
        return Ok(());
    };
    if sealed.signed {
        app.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            size = sealed.checkpoint.size,
            witnessed = sealed.witnessed(),
            "checkpoint signed"
        );
    }
    if sealed.changed
        && let Some(dir) = &app.config.publish_dir
    {
        publish(dir, sealed.checkpoint.size, &sealed.checkpoint.note)
            .map_err(|e| format!("cannot publish to `{}`: {e}", dir.display()))?;
    }
    Ok(())
}

/// Writes a checkpoint to the publish folder, as `checkpoint-<size>` and `checkpoint`.
fn publish(dir: &std::path::Path, size: u64, note: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(format!("checkpoint-{size:012}")), note)?;
    std::fs::write(dir.join("checkpoint"), note)
}
