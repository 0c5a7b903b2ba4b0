//! Verifying the ledger against the database, and exporting evidence bundles.
//!
//! `verify` trusts nothing stored: it re-hashes every event, rebuilds the Merkle tree, compares
//! it with the stored tiles (which names the first event whose bytes changed), checks every
//! stored and published checkpoint against the rebuilt tree and the trusted public key, and
//! replays the events into an empty store to compare every state table row by row (which
//! catches a change made directly to the tables). With witnesses, it also checks every stored
//! cosignature against the witness keys it trusts, and compares the log with the latest
//! checkpoint each witness holds (handed in by the caller: the store does not talk to
//! witnesses), which catches a rollback or a rewrite re-signed with the genuine key.

use std::path::Path;
use std::time::Instant;

use gatehouse_ledger::bundle::{BundleEvidence, BundleWriter, Manifest};
use gatehouse_ledger::witness::find_divergence;
use gatehouse_ledger::{
    Appender, Checkpoint, Hash, InclusionProof, NoteVerifier, SignedCheckpoint, WitnessCosignature,
    WitnessPolicy, WitnessVerifier, compact_range, consistency_proof, decode_tile, hash_to_hex,
    inclusion_proof, leaf_hash,
};

use gatehouse_model::ErrorCode;

use crate::conn::Value;
use crate::error::StoreError;
use crate::ledger::EventFilter;
use crate::txn::Reader;
use crate::writer::{DbTiles, micros};

/// Events read per round trip while verifying.
const CHUNK: u64 = 50_000;

/// What to check besides the log itself.
pub struct VerifyOptions<'a> {
    /// The key checkpoints must be signed with.
    pub key: &'a NoteVerifier,
    /// Checkpoints kept outside the database (signed notes), e.g. a publish folder.
    pub published: Vec<(String, String)>,
    /// Replay the events and compare the state tables (slower; on by default).
    pub state: bool,
}

/// What witnesses vouch for, as `verify` takes it.
#[derive(Debug, Clone)]
pub struct WitnessChecks {
    /// The witnesses whose cosignatures on stored checkpoints are checked (every one must
    /// verify), and how many of them make a checkpoint witnessed.
    pub policy: WitnessPolicy,
    /// The latest checkpoint of this log each witness holds, as `(witness, checkpoint)`, each
    /// already opened with the trusted log key and checked for that witness's cosignature. The
    /// log must extend every one of them.
    pub held: Vec<(String, Checkpoint)>,
}

impl WitnessChecks {
    /// No witnesses: nothing to check.
    pub fn none() -> Self {
        WitnessChecks {
            policy: WitnessPolicy::none(),
            held: Vec::new(),
        }
    }
}

/// What `verify` found to be right.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// Bytes of canonical event encodings hashed.
    pub bytes: u64,
    /// Root of the whole log, rebuilt.
    pub root: Hash,
    /// Stored checkpoints verified (signature, root, consistency).
    pub checkpoints: usize,
    /// Published checkpoints verified.
    pub published: usize,
    /// Largest checkpointed size; events after it are not yet covered by a signature.
    pub signed_size: u64,
    /// Seconds spent reading and hashing events and rebuilding the tree.
    pub tree_seconds: f64,
    /// Seconds spent replaying events and comparing state (0 when skipped).
    pub state_seconds: f64,
    /// Whether the state tables were compared.
    pub state_checked: bool,
    /// Cosignatures by trusted witnesses on stored checkpoints, every one verified.
    pub cosignatures: usize,
    /// How many trusted witnesses' cosignatures make a checkpoint witnessed.
    pub witness_quorum: usize,
    /// The largest stored checkpoint cosigned by the quorum of trusted witnesses (0 if none);
    /// `None` when no witness is trusted.
    pub witnessed_size: Option<u64>,
    /// The trusted witnesses whose cosignature is on the latest stored checkpoint.
    pub latest_cosigned: Vec<WitnessCosignature>,
    /// The checkpoints witnesses hold, `(witness, size)`, each one extended by the log.
    pub witnesses_held: Vec<(String, u64)>,
}

/// Why verification failed: what and where.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The stored data contradicts the ledger.
    #[error("{0}")]
    Tampered(String),
    /// The events, the tree and the state agree, but no signed checkpoint covers the log:
    /// none was signed yet (a command stopped before it signed, such as a first import that
    /// crashed), or every checkpoint was deleted.
    #[error(
        "no signed checkpoint covers the log: its {} events agree with the tree{}, but no signature vouches for them. Either none was signed yet (a command stopped before it signed, such as a first import that crashed) or every checkpoint was deleted",
        .0.events,
        if .0.state_checked { " and the state tables" } else { "" }
    )]
    NotCheckpointed(Box<VerifyReport>),
    /// Verification could not run.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl VerifyError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            VerifyError::Tampered(_) => ErrorCode::LedgerTampered,
            VerifyError::NotCheckpointed(_) => ErrorCode::NotCheckpointed,
            VerifyError::Store(e) => e.code(),
        }
    }
}

fn tampered(s: impl Into<String>) -> VerifyError {
    VerifyError::Tampered(s.into())
}

/// Reads the `seq` an event's canonical bytes start with: `{"seq":N,`.
fn claimed_seq(body: &[u8]) -> Option<u64> {
    let rest = body.strip_prefix(b"{\"seq\":")?;
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    if rest.get(end) != Some(&b',') || end == 0 {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// Hashes leaves on all cores; order is kept.
fn hash_leaves(bodies: &[Vec<u8>]) -> Vec<Hash> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if threads < 2 || bodies.len() < 4096 {
        return bodies.iter().map(|b| leaf_hash(b)).collect();
    }
    let per = bodies.len().div_ceil(threads);
    let mut out = vec![[0u8; 32]; bodies.len()];
    std::thread::scope(|s| {
        for (src, dst) in bodies.chunks(per).zip(out.chunks_mut(per)) {
            s.spawn(move || {
                for (b, d) in src.iter().zip(dst.iter_mut()) {
                    *d = leaf_hash(b);
                }
            });
        }
    });
    out
}

/// An event row as verification reads it: the columns beside the body are checked against the
/// body's own envelope, and a body stored as anything but bytes is tampering, not an error.
struct StoredEvent {
    seq: u64,
    recorded_at: i64,
    actor: String,
    kind: String,
    body: Result<Vec<u8>, String>,
}

/// The envelope of a canonical event, without decoding its payload.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[allow(dead_code)]
    seq: u64,
    at: gatehouse_model::Timestamp,
    #[serde(borrow)]
    actor: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[allow(dead_code)]
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
}

/// Names the first column of an event row that disagrees with the event's bytes.
fn check_columns(e: &StoredEvent, body: &[u8]) -> Result<(), VerifyError> {
    let env: Envelope<'_> = serde_json::from_slice(body).map_err(|_| {
        tampered(format!(
            "event {}: its bytes are not a canonical event",
            e.seq
        ))
    })?;
    let column = |name: &str, stored: &str, hashed: &str| {
        tampered(format!(
            "event {}: column `{name}` says `{stored}` but the event's hashed bytes say `{hashed}`: the row was edited",
            e.seq
        ))
    };
    if env.actor != e.actor {
        return Err(column("actor", &e.actor, &env.actor));
    }
    if env.kind != e.kind {
        return Err(column("kind", &e.kind, &env.kind));
    }
    if micros(env.at) != e.recorded_at {
        return Err(column(
            "recorded_at",
            &e.recorded_at.to_string(),
            &micros(env.at).to_string(),
        ));
    }
    Ok(())
}

impl Reader<'_> {
    fn stored_events(&mut self, from: u64, to: u64) -> Result<Vec<StoredEvent>, StoreError> {
        self.conn.query(
            "SELECT seq, recorded_at, actor, kind, body FROM event WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
            &[Value::Int(from as i64), Value::Int(to as i64)],
            |r| {
                Ok(StoredEvent {
                    seq: r.i64(0)? as u64,
                    recorded_at: r.i64(1)?,
                    actor: r.str(2)?,
                    kind: r.str(3)?,
                    body: match r.value(4)? {
                        Value::Blob(b) => crate::body::unpack(b),
                        Value::Text(_) => Err("text".into()),
                        Value::Int(_) => Err("an integer".into()),
                        Value::Null => Err("NULL".into()),
                    },
                })
            },
        )
    }

    fn stored_tile(&mut self, level: u32, index: u64) -> Result<Option<Vec<Hash>>, StoreError> {
        let bytes = self.conn.query_opt(
            "SELECT hashes FROM ledger_tile WHERE level = $1 AND idx = $2",
            &[Value::Int(i64::from(level)), Value::Int(index as i64)],
            |r| r.blob(0),
        )?;
        bytes
            .map(|b| decode_tile(&b).map_err(StoreError::from))
            .transpose()
    }

    /// Verifies the whole ledger as this transaction sees it (one consistent state, however
    /// much is written meanwhile); see the module documentation.
    pub fn verify_ledger(
        &mut self,
        options: &VerifyOptions<'_>,
    ) -> Result<VerifyReport, VerifyError> {
        self.verify_ledger_with(options, &WitnessChecks::none())
    }

    /// [`Reader::verify_ledger`], and also what witnesses vouch for: every cosignature by a
    /// trusted witness on a stored checkpoint must verify, and the log must extend the latest
    /// checkpoint each witness holds. A log rolled back or rewritten after a witness cosigned,
    /// even re-signed with the genuine key, fails, naming the first cosigned size it departs
    /// from.
    pub fn verify_ledger_with(
        &mut self,
        options: &VerifyOptions<'_>,
        witnesses: &WitnessChecks,
    ) -> Result<VerifyReport, VerifyError> {
        let started = Instant::now();
        let total = self.size();
        let count = self.conn.scalar("SELECT count(*) FROM event", &[])? as u64;
        let mut checkpoints = self.checkpoints()?;
        checkpoints.sort_by_key(|c| c.size);
        let mut published: Vec<(String, SignedCheckpoint)> = Vec::new();
        for (name, note) in &options.published {
            let cp = SignedCheckpoint::open(note, options.key).map_err(|e| {
                tampered(format!(
                    "published checkpoint `{name}` does not verify with the trusted key: {e}"
                ))
            })?;
            published.push((name.clone(), cp));
        }
        // Tree sizes at which a root must be remembered.
        let mut sizes: Vec<u64> = checkpoints.iter().map(|c| c.size).collect();
        sizes.extend(published.iter().map(|(_, p)| p.checkpoint().size));
        sizes.sort_unstable();
        sizes.dedup();
        if let Some(&largest) = sizes.last()
            && largest > total
        {
            return Err(tampered(format!(
                "a checkpoint covers {largest} events but the log holds only {total}: events were removed from the end of the log"
            )));
        }
        // The checkpoints witnesses hold: a size beyond the log is a divergence found below,
        // once the roots at the smaller cosigned sizes are known.
        sizes.extend(
            witnesses
                .held
                .iter()
                .map(|(_, c)| c.size)
                .filter(|s| *s <= total),
        );
        sizes.sort_unstable();
        sizes.dedup();
        let mut roots: Vec<(u64, Hash)> = Vec::new();
        let mut next_size = sizes.iter().copied().peekable();
        let mut appender = Appender::new();
        let mut bytes = 0u64;
        let mut next = 1u64;
        while next <= total {
            let stored = self.stored_events(next, (next + CHUNK - 1).min(total))?;
            let mut rows: Vec<(u64, Vec<u8>)> = Vec::with_capacity(stored.len());
            for (i, e) in stored.into_iter().enumerate() {
                let expected = next + i as u64;
                let seq = e.seq;
                if seq != expected {
                    return Err(tampered(format!(
                        "event {expected} is missing from the log (the next stored event is {seq})"
                    )));
                }
                let body = match &e.body {
                    Ok(b) => b,
                    Err(what) => {
                        return Err(tampered(format!(
                            "event {seq}: its body is stored as {what}, not as the bytes that were hashed: the row was edited"
                        )));
                    }
                };
                match claimed_seq(body) {
                    Some(s) if s == seq => {}
                    Some(s) => {
                        return Err(tampered(format!(
                            "event {seq}: the row holds the bytes of event {s}: events were moved or reordered"
                        )));
                    }
                    None => {
                        return Err(tampered(format!(
                            "event {seq}: its bytes are not a canonical event"
                        )));
                    }
                }
                check_columns(&e, body)?;
                bytes += body.len() as u64;
                rows.push((seq, e.body.unwrap_or_default()));
            }
            if rows.is_empty() {
                return Err(tampered(format!("event {next} is missing from the log")));
            }
            let bodies: Vec<Vec<u8>> = rows.into_iter().map(|(_, b)| b).collect();
            for leaf in hash_leaves(&bodies) {
                appender.push(leaf);
                while next_size.peek() == Some(&appender.size()) {
                    roots.push((appender.size(), appender.root()));
                    next_size.next();
                }
            }
            next += bodies.len() as u64;
            // Compare the rebuilt tiles with the stored ones.
            for (id, hashes) in appender.take_dirty_tiles() {
                let stored = self.stored_tile(id.level, id.index)?.unwrap_or_default();
                for (j, h) in hashes.iter().enumerate() {
                    if stored.get(j) != Some(h) {
                        let position = id.index * 256 + j as u64;
                        return Err(tampered(if id.level == 0 {
                            format!(
                                "event {}: its bytes do not hash to the leaf recorded in the tree when it was appended: the event was changed",
                                position + 1
                            )
                        } else {
                            format!(
                                "ledger tile {}/{} differs from the events at hash {j}: the stored tree was changed",
                                id.level, id.index
                            )
                        }));
                    }
                }
            }
        }
        if count != total {
            return Err(tampered(format!(
                "the log holds {count} events under sequence numbers 1 to {total}"
            )));
        }
        let root_at = |size: u64| roots.iter().find(|(s, _)| *s == size).map(|(_, r)| *r);
        let mut signed_size = 0;
        for c in &checkpoints {
            check_checkpoint(c, options.key, root_at(c.size))?;
            signed_size = signed_size.max(c.size);
        }
        for (name, p) in &published {
            let cp = p.checkpoint();
            if Some(cp.root) != root_at(cp.size) {
                return Err(tampered(format!(
                    "published checkpoint `{name}` (size {}) does not match the log: the log was rewritten after it was published",
                    cp.size
                )));
            }
            signed_size = signed_size.max(cp.size);
        }
        // Consistency between consecutive checkpoints, from the stored tiles.
        for pair in checkpoints.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let proof = consistency_proof(&mut DbTiles(self.conn), a.size, b.size)?;
            proof.verify(&a.root, &b.root).map_err(|e| {
                tampered(format!(
                    "checkpoints {} and {} are not consistent: {e}",
                    a.size, b.size
                ))
            })?;
        }
        let cosigned = check_cosignatures(&checkpoints, options.key, witnesses, total, root_at)?;
        for (_, c) in &witnesses.held {
            signed_size = signed_size.max(c.size);
        }
        let tree_seconds = started.elapsed().as_secs_f64();
        let mut state_seconds = 0.0;
        if options.state {
            let t = Instant::now();
            let rebuilt = self.rebuilt().map_err(|e| match e {
                StoreError::Corrupt(m) => tampered(format!("replaying the events fails: {m}")),
                other => VerifyError::Store(other),
            })?;
            if let Some(diff) = self.compare_state(&rebuilt)? {
                return Err(tampered(format!(
                    "the state does not follow from the events: {diff}; it was changed without an event"
                )));
            }
            state_seconds = t.elapsed().as_secs_f64();
        }
        let report = VerifyReport {
            events: total,
            bytes,
            root: appender.root(),
            checkpoints: checkpoints.len(),
            published: published.len(),
            signed_size,
            tree_seconds,
            state_seconds,
            state_checked: options.state,
            cosignatures: cosigned.cosignatures,
            witness_quorum: witnesses.policy.quorum(),
            witnessed_size: cosigned.witnessed_size,
            latest_cosigned: cosigned.latest,
            witnesses_held: witnesses
                .held
                .iter()
                .map(|(w, c)| (w.clone(), c.size))
                .collect(),
        };
        if total > 0 && checkpoints.is_empty() && published.is_empty() && witnesses.held.is_empty()
        {
            return Err(VerifyError::NotCheckpointed(Box::new(report)));
        }
        Ok(report)
    }

    /// The inclusion proof of event `seq` in the tree of `size` events.
    pub fn prove_inclusion(&mut self, seq: u64, size: u64) -> Result<InclusionProof, StoreError> {
        let total = self.size();
        if seq == 0 || seq > size || size > total {
            return Err(StoreError::refused(
                ErrorCode::LedgerRange,
                format!(
                    "event {seq} is not within a tree of {size} events (the log holds {total})"
                ),
            ));
        }
        inclusion_proof(&mut DbTiles(self.conn), seq - 1, size)
    }

    /// The consistency proof from the tree of `old` events to the tree of `new` events.
    pub fn prove_consistency(
        &mut self,
        old: u64,
        new: u64,
    ) -> Result<gatehouse_ledger::ConsistencyProof, StoreError> {
        let total = self.size();
        if old > new || new > total {
            return Err(StoreError::refused(
                ErrorCode::LedgerRange,
                format!("sizes must satisfy {old} ≤ {new} ≤ {total} (the log's size)"),
            ));
        }
        consistency_proof(&mut DbTiles(self.conn), old, new)
    }

    /// Writes an offline evidence bundle of events `from..=to`, proven against the latest
    /// checkpoint, with every older checkpoint chained to it by consistency proofs.
    pub fn export_bundle(
        &mut self,
        dir: &Path,
        from: u64,
        to: u64,
        key: &NoteVerifier,
    ) -> Result<Manifest, StoreError> {
        self.export_bundle_with(dir, from, to, key, &[])
    }

    /// [`Reader::export_bundle`], listing in the bundle (`witnesses.pub`) the witnesses the log
    /// asks to cosign its checkpoints. Checkpoints carry the cosignatures stored with them
    /// either way.
    pub fn export_bundle_with(
        &mut self,
        dir: &Path,
        from: u64,
        to: u64,
        key: &NoteVerifier,
        witnesses: &[WitnessVerifier],
    ) -> Result<Manifest, StoreError> {
        let latest = self.latest_checkpoint()?.ok_or_else(|| {
            StoreError::refused(
                ErrorCode::NotCheckpointed,
                "there is no signed checkpoint yet",
            )
        })?;
        let size = latest.size;
        if from == 0 || from > to || to > size {
            return Err(StoreError::refused(
                ErrorCode::LedgerRange,
                format!(
                    "events {from} to {to} are not within the latest checkpoint, which covers 1 to {size}"
                ),
            ));
        }
        let open = |c: &crate::ledger::CheckpointRow| {
            SignedCheckpoint::open(&c.note, key).map_err(|e| {
                StoreError::refused(
                    ErrorCode::LedgerKey,
                    format!(
                        "checkpoint {} does not verify with the given key: {e}",
                        c.size
                    ),
                )
            })
        };
        let checkpoint = open(&latest)?;
        let older_rows: Vec<crate::ledger::CheckpointRow> = self
            .checkpoints()?
            .into_iter()
            .filter(|c| c.size < size)
            .collect();
        let mut older = Vec::new();
        let mut proofs = Vec::new();
        let mut sizes: Vec<u64> = older_rows.iter().map(|c| c.size).collect();
        sizes.push(size);
        for c in &older_rows {
            older.push(open(c)?);
        }
        for w in sizes.windows(2) {
            proofs.push(consistency_proof(&mut DbTiles(self.conn), w[0], w[1])?);
        }
        let left = compact_range(&mut DbTiles(self.conn), 0, from - 1)?;
        let right = compact_range(&mut DbTiles(self.conn), to, size)?;
        let origin = checkpoint.checkpoint().origin.clone();
        let bundle_err = |e: gatehouse_ledger::bundle::BundleError| StoreError::Io(e.to_string());
        let mut writer = BundleWriter::create(dir, &origin, from, size).map_err(bundle_err)?;
        writer.set_witnesses(witnesses);
        let mut next = from;
        while next <= to {
            let rows = self.events(&EventFilter {
                from_seq: Some(next),
                to_seq: Some((next + CHUNK - 1).min(to)),
                ..EventFilter::default()
            })?;
            if rows.is_empty() {
                return Err(StoreError::Corrupt(format!("event {next} is missing")));
            }
            for r in &rows {
                writer.push_event(&r.body).map_err(bundle_err)?;
            }
            next += rows.len() as u64;
        }
        writer
            .finish(BundleEvidence {
                left,
                right,
                checkpoint,
                key: key.clone(),
                older_checkpoints: older,
                consistency_proofs: proofs,
            })
            .map_err(bundle_err)
    }
}

/// What the cosignatures on stored checkpoints come to.
struct Cosigned {
    cosignatures: usize,
    witnessed_size: Option<u64>,
    latest: Vec<WitnessCosignature>,
}

/// Checks every trusted witness's cosignature on the stored checkpoints (a line that does not
/// verify is tampering), then that the log extends every checkpoint a witness cosigned: those
/// stored with a trusted cosignature, and the latest each witness holds.
fn check_cosignatures(
    checkpoints: &[crate::ledger::CheckpointRow],
    key: &NoteVerifier,
    witnesses: &WitnessChecks,
    total: u64,
    root_at: impl Fn(u64) -> Option<Hash>,
) -> Result<Cosigned, VerifyError> {
    let policy = &witnesses.policy;
    let mut cosignatures = 0;
    let mut witnessed_size = (!policy.witnesses().is_empty()).then_some(0);
    let mut cosigned: Vec<Checkpoint> = Vec::new();
    for c in checkpoints {
        let mut n = 0;
        for w in policy.witnesses() {
            match w.cosignature_of(&c.note) {
                Ok(Some(_)) => n += 1,
                Ok(None) => {}
                Err(e) => {
                    return Err(tampered(format!("the checkpoint of size {}: {e}", c.size)));
                }
            }
        }
        cosignatures += n;
        if n > 0 {
            cosigned.push(Checkpoint::new(key.name(), c.size, c.root));
        }
        if n >= policy.quorum().max(1)
            && let Some(w) = witnessed_size.as_mut()
        {
            *w = c.size;
        }
    }
    let latest = match checkpoints.last() {
        Some(c) if !policy.witnesses().is_empty() => {
            policy
                .cosignatures(&c.note, key)
                .map_err(|e| tampered(format!("the checkpoint of size {}: {e}", c.size)))?
                .cosigned
        }
        _ => Vec::new(),
    };
    cosigned.extend(witnesses.held.iter().map(|(_, c)| c.clone()));
    let divergence = find_divergence(&cosigned, total, |size| {
        root_at(size).ok_or_else(|| {
            VerifyError::Store(StoreError::Corrupt(format!(
                "no root was kept for the cosigned size {size}"
            )))
        })
    })?;
    if let Some(d) = divergence {
        let size = match d {
            gatehouse_ledger::witness::Divergence::Truncated { witnessed, .. } => witnessed,
            gatehouse_ledger::witness::Divergence::Rewritten { size, .. } => size,
        };
        let holders: Vec<String> = witnesses
            .held
            .iter()
            .filter(|(_, c)| c.size == size)
            .map(|(w, _)| format!("`{w}`"))
            .collect();
        let who = match holders.len() {
            0 => "a trusted witness cosigned it".to_string(),
            1 => format!("witness {} holds it", holders[0]),
            _ => format!("witnesses {} hold it", holders.join(", ")),
        };
        return Err(tampered(format!(
            "{d}; {who}: the log was rolled back or rewritten after the checkpoint of size {size} was cosigned"
        )));
    }
    Ok(Cosigned {
        cosignatures,
        witnessed_size,
        latest,
    })
}

fn check_checkpoint(
    c: &crate::ledger::CheckpointRow,
    key: &NoteVerifier,
    rebuilt: Option<Hash>,
) -> Result<(), VerifyError> {
    let signed = SignedCheckpoint::open(&c.note, key).map_err(|e| {
        tampered(format!(
            "the checkpoint of size {} is not signed by the trusted key `{}` ({e}): it was forged or re-signed",
            c.size,
            key.label()
        ))
    })?;
    let cp = signed.checkpoint();
    if cp.size != c.size || cp.root != c.root {
        return Err(tampered(format!(
            "the checkpoint row of size {} does not match its own signed note (size {}, root {})",
            c.size,
            cp.size,
            hash_to_hex(&cp.root)
        )));
    }
    if Some(cp.root) != rebuilt {
        return Err(tampered(format!(
            "the checkpoint of size {} (root {}) does not match the events: the log was changed at or before event {}",
            c.size,
            hash_to_hex(&cp.root),
            c.size
        )));
    }
    Ok(())
}
