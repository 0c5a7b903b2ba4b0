//! One system's snapshot: a folder with `system.toml`, accounts, entitlements and grants.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::path::{Path, PathBuf};

use gatehouse_model::{
    Account, AccountKind, Attributes, CorrelationRule, Criticality, Entitlement, Grant,
    GrantSource, IdentityKey, ImportFile, RiskLevel, SnapshotPart, SystemConfig, SystemKey,
    Warrant,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::collect::{Outcome, ReadOptions, Rows, conclude, find_duplicates};
use crate::fields::RowCheck;
use crate::problem::{ConnectError, Problem};
use crate::table::{Row, Schema};

/// A snapshot of one system.
#[derive(Debug)]
pub struct SystemSnapshot {
    /// The system's description.
    pub config: SystemConfig,
    /// Its accounts, in file order.
    pub accounts: Vec<Account>,
    /// Its entitlements, in file order.
    pub entitlements: Vec<Entitlement>,
    /// Its grants, in file order.
    pub grants: Vec<Grant>,
    /// The files read.
    pub files: Vec<ImportFile>,
    /// Rows left out with `--skip-invalid`.
    pub outcome: Outcome,
}

/// Columns of `accounts.csv`.
pub const ACCOUNT_SCHEMA: Schema = Schema {
    required: &["id"],
    optional: &[
        "username",
        "kind",
        "enabled",
        "mfa",
        "last_login",
        "employee_id",
        "email",
        "identity",
    ],
    aliases: &[
        ("native_id", "id"),
        ("account_id", "id"),
        ("user", "username"),
        ("login", "username"),
        ("user_name", "username"),
        ("account_kind", "kind"),
        ("type", "kind"),
        ("mfa_enabled", "mfa"),
        ("last_logon", "last_login"),
        ("last_login_at", "last_login"),
        ("mail", "email"),
        ("identity_key", "identity"),
    ],
};

/// Columns of `entitlements.csv`.
pub const ENTITLEMENT_SCHEMA: Schema = Schema {
    required: &["id"],
    optional: &["name", "description", "privileged", "risk", "owner"],
    aliases: &[
        ("native_id", "id"),
        ("entitlement_id", "id"),
        ("display_name", "name"),
        ("is_privileged", "privileged"),
        ("risk_level", "risk"),
    ],
};

/// Columns of `grants.csv`.
pub const GRANT_SCHEMA: Schema = Schema {
    required: &["account", "entitlement"],
    optional: &["source", "warrant", "expires_at", "granted_at"],
    aliases: &[
        ("account_id", "account"),
        ("entitlement_id", "entitlement"),
        ("expires", "expires_at"),
        ("added_at", "granted_at"),
        ("assigned_at", "granted_at"),
        ("member_since", "granted_at"),
        ("granted", "granted_at"),
    ],
};

/// `system.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemFile {
    key: Spanned<String>,
    name: Spanned<String>,
    description: Option<String>,
    owner: Option<Spanned<String>>,
    criticality: Option<Spanned<String>>,
    #[serde(default)]
    frameworks: Vec<String>,
    #[serde(default)]
    financial_reporting: bool,
    review_cadence_days: Option<u32>,
    #[serde(default)]
    correlation: Vec<Spanned<CorrelationRule>>,
    #[serde(default)]
    attributes: BTreeMap<String, toml::Value>,
}

fn line_of(text: &str, offset: usize) -> u64 {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
        + 1
}

/// The first NUL character among the keys and strings of a TOML file (TOML lets one be written
/// `\u0000`), as a problem at its line: no text column of either store may hold one.
pub(crate) fn toml_nul(path: &Path, text: &str) -> Result<(), ConnectError> {
    use toml::de::{DeTable, DeValue};
    fn in_value(v: &Spanned<DeValue<'_>>, key: &str) -> Option<(usize, String)> {
        match v.get_ref() {
            DeValue::String(s) if s.contains('\0') => Some((v.span().start, key.to_owned())),
            DeValue::Array(items) => items.iter().find_map(|i| in_value(i, key)),
            DeValue::Table(t) => in_table(t, key),
            _ => None,
        }
    }
    fn in_table(t: &DeTable<'_>, prefix: &str) -> Option<(usize, String)> {
        t.iter().find_map(|(k, v)| {
            let key = if prefix.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{prefix}.{}", k.get_ref())
            };
            if k.get_ref().contains('\0') {
                return Some((k.span().start, key));
            }
            in_value(v, &key)
        })
    }
    let Ok(doc) = DeTable::parse(text) else {
        return Ok(());
    };
    match in_table(doc.get_ref(), "") {
        Some((at, key)) => Err(ConnectError::Unreadable(Problem::field(
            path,
            line_of(text, at),
            &key,
            "contains a NUL character (`\\u0000`); remove it",
        ))),
        None => Ok(()),
    }
}

/// Reads and checks `system.toml`.
pub fn read_system_config(path: &Path) -> Result<(SystemConfig, ImportFile), ConnectError> {
    let bytes = crate::files::read_source(path, crate::files::TOML_LIMIT)
        .map_err(ConnectError::Unreadable)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ConnectError::Unreadable(Problem::row(
            path,
            line_of(&String::from_utf8_lossy(&bytes), e.valid_up_to()),
            "is not valid UTF-8; save the file as UTF-8",
        ))
    })?;
    let file: SystemFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
        ConnectError::Unreadable(Problem::row(path, line, e.message().trim().to_owned()))
    })?;
    toml_nul(path, text)?;
    // Problems are reported on the line of the value, as the TOML parser located it.
    fn at<T>(text: &str, v: &Spanned<T>) -> u64 {
        line_of(text, v.span().start)
    }
    let mut problems = Vec::new();
    let key = SystemKey::new(file.key.get_ref())
        .map_err(|e| {
            problems.push(Problem::field(
                path,
                at(text, &file.key),
                "key",
                e.to_string(),
            ))
        })
        .ok();
    let owner = match &file.owner {
        Some(o) => match IdentityKey::new(o.get_ref()) {
            Ok(k) => Some(k),
            Err(e) => {
                problems.push(Problem::field(path, at(text, o), "owner", e.to_string()));
                None
            }
        },
        None => None,
    };
    let criticality = match &file.criticality {
        Some(c) => match c.get_ref().parse::<Criticality>() {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(Problem::field(
                    path,
                    at(text, c),
                    "criticality",
                    e.to_string(),
                ));
                None
            }
        },
        None => None,
    };
    for rule in &file.correlation {
        if let CorrelationRule::Username { pattern } = rule.get_ref()
            && let Err(e) = crate::correlate::compile_pattern(pattern)
        {
            // The `pattern` key within this rule's own table: from its header to the next one.
            let start = rule.span().start;
            let own = text.get(start..).unwrap_or("");
            let end = own
                .get(1..)
                .and_then(|t| t.find("\n["))
                .map_or(own.len(), |e| e + 1);
            let line = own[..end]
                .find("pattern")
                .map_or_else(|| at(text, rule), |o| line_of(text, start + o));
            problems.push(Problem::field(path, line, "correlation", e));
        }
    }
    if file.name.get_ref().trim().is_empty() {
        problems.push(Problem::field(
            path,
            at(text, &file.name),
            "name",
            "must not be empty",
        ));
    }
    if let Some(first) = problems.into_iter().next() {
        return Err(ConnectError::Unreadable(first));
    }
    let mut frameworks: Vec<String> = file
        .frameworks
        .iter()
        .map(|f| f.trim().to_ascii_lowercase())
        .filter(|f| !f.is_empty())
        .collect();
    frameworks.sort();
    frameworks.dedup();
    let attributes: Attributes = file
        .attributes
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect();
    let config = SystemConfig {
        key: key.ok_or_else(|| ConnectError::Unreadable(Problem::file(path, "no key")))?,
        name: file.name.get_ref().trim().to_owned(),
        description: file.description,
        owner,
        criticality,
        frameworks,
        financial_reporting: file.financial_reporting,
        review_cadence_days: file.review_cadence_days,
        correlation: file
            .correlation
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        attributes,
    };
    let summary = ImportFile {
        name: "system.toml".into(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        rows: 1,
    };
    Ok((config, summary))
}

/// Finds `<base>.csv`, `<base>.json` or `<base>.jsonl` in a folder; exactly one must exist.
pub(crate) fn find_data_file(dir: &Path, base: &str) -> Result<(PathBuf, String), ConnectError> {
    let found: Vec<String> = ["csv", "json", "jsonl", "ndjson"]
        .iter()
        .map(|ext| format!("{base}.{ext}"))
        .filter(|name| crate::files::has_entry(&dir.join(name)))
        .collect();
    match found.as_slice() {
        [one] => Ok((dir.join(one), one.clone())),
        [] => Err(ConnectError::Unreadable(Problem::file(
            &dir.join(format!("{base}.csv")),
            format!(
                "not found; a system folder needs {base}.csv (or {base}.json / {base}.jsonl), \
                 even if it has only a header line"
            ),
        ))),
        many => Err(ConnectError::Unreadable(Problem::file(
            &dir.join(&many[0]),
            format!("{} all exist; keep one", many.join(", ")),
        ))),
    }
}

pub(crate) fn parse_account(system: &SystemKey, row: &Row<'_>) -> Result<Account, Vec<Problem>> {
    let mut c = RowCheck::new(row);
    let native_id = c.text("id");
    let username = c.opt_text("username").unwrap_or_else(|| native_id.clone());
    let kind = c.parse_or("kind", AccountKind::Human);
    let enabled = c.opt_bool("enabled").unwrap_or(true);
    let mfa = c.opt_bool("mfa");
    let last_login = c.opt_timestamp("last_login");
    let identity = c.opt_identity("identity");
    let account = Account {
        system: system.clone(),
        native_id,
        username,
        identity,
        linked_by: None,
        kind,
        enabled,
        mfa,
        last_login,
        employee_id: c.opt_text("employee_id"),
        email: c.opt_text("email"),
        attributes: row.attributes(),
    };
    c.finish(account)
}

pub(crate) fn parse_entitlement(
    system: &SystemKey,
    row: &Row<'_>,
) -> Result<Entitlement, Vec<Problem>> {
    let mut c = RowCheck::new(row);
    let native_id = c.text("id");
    let name = c.opt_text("name").unwrap_or_else(|| native_id.clone());
    let e = Entitlement {
        system: system.clone(),
        native_id,
        name,
        description: c.opt_text("description"),
        privileged: c.opt_bool("privileged").unwrap_or(false),
        risk: c.opt_parse::<RiskLevel>("risk"),
        owner: c.opt_identity("owner"),
        attributes: row.attributes(),
    };
    c.finish(e)
}

pub(crate) fn parse_grant(system: &SystemKey, row: &Row<'_>) -> Result<Grant, Vec<Problem>> {
    let mut c = RowCheck::new(row);
    let g = Grant {
        system: system.clone(),
        account: c.text("account"),
        entitlement: c.text("entitlement"),
        source: c.parse_or("source", GrantSource::Direct),
        warrant: c.opt_parse::<Warrant>("warrant"),
        expires_at: c.opt_end_timestamp("expires_at"),
        granted_at: c.opt_timestamp("granted_at"),
        attributes: row.attributes(),
    };
    c.finish(g)
}

pub(crate) fn check_unique<T>(rows: &mut Rows<T>, column: &str, key: impl Fn(&T) -> &str) {
    let dups = find_duplicates(&rows.valid, &rows.path, key, |k, path, line, first| {
        Problem::field(
            path,
            line,
            column,
            format!("`{k}` already appears on line {first}"),
        )
    });
    rows.reject(dups);
}

/// Reads a system folder (see docs/formats.md). Every file is read and checked before anything
/// is returned: without `skip_invalid` any problem fails the whole snapshot.
pub fn read_system(dir: &Path, options: ReadOptions) -> Result<SystemSnapshot, ConnectError> {
    if !dir.is_dir() {
        return Err(ConnectError::Unreadable(Problem::file(
            dir,
            "is not a folder; a system is imported from a folder with system.toml, accounts, entitlements and grants",
        )));
    }
    let (config, toml_file) = read_system_config(&dir.join("system.toml"))?;
    let key = config.key.clone();
    let (accounts_path, accounts_name) = find_data_file(dir, "accounts")?;
    let (entitlements_path, entitlements_name) = find_data_file(dir, "entitlements")?;
    let (grants_path, grants_name) = find_data_file(dir, "grants")?;

    // The grants file is the big one: parse it on another core meanwhile.
    let (accounts, entitlements, grants) = std::thread::scope(|scope| {
        let grants = scope.spawn(|| {
            Rows::read(&grants_path, &grants_name, &GRANT_SCHEMA, |r| {
                parse_grant(&key, r)
            })
        });
        let accounts = Rows::read(&accounts_path, &accounts_name, &ACCOUNT_SCHEMA, |r| {
            parse_account(&key, r)
        })
        .map(|mut a| {
            check_unique(&mut a, "id", |a| &a.native_id);
            a
        });
        let entitlements = Rows::read(
            &entitlements_path,
            &entitlements_name,
            &ENTITLEMENT_SCHEMA,
            |r| parse_entitlement(&key, r),
        )
        .map(|mut e| {
            check_unique(&mut e, "id", |e| &e.native_id);
            e
        });
        let grants = grants.join().unwrap_or_else(|_| {
            Err(ConnectError::Unreadable(Problem::file(
                &grants_path,
                "reading the file failed unexpectedly",
            )))
        });
        (accounts, entitlements, grants)
    });
    let (mut accounts, mut entitlements, mut grants) = (accounts?, entitlements?, grants?);

    // References: every grant names an account and an entitlement of this snapshot.
    let account_ids: HashMap<&str, ()> = accounts
        .valid
        .iter()
        .map(|(_, a)| (a.native_id.as_str(), ()))
        .collect();
    let entitlement_ids: HashMap<&str, ()> = entitlements
        .valid
        .iter()
        .map(|(_, e)| (e.native_id.as_str(), ()))
        .collect();
    let grants_path_buf = grants.path.clone();
    let (a_name, e_name) = (accounts_name.clone(), entitlements_name.clone());
    grants.retain(|line, g| {
        if !account_ids.contains_key(g.account.as_str()) {
            let why = if accounts.invalid.is_empty() {
                format!("account `{}` is not in {a_name}", g.account)
            } else {
                format!(
                    "account `{}` is not among the valid rows of {a_name}",
                    g.account
                )
            };
            return Err(Problem::field(&grants_path_buf, line, "account", why));
        }
        if !entitlement_ids.contains_key(g.entitlement.as_str()) {
            let why = if entitlements.invalid.is_empty() {
                format!("entitlement `{}` is not in {e_name}", g.entitlement)
            } else {
                format!(
                    "entitlement `{}` is not among the valid rows of {e_name}",
                    g.entitlement
                )
            };
            return Err(Problem::field(&grants_path_buf, line, "entitlement", why));
        }
        Ok(())
    });
    let dups = find_duplicates(
        &grants.valid,
        &grants.path,
        |g| (g.account.as_str(), g.entitlement.as_str()),
        |(a, e), path, line, first| {
            Problem::row(
                path,
                line,
                format!("account `{a}` holds entitlement `{e}` already on line {first}"),
            )
        },
    );
    grants.reject(dups);

    let outcome = conclude(
        options,
        vec![
            (
                SnapshotPart::Accounts,
                std::mem::take(&mut accounts.problems),
                std::mem::take(&mut accounts.invalid),
            ),
            (
                SnapshotPart::Entitlements,
                std::mem::take(&mut entitlements.problems),
                std::mem::take(&mut entitlements.invalid),
            ),
            (
                SnapshotPart::Grants,
                std::mem::take(&mut grants.problems),
                std::mem::take(&mut grants.invalid),
            ),
        ],
    )?;
    Ok(SystemSnapshot {
        config,
        files: vec![toml_file, accounts.file, entitlements.file, grants.file],
        accounts: accounts.valid.into_iter().map(|(_, a)| a).collect(),
        entitlements: entitlements.valid.into_iter().map(|(_, e)| e).collect(),
        grants: grants.valid.into_iter().map(|(_, g)| g).collect(),
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        dir
    }

    const TOML: &str = "key = \"erp\"\nname = \"ERP\"\nowner = \"E1\"\ncriticality = \"critical\"\n\
        frameworks = [\"SOX\", \"iso27001\"]\nfinancial_reporting = true\n\n\
        [[correlation]]\nrule = \"username\"\npattern = \"^(?P<email_local>[a-z.]+)$\"\n\n\
        [attributes]\nvendor = \"SAP\"\n";

    fn err(dir: &tempfile::TempDir, skip: bool) -> String {
        match read_system(dir.path(), ReadOptions { skip_invalid: skip }) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string().replace(&*dir.path().to_string_lossy(), ""),
        }
    }

    #[test]
    fn reads_a_system_folder() {
        let dir = folder(&[
            ("system.toml", TOML),
            (
                "accounts.csv",
                "id,username,kind,enabled,mfa,last_login,dept\nu1,ada,human,yes,true,2026-11-01T08:00:00Z,FIN\nu2,svc,service,no,,,\n",
            ),
            (
                "entitlements.json",
                r#"[{"id":"role/AP","name":"AP Approver","privileged":true,"risk":"high"}]"#,
            ),
            (
                "grants.csv",
                "account,entitlement,source,warrant\nu1,role/AP,request,request:REQ-1\n",
            ),
        ]);
        let snap = read_system(dir.path(), ReadOptions::default()).unwrap();
        assert_eq!(snap.config.frameworks, vec!["iso27001", "sox"]);
        assert_eq!(
            snap.config.attributes.get("vendor").map(String::as_str),
            Some("SAP")
        );
        assert_eq!(snap.accounts.len(), 2);
        assert!(!snap.accounts[1].enabled);
        assert_eq!(
            snap.accounts[0].attributes.get("dept").map(String::as_str),
            Some("FIN")
        );
        assert!(snap.entitlements[0].privileged);
        assert_eq!(
            snap.grants[0]
                .warrant
                .as_ref()
                .map(|w| w.to_string())
                .as_deref(),
            Some("request:REQ-1")
        );
        assert_eq!(snap.files.len(), 4);
        assert_eq!(snap.files[2].name, "entitlements.json");
    }

    #[test]
    fn dangling_and_duplicate_grants() {
        let dir = folder(&[
            ("system.toml", TOML),
            ("accounts.csv", "id\nu1\nu1\n"),
            ("entitlements.csv", "id\ne1\n"),
            (
                "grants.csv",
                "account,entitlement,expires_at\nu1,e1,\nu1,e2,\nu9,e1,\nu1,e1,\nu1,e1,someday\n",
            ),
        ]);
        assert_eq!(
            err(&dir, false),
            "5 problems in 5 rows; nothing was imported\n  \
             /accounts.csv:3: field `id`: `u1` already appears on line 2\n  \
             /grants.csv:3: field `entitlement`: entitlement `e2` is not in entitlements.csv\n  \
             /grants.csv:4: field `account`: account `u9` is not among the valid rows of accounts.csv\n  \
             /grants.csv:5: account `u1` holds entitlement `e1` already on line 2\n  \
             /grants.csv:6: field `expires_at`: `someday` is not a valid timestamp; expected a date like `2026-03-31` or an RFC 3339 time like `2026-03-31T17:00:00Z`, from 0001-01-01 to 9999-12-30, or `9999-12-31` for no end\n  \
             (fix these, or import the valid rows with --skip-invalid)"
        );
        let snap = read_system(dir.path(), ReadOptions { skip_invalid: true }).unwrap();
        assert_eq!(snap.grants.len(), 1);
        assert_eq!(snap.outcome.skipped_rows, 5);
    }

    #[test]
    fn grants_that_never_expire() {
        let dir = folder(&[
            ("system.toml", TOML),
            ("accounts.csv", "id\nu1\n"),
            ("entitlements.csv", "id\ne1\ne2\ne3\n"),
            (
                "grants.csv",
                "account,entitlement,expires_at\nu1,e1,9999-12-31\nu1,e2,9999-12-31T23:59:59Z\nu1,e3,2027-01-01\n",
            ),
        ]);
        let snap = read_system(dir.path(), ReadOptions::default()).unwrap();
        let expiries: Vec<Option<String>> = snap
            .grants
            .iter()
            .map(|g| g.expires_at.map(|t| t.to_string()))
            .collect();
        assert_eq!(
            expiries,
            vec![None, None, Some("2027-01-01T00:00:00Z".to_owned())]
        );
    }

    #[test]
    fn file_level_problems() {
        let dir = folder(&[
            ("system.toml", TOML),
            ("accounts.csv", "id\n"),
            ("entitlements.csv", "id\n"),
        ]);
        assert!(
            err(&dir, true).starts_with("/grants.csv: not found; a system folder needs grants.csv")
        );
        let dir = folder(&[("system.toml", "key = \"erp\"\nname = \"x\"\ncolour = 1\n")]);
        let e = err(&dir, false);
        assert!(
            e.starts_with("/system.toml:3: unknown field `colour`"),
            "{e}"
        );
        let dir = folder(&[("system.toml", "key = \"ERP\"\nname = \"x\"\n")]);
        assert_eq!(
            err(&dir, false),
            "/system.toml:1: field `key`: `ERP` is not a valid system key: use 1 to 64 lowercase letters, digits, `_`, `-` or `.`, starting with a letter or digit"
        );
        let dir = folder(&[(
            "system.toml",
            "key = \"erp\"\nname = \"x\"\n[[correlation]]\nrule = \"username\"\npattern = \"(\"\n",
        )]);
        assert!(err(&dir, false).starts_with(
            "/system.toml:5: field `correlation`: the pattern `(` is not a valid regular expression"
        ));
        // The line of the value itself, even when its name appears earlier in the file.
        let dir = folder(&[(
            "system.toml",
            "# the owner is the head of finance\nkey = \"erp\"\ndescription = \"criticality: high, owner: finance\"\nname = \"x\"\n\nowner = \" E001\"\n",
        )]);
        let e = err(&dir, false);
        assert!(e.starts_with("/system.toml:6: field `owner`"), "{e}");
        let dir = folder(&[(
            "system.toml",
            "key = \"erp\" # criticality below\nname = \"x\"\ncriticality = \"extreme\"\n",
        )]);
        let e = err(&dir, false);
        assert!(e.starts_with("/system.toml:3: field `criticality`"), "{e}");
        let dir = folder(&[
            ("system.toml", TOML),
            ("accounts.csv", "id\n"),
            ("accounts.json", "[]"),
        ]);
        assert!(err(&dir, false).ends_with("accounts.csv, accounts.json all exist; keep one"));
    }

    #[test]
    fn nul_characters_in_system_toml_are_refused_with_their_line() {
        let dir = folder(&[("system.toml", "key = \"erp\"\nname = \"E\\u0000RP\"\n")]);
        assert_eq!(
            err(&dir, false),
            "/system.toml:2: field `name`: contains a NUL character (`\\u0000`); remove it"
        );
        let dir = folder(&[(
            "system.toml",
            "key = \"erp\"\nname = \"ERP\"\n\n[attributes]\nvendor = \"SAP\"\nsite = [\"a\", \"b\\U00000000\"]\n",
        )]);
        assert_eq!(
            err(&dir, false),
            "/system.toml:6: field `attributes.site`: contains a NUL character (`\\u0000`); remove it"
        );
    }
}
