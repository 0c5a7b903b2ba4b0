//! Offline evidence bundles: a folder that proves events `N..M` of a ledger
//! against a signed checkpoint, checkable without the database.
//!
//! Layout of a bundle folder:
//!
//! - `manifest.json`:
//!   `{"format":"gatehouse-ledger-bundle/1","origin":…,"from":N,"to":M,"tree_size":S,"left":[hex…],"right":[hex…]}`.
//!   Events are numbered from 1: event `seq` is leaf `seq - 1`. `left` is
//!   the compact range of leaves `[0, N-1)` and `right` the compact range of
//!   leaves `[M, S)`, so that `left + events + right` rebuild the root.
//! - `events.jsonl`: one event per line, the exact canonical bytes of the
//!   event (UTF-8 JSON without newlines) followed by `\n`. The leaf is
//!   `leaf_hash(line without its '\n')`. Each line is a JSON object whose
//!   `seq` field is its sequence number.
//! - `checkpoint`: the signed checkpoint note of tree size `S`.
//! - `key.pub`: the log's public key (vkey) as the producer saw it. The
//!   verifier never trusts it; it only reports whether it matches the key
//!   the auditor supplied.
//! - `witnesses.pub` (optional): the vkeys of the witnesses the producer
//!   asks to cosign its checkpoints, one per line. Like `key.pub`, it is
//!   never trusted, only reported.
//!
//! Checkpoint notes may carry witness cosignatures (C2SP tlog-cosignature)
//! after the log's signature line. [`verify_bundle_with`] checks them
//! against the witness keys the auditor trusts and requires a quorum on the
//! bundle's checkpoint; bundles without cosignatures verify as before when
//! no witness is required.
//! - `leaves` (optional): the leaf hashes of events `N..M`, 32 bytes each.
//!   When present and the root does not match, the verifier uses it to name
//!   the exact event that was altered.
//! - `checkpoints/` (optional): older signed checkpoints of the same log, any
//!   file names; `consistency/<old>-<new>.json` holds consistency proofs
//!   (JSON [`ConsistencyProof`]) chaining each older checkpoint, by
//!   increasing size, to the next and finally to `S`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod scan;

use crate::{
    Checkpoint, CompactRange, ConsistencyProof, Hash, LedgerError, NoteVerifier, SignedCheckpoint,
    WitnessCosignature, WitnessPolicy, WitnessVerifier, hash_to_hex, leaf_hash,
};

/// The `format` value of the manifests this version writes and reads.
pub const BUNDLE_FORMAT: &str = "gatehouse-ledger-bundle/1";

const MANIFEST: &str = "manifest.json";
const EVENTS: &str = "events.jsonl";
const CHECKPOINT: &str = "checkpoint";
const KEY: &str = "key.pub";
const LEAVES: &str = "leaves";
const OLDER: &str = "checkpoints";
const CONSISTENCY: &str = "consistency";
const WITNESSES: &str = "witnesses.pub";

/// Why a bundle could not be written or does not verify.
///
/// Each message names the file, and for events the sequence number and the
/// line, where the problem is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A file or folder could not be read or written.
    #[error("cannot {action} `{}`: {source}", .path.display())]
    Io {
        /// What was being done, e.g. `read`.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A bundle file is malformed or disagrees with the rest of the bundle.
    #[error("`{file}`: {reason}")]
    Invalid {
        /// File name within the bundle.
        file: String,
        /// What is wrong.
        reason: String,
    },

    /// A checkpoint does not open with the trusted key or does not parse.
    #[error("`{file}`: {source}")]
    Checkpoint {
        /// File name within the bundle.
        file: String,
        /// The signature or parse failure.
        #[source]
        source: LedgerError,
    },

    /// A consistency proof does not verify.
    #[error("`{file}`: {source}")]
    Consistency {
        /// File name within the bundle.
        file: String,
        /// The verification failure.
        #[source]
        source: LedgerError,
    },

    /// Two checkpoints are not linked by a consistency proof.
    #[error(
        "no consistency proof links the checkpoint of tree size {old} to tree size {new} (expected `consistency/{old}-{new}.json`)"
    )]
    MissingConsistency {
        /// The smaller tree size.
        old: u64,
        /// The next larger tree size.
        new: u64,
    },

    /// One event line is wrong.
    #[error("event {seq} (line {line} of events.jsonl): {reason}")]
    Event {
        /// Sequence number the line should hold.
        seq: u64,
        /// Line number in `events.jsonl`, from 1.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// `events.jsonl` ends before the last event of the range.
    #[error(
        "events.jsonl ends after line {lines} but the manifest declares events {from} to {to}: event {missing} and later are missing"
    )]
    MissingEvents {
        /// First declared event.
        from: u64,
        /// Last declared event.
        to: u64,
        /// Lines found.
        lines: u64,
        /// First missing sequence number.
        missing: u64,
    },

    /// The events and the manifest ranges do not rebuild the signed root.
    #[error(
        "events {from} to {to} with the manifest's `left` and `right` ranges give root `{computed}`, but the checkpoint of tree size {size} has root `{expected}`: an event or the manifest was altered"
    )]
    RootMismatch {
        /// First event.
        from: u64,
        /// Last event.
        to: u64,
        /// Tree size of the checkpoint.
        size: u64,
        /// Hex of the rebuilt root.
        computed: String,
        /// Hex of the signed root.
        expected: String,
    },

    /// Inputs handed to the writer do not fit together.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The contents of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// Origin of the log, as in its checkpoints.
    pub origin: String,
    /// Sequence number of the first event (from 1).
    pub from: u64,
    /// Sequence number of the last event (inclusive).
    pub to: u64,
    /// Tree size of the bundle's checkpoint.
    pub tree_size: u64,
    /// Compact range of leaves `[0, from - 1)`.
    #[serde(with = "crate::serde_hex::hashes")]
    pub left: Vec<Hash>,
    /// Compact range of leaves `[to, tree_size)`.
    #[serde(with = "crate::serde_hex::hashes")]
    pub right: Vec<Hash>,
}

/// How the bundle's own `key.pub` compares with the key the auditor trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleKey {
    /// The bundle has no `key.pub`.
    Missing,
    /// `key.pub` is the trusted key.
    Matches,
    /// `key.pub` holds another key (given here); it was not used.
    Differs(String),
}

/// What [`verify_bundle`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleReport {
    /// Origin of the log.
    pub origin: String,
    /// First event.
    pub from: u64,
    /// Last event.
    pub to: u64,
    /// Tree size of the checkpoint.
    pub tree_size: u64,
    /// Root of the checkpoint, rebuilt from the events.
    pub root: Hash,
    /// `name+keyid` of the key that signed the checkpoints.
    pub key: String,
    /// How `key.pub` compares with the trusted key.
    pub bundle_key: BundleKey,
    /// Tree sizes of the older checkpoints verified, ascending.
    pub older_checkpoints: Vec<u64>,
    /// Number of consistency proofs verified.
    pub consistency_proofs: usize,
    /// Number of event lines checked.
    pub events_checked: u64,
    /// Whether a `leaves` file was present and matched the events.
    pub leaf_list: bool,
    /// The trusted witnesses whose valid cosignature is on the checkpoint.
    pub cosigned: Vec<WitnessCosignature>,
    /// The trusted witnesses without a cosignature on the checkpoint.
    pub not_cosigned: Vec<String>,
    /// How many cosignatures were required.
    pub witness_quorum: usize,
    /// The vkeys listed in the bundle's `witnesses.pub` (never trusted).
    pub bundle_witnesses: Vec<String>,
}

/// Everything besides the events that goes into a bundle.
#[derive(Debug, Clone)]
pub struct BundleEvidence {
    /// Compact range of leaves `[0, from - 1)`.
    pub left: CompactRange,
    /// Compact range of leaves `[to, tree_size)`.
    pub right: CompactRange,
    /// Checkpoint of tree size `tree_size`.
    pub checkpoint: SignedCheckpoint,
    /// The log's public key, written to `key.pub`.
    pub key: NoteVerifier,
    /// Older checkpoints to include.
    pub older_checkpoints: Vec<SignedCheckpoint>,
    /// Consistency proofs chaining the older checkpoints to `tree_size`.
    pub consistency_proofs: Vec<ConsistencyProof>,
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BundleError + use<> {
    let path = path.to_path_buf();
    move |source| BundleError::Io {
        action,
        path,
        source,
    }
}

fn invalid(file: &str, reason: impl Into<String>) -> BundleError {
    BundleError::Invalid {
        file: file.to_string(),
        reason: reason.into(),
    }
}

/// Writes a bundle folder, streaming the events to disk.
///
/// ```no_run
/// # use gatehouse_ledger::bundle::{BundleWriter, BundleEvidence};
/// # fn demo(evidence: BundleEvidence, events: Vec<Vec<u8>>) -> Result<(), gatehouse_ledger::bundle::BundleError> {
/// let mut w = BundleWriter::create("evidence".as_ref(), "gatehouse.example/ledger", 101, 5000)?;
/// for event in &events {
///     w.push_event(event)?;
/// }
/// w.finish(evidence)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BundleWriter {
    dir: PathBuf,
    origin: String,
    from: u64,
    tree_size: u64,
    count: u64,
    events: BufWriter<File>,
    leaves: BufWriter<File>,
    middle: CompactRange,
    witnesses: Vec<WitnessVerifier>,
}

impl BundleWriter {
    /// Starts a bundle of events `from..` of a tree of `tree_size` leaves in
    /// `dir`, which must be empty or not exist yet.
    pub fn create(
        dir: &Path,
        origin: &str,
        from: u64,
        tree_size: u64,
    ) -> Result<BundleWriter, BundleError> {
        if from == 0 || from > tree_size {
            return Err(invalid(
                MANIFEST,
                format!("first event {from} is not within 1 to {tree_size}"),
            ));
        }
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        let mut entries = fs::read_dir(dir).map_err(io_err("list", dir))?;
        if entries.next().is_some() {
            return Err(BundleError::Io {
                action: "write a bundle into",
                path: dir.to_path_buf(),
                source: io::Error::new(io::ErrorKind::AlreadyExists, "the folder is not empty"),
            });
        }
        let open = |name: &str| -> Result<BufWriter<File>, BundleError> {
            let path = dir.join(name);
            let file = File::create(&path).map_err(io_err("create", &path))?;
            Ok(BufWriter::with_capacity(1 << 20, file))
        };
        Ok(BundleWriter {
            dir: dir.to_path_buf(),
            origin: origin.to_string(),
            from,
            tree_size,
            count: 0,
            events: open(EVENTS)?,
            leaves: open(LEAVES)?,
            middle: CompactRange::new(from - 1),
            witnesses: Vec::new(),
        })
    }

    /// Lists the witnesses the log asks to cosign its checkpoints, written
    /// to `witnesses.pub` for the auditor's information.
    pub fn set_witnesses(&mut self, witnesses: &[WitnessVerifier]) {
        self.witnesses = witnesses.to_vec();
    }

    /// Appends the canonical bytes of the next event (without newline).
    pub fn push_event(&mut self, event: &[u8]) -> Result<(), BundleError> {
        let seq = self.from + self.count;
        if event.contains(&b'\n') {
            return Err(BundleError::Event {
                seq,
                line: self.count + 1,
                reason: "the event bytes hold a newline".to_string(),
            });
        }
        if seq > self.tree_size {
            return Err(BundleError::Event {
                seq,
                line: self.count + 1,
                reason: format!("the tree has only {} leaves", self.tree_size),
            });
        }
        let path = self.dir.join(EVENTS);
        self.events
            .write_all(event)
            .and_then(|()| self.events.write_all(b"\n"))
            .map_err(io_err("write", &path))?;
        let leaf = leaf_hash(event);
        let path = self.dir.join(LEAVES);
        self.leaves
            .write_all(&leaf)
            .map_err(io_err("write", &path))?;
        self.middle.append(leaf);
        self.count += 1;
        Ok(())
    }

    /// Checks that the evidence proves the events pushed so far and writes
    /// the remaining files.
    pub fn finish(mut self, evidence: BundleEvidence) -> Result<Manifest, BundleError> {
        if self.count == 0 {
            return Err(invalid(EVENTS, "a bundle needs at least one event"));
        }
        let to = self.from + self.count - 1;
        let cp = evidence.checkpoint.checkpoint().clone();
        check_checkpoint(CHECKPOINT, &cp, &self.origin, Some(self.tree_size))?;
        SignedCheckpoint::open(evidence.checkpoint.note(), &evidence.key).map_err(|source| {
            BundleError::Checkpoint {
                file: CHECKPOINT.to_string(),
                source,
            }
        })?;
        let (left, right) = (evidence.left, evidence.right);
        if left.begin() != 0 || left.end() != self.from - 1 {
            return Err(invalid(
                MANIFEST,
                format!(
                    "`left` must cover leaves [0, {}) but covers [{}, {})",
                    self.from - 1,
                    left.begin(),
                    left.end()
                ),
            ));
        }
        if right.begin() != to || right.end() != self.tree_size {
            return Err(invalid(
                MANIFEST,
                format!(
                    "`right` must cover leaves [{to}, {}) but covers [{}, {})",
                    self.tree_size,
                    right.begin(),
                    right.end()
                ),
            ));
        }
        let mut all = left.clone();
        all.merge(self.middle.clone())?;
        all.merge(right.clone())?;
        let computed = all.root()?;
        if computed != cp.root {
            return Err(BundleError::RootMismatch {
                from: self.from,
                to,
                size: self.tree_size,
                computed: hash_to_hex(&computed),
                expected: hash_to_hex(&cp.root),
            });
        }
        let mut older = Vec::new();
        for c in &evidence.older_checkpoints {
            let name = format!("{OLDER}/{}", c.checkpoint().size);
            SignedCheckpoint::open(c.note(), &evidence.key).map_err(|source| {
                BundleError::Checkpoint {
                    file: name.clone(),
                    source,
                }
            })?;
            older.push((name, c.checkpoint().clone()));
        }
        let proofs: Vec<(String, ConsistencyProof)> = evidence
            .consistency_proofs
            .iter()
            .map(|p| (proof_file_name(p.old_size, p.new_size), p.clone()))
            .collect();
        check_chain(&cp, &older, &proofs)?;

        let manifest = Manifest {
            format: BUNDLE_FORMAT.to_string(),
            origin: self.origin.clone(),
            from: self.from,
            to,
            tree_size: self.tree_size,
            left: left.hashes().to_vec(),
            right: right.hashes().to_vec(),
        };
        let dir = self.dir.clone();
        let flush = |w: &mut BufWriter<File>, name: &str| {
            let path = dir.join(name);
            w.flush()
                .and_then(|()| w.get_ref().sync_all())
                .map_err(io_err("write", &path))
        };
        flush(&mut self.events, EVENTS)?;
        flush(&mut self.leaves, LEAVES)?;
        let write = |name: &str, data: &[u8]| -> Result<(), BundleError> {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io_err("create", parent))?;
            }
            fs::write(&path, data).map_err(io_err("write", &path))
        };
        let mut json =
            serde_json::to_vec_pretty(&manifest).map_err(|e| invalid(MANIFEST, e.to_string()))?;
        json.push(b'\n');
        write(MANIFEST, &json)?;
        write(CHECKPOINT, evidence.checkpoint.note().as_bytes())?;
        write(KEY, format!("{}\n", evidence.key).as_bytes())?;
        if !self.witnesses.is_empty() {
            let list: String = self.witnesses.iter().map(|w| format!("{w}\n")).collect();
            write(WITNESSES, list.as_bytes())?;
        }
        for c in &evidence.older_checkpoints {
            write(
                &format!("{OLDER}/{}", c.checkpoint().size),
                c.note().as_bytes(),
            )?;
        }
        for (name, proof) in &proofs {
            let mut json =
                serde_json::to_vec_pretty(proof).map_err(|e| invalid(name, e.to_string()))?;
            json.push(b'\n');
            write(name, &json)?;
        }
        Ok(manifest)
    }
}

fn proof_file_name(old: u64, new: u64) -> String {
    format!("{CONSISTENCY}/{old}-{new}.json")
}

/// Checks a checkpoint's origin and (when given) size against the manifest.
fn check_checkpoint(
    file: &str,
    cp: &Checkpoint,
    origin: &str,
    size: Option<u64>,
) -> Result<(), BundleError> {
    if cp.origin != origin {
        return Err(invalid(
            file,
            format!(
                "origin `{}` differs from the bundle's origin `{origin}`",
                cp.origin
            ),
        ));
    }
    if let Some(size) = size
        && cp.size != size
    {
        return Err(invalid(
            file,
            format!(
                "tree size {} differs from the manifest's tree size {size}",
                cp.size
            ),
        ));
    }
    Ok(())
}

/// Checks that older checkpoints agree with the latest one and that
/// consistency proofs chain every checkpoint size to the next. Returns the
/// number of proofs verified.
fn check_chain(
    latest: &Checkpoint,
    older: &[(String, Checkpoint)],
    proofs: &[(String, ConsistencyProof)],
) -> Result<usize, BundleError> {
    let mut known: BTreeMap<u64, (String, Hash)> = BTreeMap::new();
    known.insert(latest.size, (CHECKPOINT.to_string(), latest.root));
    for (file, c) in older {
        check_checkpoint(file, c, &latest.origin, None)?;
        if c.size > latest.size {
            return Err(invalid(
                file,
                format!(
                    "tree size {} is larger than the bundle's tree size {}",
                    c.size, latest.size
                ),
            ));
        }
        if let Some((other, root)) = known.get(&c.size) {
            if *root != c.root {
                return Err(invalid(
                    file,
                    format!(
                        "tree size {} has a different root than in `{other}`: the log signed two different trees",
                        c.size
                    ),
                ));
            }
        } else {
            known.insert(c.size, (file.clone(), c.root));
        }
    }
    let mut linked = BTreeSet::new();
    for (file, p) in proofs {
        let root_of = |size: u64| {
            known.get(&size).map(|(_, r)| *r).ok_or_else(|| {
                invalid(
                    file,
                    format!("refers to tree size {size}, for which the bundle has no checkpoint"),
                )
            })
        };
        let (old_root, new_root) = (root_of(p.old_size)?, root_of(p.new_size)?);
        p.verify(&old_root, &new_root)
            .map_err(|source| BundleError::Consistency {
                file: file.clone(),
                source,
            })?;
        linked.insert((p.old_size, p.new_size));
    }
    let sizes: Vec<u64> = known.keys().copied().collect();
    for pair in sizes.windows(2) {
        if !linked.contains(&(pair[0], pair[1])) {
            return Err(BundleError::MissingConsistency {
                old: pair[0],
                new: pair[1],
            });
        }
    }
    Ok(proofs.len())
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, BundleError> {
    let path = dir.join(name);
    fs::read(&path).map_err(io_err("read", &path))
}

fn read_text(dir: &Path, name: &str) -> Result<String, BundleError> {
    String::from_utf8(read(dir, name)?).map_err(|_| invalid(name, "is not UTF-8 text"))
}

/// Lists the regular files of an optional sub-folder, sorted by name.
fn list_files(dir: &Path, sub: &str) -> Result<Vec<String>, BundleError> {
    let path = dir.join(sub);
    let entries = match fs::read_dir(&path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", &path)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", &path))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().map_err(io_err("list", &path))?;
        if !kind.is_file() {
            return Err(invalid(&format!("{sub}/{name}"), "is not a regular file"));
        }
        names.push(format!("{sub}/{name}"));
    }
    names.sort();
    Ok(names)
}

/// Verifies a bundle folder against the log key the auditor trusts.
///
/// Checks, in order: the manifest; the checkpoint's signature with `key`
/// (never with the bundle's own `key.pub`, which is only compared); the
/// older checkpoints and the consistency proofs chaining them; that every
/// line of `events.jsonl` is a JSON object with the expected `seq`; and
/// that `left` + the events + `right` rebuild the checkpoint's root.
///
/// Event lines are checked and hashed on all available cores.
pub fn verify_bundle(dir: &Path, key: &NoteVerifier) -> Result<BundleReport, BundleError> {
    verify_bundle_with(dir, key, &WitnessPolicy::none())
}

/// Verifies a bundle folder against the log key and the witness policy the
/// auditor trusts.
///
/// As [`verify_bundle`], and also: the bundle's checkpoint must carry valid
/// cosignatures by at least the policy's quorum of its witnesses, and every
/// cosignature by a policy witness on any checkpoint of the bundle must
/// verify. The bundle's own `witnesses.pub` is never trusted, only reported.
pub fn verify_bundle_with(
    dir: &Path,
    key: &NoteVerifier,
    witnesses: &WitnessPolicy,
) -> Result<BundleReport, BundleError> {
    let manifest: Manifest = serde_json::from_slice(&read(dir, MANIFEST)?)
        .map_err(|e| invalid(MANIFEST, e.to_string()))?;
    if manifest.format != BUNDLE_FORMAT {
        return Err(invalid(
            MANIFEST,
            format!("format `{}` is not `{BUNDLE_FORMAT}`", manifest.format),
        ));
    }
    let (from, to, size) = (manifest.from, manifest.to, manifest.tree_size);
    if from == 0 || to < from || to > size {
        return Err(invalid(
            MANIFEST,
            format!("events {from} to {to} are not a non-empty range within a tree of size {size}"),
        ));
    }
    let left = CompactRange::from_parts(0, from - 1, manifest.left)
        .map_err(|e| invalid(MANIFEST, format!("`left`: {e}")))?;
    let right = CompactRange::from_parts(to, size, manifest.right)
        .map_err(|e| invalid(MANIFEST, format!("`right`: {e}")))?;

    let note = read_text(dir, CHECKPOINT)?;
    let latest = SignedCheckpoint::open(&note, key).map_err(|source| BundleError::Checkpoint {
        file: CHECKPOINT.to_string(),
        source,
    })?;
    let latest = latest.checkpoint().clone();
    check_checkpoint(CHECKPOINT, &latest, &manifest.origin, Some(size))?;
    let cosignatures = witnesses
        .check(&note, key)
        .map_err(|source| BundleError::Checkpoint {
            file: CHECKPOINT.to_string(),
            source,
        })?;
    let bundle_witnesses = match fs::read_to_string(dir.join(WITNESSES)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err("read", &dir.join(WITNESSES))(e)),
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.chars().take(300).collect())
            .collect(),
    };

    let bundle_key = match fs::read_to_string(dir.join(KEY)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => BundleKey::Missing,
        Err(e) => return Err(io_err("read", &dir.join(KEY))(e)),
        Ok(text) if text.trim() == key.vkey() => BundleKey::Matches,
        Ok(text) => BundleKey::Differs(text.trim().chars().take(300).collect()),
    };

    let mut older = Vec::new();
    for file in list_files(dir, OLDER)? {
        let note = read_text(dir, &file)?;
        let c = SignedCheckpoint::open(&note, key).map_err(|source| BundleError::Checkpoint {
            file: file.clone(),
            source,
        })?;
        witnesses
            .cosignatures(&note, key)
            .map_err(|source| BundleError::Checkpoint {
                file: file.clone(),
                source,
            })?;
        older.push((file, c.checkpoint().clone()));
    }
    let mut proofs = Vec::new();
    for file in list_files(dir, CONSISTENCY)? {
        let proof: ConsistencyProof = serde_json::from_slice(&read(dir, &file)?)
            .map_err(|e| invalid(&file, e.to_string()))?;
        if file != proof_file_name(proof.old_size, proof.new_size) {
            return Err(invalid(
                &file,
                format!(
                    "holds a proof from tree size {} to {}, which belongs in `{}`",
                    proof.old_size,
                    proof.new_size,
                    proof_file_name(proof.old_size, proof.new_size)
                ),
            ));
        }
        proofs.push((file, proof));
    }
    let consistency_proofs = check_chain(&latest, &older, &proofs)?;
    let mut older_sizes: Vec<u64> = older.iter().map(|(_, c)| c.size).collect();
    older_sizes.sort_unstable();

    let expected = to - from + 1;
    let list_path = dir.join(LEAVES);
    let list = match fs::metadata(&list_path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err("read", &list_path)(e)),
        Ok(meta) if meta.len() == expected.saturating_mul(32) => Some(list_path),
        Ok(meta) => {
            return Err(invalid(
                LEAVES,
                format!(
                    "holds {} bytes but {expected} events need {} bytes of leaf hashes",
                    meta.len(),
                    expected.saturating_mul(32)
                ),
            ));
        }
    };

    let scan = scan::scan_events(dir, from, list.as_deref())?;
    if scan.lines > expected {
        return Err(BundleError::Event {
            seq: to.saturating_add(1),
            line: expected + 1,
            reason: format!("the manifest declares only events {from} to {to}"),
        });
    }
    if scan.lines < expected {
        return Err(BundleError::MissingEvents {
            from,
            to,
            lines: scan.lines,
            missing: from + scan.lines,
        });
    }

    let rebuild = |middle: CompactRange| -> Result<Hash, BundleError> {
        let mut all = left.clone();
        all.merge(middle)?;
        all.merge(right.clone())?;
        Ok(all.root()?)
    };
    let computed = rebuild(scan.middle)?;
    if computed != latest.root {
        // If the leaf list is authentic, it names the altered event.
        if let (Some(list), Some(index)) = (&list, scan.list_mismatch) {
            let list = fs::read(list).map_err(io_err("read", list))?;
            let mut listed = CompactRange::new(from - 1);
            for chunk in list.chunks_exact(32) {
                let mut h = [0u8; 32];
                h.copy_from_slice(chunk);
                listed.append(h);
            }
            if rebuild(listed)? == latest.root {
                return Err(BundleError::Event {
                    seq: from + index,
                    line: index + 1,
                    reason: "the event was altered: its hash is not the one the signed tree holds"
                        .to_string(),
                });
            }
        }
        return Err(BundleError::RootMismatch {
            from,
            to,
            size,
            computed: hash_to_hex(&computed),
            expected: hash_to_hex(&latest.root),
        });
    }
    if let Some(index) = scan.list_mismatch {
        return Err(invalid(
            LEAVES,
            format!(
                "the hash of event {} differs from the events, which do match the checkpoint",
                from + index
            ),
        ));
    }

    Ok(BundleReport {
        origin: manifest.origin,
        from,
        to,
        tree_size: size,
        root: latest.root,
        key: key.label(),
        bundle_key,
        older_checkpoints: older_sizes,
        consistency_proofs,
        events_checked: scan.lines,
        leaf_list: list.is_some(),
        cosigned: cosignatures.cosigned,
        not_cosigned: cosignatures.missing,
        witness_quorum: cosignatures.quorum,
        bundle_witnesses,
    })
}
