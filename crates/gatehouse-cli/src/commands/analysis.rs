//! `gatehouse analyze`, `findings`, `risk`, `assess` and `policy`: the risk analysis.

use std::path::{Path, PathBuf};

use gatehouse_analysis::report::{LedgerPoint, SignedCheckpoint};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gatehouse_analysis::risk::{self, Score};
use gatehouse_analysis::{Policy, Ruleset};
use gatehouse_model::{Finding, FindingStatus, Severity, parse_point_in_time};
use gatehouse_store::findings::{FindingFilter, FindingRow};

use crate::context::Ctx;
use crate::output::{Format, opt, opt_when, print_listing, table, when};

/// The policy and ruleset in force, and where they came from.
pub struct Loaded {
    /// The policy.
    pub policy: Policy,
    /// The segregation-of-duties ruleset.
    pub sod: Ruleset,
    /// Where the policy came from.
    pub policy_from: String,
    /// Where the ruleset came from.
    pub sod_from: Option<PathBuf>,
}

/// Loads the policy (`[policy]` in the configuration, else `policy/policy.toml`, else the
/// defaults) and the ruleset (`policy/sod.toml`, if present).
pub fn load_policy(ctx: &Ctx) -> Result<Loaded> {
    let dir = &ctx.config.policy_dir;
    let file = dir.join("policy.toml");
    let (policy, policy_from) = match (&ctx.config.inline_policy, &ctx.config.file) {
        (Some(text), Some(config)) => {
            if file.exists() {
                eprintln!(
                    "note: `{}` is ignored: the [policy] table of `{}` takes precedence",
                    file.display(),
                    config.display()
                );
            }
            let origin = PathBuf::from(format!("{} [policy]", config.display()));
            (
                Policy::from_toml(text, &origin)?,
                format!("{} [policy]", config.display()),
            )
        }
        _ if file.exists() => {
            let text = read(&file)?;
            (Policy::from_toml(&text, &file)?, file.display().to_string())
        }
        _ => (Policy::default(), "built-in defaults".to_owned()),
    };
    let sod_file = dir.join("sod.toml");
    let (sod, sod_from) = if sod_file.exists() {
        (
            Ruleset::from_toml(&read(&sod_file)?, &sod_file)?,
            Some(sod_file),
        )
    } else {
        (Ruleset::default(), None)
    };
    Ok(Loaded {
        policy,
        sod,
        policy_from,
        sod_from,
    })
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// Arguments of `gatehouse analyze`.
#[derive(Args)]
pub struct AnalyzeArgs {
    /// Exit with code 2 when open findings at or above this severity exist.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
}

fn gate(fail_on: Option<Severity>, open: impl IntoIterator<Item = Severity>) -> ExitCode {
    match fail_on {
        Some(min) if open.into_iter().any(|s| s >= min) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    }
}

fn count_line(counts: &std::collections::BTreeMap<Severity, u64>) -> String {
    let parts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|s| format!("{} {s}", counts.get(s).copied().unwrap_or(0)))
        .collect();
    parts.join(", ")
}

/// Runs `gatehouse analyze`.
pub fn analyze(ctx: &Ctx, args: AnalyzeArgs) -> Result<ExitCode> {
    let loaded = load_policy(ctx)?;
    let store = ctx.open()?;
    let (report, _) =
        gatehouse_workflow::analyze(&store, &loaded.policy, &loaded.sod, &ctx.actor, ctx.now)?;
    ctx.seal(&store)?;
    if ctx.format == Format::Json {
        let json = serde_json::json!({
            "seq": report.seq,
            "present": report.present.iter().map(|(s, n)| (s.as_str(), n)).collect::<std::collections::BTreeMap<_, _>>(),
            "open": report.open.iter().map(|(s, n)| (s.as_str(), n)).collect::<std::collections::BTreeMap<_, _>>(),
            "insights": report.insights,
            "opened": report.opened,
            "changed": report.changed,
            "resolved": report.resolved,
            "reopened": report.reopened,
            "grants": report.analysis.grants,
            "warranted_grants": report.analysis.warranted_grants,
            "uncorrelated_accounts": report.analysis.uncorrelated_accounts,
            "warnings": report.analysis.warnings,
            "policy": loaded.policy_from,
            "sod_ruleset": loaded.sod_from.as_ref().map(|p| p.display().to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        for w in &report.analysis.warnings {
            eprintln!("warning: {w}");
        }
        if loaded.sod_from.is_none() {
            eprintln!(
                "note: no segregation-of-duties ruleset at `{}`; sod_conflict found nothing to check \
                 (see docs/policy.md)",
                ctx.config.policy_dir.join("sod.toml").display()
            );
        }
        let present: u64 = report.present.values().sum();
        let open: u64 = report.open.values().sum();
        println!(
            "analysis recorded as event {}: {present} findings ({open} open: {}; and {} insights \
             for role design, shown with `findings list --insights`); {} new, {} changed, \
             {} resolved, {} reopened",
            report.seq,
            count_line(&report.open),
            report.insights,
            report.opened,
            report.changed,
            report.resolved,
            report.reopened
        );
        println!(
            "{} of {} grants have a valid warrant; {} enabled accounts are linked to nobody",
            report.analysis.warranted_grants,
            report.analysis.grants,
            report.analysis.uncorrelated_accounts
        );
        println!(
            "policy: {}; ruleset: {}; loaded in {:.2} s, rules {:.2} s, recorded in {:.2} s",
            loaded.policy_from,
            loaded
                .sod_from
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into()),
            report.load_time.as_secs_f64(),
            report.rules_time.as_secs_f64(),
            report.write_time.as_secs_f64()
        );
        println!("see: gatehouse findings list --severity high");
    }
    Ok(gate(
        args.fail_on,
        report.open.iter().filter(|(_, n)| **n > 0).map(|(s, _)| *s),
    ))
}

/// `gatehouse findings …`.
#[derive(Subcommand)]
pub enum FindingsCommand {
    /// List findings (open and accepted by default), most severe first.
    #[command(after_help = "Examples:
  gatehouse findings list
  gatehouse findings list --severity high --system erp
  gatehouse findings list --rule sod_conflict --format csv > sod.csv
  gatehouse findings list --fail-on high       # exit code 2 when one is listed")]
    List(ListArgs),
    /// Everything about one finding: explanation, facts, objects, status.
    #[command(after_help = "Examples:
  gatehouse findings show F-3f9a2b7c4d1e6a08
  gatehouse findings show F-3f9a2b7c4d1e6a08 --format json")]
    Show {
        /// The finding's id (`F-…`).
        id: String,
    },
    /// Accept the risk of a finding until a date; it reopens then if still present.
    #[command(after_help = "Examples:
  gatehouse findings accept F-3f9a2b7c4d1e6a08 --reason \"compensating control: monthly review\" --until 2027-03-31")]
    Accept(AcceptArgs),
}

/// Arguments of `gatehouse findings list`.
#[derive(Args)]
pub struct ListArgs {
    /// Only this rule (e.g. `sod_conflict`).
    #[arg(long)]
    pub rule: Option<String>,
    /// Only at or above this severity.
    #[arg(long)]
    pub severity: Option<Severity>,
    /// Only findings on this system.
    #[arg(long)]
    pub system: Option<String>,
    /// Only findings about this identity: e-mail address, employee id or non-human identity id.
    #[arg(long)]
    pub identity: Option<String>,
    /// Only in this status: open, accepted, resolved, or `all`.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Exit with code 2 when any listed open finding (insights aside) is at or above this
    /// severity.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Also list insights for role design (`rbac_exception`, low `peer_outlier`), which are
    /// left out by default (listing one of their rules with `--rule` shows them too).
    #[arg(long)]
    pub insights: bool,
}

/// Arguments of `gatehouse findings accept`.
#[derive(Args)]
pub struct AcceptArgs {
    /// The finding's id (`F-…`).
    pub id: String,
    /// Why the risk is acceptable, and what compensates for it.
    #[arg(long)]
    pub reason: String,
    /// Until when (a date or time); the finding reopens afterwards if still present.
    #[arg(long, value_name = "DATE")]
    pub until: String,
}

/// Runs `gatehouse findings`.
pub fn findings_cmd(ctx: &Ctx, cmd: FindingsCommand) -> Result<ExitCode> {
    match cmd {
        FindingsCommand::List(args) => list(ctx, args),
        FindingsCommand::Show { id } => show(ctx, &id),
        FindingsCommand::Accept(args) => accept(ctx, args),
    }
}

fn list(ctx: &Ctx, args: ListArgs) -> Result<ExitCode> {
    if let Some(rule) = &args.rule
        && !gatehouse_analysis::RULES.iter().any(|r| r.name == rule)
    {
        bail!(
            "unknown rule `{rule}`; the rules are: {}",
            gatehouse_analysis::RULES
                .iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let status = match args.status.as_deref() {
        None => vec![FindingStatus::Open, FindingStatus::Accepted],
        Some("all") => Vec::new(),
        Some(s) => vec![s.parse::<FindingStatus>()?],
    };
    let insights = args.insights || args.rule.is_some();
    let store = ctx.open()?;
    let now = ctx.now;
    let mut rows = store.read(|r| {
        // The filters name things as every other command does, and say when they do not exist.
        let system = match args.system {
            Some(s) => Some(r.resolve_system(&s)?.to_string()),
            None => None,
        };
        let identity = match args.identity {
            Some(i) => Some(r.resolve_identity(&i, now)?.key.to_string()),
            None => None,
        };
        r.findings(&FindingFilter {
            rule: args.rule,
            min_severity: args.severity,
            system,
            identity,
            status,
        })
    })?;
    if !insights {
        rows.retain(|r| !gatehouse_analysis::is_insight(&r.finding));
    }
    print_listing(
        ctx.format,
        &[
            "id",
            "severity",
            "rule",
            "status",
            "identity",
            "system",
            "account",
            "title",
            "first seen",
        ],
        &rows,
        |r| {
            let f = &r.finding;
            vec![
                f.id.clone(),
                f.severity.to_string(),
                f.rule.clone(),
                r.status.to_string(),
                f.identity
                    .as_ref()
                    .map(|k| k.to_string())
                    .unwrap_or_default(),
                f.system.as_ref().map(|k| k.to_string()).unwrap_or_default(),
                opt(f.account.as_deref()),
                f.title.clone(),
                when(r.first_seen),
            ]
        },
        "no findings match; run `gatehouse analyze` to (re)evaluate",
    )?;
    Ok(gate(
        args.fail_on,
        rows.iter()
            .filter(|r| {
                r.status == FindingStatus::Open && !gatehouse_analysis::is_insight(&r.finding)
            })
            .map(|r| r.finding.severity),
    ))
}

fn show(ctx: &Ctx, id: &str) -> Result<ExitCode> {
    let store = ctx.open()?;
    let row = store.read(|r| r.finding(id))?;
    if ctx.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&row)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", describe(&row));
    Ok(ExitCode::SUCCESS)
}

fn describe(row: &FindingRow) -> String {
    let f: &Finding = &row.finding;
    let mut out = format!("{} — {}\n\n{}\n\n", f.id, f.title, f.explanation);
    let mut rows = vec![
        vec!["rule".to_owned(), gatehouse_analysis::rule_label(&f.rule)],
        vec!["severity".into(), f.severity.to_string()],
        vec!["status".into(), row.status.to_string()],
        vec!["first seen".into(), when(row.first_seen)],
        vec!["last seen".into(), when(row.last_seen)],
    ];
    if let Some(k) = &f.identity {
        rows.push(vec!["identity".into(), k.to_string()]);
    }
    if let Some(s) = &f.system {
        rows.push(vec!["system".into(), s.to_string()]);
    }
    if let Some(a) = &f.account {
        rows.push(vec!["account".into(), a.clone()]);
    }
    for e in &f.entitlements {
        rows.push(vec!["entitlement".into(), e.to_string()]);
    }
    for (k, v) in &f.facts {
        rows.push(vec![k.replace('_', " "), v.clone()]);
    }
    if let Some(t) = row.resolved_at {
        rows.push(vec!["resolved".into(), when(t)]);
    }
    if let Some(by) = &row.accepted_by {
        rows.push(vec!["accepted by".into(), by.clone()]);
        rows.push(vec![
            "accepted because".into(),
            opt(row.accepted_reason.as_deref()),
        ]);
        rows.push(vec!["accepted until".into(), opt_when(row.accepted_until)]);
    }
    out.push_str(&table(&["", ""], &rows));
    out.push('\n');
    out
}

fn accept(ctx: &Ctx, args: AcceptArgs) -> Result<ExitCode> {
    let loaded = load_policy(ctx)?;
    let until = parse_point_in_time(&args.until).context("--until")?;
    let store = ctx.open()?;
    let (seq, row) = gatehouse_workflow::accept(
        &store,
        &loaded.policy,
        &args.id,
        &args.reason,
        until,
        &ctx.actor,
        ctx.now,
    )?;
    ctx.seal(&store)?;
    println!(
        "{} accepted by {} until {} (event {seq}); it reopens then if still present",
        row.finding.id,
        ctx.actor,
        when(until)
    );
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `gatehouse risk`.
#[derive(Args)]
pub struct RiskArgs {
    /// A person or non-human identity (key or e-mail), a system key, or an account
    /// `system:native_id`. Without it: the riskiest identities and systems.
    pub subject: Option<String>,
    /// How many to show in the lists.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// Runs `gatehouse risk`.
pub fn risk_cmd(ctx: &Ctx, args: RiskArgs) -> Result<ExitCode> {
    let loaded = load_policy(ctx)?;
    let store = ctx.open()?;
    let inventory = store.load_inventory()?;
    let rows = store.read(|r| r.findings(&FindingFilter::default()))?;
    let present: Vec<(&Finding, FindingStatus)> =
        rows.iter().map(|r| (&r.finding, r.status)).collect();
    let w = &loaded.policy.risk;
    let scores: Vec<Score> = match args.subject.as_deref() {
        None => {
            let mut people = risk::identities(&inventory, &present, w);
            people.truncate(args.top);
            let mut systems = risk::systems(&inventory, &present, w);
            systems.truncate(args.top);
            people.extend(systems);
            people
        }
        Some(subject) => {
            let system = inventory
                .systems
                .iter()
                .any(|s| s.config.key.as_str() == subject);
            if system {
                risk::systems(&inventory, &present, w)
                    .into_iter()
                    .filter(|s| s.key == subject)
                    .collect()
            } else if let Some(i) = inventory.identity_index(subject).or_else(|| {
                inventory
                    .identities
                    .iter()
                    .position(|i| {
                        i.email
                            .as_deref()
                            .is_some_and(|e| e.eq_ignore_ascii_case(subject))
                    })
                    .map(gatehouse_model::state::IdentityIx::new)
            }) {
                let key = inventory.identities[i].key.to_string();
                let found: Vec<Score> = risk::identities(&inventory, &present, w)
                    .into_iter()
                    .filter(|s| s.key == key)
                    .collect();
                if found.is_empty() {
                    vec![Score {
                        kind: "identity",
                        key,
                        name: inventory.identities[i].name.clone(),
                        total: 0,
                        factors: Vec::new(),
                    }]
                } else {
                    found
                }
            } else if let Some((sys, acct)) = subject.split_once(':')
                && let Some(s) = risk::account(&inventory, &present, w, sys, acct)
            {
                vec![s]
            } else {
                bail!(
                    "`{subject}` is no identity key or e-mail, system key or account `system:native_id`"
                );
            }
        }
    };
    match ctx.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&scores)?),
        _ if args.subject.is_some() => {
            for s in &scores {
                println!("{} {} ({}): risk score {}", s.kind, s.name, s.key, s.total);
                if s.factors.is_empty() {
                    println!("  no open findings and no privileged or critical access");
                }
                let rows: Vec<Vec<String>> = s
                    .factors
                    .iter()
                    .map(|f| vec![f.points.to_string(), f.what.clone()])
                    .collect();
                if !rows.is_empty() {
                    println!("{}", table(&["points", "factor"], &rows));
                }
            }
        }
        format => {
            print_listing(
                format,
                &["kind", "key", "name", "score", "factors"],
                &scores,
                |s| {
                    vec![
                        s.kind.to_owned(),
                        s.key.clone(),
                        s.name.clone(),
                        s.total.to_string(),
                        s.factors
                            .iter()
                            .map(|f| format!("{} ({})", f.what, f.points))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ]
                },
                "no risk found; run `gatehouse analyze` first",
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `gatehouse assess`.
#[derive(Args)]
pub struct AssessArgs {
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How many of the riskiest identities and systems to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Exit with code 2 when open findings at or above this severity exist.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Record the analysis and the assessment in the ledger (the evidence of a periodic
    /// assessment, and the baseline of the next one's trend). Without it nothing is written.
    #[arg(long)]
    pub record: bool,
}

/// Runs `gatehouse assess`.
pub fn assess(ctx: &Ctx, args: AssessArgs) -> Result<ExitCode> {
    // Everything that can refuse the command is checked before anything is written.
    let render: fn(&gatehouse_analysis::report::Report) -> Result<String> = match ctx.format {
        Format::Json => |r| Ok(serde_json::to_string_pretty(r)? + "\n"),
        Format::Html => |r| Ok(gatehouse_analysis::report::html(r)),
        Format::Table | Format::Md => |r| Ok(gatehouse_analysis::report::markdown(r)),
        Format::Csv => bail!(
            "the assessment is a report: use --format md, html or json (findings as CSV: \
             `gatehouse findings list --format csv`)"
        ),
    };
    if let Some(path) = &args.out {
        check_writable(path)?;
    }
    let loaded = load_policy(ctx)?;
    let store = ctx.open()?;
    let assessed = gatehouse_workflow::assess(
        &store,
        &loaded.policy,
        &loaded.sod,
        &ctx.actor,
        ctx.now,
        args.top,
        args.record,
    )?;
    let mut report = assessed.report;
    if args.record {
        ctx.seal(&store)?;
    }
    let point = store.read(|r| r.answer_point())?;
    report.ledger = Some(LedgerPoint {
        size: point.size,
        root: gatehouse_ledger::hash_to_hex(&point.root),
        checkpoint: point.checkpoint.map(|c| SignedCheckpoint {
            size: c.size,
            root: gatehouse_ledger::hash_to_hex(&c.root),
            signed_at: c.signed_at,
            note: c.note,
        }),
    });
    let text = render(&report)?;
    match &args.out {
        Some(path) => {
            let written = std::fs::write(path, &text);
            let what = if args.record {
                format!("assessment recorded as event {}", report.current.seq)
            } else {
                "assessment previewed (not recorded; --record records it)".to_owned()
            };
            written.with_context(|| {
                format!(
                    "{what}, but the report could not be written to `{}`",
                    path.display()
                )
            })?;
            println!("{what}; report written to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(gate(
        args.fail_on,
        assessed
            .open
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(s, _)| *s),
    ))
}

/// Refuses an output path that cannot be written (a missing folder, a folder), before any
/// work is done.
fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("--out `{}` is a folder; give a file name", path.display());
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        bail!(
            "--out `{}`: the folder `{}` does not exist",
            path.display(),
            parent.display()
        );
    }
    let meta = std::fs::metadata(parent)
        .with_context(|| format!("--out `{}`: cannot read its folder", path.display()))?;
    if meta.permissions().readonly() {
        bail!(
            "--out `{}`: the folder `{}` is read-only",
            path.display(),
            parent.display()
        );
    }
    Ok(())
}

/// `gatehouse policy …`.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print the policy in force (defaults filled in) and where it comes from.
    #[command(after_help = "Examples:
  gatehouse policy show")]
    Show,
    /// List the rules with their base severity and whether they run.
    #[command(after_help = "Examples:
  gatehouse policy rules
  gatehouse policy rules --format csv")]
    Rules,
    /// Write the starter segregation-of-duties ruleset to `policy/sod.toml` (if absent).
    #[command(after_help = "Examples:
  gatehouse policy init-sod")]
    InitSod,
}

/// Runs `gatehouse policy`.
pub fn policy_cmd(ctx: &Ctx, cmd: PolicyCommand) -> Result<ExitCode> {
    let loaded = load_policy(ctx)?;
    match cmd {
        PolicyCommand::Show => {
            println!("# policy: {}", loaded.policy_from);
            match &loaded.sod_from {
                Some(p) => println!(
                    "# segregation-of-duties ruleset: {} ({} rules, {} mitigations)",
                    p.display(),
                    loaded.sod.rules.len(),
                    loaded.sod.mitigations.len()
                ),
                None => println!("# segregation-of-duties ruleset: none"),
            }
            print!("{}", loaded.policy.to_toml());
        }
        PolicyCommand::Rules => {
            let rules: Vec<_> = gatehouse_analysis::RULES.iter().collect();
            print_listing(
                ctx.format,
                &["rule", "base severity", "enabled", "finds"],
                &rules
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "rule": r.name,
                            "base_severity": loaded.policy.rules.get(r.name).and_then(|s| s.severity).unwrap_or(r.base).as_str(),
                            "enabled": loaded.policy.enabled(r.name),
                            "finds": r.summary,
                        })
                    })
                    .collect::<Vec<_>>(),
                |v| {
                    ["rule", "base_severity", "enabled", "finds"]
                        .iter()
                        .map(|k| match &v[*k] {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                },
                "",
            )?;
        }
        PolicyCommand::InitSod => {
            let path = write_starter_sod(&ctx.config.policy_dir)?;
            println!("{}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the starter ruleset to `<dir>/sod.toml` unless a ruleset is already there.
pub fn write_starter_sod(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("sod.toml");
    if path.exists() {
        eprintln!("{} exists; left as it is", path.display());
        return Ok(path);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    std::fs::write(&path, gatehouse_analysis::sod::STARTER)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(path)
}
