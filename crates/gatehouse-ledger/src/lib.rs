//! The Gatehouse ledger: an RFC 6962 / RFC 9162 Merkle log whose leaves are
//! Gatehouse events, with signed checkpoints and offline evidence bundles.
//!
//! This crate is pure: it does no IO, except in [`bundle`], which reads and
//! writes the files of an evidence folder. Storage is the caller's business;
//! the tree is stored as *tiles* (see [`tile_width`] and [`TileReader`]):
//!
//! - [`Appender`] appends leaves and hands back the tiles it changed;
//! - [`root`], [`inclusion_proof`] and [`consistency_proof`] read a few
//!   stored tiles to answer for any tree size up to the stored one;
//! - [`verify_inclusion`] and [`verify_consistency`] check proofs;
//! - [`Checkpoint`] and [`SignedCheckpoint`] sign tree heads as C2SP signed
//!   notes ([`NoteSigner`], [`NoteVerifier`]);
//! - [`WitnessSigner`], [`WitnessVerifier`] and [`WitnessPolicy`] make and
//!   check witness cosignatures (C2SP tlog-cosignature), and [`witness`]
//!   holds the witness protocol (C2SP tlog-witness) both sides share;
//! - [`bundle`] writes and verifies offline evidence folders, which the
//!   `gatehouse-verify` program checks on its own.
//!
//! ```
//! use gatehouse_ledger::*;
//!
//! let leaves: Vec<Hash> = (0u32..1000).map(|i| leaf_hash(&i.to_be_bytes())).collect();
//! let mut tiles = MemoryTiles::from_leaves(&leaves);
//! let root_700 = root(&mut tiles, 700)?;
//! let proof = inclusion_proof(&mut tiles, 123, 700)?;
//! verify_inclusion(&leaves[123], 123, 700, &proof.hashes, &root_700)?;
//! let step = consistency_proof(&mut tiles, 700, 1000)?;
//! verify_consistency(700, 1000, &step.hashes, &root_700, &root(&mut tiles, 1000)?)?;
//! # Ok::<(), LedgerError>(())
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod bundle;
mod checkpoint;
mod compact;
mod cosignature;
mod error;
mod hash;
mod note;
mod proof;
mod reference;
mod tile;
pub mod witness;

pub use checkpoint::{Checkpoint, SignedCheckpoint};
pub use compact::{CompactRange, compact_range};
pub use cosignature::{
    ALG_COSIGNATURE_V1, Cosignature, CosignatureReport, WitnessCosignature, WitnessPolicy,
    WitnessSigner, WitnessVerifier, cosignature_key_id, cosignature_message, format_timestamp,
    merge_cosignatures,
};
pub use error::LedgerError;
pub use hash::{Hash, empty_root, hash_from_hex, hash_to_hex, leaf_hash, node_hash, serde_hex};
pub use note::{
    NoteSignature, NoteSigner, NoteVerifier, ed25519_key_id, is_valid_key_name, open_note,
    sign_note, split_note,
};
pub use proof::{
    ConsistencyProof, InclusionProof, consistency_proof, inclusion_proof, root, verify_consistency,
    verify_inclusion,
};
pub use reference::{MemoryTiles, root_from_leaves};
pub use tile::{
    Appender, TILE_HEIGHT, TILE_WIDTH, TileId, TileReader, decode_tile, encode_tile, level_width,
    subtree_hash, tile_width,
};
