//! Drift: every grant must be explained by a request, a review, a role, a birthright rule or a
//! break-glass record. Also grants that came back after removal, rest on self-approval, or
//! outlived their end date; and individually granted access outside the role model.

use gatehouse_model::state::{AccountIx, GrantState, IdentityIx};
use gatehouse_model::{WarrantKind, WarrantRecord};

use crate::access::names;
use crate::{Context, Draft, and_list, date};

enum Verdict<'a> {
    Role,
    Record(&'a WarrantRecord),
    SelfApproved(&'a WarrantRecord),
    Unwarranted(String),
}

fn judge<'a>(cx: &Context<'a>, identity: IdentityIx, g: &GrantState) -> Verdict<'a> {
    let ent = g.entitlement;
    if cx.role_explaining(identity, ent).is_some()
        && cx
            .inv
            .warrant(g)
            .is_none_or(|w| matches!(w.kind, WarrantKind::Role | WarrantKind::Birthright))
    {
        return Verdict::Role;
    }
    let Some(w) = cx.inv.warrant(g) else {
        return Verdict::Unwarranted("no warrant is recorded for it".into());
    };
    match w.kind {
        WarrantKind::Role | WarrantKind::Birthright => {
            match cx.role_index.get(w.reference.as_str()) {
                None => Verdict::Unwarranted(format!(
                    "it cites {w}, which is not in the role catalogue"
                )),
                Some(&r) if cx.role_ents[r].binary_search(&ent).is_err() => {
                    Verdict::Unwarranted(format!("it cites {w}, which does not include it"))
                }
                Some(_) => Verdict::Unwarranted(format!(
                    "it cites {w}, which does not apply to the holder (any more)"
                )),
            }
        }
        kind => {
            let Some(&r) = cx.records.get(&(kind, w.reference.as_str())) else {
                return Verdict::Unwarranted(format!(
                    "it cites {w}, which is not among the warrant records"
                ));
            };
            let rec = &cx.inv.warrant_records[r];
            let holder = cx.identity(identity).key.as_str();
            let e = &cx.inv.entitlements[ent].record;
            if rec.identity.as_str() != holder {
                Verdict::Unwarranted(format!(
                    "{w} was granted to {}, not to the holder",
                    rec.identity
                ))
            } else if rec.entitlement.system != e.system || rec.entitlement.native_id != e.native_id
            {
                Verdict::Unwarranted(format!(
                    "{w} is for {}, not for this entitlement",
                    rec.entitlement
                ))
            } else if kind != WarrantKind::BreakGlass
                && rec
                    .approved_by
                    .as_ref()
                    .is_some_and(|a| a.as_str() == holder)
            {
                Verdict::SelfApproved(rec)
            } else if kind != WarrantKind::BreakGlass && rec.approved_by.is_none() {
                Verdict::Unwarranted(format!("{w} has no approver"))
            } else {
                Verdict::Record(rec)
            }
        }
    }
}

pub(crate) fn run(cx: &mut Context<'_>) {
    let inv = cx.inv;
    for a in AccountIx::all(inv.accounts.len()) {
        let acc = cx.account(a);
        // Orphans' and leavers' grants are reported by their own rules.
        let Some(identity) = acc.identity else {
            continue;
        };
        if cx.is_terminated(identity) {
            continue;
        }
        let observed = cx.observed(acc.system);
        let sox = inv.systems[acc.system].sox();
        let who = crate::Who(cx.inv, Some(identity));
        let sys_name = crate::SystemName(cx.inv, acc.system);
        let mut exceptions = Vec::new();
        for g in inv.grants_of(acc) {
            let ent = g.entitlement;
            let verdict = judge(cx, identity, g);
            let grant_draft = |rule: &'static str| {
                let mut d = Draft::new(rule);
                d.identity = Some(identity);
                d.system = Some(acc.system);
                d.account = Some(a);
                d.key = vec![inv.entitlements[ent].record.native_id.clone()];
                d.entitlements = vec![ent];
                d.fact("source", g.source.as_str());
                if let Some(w) = inv.warrant(g) {
                    d.fact("warrant", w.to_string());
                }
                d.fact("first_seen", date(g.first_seen));
                d
            };
            let ent_name = cx.ent_name(ent);

            if let Some(removed) = g.removed_before {
                let renewed = match &verdict {
                    Verdict::Role => true,
                    Verdict::Record(rec) => rec.approved_at >= removed,
                    _ => false,
                };
                if !renewed {
                    if cx.enabled("reappeared_grant") {
                        let mut d = grant_draft("reappeared_grant");
                        d.fact("removed_on", date(removed));
                        d.title = format!(
                            "{ent_name} came back for {} without a new warrant",
                            account_label(cx, a)
                        );
                        d.explanation = format!(
                            "{} on account `{}` of {who} ({sys_name}) was removed on {} and is \
                             back since {}, {}. Someone re-added revoked access: find out who and \
                             why, and remove it unless a new approval exists.",
                            ent_name,
                            acc.username,
                            date(removed),
                            date(g.first_seen),
                            match inv.warrant(g) {
                                Some(w) => format!("still citing {w}, approved before the removal"),
                                None => "with no warrant".into(),
                            }
                        );
                        cx.push(d);
                    }
                    continue;
                }
            }

            let expired = g.expires_at.filter(|&t| t <= observed).or(match &verdict {
                Verdict::Record(rec) => rec.expires_at.filter(|&t| t <= observed),
                _ => None,
            });

            match verdict {
                Verdict::Unwarranted(reason) => {
                    if cx.enabled("unwarranted_grant") {
                        let mut d = grant_draft("unwarranted_grant");
                        if cx.privileged(ent) || sox {
                            d.escalate += 1;
                        }
                        d.title = format!("Unwarranted {ent_name} for {}", account_label(cx, a));
                        d.explanation = format!(
                            "{who} holds {ent_name} on account `{}` ({sys_name}) since {}, \
                             source `{}`, but {reason}. Find the approval and record it, or \
                             remove the access.",
                            acc.username,
                            date(g.first_seen),
                            g.source
                        );
                        cx.push(d);
                    }
                    continue;
                }
                Verdict::SelfApproved(rec) => {
                    if cx.enabled("self_approved_grant") {
                        let mut d = grant_draft("self_approved_grant");
                        d.fact("approved_at", date(rec.approved_at));
                        d.title =
                            format!("{ent_name} for {} was self-approved", account_label(cx, a));
                        d.explanation = format!(
                            "{who} holds {ent_name} on {sys_name} through {}, which they \
                             approved themselves on {}. Have the request approved by their \
                             manager or the entitlement owner, or remove the access.",
                            rec.warrant(),
                            date(rec.approved_at)
                        );
                        cx.push(d);
                    }
                    continue;
                }
                Verdict::Role | Verdict::Record(_) => {}
            }

            if let Some(end) = expired {
                if cx.enabled("expired_grant") {
                    let mut d = grant_draft("expired_grant");
                    if cx.privileged(ent) {
                        d.escalate += 1;
                    }
                    d.fact("ended_on", date(end));
                    d.title = format!(
                        "{ent_name} for {} outlived its end date",
                        account_label(cx, a)
                    );
                    d.explanation = format!(
                        "{who} still holds {ent_name} on {sys_name}; it was granted until {}. \
                         Time-bound access must be removed when it ends: remove it, or extend it \
                         through a new request.",
                        date(end)
                    );
                    cx.push(d);
                }
                continue;
            }

            cx.warranted += 1;
            if let Verdict::Record(_) = verdict
                && cx.role_explaining(identity, ent).is_none()
                && cx.is_person(identity)
            {
                exceptions.push(ent);
            }
        }

        if !exceptions.is_empty() && cx.enabled("rbac_exception") {
            let mut d = Draft::new("rbac_exception");
            d.identity = Some(identity);
            d.system = Some(acc.system);
            d.account = Some(a);
            d.entitlements = exceptions.clone();
            d.fact("count", exceptions.len().to_string());
            d.title = format!("Access outside roles for {}", account_label(cx, a));
            d.explanation = format!(
                "{who} holds {} on {sys_name} through individual requests or reviews, not \
                 through a role. Each is approved; if peers need the same, a role would make \
                 it reviewable as one.",
                and_list(&names(cx, &exceptions))
            );
            cx.push(d);
        }
    }
}

fn account_label(cx: &Context<'_>, a: AccountIx) -> String {
    let acc = cx.account(a);
    format!("`{}` on {}", acc.username, cx.system_key(acc.system))
}
