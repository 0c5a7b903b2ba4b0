//! Access review campaigns at scale: launching a campaign over a million grants (population
//! frozen and hashed, an item per grant with its context and recommendation, as events),
//! recording 100,000 decisions in bulk with their ledger events, and the XLSX report of a
//! campaign of about 100,000 items. The organisation is generated (seed 7) and imported the
//! way `gatehouse import folder` does; the review policy has every system reviewed by its
//! owner, so that one reviewer holds enough items for a bulk decision of 100,000.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use gatehouse_demo::{DemoConfig, Generator};
use gatehouse_model::{IdentityKind, Verdict};
use gatehouse_store::campaigns::query::ItemFilter;
use gatehouse_store::{OpenOptions, Store};
use gatehouse_workflow::campaigns::{
    self, Acting, BulkDecision, BulkSelection, NewCampaign, ReviewPolicy,
};

use crate::{peak_rss_mib, run_child, today};

/// Wall-clock and processor seconds of this process (user and system, from
/// `/proc/self/stat`), so that a figure measured on a busy machine can be told apart from the
/// work it took.
#[derive(Clone, Copy)]
struct Clock {
    wall: Instant,
    cpu: f64,
}

fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces; the fields after its `)` are fixed.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: Instant::now(),
            cpu: cpu_seconds(),
        }
    }

    /// `(wall, cpu)` seconds since the start.
    fn elapsed(self) -> (f64, f64) {
        (self.wall.elapsed().as_secs_f64(), cpu_seconds() - self.cpu)
    }
}

fn policy(admin: &str, systems: &[String]) -> Result<ReviewPolicy> {
    let list = systems
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "administrators = [\"{admin}\"]\ncompliance_owner = \"{admin}\"\n\
         [defaults]\nstages = [\"system_owner\"]\n\
         [[scope]]\nname = \"everything\"\nsystems = [{list}]\ncadence_days = 91\n"
    );
    Ok(ReviewPolicy::from_toml(&text, Path::new("reviews.toml"))?)
}

/// Runs the campaign benchmark.
pub fn bench_campaigns(people: usize, seed: u64, work: &Path, decisions: usize) -> Result<()> {
    let _ = std::fs::remove_dir_all(work);
    let snap = work.join("snapshot");
    std::fs::create_dir_all(&snap)?;
    let db = work.join("gatehouse.db").display().to_string();
    // The generator needs two months of history; one snapshot is imported, as in the import
    // benchmark.
    let mut generator = Generator::new(DemoConfig {
        people,
        seed,
        today: today(),
        months: 2,
    })?;
    let now = generator
        .write_next_snapshot(&snap)?
        .context("the generator wrote no snapshot")?;
    drop(generator);
    run_child(&snap, &db, &now.to_string())?;
    let store = Store::open(&db, &OpenOptions::existing())?;
    let (admin, systems) = store.read(|r| {
        let admin = r
            .current_identities()?
            .into_iter()
            .find(|i| i.kind == IdentityKind::Person)
            .map(|i| i.key.to_string());
        let systems: Vec<(String, i64)> = r
            .systems()?
            .into_iter()
            .map(|s| (s.key.to_string(), s.grants))
            .collect();
        Ok::<_, gatehouse_store::StoreError>((admin, systems))
    })?;
    let admin = admin.context("no person in the organisation")?;
    let keys: Vec<String> = systems.iter().map(|(k, _)| k.clone()).collect();
    let grants: i64 = systems.iter().map(|(_, g)| g).sum();
    let p = policy(&admin, &keys)?;
    let who = Acting::person("bench", gatehouse_model::IdentityKey::new(admin.clone())?);
    println!(
        "organisation: {people} people, {grants} grants on {} systems",
        keys.len()
    );

    // 1. Launch over every grant.
    let c = campaigns::create(
        &store,
        &p,
        &who,
        now,
        NewCampaign {
            scope: Some("everything".into()),
            ..NewCampaign::default()
        },
    )?;
    // The population alone (what a launch computes before it writes), then the launch.
    let t = Clock::start();
    campaigns::preview(&store, &p, c.id, &[], now)?;
    let (preview_s, preview_cpu) = t.elapsed();
    let events_before = store.event_count()?;
    let t = Clock::start();
    let launched = campaigns::launch(&store, &p, &who, now, c.id, &[])?;
    let (launch_s, launch_cpu) = t.elapsed();
    println!(
        "launch: {} items in {launch_s:.2} s, CPU {launch_cpu:.2} s ({} events, population \
         SHA-256 {}); the population alone (preview) {preview_s:.2} s, CPU {preview_cpu:.2} s",
        launched.preview.items,
        store.event_count()? - events_before,
        &launched.preview.population_sha256[..16]
    );

    // 2. Bulk decisions by the reviewer with the most items.
    let (reviewer, open) = store
        .read(|r| r.open_items_by_reviewer(c.id))?
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .context("no reviewer")?;
    if (open as usize) < decisions {
        bail!("the busiest reviewer has {open} items, fewer than {decisions}");
    }
    let items: Vec<u32> = store
        .read(|r| {
            r.review_items(
                c.id,
                &ItemFilter {
                    reviewer: Some(reviewer.clone()),
                    open: Some(true),
                    limit: Some(decisions as u64),
                    ..ItemFilter::default()
                },
            )
        })?
        .into_iter()
        .map(|i| i.item.n)
        .collect();
    let decider = Acting::person("bench", reviewer.clone());
    let events_before = store.event_count()?;
    let t = Clock::start();
    let report = campaigns::decide_bulk(
        &store,
        &decider,
        now,
        c.id,
        &BulkSelection {
            items,
            ..BulkSelection::default()
        },
        &BulkDecision {
            verdict: Some(Verdict::Keep),
            until: None,
            comment: Some("still needed: confirmed with the team leads".into()),
        },
    )?;
    let (decide_s, decide_cpu) = t.elapsed();
    println!(
        "bulk decisions: {} decided by {reviewer} (of their {open} open items) in {decide_s:.2} s, \
         CPU {decide_cpu:.2} s ({} events)",
        report.decided,
        store.event_count()? - events_before
    );

    // 3. The XLSX report of a campaign of about 100,000 items: the system whose grants are
    // nearest that number.
    let (system, n) = systems
        .iter()
        .min_by_key(|(_, g)| (g - 100_000).abs())
        .context("no system")?;
    let small = campaigns::create(
        &store,
        &p,
        &who,
        now,
        NewCampaign {
            systems: vec![gatehouse_model::SystemKey::new(system.clone())?],
            ..NewCampaign::default()
        },
    )?;
    campaigns::launch(&store, &p, &who, now, small.id, &[])?;
    let reviewers = store.read(|r| r.open_items_by_reviewer(small.id))?;
    for (r, _) in reviewers {
        campaigns::decide_bulk(
            &store,
            &Acting::person("bench", r),
            now,
            small.id,
            &BulkSelection::default(),
            &BulkDecision::default(),
        )?;
    }
    let signer =
        gatehouse_ledger::NoteSigner::generate_from_seed("bench.example/gatehouse", [7; 32])?;
    store.sign_checkpoint(&signer, now)?;
    let t = Clock::start();
    let rep = campaigns::report::campaign_report(&store, small.id, now)?;
    let (assemble_s, assemble_cpu) = t.elapsed();
    let t = Clock::start();
    let xlsx = gatehouse_evidence::campaign(&rep, gatehouse_evidence::ExportFormat::Xlsx)?;
    let (render_s, render_cpu) = t.elapsed();
    std::fs::write(work.join(format!("{}-report.xlsx", small.id)), &xlsx)?;
    println!(
        "xlsx report of {} ({system}, {n} grants): {} items, {} proofs, {:.1} MiB in {:.2} s, \
         CPU {:.2} s (read and prove {assemble_s:.2} s, CPU {assemble_cpu:.2} s; write \
         {render_s:.2} s, CPU {render_cpu:.2} s)",
        small.id,
        rep.items.len(),
        rep.proofs.len(),
        xlsx.len() as f64 / 1048576.0,
        assemble_s + render_s,
        assemble_cpu + render_cpu
    );
    println!("peak memory {:.0} MiB", peak_rss_mib());
    Ok(())
}
