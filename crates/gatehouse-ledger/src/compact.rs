//! Compact ranges: a range of leaves summarised by its perfect subtrees.

use serde::{Deserialize, Serialize};

use crate::hash::{fold_right, node_hash};
use crate::tile::{TileCache, TileReader};
use crate::{Hash, LedgerError, empty_root};

/// The nodes `(level, index)` of the minimal list of aligned perfect subtrees
/// that exactly cover leaves `[begin, end)`, left to right.
///
/// Levels first grow then shrink; there are at most two nodes per level.
pub(crate) fn range_nodes(begin: u64, end: u64) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let mut pos = begin;
    while pos < end {
        let mut level = if pos == 0 { 63 } else { pos.trailing_zeros() };
        while (1u64 << level) > end - pos {
            level -= 1;
        }
        out.push((level, pos >> level));
        pos += 1u64 << level;
    }
    out
}

/// A range `[begin, end)` of leaves represented by the hashes of the minimal
/// list of aligned perfect subtrees covering it, like the `compact` package
/// of transparency-dev/merkle.
///
/// Adjacent ranges merge, and a range that starts at 0 has a root. This is
/// how a bundle that holds events `N..M` of a bigger tree proves them
/// against the tree root: it carries the compact ranges of the leaves before
/// and after its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CompactRangeRepr")]
pub struct CompactRange {
    begin: u64,
    end: u64,
    #[serde(with = "crate::serde_hex::hashes")]
    hashes: Vec<Hash>,
}

/// The serialised form of a [`CompactRange`], checked when read back.
#[derive(Deserialize)]
struct CompactRangeRepr {
    begin: u64,
    end: u64,
    #[serde(with = "crate::serde_hex::hashes")]
    hashes: Vec<Hash>,
}

impl TryFrom<CompactRangeRepr> for CompactRange {
    type Error = LedgerError;

    fn try_from(r: CompactRangeRepr) -> Result<Self, LedgerError> {
        CompactRange::from_parts(r.begin, r.end, r.hashes)
    }
}

impl CompactRange {
    /// The empty range starting (and ending) at leaf index `begin`.
    pub fn new(begin: u64) -> Self {
        CompactRange {
            begin,
            end: begin,
            hashes: Vec::new(),
        }
    }

    /// Rebuilds a range from its bounds and subtree hashes (left to right),
    /// checking that the number of hashes fits the bounds.
    pub fn from_parts(begin: u64, end: u64, hashes: Vec<Hash>) -> Result<Self, LedgerError> {
        if begin > end {
            return Err(LedgerError::CompactRange {
                begin,
                end,
                reason: "ends before it begins".to_string(),
            });
        }
        let expected = range_nodes(begin, end).len();
        if hashes.len() != expected {
            return Err(LedgerError::CompactRange {
                begin,
                end,
                reason: format!("needs {expected} hashes but {} were given", hashes.len()),
            });
        }
        Ok(CompactRange { begin, end, hashes })
    }

    /// Like [`from_parts`](Self::from_parts) for hashes known to fit.
    pub(crate) fn from_trusted_parts(begin: u64, end: u64, hashes: Vec<Hash>) -> Self {
        debug_assert_eq!(range_nodes(begin, end).len(), hashes.len());
        CompactRange { begin, end, hashes }
    }

    /// First leaf index of the range.
    pub fn begin(&self) -> u64 {
        self.begin
    }

    /// One past the last leaf index of the range.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Number of leaves in the range.
    pub fn len(&self) -> u64 {
        self.end - self.begin
    }

    /// Whether the range holds no leaves.
    pub fn is_empty(&self) -> bool {
        self.begin == self.end
    }

    /// The subtree hashes, left to right.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Extends the range by one leaf hash.
    pub fn append(&mut self, leaf: Hash) {
        self.push_node(0, leaf);
    }

    /// Appends the node at `level` that starts at `self.end`, which must be
    /// a multiple of `2^level`, merging it with the nodes to its left.
    fn push_node(&mut self, mut level: u32, mut hash: Hash) {
        let mut index = self.end >> level;
        self.end += 1u64 << level;
        while index & 1 == 1 && (index - 1) << level >= self.begin {
            let Some(left) = self.hashes.pop() else { break };
            hash = node_hash(&left, &hash);
            index >>= 1;
            level += 1;
        }
        self.hashes.push(hash);
    }

    /// Appends the adjacent range `other`, which must begin where this one
    /// ends.
    pub fn merge(&mut self, other: CompactRange) -> Result<(), LedgerError> {
        if other.begin != self.end {
            return Err(LedgerError::CompactRange {
                begin: other.begin,
                end: other.end,
                reason: format!("cannot follow a range that ends at {}", self.end),
            });
        }
        for ((level, _), hash) in range_nodes(other.begin, other.end)
            .into_iter()
            .zip(other.hashes)
        {
            self.push_node(level, hash);
        }
        Ok(())
    }

    /// The RFC 6962 root of the tree made of this range, which must start at
    /// leaf 0. The empty range has the empty tree's root.
    pub fn root(&self) -> Result<Hash, LedgerError> {
        if self.begin != 0 {
            return Err(LedgerError::CompactRange {
                begin: self.begin,
                end: self.end,
                reason: "does not start at 0, so it has no root".to_string(),
            });
        }
        Ok(fold_right(&self.hashes).unwrap_or_else(empty_root))
    }
}

/// Reads the compact range of leaves `[begin, end)` from the tiles of a tree
/// of at least `end` leaves: one stored subtree hash per node, at most two
/// per tree level.
pub fn compact_range<R>(reader: &mut R, begin: u64, end: u64) -> Result<CompactRange, R::Error>
where
    R: TileReader + ?Sized,
    R::Error: From<LedgerError>,
{
    if begin > end {
        return Err(LedgerError::SizesOutOfOrder {
            old: begin,
            new: end,
        }
        .into());
    }
    let mut cache = TileCache::new(reader, end);
    let mut hashes = Vec::new();
    for (level, index) in range_nodes(begin, end) {
        hashes.push(cache.node(level, index)?);
    }
    Ok(CompactRange::from_trusted_parts(begin, end, hashes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{MemoryTiles, leaf_hash, root_from_leaves};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn nodes_of_ranges() {
        assert_eq!(range_nodes(0, 0), vec![]);
        assert_eq!(range_nodes(0, 7), vec![(2, 0), (1, 2), (0, 6)]);
        assert_eq!(range_nodes(3, 8), vec![(0, 3), (2, 1)]);
        assert_eq!(range_nodes(3, 11), vec![(0, 3), (2, 1), (1, 4), (0, 10)]);
        assert_eq!(range_nodes(0, u64::MAX).len(), 64);
        assert_eq!(range_nodes(5, 5), vec![]);
    }

    #[test]
    fn append_matches_decomposition_and_merges() {
        let l = leaves(300);
        for begin in [0u64, 1, 3, 7, 8, 100, 255] {
            let mut r = CompactRange::new(begin);
            for end in begin..300 {
                let nodes = range_nodes(begin, end);
                assert_eq!(r.hashes().len(), nodes.len());
                for ((level, index), h) in nodes.iter().zip(r.hashes()) {
                    let s = (*index << *level) as usize;
                    let e = s + (1usize << *level);
                    assert_eq!(
                        *h,
                        root_from_leaves(&l[s..e]),
                        "[{begin},{end}) node {level}/{index}"
                    );
                }
                r.append(l[end as usize]);
            }
        }
        for split in [0usize, 1, 5, 64, 100, 299, 300] {
            let mut a = CompactRange::new(0);
            l[..split].iter().for_each(|h| a.append(*h));
            let mut b = CompactRange::new(split as u64);
            l[split..].iter().for_each(|h| b.append(*h));
            a.merge(b).unwrap();
            assert_eq!(a.root().unwrap(), root_from_leaves(&l));
        }
        let mut a = CompactRange::new(0);
        assert!(a.merge(CompactRange::new(1)).is_err());
        assert!(CompactRange::new(1).root().is_err());
        assert_eq!(a.root().unwrap(), empty_root());
    }

    #[test]
    fn from_tiles() {
        let l = leaves(1000);
        let mut t = MemoryTiles::from_leaves(&l);
        let r = compact_range(&mut t, 13, 777).unwrap();
        let mut want = CompactRange::new(13);
        l[13..777].iter().for_each(|h| want.append(*h));
        assert_eq!(r, want);
        assert!(CompactRange::from_parts(13, 777, r.hashes()[1..].to_vec()).is_err());
        assert_eq!(
            CompactRange::from_parts(13, 777, r.hashes().to_vec()).unwrap(),
            want
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.starts_with("{\"begin\":13,\"end\":777,\"hashes\":[\""));
        let back: CompactRange = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let mut bad: serde_json::Value = serde_json::from_str(&json).unwrap();
        bad["end"] = 779.into();
        assert!(serde_json::from_value::<CompactRange>(bad).is_err());
    }
}
