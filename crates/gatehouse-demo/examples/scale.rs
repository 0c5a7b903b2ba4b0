//! Prints the size of the generated demo company and how long each snapshot takes.
//!
//! ```text
//! cargo run --release -p gatehouse-demo --example scale -- --people 100000 [--snapshots 13]
//!     [--seed 1] [--today 2026-03-01] [--write DIR [--stream]]
//! ```
//!
//! Without `--write` each snapshot is built in memory; with `--write DIR` it is written to
//! `DIR/<n>/`, either from the in-memory snapshot or, with `--stream`, while generating it.

use std::path::PathBuf;
use std::time::Instant;

use gatehouse_demo::{DemoConfig, Generator, PlantedKind, write_snapshot};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut people = 2_000usize;
    let mut snapshots = usize::MAX;
    let mut seed = 1u64;
    let mut today: jiff::civil::Date = "2026-03-01".parse()?;
    let mut write: Option<PathBuf> = None;
    let mut stream = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--people" => people = value()?.parse()?,
            "--snapshots" => snapshots = value()?.parse()?,
            "--seed" => seed = value()?.parse()?,
            "--today" => today = value()?.parse()?,
            "--write" => write = Some(PathBuf::from(value()?)),
            "--stream" => stream = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let started = Instant::now();
    let mut generator = Generator::new(DemoConfig {
        people,
        seed,
        today,
        months: 12,
    })?;
    println!("setup: {:.2?}", started.elapsed());
    for n in 0..snapshots {
        let t = Instant::now();
        if stream {
            let dir = write
                .clone()
                .ok_or("--stream needs --write")?
                .join(n.to_string());
            match generator.write_next_snapshot(&dir)? {
                Some(at) => println!("{at}: written in {:.2?}", t.elapsed()),
                None => break,
            }
            continue;
        }
        let Some(s) = generator.next_snapshot() else {
            break;
        };
        let built = t.elapsed();
        let accounts: usize = s.systems.iter().map(|x| x.accounts.len()).sum();
        let grants: usize = s.systems.iter().map(|x| x.grants.len()).sum();
        print!(
            "{}: people {} (rows), nhi {}, accounts {accounts}, grants {grants}, warrants {}, built in {built:.2?}",
            s.as_of,
            s.people.len(),
            s.non_human.len(),
            s.warrants.len()
        );
        if let Some(dir) = &write {
            let t = Instant::now();
            write_snapshot(&s, &dir.join(n.to_string()))?;
            print!(", written in {:.2?}", t.elapsed());
        }
        println!();
    }
    println!("total: {:.2?}", started.elapsed());
    let planted = generator.planted();
    for kind in PlantedKind::ALL {
        println!("  {kind}: {}", planted.count(*kind));
    }
    Ok(())
}
