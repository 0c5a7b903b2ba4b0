//! A campaign's population: from the current inventory, the grants (or role entitlements) in
//! its scope, each with what the reviewer sees beside it, who reviews it at each stage, and a
//! recommendation with its reason. The population is hashed in a fixed order (system, account,
//! entitlement), so the same inventory and campaign always give the same hash; items are
//! numbered by the reviewer the first stage's rule names, then in that order, so that each
//! reviewer's items are together (the store writes and reads a reviewer's items as
//! neighbours).

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_model::state::{
    AccountState, EntitlementIx, EntitlementState, GrantState, IdentityIx, Inventory,
};
use gatehouse_model::{
    AccountKind, BATCH_RECORDS, CampaignCreated, CampaignKind, EntitlementContext, EntitlementRef,
    Exclusion, Finding, HolderContext, Identity, IdentityKind, ItemContext, ReviewItem,
    ReviewerRule, SystemKey, Timestamp, Verdict, WarrantKind,
};
use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest, Sha256};

use super::policy::hex;
use super::{CampaignError, Directory, date};

/// What a population is built from besides the inventory.
pub(crate) struct Inputs<'a> {
    /// The campaign (kind, systems, stages, trigger).
    pub campaign: &'a CampaignCreated,
    /// Open (not accepted, not resolved) findings.
    pub findings: &'a [Finding],
    /// What to leave out: `(subject, reason)`.
    pub exclusions: &'a [(String, String)],
    /// For a delta campaign: the grants new or changed since the last one.
    pub changed: Option<&'a BTreeSet<(String, String, String)>>,
    /// Recommend revoking what was not used for this many days.
    pub dormant_days: u32,
    /// The time of the launch.
    pub now: Timestamp,
}

/// A frozen population.
pub(crate) struct Population {
    /// The items, numbered from 1, in batches of [`BATCH_RECORDS`] (the last one may be
    /// shorter): those of the `review.items` events, built in place so that a million items
    /// are not moved from one list into another. In a grant review, their context is their
    /// own: what is the same on all of a holder's or an entitlement's items is in `holders`
    /// and `entitlements`.
    pub batches: Vec<Vec<ReviewItem>>,
    /// Per item, in order: its holder's record in `holders` and its entitlement's in
    /// `entitlements`.
    pub refs: Vec<(Option<u32>, Option<u32>)>,
    /// The holders' context, in the order of their first item.
    pub holders: Vec<HolderContext>,
    /// The entitlements' context, in the order of their first item.
    pub entitlements: Vec<EntitlementContext>,
    /// SHA-256 over the population's lines.
    pub sha256: String,
    /// Items by system.
    pub systems: BTreeMap<String, u64>,
    /// What was left out.
    pub exclusions: Vec<Exclusion>,
}

impl Population {
    /// The number of items.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// Whether there is no item.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// The items, in order.
    pub fn items(&self) -> impl Iterator<Item = &ReviewItem> {
        self.batches.iter().flatten()
    }
}

/// Gathers items into batches of [`BATCH_RECORDS`]: a full batch given whole while none is
/// begun is kept as it is, anything else is moved item by item.
#[derive(Default)]
struct Batcher {
    batches: Vec<Vec<ReviewItem>>,
    open: Vec<ReviewItem>,
}

impl Batcher {
    fn add(&mut self, items: Vec<ReviewItem>) {
        if self.open.is_empty() && items.len() == BATCH_RECORDS {
            self.batches.push(items);
            return;
        }
        for item in items {
            self.push(item);
        }
    }

    fn push(&mut self, item: ReviewItem) {
        if self.open.capacity() == 0 {
            self.open.reserve_exact(BATCH_RECORDS);
        }
        self.open.push(item);
        if self.open.len() == BATCH_RECORDS {
            self.batches.push(std::mem::take(&mut self.open));
        }
    }

    fn finish(mut self) -> Vec<Vec<ReviewItem>> {
        if !self.open.is_empty() {
            self.batches.push(self.open);
        }
        self.batches
    }
}

/// A subject to leave out.
enum Subject {
    Grant(String, String, String),
    Account(String, String),
    Entitlement(String, String),
    Identity(String),
    System(String),
}

fn parse_subject(s: &str) -> Result<Subject, CampaignError> {
    let invalid = || {
        CampaignError::Invalid(format!(
            "`{s}` names nothing to exclude: write `grant:system:account/entitlement`, \
             `account:system:account`, `entitlement:system:entitlement`, `identity:KEY` or \
             `system:KEY`"
        ))
    };
    let (kind, rest) = s.split_once(':').ok_or_else(invalid)?;
    let split_system = |r: &str| {
        r.split_once(':')
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .ok_or_else(invalid)
    };
    Ok(match kind {
        "grant" => {
            let (system, rest) = split_system(rest)?;
            let (account, entitlement) = rest.split_once('/').ok_or_else(invalid)?;
            Subject::Grant(system, account.to_owned(), entitlement.to_owned())
        }
        "account" => {
            let (system, account) = split_system(rest)?;
            Subject::Account(system, account)
        }
        "entitlement" => {
            let (system, e) = split_system(rest)?;
            Subject::Entitlement(system, e)
        }
        "identity" if !rest.is_empty() => Subject::Identity(rest.to_owned()),
        "system" if !rest.is_empty() => Subject::System(rest.to_owned()),
        _ => return Err(invalid()),
    })
}

impl Subject {
    fn matches(&self, system: &str, account: &str, entitlement: &str, holder: &str) -> bool {
        match self {
            Subject::Grant(s, a, e) => s == system && a == account && e == entitlement,
            Subject::Account(s, a) => s == system && a == account,
            Subject::Entitlement(s, e) => s == system && e == entitlement,
            Subject::Identity(k) => k == holder,
            Subject::System(s) => s == system,
        }
    }
}

/// Open findings about one identity: (id, rule, entitlements, account, sod rule).
struct FindingFacts<'a> {
    id: &'a str,
    rule: &'a str,
    entitlements: FxHashSet<String>,
    account: Option<(&'a str, &'a str)>,
    sod_rule: Option<&'a str>,
}

/// A peer group: its members and how many of them hold each entitlement.
type Group = (u32, FxHashMap<EntitlementIx, u32>);

/// The peer groups, by department and title.
#[derive(Default)]
struct Peers<'a> {
    groups: FxHashMap<(&'a str, &'a str), Group>,
}

fn job(identity: &Identity) -> Option<(&str, &str)> {
    let p = identity.person.as_ref()?;
    Some((p.department.as_deref()?, p.title.as_deref()?))
}

impl<'a> Peers<'a> {
    fn new(inv: &'a Inventory, dir: &Directory) -> Peers<'a> {
        let mut peers = Peers::default();
        let mut holds: FxHashMap<usize, FxHashSet<EntitlementIx>> = FxHashMap::default();
        for acc in &inv.accounts {
            if let Some(i) = acc.identity {
                holds
                    .entry(i.index())
                    .or_default()
                    .extend(inv.grants_of(acc).iter().map(|g| g.entitlement));
            }
        }
        for (i, identity) in inv.identities.iter().enumerate() {
            let Some(key) = job(identity) else { continue };
            if !dir.is_current(&identity.key) {
                continue;
            }
            let g = peers.groups.entry(key).or_default();
            g.0 += 1;
            if let Some(h) = holds.get(&i) {
                for e in h {
                    *g.1.entry(*e).or_default() += 1;
                }
            }
        }
        peers
    }

    /// Share (per cent) of the holder's peers, the holder left out, who hold `ent`.
    fn share(&self, identity: &Identity, ent: EntitlementIx) -> Option<u32> {
        let (members, holders) = self.groups.get(&job(identity)?)?;
        let others = members.saturating_sub(1);
        if others == 0 {
            return None;
        }
        let held = holders.get(&ent).copied().unwrap_or(0).saturating_sub(1);
        Some(held * 100 / others)
    }
}

/// Builds a grant campaign's population (every kind but role definitions).
pub(crate) fn grants(
    inv: &Inventory,
    dir: &Directory,
    input: &Inputs<'_>,
) -> Result<Population, CampaignError> {
    let c = input.campaign;
    let in_scope: FxHashSet<&str> = c.systems.iter().map(SystemKey::as_str).collect();
    let subjects: Vec<(Subject, &str, &str)> = input
        .exclusions
        .iter()
        .map(|(s, why)| Ok((parse_subject(s)?, s.as_str(), why.as_str())))
        .collect::<Result<_, CampaignError>>()?;
    let mut excluded = vec![0u64; subjects.len()];

    // Open findings by identity.
    let mut by_identity: FxHashMap<&str, Vec<FindingFacts<'_>>> = FxHashMap::default();
    for f in input.findings {
        let Some(who) = f.identity.as_ref() else {
            continue;
        };
        by_identity
            .entry(who.as_str())
            .or_default()
            .push(FindingFacts {
                id: &f.id,
                rule: &f.rule,
                entitlements: f.entitlements.iter().map(|e| e.to_string()).collect(),
                account: f
                    .system
                    .as_ref()
                    .zip(f.account.as_deref())
                    .map(|(s, a)| (s.as_str(), a)),
                sod_rule: f.facts.get("sod_rule").map(String::as_str),
            });
    }
    // The trigger of an event-driven review: only what its finding lists.
    let trigger = match (&c.kind, &c.trigger) {
        (CampaignKind::EventDriven, Some(id)) => {
            let f = input.findings.iter().find(|f| &f.id == id).ok_or_else(|| {
                CampaignError::State(format!(
                    "finding `{id}` that opened this review is no longer open"
                ))
            })?;
            Some(f)
        }
        _ => None,
    };
    let peers = Peers::new(inv, dir);
    let role_of = RolesOf::new(inv, dir);
    let records: FxHashMap<(WarrantKind, &str), usize> = inv
        .warrant_records
        .iter()
        .enumerate()
        .map(|(i, w)| ((w.kind, w.id.as_str()), i))
        .collect();
    let fallbacks_owner = c.owner.clone();
    let compliance = c.rules.compliance_owner.clone();
    let fallbacks = [&compliance, &fallbacks_owner];

    // In a fixed order: system, account, entitlement. Accounts are sorted, then each one's
    // few grants (sorting a million grants as one list compared strings some twenty million times).
    let mut accounts: Vec<&AccountState> = inv
        .accounts
        .iter()
        .filter(|acc| in_scope.contains(inv.systems[acc.system].config.key.as_str()))
        .collect();
    accounts.sort_unstable_by(|x, y| {
        let sx = inv.systems[x.system].config.key.as_str();
        let sy = inv.systems[y.system].config.key.as_str();
        sx.cmp(sy).then_with(|| x.native_id.cmp(&y.native_id))
    });
    let mut out: Vec<(&AccountState, &GrantState)> = Vec::with_capacity(inv.grants.len());
    for acc in accounts {
        let start = out.len();
        out.extend(inv.grants_of(acc).iter().map(|g| (acc, g)));
        out[start..].sort_unstable_by(|x, y| {
            inv.entitlements[x.1.entitlement]
                .record
                .native_id
                .cmp(&inv.entitlements[y.1.entitlement].record.native_id)
        });
    }

    let facts = Facts {
        inv,
        dir,
        input,
        subjects: &subjects,
        by_identity: &by_identity,
        trigger,
        peers: &peers,
        roles: &role_of,
        records: &records,
        fallbacks: &fallbacks,
    };
    // Items are numbered by the reviewer the first stage's rule names, then in the order
    // above, so that each reviewer's items are neighbours (in the events, the inbox and the
    // store's tables). The grants are put in that order before they are judged, so that the
    // items are built where they belong: a million items are not moved to be sorted.
    let order = by_first_reviewer(&out, &facts);
    let ordered: Vec<(&AccountState, &GrantState)> =
        order.iter().map(|&i| out[i as usize]).collect();
    // Each item is judged on its own: the grants are judged in blocks of BATCH_RECORDS,
    // shared out among the processors, and each block's items stay in the list they were
    // built in, which becomes a batch of the `review.items` events when nothing of the block
    // was left out. Numbering and the holders' and entitlements' records follow, in order;
    // the hash goes over the items in the order above.
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8);
    let blocks: Vec<_> = ordered
        .chunks(BATCH_RECORDS)
        .zip(order.chunks(BATCH_RECORDS))
        .collect();
    let per_thread = blocks.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<Part>, CampaignError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = blocks
            .chunks(per_thread)
            .map(|mine| {
                let facts = &facts;
                scope.spawn(move || {
                    mine.iter()
                        .map(|(grants, at)| facts.judge(grants, at))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(CampaignError::State(
                        "building the population failed".into(),
                    ))
                })
            })
            .collect()
    });
    let mut batcher = Batcher::default();
    let mut sides: Vec<(Option<IdentityIx>, EntitlementIx)> = Vec::with_capacity(out.len());
    // For each grant in the order above, the item made of it (by its place in the list).
    let mut item_of = vec![u32::MAX; out.len()];
    let mut made = 0u32;
    for p in parts {
        for part in p? {
            for (total, n) in excluded.iter_mut().zip(&part.excluded) {
                *total += n;
            }
            for at in &part.at {
                item_of[*at as usize] = made;
                made += 1;
            }
            sides.extend(part.sides);
            batcher.add(part.items);
        }
    }
    let mut batches = batcher.finish();
    let mut hash = Sha256::new();
    let mut systems: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_system: Option<(SystemKey, u64)> = None;
    let items: Vec<&ReviewItem> = batches.iter().flatten().collect();
    for &i in item_of.iter().filter(|&&i| i != u32::MAX) {
        let item = items[i as usize];
        for part in [
            item.system.as_str(),
            item.account.as_deref().unwrap_or(""),
            &item.entitlement,
        ] {
            hash.update(part.as_bytes());
            hash.update(b"\t");
        }
        hash.update(item.identity.as_ref().map_or("", |k| k.as_str()).as_bytes());
        hash.update(b"\n");
        match &mut last_system {
            Some((k, n)) if *k == item.system => *n += 1,
            _ => {
                if let Some((k, n)) = last_system.take() {
                    *systems.entry(k.to_string()).or_default() += n;
                }
                last_system = Some((item.system.clone(), 1));
            }
        }
    }
    drop(items);
    let mut refs = Vec::with_capacity(sides.len());
    let mut holders = Vec::new();
    let mut entitlements = Vec::new();
    let mut holder_of: FxHashMap<IdentityIx, u32> = FxHashMap::default();
    let mut entitlement_of: FxHashMap<EntitlementIx, u32> = FxHashMap::default();
    for ((item, (holder, ent)), n) in batches.iter_mut().flatten().zip(sides).zip(1u32..) {
        item.n = n;
        let h = holder.map(|ix| {
            *holder_of.entry(ix).or_insert_with(|| {
                holders.push(holder_context(inv, dir, ix));
                holders.len() as u32 - 1
            })
        });
        let e = *entitlement_of.entry(ent).or_insert_with(|| {
            entitlements.push(entitlement_context(inv, &inv.entitlements[ent]));
            entitlements.len() as u32 - 1
        });
        refs.push((h, Some(e)));
    }
    if let Some((k, n)) = last_system {
        *systems.entry(k.to_string()).or_default() += n;
    }
    let exclusions = exclusions_of(subjects, excluded)?;
    Ok(Population {
        batches,
        refs,
        holders,
        entitlements,
        sha256: hex(&hash.finalize()),
        systems,
        exclusions,
    })
}

/// The places of `grants` in the order of the reviewer the first stage's rule names for each
/// (by key; none first), and for each reviewer in the order given: an index sort of
/// `(rank, place)` pairs, so that a million grants are not compared by their keys.
fn by_first_reviewer(grants: &[(&AccountState, &GrantState)], facts: &Facts<'_, '_>) -> Vec<u32> {
    let Some(rule) = facts.input.campaign.rules.stages.first() else {
        return (0..grants.len() as u32).collect();
    };
    let mut order: Vec<(u32, u32)> = Vec::with_capacity(grants.len());
    let mut ids: FxHashMap<&str, u32> = FxHashMap::default();
    for (&(acc, g), i) in grants.iter().zip(0u32..) {
        let reviewer = facts
            .named(rule, acc, g)
            .map_or("", gatehouse_model::IdentityKey::as_str);
        let next = ids.len() as u32;
        order.push((*ids.entry(reviewer).or_insert(next), i));
    }
    let mut names: Vec<(&str, u32)> = ids.into_iter().collect();
    names.sort_unstable();
    let mut rank = vec![0u32; names.len()];
    for (r, (_, id)) in names.iter().enumerate() {
        rank[*id as usize] = r as u32;
    }
    for o in &mut order {
        o.0 = rank[o.0 as usize];
    }
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i).collect()
}

/// What a holder's items show about them.
fn holder_context(inv: &Inventory, dir: &Directory, ix: IdentityIx) -> HolderContext {
    let h = &inv.identities[ix.index()];
    HolderContext {
        identity: h.key.clone(),
        name: Some(h.name.clone()),
        manager: dir.manager(&h.key).cloned(),
        department: h.person.as_ref().and_then(|p| p.department.clone()),
        title: h.person.as_ref().and_then(|p| p.title.clone()),
        status: Some(match &h.person {
            Some(p) => p.status_text().to_owned(),
            None => h.kind.as_str().to_owned(),
        }),
        purpose: h.non_human.as_ref().and_then(|n| n.purpose.clone()),
        rotated: h
            .non_human
            .as_ref()
            .and_then(|n| n.last_rotated.or(n.credential_created)),
    }
}

/// What an entitlement's items show about it.
fn entitlement_context(inv: &Inventory, ent: &EntitlementState) -> EntitlementContext {
    EntitlementContext {
        system: inv.systems[ent.system].config.key.clone(),
        entitlement: ent.record.native_id.clone(),
        name: Some(ent.record.name.clone()).filter(|n| *n != ent.record.native_id),
        meaning: ent.record.description.clone(),
        privileged: ent.privileged(),
        risk: ent.record.risk,
    }
}

/// The items of a block of grants (not numbered yet), each one's holder and entitlement, and
/// how many each exclusion left out of it.
struct Part {
    items: Vec<ReviewItem>,
    /// Each item's grant, by its place in the population's fixed order.
    at: Vec<u32>,
    sides: Vec<(Option<IdentityIx>, EntitlementIx)>,
    excluded: Vec<u64>,
}

/// What judging a grant reads, shared by the threads that judge.
struct Facts<'a, 'b> {
    inv: &'a Inventory,
    dir: &'b Directory,
    input: &'b Inputs<'b>,
    subjects: &'b [(Subject, &'b str, &'b str)],
    by_identity: &'b FxHashMap<&'a str, Vec<FindingFacts<'a>>>,
    trigger: Option<&'b Finding>,
    peers: &'b Peers<'a>,
    roles: &'b RolesOf<'a>,
    records: &'b FxHashMap<(WarrantKind, &'a str), usize>,
    fallbacks: &'b [&'b gatehouse_model::IdentityKey],
}

impl Facts<'_, '_> {
    /// Selects, excludes and judges each of `grants` (in order).
    fn judge(
        &self,
        grants: &[(&AccountState, &GrantState)],
        at: &[u32],
    ) -> Result<Part, CampaignError> {
        let (inv, dir, input) = (self.inv, self.dir, self.input);
        let c = input.campaign;
        let mut part = Part {
            items: Vec::with_capacity(grants.len()),
            at: Vec::with_capacity(grants.len()),
            sides: Vec::with_capacity(grants.len()),
            excluded: vec![0; self.subjects.len()],
        };
        for (&(acc, g), &place) in grants.iter().zip(at) {
            let ent = &inv.entitlements[g.entitlement];
            let system_state = &inv.systems[acc.system];
            let system = &system_state.config;
            let holder = inv.identity(acc.identity);
            let holder_key = holder
                .map(|h| h.key.as_str())
                .or(acc.dangling_identity.as_ref().map(|k| k.as_str()))
                .unwrap_or("");
            let privileged = ent.privileged();
            let non_human = holder.is_some_and(|h| h.kind != IdentityKind::Person)
                || acc.kind == AccountKind::Service;
            let facts = holder
                .and_then(|h| self.by_identity.get(h.key.as_str()))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let needs_ref = !facts.is_empty() || self.trigger.is_some();
            let ent_ref = if needs_ref {
                format!("{}:{}", system.key, ent.record.native_id)
            } else {
                String::new()
            };
            let about: Vec<&FindingFacts<'_>> = facts
                .iter()
                .filter(|f| {
                    f.entitlements.contains(&ent_ref)
                        || (f.entitlements.is_empty()
                            && f.account.is_some_and(|(s, a)| {
                                s == system.key.as_str() && a == &*acc.native_id
                            }))
                })
                .collect();
            let sod = about.iter().find_map(|f| {
                (f.rule == "sod_conflict").then(|| f.sod_rule.unwrap_or(f.id).to_owned())
            });
            let selected = match c.kind {
                CampaignKind::Full | CampaignKind::External => true,
                CampaignKind::Privileged => privileged,
                CampaignKind::NonHuman => non_human,
                CampaignKind::Sod => sod.is_some(),
                CampaignKind::Delta => input.changed.is_none_or(|set| {
                    set.contains(&(
                        system.key.to_string(),
                        acc.native_id.to_string(),
                        ent.record.native_id.clone(),
                    ))
                }),
                CampaignKind::EventDriven => self.trigger.is_some_and(|f| {
                    f.identity.as_ref().map(|k| k.as_str()) == Some(holder_key)
                        && (f.entitlements.iter().any(|e| e.to_string() == ent_ref))
                }),
                CampaignKind::RoleDefinitions => false,
            } && (!c.privileged_only || privileged);
            if !selected {
                continue;
            }
            if let Some(i) = self.subjects.iter().position(|(s, _, _)| {
                s.matches(
                    system.key.as_str(),
                    &acc.native_id,
                    &ent.record.native_id,
                    holder_key,
                )
            }) {
                part.excluded[i] += 1;
                continue;
            }

            // The item's own context: the holder's and the entitlement's are recorded once.
            let context = ItemContext {
                last_login: acc.last_login,
                source: Some(g.source.as_str().to_owned()),
                warrant: inv.warrant(g).map(|w| w.to_string()),
                since: Some(g.since()),
                findings: about.iter().map(|f| f.id.to_owned()).collect(),
                peers: holder.and_then(|h| self.peers.share(h, g.entitlement)),
                sod,
                ..ItemContext::default()
            };
            let observed = system_state.as_of.unwrap_or(input.now);
            let (recommendation, reason) = recommend(&Judge {
                inv,
                dir,
                holder,
                acc,
                g,
                about: &about,
                context: &context,
                records: self.records,
                roles: self.roles.explaining(acc.identity, g.entitlement),
                dormant_days: input.dormant_days,
                observed,
            });

            // Reviewers, stage by stage.
            let holder_id = holder.map(|h| &h.key).or(acc.dangling_identity.as_ref());
            let mut reviewers = Vec::with_capacity(c.rules.stages.len());
            let mut notes = Vec::new();
            for rule in &c.rules.stages {
                let candidate = self.named(rule, acc, g);
                let (who, note) =
                    dir.settle(candidate, holder_id, self.fallbacks, rule.as_str())?;
                if let Some(n) = note {
                    notes.push(n);
                }
                reviewers.push(who);
            }

            part.items.push(ReviewItem {
                n: 0,
                system: system.key.clone(),
                account: Some(acc.native_id.to_string()),
                entitlement: ent.record.native_id.clone(),
                role: None,
                identity: holder_id.cloned(),
                reviewers,
                assignment: (!notes.is_empty()).then(|| notes.join("; ")),
                recommendation,
                reason,
                context,
            });
            part.sides
                .push((acc.identity.filter(|_| holder.is_some()), g.entitlement));
            part.at.push(place);
        }
        Ok(part)
    }

    /// Who `rule` names to review a grant, before any replacement (the holder reviews none of
    /// their own access; someone who left is replaced by the escalation path).
    fn named<'x>(
        &'x self,
        rule: &ReviewerRule,
        acc: &AccountState,
        g: &GrantState,
    ) -> Option<&'x gatehouse_model::IdentityKey> {
        let (inv, dir) = (self.inv, self.dir);
        let system = &inv.systems[acc.system].config;
        let holder = inv.identity(acc.identity);
        match rule {
            ReviewerRule::Manager => holder
                .and_then(|h| dir.manager(&h.key))
                .or(system.owner.as_ref()),
            ReviewerRule::SystemOwner | ReviewerRule::RoleOwner => system.owner.as_ref(),
            ReviewerRule::EntitlementOwner => inv.entitlements[g.entitlement]
                .record
                .owner
                .as_ref()
                .or(system.owner.as_ref()),
            ReviewerRule::NhiOwner => holder
                .and_then(|h| dir.owner(&h.key).or(dir.manager(&h.key)))
                .or(system.owner.as_ref()),
        }
    }
}

fn exclusions_of(
    subjects: Vec<(Subject, &str, &str)>,
    counts: Vec<u64>,
) -> Result<Vec<Exclusion>, CampaignError> {
    subjects
        .into_iter()
        .zip(counts)
        .map(|((_, subject, reason), grants)| {
            if grants == 0 {
                return Err(CampaignError::Invalid(format!(
                    "the exclusion `{subject}` leaves out nothing of this campaign's population"
                )));
            }
            if reason.trim().is_empty() {
                return Err(CampaignError::Invalid(format!(
                    "the exclusion `{subject}` needs a reason"
                )));
            }
            Ok(Exclusion {
                subject: subject.to_owned(),
                reason: reason.trim().to_owned(),
                grants,
            })
        })
        .collect()
}

/// Which roles apply to whom, and what they bundle.
struct RolesOf<'a> {
    inv: &'a Inventory,
    /// Per identity index: the roles (positions) that apply.
    applying: Vec<Vec<usize>>,
    /// Per role: its entitlements.
    bundles: Vec<FxHashSet<EntitlementIx>>,
}

impl<'a> RolesOf<'a> {
    fn new(inv: &'a Inventory, dir: &Directory) -> RolesOf<'a> {
        let by_ref: FxHashMap<String, EntitlementIx> = inv
            .entitlements
            .iter()
            .enumerate()
            .map(|(i, e)| {
                (
                    format!("{}:{}", e.record.system, e.record.native_id),
                    EntitlementIx::new(i),
                )
            })
            .collect();
        let bundles = inv
            .roles
            .iter()
            .map(|r| {
                r.entitlements
                    .iter()
                    .filter_map(|e| by_ref.get(&e.to_string()).copied())
                    .collect()
            })
            .collect();
        let applying = inv
            .identities
            .iter()
            .map(|identity| {
                let current = dir.is_current(&identity.key);
                inv.roles
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| current && r.applies_to(identity))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        RolesOf {
            inv,
            applying,
            bundles,
        }
    }

    /// A role that applies to the holder and bundles the entitlement.
    fn explaining(&self, holder: Option<IdentityIx>, ent: EntitlementIx) -> Option<&'a str> {
        self.applying
            .get(holder?.index())?
            .iter()
            .find(|&&r| self.bundles[r].contains(&ent))
            .map(|&r| self.inv.roles[r].name.as_str())
    }
}

/// What a recommendation is made from.
struct Judge<'a, 'b> {
    inv: &'a Inventory,
    dir: &'b Directory,
    holder: Option<&'a Identity>,
    acc: &'a AccountState,
    g: &'a GrantState,
    about: &'b [&'b FindingFacts<'a>],
    context: &'b ItemContext,
    records: &'b FxHashMap<(WarrantKind, &'a str), usize>,
    roles: Option<&'a str>,
    dormant_days: u32,
    observed: Timestamp,
}

/// Short reasons for findings that make access a candidate for revoking.
const REVOKE_RULES: &[(&str, &str)] = &[
    ("revoked_access_present", "revoked by an earlier review"),
    ("leaver_access", "holder has left"),
    ("status_access", "holder's status keeps no access"),
    ("unwarranted_grant", "nothing warrants it"),
    ("reappeared_grant", "came back after a removal"),
    ("self_approved_grant", "approved by its holder"),
    ("expired_grant", "past its end date"),
    ("mover_kept_access", "kept from a previous job"),
    ("rehire_kept_access", "kept from an earlier employment"),
    ("nhi_owner_left", "its owner has left"),
    ("nhi_no_owner", "no owner"),
    ("nhi_unused", "unused"),
    ("nhi_rotation_overdue", "credential not rotated"),
    ("orphaned_account", "account linked to nobody"),
];

/// Keep or revoke, and why in a few words.
fn recommend(j: &Judge<'_, '_>) -> (Verdict, String) {
    let revoke = |why: String| (Verdict::Revoke, why);
    if let Some(h) = j.holder
        && !j.dir.is_current(&h.key)
    {
        let end = h.person.as_ref().and_then(|p| p.end_date);
        return revoke(match end {
            Some(d) => format!("holder left (last day {d})"),
            None => "holder left".into(),
        });
    }
    if j.holder.is_none() && j.acc.dangling_identity.is_none() && j.acc.kind != AccountKind::Service
    {
        return revoke("account linked to nobody".into());
    }
    if !j.acc.enabled {
        return revoke("account disabled".into());
    }
    if let Some(sod) = &j.context.sod {
        return revoke(format!("segregation-of-duties conflict ({sod})"));
    }
    for (rule, why) in REVOKE_RULES {
        if j.about.iter().any(|f| f.rule == *rule) {
            return revoke((*why).to_owned());
        }
    }
    if j.acc.kind != AccountKind::Emergency {
        let idle = match j.acc.last_login {
            Some(t) => gatehouse_analysis::days_between(t, j.observed),
            None => gatehouse_analysis::days_between(j.acc.first_seen, j.observed),
        };
        if idle >= i64::from(j.dormant_days) && j.dormant_days > 0 {
            return revoke(match j.acc.last_login {
                Some(_) => format!("dormant {idle} days"),
                None => format!("never used in {idle} days"),
            });
        }
    }
    if let Some(role) = j.roles {
        return (
            Verdict::Keep,
            match j.holder.and_then(|h| h.person.as_ref()?.title.as_deref()) {
                Some(t) => format!("role baseline for {t} ({role})"),
                None => format!("role baseline ({role})"),
            },
        );
    }
    if let Some(w) = j.inv.warrant(j.g)
        && let Some(&r) = j.records.get(&(w.kind, w.reference.as_str()))
    {
        let rec = &j.inv.warrant_records[r];
        let holder = j.holder.map(|h| &h.key);
        if rec.approved_by.is_some() && rec.approved_by.as_ref() != holder {
            return (
                Verdict::Keep,
                format!("{} approved on {}", w, date(rec.approved_at)),
            );
        }
    }
    if let Some(h) = j.holder
        && h.kind != IdentityKind::Person
    {
        return match h.non_human.as_ref().and_then(|n| n.purpose.as_ref()) {
            Some(p) => (Verdict::Keep, format!("owned, purpose: {p}")),
            None => revoke("no declared purpose".into()),
        };
    }
    match j.context.peers {
        Some(p) if p >= 50 => (Verdict::Keep, format!("held by {p}% of peers")),
        Some(p) if p < 10 => revoke(format!("held by {p}% of peers, nothing warrants it")),
        Some(p) => (Verdict::Keep, format!("in use; held by {p}% of peers")),
        None => (Verdict::Keep, "in use".into()),
    }
}

/// Builds a role definitions review: one item per entitlement of each role with an
/// entitlement in scope, reviewed by the role's owner.
pub(crate) fn role_entitlements(
    inv: &Inventory,
    dir: &Directory,
    input: &Inputs<'_>,
) -> Result<Population, CampaignError> {
    let c = input.campaign;
    let in_scope: FxHashSet<&str> = c.systems.iter().map(SystemKey::as_str).collect();
    let subjects: Vec<(Subject, &str, &str)> = input
        .exclusions
        .iter()
        .map(|(s, why)| Ok((parse_subject(s)?, s.as_str(), why.as_str())))
        .collect::<Result<_, CampaignError>>()?;
    let mut excluded = vec![0u64; subjects.len()];
    let by_ref: FxHashMap<String, EntitlementIx> = inv
        .entitlements
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                format!("{}:{}", e.record.system, e.record.native_id),
                EntitlementIx::new(i),
            )
        })
        .collect();
    // Who holds each entitlement, by identity index.
    let mut holders: FxHashMap<EntitlementIx, FxHashSet<usize>> = FxHashMap::default();
    for acc in &inv.accounts {
        if let Some(i) = acc.identity {
            for g in inv.grants_of(acc) {
                holders.entry(g.entitlement).or_default().insert(i.index());
            }
        }
    }
    let compliance = c.rules.compliance_owner.clone();
    let owner = c.owner.clone();
    let fallbacks = [&compliance, &owner];
    // Who each role applies to now, by identity index.
    let members_of: Vec<Vec<usize>> = inv
        .roles
        .iter()
        .map(|role| {
            inv.identities
                .iter()
                .enumerate()
                .filter(|(_, i)| dir.is_current(&i.key) && role.applies_to(i))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let role_index: FxHashMap<&str, usize> = inv
        .roles
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key.as_str(), i))
        .collect();
    let mut rows: Vec<(&gatehouse_model::Role, &EntitlementRef)> = Vec::new();
    for role in &inv.roles {
        for e in &role.entitlements {
            if in_scope.contains(e.system.as_str()) {
                rows.push((role, e));
            }
        }
    }
    rows.sort_by(|a, b| {
        (
            a.1.system.as_str(),
            a.0.key.as_str(),
            a.1.native_id.as_str(),
        )
            .cmp(&(
                b.1.system.as_str(),
                b.0.key.as_str(),
                b.1.native_id.as_str(),
            ))
    });
    let mut items = Batcher::default();
    let mut count = 0u32;
    let mut hash = Sha256::new();
    let mut systems: BTreeMap<String, u64> = BTreeMap::new();
    for (role, e) in rows {
        if let Some(i) = subjects.iter().position(|(s, _, _)| {
            s.matches(e.system.as_str(), "", &e.native_id, "")
                || matches!(s, Subject::Identity(k) if k == role.key.as_str())
        }) {
            excluded[i] += 1;
            continue;
        }
        let members = role_index
            .get(role.key.as_str())
            .map_or(&[][..], |&r| members_of[r].as_slice());
        let ent = by_ref.get(&e.to_string()).map(|&x| &inv.entitlements[x]);
        let held = by_ref
            .get(&e.to_string())
            .and_then(|x| holders.get(x))
            .map_or(0, |h| members.iter().filter(|m| h.contains(m)).count());
        let (recommendation, reason) = match (ent, members.len()) {
            (None, _) => (
                Verdict::Revoke,
                "the entitlement no longer exists".to_owned(),
            ),
            (_, 0) => (Verdict::Keep, "the role has no holder yet".to_owned()),
            (_, n) if held == 0 => (
                Verdict::Revoke,
                format!("none of the role's {n} holders has it"),
            ),
            (_, n) => (
                Verdict::Keep,
                format!("held by {held} of the role's {n} holders"),
            ),
        };
        let (who, note) = dir.settle(role.owner.as_ref(), None, &fallbacks, "role owner")?;
        let line = format!("{}\t\t{}\trole:{}\n", e.system, e.native_id, role.key);
        hash.update(line.as_bytes());
        *systems.entry(e.system.to_string()).or_default() += 1;
        count += 1;
        items.push(ReviewItem {
            n: count,
            system: e.system.clone(),
            account: None,
            entitlement: e.native_id.clone(),
            role: Some(role.key.clone()),
            identity: None,
            reviewers: vec![who; c.rules.stages.len().max(1)],
            assignment: note,
            recommendation,
            reason,
            context: ItemContext {
                name: Some(role.name.clone()),
                entitlement_name: ent
                    .map(|x| x.record.name.clone())
                    .filter(|n| *n != e.native_id),
                meaning: role.description.clone(),
                privileged: ent.is_some_and(|x| x.privileged()),
                risk: ent.and_then(|x| x.record.risk),
                ..ItemContext::default()
            },
        });
    }
    let exclusions = exclusions_of(subjects, excluded)?;
    Ok(Population {
        refs: vec![(None, None); count as usize],
        batches: items.finish(),
        holders: Vec::new(),
        entitlements: Vec::new(),
        sha256: hex(&hash.finalize()),
        systems,
        exclusions,
    })
}
