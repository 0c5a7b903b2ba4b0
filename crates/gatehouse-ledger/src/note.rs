//! Signed notes (C2SP signed-note) with Ed25519 keys, in the key and note
//! formats of Go's `golang.org/x/mod/sumdb/note`.
//!
//! A note is a text ending in a newline, a blank line, then one or more
//! signature lines `— <key name> <base64(key id || signature)>`. A key is
//! named by its name and 4-byte key id, the first bytes of
//! SHA-256(name || 0x0A || 0x01 || public key).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::LedgerError;

/// The signature type byte of Ed25519 keys.
const ALG_ED25519: u8 = 1;

/// The most signatures a note may carry before it is rejected.
pub(crate) const MAX_SIGNATURES: usize = 100;

/// The start of every signature line: an em dash and a space.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";

/// Whether `name` is a valid key name: non-empty, no Unicode spaces, no `+`,
/// no control characters.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || u32::from(c) < 0x20)
}

/// The key id of an Ed25519 public key under a key name:
/// the first 4 bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || key).
pub fn ed25519_key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let sum = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ALG_ED25519])
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// Splits at the first `sep`, like Go's `chop`: everything when absent.
pub(crate) fn chop(s: &str, sep: char) -> (&str, &str) {
    s.split_once(sep).unwrap_or((s, ""))
}

/// Parses the 8-hex-digit key id field.
pub(crate) fn parse_key_id(hex: &str) -> Option<u32> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// A public key that verifies notes: a key name, its key id and an Ed25519
/// public key.
///
/// Its text form (the "vkey") is `<name>+<8 hex key id>+<base64(0x01 ||
/// 32-byte public key)>`, e.g.
/// `PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW`.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a vkey string, checking that its key id fits its name and key.
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
        let key = BASE64
            .decode(key64)
            .map_err(|_| bad("the key is not valid base64"))?;
        let Some((&alg, raw)) = key.split_first() else {
            return Err(bad("the key is empty"));
        };
        if alg != ALG_ED25519 {
            return Err(LedgerError::UnsupportedAlgorithm(alg));
        }
        let raw: [u8; 32] = raw
            .try_into()
            .map_err(|_| bad("an Ed25519 public key must be 32 bytes"))?;
        if ed25519_key_id(name, &raw) != key_id {
            return Err(bad("the key id does not match the name and key"));
        }
        let key = VerifyingKey::from_bytes(&raw)
            .map_err(|_| bad("the key is not a valid Ed25519 public key"))?;
        Ok(NoteVerifier {
            name: name.to_string(),
            key_id,
            key,
        })
    }

    /// Builds a verifier from a key name and a raw Ed25519 public key.
    pub fn from_public_key(name: &str, public_key: [u8; 32]) -> Result<Self, LedgerError> {
        if !is_valid_key_name(name) {
            return Err(LedgerError::KeyName(name.to_string()));
        }
        let key = VerifyingKey::from_bytes(&public_key).map_err(|_| LedgerError::MalformedKey {
            key: name.to_string(),
            reason: "the key is not a valid Ed25519 public key",
        })?;
        Ok(NoteVerifier {
            name: name.to_string(),
            key_id: ed25519_key_id(name, &public_key),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The vkey string, the same as the `Display` form.
    pub fn vkey(&self) -> String {
        self.to_string()
    }

    /// `name+keyid`, the short form used in messages.
    pub fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.key_id)
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &Signature::from_bytes(&sig))
            .is_ok()
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = Vec::with_capacity(33);
        key.push(ALG_ED25519);
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

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NoteVerifier")
            .field(&self.to_string())
            .finish()
    }
}

impl FromStr for NoteVerifier {
    type Err = LedgerError;

    fn from_str(s: &str) -> Result<Self, LedgerError> {
        Self::from_vkey(s)
    }
}

/// A private key that signs notes: a key name and an Ed25519 key.
///
/// Its text form is `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 ||
/// 32-byte seed)>`. Keep it secret. The `Debug` form shows only the public
/// half.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl NoteSigner {
    /// Parses a `PRIVATE+KEY+…` string, checking that its key id fits the
    /// public key derived from it.
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
        let key = BASE64
            .decode(key64)
            .map_err(|_| bad("the key is not valid base64"))?;
        let Some((&alg, raw)) = key.split_first() else {
            return Err(bad("the key is empty"));
        };
        if alg != ALG_ED25519 {
            return Err(LedgerError::UnsupportedAlgorithm(alg));
        }
        let seed: [u8; 32] = raw
            .try_into()
            .map_err(|_| bad("an Ed25519 seed must be 32 bytes"))?;
        let signer = Self::generate_from_seed(name, seed)?;
        if signer.key_id != key_id {
            return Err(bad("the key id does not match the name and key"));
        }
        Ok(signer)
    }

    /// Builds a signer from a key name and a 32-byte Ed25519 seed.
    ///
    /// This crate never reads the system's random source: to make a new key,
    /// pass 32 bytes from a cryptographically secure generator.
    pub fn generate_from_seed(name: &str, seed: [u8; 32]) -> Result<Self, LedgerError> {
        if !is_valid_key_name(name) {
            return Err(LedgerError::KeyName(name.to_string()));
        }
        let key = SigningKey::from_bytes(&seed);
        let key_id = ed25519_key_id(name, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_string(),
            key_id,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The matching vkey string.
    pub fn vkey(&self) -> String {
        self.verifier().to_string()
    }

    /// The `PRIVATE+KEY+…` string. It holds the secret seed.
    pub fn private_key(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(ALG_ED25519);
        key.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(key)
        )
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("vkey", &self.vkey())
            .finish_non_exhaustive()
    }
}

impl FromStr for NoteSigner {
    type Err = LedgerError;

    fn from_str(s: &str) -> Result<Self, LedgerError> {
        Self::from_private_key(s)
    }
}

/// Checks the characters of note text: only newline below U+0020.
pub(crate) fn check_note_chars(text: &str) -> Result<(), LedgerError> {
    match text
        .char_indices()
        .find(|(_, c)| u32::from(*c) < 0x20 && *c != '\n')
    {
        Some((at, c)) => Err(LedgerError::MalformedNote(format!(
            "control character U+{:04X} at byte {at}",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// Signs a note body and returns the signed note: the body, a blank line and
/// one signature line.
///
/// The body must end with a newline and hold no control characters other
/// than newlines.
pub fn sign_note(body: &str, signer: &NoteSigner) -> Result<String, LedgerError> {
    if !body.ends_with('\n') {
        return Err(LedgerError::MalformedNote(
            "the text does not end with a newline".to_string(),
        ));
    }
    check_note_chars(body)?;
    let sig = signer.key.sign(body.as_bytes()).to_bytes();
    let mut raw = Vec::with_capacity(68);
    raw.extend_from_slice(&signer.key_id.to_be_bytes());
    raw.extend_from_slice(&sig);
    Ok(format!(
        "{body}\n{SIG_PREFIX}{} {}\n",
        signer.name,
        BASE64.encode(raw)
    ))
}

/// One signature line of a signed note, not yet verified: the key name, the
/// key id and the signature bytes that follow the key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id: the first four bytes of the decoded signature field.
    pub key_id: u32,
    /// The rest of the decoded signature field.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// `name+keyid`, the short form used in messages.
    pub fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.key_id)
    }

    /// The signature line, with its final newline.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, BASE64.encode(raw))
    }
}

/// Parses one signature line (without its newline):
/// `— <key name> <base64(key id || signature)>`.
pub(crate) fn parse_signature_line(line: &str) -> Result<NoteSignature, LedgerError> {
    let shown: String = line.chars().take(120).collect();
    let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| {
        LedgerError::MalformedNote(format!("signature line `{shown}` does not start with `— `"))
    })?;
    let (name, b64) = chop(rest, ' ');
    let sig = BASE64.decode(b64).ok().filter(|s| s.len() >= 5);
    let (Some(sig), true) = (sig, is_valid_key_name(name)) else {
        return Err(LedgerError::MalformedNote(format!(
            "signature line `{shown}` is not `— <name> <base64>`"
        )));
    };
    Ok(NoteSignature {
        name: name.to_string(),
        key_id: u32::from_be_bytes([sig[0], sig[1], sig[2], sig[3]]),
        signature: sig[4..].to_vec(),
    })
}

/// Splits a signed note into its text (with its final newline, without the
/// blank line) and its signature lines, checking the format but no
/// signature.
///
/// Fails if the note holds a control character other than newline, has no
/// blank line followed by signature lines, a signature line is malformed or
/// there are more than 100 of them.
pub fn split_note(text: &str) -> Result<(&str, Vec<NoteSignature>), LedgerError> {
    let malformed = |why: String| LedgerError::MalformedNote(why);
    check_note_chars(text)?;
    let split = text
        .rfind("\n\n")
        .ok_or_else(|| malformed("no blank line separates the text from the signatures".into()))?;
    let (body, sigs) = (&text[..split + 1], &text[split + 2..]);
    if sigs.is_empty() {
        return Err(malformed("no signature lines follow the blank line".into()));
    }
    if !sigs.ends_with('\n') {
        return Err(malformed(
            "the last signature line does not end with a newline".into(),
        ));
    }
    let mut out = Vec::new();
    for (n, line) in sigs.split_terminator('\n').enumerate() {
        if n >= MAX_SIGNATURES {
            return Err(malformed(format!("more than {MAX_SIGNATURES} signatures")));
        }
        out.push(parse_signature_line(line)?);
    }
    Ok((body, out))
}

/// Checks a signed note against the trusted key and returns its body (the
/// text, with its final newline, without the blank line and signatures).
///
/// Signatures by other keys are ignored, as the signed-note spec requires.
/// Fails if the note is malformed, if a signature by the trusted key does not
/// verify (the text was modified) or if there is none.
pub fn open_note(text: &str, verifier: &NoteVerifier) -> Result<String, LedgerError> {
    let (body, sigs) = split_note(text)?;
    let trusted = sigs
        .iter()
        .find(|s| s.name == verifier.name && s.key_id == verifier.key_id);
    match trusted {
        Some(sig) if verifier.verify(body.as_bytes(), &sig.signature) => Ok(body.to_string()),
        Some(_) => Err(LedgerError::BadSignature {
            key: verifier.label(),
        }),
        None => Err(LedgerError::NoTrustedSignature {
            key: verifier.label(),
            found: sigs
                .iter()
                .map(|s| format!("`{}`", s.label()))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    // Test vectors from golang.org/x/mod/sumdb/note (note_test.go).
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    #[test]
    fn go_verifier_key_and_manglings() {
        let v = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
        assert_eq!(v.name(), "PeterNeumann");
        assert_eq!(v.key_id(), 0xc74f20a3);
        assert_eq!(v.to_string(), PETER_VKEY);
        let b = PETER_VKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i != 0 || j != b.len() {
                    let s = std::str::from_utf8(&b[i..j]).unwrap();
                    assert!(NoteVerifier::from_vkey(s).is_err(), "accepted {s:?}");
                }
            }
        }
        let mut m = b.to_vec();
        for i in 0..m.len() {
            m[i] += 1;
            let s = String::from_utf8(m.clone()).unwrap();
            assert!(NoteVerifier::from_vkey(&s).is_err(), "accepted {s:?}");
            m[i] -= 1;
        }
        // Wrong key length and unknown algorithm, each with an adjusted key id.
        assert!(
            NoteVerifier::from_vkey(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            )
            .is_err()
        );
        assert!(
            NoteVerifier::from_vkey(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            )
            .is_err()
        );
    }

    #[test]
    fn go_signer_key_and_manglings() {
        let s = NoteSigner::from_private_key(PETER_SKEY).unwrap();
        assert_eq!(s.private_key(), PETER_SKEY);
        assert_eq!(s.vkey(), PETER_VKEY);
        let b = PETER_SKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i != 0 || j != b.len() {
                    let t = std::str::from_utf8(&b[i..j]).unwrap();
                    assert!(NoteSigner::from_private_key(t).is_err(), "accepted {t:?}");
                }
            }
        }
        let mut m = b.to_vec();
        for i in 0..m.len() {
            m[i] += 1;
            let t = String::from_utf8(m.clone()).unwrap();
            assert!(NoteSigner::from_private_key(&t).is_err(), "accepted {t:?}");
            m[i] -= 1;
        }
        let err =
            NoteSigner::from_private_key("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEK").unwrap_err();
        assert!(!err.to_string().contains("AYEK"), "{err}");
    }

    #[test]
    fn go_sign_vector() {
        let s = NoteSigner::from_private_key(PETER_SKEY).unwrap();
        let signed = sign_note(TEXT, &s).unwrap();
        assert_eq!(signed, format!("{TEXT}\n{PETER_SIG}"));
        assert!(sign_note("abc", &s).is_err());
        assert!(sign_note("a\tb\n", &s).is_err());
    }

    #[test]
    fn go_open_vectors() {
        let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
        let enoch = NoteVerifier::from_vkey(ENOCH_VKEY).unwrap();
        let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        assert_eq!(open_note(&both, &peter).unwrap(), TEXT);
        assert_eq!(open_note(&both, &enoch).unwrap(), TEXT);

        // Only an unknown key signed it.
        let err = open_note(&format!("{TEXT}\n{ENOCH_SIG}"), &peter).unwrap_err();
        assert!(
            matches!(err, LedgerError::NoTrustedSignature { .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "note has no signature by key `PeterNeumann+c74f20a3` (signed by: `EnochRoot+af0cfe78`)"
        );

        // Too many signatures.
        assert!(open_note(&format!("{TEXT}\n{}", PETER_SIG.repeat(101)), &peter).is_err());
        // Duplicates are fine.
        assert!(open_note(&format!("{TEXT}\n{}", PETER_SIG.repeat(3)), &peter).is_ok());

        // Corrupted signature.
        let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let err = open_note(&bad, &peter).unwrap_err();
        assert!(matches!(err, LedgerError::BadSignature { .. }), "{err}");

        // Malformed notes.
        for msg in [
            TEXT.to_string(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!(
                "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
            ),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
        ] {
            let err = open_note(&msg, &peter).unwrap_err();
            assert!(
                matches!(err, LedgerError::MalformedNote(_)),
                "{msg:?}: {err}"
            );
        }

        // Modified text.
        let changed = both.replacen("problem", "pr0blem", 1);
        assert!(matches!(
            open_note(&changed, &peter),
            Err(LedgerError::BadSignature { .. })
        ));

        // A signature under another name or key id is someone else's.
        let renamed = format!(
            "{TEXT}\n{}",
            PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
        );
        assert!(matches!(
            open_note(&renamed, &peter),
            Err(LedgerError::NoTrustedSignature { .. })
        ));
        let rehashed = format!("{TEXT}\n{}", PETER_SIG.replace("x08g", "xxxx"));
        assert!(matches!(
            open_note(&rehashed, &peter),
            Err(LedgerError::NoTrustedSignature { .. })
        ));
    }

    #[test]
    fn c2sp_signed_note_example_parses() {
        // The example of c2sp.org/signed-note: its key is not published, so
        // it can only be parsed and found not to be signed by our key.
        let note = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
        let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
        let err = open_note(note, &peter).unwrap_err();
        let LedgerError::NoTrustedSignature { found, .. } = err else {
            panic!("unexpected {err}");
        };
        assert!(
            found.starts_with("`quasimodo.example/salvatore+"),
            "{found}"
        );
    }

    #[test]
    fn generated_keys_round_trip() {
        let s = NoteSigner::generate_from_seed("example.com/log", [7u8; 32]).unwrap();
        let again = NoteSigner::from_private_key(&s.private_key()).unwrap();
        assert_eq!(again.vkey(), s.vkey());
        let v: NoteVerifier = s.vkey().parse().unwrap();
        assert_eq!(v, s.verifier());
        let note = sign_note("hello\n", &s).unwrap();
        assert_eq!(open_note(&note, &v).unwrap(), "hello\n");
        assert!(!format!("{s:?}").contains(&s.private_key()));
        for name in ["", "a b", "a+b", "a\u{a0}b", "a\u{3000}b", "a\x01b"] {
            assert!(
                NoteSigner::generate_from_seed(name, [1; 32]).is_err(),
                "{name:?}"
            );
        }
        assert!(NoteSigner::generate_from_seed("ünïcode/ok", [1; 32]).is_ok());
    }
}
