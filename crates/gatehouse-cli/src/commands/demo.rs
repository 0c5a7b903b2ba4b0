//! `gatehouse demo`: a realistic organisation with a year of history, written as source files
//! and imported through the same path as real data.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use gatehouse_demo::{DemoConfig, Generator};
use gatehouse_model::parse_date;
use gatehouse_workflow::ImportSettings;

use crate::commands::import::import_folder;
use crate::commands::init;
use crate::context::Ctx;

/// Arguments of `gatehouse demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Number of people in the organisation (about 20 grants each).
    #[arg(long, default_value_t = 2000)]
    pub people: usize,
    /// Seed of the generator: the same seed gives the same organisation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Months of history before today.
    #[arg(long, default_value_t = 12)]
    pub months: u32,
    /// The day the demo ends ("today"); default the current date.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
    /// Where the generated source files are written (the last month's stay there).
    #[arg(long, default_value = "gatehouse-demo")]
    pub dir: PathBuf,
}

/// Midnight UTC at the start of a date.
fn midnight(d: jiff::civil::Date) -> gatehouse_model::Timestamp {
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(gatehouse_model::Timestamp::UNIX_EPOCH)
}

/// Runs `gatehouse demo`.
pub fn run(ctx: &Ctx, args: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    init::ensure(ctx, None, false)?;
    let store = ctx.open()?;
    let existing = store.event_count()?;
    if existing > 0 {
        bail!(
            "the store {} already holds {existing} events; the demo imports a year of history and \
             needs an empty store — point it elsewhere with --db demo.db",
            store.location()
        );
    }
    let today = match &args.today {
        Some(d) => parse_date(d)?,
        None => ctx.now.to_zoned(jiff::tz::TimeZone::UTC).date(),
    };
    let mut generator = Generator::new(DemoConfig {
        people: args.people,
        seed: args.seed,
        today,
        months: args.months,
    })?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create `{}`", args.dir.display()))?;
    let mut months = 0;
    let total = generator.remaining();
    let sod = crate::commands::analysis::write_starter_sod(&ctx.config.policy_dir)?;
    // The quarterly access review runs three weeks before the last day, after the last
    // snapshot taken by then (see `demo_review`).
    let times = generator.snapshot_times();
    let review_from = midnight(today)
        .checked_sub(jiff::SignedDuration::from_hours(21 * 24))
        .unwrap_or(ctx.now);
    let review_after = times.iter().rposition(|t| *t <= review_from);
    let mut review = None;
    while let Some(as_of) = generator.write_next_snapshot(&args.dir)? {
        months += 1;
        eprintln!(
            "month {months}/{total}: snapshot as of {}",
            crate::output::when(as_of)
        );
        let settings = ImportSettings {
            as_of: Some(as_of),
            skip_invalid: false,
            allow_mass_removal: false,
            reread: false,
        };
        import_folder(
            ctx,
            &store,
            &args.dir,
            &settings,
            false,
            &AtomicBool::new(false),
        )
        .with_context(|| format!("importing the demo snapshot in `{}`", args.dir.display()))?;
        // One signed checkpoint per month, as a scheduled import job would leave.
        ctx.seal(&store)?;
        if review_after == Some(months - 1) {
            let start = as_of
                .checked_add(jiff::SignedDuration::from_hours(24))
                .unwrap_or(as_of)
                .max(review_from);
            let next = times.get(months).copied().unwrap_or(midnight(today));
            let end = start
                .checked_add(jiff::SignedDuration::from_hours(13 * 24))
                .unwrap_or(start)
                .min(
                    next.checked_sub(jiff::SignedDuration::from_hours(1))
                        .unwrap_or(next),
                );
            review = Some(crate::commands::demo_review::quarterly_review(
                ctx,
                &store,
                &ctx.config.policy_dir,
                start,
                end,
            )?);
            ctx.seal(&store)?;
        }
    }
    let planted = generator.planted();
    let planted_path = args.dir.join("planted.json");
    std::fs::write(&planted_path, serde_json::to_vec_pretty(planted)?)?;
    ctx.seal(&store)?;
    // A review under way, so that the demo's manager has open items in the web UI.
    let open = match &review {
        Some(_) => Some(crate::commands::demo_review::open_review(
            ctx,
            &store,
            &ctx.config.policy_dir,
            ctx.now,
        )?),
        None => None,
    };
    let users = demo_users(ctx, &store, review.as_ref().map(|r| r.owner.clone()))?;
    ctx.seal(&store)?;

    let systems = store.read(|r| r.systems())?;
    let grants: i64 = systems.iter().map(|s| s.grants).sum();
    let accounts: i64 = systems.iter().map(|s| s.accounts).sum();
    println!(
        "demo organisation imported in {:.1} s: {} people, {} systems, {accounts} accounts, {grants} grants, \
         {} monthly snapshots of history, {} events in the ledger",
        started.elapsed().as_secs_f64(),
        args.people,
        systems.len(),
        months,
        store.event_count()?
    );
    println!(
        "source files: {} (the last month); planted problems: {} ({} items)",
        args.dir.display(),
        planted_path.display(),
        planted.items.len()
    );
    println!(
        "segregation-of-duties ruleset: {} (the starter ruleset for the ERP, GL and payroll)",
        sod.display()
    );
    if let Some(r) = &review {
        println!(
            "quarterly access review {} ({} items: {}) signed off on {} by {}; {} remediation \
             tasks under way (`gatehouse campaign show {}`, `gatehouse remediation list`)",
            r.id,
            r.items,
            r.verdicts
                .iter()
                .map(|(v, n)| format!("{n} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            crate::output::when(r.closed),
            r.owner,
            r.tasks,
            r.id
        );
    }
    if let Some(o) = &open {
        println!(
            "access review {} under way: {} items wait for the managers' decisions (`gatehouse review inbox --reviewer <manager>`)",
            o.id, o.items
        );
    }
    println!("web UI: gatehouse serve, then open http://127.0.0.1:8080/ and sign in as one of:");
    for (name, role, who, otp) in &users {
        println!("  {name:<8} {role:<32} one-time password {otp}  {who}");
    }
    println!("  (the first sign-in sets a new password and an authenticator app)");
    println!("try: gatehouse analyze && gatehouse findings list --severity high");
    println!("     gatehouse system list");
    println!(
        "     gatehouse who-has erp:role/AP_Approver --at {}",
        today.saturating_sub(jiff::Span::new().months(3))
    );
    Ok(ExitCode::SUCCESS)
}

/// The demo's Gatehouse users: an admin, a manager (a reviewer whose team's access is to be
/// reviewed), a system owner and an auditor, each with a one-time password.
fn demo_users(
    ctx: &Ctx,
    store: &gatehouse_store::Store,
    reviews_owner: Option<gatehouse_model::IdentityKey>,
) -> Result<Vec<(String, String, String, String)>> {
    use gatehouse_model::EmploymentStatus;
    let inventory = store.load_inventory()?;
    let active = |k: &gatehouse_model::IdentityKey| {
        inventory.identities.iter().any(|i| {
            &i.key == k
                && i.person
                    .as_ref()
                    .is_some_and(|p| p.status == EmploymentStatus::Active)
        })
    };
    // The manager with the largest team.
    let mut teams: std::collections::BTreeMap<&gatehouse_model::IdentityKey, usize> =
        Default::default();
    for i in &inventory.identities {
        if let Some(m) = i.person.as_ref().and_then(|p| p.manager.as_ref()) {
            *teams.entry(m).or_default() += 1;
        }
    }
    let manager = teams
        .iter()
        .filter(|(k, _)| active(k) && Some(**k) != reviews_owner.as_ref())
        .max_by_key(|(k, n)| (**n, std::cmp::Reverse((**k).clone())))
        .map(|(k, _)| (*k).clone());
    let systems = store.read(|r| r.systems())?;
    let owner = systems
        .iter()
        .filter_map(|s| s.owner.clone())
        .find(|o| active(o) && Some(o) != manager.as_ref() && Some(o) != reviews_owner.as_ref());
    let name_of = |k: &Option<gatehouse_model::IdentityKey>| {
        k.as_ref()
            .and_then(|k| inventory.identities.iter().find(|i| &i.key == k))
            .map(|i| format!("({}, {})", i.name, i.key))
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for (name, role, identity, what) in [
        (
            "admin",
            "admin",
            reviews_owner.clone(),
            "admin: runs the access reviews",
        ),
        ("manager", "reviewer", manager, "reviewer: a manager"),
        ("owner", "reviewer", owner, "reviewer: a system owner"),
        (
            "auditor",
            "auditor",
            None,
            "auditor: reads, changes nothing",
        ),
    ] {
        let otp = crate::commands::user::add(
            ctx,
            store,
            name,
            role,
            identity.as_ref().map(|k| k.as_str()),
            None,
        )?;
        out.push((name.to_owned(), what.to_owned(), name_of(&identity), otp));
    }
    Ok(out)
}
