//! The analysis policy: which rules run, their thresholds, how severities are tuned by system
//! criticality, and the weights of the risk scores. Every field has a default, so an empty
//! file (or none) is a valid policy; docs/policy.md documents each one.

use std::collections::BTreeMap;
use std::path::Path;

use gatehouse_model::{Criticality, EmploymentStatus, IdentityKind, Person, Severity};
use serde::{Deserialize, Serialize};

use crate::AnalysisError;

/// The whole policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Severity shift for findings on systems of each criticality (`critical = 1` raises a
    /// finding on a critical system by one level).
    pub criticality_shift: CriticalityShift,
    /// Per-rule switches and severity overrides, by rule name.
    pub rules: BTreeMap<String, RuleSetting>,
    /// Which HR statuses keep which access.
    pub status: StatusPolicy,
    /// Thresholds of the rules.
    pub thresholds: Thresholds,
    /// Weights of the risk scores.
    pub risk: RiskWeights,
    /// Limits on accepting risks.
    pub acceptance: Acceptance,
}

/// Severity shifts by system criticality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CriticalityShift {
    /// Critical systems.
    pub critical: i32,
    /// High.
    pub high: i32,
    /// Medium.
    pub medium: i32,
    /// Low.
    pub low: i32,
    /// Systems not yet classified.
    pub unclassified: i32,
}

impl Default for CriticalityShift {
    fn default() -> CriticalityShift {
        CriticalityShift {
            critical: 0,
            high: 0,
            medium: 0,
            low: -1,
            unclassified: 0,
        }
    }
}

impl CriticalityShift {
    /// The shift for a criticality.
    pub fn of(&self, c: Option<Criticality>) -> i32 {
        match c {
            Some(Criticality::Critical) => self.critical,
            Some(Criticality::High) => self.high,
            Some(Criticality::Medium) => self.medium,
            Some(Criticality::Low) => self.low,
            None => self.unclassified,
        }
    }
}

/// One rule's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSetting {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Replaces the rule's base severity (escalations and criticality shifts still apply).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl Default for RuleSetting {
    fn default() -> RuleSetting {
        RuleSetting {
            enabled: true,
            severity: None,
        }
    }
}

/// What a person keeps while in an HR status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusAccess {
    /// Everything, as an active person: roles and birthright rules apply, and inactivity is
    /// reported.
    All,
    /// Role and birthright access and approved grants stay valid, but the person is away:
    /// inactivity is expected and not reported.
    Roles,
    /// Nothing usable: an enabled account is reported (`status_access`). Their grants are
    /// not reported again one by one.
    None,
}

impl StatusAccess {
    /// Whether roles and birthright rules keep applying.
    pub fn keeps_roles(self) -> bool {
        self != StatusAccess::None
    }
}

/// Which HR statuses keep which access. Active people keep everything and leavers nothing;
/// the statuses in between are a policy decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusPolicy {
    /// People on leave (parental, medical, sabbatical, …).
    pub leave: StatusAccess,
    /// Suspended people.
    pub suspended: StatusAccess,
    /// By the HR feed's own words (`"Garden Leave" = "none"`), compared ignoring case; these
    /// take precedence.
    pub hr_status: BTreeMap<String, StatusAccess>,
}

impl Default for StatusPolicy {
    fn default() -> StatusPolicy {
        StatusPolicy {
            leave: StatusAccess::Roles,
            suspended: StatusAccess::None,
            hr_status: BTreeMap::new(),
        }
    }
}

impl StatusPolicy {
    /// What a person keeps under this policy: by their HR feed's own words when the policy
    /// names them, else by their status. Leavers keep nothing (`leaver_access` reports them).
    pub fn access(&self, person: &Person) -> StatusAccess {
        if let Some(words) = &person.hr_status
            && let Some((_, access)) = self
                .hr_status
                .iter()
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(words.trim()))
        {
            return *access;
        }
        match person.status {
            EmploymentStatus::Active => StatusAccess::All,
            EmploymentStatus::Leave => self.leave,
            EmploymentStatus::Suspended => self.suspended,
            EmploymentStatus::Terminated => StatusAccess::None,
        }
    }
}

/// Days by system criticality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaysByCriticality {
    /// Critical systems.
    pub critical: u32,
    /// High.
    pub high: u32,
    /// Medium.
    pub medium: u32,
    /// Low.
    pub low: u32,
    /// Not yet classified.
    pub unclassified: u32,
}

impl Default for DaysByCriticality {
    /// 90 days everywhere: PCI DSS v4 requirement 8.2.6 (inactive user accounts are removed or
    /// disabled within 90 days of inactivity).
    fn default() -> DaysByCriticality {
        DaysByCriticality {
            critical: 90,
            high: 90,
            medium: 90,
            low: 90,
            unclassified: 90,
        }
    }
}

impl DaysByCriticality {
    /// The number of days for a criticality.
    pub fn of(&self, c: Option<Criticality>) -> u32 {
        match c {
            Some(Criticality::Critical) => self.critical,
            Some(Criticality::High) => self.high,
            Some(Criticality::Medium) => self.medium,
            Some(Criticality::Low) => self.low,
            None => self.unclassified,
        }
    }
}

/// Maximum credential age in days, by kind of non-human identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RotationDays {
    /// Service accounts (their passwords or keys).
    pub service_account: u32,
    /// API keys.
    pub api_key: u32,
    /// Tokens.
    pub token: u32,
    /// Certificates.
    pub certificate: u32,
}

impl Default for RotationDays {
    fn default() -> RotationDays {
        RotationDays {
            service_account: 180,
            api_key: 90,
            token: 90,
            certificate: 365,
        }
    }
}

impl RotationDays {
    /// The limit for a kind (people have none).
    pub fn of(&self, kind: IdentityKind) -> Option<u32> {
        match kind {
            IdentityKind::Person => None,
            IdentityKind::ServiceAccount => Some(self.service_account),
            IdentityKind::ApiKey => Some(self.api_key),
            IdentityKind::Token => Some(self.token),
            IdentityKind::Certificate => Some(self.certificate),
        }
    }
}

/// Thresholds of the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// `dormant_access`: no login for this many days, by system criticality.
    pub dormant_days: DaysByCriticality,
    /// `dormant_access`: a shorter limit for some employment types (`contractor = 30`),
    /// compared ignoring case; the smaller of this and the system's limit applies.
    pub dormant_days_by_employment_type: BTreeMap<String, u32>,
    /// `nhi_rotation_overdue`: maximum credential age by kind.
    pub rotation_days: RotationDays,
    /// `nhi_unused`: not used for this many days.
    pub nhi_unused_days: u32,
    /// `nhi_credential_expiring`: warn this many days before expiry.
    pub expiry_warning_days: u32,
    /// `mover_kept_access`: days after a move before kept access is reported.
    pub mover_grace_days: u32,
    /// `mover_kept_access`: moves older than this are no longer examined (peer outliers
    /// take over).
    pub mover_window_days: u32,
    /// `mover_kept_access`: an entitlement is typical of the old job when at least this
    /// percentage of the old peers hold it…
    pub mover_old_share_percent: u32,
    /// …and atypical of the new job when fewer than this percentage of the new peers do.
    pub mover_new_share_percent: u32,
    /// `peer_outlier`: peers (same department and title, the person excluded) needed for a
    /// comparison.
    pub peer_min_group: u32,
    /// `peer_outlier`: an entitlement held by at most this percentage of the peers is unusual.
    pub peer_max_share_percent: u32,
    /// `shared_privileged`: usernames that mark an account as generic (regular expressions,
    /// matched case-insensitively against the whole username).
    pub generic_usernames: Vec<String>,
    /// `stale_source`: a source's latest snapshot may be at most this many days old.
    pub stale_source_days: u32,
    /// `stale_source`: other limits for some sources (`hr = 2`, `"system:erp" = 1`).
    pub stale_source_days_by_source: BTreeMap<String, u32>,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            dormant_days: DaysByCriticality::default(),
            dormant_days_by_employment_type: BTreeMap::new(),
            rotation_days: RotationDays::default(),
            nhi_unused_days: 90,
            expiry_warning_days: 14,
            mover_grace_days: 30,
            mover_window_days: 365,
            mover_old_share_percent: 50,
            mover_new_share_percent: 10,
            peer_min_group: 2,
            peer_max_share_percent: 5,
            generic_usernames: vec![
                "(admin|administrator|root|sa|sysadmin|superuser)[-_.]?[0-9]*".into(),
                "(shared|generic|team|test|temp|tmp)[-_.].*".into(),
            ],
            stale_source_days: 7,
            stale_source_days_by_source: BTreeMap::new(),
        }
    }
}

/// Points of the risk scores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskWeights {
    /// Points per open finding, by severity.
    pub finding: BTreeMap<Severity, u32>,
    /// Accepted findings count this percentage of their points (risk accepted is not risk
    /// gone).
    pub accepted_percent: u32,
    /// Points per privileged grant held.
    pub privileged_grant: u32,
    /// At most this many points from privileged grants.
    pub privileged_cap: u32,
    /// Points per critical system with access.
    pub critical_system: u32,
    /// System scores: points when the system has no owner.
    pub system_without_owner: u32,
    /// System scores: points when the system has no criticality.
    pub system_unclassified: u32,
    /// System scores: points per enabled account linked to nobody.
    pub uncorrelated_account: u32,
}

impl Default for RiskWeights {
    fn default() -> RiskWeights {
        RiskWeights {
            finding: [
                (Severity::Critical, 40),
                (Severity::High, 20),
                (Severity::Medium, 8),
                (Severity::Low, 3),
                (Severity::Info, 0),
            ]
            .into_iter()
            .collect(),
            accepted_percent: 50,
            privileged_grant: 2,
            privileged_cap: 20,
            critical_system: 3,
            system_without_owner: 15,
            system_unclassified: 10,
            uncorrelated_account: 2,
        }
    }
}

impl RiskWeights {
    /// Points of one finding of a severity.
    pub fn of(&self, s: Severity) -> u32 {
        self.finding.get(&s).copied().unwrap_or(0)
    }
}

/// Limits on accepting risks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Acceptance {
    /// The longest an acceptance may last, in days.
    pub max_days: u32,
}

impl Default for Acceptance {
    fn default() -> Acceptance {
        Acceptance { max_days: 365 }
    }
}

impl Policy {
    /// Parses a policy from TOML; `origin` names the file in messages.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Policy, AnalysisError> {
        let policy: Policy = toml::from_str(text).map_err(|e| toml_error(origin, text, &e))?;
        for name in policy.rules.keys() {
            if !crate::RULES.iter().any(|r| r.name == name) {
                return Err(AnalysisError::Policy {
                    file: origin.display().to_string(),
                    line: line_of(text, &format!("[rules.{name}]")),
                    message: format!(
                        "unknown rule `{name}`; the rules are: {}",
                        crate::RULES
                            .iter()
                            .map(|r| r.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        for (i, pattern) in policy.thresholds.generic_usernames.iter().enumerate() {
            if let Err(e) = crate::access::generic_pattern(pattern) {
                return Err(AnalysisError::Policy {
                    file: origin.display().to_string(),
                    line: line_of(text, "generic_usernames"),
                    message: format!(
                        "thresholds.generic_usernames[{i}] is not a valid regular expression: {e}"
                    ),
                });
            }
        }
        Ok(policy)
    }

    /// Whether a rule runs.
    pub fn enabled(&self, rule: &str) -> bool {
        self.rules.get(rule).is_none_or(|r| r.enabled)
    }

    /// The policy as TOML, for `gatehouse policy show` and the digest.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

pub(crate) fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|at| text[..at].matches('\n').count() + 1)
        .unwrap_or(1)
}

pub(crate) fn toml_error(origin: &Path, text: &str, e: &toml::de::Error) -> AnalysisError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
        .unwrap_or(1);
    AnalysisError::Policy {
        file: origin.display().to_string(),
        line,
        message: e.message().trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_policy_is_the_default_and_round_trips() {
        let p = Policy::from_toml("", Path::new("policy.toml")).unwrap();
        assert_eq!(p, Policy::default());
        let again = Policy::from_toml(&p.to_toml(), Path::new("x")).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let text = "[thresholds]\nnhi_unused_days = \"soon\"\n";
        let e = Policy::from_toml(text, Path::new("policy/policy.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("policy/policy.toml:2:"), "{e}");
        let e = Policy::from_toml("[rules.no_such_rule]\nenabled = false\n", Path::new("p"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown rule `no_such_rule`"), "{e}");
        let e = Policy::from_toml("[thresholds]\ntypo = 1\n", Path::new("p"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("typo"), "{e}");
    }
}
