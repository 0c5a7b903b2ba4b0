//! Writing a snapshot as the files `gatehouse import` reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use gatehouse_model::{
    Account, Attributes, Condition, CorrelationRule, Entitlement, Grant, Identity, Role,
    SystemConfig, Timestamp, WarrantRecord,
};
use serde::Serialize;

use crate::build::Sink;
use crate::{DemoError, Snapshot};

const PEOPLE_COLUMNS: &[&str] = &[
    "employee_id",
    "first_name",
    "last_name",
    "email",
    "manager_id",
    "department",
    "title",
    "location",
    "status",
    "employment_type",
    "start_date",
    "end_date",
    "rehire_date",
    "position_start_date",
    "previous_department",
    "previous_title",
];
/// Extra HR columns of the generated people, in column order.
const PERSON_ATTRIBUTES: &[&str] = &["cost_center", "job_level"];
const NHI_COLUMNS: &[&str] = &[
    "id",
    "kind",
    "name",
    "owner",
    "purpose",
    "scope",
    "credential_created",
    "last_rotated",
    "expires_at",
    "last_used",
];
const ACCOUNT_COLUMNS: &[&str] = &[
    "id",
    "username",
    "kind",
    "enabled",
    "mfa",
    "last_login",
    "employee_id",
    "email",
    "identity",
];
const ENTITLEMENT_COLUMNS: &[&str] = &["id", "name", "description", "privileged", "risk", "owner"];
const GRANT_COLUMNS: &[&str] = &[
    "account",
    "entitlement",
    "source",
    "warrant",
    "expires_at",
    "granted_at",
];
const TICKET_COLUMNS: &[&str] = &[
    "id",
    "kind",
    "identity",
    "entitlement",
    "owner",
    "approved_by",
    "approved_at",
    "expires_at",
    "reason",
];

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One CSV file being written.
pub(crate) struct Table {
    w: csv::Writer<BufWriter<File>>,
    path: PathBuf,
    attributes: Vec<String>,
}

impl Table {
    fn create(
        path: PathBuf,
        columns: &[&str],
        attributes: Vec<String>,
    ) -> Result<Table, DemoError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let file = File::create(&path).map_err(io_error(&path))?;
        let w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(BufWriter::with_capacity(1 << 16, file));
        let mut t = Table {
            w,
            path,
            attributes,
        };
        let mut header: Vec<&str> = columns.to_vec();
        let extra = t.attributes.clone();
        header.extend(extra.iter().map(String::as_str));
        t.row(&header)?;
        Ok(t)
    }

    fn row(&mut self, fields: &[&str]) -> Result<(), DemoError> {
        self.w
            .write_record(fields)
            .map_err(|source| DemoError::Csv {
                path: self.path.clone(),
                source,
            })
    }

    /// Writes a row of known columns followed by the table's attribute columns.
    fn row_with<'a>(
        &mut self,
        fields: &mut Vec<&'a str>,
        attributes: &'a Attributes,
    ) -> Result<(), DemoError> {
        let attrs = std::mem::take(&mut self.attributes);
        for a in &attrs {
            fields.push(attributes.get(a).map(String::as_str).unwrap_or(""));
        }
        let r = self.row(fields);
        self.attributes = attrs;
        r
    }

    fn finish(self) -> Result<(), DemoError> {
        let path = self.path;
        let mut inner = self.w.into_inner().map_err(|e| DemoError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        inner.flush().map_err(io_error(&path))
    }
}

fn attribute_columns<'a>(maps: impl Iterator<Item = &'a Attributes>) -> Vec<String> {
    let mut set = BTreeSet::new();
    for m in maps {
        for k in m.keys() {
            if !set.contains(k) {
                set.insert(k.clone());
            }
        }
    }
    set.into_iter().collect()
}

fn ts(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_default()
}

fn flag(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn person_row(t: &mut Table, p: &Identity) -> Result<(), DemoError> {
    let (first, last) = p.name.split_once(' ').unwrap_or((p.name.as_str(), ""));
    let person = p.person.as_ref();
    let manager = person.and_then(|x| x.manager.as_ref()).map(|m| m.as_str());
    let start = person
        .and_then(|x| x.start_date)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let end = person
        .and_then(|x| x.end_date)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let date = |d: Option<gatehouse_model::Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let rehire = date(person.and_then(|x| x.rehire_date));
    let position = date(person.and_then(|x| x.position_start));
    let mut f = vec![
        p.key.as_str(),
        first,
        last,
        p.email.as_deref().unwrap_or(""),
        manager.unwrap_or(""),
        person.and_then(|x| x.department.as_deref()).unwrap_or(""),
        person.and_then(|x| x.title.as_deref()).unwrap_or(""),
        person.and_then(|x| x.location.as_deref()).unwrap_or(""),
        person.map(|x| x.status_text()).unwrap_or(""),
        person
            .and_then(|x| x.employment_type.as_deref())
            .unwrap_or(""),
        &start,
        &end,
        &rehire,
        &position,
        person
            .and_then(|x| x.previous_department.as_deref())
            .unwrap_or(""),
        person
            .and_then(|x| x.previous_title.as_deref())
            .unwrap_or(""),
    ];
    t.row_with(&mut f, &p.attributes)
}

fn nhi_row(t: &mut Table, n: &Identity) -> Result<(), DemoError> {
    let nh = n.non_human.clone().unwrap_or_default();
    let scope: Vec<&str> = nh.scope.iter().map(|s| s.as_str()).collect();
    let scope = scope.join(";");
    let (created, rotated, expires, used) = (
        ts(nh.credential_created),
        ts(nh.last_rotated),
        ts(nh.expires_at),
        ts(nh.last_used),
    );
    let mut f = vec![
        n.key.as_str(),
        n.kind.as_str(),
        n.name.as_str(),
        nh.owner.as_ref().map(|o| o.as_str()).unwrap_or(""),
        nh.purpose.as_deref().unwrap_or(""),
        &scope,
        &created,
        &rotated,
        &expires,
        &used,
    ];
    t.row_with(&mut f, &n.attributes)
}

fn account_row(t: &mut Table, a: &Account) -> Result<(), DemoError> {
    let last = ts(a.last_login);
    let mut f = vec![
        a.native_id.as_str(),
        a.username.as_str(),
        a.kind.as_str(),
        flag(a.enabled),
        a.mfa.map(flag).unwrap_or(""),
        &last,
        a.employee_id.as_deref().unwrap_or(""),
        a.email.as_deref().unwrap_or(""),
        a.identity.as_ref().map(|k| k.as_str()).unwrap_or(""),
    ];
    t.row_with(&mut f, &a.attributes)
}

fn entitlement_row(t: &mut Table, e: &Entitlement) -> Result<(), DemoError> {
    let mut f = vec![
        e.native_id.as_str(),
        e.name.as_str(),
        e.description.as_deref().unwrap_or(""),
        flag(e.privileged),
        e.risk.map(|r| r.as_str()).unwrap_or(""),
        e.owner.as_ref().map(|o| o.as_str()).unwrap_or(""),
    ];
    t.row_with(&mut f, &e.attributes)
}

fn grant_row(t: &mut Table, g: &Grant) -> Result<(), DemoError> {
    let warrant = g
        .warrant
        .as_ref()
        .map(|w| w.to_string())
        .unwrap_or_default();
    let expires = ts(g.expires_at);
    let granted = ts(g.granted_at);
    let mut f = vec![
        g.account.as_str(),
        g.entitlement.as_str(),
        g.source.as_str(),
        &warrant,
        &expires,
        &granted,
    ];
    t.row_with(&mut f, &g.attributes)
}

fn ticket_row(t: &mut Table, w: &WarrantRecord) -> Result<(), DemoError> {
    let entitlement = w
        .entitlement
        .as_ref()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let (approved, expires) = (w.approved_at.to_string(), ts(w.expires_at));
    let mut f = vec![
        w.id.as_str(),
        w.kind.as_str(),
        w.identity.as_ref().map(|k| k.as_str()).unwrap_or(""),
        &entitlement,
        w.owner.as_ref().map(|k| k.as_str()).unwrap_or(""),
        w.approved_by.as_ref().map(|k| k.as_str()).unwrap_or(""),
        &approved,
        &expires,
        w.reason.as_deref().unwrap_or(""),
    ];
    t.row_with(&mut f, &w.attributes)
}

fn write_text(path: PathBuf, text: &str) -> Result<(), DemoError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    std::fs::write(&path, text).map_err(io_error(&path))
}

#[derive(Serialize)]
struct SystemToml<'a> {
    key: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    criticality: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    frameworks: &'a [String],
    financial_reporting: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    review_cadence_days: Option<u32>,
    #[serde(skip_serializing_if = "<[CorrelationRule]>::is_empty")]
    correlation: &'a [CorrelationRule],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: &'a BTreeMap<String, String>,
}

fn system_dir(dir: &Path, config: &SystemConfig) -> PathBuf {
    dir.join("systems").join(config.key.as_str())
}

/// Writes `system.toml` and `entitlements.csv` of one system.
pub(crate) fn write_system_meta(
    dir: &Path,
    config: &SystemConfig,
    entitlements: &[Entitlement],
) -> Result<(), DemoError> {
    let sdir = system_dir(dir, config);
    let path = sdir.join("system.toml");
    let file = SystemToml {
        key: config.key.as_str(),
        name: &config.name,
        description: config.description.as_deref(),
        owner: config.owner.as_ref().map(|o| o.as_str()),
        criticality: config.criticality.map(|c| c.as_str()),
        frameworks: &config.frameworks,
        financial_reporting: config.financial_reporting,
        review_cadence_days: config.review_cadence_days,
        correlation: &config.correlation,
        attributes: &config.attributes,
    };
    let text = toml::to_string(&file).map_err(|e| DemoError::Toml {
        path: path.clone(),
        message: e.to_string(),
    })?;
    write_text(path, &text)?;
    let mut t = Table::create(
        sdir.join("entitlements.csv"),
        ENTITLEMENT_COLUMNS,
        attribute_columns(entitlements.iter().map(|e| &e.attributes)),
    )?;
    for e in entitlements {
        entitlement_row(&mut t, e)?;
    }
    t.finish()
}

#[derive(Serialize)]
struct RolesToml<'a> {
    role: Vec<RoleToml<'a>>,
}

#[derive(Serialize)]
struct RoleToml<'a> {
    key: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a str>,
    entitlements: Vec<String>,
    #[serde(skip_serializing_if = "<[Condition]>::is_empty")]
    birthright: &'a [Condition],
}

/// Writes `roles/roles.toml` and `roles/members.csv` (explicit members).
pub(crate) fn write_roles(dir: &Path, roles: &[Role]) -> Result<(), DemoError> {
    let path = dir.join("roles").join("roles.toml");
    let file = RolesToml {
        role: roles
            .iter()
            .map(|r| RoleToml {
                key: r.key.as_str(),
                name: &r.name,
                description: r.description.as_deref(),
                owner: r.owner.as_ref().map(|o| o.as_str()),
                entitlements: r.entitlements.iter().map(|e| e.to_string()).collect(),
                birthright: &r.birthright,
            })
            .collect(),
    };
    let text = toml::to_string(&file).map_err(|e| DemoError::Toml {
        path: path.clone(),
        message: e.to_string(),
    })?;
    write_text(path, &text)?;
    let mut t = Table::create(
        dir.join("roles").join("members.csv"),
        &["role", "identity"],
        Vec::new(),
    )?;
    for r in roles {
        for m in &r.members {
            t.row(&[r.key.as_str(), m.as_str()])?;
        }
    }
    t.finish()
}

/// Writes `warrants/tickets.csv`.
pub(crate) fn write_warrants(dir: &Path, warrants: &[WarrantRecord]) -> Result<(), DemoError> {
    let mut t = Table::create(
        dir.join("warrants").join("tickets.csv"),
        TICKET_COLUMNS,
        attribute_columns(warrants.iter().map(|w| &w.attributes)),
    )?;
    for w in warrants {
        ticket_row(&mut t, w)?;
    }
    t.finish()
}

/// Writes a snapshot as the files `gatehouse import` reads, overwriting existing ones:
///
/// - `hr/people.csv` — the HR feed, with employment type, contract end dates, rehire dates
///   and the position columns of movers (extra columns `cost_center`, `job_level` become
///   attributes);
/// - `nhi/identities.csv` — the non-human identity inventory;
/// - `systems/<key>/system.toml`, `accounts.csv`, `entitlements.csv`, `grants.csv`;
/// - `roles/roles.toml` and `roles/members.csv`;
/// - `warrants/tickets.csv` — approved requests, exceptions, break-glass records and the
///   emergency-access policy.
pub fn write_snapshot(snapshot: &Snapshot, dir: &Path) -> Result<(), DemoError> {
    let mut t = Table::create(
        dir.join("hr").join("people.csv"),
        PEOPLE_COLUMNS,
        attribute_columns(snapshot.people.iter().map(|p| &p.attributes)),
    )?;
    for p in &snapshot.people {
        person_row(&mut t, p)?;
    }
    t.finish()?;
    let mut t = Table::create(
        dir.join("nhi").join("identities.csv"),
        NHI_COLUMNS,
        attribute_columns(snapshot.non_human.iter().map(|p| &p.attributes)),
    )?;
    for n in &snapshot.non_human {
        nhi_row(&mut t, n)?;
    }
    t.finish()?;
    for s in &snapshot.systems {
        write_system_meta(dir, &s.config, &s.entitlements)?;
        let sdir = system_dir(dir, &s.config);
        let mut t = Table::create(
            sdir.join("accounts.csv"),
            ACCOUNT_COLUMNS,
            attribute_columns(s.accounts.iter().map(|a| &a.attributes)),
        )?;
        for a in &s.accounts {
            account_row(&mut t, a)?;
        }
        t.finish()?;
        let mut t = Table::create(
            sdir.join("grants.csv"),
            GRANT_COLUMNS,
            attribute_columns(s.grants.iter().map(|g| &g.attributes)),
        )?;
        for g in &s.grants {
            grant_row(&mut t, g)?;
        }
        t.finish()?;
    }
    write_roles(dir, &snapshot.roles)?;
    write_warrants(dir, &snapshot.warrants)
}

/// Streams generated records straight into the files.
pub(crate) struct FileSink {
    people: Table,
    nhi: Table,
    accounts: Vec<Table>,
    grants: Vec<Table>,
}

impl FileSink {
    pub(crate) fn create(dir: &Path, configs: &[SystemConfig]) -> Result<FileSink, DemoError> {
        let people = Table::create(
            dir.join("hr").join("people.csv"),
            PEOPLE_COLUMNS,
            PERSON_ATTRIBUTES.iter().map(|a| (*a).to_owned()).collect(),
        )?;
        let nhi = Table::create(
            dir.join("nhi").join("identities.csv"),
            NHI_COLUMNS,
            Vec::new(),
        )?;
        let mut accounts = Vec::new();
        let mut grants = Vec::new();
        for c in configs {
            let sdir = system_dir(dir, c);
            accounts.push(Table::create(
                sdir.join("accounts.csv"),
                ACCOUNT_COLUMNS,
                Vec::new(),
            )?);
            grants.push(Table::create(
                sdir.join("grants.csv"),
                GRANT_COLUMNS,
                Vec::new(),
            )?);
        }
        Ok(FileSink {
            people,
            nhi,
            accounts,
            grants,
        })
    }

    pub(crate) fn finish(self) -> Result<(), DemoError> {
        self.people.finish()?;
        self.nhi.finish()?;
        for t in self.accounts.into_iter().chain(self.grants) {
            t.finish()?;
        }
        Ok(())
    }
}

impl Sink for FileSink {
    fn person(&mut self, identity: Identity) -> Result<(), DemoError> {
        person_row(&mut self.people, &identity)
    }
    fn nhi(&mut self, identity: Identity) -> Result<(), DemoError> {
        nhi_row(&mut self.nhi, &identity)
    }
    fn account(&mut self, sys: u8, account: Account) -> Result<(), DemoError> {
        account_row(&mut self.accounts[sys as usize], &account)
    }
    fn grant(&mut self, sys: u8, grant: Grant) -> Result<(), DemoError> {
        grant_row(&mut self.grants[sys as usize], &grant)
    }
}
