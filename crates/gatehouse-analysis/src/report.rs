//! The assessment: the baseline of a governance programme, and its report in Markdown, HTML
//! or JSON, with the trend since the previous assessment.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use gatehouse_model::state::Inventory;
use gatehouse_model::{Assessment, Finding, FindingStatus, Severity, Timestamp, WarrantKind};
use serde::Serialize;

use crate::risk::Score;
use crate::{Analysis, date};

/// Builds the assessment from the inventory, the analysis and the findings as recorded.
pub fn assess(
    inv: &Inventory,
    analysis: &Analysis,
    findings: &[(&Finding, FindingStatus)],
) -> Assessment {
    let systems = &inv.systems;
    let reviewed: std::collections::BTreeSet<&str> = inv
        .warrant_records
        .iter()
        .filter(|w| w.kind == WarrantKind::Review)
        .filter_map(|w| w.entitlement.as_ref().map(|e| e.system.as_str()))
        .collect();
    let mut open_by_rule: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut accepted_by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for (f, status) in findings {
        match status {
            FindingStatus::Open => {
                *open_by_rule
                    .entry(f.rule.clone())
                    .or_default()
                    .entry(f.severity.as_str().to_owned())
                    .or_default() += 1;
            }
            FindingStatus::Accepted => *accepted_by_rule.entry(f.rule.clone()).or_default() += 1,
            FindingStatus::Resolved => {}
        }
    }
    Assessment {
        systems: systems.len() as u64,
        systems_without_owner: systems
            .iter()
            .filter(|s| s.config.owner.is_none())
            .map(|s| s.config.key.clone())
            .collect(),
        systems_without_criticality: systems
            .iter()
            .filter(|s| s.config.criticality.is_none())
            .map(|s| s.config.key.clone())
            .collect(),
        sox_never_reviewed: systems
            .iter()
            .filter(|s| s.sox() && !reviewed.contains(s.config.key.as_str()))
            .map(|s| s.config.key.clone())
            .collect(),
        identities: inv.identities.len() as u64,
        accounts: inv.accounts.len() as u64,
        uncorrelated_accounts: analysis.uncorrelated_accounts,
        grants: analysis.grants,
        warranted_grants: analysis.warranted_grants,
        open_by_rule,
        accepted_by_rule,
    }
}

/// A recorded assessment with its time and ledger position.
#[derive(Debug, Clone, Serialize)]
pub struct Dated {
    /// The `seq` of its `assessment.recorded` event.
    pub seq: u64,
    /// When it was made.
    pub at: Timestamp,
    /// What it found.
    pub assessment: Assessment,
}

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// This assessment; its `seq` is its `assessment.recorded` event when `recorded`.
    pub current: Dated,
    /// Whether it was recorded in the ledger (`assess --record`), or is a preview that wrote
    /// nothing.
    pub recorded: bool,
    /// The one before, for the trend.
    pub previous: Option<Dated>,
    /// Riskiest people and non-human identities.
    pub top_identities: Vec<Score>,
    /// Riskiest systems.
    pub top_systems: Vec<Score>,
    /// Every open finding (insights for role design left out), most severe first.
    pub findings: Vec<ListedFinding>,
    /// Every accepted risk, with who accepted it, why and until when.
    pub accepted: Vec<AcceptedRisk>,
    /// Open insights for role design, counted.
    pub insights: u64,
    /// Where the report stands in the ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerPoint>,
}

/// One open finding, as a report lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ListedFinding {
    /// Its id.
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// The rule.
    pub rule: String,
    /// One line.
    pub title: String,
    /// The identity concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The system concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The account concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// When an analysis first found it.
    pub first_seen: Timestamp,
}

/// One accepted risk.
#[derive(Debug, Clone, Serialize)]
pub struct AcceptedRisk {
    /// The finding's id.
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// The rule.
    pub rule: String,
    /// One line.
    pub title: String,
    /// Who accepted it.
    pub by: String,
    /// Why.
    pub reason: String,
    /// Until when.
    pub until: Option<Timestamp>,
}

/// The ledger point of a report: the log's size and root when it was made, and the latest
/// signed checkpoint covering it.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerPoint {
    /// Events in the log.
    pub size: u64,
    /// Merkle root at that size, hex.
    pub root: String,
    /// The latest signed checkpoint at or below that size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<SignedCheckpoint>,
}

/// A signed checkpoint, with its note (which carries the signatures).
#[derive(Debug, Clone, Serialize)]
pub struct SignedCheckpoint {
    /// Its tree size.
    pub size: u64,
    /// Its root, hex.
    pub root: String,
    /// When it was signed.
    pub signed_at: Timestamp,
    /// The signed note, as `gatehouse-verify` checks it.
    pub note: String,
}

fn permille(part: u64, whole: u64) -> String {
    if whole == 0 {
        "n/a".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn open_total(a: &Assessment) -> u64 {
    a.open_by_rule.values().flat_map(|m| m.values()).sum()
}

fn open_at(a: &Assessment, s: Severity) -> u64 {
    a.open_by_rule
        .values()
        .filter_map(|m| m.get(s.as_str()))
        .sum()
}

fn delta(now: u64, before: Option<u64>) -> String {
    match before {
        None => String::new(),
        Some(b) if b == now => " (=)".into(),
        Some(b) if now > b => format!(" (+{})", now - b),
        Some(b) => format!(" (−{})", b - now),
    }
}

fn keys(list: &[gatehouse_model::SystemKey]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Rows of the headline table: (label, value, change since previous).
fn headline(r: &Report) -> Vec<(String, String, String)> {
    let a = &r.current.assessment;
    let p = r.previous.as_ref().map(|p| &p.assessment);
    let count = |label: &str, f: fn(&Assessment) -> u64| {
        (label.to_owned(), f(a).to_string(), delta(f(a), p.map(f)))
    };
    let systems = |label: &str, f: fn(&Assessment) -> &[gatehouse_model::SystemKey]| {
        (
            label.to_owned(),
            format!("{} ({})", f(a).len(), keys(f(a))),
            delta(f(a).len() as u64, p.map(|p| f(p).len() as u64)),
        )
    };
    let mut rows = vec![
        count("Systems", |a| a.systems),
        systems("Systems without owner", |a| &a.systems_without_owner),
        systems("Systems without criticality", |a| {
            &a.systems_without_criticality
        }),
        systems("SOX systems never reviewed", |a| &a.sox_never_reviewed),
        count("Identities", |a| a.identities),
        count("Accounts", |a| a.accounts),
        count("Uncorrelated enabled accounts", |a| a.uncorrelated_accounts),
        count("Grants", |a| a.grants),
        (
            "Grants with a valid warrant".into(),
            format!(
                "{} ({})",
                a.warranted_grants,
                permille(a.warranted_grants, a.grants)
            ),
            delta(a.warranted_grants, p.map(|p| p.warranted_grants)),
        ),
        count("Open findings", open_total),
    ];
    for s in Severity::ALL.iter().rev() {
        rows.push((
            format!("  {s}"),
            open_at(a, *s).to_string(),
            delta(open_at(a, *s), p.map(|p| open_at(p, *s))),
        ));
    }
    rows
}

fn rule_rows(r: &Report) -> Vec<(String, Vec<u64>, u64, String)> {
    let a = &r.current.assessment;
    let p = r.previous.as_ref().map(|p| &p.assessment);
    let mut rules: Vec<&String> = a
        .open_by_rule
        .keys()
        .chain(a.accepted_by_rule.keys())
        .chain(
            p.map(|p| p.open_by_rule.keys().collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .collect();
    rules.sort();
    rules.dedup();
    rules
        .into_iter()
        .map(|rule| {
            let counts: Vec<u64> = Severity::ALL
                .iter()
                .rev()
                .map(|s| {
                    a.open_by_rule
                        .get(rule)
                        .and_then(|m| m.get(s.as_str()))
                        .copied()
                        .unwrap_or(0)
                })
                .collect();
            let now: u64 = counts.iter().sum();
            let before = p.map(|p| {
                p.open_by_rule
                    .get(rule)
                    .map(|m| m.values().sum())
                    .unwrap_or(0)
            });
            (
                crate::rule_label(rule),
                counts,
                a.accepted_by_rule.get(rule).copied().unwrap_or(0),
                delta(now, before),
            )
        })
        .collect()
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Access governance assessment — {}\n",
        date(r.current.at)
    );
    let _ = writeln!(out, "{}\n", intro(r));
    let _ = writeln!(out, "## Baseline\n\n| | Value | Change |\n|---|---|---|");
    for (k, v, d) in headline(r) {
        let _ = writeln!(out, "| {} | {} | {} |", md(k.trim()), md(&v), d.trim());
    }
    let _ = writeln!(
        out,
        "\n## Open findings by rule\n\n| Rule | critical | high | medium | low | info | accepted | change |\n|---|---|---|---|---|---|---|---|"
    );
    for (rule, counts, accepted, d) in rule_rows(r) {
        let c: Vec<String> = counts.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {accepted} | {} |",
            md(&rule),
            c.join(" | "),
            d.trim()
        );
    }
    let _ = writeln!(
        out,
        "\n## Open findings ({})\n\n| Id | Severity | Rule | Title | Identity | System | Account | First seen |\n|---|---|---|---|---|---|---|---|",
        r.findings.len()
    );
    for f in &r.findings {
        let _ = writeln!(out, "{}", md_row(&finding_cells(f)));
    }
    if r.insights > 0 {
        let _ = writeln!(
            out,
            "\n{} open insights for role design are not listed (`gatehouse findings list --insights`).",
            r.insights
        );
    }
    let _ = writeln!(
        out,
        "\n## Accepted risks ({})\n\n| Id | Severity | Rule | Title | Accepted by | Reason | Until |\n|---|---|---|---|---|---|---|",
        r.accepted.len()
    );
    for a in &r.accepted {
        let _ = writeln!(out, "{}", md_row(&accepted_cells(a)));
    }
    for (title, scores) in [
        ("Riskiest identities", &r.top_identities),
        ("Riskiest systems", &r.top_systems),
    ] {
        let _ = writeln!(
            out,
            "\n## {title}\n\n| Score | Who | Factors |\n|---|---|---|"
        );
        for s in scores {
            let f: Vec<String> = s
                .factors
                .iter()
                .map(|f| format!("{} ({})", md(&f.what), f.points))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} ({}) | {} |",
                s.total,
                md(&s.name),
                md(&s.key),
                f.join("; ")
            );
        }
    }
    let _ = writeln!(out, "\n## Ledger\n");
    for line in ledger_lines(r) {
        let _ = writeln!(out, "- {}", md(&line));
    }
    if let Some(c) = r.ledger.as_ref().and_then(|l| l.checkpoint.as_ref()) {
        let _ = writeln!(out, "\nThe signed checkpoint:\n\n```\n{}```", c.note);
    }
    out
}

/// The sentence that opens a report: recorded or a preview, and against what.
fn intro(r: &Report) -> String {
    let first = if r.recorded {
        format!("Recorded as ledger event {}.", r.current.seq)
    } else {
        "A preview: not recorded in the ledger (`gatehouse assess --record` records it).".into()
    };
    match &r.previous {
        Some(p) => format!(
            "{first} Changes are against the assessment of {} (event {}).",
            date(p.at),
            p.seq
        ),
        None if r.recorded => format!("{first} This is the first assessment: the baseline."),
        None => format!("{first} No assessment is recorded yet."),
    }
}

/// The ledger point, in sentences.
fn ledger_lines(r: &Report) -> Vec<String> {
    let Some(l) = &r.ledger else {
        return vec!["no ledger point was taken".into()];
    };
    let mut out = vec![format!("log size {} events, root {}", l.size, l.root)];
    match &l.checkpoint {
        Some(c) if c.size == l.size => out.push(format!(
            "covered by the checkpoint of size {} signed at {}",
            c.size,
            crate::date(c.signed_at)
        )),
        Some(c) => out.push(format!(
            "latest signed checkpoint: size {} (root {}) signed at {}; events {}–{} are not yet covered",
            c.size,
            c.root,
            crate::date(c.signed_at),
            c.size + 1,
            l.size
        )),
        None => out.push("no signed checkpoint yet".into()),
    }
    out
}

/// Text for a Markdown table cell: control characters shown escaped, HTML and the column
/// separator escaped.
/// The cells of an open finding's row in the Markdown and HTML reports (rules by their
/// readable names).
fn finding_cells(f: &ListedFinding) -> [String; 8] {
    [
        f.id.clone(),
        f.severity.to_string(),
        crate::rule_label(&f.rule),
        f.title.clone(),
        f.identity.clone().unwrap_or_default(),
        f.system.clone().unwrap_or_default(),
        f.account.clone().unwrap_or_default(),
        date(f.first_seen),
    ]
}

/// The cells of an accepted risk's row.
fn accepted_cells(a: &AcceptedRisk) -> [String; 7] {
    [
        a.id.clone(),
        a.severity.to_string(),
        crate::rule_label(&a.rule),
        a.title.clone(),
        a.by.clone(),
        a.reason.clone(),
        a.until.map(date).unwrap_or_default(),
    ]
}

fn md_row(cells: &[String]) -> String {
    let cells: Vec<String> = cells.iter().map(|c| md(c)).collect();
    format!("| {} |", cells.join(" | "))
}

fn html_row(cells: &[String]) -> String {
    let cells: String = cells
        .iter()
        .map(|c| format!("<td>{}</td>", esc(c)))
        .collect();
    format!("<tr>{cells}</tr>")
}

fn md(s: &str) -> String {
    esc(s).replace('|', "\\|")
}

/// Text for HTML: control characters shown escaped (`\u{1b}`, so that a bidirectional
/// override cannot reorder what the reader sees), then HTML's own characters escaped.
fn esc(s: &str) -> String {
    gatehouse_model::text::visible(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report as a self-contained HTML page.
pub fn html(r: &Report) -> String {
    let mut out = String::new();
    let title = format!("Access governance assessment — {}", date(r.current.at));
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}}\
         table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}\
         th{{background:#f3f3f3}}td.n{{text-align:right}}.up{{color:#b00}}.down{{color:#070}}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let _ = writeln!(out, "<p>{}</p>", esc(&intro(r)));
    let _ = writeln!(
        out,
        "<h2>Baseline</h2>\n<table><tr><th></th><th>Value</th><th>Change</th></tr>"
    );
    for (k, v, d) in headline(r) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&k),
            esc(&v),
            esc(d.trim())
        );
    }
    let _ = writeln!(
        out,
        "</table>\n<h2>Open findings by rule</h2>\n<table><tr><th>Rule</th><th>critical</th><th>high</th><th>medium</th><th>low</th><th>info</th><th>accepted</th><th>change</th></tr>"
    );
    for (rule, counts, accepted, d) in rule_rows(r) {
        let cells: String = counts
            .iter()
            .map(|c| format!("<td class=\"n\">{c}</td>"))
            .collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td>{cells}<td class=\"n\">{accepted}</td><td>{}</td></tr>",
            esc(&rule),
            esc(d.trim())
        );
    }
    let _ = writeln!(out, "</table>");
    let _ = writeln!(
        out,
        "<h2>Open findings ({})</h2>\n<table><tr><th>Id</th><th>Severity</th><th>Rule</th><th>Title</th><th>Identity</th><th>System</th><th>Account</th><th>First seen</th></tr>",
        r.findings.len()
    );
    for f in &r.findings {
        let _ = writeln!(out, "{}", html_row(&finding_cells(f)));
    }
    let _ = writeln!(out, "</table>");
    if r.insights > 0 {
        let _ = writeln!(
            out,
            "<p>{} open insights for role design are not listed.</p>",
            r.insights
        );
    }
    let _ = writeln!(
        out,
        "<h2>Accepted risks ({})</h2>\n<table><tr><th>Id</th><th>Severity</th><th>Rule</th><th>Title</th><th>Accepted by</th><th>Reason</th><th>Until</th></tr>",
        r.accepted.len()
    );
    for a in &r.accepted {
        let _ = writeln!(out, "{}", html_row(&accepted_cells(a)));
    }
    let _ = writeln!(out, "</table>");
    for (title, scores) in [
        ("Riskiest identities", &r.top_identities),
        ("Riskiest systems", &r.top_systems),
    ] {
        let _ = writeln!(
            out,
            "<h2>{title}</h2>\n<table><tr><th>Score</th><th>Who</th><th>Factors</th></tr>"
        );
        for s in scores {
            let f: Vec<String> = s
                .factors
                .iter()
                .map(|f| format!("{} ({})", esc(&f.what), f.points))
                .collect();
            let _ = writeln!(
                out,
                "<tr><td class=\"n\">{}</td><td>{} ({})</td><td>{}</td></tr>",
                s.total,
                esc(&s.name),
                esc(&s.key),
                f.join("<br>")
            );
        }
        let _ = writeln!(out, "</table>");
    }
    let _ = writeln!(out, "<h2>Ledger</h2>\n<ul>");
    for line in ledger_lines(r) {
        let _ = writeln!(out, "<li>{}</li>", esc(&line));
    }
    let _ = writeln!(out, "</ul>");
    if let Some(c) = r.ledger.as_ref().and_then(|l| l.checkpoint.as_ref()) {
        let _ = writeln!(
            out,
            "<p>The signed checkpoint:</p>\n<pre>{}</pre>",
            esc(&c.note)
        );
    }
    out.push_str("</body></html>\n");
    out
}
