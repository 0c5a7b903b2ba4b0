//! Checkpoints (C2SP tlog-checkpoint): signed statements of a tree head.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::note::{NoteSigner, NoteVerifier, open_note, sign_note};
use crate::{Hash, LedgerError};

/// A tree head: the log's origin, the tree size and the root hash, plus
/// optional opaque extension lines.
///
/// Its note body is
///
/// ```text
/// <origin>
/// <size in decimal>
/// <base64 of the root>
/// [extension lines]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Identifies the log, e.g. `gatehouse.example/ledger`.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root of the tree.
    pub root: Hash,
    /// Extension lines, each non-empty. Usually none.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note body: origin, size and base64 root, then each extension
    /// line, every line ending with a newline.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for ext in &self.extensions {
            body.push_str(ext);
            body.push('\n');
        }
        body
    }

    /// Parses a note body, strictly: at least three lines, a non-empty
    /// origin, a decimal size without leading zeros, a base64 root of 32
    /// bytes and non-empty extension lines.
    pub fn parse_body(body: &str) -> Result<Checkpoint, LedgerError> {
        let bad = |why: String| LedgerError::MalformedCheckpoint(why);
        let show = |line: &str| -> String { line.chars().take(100).collect() };
        if let Some(c) = body.chars().find(|c| u32::from(*c) < 0x20 && *c != '\n') {
            return Err(bad(format!(
                "control character U+{:04X} in the text",
                u32::from(c)
            )));
        }
        let Some(text) = body.strip_suffix('\n') else {
            return Err(bad("the text does not end with a newline".into()));
        };
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.len() < 3 {
            return Err(bad(format!(
                "expected origin, tree size and root hash lines but found {} line(s)",
                lines.len()
            )));
        }
        let origin = lines[0];
        if origin.is_empty() {
            return Err(bad("the origin line is empty".into()));
        }
        let size_line = lines[1];
        let size_ok = !size_line.is_empty()
            && size_line.bytes().all(|b| b.is_ascii_digit())
            && (size_line == "0" || !size_line.starts_with('0'));
        let size = size_ok
            .then(|| size_line.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| {
                bad(format!(
                    "tree size `{}` is not a decimal number without leading zeros",
                    show(size_line)
                ))
            })?;
        let root: Hash = BASE64
            .decode(lines[2])
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| {
                bad(format!(
                    "root hash `{}` is not the base64 of 32 bytes",
                    show(lines[2])
                ))
            })?;
        let mut extensions = Vec::new();
        for (i, ext) in lines[3..].iter().enumerate() {
            if ext.is_empty() {
                return Err(bad(format!("line {} is an empty extension line", i + 4)));
            }
            extensions.push((*ext).to_string());
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

/// A checkpoint together with its signed note, either freshly signed or
/// opened with a trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: String,
}

impl SignedCheckpoint {
    /// Signs a checkpoint. Fails if the checkpoint cannot be written as a
    /// valid body (for example an origin with a newline).
    pub fn sign(checkpoint: Checkpoint, signer: &NoteSigner) -> Result<Self, LedgerError> {
        let body = checkpoint.to_body();
        if Checkpoint::parse_body(&body)? != checkpoint {
            return Err(LedgerError::MalformedCheckpoint(
                "the origin or an extension line holds a newline".to_string(),
            ));
        }
        let note = sign_note(&body, signer)?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Opens a signed checkpoint note with the trusted key and parses it.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Self, LedgerError> {
        let body = open_note(note, verifier)?;
        let checkpoint = Checkpoint::parse_body(&body)?;
        Ok(SignedCheckpoint {
            checkpoint,
            note: note.to_string(),
        })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note text.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// Splits into the checkpoint and the note text.
    pub fn into_parts(self) -> (Checkpoint, String) {
        (self.checkpoint, self.note)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn c2sp_example_body() {
        // From c2sp.org/tlog-checkpoint.
        let body =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let c = Checkpoint::parse_body(body).unwrap();
        assert_eq!(c.origin, "example.com/behind-the-sofa");
        assert_eq!(c.size, 20852163);
        assert!(c.extensions.is_empty());
        assert_eq!(c.to_body(), body);
    }

    #[test]
    fn rejects_bad_bodies() {
        let root = BASE64.encode([1u8; 32]);
        let cases = [
            format!("o\n1\n{root}"),
            "o\n1\n".to_string(),
            format!("\n1\n{root}\n"),
            format!("o\n01\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n+1\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            format!("o\n1\n{}\n", BASE64.encode([1u8; 31])),
            "o\n1\nnot base64\n".to_string(),
            format!("o\n1\n{root}\n\n"),
            format!("o\n1\n{root}\next\n\n"),
            format!("o\r\n1\n{root}\n"),
        ];
        for body in cases {
            let err = Checkpoint::parse_body(&body).unwrap_err();
            assert!(
                err.to_string().starts_with("malformed checkpoint: "),
                "{body:?}"
            );
        }
        let ok = Checkpoint::parse_body(&format!("o\n0\n{root}\next one\nx\n")).unwrap();
        assert_eq!(ok.extensions, vec!["ext one".to_string(), "x".to_string()]);
        assert_eq!(ok.to_body(), format!("o\n0\n{root}\next one\nx\n"));
    }

    #[test]
    fn sign_and_open() {
        let signer = NoteSigner::generate_from_seed("gatehouse.example/ledger", [3; 32]).unwrap();
        let c = Checkpoint::new("gatehouse.example/ledger", 42, [9; 32]);
        let s = SignedCheckpoint::sign(c.clone(), &signer).unwrap();
        assert!(s.note().starts_with(&c.to_body()));
        let opened = SignedCheckpoint::open(s.note(), &signer.verifier()).unwrap();
        assert_eq!(opened.checkpoint(), &c);
        let other = NoteSigner::generate_from_seed("gatehouse.example/ledger", [4; 32]).unwrap();
        assert!(SignedCheckpoint::open(s.note(), &other.verifier()).is_err());
        let tampered = s.note().replacen("42", "43", 1);
        assert!(SignedCheckpoint::open(&tampered, &signer.verifier()).is_err());
        let bad = Checkpoint::new("two\nlines", 1, [0; 32]);
        assert!(SignedCheckpoint::sign(bad, &signer).is_err());
    }
}
