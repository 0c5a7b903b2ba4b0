//! Business roles (`roles.toml`, optional `members.csv`) and warrant records (an export of
//! approved requests, review decisions and break-glass uses).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gatehouse_model::{
    Condition, EntitlementRef, IdentityKey, ImportFile, Role, RoleKey, SnapshotPart, WarrantKind,
    WarrantRecord,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::collect::{Outcome, ReadOptions, Rows, conclude};
use crate::fields::RowCheck;
use crate::problem::{ConnectError, Problem};
use crate::table::{Row, Schema};

/// A snapshot of the role catalogue.
#[derive(Debug)]
pub struct RoleSnapshot {
    /// Roles sorted by key, members and entitlements sorted.
    pub roles: Vec<Role>,
    /// The files read.
    pub files: Vec<ImportFile>,
    /// Rows left out with `--skip-invalid`.
    pub outcome: Outcome,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    #[serde(default)]
    role: Vec<RoleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    key: String,
    name: Option<String>,
    description: Option<String>,
    owner: Option<String>,
    #[serde(default)]
    entitlements: Vec<String>,
    #[serde(default)]
    birthright: Vec<Condition>,
    #[serde(default)]
    members: Vec<String>,
}

/// Columns of `members.csv`.
pub const MEMBER_SCHEMA: Schema = Schema {
    required: &["role", "identity"],
    optional: &[],
    aliases: &[("employee_id", "identity"), ("role_key", "role")],
};

fn line_of(text: &str, offset: usize) -> u64 {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
        + 1
}

/// Reads `roles.toml`, or a folder holding `roles.toml` and optionally `members.csv`.
pub fn read_roles(path: &Path, options: ReadOptions) -> Result<RoleSnapshot, ConnectError> {
    let (toml_path, members_path) = if path.is_dir() {
        let m = path.join("members.csv");
        (
            path.join("roles.toml"),
            crate::files::has_entry(&m).then_some(m),
        )
    } else {
        (path.to_owned(), None)
    };
    let bytes = crate::files::read_source(&toml_path, crate::files::TOML_LIMIT)
        .map_err(ConnectError::Unreadable)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        ConnectError::Unreadable(Problem::file(
            &toml_path,
            "is not valid UTF-8; save the file as UTF-8",
        ))
    })?;
    let file: RolesFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
        ConnectError::Unreadable(Problem::row(
            &toml_path,
            line,
            e.message().trim().to_owned(),
        ))
    })?;
    crate::system::toml_nul(&toml_path, text)?;
    let mut problems = Vec::new();
    let mut roles: BTreeMap<RoleKey, Role> = BTreeMap::new();
    let mut lines: HashMap<String, u64> = HashMap::new();
    for entry in file.role {
        // TOML spans are not kept per entry; locate the entry by its key line.
        let line = text
            .find(&format!("\"{}\"", entry.key))
            .map(|o| line_of(text, o))
            .unwrap_or(1);
        let mut fail = |field: &str, msg: String| {
            problems.push(Problem::field(&toml_path, line, field, msg));
        };
        let key = match RoleKey::new(&entry.key) {
            Ok(k) => k,
            Err(e) => {
                fail("key", e.to_string());
                continue;
            }
        };
        if let Some(first) = lines.insert(entry.key.clone(), line) {
            fail(
                "key",
                format!("role `{key}` is already defined on line {first}"),
            );
            continue;
        }
        let owner = entry.owner.as_deref().and_then(|o| {
            IdentityKey::new(o)
                .map_err(|e| fail("owner", e.to_string()))
                .ok()
        });
        let mut entitlements = Vec::new();
        for e in &entry.entitlements {
            match e.parse::<EntitlementRef>() {
                Ok(r) => entitlements.push(r),
                Err(err) => fail("entitlements", err.to_string()),
            }
        }
        entitlements.sort();
        entitlements.dedup();
        let mut members = Vec::new();
        for m in &entry.members {
            match IdentityKey::new(m.as_str()) {
                Ok(k) => members.push(k),
                Err(err) => fail("members", err.to_string()),
            }
        }
        for c in &entry.birthright {
            if c.attribute.trim().is_empty() || c.any_of.is_empty() {
                fail(
                    "birthright",
                    "each condition needs an `attribute` and at least one value in `any_of`".into(),
                );
            }
        }
        roles.insert(
            key.clone(),
            Role {
                name: entry.name.unwrap_or_else(|| key.to_string()),
                key,
                description: entry.description,
                owner,
                entitlements,
                birthright: entry.birthright,
                members,
            },
        );
    }
    if let Some(first) = problems.first() {
        // roles.toml is small and hand-written: any problem in it stops the import.
        return Err(ConnectError::Unreadable(first.clone()));
    }
    let mut files = vec![ImportFile {
        name: toml_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        rows: roles.len() as u64,
    }];
    let mut outcome = Outcome::default();
    if let Some(mp) = members_path {
        let mut rows = Rows::read(&mp, "members.csv", &MEMBER_SCHEMA, |row: &Row<'_>| {
            let mut c = RowCheck::new(row);
            let role = c.parse::<RoleKey>("role");
            let identity = c.parse::<IdentityKey>("identity");
            match (role, identity) {
                (Some(r), Some(i)) => c.finish((r, i)),
                _ => Err(c.problems),
            }
        })?;
        let path = rows.path.clone();
        rows.retain(|line, (role, _)| {
            if roles.contains_key(role) {
                Ok(())
            } else {
                Err(Problem::field(
                    &path,
                    line,
                    "role",
                    format!("role `{role}` is not defined in roles.toml"),
                ))
            }
        });
        outcome = conclude(
            options,
            vec![(SnapshotPart::RoleMembers, rows.problems, rows.invalid)],
        )?;
        for (_, (role, identity)) in rows.valid {
            if let Some(r) = roles.get_mut(&role) {
                r.members.push(identity);
            }
        }
        files.push(rows.file);
    }
    let roles = roles
        .into_values()
        .map(|mut r| {
            r.members.sort();
            r.members.dedup();
            r
        })
        .collect();
    Ok(RoleSnapshot {
        roles,
        files,
        outcome,
    })
}

/// A snapshot of warrant records.
#[derive(Debug)]
pub struct WarrantSnapshot {
    /// The records, in file order.
    pub records: Vec<WarrantRecord>,
    /// The files read.
    pub files: Vec<ImportFile>,
    /// Rows left out with `--skip-invalid`.
    pub outcome: Outcome,
}

/// Columns of a warrant export.
pub const WARRANT_SCHEMA: Schema = Schema {
    required: &["id", "kind", "approved_at"],
    optional: &[
        "identity",
        "entitlement",
        "owner",
        "approved_by",
        "expires_at",
        "reason",
    ],
    aliases: &[
        ("ticket", "id"),
        ("ticket_id", "id"),
        ("type", "kind"),
        ("employee_id", "identity"),
        ("requested_for", "identity"),
        ("approver", "approved_by"),
        ("approved", "approved_at"),
        ("used_at", "approved_at"),
        ("expires", "expires_at"),
        ("justification", "reason"),
        ("owner_id", "owner"),
        ("risk_owner", "owner"),
    ],
};

/// Reads an export of approved requests, review decisions, break-glass uses, standing
/// policies and approved exceptions.
pub fn read_warrants(path: &Path, options: ReadOptions) -> Result<WarrantSnapshot, ConnectError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut rows = Rows::read(path, &name, &WARRANT_SCHEMA, |row| {
        let mut c = RowCheck::new(row);
        let id = c.text("id");
        let kind = c.parse::<WarrantKind>("kind");
        if matches!(kind, Some(WarrantKind::Role | WarrantKind::Birthright)) {
            c.fail(
                "kind",
                "roles and birthright rules are imported with `gatehouse import roles`; \
                 use request, review, break_glass, policy or exception",
            );
        }
        // A standing policy may cover every holder and entitlement citing it; every other
        // record is about one person and one entitlement.
        let open_scope = kind == Some(WarrantKind::Policy);
        let identity = if open_scope {
            c.opt_identity("identity")
        } else {
            c.parse::<IdentityKey>("identity")
        };
        let entitlement = if open_scope {
            c.opt_parse::<EntitlementRef>("entitlement")
        } else {
            c.parse::<EntitlementRef>("entitlement")
        };
        let approved_at = c.timestamp("approved_at");
        let owner = c.opt_identity("owner");
        let approved_by = c.opt_identity("approved_by");
        let expires_at = c.opt_end_timestamp("expires_at");
        let reason = c.opt_text("reason");
        if let Some(k) = kind
            && k.standing()
        {
            if row
                .get("expires_at")
                .is_some_and(gatehouse_model::is_no_end)
            {
                c.fail(
                    "expires_at",
                    format!(
                        "is the no-end date `{}`; a standing warrant ({k}) needs a real expiry",
                        gatehouse_model::NO_END
                    ),
                );
            }
            for (column, missing) in [
                ("owner", row.get("owner").is_none()),
                ("approved_by", row.get("approved_by").is_none()),
                ("expires_at", row.get("expires_at").is_none()),
            ] {
                if missing {
                    c.fail(
                        column,
                        format!(
                            "is required for a {k}: a standing warrant needs an owner, an \
                             approver and an expiry"
                        ),
                    );
                }
            }
        }
        match (kind, approved_at) {
            (Some(kind), Some(approved_at)) if c.problems.is_empty() => {
                let attributes = row.attributes();
                c.finish(WarrantRecord {
                    id,
                    kind,
                    identity,
                    entitlement,
                    owner,
                    approved_by,
                    approved_at,
                    expires_at,
                    reason,
                    attributes,
                })
            }
            _ => Err(c.problems),
        }
    })?;
    let mut seen: HashMap<(WarrantKind, String), u64> = HashMap::new();
    let p = rows.path.clone();
    rows.retain(|line, r| match seen.get(&(r.kind, r.id.clone())) {
        Some(first) => Err(Problem::field(
            &p,
            line,
            "id",
            format!("{} `{}` already appears on line {first}", r.kind, r.id),
        )),
        None => {
            seen.insert((r.kind, r.id.clone()), line);
            Ok(())
        }
    });
    let outcome = conclude(
        options,
        vec![(SnapshotPart::Warrants, rows.problems, rows.invalid)],
    )?;
    Ok(WarrantSnapshot {
        records: rows.valid.into_iter().map(|(_, r)| r).collect(),
        files: vec![rows.file],
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_with_members_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("roles.toml"),
            r#"
[[role]]
key = "ap-clerk"
name = "AP Clerk"
entitlements = ["erp:role/AP_Clerk", "gl:view"]
members = ["E9"]

[[role]]
key = "staff"
entitlements = ["ad:All_Staff"]
birthright = [{ attribute = "kind", any_of = ["person"] }]
"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("members.csv"),
            "role,employee_id\nap-clerk,E1\nnope,E2\n",
        )
        .unwrap();
        let err = read_roles(dir.path(), ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("members.csv:3: field `role`: role `nope` is not defined in roles.toml"),
            "{err}"
        );
        let snap = read_roles(dir.path(), ReadOptions { skip_invalid: true }).unwrap();
        assert_eq!(snap.roles.len(), 2);
        assert_eq!(snap.roles[0].members.len(), 2);
        assert_eq!(snap.roles[1].birthright.len(), 1);
    }

    #[test]
    fn bad_roles_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("roles.toml");
        std::fs::write(&p, "[[role]]\nkey = \"a\"\nentitlements = [\"nosystem\"]\n").unwrap();
        let err = read_roles(&p, ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("roles.toml:2: field `entitlements`: `nosystem` is not a valid entitlement reference"), "{err}");
        std::fs::write(
            &p,
            "[[role]]\nkey = \"a\"\nentitlements = [\"erp:x\"]\n\n[[role]]\nkey = \"b\"\ndescription = \"\\u0000\"\n",
        )
        .unwrap();
        let err = read_roles(&p, ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("roles.toml:7: field `role.description`: contains a NUL character (`\\u0000`); remove it"),
            "{err}"
        );
    }

    #[test]
    fn warrant_records() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tickets.csv");
        std::fs::write(
            &p,
            "ticket,type,requested_for,entitlement,approver,approved,reason\n\
             REQ-1,request,E1,erp:role/AP,E2,2026-01-05,month end\n\
             REQ-1,request,E1,erp:role/AP,E2,2026-01-05,dup\n\
             BG-1,break_glass,E1,aws:Admin,,2026-02-01T03:00:00Z,incident\n\
             X,role,E1,aws:Admin,,2026-02-01,\n",
        )
        .unwrap();
        let err = read_warrants(&p, ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tickets.csv:3: field `id`: request `REQ-1` already appears on line 2"),
            "{err}"
        );
        assert!(
            err.contains("tickets.csv:5: field `kind`: roles and birthright rules"),
            "{err}"
        );
        let snap = read_warrants(&p, ReadOptions { skip_invalid: true }).unwrap();
        assert_eq!(snap.records.len(), 2);
        assert_eq!(snap.records[1].kind, WarrantKind::BreakGlass);
    }

    #[test]
    fn standing_policies_and_exceptions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tickets.csv");
        std::fs::write(
            &p,
            "id,kind,identity,entitlement,owner,approved_by,approved_at,expires_at,reason\n\
             EMERGENCY-ACCESS,policy,,,E7,E1,2026-01-10,2027-01-10,break-glass accounts\n\
             EXC-12,exception,E3,erp:role/GL_Post,E7,E1,2026-03-01,2026-12-31,audit support\n\
             EXC-13,exception,,erp:role/GL_Post,E7,E1,2026-03-01,2026-12-31,\n\
             POL-2,policy,,,,E1,2026-03-01,,\n\
             EXC-14,exception,E3,erp:role/GL_Post,E7,E1,2026-03-01,9999-12-31,forever\n\
             REQ-9,request,E3,erp:role/GL_Post,,E1,2026-03-01,9999-12-31T23:59:59Z,\n",
        )
        .unwrap();
        let err = read_warrants(&p, ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tickets.csv:4: field `identity`: is required but empty"),
            "{err}"
        );
        for column in ["owner", "expires_at"] {
            assert!(
                err.contains(&format!(
                    "tickets.csv:5: field `{column}`: is required for a policy: a standing \
                     warrant needs an owner, an approver and an expiry"
                )),
                "{err}"
            );
        }
        assert!(
            err.contains(
                "tickets.csv:6: field `expires_at`: is the no-end date `9999-12-31`; a standing \
                 warrant (exception) needs a real expiry"
            ),
            "{err}"
        );
        let snap = read_warrants(&p, ReadOptions { skip_invalid: true }).unwrap();
        assert_eq!(snap.records.len(), 3);
        assert_eq!(
            snap.records[2].expires_at, None,
            "a request may never expire"
        );
        let policy = &snap.records[0];
        assert_eq!(policy.kind, WarrantKind::Policy);
        assert_eq!(policy.identity, None);
        assert_eq!(policy.entitlement, None);
        assert_eq!(policy.owner.as_ref().map(|o| o.as_str()), Some("E7"));
        let exception = &snap.records[1];
        assert_eq!(exception.kind, WarrantKind::Exception);
        assert_eq!(exception.identity.as_ref().map(|o| o.as_str()), Some("E3"));
    }
}
