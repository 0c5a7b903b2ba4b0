//! Segregation of duties: per person, across all their accounts.

use gatehouse_model::state::{EntitlementIx, IdentityIx, SystemIx};
use rustc_hash::FxHashMap;

use crate::sod::{Ruleset, matches};
use crate::{Context, Draft, and_list};

pub(crate) fn run(cx: &mut Context<'_>, sod: &Ruleset) {
    if !cx.enabled("sod_conflict") || sod.rules.is_empty() {
        return;
    }
    let refs: Vec<(String, EntitlementIx)> =
        cx.ent_by_ref.iter().map(|(k, v)| (k.clone(), *v)).collect();
    // entitlement → (rule, set) pairs it belongs to.
    let mut member_of: FxHashMap<EntitlementIx, Vec<(usize, usize)>> = FxHashMap::default();
    for (r, rule) in sod.rules.iter().enumerate() {
        for (s, set) in rule.sets.iter().enumerate() {
            for pattern in set {
                let mut found = false;
                for (reference, e) in &refs {
                    if matches(pattern, reference) {
                        found = true;
                        member_of.entry(*e).or_default().push((r, s));
                    }
                }
                if !found {
                    cx.warnings.push(format!(
                        "segregation-of-duties rule `{}`: `{pattern}` matches no entitlement in the inventory",
                        rule.id
                    ));
                }
            }
        }
    }
    if member_of.is_empty() {
        return;
    }
    let today = cx.now.to_zoned(jiff::tz::TimeZone::UTC).date();
    for i in IdentityIx::all(cx.inv.identities.len()) {
        // Leavers' access is reported by `leaver_access`.
        if !cx.is_person(i) || cx.is_gone(i) {
            continue;
        }
        // (rule, set) → entitlements held from it.
        let mut hits: FxHashMap<(usize, usize), Vec<EntitlementIx>> = FxHashMap::default();
        for &e in &cx.holds[i.index()] {
            if let Some(pairs) = member_of.get(&e) {
                for &p in pairs {
                    hits.entry(p).or_default().push(e);
                }
            }
        }
        if hits.len() < 2 {
            continue;
        }
        for (r, rule) in sod.rules.iter().enumerate() {
            let sets: Vec<(usize, &Vec<EntitlementIx>)> = (0..rule.sets.len())
                .filter_map(|s| hits.get(&(r, s)).map(|v| (s, v)))
                .collect();
            let need = rule.min_sets.unwrap_or(2);
            if sets.len() < need {
                continue;
            }
            let key = Some(cx.identity(i).key.clone());
            let mut d = Draft::new("sod_conflict");
            d.identity = Some(i);
            d.key = vec![rule.id.clone()];
            let mut ents: Vec<EntitlementIx> =
                sets.iter().flat_map(|(_, v)| v.iter().copied()).collect();
            ents.sort_unstable();
            ents.dedup();
            // The single system, when all of it lives in one.
            let systems: Vec<SystemIx> = ents
                .iter()
                .map(|&e| cx.inv.entitlements[e].system)
                .collect();
            if systems.windows(2).all(|w| w[0] == w[1]) {
                d.system = systems.first().copied();
            }
            let held: Vec<String> = sets
                .iter()
                .map(|(s, v)| {
                    let names: Vec<String> = v.iter().map(|&e| cx.ent_name(e)).collect();
                    format!("set {}: {}", s + 1, and_list(&names))
                })
                .collect();
            d.entitlements = ents;
            d.fact("sod_rule", rule.id.as_str());
            if let Some(reg) = &rule.regulation {
                d.fact("regulation", reg.as_str());
            }
            let mut severity = rule.severity;
            let mut mitigation_note = String::new();
            let applicable = sod.mitigations.iter().filter(|m| {
                m.rule == rule.id
                    && (m.identities.is_empty()
                        || key.as_ref().is_some_and(|k| m.identities.contains(k)))
            });
            let mut best: Option<&crate::sod::Mitigation> = None;
            let mut expired: Option<&crate::sod::Mitigation> = None;
            for m in applicable {
                if m.expires >= today {
                    if best.is_none_or(|b| m.expires > b.expires) {
                        best = Some(m);
                    }
                } else if expired.is_none_or(|b| m.expires > b.expires) {
                    expired = Some(m);
                }
            }
            if let Some(m) = best {
                severity = m.severity;
                d.fact("mitigation", m.control.as_str());
                d.fact("mitigation_owner", m.owner.as_str());
                d.fact("mitigation_expires", m.expires.to_string());
                mitigation_note = format!(
                    " Mitigated until {} by a compensating control owned by {}: {} (severity \
                     lowered from {}).",
                    m.expires, m.owner, m.control, rule.severity
                );
            } else if let Some(m) = expired {
                d.fact("mitigation_expired", m.expires.to_string());
                mitigation_note = format!(
                    " A compensating control ({}) expired on {}; renew it or remove the conflict.",
                    m.control, m.expires
                );
            }
            d.fixed = Some(severity);
            d.title = format!("{}: {}", rule.id, rule.name);
            d.explanation = format!(
                "{} holds entitlements that rule {} ({}{}) keeps apart — {}.{}{} Remove one side, \
                 or document a mitigating control.",
                cx.who(i),
                rule.id,
                rule.name,
                rule.regulation
                    .as_ref()
                    .map(|r| format!(", {r}"))
                    .unwrap_or_default(),
                held.join("; "),
                rule.description
                    .as_ref()
                    .map(|t| format!(" {t}"))
                    .unwrap_or_default(),
                mitigation_note
            );
            cx.push(d);
        }
    }
}
