//! The rows every format shares: a campaign's summary, its items, reviewers, proofs; a pack's
//! controls and samples; the history's systems.

use std::borrow::Cow;

use gatehouse_model::{DecisionOrigin, PathKind};
use gatehouse_workflow::campaigns::report::{
    CampaignReport, CheckpointRef, EventProof, EvidencePack, HistoryReport, ReportItem,
    ReviewerQuality,
};

use crate::{day, opt_day, stamp};

/// Neutralises a cell against formula injection: text that a spreadsheet would read as a
/// formula (it starts, after any spaces, with `=`, `+`, `-`, `@`, a tab or a carriage return,
/// or a full-width `＝`, `＋`, `－`, `＠`; the rule of the command line's CSV listings) gets a
/// leading `'`, which shows as text. Everything else is unchanged.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    if gatehouse_model::text::looks_like_formula(s) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A cell: text or a whole number.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Text(String),
    Number(u64),
    /// A number shown with one decimal (a rate in per cent).
    Decimal(f64),
}

impl Cell {
    pub(crate) fn as_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(t) => neutralise(t),
            Cell::Number(n) => Cow::Owned(n.to_string()),
            Cell::Decimal(x) => Cow::Owned(format!("{x:.1}")),
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}

impl From<f64> for Cell {
    fn from(x: f64) -> Cell {
        Cell::Decimal(x)
    }
}

impl From<u64> for Cell {
    fn from(n: u64) -> Cell {
        Cell::Number(n)
    }
}

/// The header every export starts with: what it answers, when, at which checkpoint.
pub(crate) fn preamble(
    question: &str,
    generated: gatehouse_model::Timestamp,
    cp: &CheckpointRef,
) -> Vec<(String, String)> {
    vec![
        ("answers".into(), question.to_owned()),
        ("generated".into(), stamp(generated)),
        (
            "checkpoint".into(),
            format!(
                "size {}, root {}, signed {}",
                cp.size,
                cp.root,
                stamp(cp.signed_at)
            ),
        ),
        (
            "how to check".into(),
            "each row names the ledger events that record it; the proofs below show each \
             event is in the tree of the signed checkpoint (verify with gatehouse-verify, or \
             `gatehouse ledger prove <event>`)"
                .into(),
        ),
    ]
}

/// A campaign's summary as `(field, value)` pairs.
pub(crate) fn summary(r: &CampaignReport) -> Vec<(String, String)> {
    let c = &r.campaign;
    let mut out = preamble(&r.question, r.generated_at, &r.checkpoint);
    let rules = &c.created.rules;
    let mut add = |k: &str, v: String| out.push((k.to_owned(), v));
    add("campaign", format!("{} {}", c.id, c.created.name));
    add("kind", c.created.kind.to_string());
    add("state", c.state.to_string());
    add(
        "scope",
        c.created
            .scope
            .clone()
            .unwrap_or_else(|| "(named systems)".into()),
    );
    add(
        "systems",
        c.created
            .systems
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    add("owner", c.created.owner.to_string());
    add("review policy (SHA-256)", c.created.policy.clone());
    add(
        "reviewers",
        rules
            .stages
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" then "),
    );
    add(
        "schedule",
        format!(
            "due {} days after launch; reminders {:?} days before; escalations {:?} days after; \
             deadline default `{}` {} days after the due date",
            rules.due_days,
            rules.reminders,
            rules.escalations,
            rules.deadline_default,
            rules.deadline_days
        ),
    );
    add(
        "comments required",
        [
            rules.comment_on_revoke.then_some("on revoke"),
            rules
                .comment_on_privileged_keep
                .then_some("to keep privileged access"),
            rules
                .comment_on_sod_keep
                .then_some("to keep conflicting access"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", "),
    );
    if let Some(i) = &c.created.instructions {
        add("instructions", i.clone());
    }
    add("created", stamp(c.created_at));
    if let Some(l) = &c.launch {
        add(
            "launched",
            format!(
                "{} by {}",
                c.launched_at.map(stamp).unwrap_or_default(),
                l.launched_by
                    .as_ref()
                    .map_or_else(|| "the review schedule".to_owned(), |k| k.to_string())
            ),
        );
        add("due", day(l.due));
        add("population", format!("{} items", l.items));
        add("population SHA-256", l.population_sha256.clone());
        add("population read at ledger size", l.ledger_size.to_string());
        for s in &l.sources {
            add(
                "source",
                format!(
                    "{} as of {} (event {}, digest {}): {}",
                    s.source,
                    day(s.as_of),
                    s.seq,
                    s.digest,
                    s.files
                        .iter()
                        .map(|f| format!("{} {} rows sha256 {}", f.name, f.rows, f.sha256))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            );
        }
        for e in &l.exclusions {
            add(
                "exclusion",
                format!("{} ({} grants): {}", e.subject, e.grants, e.reason),
            );
        }
        if let Some(s) = l.since {
            add("delta since", s.to_string());
        }
    }
    add(
        "decisions",
        r.verdicts
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    add("progress", format!("{} of {} decided", c.decided, c.items));
    if let Some(s) = &c.closing {
        add(
            "signed off",
            format!(
                "{} by {}: \"{}\"",
                c.closed_at.map(stamp).unwrap_or_default(),
                s.signed_off_by,
                s.statement
            ),
        );
        if let Some(f) = &s.forced {
            add(
                "forced",
                format!(
                    "{f} ({} undecided items got the deadline default)",
                    s.defaulted
                ),
            );
        }
    }
    if let Some(i) = &c.imported {
        add(
            "imported from",
            format!(
                "{} (SHA-256 {}, {} rows)",
                i.file.name, i.file.sha256, i.file.rows
            ),
        );
    }
    out
}

/// The columns of the item table.
pub(crate) const ITEM_HEADERS: &[&str] = &[
    "item",
    "system",
    "account",
    "entitlement",
    "entitlement name",
    "role",
    "holder",
    "holder name",
    "department",
    "title",
    "privileged",
    "last login",
    "warrant",
    "open findings",
    "recommendation",
    "reason",
    "reviewers",
    "stage decisions",
    "decision",
    "until",
    "decided by",
    "decided on",
    "how",
    "comment",
    "remediation",
    "remediation due",
    "verified",
    "reopened",
    "events",
];

pub(crate) fn item_cells(i: &ReportItem) -> Vec<Cell> {
    let it = &i.row.item;
    let x = &it.context;
    let d = i.row.decision.as_ref();
    let t = i.task.as_ref();
    vec![
        i.row.reference().to_string().into(),
        it.system.to_string().into(),
        it.account.clone().unwrap_or_default().into(),
        it.entitlement.clone().into(),
        x.entitlement_name.clone().unwrap_or_default().into(),
        it.role
            .as_ref()
            .map(|r| r.to_string())
            .unwrap_or_default()
            .into(),
        it.identity
            .as_ref()
            .map(|k| k.to_string())
            .unwrap_or_default()
            .into(),
        x.name.clone().unwrap_or_default().into(),
        x.department.clone().unwrap_or_default().into(),
        x.title.clone().unwrap_or_default().into(),
        if x.privileged { "yes" } else { "" }.into(),
        opt_day(x.last_login).into(),
        x.warrant.clone().unwrap_or_default().into(),
        x.findings.join(" ").into(),
        it.recommendation.to_string().into(),
        it.reason.clone().into(),
        it.reviewers
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" then ")
            .into(),
        i.stages
            .iter()
            .map(|s| {
                format!(
                    "{}: {} by {} {}",
                    s.stage,
                    s.verdict,
                    s.by.as_ref()
                        .map(|b| b.to_string())
                        .unwrap_or_else(|| "deadline".into()),
                    day(s.at)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
            .into(),
        d.map(|d| d.verdict.to_string())
            .unwrap_or_else(|| "undecided".into())
            .into(),
        d.and_then(|d| d.until).map(day).unwrap_or_default().into(),
        d.and_then(|d| d.by.as_ref().map(|b| b.to_string()))
            .unwrap_or_default()
            .into(),
        d.map(|d| stamp(d.at)).unwrap_or_default().into(),
        d.map(|d| origin(d.origin)).unwrap_or_default().into(),
        d.and_then(|d| d.comment.clone()).unwrap_or_default().into(),
        t.map(|t| t.status.to_string()).unwrap_or_default().into(),
        t.map(|t| day(t.task.due)).unwrap_or_default().into(),
        t.and_then(|t| {
            t.verified_at.map(|v| {
                format!(
                    "{} (import event {})",
                    day(v),
                    t.verified_import.unwrap_or(0)
                )
            })
        })
        .unwrap_or_default()
        .into(),
        t.and_then(|t| t.reopen_reason.clone())
            .unwrap_or_default()
            .into(),
        i.events()
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(" ")
            .into(),
    ]
}

pub(crate) fn origin(o: DecisionOrigin) -> &'static str {
    match o {
        DecisionOrigin::Reviewer => "by the reviewer",
        DecisionOrigin::Bulk => "in bulk",
        DecisionOrigin::Recommendation => "recommendation accepted",
        DecisionOrigin::Default => "deadline default",
        DecisionOrigin::Imported => "imported",
    }
}

/// The access paths of a task, in words.
pub(crate) fn paths(i: &ReportItem) -> String {
    i.task
        .as_ref()
        .map(|t| {
            t.task
                .paths
                .iter()
                .map(|p| {
                    let kind = match p.kind {
                        PathKind::Direct => "direct",
                        PathKind::Role => "role",
                        PathKind::Birthright => "birthright",
                        PathKind::Request => "request",
                        PathKind::OtherAccount => "other account",
                    };
                    if p.also_removes.is_empty() {
                        format!("{kind}: {}", p.via)
                    } else {
                        format!(
                            "{kind}: {} (also removes {})",
                            p.via,
                            p.also_removes
                                .iter()
                                .map(|e| e.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

pub(crate) const QUALITY_HEADERS: &[&str] = &[
    "reviewer",
    "decisions",
    "actions",
    "in bulk",
    "keeps",
    "revokes",
    "recommended revoke",
    "revoked of those",
    "median seconds between actions",
    "longest keep streak",
    "signals",
];

pub(crate) fn quality_cells(q: &ReviewerQuality) -> Vec<Cell> {
    vec![
        q.reviewer.clone().into(),
        q.decisions.into(),
        q.actions.into(),
        q.bulk.into(),
        q.keeps.into(),
        q.revokes.into(),
        q.revoke_recommended.into(),
        q.revoke_agreed.into(),
        q.median_seconds_between_actions
            .map(|s| s.to_string())
            .unwrap_or_default()
            .into(),
        q.longest_keep_streak.into(),
        q.signals.join("; ").into(),
    ]
}

pub(crate) const PROOF_HEADERS: &[&str] =
    &["event", "kind", "leaf hash", "leaf index", "audit path"];

pub(crate) fn proof_cells(p: &EventProof) -> Vec<Cell> {
    vec![
        p.seq.into(),
        p.kind.clone().into(),
        p.leaf.clone().into(),
        p.index.into(),
        p.path.join(" ").into(),
    ]
}

pub(crate) const CONTROL_HEADERS: &[&str] = &[
    "framework",
    "control",
    "title",
    "objective",
    "population",
    "population SHA-256",
    "sample size",
    "exceptions",
];

pub(crate) fn pack_summary(p: &EvidencePack) -> Vec<(String, String)> {
    let mut out = preamble(&p.question, p.generated_at, &p.checkpoint);
    out.push(("framework".into(), p.framework.clone()));
    out.push((
        "period".into(),
        format!("campaigns launched {} to {}", day(p.from), day(p.to)),
    ));
    out.push((
        "campaigns".into(),
        p.campaigns
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    ));
    out.push(("sample seed".into(), p.seed.clone()));
    out.push(("sampling method".into(), p.sampling_method.clone()));
    out
}

pub(crate) fn control_cells(p: &EvidencePack) -> Vec<Vec<Cell>> {
    p.controls
        .iter()
        .map(|c| {
            vec![
                c.control.framework.clone().into(),
                c.control.id.clone().into(),
                c.control.title.clone().into(),
                c.control.objective.clone().into(),
                c.population.into(),
                c.population_sha256.clone().into(),
                (c.sample.len() as u64).into(),
                (c.exceptions.len() as u64).into(),
            ]
        })
        .collect()
}

pub(crate) fn history_summary(h: &HistoryReport) -> Vec<(String, String)> {
    preamble(&h.question, h.generated_at, &h.checkpoint)
}

pub(crate) const HISTORY_HEADERS: &[&str] = &[
    "campaign",
    "kind",
    "launched",
    "system",
    "items",
    "revoked",
    "revocation rate %",
    "deadline defaults",
];

pub(crate) fn history_cells(h: &HistoryReport) -> Vec<Vec<Cell>> {
    h.systems
        .iter()
        .map(|s| {
            vec![
                s.campaign.to_string().into(),
                s.kind.to_string().into(),
                opt_day(s.launched).into(),
                s.system.clone().into(),
                s.items.into(),
                s.revoked.into(),
                s.rate.into(),
                s.defaulted.into(),
            ]
        })
        .collect()
}
