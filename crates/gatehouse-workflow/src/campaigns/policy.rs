//! The review policy (`policy/reviews.toml`, documented in docs/reviews.md): who runs the
//! review programme, which systems are reviewed how often and by whom, the schedule of
//! reminders, escalations and deadlines, when comments are required, and which findings open
//! a micro-review by themselves.

use std::path::Path;

use gatehouse_model::{
    CampaignKind, CampaignRules, Criticality, DeadlineDefault, IdentityKey, ReviewerRule,
    SystemConfig,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::CampaignError;

/// The whole review policy. An absent file is the default policy, which names no
/// administrator and so allows no campaign to be created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewPolicy {
    /// Who may create, launch, reassign and close campaigns (identity keys).
    pub administrators: Vec<IdentityKey>,
    /// The last person up every escalation path, and the default campaign owner.
    pub compliance_owner: Option<IdentityKey>,
    /// Who may sign campaigns off besides each campaign's owner.
    pub signers: Vec<IdentityKey>,
    /// Settings every scope starts from.
    pub defaults: Settings,
    /// The review scopes: which systems, which kind, how often.
    #[serde(rename = "scope")]
    pub scopes: Vec<Scope>,
    /// Micro-reviews the policy opens by itself after an import.
    pub event_driven: EventDriven,
}

/// How a campaign is reviewed and closed. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Who reviews, stage by stage.
    pub stages: Vec<ReviewerRule>,
    /// Days from launch to the due date.
    pub due_days: u32,
    /// Reminders, in days before the due date.
    pub reminders: Vec<u32>,
    /// Escalations, in days after the due date: to the reviewer's manager, then to the
    /// compliance owner.
    pub escalations: Vec<u32>,
    /// Days after the due date at which undecided items get the deadline default.
    pub deadline_days: u32,
    /// What undecided items get at the deadline.
    pub deadline_default: DeadlineDefault,
    /// A comment is required on revoke.
    pub comment_on_revoke: bool,
    /// When a comment is required to keep: `privileged`, `sod`.
    pub comment_on_keep: Vec<KeepComment>,
    /// Days a revoke's remediation has before it is due.
    pub remediation_days: u32,
    /// Days a keep decision warrants the access; default: the scope's cadence.
    pub keep_days: Option<u32>,
    /// Recommend revoking access not used for this many days.
    pub dormant_days: u32,
    /// Instructions shown to reviewers with every item.
    pub instructions: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            stages: vec![ReviewerRule::Manager],
            due_days: 14,
            reminders: vec![7, 2, 0],
            escalations: vec![3, 7],
            deadline_days: 14,
            deadline_default: DeadlineDefault::Revoke,
            comment_on_revoke: true,
            comment_on_keep: vec![KeepComment::Privileged, KeepComment::Sod],
            remediation_days: 14,
            keep_days: None,
            dormant_days: 90,
            instructions: None,
        }
    }
}

/// When keeping access needs a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepComment {
    /// Privileged access.
    Privileged,
    /// Access in a segregation-of-duties conflict.
    Sod,
}

/// Settings a scope may override; absent fields take the defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// See [`Settings::stages`].
    pub stages: Option<Vec<ReviewerRule>>,
    /// See [`Settings::due_days`].
    pub due_days: Option<u32>,
    /// See [`Settings::reminders`].
    pub reminders: Option<Vec<u32>>,
    /// See [`Settings::escalations`].
    pub escalations: Option<Vec<u32>>,
    /// See [`Settings::deadline_days`].
    pub deadline_days: Option<u32>,
    /// See [`Settings::deadline_default`].
    pub deadline_default: Option<DeadlineDefault>,
    /// See [`Settings::comment_on_revoke`].
    pub comment_on_revoke: Option<bool>,
    /// See [`Settings::comment_on_keep`].
    pub comment_on_keep: Option<Vec<KeepComment>>,
    /// See [`Settings::remediation_days`].
    pub remediation_days: Option<u32>,
    /// See [`Settings::keep_days`].
    pub keep_days: Option<u32>,
    /// See [`Settings::dormant_days`].
    pub dormant_days: Option<u32>,
    /// See [`Settings::instructions`].
    pub instructions: Option<String>,
}

/// A review scope: which systems, what kind of campaign, how often, owned by whom.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scope {
    /// Its name, used by `campaign create --scope` and `campaign due`.
    pub name: String,
    /// Systems in any of these frameworks (`sox` also matches `financial_reporting`).
    pub frameworks: Vec<String>,
    /// Systems of any of these criticalities.
    pub criticality: Vec<Criticality>,
    /// Systems with any of these tags (the `tags` attribute of system.toml, comma-separated).
    pub tags: Vec<String>,
    /// Systems by key.
    pub systems: Vec<String>,
    /// Systems left out even when they match.
    pub exclude_systems: Vec<String>,
    /// What its campaigns review (default `full`).
    pub kind: Option<CampaignKind>,
    /// Only privileged grants.
    pub privileged_only: bool,
    /// Days between campaigns (91 is quarterly).
    pub cadence_days: u32,
    /// The schedule (`campaign tick`, the server's scheduler) creates and launches this
    /// scope's campaign by itself when it is due; otherwise an administrator does.
    pub auto_launch: bool,
    /// Who owns its campaigns (default: the compliance owner).
    pub owner: Option<IdentityKey>,
    /// See [`Settings::stages`].
    pub stages: Option<Vec<ReviewerRule>>,
    /// See [`Settings::due_days`].
    pub due_days: Option<u32>,
    /// See [`Settings::reminders`].
    pub reminders: Option<Vec<u32>>,
    /// See [`Settings::escalations`].
    pub escalations: Option<Vec<u32>>,
    /// See [`Settings::deadline_days`].
    pub deadline_days: Option<u32>,
    /// See [`Settings::deadline_default`].
    pub deadline_default: Option<DeadlineDefault>,
    /// See [`Settings::comment_on_revoke`].
    pub comment_on_revoke: Option<bool>,
    /// See [`Settings::comment_on_keep`].
    pub comment_on_keep: Option<Vec<KeepComment>>,
    /// See [`Settings::remediation_days`].
    pub remediation_days: Option<u32>,
    /// See [`Settings::keep_days`].
    pub keep_days: Option<u32>,
    /// See [`Settings::dormant_days`].
    pub dormant_days: Option<u32>,
    /// See [`Settings::instructions`].
    pub instructions: Option<String>,
}

/// Micro-reviews opened by the policy itself, from findings of the analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventDriven {
    /// Whether `campaign tick` opens them.
    pub enabled: bool,
    /// The rules whose open findings open one (a finding is reviewed once).
    pub rules: Vec<String>,
    /// Only findings on systems in SOX scope.
    pub sox_only: bool,
    /// See [`Settings::stages`].
    pub stages: Option<Vec<ReviewerRule>>,
    /// See [`Settings::due_days`].
    pub due_days: Option<u32>,
    /// See [`Settings::reminders`].
    pub reminders: Option<Vec<u32>>,
    /// See [`Settings::escalations`].
    pub escalations: Option<Vec<u32>>,
    /// See [`Settings::deadline_days`].
    pub deadline_days: Option<u32>,
    /// See [`Settings::deadline_default`].
    pub deadline_default: Option<DeadlineDefault>,
    /// See [`Settings::comment_on_revoke`].
    pub comment_on_revoke: Option<bool>,
    /// See [`Settings::comment_on_keep`].
    pub comment_on_keep: Option<Vec<KeepComment>>,
    /// See [`Settings::remediation_days`].
    pub remediation_days: Option<u32>,
    /// See [`Settings::keep_days`].
    pub keep_days: Option<u32>,
    /// See [`Settings::dormant_days`].
    pub dormant_days: Option<u32>,
    /// See [`Settings::instructions`].
    pub instructions: Option<String>,
}

impl Default for EventDriven {
    fn default() -> EventDriven {
        EventDriven {
            enabled: false,
            rules: vec!["mover_kept_access".into(), "unwarranted_grant".into()],
            sox_only: true,
            stages: None,
            due_days: None,
            reminders: None,
            escalations: None,
            deadline_days: None,
            deadline_default: None,
            comment_on_revoke: None,
            comment_on_keep: None,
            remediation_days: None,
            keep_days: None,
            dormant_days: None,
            instructions: None,
        }
    }
}

/// The overrides of a scope or of the event-driven settings.
macro_rules! overrides {
    ($s:expr) => {
        Overrides {
            stages: $s.stages.clone(),
            due_days: $s.due_days,
            reminders: $s.reminders.clone(),
            escalations: $s.escalations.clone(),
            deadline_days: $s.deadline_days,
            deadline_default: $s.deadline_default,
            comment_on_revoke: $s.comment_on_revoke,
            comment_on_keep: $s.comment_on_keep.clone(),
            remediation_days: $s.remediation_days,
            keep_days: $s.keep_days,
            dormant_days: $s.dormant_days,
            instructions: $s.instructions.clone(),
        }
    };
}

fn policy_error(origin: &Path, line: usize, message: impl Into<String>) -> CampaignError {
    CampaignError::Policy(format!("{}:{line}: {}", origin.display(), message.into()))
}

fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|i| text[..i].matches('\n').count() + 1)
        .unwrap_or(1)
}

impl ReviewPolicy {
    /// Reads a policy file's text; `origin` names it in errors (`file:line: message`).
    pub fn from_toml(text: &str, origin: &Path) -> Result<ReviewPolicy, CampaignError> {
        let policy: ReviewPolicy = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            policy_error(origin, line, e.message().trim())
        })?;
        let mut names = std::collections::BTreeSet::new();
        for s in &policy.scopes {
            let at = line_of(text, &format!("\"{}\"", s.name));
            if s.name.trim().is_empty() {
                return Err(policy_error(
                    origin,
                    line_of(text, "[[scope]]"),
                    "a scope needs a name",
                ));
            }
            if !names.insert(s.name.as_str()) {
                return Err(policy_error(
                    origin,
                    at,
                    format!("two scopes are named `{}`", s.name),
                ));
            }
            if s.cadence_days == 0 {
                return Err(policy_error(
                    origin,
                    at,
                    format!(
                        "scope `{}` needs `cadence_days` (91 for quarterly, 182 for twice a year)",
                        s.name
                    ),
                ));
            }
            if s.frameworks.is_empty()
                && s.criticality.is_empty()
                && s.tags.is_empty()
                && s.systems.is_empty()
            {
                return Err(policy_error(
                    origin,
                    at,
                    format!(
                        "scope `{}` selects no system: give frameworks, criticality, tags or systems",
                        s.name
                    ),
                ));
            }
            if matches!(
                s.kind,
                Some(CampaignKind::EventDriven | CampaignKind::External)
            ) {
                return Err(policy_error(
                    origin,
                    at,
                    format!(
                        "scope `{}` cannot be of kind `{}`: those campaigns are opened by the \
                         policy itself or by `gatehouse import decisions`",
                        s.name,
                        s.kind.map(|k| k.as_str()).unwrap_or_default()
                    ),
                ));
            }
            let settings = policy.settings(Some(s));
            if settings.stages.is_empty() {
                return Err(policy_error(
                    origin,
                    at,
                    format!("scope `{}` has no review stage", s.name),
                ));
            }
        }
        if policy.defaults.stages.is_empty() {
            return Err(policy_error(
                origin,
                line_of(text, "stages"),
                "`stages` must name at least one reviewer (manager, system_owner, …)",
            ));
        }
        if policy.defaults.due_days == 0 {
            return Err(policy_error(
                origin,
                line_of(text, "due_days"),
                "`due_days` must be at least 1",
            ));
        }
        if !policy.administrators.is_empty() && policy.compliance_owner.is_none() {
            return Err(policy_error(
                origin,
                1,
                "`compliance_owner` is required: every escalation path ends with them",
            ));
        }
        Ok(policy)
    }

    /// SHA-256 (hex) of the policy as read, recorded with every campaign created under it.
    pub fn digest(&self) -> String {
        let text = toml::to_string(self).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(text.as_bytes());
        hex(&h.finalize())
    }

    /// A scope by name.
    pub fn scope(&self, name: &str) -> Option<&Scope> {
        self.scopes.iter().find(|s| s.name == name)
    }

    /// The settings of a scope (the defaults, overridden by the scope), or the defaults.
    pub fn settings(&self, scope: Option<&Scope>) -> Settings {
        let mut s = self.defaults.clone();
        if let Some(scope) = scope {
            apply(&mut s, &overrides!(scope));
            if s.keep_days.is_none() {
                s.keep_days = Some(scope.cadence_days);
            }
        }
        s
    }

    /// The settings of event-driven reviews.
    pub fn event_settings(&self) -> Settings {
        let mut s = self.defaults.clone();
        apply(&mut s, &overrides!(self.event_driven));
        s
    }

    /// The rules a campaign is created with: `settings` frozen, with the compliance owner
    /// and the signers.
    pub fn rules(&self, settings: &Settings) -> Result<CampaignRules, CampaignError> {
        let compliance_owner = self.compliance_owner.clone().ok_or_else(|| {
            CampaignError::Policy(
                "the review policy names no `compliance_owner`: every escalation path ends with \
                 them"
                    .into(),
            )
        })?;
        Ok(CampaignRules {
            stages: settings.stages.clone(),
            due_days: settings.due_days,
            reminders: {
                let mut r = settings.reminders.clone();
                r.sort_unstable_by(|a, b| b.cmp(a));
                r.dedup();
                r
            },
            escalations: {
                let mut e = settings.escalations.clone();
                e.sort_unstable();
                e.dedup();
                e
            },
            deadline_days: settings.deadline_days,
            deadline_default: settings.deadline_default,
            compliance_owner,
            comment_on_revoke: settings.comment_on_revoke,
            comment_on_privileged_keep: settings.comment_on_keep.contains(&KeepComment::Privileged),
            comment_on_sod_keep: settings.comment_on_keep.contains(&KeepComment::Sod),
            remediation_days: settings.remediation_days,
            keep_days: settings.keep_days.unwrap_or(365),
            signers: self.signers.clone(),
        })
    }

    /// Whether an identity may administer campaigns.
    pub fn is_administrator(&self, who: &IdentityKey) -> bool {
        self.administrators.contains(who)
    }
}

fn apply(s: &mut Settings, o: &Overrides) {
    macro_rules! take {
        ($($f:ident),*) => { $( if let Some(v) = &o.$f { s.$f = v.clone(); } )* };
    }
    take!(
        stages,
        due_days,
        reminders,
        escalations,
        deadline_days,
        deadline_default,
        comment_on_revoke,
        comment_on_keep,
        remediation_days,
        dormant_days
    );
    if o.keep_days.is_some() {
        s.keep_days = o.keep_days;
    }
    if o.instructions.is_some() {
        s.instructions = o.instructions.clone();
    }
}

impl Scope {
    /// Whether a system is in this scope.
    pub fn covers(&self, system: &SystemConfig) -> bool {
        let key = system.key.as_str();
        if self.exclude_systems.iter().any(|s| s == key) {
            return false;
        }
        let sox = system.financial_reporting || system.frameworks.iter().any(|f| f == "sox");
        self.systems.iter().any(|s| s == key)
            || self.frameworks.iter().any(|f| {
                let f = f.to_lowercase();
                system.frameworks.contains(&f) || (f == "sox" && sox)
            })
            || system
                .criticality
                .is_some_and(|c| self.criticality.contains(&c))
            || system.attributes.get("tags").is_some_and(|tags| {
                tags.split(',')
                    .map(str::trim)
                    .any(|t| self.tags.iter().any(|x| x == t))
            })
    }

    /// The kind of its campaigns.
    pub fn kind(&self) -> CampaignKind {
        self.kind.unwrap_or(CampaignKind::Full)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The starter policy `gatehouse demo` writes, for an organisation whose compliance owner and
/// administrator is `owner`, with revoked access to be removed within `remediation_days`.
pub fn starter(owner: &IdentityKey, remediation_days: u32) -> String {
    format!(
        "# Gatehouse review policy: see docs/reviews.md.\n\
         administrators = [\"{owner}\"]\n\
         compliance_owner = \"{owner}\"\n\
         \n\
         [defaults]\n\
         stages = [\"manager\"]\n\
         due_days = 14\n\
         reminders = [7, 2, 0]\n\
         escalations = [3, 7]\n\
         deadline_days = 14\n\
         deadline_default = \"revoke\"\n\
         comment_on_revoke = true\n\
         comment_on_keep = [\"privileged\", \"sod\"]\n\
         remediation_days = {remediation_days}\n\
         dormant_days = 90\n\
         instructions = \"Keep what the person needs for their current job; revoke the rest. A revoke needs a comment, and so does keeping privileged access.\"\n\
         \n\
         # Quarterly, manager then system owner, for SOX and critical systems.\n\
         [[scope]]\n\
         name = \"sox-quarterly\"\n\
         frameworks = [\"sox\"]\n\
         criticality = [\"critical\"]\n\
         cadence_days = 91\n\
         stages = [\"manager\", \"system_owner\"]\n\
         \n\
         # Twice a year for everything else.\n\
         [[scope]]\n\
         name = \"others-semiannual\"\n\
         criticality = [\"high\", \"medium\", \"low\"]\n\
         exclude_systems = []\n\
         cadence_days = 182\n\
         \n\
         # Service accounts and keys: their owners attest purpose, rotation and need.\n\
         [[scope]]\n\
         name = \"nhi-semiannual\"\n\
         criticality = [\"critical\", \"high\", \"medium\", \"low\"]\n\
         kind = \"non_human\"\n\
         cadence_days = 182\n\
         stages = [\"nhi_owner\"]\n\
         \n\
         [event_driven]\n\
         enabled = true\n\
         rules = [\"mover_kept_access\", \"unwarranted_grant\"]\n\
         sox_only = true\n\
         due_days = 7\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ReviewPolicy, String> {
        ReviewPolicy::from_toml(text, Path::new("reviews.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_starter_policy_reads() {
        let p = read(&starter(&IdentityKey::new("E1").unwrap(), 30)).unwrap();
        assert_eq!(p.scopes.len(), 3);
        let sox = p.scope("sox-quarterly").unwrap();
        let s = p.settings(Some(sox));
        assert_eq!(s.stages, [ReviewerRule::Manager, ReviewerRule::SystemOwner]);
        assert_eq!(s.keep_days, Some(91));
        assert_eq!(p.event_settings().due_days, 7);
        let rules = p.rules(&s).unwrap();
        assert_eq!(rules.reminders, [7, 2, 0]);
        assert!(rules.comment_on_privileged_keep && rules.comment_on_sod_keep);
    }

    #[test]
    fn an_empty_policy_is_valid_and_names_nobody() {
        let p = read("").unwrap();
        assert!(p.administrators.is_empty());
        assert!(p.rules(&p.settings(None)).is_err());
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        let err = read("administrators = [\"E1\"]\ncompliance_owner = \"E1\"\n[[scope]]\nname = \"q\"\nsystems = [\"erp\"]\n").unwrap_err();
        assert_eq!(
            err,
            "reviews.toml:4: scope `q` needs `cadence_days` (91 for quarterly, 182 for twice a year)"
        );
        let err = read("[defaults]\nstages = [\"boss\"]\n").unwrap_err();
        assert!(err.starts_with("reviews.toml:2: "), "{err}");
        let err = read("[[scope]]\nname = \"q\"\ncadence_days = 91\n").unwrap_err();
        assert!(err.contains("selects no system"), "{err}");
        let err = read("administrators = [\"E1\"]\n").unwrap_err();
        assert!(err.contains("`compliance_owner` is required"), "{err}");
        let err = read("colour = 1\n").unwrap_err();
        assert!(
            err.starts_with("reviews.toml:1: unknown field `colour`"),
            "{err}"
        );
    }

    #[test]
    fn scopes_select_systems_by_framework_criticality_tag_or_name() {
        let scope = Scope {
            name: "s".into(),
            frameworks: vec!["SOX".into()],
            criticality: vec![Criticality::Critical],
            tags: vec!["payments".into()],
            systems: vec!["crm".into()],
            exclude_systems: vec!["legacy".into()],
            cadence_days: 91,
            ..Scope::default()
        };
        let sys = |key: &str| SystemConfig {
            key: gatehouse_model::SystemKey::new(key).unwrap(),
            name: key.into(),
            description: None,
            owner: None,
            criticality: None,
            frameworks: vec![],
            financial_reporting: false,
            review_cadence_days: None,
            correlation: vec![],
            attributes: Default::default(),
        };
        assert!(scope.covers(&sys("crm")));
        assert!(!scope.covers(&sys("wiki")));
        let mut fin = sys("gl");
        fin.financial_reporting = true;
        assert!(scope.covers(&fin));
        let mut crit = sys("iam");
        crit.criticality = Some(Criticality::Critical);
        assert!(scope.covers(&crit));
        let mut tagged = sys("bank");
        tagged
            .attributes
            .insert("tags".into(), "treasury, payments".into());
        assert!(scope.covers(&tagged));
        let mut legacy = sys("legacy");
        legacy.frameworks = vec!["sox".into()];
        assert!(!scope.covers(&legacy));
    }
}
