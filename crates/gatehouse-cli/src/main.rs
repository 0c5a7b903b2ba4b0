//! `gatehouse`: access governance from the command line.
//!
//! This binary is thin: it parses arguments, resolves the configuration, reads the clock (the
//! only place that does) and prints. The work happens in the library crates.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

// Every line this binary prints goes through `output`, which escapes control characters from
// imported text for the person reading it and drops what is printed after the reader went away
// (`gatehouse … | head`) instead of panicking. Defined before the modules, these take the
// place of the standard macros in all of them.
macro_rules! println {
    () => {
        $crate::output::write_out(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!($($arg)*), true)
    };
}
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!($($arg)*), false)
    };
}
macro_rules! eprintln {
    () => {
        $crate::output::write_err(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::output::write_err(format_args!($($arg)*), true)
    };
}
#[allow(unused_macros)]
macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::output::write_err(format_args!($($arg)*), false)
    };
}

mod answer;
mod commands;
mod config;
mod context;
mod errors;
mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

// Imports allocate and free millions of small strings; glibc's allocator spends a quarter of
// an import consolidating free lists, mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::commands::{
    analysis, campaign, demo, import, init, inventory, ledger, notify, serve, user, witness,
};
use crate::context::Ctx;
use crate::output::Format;

/// The heading of the options every command takes.
const GLOBAL_OPTIONS: &str = "Global options";

/// Who has access to what, why, who approved it — and proof that nobody rewrote the answer.
#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about,
    long_about = None,
    after_help = "Examples:
  gatehouse init                                 # store, configuration and ledger key here
  gatehouse import folder snapshot/              # an HR feed, systems, roles, warrants
  gatehouse who-has erp:role/AP_Approver --at 2026-03-31
  gatehouse access ada@example.com --format csv > ada.csv
  gatehouse ledger verify

Every command has its own examples: gatehouse <command> --help"
)]
struct Cli {
    /// The store: a SQLite file (default `gatehouse.db`) or a `postgres://` URL.
    #[arg(
        long,
        global = true,
        env = "GATEHOUSE_DB",
        hide_env_values = true,
        value_name = "PATH|URL",
        help_heading = GLOBAL_OPTIONS
    )]
    db: Option<String>,
    /// The configuration file (default `./gatehouse.toml` when present).
    #[arg(
        long,
        global = true,
        env = "GATEHOUSE_CONFIG",
        value_name = "FILE",
        help_heading = GLOBAL_OPTIONS
    )]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the store, the configuration and the ledger's signing key.
    #[command(after_help = "Examples:
  gatehouse init                                         # ./gatehouse.db, ./gatehouse.toml, gatehouse.key
  gatehouse init --origin gatehouse.example.com
  gatehouse init --db postgres://gatehouse@db.internal/gatehouse")]
    Init(init::InitArgs),
    /// Bring the store's schema up to date after upgrading Gatehouse.
    #[command(after_help = "Examples:
  gatehouse migrate
  gatehouse migrate --db postgres://gatehouse@db.internal/gatehouse")]
    Migrate,
    /// Import a snapshot of a source (HR feed, system, …).
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse import hr people.csv --as-of 2026-03-31
  gatehouse import system systems/erp
  gatehouse import folder snapshot/"
    )]
    Import(import::ImportCommand),
    /// Who held an entitlement, now or at a point in time.
    #[command(after_help = "Examples:
  gatehouse who-has erp:role/AP_Approver
  gatehouse who-has erp:AP_Approver --at 2026-03-31 --format csv > holders.csv
  gatehouse who-has ad:group/All_Staff --limit 50 --after u1042")]
    WhoHas(inventory::WhoHasArgs),
    /// Everything one identity held, on every system, now or at a point in time.
    #[command(after_help = "Examples:
  gatehouse access E000123
  gatehouse access ada@example.com --at 2026-03-31
  gatehouse access svc-backup --format json")]
    Access(inventory::AccessArgs),
    /// When a grant, account, entitlement or identity appeared, changed and went away, and why.
    #[command(after_help = "Examples:
  gatehouse history grant erp:jdoe/role/AP_Approver
  gatehouse history account erp:u1042
  gatehouse history identity ada@example.com --format csv")]
    History(inventory::HistoryArgs),
    /// Access gained and lost between two dates, with the warrant of each gain.
    #[command(after_help = "Examples:
  gatehouse changes --from 2026-07-01 --to 2026-09-30
  gatehouse changes --from 2026-07-01 --to 2026-09-30 --system erp --privileged
  gatehouse changes --from 2026-10-01 --format csv")]
    Changes(inventory::ChangesArgs),
    /// Accounts.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse account list --uncorrelated
  gatehouse account list --system erp --format csv"
    )]
    Account(inventory::AccountCommand),
    /// Systems.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse system list
  gatehouse system show erp
  gatehouse system list --format json"
    )]
    System(inventory::SystemCommand),
    /// Entitlements.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse entitlement list --system erp
  gatehouse entitlement list --privileged"
    )]
    Entitlement(inventory::EntitlementCommand),
    /// Identities: people and non-human identities.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse identity list --status leave
  gatehouse identity list --kind non-human"
    )]
    Identity(inventory::IdentityCommand),
    /// Re-link accounts to identities with each system's correlation rules.
    #[command(after_help = "Examples:
  gatehouse correlate")]
    Correlate,
    /// Generate a realistic demo organisation with a year of history and import it.
    #[command(after_help = "Examples:
  gatehouse demo
  gatehouse demo --people 200 --months 3 --db demo.db")]
    Demo(demo::DemoArgs),
    /// The tamper-evident ledger: verify, export evidence, prove, search events.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse ledger verify
  gatehouse ledger export --out evidence/
  gatehouse ledger show --kind grant. --object grant:erp"
    )]
    Ledger(ledger::LedgerCommand),
    /// Run every risk rule over the inventory and record the findings.
    #[command(after_help = "Examples:
  gatehouse analyze
  gatehouse analyze --fail-on high        # exit code 2 when open high or critical findings exist")]
    Analyze(analysis::AnalyzeArgs),
    /// Findings of the risk analysis: list, show, accept.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse findings list --severity high
  gatehouse findings show F-3f9a2b7c4d1e6a08"
    )]
    Findings(analysis::FindingsCommand),
    /// Explainable risk scores: the riskiest identities and systems, or one subject.
    #[command(after_help = "Examples:
  gatehouse risk
  gatehouse risk E000123
  gatehouse risk erp --format json")]
    Risk(analysis::RiskArgs),
    /// The assessment report: baseline, findings, accepted risks, trend, ledger point
    /// (--format md|html|json); --record records it.
    #[command(after_help = "Examples:
  gatehouse assess --format md
  gatehouse assess --format html --out assessment.html
  gatehouse assess --record --format json --out assessment.json")]
    Assess(analysis::AssessArgs),
    /// The analysis policy and segregation-of-duties ruleset.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse policy show
  gatehouse policy rules
  gatehouse policy init-sod"
    )]
    Policy(analysis::PolicyCommand),
    /// Access review campaigns: due, create, preview, launch, decide, delegate, tick, close,
    /// report.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse campaign due
  gatehouse campaign create --scope sox-quarterly --as E000010
  gatehouse campaign launch C-0001 --as E000010
  gatehouse campaign decide C-0001 17 --revoke --comment \"moved to sales\" --as E000045
  gatehouse campaign report C-0001 --format xlsx"
    )]
    Campaign(campaign::CampaignCommand),
    /// A reviewer's open items across campaigns.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse review inbox --reviewer E000045
  gatehouse review inbox --reviewer ada@example.com --format csv"
    )]
    Review(campaign::ReviewCommand),
    /// Remediation of revoked access: list tasks, mark them done.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse remediation list --status open
  gatehouse remediation done C-0001/17 --note \"removed in SU01, CHG-4411\" --as E000030"
    )]
    Remediation(campaign::RemediationCommand),
    /// Notifications: send what is due, list what was sent and what failed, test.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse notify test --to ops@example.com
  gatehouse notify send
  gatehouse notify list --failed"
    )]
    Notify(notify::NotifyCommand),
    /// Serve the web UI and the JSON API (and run the scheduler) until Ctrl-C.
    #[command(after_help = "Examples:
  gatehouse serve                                # http://127.0.0.1:8080, settings from [server]
  gatehouse serve --listen 0.0.0.0:8443          # TLS when [server] tls_cert and tls_key are set
  GATEHOUSE_OIDC_CLIENT_SECRET_FILE=/run/secrets/oidc gatehouse serve")]
    Serve(serve::ServeArgs),
    /// Gatehouse users of the web UI and API: add, list, reset, API tokens.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse user add ada --role admin --email ada@example.com
  gatehouse user list
  gatehouse user token create robot --scope read --days 30"
    )]
    User(user::UserCommand),
    /// Run a witness that cosigns other logs' checkpoints (no store involved).
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse witness init --name witness.audit-firm.example/gatehouse
  gatehouse witness serve --log gatehouse.example.com=gatehouse.pub"
    )]
    Witness(witness::WitnessCommand),
}

/// Commands whose output `--format` does not change: it is not offered on them. Every other
/// command prints a listing or a report and takes `--format`.
const WITHOUT_FORMAT: &[&str] = &[
    "init",
    "migrate",
    "import hr",
    "import nhi",
    "import system",
    "import roles",
    "import warrants",
    "import folder",
    "correlate",
    "demo",
    "ledger verify",
    "ledger export",
    "ledger checkpoint",
    "findings accept",
    "policy show",
    "policy init-sod",
    "witness init",
    "witness serve",
    "campaign create",
    "campaign delegate",
    "campaign close",
    "remediation done",
    "import decisions",
    "notify send",
    "notify test",
    // Not a listing: a report file, with formats of its own (pdf, xlsx, csv, json).
    "campaign report",
    "serve",
    "user add",
    "user reset",
    "user token create",
    "user token revoke",
];

/// The `--format` option, offered on the commands that print listings or reports.
fn format_arg() -> clap::Arg {
    clap::Arg::new("format")
        .long("format")
        .short('f')
        .value_name("FORMAT")
        .value_parser(clap::value_parser!(Format))
        .default_value("table")
        .help("How the listing or report is printed")
        .help_heading(GLOBAL_OPTIONS)
}

/// Adds `--format` to every command below `cmd` (named `path`) that prints a listing.
fn offer_format(mut cmd: clap::Command, path: &str) -> clap::Command {
    let subcommands: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    if subcommands.is_empty() {
        return if WITHOUT_FORMAT.contains(&path) {
            cmd
        } else {
            cmd.arg(format_arg())
        };
    }
    for name in subcommands {
        let below = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        cmd = cmd.mut_subcommand(&name, |c| offer_format(c, &below));
    }
    cmd
}

/// The command line's definition, `--format` included where it applies.
fn command() -> clap::Command {
    offer_format(Cli::command(), "")
}

/// The `--format` of the command that runs (the table where it takes none).
fn chosen_format(matches: &clap::ArgMatches) -> Format {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    m.try_get_one::<Format>("format")
        .ok()
        .flatten()
        .copied()
        .unwrap_or_default()
}

fn run() -> anyhow::Result<ExitCode> {
    let matches = command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let format = chosen_format(&matches);
    output::set_exact_output(format == Format::Json);
    // A witness has its own key and state and never reads the configuration or the store.
    let command = match cli.command {
        Command::Witness(cmd) => return witness::run(cmd),
        other => other,
    };
    let ctx = Ctx::new(cli.config.as_deref(), cli.db.as_deref(), format)?;
    match command {
        Command::Init(args) => init::run(&ctx, args),
        Command::Migrate => init::migrate(&ctx),
        Command::Import(cmd) => import::run(&ctx, cmd),
        Command::WhoHas(args) => inventory::who_has(&ctx, args),
        Command::Access(args) => inventory::access(&ctx, args),
        Command::History(args) => inventory::history(&ctx, args),
        Command::Changes(args) => inventory::changes(&ctx, args),
        Command::Account(cmd) => inventory::account(&ctx, cmd),
        Command::System(cmd) => inventory::system(&ctx, cmd),
        Command::Entitlement(cmd) => inventory::entitlement(&ctx, cmd),
        Command::Identity(cmd) => inventory::identity(&ctx, cmd),
        Command::Correlate => inventory::correlate(&ctx),
        Command::Demo(args) => demo::run(&ctx, args),
        Command::Ledger(cmd) => ledger::run(&ctx, cmd),
        Command::Analyze(args) => analysis::analyze(&ctx, args),
        Command::Findings(cmd) => analysis::findings_cmd(&ctx, cmd),
        Command::Risk(args) => analysis::risk_cmd(&ctx, args),
        Command::Assess(args) => analysis::assess(&ctx, args),
        Command::Policy(cmd) => analysis::policy_cmd(&ctx, cmd),
        Command::Campaign(cmd) => campaign::run(&ctx, cmd),
        Command::Review(cmd) => campaign::review(&ctx, cmd),
        Command::Remediation(cmd) => campaign::remediation(&ctx, cmd),
        Command::Notify(cmd) => notify::run(&ctx, cmd),
        Command::Serve(args) => serve::run(&ctx, args),
        Command::User(cmd) => user::run(&ctx, cmd),
        Command::Witness(cmd) => witness::run(cmd),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        // Whoever read the output went away (`| head`): that ends the command, quietly.
        Err(e) if output::is_closed_output(&e) => ExitCode::SUCCESS,
        Err(e) => {
            errors::report(&e);
            ExitCode::FAILURE
        }
    }
}
