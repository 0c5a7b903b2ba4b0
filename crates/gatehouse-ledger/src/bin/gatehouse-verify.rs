//! `gatehouse-verify`: checks a Gatehouse ledger evidence bundle offline.
//!
//! ```text
//! gatehouse-verify --bundle DIR --key KEYFILE_OR_VKEY
//! ```
//!
//! `--key` is the log's public key (vkey) that the auditor trusts, given
//! either as the vkey string itself or as the path of a file holding it.
//! The bundle's own `key.pub` is never trusted, only compared.
//!
//! Exit status: 0 when the bundle verifies, 1 when it does not (the message
//! says what failed and where), 2 on a usage error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use gatehouse_ledger::bundle::{BundleError, BundleKey, verify_bundle};
use gatehouse_ledger::{NoteVerifier, hash_to_hex};

const USAGE: &str = "usage: gatehouse-verify --bundle DIR --key KEYFILE_OR_VKEY

Checks an evidence bundle of a Gatehouse ledger without any database or
network: the checkpoint signature (with the key you supply, never the one in
the bundle), older checkpoints and their consistency proofs, every event line
and the Merkle root rebuilt from the events.

  --bundle DIR   the bundle folder (holds manifest.json, events.jsonl, ...)
  --key KEY      the log's public key: a vkey string
                 (name+8 hex digits+base64) or a file holding one
  -h, --help     show this help

Exit status: 0 verified, 1 verification failed, 2 usage error.";

struct Args {
    bundle: PathBuf,
    key: String,
}

enum Parsed {
    Run(Args),
    Help,
}

fn parse_args(args: &[String]) -> Result<Parsed, String> {
    let mut bundle = None;
    let mut key = None;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--bundle" | "--key" => {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| format!("`{flag}` needs a value"))?
                    }
                };
                let slot = if flag == "--bundle" {
                    &mut bundle
                } else {
                    &mut key
                };
                if slot.replace(value).is_some() {
                    return Err(format!("`{flag}` is given twice"));
                }
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
        i += 1;
    }
    match (bundle, key) {
        (Some(bundle), Some(key)) => Ok(Parsed::Run(Args {
            bundle: PathBuf::from(bundle),
            key,
        })),
        (None, _) => Err("`--bundle` is required".to_string()),
        (_, None) => Err("`--key` is required".to_string()),
    }
}

/// Reads the trusted key: a file holding a vkey, or the vkey itself.
fn load_key(arg: &str) -> Result<NoteVerifier, String> {
    let path = Path::new(arg);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read key file `{arg}`: {e}"))?;
        return NoteVerifier::from_vkey(text.trim())
            .map_err(|e| format!("key file `{arg}` does not hold a usable key: {e}"));
    }
    NoteVerifier::from_vkey(arg.trim())
        .map_err(|e| format!("`--key` is neither a readable file nor a usable key: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&args) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("gatehouse-verify: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let key = match load_key(&args.key) {
        Ok(key) => key,
        Err(msg) => {
            eprintln!("gatehouse-verify: {msg}");
            return ExitCode::from(2);
        }
    };

    let started = Instant::now();
    let result = verify_bundle(&args.bundle, &key);
    let elapsed = started.elapsed().as_secs_f64();
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            eprintln!(
                "gatehouse-verify: bundle `{}` FAILED verification\n  {err}",
                args.bundle.display()
            );
            if matches!(err, BundleError::Checkpoint { .. })
                && let Ok(text) = std::fs::read_to_string(args.bundle.join("key.pub"))
                && text.trim() != key.vkey()
            {
                eprintln!(
                    "  note: the bundle's key.pub holds `{}`, not the key you supplied",
                    text.trim()
                );
            }
            return ExitCode::from(1);
        }
    };

    let bundle_key = match &report.bundle_key {
        BundleKey::Matches => "matches the supplied key".to_string(),
        BundleKey::Missing => "absent".to_string(),
        BundleKey::Differs(other) => {
            format!("DIFFERS from the supplied key (holds `{other}`; not used)")
        }
    };
    let older = if report.older_checkpoints.is_empty() {
        "none".to_string()
    } else {
        let sizes: Vec<String> = report
            .older_checkpoints
            .iter()
            .map(u64::to_string)
            .collect();
        format!(
            "{} verified (tree sizes {}), linked by {} consistency proof(s)",
            sizes.len(),
            sizes.join(", "),
            report.consistency_proofs
        )
    };
    println!("gatehouse-verify: bundle verified");
    println!("  bundle        {}", args.bundle.display());
    println!("  origin        {}", report.origin);
    println!(
        "  events        {} to {} ({} checked)",
        report.from, report.to, report.events_checked
    );
    println!("  tree size     {}", report.tree_size);
    println!("  root          {}", hash_to_hex(&report.root));
    println!(
        "  checkpoint    tree size {} signed by `{}`: verified",
        report.tree_size, report.key
    );
    println!("  older         {older}");
    println!("  key.pub       {bundle_key}");
    println!(
        "  leaf list     {}",
        if report.leaf_list {
            "present, matches the events"
        } else {
            "absent"
        }
    );
    println!("  time          {elapsed:.3} s");
    ExitCode::SUCCESS
}
