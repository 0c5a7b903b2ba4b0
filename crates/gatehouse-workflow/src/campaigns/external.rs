//! Decisions taken outside Gatehouse (a spreadsheet review, a review in another tool), with
//! their reviewer and date, imported as a closed campaign of kind `external`: its items, its
//! decisions (origin `imported`) and the file's digest are events like any other, revokes
//! become remediation tasks, and keeps warrant their grants, so that history and reappearance
//! work for teams that start mid-year.
//!
//! The file is CSV with a header: `system`, `account`, `entitlement` (or one `grant` column,
//! `system:account/entitlement`), `decision` (`keep`, `revoke`, `keep_until`), `until` (for
//! `keep_until`), `reviewer` (an identity key), `decided_at` (a date or time) and an
//! optional `comment`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use gatehouse_model::{
    BATCH_RECORDS, CampaignCreated, CampaignEvent, CampaignId, CampaignKind, CampaignLaunched,
    Decision, DecisionOrigin, DecisionsImported, EventData, IdentityKey, ImportFile, ItemContext,
    ReviewItem, ReviewItems, Stamped, SystemKey, Timestamp, Verdict, parse_timestamp,
};
use gatehouse_store::campaigns::query::{FinalDecision, ItemRow};
use gatehouse_store::{Reader, Store, StoreError};
use sha2::{Digest, Sha256};

use super::policy::{ReviewPolicy, hex};
use super::{Acting, CampaignError, lifecycle};

/// What importing decisions did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DecisionsReport {
    /// The campaign that holds them.
    pub id: CampaignId,
    /// Decisions imported.
    pub decisions: u64,
    /// By kind.
    pub verdicts: BTreeMap<String, u64>,
    /// Remediation tasks opened for the revokes.
    pub tasks: u64,
    /// The file's SHA-256.
    pub sha256: String,
}

/// One valid row.
struct Row {
    system: SystemKey,
    account: String,
    entitlement: String,
    holder: Option<IdentityKey>,
    verdict: Verdict,
    until: Option<Timestamp>,
    reviewer: IdentityKey,
    at: Timestamp,
    comment: Option<String>,
}

/// Reads and checks every row against the store; returns the rows or every problem.
fn read_rows(
    r: &mut Reader<'_>,
    name: &str,
    bytes: &[u8],
    now: Timestamp,
) -> Result<Vec<Row>, CampaignError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| CampaignError::Input(format!("{name}: cannot read the header: {e}")))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let col = |n: &str| headers.iter().position(|h| h == n);
    let grant_col = col("grant");
    let (sys_col, acc_col, ent_col) = (col("system"), col("account"), col("entitlement"));
    let mut missing: Vec<&str> = Vec::new();
    if grant_col.is_none() && (sys_col.is_none() || acc_col.is_none() || ent_col.is_none()) {
        missing.push("grant (or system, account and entitlement)");
    }
    for needed in ["decision", "reviewer", "decided_at"] {
        if col(needed).is_none() {
            missing.push(needed);
        }
    }
    if !missing.is_empty() {
        return Err(CampaignError::Input(format!(
            "{name}: missing column{}: {}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    let (dec_col, rev_col, at_col) = (col("decision"), col("reviewer"), col("decided_at"));
    let (until_col, comment_col) = (col("until"), col("comment"));
    let mut problems: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{name}:{line}: {e}"));
                continue;
            }
        };
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_owned();
        let mut bad =
            |field: &str, msg: String| problems.push(format!("{name}:{line}: {field}: {msg}"));
        let (system, account, entitlement) = match grant_col {
            Some(_) => {
                let g = get(grant_col);
                match g.split_once(':').and_then(|(s, rest)| {
                    rest.split_once('/')
                        .map(|(a, e)| (s.to_owned(), a.to_owned(), e.to_owned()))
                }) {
                    Some(t) => t,
                    None => {
                        bad(
                            "grant",
                            format!("`{g}` is not written `system:account/entitlement`"),
                        );
                        continue;
                    }
                }
            }
            None => (get(sys_col), get(acc_col), get(ent_col)),
        };
        let system = match SystemKey::new(system.clone()) {
            Ok(s) => s,
            Err(e) => {
                bad("system", e.to_string());
                continue;
            }
        };
        if account.is_empty() || entitlement.is_empty() {
            bad(
                "grant",
                "the account and the entitlement are required".into(),
            );
            continue;
        }
        let trace = r.grant_trace(&system, &account, &entitlement)?;
        if trace.versions.is_empty() {
            bad(
                "grant",
                format!(
                    "`{system}:{account}/{entitlement}` was never held (no import of `{system}` \
                     shows it)"
                ),
            );
            continue;
        }
        if !seen.insert((system.to_string(), account.clone(), entitlement.clone())) {
            bad(
                "grant",
                format!("`{system}:{account}/{entitlement}` is decided twice in this file"),
            );
            continue;
        }
        let verdict = match get(dec_col).parse::<Verdict>() {
            Ok(v @ (Verdict::Keep | Verdict::Revoke | Verdict::KeepUntil)) => v,
            Ok(other) => {
                bad(
                    "decision",
                    format!("`{other}` is not a reviewer's decision"),
                );
                continue;
            }
            Err(e) => {
                bad("decision", e.to_string());
                continue;
            }
        };
        let until = match (verdict, get(until_col)) {
            (Verdict::KeepUntil, u) if u.is_empty() => {
                bad("until", "keep_until needs a date".into());
                continue;
            }
            (Verdict::KeepUntil, u) => match parse_timestamp(&u) {
                Ok(t) => Some(t),
                Err(e) => {
                    bad("until", e.to_string());
                    continue;
                }
            },
            (_, u) if !u.is_empty() => {
                bad("until", "a date goes with keep_until only".into());
                continue;
            }
            _ => None,
        };
        let reviewer = match IdentityKey::new(get(rev_col)) {
            Ok(k) => k,
            Err(e) => {
                bad("reviewer", e.to_string());
                continue;
            }
        };
        let at = match parse_timestamp(&get(at_col)) {
            Ok(t) if t <= now => t,
            Ok(_) => {
                bad("decided_at", "the decision is dated in the future".into());
                continue;
            }
            Err(e) => {
                bad("decided_at", e.to_string());
                continue;
            }
        };
        if r.resolve_identity(reviewer.as_str(), at).is_err() {
            bad(
                "reviewer",
                format!("`{reviewer}` is not an identity the store knows"),
            );
            continue;
        }
        let holder = r.account_holder(&system, &account)?;
        if holder.as_ref() == Some(&reviewer) {
            bad(
                "reviewer",
                format!("`{reviewer}` holds this access; nobody reviews their own access"),
            );
            continue;
        }
        let comment = Some(get(comment_col)).filter(|c| !c.is_empty());
        rows.push(Row {
            system,
            account,
            entitlement,
            holder,
            verdict,
            until,
            reviewer,
            at,
            comment,
        });
    }
    if !problems.is_empty() {
        let n = problems.len();
        return Err(CampaignError::Input(format!(
            "{n} problem{} in {name}; nothing was imported:\n{}",
            if n == 1 { "" } else { "s" },
            problems.join("\n")
        )));
    }
    if rows.is_empty() {
        return Err(CampaignError::Input(format!("{name} holds no decision")));
    }
    Ok(rows)
}

/// Imports a file of decisions taken outside Gatehouse as a closed campaign of kind
/// `external`. Only the review policy's administrators may. Every row is checked first: a
/// file with any invalid row imports nothing.
pub fn import_decisions(
    store: &Store,
    policy: &ReviewPolicy,
    acting: &Acting,
    now: Timestamp,
    path: &Path,
) -> Result<DecisionsReport, CampaignError> {
    let who = acting.who("importing decisions")?.clone();
    if !policy.is_administrator(&who) {
        return Err(CampaignError::NotAllowed(format!(
            "{who} may not import decisions: only the review policy's administrators may"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        CampaignError::Store(StoreError::Io(format!(
            "cannot read `{}`: {e}",
            path.display()
        )))
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let sha256 = hex(&Sha256::digest(&bytes));
    let rules = policy.rules(&policy.settings(None))?;
    store.write(&acting.actor, now, |w| {
        let r = &mut w.read()?;
        let mut rows = read_rows(r, &name, &bytes, now)?;
        rows.sort_by(|a, b| {
            (a.system.as_str(), &a.account, &a.entitlement).cmp(&(
                b.system.as_str(),
                &b.account,
                &b.entitlement,
            ))
        });
        let id = r.next_campaign_id()?;
        let size = r.size();
        let mut hash = Sha256::new();
        let mut systems: BTreeMap<String, u64> = BTreeMap::new();
        let mut items = Vec::with_capacity(rows.len());
        let mut decisions = Vec::with_capacity(rows.len());
        let mut verdicts: BTreeMap<String, u64> = BTreeMap::new();
        for (i, row) in rows.iter().enumerate() {
            let n = i as u32 + 1;
            hash.update(
                format!(
                    "{}\t{}\t{}\t{}\n",
                    row.system,
                    row.account,
                    row.entitlement,
                    row.holder.as_ref().map_or("", |h| h.as_str())
                )
                .as_bytes(),
            );
            *systems.entry(row.system.to_string()).or_default() += 1;
            *verdicts.entry(row.verdict.as_str().to_owned()).or_default() += 1;
            let item = ReviewItem {
                n,
                system: row.system.clone(),
                account: Some(row.account.clone()),
                entitlement: row.entitlement.clone(),
                role: None,
                identity: row.holder.clone(),
                reviewers: vec![row.reviewer.clone()],
                assignment: None,
                recommendation: if row.verdict == Verdict::Revoke {
                    Verdict::Revoke
                } else {
                    Verdict::Keep
                },
                reason: "decided outside Gatehouse".into(),
                context: ItemContext::default(),
            };
            decisions.push((
                Decision {
                    n,
                    stage: 1,
                    verdict: row.verdict,
                    until: row.until,
                    comment: row.comment.clone(),
                    next: None,
                    by: Some(row.reviewer.clone()),
                    at: Some(row.at),
                },
                ItemRow {
                    campaign: id,
                    item: item.clone(),
                    stage: 1,
                    reviewer: row.reviewer.clone(),
                    decision: Some(FinalDecision {
                        verdict: row.verdict,
                        until: row.until,
                        comment: row.comment.clone(),
                        by: Some(row.reviewer.clone()),
                        at: row.at,
                        origin: DecisionOrigin::Imported,
                    }),
                    item_seq: 0,
                    seq: 0,
                },
            ));
            items.push(item);
        }
        let created = CampaignCreated {
            id,
            name: format!("decisions imported from {name}"),
            kind: CampaignKind::External,
            scope: None,
            systems: systems
                .keys()
                .filter_map(|s| SystemKey::new(s.clone()).ok())
                .collect(),
            privileged_only: false,
            owner: who.clone(),
            created_by: Some(who.clone()),
            instructions: None,
            rules: rules.clone(),
            policy: policy.digest(),
            trigger: None,
        };
        w.append(CampaignEvent::CampaignCreated(Stamped {
            as_of: now,
            import: None,
            record: created.clone(),
        }))?;
        let launch = w.append(CampaignEvent::CampaignLaunched(Stamped {
            as_of: now,
            import: None,
            record: CampaignLaunched {
                id,
                launched_by: Some(who.clone()),
                due: now,
                ledger_size: size,
                population_sha256: hex(&hash.finalize()),
                items: items.len() as u64,
                systems,
                sources: vec![],
                exclusions: vec![],
                since: None,
            },
        }))?;
        let events: Vec<EventData> = items
            .chunks(BATCH_RECORDS)
            .map(|chunk| {
                CampaignEvent::ReviewItems(Stamped {
                    as_of: now,
                    import: Some(launch),
                    record: ReviewItems {
                        campaign: id,
                        holders: vec![],
                        entitlements: vec![],
                        items: chunk.to_vec(),
                    },
                })
                .into()
            })
            .collect();
        w.append_all(events)?;
        let c = w.read()?.campaign(id)?;
        let count = decisions.len() as u64;
        let done = lifecycle::record(w, &c, DecisionOrigin::Imported, None, decisions, now)?;
        w.append(CampaignEvent::DecisionsImported(Stamped {
            as_of: now,
            import: None,
            record: DecisionsImported {
                id,
                file: ImportFile {
                    name: name.clone(),
                    sha256: sha256.clone(),
                    rows: count,
                },
                verdicts: verdicts.clone(),
            },
        }))?;
        Ok(DecisionsReport {
            id,
            decisions: count,
            verdicts,
            tasks: done.tasks.len() as u64,
            sha256: sha256.clone(),
        })
    })
}
