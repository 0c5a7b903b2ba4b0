//! `gatehouse-bench witness`: what witnesses cost a log, and what one witness sustains.
//!
//! Both witnesses run in this process on loopback, each on its own runtime thread, with real
//! state files in the working folder (every answer waits for its state to be synced to disk).
//! The log is a tree of up to ten million leaves held in memory.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use gatehouse_ledger::witness::AddCheckpoint;
use gatehouse_ledger::{
    Checkpoint, Hash, LedgerError, MemoryTiles, NoteSigner, SignedCheckpoint, WitnessSigner,
    consistency_proof, leaf_hash, root,
};
use gatehouse_witness::{
    RunningWitness, Witness, WitnessClient, WitnessConfig, WitnessedLog, cosign_all,
    create_state_file,
};

use crate::{Pick, Sample};

/// The benchmark's witnesses cosign at the real time, as deployed ones do.
#[allow(clippy::disallowed_methods)]
fn clock() -> gatehouse_witness::Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// Starts a witness of `logs` with a fresh state file in `work`.
fn start_witness(
    work: &Path,
    name: &str,
    logs: Vec<WitnessedLog>,
    threads: usize,
) -> Result<(RunningWitness, WitnessSigner)> {
    let state = work.join(format!("{name}.json"));
    let _ = std::fs::remove_file(&state);
    create_state_file(&state)?;
    let signer = WitnessSigner::generate_from_seed(
        &format!("bench.example/{name}"),
        *leaf_hash(name.as_bytes()).first_chunk().context("seed")?,
    )?;
    let witness = Witness::open(
        WitnessConfig {
            signer: signer.clone(),
            logs,
            state,
        },
        clock(),
    )?;
    let running = RunningWitness::start(witness, "127.0.0.1:0".parse()?, threads)?;
    Ok((running, signer))
}

fn sign(signer: &NoteSigner, tiles: &mut MemoryTiles, size: u64) -> Result<String> {
    let r = root(tiles, size)?;
    Ok(
        SignedCheckpoint::sign(Checkpoint::new(signer.name(), size, r), signer)?
            .note()
            .to_string(),
    )
}

pub(crate) fn bench_witness(
    leaves: u64,
    logs: usize,
    requests: usize,
    rounds: usize,
    work: &Path,
) -> Result<()> {
    std::fs::create_dir_all(work)?;
    let t = Instant::now();
    let hashes: Vec<Hash> = (0..leaves).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut tiles = MemoryTiles::from_leaves(&hashes);
    drop(hashes);
    println!(
        "tree of {leaves} leaves built in memory in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // (a) The latency a seal gains: sign a checkpoint, have two witnesses cosign it.
    let log = NoteSigner::generate_from_seed("bench.example/ledger", [7; 32])?;
    let witnessed = vec![WitnessedLog {
        origin: log.name().to_string(),
        keys: vec![log.verifier()],
    }];
    let (w1, k1) = start_witness(work, "w1", witnessed.clone(), 1)?;
    let (w2, k2) = start_witness(work, "w2", witnessed, 1)?;
    let clients = || -> Result<Vec<WitnessClient>> {
        Ok(vec![
            WitnessClient::new(&w1.url(), k1.verifier())?,
            WitnessClient::new(&w2.url(), k2.verifier())?,
        ])
    };
    let tiles_lock = Mutex::new(&mut tiles);
    let proof = |a: u64, b: u64| -> Result<Vec<Hash>, LedgerError> {
        let mut t = tiles_lock.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(consistency_proof(&mut **t, a, b)?.hashes)
    };
    let start = leaves / 2;
    let step = ((leaves - start) / (2 * rounds as u64 + 2)).max(1);
    let mut size = start;
    let mut held = [0u64; 2];
    let mut round = |fresh: &[WitnessClient], size: u64| -> Result<(f64, f64)> {
        let t = Instant::now();
        let note = {
            let mut t = tiles_lock.lock().unwrap_or_else(PoisonError::into_inner);
            sign(&log, &mut t, size)?
        };
        let signed = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let outcomes = cosign_all(fresh, &note, &held, proof);
        let cosigned = t.elapsed().as_secs_f64();
        for (i, o) in outcomes.into_iter().enumerate() {
            o?;
            held[i] = size;
        }
        Ok((signed, cosigned))
    };
    round(&clients()?, size)?; // first checkpoint: the witnesses start holding the log
    let (mut sign_times, mut fresh_times, mut kept_times) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        size += step;
        let (s, c) = round(&clients()?, size)?;
        sign_times.push(s);
        fresh_times.push(c);
    }
    let kept = clients()?;
    for _ in 0..rounds {
        size += step;
        kept_times.push(round(&kept, size)?.1);
    }
    println!(
        "signing a checkpoint (tree of {leaves} leaves, in memory): {}",
        Sample(sign_times)
            .summary()
            .replace("questions", "checkpoints")
    );
    println!(
        "cosigning it with 2 witnesses, new connections (as one command does): {}",
        Sample(fresh_times)
            .summary()
            .replace("questions", "checkpoints")
    );
    println!(
        "cosigning it with 2 witnesses, kept-alive connections: {}",
        Sample(kept_times)
            .summary()
            .replace("questions", "checkpoints")
    );
    w1.stop()?;
    w2.stop()?;

    // (b) Throughput: `logs` logs, each sending `requests` checkpoints that grow to `leaves`,
    // each with a consistency proof from the previous one, one client thread per log.
    let signers: Vec<NoteSigner> = (0..logs)
        .map(|i| NoteSigner::generate_from_seed(&format!("bench.example/log{i}"), [i as u8; 32]))
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    let mut pick = Pick(987_654_321);
    let mut bodies: Vec<Vec<AddCheckpoint>> = Vec::new();
    let mut longest = 0;
    for signer in &signers {
        let mut sizes: Vec<u64> = (0..requests)
            .map(|_| 1 + pick.next(leaves as usize) as u64)
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        if let Some(last) = sizes.last_mut() {
            *last = leaves;
        }
        let mut old = 0;
        let mut list = Vec::new();
        for s in sizes {
            let p = consistency_proof(&mut tiles, old, s)?.hashes;
            longest = longest.max(p.len());
            list.push(AddCheckpoint {
                old_size: old,
                proof: p,
                note: sign(signer, &mut tiles, s)?,
            });
            old = s;
        }
        bodies.push(list);
    }
    let total: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "{total} requests of {logs} logs prepared in {:.1} s (checkpoints up to size {leaves}, proofs of up to {longest} hashes)",
        t.elapsed().as_secs_f64()
    );
    let witnessed: Vec<WitnessedLog> = signers
        .iter()
        .map(|s| WitnessedLog {
            origin: s.name().to_string(),
            keys: vec![s.verifier()],
        })
        .collect();
    let (w, k) = start_witness(work, "throughput", witnessed, 2)?;
    let client = WitnessClient::new(&w.url(), k.verifier())?;

    // One log alone, one request at a time: the latency of one add-checkpoint.
    let (first, rest) = bodies.split_first().context("no logs")?;
    let t = Instant::now();
    let mut one = Vec::new();
    for r in first {
        let t = Instant::now();
        if client.send(r)?.is_err() {
            bail!("the witness refused a valid checkpoint");
        }
        one.push(t.elapsed().as_secs_f64());
    }
    let elapsed = t.elapsed().as_secs_f64();
    println!(
        "one log, one request at a time: {:.0} requests/s; {}",
        first.len() as f64 / elapsed,
        Sample(one).summary().replace("questions", "requests")
    );

    // Every other log at once.
    let t = Instant::now();
    let answered: Result<Vec<usize>> = std::thread::scope(|scope| {
        let handles: Vec<_> = rest
            .iter()
            .map(|list| {
                let c = client.clone();
                scope.spawn(move || -> Result<usize> {
                    for r in list {
                        if c.send(r)?.is_err() {
                            bail!("the witness refused a valid checkpoint");
                        }
                    }
                    Ok(list.len())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("client thread panicked"))?
            })
            .collect()
    });
    let answered: usize = answered?.into_iter().sum();
    let elapsed = t.elapsed().as_secs_f64();
    println!(
        "{} logs at once, one client thread each: {answered} requests in {elapsed:.2} s = {:.0} requests/s",
        rest.len(),
        answered as f64 / elapsed
    );
    w.stop()?;
    Ok(())
}
