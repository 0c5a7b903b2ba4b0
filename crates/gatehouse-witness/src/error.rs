//! The errors of the witness server and of the client.

use std::io;
use std::path::PathBuf;

use gatehouse_ledger::LedgerError;

/// Why a witness could not read or write its state file, or start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The state file does not exist.
    #[error(
        "state file `{}` does not exist: create it with `gatehouse witness init`. A witness that lost its state must not start afresh under the same key, since it would then cosign a log that was rolled back",
        .0.display()
    )]
    Missing(PathBuf),

    /// The state file exists although a new one was to be created.
    #[error("state file `{}` exists already; it is not replaced", .0.display())]
    Exists(PathBuf),

    /// Another process holds the state file.
    #[error(
        "state file `{}` is in use by another witness process (lock `{}`)",
        .path.display(),
        .lock.display()
    )]
    Locked {
        /// The state file.
        path: PathBuf,
        /// The lock file beside it.
        lock: PathBuf,
    },

    /// A file could not be read or written.
    #[error("cannot {action} `{}`: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The state file is not a witness state.
    #[error("state file `{}` is malformed: {reason}", .path.display())]
    Malformed {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The configuration is not usable.
    #[error("{0}")]
    Config(String),
}

/// Why a witness did not cosign a checkpoint, as the log sees it.
///
/// [`Rollback`](WitnessError::Rollback), [`Fork`](WitnessError::Fork) and
/// [`ProofRefused`](WitnessError::ProofRefused) mean that the witness holds
/// a tree this checkpoint does not extend: the log was rolled back or its
/// history rewritten (or the witness was given another log's checkpoints
/// under this origin). [`is_conflict_of_history`](WitnessError::is_conflict_of_history)
/// tells them apart from outages and configuration errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The witness could not be reached or did not answer in time.
    #[error("witness {url} is unreachable: {reason}")]
    Unreachable {
        /// The witness's submission URL.
        url: String,
        /// The transport error.
        reason: String,
    },

    /// The witness holds a checkpoint larger than the one sent: the log was
    /// rolled back (or the checkpoint sent is an old one).
    #[error(
        "witness {url} holds a checkpoint of size {witness_size}, larger than this checkpoint of size {size}: the log was rolled back after the witness cosigned size {witness_size}"
    )]
    Rollback {
        /// The witness's submission URL.
        url: String,
        /// The size the witness holds.
        witness_size: u64,
        /// The size of the checkpoint sent.
        size: u64,
    },

    /// The witness holds a checkpoint of the same size with another root: a
    /// different history of the same length.
    #[error(
        "witness {url} holds a different checkpoint of the same size {size}: the log's history up to size {size} differs from the one the witness cosigned"
    )]
    Fork {
        /// The witness's submission URL.
        url: String,
        /// The size of both checkpoints.
        size: u64,
    },

    /// The witness refused the consistency proof from the size it holds.
    #[error(
        "witness {url} refused the consistency proof from size {old_size} to {size}: the checkpoint does not extend the tree of size {old_size} the witness cosigned, so the log's history up to size {old_size} was rewritten ({message})"
    )]
    ProofRefused {
        /// The witness's submission URL.
        url: String,
        /// The size the witness holds.
        old_size: u64,
        /// The size of the checkpoint sent.
        size: u64,
        /// The witness's message.
        message: String,
    },

    /// The witness's size changed again between two requests.
    #[error(
        "witness {url} moved from size {first} to size {second} during the exchange; another copy of the log is sending it checkpoints"
    )]
    Conflict {
        /// The witness's submission URL.
        url: String,
        /// The size the witness held at the first request.
        first: u64,
        /// The size it held at the second.
        second: u64,
    },

    /// The witness does not witness this log.
    #[error("witness {url} does not witness the log `{origin}` (404)")]
    UnknownLog {
        /// The witness's submission URL.
        url: String,
        /// The checkpoint's origin.
        origin: String,
    },

    /// The witness does not accept the log's signature.
    #[error(
        "witness {url} does not accept the log's signature on the checkpoint (403): it is configured with another key for this log ({message})"
    )]
    BadSignature {
        /// The witness's submission URL.
        url: String,
        /// The witness's message.
        message: String,
    },

    /// The witness found the request malformed.
    #[error("witness {url} refused the request as malformed (400): {message}")]
    BadRequest {
        /// The witness's submission URL.
        url: String,
        /// The witness's message.
        message: String,
    },

    /// The witness's answer breaks the protocol, or its cosignature does not
    /// verify with the configured witness key.
    #[error("witness {url} answered outside the protocol: {reason}")]
    Protocol {
        /// The witness's submission URL.
        url: String,
        /// What is wrong with the answer.
        reason: String,
    },

    /// The caller could not produce the consistency proof asked for.
    #[error("cannot prove consistency from size {old_size} to {size} for witness {url}: {message}")]
    Proof {
        /// The witness's submission URL.
        url: String,
        /// The size the witness holds.
        old_size: u64,
        /// The size of the checkpoint.
        size: u64,
        /// The caller's error.
        message: String,
    },

    /// The note given is not a checkpoint.
    #[error("the note to cosign is not a checkpoint: {0}")]
    Checkpoint(#[from] LedgerError),

    /// The witness URL is not usable.
    #[error("witness URL `{0}` is not an http:// or https:// URL")]
    Url(String),
}

impl WitnessError {
    /// Whether the witness holds a tree that this checkpoint does not extend
    /// (a rollback, a fork or a rewritten history), as opposed to an outage
    /// or a configuration problem.
    pub fn is_conflict_of_history(&self) -> bool {
        matches!(
            self,
            WitnessError::Rollback { .. }
                | WitnessError::Fork { .. }
                | WitnessError::ProofRefused { .. }
        )
    }

    /// The size of the tree the witness holds, when the error tells it.
    pub fn witness_size(&self) -> Option<u64> {
        match self {
            WitnessError::Rollback { witness_size, .. } => Some(*witness_size),
            WitnessError::Fork { size, .. } => Some(*size),
            WitnessError::ProofRefused { old_size, .. } => Some(*old_size),
            WitnessError::Conflict { second, .. } => Some(*second),
            _ => None,
        }
    }
}
