//! The dashboard: open findings by severity and system, the share of access a warrant
//! explains (per system, now), and trends over recorded assessments, as server-side SVG.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use gatehouse_model::{FindingStatus, Severity, UserRole};
use gatehouse_store::findings::FindingFilter;

use crate::auth::{Action, Principal};
use crate::routes::{page, see_other};
use crate::views::{Chrome, date};
use crate::{App, WebResult, svg};

pub fn router() -> Router<App> {
    Router::new().route("/", get(dashboard))
}

/// One system's row of the findings table.
pub struct SeverityRow {
    pub system: String,
    pub counts: Vec<u64>,
    pub total: u64,
}

#[derive(askama::Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    severities: Vec<&'static str>,
    rows: Vec<SeverityRow>,
    totals: Vec<u64>,
    open_total: u64,
    grants: u64,
    warranted_share: String,
    systems: usize,
    coverage_chart: String,
    trend_chart: String,
    has_trend: bool,
    reviews: Vec<crate::routes::campaigns::CampaignItem>,
    overdue_items: u64,
    reviewers: Vec<(String, u64, u64)>,
}

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

async fn dashboard(State(app): State<App>, p: Principal) -> WebResult<Response> {
    if matches!(p.user.role, UserRole::Reviewer | UserRole::Person) {
        // Their start page is their own access (or their systems).
        return Ok(see_other(if p.user.identity.is_some() {
            "/reviews"
        } else {
            "/me/tokens"
        }));
    }
    p.authorize(&app, Action::ViewOrganisation).await?;
    let now = p.now;
    let (findings, coverage, systems, assessments, campaigns) = app
        .store
        .read_async(move |r| {
            let f = r.findings(&FindingFilter {
                status: vec![FindingStatus::Open],
                ..FindingFilter::default()
            })?;
            // Campaigns under way, each with its reviewers' progress.
            let mut campaigns = Vec::new();
            for c in r.campaigns()? {
                if c.state == gatehouse_model::CampaignState::Active {
                    let progress = r.progress_by_reviewer(c.id)?;
                    campaigns.push((c, progress));
                }
            }
            Ok::<_, gatehouse_store::StoreError>((
                f,
                r.grant_coverage()?,
                r.systems()?,
                r.assessments(12)?,
                campaigns,
            ))
        })
        .await?;
    let mut by_system: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut totals = vec![0u64; SEVERITIES.len()];
    for f in &findings {
        let system = f
            .finding
            .system
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "(no system)".into());
        let i = SEVERITIES
            .iter()
            .position(|s| *s == f.finding.severity)
            .unwrap_or(SEVERITIES.len() - 1);
        by_system
            .entry(system)
            .or_insert_with(|| vec![0; SEVERITIES.len()])[i] += 1;
        totals[i] += 1;
    }
    let mut rows: Vec<SeverityRow> = by_system
        .into_iter()
        .map(|(system, counts)| SeverityRow {
            total: counts.iter().sum(),
            system,
            counts,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.counts
            .cmp(&a.counts)
            .then_with(|| a.system.cmp(&b.system))
    });
    let grants: u64 = coverage.iter().map(|c| c.grants).sum();
    let warranted: u64 = coverage.iter().map(|c| c.warranted).sum();
    let share = |w: u64, g: u64| {
        if g == 0 {
            0.0
        } else {
            w as f64 * 100.0 / g as f64
        }
    };
    let coverage_items: Vec<(String, f64)> = coverage
        .iter()
        .map(|c| (c.system.to_string(), share(c.warranted, c.grants)))
        .collect();
    let mut trend: Vec<(String, f64)> = assessments
        .iter()
        .rev()
        .map(|(_, at, a)| (date(*at), share(a.warranted_grants, a.grants)))
        .collect();
    if grants > 0 {
        trend.push(("now".into(), share(warranted, grants)));
    }
    let mut overdue_items = 0;
    let mut by_reviewer: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (c, progress) in &campaigns {
        let overdue = c.due.is_some_and(|d| d < now);
        for (reviewer, items, open) in progress {
            if overdue {
                overdue_items += open;
            }
            let e = by_reviewer.entry(reviewer.to_string()).or_default();
            e.0 += items;
            e.1 += open;
        }
    }
    let mut reviewers: Vec<(String, u64, u64)> = by_reviewer
        .into_iter()
        .filter(|(_, (_, open))| *open > 0)
        .map(|(r, (items, open))| (r, items, open))
        .collect();
    reviewers.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    reviewers.truncate(10);
    page(&DashboardPage {
        reviews: campaigns
            .iter()
            .map(|(c, _)| crate::routes::campaigns::campaign_item(c, now))
            .collect(),
        overdue_items,
        reviewers,
        chrome: Chrome::new(&app, &p, "Dashboard", "/").await,
        severities: SEVERITIES.iter().map(|s| s.as_str()).collect(),
        open_total: findings.len() as u64,
        rows,
        totals,
        grants,
        warranted_share: format!("{:.1}%", share(warranted, grants)),
        systems: systems.len(),
        coverage_chart: svg::bars(
            "Share of current grants with a warrant, per system",
            &coverage_items,
            100.0,
            "%",
        ),
        has_trend: trend.len() >= 2,
        trend_chart: svg::line(
            "Share of grants with a warrant at each recorded assessment, and now",
            &trend,
            "%",
        ),
    })
}
