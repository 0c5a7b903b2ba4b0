//! `gatehouse-bench`: the figures of docs/PERFORMANCE.md, measured.
//!
//! ```text
//! cargo run --release -p gatehouse-bench -- import  --people 100000
//! cargo run --release -p gatehouse-bench -- history --people 100000 --months 12
//! cargo run --release -p gatehouse-bench -- ledger
//! cargo run --release -p gatehouse-bench -- analyze --people 5400,54000,100000,270000
//! cargo run --release -p gatehouse-bench -- readers --people 54000
//! cargo run --release -p gatehouse-bench -- writes
//! cargo run --release -p gatehouse-bench -- demo
//! cargo run --release -p gatehouse-bench -- witness
//! cargo run --release -p gatehouse-bench -- campaigns --people 54000
//! ```
//!
//! Each phase that is timed runs in a child process of its own, so that its peak memory
//! (`VmHWM`) is its own and not the generator's.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use gatehouse_demo::{DemoConfig, Generator};
use gatehouse_model::Timestamp;
use gatehouse_store::inventory::query::HolderPage;
use gatehouse_store::{OpenOptions, Store};
use gatehouse_workflow::{ImportSettings, Source};
use serde::{Deserialize, Serialize};

mod campaigns;
mod concurrency;
mod inbox;
mod server;
mod witness;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Gatehouse benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The web server under load on loopback: health, an identity page, a who-has page and a
    /// form POST that records an event, each at N connections; then a mixed soak with the
    /// process's memory sampled.
    Server {
        /// People in the generated organisation.
        #[arg(long, default_value_t = 100_000)]
        people: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Working folder.
        #[arg(long, default_value = "target/bench-server")]
        work: PathBuf,
        /// Keep the store of an earlier run.
        #[arg(long)]
        reuse: bool,
        /// Concurrent connections.
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        /// Seconds per endpoint.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Seconds of mixed load afterwards (0: none).
        #[arg(long, default_value_t = 600)]
        soak: u64,
    },
    /// First import vs `sqlite3 .import` of the same CSV files, then a re-import with 1.5% of
    /// grants changed (0.5% removed, 1% given an expiry).
    Import {
        /// People in the generated organisation.
        #[arg(long, default_value_t = 100_000)]
        people: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Working folder (kept, so the files can be inspected).
        #[arg(long, default_value = "target/bench-import")]
        work: PathBuf,
        /// Runs of each timed import; the best is reported (the machine is shared and noisy).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// A year of monthly snapshots, then timed `who-has --at` and `access --at` questions.
    History {
        /// People in the generated organisation.
        #[arg(long, default_value_t = 100_000)]
        people: usize,
        /// Months of history.
        #[arg(long, default_value_t = 12)]
        months: u32,
        /// Generator seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Questions of each kind.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Working folder.
        #[arg(long, default_value = "target/bench-history")]
        work: PathBuf,
        /// Ask the questions of the store a previous run left in the working folder, without
        /// building the history again.
        #[arg(long)]
        reuse: bool,
    },
    /// Ledger figures: verifying 1M events against `sha256sum` of the same bytes, a 1M-event
    /// bundle checked offline, inclusion proofs in a 10M-leaf tree from stored tiles.
    Ledger {
        /// Events in the log to verify.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Leaves of the tree for the proof timings.
        #[arg(long, default_value_t = 10_000_000)]
        leaves: u64,
        /// Working folder.
        #[arg(long, default_value = "target/bench-ledger")]
        work: PathBuf,
    },
    /// All risk rules over generated organisations of growing size: time to load the
    /// inventory, to run the rules and to record the findings, and peak memory.
    Analyze {
        /// Headcounts to measure, comma-separated (about 18.5 grants per person).
        #[arg(long, value_delimiter = ',', default_value = "5400,54000,100000")]
        people: Vec<usize>,
        /// Generator seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Working folder.
        #[arg(long, default_value = "target/bench-analyze")]
        work: PathBuf,
    },
    /// Witnesses on loopback: the latency two witnesses add to signing a checkpoint, and the
    /// add-checkpoint requests per second one witness answers, with consistency proofs from
    /// trees of up to `--leaves` leaves.
    Witness {
        /// Leaves of the log's tree (held in memory).
        #[arg(long, default_value_t = 10_000_000)]
        leaves: u64,
        /// Logs sending checkpoints to one witness at once, for the throughput.
        #[arg(long, default_value_t = 16)]
        logs: usize,
        /// Checkpoints each log sends, for the throughput.
        #[arg(long, default_value_t = 250)]
        requests: usize,
        /// Checkpoints cosigned by two witnesses, for the latency (each way of connecting).
        #[arg(long, default_value_t = 200)]
        rounds: usize,
        /// Working folder (the witnesses' state files).
        #[arg(long, default_value = "target/bench-witness")]
        work: PathBuf,
    },
    /// Questions during a large import: a store holding one month of an organisation imports
    /// the next month's folder alone, then again (from a copy) while readers ask `who-has`
    /// (first page) and `access` questions; both backends.
    Readers {
        /// People in the organisation (about 18.5 grants each: 54,000 make a million).
        #[arg(long, default_value_t = 54_000)]
        people: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Backends, comma-separated.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "sqlite,postgres"
        )]
        backend: Vec<concurrency::BackendArg>,
        /// Readers asking at once.
        #[arg(long, default_value_t = 16)]
        readers: usize,
        /// Mean pause of a reader between two questions, in milliseconds (0: none).
        #[arg(long, default_value_t = 100)]
        think_ms: u64,
        /// Working folder.
        #[arg(long, default_value = "target/bench-readers")]
        work: PathBuf,
    },
    /// Small durable write transactions of one event each (a decision), on both backends.
    Writes {
        /// Backends, comma-separated.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "sqlite,postgres"
        )]
        backend: Vec<concurrency::BackendArg>,
        /// Writes of each kind.
        #[arg(long, default_value_t = 2000)]
        count: usize,
        /// Writer threads for the concurrent part.
        #[arg(long, default_value_t = 8)]
        writers: usize,
        /// Working folder.
        #[arg(long, default_value = "target/bench-writes")]
        work: PathBuf,
    },
    /// `gatehouse demo` (the release binary next to this one) on SQLite and on PostgreSQL.
    Demo {
        /// People in the demo organisation.
        #[arg(long, default_value_t = 2000)]
        people: usize,
        /// Working folder.
        #[arg(long, default_value = "target/bench-demo")]
        work: PathBuf,
    },
    /// Access review campaigns: launching over every grant (about a million at 54,000
    /// people), 100,000 decisions in bulk, the XLSX report of a campaign of about 100,000
    /// items.
    Campaigns {
        /// People in the organisation (about 18.5 grants each).
        #[arg(long, default_value_t = 54_000)]
        people: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Decisions in the bulk decision.
        #[arg(long, default_value_t = 100_000)]
        decisions: usize,
        /// Working folder.
        #[arg(long, default_value = "target/bench-campaigns")]
        work: PathBuf,
    },
    /// (internal) Analyse a store and report times and peak memory.
    AnalyzeChild {
        /// Store.
        #[arg(long)]
        db: String,
    },
    /// (internal) Import a written snapshot into a store and report time and peak memory.
    ImportChild {
        /// Snapshot folder.
        #[arg(long)]
        dir: PathBuf,
        /// Store.
        #[arg(long)]
        db: String,
        /// Snapshot time.
        #[arg(long)]
        as_of: String,
    },
}

/// What a child import reports.
#[derive(Serialize, Deserialize)]
struct ChildReport {
    seconds: f64,
    ledger_seconds: f64,
    events: u64,
    peak_rss_mib: f64,
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn today() -> jiff::civil::Date {
    jiff::civil::date(2026, 11, 23)
}

/// Data rows of every system's accounts.csv and grants.csv.
fn count_rows(dir: &Path) -> Result<(usize, usize)> {
    let (mut accounts, mut grants) = (0, 0);
    for (source, path) in gatehouse_workflow::snapshot_sources(dir)? {
        if source == Source::System {
            accounts += std::fs::read_to_string(path.join("accounts.csv"))?
                .lines()
                .count()
                .saturating_sub(1);
            grants += std::fs::read_to_string(path.join("grants.csv"))?
                .lines()
                .count()
                .saturating_sub(1);
        }
    }
    Ok((accounts, grants))
}

fn csv_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "csv") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn import_child(dir: &Path, db: &str, as_of: &str) -> Result<()> {
    let as_of: Timestamp = gatehouse_model::parse_timestamp(as_of)?;
    let store = Store::open(db, &OpenOptions::create())?;
    let before = store.event_count()?;
    let settings = ImportSettings {
        as_of: Some(as_of),
        skip_invalid: false,
        allow_mass_removal: false,
        reread: false,
    };
    let started = Instant::now();
    gatehouse_workflow::import_folder(&store, dir, &settings, "bench", as_of, None, |_, _| {})?;
    let report = ChildReport {
        seconds: started.elapsed().as_secs_f64(),
        ledger_seconds: store.ledger_time().as_secs_f64(),
        events: store.event_count()? - before,
        peak_rss_mib: peak_rss_mib(),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn run_child(dir: &Path, db: &str, as_of: &str) -> Result<ChildReport> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args(["import-child", "--dir"])
        .arg(dir)
        .args(["--db", db, "--as-of", as_of])
        .output()?;
    if !out.status.success() {
        bail!("import failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(out.stdout.trim_ascii())?)
}

/// Changes 1.5% of the grants of every system: a third removed, two thirds given an expiry.
fn change_one_percent(dir: &Path) -> Result<u64> {
    let mut changed = 0;
    for (source, path) in gatehouse_workflow::snapshot_sources(dir)? {
        if source != Source::System {
            continue;
        }
        let file = path.join("grants.csv");
        let text = std::fs::read_to_string(&file)?;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().to_owned();
        let cols: Vec<&str> = header.split(',').collect();
        let expires = cols.iter().position(|c| *c == "expires_at");
        let mut out = String::with_capacity(text.len());
        out.push_str(&header);
        out.push('\n');
        for (i, line) in lines.enumerate() {
            if i % 200 == 50 {
                changed += 1;
                continue;
            }
            if i % 100 == 99
                && !line.contains('"')
                && let Some(e) = expires
            {
                let mut fields: Vec<String> = line.split(',').map(str::to_owned).collect();
                if fields.len() == cols.len() {
                    fields[e] = "2027-01-31T00:00:00Z".into();
                    out.push_str(&fields.join(","));
                    out.push('\n');
                    changed += 1;
                    continue;
                }
            }
            out.push_str(line);
            out.push('\n');
        }
        std::fs::write(&file, out)?;
    }
    Ok(changed)
}

fn bench_import(people: usize, seed: u64, work: &Path, runs: usize) -> Result<()> {
    let _ = std::fs::remove_dir_all(work);
    let snap = work.join("snapshot");
    std::fs::create_dir_all(&snap)?;
    let t = Instant::now();
    let mut generator = Generator::new(DemoConfig {
        people,
        seed,
        today: today(),
        months: 2,
    })?;
    let as_of = generator
        .write_next_snapshot(&snap)?
        .context("the generator gave no snapshot")?
        .to_string();
    drop(generator);
    let (accounts, grants) = count_rows(&snap)?;
    let files = csv_files(&snap)?;
    let bytes: u64 = files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "organisation: {people} people, {accounts} accounts, {grants} grants; {} CSV files, {:.1} MiB (generated in {:.1} s)",
        files.len(),
        bytes as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );

    // Baseline: sqlite3's own CSV import into bare tables, same files, same disk.
    let baseline_db = work.join("baseline.db");
    let mut script = String::new();
    for (i, f) in files.iter().enumerate() {
        script.push_str(&format!(".import --csv '{}' t{i}\n", f.display()));
    }
    // Interleave the runs and flush dirty pages before each, so that neither side pays for
    // the other's write-back.
    let settle = || {
        let _ = Command::new("sync").status();
    };
    let db = work.join("gatehouse.db");
    let mut baseline = f64::MAX;
    let mut first: Option<ChildReport> = None;
    for _ in 0..runs {
        let _ = std::fs::remove_file(&baseline_db);
        settle();
        let t = Instant::now();
        let out = Command::new("sqlite3")
            .arg(&baseline_db)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(script.as_bytes())?;
                }
                child.wait_with_output()
            })
            .context("running sqlite3 (install it with scripts/setup)")?;
        baseline = baseline.min(t.elapsed().as_secs_f64());
        if !out.status.success() {
            bail!("sqlite3 failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        settle();
        let r = run_child(&snap, &db.display().to_string(), &as_of)?;
        if first.as_ref().is_none_or(|f| r.seconds < f.seconds) {
            first = Some(r);
        }
    }
    let first = first.context("no run")?;
    let db = db.display().to_string();
    println!("best of {runs} runs each");
    println!("sqlite3 .import (bare tables):      {baseline:8.2} s");
    println!(
        "gatehouse first import:             {:8.2} s   ({} events, peak memory {:.0} MiB)",
        first.seconds, first.events, first.peak_rss_mib
    );
    println!(
        "ratio gatehouse / sqlite3:          {:8.2}",
        first.seconds / baseline
    );
    println!(
        "ledger share of the first import:   {:8.2} s   ({:.1}% of the import; it adds {:.1}% to the rest)",
        first.ledger_seconds,
        first.ledger_seconds * 100.0 / first.seconds,
        first.ledger_seconds * 100.0 / (first.seconds - first.ledger_seconds)
    );

    let changed = change_one_percent(&snap)?;
    settle();
    let next = gatehouse_model::parse_timestamp(&as_of)?
        .checked_add(jiff::SignedDuration::from_hours(24))?
        .to_string();
    let second = run_child(&snap, &db, &next)?;
    println!(
        "gatehouse re-import, {changed} grants changed ({:.2}%): {:6.2} s   ({} events, peak memory {:.0} MiB)",
        changed as f64 * 100.0 / grants as f64,
        second.seconds,
        second.events,
        second.peak_rss_mib
    );
    println!(
        "ratio re-import / first import:     {:8.2}",
        second.seconds / first.seconds
    );
    Ok(())
}

struct Sample(Vec<f64>);

impl Sample {
    fn summary(mut self) -> String {
        self.0.sort_by(f64::total_cmp);
        let n = self.0.len();
        if n == 0 {
            return "no samples".into();
        }
        let at = |q: f64| self.0[((n as f64 - 1.0) * q).round() as usize] * 1000.0;
        format!(
            "median {:.1} ms, p95 {:.1} ms, max {:.1} ms ({n} questions)",
            at(0.5),
            at(0.95),
            at(1.0)
        )
    }
}

/// A small deterministic generator for picking samples.
struct Pick(u64);

impl Pick {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

fn bench_history(
    people: usize,
    months: u32,
    seed: u64,
    queries: usize,
    work: &Path,
    reuse: bool,
) -> Result<()> {
    let db = work.join("gatehouse.db").display().to_string();
    if !reuse {
        build_history(people, months, seed, work, &db)?;
    }
    // As `gatehouse who-has` and `gatehouse access` open it.
    let store = Store::open(&db, &OpenOptions::existing().for_questions())?;
    let (period, entitlements, identities) = store.read(|r| {
        let period = r.recorded_period()?;
        let entitlements: Vec<String> = r
            .entitlements(None)?
            .into_iter()
            .map(|e| format!("{}:{}", e.system, e.native_id))
            .collect();
        let identities: Vec<String> = r
            .identities()?
            .into_iter()
            .filter(|i| i.kind == gatehouse_model::IdentityKind::Person)
            .map(|i| i.key.to_string())
            .collect();
        Ok::<_, gatehouse_store::StoreError>((period, entitlements, identities))
    })?;
    let start = period
        .context("the store holds no import")?
        .first
        .as_second();
    let end = gatehouse_model::parse_timestamp("2026-11-23")?.as_second();
    let mut pick = Pick(seed.max(1) * 2654435761);
    let when = |pick: &mut Pick| -> Result<Timestamp> {
        let span = (end - start).max(1) as usize;
        Ok(Timestamp::from_second(start + pick.next(span) as i64)?)
    };
    // The same questions twice: as `who-has` answers in a table (the number of holders and
    // the first page of 1,000) and as a whole list (`--all`, or `--format csv|json`).
    let mut who = Vec::new();
    let mut who_all = Vec::new();
    let mut holders = 0usize;
    let mut largest = 0usize;
    let first_page = HolderPage {
        after: None,
        limit: Some(1000),
    };
    for _ in 0..queries {
        let r = &entitlements[pick.next(entitlements.len())];
        let at = when(&mut pick)?;
        let t = Instant::now();
        let h = store.read(|q| {
            let e = q.resolve_entitlement(r)?;
            q.who_has(&e, at, &first_page)
        })?;
        who.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let all = store.read(|q| {
            let e = q.resolve_entitlement(r)?;
            q.who_has(&e, at, &HolderPage::default())
        })?;
        who_all.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(
            all.holders.len() as u64 == h.total && all.holders.starts_with(&h.holders),
            "the first page of {r} is not the start of its whole list"
        );
        holders += all.holders.len();
        largest = largest.max(all.holders.len());
    }
    let mut acc = Vec::new();
    let mut grants = 0usize;
    for _ in 0..queries {
        let k = &identities[pick.next(identities.len())];
        let at = when(&mut pick)?;
        let t = Instant::now();
        let a = store.read(|q| {
            let i = q.resolve_identity(k, at)?;
            q.access(i, at)
        })?;
        acc.push(t.elapsed().as_secs_f64());
        grants += a.grants.len();
    }
    println!(
        "who-has --at (random entitlement, random date):  {}; {:.0} holders on average, largest {largest}",
        Sample(who).summary(),
        holders as f64 / queries.max(1) as f64
    );
    println!(
        "  the same, every holder listed (--all):        {}",
        Sample(who_all).summary()
    );
    println!(
        "access --at (random person, random date):        {}; {:.0} grants on average",
        Sample(acc).summary(),
        grants as f64 / queries.max(1) as f64
    );
    Ok(())
}

/// Imports a year of monthly snapshots into a fresh store, each in a child process.
fn build_history(people: usize, months: u32, seed: u64, work: &Path, db: &str) -> Result<()> {
    let _ = std::fs::remove_dir_all(work);
    let snap = work.join("snapshot");
    std::fs::create_dir_all(&snap)?;
    let mut generator = Generator::new(DemoConfig {
        people,
        seed,
        today: today(),
        months,
    })?;
    let t = Instant::now();
    let mut total_events = 0;
    while let Some(at) = generator.write_next_snapshot(&snap)? {
        let as_of = at.to_string();
        let r = run_child(&snap, db, &as_of)?;
        total_events += r.events;
        println!(
            "  snapshot {as_of}: {:.1} s, {} events, peak {:.0} MiB",
            r.seconds, r.events, r.peak_rss_mib
        );
    }
    println!(
        "history built in {:.1} s, {total_events} events",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn bench_ledger(events: u64, leaves: u64, work: &Path) -> Result<()> {
    use gatehouse_ledger::{NoteSigner, leaf_hash};
    use gatehouse_model::{AccountActivity, EventData, InventoryEvent, Stamped, SystemKey};
    use gatehouse_store::VerifyOptions;

    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work)?;
    let db = work.join("ledger.db").display().to_string();
    let store = Store::open(&db, &OpenOptions::create())?;
    let now = gatehouse_model::parse_timestamp("2026-11-23T10:00:00Z")?;
    // A system with one account, then one single-record event per login observation: ~250
    // bytes each, the size of a typical single event.
    let sys = work.join("sys");
    std::fs::create_dir_all(&sys)?;
    std::fs::write(sys.join("system.toml"), "key = \"app\"\nname = \"App\"\n")?;
    std::fs::write(
        sys.join("accounts.csv"),
        "id,username\nsvc-000001,svc-batch-runner\n",
    )?;
    std::fs::write(sys.join("entitlements.csv"), "id\n")?;
    std::fs::write(sys.join("grants.csv"), "account,entitlement\n")?;
    let settings = ImportSettings {
        as_of: Some(now),
        skip_invalid: false,
        allow_mass_removal: false,
        reread: false,
    };
    gatehouse_workflow::import(&store, Source::System, &sys, &settings, "bench", now, None)?;
    let key = SystemKey::new("app")?;
    let t = Instant::now();
    let mut n = store.event_count()?;
    while n < events {
        let chunk = (events - n).min(100_000);
        store.write("bench:ledger", now, |w| {
            let data: Vec<EventData> = (0..chunk)
                .map(|i| {
                    let at = Timestamp::from_second(1_700_000_000 + (n + i) as i64).unwrap_or(now);
                    EventData::from(InventoryEvent::AccountActivity(Stamped {
                        as_of: at,
                        import: None,
                        record: AccountActivity {
                            system: key.clone(),
                            logins: vec![("svc-000001".into(), at)],
                        },
                    }))
                })
                .collect();
            w.append_all(data)
        })?;
        n += chunk;
    }
    let append = t.elapsed().as_secs_f64();
    let signer = NoteSigner::generate_from_seed("bench.example/gatehouse", [7; 32])?;
    store.sign_checkpoint(&signer, now)?;
    println!(
        "log of {n} events appended in {append:.1} s ({:.0} events/s, ledger part {:.2} s)",
        n as f64 / append,
        store.ledger_time().as_secs_f64()
    );

    // Verify: tree part only, then the bytes through sha256sum.
    let t = Instant::now();
    let r = store
        .read(|q| {
            q.verify_ledger(&VerifyOptions {
                key: &signer.verifier(),
                published: vec![],
                state: false,
            })
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let verify = t.elapsed().as_secs_f64();
    let bundle = work.join("bundle");
    let t = Instant::now();
    store.read(|q| q.export_bundle(&bundle, 1, n, &signer.verifier()))?;
    let export = t.elapsed().as_secs_f64();
    let _ = Command::new("sync").status();
    let t = Instant::now();
    let out = Command::new("sha256sum")
        .arg(bundle.join("events.jsonl"))
        .output()?;
    let sha = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("sha256sum failed");
    }
    let mb = r.bytes as f64 / 1048576.0;
    println!(
        "ledger verify (tree part, reading from the store): {:.2} s for {mb:.0} MiB = {:.0} MiB/s",
        r.tree_seconds,
        mb / r.tree_seconds
    );
    println!("  (whole verify call {verify:.2} s)");
    println!(
        "sha256sum of the same event bytes:                {sha:.2} s = {:.0} MiB/s",
        mb / sha
    );
    println!(
        "ratio verifier / sha256sum throughput:            {:.2}",
        (mb / r.tree_seconds) / (mb / sha)
    );
    let t = Instant::now();
    let report = gatehouse_ledger::bundle::verify_bundle(&bundle, &signer.verifier())?;
    println!(
        "bundle of {} events exported in {export:.1} s, verified offline in {:.2} s",
        report.events_checked,
        t.elapsed().as_secs_f64()
    );
    drop(store);

    // Proofs at 10M leaves: the tree's tiles written straight into a store.
    let big = work.join("tiles.db").display().to_string();
    let store = Store::open(&big, &OpenOptions::create())?;
    let t = Instant::now();
    let root = gatehouse_store::testing::write_tree(&store, leaves)?;
    println!(
        "tree of {leaves} leaves built and stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut pick = Pick(12345);
    let t = Instant::now();
    gatehouse_store::testing::tile_inclusion_proof(&store, 0, leaves)?;
    println!(
        "first (cold) inclusion proof: {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let mut times = Vec::new();
    for _ in 0..1000 {
        let index = pick.next(leaves as usize) as u64;
        let t = Instant::now();
        let proof = gatehouse_store::testing::tile_inclusion_proof(&store, index, leaves)?;
        times.push(t.elapsed().as_secs_f64());
        proof.verify(&leaf_hash(&index.to_be_bytes()), &root)?;
    }
    println!(
        "inclusion proof at {leaves} leaves, from stored tiles: {}",
        Sample(times).summary().replace("questions", "proofs")
    );
    Ok(())
}

/// What a child analysis reports.
#[derive(Serialize, Deserialize)]
struct AnalyzeReport {
    grants: u64,
    findings: u64,
    load_seconds: f64,
    rules_seconds: f64,
    record_seconds: f64,
    second_run_seconds: f64,
    peak_rss_mib: f64,
}

fn analyze_child(db: &str) -> Result<()> {
    let store = Store::open(db, &OpenOptions::existing())?;
    let policy = gatehouse_analysis::Policy::default();
    let sod = gatehouse_analysis::Ruleset::from_toml(
        gatehouse_analysis::sod::STARTER,
        Path::new("sod.toml"),
    )?;
    let now = gatehouse_model::parse_timestamp("2026-11-23T12:00:00Z")?;
    let (first, _) = gatehouse_workflow::analyze(&store, &policy, &sod, "bench", now)?;
    let t = Instant::now();
    let (second, _) = gatehouse_workflow::analyze(&store, &policy, &sod, "bench", now)?;
    let second_run = t.elapsed().as_secs_f64();
    let report = AnalyzeReport {
        grants: second.analysis.grants,
        findings: second.present.values().sum(),
        load_seconds: first
            .load_time
            .as_secs_f64()
            .min(second.load_time.as_secs_f64()),
        rules_seconds: first
            .rules_time
            .as_secs_f64()
            .min(second.rules_time.as_secs_f64()),
        record_seconds: first.write_time.as_secs_f64(),
        second_run_seconds: second_run,
        peak_rss_mib: peak_rss_mib(),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn bench_analyze(people: &[usize], seed: u64, work: &Path) -> Result<()> {
    println!(
        "{:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>12} {:>9}",
        "people", "grants", "findings", "load s", "rules s", "total s", "record 1st s", "peak MiB"
    );
    for &n in people {
        let dir = work.join(n.to_string());
        let _ = std::fs::remove_dir_all(&dir);
        let snap = dir.join("snapshot");
        std::fs::create_dir_all(&snap)?;
        let db = dir.join("gatehouse.db").display().to_string();
        let mut generator = Generator::new(DemoConfig {
            people: n,
            seed,
            today: today(),
            months: 2,
        })?;
        while let Some(at) = generator.write_next_snapshot(&snap)? {
            run_child(&snap, &db, &at.to_string())?;
        }
        drop(generator);
        let exe = std::env::current_exe()?;
        let out = Command::new(exe)
            .args(["analyze-child", "--db", &db])
            .output()?;
        if !out.status.success() {
            bail!("analysis failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let r: AnalyzeReport = serde_json::from_slice(out.stdout.trim_ascii())?;
        println!(
            "{n:>9} {:>10} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>12.2} {:>9.0}",
            r.grants,
            r.findings,
            r.load_seconds,
            r.rules_seconds,
            r.load_seconds + r.rules_seconds,
            r.record_seconds,
            r.peak_rss_mib
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Import {
            people,
            seed,
            work,
            runs,
        } => bench_import(people, seed, &work, runs.max(1))?,
        Cmd::History {
            people,
            months,
            seed,
            queries,
            work,
            reuse,
        } => bench_history(people, months, seed, queries, &work, reuse)?,
        Cmd::ImportChild { dir, db, as_of } => import_child(&dir, &db, &as_of)?,
        Cmd::Analyze { people, seed, work } => bench_analyze(&people, seed, &work)?,
        Cmd::AnalyzeChild { db } => analyze_child(&db)?,
        Cmd::Ledger {
            events,
            leaves,
            work,
        } => bench_ledger(events, leaves, &work)?,
        Cmd::Readers {
            people,
            seed,
            backend,
            readers,
            think_ms,
            work,
        } => concurrency::bench_readers(
            people,
            seed,
            &work,
            &backend,
            readers,
            std::time::Duration::from_millis(think_ms),
        )?,
        Cmd::Writes {
            backend,
            count,
            writers,
            work,
        } => concurrency::bench_small_writes(&backend, &work, count, writers)?,
        Cmd::Demo { people, work } => concurrency::bench_demo(people, &work)?,
        Cmd::Campaigns {
            people,
            seed,
            decisions,
            work,
        } => campaigns::bench_campaigns(people, seed, &work, decisions)?,
        Cmd::Server {
            people,
            seed,
            work,
            reuse,
            concurrency,
            seconds,
            soak,
        } => server::bench_server(people, seed, &work, reuse, concurrency, seconds, soak)?,
        Cmd::Witness {
            leaves,
            logs,
            requests,
            rounds,
            work,
        } => witness::bench_witness(leaves, logs.max(2), requests.max(1), rounds.max(1), &work)?,
    }
    Ok(ExitCode::SUCCESS)
}
