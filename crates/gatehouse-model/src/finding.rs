//! Findings of the risk analysis and the records that follow them: acceptances, analysis runs
//! and assessments. They travel in events like everything else, so their serde form is part
//! of the canonical encoding.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::inventory::{EntitlementRef, Severity};
use crate::keys::{IdentityKey, SystemKey};
use crate::time::Timestamp;

/// One problem the analysis found: what, where, how serious and why.
///
/// The `id` is derived from the rule and the objects involved (never from the time or the
/// facts), so the same problem found by the next analysis is the same finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Stable id, `F-` and 16 hex digits.
    pub id: String,
    /// The rule that found it (`leaver_access`, `sod_conflict`, …).
    pub rule: String,
    /// How serious it is, after policy tuning and mitigations.
    pub severity: Severity,
    /// One line for lists.
    pub title: String,
    /// The person or non-human identity concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityKey>,
    /// The system concerned, when the problem lives in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemKey>,
    /// The account concerned (native id in `system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The entitlements concerned, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<EntitlementRef>,
    /// The facts behind it, by name (dates rather than ages, so they stay true).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
    /// Plain-language explanation and what to do.
    pub explanation: String,
}

/// Names a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRef {
    /// The finding's id.
    pub id: String,
}

/// An accepted finding came back to `open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingReopened {
    /// The finding's id.
    pub id: String,
    /// Why: `acceptance expired`, `acceptance withdrawn`.
    pub reason: String,
}

/// Someone accepted the risk of a finding until a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingAccepted {
    /// The finding's id.
    pub id: String,
    /// Who accepted it (the acting user).
    pub by: String,
    /// Why the risk is acceptable, and any compensating measure.
    pub reason: String,
    /// When the acceptance ends and the finding reopens.
    pub until: Timestamp,
}

/// The analysis ran: which rules, under which policy, with what outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRun {
    /// SHA-256 of the effective policy and segregation-of-duties ruleset, lowercase hex.
    pub policy: String,
    /// The rules that ran, sorted.
    pub rules: Vec<String>,
    /// Findings present after the run (open or accepted), by severity.
    pub present: BTreeMap<String, u64>,
    /// Findings opened by this run (new, or back after being resolved).
    pub opened: u64,
    /// Findings whose content changed.
    pub changed: u64,
    /// Findings resolved by this run.
    pub resolved: u64,
    /// Accepted findings reopened because their acceptance expired.
    pub reopened: u64,
}

/// The baseline a governance programme starts from, recorded so the next one shows a trend.
/// Shares are in per mille (integers keep the canonical encoding exact).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// Systems governed.
    pub systems: u64,
    /// Systems without an owner, by key.
    pub systems_without_owner: Vec<SystemKey>,
    /// Systems without a criticality, by key.
    pub systems_without_criticality: Vec<SystemKey>,
    /// SOX (or financial reporting) systems with no recorded access review, by key.
    pub sox_never_reviewed: Vec<SystemKey>,
    /// People in the HR feed (any status) and non-human identities.
    pub identities: u64,
    /// Accounts.
    pub accounts: u64,
    /// Enabled accounts linked to no identity.
    pub uncorrelated_accounts: u64,
    /// Current grants.
    pub grants: u64,
    /// Grants explained by a valid warrant (request, review, role, birthright, break-glass).
    pub warranted_grants: u64,
    /// Open findings by rule, then by severity.
    pub open_by_rule: BTreeMap<String, BTreeMap<String, u64>>,
    /// Accepted findings by rule.
    pub accepted_by_rule: BTreeMap<String, u64>,
}
