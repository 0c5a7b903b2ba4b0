//! Linking accounts to identities by a system's correlation rules.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use gatehouse_model::{Account, CorrelationRule, IdentityKey, IdentityKind};
use regex::Regex;

/// The rules used when a system's `system.toml` names none.
pub fn default_rules() -> Vec<CorrelationRule> {
    vec![
        CorrelationRule::IdentityKey,
        CorrelationRule::EmployeeId,
        CorrelationRule::Email,
    ]
}

/// Compiles a username pattern, checking that it names an identity field.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    let re = Regex::new(pattern)
        .map_err(|e| format!("the pattern `{pattern}` is not a valid regular expression: {e}"))?;
    if !re
        .capture_names()
        .flatten()
        .any(|n| matches!(n, "employee_id" | "email" | "email_local"))
    {
        return Err(format!(
            "the pattern `{pattern}` needs a named group `employee_id`, `email` or `email_local`, \
             e.g. `^a-(?P<email_local>.+)$`"
        ));
    }
    Ok(re)
}

/// What correlation needs to know about the identities in the store.
#[derive(Debug, Default)]
pub struct IdentityIndex {
    keys: HashMap<IdentityKey, IdentityKind>,
    by_email: HashMap<String, Vec<IdentityKey>>,
    by_email_local: HashMap<String, Vec<IdentityKey>>,
}

impl IdentityIndex {
    /// Adds an identity.
    pub fn insert(&mut self, key: &IdentityKey, kind: IdentityKind, email: Option<&str>) {
        self.keys.insert(key.clone(), kind);
        if let Some(email) = email {
            let email = email.trim();
            let lower = if email.chars().any(char::is_uppercase) {
                email.to_lowercase()
            } else {
                email.to_owned()
            };
            if let Some((local, _)) = lower.split_once('@') {
                self.by_email_local
                    .entry(local.to_owned())
                    .or_default()
                    .push(key.clone());
            }
            self.by_email.entry(lower).or_default().push(key.clone());
        }
    }

    /// Number of identities.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn person(&self, employee_id: &str) -> Lookup {
        match self.keys.get(employee_id) {
            Some(IdentityKind::Person) => IdentityKey::new(employee_id)
                .map(Lookup::One)
                .unwrap_or(Lookup::None),
            _ => Lookup::None,
        }
    }

    fn any(&self, key: &str) -> Lookup {
        if self.keys.contains_key(key) {
            IdentityKey::new(key)
                .map(Lookup::One)
                .unwrap_or(Lookup::None)
        } else {
            Lookup::None
        }
    }

    fn unique(list: Option<&Vec<IdentityKey>>) -> Lookup {
        match list.map(Vec::as_slice) {
            Some([one]) => Lookup::One(one.clone()),
            Some([_, _, ..]) => Lookup::Ambiguous,
            _ => Lookup::None,
        }
    }
}

enum Lookup {
    One(IdentityKey),
    Ambiguous,
    None,
}

enum Compiled {
    EmployeeId,
    Email,
    Username(Regex, String),
    IdentityKey,
}

/// The compiled rules of one system.
pub struct Correlator {
    rules: Vec<Compiled>,
}

/// What correlation did to a snapshot's accounts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CorrelationReport {
    /// Accounts linked, by rule.
    pub linked: BTreeMap<String, u64>,
    /// Accounts that matched more than one identity under some rule and no identity under any.
    pub ambiguous: Vec<String>,
    /// Accounts linked to no identity (native ids).
    pub uncorrelated: Vec<String>,
    /// Accounts naming an identity key that does not exist (kept linked, flagged).
    pub unknown_identity: Vec<String>,
}

impl Correlator {
    /// Compiles rules; an empty list means [`default_rules`].
    pub fn new(rules: &[CorrelationRule]) -> Result<Correlator, String> {
        let rules = if rules.is_empty() {
            default_rules()
        } else {
            rules.to_vec()
        };
        let compiled = rules
            .iter()
            .map(|r| {
                Ok(match r {
                    CorrelationRule::EmployeeId => Compiled::EmployeeId,
                    CorrelationRule::Email => Compiled::Email,
                    CorrelationRule::IdentityKey => Compiled::IdentityKey,
                    CorrelationRule::Username { pattern } => {
                        Compiled::Username(compile_pattern(pattern)?, r.describe())
                    }
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Correlator { rules: compiled })
    }

    /// Links each account to an identity, setting `identity` and `linked_by`. The account's
    /// `identity` field, as read from the source, is the input of the `identity` rule.
    pub fn correlate_accounts(
        &self,
        accounts: &mut [Account],
        index: &IdentityIndex,
    ) -> CorrelationReport {
        let mut report = CorrelationReport::default();
        for account in accounts.iter_mut() {
            let declared = account.identity.take();
            account.linked_by = None;
            let mut ambiguous = false;
            for rule in &self.rules {
                let (found, name) = match rule {
                    Compiled::IdentityKey => match &declared {
                        Some(k) => match index.any(k.as_str()) {
                            Lookup::One(k) => (Lookup::One(k), "identity"),
                            _ => {
                                report.unknown_identity.push(account.native_id.clone());
                                (Lookup::One(k.clone()), "identity")
                            }
                        },
                        None => (Lookup::None, "identity"),
                    },
                    Compiled::EmployeeId => (
                        account
                            .employee_id
                            .as_deref()
                            .map_or(Lookup::None, |e| index.person(e.trim())),
                        "employee_id",
                    ),
                    Compiled::Email => (
                        account.email.as_deref().map_or(Lookup::None, |e| {
                            IdentityIndex::unique(index.by_email.get(&e.trim().to_lowercase()))
                        }),
                        "email",
                    ),
                    Compiled::Username(re, name) => {
                        let found = match re.captures(&account.username) {
                            None => Lookup::None,
                            Some(caps) => {
                                if let Some(m) = caps.name("employee_id") {
                                    index.person(m.as_str())
                                } else if let Some(m) = caps.name("email") {
                                    IdentityIndex::unique(
                                        index.by_email.get(&m.as_str().to_lowercase()),
                                    )
                                } else if let Some(m) = caps.name("email_local") {
                                    IdentityIndex::unique(
                                        index.by_email_local.get(&m.as_str().to_lowercase()),
                                    )
                                } else {
                                    Lookup::None
                                }
                            }
                        };
                        (found, name.as_str())
                    }
                };
                match found {
                    Lookup::One(k) => {
                        account.identity = Some(k);
                        account.linked_by = Some(name.to_owned());
                        *report.linked.entry(name.to_owned()).or_default() += 1;
                        break;
                    }
                    Lookup::Ambiguous => ambiguous = true,
                    Lookup::None => {}
                }
            }
            if account.identity.is_none() {
                if ambiguous {
                    report.ambiguous.push(account.native_id.clone());
                }
                report.uncorrelated.push(account.native_id.clone());
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_model::{AccountKind, SystemKey};

    fn account(
        id: &str,
        username: &str,
        emp: Option<&str>,
        email: Option<&str>,
        ident: Option<&str>,
    ) -> Account {
        Account {
            system: SystemKey::new("ad").unwrap(),
            native_id: id.into(),
            username: username.into(),
            identity: ident.map(|i| IdentityKey::new(i).unwrap()),
            linked_by: None,
            kind: AccountKind::Human,
            enabled: true,
            mfa: None,
            last_login: None,
            employee_id: emp.map(Into::into),
            email: email.map(Into::into),
            attributes: Default::default(),
        }
    }

    fn index() -> IdentityIndex {
        let mut ix = IdentityIndex::default();
        let k = |s: &str| IdentityKey::new(s).unwrap();
        ix.insert(
            &k("E1"),
            IdentityKind::Person,
            Some("Ada.Lovelace@example.com"),
        );
        ix.insert(&k("E2"), IdentityKind::Person, Some("bob@example.com"));
        ix.insert(&k("E3"), IdentityKind::Person, Some("bob@example.org"));
        ix.insert(&k("svc-ci"), IdentityKind::ServiceAccount, None);
        ix
    }

    #[test]
    fn rules_in_order() {
        let c = Correlator::new(&[]).unwrap();
        let mut accounts = vec![
            account("1", "x", Some("E1"), None, None),
            account("2", "x", None, Some("ADA.LOVELACE@example.com"), None),
            account("3", "x", None, None, Some("svc-ci")),
            account("4", "x", Some("svc-ci"), None, None),
            account("5", "x", None, None, Some("ghost")),
        ];
        let r = c.correlate_accounts(&mut accounts, &index());
        let linked: Vec<_> = accounts
            .iter()
            .map(|a| a.identity.as_ref().map(|k| k.to_string()))
            .collect();
        assert_eq!(
            linked,
            vec![
                Some("E1".into()),
                Some("E1".into()),
                Some("svc-ci".into()),
                None,
                Some("ghost".into())
            ]
        );
        assert_eq!(r.uncorrelated, vec!["4"]);
        assert_eq!(r.unknown_identity, vec!["5"]);
        assert_eq!(accounts[1].linked_by.as_deref(), Some("email"));
    }

    #[test]
    fn username_patterns_and_ambiguity() {
        let c = Correlator::new(&[CorrelationRule::Username {
            pattern: "^a-(?P<email_local>.+)$".into(),
        }])
        .unwrap();
        let mut accounts = vec![
            account("1", "a-ada.lovelace", None, None, None),
            account("2", "a-bob", None, None, None),
            account("3", "ada", None, None, None),
        ];
        let r = c.correlate_accounts(&mut accounts, &index());
        assert_eq!(
            accounts[0].identity.as_ref().map(|k| k.as_str()),
            Some("E1")
        );
        assert_eq!(r.ambiguous, vec!["2"]);
        assert_eq!(r.uncorrelated, vec!["2", "3"]);
        assert!(
            Correlator::new(&[CorrelationRule::Username {
                pattern: "^a-(.+)$".into()
            }])
            .is_err()
        );
    }
}
