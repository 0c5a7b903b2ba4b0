//! Checking and hashing `events.jsonl` on every core.
//!
//! The file is cut into one byte range per thread at line boundaries. Each
//! thread streams its range through a reused buffer, checks every line and
//! hashes it. As a thread does not know how many lines come before its
//! range, it checks that the `seq` fields of its lines are consecutive and
//! the first one is compared with its expected value once all threads are
//! done. The leaf hashes are then folded into compact ranges, again one per
//! thread, and merged.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;

use super::{BundleError, EVENTS, LEAVES, invalid, io_err};
use crate::{CompactRange, Hash, leaf_hash};

/// Below this many bytes of events, everything stays on one thread.
const PARALLEL_THRESHOLD: u64 = 1 << 20;

/// Read buffer size per thread.
const BLOCK: usize = 1 << 20;

/// Position of the first `\n` in `s`, eight bytes at a time.
pub(super) fn find_newline(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut words = s.chunks_exact(8);
    let mut at = 0usize;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes) ^ NL;
        // Marks the lowest zero byte of `w` exactly (higher marks may be
        // false positives, which `trailing_zeros` never reaches).
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| at + p)
}

/// Only the field of an event the verifier looks at.
#[derive(Deserialize)]
struct EventHead {
    seq: Option<serde_json::Value>,
}

/// Parses an event line: a JSON object with a whole-number `seq` field,
/// which is returned.
pub(super) fn parse_event(line: &[u8]) -> Result<u64, String> {
    if line.is_empty() {
        return Err("the line is empty".to_string());
    }
    let text = std::str::from_utf8(line).map_err(|e| format!("the line is not UTF-8 ({e})"))?;
    if !text.starts_with('{') {
        return Err("the line is not a JSON object".to_string());
    }
    let head: EventHead =
        serde_json::from_str(text).map_err(|e| format!("the line is not valid JSON: {e}"))?;
    let seq = head
        .seq
        .ok_or_else(|| "the event has no `seq` field".to_string())?;
    seq.as_u64().ok_or_else(|| {
        let shown: String = seq.to_string().chars().take(40).collect();
        format!("`seq` is `{shown}`, not a whole number")
    })
}

/// What is wrong with a line.
enum Problem {
    /// Not a JSON object with a whole-number `seq`.
    Parse(String),
    /// `seq` does not follow the previous line's.
    Seq(u64),
    /// The file ends inside the line.
    Unterminated,
}

/// What one thread found in its byte range.
struct Chunk {
    leaves: Vec<Hash>,
    first_seq: Option<u64>,
    bad: Option<(u64, Problem)>,
}

impl Chunk {
    fn lines(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Checks and hashes one complete line.
    fn line(&mut self, line: &[u8]) -> bool {
        let index = self.lines();
        match parse_event(line) {
            Err(reason) => {
                self.bad = Some((index, Problem::Parse(reason)));
                return false;
            }
            Ok(seq) => match self.first_seq {
                None => self.first_seq = Some(seq),
                Some(first) if first.checked_add(index) == Some(seq) => {}
                Some(_) => {
                    self.bad = Some((index, Problem::Seq(seq)));
                    return false;
                }
            },
        }
        self.leaves.push(leaf_hash(line));
        true
    }
}

/// Reads into `buf` until it is full or the reader ends.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Streams bytes `[begin, end)` of the file, a whole number of lines
/// (the last one may lack its newline if it ends the file).
fn scan_range(path: &Path, begin: u64, end: u64) -> io::Result<Chunk> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(begin))?;
    let mut reader = file.take(end - begin);
    let mut chunk = Chunk {
        leaves: Vec::with_capacity(((end - begin) / 128) as usize),
        first_seq: None,
        bad: None,
    };
    let mut buf = vec![0u8; BLOCK];
    let mut carried = 0usize;
    loop {
        if carried == buf.len() {
            // A line longer than the buffer: make room.
            buf.resize(buf.len() * 2, 0);
        }
        let n = fill(&mut reader, &mut buf[carried..])?;
        let filled = carried + n;
        let mut start = 0usize;
        while let Some(p) = find_newline(&buf[start..filled]) {
            if !chunk.line(&buf[start..start + p]) {
                return Ok(chunk);
            }
            start += p + 1;
        }
        buf.copy_within(start..filled, 0);
        carried = filled - start;
        if n == 0 {
            break;
        }
    }
    if carried > 0 {
        chunk.bad = Some((chunk.lines(), Problem::Unterminated));
    }
    Ok(chunk)
}

/// The first line boundary at or after `target`: the position just after
/// a newline, or the end of the file.
fn cut_at(path: &Path, target: u64, len: u64) -> io::Result<u64> {
    if target == 0 || target >= len {
        return Ok(target.min(len));
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(target - 1))?;
    let mut pos = target - 1;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = fill(&mut file, &mut buf)?;
        if n == 0 {
            return Ok(len);
        }
        if let Some(p) = find_newline(&buf[..n]) {
            return Ok(pos + p as u64 + 1);
        }
        pos += n as u64;
    }
}

/// Runs `f` on every item, on one thread each when there are several.
fn run_all<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<Option<R>> {
    if items.len() == 1 {
        return items.iter().map(|i| Some(f(i))).collect();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = items.iter().map(|i| s.spawn(|| f(i))).collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    })
}

/// The result of scanning `events.jsonl`.
pub(super) struct EventScan {
    /// Compact range of the events' leaves.
    pub(super) middle: CompactRange,
    /// Number of lines.
    pub(super) lines: u64,
    /// Index of the first line whose hash differs from the `leaves` file.
    pub(super) list_mismatch: Option<u64>,
}

/// Checks every line of `events.jsonl`, whose first line is event `from`,
/// and hashes it; compares the hashes with the `leaves` file if given.
pub(super) fn scan_events(
    dir: &Path,
    from: u64,
    list: Option<&Path>,
) -> Result<EventScan, BundleError> {
    let path = dir.join(EVENTS);
    let len = std::fs::metadata(&path)
        .map_err(io_err("read", &path))?
        .len();
    let threads = if len < PARALLEL_THRESHOLD {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get()) as u64
    };
    let mut cuts = vec![0u64];
    for i in 1..threads {
        let cut = cut_at(&path, len * i / threads, len).map_err(io_err("read", &path))?;
        if cut > cuts[cuts.len() - 1] && cut < len {
            cuts.push(cut);
        }
    }
    cuts.push(len);
    let ranges: Vec<(u64, u64)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();

    let chunks = run_all(&ranges, |&(b, e)| scan_range(&path, b, e));
    let mut done = Vec::with_capacity(chunks.len());
    let mut starts = Vec::with_capacity(chunks.len());
    let mut total = 0u64;
    for chunk in chunks {
        let chunk = chunk
            .ok_or_else(|| invalid(EVENTS, "a checking thread stopped unexpectedly"))?
            .map_err(io_err("read", &path))?;
        let bad_at = |index: u64, reason: String| BundleError::Event {
            seq: from + total + index,
            line: total + index + 1,
            reason,
        };
        let expected_first = from + total;
        if let Some(first) = chunk.first_seq
            && first != expected_first
        {
            return Err(bad_at(
                0,
                format!("the event has `seq` {first} where {expected_first} was expected"),
            ));
        }
        if let Some((index, problem)) = chunk.bad {
            let reason = match problem {
                Problem::Parse(reason) => reason,
                Problem::Seq(seq) => format!(
                    "the event has `seq` {seq} where {} was expected",
                    from + total + index
                ),
                Problem::Unterminated => {
                    "the line does not end with a newline: the file is truncated".to_string()
                }
            };
            return Err(bad_at(index, reason));
        }
        starts.push(total);
        total += chunk.lines();
        done.push(chunk.leaves);
    }

    // Fold the leaves into compact ranges, comparing them with the leaf
    // list on the way.
    let leaf_base = from - 1;
    let jobs: Vec<(u64, Vec<Hash>)> = starts.into_iter().zip(done).collect();
    let folded = run_all(
        &jobs,
        |(start, leaves)| -> io::Result<(CompactRange, Option<u64>)> {
            let mut range = CompactRange::new(leaf_base + start);
            leaves.iter().for_each(|l| range.append(*l));
            let mismatch = match list {
                Some(list) => first_difference(list, *start, leaves)?,
                None => None,
            };
            Ok((range, mismatch))
        },
    );
    let mut middle = CompactRange::new(leaf_base);
    let mut list_mismatch = None;
    for part in folded {
        let (range, mismatch) = part
            .ok_or_else(|| invalid(EVENTS, "a hashing thread stopped unexpectedly"))?
            .map_err(|e| match list {
                Some(list) => io_err("read", list)(e),
                None => invalid(LEAVES, e.to_string()),
            })?;
        list_mismatch = list_mismatch.or(mismatch);
        middle.merge(range)?;
    }
    Ok(EventScan {
        middle,
        lines: total,
        list_mismatch,
    })
}

/// Index of the first of `leaves` (which start at line `start`) that differs
/// from the `leaves` file. Lines past the end of the file are not compared.
fn first_difference(list: &Path, start: u64, leaves: &[Hash]) -> io::Result<Option<u64>> {
    let mut file = File::open(list)?;
    file.seek(SeekFrom::Start(start * 32))?;
    let mut buf = vec![0u8; BLOCK];
    let mut at = 0usize;
    while at < leaves.len() {
        let want = (leaves.len() - at).min(BLOCK / 32);
        let n = fill(&mut file, &mut buf[..want * 32])? / 32;
        if n == 0 {
            return Ok(None);
        }
        for (i, listed) in buf[..n * 32].chunks_exact(32).enumerate() {
            if listed != leaves[at + i] {
                return Ok(Some(start + (at + i) as u64));
            }
        }
        at += n;
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn newlines() {
        for len in 0..40 {
            for nl in 0..=len {
                let mut v = vec![b'a'; len];
                if nl < len {
                    v[nl] = b'\n';
                    if nl + 3 < len {
                        v[nl + 3] = b'\n';
                    }
                }
                let want = v.iter().position(|&b| b == b'\n');
                assert_eq!(find_newline(&v), want, "{len} {nl}");
            }
        }
        // Bytes just around '\n' must not be mistaken for it.
        let tricky: Vec<u8> = (0u8..=255).filter(|&b| b != b'\n').collect();
        assert_eq!(find_newline(&tricky), None);
        let mut t2 = tricky.clone();
        t2.insert(77, b'\n');
        assert_eq!(find_newline(&t2), Some(77));
    }

    #[test]
    fn event_lines() {
        assert_eq!(parse_event(br#"{"seq":5,"x":[1,{"y":"z"}]}"#), Ok(5));
        assert_eq!(parse_event(br#"{"a":"\u00e9","seq":5}"#), Ok(5));
        let err = |line: &[u8]| parse_event(line).unwrap_err();
        assert_eq!(
            err(br#"{"seq":"5"}"#),
            "`seq` is `\"5\"`, not a whole number"
        );
        assert_eq!(err(br#"{"seq":5.0}"#), "`seq` is `5.0`, not a whole number");
        assert_eq!(err(br#"{"seq":-5}"#), "`seq` is `-5`, not a whole number");
        assert_eq!(err(br#"{"x":1}"#), "the event has no `seq` field");
        assert_eq!(err(b""), "the line is empty");
        assert_eq!(err(b"[5]"), "the line is not a JSON object");
        assert!(err(br#"{"seq":5,"seq":5}"#).contains("duplicate field"));
        assert!(err(br#"{"seq":5} x"#).starts_with("the line is not valid JSON"));
        assert!(err(br#"{"seq":5,"a":"#).starts_with("the line is not valid JSON"));
        assert!(err(b"{\"seq\":5,\"a\":\"\xff\"}").starts_with("the line is not UTF-8"));
    }

    #[test]
    fn long_lines_and_cuts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENTS);
        // Lines longer than the read buffer.
        let big = format!(r#"{{"seq":1,"pad":"{}"}}"#, "y".repeat(BLOCK * 2 + 5));
        let data = format!("{big}\n{{\"seq\":2}}\n");
        std::fs::write(&path, &data).unwrap();
        let chunk = scan_range(&path, 0, data.len() as u64).unwrap();
        assert!(chunk.bad.is_none());
        assert_eq!(chunk.lines(), 2);
        assert_eq!(chunk.leaves[0], leaf_hash(big.as_bytes()));
        let len = data.len() as u64;
        assert_eq!(cut_at(&path, 10, len).unwrap(), big.len() as u64 + 1);
        assert_eq!(
            cut_at(&path, big.len() as u64 + 1, len).unwrap(),
            big.len() as u64 + 1
        );
        assert_eq!(cut_at(&path, len - 2, len).unwrap(), len);
    }
}
