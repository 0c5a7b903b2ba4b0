//! Questions about the inventory: who has, access, history, listings.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use gatehouse_model::{
    EmploymentStatus, ErrorCode, IdentityKind, Timestamp, parse_point_in_time, parse_timestamp,
};
use gatehouse_store::inventory::changes::{ChangeFilter, ChangeKind};
use gatehouse_store::inventory::query::{HolderPage, ObjectKind, Period};
use gatehouse_store::{IncompleteImport, Reader, StoreError};

use crate::answer::{About, print_answer};
use crate::context::Ctx;
use crate::output::{Format, opt, opt_when, plural, print_listing, show, table, when};

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

/// Arguments of `gatehouse changes`.
#[derive(Args)]
pub struct ChangesArgs {
    /// From this date (its start, UTC) or RFC 3339 time, included.
    #[arg(long, value_name = "DATE|TIME")]
    pub from: String,
    /// Up to this date (its end, UTC) or RFC 3339 time, included; default now.
    #[arg(long, value_name = "DATE|TIME")]
    pub to: Option<String>,
    /// Only this system's access.
    #[arg(long, value_name = "SYSTEM")]
    pub system: Option<String>,
    /// Only this identity's access: e-mail address, employee id or non-human identity id.
    #[arg(long, value_name = "IDENTITY")]
    pub identity: Option<String>,
    /// Only this entitlement: `system:id` or `system:name`.
    #[arg(long, value_name = "ENTITLEMENT")]
    pub entitlement: Option<String>,
    /// Only privileged entitlements.
    #[arg(long)]
    pub privileged: bool,
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
    #[command(after_help = "Examples:
  gatehouse account list
  gatehouse account list --uncorrelated
  gatehouse account list --system erp --format csv > erp-accounts.csv")]
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
    #[command(after_help = "Examples:
  gatehouse system list
  gatehouse system list --format csv")]
    List,
    /// One system: its description, owner, scope, size and the period its data covers.
    #[command(after_help = "Examples:
  gatehouse system show erp
  gatehouse system show erp --format json")]
    Show {
        /// The system's key, e.g. `erp`.
        system: String,
    },
}

/// `gatehouse entitlement …`.
#[derive(Subcommand)]
pub enum EntitlementCommand {
    /// List current entitlements with their number of holders.
    #[command(after_help = "Examples:
  gatehouse entitlement list --system erp
  gatehouse entitlement list --privileged --format csv")]
    List {
        /// Only this system's.
        #[arg(long)]
        system: Option<String>,
        /// Only privileged entitlements.
        #[arg(long)]
        privileged: bool,
    },
}

/// `gatehouse identity …`.
#[derive(Subcommand)]
pub enum IdentityCommand {
    /// List current identities: people of the HR feed and non-human identities.
    #[command(after_help = "Examples:
  gatehouse identity list --status leave
  gatehouse identity list --kind non-human
  gatehouse identity list --department finance --format csv")]
    List {
        /// Only this kind: person, service_account, api_key, token, certificate, or
        /// `non-human` for every kind but person.
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// Only people in this employment status (active, leave, terminated, …).
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        /// Only people of this department (any case).
        #[arg(long, value_name = "DEPARTMENT")]
        department: Option<String>,
    },
}

/// What an answer about `at` must say about interrupted imports: one that stopped before all
/// its changes were recorded (its process died) leaves the history of its source partial after
/// its snapshot time.
fn incomplete_notes(incomplete: &[IncompleteImport], at: Timestamp) -> Vec<String> {
    incomplete
        .iter()
        .filter(|i| i.as_of <= at)
        .map(|i| {
            format!(
                "the import of `{}` as of {} (event {}) stopped after {} of its {} changes; \
                 what the store says of `{}` after {} may be incomplete until the same snapshot \
                 is imported again",
                i.source,
                when(i.as_of),
                i.seq,
                i.recorded,
                i.total,
                i.source,
                when(i.as_of)
            )
        })
        .collect()
}

/// The period a source has data for, checked against the time asked about: a question about
/// a time before its first snapshot is refused, for nothing is known of it then.
fn period_for(
    r: &mut Reader<'_>,
    source: &str,
    what: &str,
    at: Timestamp,
) -> Result<Period, StoreError> {
    let period = r.source_period(source)?;
    match period {
        Some(p) if at >= p.first => Ok(p),
        Some(p) => Err(StoreError::refused(
            ErrorCode::OutsideHistory,
            format!(
                "the store has data for {what} from {} to {}; {} is before it, so nothing is \
                 known of that time",
                when(p.first),
                when(p.last),
                when(at)
            ),
        )),
        None => Err(StoreError::refused(
            ErrorCode::OutsideHistory,
            format!("the store has no data for {what} yet"),
        )),
    }
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
    let (e, answer, period, notes, point) = store.read(|r| {
        let e = r.resolve_entitlement(&args.entitlement)?;
        let source = format!("system:{}", e.system);
        let period = period_for(r, &source, &format!("`{source}`"), at)?;
        let answer = r.who_has(&e, at, &page)?;
        let notes = incomplete_notes(&r.incomplete_imports()?, at);
        Ok::<_, StoreError>((e, answer, period, notes, r.answer_point()?))
    })?;
    let holders = &answer.holders;
    if ctx.format == Format::Table {
        println!(
            "{}:{} ({}{}) as of {}: {} holder{} (data for `system:{}` from {} to {})",
            e.system,
            e.native_id,
            e.name,
            if e.privileged { ", privileged" } else { "" },
            when(at),
            answer.total,
            if answer.total == 1 { "" } else { "s" },
            e.system,
            when(period.first),
            when(period.last)
        );
    }
    let about = About {
        question: format!("who held `{}:{}`", e.system, e.native_id),
        at: Some(at),
        asked_at: ctx.now,
        store: store.location().to_owned(),
        data: Some(period),
        count: holders.len() as u64,
        ledger: point,
        warnings: notes,
    };
    print_answer(
        ctx.format,
        &about,
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
    let (access, period, notes, point) = store.read(|r| {
        let identity = r.resolve_identity(&args.identity, at)?;
        let (source, what) = if identity.kind == IdentityKind::Person {
            ("hr", "the HR feed")
        } else {
            ("nhi", "the non-human identity inventory")
        };
        let period = period_for(r, source, what, at)?;
        let mut notes = incomplete_notes(&r.incomplete_imports()?, at);
        // Systems first imported after the time asked about say nothing of it.
        for s in r.systems()? {
            let name = format!("system:{}", s.key);
            if let Some(p) = r.source_period(&name)?
                && p.first > at
            {
                notes.push(format!(
                    "`{name}` has data only from {}: its accounts before then are not known",
                    when(p.first)
                ));
            }
        }
        Ok::<_, StoreError>((r.access(identity, at)?, period, notes, r.answer_point()?))
    })?;
    let about = About {
        question: format!("what `{}` held", access.identity.key),
        at: Some(at),
        asked_at: ctx.now,
        store: store.location().to_owned(),
        data: Some(period),
        count: access.grants.len() as u64,
        ledger: point,
        warnings: notes,
    };
    match ctx.format {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Answer<'a> {
                about: &'a About,
                access: &'a gatehouse_store::inventory::query::Access,
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&Answer {
                    about: &about,
                    access: &access
                })?
            );
        }
        Format::Csv | Format::Md | Format::Html => {
            print_answer(
                ctx.format,
                &about,
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
            for w in &about.warnings {
                eprintln!("warning: {w}");
            }
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
    let (entries, period, notes, point) = store.read(|r| {
        Ok::<_, StoreError>((
            r.history(kind, &args.reference)?,
            r.recorded_period()?,
            incomplete_notes(&r.incomplete_imports()?, Timestamp::MAX),
            r.answer_point()?,
        ))
    })?;
    let about = About {
        question: format!(
            "the history of {} `{}`",
            match args.kind {
                HistoryKind::Grant => "grant",
                HistoryKind::Account => "account",
                HistoryKind::Entitlement => "entitlement",
                HistoryKind::Identity => "identity",
            },
            args.reference
        ),
        at: None,
        asked_at: ctx.now,
        store: store.location().to_owned(),
        data: period,
        count: entries.len() as u64,
        ledger: point,
        warnings: notes,
    };
    print_answer(
        ctx.format,
        &about,
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

/// Runs `gatehouse changes`.
pub fn changes(ctx: &Ctx, args: ChangesArgs) -> Result<ExitCode> {
    let from = parse_timestamp(&args.from)?;
    let to = match &args.to {
        Some(v) => parse_point_in_time(v)?,
        None => ctx.now,
    };
    if from > to {
        anyhow::bail!(
            "--from {} is after --to {}: the period would be empty",
            when(from),
            when(to)
        );
    }
    let store = ctx.open_for_questions()?;
    let (answer, period, notes, point, scope) = store.read(|r| {
        let mut filter = ChangeFilter {
            privileged: args.privileged,
            ..ChangeFilter::default()
        };
        let mut scope = Vec::new();
        if let Some(system) = &args.system {
            let key = r.resolve_system(system)?;
            scope.push(format!("on `{key}`"));
            filter.system = Some(key);
        }
        if let Some(e) = &args.entitlement {
            let e = r.resolve_entitlement(e)?;
            if filter.system.as_ref().is_some_and(|s| *s != e.system) {
                return Err(StoreError::refused(
                    ErrorCode::InvalidReference,
                    format!(
                        "entitlement `{}:{}` is not on system `{}`",
                        e.system,
                        e.native_id,
                        args.system.as_deref().unwrap_or_default()
                    ),
                ));
            }
            scope.push(format!("of `{}:{}`", e.system, e.native_id));
            filter.entitlement = Some(e);
        }
        if let Some(i) = &args.identity {
            let i = r.resolve_identity(i, to)?;
            scope.push(format!("by `{}`", i.key));
            filter.identity = Some(i.key);
        }
        if args.privileged {
            scope.push("privileged only".into());
        }
        let (source, what) = match &filter.system {
            Some(k) => (format!("system:{k}"), format!("`system:{k}`")),
            None => (String::new(), "any source".to_owned()),
        };
        let period = if source.is_empty() {
            r.recorded_period()?
        } else {
            r.source_period(&source)?
        };
        let Some(period) = period else {
            return Err(StoreError::refused(
                ErrorCode::OutsideHistory,
                format!("the store has no data for {what} yet"),
            ));
        };
        if to < period.first || from > period.last {
            return Err(StoreError::refused(
                ErrorCode::OutsideHistory,
                format!(
                    "the store has data for {what} from {} to {}; the period from {} to {} lies \
                     outside it, so nothing is known of it",
                    when(period.first),
                    when(period.last),
                    when(from),
                    when(to)
                ),
            ));
        }
        let answer = r.changes(from, to, &filter)?;
        let mut notes = Vec::new();
        if from < period.first {
            notes.push(format!(
                "the data begins at {}: changes before then are not known",
                when(period.first)
            ));
        }
        if to > period.last {
            notes.push(format!(
                "the latest snapshot is of {}: changes after it are not known yet",
                when(period.last)
            ));
        }
        // The count is of the whole system's grants: say it only when nothing narrows them.
        let narrowed =
            filter.identity.is_some() || filter.entitlement.is_some() || filter.privileged;
        for f in &answer.first_snapshots {
            let grants = if narrowed {
                "grants".to_owned()
            } else {
                plural(f.grants, "grant")
            };
            notes.push(format!(
                "`system:{}` was first imported as of {}: its {grants} were first recorded \
                 then, not gained, and are not listed",
                f.system,
                when(f.as_of),
            ));
        }
        notes.extend(incomplete_notes(&r.incomplete_imports()?, to));
        Ok::<_, StoreError>((answer, period, notes, r.answer_point()?, scope))
    })?;
    let rows = &answer.changes;
    let gained = rows
        .iter()
        .filter(|c| c.change == ChangeKind::Gained)
        .count();
    let scope = if scope.is_empty() {
        String::new()
    } else {
        format!(" {}", scope.join(", "))
    };
    if ctx.format == Format::Table {
        println!(
            "access gained and lost from {} to {}{scope}: {} gained, {} lost",
            when(from),
            when(to),
            gained,
            rows.len() - gained
        );
    }
    let about = About {
        question: format!(
            "which access was gained and lost from {} to {}{scope}",
            when(from),
            when(to)
        ),
        at: None,
        asked_at: ctx.now,
        store: store.location().to_owned(),
        data: Some(period),
        count: rows.len() as u64,
        ledger: point,
        warnings: notes,
    };
    print_answer(
        ctx.format,
        &about,
        &[
            "at",
            "change",
            "system",
            "account",
            "username",
            "identity",
            "name",
            "entitlement",
            "entitlement_name",
            "privileged",
            "source",
            "warrant",
            "event",
        ],
        rows,
        |c| {
            vec![
                when(c.at),
                c.change.as_str().to_owned(),
                c.system.to_string(),
                c.account.clone(),
                c.username.clone(),
                show(c.identity.as_ref()),
                opt(c.name.as_deref()),
                c.entitlement.clone(),
                c.entitlement_name.clone(),
                yes(c.privileged),
                c.source.to_string(),
                show(c.warrant.as_ref()),
                c.event.to_string(),
            ]
        },
        "no access was gained or lost",
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
    let rows = store.read(|r| {
        if let Some(s) = &system {
            r.resolve_system(s)?;
        }
        r.accounts(system.as_deref(), uncorrelated)
    })?;
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
    if let SystemCommand::Show { system } = cmd {
        return system_show(ctx, &system);
    }
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

/// Runs `gatehouse system show`.
fn system_show(ctx: &Ctx, key: &str) -> Result<ExitCode> {
    let store = ctx.open()?;
    let d = store.read(|r| r.system_detail(key))?;
    if ctx.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    let c = &d.config;
    let owner = match (&c.owner, &d.owner_name) {
        (Some(o), Some(n)) => format!("{o} ({n})"),
        (Some(o), None) => format!("{o} (not a known identity)"),
        (None, _) => "(none)".into(),
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("system", c.key.to_string()),
        ("name", c.name.clone()),
        ("description", opt(c.description.as_deref())),
        ("owner", owner),
        ("criticality", show(c.criticality.as_ref())),
        ("frameworks", c.frameworks.join(", ")),
        ("financial reporting", yes(c.financial_reporting)),
        (
            "review cadence",
            c.review_cadence_days
                .map_or("the policy's, by criticality".into(), |n| {
                    format!("every {n} days")
                }),
        ),
        (
            "correlation",
            c.correlation
                .iter()
                .map(|r| r.describe())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "accounts",
            format!(
                "{} ({} enabled, {} linked to no identity)",
                d.accounts, d.enabled_accounts, d.uncorrelated_accounts
            ),
        ),
        (
            "entitlements",
            format!(
                "{} ({} privileged)",
                d.entitlements, d.privileged_entitlements
            ),
        ),
        (
            "grants",
            format!("{} ({} privileged)", d.grants, d.privileged_grants),
        ),
        ("imports", d.imports.to_string()),
        (
            "data",
            d.period.map_or("none".into(), |p| {
                format!("from {} to {}", when(p.first), when(p.last))
            }),
        ),
    ];
    rows.retain(|(_, v)| !v.is_empty());
    print_listing(
        ctx.format,
        &["field", "value"],
        &rows,
        |(k, v)| vec![(*k).to_owned(), v.clone()],
        "",
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `gatehouse entitlement …`.
pub fn entitlement(ctx: &Ctx, cmd: EntitlementCommand) -> Result<ExitCode> {
    let EntitlementCommand::List { system, privileged } = cmd;
    let store = ctx.open()?;
    let mut rows = store.read(|r| {
        if let Some(s) = &system {
            r.resolve_system(s)?;
        }
        r.entitlements(system.as_deref())
    })?;
    if privileged {
        rows.retain(|e| e.privileged);
    }
    print_listing(
        ctx.format,
        &["system", "entitlement", "name", "privileged", "holders"],
        &rows,
        |e| {
            vec![
                e.system.to_string(),
                e.native_id.clone(),
                e.name.clone(),
                yes(e.privileged),
                e.holders.to_string(),
            ]
        },
        "no entitlements",
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `gatehouse identity …`.
pub fn identity(ctx: &Ctx, cmd: IdentityCommand) -> Result<ExitCode> {
    let IdentityCommand::List {
        kind,
        status,
        department,
    } = cmd;
    let kind = match kind.as_deref() {
        None => None,
        Some("non-human" | "non_human" | "nhi") => Some(None),
        Some(k) => Some(Some(k.parse::<IdentityKind>()?)),
    };
    let status = status
        .as_deref()
        .map(str::parse::<EmploymentStatus>)
        .transpose()?;
    let store = ctx.open()?;
    let mut rows = store.read(|r| r.identities())?;
    rows.retain(|i| {
        let kind_ok = match kind {
            None => true,
            Some(None) => i.kind != IdentityKind::Person,
            Some(Some(k)) => i.kind == k,
        };
        kind_ok
            && status.is_none_or(|s| i.status == Some(s))
            && department.as_deref().is_none_or(|d| {
                i.department
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(d))
            })
    });
    print_listing(
        ctx.format,
        &["identity", "kind", "name", "email", "status", "department"],
        &rows,
        |i| {
            vec![
                i.key.to_string(),
                i.kind.to_string(),
                i.name.clone(),
                opt(i.email.as_deref()),
                show(i.status.as_ref()),
                opt(i.department.as_deref()),
            ]
        },
        "no identities",
    )?;
    Ok(ExitCode::SUCCESS)
}
