//! Witness cosignatures (C2SP tlog-cosignature, the timestamped Ed25519 form
//! `cosignature/v1`).
//!
//! A witness that has checked a checkpoint against the latest one it holds
//! for the log adds a signature line of its own to the checkpoint's note:
//!
//! ```text
//! — <witness name> base64(key id || timestamp || Ed25519 signature)
//! ```
//!
//! - the key id is the first 4 bytes of
//!   SHA-256(name || 0x0A || 0x04 || 32-byte public key) — note the type
//!   byte 0x04, where a log key uses 0x01;
//! - the timestamp is the cosigning time in seconds since the Unix epoch,
//!   8 bytes big-endian;
//! - the signature is over the message `cosignature/v1\n`,
//!   `time <timestamp>\n`, then the whole note text (with its final newline,
//!   without the blank line and signatures).
//!
//! A cosignature says: "as of this time, the largest consistent tree I have
//! seen for this origin has this root".

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::note::{
    MAX_SIGNATURES, NoteSignature, check_note_chars, chop, ed25519_key_id, parse_key_id, split_note,
};
use crate::{Checkpoint, LedgerError, NoteVerifier, is_valid_key_name, open_note};

/// The signature type byte of timestamped Ed25519 cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The signature type byte of plain Ed25519 note keys.
const ALG_ED25519: u8 = 0x01;

/// Bytes after the key id in a cosignature: 8 of timestamp, 64 of signature.
const COSIGNATURE_LEN: usize = 8 + 64;

/// The largest timestamp a cosignature may carry (2^63 - 1).
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The key id of a witness's Ed25519 public key under a witness name:
/// the first 4 bytes (big-endian) of SHA-256(name || 0x0A || 0x04 || key).
pub fn cosignature_key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let sum = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ALG_COSIGNATURE_V1])
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// The message a witness signs: `cosignature/v1`, `time <timestamp>` and
/// the note text, every line ending with a newline.
pub fn cosignature_message(timestamp: u64, body: &str) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// Formats seconds since the Unix epoch as an RFC 3339 UTC time, e.g.
/// `2026-11-23T10:00:00Z`, for showing cosignature timestamps.
pub fn format_timestamp(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm),
    // in unsigned arithmetic since the days are never negative here.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// One cosignature: the witness's name and key id, the time it cosigned and
/// its Ed25519 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The witness name (the key name of its signature line).
    pub name: String,
    /// The key id, derived with type byte 0x04.
    pub key_id: u32,
    /// When the witness cosigned, in seconds since the Unix epoch.
    pub timestamp: u64,
    /// The Ed25519 signature of [`cosignature_message`].
    pub signature: [u8; 64],
}

impl Cosignature {
    /// Reads a cosignature from a parsed signature line. Fails unless the
    /// signature field holds exactly a timestamp and an Ed25519 signature
    /// and the timestamp is at most 2^63 - 1.
    pub fn from_note_signature(sig: &NoteSignature) -> Result<Cosignature, LedgerError> {
        let bad = |why: String| LedgerError::MalformedCosignature {
            key: sig.label(),
            reason: why,
        };
        if sig.signature.len() != COSIGNATURE_LEN {
            return Err(bad(format!(
                "it holds {} bytes after the key id, not the 72 of a timestamp and an Ed25519 signature",
                sig.signature.len()
            )));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&sig.signature[..8]);
        let timestamp = u64::from_be_bytes(ts);
        if timestamp > MAX_TIMESTAMP {
            return Err(bad(format!("its timestamp {timestamp} exceeds 2^63 - 1")));
        }
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&sig.signature[8..]);
        Ok(Cosignature {
            name: sig.name.clone(),
            key_id: sig.key_id,
            timestamp,
            signature,
        })
    }

    /// Parses one signature line, with or without its final newline.
    pub fn parse_line(line: &str) -> Result<Cosignature, LedgerError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        check_note_chars(line)?;
        if line.contains('\n') {
            return Err(LedgerError::MalformedNote(
                "a signature line holds a newline".to_string(),
            ));
        }
        Cosignature::from_note_signature(&crate::note::parse_signature_line(line)?)
    }

    /// `name+keyid`, the short form used in messages.
    pub fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.key_id)
    }

    /// The signature line, with its final newline.
    pub fn to_line(&self) -> String {
        self.to_note_signature().to_line()
    }

    /// The cosignature as a generic note signature.
    pub fn to_note_signature(&self) -> NoteSignature {
        let mut signature = Vec::with_capacity(COSIGNATURE_LEN);
        signature.extend_from_slice(&self.timestamp.to_be_bytes());
        signature.extend_from_slice(&self.signature);
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        }
    }
}

/// Parses the base64 key material of a vkey or private key: a type byte
/// and 32 bytes.
fn decode_key(key64: &str) -> Result<(u8, [u8; 32]), &'static str> {
    let key = BASE64
        .decode(key64)
        .map_err(|_| "the key is not valid base64")?;
    let Some((&alg, raw)) = key.split_first() else {
        return Err("the key is empty");
    };
    let raw: [u8; 32] = raw
        .try_into()
        .map_err(|_| "an Ed25519 key must be 32 bytes")?;
    Ok((alg, raw))
}

/// The public key of a witness, which verifies its cosignatures.
///
/// Its text form (vkey) is `<name>+<8 hex key id>+<base64(0x04 || 32-byte
/// public key)>`. A plain Ed25519 note vkey (type 0x01) is accepted too and
/// taken as the same key used for cosignatures (with the key id of type
/// 0x04), as the reference Go implementation does.
#[derive(Clone, PartialEq, Eq)]
pub struct WitnessVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl WitnessVerifier {
    /// Parses a vkey of type 0x04 (or 0x01), checking that its key id fits
    /// its name and key.
    pub fn from_vkey(vkey: &str) -> Result<Self, LedgerError> {
        let bad = |reason| LedgerError::MalformedKey {
            key: vkey.chars().take(200).collect(),
            reason,
        };
        let (name, rest) = chop(vkey, '+');
        let (hex, key64) = chop(rest, '+');
        if !is_valid_key_name(name) {
            return Err(bad(
                "the key name is empty or holds a space, `+` or control character",
            ));
        }
        let key_id = parse_key_id(hex).ok_or_else(|| bad("the key id is not 8 hex digits"))?;
        let (alg, raw) = decode_key(key64).map_err(bad)?;
        let expected = match alg {
            ALG_COSIGNATURE_V1 => cosignature_key_id(name, &raw),
            ALG_ED25519 => ed25519_key_id(name, &raw),
            other => return Err(LedgerError::UnsupportedAlgorithm(other)),
        };
        if expected != key_id {
            return Err(bad("the key id does not match the name and key"));
        }
        Self::from_public_key(name, raw)
    }

    /// Builds a verifier from a witness name and a raw Ed25519 public key.
    pub fn from_public_key(name: &str, public_key: [u8; 32]) -> Result<Self, LedgerError> {
        if !is_valid_key_name(name) {
            return Err(LedgerError::KeyName(name.to_string()));
        }
        let key = VerifyingKey::from_bytes(&public_key).map_err(|_| LedgerError::MalformedKey {
            key: name.to_string(),
            reason: "the key is not a valid Ed25519 public key",
        })?;
        Ok(WitnessVerifier {
            name: name.to_string(),
            key_id: cosignature_key_id(name, &public_key),
            key,
        })
    }

    /// The witness name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (type 0x04).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The vkey string (type 0x04), the same as the `Display` form.
    pub fn vkey(&self) -> String {
        self.to_string()
    }

    /// `name+keyid`, the short form used in messages.
    pub fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.key_id)
    }

    /// Whether a signature line with this name and key id is this witness's.
    pub fn is_signer_of(&self, name: &str, key_id: u32) -> bool {
        self.name == name && self.key_id == key_id
    }

    /// Whether `cosignature` is this witness's valid cosignature of the note
    /// text `body`.
    pub fn verify(&self, body: &str, cosignature: &Cosignature) -> bool {
        if !self.is_signer_of(&cosignature.name, cosignature.key_id)
            || cosignature.timestamp > MAX_TIMESTAMP
        {
            return false;
        }
        let msg = cosignature_message(cosignature.timestamp, body);
        self.key
            .verify_strict(
                msg.as_bytes(),
                &Signature::from_bytes(&cosignature.signature),
            )
            .is_ok()
    }

    /// This witness's cosignature on a signed note, verified against the
    /// note's text, or `None` when the note carries none.
    ///
    /// Fails if the note is malformed, or if a signature line under this
    /// witness's name and key id is not a valid cosignature of the text.
    pub fn cosignature_of(&self, note: &str) -> Result<Option<Cosignature>, LedgerError> {
        let (body, sigs) = split_note(note)?;
        let Some(sig) = sigs.iter().find(|s| self.is_signer_of(&s.name, s.key_id)) else {
            return Ok(None);
        };
        let bad = || LedgerError::BadCosignature {
            witness: self.label(),
        };
        let cosignature = Cosignature::from_note_signature(sig).map_err(|_| bad())?;
        if self.verify(body, &cosignature) {
            Ok(Some(cosignature))
        } else {
            Err(bad())
        }
    }
}

impl fmt::Display for WitnessVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = Vec::with_capacity(33);
        key.push(ALG_COSIGNATURE_V1);
        key.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(key)
        )
    }
}

impl fmt::Debug for WitnessVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WitnessVerifier")
            .field(&self.to_string())
            .finish()
    }
}

impl FromStr for WitnessVerifier {
    type Err = LedgerError;

    fn from_str(s: &str) -> Result<Self, LedgerError> {
        Self::from_vkey(s)
    }
}

/// The private key of a witness, which cosigns checkpoints.
///
/// Its text form is `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x04 ||
/// 32-byte seed)>`; a plain Ed25519 note private key (type 0x01, with its
/// own key id) is accepted too. Keep it secret. The `Debug` form shows only
/// the public half.
#[derive(Clone)]
pub struct WitnessSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl WitnessSigner {
    /// Parses a `PRIVATE+KEY+…` string of type 0x04 (or 0x01), checking that
    /// its key id fits the public key derived from it.
    pub fn from_private_key(skey: &str) -> Result<Self, LedgerError> {
        let (p1, rest) = chop(skey, '+');
        let (p2, rest) = chop(rest, '+');
        let (name, rest) = chop(rest, '+');
        let (hex, key64) = chop(rest, '+');
        // Never echo the secret part back in errors.
        let shown = if is_valid_key_name(name) {
            format!("PRIVATE+KEY+{name}+…")
        } else {
            "PRIVATE+KEY+…".to_string()
        };
        let bad = |reason| LedgerError::MalformedKey {
            key: shown.clone(),
            reason,
        };
        if p1 != "PRIVATE" || p2 != "KEY" {
            return Err(bad("a private key starts with `PRIVATE+KEY+`"));
        }
        if !is_valid_key_name(name) {
            return Err(bad(
                "the key name is empty or holds a space, `+` or control character",
            ));
        }
        let key_id = parse_key_id(hex).ok_or_else(|| bad("the key id is not 8 hex digits"))?;
        let (alg, seed) = decode_key(key64).map_err(bad)?;
        let signer = Self::generate_from_seed(name, seed)?;
        let public = signer.key.verifying_key().to_bytes();
        let expected = match alg {
            ALG_COSIGNATURE_V1 => signer.key_id,
            ALG_ED25519 => ed25519_key_id(name, &public),
            other => return Err(LedgerError::UnsupportedAlgorithm(other)),
        };
        if expected != key_id {
            return Err(bad("the key id does not match the name and key"));
        }
        Ok(signer)
    }

    /// Builds a signer from a witness name and a 32-byte Ed25519 seed.
    ///
    /// This crate never reads the system's random source: to make a new key,
    /// pass 32 bytes from a cryptographically secure generator.
    pub fn generate_from_seed(name: &str, seed: [u8; 32]) -> Result<Self, LedgerError> {
        if !is_valid_key_name(name) {
            return Err(LedgerError::KeyName(name.to_string()));
        }
        let key = SigningKey::from_bytes(&seed);
        let key_id = cosignature_key_id(name, key.verifying_key().as_bytes());
        Ok(WitnessSigner {
            name: name.to_string(),
            key_id,
            key,
        })
    }

    /// The witness name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (type 0x04).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> WitnessVerifier {
        WitnessVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The matching vkey string (type 0x04).
    pub fn vkey(&self) -> String {
        self.verifier().to_string()
    }

    /// The `PRIVATE+KEY+…` string (type 0x04). It holds the secret seed.
    pub fn private_key(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(ALG_COSIGNATURE_V1);
        key.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(key)
        )
    }

    /// Cosigns the text of a checkpoint note at `timestamp` (seconds since
    /// the Unix epoch).
    ///
    /// The text must be a checkpoint body: origin, size and root lines and
    /// optional extension lines, each ending with a newline.
    pub fn cosign(&self, body: &str, timestamp: u64) -> Result<Cosignature, LedgerError> {
        Checkpoint::parse_body(body)?;
        if timestamp > MAX_TIMESTAMP {
            return Err(LedgerError::MalformedCosignature {
                key: format!("{}+{:08x}", self.name, self.key_id),
                reason: format!("its timestamp {timestamp} exceeds 2^63 - 1"),
            });
        }
        let msg = cosignature_message(timestamp, body);
        Ok(Cosignature {
            name: self.name.clone(),
            key_id: self.key_id,
            timestamp,
            signature: self.key.sign(msg.as_bytes()).to_bytes(),
        })
    }
}

impl fmt::Debug for WitnessSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WitnessSigner")
            .field("vkey", &self.vkey())
            .finish_non_exhaustive()
    }
}

impl FromStr for WitnessSigner {
    type Err = LedgerError;

    fn from_str(s: &str) -> Result<Self, LedgerError> {
        Self::from_private_key(s)
    }
}

/// Adds cosignature lines to a signed note.
///
/// A cosignature whose witness (name and key id) already has a line on the
/// note is left out: the note keeps the first cosignature of each witness,
/// the one that says the earliest time the witness saw this tree head. The
/// note's text and existing lines are kept byte for byte.
pub fn merge_cosignatures(note: &str, cosignatures: &[Cosignature]) -> Result<String, LedgerError> {
    let (_, sigs) = split_note(note)?;
    let mut present: Vec<(String, u32)> = sigs.iter().map(|s| (s.name.clone(), s.key_id)).collect();
    let mut out = note.to_string();
    for c in cosignatures {
        if present.iter().any(|(n, k)| *n == c.name && *k == c.key_id) {
            continue;
        }
        if present.len() >= MAX_SIGNATURES {
            return Err(LedgerError::MalformedNote(format!(
                "more than {MAX_SIGNATURES} signatures"
            )));
        }
        out.push_str(&c.to_line());
        present.push((c.name.clone(), c.key_id));
    }
    Ok(out)
}

/// Which witnesses must have cosigned a checkpoint, and how many of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPolicy {
    witnesses: Vec<WitnessVerifier>,
    quorum: usize,
}

/// One witness's cosignature found valid on a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessCosignature {
    /// `name+keyid` of the witness.
    pub witness: String,
    /// When it cosigned, in seconds since the Unix epoch.
    pub timestamp: u64,
}

/// What [`WitnessPolicy::check`] found on a checkpoint note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureReport {
    /// The checkpoint, opened with the log key.
    pub checkpoint: Checkpoint,
    /// The witnesses of the policy that cosigned it, in policy order.
    pub cosigned: Vec<WitnessCosignature>,
    /// `name+keyid` of the witnesses of the policy that did not.
    pub missing: Vec<String>,
    /// How many cosignatures the policy requires.
    pub quorum: usize,
}

impl CosignatureReport {
    /// Whether enough witnesses cosigned.
    pub fn quorum_met(&self) -> bool {
        self.cosigned.len() >= self.quorum
    }
}

impl WitnessPolicy {
    /// A policy requiring `quorum` of `witnesses` (a witness listed twice
    /// counts once). Fails if the quorum exceeds the number of witnesses.
    pub fn new(witnesses: Vec<WitnessVerifier>, quorum: usize) -> Result<Self, LedgerError> {
        let mut distinct: Vec<WitnessVerifier> = Vec::with_capacity(witnesses.len());
        for w in witnesses {
            if !distinct.contains(&w) {
                distinct.push(w);
            }
        }
        if quorum > distinct.len() {
            return Err(LedgerError::Quorum {
                quorum,
                witnesses: distinct.len(),
            });
        }
        Ok(WitnessPolicy {
            witnesses: distinct,
            quorum,
        })
    }

    /// A policy that requires all of `witnesses`.
    pub fn all(witnesses: Vec<WitnessVerifier>) -> Self {
        let mut distinct: Vec<WitnessVerifier> = Vec::with_capacity(witnesses.len());
        for w in witnesses {
            if !distinct.contains(&w) {
                distinct.push(w);
            }
        }
        let quorum = distinct.len();
        WitnessPolicy {
            witnesses: distinct,
            quorum,
        }
    }

    /// The policy of a log without witnesses: nothing is required.
    pub fn none() -> Self {
        WitnessPolicy {
            witnesses: Vec::new(),
            quorum: 0,
        }
    }

    /// The witnesses, each once.
    pub fn witnesses(&self) -> &[WitnessVerifier] {
        &self.witnesses
    }

    /// How many of them must have cosigned.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// Opens a checkpoint note with the log key and checks the cosignatures
    /// of the policy's witnesses, without requiring the quorum.
    ///
    /// Lines of unknown keys are ignored. Fails if the log's signature does
    /// not verify, or if a line under a policy witness's name and key id is
    /// not a valid cosignature of the checkpoint (the note was altered or the
    /// line forged).
    pub fn cosignatures(
        &self,
        note: &str,
        log: &NoteVerifier,
    ) -> Result<CosignatureReport, LedgerError> {
        let body = open_note(note, log)?;
        let checkpoint = Checkpoint::parse_body(&body)?;
        let mut cosigned = Vec::new();
        let mut missing = Vec::new();
        for w in &self.witnesses {
            match w.cosignature_of(note)? {
                Some(c) => cosigned.push(WitnessCosignature {
                    witness: w.label(),
                    timestamp: c.timestamp,
                }),
                None => missing.push(w.label()),
            }
        }
        Ok(CosignatureReport {
            checkpoint,
            cosigned,
            missing,
            quorum: self.quorum,
        })
    }

    /// Like [`cosignatures`](Self::cosignatures), and fails unless at least
    /// the quorum of witnesses cosigned.
    pub fn check(&self, note: &str, log: &NoteVerifier) -> Result<CosignatureReport, LedgerError> {
        let report = self.cosignatures(note, log)?;
        if !report.quorum_met() {
            return Err(LedgerError::QuorumNotMet {
                size: report.checkpoint.size,
                have: report.cosigned.len(),
                need: report.quorum,
                missing: report
                    .missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(report)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{NoteSigner, SignedCheckpoint};

    // From golang.org/x/mod/sumdb/note (note_test.go): PeterNeumann's key,
    // used here as a witness key.
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

    // The checkpoint example of c2sp.org/tlog-checkpoint and
    // c2sp.org/tlog-cosignature.
    const SOFA: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    /// PeterNeumann's cosignature of `SOFA` at 1679315147 (the time of the
    /// tlog-cosignature example), computed independently with Python's
    /// `cryptography` package from the spec's definition:
    /// key id = SHA-256("PeterNeumann\n\x04" || public key)[:4],
    /// message = "cosignature/v1\ntime 1679315147\n" || SOFA.
    const PETER_SOFA_LINE: &str = "— PeterNeumann GLl4CwAAAABkGFDLJeR//pqzhnEKVvEm2wWbh2RJ6oru5+cUUfm5X9NnlaGr8aSH9QE5RVZD4QGlxl2F5UpVIIi94p178KLfqPPsAA==\n";

    /// The witness vkey of PeterNeumann's key, from the same computation.
    const PETER_WITNESS_VKEY: &str =
        "PeterNeumann+18b9780b+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

    #[test]
    fn c2sp_example_line_framing() {
        // c2sp.org/tlog-cosignature: the witness key of its example is not
        // published, but the line's framing is: key id, then the timestamp
        // of the example message (1679315147), then 64 signature bytes.
        let c = Cosignature::parse_line(
            "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==",
        )
        .unwrap();
        assert_eq!(c.name, "witness.example.com/w1");
        assert_eq!(c.key_id, 0x8d66cf3f);
        assert_eq!(c.timestamp, 1679315147);
        assert_eq!(
            c.to_line(),
            "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
        );
        // The log's own line of the example is a plain note signature (68
        // bytes), not a cosignature.
        assert!(matches!(
            Cosignature::parse_line(
                "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8="
            ),
            Err(LedgerError::MalformedCosignature { .. })
        ));
    }

    #[test]
    fn transparency_dev_vectors() {
        // From github.com/transparency-dev/formats (note/note_cosigv1_test.go).
        let c = Cosignature::parse_line(
            "— x ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==",
        )
        .unwrap();
        assert_eq!(c.timestamp, 1727964367);
        // A native type-0x04 vkey of a public witness.
        let remora = WitnessVerifier::from_vkey(
            "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        )
        .unwrap();
        assert_eq!(remora.key_id(), 0xda77ade7);
        assert_eq!(
            remora.vkey(),
            "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
        );
        // A type-0x01 vkey, taken as a cosigning key: its key id becomes
        // the type-0x04 one.
        let converted = WitnessVerifier::from_vkey(
            "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6",
        )
        .unwrap();
        assert_ne!(converted.key_id(), 0x7997405c);
        assert_eq!(
            converted.key_id(),
            cosignature_key_id("TEST", &converted.public_key())
        );
        for bad in [
            "bananas.sigstore.dev+12344556",
            "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
            "rekor.sigstore.dev+12345678+AwEB",
            "remora.n621.de+00000000+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
            "remora.n621.de+NOT_A_NUMBER+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
            "other.name+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        ] {
            assert!(WitnessVerifier::from_vkey(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn independent_vector() {
        let signer = WitnessSigner::from_private_key(PETER_SKEY).unwrap();
        assert_eq!(signer.name(), "PeterNeumann");
        let plain = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
        assert_eq!(signer.verifier().public_key(), plain.public_key());
        assert_ne!(signer.key_id(), plain.key_id());
        assert_eq!(signer.vkey(), PETER_WITNESS_VKEY);
        let c = signer.cosign(SOFA, 1679315147).unwrap();
        assert_eq!(c.to_line(), PETER_SOFA_LINE);
        let parsed = Cosignature::parse_line(PETER_SOFA_LINE).unwrap();
        assert_eq!(parsed, c);
        assert!(signer.verifier().verify(SOFA, &parsed));
        assert!(
            WitnessVerifier::from_vkey(PETER_VKEY)
                .unwrap()
                .verify(SOFA, &parsed)
        );
        assert_eq!(
            cosignature_message(1679315147, SOFA),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn keys_round_trip() {
        let s = WitnessSigner::generate_from_seed("witness.example/w1", [5; 32]).unwrap();
        let again = WitnessSigner::from_private_key(&s.private_key()).unwrap();
        assert_eq!(again.vkey(), s.vkey());
        assert!(
            s.private_key()
                .starts_with("PRIVATE+KEY+witness.example/w1+")
        );
        let v: WitnessVerifier = s.vkey().parse().unwrap();
        assert_eq!(v, s.verifier());
        assert!(!format!("{s:?}").contains(&s.private_key()));
        // A plain note key of the same seed is accepted as a witness key.
        let note = NoteSigner::generate_from_seed("witness.example/w1", [5; 32]).unwrap();
        let from_note = WitnessSigner::from_private_key(&note.private_key()).unwrap();
        assert_eq!(from_note.vkey(), s.vkey());
        // Errors never show the secret part.
        let err = WitnessSigner::from_private_key("PRIVATE+KEY+w+00000000+BAUFBQUF").unwrap_err();
        assert!(!err.to_string().contains("BAUF"), "{err}");
        let mut m = s.private_key().into_bytes();
        for i in 0..m.len() {
            m[i] ^= 1;
            if let Ok(t) = String::from_utf8(m.clone()) {
                assert!(
                    WitnessSigner::from_private_key(&t).is_err(),
                    "accepted {t:?}"
                );
            }
            m[i] ^= 1;
        }
        for name in ["", "a b", "a+b", "a\x01b"] {
            assert!(WitnessSigner::generate_from_seed(name, [1; 32]).is_err());
        }
    }

    #[test]
    fn tampering_is_refused() {
        let s = WitnessSigner::generate_from_seed("w", [6; 32]).unwrap();
        let v = s.verifier();
        let c = s.cosign(SOFA, 1_700_000_000).unwrap();
        assert!(v.verify(SOFA, &c));
        let mut later = c.clone();
        later.timestamp += 1;
        assert!(!v.verify(SOFA, &later));
        let other_body = SOFA.replace("20852163", "20852164");
        assert!(!v.verify(&other_body, &c));
        let mut renamed = c.clone();
        renamed.name = "w2".into();
        assert!(!v.verify(SOFA, &renamed));
        let mut flipped = c.clone();
        flipped.signature[10] ^= 1;
        assert!(!v.verify(SOFA, &flipped));
        // Not a checkpoint, or a timestamp beyond 2^63 - 1.
        assert!(s.cosign("hello\n", 1).is_err());
        assert!(s.cosign(SOFA, 1 << 63).is_err());
        let mut huge = c.clone();
        huge.timestamp = u64::MAX;
        assert!(Cosignature::parse_line(&huge.to_line()).is_err());
    }

    fn signed(log: &NoteSigner, size: u64) -> String {
        let cp = Checkpoint::new(log.name(), size, [size as u8; 32]);
        SignedCheckpoint::sign(cp, log).unwrap().note().to_string()
    }

    #[test]
    fn policy_counts_distinct_valid_cosignatures() {
        let log = NoteSigner::generate_from_seed("gatehouse.example/log", [1; 32]).unwrap();
        let ws: Vec<WitnessSigner> = (0..3)
            .map(|i| WitnessSigner::generate_from_seed(&format!("w{i}"), [10 + i; 32]).unwrap())
            .collect();
        let vs: Vec<WitnessVerifier> = ws.iter().map(WitnessSigner::verifier).collect();
        let note = signed(&log, 7);
        let (body, _) = split_note(&note).unwrap();
        let c0 = ws[0].cosign(body, 100).unwrap();
        let c1 = ws[1].cosign(body, 101).unwrap();
        let two = merge_cosignatures(&note, &[c0.clone(), c1.clone()]).unwrap();
        assert_eq!(two, format!("{note}{}{}", c0.to_line(), c1.to_line()));
        // Merging again changes nothing; the first cosignature stays.
        let c0_later = ws[0].cosign(body, 200).unwrap();
        assert_eq!(merge_cosignatures(&two, &[c0_later]).unwrap(), two);

        let policy = WitnessPolicy::new(vs.clone(), 2).unwrap();
        let r = policy.check(&two, &log.verifier()).unwrap();
        assert_eq!(r.checkpoint.size, 7);
        assert_eq!(
            r.cosigned,
            vec![
                WitnessCosignature {
                    witness: vs[0].label(),
                    timestamp: 100
                },
                WitnessCosignature {
                    witness: vs[1].label(),
                    timestamp: 101
                }
            ]
        );
        assert_eq!(r.missing, vec![vs[2].label()]);

        let err = WitnessPolicy::all(vs.clone())
            .check(&two, &log.verifier())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the checkpoint of size 7 is cosigned by 2 of the trusted witnesses but 3 are required; not cosigned by: `{}`",
                vs[2].label()
            )
        );
        // The same witness listed twice is one witness.
        let twice = WitnessPolicy::new(vec![vs[0].clone(), vs[0].clone()], 1).unwrap();
        assert_eq!(twice.witnesses().len(), 1);
        assert!(WitnessPolicy::new(vec![vs[0].clone(), vs[0].clone()], 2).is_err());
        // A copy of one witness's line under another position does not count
        // twice, and no witness line at all meets a quorum of 0 only.
        let dup = format!("{two}{}", c0.to_line());
        let r = WitnessPolicy::new(vs.clone(), 2)
            .unwrap()
            .check(&dup, &log.verifier())
            .unwrap();
        assert_eq!(r.cosigned.len(), 2);
        assert!(WitnessPolicy::none().check(&note, &log.verifier()).is_ok());
        assert!(
            WitnessPolicy::new(vs.clone(), 1)
                .unwrap()
                .check(&note, &log.verifier())
                .is_err()
        );
    }

    #[test]
    fn policy_refuses_forged_lines_and_moved_cosignatures() {
        let log = NoteSigner::generate_from_seed("log", [1; 32]).unwrap();
        let w = WitnessSigner::generate_from_seed("w", [2; 32]).unwrap();
        let policy = WitnessPolicy::all(vec![w.verifier()]);
        let note7 = signed(&log, 7);
        let note8 = signed(&log, 8);
        let (body7, _) = split_note(&note7).unwrap();
        let c7 = w.cosign(body7, 1).unwrap();
        // A cosignature of size 7 moved onto the checkpoint of size 8.
        let moved = format!("{note8}{}", c7.to_line());
        assert_eq!(
            policy.check(&moved, &log.verifier()).unwrap_err(),
            LedgerError::BadCosignature {
                witness: w.verifier().label()
            }
        );
        // A line of the right name and key id but of the wrong length.
        let short = format!(
            "{note7}— w {}\n",
            BASE64.encode([&w.key_id().to_be_bytes()[..], &[0u8; 64]].concat())
        );
        assert!(matches!(
            policy.check(&short, &log.verifier()),
            Err(LedgerError::BadCosignature { .. })
        ));
        // The log's own signature must still verify.
        let other_log = NoteSigner::generate_from_seed("log", [9; 32]).unwrap();
        assert!(matches!(
            policy.check(&format!("{note7}{}", c7.to_line()), &other_log.verifier()),
            Err(LedgerError::NoTrustedSignature { .. })
        ));
    }

    #[test]
    fn timestamps_format_as_utc() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(1679315147), "2023-03-20T12:25:47Z");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_timestamp(1_798_761_599), "2026-12-31T23:59:59Z");
    }
}
