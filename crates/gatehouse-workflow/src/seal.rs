//! Sealing the log: a signed checkpoint of the tree head, cosigned by the witnesses the log is
//! configured with; and asking those witnesses what they hold, for `ledger verify`.
//!
//! The store signs and keeps checkpoints and their cosignatures; `gatehouse-witness` speaks the
//! protocol; this module joins them, so that the store never talks to the network and the
//! witness client never sees a database.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gatehouse_ledger::{
    Checkpoint, Cosignature, Hash, LedgerError, NoteSigner, NoteVerifier, WitnessPolicy, open_note,
    split_note,
};
use gatehouse_model::Timestamp;
use gatehouse_store::{CheckpointRow, Reader, Store, StoreError};
use gatehouse_witness::{WitnessClient, WitnessError, cosign_all};

use crate::WorkflowError;

/// How many stored checkpoints, newest first, are searched for the last one a witness
/// cosigned. Beyond them the witness is sent the checkpoint with old size 0 and answers with
/// the size it holds (one more round trip).
const HINT_SEARCH: u64 = 1024;

/// The witnesses a log sends its checkpoints to, and how many of their cosignatures make a
/// checkpoint witnessed.
#[derive(Debug, Clone)]
pub struct Witnesses {
    clients: Vec<WitnessClient>,
    policy: WitnessPolicy,
}

impl Witnesses {
    /// The witnesses reached through `clients` (one per witness key), of which `quorum` must
    /// cosign. Fails if the quorum exceeds the number of distinct witness keys.
    pub fn new(clients: Vec<WitnessClient>, quorum: usize) -> Result<Witnesses, LedgerError> {
        let policy = WitnessPolicy::new(
            clients.iter().map(|c| c.witness().clone()).collect(),
            quorum,
        )?;
        Ok(Witnesses { clients, policy })
    }

    /// No witnesses: checkpoints are signed and nothing more.
    pub fn none() -> Witnesses {
        Witnesses {
            clients: Vec::new(),
            policy: WitnessPolicy::none(),
        }
    }

    /// Whether no witness is configured.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// The witnesses' clients, in configuration order.
    pub fn clients(&self) -> &[WitnessClient] {
        &self.clients
    }

    /// The witnesses' keys and the quorum.
    pub fn policy(&self) -> &WitnessPolicy {
        &self.policy
    }
}

/// What one witness did with the checkpoint being sealed.
#[derive(Debug)]
pub enum WitnessOutcome {
    /// Its cosignature was on the stored checkpoint already.
    Held {
        /// When it cosigned, in seconds since the Unix epoch.
        timestamp: u64,
    },
    /// It cosigned now.
    Cosigned {
        /// When it cosigned, in seconds since the Unix epoch.
        timestamp: u64,
        /// The size of the checkpoint it held before.
        old_size: u64,
    },
    /// It did not cosign: it is down, refused, or is configured for another log.
    Failed(WitnessError),
    /// The stored checkpoint carries a line under this witness's name and key that does not
    /// verify, so its cosignature cannot be added (`ledger verify` reports the line).
    ForgedLine(LedgerError),
}

/// One witness's part in a seal.
#[derive(Debug)]
pub struct WitnessReport {
    /// `name+keyid` of the witness.
    pub witness: String,
    /// Its URL.
    pub url: String,
    /// What it did.
    pub outcome: WitnessOutcome,
}

impl WitnessReport {
    /// Whether the witness's cosignature is on the checkpoint now.
    pub fn cosigned(&self) -> bool {
        matches!(
            self.outcome,
            WitnessOutcome::Held { .. } | WitnessOutcome::Cosigned { .. }
        )
    }
}

/// What a seal did.
#[derive(Debug)]
pub struct Sealed {
    /// Whether this seal signed a new checkpoint (otherwise the log had not grown since the
    /// latest one).
    pub signed: bool,
    /// The latest checkpoint as stored now, with every cosignature it carries.
    pub checkpoint: CheckpointRow,
    /// Whether the stored note changed (a new checkpoint, or cosignatures added): the copy in
    /// a publish folder is out of date.
    pub changed: bool,
    /// What each witness did, in configuration order (empty without witnesses).
    pub witnesses: Vec<WitnessReport>,
    /// How many cosignatures make the checkpoint witnessed.
    pub quorum: usize,
    /// Time spent asking witnesses and storing their cosignatures.
    pub witness_time: Duration,
}

impl Sealed {
    /// How many configured witnesses' cosignatures the checkpoint carries.
    pub fn cosigned(&self) -> usize {
        self.witnesses.iter().filter(|w| w.cosigned()).count()
    }

    /// Whether the checkpoint carries the quorum of cosignatures (always, without witnesses).
    pub fn witnessed(&self) -> bool {
        self.cosigned() >= self.quorum
    }
}

/// What to send to whom, read in one transaction.
struct Plan {
    row: CheckpointRow,
    /// Per configured witness: an outcome known without asking, or `None` to ask.
    known: Vec<Option<WitnessOutcome>>,
    /// Per configured witness: the size it is believed to hold.
    hints: Vec<u64>,
    /// Consistency proofs to the checkpoint's size, by old size.
    proofs: HashMap<u64, Vec<Hash>>,
}

fn plan_seal(r: &mut Reader<'_>, witnesses: &Witnesses) -> Result<Option<Plan>, StoreError> {
    let Some(row) = r.latest_checkpoint()? else {
        return Ok(None);
    };
    let mut known = Vec::new();
    let mut hints = vec![0; witnesses.clients.len()];
    let mut searching = Vec::new();
    for (i, client) in witnesses.clients.iter().enumerate() {
        match client.witness().cosignature_of(&row.note) {
            Ok(Some(c)) => known.push(Some(WitnessOutcome::Held {
                timestamp: c.timestamp,
            })),
            Ok(None) => {
                known.push(None);
                searching.push(i);
            }
            Err(e) => known.push(Some(WitnessOutcome::ForgedLine(e))),
        }
    }
    // The newest older checkpoint each witness to ask has a line on: the size it should hold.
    if !searching.is_empty() && row.size > 1 {
        for older in r.recent_checkpoints(row.size - 1, HINT_SEARCH)? {
            let Ok((_, lines)) = split_note(&older.note) else {
                continue;
            };
            searching.retain(|&i| {
                let w = witnesses.clients[i].witness();
                let found = lines.iter().any(|l| w.is_signer_of(&l.name, l.key_id));
                if found {
                    hints[i] = older.size;
                }
                !found
            });
            if searching.is_empty() {
                break;
            }
        }
    }
    let mut proofs = HashMap::new();
    for (i, outcome) in known.iter().enumerate() {
        if outcome.is_none() && !proofs.contains_key(&hints[i]) {
            let proof = r.prove_consistency(hints[i], row.size)?;
            proofs.insert(hints[i], proof.hashes);
        }
    }
    Ok(Some(Plan {
        row,
        known,
        hints,
        proofs,
    }))
}

/// Ends a command that may have appended events: signs a checkpoint of the log as it is now
/// (unless the latest one already covers it), then sends the latest checkpoint to every
/// witness whose cosignature it does not carry yet, and stores the cosignatures they return.
/// `None` when the log is empty.
///
/// Each witness is sent the checkpoint with the size of the newest stored checkpoint it
/// cosigned (else 0) and a consistency proof from that size, read from the store; the client
/// follows the witness's answer when it holds another size. A witness that is down or refuses
/// for another reason leaves the checkpoint not yet witnessed by it, which the result tells
/// ([`Sealed::witnessed`]); a later seal asks it again. A witness that holds a checkpoint this
/// log does not extend (it was rolled back or rewritten after the witness cosigned) fails the
/// seal with [`WorkflowError::WitnessConflict`], after the other witnesses' cosignatures are
/// stored.
///
/// When another process seals a newer checkpoint meanwhile, a witness may already hold that
/// one and refuse the older as a rollback; the seal then starts over once with the newest
/// stored checkpoint, so that concurrent commands are not taken for a rollback.
pub fn seal(
    store: &Store,
    signer: &NoteSigner,
    witnesses: &Witnesses,
    now: Timestamp,
) -> Result<Option<Sealed>, WorkflowError> {
    let signed = store.sign_checkpoint(signer, now)?.is_some();
    let started = Instant::now();
    let mut restarted = false;
    loop {
        let Some(plan) = store.read(|r| plan_seal(r, witnesses))? else {
            return Ok(None);
        };
        if witnesses.is_empty() {
            return Ok(Some(Sealed {
                signed,
                checkpoint: plan.row,
                changed: signed,
                witnesses: Vec::new(),
                quorum: 0,
                witness_time: Duration::ZERO,
            }));
        }
        let size = plan.row.size;
        let asked: Vec<usize> = (0..plan.known.len())
            .filter(|&i| plan.known[i].is_none())
            .collect();
        let clients: Vec<WitnessClient> = asked
            .iter()
            .map(|&i| witnesses.clients[i].clone())
            .collect();
        let hints: Vec<u64> = asked.iter().map(|&i| plan.hints[i]).collect();
        let answers = if clients.is_empty() {
            Vec::new()
        } else {
            cosign_all(&clients, &plan.row.note, &hints, |old, new| {
                match plan.proofs.get(&old) {
                    Some(proof) if new == size => Ok(proof.clone()),
                    _ => store.read(|r| r.prove_consistency(old, new).map(|p| p.hashes)),
                }
            })
        };
        let mut outcomes = plan.known;
        let mut cosignatures: Vec<Cosignature> = Vec::new();
        for (i, answer) in asked.into_iter().zip(answers) {
            outcomes[i] = Some(match answer {
                Ok(c) => {
                    cosignatures.push(c.cosignature.clone());
                    WitnessOutcome::Cosigned {
                        timestamp: c.cosignature.timestamp,
                        old_size: c.old_size,
                    }
                }
                Err(e) => WitnessOutcome::Failed(e),
            });
        }
        let row = if cosignatures.is_empty() {
            plan.row.clone()
        } else {
            store.add_cosignatures(size, &cosignatures)?
        };
        let reports: Vec<WitnessReport> = witnesses
            .clients
            .iter()
            .zip(outcomes)
            .filter_map(|(client, outcome)| {
                Some(WitnessReport {
                    witness: client.witness().label(),
                    url: client.url().to_owned(),
                    outcome: outcome?,
                })
            })
            .collect();
        let conflicts: Vec<&WitnessError> = reports
            .iter()
            .filter_map(|r| match &r.outcome {
                WitnessOutcome::Failed(e) if e.is_conflict_of_history() => Some(e),
                _ => None,
            })
            .collect();
        if !conflicts.is_empty() {
            // A witness ahead of this checkpoint may only have seen a newer one another
            // process sealed meanwhile: try again with the newest stored checkpoint.
            let only_ahead = conflicts
                .iter()
                .all(|e| matches!(e, WitnessError::Rollback { .. }));
            if only_ahead && !restarted {
                let newest = store.read(|r| r.latest_checkpoint())?.map_or(0, |c| c.size);
                if newest > size {
                    restarted = true;
                    continue;
                }
            }
            return Err(WorkflowError::WitnessConflict {
                size,
                reasons: conflicts.iter().map(|e| e.to_string()).collect(),
            });
        }
        let changed = signed || row.note != plan.row.note;
        return Ok(Some(Sealed {
            signed,
            checkpoint: row,
            changed,
            witnesses: reports,
            quorum: witnesses.policy.quorum(),
            witness_time: started.elapsed(),
        }));
    }
}

/// What a witness holds for a log, as `ledger verify` asks it.
#[derive(Debug)]
pub enum WitnessView {
    /// The latest checkpoint of the log it cosigned, opened with the trusted log key, with its
    /// own cosignature verified.
    Holds {
        /// The checkpoint.
        checkpoint: Checkpoint,
        /// When the witness cosigned it, in seconds since the Unix epoch.
        cosigned_at: u64,
    },
    /// It holds nothing for this log (or it does not serve `GET /checkpoint/<origin>`).
    Nothing,
    /// It shows a checkpoint of this origin that the trusted log key did not sign: the key
    /// trusted is not the log's, or the witness was given another log's checkpoints.
    NotSignedByLog(LedgerError),
    /// It could not be asked, or its answer breaks the protocol.
    Unavailable(WitnessError),
}

/// Asks each witness (all at once, one thread each) for the latest checkpoint of the log of
/// `log`'s origin it cosigned, and checks it with the log key and the witness's key.
pub fn ask_witnesses(clients: &[WitnessClient], log: &NoteVerifier) -> Vec<WitnessView> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = clients
            .iter()
            .map(|c| scope.spawn(move || ask(c, log)))
            .collect();
        handles
            .into_iter()
            .zip(clients)
            .map(|(h, c)| {
                h.join().unwrap_or_else(|_| {
                    WitnessView::Unavailable(WitnessError::Protocol {
                        url: c.url().to_owned(),
                        reason: "the request thread panicked".to_owned(),
                    })
                })
            })
            .collect()
    })
}

fn ask(client: &WitnessClient, log: &NoteVerifier) -> WitnessView {
    let origin = log.name();
    let note = match client.latest_checkpoint(origin) {
        Ok(Some(note)) => note,
        Ok(None) => return WitnessView::Nothing,
        Err(e) => return WitnessView::Unavailable(e),
    };
    let invalid = |reason: String| {
        WitnessView::Unavailable(WitnessError::Protocol {
            url: client.url().to_owned(),
            reason: format!("the checkpoint it shows for `{origin}` {reason}"),
        })
    };
    let body = match open_note(&note, log) {
        Ok(body) => body,
        Err(e @ (LedgerError::NoTrustedSignature { .. } | LedgerError::BadSignature { .. })) => {
            return WitnessView::NotSignedByLog(e);
        }
        Err(e) => return invalid(format!("is not a signed note: {e}")),
    };
    let checkpoint = match Checkpoint::parse_body(&body) {
        Ok(c) if c.origin == origin => c,
        Ok(c) => return invalid(format!("has origin `{}`", c.origin)),
        Err(e) => return invalid(e.to_string()),
    };
    match client.witness().cosignature_of(&note) {
        Ok(Some(c)) => WitnessView::Holds {
            checkpoint,
            cosigned_at: c.timestamp,
        },
        Ok(None) => invalid("carries no cosignature of this witness".to_owned()),
        Err(e) => invalid(e.to_string()),
    }
}
