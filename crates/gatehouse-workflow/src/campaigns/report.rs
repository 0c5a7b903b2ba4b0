//! What the auditor takes away, as data: the evidence of one campaign (scope, policy,
//! population hash, every item with its decisions and remediation, sign-off, exceptions,
//! reviewer quality, and inclusion proofs tying each row to a signed checkpoint), the
//! control evidence pack of a framework (population, a sample drawn with a recorded seed,
//! exceptions, evidence rows), and the history across campaigns. Rendering (CSV, XLSX, PDF,
//! JSON) is `gatehouse-evidence`'s.

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_ledger::{hash_to_hex, leaf_hash};
use gatehouse_model::{
    CampaignId, CampaignKind, CampaignState, DecisionOrigin, ErrorCode, IdentityKey, ItemRef,
    Reassignment, TaskStatus, Timestamp, Verdict,
};
use gatehouse_store::campaigns::query::{
    CampaignRow, ItemRow, ReassignmentRow, ReminderRow, StageDecision, TaskFilter, TaskRow,
};
use gatehouse_store::{Reader, Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::policy::hex;
use super::{CampaignError, date};

/// The signed checkpoint an export is tied to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointRef {
    /// The log's size at the checkpoint.
    pub size: u64,
    /// Its root hash, hex.
    pub root: String,
    /// The signed note (C2SP checkpoint), as stored and published.
    pub note: String,
    /// When it was signed.
    pub signed_at: Timestamp,
}

/// An inclusion proof of one event in the checkpoint's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventProof {
    /// The event.
    pub seq: u64,
    /// Its kind.
    pub kind: String,
    /// Its leaf hash (SHA-256 of 0x00 and the event's canonical bytes), hex.
    pub leaf: String,
    /// The leaf's index (`seq - 1`).
    pub index: u64,
    /// The audit path, hex, from the leaf's sibling up.
    pub path: Vec<String>,
}

/// One item of a campaign with everything about it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportItem {
    /// The item and its final decision.
    pub row: ItemRow,
    /// Decisions at every stage.
    pub stages: Vec<StageDecision>,
    /// The remediation of a revoke.
    pub task: Option<TaskRow>,
}

impl ReportItem {
    /// The events that tie this row to the log: the item's, its decisions', its task's.
    pub fn events(&self) -> Vec<u64> {
        let mut e = vec![self.row.item_seq];
        e.extend(self.stages.iter().map(|s| s.seq));
        if let Some(t) = &self.task {
            e.push(t.seq);
        }
        e.sort_unstable();
        e.dedup();
        e
    }
}

/// Signals of rubber-stamping for one reviewer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReviewerQuality {
    /// The reviewer.
    pub reviewer: String,
    /// Decisions made (every stage).
    pub decisions: u64,
    /// Separate actions (a bulk decision is one).
    pub actions: u64,
    /// Decisions made in bulk or by accepting recommendations.
    pub bulk: u64,
    /// Keeps (and keep-untils).
    pub keeps: u64,
    /// Revokes.
    pub revokes: u64,
    /// Items recommended for revoking that they decided.
    pub revoke_recommended: u64,
    /// Of those, how many they revoked.
    pub revoke_agreed: u64,
    /// Median seconds between two of their actions.
    pub median_seconds_between_actions: Option<u64>,
    /// The longest run of keep decisions in a row, in the order they were made.
    pub longest_keep_streak: u64,
    /// What looks like rubber-stamping, in words.
    pub signals: Vec<String>,
}

/// The evidence of one campaign.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignReport {
    /// What the report answers.
    pub question: String,
    /// When it was generated.
    pub generated_at: Timestamp,
    /// The checkpoint every row is proven against.
    pub checkpoint: CheckpointRef,
    /// The campaign: scope, rules, policy digest, population, sign-off.
    pub campaign: CampaignRow,
    /// Every item.
    pub items: Vec<ReportItem>,
    /// Changes of reviewer.
    pub reassignments: Vec<ReassignmentRow>,
    /// Reminders.
    pub reminders: Vec<ReminderRow>,
    /// Exceptions an auditor must look at, in words.
    pub exceptions: Vec<String>,
    /// Reviewer quality.
    pub quality: Vec<ReviewerQuality>,
    /// Inclusion proofs of every event the rows cite.
    pub proofs: Vec<EventProof>,
    /// Final decisions by kind.
    pub verdicts: BTreeMap<String, u64>,
}

/// The latest signed checkpoint, which must cover event `needed`.
fn checkpoint(r: &mut Reader<'_>, needed: u64) -> Result<CheckpointRef, StoreError> {
    let cp = r.latest_checkpoint()?.ok_or_else(|| {
        StoreError::refused(
            ErrorCode::NotCheckpointed,
            "no signed checkpoint exists yet; evidence is tied to one",
        )
    })?;
    if cp.size < needed {
        return Err(StoreError::refused(
            ErrorCode::NotCheckpointed,
            format!(
                "the latest signed checkpoint covers {} events, and the evidence needs event \
                 {needed}; sign a new checkpoint first",
                cp.size
            ),
        ));
    }
    Ok(CheckpointRef {
        size: cp.size,
        root: hash_to_hex(&cp.root),
        note: cp.note,
        signed_at: cp.signed_at,
    })
}

/// Inclusion proofs of `seqs` at the checkpoint.
fn proofs(
    r: &mut Reader<'_>,
    seqs: &BTreeSet<u64>,
    cp: &CheckpointRef,
) -> Result<Vec<EventProof>, StoreError> {
    let mut out = Vec::with_capacity(seqs.len());
    for &seq in seqs {
        let body = r.event_body(seq)?;
        let kind = serde_json::from_slice::<serde_json::Value>(&body)?
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_owned();
        let proof = r.prove_inclusion(seq, cp.size)?;
        out.push(EventProof {
            seq,
            kind,
            leaf: hash_to_hex(&leaf_hash(&body)),
            index: proof.index,
            path: proof.hashes.iter().map(hash_to_hex).collect(),
        });
    }
    Ok(out)
}

/// Assembles the evidence of one campaign, proven against the latest signed checkpoint.
pub fn campaign_report(
    store: &Store,
    id: CampaignId,
    now: Timestamp,
) -> Result<CampaignReport, CampaignError> {
    store.read(|r| {
        let campaign = r.campaign(id)?;
        if campaign.state == CampaignState::Draft {
            return Err(CampaignError::State(format!(
                "campaign {id} is a draft: it has no population or decisions to report"
            )));
        }
        let mut stages: BTreeMap<u32, Vec<StageDecision>> = BTreeMap::new();
        for d in r.stage_decisions(id)? {
            stages.entry(d.item.item).or_default().push(d);
        }
        let mut tasks: BTreeMap<u32, TaskRow> = r
            .remediation_tasks(&TaskFilter {
                campaign: Some(id),
                ..TaskFilter::default()
            })?
            .into_iter()
            .map(|t| (t.task.item.item, t))
            .collect();
        let mut items = Vec::with_capacity(campaign.items as usize);
        r.each_review_item(id, |row| {
            let n = row.item.n;
            items.push(ReportItem {
                row,
                stages: stages.remove(&n).unwrap_or_default(),
                task: tasks.remove(&n),
            });
            Ok(())
        })?;
        let reassignments = r.reassignments(id)?;
        let reminders = r.reminders(id)?;
        let mut seqs: BTreeSet<u64> = items.iter().flat_map(|i| i.events()).collect();
        seqs.extend(reassignments.iter().map(|m| m.seq));
        seqs.insert(campaign.seq);
        let cp = checkpoint(r, seqs.last().copied().unwrap_or(0))?;
        // The campaign's own events (created, launched, closed, imported) by their object.
        let object = format!("campaign:{id}");
        for kind in ["campaign.", "decisions."] {
            for e in r.events(&gatehouse_store::EventFilter {
                object: Some(object.clone()),
                kind: Some(kind.into()),
                ..Default::default()
            })? {
                if e.object == object && e.seq <= cp.size {
                    seqs.insert(e.seq);
                }
            }
        }
        let proofs = proofs(r, &seqs, &cp)?;
        let mut verdicts: BTreeMap<String, u64> = BTreeMap::new();
        for i in &items {
            if let Some(d) = &i.row.decision {
                *verdicts.entry(d.verdict.as_str().to_owned()).or_default() += 1;
            }
        }
        let exceptions = exceptions(&campaign, &items, now);
        let quality = quality(&items);
        Ok::<_, CampaignError>(CampaignReport {
            question: format!(
                "Who reviewed which access in campaign {id} ({}), what they decided and why, and \
                 whether the access they revoked was removed",
                campaign.created.name
            ),
            generated_at: now,
            checkpoint: cp,
            campaign,
            items,
            reassignments,
            reminders,
            exceptions,
            quality,
            proofs,
            verdicts,
        })
    })
}

/// What an auditor must look at: forced sign-offs, deadline defaults, exceptions, keep-untils,
/// exclusions, remediation overdue or reopened, items decided after the due date.
fn exceptions(c: &CampaignRow, items: &[ReportItem], now: Timestamp) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = &c.closing
        && let Some(f) = &s.forced
    {
        out.push(format!(
            "signed off by {} with {} undecided items, forced: {f}",
            s.signed_off_by, s.defaulted
        ));
    }
    if let Some(l) = &c.launch {
        for e in &l.exclusions {
            out.push(format!(
                "excluded from the population: {} ({} grants): {}",
                e.subject, e.grants, e.reason
            ));
        }
    }
    let mut defaults = 0;
    for i in items {
        let at = i.row.reference();
        if let Some(d) = &i.row.decision {
            if d.origin == DecisionOrigin::Default {
                defaults += 1;
            }
            match d.verdict {
                Verdict::Exception => out.push(format!(
                    "{at}: nobody decided by the deadline; flagged as an exception"
                )),
                Verdict::KeepUntil => out.push(format!(
                    "{at}: kept until {}: {}",
                    d.until.map(date).unwrap_or_default(),
                    d.comment.as_deref().unwrap_or("")
                )),
                _ => {}
            }
            if let Some(due) = c.due
                && d.at > due
                && d.origin != DecisionOrigin::Default
            {
                out.push(format!(
                    "{at}: decided on {}, after the due date {}",
                    date(d.at),
                    date(due)
                ));
            }
        }
        if let Some(t) = &i.task {
            match t.status {
                TaskStatus::Reopened => out.push(format!(
                    "{at}: remediation reopened: {}",
                    t.reopen_reason.as_deref().unwrap_or("")
                )),
                TaskStatus::Open | TaskStatus::Done if t.task.due < now => out.push(format!(
                    "{at}: remediation due {} is not verified ({})",
                    date(t.task.due),
                    t.status
                )),
                _ => {}
            }
        }
    }
    if defaults > 0 {
        out.push(format!(
            "{defaults} item{} got the deadline default ({}) because nobody decided",
            if defaults == 1 { "" } else { "s" },
            c.created.rules.deadline_default
        ));
    }
    out
}

/// Reviewer quality: time per action, bulk share, keep streaks, agreement with revoke
/// recommendations.
pub fn quality(items: &[ReportItem]) -> Vec<ReviewerQuality> {
    // (time, event, verdict, recommended, origin) per reviewer.
    type Made = (Timestamp, u64, Verdict, Verdict, DecisionOrigin);
    let mut by: BTreeMap<IdentityKey, Vec<Made>> = BTreeMap::new();
    for i in items {
        for s in &i.stages {
            if let Some(who) = &s.by
                && matches!(
                    s.origin,
                    DecisionOrigin::Reviewer
                        | DecisionOrigin::Bulk
                        | DecisionOrigin::Recommendation
                )
            {
                by.entry(who.clone()).or_default().push((
                    s.at,
                    s.seq,
                    s.verdict,
                    i.row.item.recommendation,
                    s.origin,
                ));
            }
        }
    }
    let mut out = Vec::new();
    for (who, mut ds) in by {
        ds.sort_by_key(|d| (d.0, d.1));
        let mut q = ReviewerQuality {
            reviewer: who.to_string(),
            decisions: ds.len() as u64,
            ..ReviewerQuality::default()
        };
        let mut actions: Vec<Timestamp> = Vec::new();
        let mut last_event = None;
        let mut streak = 0;
        for (at, seq, verdict, recommended, origin) in &ds {
            if last_event != Some(*seq) {
                actions.push(*at);
                last_event = Some(*seq);
            }
            if *origin != DecisionOrigin::Reviewer {
                q.bulk += 1;
            }
            match verdict {
                Verdict::Keep | Verdict::KeepUntil => {
                    q.keeps += 1;
                    streak += 1;
                    q.longest_keep_streak = q.longest_keep_streak.max(streak);
                }
                _ => {
                    streak = 0;
                    if *verdict == Verdict::Revoke {
                        q.revokes += 1;
                    }
                }
            }
            if *recommended == Verdict::Revoke {
                q.revoke_recommended += 1;
                if *verdict == Verdict::Revoke {
                    q.revoke_agreed += 1;
                }
            }
        }
        actions.dedup();
        q.actions = actions.len() as u64;
        let mut gaps: Vec<u64> = actions
            .windows(2)
            .map(|w| (w[1].as_second() - w[0].as_second()).max(0) as u64)
            .collect();
        gaps.sort_unstable();
        q.median_seconds_between_actions = gaps.get(gaps.len() / 2).copied();
        if q.decisions >= 20 && q.keeps * 100 >= q.decisions * 98 {
            q.signals
                .push(format!("kept {} of {} items", q.keeps, q.decisions));
        }
        if q.longest_keep_streak >= 50 {
            q.signals
                .push(format!("{} keeps in a row", q.longest_keep_streak));
        }
        if q.revoke_recommended >= 5 && q.revoke_agreed * 2 < q.revoke_recommended {
            q.signals.push(format!(
                "revoked {} of {} items recommended for revoking",
                q.revoke_agreed, q.revoke_recommended
            ));
        }
        if q.decisions >= 20 && q.bulk * 10 >= q.decisions * 9 {
            q.signals.push(format!(
                "{} of {} decisions made in bulk",
                q.bulk, q.decisions
            ));
        }
        if q.actions >= 10 && q.median_seconds_between_actions.is_some_and(|s| s < 5) {
            q.signals
                .push("a median of under 5 seconds between decisions".into());
        }
        out.push(q);
    }
    out
}

/// The history across campaigns: revocation rate per system, recurring findings, overdue
/// reviewers.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    /// What it answers.
    pub question: String,
    /// When it was generated.
    pub generated_at: Timestamp,
    /// The checkpoint it reads at.
    pub checkpoint: CheckpointRef,
    /// Per campaign and system.
    pub systems: Vec<SystemHistory>,
    /// Findings present at the launch of more than one campaign.
    pub recurring_findings: Vec<(String, u64)>,
    /// Reviewers whose items were escalated, replaced or defaulted.
    pub overdue_reviewers: Vec<(String, u64, u64)>,
}

/// One system in one campaign.
#[derive(Debug, Clone, Serialize)]
pub struct SystemHistory {
    /// The campaign.
    pub campaign: CampaignId,
    /// Its kind.
    pub kind: CampaignKind,
    /// When it was launched.
    pub launched: Option<Timestamp>,
    /// The system.
    pub system: String,
    /// Items.
    pub items: u64,
    /// Final revokes.
    pub revoked: u64,
    /// Revocation rate, per cent, to one decimal.
    pub rate: f64,
    /// Items decided by the deadline default.
    pub defaulted: u64,
}

/// The history across every launched campaign.
pub fn history_report(store: &Store, now: Timestamp) -> Result<HistoryReport, CampaignError> {
    store.read(|r| {
        let campaigns: Vec<CampaignRow> = r
            .campaigns()?
            .into_iter()
            .filter(|c| c.state != CampaignState::Draft)
            .collect();
        let cp = checkpoint(r, campaigns.iter().map(|c| c.seq).max().unwrap_or(0))?;
        let mut systems = Vec::new();
        let mut findings: BTreeMap<String, BTreeSet<CampaignId>> = BTreeMap::new();
        let mut overdue: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for c in campaigns.iter().rev() {
            let mut per: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
            r.each_review_item(c.id, |i| {
                let e = per.entry(i.item.system.to_string()).or_default();
                e.0 += 1;
                if let Some(d) = &i.decision {
                    if d.verdict == Verdict::Revoke {
                        e.1 += 1;
                    }
                    if d.origin == DecisionOrigin::Default {
                        e.2 += 1;
                        overdue.entry(i.reviewer.to_string()).or_default().1 += 1;
                    }
                }
                for f in &i.item.context.findings {
                    findings.entry(f.clone()).or_default().insert(c.id);
                }
                Ok(())
            })?;
            for m in r.reassignments(c.id)? {
                if matches!(m.how, Reassignment::Escalated | Reassignment::Replaced) {
                    overdue.entry(m.from.to_string()).or_default().0 += m.items.len() as u64;
                }
            }
            for (system, (items, revoked, defaulted)) in per {
                systems.push(SystemHistory {
                    campaign: c.id,
                    kind: c.created.kind,
                    launched: c.launched_at,
                    system,
                    items,
                    revoked,
                    rate: if items == 0 {
                        0.0
                    } else {
                        (revoked as f64 * 1000.0 / items as f64).round() / 10.0
                    },
                    defaulted,
                });
            }
        }
        let mut recurring: Vec<(String, u64)> = findings
            .into_iter()
            .filter(|(_, c)| c.len() > 1)
            .map(|(f, c)| (f, c.len() as u64))
            .collect();
        recurring.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut overdue: Vec<(String, u64, u64)> =
            overdue.into_iter().map(|(k, (e, d))| (k, e, d)).collect();
        overdue.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then_with(|| a.0.cmp(&b.0)));
        Ok::<_, CampaignError>(HistoryReport {
            question: "How reviews went over time: revocation rate per system and campaign, \
                       findings that keep coming back, reviewers whose items were escalated or \
                       defaulted"
                .into(),
            generated_at: now,
            checkpoint: cp,
            systems,
            recurring_findings: recurring,
            overdue_reviewers: overdue,
        })
    })
}

/// The control mapping: which controls of which frameworks the reviews evidence, and the
/// sample sizes. The built-in mapping is `controls.toml`; a company extends it with its own
/// file (`policy/controls.toml`), whose controls are added (or replace built-in ones with the
/// same framework and id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlMapping {
    /// Sample sizes by population size: `[up_to, size]` pairs, ascending; a population larger
    /// than the last `up_to` takes the last size; a size of 0 means every item.
    pub sampling: Vec<(u64, u64)>,
    /// The controls.
    #[serde(rename = "control")]
    pub controls: Vec<Control>,
}

/// One control of a framework and the population that evidences it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Control {
    /// The framework's name as given to `--pack` (`sox`, `iso27001`, `soc2`, `nist-csf`,
    /// `owasp-nhi`).
    pub framework: String,
    /// The control's id (`A.5.18`, `CC6.2`, `PR.AA-05`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// What it requires, in a sentence.
    pub objective: String,
    /// Which review items evidence it: `reviews`, `privileged`, `leavers`, `non_human`,
    /// `sod`, `revokes`, `role_definitions`.
    pub population: String,
    /// Only systems in SOX scope.
    pub sox_only: bool,
}

/// The built-in control mapping.
pub const BUILT_IN_CONTROLS: &str = include_str!("controls.toml");

const POPULATIONS: &[&str] = &[
    "reviews",
    "privileged",
    "leavers",
    "non_human",
    "sod",
    "revokes",
    "role_definitions",
];

impl ControlMapping {
    /// Reads a mapping file; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<ControlMapping, CampaignError> {
        let m: ControlMapping = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            CampaignError::Policy(format!("{origin}:{line}: {}", e.message().trim()))
        })?;
        for c in &m.controls {
            if !POPULATIONS.contains(&c.population.as_str()) {
                return Err(CampaignError::Policy(format!(
                    "{origin}: control {} {} has population `{}`; populations are: {}",
                    c.framework,
                    c.id,
                    c.population,
                    POPULATIONS.join(", ")
                )));
            }
        }
        Ok(m)
    }

    /// The built-in mapping with a company's file laid over it.
    pub fn with(mut self, extra: ControlMapping) -> ControlMapping {
        if !extra.sampling.is_empty() {
            self.sampling = extra.sampling;
        }
        for c in extra.controls {
            match self
                .controls
                .iter_mut()
                .find(|x| x.framework == c.framework && x.id == c.id)
            {
                Some(x) => *x = c,
                None => self.controls.push(c),
            }
        }
        self
    }

    /// The frameworks the mapping knows.
    pub fn frameworks(&self) -> Vec<&str> {
        let mut f: Vec<&str> = self.controls.iter().map(|c| c.framework.as_str()).collect();
        f.sort_unstable();
        f.dedup();
        f
    }

    /// The sample size for a population.
    pub fn sample_size(&self, population: u64) -> u64 {
        let size = self
            .sampling
            .iter()
            .find(|(up_to, _)| population <= *up_to)
            .or(self.sampling.last())
            .map_or(0, |(_, s)| *s);
        if size == 0 {
            population
        } else {
            size.min(population)
        }
    }
}

/// One control's evidence.
#[derive(Debug, Clone, Serialize)]
pub struct ControlEvidence {
    /// The control.
    pub control: Control,
    /// Items in its population.
    pub population: u64,
    /// SHA-256 over the population's item references, one per line, sorted.
    pub population_sha256: String,
    /// The sampled items.
    pub sample: Vec<ReportItem>,
    /// Exceptions in the population, in words.
    pub exceptions: Vec<String>,
}

/// A control evidence pack.
#[derive(Debug, Clone, Serialize)]
pub struct EvidencePack {
    /// What it answers.
    pub question: String,
    /// The framework.
    pub framework: String,
    /// When it was generated.
    pub generated_at: Timestamp,
    /// The period: campaigns launched in `[from, to]`.
    pub from: Timestamp,
    /// End of the period.
    pub to: Timestamp,
    /// The campaigns it covers.
    pub campaigns: Vec<CampaignId>,
    /// The seed the samples were drawn with.
    pub seed: String,
    /// How a sample is drawn, so that an auditor can draw it again.
    pub sampling_method: String,
    /// The checkpoint it is tied to.
    pub checkpoint: CheckpointRef,
    /// Per control.
    pub controls: Vec<ControlEvidence>,
    /// Inclusion proofs of the events the sampled rows cite.
    pub proofs: Vec<EventProof>,
}

/// Whether an item belongs to a population.
fn in_population(population: &str, i: &ReportItem, kind: CampaignKind) -> bool {
    let x = &i.row.item.context;
    match population {
        "reviews" => i.row.item.account.is_some(),
        "privileged" => x.privileged,
        "leavers" => i.row.item.reason.starts_with("holder left"),
        "non_human" => {
            kind == CampaignKind::NonHuman
                || x.status.as_deref().is_some_and(|s| {
                    matches!(s, "service_account" | "api_key" | "token" | "certificate")
                })
        }
        "sod" => x.sod.is_some(),
        "revokes" => i.task.is_some(),
        "role_definitions" => i.row.item.role.is_some(),
        _ => false,
    }
}

/// The sample: the `size` items whose SHA-256 of `seed`, `:` and the item reference is
/// lowest (hex order). Anyone can draw it again with the seed and a SHA-256 tool.
pub fn draw_sample<'a>(items: &[&'a ReportItem], seed: &str, size: u64) -> Vec<&'a ReportItem> {
    let mut keyed: Vec<(String, &ReportItem)> = items
        .iter()
        .map(|i| {
            let h = Sha256::digest(format!("{seed}:{}", i.row.reference()).as_bytes());
            (hex(&h), *i)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.truncate(size as usize);
    keyed.sort_by_key(|(_, i)| i.row.reference());
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Assembles a framework's control evidence pack over the campaigns launched in a period
/// (or one campaign), with samples drawn from `seed`.
pub fn evidence_pack(
    store: &Store,
    mapping: &ControlMapping,
    framework: &str,
    only: Option<CampaignId>,
    (from, to): (Timestamp, Timestamp),
    seed: &str,
    now: Timestamp,
) -> Result<EvidencePack, CampaignError> {
    let controls: Vec<&Control> = mapping
        .controls
        .iter()
        .filter(|c| c.framework == framework)
        .collect();
    if controls.is_empty() {
        return Err(CampaignError::Policy(format!(
            "the control mapping has no framework `{framework}`; it has: {}",
            mapping.frameworks().join(", ")
        )));
    }
    let campaigns: Vec<CampaignRow> = store
        .read(|r| r.campaigns())?
        .into_iter()
        .filter(|c| c.state != CampaignState::Draft)
        .filter(|c| match only {
            Some(id) => c.id == id,
            None => c.launched_at.is_some_and(|t| t >= from && t <= to),
        })
        .collect();
    let sox: BTreeSet<String> = store
        .read(|r| r.system_configs())?
        .into_iter()
        .filter(|c| c.financial_reporting || c.frameworks.iter().any(|f| f == "sox"))
        .map(|c| c.key.to_string())
        .collect();
    let mut reports = Vec::new();
    for c in campaigns.iter().rev() {
        reports.push(campaign_report(store, c.id, now)?);
    }
    let mut out = Vec::new();
    let mut seqs = BTreeSet::new();
    for control in controls {
        let population: Vec<&ReportItem> = reports
            .iter()
            .flat_map(|rep| {
                let kind = rep.campaign.created.kind;
                rep.items
                    .iter()
                    .filter(move |i| in_population(&control.population, i, kind))
            })
            .filter(|i| !control.sox_only || sox.contains(i.row.item.system.as_str()))
            .collect();
        let mut refs: Vec<String> = population
            .iter()
            .map(|i| i.row.reference().to_string())
            .collect();
        refs.sort();
        let mut h = Sha256::new();
        for r in &refs {
            h.update(r.as_bytes());
            h.update(b"\n");
        }
        let size = mapping.sample_size(population.len() as u64);
        let sample: Vec<ReportItem> =
            draw_sample(&population, &format!("{seed}:{}", control.id), size)
                .into_iter()
                .cloned()
                .collect();
        for i in &sample {
            seqs.extend(i.events());
        }
        let mut exceptions = Vec::new();
        for i in &population {
            let at = i.row.reference();
            match &i.row.decision {
                None => exceptions.push(format!("{at}: undecided")),
                Some(d) if d.origin == DecisionOrigin::Default => exceptions.push(format!(
                    "{at}: nobody decided; the deadline default ({}) applied",
                    d.verdict
                )),
                Some(d) if d.verdict == Verdict::Exception => {
                    exceptions.push(format!("{at}: flagged as an exception"))
                }
                _ => {}
            }
            if let Some(t) = &i.task
                && t.status == TaskStatus::Reopened
            {
                exceptions.push(format!(
                    "{at}: remediation reopened: {}",
                    t.reopen_reason.as_deref().unwrap_or("")
                ));
            }
        }
        out.push(ControlEvidence {
            control: control.clone(),
            population: population.len() as u64,
            population_sha256: hex(&h.finalize()),
            sample,
            exceptions,
        });
    }
    let (cp, proofs) = store.read(|r| {
        let cp = checkpoint(r, seqs.last().copied().unwrap_or(0))?;
        let p = proofs(r, &seqs, &cp)?;
        Ok::<_, StoreError>((cp, p))
    })?;
    Ok(EvidencePack {
        question: format!(
            "Which {framework} access controls the access reviews evidence, over which \
             population, and a sample an auditor would test, with its exceptions"
        ),
        framework: framework.to_owned(),
        generated_at: now,
        from,
        to,
        campaigns: campaigns.iter().map(|c| c.id).collect(),
        seed: seed.to_owned(),
        sampling_method: "per control, the items whose SHA-256 of `<seed>:<control id>:<item \
                          reference>` (hex) is lowest, as many as the sampling table gives for \
                          the population's size"
            .into(),
        checkpoint: cp,
        controls: out,
        proofs,
    })
}

/// The references of sampled items, for quick checks.
pub fn sampled(pack: &EvidencePack) -> Vec<(String, Vec<ItemRef>)> {
    pack.controls
        .iter()
        .map(|c| {
            (
                c.control.id.clone(),
                c.sample.iter().map(|i| i.row.reference()).collect(),
            )
        })
        .collect()
}
