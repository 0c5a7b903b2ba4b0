//! "My reviews": a reviewer's inbox across active campaigns, soonest due first, filtered and
//! paged in the database; one item with its whole context; keep, revoke or keep until a
//! date with a comment; decisions in bulk (including "accept the recommendations", recorded
//! as such); delegation with a reason. The workflow decides whether an item is the acting
//! reviewer's: anyone asking for another reviewer's item gets 404.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_model::{CampaignId, IdentityKey, ItemRef, Timestamp, Verdict};
use gatehouse_store::StoreError;
use gatehouse_store::campaigns::query::{
    CampaignRow, InboxFilter, InboxRisk, ItemRow, StageDecision,
};
use gatehouse_workflow::campaigns::{self, Acting, BulkDecision, BulkSelection, DecisionInput};
use serde::Deserialize;

use crate::auth::{Action, Decision, Principal, policy};
use crate::routes::{csrf_of, page, see_other};
use crate::views::{Chrome, date, url_encode, when};
use crate::{App, WebError, WebResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/reviews", get(inbox))
        .route("/reviews/bulk", post(bulk))
        .route("/reviews/{campaign}/{n}", get(show))
        .route("/reviews/{campaign}/{n}/decide", post(decide))
        .route("/reviews/{campaign}/{n}/delegate", post(delegate))
}

/// Items per inbox page.
pub const PAGE: u64 = 100;

/// The inbox's filters, as the query string carries them.
#[derive(Deserialize, Default, Clone)]
pub struct InboxQuery {
    pub(crate) system: Option<String>,
    pub(crate) recommendation: Option<String>,
    pub(crate) risk: Option<String>,
    pub(crate) campaign: Option<String>,
    pub(crate) offset: Option<u64>,
    pub(crate) decided: Option<u64>,
    pub(crate) delegated: Option<u64>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl InboxQuery {
    /// The store's filter, or what is wrong with the query.
    pub fn filter(&self) -> WebResult<InboxFilter> {
        let bad =
            |what: &str, e: &dyn std::fmt::Display| WebError::bad_request(format!("{what}: {e}"));
        Ok(InboxFilter {
            system: nonempty(&self.system)
                .map(str::parse)
                .transpose()
                .map_err(|e| bad("system", &e))?,
            recommendation: nonempty(&self.recommendation)
                .map(str::parse)
                .transpose()
                .map_err(|e| bad("recommendation", &e))?,
            campaign: nonempty(&self.campaign)
                .map(str::parse)
                .transpose()
                .map_err(|e| bad("campaign", &e))?,
            risk: match nonempty(&self.risk) {
                None => None,
                Some("privileged") => Some(InboxRisk::Privileged),
                Some("sod") => Some(InboxRisk::Sod),
                Some("findings") => Some(InboxRisk::Findings),
                Some(other) => {
                    return Err(WebError::bad_request(format!(
                        "risk: `{other}` is not one of privileged, sod, findings"
                    )));
                }
            },
            offset: self.offset.unwrap_or(0),
            limit: PAGE,
        })
    }

    /// The query string of these filters at another offset.
    fn at(&self, offset: u64) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("system", &self.system),
            ("recommendation", &self.recommendation),
            ("risk", &self.risk),
            ("campaign", &self.campaign),
        ] {
            if let Some(v) = nonempty(v) {
                parts.push(format!("{k}={}", url_encode(v)));
            }
        }
        if offset > 0 {
            parts.push(format!("offset={offset}"));
        }
        if parts.is_empty() {
            "/reviews".into()
        } else {
            format!("/reviews?{}", parts.join("&"))
        }
    }
}

/// One row of the inbox.
pub struct InboxRow {
    pub key: String,
    pub href: String,
    pub due: String,
    pub overdue: bool,
    pub holder: String,
    pub holder_detail: String,
    pub system: String,
    pub entitlement: String,
    pub privileged: bool,
    pub risk: String,
    pub last_login: String,
    pub how: String,
    pub findings: usize,
    pub sod: String,
    pub peers: String,
    pub recommendation: String,
    pub reason: String,
    pub stage: String,
}

fn holder(item: &ItemRow) -> String {
    let i = &item.item;
    match (&i.context.name, &i.identity, &i.role) {
        (Some(name), Some(k), _) => format!("{name} ({k})"),
        (None, Some(k), _) => k.to_string(),
        (_, None, Some(role)) => format!("role {role}"),
        _ => i
            .account
            .clone()
            .map(|a| format!("account {a} (no person)"))
            .unwrap_or_else(|| "—".into()),
    }
}

fn entitlement(item: &ItemRow) -> String {
    let i = &item.item;
    match &i.context.entitlement_name {
        Some(n) if *n != i.entitlement => format!("{n} ({})", i.entitlement),
        _ => i.entitlement.clone(),
    }
}

fn how(item: &ItemRow) -> String {
    let c = &item.item.context;
    match (&c.source, &c.warrant) {
        (Some(s), Some(w)) => format!("{s}; warrant {w}"),
        (Some(s), None) => format!("{s}; no warrant"),
        (None, Some(w)) => format!("warrant {w}"),
        (None, None) => "no warrant".into(),
    }
}

fn row(due: Option<Timestamp>, item: &ItemRow, now: Timestamp) -> InboxRow {
    let c = &item.item.context;
    let at = item.reference();
    InboxRow {
        key: at.to_string(),
        href: item_href(at),
        due: due.map(date).unwrap_or_else(|| "—".into()),
        overdue: due.is_some_and(|d| d < now),
        holder: holder(item),
        holder_detail: [
            c.title.as_deref(),
            c.department.as_deref(),
            c.status.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · "),
        system: item.item.system.to_string(),
        entitlement: entitlement(item),
        privileged: c.privileged,
        risk: c.risk.map(|r| r.to_string()).unwrap_or_default(),
        last_login: c
            .last_login
            .map(date)
            .unwrap_or_else(|| "never recorded".into()),
        how: how(item),
        findings: c.findings.len(),
        sod: c.sod.clone().unwrap_or_default(),
        peers: c.peers.map(|p| format!("{p}%")).unwrap_or_default(),
        recommendation: item.item.recommendation.to_string(),
        reason: item.item.reason.clone(),
        stage: format!("stage {}", item.stage + 1),
    }
}

/// The path of an item's page.
pub fn item_href(at: ItemRef) -> String {
    format!("/reviews/{}/{}", at.campaign, at.item)
}

#[derive(askama::Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    rows: Vec<InboxRow>,
    total: u64,
    open_all: u64,
    first: u64,
    last: u64,
    prev: Option<String>,
    next: Option<String>,
    systems: Vec<(String, u64)>,
    campaigns: Vec<(String, u64)>,
    system: String,
    recommendation: String,
    risk: String,
    campaign: String,
    notice: Option<String>,
    error: Option<String>,
    linked: bool,
    can_decide: bool,
    bulk_action: String,
}

async fn inbox(
    State(app): State<App>,
    p: Principal,
    Query(q): Query<InboxQuery>,
) -> WebResult<Response> {
    inbox_page(&app, &p, q, None, StatusCode::OK).await
}

/// The signed-in user's person, or a 403 saying their user is linked to nobody.
pub async fn reviewer(app: &App, p: &Principal) -> WebResult<IdentityKey> {
    p.authorize(app, Action::Review).await?;
    p.user
        .identity
        .clone()
        .ok_or_else(|| WebError::forbidden("your Gatehouse user is linked to no person"))
}

async fn inbox_page(
    app: &App,
    p: &Principal,
    q: InboxQuery,
    error: Option<String>,
    status: StatusCode,
) -> WebResult<Response> {
    let chrome = Chrome::new(app, p, "My reviews", "/reviews").await;
    let Some(me) = p.user.identity.clone() else {
        // Admins and auditors without a person have no items; say so instead of refusing.
        p.authorize(app, Action::ViewCampaigns).await?;
        return page(&InboxPage {
            chrome,
            rows: Vec::new(),
            total: 0,
            open_all: 0,
            first: 0,
            last: 0,
            prev: None,
            next: None,
            systems: Vec::new(),
            campaigns: Vec::new(),
            system: String::new(),
            recommendation: String::new(),
            risk: String::new(),
            campaign: String::new(),
            notice: None,
            error,
            linked: false,
            can_decide: false,
            bulk_action: String::new(),
        });
    };
    if p.user.role == gatehouse_model::UserRole::Auditor {
        p.authorize(app, Action::ViewCampaigns).await?;
    } else {
        p.authorize(app, Action::Review).await?;
    }
    let filter = q.filter()?;
    let wanted = me.clone();
    let f = filter.clone();
    let inbox = app
        .store
        .read_async(move |r| r.inbox_page(&wanted, &f))
        .await?;
    let now = p.now;
    let shown = inbox.items.len() as u64;
    let notice = match (q.decided, q.delegated) {
        (Some(n), _) => Some(format!("{n} decision(s) recorded.")),
        (_, Some(n)) => Some(format!("{n} item(s) handed on.")),
        _ => None,
    };
    with_status(
        page(&InboxPage {
            chrome,
            rows: inbox.items.iter().map(|(d, i)| row(*d, i, now)).collect(),
            total: inbox.total,
            open_all: inbox.campaigns.iter().map(|(_, n)| n).sum(),
            first: if shown == 0 { 0 } else { filter.offset + 1 },
            last: filter.offset + shown,
            prev: (filter.offset > 0).then(|| q.at(filter.offset.saturating_sub(PAGE))),
            next: (filter.offset + shown < inbox.total).then(|| q.at(filter.offset + PAGE)),
            systems: inbox
                .systems
                .iter()
                .map(|(s, n)| (s.to_string(), *n))
                .collect(),
            campaigns: inbox
                .campaigns
                .iter()
                .map(|(c, n)| (c.to_string(), *n))
                .collect(),
            system: q.system.clone().unwrap_or_default(),
            recommendation: q.recommendation.clone().unwrap_or_default(),
            risk: q.risk.clone().unwrap_or_default(),
            campaign: q.campaign.clone().unwrap_or_default(),
            notice,
            error,
            linked: true,
            can_decide: policy::decide(&p.user, None, &Action::Review) == Decision::Allow,
            bulk_action: q.at(0).replacen("/reviews", "/reviews/bulk", 1),
        }),
        status,
    )
}

/// A store error where an object the user may not see could be meant: an unknown object
/// answers the same 404 as one they may not see, so nobody learns which exist; any other
/// failure stays what it is (never a 404 that hides a broken store).
pub fn hidden(e: StoreError) -> WebError {
    match e.code() {
        gatehouse_model::ErrorCode::UnknownObject => {
            WebError::not_found("there is nothing here you may see")
        }
        _ => e.into(),
    }
}

/// Answers 404 unless the item is one `p` may see: their own, or any for admins and
/// auditors. Someone else's item and a missing one answer alike.
pub async fn may_see_item(app: &App, p: &Principal, at: ItemRef) -> WebResult<()> {
    let reviewer = app
        .store
        .read_async(move |r| r.review_item(at))
        .await
        .map_err(hidden)?
        .reviewer;
    p.authorize(app, Action::ViewReviewItem(&reviewer)).await
}

/// An item named by its campaign and number in a path.
pub fn parse_item(campaign: &str, n: &str) -> WebResult<ItemRef> {
    let campaign: CampaignId = campaign
        .parse()
        .map_err(|_| WebError::not_found(format!("there is no campaign `{campaign}`")))?;
    let item: u32 = n
        .parse()
        .map_err(|_| WebError::not_found(format!("campaign {campaign} has no item `{n}`")))?;
    Ok(ItemRef { campaign, item })
}

#[derive(askama::Template)]
#[template(path = "review_item.html")]
struct ItemPage {
    chrome: Chrome,
    r: InboxRow,
    campaign_name: String,
    campaign_href: String,
    instructions: String,
    reviewer: String,
    account: String,
    manager: String,
    since: String,
    purpose: String,
    rotated: String,
    findings: Vec<(String, String)>,
    assignment: String,
    decisions: Vec<String>,
    decision: Option<String>,
    can_decide: bool,
    comment_rule: String,
    action: String,
    error: Option<String>,
}

async fn item_page(
    app: &App,
    p: &Principal,
    at: ItemRef,
    error: Option<String>,
    status: StatusCode,
) -> WebResult<Response> {
    let (c, item, decisions) = app
        .store
        .read_async(move |r| {
            let c = r.campaign(at.campaign)?;
            let item = r.review_item(at)?;
            let decisions = r.item_decisions(at)?;
            Ok::<_, StoreError>((c, item, decisions))
        })
        .await
        .map_err(hidden)?;
    p.authorize(app, Action::ViewReviewItem(&item.reviewer))
        .await?;
    let mine = p.user.identity.as_ref() == Some(&item.reviewer);
    let can_decide = mine
        && item.decision.is_none()
        && c.state == gatehouse_model::CampaignState::Active
        && policy::decide(&p.user, None, &Action::Review) == Decision::Allow;
    let rules = &c.created.rules;
    let mut comment_rule = Vec::new();
    if rules.comment_on_revoke {
        comment_rule.push("a revoke needs a comment".to_owned());
    }
    let ctx = &item.item.context;
    if rules.comment_on_privileged_keep && ctx.privileged {
        comment_rule.push("keeping privileged access needs a comment".to_owned());
    }
    if rules.comment_on_sod_keep && ctx.sod.is_some() {
        comment_rule.push("keeping access in a conflict needs a comment".to_owned());
    }
    let chrome = Chrome::new(app, p, format!("Review {at}"), "/reviews").await;
    with_status(
        page(&ItemPage {
            chrome,
            r: row(c.due, &item, p.now),
            campaign_name: c.created.name.clone(),
            campaign_href: format!("/campaigns/{}", c.id),
            instructions: c.created.instructions.clone().unwrap_or_default(),
            reviewer: item.reviewer.to_string(),
            account: item.item.account.clone().unwrap_or_default(),
            manager: ctx
                .manager
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default(),
            since: ctx.since.map(date).unwrap_or_default(),
            purpose: ctx.purpose.clone().unwrap_or_default(),
            rotated: ctx.rotated.map(date).unwrap_or_default(),
            findings: ctx
                .findings
                .iter()
                .map(|f| (format!("/findings/{}", url_encode(f)), f.clone()))
                .collect(),
            assignment: item.item.assignment.clone().unwrap_or_default(),
            decisions: decisions.iter().map(stage_line).collect(),
            decision: item.decision.as_ref().map(|d| {
                format!(
                    "{}{} by {} on {}{}",
                    d.verdict,
                    d.until
                        .map(|u| format!(" until {}", date(u)))
                        .unwrap_or_default(),
                    d.by.as_ref()
                        .map_or("the deadline default".into(), |b| b.to_string()),
                    when(d.at),
                    d.comment
                        .as_ref()
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default()
                )
            }),
            can_decide,
            comment_rule: comment_rule.join("; "),
            action: item_href(at),
            error,
        }),
        status,
    )
}

fn stage_line(d: &StageDecision) -> String {
    format!(
        "Stage {}: {}{} by {} on {}{}",
        d.stage + 1,
        d.verdict,
        d.until
            .map(|u| format!(" until {}", date(u)))
            .unwrap_or_default(),
        d.by.as_ref()
            .map_or("the deadline default".into(), |b| b.to_string()),
        when(d.at),
        d.comment
            .as_ref()
            .map(|c| format!(" — {c}"))
            .unwrap_or_default()
    )
}

async fn show(
    State(app): State<App>,
    p: Principal,
    Path((campaign, n)): Path<(String, String)>,
) -> WebResult<Response> {
    let at = parse_item(&campaign, &n)?;
    item_page(&app, &p, at, None, StatusCode::OK).await
}

/// A form's verdict and end date.
pub fn verdict_of(verdict: &str, until: Option<&str>) -> WebResult<(Verdict, Option<Timestamp>)> {
    let verdict: Verdict = verdict
        .parse()
        .map_err(|e: gatehouse_model::ModelError| WebError::bad_request(e.to_string()))?;
    let until = match until.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(d) => Some(
            gatehouse_model::parse_point_in_time(d)
                .map_err(|e| WebError::bad_request(format!("until: {e}")))?,
        ),
    };
    Ok((verdict, until))
}

/// A comment as given, or none when blank.
pub fn comment_of(c: Option<String>) -> Option<String> {
    c.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty())
}

/// Runs a workflow call off the runtime's threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, campaigns::CampaignError> + Send + 'static,
) -> WebResult<Result<T, WebError>> {
    let r = tokio::task::spawn_blocking(f)
        .await
        .map_err(WebError::internal)?;
    match r.map_err(WebError::from) {
        Err(e) if e.status.is_server_error() => Err(e),
        other => Ok(other),
    }
}

#[derive(Deserialize)]
struct DecideForm {
    csrf: Option<String>,
    verdict: String,
    until: Option<String>,
    comment: Option<String>,
}

async fn decide(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Path((campaign, n)): Path<(String, String)>,
    Form(f): Form<DecideForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    let me = reviewer(&app, &p).await?;
    let at = parse_item(&campaign, &n)?;
    let (verdict, until) = match verdict_of(&f.verdict, f.until.as_deref()) {
        Ok(v) => v,
        Err(e) => return item_page(&app, &p, at, Some(e.message), e.status).await,
    };
    let now = p.now;
    let input = DecisionInput {
        item: at.item,
        verdict,
        until,
        comment: comment_of(f.comment),
    };
    // Queued as a job of the store's group commit: no thread waits for it. Only the item's
    // reviewer can decide it, and the reviewer may see it: the 404 rule for someone else's
    // item is checked when the decision is refused, before saying why, so that a refusal
    // never tells whose the item is.
    let decided = app
        .store
        .write_async(p.actor(), now, move |w| {
            campaigns::decide_in(w, &me, now, at.campaign, &[input])
        })
        .await;
    match decided.map_err(WebError::from) {
        Err(e) if e.status.is_server_error() => Err(e),
        Ok(_) => {
            app.changed();
            Ok(see_other("/reviews?decided=1"))
        }
        Err(e) => {
            may_see_item(&app, &p, at).await?;
            item_page(&app, &p, at, Some(e.message), e.status).await
        }
    }
}

#[derive(Deserialize)]
struct DelegateForm {
    csrf: Option<String>,
    to: String,
    reason: String,
}

async fn delegate(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Path((campaign, n)): Path<(String, String)>,
    Form(f): Form<DelegateForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    let me = reviewer(&app, &p).await?;
    let at = parse_item(&campaign, &n)?;
    may_see_item(&app, &p, at).await?;
    let now = p.now;
    let reference = f.to.trim().to_owned();
    let to = match app
        .store
        .read_async(move |r| r.resolve_identity(&reference, now))
        .await
    {
        Ok(i) => i.key,
        Err(e) => {
            let e = WebError::from(e);
            return item_page(
                &app,
                &p,
                at,
                Some(format!("delegate to: {}", e.message)),
                e.status,
            )
            .await;
        }
    };
    let store = app.store.clone();
    let acting = Acting::person(p.actor(), me);
    match blocking(move || {
        campaigns::delegate(
            &store,
            &acting,
            now,
            at.campaign,
            &[at.item],
            &to,
            &f.reason,
        )
    })
    .await?
    {
        Ok(n) => {
            app.changed();
            Ok(see_other(&format!("/reviews?delegated={n}")))
        }
        Err(e) => item_page(&app, &p, at, Some(e.message), e.status).await,
    }
}

/// `POST /reviews/bulk`: the selected items (`item=C-0001/5`, repeated), one verdict
/// (`keep`, `revoke`, `keep_until`, or `recommendation` to accept each item's
/// recommendation), an end date and a comment. Items are decided campaign by campaign, each
/// campaign's all or nothing; the answer says which were recorded and which were refused.
async fn bulk(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Query(q): Query<InboxQuery>,
    Form(fields): Form<Vec<(String, String)>>,
) -> WebResult<Response> {
    let field = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    p.check_csrf(csrf_of(field("csrf"), &headers))?;
    let me = reviewer(&app, &p).await?;
    let mut by_campaign: BTreeMap<CampaignId, Vec<u32>> = BTreeMap::new();
    for (_, v) in fields.iter().filter(|(k, _)| k == "item") {
        let at: ItemRef = v
            .parse()
            .map_err(|e: gatehouse_model::ModelError| WebError::bad_request(e.to_string()))?;
        by_campaign.entry(at.campaign).or_default().push(at.item);
    }
    // An item that is not one of the reviewer's own is refused without saying whose it is,
    // as its page answers 404.
    let wanted: Vec<ItemRef> = by_campaign
        .iter()
        .flat_map(|(c, ns)| {
            ns.iter().map(|n| ItemRef {
                campaign: *c,
                item: *n,
            })
        })
        .collect();
    let who = me.clone();
    let foreign = app
        .store
        .read_async(move |r| {
            let mut out = Vec::new();
            for at in wanted {
                match r.review_item(at) {
                    Ok(i) if i.reviewer == who => {}
                    Ok(_) => out.push(at),
                    Err(e) if e.code() == gatehouse_model::ErrorCode::UnknownObject => out.push(at),
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
        .await?;
    if !foreign.is_empty() {
        let list = foreign
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        return inbox_page(
            &app,
            &p,
            q,
            Some(format!(
                "Not among your items: {list}. Nothing was recorded; reload the page and try again."
            )),
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    if by_campaign.is_empty() {
        return inbox_page(
            &app,
            &p,
            q,
            Some("Select the items to decide first.".into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let verdict = field("verdict").unwrap_or("");
    let decision = if verdict == "recommendation" {
        BulkDecision {
            verdict: None,
            until: None,
            comment: comment_of(field("comment").map(str::to_owned)),
        }
    } else {
        match verdict_of(verdict, field("until")) {
            Ok((v, until)) => BulkDecision {
                verdict: Some(v),
                until,
                comment: comment_of(field("comment").map(str::to_owned)),
            },
            Err(e) => return inbox_page(&app, &p, q, Some(e.message), e.status).await,
        }
    };
    let mut recorded = Vec::new();
    let mut refused = Vec::new();
    let mut status = StatusCode::OK;
    for (id, items) in by_campaign {
        let store = app.store.clone();
        let acting = Acting::person(p.actor(), me.clone());
        let (now, decision) = (p.now, decision.clone());
        let selection = BulkSelection {
            items,
            ..BulkSelection::default()
        };
        match blocking(move || {
            campaigns::decide_bulk(&store, &acting, now, id, &selection, &decision)
        })
        .await?
        {
            Ok(report) => recorded.push((id, report.decided + report.advanced)),
            Err(e) => {
                status = e.status;
                refused.push(format!("{id}: {}", e.message));
            }
        }
    }
    if !recorded.is_empty() {
        app.changed();
    }
    let total: u64 = recorded.iter().map(|(_, n)| n).sum();
    if refused.is_empty() {
        return Ok(see_other(&format!(
            "{}{}decided={total}",
            q.at(0),
            if q.at(0).contains('?') { "&" } else { "?" }
        )));
    }
    let mut message = String::new();
    if !recorded.is_empty() {
        message.push_str(&format!(
            "Recorded: {}. ",
            recorded
                .iter()
                .map(|(id, n)| format!("{n} decision(s) in {id}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    message.push_str(&format!(
        "Refused, nothing recorded for: {}",
        refused.join("; ")
    ));
    inbox_page(&app, &p, q, Some(message), status).await
}

/// For the dashboard and the campaign pages: a campaign's completion.
pub fn completion(c: &CampaignRow) -> String {
    if c.items == 0 {
        "—".into()
    } else {
        format!(
            "{}/{} ({:.0}%)",
            c.decided,
            c.items,
            c.decided as f64 * 100.0 / c.items as f64
        )
    }
}

/// Turns a page into a response with `status`.
pub fn with_status(r: WebResult<Response>, status: StatusCode) -> WebResult<Response> {
    r.map(|mut r| {
        *r.status_mut() = status;
        r
    })
}
