//! Drift: every grant must be explained by a role or birthright rule that applies to its
//! holder, or by a valid record — an approved request or review, a break-glass use, a standing
//! policy or an approved exception. A non-human identity's grants are its owner's business.
//!
//! Grants are judged person by person, and each person gets at most one finding per cause,
//! listing the grants: unexplained grants, grants back after a removal, self-approved grants,
//! grants past their end date, standing privileges, access outside roles. Access a mover kept
//! from the previous job, or a rehire from the earlier employment, is reported once by the
//! mover and rehire rules instead of grant by grant.

use gatehouse_model::state::{AccountIx, GrantState, IdentityIx};
use gatehouse_model::{AccountKind, IdentityKind, Severity, Warrant, WarrantKind, WarrantRecord};

use crate::creep::{self, Kept};
use crate::{Context, Item, date, plural};

/// What explains a grant, or why nothing does.
pub(crate) enum Verdict<'a> {
    /// A role or birthright rule that applies to the holder includes it.
    Role,
    /// A valid record: request, review, break-glass use, standing policy or exception.
    Record(&'a WarrantRecord),
    /// A non-human identity's grant without a cited warrant: its owner answers for it, when
    /// it has a current one (`true`); otherwise the identity rules report the owner.
    Owned(bool),
    /// A request or review approved by the holder.
    SelfApproved(&'a WarrantRecord),
    /// Nothing explains it: why, and whether it cites a role or birthright rule that no longer
    /// applies to the holder (the mark of access kept from an earlier job).
    Unwarranted { reason: String, stale_role: bool },
}

fn unwarranted<'a>(reason: String) -> Verdict<'a> {
    Verdict::Unwarranted {
        reason,
        stale_role: false,
    }
}

/// Why a role or birthright rule cited by a grant does not apply to the holder, naming the
/// fact that decides it.
fn why_not_applying(cx: &Context<'_>, identity: IdentityIx, role: usize, w: &Warrant) -> String {
    let r = &cx.inv.roles[role];
    let holder = cx.identity(identity);
    if r.birthright.is_empty() {
        return format!("it cites {w}, whose members do not include the holder (any more)");
    }
    if let Some(p) = &holder.person
        && !cx.access[identity.index()].keeps_roles()
    {
        return format!(
            "it cites {w}, a birthright rule that applies only while the HR status keeps role \
             access, and the holder is {}",
            p.status_text()
        );
    }
    match r.unmet_condition(holder) {
        Some(c) => format!(
            "it cites {w}, whose condition {} = {} the holder does not meet ({} is {})",
            c.attribute,
            c.any_of.join(" or "),
            c.attribute,
            holder
                .attribute(&c.attribute)
                .map(|v| format!("`{v}`"))
                .unwrap_or_else(|| "not set".into())
        ),
        None => format!("it cites {w}, which does not apply to the holder (any more)"),
    }
}

/// Judges one grant of an identity.
pub(crate) fn judge<'a>(cx: &Context<'a>, identity: IdentityIx, g: &GrantState) -> Verdict<'a> {
    let ent = g.entitlement;
    let warrant = cx.inv.warrant(g);
    if cx.role_explaining(identity, ent).is_some()
        && warrant.is_none_or(|w| matches!(w.kind, WarrantKind::Role | WarrantKind::Birthright))
    {
        return Verdict::Role;
    }
    let holder_rec = cx.identity(identity);
    let Some(w) = warrant else {
        if holder_rec.kind != IdentityKind::Person {
            let current = holder_rec
                .non_human
                .as_ref()
                .and_then(|n| n.owner.as_ref())
                .and_then(|o| cx.inv.identity_index(o.as_str()))
                .is_some_and(|o| !cx.is_gone(o));
            return Verdict::Owned(current);
        }
        return unwarranted("no warrant is recorded for it".into());
    };
    match w.kind {
        WarrantKind::Role | WarrantKind::Birthright => {
            match cx.role_index.get(w.reference.as_str()) {
                None => unwarranted(format!("it cites {w}, which is not in the role catalogue")),
                Some(&r) if cx.role_ents[r].binary_search(&ent).is_err() => {
                    unwarranted(format!("it cites {w}, which does not include it"))
                }
                Some(&r) => Verdict::Unwarranted {
                    reason: why_not_applying(cx, identity, r, w),
                    stale_role: true,
                },
            }
        }
        kind => {
            let Some(&r) = cx.records.get(&(kind, w.reference.as_str())) else {
                return unwarranted(format!(
                    "it cites {w}, which is not among the warrant records"
                ));
            };
            let rec = &cx.inv.warrant_records[r];
            let holder = holder_rec.key.as_str();
            let e = &cx.inv.entitlements[ent].record;
            if let Some(other) = rec.identity.as_ref().filter(|k| k.as_str() != holder) {
                unwarranted(format!("{w} was granted to {other}, not to the holder"))
            } else if let Some(other) = rec
                .entitlement
                .as_ref()
                .filter(|r| r.system != e.system || r.native_id != e.native_id)
            {
                unwarranted(format!("{w} is for {other}, not for this entitlement"))
            } else if kind != WarrantKind::BreakGlass
                && rec
                    .approved_by
                    .as_ref()
                    .is_some_and(|a| a.as_str() == holder)
            {
                Verdict::SelfApproved(rec)
            } else if kind != WarrantKind::BreakGlass && rec.approved_by.is_none() {
                unwarranted(format!("{w} has no approver"))
            } else if kind.standing() && rec.owner.is_none() {
                unwarranted(format!("{w} has no owner"))
            } else {
                Verdict::Record(rec)
            }
        }
    }
}

/// Facts about one grant, for a finding that lists only it: how it came about, what it cites,
/// since when it is known, and `extra` ones.
fn grant_facts(
    cx: &Context<'_>,
    g: &GrantState,
    mut extra: Vec<(&'static str, String)>,
) -> Vec<(&'static str, String)> {
    extra.push(("source", g.source.as_str().to_owned()));
    if let Some(w) = cx.inv.warrant(g) {
        extra.push(("warrant", w.to_string()));
    }
    extra.push(("first_seen", date(g.first_seen)));
    if let Some(t) = g.granted_at {
        extra.push(("granted_at", date(t)));
    }
    extra
}

/// Whether an account is an emergency (break-glass) account that is owned (linked to an
/// identity), protected by MFA and whose privileged grants a valid, unexpired standing policy
/// covers. Such an account is shared and idle by design.
pub(crate) fn covered_emergency(cx: &Context<'_>, a: AccountIx) -> bool {
    let acc = cx.account(a);
    let Some(identity) = acc.identity else {
        return false;
    };
    if acc.kind != AccountKind::Emergency || acc.mfa != Some(true) {
        return false;
    }
    let observed = cx.observed(acc.system);
    let mut privileged = cx
        .inv
        .grants_of(acc)
        .iter()
        .filter(|g| cx.privileged(g.entitlement))
        .peekable();
    privileged.peek().is_some()
        && privileged.all(|g| match judge(cx, identity, g) {
            Verdict::Record(rec) => {
                rec.kind == WarrantKind::Policy && rec.expires_at.is_none_or(|t| t > observed)
            }
            _ => false,
        })
}

/// The grants of one person sorted by cause.
#[derive(Default)]
struct Causes {
    /// Grants a review revoked, with their position in `inv.contradicted`.
    contradicted: Vec<(Item, usize)>,
    unwarranted: Vec<Item>,
    reappeared: Vec<Item>,
    self_approved: Vec<Item>,
    expired: Vec<Item>,
    standing: Vec<Item>,
    exceptions: Vec<Item>,
    moved: Vec<Item>,
    rehired: Vec<Item>,
}

pub(crate) fn run(cx: &mut Context<'_>) {
    let inv = cx.inv;
    for i in IdentityIx::all(inv.identities.len()) {
        // Leavers' and suspended people's grants are reported by their own rules, orphans'
        // by `orphaned_account`.
        if !cx.judged(i) {
            continue;
        }
        let person = cx.is_person(i);
        let move_at = creep::job_change(cx, i);
        // Without the rehire rule, access from an earlier employment is judged as any other.
        let rehired = cx.rehired[i.index()].filter(|_| cx.enabled("rehire_kept_access"));
        let mut causes = Causes::default();
        let mut reported = Vec::new();
        let mut backed = Vec::new();
        let mut warranted = 0;
        for &a in &cx.accounts_of[i.index()] {
            let acc = cx.account(a);
            let observed = cx.observed(acc.system);
            let covered = acc.kind == AccountKind::Emergency && covered_emergency(cx, a);
            for g in inv.grants_of(acc) {
                let ent = g.entitlement;
                let verdict = judge(cx, i, g);
                // Formatted only for the grants a finding lists.
                let place = || format!("{} on {}", cx.ent_name(ent), cx.account_label(a));
                let severity = |rule: &str, escalate: bool| {
                    cx.severity(rule, i32::from(escalate), Some(acc.system))
                };

                // A review decided this access must go: that decision is the cause, whatever
                // else could be said about the grant.
                if let Some(&c) = cx.contradicted.get(&(a, ent)) {
                    let rev = &inv.contradicted[c];
                    causes.contradicted.push((
                        Item {
                            account: a,
                            entitlements: vec![ent],
                            severity: severity("revoked_access_present", false),
                            since: Some(rev.decided_at),
                            line: format!("{}: {}", place(), rev.why),
                            facts: grant_facts(cx, g, Vec::new()),
                        },
                        c,
                    ));
                    reported.push((ent, "revoked_access_present"));
                    continue;
                }

                if let Some(removed) = g.removed_before {
                    let renewed = match &verdict {
                        Verdict::Role => true,
                        Verdict::Record(rec) => rec.approved_at >= removed,
                        _ => false,
                    };
                    if !renewed {
                        causes.reappeared.push(Item {
                            account: a,
                            entitlements: vec![ent],
                            severity: severity("reappeared_grant", false),
                            since: Some(g.first_seen),
                            line: format!(
                                "{}: removed on {}, back since {}, {}",
                                place(),
                                date(removed),
                                date(g.first_seen),
                                match inv.warrant(g) {
                                    Some(w) =>
                                        format!("still citing {w}, approved before the removal"),
                                    None => "with no warrant".into(),
                                }
                            ),
                            facts: grant_facts(cx, g, vec![("removed_on", date(removed))]),
                        });
                        reported.push((ent, "reappeared_grant"));
                        continue;
                    }
                }

                if let Some((at, _)) = rehired
                    && let Some(why) = creep::from_before_rehire(cx, i, g, &verdict, at)
                {
                    // Kept access is judged as a whole (see `creep::rehire_finding`).
                    causes.rehired.push(Item {
                        account: a,
                        entitlements: vec![ent],
                        severity: Severity::Info,
                        since: Some(g.since()),
                        line: format!("{}: {why}", place()),
                        facts: grant_facts(cx, g, Vec::new()),
                    });
                    reported.push((ent, "rehire_kept_access"));
                    continue;
                }

                if let Some(change) = &move_at {
                    match creep::kept_by_move(cx, i, g, &verdict, change) {
                        Kept::No => {}
                        Kept::InGrace => {
                            // Expected while the move settles: neither kept access yet nor
                            // drift.
                            reported.push((ent, ""));
                            continue;
                        }
                        Kept::Yes(why) => {
                            // Judged as a whole, like a rehire's (`creep::mover_finding`).
                            causes.moved.push(Item {
                                account: a,
                                entitlements: vec![ent],
                                severity: Severity::Info,
                                since: Some(g.since()),
                                line: format!("{}: {why}", place()),
                                facts: grant_facts(cx, g, Vec::new()),
                            });
                            reported.push((ent, "mover_kept_access"));
                            continue;
                        }
                    }
                }

                let expired = g.expires_at.filter(|&t| t <= observed).or(match &verdict {
                    Verdict::Record(rec) => rec.expires_at.filter(|&t| t <= observed),
                    _ => None,
                });
                match verdict {
                    Verdict::Unwarranted { reason, .. } => {
                        let escalate = cx.privileged(ent) || inv.systems[acc.system].sox();
                        causes.unwarranted.push(Item {
                            account: a,
                            entitlements: vec![ent],
                            severity: severity("unwarranted_grant", escalate),
                            since: Some(g.since()),
                            line: format!(
                                "{} since {}, source `{}`: {reason}",
                                place(),
                                date(g.since()),
                                g.source
                            ),
                            facts: grant_facts(cx, g, Vec::new()),
                        });
                        reported.push((ent, "unwarranted_grant"));
                        continue;
                    }
                    Verdict::SelfApproved(rec) => {
                        causes.self_approved.push(Item {
                            account: a,
                            entitlements: vec![ent],
                            severity: severity("self_approved_grant", false),
                            since: Some(rec.approved_at),
                            line: format!(
                                "{} through {}, which they approved themselves on {}",
                                place(),
                                rec.warrant(),
                                date(rec.approved_at)
                            ),
                            facts: grant_facts(cx, g, vec![("approved_at", date(rec.approved_at))]),
                        });
                        reported.push((ent, "self_approved_grant"));
                        continue;
                    }
                    Verdict::Owned(false) => continue,
                    Verdict::Role | Verdict::Record(_) | Verdict::Owned(true) => {}
                }

                if let Some(end) = expired {
                    causes.expired.push(Item {
                        account: a,
                        entitlements: vec![ent],
                        severity: severity("expired_grant", cx.privileged(ent)),
                        since: Some(end),
                        line: format!("{}: granted until {}", place(), date(end)),
                        facts: grant_facts(cx, g, vec![("ended_on", date(end))]),
                    });
                    reported.push((ent, "expired_grant"));
                    continue;
                }

                warranted += 1;
                let Verdict::Record(rec) = verdict else {
                    continue;
                };
                backed.push(ent);
                if !person || cx.role_explaining(i, ent).is_some() {
                    continue;
                }
                if matches!(
                    rec.kind,
                    WarrantKind::Request | WarrantKind::Review | WarrantKind::Exception
                ) {
                    causes.exceptions.push(Item {
                        account: a,
                        entitlements: vec![ent],
                        severity: severity("rbac_exception", false),
                        since: Some(rec.approved_at),
                        line: format!("{} through {}", place(), rec.warrant()),
                        facts: grant_facts(cx, g, Vec::new()),
                    });
                }
                // Individually approved privileged access with no end anywhere could be
                // just-in-time; a covered emergency account's access is the policy's.
                if cx.privileged(ent)
                    && !covered
                    && g.expires_at.is_none()
                    && rec.expires_at.is_none()
                    && matches!(rec.kind, WarrantKind::Request | WarrantKind::Review)
                {
                    causes.standing.push(Item {
                        account: a,
                        entitlements: vec![ent],
                        severity: severity("standing_privilege", false),
                        since: Some(rec.approved_at),
                        line: format!(
                            "{} through {}, approved on {} with no end date",
                            place(),
                            rec.warrant(),
                            date(rec.approved_at)
                        ),
                        facts: grant_facts(cx, g, Vec::new()),
                    });
                }
            }
        }
        cx.warranted += warranted;
        emit(cx, i, causes, move_at.as_ref());
        let mut reported: Vec<_> = reported
            .into_iter()
            .filter(|(_, rule)| rule.is_empty() || cx.enabled(rule))
            .map(|(e, _)| e)
            .collect();
        reported.sort_unstable();
        reported.dedup();
        backed.sort_unstable();
        backed.dedup();
        cx.reported[i.index()] = reported;
        cx.backed[i.index()] = backed;
    }
}

/// Pushes one finding per cause of a person.
fn emit(cx: &mut Context<'_>, i: IdentityIx, c: Causes, change: Option<&creep::Change<'_>>) {
    let who = cx.who(i);
    let name = cx.identity(i).name.clone();
    let single = |items: &[Item]| items.len() == 1;

    if cx.enabled("revoked_access_present") {
        let inv = cx.inv;
        for (item, k) in &c.contradicted {
            let rev = &inv.contradicted[*k];
            let mut d = cx.group(
                "revoked_access_present",
                i,
                std::slice::from_ref(item),
                &format!(
                    "Access review decision {} by {} on {} revoked this access of {who}, and it is \
                     still there:",
                    rev.decision,
                    rev.decided_by,
                    date(rev.decided_at)
                ),
                "Remove the access as decided (the remediation task has the same id as the \
                 decision and lists every path to it), or record a new warrant if it is needed \
                 after all.",
            );
            // One finding per decision, whatever else the person holds.
            d.per_person = false;
            d.key = vec![rev.decision.clone()];
            d.fact("decision", rev.decision.clone());
            d.fact("decided_by", rev.decided_by.clone());
            d.fact("decided_on", date(rev.decided_at));
            d.fact("seen", rev.why.clone());
            d.title = format!(
                "{} kept despite review decision {}",
                item.line_head(),
                rev.decision
            );
            cx.push(d);
        }
    }

    if !c.unwarranted.is_empty() && cx.enabled("unwarranted_grant") {
        let items = &c.unwarranted;
        let mut d = cx.group(
            "unwarranted_grant",
            i,
            items,
            &format!(
                "{who} holds {} that nothing explains:",
                plural(items.len(), "grant", "grants")
            ),
            "Find the approvals and record them (a request, a role, or an approved exception), \
             or remove the access.",
        );
        d.fact("grants", items.len().to_string());
        d.title = if single(items) {
            format!("Unwarranted {}", items[0].line_head())
        } else {
            format!("{} unwarranted grants for {name}", items.len())
        };
        cx.push(d);
    }
    if !c.reappeared.is_empty() && cx.enabled("reappeared_grant") {
        let items = &c.reappeared;
        let mut d = cx.group(
            "reappeared_grant",
            i,
            items,
            &format!(
                "{who} holds {} that came back after a removal without a new approval:",
                plural(items.len(), "grant", "grants")
            ),
            "Someone re-added revoked access: find out who and why, and remove it unless a new \
             approval exists.",
        );
        d.fact("grants", items.len().to_string());
        d.title = if single(items) {
            format!("{} came back without a new warrant", items[0].line_head())
        } else {
            format!(
                "{} grants of {name} came back without a new warrant",
                items.len()
            )
        };
        cx.push(d);
    }
    if !c.self_approved.is_empty() && cx.enabled("self_approved_grant") {
        let items = &c.self_approved;
        let mut d = cx.group(
            "self_approved_grant",
            i,
            items,
            &format!(
                "{who} holds {} resting on their own approval:",
                plural(items.len(), "grant", "grants")
            ),
            "Have the requests approved by their manager or the entitlement owner, or remove the \
             access.",
        );
        d.fact("grants", items.len().to_string());
        d.title = if single(items) {
            format!("{} was self-approved", items[0].line_head())
        } else {
            format!("{} grants of {name} were self-approved", items.len())
        };
        cx.push(d);
    }
    if !c.expired.is_empty() && cx.enabled("expired_grant") {
        let items = &c.expired;
        let mut d = cx.group(
            "expired_grant",
            i,
            items,
            &format!(
                "{who} still holds {} past the end date it was granted until:",
                plural(items.len(), "grant", "grants")
            ),
            "Time-bound access must be removed when it ends: remove it, or extend it through a \
             new request.",
        );
        d.fact("grants", items.len().to_string());
        d.title = if single(items) {
            format!("{} outlived its end date", items[0].line_head())
        } else {
            format!("{} grants of {name} outlived their end date", items.len())
        };
        cx.push(d);
    }
    if !c.standing.is_empty() && cx.enabled("standing_privilege") {
        let items = &c.standing;
        let mut d = cx.group(
            "standing_privilege",
            i,
            items,
            &format!(
                "{who} holds privileged access permanently: it was approved individually with no \
                 end date:"
            ),
            "Make it just-in-time (time-bound requests) or give it an end date.",
        );
        d.fact("grants", items.len().to_string());
        d.title = format!("Standing privileged access for {name}");
        cx.push(d);
    }
    if !c.exceptions.is_empty() && cx.enabled("rbac_exception") {
        let items = &c.exceptions;
        let mut d = cx.group(
            "rbac_exception",
            i,
            items,
            &format!(
                "{who} holds {} through individual approvals, not through a role:",
                plural(items.len(), "grant", "grants")
            ),
            "Each is approved; if peers need the same, a role would make it reviewable as one.",
        );
        d.fact("count", items.len().to_string());
        d.title = format!("Access outside roles for {name}");
        cx.push(d);
    }
    if !c.moved.is_empty()
        && cx.enabled("mover_kept_access")
        && let Some(change) = change
    {
        creep::mover_finding(cx, i, change, c.moved);
    }
    if !c.rehired.is_empty()
        && cx.enabled("rehire_kept_access")
        && let Some((at, from_hr)) = cx.rehired[i.index()]
    {
        creep::rehire_finding(cx, i, at, from_hr, c.rehired);
    }
}

impl Item {
    /// The item's line up to its first colon or ` since`/` through`: "X on `u` on erp".
    fn line_head(&self) -> &str {
        let cut = [": ", " since ", " through "]
            .iter()
            .filter_map(|sep| self.line.find(sep))
            .min()
            .unwrap_or(self.line.len());
        &self.line[..cut]
    }
}
