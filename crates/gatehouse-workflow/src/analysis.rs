//! Running the risk analysis against the store and recording what changed; accepting risks;
//! recording assessments.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gatehouse_analysis::report::{AcceptedRisk, Dated, ListedFinding, Report};
use gatehouse_analysis::{Analysis, Policy, Ruleset};
use gatehouse_model::state::Inventory;
use gatehouse_model::{
    AnalysisRun, BATCH_RECORDS, Batch, ErrorCode, EventData, Finding, FindingAccepted,
    FindingEvent, FindingRef, FindingReopened, FindingStatus, Severity, Stamped, Timestamp,
};
use gatehouse_store::findings::{FindingFilter, FindingRow};
use gatehouse_store::{Store, StoreError};

use crate::WorkflowError;

/// What an analysis run did.
#[derive(Debug, Clone)]
pub struct AnalyzeReport {
    /// The `seq` of the `analysis.ran` event.
    pub seq: u64,
    /// Findings present after the run (open or accepted), by severity.
    pub present: BTreeMap<Severity, u64>,
    /// Open (not accepted) findings by severity, insights left out (they are what `--fail-on`
    /// counts).
    pub open: BTreeMap<Severity, u64>,
    /// Open insights for role design (see `gatehouse_analysis::is_insight`).
    pub insights: u64,
    /// New findings, or resolved ones back again.
    pub opened: u64,
    /// Findings whose content changed.
    pub changed: u64,
    /// Findings gone.
    pub resolved: u64,
    /// Acceptances that expired.
    pub reopened: u64,
    /// Grants, warranted grants, uncorrelated accounts and warnings of the analysis.
    pub analysis: Analysis,
    /// Time to load the inventory.
    pub load_time: Duration,
    /// Time to run the rules.
    pub rules_time: Duration,
    /// Time to record the events.
    pub write_time: Duration,
}

/// Loads the inventory, runs every enabled rule, and records the run and the changes to the
/// findings as events: opened, changed, resolved, and reopened when an acceptance expired.
pub fn analyze(
    store: &Store,
    policy: &Policy,
    sod: &Ruleset,
    actor: &str,
    now: Timestamp,
) -> Result<(AnalyzeReport, Inventory), WorkflowError> {
    // Remediation is compared with the imports first, so that a revoke contradicted by the
    // latest import is reported by this analysis.
    crate::campaigns::verify_remediation(store, &crate::campaigns::Acting::system(actor), now)?;
    let started = Instant::now();
    let mut inventory = store.load_inventory()?;
    crate::campaigns::apply_reviews(store, &mut inventory, now)?;
    let load_time = started.elapsed();
    let started = Instant::now();
    let mut analysis = gatehouse_analysis::analyze(&inventory, policy, sod, now);
    let rules_time = started.elapsed();
    let started = Instant::now();
    let found = std::mem::take(&mut analysis.findings);
    let digest = gatehouse_analysis::policy_digest(policy, sod);
    let rules: Vec<String> = gatehouse_analysis::RULES
        .iter()
        .filter(|r| policy.enabled(r.name))
        .map(|r| r.name.to_owned())
        .collect();
    let (seq, counts) = store.write(actor, now, |w| {
        let present = w.read()?.present_findings()?;
        let mut opened = Vec::new();
        let mut changed = Vec::new();
        let mut reopened = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut present_by: BTreeMap<Severity, u64> = BTreeMap::new();
        let mut open_by: BTreeMap<Severity, u64> = BTreeMap::new();
        let mut insights = 0;
        for f in &found {
            seen.insert(f.id.as_str());
            *present_by.entry(f.severity).or_default() += 1;
            let mut open = true;
            match present.get(&f.id) {
                None => opened.push(f.clone()),
                Some(row) => {
                    if row.finding != *f {
                        changed.push(f.clone());
                    }
                    if row.status == FindingStatus::Accepted {
                        if row.accepted_until.is_some_and(|u| u <= now) {
                            reopened.push(FindingReopened {
                                id: f.id.clone(),
                                reason: "acceptance expired".into(),
                            });
                        } else {
                            open = false;
                        }
                    }
                }
            }
            if open {
                if gatehouse_analysis::is_insight(f) {
                    insights += 1;
                } else {
                    *open_by.entry(f.severity).or_default() += 1;
                }
            }
        }
        let resolved: Vec<FindingRef> = present
            .keys()
            .filter(|id| !seen.contains(id.as_str()))
            .map(|id| FindingRef { id: id.clone() })
            .collect();
        let run = AnalysisRun {
            policy: digest.clone(),
            rules: rules.clone(),
            present: present_by
                .iter()
                .map(|(s, n)| (s.as_str().to_owned(), *n))
                .collect(),
            opened: opened.len() as u64,
            changed: changed.len() as u64,
            resolved: resolved.len() as u64,
            reopened: reopened.len() as u64,
        };
        let counts = (
            present_by,
            open_by,
            insights,
            opened.len() as u64,
            changed.len() as u64,
            resolved.len() as u64,
            reopened.len() as u64,
        );
        let seq = w.append(FindingEvent::AnalysisRan(Stamped {
            as_of: now,
            import: None,
            record: run,
        }))?;
        let mut events = Vec::new();
        batches(&mut events, opened, now, seq, FindingEvent::FindingOpened);
        batches(&mut events, changed, now, seq, FindingEvent::FindingChanged);
        batches(
            &mut events,
            resolved,
            now,
            seq,
            FindingEvent::FindingResolved,
        );
        batches(
            &mut events,
            reopened,
            now,
            seq,
            FindingEvent::FindingReopened,
        );
        w.append_all(events)?;
        Ok::<_, StoreError>((seq, counts))
    })?;
    let (present, open, insights, opened, changed, resolved, reopened) = counts;
    Ok((
        AnalyzeReport {
            seq,
            present,
            open,
            insights,
            opened,
            changed,
            resolved,
            reopened,
            analysis,
            load_time,
            rules_time,
            write_time: started.elapsed(),
        },
        inventory,
    ))
}

fn batches<T>(
    out: &mut Vec<EventData>,
    mut records: Vec<T>,
    as_of: Timestamp,
    run: u64,
    make: impl Fn(Batch<T>) -> FindingEvent,
) {
    while !records.is_empty() {
        let rest = records.split_off(records.len().min(BATCH_RECORDS));
        out.push(
            make(Batch {
                as_of,
                import: Some(run),
                records,
            })
            .into(),
        );
        records = rest;
    }
}

/// Why a risk cannot be accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// No such finding, or it is resolved.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AcceptError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            AcceptError::Invalid(_) => ErrorCode::AcceptanceRefused,
            AcceptError::Store(e) => e.code(),
        }
    }
}

/// Accepts the risk of an open (or already accepted) finding until a date; the acceptance is
/// an event. The reason is required, the end must be in the future and within the policy's
/// maximum.
pub fn accept(
    store: &Store,
    policy: &Policy,
    id: &str,
    reason: &str,
    until: Timestamp,
    actor: &str,
    now: Timestamp,
) -> Result<(u64, FindingRow), AcceptError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AcceptError::Invalid(
            "a reason is required: say why the risk is acceptable and what compensates for it"
                .into(),
        ));
    }
    if until <= now {
        return Err(AcceptError::Invalid(format!(
            "--until must be in the future (it is {})",
            gatehouse_analysis::date(until)
        )));
    }
    let max = i64::from(policy.acceptance.max_days);
    if gatehouse_analysis::days_between(now, until) > max {
        return Err(AcceptError::Invalid(format!(
            "--until is more than {max} days away; the policy (acceptance.max_days) allows at most {max}"
        )));
    }
    store.write(actor, now, |w| {
        // One row by its key, not every present finding: this runs for each acceptance,
        // also from the web server.
        let row = match w.read()?.finding(id) {
            Ok(row) if row.status != FindingStatus::Resolved => Some(row),
            Ok(_) => None,
            Err(e) if e.code() == gatehouse_model::ErrorCode::UnknownObject => None,
            Err(e) => return Err(e.into()),
        };
        let Some(row) = row else {
            return Err(AcceptError::Invalid(format!(
                "finding `{id}` is not open (unknown, or already resolved); see `gatehouse findings list`"
            )));
        };
        let seq = w.append(FindingEvent::FindingAccepted(Stamped {
            as_of: now,
            import: None,
            record: FindingAccepted {
                id: id.to_owned(),
                by: actor.to_owned(),
                reason: reason.to_owned(),
                until,
            },
        }))?;
        let mut row = row;
        row.status = FindingStatus::Accepted;
        row.accepted_by = Some(actor.to_owned());
        row.accepted_reason = Some(reason.to_owned());
        row.accepted_until = Some(until);
        Ok((seq, row))
    })
}

/// An assessment and what `--fail-on` needs of it.
#[derive(Debug, Clone)]
pub struct Assessed {
    /// The report (its `ledger` point is left for the caller, who seals first).
    pub report: Report,
    /// Open findings by severity, insights left out.
    pub open: BTreeMap<Severity, u64>,
    /// The analysis run recorded with it (`record` only).
    pub recorded_run: Option<u64>,
}

/// The assessment: runs the analysis and returns the report with the trend against the
/// previous recorded assessment, the riskiest identities and systems, every open finding and
/// every accepted risk. With `record`, the analysis run, the changes to the findings and the
/// assessment are recorded as events; without, nothing is written: the rules run in memory
/// and the findings' statuses (acceptances) are read from the store.
pub fn assess(
    store: &Store,
    policy: &Policy,
    sod: &Ruleset,
    actor: &str,
    now: Timestamp,
    top: usize,
    record: bool,
) -> Result<Assessed, WorkflowError> {
    let (rows, inventory, analysis, recorded_run) = if record {
        let (report, inventory) = analyze(store, policy, sod, actor, now)?;
        let rows = store.read(|r| r.findings(&FindingFilter::default()))?;
        (rows, inventory, report.analysis, Some(report.seq))
    } else {
        let inventory = store.load_inventory()?;
        let mut analysis = gatehouse_analysis::analyze(&inventory, policy, sod, now);
        let found = std::mem::take(&mut analysis.findings);
        let stored = store.read(|r| r.present_findings())?;
        let rows = found
            .into_iter()
            .map(|f| {
                let row = stored.get(&f.id);
                preview_row(f, row, now)
            })
            .collect();
        (rows, inventory, analysis, None)
    };
    let present: Vec<(&Finding, FindingStatus)> =
        rows.iter().map(|r| (&r.finding, r.status)).collect();
    let assessment = gatehouse_analysis::report::assess(&inventory, &analysis, &present);
    let mut top_identities =
        gatehouse_analysis::risk::identities(&inventory, &present, &policy.risk);
    top_identities.truncate(top);
    let mut top_systems = gatehouse_analysis::risk::systems(&inventory, &present, &policy.risk);
    top_systems.truncate(top);
    let mut open: BTreeMap<Severity, u64> = BTreeMap::new();
    let mut insights = 0;
    let mut findings = Vec::new();
    let mut accepted = Vec::new();
    for r in &rows {
        let f = &r.finding;
        match r.status {
            FindingStatus::Open if gatehouse_analysis::is_insight(f) => insights += 1,
            FindingStatus::Open => {
                *open.entry(f.severity).or_default() += 1;
                findings.push(ListedFinding {
                    id: f.id.clone(),
                    severity: f.severity,
                    rule: f.rule.clone(),
                    title: f.title.clone(),
                    identity: f.identity.as_ref().map(|k| k.to_string()),
                    system: f.system.as_ref().map(|k| k.to_string()),
                    account: f.account.clone(),
                    first_seen: r.first_seen,
                });
            }
            FindingStatus::Accepted => accepted.push(AcceptedRisk {
                id: f.id.clone(),
                severity: f.severity,
                rule: f.rule.clone(),
                title: f.title.clone(),
                by: r.accepted_by.clone().unwrap_or_default(),
                reason: r.accepted_reason.clone().unwrap_or_default(),
                until: r.accepted_until,
            }),
            FindingStatus::Resolved => {}
        }
    }
    findings.sort_by(|a, b| {
        (std::cmp::Reverse(a.severity), &a.rule, &a.id).cmp(&(
            std::cmp::Reverse(b.severity),
            &b.rule,
            &b.id,
        ))
    });
    accepted.sort_by(|a, b| a.id.cmp(&b.id));
    let (current, previous) = if record {
        store.write(actor, now, |w| {
            let previous = w.read()?.assessments(1)?.into_iter().next();
            let seq = w.append(FindingEvent::AssessmentRecorded(Stamped {
                as_of: now,
                import: None,
                record: assessment.clone(),
            }))?;
            Ok::<_, StoreError>((seq, previous))
        })?
    } else {
        (0, store.read(|r| r.assessments(1))?.into_iter().next())
    };
    Ok(Assessed {
        report: Report {
            current: Dated {
                seq: current,
                at: now,
                assessment,
            },
            recorded: record,
            previous: previous.map(|(seq, at, assessment)| Dated {
                seq,
                at,
                assessment,
            }),
            top_identities,
            top_systems,
            findings,
            accepted,
            insights,
            ledger: None,
        },
        open,
        recorded_run,
    })
}

/// A finding of an analysis run in memory, with the status the store gives it: accepted while
/// its acceptance runs, open otherwise (an expired acceptance counts as open, as the next
/// recorded analysis will reopen it).
fn preview_row(finding: Finding, stored: Option<&FindingRow>, now: Timestamp) -> FindingRow {
    let accepted = stored.filter(|r| {
        r.status == FindingStatus::Accepted && r.accepted_until.is_none_or(|u| u > now)
    });
    FindingRow {
        finding,
        status: if accepted.is_some() {
            FindingStatus::Accepted
        } else {
            FindingStatus::Open
        },
        first_seen: stored.map_or(now, |r| r.first_seen),
        last_seen: now,
        resolved_at: None,
        accepted_by: accepted.and_then(|r| r.accepted_by.clone()),
        accepted_reason: accepted.and_then(|r| r.accepted_reason.clone()),
        accepted_until: accepted.and_then(|r| r.accepted_until),
    }
}

/// Reopens every accepted finding whose acceptance has ended by `now` (one
/// `finding.reopened` event per 1,000), without running the analysis; the server's scheduler
/// calls it so that an expired acceptance shows as open the moment it expires. Returns how
/// many were reopened.
pub fn expire_acceptances(
    store: &Store,
    actor: &str,
    now: Timestamp,
) -> Result<usize, WorkflowError> {
    let filter = FindingFilter {
        status: vec![FindingStatus::Accepted],
        ..FindingFilter::default()
    };
    let due: Vec<FindingReopened> = store
        .read(|r| r.findings(&filter))?
        .into_iter()
        .filter(|f| f.accepted_until.is_some_and(|u| u <= now))
        .map(|f| FindingReopened {
            id: f.finding.id,
            reason: "acceptance expired".into(),
        })
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let n = due.len();
    store.write(actor, now, |w| {
        // Checked again inside the transaction: another writer may have reopened some.
        let still: Vec<FindingReopened> = {
            let present = w.read()?.present_findings()?;
            due.into_iter()
                .filter(|f| {
                    present
                        .get(&f.id)
                        .is_some_and(|row| row.status == FindingStatus::Accepted)
                })
                .collect()
        };
        for chunk in still.chunks(BATCH_RECORDS) {
            w.append(FindingEvent::FindingReopened(Batch {
                as_of: now,
                import: None,
                records: chunk.to_vec(),
            }))?;
        }
        Ok::<_, StoreError>(())
    })?;
    Ok(n)
}
