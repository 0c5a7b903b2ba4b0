//! `gatehouse import …`: apply a snapshot of a source.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use clap::{Args, Subcommand};
use gatehouse_model::parse_timestamp;
use gatehouse_store::Store;
use gatehouse_workflow::{FolderReport, ImportReport, ImportSettings, Source};

use crate::context::Ctx;
use crate::output::plural;
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
    /// Read every record of a system's files, instead of only those that differ from the
    /// files of its latest import (which the store keeps to compare with).
    #[arg(long)]
    pub reread: bool,
}

/// What to import.
#[derive(Subcommand)]
pub enum ImportCommand {
    /// The HR feed: one row per person (CSV or JSON).
    #[command(after_help = "Examples:
  gatehouse import hr people.csv
  gatehouse import hr workday-export.json --as-of 2026-03-31
  gatehouse import hr people.csv --skip-invalid      # the valid rows; the others are listed")]
    Hr {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// The inventory of non-human identities: service accounts, API keys, tokens, certificates.
    #[command(after_help = "Examples:
  gatehouse import nhi identities.csv
  gatehouse import nhi service-accounts.jsonl --as-of 2026-03-31")]
    Nhi {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// One system: a folder with system.toml, accounts, entitlements and grants.
    #[command(after_help = "Examples:
  gatehouse import system systems/erp                # system.toml, accounts, entitlements, grants
  gatehouse import system systems/erp --as-of 2026-03-31T18:00:00Z")]
    System {
        /// The folder.
        dir: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// The role catalogue: roles.toml, or a folder with roles.toml and members.csv.
    #[command(after_help = "Examples:
  gatehouse import roles roles/                      # roles.toml and members.csv
  gatehouse import roles roles.toml")]
    Roles {
        /// The file or folder.
        path: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Warrant records: approved requests, review decisions and break-glass uses.
    #[command(after_help = "Examples:
  gatehouse import warrants tickets.csv
  gatehouse import warrants servicenow-export.json --as-of 2026-03-31")]
    Warrants {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// When each source was read: every import, with its files' digests and what it changed
    /// (proof that a feed ran, even when it changed nothing).
    #[command(after_help = "Examples:
  gatehouse import log
  gatehouse import log --source hr
  gatehouse import log --source system:erp --format csv")]
    Log {
        /// Only this source: `hr`, `nhi`, `roles`, `warrants` or `system:<key>`.
        #[arg(long)]
        source: Option<String>,
        /// Snapshots as of this date or later.
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Snapshots before this date.
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
    },
    /// Access review decisions taken outside Gatehouse (a spreadsheet review), as a closed
    /// campaign: CSV with grant (or system, account, entitlement), decision, until,
    /// reviewer, decided_at, comment.
    #[command(after_help = "Examples:
  gatehouse import decisions q1-review.csv --as E000010
  GATEHOUSE_IDENTITY=compliance@example.com gatehouse import decisions 2025-h2.csv")]
    Decisions {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        acting: crate::commands::campaign::ActingArgs,
    },
    /// Every source of a snapshot folder, in order: hr/people.csv, nhi/identities.csv,
    /// `systems/<key>/`, roles/, warrants/tickets.csv (the layout `gatehouse demo` writes).
    #[command(after_help = "Examples:
  gatehouse import folder snapshot/
  gatehouse import folder /srv/exports/2026-03-31 --as-of 2026-03-31")]
    Folder {
        /// The folder.
        dir: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
}

/// Prints what an import did.
pub fn print_report(report: &ImportReport) {
    let s = &report.summary;
    if let Some(seq) = report.same_files_as {
        println!(
            "no changes: the files of `{}` are byte for byte those of its import recorded by event {seq}",
            s.source
        );
    } else if s.unchanged() {
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
    if let Some((read, records)) = report.compared {
        println!(
            "  compared with the files of the latest import: {} of {records} differ and were read (`--reread` reads every record)",
            plural(read, "record")
        );
    }
    if let Some(c) = report.correlation.as_ref().filter(|_| !s.unchanged()) {
        let linked: Vec<String> = c
            .linked
            .iter()
            .map(|(rule, n)| format!("{n} by {rule}"))
            .collect();
        if !linked.is_empty() {
            println!(
                "  accounts{} linked to identities: {}",
                if report.compared.is_some() {
                    " read"
                } else {
                    ""
                },
                linked.join(", ")
            );
        }
        if !c.uncorrelated.is_empty() {
            let shown: Vec<&str> = c.uncorrelated.iter().take(10).map(String::as_str).collect();
            println!(
                "  {}{} uncorrelated: {}{} (all: `gatehouse account list --uncorrelated`)",
                plural(c.uncorrelated.len() as u64, "account"),
                if report.compared.is_some() {
                    " read"
                } else {
                    ""
                },
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
    if !s.unconfirmed.is_empty() {
        println!(
            "  not recorded as removed, because rows of their file were left out (the next \
             complete import settles them): {}",
            plural(s.unconfirmed.len() as u64, "object")
        );
        for u in s.unconfirmed.iter().take(20) {
            println!("    {u}");
        }
        if s.unconfirmed.len() > 20 {
            println!("    … and {} more", s.unconfirmed.len() - 20);
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
        reread: flags.reread,
    })
}

/// Imports a whole snapshot folder, printing a line per source; used by `import folder` and
/// `demo`. Stops between two sources once `stop` is set.
pub fn import_folder(
    ctx: &Ctx,
    store: &Store,
    dir: &Path,
    settings: &ImportSettings,
    verbose: bool,
    stop: &AtomicBool,
) -> Result<FolderReport> {
    let bar = EventBar::new(&format!("importing {}", dir.display()));
    let report = gatehouse_workflow::import_folder_until(
        store,
        dir,
        settings,
        &ctx.actor,
        ctx.now,
        Some(bar.callback()),
        stop,
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

/// Runs `gatehouse import log`.
fn log(
    ctx: &Ctx,
    source: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<ExitCode> {
    let from = from
        .as_deref()
        .map(gatehouse_model::parse_timestamp)
        .transpose()?;
    let to = to
        .as_deref()
        .map(gatehouse_model::parse_timestamp)
        .transpose()?;
    let store = ctx.open()?;
    let (rows, period, point) = store.read(|r| {
        if let Some(s) = &source
            && r.last_import(s)?.is_none()
        {
            return Err(gatehouse_store::StoreError::unknown(format!(
                "no import of `{s}` is recorded; sources are `hr`, `nhi`, `roles`, `warrants` and `system:<key>`"
            )));
        }
        Ok((
            r.import_log(source.as_deref(), from, to)?,
            r.recorded_period()?,
            r.answer_point()?,
        ))
    })?;
    let about = crate::answer::About {
        question: match &source {
            Some(s) => format!("when `{s}` was read"),
            None => "when each source was read".into(),
        },
        at: None,
        asked_at: ctx.now,
        store: store.location().to_owned(),
        data: period,
        count: rows.len() as u64,
        ledger: point,
        warnings: Vec::new(),
    };
    crate::answer::print_answer(
        ctx.format,
        &about,
        &[
            "event", "source", "as of", "recorded", "by", "files", "rows", "changes", "complete",
        ],
        &rows,
        |e| {
            vec![
                e.seq.to_string(),
                e.source.clone(),
                crate::output::when(e.as_of),
                crate::output::when(e.recorded_at),
                e.actor.clone(),
                e.files
                    .iter()
                    .map(|f| format!("{} {}", f.name, &f.sha256[..f.sha256.len().min(12)]))
                    .collect::<Vec<_>>()
                    .join("; "),
                e.files.iter().map(|f| f.rows).sum::<u64>().to_string(),
                e.changes.to_string(),
                if e.complete {
                    "yes".into()
                } else {
                    "no".into()
                },
            ]
        },
        "no imports yet",
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `gatehouse import …`.
pub fn run(ctx: &Ctx, cmd: ImportCommand) -> Result<ExitCode> {
    let (source, path, flags) = match cmd {
        ImportCommand::Log { source, from, to } => return log(ctx, source, from, to),
        ImportCommand::Hr { file, flags } => (Source::Hr, file, flags),
        ImportCommand::Nhi { file, flags } => (Source::Nhi, file, flags),
        ImportCommand::System { dir, flags } => (Source::System, dir, flags),
        ImportCommand::Roles { path, flags } => (Source::Roles, path, flags),
        ImportCommand::Warrants { file, flags } => (Source::Warrants, file, flags),
        ImportCommand::Decisions { file, acting } => {
            return crate::commands::campaign::import_decisions(ctx, &file, &acting);
        }
        ImportCommand::Folder { dir, flags } => {
            let settings = settings(&flags)?;
            let store = ctx.open()?;
            let stop = stop_on_interrupt()?;
            let result = import_folder(ctx, &store, &dir, &settings, true, &stop);
            // Remediation is compared with what the folder's imports showed.
            let verified = match &result {
                Ok(_) => crate::commands::campaign::after_import(ctx, &store),
                Err(_) => Ok(()),
            };
            crate::commands::notify::send_due(ctx, &store);
            // Whatever went in is sealed, even when a later source failed or the import was
            // stopped.
            ctx.seal(&store)?;
            verified?;
            return match result {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => match e.downcast::<gatehouse_workflow::WorkflowError>() {
                    Ok(stopped @ gatehouse_workflow::WorkflowError::Stopped { .. }) => {
                        eprintln!(
                            "stopped: {stopped}\nwhat was imported is covered by the signed \
                             checkpoint; the same command imports the rest (the sources already \
                             imported find nothing to change)"
                        );
                        // As a process ended by Ctrl-C reports it (128 + SIGINT).
                        Ok(ExitCode::from(130))
                    }
                    Ok(other) => Err(other.into()),
                    Err(other) => Err(other),
                },
            };
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
    // Alerts about what the import showed (privileged changes, reopened remediation) go out
    // now, with whatever else is due.
    crate::commands::notify::send_due(ctx, &store);
    // What an interrupted import recorded is sealed too.
    ctx.seal(&store)?;
    result?;
    verified?;
    Ok(ExitCode::SUCCESS)
}

/// Makes Ctrl-C (SIGINT) ask a folder import to stop rather than end the process: the source
/// being written is finished, nothing further is begun, and what was imported is sealed and
/// said. A second Ctrl-C ends the process at once (an import cut short is completed by the
/// next import of the same snapshot).
fn stop_on_interrupt() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        runtime.block_on(async move {
            #[cfg(unix)]
            let mut interrupts =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
            let _ = ready_tx.send(Ok(()));
            loop {
                #[cfg(unix)]
                let received = interrupts.recv().await.is_some();
                #[cfg(not(unix))]
                let received = tokio::signal::ctrl_c().await.is_ok();
                if !received {
                    return;
                }
                if flag.swap(true, Ordering::Relaxed) {
                    eprintln!("stopped at once");
                    std::process::exit(130);
                }
                eprintln!(
                    "stopping after the source being imported (Ctrl-C again to stop at once)"
                );
            }
        });
    });
    // The handler is in place before the import begins.
    ready_rx
        .recv()
        .map_err(|_| anyhow::anyhow!("cannot watch for Ctrl-C"))?
        .map_err(|e| anyhow::anyhow!("cannot watch for Ctrl-C: {e}"))?;
    Ok(stop)
}
