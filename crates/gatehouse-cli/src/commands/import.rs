//! `gatehouse import …`: apply a snapshot of a source.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use gatehouse_model::parse_timestamp;
use gatehouse_store::Store;
use gatehouse_workflow::{FolderReport, ImportReport, ImportSettings, Source};

use crate::context::Ctx;
use crate::progress::EventBar;

/// Options shared by every import.
#[derive(Args, Clone)]
pub struct ImportFlags {
    /// The time the snapshot describes (a date or RFC 3339 time); default now. Snapshots of a
    /// source must be imported in time order.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Import the valid rows and report the invalid ones, instead of importing nothing.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Accept a snapshot that removes more than half of what the source had.
    #[arg(long)]
    pub allow_mass_removal: bool,
}

/// What to import.
#[derive(Subcommand)]
pub enum ImportCommand {
    /// The HR feed: one row per person (CSV or JSON).
    Hr {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// The inventory of non-human identities: service accounts, API keys, tokens, certificates.
    Nhi {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// One system: a folder with system.toml, accounts, entitlements and grants.
    System {
        /// The folder.
        dir: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// The role catalogue: roles.toml, or a folder with roles.toml and members.csv.
    Roles {
        /// The file or folder.
        path: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Warrant records: approved requests, review decisions and break-glass uses.
    Warrants {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Access review decisions taken outside Gatehouse (a spreadsheet review), as a closed
    /// campaign: CSV with grant (or system, account, entitlement), decision, until,
    /// reviewer, decided_at, comment.
    Decisions {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        acting: crate::commands::campaign::ActingArgs,
    },
    /// Every source of a snapshot folder, in order: hr/people.csv, nhi/identities.csv,
    /// `systems/<key>/`, roles/, warrants/tickets.csv (the layout `gatehouse demo` writes).
    Folder {
        /// The folder.
        dir: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
}

fn plural(n: u64, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

/// Prints what an import did.
pub fn print_report(report: &ImportReport) {
    let s = &report.summary;
    if s.unchanged() {
        println!(
            "no changes: the snapshot of `{}` matches the store",
            s.source
        );
    } else {
        let parts: Vec<String> = s
            .changes
            .iter()
            .filter(|(k, _)| k.as_str() != "account.activity")
            .map(|(kind, n)| {
                let (object, verb) = kind.split_once('.').unwrap_or((kind, ""));
                format!("{} {verb}", plural(*n, object))
            })
            .collect();
        println!(
            "imported `{}`: {} (event {})",
            s.source,
            if parts.is_empty() {
                "login activity only".to_owned()
            } else {
                parts.join(", ")
            },
            s.import_seq.unwrap_or_default()
        );
    }
    if let Some(resumed) = s.resumed {
        println!(
            "  completes the import of `{}` recorded by event {resumed}, which was interrupted",
            s.source
        );
    }
    if let Some(c) = report.correlation.as_ref().filter(|_| !s.unchanged()) {
        let linked: Vec<String> = c
            .linked
            .iter()
            .map(|(rule, n)| format!("{n} by {rule}"))
            .collect();
        if !linked.is_empty() {
            println!("  accounts linked to identities: {}", linked.join(", "));
        }
        if !c.uncorrelated.is_empty() {
            let shown: Vec<&str> = c.uncorrelated.iter().take(10).map(String::as_str).collect();
            println!(
                "  {} uncorrelated: {}{} (all: `gatehouse account list --uncorrelated`)",
                plural(c.uncorrelated.len() as u64, "account"),
                shown.join(", "),
                if c.uncorrelated.len() > 10 {
                    ", …"
                } else {
                    ""
                }
            );
        }
        if !c.ambiguous.is_empty() {
            println!(
                "  {} matched several identities and were left unlinked: {}",
                plural(c.ambiguous.len() as u64, "account"),
                c.ambiguous
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !c.unknown_identity.is_empty() {
            println!(
                "  {} name an identity that does not exist: {}",
                plural(c.unknown_identity.len() as u64, "account"),
                c.unknown_identity
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if report.recorrelated > 0 {
        println!(
            "  {} re-linked to changed identities",
            plural(report.recorrelated, "account")
        );
    }
    for w in s.warnings.iter().take(20) {
        println!("  warning: {w}");
    }
    if s.warnings.len() > 20 {
        println!("  … and {} more warnings", s.warnings.len() - 20);
    }
    if report.skipped_rows > 0 {
        println!(
            "  skipped {} with problems:",
            plural(report.skipped_rows, "invalid row")
        );
        for p in report
            .skipped
            .iter()
            .take(gatehouse_connect::SHOWN_PROBLEMS)
        {
            println!("    {p}");
        }
        if report.skipped.len() > gatehouse_connect::SHOWN_PROBLEMS {
            println!(
                "    … and {} more",
                report.skipped.len() - gatehouse_connect::SHOWN_PROBLEMS
            );
        }
    }
}

/// Imports one source and seals the ledger; used by `import` and `demo`.
pub fn import_one(
    ctx: &Ctx,
    store: &Store,
    source: Source,
    path: &Path,
    settings: &ImportSettings,
) -> Result<ImportReport> {
    let bar = EventBar::new(&format!("importing {}", path.display()));
    let report = gatehouse_workflow::import(
        store,
        source,
        path,
        settings,
        &ctx.actor,
        ctx.now,
        Some(bar.callback()),
    )?;
    drop(bar);
    Ok(report)
}

/// Settings from the flags.
fn settings(flags: &ImportFlags) -> Result<ImportSettings> {
    Ok(ImportSettings {
        as_of: flags.as_of.as_deref().map(parse_timestamp).transpose()?,
        skip_invalid: flags.skip_invalid,
        allow_mass_removal: flags.allow_mass_removal,
    })
}

/// Imports a whole snapshot folder, printing a line per source; used by `import folder` and
/// `demo`.
pub fn import_folder(
    ctx: &Ctx,
    store: &Store,
    dir: &Path,
    settings: &ImportSettings,
    verbose: bool,
) -> Result<FolderReport> {
    let bar = EventBar::new(&format!("importing {}", dir.display()));
    let report = gatehouse_workflow::import_folder(
        store,
        dir,
        settings,
        &ctx.actor,
        ctx.now,
        Some(bar.callback()),
        |path, report| {
            if verbose {
                bar.suspend(|| {
                    println!("{}:", path.display());
                    print_report(report);
                });
            }
        },
    )?;
    drop(bar);
    if verbose && report.relinked > 0 {
        println!(
            "{} of systems outside the folder re-linked to changed identities",
            plural(report.relinked, "account")
        );
    }
    Ok(report)
}

/// Runs `gatehouse import …`.
pub fn run(ctx: &Ctx, cmd: ImportCommand) -> Result<ExitCode> {
    let (source, path, flags) = match cmd {
        ImportCommand::Hr { file, flags } => (Source::Hr, file, flags),
        ImportCommand::Nhi { file, flags } => (Source::Nhi, file, flags),
        ImportCommand::System { dir, flags } => (Source::System, dir, flags),
        ImportCommand::Roles { path, flags } => (Source::Roles, path, flags),
        ImportCommand::Warrants { file, flags } => (Source::Warrants, file, flags),
        ImportCommand::Decisions { file, acting } => {
            return crate::commands::campaign::import_decisions(ctx, &file, &acting);
        }
        ImportCommand::Folder { dir, flags } => {
            let store = ctx.open()?;
            let result = import_folder(ctx, &store, &dir, &settings(&flags)?, true);
            if result.is_ok() {
                crate::commands::campaign::after_import(ctx, &store)?;
            }
            // Whatever went in is sealed, even when a later source failed.
            ctx.seal(&store)?;
            result?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let settings = settings(&flags)?;
    let store = ctx.open()?;
    let result = import_one(ctx, &store, source, &path, &settings);
    let verified = match &result {
        Ok(report) => {
            print_report(report);
            crate::commands::campaign::after_import(ctx, &store)
        }
        Err(_) => Ok(()),
    };
    // What an interrupted import recorded is sealed too.
    ctx.seal(&store)?;
    result?;
    verified?;
    Ok(ExitCode::SUCCESS)
}
