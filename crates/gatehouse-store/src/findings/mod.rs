//! The findings domain: analysis runs, findings with their status, and recorded assessments.
//! Its tables are projections of [`FindingEvent`]s; its queries are methods on [`Reader`].

use std::collections::BTreeMap;

use gatehouse_model::{Assessment, Finding, FindingEvent, FindingStatus, Severity, Timestamp};
use serde::Serialize;

use crate::conn::{Conn, RowRef, Value};
use crate::domain::StateTable;
use crate::error::StoreError;
use crate::txn::Reader;
use crate::writer::{Writer, from_micros, micros};

fn ts(us: i64) -> Result<Timestamp, StoreError> {
    from_micros(us)
}

/// The domain's state tables, with their key columns.
pub(crate) const TABLES: &[StateTable] = &[
    StateTable {
        name: "finding",
        keys: "id",
    },
    StateTable {
        name: "analysis_run",
        keys: "seq",
    },
    StateTable {
        name: "assessment",
        keys: "seq",
    },
];

/// `$1..$9` of the finding upserts: id, rule, severity, identity, system, account, time,
/// record, seq.
fn finding_params(f: &Finding, at: i64, seq: i64) -> Result<Vec<Value>, StoreError> {
    Ok(vec![
        Value::from(f.id.as_str()),
        Value::from(f.rule.as_str()),
        Value::from(f.severity.as_str()),
        Value::from(f.identity.as_ref().map(|k| k.to_string())),
        Value::from(f.system.as_ref().map(|k| k.to_string())),
        Value::from(f.account.clone()),
        Value::Int(at),
        Value::Text(serde_json::to_string(f)?),
        Value::Int(seq),
    ])
}

/// Applies one findings event to the tables.
pub(crate) fn project(w: &mut Writer<'_>, seq: u64, e: &FindingEvent) -> Result<(), StoreError> {
    use FindingEvent as E;
    let end = seq as i64;
    match e {
        E::AnalysisRan(s) => {
            let at = micros(s.as_of);
            w.sink.statement(
                "INSERT INTO analysis_run (seq, as_of, record) VALUES ($1, $2, $3)",
                vec![
                    Value::Int(end),
                    Value::Int(at),
                    Value::Text(serde_json::to_string(&s.record)?),
                ],
            );
            w.sink.statement(
                "UPDATE finding SET last_seen = $1 WHERE status <> 'resolved'",
                vec![Value::Int(at)],
            );
        }
        E::FindingOpened(b) => {
            let at = micros(b.as_of);
            for f in &b.records {
                w.sink.statement(
                    "INSERT INTO finding (id, rule, severity, status, identity, system, account, \
                     first_seen, last_seen, resolved_at, accepted_by, accepted_reason, \
                     accepted_until, record, seq) \
                     VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $7, NULL, NULL, NULL, NULL, $8, $9) \
                     ON CONFLICT (id) DO UPDATE SET rule = excluded.rule, \
                     severity = excluded.severity, status = 'open', identity = excluded.identity, \
                     system = excluded.system, account = excluded.account, \
                     last_seen = excluded.last_seen, resolved_at = NULL, accepted_by = NULL, \
                     accepted_reason = NULL, accepted_until = NULL, record = excluded.record, \
                     seq = excluded.seq",
                    finding_params(f, at, end)?,
                );
            }
        }
        E::FindingChanged(b) => {
            let at = micros(b.as_of);
            for f in &b.records {
                w.sink.statement(
                    "UPDATE finding SET rule = $2, severity = $3, identity = $4, system = $5, \
                     account = $6, last_seen = $7, record = $8, seq = $9 WHERE id = $1",
                    finding_params(f, at, end)?,
                );
            }
        }
        E::FindingResolved(b) => {
            for f in &b.records {
                w.sink.statement(
                    "UPDATE finding SET status = 'resolved', resolved_at = $2, seq = $3 \
                     WHERE id = $1",
                    vec![
                        Value::from(f.id.as_str()),
                        Value::Int(micros(b.as_of)),
                        Value::Int(end),
                    ],
                );
            }
        }
        E::FindingReopened(b) => {
            for f in &b.records {
                w.sink.statement(
                    "UPDATE finding SET status = 'open', accepted_by = NULL, \
                     accepted_reason = NULL, accepted_until = NULL, seq = $2 WHERE id = $1",
                    vec![Value::from(f.id.as_str()), Value::Int(end)],
                );
            }
        }
        E::FindingAccepted(s) => {
            let a = &s.record;
            w.sink.statement(
                "UPDATE finding SET status = 'accepted', accepted_by = $2, \
                 accepted_reason = $3, accepted_until = $4, seq = $5 WHERE id = $1",
                vec![
                    Value::from(a.id.as_str()),
                    Value::from(a.by.as_str()),
                    Value::from(a.reason.as_str()),
                    Value::Int(micros(a.until)),
                    Value::Int(end),
                ],
            );
        }
        E::AssessmentRecorded(s) => {
            w.sink.statement(
                "INSERT INTO assessment (seq, as_of, record) VALUES ($1, $2, $3)",
                vec![
                    Value::Int(end),
                    Value::Int(micros(s.as_of)),
                    Value::Text(serde_json::to_string(&s.record)?),
                ],
            );
        }
    }
    Ok(())
}

/// A finding as recorded, with its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRow {
    /// The finding as last recorded.
    #[serde(flatten)]
    pub finding: Finding,
    /// Open, accepted or resolved.
    pub status: FindingStatus,
    /// When an analysis first found it.
    pub first_seen: Timestamp,
    /// When an analysis last found it.
    pub last_seen: Timestamp,
    /// When it was resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    /// Who accepted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_reason: Option<String>,
    /// Until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_until: Option<Timestamp>,
}

/// Which findings to list; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// Only this rule.
    pub rule: Option<String>,
    /// Only at or above this severity.
    pub min_severity: Option<Severity>,
    /// Only findings on this system.
    pub system: Option<String>,
    /// Only findings about this identity.
    pub identity: Option<String>,
    /// Only in these statuses (all when empty).
    pub status: Vec<FindingStatus>,
}

const FINDING_COLUMNS: &str = "record, status, first_seen, last_seen, resolved_at, accepted_by, \
                               accepted_reason, accepted_until";

fn finding_row(r: &RowRef<'_, '_>) -> Result<FindingRow, StoreError> {
    Ok(FindingRow {
        finding: serde_json::from_str(&r.str(0)?)?,
        status: r.str(1)?.parse()?,
        first_seen: ts(r.i64(2)?)?,
        last_seen: ts(r.i64(3)?)?,
        resolved_at: r.opt_i64(4)?.map(ts).transpose()?,
        accepted_by: r.opt_str(5)?,
        accepted_reason: r.opt_str(6)?,
        accepted_until: r.opt_i64(7)?.map(ts).transpose()?,
    })
}

/// Findings matching a filter, most severe first, then by rule and id.
fn findings(db: &mut Conn, filter: &FindingFilter) -> Result<Vec<FindingRow>, StoreError> {
    let statuses: Vec<&str> = filter.status.iter().map(|s| s.as_str()).collect();
    // Only the conditions asked for, so that an index serves them (`$1 = '' OR rule = $1`
    // would read the whole table); the values stay parameters.
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    for (column, value) in [
        ("rule", &filter.rule),
        ("system", &filter.system),
        ("identity", &filter.identity),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            values.push(Value::from(v.clone()));
            conditions.push(format!("{column} = ${}", values.len()));
        }
    }
    // The statuses too (indexed by status): the scheduler asks for the accepted findings
    // after every change, which must not read and parse every finding of the organisation.
    if !statuses.is_empty() {
        let first = values.len() + 1;
        for status in &statuses {
            values.push(Value::from(*status));
        }
        let marks: Vec<String> = (first..first + statuses.len())
            .map(|i| format!("${i}"))
            .collect();
        conditions.push(format!("status IN ({})", marks.join(", ")));
    }
    let filter_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let mut rows = db.query(
        &format!("SELECT {FINDING_COLUMNS} FROM finding {filter_sql} ORDER BY rule, id"),
        &values,
        finding_row,
    )?;
    rows.retain(|f| filter.min_severity.is_none_or(|m| f.finding.severity >= m));
    rows.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then_with(|| a.finding.rule.cmp(&b.finding.rule))
            .then_with(|| a.finding.id.cmp(&b.finding.id))
    });
    Ok(rows)
}

/// One finding by id.
fn finding(db: &mut Conn, id: &str) -> Result<FindingRow, StoreError> {
    db.query_opt(
        &format!("SELECT {FINDING_COLUMNS} FROM finding WHERE id = $1"),
        &[Value::from(id)],
        finding_row,
    )?
    .ok_or_else(|| StoreError::unknown(format!("there is no finding `{id}`")))
}

/// Every finding not resolved, keyed by id, for the analysis to compare against.
fn present_findings(db: &mut Conn) -> Result<BTreeMap<String, FindingRow>, StoreError> {
    let rows = db.query(
        &format!("SELECT {FINDING_COLUMNS} FROM finding WHERE status <> 'resolved'"),
        &[],
        finding_row,
    )?;
    Ok(rows
        .into_iter()
        .map(|r| (r.finding.id.clone(), r))
        .collect())
}

/// The latest recorded assessments, newest first, with their times.
fn assessments(db: &mut Conn, limit: u64) -> Result<Vec<(u64, Timestamp, Assessment)>, StoreError> {
    db.query(
        &format!("SELECT seq, as_of, record FROM assessment ORDER BY seq DESC LIMIT {limit}"),
        &[],
        |r| {
            Ok((
                r.i64(0)? as u64,
                ts(r.i64(1)?)?,
                serde_json::from_str(&r.str(2)?)?,
            ))
        },
    )
}

impl Reader<'_> {
    /// Findings matching a filter, most severe first, then by rule and id.
    pub fn findings(&mut self, filter: &FindingFilter) -> Result<Vec<FindingRow>, StoreError> {
        findings(self.conn, filter)
    }

    /// One finding by id.
    pub fn finding(&mut self, id: &str) -> Result<FindingRow, StoreError> {
        finding(self.conn, id)
    }

    /// Every finding not resolved, keyed by id, for the analysis to compare against.
    pub fn present_findings(&mut self) -> Result<BTreeMap<String, FindingRow>, StoreError> {
        present_findings(self.conn)
    }

    /// The latest recorded assessments, newest first, with their event and time.
    pub fn assessments(
        &mut self,
        limit: u64,
    ) -> Result<Vec<(u64, Timestamp, Assessment)>, StoreError> {
        assessments(self.conn, limit)
    }
}
