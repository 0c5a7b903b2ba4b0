//! RFC 6962 hashing and hex helpers.

use sha2::{Digest, Sha256};

use crate::LedgerError;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Hashes a leaf: SHA-256(0x00 || data) (RFC 6962 §2.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new_with_prefix([0u8])
        .chain_update(data)
        .finalize()
        .into()
}

/// Hashes an interior node: SHA-256(0x01 || left || right) (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 1;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Hashes a non-empty list whose length is a power of two into the root of
/// the perfect tree it forms (the list holds the nodes of one level).
pub(crate) fn perfect_root(nodes: &[Hash]) -> Hash {
    debug_assert!(nodes.len().is_power_of_two());
    let mut level: Vec<Hash> = nodes.to_vec();
    while level.len() > 1 {
        let next: Vec<Hash> = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
        level = next;
    }
    level.first().copied().unwrap_or_else(empty_root)
}

/// Folds a left-to-right list of perfect subtree roots that together cover a
/// range into the RFC 6962 hash of that range: the right-most subtrees are
/// combined first, as the recursive definition does.
pub(crate) fn fold_right(parts: &[Hash]) -> Option<Hash> {
    let mut iter = parts.iter().rev();
    let mut acc = *iter.next()?;
    for h in iter {
        acc = node_hash(h, &acc);
    }
    Some(acc)
}

/// Writes a hash as 64 lowercase hex digits.
pub fn hash_to_hex(hash: &Hash) -> String {
    hex::encode(hash)
}

/// Parses a hash written as exactly 64 lowercase hex digits.
pub fn hash_from_hex(text: &str) -> Result<Hash, LedgerError> {
    let err = || LedgerError::Hex(text.chars().take(80).collect());
    // One spelling per hash: uppercase digits are refused, as a canonical form should be.
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(err());
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|_| err())?;
    Ok(out)
}

/// Serde helpers that write hashes as lowercase hex strings.
///
/// Use with `#[serde(with = "gatehouse_ledger::serde_hex::hash")]` on a
/// [`Hash`](type@crate::Hash) field or `#[serde(with = "gatehouse_ledger::serde_hex::hashes")]`
/// on a `Vec<Hash>` field.
pub mod serde_hex {
    /// A single [`Hash`](type@crate::Hash) as a hex string.
    pub mod hash {
        use serde::{Deserialize, Deserializer, Serializer};

        use crate::{Hash, hash_from_hex, hash_to_hex};

        /// Serialises a hash as a hex string.
        pub fn serialize<S: Serializer>(hash: &Hash, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&hash_to_hex(hash))
        }

        /// Deserialises a hash from a hex string.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            hash_from_hex(&text).map_err(serde::de::Error::custom)
        }
    }

    /// A list of [`Hash`](type@crate::Hash)es as a list of hex strings.
    pub mod hashes {
        use serde::ser::SerializeSeq;
        use serde::{Deserialize, Deserializer, Serializer};

        use crate::{Hash, hash_from_hex, hash_to_hex};

        /// Serialises hashes as a list of hex strings.
        pub fn serialize<S: Serializer>(hashes: &[Hash], s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(hashes.len()))?;
            for h in hashes {
                seq.serialize_element(&hash_to_hex(h))?;
            }
            seq.end()
        }

        /// Deserialises hashes from a list of hex strings.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
            let texts = <Vec<std::borrow::Cow<'de, str>>>::deserialize(d)?;
            texts
                .iter()
                .map(|t| hash_from_hex(t).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn raw_node(left: &[u8], right: &[u8]) -> Hash {
        Sha256::new_with_prefix([1u8])
            .chain_update(left)
            .chain_update(right)
            .finalize()
            .into()
    }

    // Vectors from transparency-dev/merkle rfc6962/rfc6962_test.go.
    #[test]
    fn rfc6962_hasher_vectors() {
        assert_eq!(
            hash_to_hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hash_to_hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(
            hash_to_hex(&leaf_hash(b"L123456")),
            "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
        );
        // The published node vector hashes two 4-byte strings; `node_hash`
        // takes 32-byte hashes, so check the same construction on raw bytes
        // and that `node_hash` agrees with it on real hashes.
        assert_eq!(
            hash_to_hex(&raw_node(b"N123", b"N456")),
            "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
        );
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        assert_eq!(node_hash(&a, &b), raw_node(&a, &b));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let h = leaf_hash(b"x");
        assert_eq!(hash_from_hex(&hash_to_hex(&h)).unwrap(), h);
        assert!(hash_from_hex("").is_err());
        assert!(hash_from_hex(&hash_to_hex(&h).to_uppercase()).is_err());
        assert!(hash_from_hex(&hash_to_hex(&h)[1..]).is_err());
        let mut s = hash_to_hex(&h);
        s.replace_range(0..1, "g");
        assert!(hash_from_hex(&s).is_err());
        let msg = hash_from_hex("zz").unwrap_err().to_string();
        assert_eq!(msg, "`zz` is not a hash written as 64 lowercase hex digits");
    }

    #[test]
    fn perfect_and_fold() {
        let l: Vec<Hash> = (0u8..4).map(|i| leaf_hash(&[i])).collect();
        let want = node_hash(&node_hash(&l[0], &l[1]), &node_hash(&l[2], &l[3]));
        assert_eq!(perfect_root(&l), want);
        assert_eq!(fold_right(&[]), None);
        assert_eq!(fold_right(&l[..1]), Some(l[0]));
        assert_eq!(
            fold_right(&l[..3]),
            Some(node_hash(&l[0], &node_hash(&l[1], &l[2])))
        );
    }
}
