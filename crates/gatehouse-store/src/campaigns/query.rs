//! Questions about campaigns, review items, decisions, remediation and notifications.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{LazyLock, Mutex, OnceLock};

use gatehouse_model::{
    AccessPath, CampaignClosed, CampaignCreated, CampaignId, CampaignLaunched, CampaignState,
    Channel, DecisionOrigin, DecisionsImported, EntitlementContext, FindingEvent, HolderContext,
    IdentityKey, InventoryEvent, ItemContext, ItemRef, Reassignment, RemediationTask, ReviewItem,
    Role, SystemKey, TaskStatus, Timestamp, Verdict,
};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::conn::{Backend, Conn, RowRef, Value};
use crate::error::StoreError;
use crate::lock;
use crate::sink::OPEN;
use crate::txn::Reader;
use crate::writer::from_micros;

fn ts(us: i64) -> Result<Timestamp, StoreError> {
    from_micros(us)
}

fn opt_ts(us: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    us.map(ts).transpose()
}

fn campaign_id(n: i64) -> Result<CampaignId, StoreError> {
    u32::try_from(n)
        .map(CampaignId::new)
        .map_err(|_| StoreError::Corrupt(format!("campaign number {n} is out of range")))
}

fn item_number(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("item number {n} is out of range")))
}

fn opt_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Result<Option<T>, StoreError> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(StoreError::from)
}

/// Parsed records of campaigns, by their text.
type Parsed<T> = LazyLock<Mutex<FxHashMap<String, T>>>;

/// At most this many texts per kind of record are kept parsed; all are forgotten when full.
const PARSED_MAX: usize = 64;

/// A campaign's record, parsed from `text` or as parsed before. A campaign's scope, rules and
/// launch are written once and read with every decision: parsing them again each time was a
/// tenth of a web decision's work in the writer (docs/PERFORMANCE.md, "Decisions by their
/// keys"). Keyed by the whole text, the answer is always what parsing it would give.
fn parsed<T: serde::de::DeserializeOwned + Clone>(
    memo: &Parsed<T>,
    text: String,
) -> Result<T, StoreError> {
    if let Some(v) = lock(memo).get(&text) {
        return Ok(v.clone());
    }
    let v: T = serde_json::from_str(&text)?;
    let mut m = lock(memo);
    if m.len() >= PARSED_MAX {
        m.clear();
    }
    m.insert(text, v.clone());
    Ok(v)
}

static CREATED: Parsed<CampaignCreated> = LazyLock::new(Default::default);
static LAUNCHED: Parsed<CampaignLaunched> = LazyLock::new(Default::default);

/// A campaign as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignRow {
    /// Its id.
    pub id: CampaignId,
    /// Draft, active or closed.
    pub state: CampaignState,
    /// Scope and rules, as created.
    pub created: CampaignCreated,
    /// When it was created.
    pub created_at: Timestamp,
    /// The launch: population hash, sources, exclusions.
    pub launch: Option<CampaignLaunched>,
    /// When it was launched.
    pub launched_at: Option<Timestamp>,
    /// When its items are due.
    pub due: Option<Timestamp>,
    /// The sign-off.
    pub closing: Option<CampaignClosed>,
    /// For decisions imported from outside: the file they came from.
    pub imported: Option<DecisionsImported>,
    /// When it was closed.
    pub closed_at: Option<Timestamp>,
    /// Items in it.
    pub items: u64,
    /// Items with a final decision.
    pub decided: u64,
    /// The last event that changed it.
    pub seq: u64,
}

const CAMPAIGN_COLUMNS: &str = "campaign, state, record, created_at, launch, launched_at, due, \
                                closing, imported, closed_at, items, decided, seq";

fn campaign_row(r: &RowRef<'_, '_>) -> Result<CampaignRow, StoreError> {
    Ok(CampaignRow {
        id: campaign_id(r.i64(0)?)?,
        state: r.parse(1)?,
        created: parsed(&CREATED, r.str(2)?)?,
        created_at: ts(r.i64(3)?)?,
        launch: r
            .opt_str(4)?
            .map(|text| parsed(&LAUNCHED, text))
            .transpose()?,
        launched_at: opt_ts(r.opt_i64(5)?)?,
        due: opt_ts(r.opt_i64(6)?)?,
        closing: opt_json(r.opt_str(7)?)?,
        imported: opt_json(r.opt_str(8)?)?,
        closed_at: opt_ts(r.opt_i64(9)?)?,
        items: r.i64(10)? as u64,
        decided: r.i64(11)? as u64,
        seq: r.i64(12)? as u64,
    })
}

/// The final decision on an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FinalDecision {
    /// What was decided.
    pub verdict: Verdict,
    /// Until when (`keep_until`).
    pub until: Option<Timestamp>,
    /// The comment.
    pub comment: Option<String>,
    /// Who decided (absent for deadline defaults).
    pub by: Option<IdentityKey>,
    /// When.
    pub at: Timestamp,
    /// How.
    pub origin: DecisionOrigin,
}

/// A review item as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemRow {
    /// The campaign.
    pub campaign: CampaignId,
    /// The item as launched.
    pub item: ReviewItem,
    /// The stage it is at (or was decided at).
    pub stage: u32,
    /// Who reviews it now.
    pub reviewer: IdentityKey,
    /// The final decision, once made.
    pub decision: Option<FinalDecision>,
    /// The `review.items` event that carries it.
    pub item_seq: u64,
    /// The last event that changed it.
    pub seq: u64,
}

impl ItemRow {
    /// `C-0007/42`.
    pub fn reference(&self) -> ItemRef {
        ItemRef {
            campaign: self.campaign,
            item: self.item.n,
        }
    }
}

const ITEM_COLUMNS: &str = "i.campaign, i.n, i.system, i.account, i.entitlement, i.role, \
     i.identity, i.reviewers, i.stage, i.reviewer, i.recommendation, i.reason, i.context, \
     i.verdict, i.until_at, i.comment, i.decided_by, i.decided_at, i.origin, i.item_seq, i.seq, i.assignment";

fn item_row(r: &RowRef<'_, '_>) -> Result<ItemRow, StoreError> {
    let context: Option<ItemContext> = opt_json(r.opt_str(12)?)?;
    let decision = match r.opt_parse::<Verdict>(13)? {
        None => None,
        Some(verdict) => Some(FinalDecision {
            verdict,
            until: opt_ts(r.opt_i64(14)?)?,
            comment: r.opt_str(15)?,
            by: r.opt_parse(16)?,
            at: ts(r.i64(17)?)?,
            origin: r.parse(18)?,
        }),
    };
    Ok(ItemRow {
        campaign: campaign_id(r.i64(0)?)?,
        item: ReviewItem {
            n: item_number(r.i64(1)?)?,
            system: r.parse(2)?,
            account: r.opt_str(3)?,
            entitlement: r.str(4)?,
            role: r.opt_parse(5)?,
            identity: r.opt_parse(6)?,
            reviewers: serde_json::from_str(&r.str(7)?)?,
            assignment: r.opt_str(21)?,
            recommendation: r.parse(10)?,
            reason: r.str(11)?,
            context: context.unwrap_or_default(),
        },
        stage: item_number(r.i64(8)?)?,
        reviewer: r.parse(9)?,
        decision,
        item_seq: r.i64(19)? as u64,
        seq: r.i64(20)? as u64,
    })
}

/// The holders' and entitlements' context of campaigns (recorded once per campaign, not on
/// each item), read as needed and added to the items' own.
#[derive(Default)]
struct Contexts {
    holders: FxHashMap<(u32, String), Option<HolderContext>>,
    entitlements: FxHashMap<(u32, String, String), Option<EntitlementContext>>,
}

const HOLDER_COLUMNS: &str = "identity, name, manager, department, title, status, purpose, \
     rotated FROM review_holder WHERE campaign = $1";

const ENTITLEMENT_COLUMNS: &str = "system, entitlement, name, meaning, privileged, risk FROM review_entitlement WHERE campaign = $1";

fn holder_row(r: &RowRef<'_, '_>) -> Result<HolderContext, StoreError> {
    Ok(HolderContext {
        identity: r.parse(0)?,
        name: r.opt_str(1)?,
        manager: r.opt_parse(2)?,
        department: r.opt_str(3)?,
        title: r.opt_str(4)?,
        status: r.opt_str(5)?,
        purpose: r.opt_str(6)?,
        rotated: opt_ts(r.opt_i64(7)?)?,
    })
}

fn entitlement_row(r: &RowRef<'_, '_>) -> Result<EntitlementContext, StoreError> {
    Ok(EntitlementContext {
        system: r.parse(0)?,
        entitlement: r.str(1)?,
        name: r.opt_str(2)?,
        meaning: r.opt_str(3)?,
        privileged: r.i64(4)? != 0,
        risk: r.opt_parse(5)?,
    })
}

impl Contexts {
    /// Reads every record of a campaign (for lists of many of its items).
    fn load_campaign(&mut self, db: &mut Conn, id: CampaignId) -> Result<(), StoreError> {
        let c = id.number();
        self.read_holders(db, c, "", None)?;
        self.read_entitlements(db, c, "", None)
    }

    /// Reads, in one question per campaign and kind, the records of `rows`' holders and
    /// entitlements not read yet: a page of a hundred items asks two questions, not two
    /// hundred. Those a campaign did not record are remembered as absent.
    fn load_for<'r>(
        &mut self,
        db: &mut Conn,
        rows: impl IntoIterator<Item = &'r ItemRow>,
    ) -> Result<(), StoreError> {
        let mut holders: BTreeMap<u32, BTreeSet<&str>> = BTreeMap::new();
        let mut entitlements: BTreeMap<u32, BTreeSet<(&str, &str)>> = BTreeMap::new();
        for r in rows {
            let c = r.campaign.number();
            if let Some(identity) = &r.item.identity
                && !self.holders.contains_key(&holder_key(c, identity.as_str()))
            {
                holders.entry(c).or_default().insert(identity.as_str());
            }
            let (system, entitlement) = (r.item.system.as_str(), r.item.entitlement.as_str());
            if !self
                .entitlements
                .contains_key(&entitlement_key(c, system, entitlement))
            {
                entitlements
                    .entry(c)
                    .or_default()
                    .insert((system, entitlement));
            }
        }
        let (holders_sql, entitlements_sql) = match db.backend() {
            Backend::Sqlite => (
                "AND identity IN (SELECT value FROM json_each($2))",
                "AND (system, entitlement) IN \
                 (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($2))",
            ),
            Backend::Postgres => (
                "AND identity IN (SELECT json_array_elements_text($2::text::json))",
                "AND (system, entitlement) IN \
                 (SELECT x->>0, x->>1 FROM json_array_elements($2::text::json) AS x)",
            ),
        };
        for (c, wanted) in holders {
            self.read_holders(db, c, holders_sql, Some(serde_json::to_string(&wanted)?))?;
            for identity in wanted {
                self.holders.entry(holder_key(c, identity)).or_insert(None);
            }
        }
        for (c, wanted) in entitlements {
            self.read_entitlements(
                db,
                c,
                entitlements_sql,
                Some(serde_json::to_string(&wanted)?),
            )?;
            for (system, entitlement) in wanted {
                self.entitlements
                    .entry(entitlement_key(c, system, entitlement))
                    .or_insert(None);
            }
        }
        Ok(())
    }

    /// Reads the holders' records of campaign `c` that `filter` selects (with `wanted` as
    /// `$2`).
    fn read_holders(
        &mut self,
        db: &mut Conn,
        c: u32,
        filter: &str,
        wanted: Option<String>,
    ) -> Result<(), StoreError> {
        let p = params(c, wanted);
        for h in db.query(&format!("SELECT {HOLDER_COLUMNS} {filter}"), &p, holder_row)? {
            self.holders
                .insert(holder_key(c, h.identity.as_str()), Some(h));
        }
        Ok(())
    }

    /// Reads the entitlements' records of campaign `c` that `filter` selects (with `wanted`
    /// as `$2`).
    fn read_entitlements(
        &mut self,
        db: &mut Conn,
        c: u32,
        filter: &str,
        wanted: Option<String>,
    ) -> Result<(), StoreError> {
        let p = params(c, wanted);
        for e in db.query(
            &format!("SELECT {ENTITLEMENT_COLUMNS} {filter}"),
            &p,
            entitlement_row,
        )? {
            self.entitlements.insert(
                entitlement_key(c, e.system.as_str(), &e.entitlement),
                Some(e),
            );
        }
        Ok(())
    }

    /// Adds the records of an item's holder and entitlement to its context, as read before
    /// ([`Contexts::load_for`] or [`Contexts::load_campaign`]).
    fn add(&self, row: &mut ItemRow) {
        let c = row.campaign.number();
        if let Some(identity) = &row.item.identity
            && let Some(Some(h)) = self.holders.get(&holder_key(c, identity.as_str()))
        {
            row.item.context.add_holder(h);
        }
        let key = entitlement_key(c, row.item.system.as_str(), &row.item.entitlement);
        if let Some(Some(e)) = self.entitlements.get(&key) {
            row.item.context.add_entitlement(e);
        }
    }
}

fn holder_key(campaign: u32, identity: &str) -> (u32, String) {
    (campaign, identity.to_owned())
}

fn entitlement_key(campaign: u32, system: &str, entitlement: &str) -> (u32, String, String) {
    (campaign, system.to_owned(), entitlement.to_owned())
}

/// The parameters of a records question: the campaign, and what it asks for if not all.
fn params(campaign: u32, wanted: Option<String>) -> Vec<Value> {
    std::iter::once(Value::Int(i64::from(campaign)))
        .chain(wanted.map(Value::Text))
        .collect()
}

/// Adds the holders' and entitlements' records to the items' context.
fn with_contexts(db: &mut Conn, mut rows: Vec<ItemRow>) -> Result<Vec<ItemRow>, StoreError> {
    // A long list of one campaign's items reads all its records at once.
    if rows.len() > 1000 && rows.iter().all(|r| r.campaign == rows[0].campaign) {
        let mut cx = Contexts::default();
        cx.load_campaign(db, rows[0].campaign)?;
        for r in &mut rows {
            cx.add(r);
        }
    } else {
        with_contexts_of(db, rows.iter_mut())?;
    }
    Ok(rows)
}

/// Adds their holders' and entitlements' records to a few items' context, read in one
/// question per campaign and kind.
fn with_contexts_of<'r>(
    db: &mut Conn,
    rows: impl IntoIterator<Item = &'r mut ItemRow>,
) -> Result<(), StoreError> {
    let mut rows: Vec<&mut ItemRow> = rows.into_iter().collect();
    let mut cx = Contexts::default();
    cx.load_for(db, rows.iter().map(|r| &**r))?;
    for r in &mut rows {
        cx.add(r);
    }
    Ok(())
}

/// Adds its holder's and entitlement's records to one item's context, each looked up by its
/// key (what [`with_contexts_of`] does for many, without building a list to ask for).
fn with_context_of_one(db: &mut Conn, row: &mut ItemRow) -> Result<(), StoreError> {
    static HOLDER: OnceLock<String> = OnceLock::new();
    static ENTITLEMENT: OnceLock<String> = OnceLock::new();
    let c = Value::Int(i64::from(row.campaign.number()));
    if let Some(identity) = &row.item.identity {
        let sql = HOLDER.get_or_init(|| format!("SELECT {HOLDER_COLUMNS} AND identity = $2"));
        let params = [c.clone(), Value::from(identity.as_str())];
        if let Some(h) = db.query_opt(sql, &params, holder_row)? {
            row.item.context.add_holder(&h);
        }
    }
    let sql = ENTITLEMENT.get_or_init(|| {
        format!("SELECT {ENTITLEMENT_COLUMNS} AND system = $2 AND entitlement = $3")
    });
    let params = [
        c,
        Value::from(row.item.system.as_str()),
        Value::from(row.item.entitlement.as_str()),
    ];
    if let Some(e) = db.query_opt(sql, &params, entitlement_row)? {
        row.item.context.add_entitlement(&e);
    }
    Ok(())
}

/// Which items of a campaign to list; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    /// Only items this reviewer has now.
    pub reviewer: Option<IdentityKey>,
    /// Only open items (`Some(true)`) or only decided ones (`Some(false)`).
    pub open: Option<bool>,
    /// Only items after this number.
    pub after: Option<u32>,
    /// At most this many.
    pub limit: Option<u64>,
}

/// A kind of risk an inbox can be narrowed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxRisk {
    /// Privileged entitlements.
    Privileged,
    /// Grants in a segregation-of-duties conflict.
    Sod,
    /// Grants with open findings.
    Findings,
}

impl InboxRisk {
    fn marker(self) -> &'static str {
        match self {
            InboxRisk::Privileged => "%\"privileged\":true%",
            InboxRisk::Sod => "%\"sod\":%",
            InboxRisk::Findings => "%\"findings\":[%",
        }
    }
}

/// Which of a reviewer's open items an inbox page shows; empty fields do not filter.
#[derive(Debug, Clone)]
pub struct InboxFilter {
    /// Only items on this system.
    pub system: Option<SystemKey>,
    /// Only items with this recommendation.
    pub recommendation: Option<Verdict>,
    /// Only items of this campaign.
    pub campaign: Option<CampaignId>,
    /// Only items with this kind of risk.
    pub risk: Option<InboxRisk>,
    /// Skip this many.
    pub offset: u64,
    /// At most this many.
    pub limit: u64,
}

impl Default for InboxFilter {
    fn default() -> Self {
        InboxFilter {
            system: None,
            recommendation: None,
            campaign: None,
            risk: None,
            offset: 0,
            limit: 100,
        }
    }
}

/// One page of a reviewer's inbox.
#[derive(Debug, Clone, Default)]
pub struct InboxPage {
    /// Open items that match the filter, in all.
    pub total: u64,
    /// This page's items with their campaign's due date, soonest due first.
    pub items: Vec<(Option<Timestamp>, ItemRow)>,
    /// Open items per system (unfiltered).
    pub systems: Vec<(SystemKey, u64)>,
    /// Open items per campaign (unfiltered).
    pub campaigns: Vec<(CampaignId, u64)>,
}

/// A decision at one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageDecision {
    /// The item.
    pub item: ItemRef,
    /// The stage.
    pub stage: u32,
    /// What was decided.
    pub verdict: Verdict,
    /// Until when.
    pub until: Option<Timestamp>,
    /// The comment.
    pub comment: Option<String>,
    /// Who.
    pub by: Option<IdentityKey>,
    /// When.
    pub at: Timestamp,
    /// How.
    pub origin: DecisionOrigin,
    /// The `review.decided` event.
    pub seq: u64,
}

/// A change of reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReassignmentRow {
    /// The `review.reassigned` event.
    pub seq: u64,
    /// The campaign.
    pub campaign: CampaignId,
    /// Why.
    pub how: Reassignment,
    /// From whom.
    pub from: IdentityKey,
    /// To whom.
    pub to: IdentityKey,
    /// Who did it (absent when the schedule did).
    pub by: Option<IdentityKey>,
    /// The reason.
    pub reason: String,
    /// The items.
    pub items: Vec<u32>,
    /// When.
    pub at: Timestamp,
}

/// A reminder sent on the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReminderRow {
    /// The `review.reminded` event.
    pub seq: u64,
    /// The campaign.
    pub campaign: CampaignId,
    /// To whom.
    pub reviewer: IdentityKey,
    /// Open items they had.
    pub open: u64,
    /// The due date.
    pub due: Timestamp,
    /// Which step of the schedule (days before the due date).
    pub days_before: u32,
    /// When.
    pub at: Timestamp,
}

/// A remediation task as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRow {
    /// The task as opened.
    pub task: RemediationTask,
    /// Where it stands.
    pub status: TaskStatus,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// What the person who did it wrote.
    pub note: Option<String>,
    /// Who said it is done.
    pub done_by: Option<IdentityKey>,
    /// When.
    pub done_at: Option<Timestamp>,
    /// The snapshot time of the import that showed the access gone.
    pub verified_at: Option<Timestamp>,
    /// That import's `import.applied` event.
    pub verified_import: Option<u64>,
    /// When it was last reopened.
    pub reopened_at: Option<Timestamp>,
    /// Why.
    pub reopen_reason: Option<String>,
    /// How many times it was reopened.
    pub reopens: u64,
    /// The last event that changed it.
    pub seq: u64,
}

const TASK_COLUMNS: &str = "campaign, n, system, account, entitlement, role, identity, assignee, \
     due, status, opened_at, paths, note, done_by, done_at, verified_at, verified_import, \
     reopened_at, reopen_reason, reopens, seq";

fn task_row(r: &RowRef<'_, '_>) -> Result<TaskRow, StoreError> {
    let paths: Vec<AccessPath> = serde_json::from_str(&r.str(11)?)?;
    Ok(TaskRow {
        task: RemediationTask {
            item: ItemRef {
                campaign: campaign_id(r.i64(0)?)?,
                item: item_number(r.i64(1)?)?,
            },
            system: r.parse(2)?,
            account: r.opt_str(3)?,
            entitlement: r.str(4)?,
            role: r.opt_parse(5)?,
            identity: r.opt_parse(6)?,
            assignee: r.opt_parse(7)?,
            due: ts(r.i64(8)?)?,
            paths,
        },
        status: r.parse(9)?,
        opened_at: ts(r.i64(10)?)?,
        note: r.opt_str(12)?,
        done_by: r.opt_parse(13)?,
        done_at: opt_ts(r.opt_i64(14)?)?,
        verified_at: opt_ts(r.opt_i64(15)?)?,
        verified_import: r.opt_i64(16)?.map(|s| s as u64),
        reopened_at: opt_ts(r.opt_i64(17)?)?,
        reopen_reason: r.opt_str(18)?,
        reopens: r.i64(19)? as u64,
        seq: r.i64(20)? as u64,
    })
}

/// Which tasks to list; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Only in these statuses.
    pub status: Vec<TaskStatus>,
    /// Only of this campaign.
    pub campaign: Option<CampaignId>,
    /// Only assigned to this person.
    pub assignee: Option<IdentityKey>,
}

/// One version of a grant, for verifying remediation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantVersionFact {
    /// When it began.
    pub valid_from: Timestamp,
    /// When it ended; `None` for the current version.
    pub valid_to: Option<Timestamp>,
    /// The event that began it.
    pub seq: u64,
    /// The event that ended it.
    pub end_seq: Option<u64>,
    /// The warrant it cited.
    pub warrant: Option<String>,
}

/// An import of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRef {
    /// Its `import.applied` event.
    pub seq: u64,
    /// The source.
    pub source: String,
    /// The snapshot time.
    pub as_of: Timestamp,
    /// Its digest.
    pub digest: String,
}

/// What the store knows about one grant's presence, for verifying its remediation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantTrace {
    /// Every version of the grant, oldest first.
    pub versions: Vec<GrantVersionFact>,
    /// The latest import of its system.
    pub last_import: Option<ImportRef>,
}

impl GrantTrace {
    /// The current version, if the grant is present.
    pub fn current(&self) -> Option<&GrantVersionFact> {
        self.versions.last().filter(|v| v.valid_to.is_none())
    }
}

/// The final decision on a grant item, for counting keeps as warrants and finding revokes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantVerdict {
    /// The item.
    pub item: ItemRef,
    /// The system.
    pub system: SystemKey,
    /// The account.
    pub account: String,
    /// The entitlement.
    pub entitlement: String,
    /// The holder.
    pub identity: Option<IdentityKey>,
    /// The decision.
    pub verdict: Verdict,
    /// Until when (`keep_until`).
    pub until: Option<Timestamp>,
    /// Who decided.
    pub by: Option<IdentityKey>,
    /// When.
    pub at: Timestamp,
}

/// A notification attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationRow {
    /// The event.
    pub seq: u64,
    /// The notification's id (attempts of one notification share it).
    pub id: String,
    /// Which attempt.
    pub attempt: u32,
    /// How it travelled.
    pub channel: Channel,
    /// To whom.
    pub to: String,
    /// What kind.
    pub kind: String,
    /// Its subject.
    pub subject: String,
    /// What it is about.
    pub about: Vec<String>,
    /// Whether it was delivered.
    pub delivered: bool,
    /// Why not.
    pub error: Option<String>,
    /// When it will be tried again.
    pub retry_at: Option<Timestamp>,
    /// When.
    pub at: Timestamp,
}

fn notification_row(r: &RowRef<'_, '_>) -> Result<NotificationRow, StoreError> {
    Ok(NotificationRow {
        seq: r.i64(0)? as u64,
        id: r.str(1)?,
        attempt: item_number(r.i64(2)?)?,
        channel: r.parse(3)?,
        to: r.str(4)?,
        kind: r.str(5)?,
        subject: r.str(6)?,
        about: opt_json(r.opt_str(7)?)?.unwrap_or_default(),
        delivered: r.i64(8)? != 0,
        error: r.opt_str(9)?,
        retry_at: opt_ts(r.opt_i64(10)?)?,
        at: ts(r.i64(11)?)?,
    })
}

/// Counts the events after `$1` of the given kinds.
fn count_kinds(kinds: &[&str]) -> String {
    let kinds: Vec<String> = kinds.iter().map(|k| format!("'{k}'")).collect();
    format!(
        "SELECT count(*) FROM event WHERE seq > $1 AND kind IN ({})",
        kinds.join(", ")
    )
}

/// `kind IN (…)` over every inventory event kind, built once.
fn inventory_kinds() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| count_kinds(InventoryEvent::KINDS))
}

/// The same over every inventory and findings event kind.
fn population_kinds() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| count_kinds(&[InventoryEvent::KINDS, FindingEvent::KINDS].concat()))
}

fn import_ref(r: &RowRef<'_, '_>) -> Result<ImportRef, StoreError> {
    Ok(ImportRef {
        seq: r.i64(0)? as u64,
        source: r.str(1)?,
        as_of: ts(r.i64(2)?)?,
        digest: r.str(3)?,
    })
}

fn stage_decision(r: &RowRef<'_, '_>) -> Result<StageDecision, StoreError> {
    Ok(StageDecision {
        item: ItemRef {
            campaign: campaign_id(r.i64(0)?)?,
            item: item_number(r.i64(1)?)?,
        },
        stage: item_number(r.i64(2)?)?,
        verdict: r.parse(3)?,
        until: opt_ts(r.opt_i64(4)?)?,
        comment: r.opt_str(5)?,
        by: r.opt_parse(6)?,
        at: ts(r.i64(7)?)?,
        origin: r.parse(8)?,
        seq: r.i64(9)? as u64,
    })
}

fn unknown_campaign(id: CampaignId) -> StoreError {
    StoreError::unknown(format!("there is no campaign `{id}`"))
}

impl Reader<'_> {
    /// The id the next campaign gets.
    pub fn next_campaign_id(&mut self) -> Result<CampaignId, StoreError> {
        campaign_id(
            self.conn
                .scalar("SELECT max(campaign) FROM campaign", &[])?
                + 1,
        )
    }

    /// One campaign.
    pub fn campaign(&mut self, id: CampaignId) -> Result<CampaignRow, StoreError> {
        static ONE: OnceLock<String> = OnceLock::new();
        self.conn
            .query_opt(
                ONE.get_or_init(|| {
                    format!("SELECT {CAMPAIGN_COLUMNS} FROM campaign WHERE campaign = $1")
                }),
                &[Value::Int(i64::from(id.number()))],
                campaign_row,
            )?
            .ok_or_else(|| unknown_campaign(id))
    }

    /// Every campaign, newest first.
    pub fn campaigns(&mut self) -> Result<Vec<CampaignRow>, StoreError> {
        self.conn.query(
            &format!("SELECT {CAMPAIGN_COLUMNS} FROM campaign ORDER BY campaign DESC"),
            &[],
            campaign_row,
        )
    }

    /// Items of a campaign, by number.
    pub fn review_items(
        &mut self,
        id: CampaignId,
        filter: &ItemFilter,
    ) -> Result<Vec<ItemRow>, StoreError> {
        let open = match filter.open {
            None => "",
            Some(true) => "AND i.verdict IS NULL",
            Some(false) => "AND i.verdict IS NOT NULL",
        };
        // The reviewer's condition is written only when asked for, so that the planner can
        // use the index of open items by reviewer instead of reading the whole campaign.
        let reviewer = if filter.reviewer.is_some() {
            "AND i.reviewer = $3"
        } else {
            "AND $3 = ''"
        };
        let limit = filter
            .limit
            .map_or(i64::MAX as u64, |l| l.min(i64::MAX as u64));
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM review_item i WHERE i.campaign = $1 AND i.n > $2 \
             {reviewer} {open} ORDER BY i.n LIMIT {limit}"
        );
        let rows = self.conn.query(
            &sql,
            &[
                Value::Int(i64::from(id.number())),
                Value::Int(i64::from(filter.after.unwrap_or(0))),
                Value::from(filter.reviewer.as_ref().map_or("", |k| k.as_str())),
            ],
            item_row,
        )?;
        with_contexts(self.conn, rows)
    }

    /// One item.
    pub fn review_item(&mut self, item: ItemRef) -> Result<ItemRow, StoreError> {
        static ONE_ITEM: OnceLock<String> = OnceLock::new();
        let mut row = self
            .conn
            .query_opt(
                ONE_ITEM.get_or_init(|| {
                    format!(
                        "SELECT {ITEM_COLUMNS} FROM review_item i WHERE i.campaign = $1 AND i.n = $2"
                    )
                }),
                &[
                    Value::Int(i64::from(item.campaign.number())),
                    Value::Int(i64::from(item.item)),
                ],
                item_row,
            )?
            .ok_or_else(|| StoreError::unknown(format!("there is no review item `{item}`")))?;
        with_context_of_one(self.conn, &mut row)?;
        Ok(row)
    }

    /// Open items of a campaign per reviewer, by reviewer.
    pub fn open_items_by_reviewer(
        &mut self,
        id: CampaignId,
    ) -> Result<Vec<(IdentityKey, u64)>, StoreError> {
        self.conn.query(
            "SELECT reviewer, count(*) FROM review_item WHERE campaign = $1 AND verdict IS NULL \
             GROUP BY reviewer ORDER BY reviewer",
            &[Value::Int(i64::from(id.number()))],
            |r| Ok((r.parse(0)?, r.i64(1)? as u64)),
        )
    }

    /// Items of a campaign per reviewer (their current or deciding reviewer): all of them,
    /// and the open ones, by reviewer.
    pub fn progress_by_reviewer(
        &mut self,
        id: CampaignId,
    ) -> Result<Vec<(IdentityKey, u64, u64)>, StoreError> {
        self.conn.query(
            "SELECT reviewer, count(*), sum(CASE WHEN verdict IS NULL THEN 1 ELSE 0 END) \
             FROM review_item WHERE campaign = $1 GROUP BY reviewer ORDER BY reviewer",
            &[Value::Int(i64::from(id.number()))],
            |r| Ok((r.parse(0)?, r.i64(1)? as u64, r.i64(2)? as u64)),
        )
    }

    /// A reviewer's open items in active campaigns, soonest due first, with their due dates.
    pub fn inbox(
        &mut self,
        reviewer: &IdentityKey,
    ) -> Result<Vec<(Option<Timestamp>, ItemRow)>, StoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS}, c.due FROM review_item i \
             JOIN campaign c ON c.campaign = i.campaign \
             WHERE i.reviewer = $1 AND i.verdict IS NULL AND c.state = 'active' \
             ORDER BY c.due, i.campaign, i.n"
        );
        let mut rows = self
            .conn
            .query(&sql, &[Value::from(reviewer.as_str())], |r| {
                Ok((opt_ts(r.opt_i64(22)?)?, item_row(r)?))
            })?;
        with_contexts_of(self.conn, rows.iter_mut().map(|(_, row)| row))?;
        Ok(rows)
    }

    /// One page of a reviewer's open items in active campaigns, soonest due first, with how
    /// many there are in all, and how many per system and per campaign (for the filters).
    /// Filtering and paging happen in the database, on the index of open items by reviewer.
    pub fn inbox_page(
        &mut self,
        reviewer: &IdentityKey,
        filter: &InboxFilter,
    ) -> Result<InboxPage, StoreError> {
        let base = "FROM review_item i JOIN campaign c ON c.campaign = i.campaign \
                    WHERE i.reviewer = $1 AND i.verdict IS NULL AND c.state = 'active'";
        let mut cond = String::new();
        let mut params = vec![Value::from(reviewer.as_str())];
        if let Some(system) = &filter.system {
            params.push(Value::from(system.as_str()));
            cond.push_str(&format!(" AND i.system = ${}", params.len()));
        }
        if let Some(v) = filter.recommendation {
            params.push(Value::from(v.as_str()));
            cond.push_str(&format!(" AND i.recommendation = ${}", params.len()));
        }
        if let Some(id) = filter.campaign {
            params.push(Value::Int(i64::from(id.number())));
            cond.push_str(&format!(" AND i.campaign = ${}", params.len()));
        }
        if let Some(risk) = filter.risk {
            // The item's own context is stored as compact JSON in which these keys appear
            // only when set; an entitlement's privilege is recorded once per campaign (and on
            // the item itself for campaigns launched before that).
            params.push(Value::from(risk.marker()));
            let n = params.len();
            if risk == InboxRisk::Privileged {
                cond.push_str(&format!(
                    " AND (i.context LIKE ${n} OR EXISTS (SELECT 1 FROM review_entitlement e \
                     WHERE e.campaign = i.campaign AND e.system = i.system \
                     AND e.entitlement = i.entitlement AND e.privileged = 1))"
                ));
            } else {
                cond.push_str(&format!(" AND i.context LIKE ${n}"));
            }
        }
        // Open items per campaign and system, unfiltered (the filters' choices): the counts
        // the projection keeps, a row per campaign and system.
        let groups: Vec<(i64, String, u64, Option<i64>)> = self.conn.query(
            "SELECT o.campaign, o.system, o.open_items, c.due FROM review_open o \
             JOIN campaign c ON c.campaign = o.campaign \
             WHERE o.reviewer = $1 AND o.open_items > 0 AND c.state = 'active'",
            &params[..1],
            |r| Ok((r.i64(0)?, r.str(1)?, r.i64(2)? as u64, r.opt_i64(3)?)),
        )?;
        let mut systems: BTreeMap<String, u64> = BTreeMap::new();
        let mut campaigns: BTreeMap<i64, (u64, Option<i64>)> = BTreeMap::new();
        for (campaign, system, n, due) in &groups {
            *systems.entry(system.clone()).or_default() += n;
            let e = campaigns.entry(*campaign).or_insert((0, *due));
            e.0 += n;
        }
        // Matching items per campaign, soonest due first; then the page is read campaign by
        // campaign in item order, on the index of items by reviewer (whose entries carry the
        // item's number), so that no request sorts a reviewer's thousands of items. Filters by
        // system and campaign alone are answered from the counts; the others count the
        // matching items.
        let by_counts = filter.recommendation.is_none() && filter.risk.is_none();
        let mut per_campaign: Vec<(i64, u64, Option<i64>)> = if by_counts {
            let mut matching: BTreeMap<i64, (u64, Option<i64>)> = BTreeMap::new();
            for (campaign, system, n, due) in &groups {
                if filter.system.as_ref().is_some_and(|s| s.as_str() != system)
                    || filter
                        .campaign
                        .is_some_and(|c| i64::from(c.number()) != *campaign)
                {
                    continue;
                }
                matching.entry(*campaign).or_insert((0, *due)).0 += n;
            }
            matching
                .into_iter()
                .map(|(c, (n, due))| (c, n, due))
                .collect()
        } else {
            self.conn.query(
                &format!(
                    "SELECT i.campaign, count(*), min(c.due) {base}{cond} GROUP BY i.campaign"
                ),
                &params,
                |r| Ok((r.i64(0)?, r.i64(1)? as u64, r.opt_i64(2)?)),
            )?
        };
        per_campaign.sort_by_key(|(c, _, due)| (due.unwrap_or(i64::MAX), *c));
        let per_campaign: Vec<(i64, u64)> =
            per_campaign.into_iter().map(|(c, n, _)| (c, n)).collect();
        let total = per_campaign.iter().map(|(_, n)| n).sum();
        let (mut skip, mut left) = (filter.offset, filter.limit);
        let mut items = Vec::new();
        for (campaign, n) in per_campaign {
            if left == 0 {
                break;
            }
            if skip >= n {
                skip -= n;
                continue;
            }
            let mut p = params.clone();
            p.push(Value::Int(campaign));
            p.push(Value::Int(skip as i64));
            let k = p.len();
            let page = self.conn.query(
                &format!(
                    "SELECT {ITEM_COLUMNS}, c.due {base}{cond} AND i.campaign = ${} \
                     ORDER BY i.n LIMIT {} OFFSET ${k}",
                    k - 1,
                    left.min(i64::MAX as u64)
                ),
                &p,
                |r| Ok((opt_ts(r.opt_i64(22)?)?, item_row(r)?)),
            )?;
            left = left.saturating_sub(page.len() as u64);
            skip = 0;
            items.extend(page);
        }
        let systems = systems
            .into_iter()
            .map(|(s, n)| Ok((s.parse()?, n)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let campaigns = campaigns
            .into_iter()
            .map(|(c, (n, _))| Ok((campaign_id(c)?, n)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        with_contexts_of(self.conn, items.iter_mut().map(|(_, row)| row))?;
        Ok(InboxPage {
            total,
            items,
            systems,
            campaigns,
        })
    }

    /// Every decision on one item, stage by stage.
    pub fn item_decisions(&mut self, item: ItemRef) -> Result<Vec<StageDecision>, StoreError> {
        self.conn.query(
            "SELECT campaign, n, stage, verdict, until_at, comment, decided_by, decided_at, \
             origin, seq FROM review_decision WHERE campaign = $1 AND n = $2 ORDER BY stage",
            &[
                Value::Int(i64::from(item.campaign.number())),
                Value::Int(i64::from(item.item)),
            ],
            stage_decision,
        )
    }

    /// Every decision of a campaign at every stage, by item and stage.
    pub fn stage_decisions(&mut self, id: CampaignId) -> Result<Vec<StageDecision>, StoreError> {
        self.conn.query(
            "SELECT campaign, n, stage, verdict, until_at, comment, decided_by, decided_at, \
             origin, seq FROM review_decision WHERE campaign = $1 ORDER BY n, stage",
            &[Value::Int(i64::from(id.number()))],
            stage_decision,
        )
    }

    /// Every change of reviewer in a campaign, oldest first.
    pub fn reassignments(&mut self, id: CampaignId) -> Result<Vec<ReassignmentRow>, StoreError> {
        self.conn.query(
            "SELECT seq, campaign, how, from_reviewer, to_reviewer, by_identity, reason, items, \
             at FROM review_reassignment WHERE campaign = $1 ORDER BY seq",
            &[Value::Int(i64::from(id.number()))],
            |r| {
                Ok(ReassignmentRow {
                    seq: r.i64(0)? as u64,
                    campaign: campaign_id(r.i64(1)?)?,
                    how: r.parse(2)?,
                    from: r.parse(3)?,
                    to: r.parse(4)?,
                    by: r.opt_parse(5)?,
                    reason: r.str(6)?,
                    items: serde_json::from_str(&r.str(7)?)?,
                    at: ts(r.i64(8)?)?,
                })
            },
        )
    }

    /// Every reminder of a campaign, oldest first.
    pub fn reminders(&mut self, id: CampaignId) -> Result<Vec<ReminderRow>, StoreError> {
        self.conn.query(
            "SELECT seq, campaign, reviewer, open_items, due, days_before, at FROM review_reminder \
             WHERE campaign = $1 ORDER BY seq",
            &[Value::Int(i64::from(id.number()))],
            |r| {
                Ok(ReminderRow {
                    seq: r.i64(0)? as u64,
                    campaign: campaign_id(r.i64(1)?)?,
                    reviewer: r.parse(2)?,
                    open: r.i64(3)? as u64,
                    due: ts(r.i64(4)?)?,
                    days_before: item_number(r.i64(5)?)?,
                    at: ts(r.i64(6)?)?,
                })
            },
        )
    }

    /// Remediation tasks, by campaign and item.
    pub fn remediation_tasks(&mut self, filter: &TaskFilter) -> Result<Vec<TaskRow>, StoreError> {
        let mut rows = self.conn.query(
            &format!(
                "SELECT {TASK_COLUMNS} FROM remediation WHERE ($1 = 0 OR campaign = $1) \
                 AND ($2 = '' OR assignee = $2) ORDER BY campaign, n"
            ),
            &[
                Value::Int(filter.campaign.map_or(0, |c| i64::from(c.number()))),
                Value::from(filter.assignee.as_ref().map_or("", |k| k.as_str())),
            ],
            task_row,
        )?;
        if !filter.status.is_empty() {
            rows.retain(|t| filter.status.contains(&t.status));
        }
        Ok(rows)
    }

    /// One remediation task.
    pub fn remediation_task(&mut self, item: ItemRef) -> Result<TaskRow, StoreError> {
        self.conn
            .query_opt(
                &format!("SELECT {TASK_COLUMNS} FROM remediation WHERE campaign = $1 AND n = $2"),
                &[
                    Value::Int(i64::from(item.campaign.number())),
                    Value::Int(i64::from(item.item)),
                ],
                task_row,
            )?
            .ok_or_else(|| StoreError::unknown(format!("there is no remediation task `{item}`")))
    }

    /// Every version of a grant, and the latest import of its system.
    pub fn grant_trace(
        &mut self,
        system: &SystemKey,
        account: &str,
        entitlement: &str,
    ) -> Result<GrantTrace, StoreError> {
        let versions = self.conn.query(
            "SELECT g.valid_from, g.valid_to, g.seq, g.end_seq, g.warrant FROM grant_version g \
             JOIN system s ON s.system_id = g.system_id \
             JOIN account a ON a.account_id = g.account_id AND a.system_id = s.system_id \
             JOIN entitlement e ON e.entitlement_id = g.entitlement_id AND e.system_id = s.system_id \
             WHERE s.key = $1 AND a.native_id = $2 AND e.native_id = $3 ORDER BY g.seq",
            &[
                Value::from(system.as_str()),
                Value::from(account),
                Value::from(entitlement),
            ],
            |r| {
                let to = r.i64(1)?;
                Ok(GrantVersionFact {
                    valid_from: ts(r.i64(0)?)?,
                    valid_to: if to == OPEN { None } else { Some(ts(to)?) },
                    seq: r.i64(2)? as u64,
                    end_seq: r.opt_i64(3)?.map(|s| s as u64),
                    warrant: r.opt_str(4)?,
                })
            },
        )?;
        let last_import = self.latest_import_ref(&format!("system:{system}"))?;
        Ok(GrantTrace {
            versions,
            last_import,
        })
    }

    /// The latest import of a source (`system:erp`, `roles`, `hr`, …), as the review workflow
    /// cites it: event, snapshot time, digest.
    pub fn latest_import_ref(&mut self, source: &str) -> Result<Option<ImportRef>, StoreError> {
        self.conn.query_opt(
            "SELECT seq, source, as_of, digest FROM import WHERE source = $1 \
             ORDER BY seq DESC LIMIT 1",
            &[Value::from(source)],
            import_ref,
        )
    }

    /// The import of a source that recorded event `seq` (the latest `import.applied` of the
    /// source at or before it).
    pub fn import_of(&mut self, source: &str, seq: u64) -> Result<Option<ImportRef>, StoreError> {
        self.conn.query_opt(
            "SELECT seq, source, as_of, digest FROM import WHERE source = $1 AND seq <= $2 \
             ORDER BY seq DESC LIMIT 1",
            &[Value::from(source), Value::Int(seq as i64)],
            import_ref,
        )
    }

    /// The latest import of every source, by source.
    pub fn latest_imports(&mut self) -> Result<Vec<ImportRef>, StoreError> {
        self.conn.query(
            "SELECT i.seq, i.source, i.as_of, i.digest FROM import i \
             WHERE i.seq = (SELECT max(j.seq) FROM import j WHERE j.source = i.source) \
             ORDER BY i.source",
            &[],
            import_ref,
        )
    }

    /// A role as currently defined, with the event that last defined it.
    pub fn role(&mut self, key: &str) -> Result<Option<(Role, u64)>, StoreError> {
        self.conn.query_opt(
            "SELECT record, seq FROM role WHERE key = $1",
            &[Value::from(key)],
            |r| Ok((serde_json::from_str(&r.str(0)?)?, r.i64(1)? as u64)),
        )
    }

    /// Whether the inventory changed after the ledger size `size` (any inventory event).
    pub fn inventory_changed_since(&mut self, size: u64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .scalar(inventory_kinds(), &[Value::Int(size as i64)])?
            > 0)
    }

    /// Whether an inventory or findings event was appended after the ledger size `size`:
    /// whether what a campaign's population is made of (the grants, the people, the open
    /// findings) may have changed since.
    pub fn population_changed_since(&mut self, size: u64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .scalar(population_kinds(), &[Value::Int(size as i64)])?
            > 0)
    }

    /// Current grants of the given systems whose current version began after the ledger
    /// size `size`: new or changed since then. `(system, account, entitlement)`, sorted.
    pub fn grants_changed_since(
        &mut self,
        size: u64,
        systems: &[SystemKey],
    ) -> Result<BTreeSet<(String, String, String)>, StoreError> {
        let mut out = BTreeSet::new();
        for system in systems {
            self.conn.query_each(
                &format!(
                    "SELECT a.native_id, e.native_id FROM grant_version g \
                     JOIN system s ON s.system_id = g.system_id \
                     JOIN account a ON a.account_id = g.account_id \
                     JOIN entitlement e ON e.entitlement_id = g.entitlement_id \
                     WHERE s.key = $1 AND g.valid_to = {OPEN} AND g.seq > $2"
                ),
                &[Value::from(system.as_str()), Value::Int(size as i64)],
                |r| {
                    out.insert((system.to_string(), r.str(0)?, r.str(1)?));
                    Ok(())
                },
            )?;
        }
        Ok(out)
    }

    /// The final decision on every grant item of every campaign, by campaign and item.
    pub fn grant_verdicts(&mut self) -> Result<Vec<GrantVerdict>, StoreError> {
        self.conn.query(
            "SELECT campaign, n, system, account, entitlement, identity, verdict, until_at, \
             decided_by, decided_at FROM review_item \
             WHERE verdict IS NOT NULL AND account IS NOT NULL ORDER BY campaign, n",
            &[],
            |r| {
                Ok(GrantVerdict {
                    item: ItemRef {
                        campaign: campaign_id(r.i64(0)?)?,
                        item: item_number(r.i64(1)?)?,
                    },
                    system: r.parse(2)?,
                    account: r.str(3)?,
                    entitlement: r.str(4)?,
                    identity: r.opt_parse(5)?,
                    verdict: r.parse(6)?,
                    until: opt_ts(r.opt_i64(7)?)?,
                    by: r.opt_parse(8)?,
                    at: ts(r.i64(9)?)?,
                })
            },
        )
    }

    /// Notification attempts, newest first, at most `limit`.
    pub fn notifications(&mut self, limit: u64) -> Result<Vec<NotificationRow>, StoreError> {
        self.conn.query(
            &format!(
                "SELECT seq, id, attempt, channel, recipient, kind, subject, about, delivered, \
                 error, retry_at, at FROM notification ORDER BY seq DESC LIMIT {}",
                limit.min(i64::MAX as u64)
            ),
            &[],
            notification_row,
        )
    }

    /// The latest attempt of every notification, by id.
    pub fn latest_notification_attempts(&mut self) -> Result<Vec<NotificationRow>, StoreError> {
        self.conn.query(
            "SELECT n.seq, n.id, n.attempt, n.channel, n.recipient, n.kind, n.subject, n.about, \
             n.delivered, n.error, n.retry_at, n.at FROM notification n \
             WHERE n.seq = (SELECT max(m.seq) FROM notification m WHERE m.id = n.id) ORDER BY n.id",
            &[],
            notification_row,
        )
    }
}

impl Reader<'_> {
    /// Every identity currently in its feed, by key.
    pub fn current_identities(&mut self) -> Result<Vec<gatehouse_model::Identity>, StoreError> {
        self.conn.query(
            &format!("SELECT record FROM identity_version WHERE valid_to = {OPEN} ORDER BY key"),
            &[],
            |r| Ok(serde_json::from_str(&r.str(0)?)?),
        )
    }

    /// One identity as it is now, if it is in a feed.
    pub fn current_identity(
        &mut self,
        key: &IdentityKey,
    ) -> Result<Option<gatehouse_model::Identity>, StoreError> {
        self.conn.query_opt(
            // Found by the identity's key (indexed), not the version's copy of it (not).
            &format!(
                "SELECT iv.record FROM identity i \
                 JOIN identity_version iv ON iv.identity_id = i.identity_id \
                 WHERE i.key = $1 AND iv.valid_to = {OPEN}"
            ),
            &[Value::from(key.as_str())],
            |r| Ok(serde_json::from_str(&r.str(0)?)?),
        )
    }

    /// The identity an account was last linked to, if any (the account may be gone).
    pub fn account_holder(
        &mut self,
        system: &SystemKey,
        account: &str,
    ) -> Result<Option<IdentityKey>, StoreError> {
        Ok(self
            .conn
            .query_opt(
                "SELECT v.identity FROM account_version v \
                 JOIN account a ON a.account_id = v.account_id AND a.system_id = v.system_id \
                 JOIN system s ON s.system_id = a.system_id \
                 WHERE s.key = $1 AND a.native_id = $2 ORDER BY v.seq DESC LIMIT 1",
                &[Value::from(system.as_str()), Value::from(account)],
                |r| r.opt_parse::<IdentityKey>(0),
            )?
            .flatten())
    }

    /// Every role, by key.
    pub fn roles(&mut self) -> Result<Vec<Role>, StoreError> {
        self.conn
            .query("SELECT record FROM role ORDER BY key", &[], |r| {
                Ok(serde_json::from_str(&r.str(0)?)?)
            })
    }

    /// A warrant record by kind and id.
    pub fn warrant_record(
        &mut self,
        kind: gatehouse_model::WarrantKind,
        id: &str,
    ) -> Result<Option<gatehouse_model::WarrantRecord>, StoreError> {
        self.conn.query_opt(
            "SELECT record FROM warrant_record WHERE kind = $1 AND id = $2",
            &[Value::from(kind.as_str()), Value::from(id)],
            |r| Ok(serde_json::from_str(&r.str(0)?)?),
        )
    }

    /// Every system's configuration, by key.
    pub fn system_configs(&mut self) -> Result<Vec<gatehouse_model::SystemConfig>, StoreError> {
        self.conn
            .query("SELECT config FROM system ORDER BY key", &[], |r| {
                Ok(serde_json::from_str(&r.str(0)?)?)
            })
    }
}

/// Reads every item of a campaign without collecting them, in number order (reports of
/// campaigns of a million items).
pub(crate) fn each_item(
    db: &mut Conn,
    id: CampaignId,
    mut f: impl FnMut(ItemRow) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut cx = Contexts::default();
    cx.load_campaign(db, id)?;
    db.query_each(
        &format!("SELECT {ITEM_COLUMNS} FROM review_item i WHERE i.campaign = $1 ORDER BY i.n"),
        &[Value::Int(i64::from(id.number()))],
        |r| {
            let mut row = item_row(r)?;
            cx.add(&mut row);
            f(row)
        },
    )
}

impl Reader<'_> {
    /// Hands every item of a campaign to `f`, in number order, without collecting them.
    pub fn each_review_item(
        &mut self,
        id: CampaignId,
        f: impl FnMut(ItemRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        each_item(self.conn, id, f)
    }
}

/// A change to privileged access, or to an administrator or emergency account, that an
/// import recorded: what the alert routes send as `privileged_access_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrivilegedChange {
    /// The snapshot time it was seen at.
    pub at: Timestamp,
    /// The event that recorded it.
    pub seq: u64,
    /// The system.
    pub system: SystemKey,
    /// The account's native id.
    pub account: String,
    /// What changed, in one line.
    pub what: String,
}

/// Versions of administrator and emergency accounts that began in a period (`$1`, `$2`,
/// snapshot times), after their system's first snapshot, with the version before each.
const ACCOUNT_CHANGES: &str = "SELECT v.valid_from, v.seq, s.key, a.native_id, v.username, \
        v.kind, v.enabled, v.mfa, v.identity, p.kind, p.enabled, p.mfa, p.identity, p.username \
     FROM account_version v \
     JOIN system s ON s.system_id = v.system_id \
     JOIN account a ON a.account_id = v.account_id \
     JOIN (SELECT source, min(as_of) AS first FROM import GROUP BY source) f \
          ON f.source = 'system:' || s.key \
     LEFT JOIN account_version p ON p.system_id = v.system_id AND p.account_id = v.account_id \
          AND p.valid_to = v.valid_from \
     WHERE v.valid_from >= $1 AND v.valid_from <= $2 AND v.valid_from > f.first \
       AND (v.kind IN ('admin', 'emergency') OR p.kind IN ('admin', 'emergency'))";

/// Administrator and emergency accounts that went away in a period.
const ACCOUNT_REMOVALS: &str = "SELECT p.valid_to, p.end_seq, s.key, a.native_id, p.username, \
        p.kind \
     FROM account_version p \
     JOIN system s ON s.system_id = p.system_id \
     JOIN account a ON a.account_id = p.account_id \
     WHERE p.valid_to >= $1 AND p.valid_to <= $2 AND p.kind IN ('admin', 'emergency') \
       AND NOT EXISTS (SELECT 1 FROM account_version v \
            WHERE v.system_id = p.system_id AND v.account_id = p.account_id \
              AND v.valid_from = p.valid_to)";

fn yes_no(v: Option<i64>) -> &'static str {
    match v {
        Some(0) => "no",
        Some(_) => "yes",
        None => "unknown",
    }
}

impl Reader<'_> {
    /// Changes to privileged access and to administrator and emergency accounts seen by
    /// imports from `from` to `to` (snapshot times, both included), by time: privileged
    /// access gained or lost (a system's first snapshot is not a change), and such accounts
    /// added, changed (kind, enabled, MFA, owner, username) or removed.
    pub fn privileged_changes(
        &mut self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PrivilegedChange>, StoreError> {
        let mut out: Vec<PrivilegedChange> = self
            .changes(
                from,
                to,
                &crate::inventory::changes::ChangeFilter {
                    privileged: true,
                    ..Default::default()
                },
            )?
            .changes
            .into_iter()
            .map(|c| {
                let holder = match (&c.identity, &c.name) {
                    (Some(k), Some(n)) => format!(" ({n}, {k})"),
                    (Some(k), None) => format!(" ({k})"),
                    _ => " (linked to nobody)".into(),
                };
                let what = match c.change {
                    crate::inventory::changes::ChangeKind::Gained => format!(
                        "privileged `{}:{}` ({}) granted to `{}`{holder}, {}",
                        c.system,
                        c.entitlement,
                        c.entitlement_name,
                        c.username,
                        match &c.warrant {
                            Some(w) => format!("warrant `{w}`"),
                            None => format!("{}, citing no warrant", c.source),
                        }
                    ),
                    crate::inventory::changes::ChangeKind::Lost => format!(
                        "privileged `{}:{}` ({}) removed from `{}`{holder}",
                        c.system, c.entitlement, c.entitlement_name, c.username
                    ),
                };
                PrivilegedChange {
                    at: c.at,
                    seq: c.event,
                    system: c.system,
                    account: c.account,
                    what,
                }
            })
            .collect();
        let (lo, hi) = (
            Value::Int(crate::writer::micros(from)),
            Value::Int(crate::writer::micros(to).min(OPEN - 1)),
        );
        out.extend(
            self.conn
                .query(ACCOUNT_CHANGES, &[lo.clone(), hi.clone()], |r| {
                    let (kind, username) = (r.str(5)?, r.str(4)?);
                    let what = match r.opt_str(9)? {
                        None => format!(
                            "{kind} account `{username}` added (enabled: {}, MFA: {})",
                            yes_no(r.opt_i64(6)?),
                            yes_no(r.opt_i64(7)?)
                        ),
                        Some(before) => {
                            let mut parts = Vec::new();
                            if before != kind {
                                parts.push(format!("kind {before} → {kind}"));
                            }
                            for (label, now, was) in [
                                ("enabled", r.opt_i64(6)?, r.opt_i64(10)?),
                                ("MFA", r.opt_i64(7)?, r.opt_i64(11)?),
                            ] {
                                if now != was {
                                    parts.push(format!(
                                        "{label} {} → {}",
                                        yes_no(was),
                                        yes_no(now)
                                    ));
                                }
                            }
                            let (owner, owner_was) = (r.opt_str(8)?, r.opt_str(12)?);
                            if owner != owner_was {
                                parts.push(format!(
                                    "linked to {} → {}",
                                    owner_was.as_deref().unwrap_or("nobody"),
                                    owner.as_deref().unwrap_or("nobody")
                                ));
                            }
                            let username_was = r.opt_str(13)?.unwrap_or_default();
                            if username_was != username {
                                parts.push(format!("username `{username_was}` → `{username}`"));
                            }
                            if parts.is_empty() {
                                parts.push("attributes changed".into());
                            }
                            format!("{kind} account `{username}` changed: {}", parts.join(", "))
                        }
                    };
                    Ok(PrivilegedChange {
                        at: ts(r.i64(0)?)?,
                        seq: r.i64(1)? as u64,
                        system: r.parse(2)?,
                        account: r.str(3)?,
                        what,
                    })
                })?,
        );
        out.extend(self.conn.query(ACCOUNT_REMOVALS, &[lo, hi], |r| {
            Ok(PrivilegedChange {
                at: ts(r.i64(0)?)?,
                seq: r.opt_i64(1)?.unwrap_or_default() as u64,
                system: r.parse(2)?,
                account: r.str(3)?,
                what: format!("{} account `{}` removed", r.str(5)?, r.str(4)?),
            })
        })?);
        out.sort_by(|a, b| (a.at, a.seq, &a.what).cmp(&(b.at, b.seq, &b.what)));
        Ok(out)
    }
}
