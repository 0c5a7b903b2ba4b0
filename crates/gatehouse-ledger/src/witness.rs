//! The witness protocol (C2SP tlog-witness), as pure functions shared by a
//! witness and the logs that ask it to cosign: the `add-checkpoint` request
//! and its answers, and what a witness decides given what it holds for a
//! log.
//!
//! A log sends
//!
//! ```text
//! POST <prefix>/add-checkpoint
//!
//! old <size of the checkpoint the witness holds>
//! <consistency proof, one base64 hash per line>
//!
//! <the new checkpoint, a signed note>
//! ```
//!
//! and the witness answers with one of
//!
//! | status | when | body |
//! |---|---|---|
//! | 200 | cosigned | its cosignature lines |
//! | 400 | the request is malformed, or `old` exceeds the checkpoint's size | a message |
//! | 403 | no signature by a key of the log verifies | a message |
//! | 404 | the witness does not witness this origin | a message |
//! | 409 | `old` is not the size the witness holds, or the same size with another root | the size it holds, `text/x.tlog.size` |
//! | 422 | the consistency proof does not verify | a message |
//!
//! This module does no IO: the witness keeps its state and serialises the
//! requests of one log; the client sends the bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::note::{NoteSignature, split_note};
use crate::{
    Checkpoint, Cosignature, Hash, LedgerError, NoteVerifier, WitnessSigner, WitnessVerifier,
    empty_root, hash_to_hex, open_note, verify_consistency,
};

/// The most consistency proof lines a request may hold.
pub const MAX_PROOF_LINES: usize = 63;

/// The content type of a 409 answer, which carries the witness's size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The path of the request, after the witness's submission prefix.
pub const ADD_CHECKPOINT_PATH: &str = "/add-checkpoint";

/// An `add-checkpoint` request: the size the log believes the witness holds,
/// a consistency proof from that size to the new checkpoint, and the new
/// checkpoint's signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the witness holds for the log (0 if none).
    pub old_size: u64,
    /// Consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The checkpoint: a signed note, possibly with several signatures.
    pub note: String,
}

/// Parses a decimal size without leading zeros (except `0` itself).
fn parse_size(text: &str) -> Option<u64> {
    let ok = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    ok.then(|| text.parse().ok()).flatten()
}

impl AddCheckpoint {
    /// The request body.
    pub fn encode(&self) -> String {
        let mut out = format!("old {}\n", self.old_size);
        for h in &self.proof {
            out.push_str(&BASE64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.note);
        out
    }

    /// Parses a request body. Only the framing is checked here (the `old`
    /// line, the proof lines, the blank line); the note is checked by
    /// [`add_checkpoint`].
    pub fn decode(body: &[u8]) -> Result<AddCheckpoint, Refusal> {
        let bad = |why: &str| Refusal::BadRequest(why.to_string());
        let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line ends the old size and proof lines"))?;
        let mut lines = head.split('\n');
        let old_line = lines.next().unwrap_or_default();
        let old_size = old_line
            .strip_prefix("old ")
            .and_then(parse_size)
            .ok_or_else(|| {
                Refusal::BadRequest(format!(
                    "the first line `{}` is not `old <size>` with a decimal size",
                    old_line.chars().take(60).collect::<String>()
                ))
            })?;
        let mut proof = Vec::new();
        for (i, line) in lines.enumerate() {
            if i >= MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let hash: Hash = BASE64
                .decode(line)
                .ok()
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| {
                    Refusal::BadRequest(format!(
                        "proof line {} is not the base64 of a 32-byte hash",
                        i + 1
                    ))
                })?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            note: note.to_string(),
        })
    }

    /// The origin line of the checkpoint (the note's first line).
    pub fn origin(&self) -> &str {
        self.note.split('\n').next().unwrap_or_default()
    }
}

/// Why a witness does not cosign: each maps to an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: the request is malformed, or its old size exceeds the
    /// checkpoint's size.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 403: no signature by a key of the log verifies.
    #[error("the checkpoint is not signed by a key of log `{origin}`: {reason}")]
    BadSignature {
        /// The checkpoint's origin.
        origin: String,
        /// What the signature check found.
        reason: String,
    },
    /// 404: the witness does not witness this origin.
    #[error("unknown log `{origin}`")]
    UnknownLog {
        /// The checkpoint's origin.
        origin: String,
    },
    /// 409: the old size is not the size of the checkpoint the witness holds,
    /// or the checkpoint has that size but another root.
    #[error("the witness holds a checkpoint of size {size}")]
    Conflict {
        /// The size of the checkpoint the witness holds (0 if none).
        size: u64,
    },
    /// 422: the consistency proof does not verify.
    #[error("the consistency proof does not verify: {0}")]
    BadProof(String),
}

impl Refusal {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::BadSignature { .. } => 403,
            Refusal::UnknownLog { .. } => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::BadProof(_) => 422,
        }
    }

    /// The `Content-Type` of the answer.
    pub fn content_type(&self) -> &'static str {
        match self {
            Refusal::Conflict { .. } => SIZE_CONTENT_TYPE,
            _ => "text/plain; charset=utf-8",
        }
    }

    /// The body of the answer: the size and a newline for 409, else the
    /// message and a newline.
    pub fn body(&self) -> String {
        match self {
            Refusal::Conflict { size } => format!("{size}\n"),
            other => format!("{other}\n"),
        }
    }
}

/// What a witness holds for one log: the latest checkpoint it cosigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogState {
    /// Tree size of the checkpoint.
    pub size: u64,
    /// Root of the checkpoint.
    #[serde(with = "crate::serde_hex::hash")]
    pub root: Hash,
    /// The signed note as the log sent it.
    pub note: String,
}

/// Opens a checkpoint note with any of the log's keys: at least one
/// signature by a log key must verify and none may fail.
fn open_with_log_keys(note: &str, keys: &[NoteVerifier]) -> Result<String, LedgerError> {
    let mut opened = None;
    let mut first_err = None;
    for key in keys {
        match open_note(note, key) {
            Ok(body) => opened = Some(body),
            Err(e @ LedgerError::BadSignature { .. }) | Err(e @ LedgerError::MalformedNote(_)) => {
                return Err(e);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match (opened, first_err) {
        (Some(body), _) => Ok(body),
        (None, Some(e)) => Err(e),
        (None, None) => Err(LedgerError::NoTrustedSignature {
            key: "(no keys configured)".to_string(),
            found: String::new(),
        }),
    }
}

/// A witness's decision on one request: given the keys it trusts for the
/// request's origin (`None`: it does not witness that origin) and the
/// checkpoint it holds for that origin, either the new state to persist and
/// the cosignature to answer with, or a refusal.
///
/// The caller must persist the new state before answering, and must hold
/// the log's state unchanged between reading `held` and persisting, so that
/// two requests of one log cannot both pass against the same old state.
/// `now` is the time of the cosignature in seconds since the Unix epoch.
///
/// The checks, in order: a well-formed signed note (400); a known origin
/// (404); a valid signature by a log key (403); a checkpoint body (400);
/// `old` not above the checkpoint's size (400); `old` equal to the held
/// size (409 with the held size); at equal sizes, equal roots (409); the
/// consistency proof from the held checkpoint (422).
pub fn add_checkpoint(
    request: &AddCheckpoint,
    log_keys: Option<&[NoteVerifier]>,
    held: Option<&LogState>,
    signer: &WitnessSigner,
    now: u64,
) -> Result<(LogState, Cosignature), Refusal> {
    let origin = request.origin().to_string();
    split_note(&request.note).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let Some(keys) = log_keys else {
        return Err(Refusal::UnknownLog { origin });
    };
    let body = open_with_log_keys(&request.note, keys).map_err(|e| match e {
        LedgerError::MalformedNote(_) => Refusal::BadRequest(e.to_string()),
        other => Refusal::BadSignature {
            origin: origin.clone(),
            reason: other.to_string(),
        },
    })?;
    let checkpoint =
        Checkpoint::parse_body(&body).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let (old, new) = (request.old_size, checkpoint.size);
    if old > new {
        return Err(Refusal::BadRequest(format!(
            "old size {old} is larger than the checkpoint's size {new}"
        )));
    }
    let held_size = held.map_or(0, |h| h.size);
    if old != held_size {
        return Err(Refusal::Conflict { size: held_size });
    }
    let held_root = held.map_or_else(empty_root, |h| h.root);
    if old == new && held.is_some() && held_root != checkpoint.root {
        return Err(Refusal::Conflict { size: held_size });
    }
    verify_consistency(old, new, &request.proof, &held_root, &checkpoint.root).map_err(|e| {
        Refusal::BadProof(format!(
            "from the held checkpoint of size {old} (root {}) to size {new}: {e}",
            hash_to_hex(&held_root)
        ))
    })?;
    let cosignature = signer
        .cosign(&body, now)
        .map_err(|e| Refusal::BadRequest(e.to_string()))?;
    Ok((
        LogState {
            size: new,
            root: checkpoint.root,
            note: request.note.clone(),
        },
        cosignature,
    ))
}

/// The body of a 200 answer: the cosignature lines.
pub fn encode_cosignatures(cosignatures: &[Cosignature]) -> String {
    cosignatures.iter().map(Cosignature::to_line).collect()
}

/// A witness's answer to `add-checkpoint`, as the log reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200: the signature lines of the body (of any key and type).
    Cosigned(Vec<NoteSignature>),
    /// A refusal the protocol defines.
    Refused(Refusal),
}

/// Reads a witness's answer from its status, `Content-Type` and body.
///
/// Fails (with the reason) on a status the protocol does not define, a 409
/// without `text/x.tlog.size` or a decimal size, and a 200 whose body is
/// not signature lines.
pub fn decode_answer(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Answer, String> {
    let text = String::from_utf8_lossy(body);
    let message = || {
        let t = text.trim();
        if t.is_empty() {
            "(no message)".to_string()
        } else {
            t.chars().take(300).collect()
        }
    };
    match status {
        200 => {
            if text.is_empty() || !text.ends_with('\n') {
                return Err("the cosignature lines do not end with a newline".to_string());
            }
            let mut sigs = Vec::new();
            for line in text.split_terminator('\n') {
                sigs.push(
                    crate::note::parse_signature_line(line)
                        .map_err(|e| format!("the answer is not signature lines: {e}"))?,
                );
            }
            Ok(Answer::Cosigned(sigs))
        }
        409 => {
            let media = content_type
                .and_then(|c| c.split(';').next())
                .map(str::trim)
                .unwrap_or_default();
            if !media.eq_ignore_ascii_case(SIZE_CONTENT_TYPE) {
                return Err(format!(
                    "409 Conflict without `Content-Type: {SIZE_CONTENT_TYPE}` (got `{media}`): {}",
                    message()
                ));
            }
            let size = text
                .strip_suffix('\n')
                .and_then(parse_size)
                .ok_or_else(|| format!("409 Conflict body `{}` is not a size", message()))?;
            Ok(Answer::Refused(Refusal::Conflict { size }))
        }
        400 => Ok(Answer::Refused(Refusal::BadRequest(message()))),
        403 => Ok(Answer::Refused(Refusal::BadSignature {
            origin: String::new(),
            reason: message(),
        })),
        404 => Ok(Answer::Refused(Refusal::UnknownLog {
            origin: String::new(),
        })),
        422 => Ok(Answer::Refused(Refusal::BadProof(message()))),
        other => Err(format!("unexpected status {other}: {}", message())),
    }
}

/// Finds `witness`'s cosignature among the lines of a 200 answer and checks
/// it against the checkpoint's note text. Lines of other keys are ignored,
/// as the protocol requires.
pub fn cosignature_from_answer(
    lines: &[NoteSignature],
    witness: &WitnessVerifier,
    body: &str,
) -> Result<Cosignature, String> {
    let Some(line) = lines
        .iter()
        .find(|l| witness.is_signer_of(&l.name, l.key_id))
    else {
        let found: Vec<String> = lines.iter().map(|l| format!("`{}`", l.label())).collect();
        return Err(format!(
            "the answer holds no cosignature by `{}` (found: {})",
            witness.label(),
            if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            }
        ));
    };
    let cosignature = Cosignature::from_note_signature(line).map_err(|e| e.to_string())?;
    if !witness.verify(body, &cosignature) {
        return Err(format!(
            "the cosignature by `{}` does not verify for this checkpoint",
            witness.label()
        ));
    }
    Ok(cosignature)
}

/// Where a log's tree departs from checkpoints that witnesses cosigned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Divergence {
    /// A cosigned checkpoint is larger than the log: events were removed
    /// from its end.
    #[error(
        "a witness cosigned the tree of {witnessed} events but the log holds only {log_size}: events {first_missing} to {witnessed} were removed; the log agrees with what was cosigned up to size {agrees_up_to}",
        first_missing = .log_size + 1
    )]
    Truncated {
        /// The cosigned size.
        witnessed: u64,
        /// The log's size.
        log_size: u64,
        /// The largest cosigned size at which the log's root agrees (0 if
        /// none).
        agrees_up_to: u64,
    },
    /// The log's root at a cosigned size differs from the cosigned root: the
    /// history up to that size was rewritten.
    #[error(
        "the log's tree of {size} events differs from the one a witness cosigned: an event after {agrees_up_to} and at or before {size} was changed, removed or inserted, and the log re-signed"
    )]
    Rewritten {
        /// The first cosigned size whose root differs.
        size: u64,
        /// The largest cosigned size below it at which the log's root agrees
        /// (0 if none).
        agrees_up_to: u64,
    },
}

/// Compares a log with checkpoints that witnesses cosigned (each already
/// opened with the log key and checked for the witness's cosignature), from
/// the smallest size up, and returns the first divergence: a cosigned size
/// beyond the log's end, or a cosigned root the log's tree does not have.
///
/// `root_at(size)` gives the log's root at a size up to `log_size`, for
/// example from its stored tiles.
pub fn find_divergence<E>(
    cosigned: &[Checkpoint],
    log_size: u64,
    mut root_at: impl FnMut(u64) -> Result<Hash, E>,
) -> Result<Option<Divergence>, E> {
    let mut sorted: Vec<&Checkpoint> = cosigned.iter().collect();
    sorted.sort_by_key(|c| c.size);
    let mut agrees_up_to = 0;
    for c in sorted {
        if c.size > log_size {
            return Ok(Some(Divergence::Truncated {
                witnessed: c.size,
                log_size,
                agrees_up_to,
            }));
        }
        if root_at(c.size)? != c.root {
            return Ok(Some(Divergence::Rewritten {
                size: c.size,
                agrees_up_to,
            }));
        }
        agrees_up_to = c.size;
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{MemoryTiles, NoteSigner, SignedCheckpoint, consistency_proof, leaf_hash, root};

    struct Log {
        tiles: MemoryTiles,
        signer: NoteSigner,
    }

    impl Log {
        fn new(n: u64, salt: u8) -> Log {
            let leaves: Vec<Hash> = (0..n)
                .map(|i| leaf_hash(&[&i.to_be_bytes()[..], &[salt]].concat()))
                .collect();
            Log {
                tiles: MemoryTiles::from_leaves(&leaves),
                signer: NoteSigner::generate_from_seed("example.com/log", [1; 32]).unwrap(),
            }
        }

        fn note(&mut self, size: u64) -> String {
            let r = root(&mut self.tiles, size).unwrap();
            SignedCheckpoint::sign(Checkpoint::new("example.com/log", size, r), &self.signer)
                .unwrap()
                .note()
                .to_string()
        }

        fn request(&mut self, old: u64, size: u64) -> AddCheckpoint {
            AddCheckpoint {
                old_size: old,
                proof: consistency_proof(&mut self.tiles, old, size)
                    .unwrap()
                    .hashes,
                note: self.note(size),
            }
        }
    }

    fn witness() -> WitnessSigner {
        WitnessSigner::generate_from_seed("witness.example/w1", [2; 32]).unwrap()
    }

    /// Runs one request through encode, decode and the decision, as a
    /// witness would.
    fn check(
        key: &NoteVerifier,
        held: Option<&LogState>,
        request: &AddCheckpoint,
    ) -> Result<(LogState, Cosignature), Refusal> {
        let decoded = AddCheckpoint::decode(request.encode().as_bytes())?;
        assert_eq!(&decoded, request);
        let keys = vec![key.clone()];
        add_checkpoint(&decoded, Some(&keys), held, &witness(), 1_700_000_000)
    }

    #[test]
    fn c2sp_example_request_parses() {
        let body = "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";
        let r = AddCheckpoint::decode(body.as_bytes()).unwrap();
        assert_eq!(r.old_size, 20852014);
        assert_eq!(r.proof.len(), 4);
        assert_eq!(r.origin(), "example.com/behind-the-sofa");
        assert!(
            r.note
                .starts_with("example.com/behind-the-sofa\n20852163\n")
        );
        assert_eq!(r.encode(), body);
        // The origin is unknown to a witness configured without it, and the
        // example's log key is not published.
        assert_eq!(
            add_checkpoint(&r, None, None, &witness(), 1)
                .unwrap_err()
                .status(),
            404
        );
    }

    #[test]
    fn malformed_requests_are_400() {
        let mut log = Log::new(10, 0);
        let note = log.note(10);
        let h = BASE64.encode([7u8; 32]);
        for body in [
            format!("old 5\n{h}\n{note}"),
            format!("old 05\n\n{note}"),
            format!("old -1\n\n{note}"),
            format!("old\n\n{note}"),
            format!("new 5\n\n{note}"),
            format!("old 5\n{}\n\n{note}", &h[..40]),
            format!(
                "old 5\n{}\n\n{note}",
                format!("{h}\n").repeat(64).trim_end()
            ),
            format!("old 18446744073709551616\n\n{note}"),
        ] {
            let err = AddCheckpoint::decode(body.as_bytes()).unwrap_err();
            assert_eq!(err.status(), 400, "{body:?}: {err}");
        }
        assert_eq!(
            AddCheckpoint::decode(&[0xff, 0xfe]).unwrap_err().status(),
            400
        );
        // Framing is fine but the note is not a signed note, or not a
        // checkpoint, or `old` is above the new size.
        let keys = vec![log.signer.verifier()];
        for (old, note) in [
            (0, "example.com/log\n10\n".to_string()),
            (0, "example.com/log\n10\nxyz\n\n— x abc\n".to_string()),
            (11, note.clone()),
        ] {
            let r = AddCheckpoint {
                old_size: old,
                proof: vec![],
                note,
            };
            let err = add_checkpoint(&r, Some(&keys), None, &witness(), 1).unwrap_err();
            assert_eq!(err.status(), 400, "{err}");
        }
        let bad_body = sign_note_body("example.com/log\nnot a size\nAAAA\n", &log.signer);
        let r = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            note: bad_body,
        };
        assert_eq!(
            add_checkpoint(&r, Some(&keys), None, &witness(), 1)
                .unwrap_err()
                .status(),
            400
        );
    }

    fn sign_note_body(body: &str, signer: &NoteSigner) -> String {
        crate::sign_note(body, signer).unwrap()
    }

    #[test]
    fn first_checkpoint_then_growth() {
        let mut log = Log::new(1000, 0);
        let key = log.signer.verifier();
        let (s1, c1) = check(&key, None, &log.request(0, 10)).unwrap();
        assert_eq!(s1.size, 10);
        let (body, _) = split_note(&s1.note).unwrap();
        assert!(witness().verifier().verify(body, &c1));
        assert_eq!(c1.timestamp, 1_700_000_000);
        let (s2, _) = check(&key, Some(&s1), &log.request(10, 777)).unwrap();
        assert_eq!(s2.size, 777);
        // The same checkpoint again is cosigned again, state unchanged.
        let (s3, _) = check(&key, Some(&s2), &log.request(777, 777)).unwrap();
        assert_eq!(s3, s2);
        // A checkpoint of size 0 is a valid first checkpoint too.
        let (s0, _) = check(&key, None, &log.request(0, 0)).unwrap();
        assert_eq!(s0.root, empty_root());
    }

    #[test]
    fn stale_old_size_is_409_with_the_held_size() {
        let mut log = Log::new(100, 0);
        let key = log.signer.verifier();
        let (held, _) = check(&key, None, &log.request(0, 50)).unwrap();
        for (old, size) in [(0, 60), (40, 60), (51, 60), (0, 50)] {
            let err = check(&key, Some(&held), &log.request(old, size)).unwrap_err();
            assert_eq!(err, Refusal::Conflict { size: 50 });
            assert_eq!(err.status(), 409);
            assert_eq!(err.content_type(), "text/x.tlog.size");
            assert_eq!(err.body(), "50\n");
        }
        // Nothing held yet: the witness's size is 0.
        let err = check(&key, None, &log.request(20, 60)).unwrap_err();
        assert_eq!(err, Refusal::Conflict { size: 0 });
    }

    #[test]
    fn rollback_and_fork_are_refused() {
        let mut log = Log::new(100, 0);
        let key = log.signer.verifier();
        let (held, _) = check(&key, None, &log.request(0, 50)).unwrap();
        // A smaller tree, signed by the genuine key: `old` must be the held
        // size, which is then above the checkpoint's size.
        let err = check(&key, Some(&held), &log.request(0, 40)).unwrap_err();
        assert_eq!(err, Refusal::Conflict { size: 50 });
        let mut smaller = log.request(0, 40);
        smaller.old_size = 50;
        smaller.proof.clear();
        assert_eq!(
            check(&key, Some(&held), &smaller).unwrap_err().status(),
            400
        );
        // The same size with another root (another history, re-signed).
        let mut other = Log::new(100, 1);
        let fork = AddCheckpoint {
            old_size: 50,
            proof: vec![],
            note: other.note(50),
        };
        let keys = vec![log.signer.verifier()];
        let err = add_checkpoint(&fork, Some(&keys), Some(&held), &witness(), 1).unwrap_err();
        assert_eq!(err, Refusal::Conflict { size: 50 });
        // A larger rewritten history with its own (valid for itself) proof.
        let rewrite = other.request(50, 80);
        let err = add_checkpoint(&rewrite, Some(&keys), Some(&held), &witness(), 1).unwrap_err();
        assert_eq!(err.status(), 422, "{err}");
        // A garbled proof for the genuine history.
        let mut garbled = log.request(50, 80);
        garbled.proof[0][0] ^= 1;
        assert_eq!(
            check(&key, Some(&held), &garbled).unwrap_err().status(),
            422
        );
        let mut short = log.request(50, 80);
        short.proof.pop();
        assert_eq!(check(&key, Some(&held), &short).unwrap_err().status(), 422);
        // A proof where none may be.
        let mut extra = log.request(0, 80);
        extra.proof.push([0; 32]);
        assert_eq!(check(&key, None, &extra).unwrap_err().status(), 422);
    }

    #[test]
    fn unknown_logs_and_bad_signatures() {
        let mut log = Log::new(20, 0);
        let r = log.request(0, 20);
        assert_eq!(
            add_checkpoint(&r, None, None, &witness(), 1).unwrap_err(),
            Refusal::UnknownLog {
                origin: "example.com/log".into()
            }
        );
        let stranger = NoteSigner::generate_from_seed("example.com/log", [9; 32]).unwrap();
        let err =
            add_checkpoint(&r, Some(&[stranger.verifier()]), None, &witness(), 1).unwrap_err();
        assert_eq!(err.status(), 403, "{err}");
        // Signed by the genuine key but altered.
        let tampered = AddCheckpoint {
            note: r.note.replacen("\n20\n", "\n21\n", 1),
            ..r.clone()
        };
        let keys = vec![log.signer.verifier()];
        let err = add_checkpoint(&tampered, Some(&keys), None, &witness(), 1).unwrap_err();
        assert_eq!(err.status(), 403, "{err}");
        // Two keys for the log (a key rotation): either one will do.
        let (state, _) = add_checkpoint(
            &r,
            Some(&[stranger.verifier(), log.signer.verifier()]),
            None,
            &witness(),
            1,
        )
        .unwrap();
        assert_eq!(state.size, 20);
    }

    #[test]
    fn answers_round_trip() {
        let mut log = Log::new(30, 0);
        let key = log.signer.verifier();
        let (state, c) = check(&key, None, &log.request(0, 30)).unwrap();
        let body = encode_cosignatures(std::slice::from_ref(&c));
        let Answer::Cosigned(lines) =
            decode_answer(200, Some("text/plain"), body.as_bytes()).unwrap()
        else {
            panic!("not cosigned")
        };
        let (text, _) = split_note(&state.note).unwrap();
        assert_eq!(
            cosignature_from_answer(&lines, &witness().verifier(), text).unwrap(),
            c
        );
        let other = WitnessSigner::generate_from_seed("w2", [3; 32]).unwrap();
        let err = cosignature_from_answer(&lines, &other.verifier(), text).unwrap_err();
        assert!(err.contains("no cosignature by `w2+"), "{err}");
        let note20 = log.note(20);
        let (text20, _) = split_note(&note20).unwrap();
        assert!(cosignature_from_answer(&lines, &witness().verifier(), text20).is_err());

        assert_eq!(
            decode_answer(409, Some("text/x.tlog.size; charset=utf-8"), b"12\n").unwrap(),
            Answer::Refused(Refusal::Conflict { size: 12 })
        );
        // Other refusals keep the witness's message.
        for refusal in [
            Refusal::BadRequest("x".into()),
            Refusal::BadProof("y".into()),
        ] {
            let back = decode_answer(
                refusal.status(),
                Some(refusal.content_type()),
                refusal.body().as_bytes(),
            )
            .unwrap();
            let Answer::Refused(back) = back else {
                panic!("not refused")
            };
            assert_eq!(back.status(), refusal.status());
            assert!(
                back.to_string().contains(refusal.to_string().as_str()),
                "{back}"
            );
        }
        assert_eq!(
            decode_answer(404, None, b"unknown log").unwrap(),
            Answer::Refused(Refusal::UnknownLog {
                origin: String::new()
            })
        );
        assert!(decode_answer(409, Some("text/plain"), b"12\n").is_err());
        assert!(decode_answer(409, Some(SIZE_CONTENT_TYPE), b"twelve\n").is_err());
        assert!(decode_answer(409, Some(SIZE_CONTENT_TYPE), b"12").is_err());
        assert!(decode_answer(500, None, b"oops").is_err());
        assert!(decode_answer(200, None, b"").is_err());
        assert!(decode_answer(200, None, b"hello\n").is_err());
    }

    #[test]
    fn divergence_names_the_first_differing_size() {
        let mut genuine = Log::new(1000, 0);
        let mut rewritten = Log::new(1000, 0);
        // The rewritten log shares the first 600 leaves.
        let leaves: Vec<Hash> = (0..1000u64)
            .map(|i| {
                let salt = if i < 600 { 0u8 } else { 1 };
                leaf_hash(&[&i.to_be_bytes()[..], &[salt]].concat())
            })
            .collect();
        rewritten.tiles = MemoryTiles::from_leaves(&leaves);
        let cosigned: Vec<Checkpoint> = [900u64, 100, 500, 700]
            .iter()
            .map(|&n| Checkpoint::new("example.com/log", n, root(&mut genuine.tiles, n).unwrap()))
            .collect();
        let none = find_divergence(&cosigned, 1000, |n| root(&mut genuine.tiles, n)).unwrap();
        assert_eq!(none, None);
        let d = find_divergence(&cosigned, 1000, |n| root(&mut rewritten.tiles, n))
            .unwrap()
            .unwrap();
        assert_eq!(
            d,
            Divergence::Rewritten {
                size: 700,
                agrees_up_to: 500
            }
        );
        assert_eq!(
            d.to_string(),
            "the log's tree of 700 events differs from the one a witness cosigned: an event after 500 and at or before 700 was changed, removed or inserted, and the log re-signed"
        );
        let d = find_divergence(&cosigned, 650, |n| root(&mut genuine.tiles, n))
            .unwrap()
            .unwrap();
        assert_eq!(
            d.to_string(),
            "a witness cosigned the tree of 700 events but the log holds only 650: events 651 to 700 were removed; the log agrees with what was cosigned up to size 500"
        );
        // The caller's errors come through.
        let err = find_divergence(&cosigned, 1000, |_| Err::<Hash, &str>("no tiles")).unwrap_err();
        assert_eq!(err, "no tiles");
    }
}
