//! `gatehouse campaign …`, `review inbox`, `remediation …` and `import decisions`: access
//! review campaigns from the command line. The workflow decides who may do what; this module
//! names the person acting (`--as`, or `GATEHOUSE_IDENTITY`), reads the review policy, and
//! prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gatehouse_model::{
    CampaignId, CampaignKind, DeadlineDefault, IdentityKey, ItemRef, SystemKey, TaskStatus,
    Verdict, parse_point_in_time,
};
use gatehouse_store::Store;
use gatehouse_store::campaigns::query::{CampaignRow, ItemFilter, ItemRow, TaskFilter, TaskRow};
use gatehouse_workflow::campaigns::{
    self, Acting, BulkDecision, BulkSelection, DecisionInput, NewCampaign, ReviewPolicy,
};

use crate::answer::{About, print_answer};
use crate::context::Ctx;
use crate::output::{Format, opt, opt_when, table, when};

/// Rows read together with where the answer stands in the ledger and the period the store's
/// data covers, in one read transaction.
pub(crate) fn answered<T>(
    store: &Store,
    rows: impl FnOnce(&mut gatehouse_store::Reader<'_>) -> Result<T, gatehouse_store::StoreError>,
) -> Result<(T, Answered)> {
    Ok(store.read(|r| {
        let rows = rows(r)?;
        Ok::<_, gatehouse_store::StoreError>((
            rows,
            Answered {
                data: r.recorded_period()?,
                ledger: r.answer_point()?,
            },
        ))
    })?)
}

/// Where an answer stands: the data it covers and its ledger point.
pub(crate) struct Answered {
    data: Option<gatehouse_store::inventory::query::Period>,
    ledger: gatehouse_store::AnswerPoint,
}

impl Answered {
    /// What an exported answer says about itself: the question, when it was asked, of which
    /// store, how many rows, at which ledger point and covering checkpoint.
    pub(crate) fn about(self, ctx: &Ctx, store: &Store, question: String, count: usize) -> About {
        About {
            question,
            at: None,
            asked_at: ctx.now,
            store: store.location().to_owned(),
            data: self.data,
            count: count as u64,
            ledger: self.ledger,
            warnings: Vec::new(),
        }
    }
}

/// Who is acting: a person, by identity key or e-mail.
#[derive(Args, Clone, Default)]
pub struct ActingArgs {
    /// The person acting (identity key or e-mail); decisions, delegations and sign-offs are
    /// recorded as theirs.
    #[arg(long = "as", env = "GATEHOUSE_IDENTITY", value_name = "PERSON")]
    pub person: Option<String>,
}

/// `gatehouse campaign …`.
#[derive(Subcommand)]
pub enum CampaignCommand {
    /// The review policy's scopes, and which are due for a campaign.
    #[command(after_help = "Examples:
  gatehouse campaign due
  gatehouse campaign due --format csv")]
    Due,
    /// Create a draft campaign from a scope of the review policy (or named systems).
    #[command(after_help = "Examples:
  gatehouse campaign create --scope sox-quarterly --as E000010
  gatehouse campaign create --scope sox-quarterly --kind delta --as E000010
  gatehouse campaign create --system erp --privileged-only --deadline-default exception --as E000010")]
    Create(CreateArgs),
    /// What launching a draft would freeze: items per system and reviewer, privileged items.
    #[command(after_help = "Examples:
  gatehouse campaign preview C-0001
  gatehouse campaign preview C-0001 --exclude 'account:erp:svc-batch=reviewed with the NHI campaign'
  gatehouse campaign preview C-0001 --format json")]
    Preview(LaunchArgs),
    /// Launch a draft: freeze and hash its population, create its review items.
    #[command(after_help = "Examples:
  gatehouse campaign launch C-0001 --as E000010
  gatehouse campaign launch C-0001 --exclude 'system:sandbox=not in production' --as E000010")]
    Launch(LaunchArgs),
    /// Every campaign, newest first.
    #[command(after_help = "Examples:
  gatehouse campaign list
  gatehouse campaign list --format csv")]
    List,
    /// One campaign: scope, population, progress, sign-off; its items, or one item in full.
    #[command(after_help = "Examples:
  gatehouse campaign show C-0001
  gatehouse campaign show C-0001 --item 17
  gatehouse campaign show C-0001 --reviewer E000045 --open --format csv")]
    Show(ShowArgs),
    /// Decide items: keep, revoke or keep until a date; in bulk, or accept recommendations.
    #[command(after_help = "Examples:
  gatehouse campaign decide C-0001 17 18 --revoke --comment \"moved to sales\" --as E000045
  gatehouse campaign decide C-0001 25 --keep-until 2026-09-30 --comment \"covers the close\" --as E000045
  gatehouse campaign decide C-0001 --all --keep --recommended keep --as E000045
  gatehouse campaign decide C-0001 --accept-recommendations --system erp --as E000045")]
    Decide(DecideArgs),
    /// Hand items to another reviewer, with a reason (`--from`: reassign someone's items).
    #[command(after_help = "Examples:
  gatehouse campaign delegate C-0001 31 32 --to E000046 --reason \"runs that team now\" --as E000045
  gatehouse campaign delegate C-0001 --from E000045 --to E000012 --reason \"on leave\" --as E000010")]
    Delegate(DelegateArgs),
    /// Run the schedule now: reminders, escalations, deadline defaults, remediation
    /// verification, event-driven reviews, notifications.
    #[command(after_help = "Examples:
  gatehouse campaign tick                 # from cron or a systemd timer, e.g. hourly
  gatehouse campaign tick --no-notify
  GATEHOUSE_NOW=2026-07-01T09:00:00Z gatehouse campaign tick   # a rehearsal with the clock set")]
    Tick(TickArgs),
    /// Close a campaign and sign it off with a statement.
    #[command(after_help = "Examples:
  gatehouse campaign close C-0001 --statement \"Q2 ERP access reviewed as required\" --as E000011
  gatehouse campaign close C-0001 --statement \"Q2 review\" --force --reason \"audit fieldwork starts\" --as E000011")]
    Close(CloseArgs),
    /// The evidence report of a campaign (PDF, XLSX, CSV or JSON), or the control evidence
    /// pack or the history across campaigns.
    #[command(after_help = "Examples:
  gatehouse campaign report C-0001                       # C-0001-report.pdf
  gatehouse campaign report C-0001 --format xlsx -o q2-erp-review.xlsx
  gatehouse campaign report --pack sox --seed 2026-Q2 --format xlsx
  gatehouse campaign report --history --format csv")]
    Report(crate::commands::evidence::ReportArgs),
}

/// Arguments of `campaign create`.
#[derive(Args)]
pub struct CreateArgs {
    /// A scope of the review policy (see `campaign due`).
    #[arg(long)]
    pub scope: Option<String>,
    /// full, delta, privileged, non_human, sod or role_definitions (default: the scope's).
    #[arg(long)]
    pub kind: Option<CampaignKind>,
    /// A system to review (repeat for several); added to the scope's.
    #[arg(long = "system", value_name = "KEY")]
    pub systems: Vec<SystemKey>,
    /// A name for people.
    #[arg(long)]
    pub name: Option<String>,
    /// Who owns the campaign and signs it off (default: the scope's owner, else the
    /// compliance owner).
    #[arg(long, value_name = "PERSON")]
    pub owner: Option<IdentityKey>,
    /// Only privileged grants.
    #[arg(long)]
    pub privileged_only: bool,
    /// What undecided items get at the deadline: revoke, keep or exception.
    #[arg(long, value_name = "DEFAULT")]
    pub deadline_default: Option<DeadlineDefault>,
    /// Instructions shown to reviewers with every item.
    #[arg(long)]
    pub instructions: Option<String>,
    #[command(flatten)]
    pub acting: ActingArgs,
}

/// Arguments of `campaign preview` and `campaign launch`.
#[derive(Args)]
pub struct LaunchArgs {
    /// The campaign (`C-0001`).
    pub id: CampaignId,
    /// Leave something out of the population, with the reason after `=`:
    /// `grant:erp:u1/role/Admin=…`, `account:erp:svc=…`, `identity:E000123=…`,
    /// `entitlement:erp:role/X=…`, `system:erp=…`. Recorded with who excluded it.
    #[arg(long = "exclude", value_name = "SUBJECT=REASON")]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub acting: ActingArgs,
}

/// Arguments of `campaign show`.
#[derive(Args)]
pub struct ShowArgs {
    /// The campaign (`C-0001`).
    pub id: CampaignId,
    /// One item in full: context, recommendation, decisions at every stage, reassignments.
    #[arg(long)]
    pub item: Option<u32>,
    /// Only the items this person reviews now.
    #[arg(long, value_name = "PERSON")]
    pub reviewer: Option<String>,
    /// Only open items.
    #[arg(long)]
    pub open: bool,
}

/// Arguments of `campaign decide`.
#[derive(Args)]
pub struct DecideArgs {
    /// The campaign (`C-0001`).
    pub id: CampaignId,
    /// The items' numbers (`17 18 25`); none with `--all` or a filter.
    pub items: Vec<u32>,
    /// Keep the access.
    #[arg(long, group = "verdict")]
    pub keep: bool,
    /// Revoke the access (a remediation task follows the final decision).
    #[arg(long, group = "verdict")]
    pub revoke: bool,
    /// Keep the access until a date.
    #[arg(long, group = "verdict", value_name = "DATE")]
    pub keep_until: Option<String>,
    /// Accept each item's recommendation (recorded as such).
    #[arg(long, group = "verdict")]
    pub accept_recommendations: bool,
    /// Why (required to revoke, and to keep privileged or conflicting access).
    #[arg(long)]
    pub comment: Option<String>,
    /// Every open item of yours in the campaign (narrowed by the filters below).
    #[arg(long)]
    pub all: bool,
    /// Only items on this system.
    #[arg(long, value_name = "KEY")]
    pub system: Option<SystemKey>,
    /// Only items of this entitlement (its native id).
    #[arg(long)]
    pub entitlement: Option<String>,
    /// Only items Gatehouse recommends keeping (`keep`) or revoking (`revoke`).
    #[arg(long, value_name = "VERDICT")]
    pub recommended: Option<Verdict>,
    #[command(flatten)]
    pub acting: ActingArgs,
}

/// Arguments of `campaign delegate`.
#[derive(Args)]
pub struct DelegateArgs {
    /// The campaign (`C-0001`).
    pub id: CampaignId,
    /// The items' numbers; none: every open item of yours (or of `--from`).
    pub items: Vec<u32>,
    /// Who reviews them from now on.
    #[arg(long, value_name = "PERSON")]
    pub to: String,
    /// Why.
    #[arg(long)]
    pub reason: String,
    /// Reassign this reviewer's items (the campaign's owner and administrators may).
    #[arg(long, value_name = "PERSON")]
    pub from: Option<String>,
    #[command(flatten)]
    pub acting: ActingArgs,
}

/// Arguments of `campaign tick`.
#[derive(Args)]
pub struct TickArgs {
    /// Record what is due without sending notifications.
    #[arg(long)]
    pub no_notify: bool,
}

/// Arguments of `campaign close`.
#[derive(Args)]
pub struct CloseArgs {
    /// The campaign (`C-0001`).
    pub id: CampaignId,
    /// The sign-off statement.
    #[arg(long)]
    pub statement: String,
    /// Close although items are undecided: they get the campaign's deadline default.
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why it is closed early (with `--force`).
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub acting: ActingArgs,
}

/// `gatehouse review …`.
#[derive(Subcommand)]
pub enum ReviewCommand {
    /// A reviewer's open items across campaigns, soonest due first.
    #[command(after_help = "Examples:
  gatehouse review inbox --reviewer E000045
  gatehouse review inbox --reviewer ada@example.com --format csv")]
    Inbox {
        /// The reviewer (identity key or e-mail).
        #[arg(long, value_name = "PERSON")]
        reviewer: String,
    },
}

/// `gatehouse remediation …`.
#[derive(Subcommand)]
pub enum RemediationCommand {
    /// Remediation tasks and where they stand.
    #[command(after_help = "Examples:
  gatehouse remediation list
  gatehouse remediation list --status reopened
  gatehouse remediation list --campaign C-0001 --assignee E000030 --format csv")]
    List {
        /// Only in this status: open, done, verified, reopened.
        #[arg(long)]
        status: Option<TaskStatus>,
        /// Only of this campaign.
        #[arg(long)]
        campaign: Option<CampaignId>,
        /// Only assigned to this person.
        #[arg(long, value_name = "PERSON")]
        assignee: Option<String>,
    },
    /// Say a task is done, with what was done; the next import of the system verifies it.
    #[command(after_help = "Examples:
  gatehouse remediation done C-0001/17 --note \"removed in SU01, change CHG-4411\" --as E000030")]
    Done {
        /// The task (`C-0001/17`, the item it carries out).
        task: ItemRef,
        /// What was removed, where, and the change ticket.
        #[arg(long)]
        note: String,
        #[command(flatten)]
        acting: ActingArgs,
    },
}

/// The review policy: `reviews.toml` in the policy folder, else the default (which names no
/// administrator).
pub fn load_review_policy(ctx: &Ctx) -> Result<ReviewPolicy> {
    let file = ctx.config.policy_dir.join("reviews.toml");
    if !file.exists() {
        return Ok(ReviewPolicy::default());
    }
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read `{}`", file.display()))?;
    Ok(ReviewPolicy::from_toml(&text, &file)?)
}

/// Resolves a person by identity key or e-mail.
fn person(store: &Store, ctx: &Ctx, reference: &str) -> Result<IdentityKey> {
    Ok(store.read(|r| r.resolve_identity(reference, ctx.now))?.key)
}

/// Who is acting.
pub fn acting(store: &Store, ctx: &Ctx, args: &ActingArgs) -> Result<Acting> {
    Ok(Acting {
        actor: ctx.actor.clone(),
        identity: args
            .person
            .as_deref()
            .map(|p| person(store, ctx, p))
            .transpose()?,
    })
}

fn exclusions(list: &[String]) -> Result<Vec<(String, String)>> {
    list.iter()
        .map(|e| match e.split_once('=') {
            Some((s, r)) if !s.trim().is_empty() => Ok((s.trim().to_owned(), r.trim().to_owned())),
            _ => bail!("--exclude `{e}`: write the subject, `=` and the reason"),
        })
        .collect()
}

/// Runs `gatehouse campaign …`.
pub fn run(ctx: &Ctx, cmd: CampaignCommand) -> Result<ExitCode> {
    match cmd {
        CampaignCommand::Due => due(ctx),
        CampaignCommand::Create(args) => create(ctx, args),
        CampaignCommand::Preview(args) => preview(ctx, args),
        CampaignCommand::Launch(args) => launch(ctx, args),
        CampaignCommand::List => list(ctx),
        CampaignCommand::Show(args) => show(ctx, args),
        CampaignCommand::Decide(args) => decide(ctx, args),
        CampaignCommand::Delegate(args) => delegate(ctx, args),
        CampaignCommand::Tick(args) => tick(ctx, args),
        CampaignCommand::Close(args) => close(ctx, args),
        CampaignCommand::Report(args) => crate::commands::evidence::report(ctx, args),
    }
}

fn due(ctx: &Ctx) -> Result<ExitCode> {
    let policy = load_review_policy(ctx)?;
    let store = ctx.open()?;
    let scopes = campaigns::due(&store, &policy, ctx.now)?;
    let (_, at) = answered(&store, |_| Ok(()))?;
    let about = at.about(
        ctx,
        &store,
        "which scopes of the review policy are due for a campaign".into(),
        scopes.len(),
    );
    print_answer(
        ctx.format,
        &about,
        &[
            "scope", "kind", "systems", "cadence", "last", "running", "due on", "due",
        ],
        &scopes,
        |s| {
            vec![
                s.scope.clone(),
                s.kind.to_string(),
                s.systems
                    .iter()
                    .map(SystemKey::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                format!("{} days", s.cadence_days),
                s.last
                    .map(|(id, at)| format!("{id} ({})", when(at)))
                    .unwrap_or_else(|| "never".into()),
                s.running.map(|c| c.to_string()).unwrap_or_default(),
                opt_when(s.due_on),
                if s.due { "yes".into() } else { "no".into() },
            ]
        },
        "the review policy has no scope (see docs/reviews.md)",
    )?;
    Ok(ExitCode::SUCCESS)
}

fn create(ctx: &Ctx, args: CreateArgs) -> Result<ExitCode> {
    let policy = load_review_policy(ctx)?;
    let store = ctx.open()?;
    let who = acting(&store, ctx, &args.acting)?;
    let c = campaigns::create(
        &store,
        &policy,
        &who,
        ctx.now,
        NewCampaign {
            scope: args.scope,
            kind: args.kind,
            systems: args.systems,
            name: args.name,
            owner: args.owner,
            privileged_only: args.privileged_only,
            deadline_default: args.deadline_default,
            instructions: args.instructions,
        },
    )?;
    ctx.seal(&store)?;
    println!(
        "created {} `{}` (draft, event {}): {} review of {}, owner {}; stages: {}",
        c.id,
        c.record.name,
        c.seq,
        c.record.kind,
        c.record
            .systems
            .iter()
            .map(SystemKey::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        c.record.owner,
        c.record
            .rules
            .stages
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" then ")
    );
    println!(
        "next: gatehouse campaign preview {} — then: gatehouse campaign launch {}",
        c.id, c.id
    );
    Ok(ExitCode::SUCCESS)
}

fn print_preview(ctx: &Ctx, p: &campaigns::Preview) -> Result<()> {
    if ctx.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(p)?);
        return Ok(());
    }
    println!(
        "{} items: {} privileged, {} in a segregation-of-duties conflict, {} recommended for \
         revoking, {} with a reviewer other than the rules name",
        p.items, p.privileged, p.sod, p.recommend_revoke, p.reassigned
    );
    let systems: Vec<Vec<String>> = p
        .systems
        .iter()
        .map(|(s, n)| vec![s.clone(), n.to_string()])
        .collect();
    println!("{}", table(&["system", "items"], &systems));
    let reviewers: Vec<Vec<String>> = p
        .reviewers
        .iter()
        .map(|(s, n)| vec![s.clone(), n.to_string()])
        .collect();
    println!("{}", table(&["first reviewer", "items"], &reviewers));
    for e in &p.exclusions {
        println!("excluded {}: {} grants ({})", e.subject, e.grants, e.reason);
    }
    println!("population SHA-256: {}", p.population_sha256);
    Ok(())
}

fn preview(ctx: &Ctx, args: LaunchArgs) -> Result<ExitCode> {
    let policy = load_review_policy(ctx)?;
    let store = ctx.open()?;
    let p = campaigns::preview(
        &store,
        &policy,
        args.id,
        &exclusions(&args.exclude)?,
        ctx.now,
    )?;
    print_preview(ctx, &p)?;
    Ok(ExitCode::SUCCESS)
}

fn launch(ctx: &Ctx, args: LaunchArgs) -> Result<ExitCode> {
    let policy = load_review_policy(ctx)?;
    let store = ctx.open()?;
    let who = acting(&store, ctx, &args.acting)?;
    let l = campaigns::launch(
        &store,
        &policy,
        &who,
        ctx.now,
        args.id,
        &exclusions(&args.exclude)?,
    )?;
    ctx.seal(&store)?;
    println!(
        "launched {} (event {}): {} items frozen at ledger size {}, due {}",
        args.id,
        l.seq,
        l.preview.items,
        l.ledger_size,
        when(l.due)
    );
    print_preview(ctx, &l.preview)?;
    Ok(ExitCode::SUCCESS)
}

fn list(ctx: &Ctx) -> Result<ExitCode> {
    let store = ctx.open()?;
    let (rows, at) = answered(&store, |r| r.campaigns())?;
    let about = at.about(
        ctx,
        &store,
        "which access review campaigns exist".into(),
        rows.len(),
    );
    print_answer(
        ctx.format,
        &about,
        &[
            "id", "name", "kind", "state", "owner", "items", "decided", "launched", "due", "closed",
        ],
        &rows,
        |c| {
            vec![
                c.id.to_string(),
                c.created.name.clone(),
                c.created.kind.to_string(),
                c.state.to_string(),
                c.created.owner.to_string(),
                c.items.to_string(),
                c.decided.to_string(),
                opt_when(c.launched_at),
                opt_when(c.due),
                opt_when(c.closed_at),
            ]
        },
        "no campaign yet: `gatehouse campaign due` shows what the policy says is due",
    )?;
    Ok(ExitCode::SUCCESS)
}

fn summary(c: &CampaignRow) {
    println!(
        "{} {} — {} review, {}",
        c.id, c.created.name, c.created.kind, c.state
    );
    println!(
        "  systems: {}{}",
        c.created
            .systems
            .iter()
            .map(SystemKey::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        if c.created.privileged_only {
            " (privileged grants only)"
        } else {
            ""
        }
    );
    if let Some(s) = &c.created.scope {
        println!("  scope: {s} (review policy {})", &c.created.policy[..12]);
    }
    let r = &c.created.rules;
    println!(
        "  owner: {}; reviewers: {}; due {} days after launch; deadline default: {} after {} more days",
        c.created.owner,
        r.stages
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" then "),
        r.due_days,
        r.deadline_default,
        r.deadline_days
    );
    if let Some(i) = &c.created.instructions {
        println!("  instructions: {i}");
    }
    if let Some(t) = &c.created.trigger {
        println!("  opened by finding {t}");
    }
    if let Some(l) = &c.launch {
        println!(
            "  launched {} by {}: {} items, population SHA-256 {} (ledger size {})",
            opt_when(c.launched_at),
            l.launched_by
                .as_ref()
                .map_or_else(|| "the review schedule".to_owned(), |k| k.to_string()),
            l.items,
            l.population_sha256,
            l.ledger_size
        );
        for s in &l.sources {
            println!(
                "    from {} (event {}, as of {}, {} file{})",
                s.source,
                s.seq,
                when(s.as_of),
                s.files.len(),
                if s.files.len() == 1 { "" } else { "s" }
            );
        }
        for e in &l.exclusions {
            println!(
                "    excluded {}: {} grants ({})",
                e.subject, e.grants, e.reason
            );
        }
        if let Some(since) = l.since {
            println!("    delta since {since}");
        }
    }
    println!(
        "  progress: {} of {} decided; due {}",
        c.decided,
        c.items,
        opt_when(c.due)
    );
    if let Some(s) = &c.closing {
        println!(
            "  signed off {} by {}: \"{}\"{}",
            opt_when(c.closed_at),
            s.signed_off_by,
            s.statement,
            s.forced
                .as_ref()
                .map(|f| format!(" — forced: {f} ({} items defaulted)", s.defaulted))
                .unwrap_or_default()
        );
    }
    if let Some(i) = &c.imported {
        println!(
            "  imported from {} (SHA-256 {}, {} rows)",
            i.file.name, i.file.sha256, i.file.rows
        );
    }
}

const ITEM_HEADERS: &[&str] = &[
    "item",
    "system",
    "account",
    "entitlement",
    "holder",
    "name",
    "reviewer",
    "stage",
    "recommend",
    "reason",
    "decision",
    "by",
    "comment",
];

fn item_cells(i: &ItemRow) -> Vec<String> {
    let d = i.decision.as_ref();
    vec![
        i.reference().to_string(),
        i.item.system.to_string(),
        i.item
            .account
            .clone()
            .or_else(|| i.item.role.as_ref().map(|r| format!("role:{r}")))
            .unwrap_or_default(),
        i.item.entitlement.clone(),
        i.item
            .identity
            .as_ref()
            .map(|k| k.to_string())
            .unwrap_or_default(),
        opt(i.item.context.name.as_deref()),
        i.reviewer.to_string(),
        format!("{}/{}", i.stage, i.item.reviewers.len()),
        i.item.recommendation.to_string(),
        i.item.reason.clone(),
        d.map(|d| match d.until {
            Some(u) => format!("{} {}", d.verdict, when(u)),
            None => d.verdict.to_string(),
        })
        .unwrap_or_else(|| "open".into()),
        d.and_then(|d| d.by.as_ref().map(|b| b.to_string()))
            .unwrap_or_default(),
        d.and_then(|d| d.comment.clone()).unwrap_or_default(),
    ]
}

fn show(ctx: &Ctx, args: ShowArgs) -> Result<ExitCode> {
    let store = ctx.open()?;
    if let Some(n) = args.item {
        let c = store.read(|r| r.campaign(args.id))?;
        return show_item(ctx, &store, &c, n);
    }
    let reviewer = args
        .reviewer
        .as_deref()
        .map(|p| person(&store, ctx, p))
        .transpose()?;
    let question = format!(
        "what was decided in campaign {}{}{}",
        args.id,
        reviewer
            .as_ref()
            .map(|r| format!(", items {r} reviews"))
            .unwrap_or_default(),
        if args.open { ", open items" } else { "" }
    );
    let ((c, items), at) = answered(&store, |r| {
        Ok((
            r.campaign(args.id)?,
            r.review_items(
                args.id,
                &ItemFilter {
                    reviewer,
                    open: args.open.then_some(true),
                    ..ItemFilter::default()
                },
            )?,
        ))
    })?;
    let about = at.about(ctx, &store, question, items.len());
    if ctx.format == Format::Json {
        let json = serde_json::json!({ "about": about, "campaign": c, "items": items });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    if ctx.format == Format::Table {
        summary(&c);
        println!();
    }
    print_answer(
        ctx.format,
        &about,
        ITEM_HEADERS,
        &items,
        item_cells,
        "no item",
    )?;
    Ok(ExitCode::SUCCESS)
}

fn show_item(ctx: &Ctx, store: &Store, c: &CampaignRow, n: u32) -> Result<ExitCode> {
    let at = ItemRef {
        campaign: c.id,
        item: n,
    };
    let (item, stages, moves) = store.read(|r| {
        let item = r.review_item(at)?;
        let stages: Vec<_> = r
            .stage_decisions(c.id)?
            .into_iter()
            .filter(|d| d.item == at)
            .collect();
        let moves: Vec<_> = r
            .reassignments(c.id)?
            .into_iter()
            .filter(|m| m.items.contains(&n))
            .collect();
        Ok::<_, gatehouse_store::StoreError>((item, stages, moves))
    })?;
    if ctx.format == Format::Json {
        let json = serde_json::json!({ "item": item, "decisions": stages, "reassignments": moves });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    let i = &item.item;
    let x = &i.context;
    println!("{at}: {}", describe(&item));
    if let Some(instructions) = &c.created.instructions {
        println!("  instructions: {instructions}");
    }
    let facts: Vec<(&str, String)> = vec![
        (
            "holder",
            match (&i.identity, &x.name) {
                (Some(k), Some(name)) => format!("{name} ({k})"),
                (Some(k), None) => k.to_string(),
                _ => String::new(),
            },
        ),
        (
            "manager",
            x.manager
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default(),
        ),
        ("department", opt(x.department.as_deref())),
        ("title", opt(x.title.as_deref())),
        ("status", opt(x.status.as_deref())),
        ("entitlement", opt(x.entitlement_name.as_deref())),
        ("meaning", opt(x.meaning.as_deref())),
        (
            "privileged",
            if x.privileged {
                "yes".into()
            } else {
                String::new()
            },
        ),
        ("risk", x.risk.map(|r| r.to_string()).unwrap_or_default()),
        ("last login", opt_when(x.last_login)),
        ("granted by", opt(x.source.as_deref())),
        ("warrant", opt(x.warrant.as_deref())),
        ("since", opt_when(x.since)),
        ("open findings", x.findings.join(", ")),
        (
            "peers holding it",
            x.peers.map(|p| format!("{p}%")).unwrap_or_default(),
        ),
        ("segregation of duties", opt(x.sod.as_deref())),
        ("purpose", opt(x.purpose.as_deref())),
        ("last rotated", opt_when(x.rotated)),
    ];
    for (k, v) in facts.into_iter().filter(|(_, v)| !v.is_empty()) {
        println!("  {k}: {v}");
    }
    println!("  recommendation: {} — {}", i.recommendation, i.reason);
    println!(
        "  reviewers: {} (now {}, stage {} of {})",
        i.reviewers
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" then "),
        item.reviewer,
        item.stage,
        i.reviewers.len()
    );
    if let Some(a) = &i.assignment {
        println!("  assignment: {a}");
    }
    for d in &stages {
        println!(
            "  stage {}: {}{} by {} on {} ({}){}",
            d.stage,
            d.verdict,
            d.until.map(|u| format!(" {}", when(u))).unwrap_or_default(),
            d.by.as_ref()
                .map(|b| b.to_string())
                .unwrap_or_else(|| "the deadline".into()),
            when(d.at),
            d.origin,
            d.comment
                .as_ref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        );
    }
    for m in &moves {
        println!(
            "  {} from {} to {} on {}: {}",
            m.how,
            m.from,
            m.to,
            when(m.at),
            m.reason
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// "erp:u1 holds erp:role/AP_Approver (AP Approver)".
fn describe(item: &ItemRow) -> String {
    let i = &item.item;
    let ent = match &i.context.entitlement_name {
        Some(n) => format!("{}:{} ({n})", i.system, i.entitlement),
        None => format!("{}:{}", i.system, i.entitlement),
    };
    match (&i.account, &i.role) {
        (Some(a), _) => format!("{}:{a} holds {ent}", i.system),
        (None, Some(r)) => format!("role `{r}` bundles {ent}"),
        (None, None) => ent,
    }
}

fn decide(ctx: &Ctx, args: DecideArgs) -> Result<ExitCode> {
    let store = ctx.open()?;
    let who = acting(&store, ctx, &args.acting)?;
    let verdict = match (
        args.keep,
        args.revoke,
        &args.keep_until,
        args.accept_recommendations,
    ) {
        (true, _, _, _) => Some(Verdict::Keep),
        (_, true, _, _) => Some(Verdict::Revoke),
        (_, _, Some(_), _) => Some(Verdict::KeepUntil),
        (_, _, _, true) => None,
        _ => bail!(
            "say what to decide: --keep, --revoke, --keep-until DATE or --accept-recommendations"
        ),
    };
    let until = args
        .keep_until
        .as_deref()
        .map(parse_point_in_time)
        .transpose()?;
    let bulk = args.all
        || args.system.is_some()
        || args.entitlement.is_some()
        || args.recommended.is_some()
        || args.accept_recommendations;
    if !bulk && args.items.is_empty() {
        bail!("name the items to decide, or decide every open item of yours with --all");
    }
    let report = if bulk {
        campaigns::decide_bulk(
            &store,
            &who,
            ctx.now,
            args.id,
            &BulkSelection {
                items: args.items,
                system: args.system,
                entitlement: args.entitlement,
                recommendation: args.recommended,
            },
            &BulkDecision {
                verdict,
                until,
                comment: args.comment,
            },
        )?
    } else {
        let verdict = verdict.unwrap_or(Verdict::Keep);
        campaigns::decide(
            &store,
            &who,
            ctx.now,
            args.id,
            args.items
                .iter()
                .map(|n| DecisionInput {
                    item: *n,
                    verdict,
                    until,
                    comment: args.comment.clone(),
                })
                .collect(),
        )?
    };
    ctx.seal(&store)?;
    if ctx.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let verdicts: Vec<String> = report
        .verdicts
        .iter()
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    println!(
        "recorded: {} decided{}, {} passed to their next stage",
        report.decided,
        if verdicts.is_empty() {
            String::new()
        } else {
            format!(" ({})", verdicts.join(", "))
        },
        report.advanced
    );
    if !report.tasks.is_empty() {
        println!(
            "remediation tasks opened: {} (see `gatehouse remediation list`)",
            report
                .tasks
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn delegate(ctx: &Ctx, args: DelegateArgs) -> Result<ExitCode> {
    let store = ctx.open()?;
    let who = acting(&store, ctx, &args.acting)?;
    let to = person(&store, ctx, &args.to)?;
    let moved = match &args.from {
        Some(from) => {
            let from = person(&store, ctx, from)?;
            let policy = load_review_policy(ctx)?;
            campaigns::reassign(
                &store,
                &policy,
                &who,
                ctx.now,
                args.id,
                &args.items,
                Some(&from),
                &to,
                &args.reason,
            )?
        }
        None => campaigns::delegate(
            &store,
            &who,
            ctx.now,
            args.id,
            &args.items,
            &to,
            &args.reason,
        )?,
    };
    ctx.seal(&store)?;
    println!(
        "{moved} item{} now reviewed by {to}",
        if moved == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

fn tick(ctx: &Ctx, args: TickArgs) -> Result<ExitCode> {
    let policy = load_review_policy(ctx)?;
    let store = ctx.open()?;
    let who = Acting::system(ctx.actor.clone());
    let report = campaigns::tick(&store, &policy, &who, ctx.now)?;
    let sent = if args.no_notify {
        None
    } else {
        crate::commands::notify::dispatch(ctx, &store)?
    };
    ctx.seal(&store)?;
    if ctx.format == Format::Json {
        let json = serde_json::json!({ "tick": report, "notifications": sent });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    for t in &report.campaigns {
        let id = t.id.map(|i| i.to_string()).unwrap_or_default();
        if !t.reminded.is_empty() {
            println!(
                "{id}: reminded {}",
                t.reminded
                    .iter()
                    .map(|(k, n)| format!("{k} ({n} open)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if t.replaced > 0 {
            println!(
                "{id}: {} items of reviewers who left given to the escalation path",
                t.replaced
            );
        }
        if t.escalated > 0 {
            println!("{id}: {} overdue items escalated", t.escalated);
        }
        if !t.stranded.is_empty() {
            println!(
                "{id}: nobody on the escalation path can take {} (their reviewer left; the \
                 others would review their own access): name someone with `gatehouse campaign \
                 delegate {id} <item> --from <reviewer> --to <person>`",
                t.stranded
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if t.defaulted > 0 {
            println!(
                "{id}: deadline passed: {} undecided items got the default; {} remediation tasks opened",
                t.defaulted,
                t.tasks.len()
            );
        }
    }
    for v in &report.remediation.verified {
        println!("remediation {v} verified by an import");
    }
    for (v, why) in &report.remediation.reopened {
        println!("remediation {v} reopened: {why}");
    }
    for (id, finding) in &report.opened {
        println!("opened event-driven review {id} for finding {finding}");
    }
    for (id, scope) in &report.launched {
        println!("launched {id}: the `{scope}` scope was due and launches by itself");
    }
    for (scope, why) in &report.not_launched {
        println!("the `{scope}` scope is due but could not be launched: {why}");
    }
    if let Some(n) = &sent {
        println!("{n}");
    }
    if report.campaigns.is_empty()
        && report.remediation.verified.is_empty()
        && report.remediation.reopened.is_empty()
        && report.opened.is_empty()
        && report.launched.is_empty()
        && report.not_launched.is_empty()
    {
        println!("nothing was due");
    }
    Ok(ExitCode::SUCCESS)
}

fn close(ctx: &Ctx, args: CloseArgs) -> Result<ExitCode> {
    let store = ctx.open()?;
    let who = acting(&store, ctx, &args.acting)?;
    let force = if args.force {
        args.reason.as_deref()
    } else {
        None
    };
    let r = campaigns::close(&store, &who, ctx.now, args.id, &args.statement, force)?;
    ctx.seal(&store)?;
    println!(
        "closed and signed off {} (event {}): {}{}",
        args.id,
        r.seq,
        r.verdicts
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        if r.defaulted > 0 {
            format!(
                "; {} undecided items got the deadline default, {} remediation tasks opened",
                r.defaulted,
                r.tasks.len()
            )
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `gatehouse review …`.
pub fn review(ctx: &Ctx, cmd: ReviewCommand) -> Result<ExitCode> {
    match cmd {
        ReviewCommand::Inbox { reviewer } => {
            let store = ctx.open()?;
            let who = person(&store, ctx, &reviewer)?;
            let (items, at) = answered(&store, |r| r.inbox(&who))?;
            let about = at.about(
                ctx,
                &store,
                format!("which review items wait for {who}"),
                items.len(),
            );
            let mut headers = vec!["due"];
            headers.extend_from_slice(ITEM_HEADERS);
            print_answer(
                ctx.format,
                &about,
                &headers,
                &items,
                |(due, i)| {
                    let mut row = vec![opt_when(*due)];
                    row.extend(item_cells(i));
                    row
                },
                &format!("{who} has no open review item"),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `gatehouse remediation …`.
pub fn remediation(ctx: &Ctx, cmd: RemediationCommand) -> Result<ExitCode> {
    match cmd {
        RemediationCommand::List {
            status,
            campaign,
            assignee,
        } => {
            let store = ctx.open()?;
            let assignee = assignee
                .as_deref()
                .map(|p| person(&store, ctx, p))
                .transpose()?;
            let question = format!(
                "where remediation of revoked access stands{}{}{}",
                status.map(|s| format!(", tasks {s}")).unwrap_or_default(),
                campaign
                    .map(|c| format!(", campaign {c}"))
                    .unwrap_or_default(),
                assignee
                    .as_ref()
                    .map(|a| format!(", assigned to {a}"))
                    .unwrap_or_default()
            );
            let (tasks, at) = answered(&store, |r| {
                r.remediation_tasks(&TaskFilter {
                    status: status.into_iter().collect(),
                    campaign,
                    assignee,
                })
            })?;
            let about = at.about(ctx, &store, question, tasks.len());
            print_answer(
                ctx.format,
                &about,
                &[
                    "task",
                    "status",
                    "system",
                    "account",
                    "entitlement",
                    "holder",
                    "assignee",
                    "due",
                    "paths",
                    "note",
                    "verified",
                    "reopened",
                ],
                &tasks,
                task_cells,
                "no remediation task",
            )?;
        }
        RemediationCommand::Done {
            task,
            note,
            acting: a,
        } => {
            let policy = load_review_policy(ctx)?;
            let store = ctx.open()?;
            let who = acting(&store, ctx, &a)?;
            let seq = campaigns::mark_done(&store, &policy, &who, ctx.now, task, &note)?;
            ctx.seal(&store)?;
            println!(
                "task {task} marked done (event {seq}); the next import of its system verifies it"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn task_cells(t: &TaskRow) -> Vec<String> {
    vec![
        t.task.item.to_string(),
        t.status.to_string(),
        t.task.system.to_string(),
        t.task
            .account
            .clone()
            .or_else(|| t.task.role.as_ref().map(|r| format!("role:{r}")))
            .unwrap_or_default(),
        t.task.entitlement.clone(),
        t.task
            .identity
            .as_ref()
            .map(|k| k.to_string())
            .unwrap_or_default(),
        t.task
            .assignee
            .as_ref()
            .map(|k| k.to_string())
            .unwrap_or_default(),
        when(t.task.due),
        t.task
            .paths
            .iter()
            .map(|p| {
                if p.also_removes.is_empty() {
                    format!("{}: {}", p.kind, p.via)
                } else {
                    format!(
                        "{}: {} (also removes {})",
                        p.kind,
                        p.via,
                        p.also_removes
                            .iter()
                            .map(|e| e.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        opt(t.note.as_deref()),
        t.verified_at
            .map(|v| {
                format!(
                    "{} (import {})",
                    when(v),
                    t.verified_import.unwrap_or_default()
                )
            })
            .unwrap_or_default(),
        t.reopen_reason.clone().unwrap_or_default(),
    ]
}

/// Runs `gatehouse import decisions <file>`.
pub fn import_decisions(ctx: &Ctx, file: &Path, args: &ActingArgs) -> Result<ExitCode> {
    let policy = load_review_policy(ctx)?;
    let store = ctx.open()?;
    let who = acting(&store, ctx, args)?;
    let r = campaigns::import_decisions(&store, &policy, &who, ctx.now, file)?;
    ctx.seal(&store)?;
    println!(
        "imported {} decision{} from {} as {} ({}); {} remediation task{} opened",
        r.decisions,
        if r.decisions == 1 { "" } else { "s" },
        file.display(),
        r.id,
        r.verdicts
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.tasks,
        if r.tasks == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// After an import: compares remediation with what the import showed.
pub fn after_import(ctx: &Ctx, store: &Store) -> Result<()> {
    let r = campaigns::verify_remediation(store, &Acting::system(ctx.actor.clone()), ctx.now)?;
    for v in &r.verified {
        println!("  remediation {v} verified: the grant is gone");
    }
    for (v, why) in &r.reopened {
        println!("  remediation {v} reopened: {why}");
    }
    Ok(())
}

/// Where a report goes by default: `C-0007-report.xlsx`.
pub fn default_out(id: CampaignId, ext: &str) -> PathBuf {
    PathBuf::from(format!("{id}-report.{ext}"))
}
