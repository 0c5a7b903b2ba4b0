//! `stale_source`: a source that has not been imported for longer than the policy allows. An
//! audit relies on the data being complete and current; when the HR feed stops arriving,
//! leavers stop being seen, and nothing else says so.

use gatehouse_model::state::SystemIx;

use crate::{Context, Draft, date, days_between};

pub(crate) fn run(cx: &mut Context<'_>) {
    if !cx.enabled("stale_source") {
        return;
    }
    let t = &cx.policy.thresholds;
    let mut drafts = Vec::new();
    for feed in &cx.inv.feeds {
        let limit = t
            .stale_source_days_by_source
            .get(&feed.source)
            .copied()
            .unwrap_or(t.stale_source_days);
        let age = days_between(feed.last_snapshot, cx.now);
        if age <= i64::from(limit) {
            continue;
        }
        let system = feed.source.strip_prefix("system:").and_then(|key| {
            SystemIx::all(cx.inv.systems.len())
                .find(|&s| cx.inv.systems[s].config.key.as_str() == key)
        });
        let what = match feed.source.as_str() {
            "hr" => "The HR feed".to_owned(),
            "nhi" => "The non-human identity inventory".to_owned(),
            "roles" => "The role catalogue".to_owned(),
            "warrants" => "The warrant records (approved requests, break-glass uses)".to_owned(),
            other => format!("`{other}`"),
        };
        let mut d = Draft::new("stale_source");
        d.system = system;
        d.key = vec![feed.source.clone()];
        d.title = format!("`{}` not imported for {age} days", feed.source);
        d.fact("source", feed.source.clone());
        d.fact("last_snapshot", date(feed.last_snapshot));
        d.fact("days", age.to_string());
        d.fact("allowed_days", limit.to_string());
        d.explanation = format!(
            "{what} was last imported with a snapshot as of {}, {age} days before this \
             analysis; the policy expects one at least every {limit} days. Everything Gatehouse \
             says about this source since then rests on old data: people who left, accounts \
             opened and grants given since are not seen. Check the export and the job that \
             imports it (`gatehouse import log --source {}`), or set \
             `stale_source_days_by_source` for a source that is imported less often.",
            date(feed.last_snapshot),
            feed.source
        );
        drafts.push(d);
    }
    for d in drafts {
        cx.push(d);
    }
}
