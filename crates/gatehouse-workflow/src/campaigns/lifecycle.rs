//! The campaign state machine: draft → active → closed, and the item's: open (stage by
//! stage) → decided. Every transition is an event; every refusal is decided inside the write
//! transaction before anything is appended, so it changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_model::{
    BATCH_RECORDS, CampaignClosed, CampaignCreated, CampaignEvent, CampaignId, CampaignKind,
    CampaignLaunched, CampaignState, DeadlineDefault, Decision, DecisionOrigin, EventData,
    Exclusion, FindingStatus, IdentityKey, InventoryEvent, ItemRef, PopulationSource, Reassignment,
    ReviewDecided, ReviewItems, ReviewReassigned, ReviewReminded, Stamped, SystemKey, Timestamp,
    Verdict,
};
use gatehouse_store::campaigns::query::{CampaignRow, ItemFilter, ItemRow};
use gatehouse_store::findings::FindingFilter;
use gatehouse_store::{Reader, Store, StoreError, Writer};

use super::policy::{ReviewPolicy, Scope};
use super::population::{self, Inputs, Population};
use super::remediation::{self, VerifyReport};
use super::{Acting, CampaignError, Directory, date, plus_days};

/// What a new campaign is made of: a scope of the review policy, or explicit systems.
#[derive(Debug, Clone, Default)]
pub struct NewCampaign {
    /// A scope of the review policy (systems, kind, stages, schedule).
    pub scope: Option<String>,
    /// The kind, when not the scope's (default `full`).
    pub kind: Option<CampaignKind>,
    /// Systems, besides (or without) the scope's.
    pub systems: Vec<SystemKey>,
    /// A name for people (default: scope, kind and month).
    pub name: Option<String>,
    /// Who owns it and signs it off (default: the scope's owner, else the compliance owner).
    pub owner: Option<IdentityKey>,
    /// Only privileged grants.
    pub privileged_only: bool,
    /// What undecided items get at the deadline, when not the policy's.
    pub deadline_default: Option<DeadlineDefault>,
    /// Instructions for reviewers, when not the policy's.
    pub instructions: Option<String>,
}

/// A created campaign.
#[derive(Debug, Clone)]
pub struct Created {
    /// Its id.
    pub id: CampaignId,
    /// The `campaign.created` event.
    pub seq: u64,
    /// What was recorded.
    pub record: CampaignCreated,
}

fn administrator<'a>(
    policy: &ReviewPolicy,
    acting: &'a Acting,
    what: &str,
) -> Result<&'a IdentityKey, CampaignError> {
    let who = acting.who(what)?;
    if !policy.is_administrator(who) {
        return Err(CampaignError::NotAllowed(format!(
            "{who} may not {what}: only the review policy's administrators may"
        )));
    }
    Ok(who)
}

/// Administrators, and the campaign's owner, may run a campaign.
fn runs<'a>(
    policy: &ReviewPolicy,
    acting: &'a Acting,
    c: &CampaignRow,
    what: &str,
) -> Result<&'a IdentityKey, CampaignError> {
    let who = acting.who(what)?;
    if !policy.is_administrator(who) && *who != c.created.owner {
        return Err(CampaignError::NotAllowed(format!(
            "{who} may not {what} of campaign {}: only its owner {} and the review policy's \
             administrators may",
            c.id, c.created.owner
        )));
    }
    Ok(who)
}

fn resolve_scope<'p>(
    policy: &'p ReviewPolicy,
    name: Option<&str>,
) -> Result<Option<&'p Scope>, CampaignError> {
    match name {
        None => Ok(None),
        Some(n) => policy.scope(n).map(Some).ok_or_else(|| {
            CampaignError::Policy(format!(
                "the review policy has no scope `{n}`; its scopes are: {}",
                if policy.scopes.is_empty() {
                    "none".to_owned()
                } else {
                    policy
                        .scopes
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))
        }),
    }
}

/// Creates a draft campaign from a scope of the review policy (or explicit systems). Only
/// the policy's administrators may.
pub fn create(
    store: &Store,
    policy: &ReviewPolicy,
    acting: &Acting,
    now: Timestamp,
    new: NewCampaign,
) -> Result<Created, CampaignError> {
    let who = administrator(policy, acting, "create campaigns")?.clone();
    create_by(store, policy, &acting.actor, Some(who), now, new)
}

/// Creates a draft as `who` (`None`: the schedule, for a scope it launches by itself).
fn create_by(
    store: &Store,
    policy: &ReviewPolicy,
    actor: &str,
    who: Option<IdentityKey>,
    now: Timestamp,
    new: NewCampaign,
) -> Result<Created, CampaignError> {
    let scope = resolve_scope(policy, new.scope.as_deref())?;
    let kind = new
        .kind
        .or(scope.map(Scope::kind))
        .unwrap_or(CampaignKind::Full);
    if matches!(kind, CampaignKind::EventDriven | CampaignKind::External) {
        return Err(CampaignError::Invalid(format!(
            "campaigns of kind `{kind}` are opened by the policy itself (`campaign tick`) or by \
             `import decisions`, not created"
        )));
    }
    let configs = store.read(|r| r.system_configs())?;
    let mut systems: BTreeSet<SystemKey> = BTreeSet::new();
    if let Some(s) = scope {
        systems.extend(
            configs
                .iter()
                .filter(|c| s.covers(c))
                .map(|c| c.key.clone()),
        );
    }
    for k in &new.systems {
        if !configs.iter().any(|c| c.key == *k) {
            return Err(StoreError::unknown(format!("there is no system `{k}`")).into());
        }
        systems.insert(k.clone());
    }
    if systems.is_empty() {
        return Err(CampaignError::Invalid(match scope {
            Some(s) => format!("scope `{}` covers no system the store knows", s.name),
            None => "a campaign needs a scope or at least one system".into(),
        }));
    }
    let mut settings = policy.settings(scope);
    if let Some(d) = new.deadline_default {
        settings.deadline_default = d;
    }
    if kind == CampaignKind::NonHuman && scope.is_none() {
        settings.stages = vec![gatehouse_model::ReviewerRule::NhiOwner];
    }
    if kind == CampaignKind::RoleDefinitions {
        settings.stages = vec![gatehouse_model::ReviewerRule::RoleOwner];
    }
    let rules = policy.rules(&settings)?;
    let owner = new
        .owner
        .or(scope.and_then(|s| s.owner.clone()))
        .unwrap_or_else(|| rules.compliance_owner.clone());
    let month = now
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .strftime("%Y-%m")
        .to_string();
    let name = new.name.unwrap_or_else(|| match scope {
        Some(s) => format!("{} {kind} review {month}", s.name),
        None => format!(
            "{} {kind} review {month}",
            systems
                .iter()
                .map(SystemKey::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    });
    let record = CampaignCreated {
        id: CampaignId::new(0),
        name,
        kind,
        scope: scope.map(|s| s.name.clone()),
        systems: systems.into_iter().collect(),
        privileged_only: new.privileged_only
            || scope.is_some_and(|s| s.privileged_only)
            || kind == CampaignKind::Privileged,
        owner,
        created_by: who,
        instructions: new.instructions.or(settings.instructions),
        rules,
        policy: policy.digest(),
        trigger: None,
    };
    store.write(actor, now, |w| {
        let mut record = record;
        record.id = w.read()?.next_campaign_id()?;
        let seq = w.append(CampaignEvent::CampaignCreated(Stamped {
            as_of: now,
            import: None,
            record: record.clone(),
        }))?;
        Ok(Created {
            id: record.id,
            seq,
            record,
        })
    })
}

/// What a launch would freeze: counts by system, reviewer and recommendation.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Preview {
    /// The campaign.
    pub id: Option<CampaignId>,
    /// Items.
    pub items: u64,
    /// Items by system.
    pub systems: BTreeMap<String, u64>,
    /// Items per first-stage reviewer.
    pub reviewers: BTreeMap<String, u64>,
    /// Privileged items.
    pub privileged: u64,
    /// Items Gatehouse recommends revoking.
    pub recommend_revoke: u64,
    /// Items in a segregation-of-duties conflict.
    pub sod: u64,
    /// Items whose reviewer is not the one the rules name (self-review, leavers).
    pub reassigned: u64,
    /// What the exclusions leave out.
    pub exclusions: Vec<Exclusion>,
    /// The population's SHA-256.
    pub population_sha256: String,
}

/// What populations are made of — the whole current inventory, the open findings and the
/// directory of people at `now` — with the ledger size they were read at. One launch reads
/// them once; the schedule, which may open hundreds of event-driven reviews in one round,
/// reads them once for all of them, and again only when an import or an analysis changed
/// them meanwhile.
#[derive(Default)]
pub(crate) struct Readings {
    read: Option<Read>,
}

struct Read {
    at: u64,
    now: Timestamp,
    inventory: gatehouse_model::state::Inventory,
    findings: Vec<gatehouse_model::Finding>,
    directory: Directory,
}

impl Readings {
    /// The readings, read again unless those held are still those of the store at `now`.
    fn current(&mut self, store: &Store, now: Timestamp) -> Result<&Read, CampaignError> {
        if let Some(r) = &self.read {
            let (at, held) = (r.at, r.now);
            if held != now || store.read(|x| x.population_changed_since(at))? {
                self.read = None;
            }
        }
        if self.read.is_none() {
            for _ in 0..3 {
                let before = store.event_count()?;
                let inventory = store.load_inventory()?;
                let findings = store.read(|r| {
                    Ok::<_, StoreError>(
                        r.findings(&FindingFilter {
                            status: vec![FindingStatus::Open],
                            ..FindingFilter::default()
                        })?
                        .into_iter()
                        .map(|f| f.finding)
                        .collect::<Vec<_>>(),
                    )
                })?;
                if store.read(|r| r.population_changed_since(before))? {
                    continue;
                }
                let directory = Directory::new(&inventory.identities, now);
                self.read = Some(Read {
                    at: before,
                    now,
                    inventory,
                    findings,
                    directory,
                });
                break;
            }
        }
        self.read.as_ref().ok_or_else(|| StoreError::Busy(0).into())
    }
}

/// The population of a campaign as the store is now, and the ledger size it was read at.
fn population(
    store: &Store,
    c: &CampaignRow,
    exclusions: &[(String, String)],
    dormant_days: u32,
    now: Timestamp,
    readings: &mut Readings,
) -> Result<(Population, u64), CampaignError> {
    {
        let read = readings.current(store, now)?;
        let (changed, after) =
            store.read(|r| Ok::<_, StoreError>((delta_since(r, c)?, r.size())))?;
        let (inv, findings, dir) = (&read.inventory, &read.findings, &read.directory);
        let before = read.at;
        let input = Inputs {
            campaign: &c.created,
            findings,
            exclusions,
            changed: changed.as_ref().map(|(_, set)| set),
            dormant_days,
            now,
        };
        let pop = match c.created.kind {
            CampaignKind::RoleDefinitions => population::role_entitlements(inv, dir, &input)?,
            _ => population::grants(inv, dir, &input)?,
        };
        Ok((pop, after.max(before)))
    }
}

/// For a delta campaign: the last completed campaign of its scope, and the grants new or
/// changed since it was launched.
#[allow(clippy::type_complexity)]
fn delta_since(
    r: &mut Reader<'_>,
    c: &CampaignRow,
) -> Result<Option<(CampaignId, BTreeSet<(String, String, String)>)>, StoreError> {
    if c.created.kind != CampaignKind::Delta {
        return Ok(None);
    }
    let previous = r.campaigns()?.into_iter().find(|p| {
        p.id != c.id
            && p.state == CampaignState::Closed
            && p.created.scope == c.created.scope
            && (c.created.scope.is_some() || p.created.systems == c.created.systems)
            && matches!(
                p.created.kind,
                CampaignKind::Full | CampaignKind::Delta | CampaignKind::Privileged
            )
    });
    let Some(p) = previous else {
        return Ok(None);
    };
    let size = p.launch.as_ref().map_or(0, |l| l.ledger_size);
    Ok(Some((
        p.id,
        r.grants_changed_since(size, &c.created.systems)?,
    )))
}

fn summarise(id: CampaignId, pop: &Population) -> Preview {
    let mut p = Preview {
        id: Some(id),
        items: pop.len() as u64,
        systems: pop.systems.clone(),
        exclusions: pop.exclusions.clone(),
        population_sha256: pop.sha256.clone(),
        ..Preview::default()
    };
    let mut reviewers: rustc_hash::FxHashMap<&IdentityKey, u64> = Default::default();
    for (i, (_, e)) in pop.items().zip(&pop.refs) {
        if let Some(r) = i.reviewers.first() {
            *reviewers.entry(r).or_default() += 1;
        }
        let privileged = match e {
            Some(e) => pop.entitlements[*e as usize].privileged,
            None => i.context.privileged,
        };
        p.privileged += u64::from(privileged);
        p.recommend_revoke += u64::from(i.recommendation == Verdict::Revoke);
        p.sod += u64::from(i.context.sod.is_some());
        p.reassigned += u64::from(i.assignment.is_some());
    }
    p.reviewers = reviewers
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    p
}

/// The `review.items` events of a population: its batches of [`BATCH_RECORDS`] items, each
/// with the records of the holders and entitlements first named in it.
fn batches(id: CampaignId, pop: Population, now: Timestamp, launch: u64) -> Vec<EventData> {
    let mut holders = pop.holders.into_iter();
    let mut entitlements = pop.entitlements.into_iter();
    // Records are numbered in the order of their first item: a batch's new ones are those
    // up to the highest it names.
    let (mut holders_done, mut entitlements_done) = (0usize, 0usize);
    let mut refs = pop.refs.into_iter();
    let mut events = Vec::with_capacity(pop.batches.len());
    for chunk in pop.batches {
        let (mut h_end, mut e_end) = (holders_done, entitlements_done);
        for (h, e) in refs.by_ref().take(chunk.len()) {
            if let Some(h) = h {
                h_end = h_end.max(h as usize + 1);
            }
            if let Some(e) = e {
                e_end = e_end.max(e as usize + 1);
            }
        }
        let record = ReviewItems {
            campaign: id,
            holders: holders.by_ref().take(h_end - holders_done).collect(),
            entitlements: entitlements
                .by_ref()
                .take(e_end - entitlements_done)
                .collect(),
            items: chunk,
        };
        (holders_done, entitlements_done) = (h_end, e_end);
        events.push(
            CampaignEvent::ReviewItems(Stamped {
                as_of: now,
                import: Some(launch),
                record,
            })
            .into(),
        );
    }
    events
}

fn draft(c: &CampaignRow, what: &str) -> Result<(), CampaignError> {
    match c.state {
        CampaignState::Draft => Ok(()),
        CampaignState::Active => Err(CampaignError::State(format!(
            "campaign {} was launched on {}: {what} only a draft",
            c.id,
            c.launched_at.map(date).unwrap_or_default()
        ))),
        CampaignState::Closed => Err(CampaignError::State(format!(
            "campaign {} is closed: {what} only a draft",
            c.id
        ))),
    }
}

/// What launching a draft would freeze, without changing anything.
pub fn preview(
    store: &Store,
    policy: &ReviewPolicy,
    id: CampaignId,
    exclusions: &[(String, String)],
    now: Timestamp,
) -> Result<Preview, CampaignError> {
    let c = store.read(|r| r.campaign(id))?;
    draft(&c, "one can preview")?;
    let dormant = dormant_days(policy, &c);
    let (pop, _) = population(
        store,
        &c,
        exclusions,
        dormant,
        now,
        &mut Readings::default(),
    )?;
    Ok(summarise(id, &pop))
}

fn dormant_days(policy: &ReviewPolicy, c: &CampaignRow) -> u32 {
    let scope = c.created.scope.as_deref().and_then(|s| policy.scope(s));
    match c.created.kind {
        CampaignKind::EventDriven => policy.event_settings().dormant_days,
        _ => policy.settings(scope).dormant_days,
    }
}

/// A launched campaign.
#[derive(Debug, Clone)]
pub struct Launched {
    /// The `campaign.launched` event.
    pub seq: u64,
    /// What was frozen.
    pub preview: Preview,
    /// The due date.
    pub due: Timestamp,
    /// The ledger size the population was read at.
    pub ledger_size: u64,
}

/// The imports the population came from: the latest of each source the campaign depends on.
fn sources(r: &mut Reader<'_>, systems: &[SystemKey]) -> Result<Vec<PopulationSource>, StoreError> {
    let wanted: BTreeSet<String> = systems
        .iter()
        .map(|s| format!("system:{s}"))
        .chain(["hr", "nhi", "roles", "warrants"].map(String::from))
        .collect();
    let mut out = Vec::new();
    for i in r.latest_imports()? {
        if !wanted.contains(&i.source) {
            continue;
        }
        let files = match r.event(i.seq)?.data {
            EventData::Inventory(InventoryEvent::ImportApplied(a)) => a.files,
            _ => Vec::new(),
        };
        out.push(PopulationSource {
            seq: i.seq,
            source: i.source,
            as_of: i.as_of,
            digest: i.digest,
            files,
        });
    }
    Ok(out)
}

/// Launches a draft: freezes its population (the exact grants in scope now, hashed, with
/// the imports they came from and the exclusions, by whom and why) and creates one review
/// item per grant. The campaign's owner and the policy's administrators may.
pub fn launch(
    store: &Store,
    policy: &ReviewPolicy,
    acting: &Acting,
    now: Timestamp,
    id: CampaignId,
    exclusions: &[(String, String)],
) -> Result<Launched, CampaignError> {
    launch_reading(
        store,
        policy,
        acting,
        now,
        id,
        exclusions,
        &mut Readings::default(),
    )
}

/// [`launch`], from `readings` while they hold.
fn launch_reading(
    store: &Store,
    policy: &ReviewPolicy,
    acting: &Acting,
    now: Timestamp,
    id: CampaignId,
    exclusions: &[(String, String)],
    readings: &mut Readings,
) -> Result<Launched, CampaignError> {
    let c = store.read(|r| r.campaign(id))?;
    let who = runs(policy, acting, &c, "launch")?.clone();
    launch_by(
        store,
        policy,
        &acting.actor,
        Some(who),
        now,
        c,
        exclusions,
        readings,
    )
}

/// Launches a draft as `who` (`None`: the schedule), from `readings` while they hold.
#[allow(clippy::too_many_arguments)]
fn launch_by(
    store: &Store,
    policy: &ReviewPolicy,
    actor: &str,
    who: Option<IdentityKey>,
    now: Timestamp,
    c: CampaignRow,
    exclusions: &[(String, String)],
    readings: &mut Readings,
) -> Result<Launched, CampaignError> {
    let id = c.id;
    draft(&c, "one can launch")?;
    let dormant = dormant_days(policy, &c);
    let since = store.read(|r| delta_since(r, &c))?.map(|(p, _)| p);
    for _ in 0..3 {
        let (pop, size) = population(store, &c, exclusions, dormant, now, readings)?;
        if pop.is_empty() {
            return Err(CampaignError::Invalid(format!(
                "campaign {id} has nothing to review: no grant of {} is in its scope",
                c.created
                    .systems
                    .iter()
                    .map(SystemKey::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let preview = summarise(id, &pop);
        let due = plus_days(now, i64::from(c.created.rules.due_days));
        let launched = store.write(actor, now, |w| {
            let r = &mut w.read()?;
            draft(&r.campaign(id)?, "one can launch")?;
            if r.inventory_changed_since(size)? {
                return Ok(None);
            }
            let sources = sources(r, &c.created.systems)?;
            let seq = w.append(CampaignEvent::CampaignLaunched(Stamped {
                as_of: now,
                import: None,
                record: CampaignLaunched {
                    id,
                    launched_by: who.clone(),
                    due,
                    ledger_size: size,
                    population_sha256: pop.sha256.clone(),
                    items: pop.len() as u64,
                    systems: pop.systems.clone(),
                    sources,
                    exclusions: pop.exclusions.clone(),
                    since,
                },
            }))?;
            let events = batches(id, pop, now, seq);
            w.expect(events.len() as u64);
            w.append_all(events)?;
            Ok::<_, CampaignError>(Some(seq))
        })?;
        if let Some(seq) = launched {
            return Ok(Launched {
                seq,
                preview,
                due,
                ledger_size: size,
            });
        }
    }
    Err(StoreError::Busy(0).into())
}

/// One decision as asked for.
#[derive(Debug, Clone)]
pub struct DecisionInput {
    /// The item's number.
    pub item: u32,
    /// Keep, revoke or keep until.
    pub verdict: Verdict,
    /// Until when, for keep until.
    pub until: Option<Timestamp>,
    /// The reviewer's comment.
    pub comment: Option<String>,
}

/// What deciding did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DecideReport {
    /// Items decided for good.
    pub decided: u64,
    /// Items passed to their next stage.
    pub advanced: u64,
    /// Final decisions by kind.
    pub verdicts: BTreeMap<String, u64>,
    /// Remediation tasks opened (one per final revoke).
    pub tasks: Vec<ItemRef>,
    /// The `review.decided` events.
    pub events: Vec<u64>,
}

fn active(c: &CampaignRow) -> Result<(), CampaignError> {
    match c.state {
        CampaignState::Active => Ok(()),
        CampaignState::Draft => Err(CampaignError::State(format!(
            "campaign {} is a draft: it has not been launched",
            c.id
        ))),
        CampaignState::Closed => Err(CampaignError::State(format!(
            "campaign {} was closed on {}: its decisions are final",
            c.id,
            c.closed_at.map(date).unwrap_or_default()
        ))),
    }
}

/// Checks one decision by `who` on `item`, and returns the decision to record.
fn check_decision(
    c: &CampaignRow,
    item: &ItemRow,
    who: &IdentityKey,
    input: &DecisionInput,
    now: Timestamp,
) -> Result<Decision, CampaignError> {
    let at = item.reference();
    if let Some(d) = &item.decision {
        return Err(CampaignError::AlreadyDecided(format!(
            "item {at} was decided on {}{}: {}; a decision is final",
            date(d.at),
            d.by.as_ref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default(),
            d.verdict
        )));
    }
    if item.item.identity.as_ref() == Some(who) {
        return Err(CampaignError::SelfReview(format!(
            "item {at} is {who}'s own access; nobody reviews their own access"
        )));
    }
    if item.reviewer != *who {
        return Err(CampaignError::NotAllowed(format!(
            "item {at} is assigned to {}, not to {who}",
            item.reviewer
        )));
    }
    let comment = input
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let rules = &c.created.rules;
    let need = |why: &str| {
        CampaignError::Invalid(format!(
            "item {at}: a comment is required {why} (the campaign's rules)"
        ))
    };
    match input.verdict {
        Verdict::Revoke if rules.comment_on_revoke && comment.is_none() => {
            return Err(need("to revoke"));
        }
        Verdict::Keep | Verdict::KeepUntil if comment.is_none() => {
            if rules.comment_on_privileged_keep && item.item.context.privileged {
                return Err(need("to keep privileged access"));
            }
            if rules.comment_on_sod_keep && item.item.context.sod.is_some() {
                return Err(need("to keep access in a segregation-of-duties conflict"));
            }
        }
        Verdict::Exception => {
            return Err(CampaignError::Invalid(format!(
                "item {at}: `exception` is what the deadline gives undecided items; decide keep, \
                 revoke or keep_until"
            )));
        }
        _ => {}
    }
    let until = match (input.verdict, input.until) {
        (Verdict::KeepUntil, None) => {
            return Err(CampaignError::Invalid(format!(
                "item {at}: keep_until needs a date (until when the access may stay)"
            )));
        }
        (Verdict::KeepUntil, Some(u)) if u <= now => {
            return Err(CampaignError::Invalid(format!(
                "item {at}: keep_until needs a date in the future (it is {})",
                date(u)
            )));
        }
        (Verdict::KeepUntil, Some(u)) => Some(u),
        (_, Some(_)) => {
            return Err(CampaignError::Invalid(format!(
                "item {at}: a date goes with keep_until only"
            )));
        }
        (_, None) => None,
    };
    Ok(Decision {
        n: item.item.n,
        stage: item.stage,
        verdict: input.verdict,
        until,
        comment,
        next: None,
        by: None,
        at: None,
    })
}

/// The reviewer of an item's next stage, if it has one: the one frozen at launch, or, if
/// they left or hold the access meanwhile, the escalation path.
fn next_reviewer(
    r: &mut Reader<'_>,
    c: &CampaignRow,
    item: &ItemRow,
    cache: &mut LazyDirectory,
) -> Result<Option<IdentityKey>, CampaignError> {
    let stage = item.stage as usize;
    let Some(next) = item.item.reviewers.get(stage) else {
        return Ok(None);
    };
    let dir = cache.around(
        r,
        &[next, &c.created.rules.compliance_owner, &c.created.owner],
    )?;
    let compliance = c.created.rules.compliance_owner.clone();
    let owner = c.created.owner.clone();
    let (who, _) = dir.settle(
        Some(next),
        item.item.identity.as_ref(),
        &[&compliance, &owner],
        "next stage's reviewer",
    )?;
    Ok(Some(who))
}

/// The identities around some keys (each with their managers, up the chain), read lazily.
#[derive(Default)]
pub(crate) struct LazyDirectory {
    known: BTreeMap<IdentityKey, gatehouse_model::Identity>,
    missing: BTreeSet<IdentityKey>,
    dir: Directory,
    now: Option<Timestamp>,
}

impl LazyDirectory {
    pub(crate) fn new(now: Timestamp) -> LazyDirectory {
        LazyDirectory {
            now: Some(now),
            ..LazyDirectory::default()
        }
    }

    /// The directory, having read `keys` and everyone above them.
    pub(crate) fn around(
        &mut self,
        r: &mut Reader<'_>,
        keys: &[&IdentityKey],
    ) -> Result<&Directory, StoreError> {
        let mut grew = false;
        for k in keys {
            let mut at = Some((*k).clone());
            let mut depth = 0;
            while let Some(key) = at.take() {
                depth += 1;
                if depth > 32 || self.missing.contains(&key) {
                    break;
                }
                let identity = match self.known.get(&key) {
                    Some(i) => i.clone(),
                    None => match r.current_identity(&key)? {
                        Some(i) => {
                            grew = true;
                            self.known.insert(key.clone(), i.clone());
                            i
                        }
                        None => {
                            self.missing.insert(key);
                            break;
                        }
                    },
                };
                at = identity
                    .person
                    .as_ref()
                    .and_then(|p| p.manager.clone())
                    .or_else(|| identity.non_human.as_ref().and_then(|n| n.owner.clone()));
            }
        }
        if grew {
            self.dir = Directory::new(
                self.known.values(),
                self.now.unwrap_or(Timestamp::UNIX_EPOCH),
            );
        }
        Ok(&self.dir)
    }
}

/// Records decisions (already checked), opens remediation for final revokes, and returns
/// what was done.
pub(crate) fn record(
    w: &mut Writer<'_>,
    c: &CampaignRow,
    origin: DecisionOrigin,
    by: Option<IdentityKey>,
    decisions: Vec<(Decision, ItemRow)>,
    now: Timestamp,
) -> Result<DecideReport, CampaignError> {
    let mut report = DecideReport::default();
    let mut revoked: Vec<ItemRow> = Vec::new();
    let mut plain: Vec<Decision> = Vec::with_capacity(decisions.len());
    for (d, item) in decisions {
        if d.next.is_some() {
            report.advanced += 1;
        } else {
            report.decided += 1;
            *report
                .verdicts
                .entry(d.verdict.as_str().to_owned())
                .or_default() += 1;
            if d.verdict == Verdict::Revoke {
                revoked.push(item);
            }
        }
        plain.push(d);
    }
    let events: Vec<EventData> = plain
        .chunks(BATCH_RECORDS)
        .map(|chunk| {
            CampaignEvent::ReviewDecided(Stamped {
                as_of: now,
                import: None,
                record: ReviewDecided {
                    campaign: c.id,
                    origin,
                    by: by.clone(),
                    decisions: chunk.to_vec(),
                },
            })
            .into()
        })
        .collect();
    let n = events.len() as u64;
    w.append_all(events)?;
    let size = w.tree_size();
    report.events = (size - n + 1..=size).collect();
    if !revoked.is_empty() {
        let tasks = remediation::open(w, c, &revoked, now)?;
        report.tasks = tasks;
    }
    Ok(report)
}

/// Records decisions on items of a campaign, each by the item's current reviewer: keep,
/// revoke, or keep until a date, with comments where the campaign's rules require them. A
/// decision at a stage before the last passes the item to the next stage's reviewer, who
/// sees it; the last stage's decision is final, and a final revoke opens a remediation task.
/// Every decision is checked before any is recorded: one refusal records none.
pub fn decide(
    store: &Store,
    acting: &Acting,
    now: Timestamp,
    id: CampaignId,
    inputs: Vec<DecisionInput>,
) -> Result<DecideReport, CampaignError> {
    let who = acting.who("deciding")?.clone();
    store.write(&acting.actor, now, |w| decide_in(w, &who, now, id, &inputs))
}

/// [`decide`] inside a write the caller opened: for a server, which hands the write to the
/// store's queue (`Store::write_async`) instead of holding a thread while it waits.
pub fn decide_in(
    w: &mut Writer<'_>,
    who: &IdentityKey,
    now: Timestamp,
    id: CampaignId,
    inputs: &[DecisionInput],
) -> Result<DecideReport, CampaignError> {
    if inputs.is_empty() {
        return Err(CampaignError::Invalid("no decision was given".into()));
    }
    let r = &mut w.read_state()?;
    let c = r.campaign(id)?;
    active(&c)?;
    reviewer_may_act(r, who, now)?;
    let mut seen = BTreeSet::new();
    let mut cache = LazyDirectory::new(now);
    let mut decisions = Vec::with_capacity(inputs.len());
    for input in inputs {
        let at = ItemRef {
            campaign: id,
            item: input.item,
        };
        if !seen.insert(input.item) {
            return Err(CampaignError::Invalid(format!(
                "item {at} is decided twice in one go"
            )));
        }
        let item = r.review_item(at).map_err(|e| match e.code() {
            gatehouse_model::ErrorCode::UnknownObject => CampaignError::Invalid(format!(
                "campaign {id} has no item {} (it has {})",
                input.item, c.items
            )),
            _ => e.into(),
        })?;
        let mut d = check_decision(&c, &item, who, input, now)?;
        d.next = next_reviewer(r, &c, &item, &mut cache)?;
        decisions.push((d, item));
    }
    record(
        w,
        &c,
        DecisionOrigin::Reviewer,
        Some(who.clone()),
        decisions,
        now,
    )
}

/// A person who has left may not decide anything.
fn reviewer_may_act(
    r: &mut Reader<'_>,
    who: &IdentityKey,
    now: Timestamp,
) -> Result<(), CampaignError> {
    // Whether one may review depends on one's own record alone, not on one's managers'.
    let me = r.current_identity(who)?;
    if !Directory::new(me.iter(), now).can_review(who) {
        return Err(CampaignError::NotAllowed(format!(
            "{who} cannot review: they are in no feed, have left, or are not a person"
        )));
    }
    Ok(())
}

/// Which of a reviewer's open items a bulk decision covers; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct BulkSelection {
    /// Only these items.
    pub items: Vec<u32>,
    /// Only items on this system.
    pub system: Option<SystemKey>,
    /// Only items of this entitlement (native id).
    pub entitlement: Option<String>,
    /// Only items with this recommendation.
    pub recommendation: Option<Verdict>,
}

/// One decision for many items.
#[derive(Debug, Clone, Default)]
pub struct BulkDecision {
    /// Keep, revoke or keep until; `None` accepts each item's recommendation.
    pub verdict: Option<Verdict>,
    /// Until when, for keep until.
    pub until: Option<Timestamp>,
    /// The comment for every item.
    pub comment: Option<String>,
}

/// Decides every open item of the acting reviewer in a selection alike, or, when the
/// decision names no verdict, accepts each item's recommendation — recorded as such, with the
/// recommendation's reason as the comment when none is given.
pub fn decide_bulk(
    store: &Store,
    acting: &Acting,
    now: Timestamp,
    id: CampaignId,
    selection: &BulkSelection,
    decision: &BulkDecision,
) -> Result<DecideReport, CampaignError> {
    let who = acting.who("deciding")?.clone();
    let (verdict, until, comment) = (decision.verdict, decision.until, decision.comment.clone());
    store.write(&acting.actor, now, |w| {
        let r = &mut w.read()?;
        let c = r.campaign(id)?;
        active(&c)?;
        reviewer_may_act(r, &who, now)?;
        let wanted: BTreeSet<u32> = selection.items.iter().copied().collect();
        // Items named by number are read one by one; otherwise every open item of the
        // reviewer's. An item named that is not an open one of theirs is refused, saying why
        // (decided, someone else's, their own).
        let mine: Vec<ItemRow> = if wanted.is_empty() {
            r.review_items(
                id,
                &ItemFilter {
                    reviewer: Some(who.clone()),
                    open: Some(true),
                    ..ItemFilter::default()
                },
            )?
        } else {
            let mut rows = Vec::with_capacity(wanted.len());
            for n in &wanted {
                let item = r.review_item(ItemRef {
                    campaign: id,
                    item: *n,
                })?;
                if item.decision.is_some() || item.reviewer != who {
                    let input = DecisionInput {
                        item: *n,
                        verdict: verdict.unwrap_or(item.item.recommendation),
                        until,
                        comment: comment.clone(),
                    };
                    check_decision(&c, &item, &who, &input, now)?;
                }
                rows.push(item);
            }
            rows
        };
        let selected: Vec<ItemRow> = mine
            .into_iter()
            .filter(|i| {
                selection
                    .system
                    .as_ref()
                    .is_none_or(|s| *s == i.item.system)
            })
            .filter(|i| {
                selection
                    .entitlement
                    .as_ref()
                    .is_none_or(|e| *e == i.item.entitlement)
            })
            .filter(|i| {
                selection
                    .recommendation
                    .is_none_or(|v| v == i.item.recommendation)
            })
            .collect();
        if selected.is_empty() {
            return Err(CampaignError::Invalid(format!(
                "{who} has no open item in campaign {id} that the selection covers"
            )));
        }
        let mut cache = LazyDirectory::new(now);
        let mut decisions = Vec::with_capacity(selected.len());
        for item in selected {
            let input = DecisionInput {
                item: item.item.n,
                verdict: verdict.unwrap_or(item.item.recommendation),
                until,
                comment: comment.clone().or_else(|| {
                    verdict
                        .is_none()
                        .then(|| format!("recommendation accepted: {}", item.item.reason))
                }),
            };
            let mut d = check_decision(&c, &item, &who, &input, now)?;
            d.next = next_reviewer(r, &c, &item, &mut cache)?;
            decisions.push((d, item));
        }
        let origin = if verdict.is_none() {
            DecisionOrigin::Recommendation
        } else {
            DecisionOrigin::Bulk
        };
        record(w, &c, origin, Some(who.clone()), decisions, now)
    })
}

/// Checks that items can go to `to`, grouped by their current reviewer.
fn movable(
    r: &mut Reader<'_>,
    c: &CampaignRow,
    items: &[u32],
    to: &IdentityKey,
    mine: Option<&IdentityKey>,
    now: Timestamp,
) -> Result<BTreeMap<IdentityKey, Vec<u32>>, CampaignError> {
    let mut dir = LazyDirectory::new(now);
    if !dir.around(r, &[to])?.can_review(to) {
        return Err(CampaignError::Invalid(format!(
            "{to} cannot review: they are in no feed, have left, or are not a person"
        )));
    }
    let rows: Vec<ItemRow> = if items.is_empty() {
        r.review_items(
            c.id,
            &ItemFilter {
                reviewer: mine.cloned(),
                open: Some(true),
                ..ItemFilter::default()
            },
        )?
    } else {
        items
            .iter()
            .map(|n| {
                r.review_item(ItemRef {
                    campaign: c.id,
                    item: *n,
                })
            })
            .collect::<Result<_, _>>()?
    };
    if rows.is_empty() {
        return Err(CampaignError::Invalid(format!(
            "no open item of campaign {} to move",
            c.id
        )));
    }
    let mut groups: BTreeMap<IdentityKey, Vec<u32>> = BTreeMap::new();
    for item in rows {
        let at = item.reference();
        if let Some(d) = &item.decision {
            return Err(CampaignError::AlreadyDecided(format!(
                "item {at} was decided on {}: only open items change reviewer",
                date(d.at)
            )));
        }
        if let Some(me) = mine
            && item.reviewer != *me
        {
            return Err(CampaignError::NotAllowed(format!(
                "item {at} is assigned to {}, not to {me}: only its reviewer may delegate it",
                item.reviewer
            )));
        }
        if item.item.identity.as_ref() == Some(to) {
            return Err(CampaignError::SelfReview(format!(
                "item {at} is {to}'s own access; it cannot go to them"
            )));
        }
        if item.reviewer == *to {
            continue;
        }
        groups
            .entry(item.reviewer.clone())
            .or_default()
            .push(item.item.n);
    }
    Ok(groups)
}

/// Why and by whom items move.
struct Move<'a> {
    how: Reassignment,
    by: Option<&'a IdentityKey>,
    reason: &'a str,
}

fn append_moves(
    w: &mut Writer<'_>,
    c: &CampaignRow,
    groups: BTreeMap<IdentityKey, Vec<u32>>,
    to: &IdentityKey,
    m: Move<'_>,
    now: Timestamp,
) -> Result<u64, CampaignError> {
    let Move { how, by, reason } = m;
    let mut moved = 0;
    for (from, items) in groups {
        for chunk in items.chunks(BATCH_RECORDS) {
            moved += chunk.len() as u64;
            w.append(CampaignEvent::ReviewReassigned(Stamped {
                as_of: now,
                import: None,
                record: ReviewReassigned {
                    campaign: c.id,
                    how,
                    items: chunk.to_vec(),
                    from: from.clone(),
                    to: to.clone(),
                    by: by.cloned(),
                    reason: reason.to_owned(),
                },
            }))?;
        }
    }
    Ok(moved)
}

fn reason_given(reason: &str) -> Result<&str, CampaignError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(CampaignError::Invalid(
            "a reason is required: say why the items change reviewer".into(),
        ));
    }
    Ok(r)
}

/// A reviewer hands open items of theirs (all of them when `items` is empty) to someone else,
/// with a reason. Returns the number of items moved.
pub fn delegate(
    store: &Store,
    acting: &Acting,
    now: Timestamp,
    id: CampaignId,
    items: &[u32],
    to: &IdentityKey,
    reason: &str,
) -> Result<u64, CampaignError> {
    let who = acting.who("delegating")?.clone();
    let reason = reason_given(reason)?;
    if *to == who {
        return Err(CampaignError::Invalid(format!(
            "{who} cannot delegate to themselves"
        )));
    }
    store.write(&acting.actor, now, |w| {
        let r = &mut w.read()?;
        let c = r.campaign(id)?;
        active(&c)?;
        reviewer_may_act(r, &who, now)?;
        let groups = movable(r, &c, items, to, Some(&who), now)?;
        append_moves(
            w,
            &c,
            groups,
            to,
            Move {
                how: Reassignment::Delegated,
                by: Some(&who),
                reason,
            },
            now,
        )
    })
}

/// The campaign's owner or an administrator gives open items (all of `from`'s when `items`
/// is empty) to someone else, with a reason. Returns the number of items moved.
#[allow(clippy::too_many_arguments)]
pub fn reassign(
    store: &Store,
    policy: &ReviewPolicy,
    acting: &Acting,
    now: Timestamp,
    id: CampaignId,
    items: &[u32],
    from: Option<&IdentityKey>,
    to: &IdentityKey,
    reason: &str,
) -> Result<u64, CampaignError> {
    let reason = reason_given(reason)?;
    store.write(&acting.actor, now, |w| {
        let r = &mut w.read()?;
        let c = r.campaign(id)?;
        let who = runs(policy, acting, &c, "reassign items")?.clone();
        active(&c)?;
        if items.is_empty() && from.is_none() {
            return Err(CampaignError::Invalid(
                "name the items, or the reviewer whose open items move".into(),
            ));
        }
        let groups = movable(r, &c, items, to, from, now)?;
        append_moves(
            w,
            &c,
            groups,
            to,
            Move {
                how: Reassignment::Reassigned,
                by: Some(&who),
                reason,
            },
            now,
        )
    })
}

/// Reminds every reviewer of a campaign who has open items now, out of schedule (the
/// campaign's owner or an administrator asks for it): one `review.reminded` event per
/// reviewer, which the notifications send as a digest. Returns the reviewers reminded, with
/// their open items.
pub fn remind(
    store: &Store,
    policy: &ReviewPolicy,
    acting: &Acting,
    now: Timestamp,
    id: CampaignId,
) -> Result<Vec<(IdentityKey, u64)>, CampaignError> {
    store.write(&acting.actor, now, |w| {
        let r = &mut w.read()?;
        let c = r.campaign(id)?;
        runs(policy, acting, &c, "send reminders")?;
        active(&c)?;
        let due = c
            .due
            .ok_or_else(|| CampaignError::State(format!("campaign {id} has no due date")))?;
        let days_before = u32::try_from(((due.as_second() - now.as_second()) / 86_400).max(0))
            .unwrap_or(u32::MAX);
        let open = r.open_items_by_reviewer(id)?;
        for (reviewer, n) in &open {
            w.append(CampaignEvent::ReviewReminded(Stamped {
                as_of: now,
                import: None,
                record: ReviewReminded {
                    campaign: id,
                    reviewer: reviewer.clone(),
                    open: *n,
                    due,
                    days_before,
                },
            }))?;
        }
        Ok(open)
    })
}

/// What closing a campaign did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CloseReport {
    /// The `campaign.closed` event.
    pub seq: u64,
    /// Items that got the deadline default.
    pub defaulted: u64,
    /// Final decisions by kind.
    pub verdicts: BTreeMap<String, u64>,
    /// Remediation tasks opened by the defaults.
    pub tasks: Vec<ItemRef>,
}

/// Gives every open item of a campaign the deadline default, as decisions of origin
/// `default`.
fn apply_default(
    w: &mut Writer<'_>,
    c: &CampaignRow,
    now: Timestamp,
    why: &str,
) -> Result<DecideReport, CampaignError> {
    let open = w.read()?.review_items(
        c.id,
        &ItemFilter {
            open: Some(true),
            ..ItemFilter::default()
        },
    )?;
    if open.is_empty() {
        return Ok(DecideReport::default());
    }
    let default = c.created.rules.deadline_default;
    let decisions = open
        .into_iter()
        .map(|item| {
            (
                Decision {
                    n: item.item.n,
                    stage: item.stage,
                    verdict: default.verdict(),
                    until: None,
                    comment: Some(format!("deadline default ({default}): {why}")),
                    next: None,
                    by: None,
                    at: None,
                },
                item,
            )
        })
        .collect();
    record(w, c, DecisionOrigin::Default, None, decisions, now)
}

/// Closes a campaign and signs it off with a statement. Only the campaign's owner and the
/// signers its rules name may; nobody signs off their own decisions. While items are
/// undecided the sign-off is refused, unless forced with a reason: the open items then get
/// the campaign's deadline default.
pub fn close(
    store: &Store,
    acting: &Acting,
    now: Timestamp,
    id: CampaignId,
    statement: &str,
    force: Option<&str>,
) -> Result<CloseReport, CampaignError> {
    let who = acting.who("signing off")?.clone();
    let statement = statement.trim();
    if statement.is_empty() {
        return Err(CampaignError::Invalid(
            "a sign-off needs a statement: what was reviewed, and that it was reviewed as required"
                .into(),
        ));
    }
    let force = match force.map(str::trim) {
        Some("") => {
            return Err(CampaignError::Invalid(
                "forcing a sign-off needs a reason".into(),
            ));
        }
        other => other,
    };
    store.write(&acting.actor, now, |w| {
        let r = &mut w.read()?;
        let c = r.campaign(id)?;
        active(&c)?;
        if c.created.owner != who && !c.created.rules.signers.contains(&who) {
            return Err(CampaignError::NotAllowed(format!(
                "{who} may not sign off campaign {id}: only its owner {} and the signers its \
                 rules name may",
                c.created.owner
            )));
        }
        reviewer_may_act(r, &who, now)?;
        let own = r
            .stage_decisions(id)?
            .into_iter()
            .filter(|d| d.by.as_ref() == Some(&who))
            .count();
        if own > 0 {
            return Err(CampaignError::NotAllowed(format!(
                "{who} decided {own} item{} of campaign {id} and may not sign off their own \
                 decisions; another signer must",
                if own == 1 { "" } else { "s" }
            )));
        }
        let open = c.items - c.decided;
        if open > 0 && force.is_none() {
            return Err(CampaignError::Undecided(format!(
                "campaign {id} has {open} undecided item{} of {}; sign-off waits for them",
                if open == 1 { "" } else { "s" },
                c.items
            )));
        }
        let defaults = match force {
            Some(reason) if open > 0 => {
                apply_default(w, &c, now, &format!("closed early by {who}: {reason}"))?
            }
            _ => DecideReport::default(),
        };
        let mut verdicts: BTreeMap<String, u64> = BTreeMap::new();
        for item in w.read()?.review_items(
            id,
            &ItemFilter {
                open: Some(false),
                ..ItemFilter::default()
            },
        )? {
            if let Some(d) = item.decision {
                *verdicts.entry(d.verdict.as_str().to_owned()).or_default() += 1;
            }
        }
        let seq = w.append(CampaignEvent::CampaignClosed(Stamped {
            as_of: now,
            import: None,
            record: CampaignClosed {
                id,
                signed_off_by: who.clone(),
                statement: statement.to_owned(),
                forced: force.filter(|_| open > 0).map(str::to_owned),
                defaulted: defaults.decided,
                verdicts: verdicts.clone(),
            },
        }))?;
        Ok(CloseReport {
            seq,
            defaulted: defaults.decided,
            verdicts,
            tasks: defaults.tasks,
        })
    })
}

/// What one tick did to one campaign.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CampaignTick {
    /// The campaign.
    pub id: Option<CampaignId>,
    /// Reviewers reminded, with their open items.
    pub reminded: Vec<(IdentityKey, u64)>,
    /// Items escalated.
    pub escalated: u64,
    /// Items whose reviewer left, given to the escalation path.
    pub replaced: u64,
    /// Items that got the deadline default.
    pub defaulted: u64,
    /// Remediation tasks opened by defaults.
    pub tasks: Vec<ItemRef>,
    /// Items whose reviewer left and whom nobody on the escalation path can take (they
    /// would review their own access, or have left too): they wait for someone to be
    /// named with `campaign delegate --from`, or for the deadline default.
    pub stranded: Vec<ItemRef>,
}

/// What a tick did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TickReport {
    /// Per active campaign that changed.
    pub campaigns: Vec<CampaignTick>,
    /// Remediation verified or reopened by imports.
    pub remediation: VerifyReport,
    /// Event-driven reviews opened, with the finding that opened each.
    pub opened: Vec<(CampaignId, String)>,
    /// Campaigns the schedule launched by itself, with their scope (`auto_launch`).
    pub launched: Vec<(CampaignId, String)>,
    /// Scopes due for a campaign that the schedule could not launch, and why.
    pub not_launched: Vec<(String, String)>,
}

/// The schedule, driven by a clock tests advance (`now`): replaces reviewers who left,
/// sends reminders before the due date, escalates overdue items (to the reviewer's manager,
/// then the compliance owner), gives undecided items the deadline default, verifies
/// remediation against the imports, and opens the policy's event-driven reviews. Running it
/// twice at the same time does nothing the second time.
pub fn tick(
    store: &Store,
    policy: &ReviewPolicy,
    acting: &Acting,
    now: Timestamp,
) -> Result<TickReport, CampaignError> {
    let mut report = TickReport::default();
    // The launches of one round share one reading of the inventory.
    let mut readings = Readings::default();
    let active_ids: Vec<CampaignId> = store
        .read(|r| r.campaigns())?
        .into_iter()
        .filter(|c| c.state == CampaignState::Active)
        .map(|c| c.id)
        .collect();
    if !active_ids.is_empty() {
        let identities = store.read(|r| r.current_identities())?;
        let dir = Directory::new(&identities, now);
        for id in active_ids {
            let t = store.write(&acting.actor, now, |w| tick_campaign(w, &dir, id, now))?;
            if !t.reminded.is_empty()
                || t.escalated > 0
                || t.replaced > 0
                || t.defaulted > 0
                || !t.stranded.is_empty()
            {
                report.campaigns.push(t);
            }
        }
    }
    report.remediation = remediation::verify_remediation(store, acting, now)?;
    if policy.event_driven.enabled {
        report.opened = event_driven(store, policy, acting, now, &mut readings)?;
    }
    launch_due(store, policy, acting, now, &mut report, &mut readings)?;
    Ok(report)
}

/// Launches, for each scope the policy marks `auto_launch`, the campaign that is due (as the
/// schedule: no person created or launched it, and the events say so). A due scope whose
/// launch is refused (nothing to review, say) keeps its one draft and is reported, not
/// retried into a new draft at every tick.
fn launch_due(
    store: &Store,
    policy: &ReviewPolicy,
    acting: &Acting,
    now: Timestamp,
    report: &mut TickReport,
    readings: &mut Readings,
) -> Result<(), CampaignError> {
    if !policy.scopes.iter().any(|s| s.auto_launch) {
        return Ok(());
    }
    let campaigns = store.read(|r| r.campaigns())?;
    for d in due(store, policy, now)? {
        if !d.due || !policy.scope(&d.scope).is_some_and(|s| s.auto_launch) {
            continue;
        }
        let waiting = campaigns.iter().find(|c| {
            c.state == CampaignState::Draft
                && c.created.created_by.is_none()
                && c.created.scope.as_deref() == Some(d.scope.as_str())
        });
        let draft = match waiting {
            Some(c) => c.clone(),
            None => {
                let created = create_by(
                    store,
                    policy,
                    &acting.actor,
                    None,
                    now,
                    NewCampaign {
                        scope: Some(d.scope.clone()),
                        ..NewCampaign::default()
                    },
                )?;
                store.read(|r| r.campaign(created.id))?
            }
        };
        let id = draft.id;
        match launch_by(
            store,
            policy,
            &acting.actor,
            None,
            now,
            draft,
            &[],
            readings,
        ) {
            Ok(_) => report.launched.push((id, d.scope.clone())),
            Err(CampaignError::Store(e)) => return Err(e.into()),
            Err(e) => report.not_launched.push((d.scope.clone(), e.to_string())),
        }
    }
    Ok(())
}

fn tick_campaign(
    w: &mut Writer<'_>,
    dir: &Directory,
    id: CampaignId,
    now: Timestamp,
) -> Result<CampaignTick, CampaignError> {
    let mut t = CampaignTick {
        id: Some(id),
        ..CampaignTick::default()
    };
    let r = &mut w.read()?;
    let c = r.campaign(id)?;
    if c.state != CampaignState::Active {
        return Ok(t);
    }
    let Some(due) = c.due else { return Ok(t) };
    let rules = c.created.rules.clone();
    let compliance = rules.compliance_owner.clone();
    let owner = c.created.owner.clone();
    let fallbacks = [&compliance, &owner];

    // Deadline: undecided items get the default, and nothing else is needed.
    let deadline = plus_days(due, i64::from(rules.deadline_days));
    if now >= deadline {
        let d = apply_default(w, &c, now, &format!("nobody decided by {}", date(deadline)))?;
        t.defaulted = d.decided;
        t.tasks = d.tasks;
        return Ok(t);
    }

    let open = r.review_items(
        id,
        &ItemFilter {
            open: Some(true),
            ..ItemFilter::default()
        },
    )?;
    // Reviewers who left: the escalation path replaces them.
    let mut replaced: BTreeMap<(IdentityKey, IdentityKey), Vec<u32>> = BTreeMap::new();
    // Escalations of overdue items.
    let level = rules
        .escalations
        .iter()
        .filter(|d| now >= plus_days(due, i64::from(**d)))
        .count();
    let mut escalated_level: BTreeMap<u32, usize> = BTreeMap::new();
    if level > 0 {
        for m in r.reassignments(id)? {
            if m.how == Reassignment::Escalated {
                for n in m.items {
                    *escalated_level.entry(n).or_default() += 1;
                }
            }
        }
    }
    let mut escalations: BTreeMap<(IdentityKey, IdentityKey), Vec<u32>> = BTreeMap::new();
    for item in &open {
        let holder = item.item.identity.as_ref();
        // One item nobody can take must not stop the schedule of the others: it is
        // reported (a reviewer who left) or stays where it is (an escalation).
        if !dir.can_review(&item.reviewer) {
            match dir.settle(
                dir.manager(&item.reviewer),
                holder,
                &fallbacks,
                "manager of a reviewer who left",
            ) {
                Ok((to, _)) => replaced
                    .entry((item.reviewer.clone(), to))
                    .or_default()
                    .push(item.item.n),
                Err(_) => t.stranded.push(item.reference()),
            }
            continue;
        }
        let done = escalated_level.get(&item.item.n).copied().unwrap_or(0);
        if level > done {
            let up = if level == 1 {
                dir.settle(
                    dir.manager(&item.reviewer),
                    holder,
                    &fallbacks,
                    "reviewer's manager",
                )
            } else {
                dir.settle(Some(&compliance), holder, &[&owner], "compliance owner")
            };
            // Nobody above can take it: its reviewer keeps it.
            let Ok((to, _)) = up else { continue };
            if to != item.reviewer {
                escalations
                    .entry((item.reviewer.clone(), to))
                    .or_default()
                    .push(item.item.n);
            }
        }
    }
    for ((from, to), items) in replaced {
        let reason = format!("{from} has left; the escalation path gives the items to {to}");
        let mut g = BTreeMap::new();
        g.insert(from, items);
        t.replaced += append_moves(
            w,
            &c,
            g,
            &to,
            Move {
                how: Reassignment::Replaced,
                by: None,
                reason: &reason,
            },
            now,
        )?;
    }
    for ((from, to), items) in escalations {
        let reason = format!(
            "overdue since {}: escalation {level} of {}",
            date(due),
            rules.escalations.len()
        );
        let mut g = BTreeMap::new();
        g.insert(from, items);
        t.escalated += append_moves(
            w,
            &c,
            g,
            &to,
            Move {
                how: Reassignment::Escalated,
                by: None,
                reason: &reason,
            },
            now,
        )?;
    }

    // Reminders: the latest step of the schedule that has come, once per reviewer.
    let step = rules
        .reminders
        .iter()
        .copied()
        .filter(|d| now >= plus_days(due, -i64::from(*d)))
        .min();
    if let Some(days_before) = step
        && now < plus_days(due, 1)
    {
        let r = &mut w.read()?;
        let sent: BTreeSet<(IdentityKey, u32)> = r
            .reminders(id)?
            .into_iter()
            .map(|m| (m.reviewer, m.days_before))
            .collect();
        for (reviewer, n) in r.open_items_by_reviewer(id)? {
            if sent.contains(&(reviewer.clone(), days_before)) {
                continue;
            }
            w.append(CampaignEvent::ReviewReminded(Stamped {
                as_of: now,
                import: None,
                record: ReviewReminded {
                    campaign: id,
                    reviewer: reviewer.clone(),
                    open: n,
                    due,
                    days_before,
                },
            }))?;
            t.reminded.push((reviewer, n));
        }
    }
    Ok(t)
}

/// Opens one event-driven review per open finding of the policy's rules that no such review
/// covers yet.
fn event_driven(
    store: &Store,
    policy: &ReviewPolicy,
    acting: &Acting,
    now: Timestamp,
    readings: &mut Readings,
) -> Result<Vec<(CampaignId, String)>, CampaignError> {
    let ed = &policy.event_driven;
    let (findings, covered, configs) = store.read(|r| {
        let findings = r.findings(&FindingFilter {
            status: vec![FindingStatus::Open],
            ..FindingFilter::default()
        })?;
        let covered: BTreeSet<String> = r
            .campaigns()?
            .into_iter()
            .filter_map(|c| c.created.trigger)
            .collect();
        Ok::<_, StoreError>((findings, covered, r.system_configs()?))
    })?;
    let sox: BTreeSet<&str> = configs
        .iter()
        .filter(|c| c.financial_reporting || c.frameworks.iter().any(|f| f == "sox"))
        .map(|c| c.key.as_str())
        .collect();
    let wanted: Vec<&gatehouse_model::Finding> = findings
        .iter()
        .map(|f| &f.finding)
        .filter(|f| ed.rules.contains(&f.rule) && !covered.contains(&f.id))
        .filter(|f| f.identity.is_some() && !f.entitlements.is_empty())
        .filter(|f| {
            !ed.sox_only
                || f.entitlements
                    .iter()
                    .any(|e| sox.contains(e.system.as_str()))
        })
        .collect();
    let mut opened = Vec::new();
    if wanted.is_empty() {
        return Ok(opened);
    }
    let settings = policy.event_settings();
    let rules = policy.rules(&settings)?;
    for f in wanted {
        let mut systems: Vec<SystemKey> = f
            .entitlements
            .iter()
            .map(|e| e.system.clone())
            .filter(|s| !ed.sox_only || sox.contains(s.as_str()))
            .collect();
        systems.sort();
        systems.dedup();
        let record = CampaignCreated {
            id: CampaignId::new(0),
            name: format!("{}: {}", f.rule, f.title),
            kind: CampaignKind::EventDriven,
            scope: None,
            systems,
            privileged_only: false,
            owner: rules.compliance_owner.clone(),
            created_by: None,
            instructions: settings.instructions.clone(),
            rules: rules.clone(),
            policy: policy.digest(),
            trigger: Some(f.id.clone()),
        };
        let id = store.write(&acting.actor, now, |w| {
            let mut record = record.clone();
            record.id = w.read()?.next_campaign_id()?;
            w.append(CampaignEvent::CampaignCreated(Stamped {
                as_of: now,
                import: None,
                record: record.clone(),
            }))?;
            Ok::<_, CampaignError>(record.id)
        })?;
        // The policy launches what it opens: acting as the campaign's owner.
        let owner = Acting {
            actor: acting.actor.clone(),
            identity: Some(rules.compliance_owner.clone()),
        };
        match launch_reading(store, policy, &owner, now, id, &[], readings) {
            Ok(_) => opened.push((id, f.id.clone())),
            Err(CampaignError::Invalid(_)) => {
                // Nothing of the finding is left to review (the grants went meanwhile): the
                // draft stays, recording that the finding was looked at.
                opened.push((id, f.id.clone()));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(opened)
}

/// A scope of the review policy and whether a campaign of it is due.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DueScope {
    /// The scope.
    pub scope: String,
    /// Its kind.
    pub kind: CampaignKind,
    /// The systems it covers now.
    pub systems: Vec<SystemKey>,
    /// Days between campaigns (the smallest of the scope's and its systems' own cadence).
    pub cadence_days: u32,
    /// The last campaign of the scope that was launched, and when.
    pub last: Option<(CampaignId, Timestamp)>,
    /// A campaign of the scope that is running now.
    pub running: Option<CampaignId>,
    /// When the next campaign is (or was) due; `None` when none was ever launched.
    pub due_on: Option<Timestamp>,
    /// Whether a campaign is due now (and none is running).
    pub due: bool,
}

/// Which campaigns the policy says are due: per scope, the last launched campaign plus the
/// cadence (the smaller of the scope's and any of its systems' `review_cadence_days`).
pub fn due(
    store: &Store,
    policy: &ReviewPolicy,
    now: Timestamp,
) -> Result<Vec<DueScope>, CampaignError> {
    let (configs, campaigns) =
        store.read(|r| Ok::<_, StoreError>((r.system_configs()?, r.campaigns()?)))?;
    let mut out = Vec::new();
    for scope in &policy.scopes {
        let covered: Vec<&gatehouse_model::SystemConfig> =
            configs.iter().filter(|c| scope.covers(c)).collect();
        let cadence = covered
            .iter()
            .filter_map(|c| c.review_cadence_days)
            .chain([scope.cadence_days])
            .min()
            .unwrap_or(scope.cadence_days);
        let of_scope: Vec<&CampaignRow> = campaigns
            .iter()
            .filter(|c| c.created.scope.as_deref() == Some(scope.name.as_str()))
            .collect();
        let last = of_scope
            .iter()
            .filter_map(|c| c.launched_at.map(|t| (c.id, t)))
            .max_by_key(|(_, t)| *t);
        let running = of_scope
            .iter()
            .find(|c| c.state == CampaignState::Active)
            .map(|c| c.id);
        let due_on = last.map(|(_, t)| plus_days(t, i64::from(cadence)));
        out.push(DueScope {
            scope: scope.name.clone(),
            kind: scope.kind(),
            systems: covered.iter().map(|c| c.key.clone()).collect(),
            cadence_days: cadence,
            last,
            running,
            due_on,
            due: running.is_none() && due_on.is_none_or(|d| d <= now) && !covered.is_empty(),
        });
    }
    Ok(out)
}
