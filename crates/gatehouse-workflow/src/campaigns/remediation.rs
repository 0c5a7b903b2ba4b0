//! Remediation: every final revoke becomes a task that lists each path by which the holder
//! has the access and what removing it would also take away. No connector can write to a
//! system yet, so a person carries it out and says so (`mark_done`); only an import of the
//! system that shows the grant gone verifies it. A grant still there after the task's due
//! date, or back later without a new warrant, reopens the task (and the analysis reports it
//! as `revoked_access_present`, naming the decision).

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_model::{
    AccessPath, BATCH_RECORDS, CampaignEvent, EntitlementRef, EventData, GrantSource, IdentityKey,
    ItemRef, PathKind, RemediationDone, RemediationOpened, RemediationReopened, RemediationTask,
    RemediationVerified, Reopening, Stamped, TaskStatus, Timestamp, Verdict, Verification, Warrant,
    WarrantKind,
};
use gatehouse_store::campaigns::query::{CampaignRow, ItemRow, TaskFilter, TaskRow};
use gatehouse_store::{Reader, Store, StoreError, Writer};

use super::policy::ReviewPolicy;
use super::{Acting, CampaignError, date, plus_days};

/// Opens one task per revoked item, with every path to the access; each is due the
/// campaign's `remediation_days` after its decision (`now` for a decision being recorded).
pub(crate) fn open(
    w: &mut Writer<'_>,
    c: &CampaignRow,
    revoked: &[ItemRow],
    now: Timestamp,
) -> Result<Vec<ItemRef>, CampaignError> {
    let r = &mut w.read_state()?;
    let owners: BTreeMap<String, Option<IdentityKey>> = r
        .system_configs()?
        .into_iter()
        .map(|s| (s.key.to_string(), s.owner))
        .collect();
    let roles = r.roles()?;
    let days = i64::from(c.created.rules.remediation_days);
    let mut holdings: BTreeMap<IdentityKey, Holdings> = BTreeMap::new();
    let mut tasks = Vec::with_capacity(revoked.len());
    for item in revoked {
        let i = &item.item;
        let paths = match (&i.role, &i.account, &i.identity) {
            (Some(role), _, _) => vec![AccessPath {
                kind: PathKind::Role,
                via: format!("role `{role}` bundles it: remove it from the role definition"),
                also_removes: vec![],
            }],
            (None, Some(account), Some(holder)) => {
                if !holdings.contains_key(holder) {
                    let h = Holdings::read(r, holder, now)?;
                    holdings.insert(holder.clone(), h);
                }
                match holdings.get(holder) {
                    Some(h) => h.paths(&roles, i.system.as_str(), account, &i.entitlement),
                    None => Vec::new(),
                }
            }
            (None, Some(account), None) => vec![AccessPath {
                kind: PathKind::Direct,
                via: format!("`{account}` on {} (linked to nobody)", i.system),
                also_removes: vec![],
            }],
            (None, None, _) => Vec::new(),
        };
        tasks.push(RemediationTask {
            item: item.reference(),
            system: i.system.clone(),
            account: i.account.clone(),
            entitlement: i.entitlement.clone(),
            role: i.role.clone(),
            identity: i.identity.clone(),
            assignee: owners
                .get(i.system.as_str())
                .cloned()
                .flatten()
                .or_else(|| Some(c.created.rules.compliance_owner.clone())),
            due: plus_days(item.decision.as_ref().map_or(now, |d| d.at), days),
            paths,
        });
    }
    let refs = tasks.iter().map(|t| t.item).collect();
    let events: Vec<EventData> = tasks
        .chunks(BATCH_RECORDS)
        .map(|chunk| {
            CampaignEvent::RemediationOpened(Stamped {
                as_of: now,
                import: None,
                record: RemediationOpened {
                    tasks: chunk.to_vec(),
                },
            })
            .into()
        })
        .collect();
    w.append_all(events)?;
    Ok(refs)
}

/// What a person holds, for finding every path to one entitlement.
struct Holdings {
    /// `(system, account, entitlement, source, warrant)` of every current grant.
    grants: Vec<(String, String, String, GrantSource, Option<Warrant>)>,
    /// The person, for birthright rules.
    identity: Option<gatehouse_model::Identity>,
}

impl Holdings {
    fn read(r: &mut Reader<'_>, holder: &IdentityKey, now: Timestamp) -> Result<Self, StoreError> {
        let identity = r.current_identity(holder)?;
        let grants = match r.resolve_identity(holder.as_str(), now) {
            Ok(info) => r
                .access(info, now)?
                .grants
                .into_iter()
                .map(|g| {
                    (
                        g.system.to_string(),
                        g.account,
                        g.entitlement,
                        g.source,
                        g.warrant,
                    )
                })
                .collect(),
            Err(e) if e.code() == gatehouse_model::ErrorCode::UnknownObject => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(Holdings { grants, identity })
    }

    /// Every path to `system:entitlement` and what removing it would also take away.
    fn paths(
        &self,
        roles: &[gatehouse_model::Role],
        system: &str,
        account: &str,
        entitlement: &str,
    ) -> Vec<AccessPath> {
        let target = format!("{system}:{entitlement}");
        let held: BTreeSet<String> = self
            .grants
            .iter()
            .map(|(s, _, e, _, _)| format!("{s}:{e}"))
            .collect();
        let mut paths = Vec::new();
        // The reviewed grant, by how it came about.
        let this = self
            .grants
            .iter()
            .find(|(s, a, e, _, _)| s == system && a == account && e == entitlement);
        let (source, warrant) = match this {
            Some((_, _, _, s, w)) => (*s, w.clone()),
            None => (GrantSource::Direct, None),
        };
        let on = format!("`{account}` on {system}");
        let cited_role = warrant
            .as_ref()
            .filter(|w| matches!(w.kind, WarrantKind::Role | WarrantKind::Birthright))
            .map(|w| w.reference.clone());
        match (source, &warrant) {
            (GrantSource::Request, Some(w)) | (GrantSource::Review, Some(w)) => {
                paths.push(AccessPath {
                    kind: PathKind::Request,
                    via: format!("{w}, granted on {on}: remove the grant"),
                    also_removes: vec![],
                })
            }
            (GrantSource::Role | GrantSource::Birthright, _) if cited_role.is_some() => {}
            _ => paths.push(AccessPath {
                kind: PathKind::Direct,
                via: format!("assigned directly on {on}: remove the grant"),
                also_removes: vec![],
            }),
        }
        // Roles and birthright rules that give it to the person.
        for role in roles {
            if !role.entitlements.iter().any(|e| e.to_string() == target) {
                continue;
            }
            let member = self
                .identity
                .as_ref()
                .is_some_and(|i| role.members.contains(&i.key));
            let birthright = self
                .identity
                .as_ref()
                .is_some_and(|i| !role.birthright.is_empty() && role.applies_to(i) && !member);
            let cited = cited_role.as_deref() == Some(role.key.as_str());
            if !member && !birthright && !cited {
                continue;
            }
            // What leaving the role takes away: its other entitlements the person holds and
            // gets from no other role.
            let also: Vec<EntitlementRef> = role
                .entitlements
                .iter()
                .filter(|e| e.to_string() != target && held.contains(&e.to_string()))
                .filter(|e| {
                    !roles.iter().any(|other| {
                        other.key != role.key
                            && other.entitlements.contains(e)
                            && self.identity.as_ref().is_some_and(|i| other.applies_to(i))
                    })
                })
                .cloned()
                .collect();
            paths.push(AccessPath {
                kind: if birthright {
                    PathKind::Birthright
                } else {
                    PathKind::Role
                },
                via: if birthright {
                    format!(
                        "birthright rule of role `{}`: the person meets its conditions; change \
                         the rule or the person's attributes",
                        role.key
                    )
                } else {
                    format!("member of role `{}`: remove the membership", role.key)
                },
                also_removes: also,
            });
        }
        // Other accounts of the same person with the same entitlement.
        for (s, a, e, _, _) in &self.grants {
            if s == system && e == entitlement && a != account {
                paths.push(AccessPath {
                    kind: PathKind::OtherAccount,
                    via: format!("`{a}` on {s} holds it too: remove that grant as well"),
                    also_removes: vec![],
                });
            }
        }
        paths
    }
}

/// Someone says a task is done, with a note of what they did. The assignee, the campaign's
/// owner and the review policy's administrators may. The task is verified only by an import.
pub fn mark_done(
    store: &Store,
    policy: &ReviewPolicy,
    acting: &Acting,
    now: Timestamp,
    item: ItemRef,
    note: &str,
) -> Result<u64, CampaignError> {
    let who = acting.who("completing a remediation task")?.clone();
    let note = note.trim();
    if note.is_empty() {
        return Err(CampaignError::Remediation(
            "a note is required: say what was removed, where, and the change ticket".into(),
        ));
    }
    store.write(&acting.actor, now, |w| {
        let r = &mut w.read()?;
        let task = r.remediation_task(item)?;
        let campaign = r.campaign(item.campaign)?;
        if task.task.assignee.as_ref() != Some(&who)
            && campaign.created.owner != who
            && !policy.is_administrator(&who)
        {
            return Err(CampaignError::NotAllowed(format!(
                "{who} may not complete task {item}: its assignee{}, the campaign's owner and the \
                 review policy's administrators may",
                task.task
                    .assignee
                    .as_ref()
                    .map(|a| format!(" {a}"))
                    .unwrap_or_default()
            )));
        }
        match task.status {
            TaskStatus::Verified => {
                return Err(CampaignError::Remediation(format!(
                    "task {item} was verified on {}: the import of {} showed the access gone",
                    task.verified_at.map(date).unwrap_or_default(),
                    task.task.system
                )));
            }
            TaskStatus::Done => {
                return Err(CampaignError::Remediation(format!(
                    "task {item} was marked done on {}; the next import of {} verifies it",
                    task.done_at.map(date).unwrap_or_default(),
                    task.task.system
                )));
            }
            TaskStatus::Open | TaskStatus::Reopened => {}
        }
        Ok(w.append(CampaignEvent::RemediationDone(Stamped {
            as_of: now,
            import: None,
            record: RemediationDone {
                item,
                by: Some(who.clone()),
                note: note.to_owned(),
            },
        }))?)
    })
}

/// What verification did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Tasks an import showed done.
    pub verified: Vec<ItemRef>,
    /// Tasks reopened, and why.
    pub reopened: Vec<(ItemRef, String)>,
}

/// Whether a grant back after a revoke has a new warrant: a warrant record approved after
/// the decision, or a later review that kept it.
fn renewed(
    r: &mut Reader<'_>,
    warrant: Option<&str>,
    decided: Timestamp,
    kept_later: bool,
) -> Result<bool, StoreError> {
    if kept_later {
        return Ok(true);
    }
    let Some(w) = warrant.and_then(|w| w.parse::<Warrant>().ok()) else {
        return Ok(false);
    };
    if matches!(w.kind, WarrantKind::Role | WarrantKind::Birthright) {
        return Ok(false);
    }
    Ok(r.warrant_record(w.kind, &w.reference)?
        .is_some_and(|rec| rec.approved_at > decided))
}

/// Compares every task that is not closed for good with the imports: verifies the ones an
/// import after the decision shows gone, and reopens the ones still there after their due
/// date or back without a new warrant. Appends what it finds as events.
pub fn verify_remediation(
    store: &Store,
    acting: &Acting,
    now: Timestamp,
) -> Result<VerifyReport, CampaignError> {
    let tasks = store.read(|r| r.remediation_tasks(&TaskFilter::default()))?;
    if tasks.is_empty() {
        return Ok(VerifyReport::default());
    }
    store.write(&acting.actor, now, |w| {
        let r = &mut w.read()?;
        let verdicts = r.grant_verdicts()?;
        // The latest final decision per grant, to see whether a later review kept it.
        let mut latest: BTreeMap<(String, String, String), (Timestamp, Verdict)> = BTreeMap::new();
        for v in &verdicts {
            let k = (
                v.system.to_string(),
                v.account.clone(),
                v.entitlement.clone(),
            );
            let e = latest.entry(k).or_insert((v.at, v.verdict));
            if v.at >= e.0 {
                *e = (v.at, v.verdict);
            }
        }
        let mut verified = Vec::new();
        let mut reopened = Vec::new();
        for t in &tasks {
            match check(r, t, &latest)? {
                Some(Outcome::Verified(v)) => verified.push(v),
                Some(Outcome::Reopened(o)) => reopened.push(o),
                None => {}
            }
        }
        let mut report = VerifyReport {
            verified: verified.iter().map(|v: &Verification| v.item).collect(),
            reopened: reopened
                .iter()
                .map(|o: &Reopening| (o.item, o.reason.clone()))
                .collect(),
        };
        let mut events: Vec<EventData> = Vec::new();
        for chunk in verified.chunks(BATCH_RECORDS) {
            events.push(
                CampaignEvent::RemediationVerified(Stamped {
                    as_of: now,
                    import: None,
                    record: RemediationVerified {
                        tasks: chunk.to_vec(),
                    },
                })
                .into(),
            );
        }
        for chunk in reopened.chunks(BATCH_RECORDS) {
            events.push(
                CampaignEvent::RemediationReopened(Stamped {
                    as_of: now,
                    import: None,
                    record: RemediationReopened {
                        tasks: chunk.to_vec(),
                    },
                })
                .into(),
            );
        }
        w.append_all(events)?;
        report.verified.sort();
        Ok(report)
    })
}

enum Outcome {
    Verified(Verification),
    Reopened(Reopening),
}

fn check(
    r: &mut Reader<'_>,
    t: &TaskRow,
    latest: &BTreeMap<(String, String, String), (Timestamp, Verdict)>,
) -> Result<Option<Outcome>, StoreError> {
    let task = &t.task;
    let decided = t.opened_at;
    if let Some(role) = &task.role {
        let Some(last) = r.latest_import_ref("roles")? else {
            return Ok(None);
        };
        let target = format!("{}:{}", task.system, task.entitlement);
        let still = r
            .role(role.as_str())?
            .is_some_and(|(def, _)| def.entitlements.iter().any(|e| e.to_string() == target));
        return Ok(match (still, t.status) {
            (false, TaskStatus::Verified) => None,
            (false, _) if last.as_of >= decided => Some(Outcome::Verified(Verification {
                item: task.item,
                import: last.seq,
                as_of: last.as_of,
            })),
            (true, TaskStatus::Open | TaskStatus::Done) if last.as_of > task.due => {
                Some(Outcome::Reopened(Reopening {
                    item: task.item,
                    reason: format!(
                        "role `{role}` still bundles {target} after the due date {}",
                        date(task.due)
                    ),
                    import: last.seq,
                    as_of: last.as_of,
                }))
            }
            _ => None,
        });
    }
    let Some(account) = &task.account else {
        return Ok(None);
    };
    let trace = r.grant_trace(&task.system, account, &task.entitlement)?;
    let Some(last) = trace.last_import.clone() else {
        return Ok(None);
    };
    let source = format!("system:{}", task.system);
    match (trace.current(), t.status) {
        (None, TaskStatus::Verified) => Ok(None),
        (None, _) => {
            // Gone: verified by the import that removed it, if that came after the decision,
            // else by the latest import, if that did.
            let removal = match trace.versions.last().and_then(|v| v.end_seq) {
                Some(end) => r.import_of(&source, end)?,
                None => None,
            };
            let by = removal
                .filter(|i| i.as_of >= decided)
                .or(Some(last).filter(|i| i.as_of >= decided));
            Ok(by.map(|i| {
                Outcome::Verified(Verification {
                    item: task.item,
                    import: i.seq,
                    as_of: i.as_of,
                })
            }))
        }
        (Some(current), TaskStatus::Verified) => {
            let k = (
                task.system.to_string(),
                account.clone(),
                task.entitlement.clone(),
            );
            let kept_later = latest
                .get(&k)
                .is_some_and(|(at, v)| *at > decided && *v != Verdict::Revoke);
            if renewed(r, current.warrant.as_deref(), decided, kept_later)? {
                return Ok(None);
            }
            let back = r.import_of(&source, current.seq)?.unwrap_or(last);
            Ok(Some(Outcome::Reopened(Reopening {
                item: task.item,
                reason: format!(
                    "came back on {} without a new warrant",
                    date(current.valid_from)
                ),
                import: back.seq,
                as_of: back.as_of,
            })))
        }
        (Some(_), TaskStatus::Open | TaskStatus::Done) if last.as_of > task.due => {
            Ok(Some(Outcome::Reopened(Reopening {
                item: task.item,
                reason: format!(
                    "still present in the import of {} as of {}, after the due date {}",
                    task.system,
                    date(last.as_of),
                    date(task.due)
                ),
                import: last.seq,
                as_of: last.as_of,
            })))
        }
        (Some(_), _) => Ok(None),
    }
}
