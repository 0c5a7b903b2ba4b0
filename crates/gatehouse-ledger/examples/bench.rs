//! Quick throughput measurements; run in release mode:
//!
//! ```text
//! cargo run --release -p gatehouse-ledger --example bench -- /tmp/bench-bundle
//! sha256sum /tmp/bench-bundle/events.jsonl   # compare with the verify time
//! ```
//!
//! Measures `Appender::push`, inclusion proofs in a 10,000,000-leaf tree
//! held in `MemoryTiles`, and `verify_bundle` on a 1,000,000-event bundle of
//! about 250-byte events written to the given folder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Instant;

use gatehouse_ledger::bundle::{BundleEvidence, BundleWriter, verify_bundle};
use gatehouse_ledger::*;

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

fn main() {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("gatehouse-ledger-bench"));

    // Appender throughput.
    let n = 10_000_000u64;
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let start = Instant::now();
    let mut appender = Appender::new();
    let mut tiles_written = 0usize;
    for chunk in leaves.chunks(100_000) {
        for leaf in chunk {
            appender.push(*leaf);
        }
        tiles_written += appender.take_dirty_tiles().len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "appender: {n} pushes in {secs:.3} s = {:.2} M pushes/s ({tiles_written} tiles handed out)",
        n as f64 / secs / 1e6
    );
    let root_start = Instant::now();
    let root_10m = appender.root();
    println!(
        "appender root at {n}: {:.1} µs",
        root_start.elapsed().as_secs_f64() * 1e6
    );

    // Inclusion proofs at 10M with MemoryTiles.
    let start = Instant::now();
    let mut tiles = MemoryTiles::from_leaves(&leaves);
    println!(
        "memory tiles for {n} leaves built in {:.3} s",
        start.elapsed().as_secs_f64()
    );
    let proofs = 10_000u64;
    let start = Instant::now();
    let mut total_len = 0;
    for i in 0..proofs {
        let index = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n;
        let p = inclusion_proof(&mut tiles, index, n).unwrap();
        total_len += p.hashes.len();
    }
    let per = start.elapsed().as_secs_f64() / proofs as f64;
    println!(
        "inclusion proof at {n}: {:.1} µs each (avg {} hashes)",
        per * 1e6,
        total_len / proofs as usize
    );
    let p = inclusion_proof(&mut tiles, 4_242_424, n).unwrap();
    let start = Instant::now();
    p.verify(&leaves[4_242_424], &root_10m).unwrap();
    println!(
        "verify_inclusion at {n}: {:.1} µs",
        start.elapsed().as_secs_f64() * 1e6
    );
    let start = Instant::now();
    let c = consistency_proof(&mut tiles, 3_333_333, n).unwrap();
    println!(
        "consistency proof 3333333 -> {n}: {:.1} µs ({} hashes)",
        start.elapsed().as_secs_f64() * 1e6,
        c.hashes.len()
    );
    drop(tiles);
    drop(leaves);

    // A 1,000,000-event bundle of events 201..=1_000_200 in a tree of 1_000_500.
    let (from, to, size) = (201u64, 1_000_200u64, 1_000_500u64);
    let events: Vec<Vec<u8>> = (1..=size).map(event).collect();
    let leaves: Vec<Hash> = events.iter().map(|e| leaf_hash(e)).collect();
    let mut tiles = MemoryTiles::from_leaves(&leaves);
    let signer = NoteSigner::generate_from_seed("bench.example/ledger", [9; 32]).unwrap();
    let root = root(&mut tiles, size).unwrap();
    let checkpoint =
        SignedCheckpoint::sign(Checkpoint::new("bench.example/ledger", size, root), &signer)
            .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let start = Instant::now();
    let mut w = BundleWriter::create(&dir, "bench.example/ledger", from, size).unwrap();
    for e in &events[from as usize - 1..to as usize] {
        w.push_event(e).unwrap();
    }
    w.finish(BundleEvidence {
        left: compact_range(&mut tiles, 0, from - 1).unwrap(),
        right: compact_range(&mut tiles, to, size).unwrap(),
        checkpoint,
        key: signer.verifier(),
        older_checkpoints: vec![],
        consistency_proofs: vec![],
    })
    .unwrap();
    println!(
        "bundle of {} events written to {} in {:.3} s",
        to - from + 1,
        dir.display(),
        start.elapsed().as_secs_f64()
    );
    let bytes = std::fs::metadata(dir.join("events.jsonl")).unwrap().len();
    for run in 0..3 {
        let start = Instant::now();
        let report = verify_bundle(&dir, &signer.verifier()).unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "verify_bundle run {run}: {} events, {:.1} MB in {secs:.3} s = {:.0} MB/s, {:.2} M events/s",
            report.events_checked,
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs,
            report.events_checked as f64 / secs / 1e6
        );
    }
    println!("vkey: {}", signer.vkey());
}
