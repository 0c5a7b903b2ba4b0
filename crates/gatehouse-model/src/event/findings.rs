//! The findings domain's events: analysis runs, findings opened, changed, resolved, reopened
//! and accepted, and recorded assessments.

use super::{Batch, Stamped};
use crate::finding::{
    AnalysisRun, Assessment, Finding, FindingAccepted, FindingRef, FindingReopened,
};
use crate::time::Timestamp;

domain_events! {
    /// Events of the findings domain.
    pub enum FindingEvent {
        /// The risk analysis ran; its findings events follow.
        AnalysisRan(Stamped<AnalysisRun>) = "analysis.ran",
        /// Findings were opened: new problems, or resolved ones that came back.
        FindingOpened(Batch<Finding>) = "finding.opened",
        /// Findings still present changed (severity, objects or facts).
        FindingChanged(Batch<Finding>) = "finding.changed",
        /// Findings were not found any more.
        FindingResolved(Batch<FindingRef>) = "finding.resolved",
        /// Accepted findings came back to open.
        FindingReopened(Batch<FindingReopened>) = "finding.reopened",
        /// Someone accepted the risk of a finding until a date.
        FindingAccepted(Stamped<FindingAccepted>) = "finding.accepted",
        /// An assessment was recorded.
        AssessmentRecorded(Stamped<Assessment>) = "assessment.recorded",
    }
}

fn one<T>(b: &Batch<T>, id: impl Fn(&T) -> &str) -> String {
    match b.records.as_slice() {
        [one] => format!("finding:{}", id(one)),
        _ => "finding".into(),
    }
}

impl FindingEvent {
    /// See [`super::EventData::object`].
    pub fn object(&self) -> String {
        use FindingEvent as E;
        match self {
            E::AnalysisRan(_) => "analysis".into(),
            E::FindingOpened(b) | E::FindingChanged(b) => one(b, |f| &f.id),
            E::FindingResolved(b) => one(b, |f| &f.id),
            E::FindingReopened(b) => one(b, |f| &f.id),
            E::FindingAccepted(s) => format!("finding:{}", s.record.id),
            E::AssessmentRecorded(_) => "assessment".into(),
        }
    }

    /// How many changes the event records: the records of a batch, or 1.
    pub fn changes(&self) -> usize {
        use FindingEvent as E;
        match self {
            E::AnalysisRan(_) | E::FindingAccepted(_) | E::AssessmentRecorded(_) => 1,
            E::FindingOpened(b) | E::FindingChanged(b) => b.records.len(),
            E::FindingResolved(b) => b.records.len(),
            E::FindingReopened(b) => b.records.len(),
        }
    }

    /// When the change took effect.
    pub fn as_of(&self) -> Timestamp {
        use FindingEvent as E;
        match self {
            E::AnalysisRan(s) => s.as_of,
            E::FindingOpened(b) | E::FindingChanged(b) => b.as_of,
            E::FindingResolved(b) => b.as_of,
            E::FindingReopened(b) => b.as_of,
            E::FindingAccepted(s) => s.as_of,
            E::AssessmentRecorded(s) => s.as_of,
        }
    }

    /// The `analysis.ran` event this one belongs to, if any.
    pub fn import(&self) -> Option<u64> {
        use FindingEvent as E;
        match self {
            E::AnalysisRan(s) => s.import,
            E::FindingOpened(b) | E::FindingChanged(b) => b.import,
            E::FindingResolved(b) => b.import,
            E::FindingReopened(b) => b.import,
            E::FindingAccepted(s) => s.import,
            E::AssessmentRecorded(s) => s.import,
        }
    }
}
