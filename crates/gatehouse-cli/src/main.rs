//! `gatehouse`: access governance from the command line.
//!
//! This binary is thin: it parses arguments, resolves the configuration, reads the clock (the
//! only place that does) and prints. The work happens in the library crates.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod commands;
mod config;
mod context;
mod errors;
mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Imports allocate and free millions of small strings; glibc's allocator spends a quarter of
// an import consolidating free lists, mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::commands::{analysis, demo, import, init, inventory, ledger, serve, user, witness};
use crate::context::Ctx;
use crate::output::Format;

/// Who has access to what, why, who approved it — and proof that nobody rewrote the answer.
#[derive(Parser)]
#[command(name = "gatehouse", version, about, long_about = None)]
struct Cli {
    /// The store: a SQLite file (default `gatehouse.db`) or a `postgres://` URL.
    #[arg(long, global = true, env = "GATEHOUSE_DB", value_name = "PATH|URL")]
    db: Option<String>,
    /// The configuration file (default `./gatehouse.toml` when present).
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// How listings are printed.
    #[arg(long, short = 'f', global = true, value_enum, default_value_t)]
    format: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the store, the configuration and the ledger's signing key.
    Init(init::InitArgs),
    /// Bring the store's schema up to date after upgrading Gatehouse.
    Migrate,
    /// Import a snapshot of a source (HR feed, system, …).
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Who held an entitlement, now or at a point in time.
    WhoHas(inventory::WhoHasArgs),
    /// Everything one identity held, on every system, now or at a point in time.
    Access(inventory::AccessArgs),
    /// When a grant, account, entitlement or identity appeared, changed and went away, and why.
    History(inventory::HistoryArgs),
    /// Accounts.
    #[command(subcommand)]
    Account(inventory::AccountCommand),
    /// Systems.
    #[command(subcommand)]
    System(inventory::SystemCommand),
    /// Re-link accounts to identities with each system's correlation rules.
    Correlate,
    /// Generate a realistic demo organisation with a year of history and import it.
    Demo(demo::DemoArgs),
    /// The tamper-evident ledger: verify, export evidence, prove, search events.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Run every risk rule over the inventory and record the findings.
    Analyze(analysis::AnalyzeArgs),
    /// Findings of the risk analysis: list, show, accept.
    #[command(subcommand)]
    Findings(analysis::FindingsCommand),
    /// Explainable risk scores: the riskiest identities and systems, or one subject.
    Risk(analysis::RiskArgs),
    /// The assessment report: baseline, findings by rule, trend (--format md|html|json).
    Assess(analysis::AssessArgs),
    /// The analysis policy and segregation-of-duties ruleset.
    #[command(subcommand)]
    Policy(analysis::PolicyCommand),
    /// Serve the web UI and the JSON API (and run the scheduler) until Ctrl-C.
    Serve(serve::ServeArgs),
    /// Gatehouse users of the web UI and API: add, list, reset, API tokens.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Run a witness that cosigns other logs' checkpoints (no store involved).
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    // A witness has its own key and state and never reads the configuration or the store.
    let command = match cli.command {
        Command::Witness(cmd) => return witness::run(cmd),
        other => other,
    };
    let ctx = Ctx::new(cli.config.as_deref(), cli.db.as_deref(), cli.format)?;
    match command {
        Command::Init(args) => init::run(&ctx, args),
        Command::Migrate => init::migrate(&ctx),
        Command::Import(cmd) => import::run(&ctx, cmd),
        Command::WhoHas(args) => inventory::who_has(&ctx, args),
        Command::Access(args) => inventory::access(&ctx, args),
        Command::History(args) => inventory::history(&ctx, args),
        Command::Account(cmd) => inventory::account(&ctx, cmd),
        Command::System(cmd) => inventory::system(&ctx, cmd),
        Command::Correlate => inventory::correlate(&ctx),
        Command::Demo(args) => demo::run(&ctx, args),
        Command::Ledger(cmd) => ledger::run(&ctx, cmd),
        Command::Analyze(args) => analysis::analyze(&ctx, args),
        Command::Findings(cmd) => analysis::findings_cmd(&ctx, cmd),
        Command::Risk(args) => analysis::risk_cmd(&ctx, args),
        Command::Assess(args) => analysis::assess(&ctx, args),
        Command::Policy(cmd) => analysis::policy_cmd(&ctx, cmd),
        Command::Serve(args) => serve::run(&ctx, args),
        Command::User(cmd) => user::run(&ctx, cmd),
        Command::Witness(cmd) => witness::run(cmd),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            errors::report(&e);
            ExitCode::FAILURE
        }
    }
}
