//! The JSON API: what the command line asks and does, under `/api/`, with the same
//! authorization as the pages (a token needs the scope too), errors as
//! [`crate::error::ErrorBody`], and its OpenAPI document at `/api/openapi.json`.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use gatehouse_model::{FindingStatus, IdentityKey, Severity};
use gatehouse_store::findings::FindingFilter;
use gatehouse_store::inventory::changes::ChangeFilter;
use gatehouse_store::inventory::query::{HolderPage, ObjectKind};
use gatehouse_store::{EventFilter, StoreError, VerifyError, VerifyOptions, WitnessChecks};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Action, Principal};
use crate::error::ErrorBody;
use crate::routes::csrf_of;
use crate::views::parse_at;
use crate::{App, WebError, WebResult};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse API",
        description = "Who has access to what, why, and who approved it; findings; the tamper-evident ledger. Authenticate with `Authorization: Bearer <token>` (tokens: the Tokens page or `gatehouse user token create`). Errors carry a stable code (docs/errors.md) and the request id."
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security)
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

pub fn router() -> Router<App> {
    let (router, doc) = OpenApiRouter::<App>::with_openapi(ApiDoc::openapi())
        .routes(routes!(period))
        .routes(routes!(me))
        .routes(routes!(systems))
        .routes(routes!(system))
        .routes(routes!(identities))
        .routes(routes!(access))
        .routes(routes!(who_has))
        .routes(routes!(history))
        .routes(routes!(changes))
        .routes(routes!(findings))
        .routes(routes!(finding))
        .routes(routes!(events))
        .routes(routes!(checkpoints))
        .routes(routes!(verify))
        .routes(routes!(checkpoint))
        .routes(routes!(analyze))
        .routes(routes!(users))
        .routes(routes!(review_inbox))
        .routes(routes!(review_item))
        .routes(routes!(review_decision))
        .routes(routes!(campaign_list))
        .routes(routes!(campaign_one))
        .split_for_parts();
    let doc = doc.to_pretty_json().unwrap_or_else(|_| "{}".into());
    router.route(
        "/api/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    doc,
                )
            }
        }),
    )
}

fn ok(v: impl serde::Serialize) -> WebResult<Response> {
    Ok(Json(v).into_response())
}

/// The period the store has data for, and interrupted imports.
#[utoipa::path(get, path = "/api/period", tag = "inventory",
    responses((status = 200, description = "The recorded period and interrupted imports", body = Object),
              (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn period(State(app): State<App>, p: Principal) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    let (period, incomplete) = app
        .store
        .read_async(|r| Ok::<_, StoreError>((r.recorded_period()?, r.incomplete_imports()?)))
        .await?;
    ok(
        json!({ "period": period, "incomplete_imports": incomplete.iter().map(|i| json!({
        "source": i.source, "as_of": i.as_of, "recorded": i.recorded, "total": i.total
    })).collect::<Vec<_>>() }),
    )
}

/// The signed-in user (or the token's user).
#[utoipa::path(get, path = "/api/me", tag = "users",
    responses((status = 200, description = "The user", body = Object), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn me(p: Principal) -> WebResult<Response> {
    ok(&p.user)
}

/// Every system, with its size and last import.
#[utoipa::path(get, path = "/api/systems", tag = "inventory",
    responses((status = 200, description = "Systems", body = Object), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn systems(State(app): State<App>, p: Principal) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    ok(app.store.read_async(|r| r.systems()).await?)
}

/// One system with its entitlements and accounts.
#[utoipa::path(get, path = "/api/systems/{key}", tag = "inventory",
    params(("key" = String, Path, description = "System key")),
    responses((status = 200, description = "The system", body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn system(
    State(app): State<App>,
    p: Principal,
    Path(key): Path<String>,
) -> WebResult<Response> {
    let systems = app.store.read_async(|r| r.systems()).await?;
    let found = systems.into_iter().find(|s| s.key.as_str() == key);
    let owner = found.as_ref().and_then(|s| s.owner.clone());
    p.authorize(&app, Action::ViewSystem(owner.as_ref()))
        .await?;
    let system = found.ok_or_else(|| WebError::not_found(format!("there is no system `{key}`")))?;
    let (entitlements, accounts) = app
        .store
        .read_async(move |r| {
            Ok::<_, StoreError>((r.entitlements(Some(&key))?, r.accounts(Some(&key), false)?))
        })
        .await?;
    ok(json!({ "system": system, "entitlements": entitlements, "accounts": accounts }))
}

/// Every current identity.
#[utoipa::path(get, path = "/api/identities", tag = "inventory",
    responses((status = 200, description = "Identities", body = Object), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn identities(State(app): State<App>, p: Principal) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    ok(app.store.read_async(|r| r.identities()).await?)
}

#[derive(Deserialize, utoipa::IntoParams)]
struct AtQuery {
    /// A date (end of that day) or a time; default now.
    at: Option<String>,
}

/// Everything one identity held, on every system, now or at a date (`gatehouse access`).
#[utoipa::path(get, path = "/api/identities/{key}/access", tag = "inventory",
    params(("key" = String, Path, description = "Identity key"), AtQuery),
    responses((status = 200, description = "Access", body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn access(
    State(app): State<App>,
    p: Principal,
    Path(key): Path<String>,
    Query(q): Query<AtQuery>,
) -> WebResult<Response> {
    let at = parse_at(q.at.as_deref(), p.now)?;
    let asked = IdentityKey::new(key).map_err(|_| WebError::not_found("no such identity"))?;
    p.authorize(&app, Action::ViewIdentity(&asked)).await?;
    ok(app
        .store
        .read_async(move |r| {
            let i = r.resolve_identity(asked.as_str(), at)?;
            r.access(i, at)
        })
        .await?)
}

#[derive(Deserialize, utoipa::IntoParams)]
struct WhoHasQuery {
    /// `system:entitlement` (id or unique name).
    entitlement: String,
    /// A date (end of that day) or a time; default now.
    at: Option<String>,
    /// Start after this account (paging).
    after: Option<String>,
    /// At most this many holders (default 1,000).
    limit: Option<usize>,
}

/// Who held an entitlement, now or at a date (`gatehouse who-has`).
#[utoipa::path(get, path = "/api/who-has", tag = "inventory", params(WhoHasQuery),
    responses((status = 200, description = "Holders", body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn who_has(
    State(app): State<App>,
    p: Principal,
    Query(q): Query<WhoHasQuery>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    let at = parse_at(q.at.as_deref(), p.now)?;
    ok(app
        .store
        .read_async(move |r| {
            let e = r.resolve_entitlement(&q.entitlement)?;
            let h = r.who_has(
                &e,
                at,
                &HolderPage {
                    after: q.after,
                    limit: Some(q.limit.unwrap_or(1000).min(10_000)),
                },
            )?;
            Ok::<_, StoreError>(json!({ "entitlement": e, "at": at, "holders": h }))
        })
        .await?)
}

#[derive(Deserialize, utoipa::IntoParams)]
struct HistoryQuery {
    /// `grant`, `account`, `entitlement` or `identity`.
    kind: String,
    /// The object: `system:account/entitlement`, `system:account`, `system:entitlement`, or an identity key or e-mail.
    reference: String,
}

/// When an object appeared, changed and went away, and why (`gatehouse history`).
#[utoipa::path(get, path = "/api/history", tag = "inventory", params(HistoryQuery),
    responses((status = 200, description = "History", body = Object), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
async fn history(
    State(app): State<App>,
    p: Principal,
    Query(q): Query<HistoryQuery>,
) -> WebResult<Response> {
    let kind = match q.kind.as_str() {
        "grant" => ObjectKind::Grant,
        "account" => ObjectKind::Account,
        "entitlement" => ObjectKind::Entitlement,
        "identity" => ObjectKind::Identity,
        other => {
            return Err(WebError::bad_request(format!(
                "`{other}` is not grant, account, entitlement or identity"
            )));
        }
    };
    match (kind, IdentityKey::new(q.reference.clone())) {
        (ObjectKind::Identity, Ok(k)) => p.authorize(&app, Action::ViewIdentity(&k)).await?,
        _ => p.authorize(&app, Action::ViewOrganisation).await?,
    }
    ok(app
        .store
        .read_async(move |r| r.history(kind, &q.reference))
        .await?)
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ChangesQuery {
    /// Start of the period (a date or an RFC 3339 time).
    from: String,
    /// End of the period (default: now; a date means the end of that day).
    to: Option<String>,
    /// Only this system.
    system: Option<String>,
    /// Only this entitlement (`system:native_id`).
    entitlement: Option<String>,
    /// Only the accounts of this identity.
    identity: Option<String>,
    /// Only privileged entitlements.
    #[serde(default)]
    privileged: bool,
}

/// Access gained and lost in a period, with warrants (`gatehouse changes`).
#[utoipa::path(get, path = "/api/changes", tag = "inventory", params(ChangesQuery),
    responses((status = 200, description = "Changes, and the systems first imported in the period", body = Object),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn changes(
    State(app): State<App>,
    p: Principal,
    Query(q): Query<ChangesQuery>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    let from = gatehouse_model::parse_timestamp(&q.from)
        .map_err(|e| WebError::bad_request(format!("from: {e}")))?;
    let to = match q.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => gatehouse_model::parse_point_in_time(t)
            .map_err(|e| WebError::bad_request(format!("to: {e}")))?,
        None => p.now,
    };
    if from > to {
        return Err(WebError::bad_request(
            "`from` is after `to`: the period would be empty",
        ));
    }
    ok(app
        .store
        .read_async(move |r| {
            let mut filter = ChangeFilter {
                privileged: q.privileged,
                ..ChangeFilter::default()
            };
            if let Some(system) = &q.system {
                filter.system = Some(r.resolve_system(system)?);
            }
            if let Some(e) = &q.entitlement {
                filter.entitlement = Some(r.resolve_entitlement(e)?);
            }
            if let Some(i) = &q.identity {
                filter.identity = Some(r.resolve_identity(i, to)?.key);
            }
            r.changes(from, to, &filter)
        })
        .await?)
}

#[derive(Deserialize, utoipa::IntoParams)]
struct FindingQuery {
    /// At least this severity.
    severity: Option<String>,
    /// Only this system.
    system: Option<String>,
    /// Only this rule.
    rule: Option<String>,
    /// Only this identity.
    identity: Option<String>,
    /// `open`, `accepted`, `resolved` (default: all).
    status: Option<String>,
}

/// Findings (`gatehouse findings list`).
#[utoipa::path(get, path = "/api/findings", tag = "findings", params(FindingQuery),
    responses((status = 200, description = "Findings", body = Object), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn findings(
    State(app): State<App>,
    p: Principal,
    Query(q): Query<FindingQuery>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    let bad = |e: gatehouse_model::ModelError| WebError::bad_request(e.to_string());
    let filter = FindingFilter {
        rule: q.rule,
        min_severity: q
            .severity
            .map(|s| s.parse::<Severity>())
            .transpose()
            .map_err(bad)?,
        system: q.system,
        identity: q.identity,
        status: q
            .status
            .map(|s| s.parse::<FindingStatus>())
            .transpose()
            .map_err(bad)?
            .into_iter()
            .collect(),
    };
    ok(app.store.read_async(move |r| r.findings(&filter)).await?)
}

/// One finding with its explanation and facts (`gatehouse findings show`).
#[utoipa::path(get, path = "/api/findings/{id}", tag = "findings",
    params(("id" = String, Path, description = "Finding id")),
    responses((status = 200, description = "The finding", body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn finding(
    State(app): State<App>,
    p: Principal,
    Path(id): Path<String>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    ok(app.store.read_async(move |r| r.finding(&id)).await?)
}

#[derive(Deserialize, utoipa::IntoParams)]
struct EventQuery {
    /// Kind, or a prefix ending in `.`.
    kind: Option<String>,
    /// Actor.
    actor: Option<String>,
    /// Object, or a prefix.
    object: Option<String>,
    /// First sequence number.
    from: Option<u64>,
    /// Last sequence number.
    to: Option<u64>,
    /// At most this many (default 1,000).
    limit: Option<u64>,
}

/// Search the ledger's events (`gatehouse ledger show`).
#[utoipa::path(get, path = "/api/ledger/events", tag = "ledger", params(EventQuery),
    responses((status = 200, description = "Events", body = Object), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn events(
    State(app): State<App>,
    p: Principal,
    Query(q): Query<EventQuery>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    let filter = EventFilter {
        kind: q.kind,
        actor: q.actor,
        object: q.object,
        from_seq: q.from,
        to_seq: q.to,
        limit: Some(q.limit.unwrap_or(1000).min(10_000)),
        ..EventFilter::default()
    };
    let rows = app.store.read_async(move |r| r.events(&filter)).await?;
    let out: Vec<Value> = rows
        .iter()
        .map(|e| {
            let event: Value = serde_json::from_slice(&e.body).unwrap_or(Value::Null);
            json!({ "seq": e.seq, "recorded_at": e.recorded_at, "actor": e.actor, "kind": e.kind, "object": e.object, "event": event })
        })
        .collect();
    ok(out)
}

/// The signed checkpoints (`gatehouse ledger checkpoints`).
#[utoipa::path(get, path = "/api/ledger/checkpoints", tag = "ledger",
    responses((status = 200, description = "Checkpoints", body = Object), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn checkpoints(State(app): State<App>, p: Principal) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    ok(app.store.read_async(|r| r.checkpoints()).await?)
}

#[derive(Deserialize, Default)]
struct VerifyBody {
    /// Replay every event and compare the state tables.
    #[serde(default)]
    state: bool,
}

/// Verify the ledger now (`gatehouse ledger verify`); needs the `evidence` scope.
#[utoipa::path(post, path = "/api/ledger/verify", tag = "ledger",
    responses((status = 200, description = "It verifies", body = Object), (status = 409, description = "It does not", body = ErrorBody)),
    security(("bearer" = [])))]
async fn verify(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(None, &headers))?;
    p.authorize(&app, Action::VerifyLedger).await?;
    let body: VerifyBody = body
        .map(|Json(v)| serde_json::from_value(v))
        .transpose()
        .map_err(|e| WebError::bad_request(e.to_string()))?
        .unwrap_or_default();
    let key = app.config.verifier().ok_or_else(|| {
        WebError::new(
            axum::http::StatusCode::CONFLICT,
            gatehouse_model::ErrorCode::LedgerKey,
            "the server has no ledger key",
        )
    })?;
    let witnesses = app.config.witnesses.clone();
    let store = app.store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let views = gatehouse_workflow::ask_witnesses(witnesses.clients(), &key);
        let held = witnesses
            .clients()
            .iter()
            .zip(&views)
            .filter_map(|(c, v)| match v {
                gatehouse_workflow::WitnessView::Holds { checkpoint, .. } => {
                    Some((c.witness().label(), checkpoint.clone()))
                }
                _ => None,
            })
            .collect();
        let checks = WitnessChecks {
            policy: witnesses.policy().clone(),
            held,
        };
        store.read(|r| {
            r.verify_ledger_with(
                &VerifyOptions {
                    key: &key,
                    published: Vec::new(),
                    state: body.state,
                },
                &checks,
            )
        })
    })
    .await
    .map_err(WebError::internal)?;
    match result {
        Ok(r) => ok(json!({
            "verified": true, "events": r.events, "checkpoints": r.checkpoints, "signed_size": r.signed_size,
            "cosignatures": r.cosignatures, "state_checked": r.state_checked, "root": hex::encode(r.root),
        })),
        Err(e @ (VerifyError::Tampered(_) | VerifyError::NotCheckpointed(_))) => Err(e.into()),
        Err(VerifyError::Store(e)) => Err(e.into()),
    }
}

/// Sign a checkpoint now and have the witnesses cosign it (`gatehouse ledger checkpoint`);
/// admins, `write` scope.
#[utoipa::path(post, path = "/api/ledger/checkpoint", tag = "ledger",
    responses((status = 200, description = "The latest checkpoint", body = Object), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn checkpoint(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(None, &headers))?;
    p.authorize(&app, Action::Operate).await?;
    crate::scheduler::seal(&app, p.now)
        .await
        .map_err(WebError::internal)?;
    ok(app.store.read_async(|r| r.latest_checkpoint()).await?)
}

/// Run every risk rule and record the findings (`gatehouse analyze`); admins, `write` scope.
#[utoipa::path(post, path = "/api/analysis", tag = "findings",
    responses((status = 200, description = "What changed", body = Object), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn analyze(State(app): State<App>, p: Principal, headers: HeaderMap) -> WebResult<Response> {
    p.check_csrf(csrf_of(None, &headers))?;
    p.authorize(&app, Action::Operate).await?;
    let (store, policy, sod, actor, now) = (
        app.store.clone(),
        app.config.policy.clone(),
        app.config.sod.clone(),
        p.actor(),
        p.now,
    );
    let (report, _) = tokio::task::spawn_blocking(move || {
        gatehouse_workflow::analyze(&store, &policy, &sod, &actor, now)
    })
    .await
    .map_err(WebError::internal)??;
    app.changed();
    let by = |m: &std::collections::BTreeMap<Severity, u64>| {
        m.iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    ok(json!({
        "event": report.seq, "open": by(&report.open), "opened": report.opened, "changed": report.changed,
        "resolved": report.resolved, "reopened": report.reopened, "insights": report.insights,
    }))
}

/// Gatehouse users (admins).
#[utoipa::path(get, path = "/api/users", tag = "users",
    responses((status = 200, description = "Users", body = Object), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn users(State(app): State<App>, p: Principal) -> WebResult<Response> {
    p.authorize(&app, Action::ManageUsers).await?;
    ok(app.store.read_async(|r| r.users()).await?)
}

#[derive(Deserialize, utoipa::IntoParams)]
struct InboxParams {
    /// Only items on this system.
    system: Option<String>,
    /// Only items with this recommendation (`keep`, `revoke`).
    recommendation: Option<String>,
    /// Only `privileged`, `sod` (in a conflict) or `findings` (with open findings) items.
    risk: Option<String>,
    /// Only items of this campaign (`C-0001`).
    campaign: Option<String>,
    /// Skip this many.
    offset: Option<u64>,
    /// At most this many (default 100, at most 1,000).
    limit: Option<u64>,
}

/// The signed-in reviewer's open items in active campaigns, soonest due first
/// (`gatehouse review inbox`).
#[utoipa::path(get, path = "/api/reviews", tag = "reviews", params(InboxParams),
    responses((status = 200, description = "One page of open items, with the total", body = Object),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn review_inbox(
    State(app): State<App>,
    p: Principal,
    Query(q): Query<InboxParams>,
) -> WebResult<Response> {
    // Reading one's own items needs the `read` scope; deciding them needs `write`.
    let me = p
        .user
        .identity
        .clone()
        .ok_or_else(|| WebError::forbidden("your Gatehouse user is linked to no person"))?;
    p.authorize(&app, Action::ViewReviewItem(&me)).await?;
    let query = crate::routes::reviews::InboxQuery {
        system: q.system,
        recommendation: q.recommendation,
        risk: q.risk,
        campaign: q.campaign,
        offset: q.offset,
        ..Default::default()
    };
    let mut filter = query.filter()?;
    filter.limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let f = filter.clone();
    let page = app.store.read_async(move |r| r.inbox_page(&me, &f)).await?;
    ok(json!({
        "total": page.total,
        "offset": filter.offset,
        "items": page.items.iter().map(|(due, item)| json!({
            "ref": item.reference().to_string(), "due": due, "item": item,
        })).collect::<Vec<_>>(),
    }))
}

/// One review item with its context and its decisions so far; the reviewer it is assigned
/// to, admins and auditors only (anyone else gets 404).
#[utoipa::path(get, path = "/api/reviews/{campaign}/{n}", tag = "reviews",
    params(("campaign" = String, Path, description = "Campaign id (C-0001)"), ("n" = u32, Path, description = "Item number")),
    responses((status = 200, description = "The item", body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn review_item(
    State(app): State<App>,
    p: Principal,
    Path((campaign, n)): Path<(String, String)>,
) -> WebResult<Response> {
    let at = crate::routes::reviews::parse_item(&campaign, &n)?;
    let (item, decisions) = app
        .store
        .read_async(move |r| Ok::<_, StoreError>((r.review_item(at)?, r.item_decisions(at)?)))
        .await
        .map_err(crate::routes::reviews::hidden)?;
    p.authorize(&app, Action::ViewReviewItem(&item.reviewer))
        .await?;
    ok(json!({ "ref": at.to_string(), "item": item, "decisions": decisions }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct DecisionBody {
    /// `keep`, `revoke` or `keep_until`.
    verdict: String,
    /// For `keep_until`: the date (`2027-03-31`).
    until: Option<String>,
    /// The reviewer's comment (required on revoke, and where the campaign's rules say).
    comment: Option<String>,
}

/// Decide one of your own review items (`gatehouse campaign decide`); needs the `write`
/// scope. Someone else's item answers 404; a decided item, a closed campaign or a missing
/// comment is refused and changes nothing.
#[utoipa::path(post, path = "/api/reviews/{campaign}/{n}/decision", tag = "reviews",
    params(("campaign" = String, Path, description = "Campaign id (C-0001)"), ("n" = u32, Path, description = "Item number")),
    request_body = DecisionBody,
    responses((status = 200, description = "What was recorded", body = Object),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn review_decision(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Path((campaign, n)): Path<(String, String)>,
    Json(body): Json<DecisionBody>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(None, &headers))?;
    let me = crate::routes::reviews::reviewer(&app, &p).await?;
    let at = crate::routes::reviews::parse_item(&campaign, &n)?;
    crate::routes::reviews::may_see_item(&app, &p, at).await?;
    let (verdict, until) =
        crate::routes::reviews::verdict_of(&body.verdict, body.until.as_deref())?;
    let input = gatehouse_workflow::campaigns::DecisionInput {
        item: at.item,
        verdict,
        until,
        comment: crate::routes::reviews::comment_of(body.comment),
    };
    let (store, now) = (app.store.clone(), p.now);
    let acting = gatehouse_workflow::campaigns::Acting::person(p.actor(), me);
    let report = crate::routes::reviews::blocking(move || {
        gatehouse_workflow::campaigns::decide(&store, &acting, now, at.campaign, vec![input])
    })
    .await??;
    app.changed();
    ok(report)
}

/// Every campaign, newest first, with its progress (`gatehouse campaign list`).
#[utoipa::path(get, path = "/api/campaigns", tag = "reviews",
    responses((status = 200, description = "Campaigns", body = Object), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn campaign_list(State(app): State<App>, p: Principal) -> WebResult<Response> {
    p.authorize(&app, Action::ViewCampaigns).await?;
    ok(app.store.read_async(|r| r.campaigns()).await?)
}

/// One campaign with its progress per reviewer (`gatehouse campaign show`).
#[utoipa::path(get, path = "/api/campaigns/{id}", tag = "reviews",
    params(("id" = String, Path, description = "Campaign id (C-0001)")),
    responses((status = 200, description = "The campaign", body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn campaign_one(
    State(app): State<App>,
    p: Principal,
    Path(id): Path<String>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewCampaigns).await?;
    let id: gatehouse_model::CampaignId = id
        .parse()
        .map_err(|_| WebError::not_found(format!("there is no campaign `{id}`")))?;
    let (c, progress) = app
        .store
        .read_async(move |r| Ok::<_, StoreError>((r.campaign(id)?, r.progress_by_reviewer(id)?)))
        .await?;
    ok(json!({
        "campaign": c,
        "reviewers": progress.iter().map(|(r, items, open)| json!({
            "reviewer": r, "items": items, "open": open
        })).collect::<Vec<_>>(),
    }))
}
