//! `gatehouse-verify`: checks a Gatehouse ledger evidence bundle offline.
//!
//! ```text
//! gatehouse-verify --bundle DIR --key KEYFILE_OR_VKEY
//!                  [--witness-key KEYFILE_OR_VKEY]... [--witness-quorum N]
//! ```
//!
//! `--key` is the log's public key (vkey) that the auditor trusts, given
//! either as the vkey string itself or as the path of a file holding it.
//! The bundle's own `key.pub` is never trusted, only compared.
//!
//! Each `--witness-key` is the public key of a witness the auditor trusts;
//! the bundle's checkpoint must then carry valid cosignatures by
//! `--witness-quorum` of them (default: all of them).
//!
//! Exit status: 0 when the bundle verifies, 1 when it does not (the message
//! says what failed and where), 2 on a usage error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use gatehouse_ledger::bundle::{BundleError, BundleKey, BundleReport, verify_bundle_with};
use gatehouse_ledger::{
    LedgerError, NoteVerifier, WitnessPolicy, WitnessVerifier, format_timestamp, hash_to_hex,
};

const USAGE: &str = "usage: gatehouse-verify --bundle DIR --key KEYFILE_OR_VKEY
                        [--witness-key KEYFILE_OR_VKEY]... [--witness-quorum N]

Checks an evidence bundle of a Gatehouse ledger without any database or
network: the checkpoint signature (with the key you supply, never the one in
the bundle), witness cosignatures, older checkpoints and their consistency
proofs, every event line and the Merkle root rebuilt from the events.

  --bundle DIR          the bundle folder (holds manifest.json, events.jsonl, ...)
  --key KEY             the log's public key: a vkey string
                        (name+8 hex digits+base64) or a file holding one
  --witness-key KEY     the public key of a witness you trust (repeatable); the
                        checkpoint must carry its cosignature (C2SP
                        tlog-cosignature)
  --witness-quorum N    how many of the witness keys must have cosigned
                        (default: all of them)
  -h, --help            show this help

Exit status: 0 verified, 1 verification failed, 2 usage error.";

struct Args {
    bundle: PathBuf,
    key: String,
    witness_keys: Vec<String>,
    witness_quorum: Option<usize>,
}

enum Parsed {
    Run(Args),
    Help,
}

fn parse_args(args: &[String]) -> Result<Parsed, String> {
    let mut bundle = None;
    let mut key = None;
    let mut witness_keys = Vec::new();
    let mut witness_quorum = None;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--bundle" | "--key" | "--witness-key" | "--witness-quorum" => {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| format!("`{flag}` needs a value"))?
                    }
                };
                if flag == "--witness-key" {
                    witness_keys.push(value);
                } else if flag == "--witness-quorum" {
                    let n = value.parse::<usize>().map_err(|_| {
                        format!("`--witness-quorum` must be a whole number, not `{value}`")
                    })?;
                    if witness_quorum.replace(n).is_some() {
                        return Err(format!("`{flag}` is given twice"));
                    }
                } else {
                    let slot = if flag == "--bundle" {
                        &mut bundle
                    } else {
                        &mut key
                    };
                    if slot.replace(value).is_some() {
                        return Err(format!("`{flag}` is given twice"));
                    }
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
            witness_keys,
            witness_quorum,
        })),
        (None, _) => Err("`--bundle` is required".to_string()),
        (_, None) => Err("`--key` is required".to_string()),
    }
}

/// Reads a trusted key: a file holding a vkey, or the vkey itself.
fn load_key<K>(
    flag: &str,
    arg: &str,
    parse: impl Fn(&str) -> Result<K, LedgerError>,
) -> Result<K, String> {
    let path = Path::new(arg);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read key file `{arg}`: {e}"))?;
        return parse(text.trim())
            .map_err(|e| format!("key file `{arg}` does not hold a usable key: {e}"));
    }
    parse(arg.trim())
        .map_err(|e| format!("`{flag}` is neither a readable file nor a usable key: {e}"))
}

/// The witness policy from `--witness-key` and `--witness-quorum`.
fn load_witnesses(args: &Args) -> Result<WitnessPolicy, String> {
    let keys = args
        .witness_keys
        .iter()
        .map(|k| load_key("--witness-key", k, WitnessVerifier::from_vkey))
        .collect::<Result<Vec<_>, _>>()?;
    match args.witness_quorum {
        None => Ok(WitnessPolicy::all(keys)),
        Some(n) => WitnessPolicy::new(keys, n).map_err(|e| format!("`--witness-quorum`: {e}")),
    }
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
    let keys = load_key("--key", &args.key, NoteVerifier::from_vkey)
        .and_then(|key| Ok((key, load_witnesses(&args)?)));
    let (key, witnesses) = match keys {
        Ok(keys) => keys,
        Err(msg) => {
            eprintln!("gatehouse-verify: {msg}");
            return ExitCode::from(2);
        }
    };

    let started = Instant::now();
    let result = verify_bundle_with(&args.bundle, &key, &witnesses);
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
    println!("  witnesses     {}", describe_witnesses(&report));
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

/// The witnesses line of the report.
fn describe_witnesses(report: &BundleReport) -> String {
    let listed = if report.bundle_witnesses.is_empty() {
        String::new()
    } else {
        format!(
            "; the bundle's witnesses.pub lists {} key(s) (not used)",
            report.bundle_witnesses.len()
        )
    };
    if report.cosigned.is_empty() && report.not_cosigned.is_empty() {
        return format!("none required (give --witness-key to check cosignatures){listed}");
    }
    let mut parts: Vec<String> = report
        .cosigned
        .iter()
        .map(|c| {
            format!(
                "`{}` cosigned at {}",
                c.witness,
                format_timestamp(c.timestamp)
            )
        })
        .collect();
    parts.extend(
        report
            .not_cosigned
            .iter()
            .map(|w| format!("`{w}` did not cosign")),
    );
    format!(
        "{} of {} trusted cosigned (quorum {}): {}{listed}",
        report.cosigned.len(),
        report.cosigned.len() + report.not_cosigned.len(),
        report.witness_quorum,
        parts.join("; ")
    )
}
