//! The store shared: questions asked while a large import runs, small durable writes, and the
//! demo on both backends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gatehouse_demo::{DemoConfig, Generator};
use gatehouse_model::{
    AnalysisRun, Batch, Finding, FindingAccepted, FindingEvent, IdentityKind, Severity, Stamped,
    Timestamp,
};
use gatehouse_store::inventory::query::HolderPage;
use gatehouse_store::{OpenOptions, Store, StoreError};
use gatehouse_workflow::ImportSettings;

use crate::{Pick, today};

/// Which backend a benchmark runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    /// A SQLite file in the working folder.
    Sqlite,
    /// A private PostgreSQL server on loopback, with its default durability.
    Postgres,
}

/// A fresh, empty store location on a backend.
fn fresh(backend: BackendArg, work: &Path, name: &str) -> Result<String> {
    Ok(match backend {
        BackendArg::Sqlite => {
            let path = work.join(format!("{name}.db"));
            for suffix in ["", "-wal", "-shm", "-import.lock"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            path.display().to_string()
        }
        BackendArg::Postgres => gatehouse_store::testing::durable_postgres_url(),
    })
}

/// A copy of a store (closed) at another location.
fn copy(backend: BackendArg, location: &str, name: &str) -> Result<String> {
    Ok(match backend {
        BackendArg::Sqlite => {
            let to = Path::new(location).with_file_name(format!("{name}.db"));
            for suffix in ["-wal", "-shm", "-import.lock"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
            }
            std::fs::copy(location, &to).with_context(|| format!("cannot copy `{location}`"))?;
            to.display().to_string()
        }
        BackendArg::Postgres => gatehouse_store::testing::copy_postgres_database(location),
    })
}

fn import(store: &Store, dir: &Path, as_of: Timestamp) -> Result<f64> {
    let settings = ImportSettings {
        as_of: Some(as_of),
        skip_invalid: false,
        allow_mass_removal: false,
        reread: false,
    };
    let t = Instant::now();
    gatehouse_workflow::import_folder(store, dir, &settings, "bench", as_of, None, |_, _| {})?;
    Ok(t.elapsed().as_secs_f64())
}

/// What readers ask: the first page of an entitlement's holders, or one person's access, at a
/// random time within the store's history.
struct Questions {
    entitlements: Vec<String>,
    people: Vec<String>,
    from: i64,
    to: i64,
}

impl Questions {
    fn of(store: &Store) -> Result<Questions> {
        store.read(|r| {
            let period = r.recorded_period()?.context("the store holds no import")?;
            Ok(Questions {
                entitlements: r
                    .entitlements(None)?
                    .into_iter()
                    .map(|e| format!("{}:{}", e.system, e.native_id))
                    .collect(),
                people: r
                    .identities()?
                    .into_iter()
                    .filter(|i| i.kind == IdentityKind::Person)
                    .map(|i| i.key.to_string())
                    .collect(),
                from: period.first.as_second(),
                to: period.last.as_second() + 30 * 86_400,
            })
        })
    }

    /// Asks one question; returns its time in seconds.
    fn ask(&self, store: &Store, pick: &mut Pick) -> Result<f64> {
        let at = Timestamp::from_second(
            self.from + pick.next((self.to - self.from).max(1) as usize) as i64,
        )?;
        let t = Instant::now();
        if pick.next(2) == 0 {
            let e = &self.entitlements[pick.next(self.entitlements.len())];
            store.read(|r| {
                let e = r.resolve_entitlement(e)?;
                r.who_has(
                    &e,
                    at,
                    &HolderPage {
                        after: None,
                        limit: Some(1000),
                    },
                )
            })?;
        } else {
            let p = &self.people[pick.next(self.people.len())];
            store.read(|r| {
                let i = r.resolve_identity(p, at)?;
                r.access(i, at)
            })?;
        }
        Ok(t.elapsed().as_secs_f64())
    }
}

/// Runs `readers` threads asking questions of `location` (each pausing a random 0 to
/// 2 × `think` between questions) while `work` runs; returns what `work` returned and every
/// question's time.
fn with_readers<T>(
    location: &str,
    readers: usize,
    think: Duration,
    questions: &Questions,
    work: impl FnOnce() -> Result<T>,
) -> Result<(T, Vec<f64>)> {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..readers)
            .map(|i| {
                let done = &done;
                s.spawn(move || -> Result<Vec<f64>> {
                    // Each reader is a process of its own as far as the store is concerned.
                    let store = Store::open(location, &OpenOptions::existing().for_questions())?;
                    let mut pick = Pick(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1));
                    let mut times = Vec::new();
                    while !done.load(Ordering::Relaxed) {
                        times.push(questions.ask(&store, &mut pick)?);
                        if !think.is_zero() {
                            let ms = pick.next(2 * think.as_millis() as usize + 1);
                            std::thread::sleep(Duration::from_millis(ms as u64));
                        }
                    }
                    Ok(times)
                })
            })
            .collect();
        let out = work();
        done.store(true, Ordering::Relaxed);
        let mut times = Vec::new();
        for h in handles {
            times.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a reader panicked"))??,
            );
        }
        Ok((out?, times))
    })
}

fn p99(times: &[f64]) -> String {
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    if t.is_empty() {
        return "no questions".into();
    }
    let at = |q: f64| t[((t.len() as f64 - 1.0) * q).round() as usize] * 1000.0;
    format!(
        "median {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} questions)",
        at(0.5),
        at(0.95),
        at(0.99),
        at(1.0),
        t.len()
    )
}

/// Questions during a large import: a store holding one month of an organisation of `people`
/// (about 18.5 grants each) imports the next month's snapshot folder, alone and then again
/// (from a copy of the same store) while `readers` readers ask questions.
pub fn bench_readers(
    people: usize,
    seed: u64,
    work: &Path,
    backends: &[BackendArg],
    readers: usize,
    think: Duration,
) -> Result<()> {
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work)?;
    let mut generator = Generator::new(DemoConfig {
        people,
        seed,
        today: today(),
        months: 2,
    })?;
    let first = work.join("month-1");
    let second = work.join("month-2");
    let at1 = generator
        .write_next_snapshot(&first)?
        .context("no first snapshot")?;
    let at2 = generator
        .write_next_snapshot(&second)?
        .context("no second snapshot")?;
    drop(generator);
    let (_, grants) = crate::count_rows(&second)?;
    println!(
        "organisation: {people} people; the imported folder holds {grants} grants ({readers} readers, \
         pausing 0–{} ms between questions)",
        2 * think.as_millis()
    );
    for &backend in backends {
        let base = fresh(backend, work, "base")?;
        {
            let store = Store::open(&base, &OpenOptions::create())?;
            let s = import(&store, &first, at1)?;
            println!("{backend:?}: first month imported in {s:.1} s");
        }
        let questions = Questions::of(&Store::open(&base, &OpenOptions::existing())?)?;
        let alone_at = copy(backend, &base, "alone")?;
        let alone = import(
            &Store::open(&alone_at, &OpenOptions::existing())?,
            &second,
            at2,
        )?;
        let busy_at = copy(backend, &base, "busy")?;
        let busy_store = Store::open(&busy_at, &OpenOptions::existing())?;
        let (busy, times) = with_readers(&busy_at, readers, think, &questions, || {
            import(&busy_store, &second, at2)
        })?;
        // Questions with nobody writing, for comparison.
        let idle_store = Store::open(&busy_at, &OpenOptions::existing())?;
        let (_, idle) = with_readers(&busy_at, readers, think, &questions, || {
            std::thread::sleep(Duration::from_secs(10));
            Ok(idle_store.event_count()?)
        })?;
        println!(
            "{backend:?}: next month's folder imported alone in {alone:.1} s, with the readers in {busy:.1} s ({:+.0}%)",
            (busy / alone - 1.0) * 100.0
        );
        println!("  questions during the import: {}", p99(&times));
        println!("  the same questions, no import: {}", p99(&idle));
    }
    Ok(())
}

/// Small durable write transactions, one event each (a risk accepted, as a review decision
/// will be): one writer after another, then `writers` at once.
pub fn bench_small_writes(
    backends: &[BackendArg],
    work: &Path,
    count: usize,
    writers: usize,
) -> Result<()> {
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work)?;
    let now = gatehouse_model::parse_timestamp("2026-11-23T10:00:00Z")?;
    for &backend in backends {
        let location = fresh(backend, work, "writes")?;
        let store = Store::open(&location, &OpenOptions::create())?;
        store.write("bench", now, |w| {
            let run = w.append(FindingEvent::AnalysisRan(Stamped {
                as_of: now,
                import: None,
                record: AnalysisRun {
                    policy: "0".repeat(64),
                    rules: vec![],
                    present: Default::default(),
                    opened: 1,
                    changed: 0,
                    resolved: 0,
                    reopened: 0,
                },
            }))?;
            w.append(FindingEvent::FindingOpened(Batch {
                as_of: now,
                import: Some(run),
                records: vec![Finding {
                    id: "F-0000000000000001".into(),
                    rule: "bench".into(),
                    severity: Severity::Low,
                    title: "a finding to decide on".into(),
                    identity: None,
                    system: None,
                    account: None,
                    entitlements: vec![],
                    facts: Default::default(),
                    explanation: String::new(),
                }],
            }))?;
            Ok::<_, StoreError>(())
        })?;
        let decide = |store: &Store, i: usize| -> Result<()> {
            store.write(&format!("reviewer:{}", i % 50), now, |w| {
                w.append(FindingEvent::FindingAccepted(Stamped {
                    as_of: now,
                    import: None,
                    record: FindingAccepted {
                        id: "F-0000000000000001".into(),
                        by: format!("reviewer:{}", i % 50),
                        reason: format!("decision {i}"),
                        until: gatehouse_model::parse_timestamp("2027-01-01T00:00:00Z")?,
                    },
                }))?;
                Ok::<_, anyhow::Error>(())
            })
        };
        let t = Instant::now();
        for i in 0..count {
            decide(&store, i)?;
        }
        let one = count as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        std::thread::scope(|s| -> Result<()> {
            let handles: Vec<_> = (0..writers)
                .map(|k| {
                    let store = store.clone();
                    s.spawn(move || -> Result<()> {
                        for i in 0..count / writers {
                            decide(&store, k * count + i)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
            }
            Ok(())
        })?;
        let many = (count / writers * writers) as f64 / t.elapsed().as_secs_f64();
        let stats = store.commit_stats();
        println!(
            "{backend:?}: {count} single-event durable write transactions: {one:.0}/s one after \
             another, {many:.0}/s from {writers} threads ({} writes in {} commits in all)",
            stats.writes, stats.commits
        );
    }
    Ok(())
}

/// `gatehouse demo` (the real binary, next to this one) on SQLite and on PostgreSQL.
pub fn bench_demo(people: usize, work: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work)?;
    let exe = std::env::current_exe()?
        .parent()
        .map(|d| d.join("gatehouse"))
        .context("no folder for this benchmark's binary")?;
    if !exe.exists() {
        bail!(
            "`{}` is missing; build it with `cargo build --release -p gatehouse-cli`",
            exe.display()
        );
    }
    let mut times = Vec::new();
    for backend in [BackendArg::Sqlite, BackendArg::Postgres] {
        let dir: PathBuf = work.join(format!("{backend:?}").to_lowercase());
        std::fs::create_dir_all(&dir)?;
        // The demo runs in its folder: the store's path must not be relative to ours.
        let dir = std::fs::canonicalize(&dir)?;
        let db = match backend {
            BackendArg::Sqlite => dir.join("gatehouse.db").display().to_string(),
            BackendArg::Postgres => gatehouse_store::testing::durable_postgres_url(),
        };
        let t = Instant::now();
        let out = Command::new(&exe)
            .args(["--db", &db, "demo", "--people", &people.to_string()])
            .current_dir(&dir)
            .env("GATEHOUSE_ACTOR", "bench")
            .env("GATEHOUSE_NOW", "2026-11-23T10:00:00Z")
            .output()?;
        let s = t.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!(
                "gatehouse demo failed on {backend:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        println!("gatehouse demo --people {people} on {backend:?}: {s:.1} s");
        times.push(s);
    }
    println!(
        "PostgreSQL / SQLite: {:.2}",
        times[1] / times[0].max(f64::EPSILON)
    );
    Ok(())
}
