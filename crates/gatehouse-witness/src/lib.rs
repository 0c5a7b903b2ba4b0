//! A witness for transparency logs (C2SP tlog-witness), and the client a
//! log uses to have its checkpoints cosigned.
//!
//! A **witness** keeps the latest checkpoint it cosigned for each log it is
//! configured with, and cosigns a new checkpoint of that log only when a
//! consistency proof shows that it extends the one it holds. A log that was
//! rolled back, or whose history was rewritten and signed again with the
//! genuine key, cannot get a cosignature from a witness that saw the
//! original: the witness holds a larger or a different tree.
//!
//! - [`Witness`] is the server: `POST /add-checkpoint` as the protocol
//!   says, and `GET /checkpoint/<origin>` to read the latest checkpoint it
//!   cosigned for a log. Its state file is written atomically and the
//!   requests of one log are serialised ([`state`] tells how).
//! - [`WitnessClient`] is the log's side: [`WitnessClient::cosign`] sends a
//!   checkpoint, retries once from the witness's size on 409, and returns
//!   the verified cosignature or a [`WitnessError`] that tells an outage
//!   from a witness holding a conflicting tree. [`cosign_all`] asks several
//!   witnesses at once.
//!
//! The protocol itself (messages and the witness's decision) lives in
//! [`gatehouse_ledger::witness`], and cosignatures in `gatehouse-ledger`,
//! so that the offline verifier checks them without this crate.
//!
//! ```no_run
//! use gatehouse_ledger::{Hash, LedgerError, WitnessVerifier};
//! use gatehouse_witness::{WitnessClient, cosign_all};
//!
//! # fn demo(note: &str, proof: impl Fn(u64, u64) -> Result<Vec<Hash>, LedgerError> + Sync)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! let w1 = WitnessClient::new("https://witness.example.com", WitnessVerifier::from_vkey(
//!     "witness.example.com+1234abcd+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")?)?;
//! for outcome in cosign_all(&[w1], note, &[0], proof) {
//!     match outcome {
//!         Ok(c) => println!("{}", c.cosignature.to_line()),
//!         Err(e) if e.is_conflict_of_history() => eprintln!("TAMPERING: {e}"),
//!         Err(e) => eprintln!("not witnessed: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod client;
mod error;
mod server;
pub mod state;

pub use client::{Cosigned, DEFAULT_TIMEOUT, WitnessClient, cosign_all};
pub use error::{StateError, WitnessError};
pub use server::{
    CHECKPOINT_PATH, Clock, MAX_REQUEST_BYTES, Reply, RunningWitness, Witness, WitnessConfig,
    WitnessedLog, serve_until_signal,
};
pub use state::{create_state_file, read_state_file};
