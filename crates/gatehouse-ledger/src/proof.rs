//! Tree roots, inclusion proofs and consistency proofs (RFC 9162 §2.1).

use serde::{Deserialize, Serialize};

use crate::hash::{hash_to_hex, node_hash};
use crate::reference::largest_power_of_two_below;
use crate::tile::{TileCache, TileReader};
use crate::{Hash, LedgerError, empty_root};

/// Proof that a leaf is in a tree of a given size (RFC 9162 §2.1.3).
///
/// In JSON the hashes are lowercase hex strings:
/// `{"index":5,"size":8,"hashes":["…","…","…"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Zero-based index of the leaf.
    pub index: u64,
    /// Size of the tree the proof is for.
    pub size: u64,
    /// The audit path, from the leaf's sibling up.
    #[serde(with = "crate::serde_hex::hashes")]
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// Checks the proof for `leaf` against the `root` of a tree of
    /// `self.size` leaves.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), LedgerError> {
        verify_inclusion(leaf, self.index, self.size, &self.hashes, root)
    }
}

/// Proof that a tree of `old_size` leaves is a prefix of a tree of
/// `new_size` leaves (RFC 9162 §2.1.4).
///
/// In JSON the hashes are lowercase hex strings:
/// `{"old_size":3,"new_size":7,"hashes":["…"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// The consistency path.
    #[serde(with = "crate::serde_hex::hashes")]
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks the proof against the roots of the two trees.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), LedgerError> {
        verify_consistency(
            self.old_size,
            self.new_size,
            &self.hashes,
            old_root,
            new_root,
        )
    }
}

/// The RFC 6962 root of the tree of `size` leaves, from stored subtree
/// hashes: one per set bit of `size`, read from at most one tile per tile
/// level.
pub fn root<R>(reader: &mut R, size: u64) -> Result<Hash, R::Error>
where
    R: TileReader + ?Sized,
    R::Error: From<LedgerError>,
{
    TileCache::new(reader, size).range_hash(0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves
/// (RFC 9162 §2.1.3.1).
///
/// Uses O(log n) stored subtree hashes; each tile is read at most once, so a
/// proof in a tree of ten million leaves reads a handful of tiles.
pub fn inclusion_proof<R>(reader: &mut R, index: u64, size: u64) -> Result<InclusionProof, R::Error>
where
    R: TileReader + ?Sized,
    R::Error: From<LedgerError>,
{
    if index >= size {
        return Err(LedgerError::IndexOutOfRange { index, size }.into());
    }
    let mut cache = TileCache::new(reader, size);
    // PATH(m, D[lo:hi]) as in the RFC, unrolled; hashes are found from the
    // root down and the proof lists them from the leaf up.
    let (mut lo, mut hi) = (0u64, size);
    let mut hashes = Vec::new();
    while hi - lo > 1 {
        let k = largest_power_of_two_below(hi - lo);
        if index - lo < k {
            hashes.push(cache.range_hash(lo + k, hi)?);
            hi = lo + k;
        } else {
            hashes.push(cache.range_hash(lo, lo + k)?);
            lo += k;
        }
    }
    hashes.reverse();
    Ok(InclusionProof {
        index,
        size,
        hashes,
    })
}

/// The consistency proof from the tree of `old_size` leaves to the tree of
/// `new_size` leaves (RFC 9162 §2.1.4.1).
///
/// The proof is empty when the sizes are equal or `old_size` is 0.
pub fn consistency_proof<R>(
    reader: &mut R,
    old_size: u64,
    new_size: u64,
) -> Result<ConsistencyProof, R::Error>
where
    R: TileReader + ?Sized,
    R::Error: From<LedgerError>,
{
    if old_size > new_size {
        return Err(LedgerError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        }
        .into());
    }
    let mut hashes = Vec::new();
    if old_size > 0 && old_size < new_size {
        let mut cache = TileCache::new(reader, new_size);
        // SUBPROOF(m, D[lo:hi], b) as in the RFC, unrolled.
        let (mut lo, mut hi, mut whole) = (0u64, new_size, true);
        loop {
            if old_size == hi {
                if !whole {
                    hashes.push(cache.range_hash(lo, hi)?);
                }
                break;
            }
            let k = largest_power_of_two_below(hi - lo);
            if old_size <= lo + k {
                hashes.push(cache.range_hash(lo + k, hi)?);
                hi = lo + k;
            } else {
                hashes.push(cache.range_hash(lo, lo + k)?);
                lo += k;
                whole = false;
            }
        }
        hashes.reverse();
    }
    Ok(ConsistencyProof {
        old_size,
        new_size,
        hashes,
    })
}

/// Shifts `fn_` and `sn` right together until `fn_` is odd or zero.
fn shift_to_odd(fn_: &mut u64, sn: &mut u64) {
    while *fn_ & 1 == 0 && *fn_ != 0 {
        *fn_ >>= 1;
        *sn >>= 1;
    }
}

/// How many hashes the inclusion proof of `index` in a tree of `size`
/// has (`index < size`).
fn inclusion_len(index: u64, size: u64) -> usize {
    let (mut fn_, mut sn) = (index, size - 1);
    let mut n = 0;
    while sn != 0 {
        if fn_ & 1 == 0 && fn_ == sn {
            shift_to_odd(&mut fn_, &mut sn);
        }
        fn_ >>= 1;
        sn >>= 1;
        n += 1;
    }
    n
}

/// How many hashes the consistency proof between two sizes has
/// (`0 < old < new`).
fn consistency_len(old: u64, new: u64) -> usize {
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut n = usize::from(!old.is_power_of_two());
    while sn != 0 {
        if fn_ & 1 == 0 && fn_ == sn {
            shift_to_odd(&mut fn_, &mut sn);
        }
        fn_ >>= 1;
        sn >>= 1;
        n += 1;
    }
    n
}

fn root_mismatch(computed: &Hash, expected: &Hash) -> LedgerError {
    LedgerError::RootMismatch {
        computed: hash_to_hex(computed),
        expected: hash_to_hex(expected),
    }
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose
/// root is `root`, given its audit path (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LedgerError> {
    if index >= size {
        return Err(LedgerError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_len(index, size);
    if proof.len() != expected {
        return Err(LedgerError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                shift_to_odd(&mut fn_, &mut sn);
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        // Unreachable given the length check; kept as the RFC states it.
        return Err(LedgerError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    if r != *root {
        return Err(root_mismatch(&r, root));
    }
    Ok(())
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a
/// prefix of the tree of `new_size` leaves with root `new_root`
/// (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. Old size 0 needs an
/// empty proof and `old_root` equal to [`empty_root`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), LedgerError> {
    if old_size > new_size {
        return Err(LedgerError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    let inconsistent = || LedgerError::InconsistentRoots {
        old_size,
        new_size,
        old: hash_to_hex(old_root),
        new: hash_to_hex(new_root),
    };
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(LedgerError::ProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        let ok = if old_size == 0 {
            *old_root == empty_root() && (new_size > 0 || *new_root == empty_root())
        } else {
            old_root == new_root
        };
        return if ok { Ok(()) } else { Err(inconsistent()) };
    }
    let expected = consistency_len(old_size, new_size);
    if proof.len() != expected {
        return Err(LedgerError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    let (first, rest): (&Hash, &[Hash]) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        match proof.split_first() {
            Some(split) => split,
            None => {
                return Err(LedgerError::ProofLength { expected, got: 0 });
            }
        }
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                shift_to_odd(&mut fn_, &mut sn);
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(LedgerError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    if fr != *old_root {
        return Err(root_mismatch(&fr, old_root));
    }
    if sr != *new_root {
        return Err(root_mismatch(&sr, new_root));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{MemoryTiles, leaf_hash, root_from_leaves};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn lengths_match_generated_proofs() {
        let l = leaves(70);
        let mut t = MemoryTiles::from_leaves(&l);
        for size in 1..=70u64 {
            for index in 0..size {
                let p = inclusion_proof(&mut t, index, size).unwrap();
                assert_eq!(p.hashes.len(), inclusion_len(index, size), "{index} {size}");
            }
            for old in 1..size {
                let p = consistency_proof(&mut t, old, size).unwrap();
                assert_eq!(p.hashes.len(), consistency_len(old, size), "{old} {size}");
            }
        }
    }

    #[test]
    fn exhaustive_small_trees() {
        let l = leaves(40);
        let mut t = MemoryTiles::from_leaves(&l);
        let roots: Vec<Hash> = (0..=40).map(|n| root_from_leaves(&l[..n])).collect();
        for size in 0..=40u64 {
            assert_eq!(root(&mut t, size).unwrap(), roots[size as usize]);
            for index in 0..size {
                let p = inclusion_proof(&mut t, index, size).unwrap();
                p.verify(&l[index as usize], &roots[size as usize]).unwrap();
                if size > 1 {
                    let wrong = (index + 1) % size;
                    assert!(
                        verify_inclusion(
                            &l[index as usize],
                            wrong,
                            size,
                            &p.hashes,
                            &roots[size as usize]
                        )
                        .is_err()
                    );
                }
            }
            for old in 0..=size {
                let p = consistency_proof(&mut t, old, size).unwrap();
                p.verify(&roots[old as usize], &roots[size as usize])
                    .unwrap();
                if old > 0 && old < size {
                    assert!(
                        p.verify(&roots[old as usize - 1], &roots[size as usize])
                            .is_err()
                    );
                    assert!(
                        verify_consistency(
                            old,
                            size,
                            &p.hashes,
                            &roots[size as usize],
                            &roots[old as usize]
                        )
                        .is_err()
                    );
                }
            }
        }
        assert!(inclusion_proof(&mut t, 5, 5).is_err());
        assert!(consistency_proof(&mut t, 6, 5).is_err());
    }

    #[test]
    fn trivial_consistency_cases() {
        let e = empty_root();
        let a = leaf_hash(b"a");
        assert!(verify_consistency(0, 0, &[], &e, &e).is_ok());
        assert!(verify_consistency(0, 0, &[], &e, &a).is_err());
        assert!(verify_consistency(0, 3, &[], &e, &a).is_ok());
        assert!(verify_consistency(0, 3, &[], &a, &a).is_err());
        assert!(verify_consistency(0, 3, &[a], &e, &a).is_err());
        assert!(verify_consistency(3, 3, &[], &a, &a).is_ok());
        assert!(verify_consistency(3, 3, &[], &a, &e).is_err());
        assert!(verify_consistency(3, 3, &[e], &a, &a).is_err());
        assert!(verify_consistency(4, 3, &[], &a, &a).is_err());
        assert!(verify_consistency(1, 2, &[], &a, &a).is_err());
    }

    #[test]
    fn json_form() {
        let p = InclusionProof {
            index: 1,
            size: 2,
            hashes: vec![[0xab; 32]],
        };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            format!(
                "{{\"index\":1,\"size\":2,\"hashes\":[\"{}\"]}}",
                "ab".repeat(32)
            )
        );
        assert_eq!(serde_json::from_str::<InclusionProof>(&json).unwrap(), p);
        assert!(serde_json::from_str::<InclusionProof>(&json.replace("ab", "AB")).is_err());
    }
}
