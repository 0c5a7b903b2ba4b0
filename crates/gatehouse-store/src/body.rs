//! How an event's body is kept in the `event` table.
//!
//! The ledger's leaf is the hash of the body's canonical JSON, and every reader gets that JSON
//! back. A body of [`PACK_FROM`] bytes or more — the bulk events: a thousand review items, an
//! import's unit of a few hundred grants — is kept LZ4-compressed behind [`MARKER`], about a
//! quarter of its size: a launch over a million grants logs 418 MB of events, and writing them
//! twice (to the write-ahead log, then to the database) took more time than building them.
//! Every other body is its JSON, as before, readable with any SQL client; so is every body of
//! a store written before bodies were compressed.
//!
//! A compressed body that was edited in the database either does not decompress (refused as
//! corrupt) or decompresses to bytes whose hash is not the ledger's leaf (`ledger verify`
//! reports it, as it does any edited body).

/// Marks a compressed body. A JSON text never begins with a zero byte.
const MARKER: &[u8; 4] = b"\0lz4";

/// Bodies this long or longer are compressed.
pub(crate) const PACK_FROM: usize = 16 * 1024;

/// The bytes to store for a body's JSON.
pub(crate) fn pack(json: Vec<u8>) -> Vec<u8> {
    if json.len() < PACK_FROM {
        return json;
    }
    let packed = lz4_flex::block::compress(&json);
    let mut out = Vec::with_capacity(MARKER.len() + 4 + packed.len());
    out.extend_from_slice(MARKER);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&packed);
    out
}

/// The body's JSON from its stored bytes; an error says why stored bytes cannot be a body.
pub(crate) fn unpack(stored: Vec<u8>) -> Result<Vec<u8>, String> {
    let Some(rest) = stored.strip_prefix(MARKER) else {
        return Ok(stored);
    };
    let (len, packed) = rest
        .split_first_chunk::<4>()
        .ok_or("compressed bytes without their length")?;
    let len = u32::from_le_bytes(*len) as usize;
    // LZ4 expands at most 255 times: a larger length was not written by `pack`, and would
    // only make the reader allocate for nothing.
    if len < PACK_FROM || len > packed.len().saturating_mul(255) {
        return Err(format!(
            "compressed bytes that claim an impossible length ({len} bytes from {})",
            packed.len()
        ));
    }
    let json = lz4_flex::block::decompress(packed, len)
        .map_err(|e| format!("compressed bytes that do not decompress ({e})"))?;
    if json.len() != len {
        return Err(format!(
            "compressed bytes that decompress to {} bytes, not the {len} they claim",
            json.len()
        ));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_are_kept_as_they_are_and_large_ones_come_back_whole() {
        let small = br#"{"seq":1}"#.to_vec();
        assert_eq!(pack(small.clone()), small);
        assert_eq!(unpack(small.clone()).unwrap(), small);
        let large: Vec<u8> = format!(
            "{{\"items\":[{}]}}",
            (0..2000)
                .map(|n| format!("{{\"n\":{n},\"system\":\"github\",\"recommendation\":\"keep\"}}"))
                .collect::<Vec<_>>()
                .join(",")
        )
        .into_bytes();
        let stored = pack(large.clone());
        assert!(stored.starts_with(MARKER));
        assert!(stored.len() * 4 < large.len(), "{} bytes", stored.len());
        assert_eq!(unpack(stored).unwrap(), large);
    }

    #[test]
    fn edited_compressed_bytes_are_refused_not_misread() {
        let large = vec![b'x'; 100_000];
        let stored = pack(large);
        // Cut short.
        assert!(unpack(stored[..stored.len() / 2].to_vec()).is_err());
        // A length far beyond what the bytes could hold.
        let mut claims = stored.clone();
        claims[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unpack(claims).unwrap_err().contains("impossible length"));
        // Only the marker.
        assert!(unpack(MARKER.to_vec()).is_err());
    }
}
