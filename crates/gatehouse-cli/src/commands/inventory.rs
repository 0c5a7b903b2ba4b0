//! Questions about the inventory: who has, access, history, listings.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use gatehouse_model::{Timestamp, parse_point_in_time};
use gatehouse_store::inventory::query::{HolderPage, ObjectKind};

use crate::context::Ctx;
use crate::output::{Format, opt, opt_when, print_listing, show, table, when};

/// `--at` of point-in-time questions.
#[derive(Args)]
pub struct AtFlag {
    /// Answer as of this date (end of that day, UTC) or RFC 3339 time; default now.
    #[arg(long, value_name = "DATE|TIME")]
    pub at: Option<String>,
}

impl AtFlag {
    fn resolve(&self, ctx: &Ctx) -> Result<Timestamp> {
        Ok(match &self.at {
            Some(v) => parse_point_in_time(v)?,
            None => ctx.now,
        })
    }
}

/// Arguments of `gatehouse who-has`.
#[derive(Args)]
pub struct WhoHasArgs {
    /// The entitlement: `system:id` or `system:name`, e.g. `erp:role/AP_Approver`.
    pub entitlement: String,
    #[command(flatten)]
    pub at: AtFlag,
    /// List at most this many holders (default: 1000 in a table, all in other formats).
    #[arg(long, value_name = "N", conflicts_with = "all",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// List every holder, also in a table.
    #[arg(long)]
    pub all: bool,
    /// Start after this account (its native id): the last one of the previous page.
    #[arg(long, value_name = "ACCOUNT")]
    pub after: Option<String>,
}

/// Holders a table lists unless `--limit` or `--all` says otherwise.
const TABLE_PAGE: usize = 1000;

/// Arguments of `gatehouse access`.
#[derive(Args)]
pub struct AccessArgs {
    /// The identity: e-mail address, employee id or non-human identity id.
    pub identity: String,
    #[command(flatten)]
    pub at: AtFlag,
}

/// What kind of object `history` is about.
#[derive(Clone, Copy, ValueEnum)]
pub enum HistoryKind {
    /// `system:account/entitlement`.
    Grant,
    /// `system:account`.
    Account,
    /// `system:entitlement`.
    Entitlement,
    /// An e-mail address or identity key.
    Identity,
}

/// Arguments of `gatehouse history`.
#[derive(Args)]
pub struct HistoryArgs {
    /// What kind of object.
    #[arg(value_enum)]
    pub kind: HistoryKind,
    /// Which one: `erp:jdoe/role/AP_Approver`, `erp:jdoe`, `erp:role/AP_Approver`, `jdoe@example.com`.
    pub reference: String,
}

/// `gatehouse account …`.
#[derive(Subcommand)]
pub enum AccountCommand {
    /// List current accounts.
    List {
        /// Only this system's.
        #[arg(long)]
        system: Option<String>,
        /// Only accounts linked to no identity.
        #[arg(long)]
        uncorrelated: bool,
    },
}

/// `gatehouse system …`.
#[derive(Subcommand)]
pub enum SystemCommand {
    /// List systems with their classification, size and last import.
    List,
}

fn yes(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

/// Runs `gatehouse who-has`.
pub fn who_has(ctx: &Ctx, args: WhoHasArgs) -> Result<ExitCode> {
    let at = args.at.resolve(ctx)?;
    let store = ctx.open_for_questions()?;
    let limit = match (args.all, args.limit) {
        (true, _) => None,
        (false, Some(n)) => Some(n as usize),
        (false, None) if ctx.format == Format::Table => Some(TABLE_PAGE),
        (false, None) => None,
    };
    let page = HolderPage {
        after: args.after,
        limit,
    };
    let (e, answer) = store.read(|r| {
        let e = r.resolve_entitlement(&args.entitlement)?;
        let answer = r.who_has(&e, at, &page)?;
        Ok::<_, gatehouse_store::StoreError>((e, answer))
    })?;
    let holders = &answer.holders;
    if ctx.format == Format::Table {
        println!(
            "{}:{} ({}{}) as of {}: {} holder{}",
            e.system,
            e.native_id,
            e.name,
            if e.privileged { ", privileged" } else { "" },
            when(at),
            answer.total,
            if answer.total == 1 { "" } else { "s" }
        );
    }
    print_listing(
        ctx.format,
        &[
            "account", "username", "identity", "name", "status", "enabled", "source", "warrant",
            "since", "expires",
        ],
        holders,
        |h| {
            vec![
                h.account.clone(),
                h.username.clone(),
                show(h.identity.as_ref()),
                opt(h.name.as_deref()),
                show(h.status.as_ref()),
                yes(h.enabled),
                h.source.to_string(),
                show(h.warrant.as_ref()),
                when(h.since),
                opt_when(h.expires_at),
            ]
        },
        "nobody",
    )?;
    if answer.more
        && let Some(last) = holders.last()
    {
        eprintln!(
            "listed {} of {} holders; the next page: --after '{}', or --all for every one",
            holders.len(),
            answer.total,
            last.account
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `gatehouse access`.
pub fn access(ctx: &Ctx, args: AccessArgs) -> Result<ExitCode> {
    let at = args.at.resolve(ctx)?;
    let store = ctx.open_for_questions()?;
    let access = store.read(|r| {
        let identity = r.resolve_identity(&args.identity, at)?;
        r.access(identity, at)
    })?;
    match ctx.format {
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(&access)?);
        }
        Format::Csv | Format::Md | Format::Html | Format::Xlsx | Format::Pdf => {
            print_listing(
                ctx.format,
                &[
                    "identity",
                    "system",
                    "account",
                    "username",
                    "entitlement",
                    "entitlement_name",
                    "privileged",
                    "source",
                    "warrant",
                    "since",
                    "expires",
                ],
                &access.grants,
                |g| {
                    vec![
                        access.identity.key.to_string(),
                        g.system.to_string(),
                        g.account.clone(),
                        g.username.clone(),
                        g.entitlement.clone(),
                        g.entitlement_name.clone(),
                        yes(g.privileged),
                        g.source.to_string(),
                        show(g.warrant.as_ref()),
                        when(g.since),
                        opt_when(g.expires_at),
                    ]
                },
                "",
            )?;
        }
        Format::Table => {
            let i = &access.identity;
            println!(
                "{} ({}{}) — {}{}{}, as of {}",
                i.name,
                i.key,
                i.email
                    .as_deref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default(),
                i.kind.as_str().replace('_', " "),
                i.department
                    .as_deref()
                    .map(|d| format!(", {d}"))
                    .unwrap_or_default(),
                i.status.map(|s| format!(", {s}")).unwrap_or_default(),
                when(at)
            );
            if access.accounts.is_empty() {
                println!("no accounts");
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = access
                .accounts
                .iter()
                .map(|a| {
                    vec![
                        a.system.to_string(),
                        a.account.clone(),
                        a.username.clone(),
                        a.kind.to_string(),
                        yes(a.enabled),
                        opt_when(a.last_login),
                    ]
                })
                .collect();
            println!(
                "{} account(s)\n{}",
                rows.len(),
                table(
                    &[
                        "system",
                        "account",
                        "username",
                        "kind",
                        "enabled",
                        "last login"
                    ],
                    &rows
                )
            );
            let rows: Vec<Vec<String>> = access
                .grants
                .iter()
                .map(|g| {
                    vec![
                        g.system.to_string(),
                        g.username.clone(),
                        g.entitlement.clone(),
                        if g.privileged {
                            "yes".into()
                        } else {
                            String::new()
                        },
                        g.source.to_string(),
                        show(g.warrant.as_ref()),
                        when(g.since),
                        opt_when(g.expires_at),
                    ]
                })
                .collect();
            if rows.is_empty() {
                println!("no grants");
            } else {
                println!(
                    "{} grant(s)\n{}",
                    rows.len(),
                    table(
                        &[
                            "system",
                            "account",
                            "entitlement",
                            "privileged",
                            "source",
                            "warrant",
                            "since",
                            "expires"
                        ],
                        &rows
                    )
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `gatehouse history`.
pub fn history(ctx: &Ctx, args: HistoryArgs) -> Result<ExitCode> {
    let kind = match args.kind {
        HistoryKind::Grant => ObjectKind::Grant,
        HistoryKind::Account => ObjectKind::Account,
        HistoryKind::Entitlement => ObjectKind::Entitlement,
        HistoryKind::Identity => ObjectKind::Identity,
    };
    let store = ctx.open_for_questions()?;
    let entries = store.read(|r| r.history(kind, &args.reference))?;
    print_listing(
        ctx.format,
        &["event", "as of", "what", "why", "recorded", "by"],
        &entries,
        |e| {
            let what = match e.kind.rsplit('.').next() {
                Some("added") | Some("defined") | Some("recorded") => "appeared".to_owned(),
                Some("removed") => "went away".to_owned(),
                Some("correlated") => format!("re-linked: {}", e.changed.join("; ")),
                _ if e.changed.is_empty() => "changed".to_owned(),
                _ => format!("changed: {}", e.changed.join("; ")),
            };
            let mut why = match &e.import {
                Some(i) => format!(
                    "import of `{}` as of {} (event {})",
                    i.source,
                    when(i.as_of),
                    i.seq
                ),
                None => e.kind.to_owned(),
            };
            if e.kind.starts_with("grant.") && e.kind != "grant.removed" {
                let source = e
                    .state
                    .as_ref()
                    .and_then(|s| s.get("source"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                let warrant = e
                    .state
                    .as_ref()
                    .and_then(|s| s.get("warrant"))
                    .and_then(|v| v.as_str());
                why.push_str(&format!(
                    "; source {source}, warrant {}",
                    warrant.unwrap_or("none")
                ));
            }
            if e.kind == "grant.removed"
                || e.kind == "account.removed"
                || e.kind == "entitlement.removed"
            {
                why = format!("absent from the {why}");
            }
            vec![
                e.seq.to_string(),
                when(e.as_of),
                what,
                why,
                when(e.recorded_at),
                e.actor.clone(),
            ]
        },
        "no history",
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `gatehouse account …`.
pub fn account(ctx: &Ctx, cmd: AccountCommand) -> Result<ExitCode> {
    let AccountCommand::List {
        system,
        uncorrelated,
    } = cmd;
    let store = ctx.open()?;
    let rows = store.read(|r| r.accounts(system.as_deref(), uncorrelated))?;
    print_listing(
        ctx.format,
        &[
            "system",
            "account",
            "username",
            "kind",
            "enabled",
            "identity",
            "linked by",
            "last login",
        ],
        &rows,
        |a| {
            vec![
                a.system.to_string(),
                a.account.clone(),
                a.username.clone(),
                a.kind.to_string(),
                yes(a.enabled),
                show(a.identity.as_ref()),
                opt(a.linked_by.as_deref()),
                opt_when(a.last_login),
            ]
        },
        if uncorrelated {
            "every account is linked to an identity"
        } else {
            "no accounts"
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `gatehouse system …`.
pub fn system(ctx: &Ctx, cmd: SystemCommand) -> Result<ExitCode> {
    let SystemCommand::List = cmd;
    let store = ctx.open()?;
    let rows = store.read(|r| r.systems())?;
    print_listing(
        ctx.format,
        &[
            "system",
            "name",
            "owner",
            "criticality",
            "frameworks",
            "financial reporting",
            "accounts",
            "grants",
            "last import",
        ],
        &rows,
        |s| {
            vec![
                s.key.to_string(),
                s.name.clone(),
                show(s.owner.as_ref()),
                show(s.criticality.as_ref()),
                s.frameworks.join(", "),
                yes(s.financial_reporting),
                s.accounts.to_string(),
                s.grants.to_string(),
                opt_when(s.last_import),
            ]
        },
        "no systems yet; import one with `gatehouse import system <folder>`",
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `gatehouse correlate`.
pub fn correlate(ctx: &Ctx) -> Result<ExitCode> {
    let store = ctx.open()?;
    let n = gatehouse_workflow::recorrelate(&store, &ctx.actor, ctx.now)?;
    ctx.seal(&store)?;
    println!("{n} account{} re-linked", if n == 1 { "" } else { "s" });
    Ok(ExitCode::SUCCESS)
}
