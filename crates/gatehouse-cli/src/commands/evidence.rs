//! `gatehouse campaign report`: the evidence of a campaign, a framework's control evidence
//! pack, or the history across campaigns, as CSV, XLSX, PDF or JSON (`--format`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use gatehouse_evidence::ExportFormat;
use gatehouse_model::{CampaignId, parse_point_in_time};
use gatehouse_workflow::campaigns::CampaignError;
use gatehouse_workflow::campaigns::report::{self, ControlMapping};

use crate::context::Ctx;

/// How a report is written: its own formats, not the listings'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A PDF document: title page, summary, tables, sign-off, proofs.
    Pdf,
    /// An Excel workbook, a sheet per part.
    Xlsx,
    /// CSV: a preamble of `#` lines, the rows, the proofs.
    Csv,
    /// JSON, everything.
    Json,
}

impl From<ReportFormat> for ExportFormat {
    fn from(f: ReportFormat) -> ExportFormat {
        match f {
            ReportFormat::Pdf => ExportFormat::Pdf,
            ReportFormat::Xlsx => ExportFormat::Xlsx,
            ReportFormat::Csv => ExportFormat::Csv,
            ReportFormat::Json => ExportFormat::Json,
        }
    }
}

/// Arguments of `campaign report`.
#[derive(Args)]
pub struct ReportArgs {
    /// The campaign (`C-0001`); with `--pack`, limits the pack to it.
    pub id: Option<CampaignId>,
    /// A control evidence pack for a framework of the control mapping: `sox`, `iso27001`,
    /// `soc2`, `nist-csf`, `owasp-nhi` (or one of `policy/controls.toml`).
    #[arg(long, value_name = "FRAMEWORK", conflicts_with = "history")]
    pub pack: Option<String>,
    /// The history across campaigns: revocation rates, recurring findings, overdue
    /// reviewers.
    #[arg(long)]
    pub history: bool,
    /// With `--pack`: campaigns launched from this date (default: a year before now).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// With `--pack`: campaigns launched up to this date (default: now).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// With `--pack`: the seed samples are drawn with (recorded in the pack; default the date
    /// and time of the command). The same seed draws the same samples.
    #[arg(long)]
    pub seed: Option<String>,
    /// Where to write it (default `C-0001-report.<format>`, `<framework>-pack.<format>`,
    /// `review-history.<format>`).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How the report is written: a file to take away, in a format of its own (not the
    /// listings' table, md or html).
    #[arg(
        long,
        short = 'f',
        value_name = "FORMAT",
        default_value = "pdf",
        help_heading = crate::GLOBAL_OPTIONS
    )]
    pub format: ReportFormat,
}

/// The control mapping: the built-in one, with `policy/controls.toml` laid over it.
fn mapping(ctx: &Ctx) -> Result<ControlMapping> {
    let base = ControlMapping::from_toml(report::BUILT_IN_CONTROLS, "built-in controls.toml")?;
    let file = ctx.config.policy_dir.join("controls.toml");
    if !file.exists() {
        return Ok(base);
    }
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read `{}`", file.display()))?;
    Ok(base.with(ControlMapping::from_toml(
        &text,
        &file.display().to_string(),
    )?))
}

/// Runs `gatehouse campaign report`.
pub fn report(ctx: &Ctx, args: ReportArgs) -> Result<ExitCode> {
    let format = ExportFormat::from(args.format);
    // Everything that can refuse the command is checked before it signs anything: a refused
    // command writes nothing.
    let to = match &args.to {
        Some(d) => parse_point_in_time(d)?,
        None => ctx.now,
    };
    let from = match &args.from {
        Some(d) => gatehouse_model::parse_timestamp(d)?,
        None => to
            .checked_sub(jiff::SignedDuration::from_hours(24 * 365))
            .unwrap_or(to),
    };
    let mapping = match &args.pack {
        Some(framework) => {
            let m = mapping(ctx)?;
            if !m.frameworks().contains(&framework.as_str()) {
                return Err(CampaignError::Policy(format!(
                    "the control mapping has no framework `{framework}`; it has: {}",
                    m.frameworks().join(", ")
                ))
                .into());
            }
            Some(m)
        }
        None => None,
    };
    let store = ctx.open()?;
    match args.id {
        Some(id) => {
            let c = store.read(|r| r.campaign(id))?;
            if c.state == gatehouse_model::CampaignState::Draft && args.pack.is_none() {
                return Err(CampaignError::State(format!(
                    "campaign {id} is a draft: it has no population or decisions to report"
                ))
                .into());
            }
        }
        None if args.pack.is_none() && !args.history => {
            bail!("name the campaign (`campaign report C-0001`), or ask for --pack or --history");
        }
        None => {}
    }
    // Evidence is tied to a signed checkpoint: sign one for what the log holds now.
    ctx.seal(&store)?;
    let (bytes, default, what) = if let (Some(framework), Some(mapping)) = (&args.pack, &mapping) {
        let seed = args.seed.clone().unwrap_or_else(|| ctx.now.to_string());
        let p = report::evidence_pack(
            &store,
            mapping,
            framework,
            args.id,
            (from, to),
            &seed,
            ctx.now,
        )?;
        let summary = format!(
            "{} controls over {} campaign{}, samples drawn with seed `{seed}`",
            p.controls.len(),
            p.campaigns.len(),
            if p.campaigns.len() == 1 { "" } else { "s" }
        );
        (
            gatehouse_evidence::pack(&p, format)?,
            PathBuf::from(format!("{framework}-pack.{}", format.extension())),
            summary,
        )
    } else if args.history {
        let h = report::history_report(&store, ctx.now)?;
        let summary = format!("{} system rows", h.systems.len());
        (
            gatehouse_evidence::history(&h, format)?,
            PathBuf::from(format!("review-history.{}", format.extension())),
            summary,
        )
    } else {
        let Some(id) = args.id else {
            bail!("name the campaign (`campaign report C-0001`), or ask for --pack or --history");
        };
        let r = report::campaign_report(&store, id, ctx.now)?;
        let summary = format!(
            "{} items, {} events proven against the checkpoint of {} events",
            r.items.len(),
            r.proofs.len(),
            r.checkpoint.size
        );
        (
            gatehouse_evidence::campaign(&r, format)?,
            crate::commands::campaign::default_out(id, format.extension()),
            summary,
        )
    };
    let out = args.out.unwrap_or(default);
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write `{}`", out.display()))?;
    println!("wrote {} ({} bytes): {what}", out.display(), bytes.len());
    Ok(ExitCode::SUCCESS)
}
