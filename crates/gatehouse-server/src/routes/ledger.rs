//! The ledger: browse and search events, the current checkpoint with its witness
//! cosignatures, "verify now" with its result, and an evidence bundle to download.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_ledger::WitnessVerifier;
use gatehouse_store::{EventFilter, VerifyError, VerifyOptions, WitnessChecks};
use gatehouse_workflow::WitnessView;
use serde::Deserialize;

use crate::auth::{Action, Principal};
use crate::routes::{csrf_of, page};
use crate::views::{Chrome, when};
use crate::{App, WebError, WebResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/ledger", get(browse))
        .route("/ledger/verify", post(verify))
        .route("/ledger/export", get(export))
        .route("/ledger/events/{seq}", get(event))
}

#[derive(askama::Template)]
#[template(path = "ledger_event.html")]
struct EventPage {
    chrome: Chrome,
    e: EventItem,
    body: String,
    checkpoint: Option<u64>,
}

/// One event as recorded: who, when, what, and its body as hashed into the log.
async fn event(
    State(app): State<App>,
    p: Principal,
    axum::extract::Path(seq): axum::extract::Path<String>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| WebError::not_found(format!("there is no event `{seq}`")))?;
    let (rows, checkpoint) = app
        .store
        .read_async(move |r| {
            let rows = r.events(&EventFilter {
                from_seq: Some(seq),
                to_seq: Some(seq),
                limit: Some(1),
                ..EventFilter::default()
            })?;
            let covered = r
                .checkpoints()?
                .into_iter()
                .map(|c| c.size)
                .filter(|size| *size >= seq)
                .min();
            Ok::<_, gatehouse_store::StoreError>((rows, covered))
        })
        .await?;
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| WebError::not_found(format!("there is no event {seq}")))?;
    let body = serde_json::from_slice::<serde_json::Value>(&row.body)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| String::from_utf8_lossy(&row.body).into_owned());
    page(&EventPage {
        chrome: Chrome::new(&app, &p, format!("Event {seq}"), "/ledger").await,
        e: EventItem {
            seq: row.seq,
            at: when(row.recorded_at),
            actor: row.actor,
            kind: row.kind,
            object: row.object,
        },
        body,
        checkpoint,
    })
}

#[derive(Deserialize, Default)]
struct EventQuery {
    kind: Option<String>,
    actor: Option<String>,
    object: Option<String>,
    before: Option<u64>,
}

/// An event row.
pub struct EventItem {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub object: String,
}

/// A line of the checkpoint: its signature lines named.
pub struct CheckpointView {
    pub size: u64,
    pub signed_at: String,
    pub note: String,
    pub signatures: Vec<String>,
}

#[derive(askama::Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    chrome: Chrome,
    kind: String,
    actor: String,
    object: String,
    events: Vec<EventItem>,
    older: Option<String>,
    size: u64,
    checkpoint: Option<CheckpointView>,
    can_verify: bool,
}

const PAGE: u64 = 100;

fn nonempty(s: &Option<String>) -> Option<String> {
    s.clone()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

async fn browse(
    State(app): State<App>,
    p: Principal,
    Query(q): Query<EventQuery>,
) -> WebResult<Response> {
    p.authorize(&app, Action::ViewOrganisation).await?;
    let (kind, actor, object) = (nonempty(&q.kind), nonempty(&q.actor), nonempty(&q.object));
    let before = q.before;
    let filter = EventFilter {
        kind: kind.clone(),
        actor: actor.clone(),
        object: object.clone(),
        ..EventFilter::default()
    };
    let (size, events, checkpoint) = app
        .store
        .read_async(move |r| {
            let size = r.size();
            // Newest first: a window of sequence numbers ending before `before`, widened
            // until it holds a page or reaches the start.
            let end = before
                .map(|b| b.saturating_sub(1))
                .unwrap_or(size)
                .min(size);
            let mut found = Vec::new();
            let mut span = 1_000u64;
            let mut top = end;
            while top > 0 && (found.len() as u64) < PAGE {
                let from = top.saturating_sub(span) + 1;
                let mut f = filter.clone();
                f.from_seq = Some(from);
                f.to_seq = Some(top);
                let mut rows = r.events(&f)?;
                rows.reverse();
                found.extend(rows);
                top = from - 1;
                span = span.saturating_mul(4);
            }
            found.truncate(PAGE as usize);
            Ok::<_, gatehouse_store::StoreError>((size, found, r.latest_checkpoint()?))
        })
        .await?;
    let older = match events.last() {
        Some(e) if e.seq > 1 && events.len() as u64 == PAGE => Some(format!(
            "/ledger?kind={}&actor={}&object={}&before={}",
            crate::views::url_encode(&kind.clone().unwrap_or_default()),
            crate::views::url_encode(&actor.clone().unwrap_or_default()),
            crate::views::url_encode(&object.clone().unwrap_or_default()),
            e.seq
        )),
        _ => None,
    };
    let can_verify = crate::auth::policy::decide(&p.user, None, &Action::VerifyLedger)
        == crate::auth::Decision::Allow;
    page(&LedgerPage {
        chrome: Chrome::new(&app, &p, "Ledger", "/ledger").await,
        kind: kind.unwrap_or_default(),
        actor: actor.unwrap_or_default(),
        object: object.unwrap_or_default(),
        events: events
            .into_iter()
            .map(|e| EventItem {
                seq: e.seq,
                at: when(e.recorded_at),
                actor: e.actor,
                kind: e.kind,
                object: e.object,
            })
            .collect(),
        older,
        size,
        checkpoint: checkpoint.map(|c| {
            let signatures = c
                .note
                .lines()
                .filter(|l| l.starts_with('\u{2014}'))
                .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
                .collect();
            CheckpointView {
                size: c.size,
                signed_at: when(c.signed_at),
                note: c.note,
                signatures,
            }
        }),
        can_verify,
    })
}

#[derive(Deserialize)]
struct VerifyForm {
    csrf: Option<String>,
    state: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "ledger_verify.html")]
struct VerifyResult {
    ok: bool,
    summary: String,
    details: Vec<String>,
}

async fn verify(
    State(app): State<App>,
    p: Principal,
    headers: HeaderMap,
    Form(f): Form<VerifyForm>,
) -> WebResult<Response> {
    p.check_csrf(csrf_of(f.csrf.as_deref(), &headers))?;
    p.authorize(&app, Action::VerifyLedger).await?;
    let key = app.config.verifier().ok_or_else(|| {
        WebError::new(
            axum::http::StatusCode::CONFLICT,
            gatehouse_model::ErrorCode::LedgerKey,
            "the server has no ledger key to verify against (configure [ledger] key_file or public_key_file)",
        )
    })?;
    let store = app.store.clone();
    let witnesses = app.config.witnesses.clone();
    let replay = f.state.is_some();
    let outcome = tokio::task::spawn_blocking(move || {
        let views = gatehouse_workflow::ask_witnesses(witnesses.clients(), &key);
        let mut details = Vec::new();
        let mut held = Vec::new();
        for (c, v) in witnesses.clients().iter().zip(&views) {
            match v {
                WitnessView::Holds { checkpoint, .. } => {
                    details.push(format!(
                        "witness {} holds size {}",
                        c.witness().label(),
                        checkpoint.size
                    ));
                    held.push((c.witness().label(), checkpoint.clone()));
                }
                other => details.push(format!("witness {}: {other:?}", c.witness().label())),
            }
        }
        let checks = WitnessChecks {
            policy: witnesses.policy().clone(),
            held,
        };
        let result = store.read(|r| {
            r.verify_ledger_with(
                &VerifyOptions {
                    key: &key,
                    published: Vec::new(),
                    state: replay,
                },
                &checks,
            )
        });
        (result, details)
    })
    .await
    .map_err(WebError::internal)?;
    let (result, mut details) = outcome;
    let view = match result {
        Ok(r) => {
            details.insert(
                0,
                format!(
                    "{} events, {} checkpoints verified; signed up to {}; {} cosignatures{}",
                    r.events,
                    r.checkpoints,
                    r.signed_size,
                    r.cosignatures,
                    if r.state_checked {
                        "; the state tables follow from the events"
                    } else {
                        "; state replay not asked for"
                    }
                ),
            );
            VerifyResult {
                ok: true,
                summary: "The ledger verifies.".into(),
                details,
            }
        }
        Err(VerifyError::Tampered(m)) => VerifyResult {
            ok: false,
            summary: format!("Ledger verification FAILED: {m}"),
            details,
        },
        Err(VerifyError::NotCheckpointed(r)) => VerifyResult {
            ok: false,
            summary: format!(
                "No signed checkpoint covers the log yet ({} events).",
                r.events
            ),
            details,
        },
        Err(VerifyError::Store(e)) => return Err(e.into()),
    };
    tracing::info!(ok = view.ok, user = %p.user.name, "ledger verified from the web");
    page(&view)
}

async fn export(State(app): State<App>, p: Principal) -> WebResult<Response> {
    p.authorize(&app, Action::ExportEvidence).await?;
    let key = app.config.verifier().ok_or_else(|| {
        WebError::new(
            axum::http::StatusCode::CONFLICT,
            gatehouse_model::ErrorCode::LedgerKey,
            "the server has no ledger key; evidence bundles need one",
        )
    })?;
    let store = app.store.clone();
    let witnesses: Vec<WitnessVerifier> = app
        .config
        .witnesses
        .clients()
        .iter()
        .map(|c| c.witness().clone())
        .collect();
    let (bytes, size) = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().map_err(|e| WebError::internal(e.to_string()))?;
        let out = dir.path().join("bundle");
        let size = store.read(|r| {
            let latest = r.latest_checkpoint()?.ok_or_else(|| {
                gatehouse_store::StoreError::refused(
                    gatehouse_model::ErrorCode::NotCheckpointed,
                    "there is no signed checkpoint yet",
                )
            })?;
            r.export_bundle_with(&out, 1, latest.size, &key, &witnesses)?;
            Ok::<_, gatehouse_store::StoreError>(latest.size)
        })?;
        let bytes = crate::tar::archive(&out, &format!("gatehouse-evidence-{size}"))
            .map_err(|e| WebError::internal(e.to_string()))?;
        Ok::<_, WebError>((bytes, size))
    })
    .await
    .map_err(WebError::internal)??;
    tracing::info!(user = %p.user.name, size, "evidence bundle downloaded");
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"gatehouse-evidence-{size}.tar\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
