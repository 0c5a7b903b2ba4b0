//! The tile storage layout and incremental appends.
//!
//! A tree of size `n` is stored as tiles. Tile level `t` holds the hashes of
//! the tree nodes at tree level `8 * t`: level 0 holds leaf hashes, level 1
//! the roots of the perfect 256-leaf subtrees, level 2 the roots of the
//! perfect 65,536-leaf subtrees, and so on. Tile `(t, k)` holds the nodes with
//! indices `256 * k .. 256 * k + 255` of that level. At size `n`, level `t`
//! has `n >> (8 * t)` hashes in total, so only the right-most tile of each
//! level can be partial.
//!
//! Any node of the tree can be rebuilt from one tile: a node at tree level
//! `8 * t + r` (with `r < 8`) is the root of the perfect subtree over `2^r`
//! consecutive hashes of one level-`t` tile.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::hash::{fold_right, perfect_root};
use crate::{Hash, LedgerError, empty_root};

/// How many tree levels one tile level spans.
pub const TILE_HEIGHT: u32 = 8;

/// How many hashes a full tile holds (`2^TILE_HEIGHT`).
pub const TILE_WIDTH: u64 = 256;

/// Names one tile: its tile level and its index within that level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TileId {
    /// Tile level: the tile holds nodes at tree level `8 * level`.
    pub level: u32,
    /// Index of the tile within its level: it holds nodes
    /// `256 * index .. 256 * index + 255`.
    pub index: u64,
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tile {}/{}", self.level, self.index)
    }
}

/// Reads stored tiles.
///
/// The tree functions of this crate ask for `width` hashes of a tile, where
/// `width` follows from the tree size they work with
/// ([`tile_width`]). The store may hold more hashes than that because the
/// tree has grown since; it must then return just the first `width` ones
/// (returning more is tolerated, the extra hashes are ignored). Returning
/// fewer is an error.
///
/// The functions that take a reader need `Self::Error: From<LedgerError>` so
/// that they can report inconsistent tiles through the reader's own error.
pub trait TileReader {
    /// The error of the underlying store.
    type Error;

    /// Returns the first `width` hashes of tile `id`.
    fn read_tile(&mut self, id: TileId, width: u64) -> Result<Vec<Hash>, Self::Error>;
}

impl<R: TileReader + ?Sized> TileReader for &mut R {
    type Error = R::Error;

    fn read_tile(&mut self, id: TileId, width: u64) -> Result<Vec<Hash>, Self::Error> {
        (**self).read_tile(id, width)
    }
}

/// How many hashes tile level `level` has in total in a tree of `size` leaves.
pub fn level_width(level: u32, size: u64) -> u64 {
    let shift = u64::from(level) * u64::from(TILE_HEIGHT);
    if shift >= 64 { 0 } else { size >> shift }
}

/// How many hashes tile `(level, index)` holds in a tree of `size` leaves
/// (0 if the tile does not exist yet, 256 if it is full).
pub fn tile_width(level: u32, index: u64, size: u64) -> u64 {
    let total = level_width(level, size);
    match index.checked_mul(TILE_WIDTH) {
        Some(start) if start < total => (total - start).min(TILE_WIDTH),
        _ => 0,
    }
}

/// Serialises a tile as the concatenation of its 32-byte hashes.
pub fn encode_tile(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// Parses a tile serialised by [`encode_tile`].
pub fn decode_tile(data: &[u8]) -> Result<Vec<Hash>, LedgerError> {
    if !data.len().is_multiple_of(32) || data.len() / 32 > TILE_WIDTH as usize {
        return Err(LedgerError::TileEncoding { len: data.len() });
    }
    let mut out = Vec::with_capacity(data.len() / 32);
    for chunk in data.chunks_exact(32) {
        let mut h = [0u8; 32];
        h.copy_from_slice(chunk);
        out.push(h);
    }
    Ok(out)
}

/// Reads a tile and checks it has at least `width` hashes, keeping exactly
/// `width` of them.
fn read_exact<R>(reader: &mut R, id: TileId, width: u64) -> Result<Vec<Hash>, R::Error>
where
    R: TileReader + ?Sized,
    R::Error: From<LedgerError>,
{
    let mut hashes = reader.read_tile(id, width)?;
    let got = hashes.len() as u64;
    if got < width {
        return Err(LedgerError::TileTooShort {
            level: id.level,
            index: id.index,
            want: width,
            got,
        }
        .into());
    }
    hashes.truncate(width as usize);
    Ok(hashes)
}

/// Whether node `(level, index)` is a complete subtree of a tree of `size`.
pub(crate) fn node_is_complete(level: u32, index: u64, size: u64) -> bool {
    level < 64 && (u128::from(index) + 1) << level <= u128::from(size)
}

/// Reads tree nodes through a reader, fetching each tile at most once.
///
/// Every tile is read at the width it has at `size`, the tree size the
/// caller works with.
pub(crate) struct TileCache<'a, R: ?Sized> {
    reader: &'a mut R,
    size: u64,
    tiles: Vec<(TileId, Vec<Hash>)>,
}

impl<'a, R> TileCache<'a, R>
where
    R: TileReader + ?Sized,
    R::Error: From<LedgerError>,
{
    pub(crate) fn new(reader: &'a mut R, size: u64) -> Self {
        TileCache {
            reader,
            size,
            tiles: Vec::new(),
        }
    }

    fn tile(&mut self, id: TileId) -> Result<&[Hash], R::Error> {
        let pos = match self.tiles.iter().position(|(t, _)| *t == id) {
            Some(pos) => pos,
            None => {
                let width = tile_width(id.level, id.index, self.size);
                let hashes = read_exact(self.reader, id, width)?;
                self.tiles.push((id, hashes));
                self.tiles.len() - 1
            }
        };
        Ok(&self.tiles[pos].1)
    }

    /// The hash of node `(level, index)`, which must be complete at `size`.
    pub(crate) fn node(&mut self, level: u32, index: u64) -> Result<Hash, R::Error> {
        if !node_is_complete(level, index, self.size) {
            return Err(LedgerError::NodeOutOfRange {
                level,
                index,
                size: self.size,
            }
            .into());
        }
        let tile_level = level / TILE_HEIGHT;
        let rise = level % TILE_HEIGHT;
        // Fits: the node is complete, so `(index + 1) << level <= size`.
        let first = index << rise;
        let id = TileId {
            level: tile_level,
            index: first / TILE_WIDTH,
        };
        let offset = (first % TILE_WIDTH) as usize;
        let count = 1usize << rise;
        let tile = self.tile(id)?;
        match tile.get(offset..offset + count) {
            Some([single]) => Ok(*single),
            Some(hashes) => Ok(perfect_root(hashes)),
            None => Err(LedgerError::TileTooShort {
                level: id.level,
                index: id.index,
                want: (offset + count) as u64,
                got: tile.len() as u64,
            }
            .into()),
        }
    }

    /// The RFC 6962 hash of leaves `[begin, end)`, a range that starts at a
    /// multiple of the smallest power of two at least as large as its length
    /// (every range the RFC's recursive definitions use is such a range).
    pub(crate) fn range_hash(&mut self, begin: u64, end: u64) -> Result<Hash, R::Error> {
        let mut parts = Vec::new();
        for (level, index) in crate::compact::range_nodes(begin, end) {
            parts.push(self.node(level, index)?);
        }
        Ok(fold_right(&parts).unwrap_or_else(empty_root))
    }
}

/// The hash of the perfect subtree at tree level `level` (0 = leaves) with
/// index `index`, read from the tiles of a tree of `size` leaves.
///
/// The subtree must be complete at `size`. One tile of tile level
/// `level / 8` is read and its hashes are combined `level % 8` times, so at
/// most 128 hashes are hashed.
pub fn subtree_hash<R>(reader: &mut R, level: u32, index: u64, size: u64) -> Result<Hash, R::Error>
where
    R: TileReader + ?Sized,
    R::Error: From<LedgerError>,
{
    TileCache::new(reader, size).node(level, index)
}

/// Appends leaves to a tree stored as tiles, without recomputing anything
/// that is already stored.
///
/// The appender holds the right edge of the tree: for each tile level, the
/// hashes of its right-most (partial) tile. That is enough to append leaves
/// and to compute the root. Tiles that fill up are kept until
/// [`take_dirty_tiles`](Self::take_dirty_tiles) hands them out (8 KiB per
/// 256 leaves), so take them after each batch.
///
/// ```
/// use gatehouse_ledger::{Appender, MemoryTiles, leaf_hash, root_from_leaves};
///
/// let leaves: Vec<_> = (0u32..1000).map(|i| leaf_hash(&i.to_be_bytes())).collect();
/// let mut stored = MemoryTiles::from_leaves(&leaves[..600]);
/// let mut appender = Appender::load(600, &mut stored)?;
/// for leaf in &leaves[600..] {
///     appender.push(*leaf);
/// }
/// assert_eq!(appender.root(), root_from_leaves(&leaves));
/// let _changed_tiles = appender.take_dirty_tiles();
/// # Ok::<(), gatehouse_ledger::LedgerError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Appender {
    size: u64,
    /// `edges[t]` holds the hashes of the right-most, not yet full tile of
    /// tile level `t` (empty when the level ends exactly at a tile boundary).
    edges: Vec<Vec<Hash>>,
    /// Whether `edges[t]` changed since the last take.
    dirty: Vec<bool>,
    /// Tiles that became full since the last take.
    completed: Vec<(TileId, Vec<Hash>)>,
}

impl Appender {
    /// An appender for the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// An appender for a stored tree of `size` leaves.
    ///
    /// Reads only the right-most partial tile of each tile level, so at most
    /// one tile per level and none at a level that ends on a tile boundary.
    pub fn load<R>(size: u64, reader: &mut R) -> Result<Appender, R::Error>
    where
        R: TileReader + ?Sized,
        R::Error: From<LedgerError>,
    {
        let mut edges = Vec::new();
        let mut level = 0u32;
        loop {
            let total = level_width(level, size);
            if total == 0 {
                break;
            }
            let width = total % TILE_WIDTH;
            let edge = if width == 0 {
                Vec::with_capacity(TILE_WIDTH as usize)
            } else {
                let id = TileId {
                    level,
                    index: total / TILE_WIDTH,
                };
                let mut hashes = read_exact(reader, id, width)?;
                hashes.reserve(TILE_WIDTH as usize - hashes.len());
                hashes
            };
            edges.push(edge);
            level += 1;
        }
        Ok(Appender {
            size,
            dirty: vec![false; edges.len()],
            edges,
            completed: Vec::new(),
        })
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.size += 1;
        let mut hash = leaf;
        let mut level = 0usize;
        loop {
            if level == self.edges.len() {
                self.edges.push(Vec::with_capacity(TILE_WIDTH as usize));
                self.dirty.push(false);
            }
            self.edges[level].push(hash);
            self.dirty[level] = true;
            if self.edges[level].len() < TILE_WIDTH as usize {
                return;
            }
            let full = std::mem::replace(
                &mut self.edges[level],
                Vec::with_capacity(TILE_WIDTH as usize),
            );
            self.dirty[level] = false;
            hash = perfect_root(&full);
            let total = level_width(level as u32, self.size);
            let id = TileId {
                level: level as u32,
                index: total / TILE_WIDTH - 1,
            };
            self.completed.push((id, full));
            level += 1;
        }
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtrees that make up the tree, left to right.
    fn parts(&self) -> Vec<Hash> {
        let mut parts = Vec::new();
        for edge in self.edges.iter().rev() {
            let mut start = 0usize;
            for bit in (0..TILE_HEIGHT).rev() {
                let len = 1usize << bit;
                if edge.len() & len != 0 {
                    parts.push(perfect_root(&edge[start..start + len]));
                    start += len;
                }
            }
        }
        parts
    }

    /// The RFC 6962 tree hash of all leaves appended so far.
    ///
    /// Computed from the right edge held in memory: at most 255 hashes per
    /// tile level.
    pub fn root(&self) -> Hash {
        fold_right(&self.parts()).unwrap_or_else(empty_root)
    }

    /// The compact range `[0, size)`: the roots of the perfect subtrees the
    /// tree decomposes into.
    pub fn compact_range(&self) -> crate::CompactRange {
        crate::CompactRange::from_trusted_parts(0, self.size, self.parts())
    }

    /// Returns every tile that changed since the appender was loaded or since
    /// the last call, with its whole content, ready to be upserted.
    ///
    /// Tiles that became full are included (with all 256 hashes) as well as
    /// the partial right-most tiles that changed.
    pub fn take_dirty_tiles(&mut self) -> Vec<(TileId, Vec<Hash>)> {
        let mut out = std::mem::take(&mut self.completed);
        for (level, edge) in self.edges.iter().enumerate() {
            if self.dirty[level] && !edge.is_empty() {
                let id = TileId {
                    level: level as u32,
                    index: level_width(level as u32, self.size) / TILE_WIDTH,
                };
                out.push((id, edge.clone()));
            }
        }
        self.dirty.iter_mut().for_each(|d| *d = false);
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{MemoryTiles, leaf_hash, root_from_leaves};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn widths() {
        assert_eq!(tile_width(0, 0, 0), 0);
        assert_eq!(tile_width(0, 0, 1), 1);
        assert_eq!(tile_width(0, 0, 256), 256);
        assert_eq!(tile_width(0, 1, 256), 0);
        assert_eq!(tile_width(0, 1, 300), 44);
        assert_eq!(tile_width(1, 0, 300), 1);
        assert_eq!(tile_width(1, 0, 255), 0);
        assert_eq!(tile_width(1, 0, 65536), 256);
        assert_eq!(tile_width(2, 0, 65536), 1);
        assert_eq!(tile_width(8, 0, u64::MAX), 0);
        assert_eq!(tile_width(7, 0, u64::MAX), 255);
        assert_eq!(tile_width(0, u64::MAX, u64::MAX), 0);
    }

    #[test]
    fn tile_encoding() {
        let l = leaves(3);
        let data = encode_tile(&l);
        assert_eq!(data.len(), 96);
        assert_eq!(decode_tile(&data).unwrap(), l);
        assert!(decode_tile(&data[1..]).is_err());
        assert!(decode_tile(&[0u8; 32 * 257]).is_err());
        assert_eq!(decode_tile(&[]).unwrap(), Vec::<Hash>::new());
    }

    #[test]
    fn subtree_hashes() {
        let l = leaves(70_000);
        let mut tiles = MemoryTiles::from_leaves(&l);
        let size = l.len() as u64;
        for (level, index) in [
            (0, 5),
            (1, 3),
            (7, 2),
            (8, 0),
            (8, 272),
            (9, 1),
            (15, 1),
            (16, 0),
        ] {
            let width = 1usize << level;
            let start = index as usize * width;
            let want = root_from_leaves(&l[start..start + width]);
            assert_eq!(subtree_hash(&mut tiles, level, index, size).unwrap(), want);
        }
        assert!(subtree_hash(&mut tiles, 16, 1, size).is_err());
        assert!(subtree_hash(&mut tiles, 0, size, size).is_err());
        assert!(subtree_hash(&mut tiles, 70, 0, size).is_err());
        // An older size reads a narrower tile and still works.
        assert_eq!(subtree_hash(&mut tiles, 0, 9, 10).unwrap(), l[9]);
    }

    #[test]
    fn appender_edge_sizes() {
        let l = leaves(65536 + 300);
        let mut a = Appender::new();
        assert_eq!(a.root(), empty_root());
        for (i, leaf) in l.iter().enumerate() {
            a.push(*leaf);
            let n = i + 1;
            let spot = [768, 1024, 4096, 65280, 65535, 65536, 65537, 65792, l.len()];
            if n <= 600 || spot.contains(&n) {
                assert_eq!(a.root(), root_from_leaves(&l[..n]), "size {n}");
            }
        }
        for size in [0u64, 1, 255, 256, 257, 512, 65535, 65536, 65537, 65836] {
            let mut tiles = MemoryTiles::from_leaves(&l[..size as usize]);
            let b = Appender::load(size, &mut tiles).unwrap();
            assert_eq!(b.size(), size);
            assert_eq!(
                b.root(),
                root_from_leaves(&l[..size as usize]),
                "size {size}"
            );
        }
    }

    /// A reader that counts the tiles it serves.
    struct Counting<'a>(&'a mut MemoryTiles, Vec<TileId>);

    impl TileReader for Counting<'_> {
        type Error = LedgerError;
        fn read_tile(&mut self, id: TileId, width: u64) -> Result<Vec<Hash>, LedgerError> {
            self.1.push(id);
            self.0.read_tile(id, width)
        }
    }

    #[test]
    fn load_reads_only_edges() {
        let l = leaves(65536 + 256 + 3);
        let mut tiles = MemoryTiles::from_leaves(&l);
        let mut c = Counting(&mut tiles, Vec::new());
        let a = Appender::load(l.len() as u64, &mut c).unwrap();
        assert_eq!(a.root(), root_from_leaves(&l));
        // Level 0 tile 257 has 3 hashes, level 1 tile 1 has 1, level 2 tile 0 has 1.
        assert_eq!(
            c.1,
            vec![
                TileId {
                    level: 0,
                    index: 257
                },
                TileId { level: 1, index: 1 },
                TileId { level: 2, index: 0 }
            ]
        );
        let mut c = Counting(&mut tiles, Vec::new());
        Appender::load(65536, &mut c).unwrap();
        assert_eq!(c.1, vec![TileId { level: 2, index: 0 }]);
    }

    #[test]
    fn dirty_tiles_rebuild_the_store() {
        let l = leaves(70_000);
        let mut store: BTreeMap<TileId, Vec<Hash>> = BTreeMap::new();
        let mut a = Appender::new();
        let mut pos = 0usize;
        for batch in [1usize, 254, 1, 1, 300, 65_000, 3, 4_440] {
            for leaf in &l[pos..pos + batch] {
                a.push(*leaf);
            }
            pos += batch;
            for (id, hashes) in a.take_dirty_tiles() {
                store.insert(id, hashes);
            }
            assert!(a.take_dirty_tiles().is_empty());
        }
        assert_eq!(pos, l.len());
        let mut want = MemoryTiles::from_leaves(&l);
        for (id, hashes) in &store {
            let w = tile_width(id.level, id.index, l.len() as u64);
            assert_eq!(hashes.len() as u64, w, "{id}");
            assert_eq!(&want.read_tile(*id, w).unwrap(), hashes, "{id}");
        }
        // 274 leaf tiles, 2 tiles at level 1, 1 at level 2.
        assert_eq!(store.len(), 274 + 2 + 1);
    }
}
