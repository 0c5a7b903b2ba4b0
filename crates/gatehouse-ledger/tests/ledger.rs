//! Integration tests: published RFC 6962 vectors, property tests of the
//! tile-based tree against the reference tree hash, and evidence bundles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use gatehouse_ledger::bundle::{
    BundleError, BundleEvidence, BundleKey, BundleWriter, verify_bundle, verify_bundle_with,
};
use gatehouse_ledger::*;
use proptest::prelude::*;

fn dh(s: &str) -> Hash {
    hash_from_hex(s).unwrap()
}

// ---------------------------------------------------------------------------
// Known-answer vectors from transparency-dev/merkle proof/verify_test.go
// (the RFC 6962 vectors also used by google/certificate-transparency-go).

const KAT_LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

const KAT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf number from 1, tree size, proof)
const KAT_INCLUSION: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

const KAT_CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

const SOME_HASH: &str = "abacaba000000000000000000000000000000000000000000060061e00123456";

fn kat_leaf_hashes() -> Vec<Hash> {
    KAT_LEAVES.iter().map(|l| leaf_hash(l)).collect()
}

#[test]
fn kat_roots() {
    let leaves = kat_leaf_hashes();
    let mut tiles = MemoryTiles::from_leaves(&leaves);
    let mut appender = Appender::new();
    for (n, want) in KAT_ROOTS.iter().enumerate() {
        let size = n as u64 + 1;
        appender.push(leaves[n]);
        assert_eq!(
            root_from_leaves(&leaves[..=n]),
            dh(want),
            "reference, size {size}"
        );
        assert_eq!(
            root(&mut tiles, size).unwrap(),
            dh(want),
            "tiles, size {size}"
        );
        assert_eq!(appender.root(), dh(want), "appender, size {size}");
    }
    assert_eq!(root(&mut tiles, 0).unwrap(), empty_root());
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[bit / 8] ^= 1 << (bit % 8);
    h
}

#[test]
fn kat_inclusion_proofs() {
    let leaves = kat_leaf_hashes();
    let mut tiles = MemoryTiles::from_leaves(&leaves);
    let some = dh(SOME_HASH);
    for (leaf, size, want) in KAT_INCLUSION {
        let index = leaf - 1;
        let want: Vec<Hash> = want.iter().map(|h| dh(h)).collect();
        let root = dh(KAT_ROOTS[size as usize - 1]);
        let lh = leaves[index as usize];
        let proof = inclusion_proof(&mut tiles, index, size).unwrap();
        assert_eq!(proof.hashes, want, "proof for leaf {index} at size {size}");
        verify_inclusion(&lh, index, size, &want, &root).unwrap();

        // The corruptions of the Go verifier tests must all be rejected.
        let mut probes: Vec<(String, u64, u64, Hash, Vec<Hash>, Hash)> = vec![
            (
                "index - 1".into(),
                index.wrapping_sub(1),
                size,
                lh,
                want.clone(),
                root,
            ),
            ("index + 1".into(), index + 1, size, lh, want.clone(), root),
            ("index ^ 2".into(), index ^ 2, size, lh, want.clone(), root),
            ("size * 2".into(), index, size * 2, lh, want.clone(), root),
            ("size / 2".into(), index, size / 2, lh, want.clone(), root),
            (
                "wrong leaf".into(),
                index,
                size,
                leaf_hash(b"WrongLeaf"),
                want.clone(),
                root,
            ),
            (
                "empty root".into(),
                index,
                size,
                lh,
                want.clone(),
                empty_root(),
            ),
            ("random root".into(), index, size, lh, want.clone(), some),
        ];
        let with = |v: Vec<Hash>| v;
        probes.push((
            "trailing garbage".into(),
            index,
            size,
            lh,
            with([want.clone(), vec![[0; 32]]].concat()),
            root,
        ));
        probes.push((
            "trailing root".into(),
            index,
            size,
            lh,
            with([want.clone(), vec![root]].concat()),
            root,
        ));
        probes.push((
            "preceding garbage".into(),
            index,
            size,
            lh,
            with([vec![[0; 32]], want.clone()].concat()),
            root,
        ));
        probes.push((
            "preceding root".into(),
            index,
            size,
            lh,
            with([vec![root], want.clone()].concat()),
            root,
        ));
        for i in 0..want.len() {
            let mut p = want.clone();
            p[i] = flip(&p[i], 3);
            probes.push((format!("modified proof[{i}]"), index, size, lh, p, root));
        }
        if !want.is_empty() {
            probes.push((
                "removed component".into(),
                index,
                size,
                lh,
                want[..want.len() - 1].to_vec(),
                root,
            ));
        }
        if want.len() > 1 {
            let p = [vec![want[0], some], want[1..].to_vec()].concat();
            probes.push(("inserted component".into(), index, size, lh, p, root));
        }
        for (desc, i, s, l, p, r) in probes {
            assert!(
                verify_inclusion(&l, i, s, &p, &r).is_err(),
                "accepted {desc} for leaf {index} size {size}"
            );
        }
    }
}

#[test]
fn kat_consistency_proofs() {
    let leaves = kat_leaf_hashes();
    let mut tiles = MemoryTiles::from_leaves(&leaves);
    let some = dh(SOME_HASH);
    for (s1, s2, want) in KAT_CONSISTENCY {
        let want: Vec<Hash> = want.iter().map(|h| dh(h)).collect();
        let (r1, r2) = (
            dh(KAT_ROOTS[s1 as usize - 1]),
            dh(KAT_ROOTS[s2 as usize - 1]),
        );
        let proof = consistency_proof(&mut tiles, s1, s2).unwrap();
        assert_eq!(proof.hashes, want, "proof {s1} -> {s2}");
        verify_consistency(s1, s2, &want, &r1, &r2).unwrap();
        if want.is_empty() {
            continue;
        }
        let wrong = leaf_hash(b"WrongRoot");
        let cat = |a: Vec<Hash>, b: Vec<Hash>| [a, b].concat();
        let mut probes: Vec<(String, u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            ("size1 - 1".into(), s1 - 1, s2, r1, r2, want.clone()),
            ("size1 + 1".into(), s1 + 1, s2, r1, r2, want.clone()),
            ("size1 ^ 2".into(), s1 ^ 2, s2, r1, r2, want.clone()),
            ("size2 * 2".into(), s1, s2 * 2, r1, r2, want.clone()),
            ("size2 / 2".into(), s1, s2 / 2, r1, r2, want.clone()),
            ("wrong root1".into(), s1, s2, wrong, r2, want.clone()),
            ("wrong root2".into(), s1, s2, r1, wrong, want.clone()),
            ("swapped roots".into(), s1, s2, r2, r1, want.clone()),
            ("empty proof".into(), s1, s2, r1, r2, vec![]),
            (
                "trailing garbage".into(),
                s1,
                s2,
                r1,
                r2,
                cat(want.clone(), vec![[0; 32]]),
            ),
            (
                "trailing root1".into(),
                s1,
                s2,
                r1,
                r2,
                cat(want.clone(), vec![r1]),
            ),
            (
                "trailing root2".into(),
                s1,
                s2,
                r1,
                r2,
                cat(want.clone(), vec![r2]),
            ),
            (
                "preceding garbage".into(),
                s1,
                s2,
                r1,
                r2,
                cat(vec![[0; 32]], want.clone()),
            ),
            (
                "preceding root1".into(),
                s1,
                s2,
                r1,
                r2,
                cat(vec![r1], want.clone()),
            ),
            (
                "preceding root2".into(),
                s1,
                s2,
                r1,
                r2,
                cat(vec![r2], want.clone()),
            ),
            (
                "preceding proof[0]".into(),
                s1,
                s2,
                r1,
                r2,
                cat(vec![want[0]], want.clone()),
            ),
            (
                "truncated".into(),
                s1,
                s2,
                r1,
                r2,
                want[..want.len() - 1].to_vec(),
            ),
            ("some root".into(), s1, s2, r1, some, want.clone()),
        ];
        for i in 0..want.len() {
            let mut p = want.clone();
            p[i] = flip(&p[i], 4);
            probes.push((format!("modified proof[{i}]"), s1, s2, r1, r2, p));
        }
        for (desc, a, b, ra, rb, p) in probes {
            assert!(
                verify_consistency(a, b, &p, &ra, &rb).is_err(),
                "accepted {desc} for {s1} -> {s2}"
            );
        }
    }
}

#[test]
fn proofs_serialise_as_hex_json() {
    let leaves = kat_leaf_hashes();
    let mut tiles = MemoryTiles::from_leaves(&leaves);
    let p = consistency_proof(&mut tiles, 6, 8).unwrap();
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.starts_with(
        r#"{"old_size":6,"new_size":8,"hashes":["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a","#
    ));
    let back: ConsistencyProof = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
}

// ---------------------------------------------------------------------------
// Property tests.

fn make_leaves(n: u64, salt: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("{salt}:{i}").as_bytes()))
        .collect()
}

/// A tile store filled only from `Appender::take_dirty_tiles`, the way the
/// database uses it.
#[derive(Default)]
struct TileMap {
    tiles: HashMap<TileId, Vec<Hash>>,
    reads: usize,
}

impl TileReader for TileMap {
    type Error = LedgerError;

    fn read_tile(&mut self, id: TileId, width: u64) -> Result<Vec<Hash>, LedgerError> {
        self.reads += 1;
        let tile = self.tiles.get(&id).map_or(&[][..], |t| t.as_slice());
        if (tile.len() as u64) < width {
            return Err(LedgerError::TileTooShort {
                level: id.level,
                index: id.index,
                want: width,
                got: tile.len() as u64,
            });
        }
        Ok(tile[..width as usize].to_vec())
    }
}

impl TileMap {
    fn apply(&mut self, dirty: Vec<(TileId, Vec<Hash>)>) {
        for (id, hashes) in dirty {
            self.tiles.insert(id, hashes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn appender_root_matches_reference(n in 0u64..3000, salt in any::<u64>()) {
        let leaves = make_leaves(n, salt);
        let mut a = Appender::new();
        for l in &leaves {
            a.push(*l);
        }
        prop_assert_eq!(a.size(), n);
        prop_assert_eq!(a.root(), root_from_leaves(&leaves));
        let mut tiles = MemoryTiles::from_leaves(&leaves);
        prop_assert_eq!(root(&mut tiles, n).unwrap(), root_from_leaves(&leaves));
        prop_assert_eq!(a.compact_range().root().unwrap(), root_from_leaves(&leaves));
    }

    #[test]
    fn proofs_from_tiles_verify(
        n in 1u64..2500,
        picks in proptest::collection::vec((any::<u64>(), any::<u64>(), any::<u64>()), 12),
        salt in any::<u64>(),
    ) {
        let leaves = make_leaves(n, salt);
        let mut tiles = MemoryTiles::from_leaves(&leaves);
        for (a, b, c) in picks {
            // size <= later <= n; index < size
            let size = a % n + 1;
            let later = size + b % (n - size + 1);
            let index = c % size;
            let root_size = root_from_leaves(&leaves[..size as usize]);
            let root_later = root_from_leaves(&leaves[..later as usize]);
            let leaf = leaves[index as usize];

            let p = inclusion_proof(&mut tiles, index, size).unwrap();
            prop_assert!(p.verify(&leaf, &root_size).is_ok());
            let q = inclusion_proof(&mut tiles, index, later).unwrap();
            prop_assert!(q.verify(&leaf, &root_later).is_ok());
            let cp = consistency_proof(&mut tiles, size, later).unwrap();
            prop_assert!(cp.verify(&root_size, &root_later).is_ok());

            // Flip one bit of a proof hash, the leaf or a root: must fail.
            let bit = (a ^ b ^ c) as usize % 256;
            if !p.hashes.is_empty() {
                let mut bad = p.hashes.clone();
                let i = (b as usize) % bad.len();
                bad[i] = flip(&bad[i], bit);
                prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root_size).is_err());
            }
            prop_assert!(verify_inclusion(&flip(&leaf, bit), index, size, &p.hashes, &root_size).is_err());
            prop_assert!(verify_inclusion(&leaf, index, size, &p.hashes, &flip(&root_size, bit)).is_err());
            if size < later {
                let mut bad = cp.hashes.clone();
                let i = (c as usize) % bad.len();
                bad[i] = flip(&bad[i], bit);
                prop_assert!(verify_consistency(size, later, &bad, &root_size, &root_later).is_err());
                prop_assert!(verify_consistency(size, later, &cp.hashes, &flip(&root_size, bit), &root_later).is_err());
                prop_assert!(verify_consistency(size, later, &cp.hashes, &root_size, &flip(&root_later, bit)).is_err());
            }
        }
    }

    #[test]
    fn dropping_or_swapping_leaves_changes_the_root(n in 2u64..1500, i in any::<u64>(), j in any::<u64>(), salt in any::<u64>()) {
        let leaves = make_leaves(n, salt);
        let want = root_from_leaves(&leaves);
        let (i, j) = ((i % n) as usize, (j % n) as usize);
        let mut dropped = leaves.clone();
        dropped.remove(i);
        let mut a = Appender::new();
        dropped.iter().for_each(|l| a.push(*l));
        prop_assert_ne!(a.root(), want);
        if i != j {
            let mut swapped = leaves.clone();
            swapped.swap(i, j);
            let mut a = Appender::new();
            swapped.iter().for_each(|l| a.push(*l));
            prop_assert_ne!(a.root(), want);
        }
    }

    #[test]
    fn dirty_tiles_serve_every_query(
        batches in proptest::collection::vec(0u64..700, 1..12),
        picks in proptest::collection::vec((any::<u64>(), any::<u64>()), 6),
        salt in any::<u64>(),
    ) {
        let total: u64 = batches.iter().sum();
        let leaves = make_leaves(total, salt);
        let mut store = TileMap::default();
        let mut appender = Appender::new();
        let mut size = 0u64;
        for batch in &batches {
            // Reload from the store half of the time, as a new process would.
            if batch % 2 == 0 {
                appender = Appender::load(size, &mut store).unwrap();
            }
            for l in &leaves[size as usize..(size + batch) as usize] {
                appender.push(*l);
            }
            size += batch;
            store.apply(appender.take_dirty_tiles());
            let want = root_from_leaves(&leaves[..size as usize]);
            prop_assert_eq!(appender.root(), want);
            prop_assert_eq!(root(&mut store, size).unwrap(), want);
        }
        let mut mem = MemoryTiles::from_leaves(&leaves);
        if total > 0 {
            for (a, b) in picks {
                let s = a % total + 1;
                let index = b % s;
                let from_store = inclusion_proof(&mut store, index, s).unwrap();
                prop_assert_eq!(&from_store, &inclusion_proof(&mut mem, index, s).unwrap());
                let old = b % (s + 1);
                let c1 = consistency_proof(&mut store, old, s).unwrap();
                prop_assert_eq!(&c1, &consistency_proof(&mut mem, old, s).unwrap());
                let cr = compact_range(&mut store, old, s).unwrap();
                prop_assert_eq!(&cr, &compact_range(&mut mem, old, s).unwrap());
            }
        }
    }

    #[test]
    fn compact_ranges_merge_to_the_root(n in 0u64..2000, cuts in proptest::collection::vec(any::<u64>(), 0..5), salt in any::<u64>()) {
        let leaves = make_leaves(n, salt);
        let mut cuts: Vec<u64> = cuts.iter().map(|c| if n == 0 { 0 } else { c % (n + 1) }).collect();
        cuts.push(0);
        cuts.push(n);
        cuts.sort_unstable();
        let mut tiles = MemoryTiles::from_leaves(&leaves);
        let mut all = CompactRange::new(0);
        for w in cuts.windows(2) {
            let part = if w[0] % 2 == 0 {
                compact_range(&mut tiles, w[0], w[1]).unwrap()
            } else {
                let mut r = CompactRange::new(w[0]);
                leaves[w[0] as usize..w[1] as usize].iter().for_each(|l| r.append(*l));
                r
            };
            all.merge(part).unwrap();
        }
        prop_assert_eq!(all.root().unwrap(), root_from_leaves(&leaves));
    }
}

#[test]
fn large_trees() {
    // Sizes around tile and tile-of-tile boundaries, and one past 2^17.
    let leaves = make_leaves(131_072 + 300, 7);
    let mut tiles = MemoryTiles::from_leaves(&leaves);
    let mut store = TileMap::default();
    let mut appender = Appender::new();
    let mut pushed = 0usize;
    for size in [
        65_535u64,
        65_536,
        65_537,
        65_536 + 256,
        131_071,
        131_072,
        131_372,
    ] {
        for l in &leaves[pushed..size as usize] {
            appender.push(*l);
        }
        pushed = size as usize;
        store.apply(appender.take_dirty_tiles());
        let want = root_from_leaves(&leaves[..pushed]);
        assert_eq!(appender.root(), want, "{size}");
        assert_eq!(root(&mut tiles, size).unwrap(), want, "{size}");
        assert_eq!(
            Appender::load(size, &mut store).unwrap().root(),
            want,
            "{size}"
        );
        for index in [0, size / 3, size - 257, size - 1] {
            let p = inclusion_proof(&mut store, index, size).unwrap();
            p.verify(&leaves[index as usize], &want).unwrap();
        }
        for old in [1, 255, 256, 65_535, size - 1] {
            let p = consistency_proof(&mut store, old, size).unwrap();
            p.verify(&root_from_leaves(&leaves[..old as usize]), &want)
                .unwrap();
        }
    }
}

/// A reader of an imaginary huge tree: any tile exists, with made-up
/// hashes. Counts the distinct tiles asked for.
struct Imaginary {
    read: Vec<TileId>,
}

impl TileReader for Imaginary {
    type Error = LedgerError;

    fn read_tile(&mut self, id: TileId, width: u64) -> Result<Vec<Hash>, LedgerError> {
        if !self.read.contains(&id) {
            self.read.push(id);
        }
        Ok((0..width)
            .map(|i| leaf_hash(format!("{}/{}/{i}", id.level, id.index).as_bytes()))
            .collect())
    }
}

#[test]
fn proofs_in_a_ten_million_leaf_tree_read_few_tiles() {
    let size = 10_000_000u64;
    for index in [0u64, 4_999_999, 9_999_999, 9_999_744] {
        let mut r = Imaginary { read: Vec::new() };
        let p = inclusion_proof(&mut r, index, size).unwrap();
        assert!(p.hashes.len() <= 24);
        assert!(r.read.len() <= 6, "{index}: read {:?}", r.read);
    }
    let mut r = Imaginary { read: Vec::new() };
    consistency_proof(&mut r, 3_333_333, size).unwrap();
    assert!(r.read.len() <= 8, "read {:?}", r.read);
    let mut r = Imaginary { read: Vec::new() };
    root(&mut r, size).unwrap();
    // One partial right-edge tile per tile level.
    assert_eq!(r.read.len(), 3, "read {:?}", r.read);
    let mut r = Imaginary { read: Vec::new() };
    Appender::load(size, &mut r).unwrap();
    assert_eq!(r.read.len(), 3, "read {:?}", r.read);
}

#[test]
fn reader_errors_surface() {
    let leaves = make_leaves(600, 1);
    let mut tiles = MemoryTiles::from_leaves(&leaves[..300]);
    // The store holds 300 leaves; asking for a bigger tree fails cleanly.
    let err = root(&mut tiles, 600).unwrap_err();
    assert!(matches!(err, LedgerError::TileTooShort { .. }), "{err}");
    assert!(Appender::load(600, &mut tiles).is_err());
    assert!(inclusion_proof(&mut tiles, 599, 600).is_err());
}

// ---------------------------------------------------------------------------
// Bundles.

const ORIGIN: &str = "gatehouse.example/ledger";

fn event(seq: u64) -> Vec<u8> {
    let body = format!(
        r#"{{"seq":{seq},"kind":"access.granted","actor":"user-{a:05}","subject":"role/finance-approver","resource":"app/erp/{r}","reason":"quarterly review ticket GH-{t}","at":"2025-06-{d:02}T10:{m:02}:00Z""#,
        a = seq % 977,
        r = seq % 31,
        t = seq * 7 % 10_000,
        d = seq % 28 + 1,
        m = seq % 60
    );
    let pad = 250usize.saturating_sub(body.len() + 10);
    format!(r#"{body},"pad":"{}"}}"#, "x".repeat(pad)).into_bytes()
}

struct Ledger {
    events: Vec<Vec<u8>>,
    tiles: MemoryTiles,
    signer: NoteSigner,
}

impl Ledger {
    fn new(size: u64) -> Ledger {
        let events: Vec<Vec<u8>> = (1..=size).map(event).collect();
        let leaves: Vec<Hash> = events.iter().map(|e| leaf_hash(e)).collect();
        Ledger {
            events,
            tiles: MemoryTiles::from_leaves(&leaves),
            signer: NoteSigner::generate_from_seed(ORIGIN, [42; 32]).unwrap(),
        }
    }

    fn checkpoint(&mut self, size: u64) -> SignedCheckpoint {
        let root = root(&mut self.tiles, size).unwrap();
        SignedCheckpoint::sign(Checkpoint::new(ORIGIN, size, root), &self.signer).unwrap()
    }

    /// Writes a bundle of events `from..=to` at tree size `size`, with older
    /// checkpoints at `older` sizes.
    fn write(&mut self, dir: &Path, from: u64, to: u64, size: u64, older: &[u64]) {
        let mut w = BundleWriter::create(dir, ORIGIN, from, size).unwrap();
        for e in &self.events[from as usize - 1..to as usize] {
            w.push_event(e).unwrap();
        }
        let mut chain: Vec<u64> = older.to_vec();
        chain.push(size);
        let proofs = chain
            .windows(2)
            .map(|p| consistency_proof(&mut self.tiles, p[0], p[1]).unwrap())
            .collect();
        let evidence = BundleEvidence {
            left: compact_range(&mut self.tiles, 0, from - 1).unwrap(),
            right: compact_range(&mut self.tiles, to, size).unwrap(),
            checkpoint: self.checkpoint(size),
            key: self.signer.verifier(),
            older_checkpoints: older.iter().map(|s| self.checkpoint(*s)).collect(),
            consistency_proofs: proofs,
        };
        w.finish(evidence).unwrap();
    }
}

fn rewrite_events(dir: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let path = dir.join("events.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    f(&mut lines);
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(&path, out).unwrap();
}

fn fresh(ledger: &mut Ledger, from: u64, to: u64, size: u64, older: &[u64]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ledger.write(dir.path(), from, to, size, older);
    dir
}

#[test]
fn bundle_round_trip() {
    let mut ledger = Ledger::new(3000);
    let key = ledger.signer.verifier();
    for (from, to, size, older) in [
        (1u64, 3000u64, 3000u64, vec![]),
        (1, 1, 1, vec![]),
        (257, 1024, 2999, vec![5, 1024, 2000]),
        (1000, 1000, 3000, vec![1000]),
        (3000, 3000, 3000, vec![1, 2, 3]),
    ] {
        let dir = fresh(&mut ledger, from, to, size, &older);
        let report = verify_bundle(dir.path(), &key).unwrap();
        assert_eq!((report.from, report.to, report.tree_size), (from, to, size));
        assert_eq!(report.events_checked, to - from + 1);
        assert_eq!(report.root, root(&mut ledger.tiles, size).unwrap());
        assert_eq!(report.older_checkpoints, older);
        assert_eq!(report.consistency_proofs, older.len());
        assert_eq!(report.bundle_key, BundleKey::Matches);
        assert!(report.leaf_list);
        // The leaf list is optional.
        std::fs::remove_file(dir.path().join("leaves")).unwrap();
        std::fs::remove_file(dir.path().join("key.pub")).unwrap();
        let report = verify_bundle(dir.path(), &key).unwrap();
        assert!(!report.leaf_list);
        assert_eq!(report.bundle_key, BundleKey::Missing);
    }
    let dir = fresh(&mut ledger, 10, 20, 30, &[]);
    let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(value["format"], "gatehouse-ledger-bundle/1");
    assert_eq!(value["origin"], ORIGIN);
    assert_eq!(
        (
            value["from"].as_u64(),
            value["to"].as_u64(),
            value["tree_size"].as_u64()
        ),
        (Some(10), Some(20), Some(30))
    );
    assert!(value["left"][0].as_str().unwrap().len() == 64);
}

fn expect_event_error(err: BundleError, seq: u64, line: u64) -> String {
    match &err {
        BundleError::Event {
            seq: s, line: l, ..
        } if (*s, *l) == (seq, line) => err.to_string(),
        _ => panic!("expected an error at event {seq} line {line}, got: {err}"),
    }
}

#[test]
fn bundle_tampering_is_caught() {
    let mut ledger = Ledger::new(12_000);
    let key = ledger.signer.verifier();
    // Big enough (about 3 MB of events) to be checked on several threads.
    let (from, to, size) = (101u64, 11_900u64, 12_000u64);

    // An edited event, with its seq intact: the leaf list names it.
    let dir = fresh(&mut ledger, from, to, size, &[50, 7000]);
    rewrite_events(dir.path(), |l| {
        l[9000] = l[9000].replace("access.granted", "access.revoked")
    });
    let msg = expect_event_error(verify_bundle(dir.path(), &key).unwrap_err(), 9101, 9001);
    assert!(msg.contains("altered"), "{msg}");
    // Without the leaf list, the root does not match.
    std::fs::remove_file(dir.path().join("leaves")).unwrap();
    let err = verify_bundle(dir.path(), &key).unwrap_err();
    assert!(matches!(err, BundleError::RootMismatch { .. }), "{err}");

    // A deleted line.
    let dir = fresh(&mut ledger, from, to, size, &[]);
    rewrite_events(dir.path(), |l| {
        l.remove(6000);
    });
    let msg = expect_event_error(verify_bundle(dir.path(), &key).unwrap_err(), 6101, 6001);
    assert!(msg.contains("`seq` 6102 where 6101 was expected"), "{msg}");

    // Swapped lines.
    let dir = fresh(&mut ledger, from, to, size, &[]);
    rewrite_events(dir.path(), |l| l.swap(10, 11));
    expect_event_error(verify_bundle(dir.path(), &key).unwrap_err(), 111, 11);

    // A line that is not JSON.
    let dir = fresh(&mut ledger, from, to, size, &[]);
    rewrite_events(dir.path(), |l| l[11_000].truncate(40));
    let msg = expect_event_error(verify_bundle(dir.path(), &key).unwrap_err(), 11_101, 11_001);
    assert!(msg.contains("not valid JSON"), "{msg}");

    // The last line cut short, without its newline.
    let dir = fresh(&mut ledger, from, to, size, &[]);
    let path = dir.path().join("events.jsonl");
    let data = std::fs::read(&path).unwrap();
    std::fs::write(&path, &data[..data.len() - 10]).unwrap();
    let msg = expect_event_error(
        verify_bundle(dir.path(), &key).unwrap_err(),
        to,
        to - from + 1,
    );
    assert!(msg.contains("truncated"), "{msg}");

    // The last lines removed: the range is truncated.
    let dir = fresh(&mut ledger, from, to, size, &[]);
    rewrite_events(dir.path(), |l| l.truncate(l.len() - 3));
    let err = verify_bundle(dir.path(), &key).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::MissingEvents {
                missing: 11_898,
                ..
            }
        ),
        "{err}"
    );

    // The range shrunk in the manifest too: the right range no longer fits.
    let dir = fresh(&mut ledger, from, to, size, &[]);
    rewrite_events(dir.path(), |l| {
        l.pop();
    });
    let mpath = dir.path().join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m["to"] = (to - 1).into();
    std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
    std::fs::remove_file(dir.path().join("leaves")).unwrap();
    assert!(verify_bundle(dir.path(), &key).is_err());

    // An extra line.
    let dir = fresh(&mut ledger, from, to, size, &[]);
    let extra = String::from_utf8(event(to + 1)).unwrap();
    rewrite_events(dir.path(), |l| l.push(extra));
    expect_event_error(
        verify_bundle(dir.path(), &key).unwrap_err(),
        to + 1,
        to - from + 2,
    );

    // A wrong key.
    let dir = fresh(&mut ledger, from, to, size, &[]);
    let other = NoteSigner::generate_from_seed(ORIGIN, [43; 32])
        .unwrap()
        .verifier();
    let err = verify_bundle(dir.path(), &other).unwrap_err();
    assert!(
        matches!(
            &err,
            BundleError::Checkpoint {
                source: LedgerError::NoTrustedSignature { .. },
                ..
            }
        ),
        "{err}"
    );

    // A modified checkpoint.
    let cpath = dir.path().join("checkpoint");
    let note = std::fs::read_to_string(&cpath).unwrap();
    std::fs::write(&cpath, note.replacen("12000", "12001", 1)).unwrap();
    let err = verify_bundle(dir.path(), &key).unwrap_err();
    assert!(
        matches!(
            &err,
            BundleError::Checkpoint {
                source: LedgerError::BadSignature { .. },
                ..
            }
        ),
        "{err}"
    );

    // A substituted key.pub is reported, never trusted.
    let dir = fresh(&mut ledger, from, to, size, &[]);
    std::fs::write(dir.path().join("key.pub"), format!("{other}\n")).unwrap();
    let report = verify_bundle(dir.path(), &key).unwrap();
    assert_eq!(report.bundle_key, BundleKey::Differs(other.to_string()));

    // A modified left range.
    let dir = fresh(&mut ledger, from, to, size, &[]);
    let mpath = dir.path().join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m["left"][0] = hash_to_hex(&[7; 32]).into();
    std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
    let err = verify_bundle(dir.path(), &key).unwrap_err();
    assert!(matches!(err, BundleError::RootMismatch { .. }), "{err}");

    // A missing and a tampered consistency proof.
    let dir = fresh(&mut ledger, from, to, size, &[50, 7000]);
    std::fs::remove_file(dir.path().join("consistency/50-7000.json")).unwrap();
    let err = verify_bundle(dir.path(), &key).unwrap_err();
    assert!(
        matches!(err, BundleError::MissingConsistency { old: 50, new: 7000 }),
        "{err}"
    );
    let dir = fresh(&mut ledger, from, to, size, &[50, 7000]);
    let ppath = dir.path().join("consistency/7000-12000.json");
    let mut p: ConsistencyProof = serde_json::from_slice(&std::fs::read(&ppath).unwrap()).unwrap();
    p.hashes[0][0] ^= 1;
    std::fs::write(&ppath, serde_json::to_vec(&p).unwrap()).unwrap();
    let err = verify_bundle(dir.path(), &key).unwrap_err();
    assert!(
        matches!(&err, BundleError::Consistency { file, .. } if file == "consistency/7000-12000.json"),
        "{err}"
    );

    // An older checkpoint from a forked log.
    let dir = fresh(&mut ledger, from, to, size, &[50]);
    let forked =
        SignedCheckpoint::sign(Checkpoint::new(ORIGIN, 50, [1; 32]), &ledger.signer).unwrap();
    std::fs::write(dir.path().join("checkpoints/50"), forked.note()).unwrap();
    let err = verify_bundle(dir.path(), &key).unwrap_err();
    assert!(matches!(&err, BundleError::Consistency { .. }), "{err}");
}

#[test]
fn writer_rejects_mismatched_evidence() {
    let mut ledger = Ledger::new(100);
    let dir = tempfile::tempdir().unwrap();
    let mut w = BundleWriter::create(dir.path(), ORIGIN, 10, 100).unwrap();
    for e in &ledger.events[9..20] {
        w.push_event(e).unwrap();
    }
    // The events are 10..=20 but the right range starts at leaf 21.
    let evidence = BundleEvidence {
        left: compact_range(&mut ledger.tiles, 0, 9).unwrap(),
        right: compact_range(&mut ledger.tiles, 21, 100).unwrap(),
        checkpoint: ledger.checkpoint(100),
        key: ledger.signer.verifier(),
        older_checkpoints: vec![],
        consistency_proofs: vec![],
    };
    assert!(w.finish(evidence).is_err());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stale"), "x").unwrap();
    assert!(BundleWriter::create(dir.path(), ORIGIN, 1, 1).is_err());
}

#[test]
fn verifier_program() {
    let exe = env!("CARGO_BIN_EXE_gatehouse-verify");
    let mut ledger = Ledger::new(500);
    let dir = fresh(&mut ledger, 20, 480, 500, &[10, 300]);
    let vkey = ledger.signer.vkey();
    let keyfile = dir.path().join("trusted.key");
    std::fs::write(&keyfile, format!("{vkey}\n")).unwrap();
    let bundle = dir.path().to_str().unwrap();

    let out = Command::new(exe)
        .args(["--bundle", bundle, "--key", &vkey])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("events        20 to 480 (461 checked)"),
        "{stdout}"
    );
    assert!(stdout.contains("tree size     500"), "{stdout}");

    let key_arg = format!("--key={}", keyfile.display());
    let out = Command::new(exe)
        .args(["--bundle", bundle, &key_arg])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));

    rewrite_events(dir.path(), |l| l.swap(3, 4));
    let out = Command::new(exe)
        .args(["--bundle", bundle, "--key", &vkey])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("event 23 (line 4 of events.jsonl)"),
        "{stderr}"
    );

    for args in [
        vec!["--bundle", bundle],
        vec!["--key", &vkey],
        vec!["--bundle", bundle, "--key", "nonsense"],
        vec!["--frobnicate"],
    ] {
        let out = Command::new(exe).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = Command::new(exe).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

// ---------------------------------------------------------------------------
// Witness cosignatures in bundles.

fn witness(i: u8) -> WitnessSigner {
    WitnessSigner::generate_from_seed(&format!("witness.example/w{i}"), [100 + i; 32]).unwrap()
}

/// Adds cosignatures by `witnesses` (at times 1_800_000_000 + i) to the
/// bundle's checkpoint file, as a log that collected them would store it.
fn cosign_bundle(dir: &Path, witnesses: &[WitnessSigner]) {
    let path = dir.join("checkpoint");
    let note = std::fs::read_to_string(&path).unwrap();
    let (body, _) = split_note(&note).unwrap();
    let cosignatures: Vec<Cosignature> = witnesses
        .iter()
        .enumerate()
        .map(|(i, w)| w.cosign(body, 1_800_000_000 + i as u64).unwrap())
        .collect();
    std::fs::write(&path, merge_cosignatures(&note, &cosignatures).unwrap()).unwrap();
}

#[test]
fn bundles_carry_and_check_cosignatures() {
    let mut ledger = Ledger::new(400);
    let key = ledger.signer.verifier();
    let (w1, w2, w3) = (witness(1), witness(2), witness(3));
    let trusted = vec![w1.verifier(), w2.verifier(), w3.verifier()];
    let dir = fresh(&mut ledger, 1, 400, 400, &[100]);

    // Without cosignatures: fine without a witness policy, refused with one.
    let report = verify_bundle(dir.path(), &key).unwrap();
    assert!(report.cosigned.is_empty() && report.not_cosigned.is_empty());
    let err =
        verify_bundle_with(dir.path(), &key, &WitnessPolicy::all(trusted.clone())).unwrap_err();
    assert!(matches!(
        &err,
        BundleError::Checkpoint {
            source: LedgerError::QuorumNotMet {
                have: 0,
                need: 3,
                ..
            },
            ..
        }
    ));
    assert!(
        err.to_string().starts_with(
            "`checkpoint`: the checkpoint of size 400 is cosigned by 0 of the trusted witnesses but 3 are required"
        ),
        "{err}"
    );

    // Two of three cosign: a quorum of 2 is met, all 3 is not.
    cosign_bundle(dir.path(), &[w1.clone(), w2.clone()]);
    let two = WitnessPolicy::new(trusted.clone(), 2).unwrap();
    let report = verify_bundle_with(dir.path(), &key, &two).unwrap();
    assert_eq!(report.cosigned.len(), 2);
    assert_eq!(report.cosigned[0].timestamp, 1_800_000_000);
    assert_eq!(report.not_cosigned, vec![w3.verifier().label()]);
    assert_eq!(report.witness_quorum, 2);
    assert!(verify_bundle_with(dir.path(), &key, &WitnessPolicy::all(trusted.clone())).is_err());
    // Old verifiers ignore the cosignature lines.
    assert!(verify_bundle(dir.path(), &key).is_ok());

    // A cosignature by a trusted witness that does not verify is tampering,
    // also on an older checkpoint.
    let older = dir.path().join("checkpoints/100");
    let note100 = std::fs::read_to_string(&older).unwrap();
    let cp = std::fs::read_to_string(dir.path().join("checkpoint")).unwrap();
    let w1_line = cp
        .lines()
        .find(|l| l.contains("witness.example/w1"))
        .unwrap();
    std::fs::write(&older, format!("{note100}{w1_line}\n")).unwrap();
    let err = verify_bundle_with(dir.path(), &key, &two).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`checkpoints/100`: cosignature by witness `witness.example/w1+"),
        "{err}"
    );
    std::fs::write(&older, &note100).unwrap();
    let forged = cp.replace(w1_line, &w1_line.replacen('A', "B", 1));
    std::fs::write(dir.path().join("checkpoint"), &forged).unwrap();
    assert!(matches!(
        verify_bundle_with(dir.path(), &key, &two),
        Err(BundleError::Checkpoint {
            source: LedgerError::BadCosignature { .. },
            ..
        })
    ));
    std::fs::write(dir.path().join("checkpoint"), &cp).unwrap();

    // A witness key nobody trusts cosigning does not count.
    let stranger = witness(9);
    cosign_bundle(dir.path(), &[stranger]);
    let report = verify_bundle_with(dir.path(), &key, &two).unwrap();
    assert_eq!(report.cosigned.len(), 2);

    // The writer lists the witnesses in witnesses.pub, which is reported only.
    let dir2 = tempfile::tempdir().unwrap();
    let mut w = BundleWriter::create(dir2.path(), ORIGIN, 1, 10).unwrap();
    w.set_witnesses(&trusted);
    for e in &ledger.events[..10] {
        w.push_event(e).unwrap();
    }
    let signed10 = ledger.checkpoint(10);
    let (body, _) = split_note(signed10.note()).unwrap();
    let note = merge_cosignatures(signed10.note(), &[w3.cosign(body, 5).unwrap()]).unwrap();
    w.finish(BundleEvidence {
        left: compact_range(&mut ledger.tiles, 0, 0).unwrap(),
        right: compact_range(&mut ledger.tiles, 10, 10).unwrap(),
        checkpoint: SignedCheckpoint::open(&note, &key).unwrap(),
        key: key.clone(),
        older_checkpoints: vec![],
        consistency_proofs: vec![],
    })
    .unwrap();
    let listed = std::fs::read_to_string(dir2.path().join("witnesses.pub")).unwrap();
    assert_eq!(listed.lines().count(), 3);
    let one = WitnessPolicy::new(vec![w3.verifier()], 1).unwrap();
    let report = verify_bundle_with(dir2.path(), &key, &one).unwrap();
    assert_eq!(report.bundle_witnesses.len(), 3);
    assert_eq!(report.cosigned[0].timestamp, 5);
}

#[test]
fn verifier_program_checks_witnesses() {
    let exe = env!("CARGO_BIN_EXE_gatehouse-verify");
    let mut ledger = Ledger::new(300);
    let dir = fresh(&mut ledger, 1, 300, 300, &[]);
    let vkey = ledger.signer.vkey();
    let (w1, w2) = (witness(1), witness(2));
    let w2_file = dir.path().join("w2.pub");
    std::fs::write(&w2_file, format!("{}\n", w2.vkey())).unwrap();
    let bundle = dir.path().to_str().unwrap();
    let w1_vkey = w1.vkey();
    let w2_arg = w2_file.to_str().unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(exe)
            .args(["--bundle", bundle, "--key", &vkey])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, stdout, _) = run(&[]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("witnesses     none required"), "{stdout}");

    let both = ["--witness-key", &w1_vkey, "--witness-key", w2_arg];
    let (code, _, stderr) = run(&both);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("is cosigned by 0 of the trusted witnesses but 2 are required"),
        "{stderr}"
    );

    cosign_bundle(dir.path(), std::slice::from_ref(&w1));
    let (code, _, stderr) = run(&both);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!(
            "cosigned by 1 of the trusted witnesses but 2 are required; not cosigned by: `{}`",
            w2.verifier().label()
        )),
        "{stderr}"
    );
    let (code, stdout, stderr) = run(&[&both[..], &["--witness-quorum", "1"]].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!(
            "witnesses     1 of 2 trusted cosigned (quorum 1): `{}` cosigned at 2027-01-15T08:00:00Z; `{}` did not cosign",
            w1.verifier().label(),
            w2.verifier().label()
        )),
        "{stdout}"
    );

    cosign_bundle(dir.path(), std::slice::from_ref(&w2));
    let (code, stdout, _) = run(&both);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("2 of 2 trusted cosigned (quorum 2)"),
        "{stdout}"
    );

    for args in [
        vec!["--witness-key", "nonsense"],
        vec!["--witness-key", &w1_vkey, "--witness-quorum", "2"],
        vec!["--witness-quorum", "x"],
        vec!["--witness-quorum", "1", "--witness-quorum", "1"],
        // A log key is not a witness key by mistake: its key id is of type 1
        // and so is taken as one, but it never signed as a witness.
    ] {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
    }
    let (code, _, stderr) = run(&["--witness-key", &vkey]);
    assert_eq!(code, Some(1), "{stderr}");
}

// ---------------------------------------------------------------------------
// The witness protocol, against a model.

mod protocol {
    use super::*;
    use gatehouse_ledger::witness::{AddCheckpoint, LogState, Refusal, add_checkpoint};

    /// Two histories that share their first `shared` leaves.
    struct Histories {
        tiles: [MemoryTiles; 2],
        signer: NoteSigner,
    }

    impl Histories {
        fn new(size: u64, shared: u64) -> Histories {
            let a = make_leaves(size, 1);
            let mut b = a.clone();
            for (i, leaf) in b.iter_mut().enumerate().skip(shared as usize) {
                *leaf = leaf_hash(format!("fork:{i}").as_bytes());
            }
            Histories {
                tiles: [MemoryTiles::from_leaves(&a), MemoryTiles::from_leaves(&b)],
                signer: NoteSigner::generate_from_seed("example.com/log", [1; 32]).unwrap(),
            }
        }

        fn request(&mut self, history: usize, old: u64, size: u64) -> AddCheckpoint {
            let tiles = &mut self.tiles[history];
            let r = root(tiles, size).unwrap();
            let note =
                SignedCheckpoint::sign(Checkpoint::new("example.com/log", size, r), &self.signer)
                    .unwrap()
                    .note()
                    .to_string();
            // A proof from `old` in this history (garbage when `old` is out
            // of range: the witness must refuse it).
            let proof = consistency_proof(tiles, old.min(size), size)
                .map(|p| p.hashes)
                .unwrap_or_default();
            AddCheckpoint {
                old_size: old,
                proof,
                note,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever a log (honest or not) sends, in any order, the witness
        /// never cosigns two checkpoints of which one is not a prefix of the
        /// other, never goes back in size, and answers 409 with its size
        /// exactly when `old` is not its size.
        #[test]
        fn a_witness_never_cosigns_a_fork(
            shared in 0u64..300,
            steps in proptest::collection::vec((0usize..2, 0u64..300, 0u64..300), 1..25),
        ) {
            let mut h = Histories::new(300, shared);
            let keys = vec![h.signer.verifier()];
            let w = WitnessSigner::generate_from_seed("w", [2; 32]).unwrap();
            let mut held: Option<LogState> = None;
            let mut cosigned: Vec<(u64, Hash)> = Vec::new();
            for (history, old_pick, size) in steps {
                let held_size = held.as_ref().map_or(0, |s| s.size);
                // Half the time use the right old size, as a log would.
                let old = if old_pick % 2 == 0 { held_size.min(size) } else { old_pick };
                let req = h.request(history, old, size);
                let decoded = AddCheckpoint::decode(req.encode().as_bytes()).unwrap();
                match add_checkpoint(&decoded, Some(&keys), held.as_ref(), &w, 7) {
                    Ok((state, c)) => {
                        prop_assert!(state.size >= held_size);
                        let (body, _) = split_note(&state.note).unwrap();
                        prop_assert!(w.verifier().verify(body, &c));
                        for (s, r) in &cosigned {
                            // Every earlier cosigned head is a prefix of this one.
                            let p = consistency_proof(&mut h.tiles[history], *s, state.size).unwrap();
                            prop_assert!(p.verify(r, &state.root).is_ok());
                        }
                        cosigned.push((state.size, state.root));
                        held = Some(state);
                    }
                    Err(Refusal::Conflict { size: s }) => {
                        prop_assert_eq!(s, held_size);
                        prop_assert!(old != held_size || old == size);
                    }
                    Err(r) => prop_assert!([400, 422].contains(&r.status()), "{r}"),
                }
            }
        }

        #[test]
        fn requests_and_lines_round_trip(
            old in any::<u64>(),
            proof in proptest::collection::vec(any::<[u8; 32]>(), 0..64),
            ts in 0u64..(1 << 63),
            seed in any::<[u8; 32]>(),
        ) {
            let req = AddCheckpoint { old_size: old, proof, note: "o\n1\nAAAA\n\n— k abcd\n".into() };
            prop_assert_eq!(AddCheckpoint::decode(req.encode().as_bytes()).unwrap(), req);
            let w = WitnessSigner::generate_from_seed("w", seed).unwrap();
            let body = "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
            let c = w.cosign(body, ts).unwrap();
            let back = Cosignature::parse_line(&c.to_line()).unwrap();
            prop_assert!(w.verifier().verify(body, &back));
            prop_assert_eq!(back, c);
        }
    }
}
