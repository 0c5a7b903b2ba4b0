//! The HR feed (people) and the non-human identity inventory.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::Path;

use gatehouse_model::{
    Attributes, EmploymentStatus, Identity, IdentityKey, IdentityKind, ImportFile, NonHuman,
    Person, SnapshotPart,
};

use crate::collect::{Outcome, ReadOptions, Rows, conclude};
use crate::fields::RowCheck;
use crate::problem::{ConnectError, Problem};
use crate::table::{Row, Schema};

/// A snapshot of identities from one feed.
#[derive(Debug)]
pub struct IdentitySnapshot {
    /// The identities, in file order.
    pub identities: Vec<Identity>,
    /// The files read.
    pub files: Vec<ImportFile>,
    /// Rows left out with `--skip-invalid`.
    pub outcome: Outcome,
}

/// Columns of the HR feed.
pub const HR_SCHEMA: Schema = Schema {
    required: &["employee_id", "status"],
    optional: &[
        "name",
        "first_name",
        "last_name",
        "email",
        "manager_id",
        "department",
        "title",
        "location",
        "start_date",
        "end_date",
        "contract_end_date",
        "employment_type",
        "position_start_date",
        "previous_department",
        "previous_title",
        "original_start_date",
        "rehire_date",
    ],
    aliases: &[
        ("id", "employee_id"),
        ("employee_number", "employee_id"),
        ("manager", "manager_id"),
        ("manager_employee_id", "manager_id"),
        ("mail", "email"),
        ("job_title", "title"),
        ("employment_status", "status"),
        ("full_name", "name"),
        ("display_name", "name"),
        ("given_name", "first_name"),
        ("family_name", "last_name"),
        ("surname", "last_name"),
        ("hire_date", "start_date"),
        ("termination_date", "end_date"),
        ("work_email", "email"),
        ("worker_type", "employment_type"),
        ("employee_type", "employment_type"),
        ("worker_category", "employment_type"),
        ("job_start_date", "position_start_date"),
        ("position_effective_date", "position_start_date"),
        ("job_effective_date", "position_start_date"),
        ("job_change_date", "position_start_date"),
        ("prior_department", "previous_department"),
        ("former_department", "previous_department"),
        ("previous_job_title", "previous_title"),
        ("prior_job_title", "previous_title"),
        ("prior_title", "previous_title"),
        ("former_title", "previous_title"),
        ("original_hire_date", "original_start_date"),
        ("first_hire_date", "original_start_date"),
        ("last_hire_date", "rehire_date"),
    ],
};

/// Columns of the non-human identity inventory.
pub const NHI_SCHEMA: Schema = Schema {
    required: &["id", "kind"],
    optional: &[
        "name",
        "email",
        "owner",
        "purpose",
        "scope",
        "credential_created",
        "last_rotated",
        "expires_at",
        "last_used",
    ],
    aliases: &[
        ("owner_id", "owner"),
        ("owner_employee_id", "owner"),
        ("description", "purpose"),
        ("systems", "scope"),
        ("created", "credential_created"),
        ("rotated", "last_rotated"),
        ("expires", "expires_at"),
    ],
};

fn parse_person(row: &Row<'_>) -> Result<Identity, Vec<Problem>> {
    let mut c = RowCheck::new(row);
    let key = c.parse::<IdentityKey>("employee_id");
    let status_text = c.opt_text("status");
    let status = match status_text.as_deref() {
        None => {
            c.fail("status", "is required but empty");
            None
        }
        Some(text) => match EmploymentStatus::from_hr(text) {
            Ok(s) => Some(s),
            Err(e) => {
                c.fail("status", e.to_string());
                None
            }
        },
    };
    let name = match (
        c.opt_text("name"),
        c.opt_text("first_name"),
        c.opt_text("last_name"),
    ) {
        (Some(n), _, _) => n,
        (None, Some(f), Some(l)) => format!("{f} {l}"),
        (None, Some(n), None) | (None, None, Some(n)) => n,
        (None, None, None) => {
            c.fail("name", "is required (or `first_name` and `last_name`)");
            String::new()
        }
    };
    let email = c.opt_text("email").map(|e| e.to_owned());
    if let Some(e) = &email
        && !e.contains('@')
    {
        c.fail("email", format!("`{e}` is not an e-mail address"));
    }
    let manager = c.opt_identity("manager_id");
    let start_date = c.opt_date("start_date");
    // A termination date, else the end of a fixed-term contract, is the last day.
    let contract_end = c.opt_end_date("contract_end_date");
    let end_date = c.opt_end_date("end_date").or(contract_end);
    if let (Some(s), Some(e)) = (start_date, end_date)
        && e < s
    {
        c.fail("end_date", format!("{e} is before the start date {s}"));
    }
    let position_start = c.opt_date("position_start_date");
    let original_start_date = c.opt_date("original_start_date");
    let rehire_date = c.opt_date("rehire_date");
    if let (Some(first), Some(s)) = (original_start_date, start_date)
        && s < first
    {
        c.fail(
            "original_start_date",
            format!("{first} is after the start date {s}"),
        );
    }
    if let (Some(r), Some(s)) = (rehire_date, start_date)
        && r < s
    {
        c.fail("rehire_date", format!("{r} is before the start date {s}"));
    }
    if let (Some(k), Some(m)) = (&key, &manager)
        && k == m
    {
        c.fail("manager_id", format!("`{k}` cannot be their own manager"));
    }
    let (Some(key), Some(status)) = (key, status) else {
        return Err(c.problems);
    };
    // The feed's own words are kept when they are not the canonical word.
    let hr_status = status_text
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.eq_ignore_ascii_case(status.as_str()));
    let person = Person {
        status,
        manager,
        department: c.opt_text("department"),
        title: c.opt_text("title"),
        location: c.opt_text("location"),
        start_date,
        end_date,
        hr_status,
        employment_type: c.opt_text("employment_type"),
        position_start,
        previous_department: c.opt_text("previous_department"),
        previous_title: c.opt_text("previous_title"),
        original_start_date,
        rehire_date,
    };
    let attributes = row.attributes();
    c.finish(Identity {
        key,
        kind: IdentityKind::Person,
        name,
        email,
        person: Some(person),
        non_human: None,
        attributes,
    })
}

fn parse_nhi(row: &Row<'_>) -> Result<Identity, Vec<Problem>> {
    let mut c = RowCheck::new(row);
    let key = c.parse::<IdentityKey>("id");
    let kind = c.parse::<IdentityKind>("kind");
    if kind == Some(IdentityKind::Person) {
        c.fail(
            "kind",
            "people come from the HR feed; use service_account, api_key, token or certificate",
        );
    }
    let non_human = NonHuman {
        owner: c.opt_identity("owner"),
        purpose: c.opt_text("purpose"),
        scope: c.system_list("scope"),
        credential_created: c.opt_timestamp("credential_created"),
        last_rotated: c.opt_timestamp("last_rotated"),
        expires_at: c.opt_end_timestamp("expires_at"),
        last_used: c.opt_timestamp("last_used"),
    };
    let (Some(key), Some(kind)) = (key, kind) else {
        return Err(c.problems);
    };
    let name = c.opt_text("name").unwrap_or_else(|| key.to_string());
    let email = c.opt_text("email");
    let attributes: Attributes = row.attributes();
    c.finish(Identity {
        key,
        kind,
        name,
        email,
        person: None,
        non_human: Some(non_human),
        attributes,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Flags a key seen on an earlier line.
fn check_unique_keys(rows: &mut Rows<Identity>, what: &str) {
    let mut seen: HashMap<IdentityKey, u64> = HashMap::default();
    let path = rows.path.clone();
    rows.retain(|line, id| match seen.get(&id.key) {
        Some(first) => Err(Problem::field(
            &path,
            line,
            what,
            format!("`{}` already appears on line {first}", id.key),
        )),
        None => {
            seen.insert(id.key.clone(), line);
            Ok(())
        }
    });
}

fn check_unique_emails(rows: &mut Rows<Identity>) {
    let mut seen: HashMap<String, u64> = HashMap::default();
    let path = rows.path.clone();
    rows.retain(|line, id| {
        let Some(email) = &id.email else {
            return Ok(());
        };
        let lower = email.to_lowercase();
        match seen.get(&lower) {
            Some(first) => Err(Problem::field(
                &path,
                line,
                "email",
                format!(
                    "`{email}` is also the e-mail of line {first}; e-mail addresses must be unique"
                ),
            )),
            None => {
                seen.insert(lower, line);
                Ok(())
            }
        }
    });
}

/// Reads the HR feed: one row per person (see docs/formats.md).
pub fn read_hr(path: &Path, options: ReadOptions) -> Result<IdentitySnapshot, ConnectError> {
    let mut in_file: HashSet<String> = HashSet::default();
    let mut rows = Rows::read(path, &file_name(path), &HR_SCHEMA, |row| {
        if let Some(k) = row.get("employee_id") {
            in_file.insert(k.to_owned());
        }
        parse_person(row)
    })?;
    check_unique_keys(&mut rows, "employee_id");
    check_unique_emails(&mut rows);
    // Managers must be people of this feed. Leaving out a row can leave its reports dangling,
    // so repeat until nothing changes.
    loop {
        let present: HashSet<IdentityKey> = rows.valid.iter().map(|(_, i)| i.key.clone()).collect();
        let before = rows.valid.len();
        let path = rows.path.clone();
        rows.retain(|line, id| {
            let Some(m) = id.person.as_ref().and_then(|p| p.manager.as_ref()) else {
                return Ok(());
            };
            if present.contains(m) {
                return Ok(());
            }
            let why = if in_file.contains(m.as_str()) {
                format!("manager `{m}` is on a row that is itself invalid")
            } else {
                format!("manager `{m}` is not an employee_id in this file")
            };
            Err(Problem::field(&path, line, "manager_id", why))
        });
        if rows.valid.len() == before {
            break;
        }
    }
    let outcome = conclude(
        options,
        vec![(SnapshotPart::Identities, rows.problems, rows.invalid)],
    )?;
    Ok(IdentitySnapshot {
        identities: rows.valid.into_iter().map(|(_, i)| i).collect(),
        files: vec![rows.file],
        outcome,
    })
}

/// Reads the non-human identity inventory: service accounts, API keys, tokens, certificates.
pub fn read_nhi(path: &Path, options: ReadOptions) -> Result<IdentitySnapshot, ConnectError> {
    let mut rows = Rows::read(path, &file_name(path), &NHI_SCHEMA, parse_nhi)?;
    check_unique_keys(&mut rows, "id");
    let outcome = conclude(
        options,
        vec![(SnapshotPart::Identities, rows.problems, rows.invalid)],
    )?;
    Ok(IdentitySnapshot {
        identities: rows.valid.into_iter().map(|(_, i)| i).collect(),
        files: vec![rows.file],
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hr(
        content: &str,
        skip: bool,
    ) -> (Result<IdentitySnapshot, ConnectError>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.csv");
        std::fs::write(&path, content).unwrap();
        (read_hr(&path, ReadOptions { skip_invalid: skip }), dir)
    }

    fn message(r: Result<IdentitySnapshot, ConnectError>, dir: &tempfile::TempDir) -> String {
        match r {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string().replace(&*dir.path().to_string_lossy(), ""),
        }
    }

    const GOOD: &str = "employee_id,first_name,last_name,email,manager_id,department,title,status,start_date,end_date,cost_center\n\
        E1,Ada,Lovelace,ada@example.com,,Executive,CEO,active,2020-01-01,,100\n\
        E2,Bob,Stone,bob@example.com,E1,Finance,Controller,terminated,2021-02-01,2026-01-31,200\n";

    #[test]
    fn reads_people() {
        let (r, _d) = hr(GOOD, false);
        let snap = r.unwrap();
        assert_eq!(snap.identities.len(), 2);
        let bob = &snap.identities[1];
        assert_eq!(bob.name, "Bob Stone");
        assert_eq!(bob.status(), Some(EmploymentStatus::Terminated));
        assert_eq!(
            bob.attributes.get("cost_center").map(String::as_str),
            Some("200")
        );
        assert_eq!(snap.files[0].rows, 2);
    }

    #[test]
    fn bad_rows_are_reported_with_line_and_field() {
        let bad = "employee_id,name,email,manager_id,status,start_date,end_date\n\
            E1,Ada,ada@example.com,,active,2020-01-01,\n\
            E2,Bob,bob@example.com,E9,active,,\n\
            E1,Dup,dup@example.com,,active,,\n\
            E3,Cy,ADA@example.com,,on probation,2020-13-01,\n\
            E4,Di,di@example.com,E4,active,2021-01-01,2020-01-01\n\
            E5,Ed,ed@example.com,E3,active,,\n";
        let (r, d) = hr(bad, false);
        let msg = message(r, &d);
        assert_eq!(
            msg,
            "7 problems in 5 rows; nothing was imported\n  \
            /people.csv:3: field `manager_id`: manager `E9` is not an employee_id in this file\n  \
            /people.csv:4: field `employee_id`: `E1` already appears on line 2\n  \
            /people.csv:5: field `status`: `on probation` is not a valid employment status; expected one of: active, leave, suspended, terminated (or an HR phrase such as `Leave of Absence`, `Parental Leave`, `Withdrawn`)\n  \
            /people.csv:5: field `start_date`: `2020-13-01` is not a valid date; expected a date like `2026-03-31`, from 0001-01-01 to 9999-12-31\n  \
            /people.csv:6: field `end_date`: 2020-01-01 is before the start date 2021-01-01\n  \
            /people.csv:6: field `manager_id`: `E4` cannot be their own manager\n  \
            /people.csv:7: field `manager_id`: manager `E3` is on a row that is itself invalid\n  \
            (fix these, or import the valid rows with --skip-invalid)"
        );
        let (r, _d) = hr(bad, true);
        let snap = r.unwrap();
        assert_eq!(snap.identities.len(), 1);
        assert_eq!(snap.outcome.skipped_rows, 5);
    }

    #[test]
    fn reads_statuses_and_positions_as_hr_exports_write_them() {
        let (r, _d) = hr(
            "Employee Number,Full Name,Employment Status,Worker Type,Hire Date,Termination Date,\
             Contract End Date,Job Effective Date,Prior Department,Prior Job Title,\
             Original Hire Date,Rehire Date\n\
             E1,Ada Park,Active,Full-Time Employee,2019-03-01,,,2026-01-15,Finance,Analyst,,\n\
             E2,Bo Lin,Parental Leave,Employee,2020-05-01,,,,,,,\n\
             E3,Cy Roe,Active,Contractor,2025-01-06,,2026-06-30,,,,,\n\
             E4,Di Tam,Active,Employee,2016-04-01,2023-01-31,,,,,,2025-10-01\n\
             E5,Ed Poe,active,Employee,2025-09-15,,,,,,2015-06-01,\n",
            false,
        );
        let snap = r.unwrap();
        let p = |i: usize| snap.identities[i].person.clone().unwrap();
        let date = |d: &str| gatehouse_model::parse_date(d).unwrap();
        assert_eq!(p(0).status, EmploymentStatus::Active);
        assert_eq!(p(0).hr_status, None, "the canonical word is not kept twice");
        assert_eq!(p(0).employment_type.as_deref(), Some("Full-Time Employee"));
        assert_eq!(p(0).position_start, Some(date("2026-01-15")));
        assert_eq!(p(0).previous_department.as_deref(), Some("Finance"));
        assert_eq!(p(0).previous_title.as_deref(), Some("Analyst"));
        assert_eq!(p(1).status, EmploymentStatus::Leave);
        assert_eq!(p(1).hr_status.as_deref(), Some("Parental Leave"));
        assert_eq!(p(2).end_date, Some(date("2026-06-30")));
        assert_eq!(p(3).rehired_on(), Some(date("2025-10-01")));
        assert_eq!(p(4).hr_status, None);
        assert_eq!(p(4).rehired_on(), Some(date("2025-09-15")));
        assert_eq!(
            snap.identities[0].attribute("employment_type").as_deref(),
            Some("Full-Time Employee")
        );
    }

    #[test]
    fn rehire_dates_must_follow_the_start() {
        let (r, d) = hr(
            "employee_id,name,status,start_date,original_start_date,rehire_date\n\
             E1,A,active,2020-01-01,2021-01-01,\n\
             E2,B,active,2020-01-01,,2019-12-31\n",
            false,
        );
        let msg = message(r, &d);
        assert!(
            msg.contains("/people.csv:2: field `original_start_date`: 2021-01-01 is after the start date 2020-01-01"),
            "{msg}"
        );
        assert!(
            msg.contains(
                "/people.csv:3: field `rehire_date`: 2019-12-31 is before the start date 2020-01-01"
            ),
            "{msg}"
        );
    }

    #[test]
    fn the_no_end_date_means_no_end() {
        let (r, d) = hr(
            "employee_id,name,status,start_date,end_date,contract_end_date\n\
             E1,A,active,2020-01-01,9999-12-31,\n\
             E2,B,active,2020-01-01,9999-12-31T23:59:59Z,2027-06-30\n\
             E3,C,active,2020-01-01,,9999-12-31\n\
             E4,D,active,2020-01-01,9999-12-32,\n",
            false,
        );
        assert_eq!(
            message(r, &d),
            "1 problem in 1 row; nothing was imported\n  \
             /people.csv:5: field `end_date`: `9999-12-32` is not a valid date; expected a date \
             like `2026-03-31`, from 0001-01-01 to 9999-12-30, or `9999-12-31` for no end\n  \
             (fix these, or import the valid rows with --skip-invalid)"
        );
        let (r, _d) = hr(
            "employee_id,name,status,start_date,end_date,contract_end_date\n\
             E1,A,active,2020-01-01,9999-12-31,\n\
             E2,B,active,2020-01-01,9999-12-31T23:59:59Z,2027-06-30\n\
             E3,C,active,2020-01-01,,9999-12-31\n",
            false,
        );
        let snap = r.unwrap();
        let end = |i: usize| snap.identities[i].person.as_ref().unwrap().end_date;
        assert_eq!(end(0), None);
        assert_eq!(end(1), gatehouse_model::parse_date("2027-06-30").ok());
        assert_eq!(end(2), None);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nhi.csv");
        std::fs::write(
            &path,
            "id,kind,expires_at,last_used\nsvc,service_account,9999-12-31 23:59:59,\n\
             key,api_key,,9999-12-31\n",
        )
        .unwrap();
        let err = read_nhi(&path, ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "nhi.csv:3: field `last_used`: `9999-12-31` is not a valid timestamp; expected a \
                 date like `2026-03-31` or an RFC 3339 time like `2026-03-31T17:00:00Z`, from \
                 0001-01-01 to 9999-12-30\n"
            ),
            "{err}"
        );
        let snap = read_nhi(&path, ReadOptions { skip_invalid: true }).unwrap();
        assert_eq!(
            snap.identities[0].non_human.as_ref().unwrap().expires_at,
            None
        );
    }

    #[test]
    fn duplicate_emails_are_refused() {
        let (r, d) = hr(
            "employee_id,name,email,status\nE1,A,a@x.com,active\nE2,B,A@X.com,active\n",
            false,
        );
        assert!(
            message(r, &d)
                .contains("/people.csv:3: field `email`: `A@X.com` is also the e-mail of line 2")
        );
    }

    #[test]
    fn non_human_identities() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nhi.csv");
        std::fs::write(
            &path,
            "id,kind,name,owner,purpose,scope,last_rotated\n\
             svc-backup,service_account,Backup,E1,Nightly backups,aws;proddb,2025-01-01\n\
             key-ci,api_key,,,,github,\n\
             p1,person,,,,,\n",
        )
        .unwrap();
        let err = read_nhi(&path, ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nhi.csv:4: field `kind`: people come from the HR feed"),
            "{err}"
        );
        let snap = read_nhi(&path, ReadOptions { skip_invalid: true }).unwrap();
        assert_eq!(snap.identities.len(), 2);
        let nh = snap.identities[0].non_human.as_ref().unwrap();
        assert_eq!(nh.scope.len(), 2);
        assert_eq!(snap.identities[1].name, "key-ci");
    }
}
