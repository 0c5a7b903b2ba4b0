//! Segregation-of-duties rulesets: named rules, each two or more sets of entitlements (across
//! systems) that one person must not hold together, and mitigating controls that downgrade a
//! violation while they are in force.

use std::collections::BTreeSet;
use std::path::Path;

use gatehouse_model::{Date, IdentityKey, Severity};
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::policy::{line_of, toml_error};

/// The starter ruleset for the demo organisation's ERP, general ledger and payroll.
pub const STARTER: &str = include_str!("../starter/sod.toml");

/// A ruleset file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ruleset {
    /// The rules.
    #[serde(default, rename = "rule")]
    pub rules: Vec<SodRule>,
    /// Mitigating controls.
    #[serde(default, rename = "mitigation")]
    pub mitigations: Vec<Mitigation>,
}

/// One rule: nobody may hold entitlements from `min_sets` or more of its sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SodRule {
    /// Short stable id, e.g. `SOD-P2P-01`; part of the finding id.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// Why the combination is dangerous.
    #[serde(default)]
    pub description: Option<String>,
    /// The regulation or control objective it serves (`SOX 404: procure-to-pay`).
    #[serde(default)]
    pub regulation: Option<String>,
    /// Severity of a violation.
    #[serde(default = "high")]
    pub severity: Severity,
    /// The conflicting sets: each a list of entitlement references `system:native_id`; a `*`
    /// matches any run of characters (`erp:role/AP_*`).
    pub sets: Vec<Vec<String>>,
    /// How many sets a person must touch to violate the rule (default 2: any two).
    #[serde(default)]
    pub min_sets: Option<usize>,
}

fn high() -> Severity {
    Severity::High
}

fn low() -> Severity {
    Severity::Low
}

/// A documented compensating control for a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mitigation {
    /// The rule it mitigates.
    pub rule: String,
    /// The people it covers; empty covers everyone violating the rule.
    #[serde(default)]
    pub identities: Vec<IdentityKey>,
    /// What the control is (e.g. "monthly review of vendor changes by the Controller").
    pub control: String,
    /// Who performs it (identity key).
    pub owner: IdentityKey,
    /// Last day the control is in force; the violation counts in full afterwards.
    pub expires: Date,
    /// Severity of a mitigated violation (default `low`).
    #[serde(default = "low")]
    pub severity: Severity,
}

impl Ruleset {
    /// Parses a ruleset from TOML, checking ids, sets and mitigations; `origin` names the
    /// file in messages.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Ruleset, AnalysisError> {
        let set: Ruleset = toml::from_str(text).map_err(|e| toml_error(origin, text, &e))?;
        let err = |needle: &str, message: String| AnalysisError::Policy {
            file: origin.display().to_string(),
            line: line_of(text, needle),
            message,
        };
        let mut ids = BTreeSet::new();
        for r in &set.rules {
            let needle = format!("\"{}\"", r.id);
            if r.id.trim().is_empty() {
                return Err(err("id", "a rule has an empty id".into()));
            }
            if !ids.insert(r.id.as_str()) {
                return Err(err(&needle, format!("rule id `{}` is used twice", r.id)));
            }
            if r.sets.len() < 2 {
                return Err(err(
                    &needle,
                    format!("rule `{}` needs at least two sets of entitlements", r.id),
                ));
            }
            if let Some(n) = r.min_sets
                && (n < 2 || n > r.sets.len())
            {
                return Err(err(
                    &needle,
                    format!(
                        "rule `{}`: min_sets must be between 2 and the number of sets ({})",
                        r.id,
                        r.sets.len()
                    ),
                ));
            }
            for (i, s) in r.sets.iter().enumerate() {
                if s.is_empty() {
                    return Err(err(
                        &needle,
                        format!("rule `{}`: set {} is empty", r.id, i + 1),
                    ));
                }
                for pattern in s {
                    if !pattern.contains(':') {
                        return Err(err(
                            pattern,
                            format!(
                                "rule `{}`: `{pattern}` is not an entitlement reference \
                                 (`system:native_id`, e.g. `erp:role/AP_Approver`)",
                                r.id
                            ),
                        ));
                    }
                }
            }
        }
        for m in &set.mitigations {
            if !ids.contains(m.rule.as_str()) {
                return Err(err(
                    &format!("\"{}\"", m.rule),
                    format!(
                        "a mitigation refers to rule `{}`, which is not defined",
                        m.rule
                    ),
                ));
            }
            if m.control.trim().is_empty() {
                return Err(err(
                    "control",
                    format!("a mitigation of `{}` has no control description", m.rule),
                ));
            }
        }
        Ok(set)
    }
}

/// Whether a reference matches a pattern where `*` stands for any run of characters.
pub fn matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_ruleset_parses() {
        let r = Ruleset::from_toml(STARTER, Path::new("sod.toml")).unwrap();
        assert!(r.rules.len() >= 5);
    }

    #[test]
    fn wildcards() {
        assert!(matches("erp:role/AP_*", "erp:role/AP_Approver"));
        assert!(matches("*:role/dba", "proddb:role/dba"));
        assert!(matches("a*b*c", "aXbYc"));
        assert!(!matches("a*b*c", "aXcYb"));
        assert!(!matches("erp:role/AP_*", "gl:role/AP_Approver"));
        assert!(matches("exact", "exact"));
    }

    #[test]
    fn bad_rulesets_are_explained() {
        let one_set = "[[rule]]\nid = \"R1\"\nname = \"x\"\nsets = [[\"erp:a\"]]\n";
        let e = Ruleset::from_toml(one_set, Path::new("sod.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sod.toml:2") && e.contains("at least two sets"),
            "{e}"
        );
        let dangling = "[[mitigation]]\nrule = \"R9\"\ncontrol = \"c\"\nowner = \"E1\"\nexpires = \"2027-01-01\"\n";
        let e = Ruleset::from_toml(dangling, Path::new("sod.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`R9`, which is not defined"), "{e}");
        let bad_ref = "[[rule]]\nid = \"R1\"\nname = \"x\"\nsets = [[\"erp\"], [\"gl:b\"]]\n";
        let e = Ruleset::from_toml(bad_ref, Path::new("sod.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an entitlement reference"), "{e}");
    }
}
