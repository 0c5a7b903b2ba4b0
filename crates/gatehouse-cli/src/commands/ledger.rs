//! `gatehouse ledger …`: verify, export, prove, show, checkpoint.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gatehouse_ledger::bundle::{BundleKey, verify_bundle_with};
use gatehouse_ledger::{
    NoteVerifier, WitnessPolicy, WitnessVerifier, format_timestamp, hash_to_hex, leaf_hash,
};
use gatehouse_model::{ErrorCode, parse_point_in_time};
use gatehouse_store::{EventFilter, VerifyError, VerifyOptions, VerifyReport, WitnessChecks};
use gatehouse_witness::WitnessClient;
use gatehouse_workflow::{WitnessView, ask_witnesses};
use serde::Serialize;

use crate::context::Ctx;
use crate::errors::Coded;
use crate::output::{Format, print_listing, when};

/// `gatehouse ledger …`.
#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Check the whole ledger: events, tree, checkpoints, and that the state follows from the
    /// events. With --bundle, check an exported bundle offline instead (no database).
    #[command(after_help = "Examples:
  gatehouse ledger verify
  gatehouse ledger verify --key auditor-copy.pub
  gatehouse ledger verify --published /srv/gatehouse-checkpoints
  gatehouse ledger verify --bundle evidence/ --key gatehouse.pub")]
    Verify(VerifyArgs),
    /// Write a self-contained evidence bundle (events, checkpoints, proofs, public key).
    #[command(after_help = "Examples:
  gatehouse ledger export --out evidence/
  gatehouse ledger export --out evidence-q3/ --from 900 --to 1042")]
    Export(ExportArgs),
    /// Print the inclusion proof of an event, or a consistency proof between two tree sizes.
    #[command(after_help = "Examples:
  gatehouse ledger prove 1042
  gatehouse ledger prove --consistency 900 1042
  gatehouse ledger prove 1042 --format json")]
    Prove(ProveArgs),
    /// List and search events.
    #[command(after_help = "Examples:
  gatehouse ledger show --kind grant. --object grant:erp
  gatehouse ledger show --actor cli:alice --since 2026-03-01
  gatehouse ledger show --from 1 --to 20 --format json")]
    Show(ShowArgs),
    /// Sign a checkpoint of the log as it is now, and have the configured witnesses cosign the
    /// latest checkpoint (those that have not yet).
    #[command(after_help = "Examples:
  gatehouse ledger checkpoint")]
    Checkpoint,
    /// List the signed checkpoints.
    #[command(after_help = "Examples:
  gatehouse ledger checkpoints
  gatehouse ledger checkpoints --format csv")]
    Checkpoints,
}

/// Arguments of `ledger verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The trusted public key: a file or the key text (`name+hash+base64`). Default: the
    /// configured public key file.
    #[arg(long)]
    pub key: Option<String>,
    /// A folder of checkpoints published earlier (files holding signed notes); each must match.
    #[arg(long, value_name = "DIR")]
    pub published: Option<PathBuf>,
    /// Skip replaying the events against the state tables (tree and signatures only).
    #[arg(long)]
    pub no_state: bool,
    /// Verify this exported bundle offline, without a database.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// A witness public key to trust: a file or the key text. Repeat for each witness.
    /// Default: the configured witnesses (`[ledger] witnesses`); for --bundle, none.
    #[arg(long = "witness-key", value_name = "VKEY")]
    pub witness_keys: Vec<String>,
    /// How many of the trusted witnesses make a checkpoint witnessed (a bundle's checkpoint
    /// must carry that many cosignatures). Default: all of the keys given, or the configured
    /// `witness_quorum`.
    #[arg(long, value_name = "N")]
    pub witness_quorum: Option<usize>,
    /// Do not ask the configured witnesses for their latest checkpoints (cosignatures on the
    /// stored checkpoints are still checked).
    #[arg(long)]
    pub offline: bool,
}

/// Arguments of `ledger export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The folder to write (must be empty or new).
    #[arg(long)]
    pub out: PathBuf,
    /// First event (default 1).
    #[arg(long)]
    pub from: Option<u64>,
    /// Last event (default: the latest signed checkpoint's size).
    #[arg(long)]
    pub to: Option<u64>,
}

/// Arguments of `ledger prove`.
#[derive(Args)]
pub struct ProveArgs {
    /// The event's sequence number.
    #[arg(required_unless_present = "consistency")]
    pub event: Option<u64>,
    /// Prove against this tree size (default: the latest checkpoint).
    #[arg(long)]
    pub size: Option<u64>,
    /// Instead, prove that the tree of OLD events is a prefix of the tree of NEW events.
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
    pub consistency: Option<Vec<u64>>,
}

/// Arguments of `ledger show`.
#[derive(Args)]
pub struct ShowArgs {
    /// Event kind (`grant.added`) or a prefix ending in `.` (`grant.`).
    #[arg(long)]
    pub kind: Option<String>,
    /// Actor (`cli:alice`).
    #[arg(long)]
    pub actor: Option<String>,
    /// Object reference or its prefix (`grant:erp`, `system:erp`, `identity`, `finding:F-…`).
    #[arg(long)]
    pub object: Option<String>,
    /// Recorded at or after (date or time).
    #[arg(long)]
    pub since: Option<String>,
    /// Recorded before (date: end of that day).
    #[arg(long)]
    pub until: Option<String>,
    /// First sequence number.
    #[arg(long)]
    pub from: Option<u64>,
    /// Last sequence number.
    #[arg(long)]
    pub to: Option<u64>,
    /// At most this many events (default 100; 0 for all).
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
}

/// The trusted log key, and where it came from (said in `ledger verify`'s output, since the
/// default, the key file beside the store, is only as trustworthy as that file).
fn load_key(ctx: &Ctx, key: Option<&str>) -> Result<(NoteVerifier, String)> {
    let (text, from) = match key {
        Some(k) if Path::new(k).exists() => (
            std::fs::read_to_string(k).with_context(|| format!("cannot read `{k}`"))?,
            format!("given with --key (`{k}`)"),
        ),
        Some(k) => (k.to_owned(), "given with --key".to_owned()),
        None => {
            let p = &ctx.config.public_key_file;
            let text = std::fs::read_to_string(p).with_context(|| {
                format!(
                    "no public key at `{}`; give the trusted key with --key",
                    p.display()
                )
            })?;
            (
                text,
                format!(
                    "read from `{}`, the configured public key file: it is kept beside the store, so whoever can rewrite the store may have replaced it; an auditor passes the key obtained from the organisation with --key",
                    p.display()
                ),
            )
        }
    };
    let key = NoteVerifier::from_vkey(text.trim())
        .context("the public key is not a valid verifier key")?;
    Ok((key, from))
}

/// The witnesses `ledger verify` trusts: the keys given with --witness-key, else the
/// configured ones; and the quorum.
fn witness_policy(ctx: &Ctx, a: &VerifyArgs, bundle: bool) -> Result<(WitnessPolicy, String)> {
    let (keys, from) = if !a.witness_keys.is_empty() {
        let keys = a
            .witness_keys
            .iter()
            .map(|k| {
                let text = if Path::new(k).is_file() {
                    std::fs::read_to_string(k).with_context(|| format!("cannot read `{k}`"))?
                } else {
                    k.clone()
                };
                WitnessVerifier::from_vkey(text.trim())
                    .with_context(|| format!("--witness-key `{k}` is not a witness public key"))
            })
            .collect::<Result<Vec<_>>>()?;
        (keys, "given with --witness-key")
    } else if bundle {
        (Vec::new(), "none given")
    } else {
        (
            ctx.config.witnesses.iter().map(|w| w.key.clone()).collect(),
            "configured",
        )
    };
    let quorum = match (a.witness_quorum, a.witness_keys.is_empty() && !bundle) {
        (Some(q), _) => q,
        (None, true) => ctx.config.witness_quorum,
        (None, false) => keys.len(),
    };
    let policy = WitnessPolicy::new(keys, quorum)
        .map_err(|e| Coded::new(ErrorCode::Config, format!("--witness-quorum: {e}")))?;
    Ok((policy, from.to_owned()))
}

fn read_published(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
        let p = e?.path();
        if p.is_file() {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read `{}`", p.display()))?;
            out.push((
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                text,
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// Runs `gatehouse ledger …`.
pub fn run(ctx: &Ctx, cmd: LedgerCommand) -> Result<ExitCode> {
    match cmd {
        LedgerCommand::Verify(a) => verify(ctx, a),
        LedgerCommand::Export(a) => export(ctx, a),
        LedgerCommand::Prove(a) => prove(ctx, a),
        LedgerCommand::Show(a) => show(ctx, a),
        LedgerCommand::Checkpoint => {
            let store = ctx.open()?;
            if ctx.signer()?.is_none() {
                bail!(
                    "no ledger key (looked for `{}`); set GATEHOUSE_LEDGER_KEY or run `gatehouse init`",
                    ctx.config.key_file.display()
                );
            }
            // Signs a checkpoint if the log grew; either way the latest one goes to every
            // witness whose cosignature it does not carry yet (one that was down catches up).
            match ctx.seal(&store)? {
                Some(sealed) => print!("{}", sealed.checkpoint.note),
                None => println!("the log is empty; nothing to sign"),
            }
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Checkpoints => {
            let store = ctx.open()?;
            let rows = store.read(|r| r.checkpoints())?;
            let witnesses: Vec<&WitnessVerifier> =
                ctx.config.witnesses.iter().map(|w| &w.key).collect();
            let cosigned = |note: &str| {
                if witnesses.is_empty() {
                    return "-".to_owned();
                }
                let n = witnesses
                    .iter()
                    .filter(|w| matches!(w.cosignature_of(note), Ok(Some(_))))
                    .count();
                format!("{n} of {}", witnesses.len())
            };
            print_listing(
                ctx.format,
                &["size", "root", "signed at", "cosigned"],
                &rows,
                |c| {
                    vec![
                        c.size.to_string(),
                        hash_to_hex(&c.root),
                        when(c.signed_at),
                        cosigned(&c.note),
                    ]
                },
                "no checkpoints yet",
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn verify(ctx: &Ctx, a: VerifyArgs) -> Result<ExitCode> {
    let (key, key_from) = load_key(ctx, a.key.as_deref())?;
    if let Some(dir) = &a.bundle {
        return verify_bundle_dir(ctx, &a, dir, &key);
    }
    let (policy, policy_from) = witness_policy(ctx, &a, false)?;
    // The witnesses are asked first, and the store read after: a witness never holds a
    // checkpoint the store signed later than the snapshot verified.
    let clients: Vec<_> = if a.offline {
        Vec::new()
    } else {
        ctx.witnesses()?
            .clients()
            .iter()
            .filter(|c| policy.witnesses().contains(c.witness()))
            .cloned()
            .collect()
    };
    let views = ask_witnesses(&clients, &key);
    let held = clients
        .iter()
        .zip(&views)
        .filter_map(|(c, v)| match v {
            WitnessView::Holds { checkpoint, .. } => {
                Some((c.witness().label(), checkpoint.clone()))
            }
            _ => None,
        })
        .collect();
    let published = match &a.published {
        Some(d) => read_published(d)?,
        None => Vec::new(),
    };
    let store = ctx.open()?;
    let checks = WitnessChecks {
        policy: policy.clone(),
        held,
    };
    // One read transaction: the log, the tree, the checkpoints and the state are checked as
    // they were at one moment, however much is recorded meanwhile.
    let result = store.read(|r| {
        r.verify_ledger_with(
            &VerifyOptions {
                key: &key,
                published,
                state: !a.no_state,
            },
            &checks,
        )
    });
    let r = match result {
        Ok(r) => r,
        Err(VerifyError::Tampered(m)) => {
            eprintln!("ledger verification FAILED: {m}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    // A witness showing a checkpoint of this origin that the trusted key did not sign: the key
    // is not the one the witness knows for this log.
    for (c, v) in clients.iter().zip(&views) {
        if let WitnessView::NotSignedByLog(e) = v {
            eprintln!(
                "ledger verification FAILED: witness `{}` ({}) holds a checkpoint of `{}` that the trusted key `{}` did not sign ({e}): the key trusted here is not the log's key the witness knows (a key file beside the store may have been replaced), or the witness is configured with another key for this log",
                c.witness().label(),
                c.url(),
                key.name(),
                key.label()
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    print_verified(&r, &key, &key_from, &policy, &policy_from, &clients, &views);
    if !policy.witnesses().is_empty() && clients.is_empty() {
        println!(
            "  note: no witness was asked for the latest checkpoint it holds ({}), so a rollback since the last cosignature is not ruled out",
            if a.offline {
                "--offline"
            } else {
                "none of the trusted witnesses is configured with a URL in `[ledger] witnesses`"
            }
        );
    }
    if !clients.is_empty()
        && views
            .iter()
            .all(|v| matches!(v, WitnessView::Unavailable(_)))
    {
        return Err(Coded::new(
            ErrorCode::WitnessesUnreachable,
            format!(
                "the store verified, but none of the {} witnesses could be asked for the latest checkpoint it holds, so a rollback of the log (events removed with their checkpoints, even re-signed with the genuine key) cannot be ruled out",
                clients.len()
            ),
        )
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_verified(
    r: &VerifyReport,
    key: &NoteVerifier,
    key_from: &str,
    policy: &WitnessPolicy,
    policy_from: &str,
    clients: &[WitnessClient],
    views: &[WitnessView],
) {
    println!(
        "ledger OK: {} events, root {}\n  key {} {key_from}\n  tree rebuilt from {:.1} MiB of events in {:.2} s; {} stored and {} published checkpoint(s) verified with {}",
        r.events,
        hash_to_hex(&r.root),
        key.label(),
        r.bytes as f64 / 1048576.0,
        r.tree_seconds,
        r.checkpoints,
        r.published,
        key.label()
    );
    if !policy.witnesses().is_empty() {
        let names: Vec<String> = policy
            .witnesses()
            .iter()
            .map(|w| format!("`{}`", w.label()))
            .collect();
        println!(
            "  witnesses ({policy_from}): {} trusted, quorum {}; {} cosignature(s) on stored checkpoints verified; the latest checkpoint is cosigned by {} of {}",
            names.join(", "),
            policy.quorum(),
            r.cosignatures,
            r.latest_cosigned.len(),
            policy.witnesses().len()
        );
    }
    for (c, v) in clients.iter().zip(views) {
        let who = format!("witness `{}` ({})", c.witness().label(), c.url());
        match v {
            WitnessView::Holds {
                checkpoint,
                cosigned_at,
            } => println!(
                "  {who} holds the checkpoint of size {} (cosigned {}): the log extends it",
                checkpoint.size,
                format_timestamp(*cosigned_at)
            ),
            WitnessView::Nothing => println!("  {who} holds no checkpoint of this log"),
            WitnessView::Unavailable(e) => println!(
                "  warning: {who} could not be asked ({e}): a rollback after the checkpoint it holds is not ruled out by it"
            ),
            WitnessView::NotSignedByLog(_) => {}
        }
    }
    if r.state_checked {
        println!(
            "  state tables match a replay of every event ({:.2} s)",
            r.state_seconds
        );
    } else {
        println!("  state tables not compared (--no-state)");
    }
    if r.signed_size < r.events {
        println!(
            "  note: events {}–{} are not yet covered by a signed checkpoint (`gatehouse ledger checkpoint`)",
            r.signed_size + 1,
            r.events
        );
    }
    if let Some(w) = r.witnessed_size
        && w < r.signed_size.min(r.events)
    {
        let what = if w == 0 {
            "no checkpoint is witnessed yet".to_owned()
        } else {
            format!("checkpoints after size {w} are not yet witnessed")
        };
        println!(
            "  note: {what} (cosigned by fewer than {} trusted witnesses); `gatehouse ledger checkpoint` sends the latest to the witnesses again",
            policy.quorum().max(1)
        );
    }
}

fn verify_bundle_dir(
    ctx: &Ctx,
    a: &VerifyArgs,
    dir: &Path,
    key: &NoteVerifier,
) -> Result<ExitCode> {
    let (policy, _) = witness_policy(ctx, a, true)?;
    let started = std::time::Instant::now();
    match verify_bundle_with(dir, key, &policy) {
        Ok(r) => {
            println!(
                "bundle OK: events {}–{} of `{}`, tree size {}, root {}\n  checkpoint signed by {}; {} older checkpoint(s) and {} consistency proof(s) verified; {} events checked in {:.2} s",
                r.from,
                r.to,
                r.origin,
                r.tree_size,
                hash_to_hex(&r.root),
                r.key,
                r.older_checkpoints.len(),
                r.consistency_proofs,
                r.events_checked,
                started.elapsed().as_secs_f64()
            );
            if !policy.witnesses().is_empty() {
                let cosigned: Vec<String> = r
                    .cosigned
                    .iter()
                    .map(|c| format!("`{}` at {}", c.witness, format_timestamp(c.timestamp)))
                    .collect();
                println!(
                    "  witnesses: {} of {} trusted cosigned (quorum {}): {}",
                    r.cosigned.len(),
                    policy.witnesses().len(),
                    r.witness_quorum,
                    cosigned.join("; ")
                );
            }
            if let BundleKey::Differs(k) = r.bundle_key {
                println!("  note: the bundle's key.pub holds another key ({k}); it was not used");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("bundle verification FAILED: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn export(ctx: &Ctx, a: ExportArgs) -> Result<ExitCode> {
    let store = ctx.open()?;
    ctx.seal(&store)?;
    let key = match ctx.signer()? {
        Some(s) => s.verifier(),
        None => load_key(ctx, None)?.0,
    };
    let witnesses: Vec<WitnessVerifier> =
        ctx.config.witnesses.iter().map(|w| w.key.clone()).collect();
    let m = store.read(|r| {
        let latest = r.latest_checkpoint()?.context(
            "there is no signed checkpoint yet; sign one with `gatehouse ledger checkpoint`",
        )?;
        let from = a.from.unwrap_or(1);
        let to = a.to.unwrap_or(latest.size);
        Ok::<_, anyhow::Error>(r.export_bundle_with(&a.out, from, to, &key, &witnesses)?)
    })?;
    let mut check = format!(
        "gatehouse-verify --bundle {} --key '{}'",
        a.out.display(),
        key.vkey()
    );
    for w in &witnesses {
        check.push_str(&format!(" --witness-key '{w}'"));
    }
    if !witnesses.is_empty() && ctx.config.witness_quorum != witnesses.len() {
        check.push_str(&format!(" --witness-quorum {}", ctx.config.witness_quorum));
    }
    println!(
        "wrote {}: events {}–{} of `{}`, proven against the checkpoint of size {}\n  check it offline: {check}",
        a.out.display(),
        m.from,
        m.to,
        m.origin,
        m.tree_size,
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct InclusionOut {
    event: u64,
    leaf: String,
    tree_size: u64,
    root: String,
    proof: Vec<String>,
    checkpoint: Option<String>,
}

#[derive(Serialize)]
struct ConsistencyOut {
    old_size: u64,
    new_size: u64,
    old_root: String,
    new_root: String,
    proof: Vec<String>,
}

fn prove(ctx: &Ctx, a: ProveArgs) -> Result<ExitCode> {
    let store = ctx.open()?;
    if let Some(c) = a.consistency {
        let (old, new) = (c[0], c[1]);
        let out = store.read(|r| {
            let proof = r.prove_consistency(old, new)?;
            Ok::<_, anyhow::Error>(ConsistencyOut {
                old_size: old,
                new_size: new,
                old_root: hash_to_hex(&r.tree_root(old)?),
                new_root: hash_to_hex(&r.tree_root(new)?),
                proof: proof.hashes.iter().map(hash_to_hex).collect(),
            })
        })?;
        if ctx.format == Format::Json {
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            println!(
                "consistency {old} → {new}\nold root {}\nnew root {}",
                out.old_root, out.new_root
            );
            for h in &out.proof {
                println!("  {h}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let seq = a.event.context("give an event number")?;
    let (out, body, sizes) = store.read(|r| {
        let checkpoints = r.checkpoints()?;
        let size = match (a.size, checkpoints.last()) {
            (Some(s), _) => s,
            (None, Some(c)) => c.size,
            (None, None) => r.size(),
        };
        let proof = r.prove_inclusion(seq, size)?;
        let body = r.event_body(seq)?;
        let root = r.tree_root(size)?;
        let leaf = leaf_hash(&body);
        proof.verify(&leaf, &root)?;
        let sizes: Vec<u64> = checkpoints.iter().map(|c| c.size).collect();
        Ok::<_, anyhow::Error>((
            InclusionOut {
                event: seq,
                leaf: hash_to_hex(&leaf),
                tree_size: size,
                root: hash_to_hex(&root),
                proof: proof.hashes.iter().map(hash_to_hex).collect(),
                checkpoint: checkpoints
                    .into_iter()
                    .find(|c| c.size == size)
                    .map(|c| c.note),
            },
            body,
            sizes,
        ))
    })?;
    let size = out.tree_size;
    if ctx.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("event {seq}: {}", String::from_utf8_lossy(&body));
        println!("leaf  {} (SHA-256 of 0x00 ‖ the line above)", out.leaf);
        println!("tree  size {size}, root {}", out.root);
        println!("proof (leaf index {}, RFC 9162 §2.1.3):", seq - 1);
        for h in &out.proof {
            println!("  {h}");
        }
        match &out.checkpoint {
            Some(note) => println!("signed checkpoint:\n{note}"),
            None => {
                let at_or_after: Vec<String> = sizes
                    .iter()
                    .filter(|s| **s >= seq)
                    .map(u64::to_string)
                    .collect();
                if at_or_after.is_empty() {
                    println!(
                        "no signed checkpoint covers event {seq} yet; sign one with `gatehouse ledger checkpoint`"
                    );
                } else {
                    println!(
                        "no signed checkpoint has size {size}; checkpoints that cover event {seq} have sizes {} (prove against one with --size)",
                        at_or_after.join(", ")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ShownEvent {
    seq: u64,
    recorded_at: gatehouse_model::Timestamp,
    actor: String,
    kind: String,
    object: String,
    event: serde_json::Value,
}

fn show(ctx: &Ctx, a: ShowArgs) -> Result<ExitCode> {
    let store = ctx.open()?;
    let since = a
        .since
        .as_deref()
        .map(gatehouse_model::parse_timestamp)
        .transpose()?;
    let until = a.until.as_deref().map(parse_point_in_time).transpose()?;
    let rows = store.read(|r| {
        r.events(&EventFilter {
            kind: a.kind,
            actor: a.actor,
            object: a.object,
            since,
            until,
            from_seq: a.from,
            to_seq: a.to,
            limit: (a.limit > 0).then_some(a.limit),
        })
    })?;
    let shown: Vec<ShownEvent> = rows
        .into_iter()
        .map(|r| {
            let event = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
            ShownEvent {
                seq: r.seq,
                recorded_at: r.recorded_at,
                actor: r.actor,
                kind: r.kind,
                object: r.object,
                event,
            }
        })
        .collect();
    print_listing(
        ctx.format,
        &["seq", "recorded", "actor", "kind", "object", "as of"],
        &shown,
        |e| {
            let as_of = e.event["data"]["as_of"]
                .as_str()
                .and_then(|t| t.parse::<gatehouse_model::Timestamp>().ok())
                .map(when)
                .unwrap_or_default();
            vec![
                e.seq.to_string(),
                when(e.recorded_at),
                e.actor.clone(),
                e.kind.clone(),
                e.object.clone(),
                as_of,
            ]
        },
        "no events match",
    )?;
    Ok(ExitCode::SUCCESS)
}
