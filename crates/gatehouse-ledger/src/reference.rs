//! The straight-from-the-RFC tree hash and an in-memory tile store.

use crate::hash::{empty_root, node_hash, perfect_root};
use crate::tile::{TILE_HEIGHT, TILE_WIDTH, TileId, TileReader};
use crate::{Hash, LedgerError};

/// The Merkle tree hash MTH of a list of leaf hashes, computed recursively
/// exactly as RFC 6962 §2.1 defines it.
///
/// This is the reference the tile-based code is tested against. It is
/// O(n) and recursive, so use it on small inputs only.
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n as u64) as usize;
            node_hash(
                &root_from_leaves(&leaves[..k]),
                &root_from_leaves(&leaves[k..]),
            )
        }
    }
}

/// The largest power of two strictly smaller than `n` (`n` must be at least 2).
pub(crate) fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// A [`TileReader`] over tiles computed in memory from a list of leaf hashes.
///
/// Every tile level is kept as one flat list of the hashes at tree level
/// `8 * t`. Useful for tests and for tools that hold all leaves anyway.
#[derive(Debug, Clone, Default)]
pub struct MemoryTiles {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTiles {
    /// Builds every tile for a tree holding exactly these leaf hashes.
    pub fn from_leaves(leaves: &[Hash]) -> Self {
        let mut levels = vec![leaves.to_vec()];
        let width = TILE_WIDTH as usize;
        while let Some(below) = levels.last().filter(|l| l.len() >= width) {
            let next: Vec<Hash> = below.chunks_exact(width).map(perfect_root).collect();
            levels.push(next);
        }
        MemoryTiles { levels }
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The leaf hashes.
    pub fn leaves(&self) -> &[Hash] {
        self.levels.first().map_or(&[], |l| l.as_slice())
    }
}

impl TileReader for MemoryTiles {
    type Error = LedgerError;

    fn read_tile(&mut self, id: TileId, width: u64) -> Result<Vec<Hash>, LedgerError> {
        let level = self
            .levels
            .get(id.level as usize)
            .map_or(&[][..], |l| l.as_slice());
        let start = id.index.saturating_mul(TILE_WIDTH);
        let short = |got: u64| LedgerError::TileTooShort {
            level: id.level,
            index: id.index,
            want: width,
            got,
        };
        if width > TILE_WIDTH {
            return Err(short(TILE_WIDTH));
        }
        let have = (level.len() as u64).saturating_sub(start).min(TILE_WIDTH);
        if have < width {
            return Err(short(have));
        }
        // `start + width <= level.len()` holds here, so these fit in usize.
        let (s, w) = (start as usize, width as usize);
        Ok(level[s..s + w].to_vec())
    }
}

// Keep the constant in use here so a change of layout is noticed.
const _: () = assert!(TILE_WIDTH == 1 << TILE_HEIGHT);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::leaf_hash;

    #[test]
    fn powers() {
        assert_eq!(largest_power_of_two_below(2), 1);
        assert_eq!(largest_power_of_two_below(3), 2);
        assert_eq!(largest_power_of_two_below(4), 2);
        assert_eq!(largest_power_of_two_below(5), 4);
        assert_eq!(largest_power_of_two_below(1 << 40), 1 << 39);
        assert_eq!(largest_power_of_two_below(u64::MAX), 1 << 63);
    }

    #[test]
    fn memory_tiles_shape() {
        let leaves: Vec<Hash> = (0u32..70_000)
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect();
        let mut t = MemoryTiles::from_leaves(&leaves);
        assert_eq!(t.size(), 70_000);
        assert_eq!(t.levels.len(), 3);
        assert_eq!(t.levels[1].len(), 70_000 / 256);
        assert_eq!(t.levels[2].len(), 1);
        assert_eq!(t.levels[2][0], perfect_root(&leaves[..65536]));
        let tile = t.read_tile(TileId { level: 0, index: 1 }, 3).unwrap();
        assert_eq!(tile, leaves[256..259].to_vec());
        let last = 70_000 / 256;
        assert!(
            t.read_tile(
                TileId {
                    level: 0,
                    index: last
                },
                256
            )
            .is_err()
        );
        assert!(
            t.read_tile(
                TileId {
                    level: 0,
                    index: last
                },
                70_000 % 256
            )
            .is_ok()
        );
        assert!(t.read_tile(TileId { level: 5, index: 0 }, 1).is_err());
        assert!(t.read_tile(TileId { level: 5, index: 0 }, 0).is_ok());
    }
}
