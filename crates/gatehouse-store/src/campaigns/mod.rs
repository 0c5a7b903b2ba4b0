//! The campaigns domain: access review campaigns, their items and decisions, delegations,
//! reminders and escalations, sign-off, the remediation of revokes and its verification, and
//! the notifications sent about them.
//!
//! - `project` (here): how each [`CampaignEvent`] changes the tables;
//! - [`query`]: campaigns, items, inboxes, decisions, tasks, and the facts the workflow needs
//!   to verify remediation and to count keep decisions as warrants.
//!
//! Items and tasks are inserted through the writer's sink (in bulk: `COPY` on PostgreSQL).
//! Decisions on many items change them with one statement per event (a JSON array of the
//! decisions, read by `json_each` on SQLite and `json_to_recordset` on PostgreSQL), so that a
//! hundred thousand decisions make a hundred statements rather than a hundred thousand.

use std::collections::BTreeMap;

use gatehouse_model::{CampaignEvent, ItemRef, Notice, ReviewItems, Stamped, Timestamp};
use serde::Serialize;

use crate::conn::{Backend, Value};
use crate::domain::StateTable;
use crate::error::StoreError;
use crate::sink::{Phase, Sink, TableSpec};
use crate::writer::{Writer, micros};

pub mod query;

/// The domain's state tables, with their key columns.
pub(crate) const TABLES: &[StateTable] = &[
    StateTable {
        name: "campaign",
        keys: "campaign",
    },
    StateTable {
        name: "review_item",
        keys: "campaign, n",
    },
    StateTable {
        name: "review_open",
        keys: "reviewer, campaign, system",
    },
    StateTable {
        name: "review_holder",
        keys: "campaign, identity",
    },
    StateTable {
        name: "review_entitlement",
        keys: "campaign, system, entitlement",
    },
    StateTable {
        name: "review_decision",
        keys: "campaign, n, stage",
    },
    StateTable {
        name: "review_reassignment",
        keys: "seq",
    },
    StateTable {
        name: "review_reminder",
        keys: "seq",
    },
    StateTable {
        name: "remediation",
        keys: "campaign, n",
    },
    StateTable {
        name: "notification",
        keys: "seq",
    },
];

const REVIEW_ITEM: TableSpec = TableSpec {
    name: "review_item",
    columns: &[
        "campaign",
        "n",
        "system",
        "account",
        "entitlement",
        "role",
        "identity",
        "reviewers",
        "assignment",
        "stage",
        "reviewer",
        "recommendation",
        "reason",
        "context",
        "item_seq",
        "seq",
    ],
    phase: Phase::Objects,
};

const REVIEW_HOLDER: TableSpec = TableSpec {
    name: "review_holder",
    columns: &[
        "campaign",
        "identity",
        "name",
        "manager",
        "department",
        "title",
        "status",
        "purpose",
        "rotated",
        "seq",
    ],
    phase: Phase::Objects,
};

const REVIEW_ENTITLEMENT: TableSpec = TableSpec {
    name: "review_entitlement",
    columns: &[
        "campaign",
        "system",
        "entitlement",
        "name",
        "meaning",
        "privileged",
        "risk",
        "seq",
    ],
    phase: Phase::Objects,
};

const REVIEW_DECISION: TableSpec = TableSpec {
    name: "review_decision",
    columns: &[
        "campaign",
        "n",
        "stage",
        "verdict",
        "until_at",
        "comment",
        "decided_by",
        "decided_at",
        "origin",
        "seq",
    ],
    phase: Phase::Objects,
};

const REMEDIATION: TableSpec = TableSpec {
    name: "remediation",
    columns: &[
        "campaign",
        "n",
        "system",
        "account",
        "entitlement",
        "role",
        "identity",
        "assignee",
        "due",
        "status",
        "opened_at",
        "paths",
        "reopens",
        "seq",
    ],
    phase: Phase::Objects,
};

const NOTIFICATION: TableSpec = TableSpec {
    name: "notification",
    columns: &[
        "seq",
        "id",
        "attempt",
        "channel",
        "recipient",
        "kind",
        "subject",
        "about",
        "delivered",
        "error",
        "retry_at",
        "at",
    ],
    phase: Phase::Objects,
};

/// One decision as the bulk update reads it from JSON.
#[derive(Serialize)]
struct DecisionRow<'a> {
    n: u32,
    stage: u32,
    verdict: &'a str,
    until_at: Option<i64>,
    comment: Option<&'a str>,
    decided_by: Option<&'a str>,
    decided_at: i64,
    origin: &'a str,
    next: Option<&'a str>,
}

/// Applies a batch of decisions to `review_item` (`$1` campaign, `$2` seq, `$3` JSON array of
/// [`DecisionRow`]s): a decision with a `next` reviewer moves the item to its next stage, one
/// without decides it.
///
/// The decisions are materialized first, with the campaign as a column: with the JSON as a
/// plain subquery, SQLite walks the campaign's items and reads the whole array again for
/// each of them (a campaign of 20,000 items decided in bulk took minutes); this way it reads
/// the array once and looks each item up by its key.
const DECIDE_SQLITE: &str = "WITH d AS MATERIALIZED (SELECT $1 AS campaign, \
           json_extract(j.value, '$.n') AS n, json_extract(j.value, '$.stage') AS stage, \
           json_extract(j.value, '$.verdict') AS verdict, \
           json_extract(j.value, '$.until_at') AS until_at, \
           json_extract(j.value, '$.comment') AS comment, \
           json_extract(j.value, '$.decided_by') AS decided_by, \
           json_extract(j.value, '$.decided_at') AS decided_at, \
           json_extract(j.value, '$.origin') AS origin, \
           json_extract(j.value, '$.next') AS next FROM json_each($3) j) \
     UPDATE review_item SET \
     stage = CASE WHEN d.next IS NULL THEN review_item.stage ELSE d.stage + 1 END, \
     reviewer = COALESCE(d.next, review_item.reviewer), \
     verdict = CASE WHEN d.next IS NULL THEN d.verdict ELSE NULL END, \
     until_at = CASE WHEN d.next IS NULL THEN d.until_at ELSE NULL END, \
     comment = CASE WHEN d.next IS NULL THEN d.comment ELSE NULL END, \
     decided_by = CASE WHEN d.next IS NULL THEN d.decided_by ELSE NULL END, \
     decided_at = CASE WHEN d.next IS NULL THEN d.decided_at ELSE NULL END, \
     origin = CASE WHEN d.next IS NULL THEN d.origin ELSE NULL END, \
     seq = $2 \
     FROM d WHERE review_item.campaign = d.campaign AND review_item.n = d.n";

const DECIDE_POSTGRES: &str = "UPDATE review_item SET \
     stage = CASE WHEN d.next IS NULL THEN review_item.stage ELSE d.stage + 1 END, \
     reviewer = COALESCE(d.next, review_item.reviewer), \
     verdict = CASE WHEN d.next IS NULL THEN d.verdict ELSE NULL END, \
     until_at = CASE WHEN d.next IS NULL THEN d.until_at ELSE NULL END, \
     comment = CASE WHEN d.next IS NULL THEN d.comment ELSE NULL END, \
     decided_by = CASE WHEN d.next IS NULL THEN d.decided_by ELSE NULL END, \
     decided_at = CASE WHEN d.next IS NULL THEN d.decided_at ELSE NULL END, \
     origin = CASE WHEN d.next IS NULL THEN d.origin ELSE NULL END, \
     seq = $2 \
     FROM json_to_recordset($3::text::json) AS d(n bigint, stage bigint, verdict text, \
          until_at bigint, comment text, decided_by text, decided_at bigint, origin text, \
          next text) \
     WHERE review_item.campaign = $1 AND review_item.n = d.n";

/// Up to this many decisions in one event are applied one by one, by their keys (a web
/// decision is one): the statements of a batch read their JSON and group what they count,
/// which costs several times as much for one item as the few lookups it needs.
const FEW_DECISIONS: usize = 3;

/// The open item `$2` of campaign `$1` (its `$columns`): what [`decide_one`] takes off and
/// adds back to `review_open`. Compared with `=` (one value each), not `IN`, which would have
/// SQLite build a temporary table for the one row at every decision.
macro_rules! one_open {
    ($columns:literal) => {
        concat!(
            "(SELECT ",
            $columns,
            " FROM review_item WHERE campaign = $1 AND n = $2 AND verdict IS NULL)"
        )
    };
}

/// [`uncount`], [`DECIDE_SQLITE`] and [`count`] for one decision, by the item's key; the same
/// rows result.
fn decide_one(w: &mut Writer<'_>, campaign: i64, seq: i64, d: &DecisionRow<'_>) {
    let (c, n) = (Value::Int(campaign), Value::Int(i64::from(d.n)));
    let key = || vec![c.clone(), n.clone()];
    w.sink.statement(
        concat!(
            "UPDATE review_open SET open_items = open_items - 1 WHERE campaign = $1 AND reviewer = ",
            one_open!("reviewer"),
            " AND system = ",
            one_open!("system")
        ),
        key(),
    );
    w.sink.statement(
        concat!(
            "DELETE FROM review_open WHERE open_items <= 0 AND campaign = $1 AND reviewer = ",
            one_open!("reviewer")
        ),
        key(),
    );
    match d.next {
        None => w.sink.statement(
            "UPDATE review_item SET verdict = $3, until_at = $4, comment = $5, decided_by = $6, \
             decided_at = $7, origin = $8, seq = $9 WHERE campaign = $1 AND n = $2",
            vec![
                c.clone(),
                n.clone(),
                Value::from(d.verdict),
                Value::from(d.until_at),
                Value::from(d.comment),
                Value::from(d.decided_by),
                Value::Int(d.decided_at),
                Value::from(d.origin),
                Value::Int(seq),
            ],
        ),
        Some(next) => {
            w.sink.statement(
                "UPDATE review_item SET stage = $3, reviewer = $4, verdict = NULL, \
                 until_at = NULL, comment = NULL, decided_by = NULL, decided_at = NULL, \
                 origin = NULL, seq = $5 WHERE campaign = $1 AND n = $2",
                vec![
                    c.clone(),
                    n.clone(),
                    Value::Int(i64::from(d.stage) + 1),
                    Value::from(next),
                    Value::Int(seq),
                ],
            );
            w.sink.statement(
                concat!(
                    "INSERT INTO review_open (reviewer, campaign, system, open_items) \
                     SELECT reviewer, campaign, system, 1 FROM ",
                    one_open!("reviewer, campaign, system"),
                    " o WHERE true ON CONFLICT (reviewer, campaign, system) \
                     DO UPDATE SET open_items = review_open.open_items + excluded.open_items"
                ),
                key(),
            );
        }
    }
}

/// Gives open items (`$3`, a JSON array of numbers) of campaign `$1` a new reviewer `$2`.
const REASSIGN_SQLITE: &str = "UPDATE review_item SET reviewer = $2, seq = $4 \
     WHERE campaign = $1 AND verdict IS NULL AND n IN (SELECT value FROM json_each($3))";

const REASSIGN_POSTGRES: &str = "UPDATE review_item SET reviewer = $2, seq = $4 \
     WHERE campaign = $1 AND verdict IS NULL \
     AND n IN (SELECT value::bigint FROM json_array_elements_text($3::text::json))";

/// The open items of campaign `$1` among those numbered in `$2` (a JSON array), per reviewer
/// and system: what [`uncount`] takes off `review_open` and [`count`] adds back.
macro_rules! open_groups {
    (sqlite) => {
        "(SELECT reviewer, campaign, system, count(*) AS c FROM review_item \
         WHERE campaign = $1 AND verdict IS NULL AND n IN (SELECT value FROM json_each($2)) \
         GROUP BY reviewer, campaign, system) g"
    };
    (postgres) => {
        "(SELECT reviewer, campaign, system, count(*) AS c FROM review_item \
         WHERE campaign = $1 AND verdict IS NULL \
         AND n IN (SELECT value::bigint FROM json_array_elements_text($2::text::json)) \
         GROUP BY reviewer, campaign, system) g"
    };
}

/// Takes the counted items off, then drops the counts that reached zero.
macro_rules! uncount_sql {
    ($backend:tt) => {
        [
            concat!(
                "UPDATE review_open SET open_items = review_open.open_items - g.c FROM ",
                open_groups!($backend),
                " WHERE review_open.reviewer = g.reviewer AND review_open.campaign = g.campaign \
                 AND review_open.system = g.system"
            ),
            concat!(
                "DELETE FROM review_open WHERE open_items <= 0 AND campaign = $1 \
                 AND reviewer IN (SELECT g.reviewer FROM ",
                open_groups!($backend),
                ")"
            ),
        ]
    };
}

/// Adds the counted items to their reviewers' counts.
macro_rules! count_sql {
    ($backend:tt) => {
        concat!(
            "INSERT INTO review_open (reviewer, campaign, system, open_items) \
             SELECT g.reviewer, g.campaign, g.system, g.c FROM ",
            open_groups!($backend),
            " WHERE true ON CONFLICT (reviewer, campaign, system) \
             DO UPDATE SET open_items = review_open.open_items + excluded.open_items"
        )
    };
}

const UNCOUNT_SQLITE: [&str; 2] = uncount_sql!(sqlite);
const UNCOUNT_POSTGRES: [&str; 2] = uncount_sql!(postgres);
const COUNT_SQLITE: &str = count_sql!(sqlite);
const COUNT_POSTGRES: &str = count_sql!(postgres);

/// Adds per-reviewer and per-system counts (`$1` campaign, `$2` a JSON array of `[reviewer,
/// system, count]`) to `review_open`.
const ADD_OPEN_SQLITE: &str = "INSERT INTO review_open (reviewer, campaign, system, open_items) \
     SELECT json_extract(value, '$[0]'), $1, json_extract(value, '$[1]'), \
     json_extract(value, '$[2]') FROM json_each($2) WHERE true \
     ON CONFLICT (reviewer, campaign, system) \
     DO UPDATE SET open_items = review_open.open_items + excluded.open_items";

const ADD_OPEN_POSTGRES: &str = "INSERT INTO review_open (reviewer, campaign, system, open_items) \
     SELECT x->>0, $1, x->>1, (x->>2)::bigint FROM json_array_elements($2::text::json) AS x \
     ON CONFLICT (reviewer, campaign, system) \
     DO UPDATE SET open_items = review_open.open_items + excluded.open_items";

/// Takes the items an event is about to change (`ns`, a JSON array of item numbers) off their
/// reviewers' open counts, dropping the counts that reach zero. Runs before the change;
/// [`count`] after it.
fn uncount(w: &mut Writer<'_>, campaign: i64, ns: &Value) {
    let sql = match w.conn.backend() {
        Backend::Sqlite => UNCOUNT_SQLITE,
        Backend::Postgres => UNCOUNT_POSTGRES,
    };
    for sql in sql {
        w.sink
            .statement(sql, vec![Value::Int(campaign), ns.clone()]);
    }
}

/// Adds the items an event changed (`ns`) that are still open to their (new) reviewers'
/// counts.
fn count(w: &mut Writer<'_>, campaign: i64, ns: &Value) {
    let sql = match w.conn.backend() {
        Backend::Sqlite => COUNT_SQLITE,
        Backend::Postgres => COUNT_POSTGRES,
    };
    w.sink
        .statement(sql, vec![Value::Int(campaign), ns.clone()]);
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<Value, StoreError> {
    Ok(Value::Text(serde_json::to_string(value)?))
}

fn key(k: Option<&impl ToString>) -> Value {
    Value::from(k.map(ToString::to_string))
}

/// Writes what is buffered when anything is, so that an update sees the rows inserted before
/// it in the same transaction (the sink runs statements before inserts).
fn settle(w: &mut Writer<'_>) -> Result<(), StoreError> {
    if w.sink.pending() > 0 {
        w.flush()?;
    }
    Ok(())
}

/// The rows of a `review.items` event. Needs no connection: the writer may build them on
/// another thread while it writes earlier ones (see [`prepare`]).
fn items(
    sink: &mut Sink,
    backend: Backend,
    seq: i64,
    s: &Stamped<ReviewItems>,
) -> Result<(), StoreError> {
    let campaign = i64::from(s.record.campaign.number());
    for h in &s.record.holders {
        sink.insert(
            &REVIEW_HOLDER,
            vec![
                Value::Int(campaign),
                Value::from(h.identity.as_str()),
                Value::from(h.name.clone()),
                key(h.manager.as_ref()),
                Value::from(h.department.clone()),
                Value::from(h.title.clone()),
                Value::from(h.status.clone()),
                Value::from(h.purpose.clone()),
                Value::from(h.rotated.map(micros)),
                Value::Int(seq),
            ],
        );
    }
    for e in &s.record.entitlements {
        sink.insert(
            &REVIEW_ENTITLEMENT,
            vec![
                Value::Int(campaign),
                Value::from(e.system.as_str()),
                Value::from(e.entitlement.as_str()),
                Value::from(e.name.clone()),
                Value::from(e.meaning.clone()),
                Value::Int(i64::from(e.privileged)),
                Value::from(e.risk.map(|r| r.as_str())),
                Value::Int(seq),
            ],
        );
    }
    for item in &s.record.items {
        let first = item.reviewers.first().ok_or_else(|| {
            StoreError::Corrupt(format!(
                "event {seq}: item {} has no reviewer",
                ItemRef {
                    campaign: s.record.campaign,
                    item: item.n
                }
            ))
        })?;
        let context = if item.context == Default::default() {
            Value::Null
        } else {
            json(&item.context)?
        };
        sink.insert(
            &REVIEW_ITEM,
            vec![
                Value::Int(campaign),
                Value::Int(i64::from(item.n)),
                Value::from(item.system.as_str()),
                Value::from(item.account.clone()),
                Value::from(item.entitlement.as_str()),
                key(item.role.as_ref()),
                key(item.identity.as_ref()),
                json(&item.reviewers)?,
                Value::from(item.assignment.clone()),
                Value::Int(1),
                Value::from(first.as_str()),
                Value::from(item.recommendation.as_str()),
                Value::from(item.reason.as_str()),
                context,
                Value::Int(seq),
                Value::Int(seq),
            ],
        );
    }
    let mut open: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for item in &s.record.items {
        if let Some(first) = item.reviewers.first() {
            *open
                .entry((first.as_str(), item.system.as_str()))
                .or_default() += 1;
        }
    }
    let open: Vec<(&str, &str, u64)> = open.into_iter().map(|((r, s), n)| (r, s, n)).collect();
    sink.statement(
        match backend {
            Backend::Sqlite => ADD_OPEN_SQLITE,
            Backend::Postgres => ADD_OPEN_POSTGRES,
        },
        vec![Value::Int(campaign), json(&open)?],
    );
    sink.statement(
        "UPDATE campaign SET items = items + $2, seq = $3 WHERE campaign = $1",
        vec![
            Value::Int(campaign),
            Value::Int(s.record.items.len() as i64),
            Value::Int(seq),
        ],
    );
    Ok(())
}

/// The rows of an event whose projection reads nothing from the tables, built apart from the
/// writer: `None` for every other event.
pub(crate) fn prepare(
    backend: Backend,
    seq: u64,
    e: &CampaignEvent,
) -> Option<Result<Sink, StoreError>> {
    match e {
        CampaignEvent::ReviewItems(s) => {
            let mut sink = Sink::default();
            Some(items(&mut sink, backend, seq as i64, s).map(|()| sink))
        }
        _ => None,
    }
}

/// Applies one campaigns event to the tables.
pub(crate) fn project(w: &mut Writer<'_>, seq: u64, e: &CampaignEvent) -> Result<(), StoreError> {
    use CampaignEvent as E;
    let seq = seq as i64;
    match e {
        E::CampaignCreated(s) => {
            let c = &s.record;
            w.sink.statement(
                "INSERT INTO campaign (campaign, name, kind, scope, state, owner, created_at, \
                 items, decided, record, seq) VALUES ($1, $2, $3, $4, 'draft', $5, $6, 0, 0, $7, $8)",
                vec![
                    Value::Int(i64::from(c.id.number())),
                    Value::from(c.name.as_str()),
                    Value::from(c.kind.as_str()),
                    Value::from(c.scope.clone()),
                    Value::from(c.owner.as_str()),
                    Value::Int(micros(s.as_of)),
                    json(c)?,
                    Value::Int(seq),
                ],
            );
        }
        E::CampaignLaunched(s) => {
            let l = &s.record;
            w.sink.statement(
                "UPDATE campaign SET state = 'active', launched_at = $2, due = $3, launch = $4, \
                 seq = $5 WHERE campaign = $1",
                vec![
                    Value::Int(i64::from(l.id.number())),
                    Value::Int(micros(s.as_of)),
                    Value::Int(micros(l.due)),
                    json(l)?,
                    Value::Int(seq),
                ],
            );
        }
        E::ReviewItems(s) => {
            let backend = w.conn.backend();
            items(&mut w.sink, backend, seq, s)?;
        }
        E::ReviewDecided(s) => {
            settle(w)?;
            let d = &s.record;
            let campaign = i64::from(d.campaign.number());
            let batch_by = d.by.as_ref().map(|k| k.as_str());
            let mut rows = Vec::with_capacity(d.decisions.len());
            let mut finals = 0i64;
            for x in &d.decisions {
                let decided_by = x.by.as_ref().map(|k| k.as_str()).or(batch_by);
                let decided_at = micros(x.at.unwrap_or(s.as_of));
                if x.next.is_none() {
                    finals += 1;
                }
                w.sink.insert(
                    &REVIEW_DECISION,
                    vec![
                        Value::Int(campaign),
                        Value::Int(i64::from(x.n)),
                        Value::Int(i64::from(x.stage)),
                        Value::from(x.verdict.as_str()),
                        Value::from(x.until.map(micros)),
                        Value::from(x.comment.clone()),
                        Value::from(decided_by),
                        Value::Int(decided_at),
                        Value::from(d.origin.as_str()),
                        Value::Int(seq),
                    ],
                );
                rows.push(DecisionRow {
                    n: x.n,
                    stage: x.stage,
                    verdict: x.verdict.as_str(),
                    until_at: x.until.map(micros),
                    comment: x.comment.as_deref(),
                    decided_by,
                    decided_at,
                    origin: d.origin.as_str(),
                    next: x.next.as_ref().map(|k| k.as_str()),
                });
            }
            if rows.len() <= FEW_DECISIONS {
                for row in &rows {
                    decide_one(w, campaign, seq, row);
                }
            } else {
                let sql = match w.conn.backend() {
                    Backend::Sqlite => DECIDE_SQLITE,
                    Backend::Postgres => DECIDE_POSTGRES,
                };
                let ns = json(&rows.iter().map(|r| r.n).collect::<Vec<u32>>())?;
                uncount(w, campaign, &ns);
                w.sink.statement(
                    sql,
                    vec![Value::Int(campaign), Value::Int(seq), json(&rows)?],
                );
                count(w, campaign, &ns);
            }
            w.sink.statement(
                "UPDATE campaign SET decided = decided + $2, seq = $3 WHERE campaign = $1",
                vec![Value::Int(campaign), Value::Int(finals), Value::Int(seq)],
            );
        }
        E::ReviewReassigned(s) => {
            settle(w)?;
            let r = &s.record;
            let campaign = i64::from(r.campaign.number());
            w.sink.statement(
                "INSERT INTO review_reassignment (seq, campaign, how, from_reviewer, to_reviewer, \
                 by_identity, reason, items, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                vec![
                    Value::Int(seq),
                    Value::Int(campaign),
                    Value::from(r.how.as_str()),
                    Value::from(r.from.as_str()),
                    Value::from(r.to.as_str()),
                    key(r.by.as_ref()),
                    Value::from(r.reason.as_str()),
                    json(&r.items)?,
                    Value::Int(micros(s.as_of)),
                ],
            );
            let sql = match w.conn.backend() {
                Backend::Sqlite => REASSIGN_SQLITE,
                Backend::Postgres => REASSIGN_POSTGRES,
            };
            let ns = json(&r.items)?;
            uncount(w, campaign, &ns);
            w.sink.statement(
                sql,
                vec![
                    Value::Int(campaign),
                    Value::from(r.to.as_str()),
                    ns.clone(),
                    Value::Int(seq),
                ],
            );
            count(w, campaign, &ns);
        }
        E::ReviewReminded(s) => {
            let r = &s.record;
            w.sink.statement(
                "INSERT INTO review_reminder (seq, campaign, reviewer, open_items, due, \
                 days_before, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![
                    Value::Int(seq),
                    Value::Int(i64::from(r.campaign.number())),
                    Value::from(r.reviewer.as_str()),
                    Value::Int(r.open as i64),
                    Value::Int(micros(r.due)),
                    Value::Int(i64::from(r.days_before)),
                    Value::Int(micros(s.as_of)),
                ],
            );
        }
        E::CampaignClosed(s) => {
            let c = &s.record;
            w.sink.statement(
                "UPDATE campaign SET state = 'closed', closed_at = $2, closing = $3, seq = $4 \
                 WHERE campaign = $1",
                vec![
                    Value::Int(i64::from(c.id.number())),
                    Value::Int(micros(s.as_of)),
                    json(c)?,
                    Value::Int(seq),
                ],
            );
        }
        E::DecisionsImported(s) => {
            let d = &s.record;
            w.sink.statement(
                "UPDATE campaign SET state = 'closed', closed_at = $2, imported = $3, seq = $4 \
                 WHERE campaign = $1",
                vec![
                    Value::Int(i64::from(d.id.number())),
                    Value::Int(micros(s.as_of)),
                    json(d)?,
                    Value::Int(seq),
                ],
            );
        }
        E::RemediationOpened(s) => {
            for t in &s.record.tasks {
                w.sink.insert(
                    &REMEDIATION,
                    vec![
                        Value::Int(i64::from(t.item.campaign.number())),
                        Value::Int(i64::from(t.item.item)),
                        Value::from(t.system.as_str()),
                        Value::from(t.account.clone()),
                        Value::from(t.entitlement.as_str()),
                        key(t.role.as_ref()),
                        key(t.identity.as_ref()),
                        key(t.assignee.as_ref()),
                        Value::Int(micros(t.due)),
                        Value::from("open"),
                        Value::Int(micros(s.as_of)),
                        json(&t.paths)?,
                        Value::Int(0),
                        Value::Int(seq),
                    ],
                );
            }
        }
        E::RemediationDone(s) => {
            settle(w)?;
            let d = &s.record;
            w.sink.statement(
                "UPDATE remediation SET status = 'done', note = $3, done_by = $4, done_at = $5, \
                 seq = $6 WHERE campaign = $1 AND n = $2",
                vec![
                    Value::Int(i64::from(d.item.campaign.number())),
                    Value::Int(i64::from(d.item.item)),
                    Value::from(d.note.as_str()),
                    key(d.by.as_ref()),
                    Value::Int(micros(s.as_of)),
                    Value::Int(seq),
                ],
            );
        }
        E::RemediationVerified(s) => {
            settle(w)?;
            for v in &s.record.tasks {
                w.sink.statement(
                    "UPDATE remediation SET status = 'verified', verified_at = $3, \
                     verified_import = $4, seq = $5 WHERE campaign = $1 AND n = $2",
                    vec![
                        Value::Int(i64::from(v.item.campaign.number())),
                        Value::Int(i64::from(v.item.item)),
                        Value::Int(micros(v.as_of)),
                        Value::Int(v.import as i64),
                        Value::Int(seq),
                    ],
                );
            }
        }
        E::RemediationReopened(s) => {
            settle(w)?;
            for r in &s.record.tasks {
                w.sink.statement(
                    "UPDATE remediation SET status = 'reopened', reopened_at = $3, \
                     reopen_reason = $4, reopens = reopens + 1, seq = $5 \
                     WHERE campaign = $1 AND n = $2",
                    vec![
                        Value::Int(i64::from(r.item.campaign.number())),
                        Value::Int(i64::from(r.item.item)),
                        Value::Int(micros(s.as_of)),
                        Value::from(r.reason.as_str()),
                        Value::Int(seq),
                    ],
                );
            }
        }
        E::NotificationSent(s) => {
            notification(w, seq, &s.record.notice, None, None, s.as_of)?;
        }
        E::NotificationFailed(s) => {
            let f = &s.record;
            notification(
                w,
                seq,
                &f.notice,
                Some(f.error.as_str()),
                f.retry_at,
                s.as_of,
            )?;
        }
    }
    Ok(())
}

fn notification(
    w: &mut Writer<'_>,
    seq: i64,
    n: &Notice,
    error: Option<&str>,
    retry_at: Option<Timestamp>,
    at: Timestamp,
) -> Result<(), StoreError> {
    w.sink.insert(
        &NOTIFICATION,
        vec![
            Value::Int(seq),
            Value::from(n.id.as_str()),
            Value::Int(i64::from(n.attempt)),
            Value::from(n.channel.as_str()),
            Value::from(n.to.as_str()),
            Value::from(n.kind.as_str()),
            Value::from(n.subject.as_str()),
            if n.about.is_empty() {
                Value::Null
            } else {
                json(&n.about)?
            },
            Value::from(error.is_none()),
            Value::from(error),
            Value::from(retry_at.map(micros)),
            Value::Int(micros(at)),
        ],
    );
    Ok(())
}
