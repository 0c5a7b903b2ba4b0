//! The error type shared by every part of the ledger that does no IO.

/// Everything that can go wrong while hashing, proving, verifying, signing or
/// parsing ledger data.
///
/// Messages are meant for people: they say what is wrong and with which value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A leaf index does not fall inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },

    /// Two tree sizes are in the wrong order.
    #[error("tree size {old} is larger than tree size {new}")]
    SizesOutOfOrder {
        /// The size that should be the older, smaller one.
        old: u64,
        /// The size that should be the newer, larger one.
        new: u64,
    },

    /// A tree node is not a complete (perfect) subtree of the tree.
    #[error("node at level {level} index {index} is not complete in a tree of size {size}")]
    NodeOutOfRange {
        /// Tree level of the node (0 for leaves).
        level: u32,
        /// Index of the node within its level.
        index: u64,
        /// The tree size.
        size: u64,
    },

    /// A tile reader returned fewer hashes than asked for.
    #[error("tile at level {level} index {index} has {got} hashes but {want} are needed")]
    TileTooShort {
        /// Tile level.
        level: u32,
        /// Tile index.
        index: u64,
        /// Number of hashes asked for.
        want: u64,
        /// Number of hashes returned.
        got: u64,
    },

    /// Encoded tile data is not a whole number of hashes, or too long.
    #[error("tile data of {len} bytes is not a whole number of 32-byte hashes up to 256 of them")]
    TileEncoding {
        /// Length of the data in bytes.
        len: usize,
    },

    /// A proof has the wrong number of hashes for the sizes it claims.
    #[error("proof has {got} hashes but {expected} are expected")]
    ProofLength {
        /// Number of hashes a proof for these sizes has.
        expected: usize,
        /// Number of hashes given.
        got: usize,
    },

    /// A proof recomputes to a different root than the one expected.
    #[error("proof leads to root `{computed}` but the expected root is `{expected}`")]
    RootMismatch {
        /// Hex of the recomputed root.
        computed: String,
        /// Hex of the expected root.
        expected: String,
    },

    /// A consistency proof between equal sizes, or from the empty tree, was
    /// given roots that cannot belong together.
    #[error(
        "roots `{old}` and `{new}` cannot both be right for tree sizes {old_size} and {new_size}"
    )]
    InconsistentRoots {
        /// Size of the older tree.
        old_size: u64,
        /// Size of the newer tree.
        new_size: u64,
        /// Hex of the older root.
        old: String,
        /// Hex of the newer root.
        new: String,
    },

    /// A compact range is used in a way its bounds do not allow.
    #[error("compact range [{begin}, {end}) {reason}")]
    CompactRange {
        /// First leaf index of the range.
        begin: u64,
        /// One past the last leaf index of the range.
        end: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// A string is not a hash in lowercase hex.
    #[error("`{0}` is not a hash written as 64 lowercase hex digits")]
    Hex(String),

    /// A key name breaks the signed-note naming rules.
    #[error(
        "invalid key name `{0}`: a name must be non-empty and hold no spaces, `+` or control characters"
    )]
    KeyName(String),

    /// A public or private key string is malformed.
    #[error("malformed key `{key}`: {reason}")]
    MalformedKey {
        /// The key string, or a redacted form of it for private keys.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A key uses a signature algorithm other than Ed25519.
    #[error("key algorithm {0} is not supported, only Ed25519 (1) is")]
    UnsupportedAlgorithm(u8),

    /// A signed note is malformed.
    #[error("malformed note: {0}")]
    MalformedNote(String),

    /// A signature by the trusted key is present but does not verify.
    #[error(
        "signature by key `{key}` does not verify: the note was modified or signed by another key"
    )]
    BadSignature {
        /// `name+keyid` of the key.
        key: String,
    },

    /// No signature by the trusted key is present.
    #[error("note has no signature by key `{key}` (signed by: {found})")]
    NoTrustedSignature {
        /// `name+keyid` of the trusted key.
        key: String,
        /// The `name+keyid` of every signature found.
        found: String,
    },

    /// A checkpoint body is malformed.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),

    /// A signature line under a witness's name and key id is not a
    /// well-formed timestamped cosignature.
    #[error("signature line of `{key}` is not a cosignature: {reason}")]
    MalformedCosignature {
        /// `name+keyid` of the line.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A cosignature by a trusted witness is present but does not verify.
    #[error(
        "cosignature by witness `{witness}` does not verify: the checkpoint was modified, or the line was forged or copied from another checkpoint"
    )]
    BadCosignature {
        /// `name+keyid` of the witness.
        witness: String,
    },

    /// Fewer trusted witnesses cosigned a checkpoint than required.
    #[error(
        "the checkpoint of size {size} is cosigned by {have} of the trusted witnesses but {need} are required; not cosigned by: {missing}"
    )]
    QuorumNotMet {
        /// Tree size of the checkpoint.
        size: u64,
        /// Trusted witnesses whose valid cosignature is on it.
        have: usize,
        /// Cosignatures required.
        need: usize,
        /// The trusted witnesses without a cosignature on it.
        missing: String,
    },

    /// A witness quorum larger than the number of witnesses.
    #[error("a quorum of {quorum} cannot be met by {witnesses} witness key(s)")]
    Quorum {
        /// The quorum asked for.
        quorum: usize,
        /// The number of distinct witness keys.
        witnesses: usize,
    },
}
