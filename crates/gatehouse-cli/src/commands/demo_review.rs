//! The demo's quarterly access review: three weeks before the demo's last day, the review
//! policy's `sox-quarterly` campaign is created and launched, its reviewers decide (accepting
//! Gatehouse's recommendations, stage by stage), the schedule reminds them, and the campaign's
//! owner signs it off — all through the same workflow as `gatehouse campaign`, at the times
//! they would have happened, so the demo's history holds a completed campaign with its
//! remediation tasks under way.

use std::path::Path;

use anyhow::{Context, Result};
use gatehouse_model::{IdentityKey, Timestamp};
use gatehouse_store::Store;
use gatehouse_store::campaigns::query::ItemFilter;
use gatehouse_workflow::campaigns::{
    self, Acting, BulkDecision, BulkSelection, NewCampaign, ReviewPolicy,
};

use crate::context::Ctx;

/// What the demo's review did.
pub struct Summary {
    /// The campaign.
    pub id: gatehouse_model::CampaignId,
    /// Its items.
    pub items: u64,
    /// Final decisions by kind.
    pub verdicts: std::collections::BTreeMap<String, u64>,
    /// Remediation tasks opened.
    pub tasks: usize,
    /// When it was signed off.
    pub closed: Timestamp,
    /// Who owns it.
    pub owner: IdentityKey,
}

/// `hours` after `start`, to the minute, as a person's actions would be recorded.
fn at(start: Timestamp, hours: f64) -> Timestamp {
    let minutes = (hours * 60.0).round() as i64;
    start
        .checked_add(jiff::SignedDuration::from_mins(minutes))
        .unwrap_or(start)
}

/// Runs the quarterly review between `start` and `end`, writing the review policy to
/// `policy_dir` first.
pub fn quarterly_review(
    ctx: &Ctx,
    store: &Store,
    policy_dir: &Path,
    start: Timestamp,
    end: Timestamp,
) -> Result<Summary> {
    let people = store.read(|r| r.current_identities())?;
    let titled = |title: &str| {
        people
            .iter()
            .find(|i| {
                i.person
                    .as_ref()
                    .is_some_and(|p| p.title.as_deref() == Some(title))
            })
            .map(|i| i.key.clone())
    };
    let managers: std::collections::BTreeSet<&IdentityKey> = people
        .iter()
        .filter_map(|i| i.person.as_ref()?.manager.as_ref())
        .collect();
    // The campaign's owner signs off and reviews nothing: the chief of staff, else someone
    // who manages nobody.
    let owner = titled("Chief of Staff")
        .or_else(|| {
            people
                .iter()
                .find(|i| i.person.is_some() && !managers.contains(&i.key))
                .map(|i| i.key.clone())
        })
        .context("the demo organisation has no one to run its reviews")?;
    let ceo = titled("Chief Executive Officer").or_else(|| {
        people
            .iter()
            .find(|i| i.person.as_ref().is_some_and(|p| p.manager.is_none()) && i.key != owner)
            .map(|i| i.key.clone())
    });
    std::fs::create_dir_all(policy_dir)?;
    let file = policy_dir.join("reviews.toml");
    let text = campaigns::policy::starter(&owner, 30);
    std::fs::write(&file, &text).with_context(|| format!("cannot write `{}`", file.display()))?;
    let policy = ReviewPolicy::from_toml(&text, &file)?;
    let span = (end.as_second() - start.as_second()) as f64 / 3600.0;
    let step = |k: f64| at(start, span * k);
    let admin = Acting::person(ctx.actor.clone(), owner.clone());

    // Recommendations use the open findings: the analysis runs first, as a team would.
    let loaded = crate::commands::analysis::load_policy(ctx)?;
    gatehouse_workflow::analyze(store, &loaded.policy, &loaded.sod, &ctx.actor, step(0.0))?;
    let c = campaigns::create(
        store,
        &policy,
        &admin,
        step(0.01),
        NewCampaign {
            scope: Some("sox-quarterly".into()),
            ..NewCampaign::default()
        },
    )?;
    campaigns::launch(store, &policy, &admin, step(0.02), c.id, &[])?;

    // The owner reviews nothing: whatever the escalation path gives them goes to the CEO.
    let hand_on = |when: Timestamp| -> Result<()> {
        let Some(ceo) = &ceo else { return Ok(()) };
        let theirs = store.read(|r| {
            r.review_items(
                c.id,
                &ItemFilter {
                    reviewer: Some(owner.clone()),
                    open: Some(true),
                    ..ItemFilter::default()
                },
            )
        })?;
        for item in theirs {
            if item.item.identity.as_ref() != Some(ceo) {
                campaigns::delegate(
                    store,
                    &admin,
                    when,
                    c.id,
                    &[item.item.n],
                    ceo,
                    "the campaign's owner signs off and does not review",
                )?;
            }
        }
        Ok(())
    };

    // Stage by stage, each reviewer accepts the recommendations on their own day; between
    // the stages the schedule reminds those still open a week before the due date.
    let stages = c.record.rules.stages.len();
    let mut tasks = 0;
    for stage in 0..stages {
        let (from, to) = if stage == 0 {
            (0.05, 0.35)
        } else {
            (0.6, 0.85)
        };
        if stage == 1 {
            campaigns::tick(
                store,
                &policy,
                &Acting::system(ctx.actor.clone()),
                step(0.57),
            )?;
        }
        hand_on(step(from))?;
        let reviewers = store.read(|r| r.open_items_by_reviewer(c.id))?;
        let n = reviewers.len().max(1) as f64;
        for (i, (reviewer, _)) in reviewers.into_iter().enumerate() {
            if reviewer == owner {
                continue;
            }
            let when = step(from + (to - from) * i as f64 / n);
            let r = campaigns::decide_bulk(
                store,
                &Acting::person(ctx.actor.clone(), reviewer),
                when,
                c.id,
                &BulkSelection::default(),
                &BulkDecision::default(),
            )?;
            tasks += r.tasks.len();
        }
    }
    campaigns::tick(
        store,
        &policy,
        &Acting::system(ctx.actor.clone()),
        step(0.9),
    )?;
    // One revoke is carried out and noted; the next import of its system will verify it.
    let open = store.read(|r| {
        r.remediation_tasks(&gatehouse_store::campaigns::query::TaskFilter {
            campaign: Some(c.id),
            ..Default::default()
        })
    })?;
    if let Some(t) = open.first()
        && let Some(assignee) = &t.task.assignee
    {
        campaigns::mark_done(
            store,
            &policy,
            &Acting::person(ctx.actor.clone(), assignee.clone()),
            step(0.92),
            t.task.item,
            "removed by the system owner; change ticket CHG-1001",
        )?;
    }
    let closed = step(0.95);
    let force = store
        .read(|r| r.campaign(c.id))
        .map(|row| row.items > row.decided)?;
    let report = campaigns::close(
        store,
        &admin,
        closed,
        c.id,
        "Access to the SOX and critical systems was reviewed by each person's manager and by \
         each system's owner, as the review policy requires; revoked access is being removed.",
        force.then_some("items of reviewers who did not answer get the deadline default"),
    )?;
    let row = store.read(|r| r.campaign(c.id))?;
    Ok(Summary {
        id: c.id,
        items: row.items,
        verdicts: report.verdicts,
        tasks: tasks + report.tasks.len(),
        closed,
        owner,
    })
}

/// A review left under way for the web UI: the policy's `others-semiannual` scope, launched
/// at `at`, reviewed by each person's manager, nothing decided yet.
pub struct Open {
    /// The campaign.
    pub id: gatehouse_model::CampaignId,
    /// Its items.
    pub items: u64,
}

/// Launches the semiannual review of the other systems at `at`, so that the demo's manager
/// finds open items in the web UI.
pub fn open_review(ctx: &Ctx, store: &Store, policy_dir: &Path, at: Timestamp) -> Result<Open> {
    let file = policy_dir.join("reviews.toml");
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read `{}`", file.display()))?;
    let policy = ReviewPolicy::from_toml(&text, &file)?;
    let owner = policy
        .administrators
        .first()
        .cloned()
        .context("the demo's review policy names no administrator")?;
    let admin = Acting::person(ctx.actor.clone(), owner);
    let c = campaigns::create(
        store,
        &policy,
        &admin,
        at,
        NewCampaign {
            scope: Some("others-semiannual".into()),
            ..NewCampaign::default()
        },
    )?;
    let launched = campaigns::launch(store, &policy, &admin, at, c.id, &[])?;
    Ok(Open {
        id: c.id,
        items: launched.preview.items,
    })
}
