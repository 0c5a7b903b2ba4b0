//! `gatehouse witness …`: run a witness (C2SP tlog-witness) for Gatehouse ledgers and other
//! transparency logs. A witness has its own key and state file and never opens a store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gatehouse_ledger::{NoteVerifier, WitnessSigner, is_valid_key_name};
use gatehouse_witness::{Witness, WitnessConfig, WitnessedLog, create_state_file};

use crate::commands::init::write_private;

/// `gatehouse witness …`.
#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Create a witness key and an empty state file.
    #[command(after_help = "Examples:
  gatehouse witness init --name witness.audit-firm.example/gatehouse
  gatehouse witness init --key /etc/witness/witness.key --state /var/lib/witness/state.json")]
    Init(InitArgs),
    /// Serve `POST /add-checkpoint` for the given logs until Ctrl-C or SIGTERM.
    #[command(after_help = "Examples:
  gatehouse witness serve --log gatehouse.example.com=gatehouse.pub
  gatehouse witness serve --listen 0.0.0.0:7380 --log gatehouse.example.com=gatehouse.pub")]
    Serve(ServeArgs),
}

/// Arguments of `witness init`.
#[derive(Args)]
pub struct InitArgs {
    /// The witness's name in its cosignatures, e.g. `witness.example.com/audit`.
    /// Defaults to `<hostname>/witness`.
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write the private key (mode 0600); the public key goes beside it as `.pub`.
    #[arg(long, default_value = "witness.key")]
    pub key: PathBuf,
    /// Where to create the state file.
    #[arg(long, default_value = "witness-state.json")]
    pub state: PathBuf,
}

/// Arguments of `witness serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:7380")]
    pub listen: SocketAddr,
    /// The witness's private key file.
    #[arg(
        long,
        env = "GATEHOUSE_WITNESS_KEY_FILE",
        default_value = "witness.key"
    )]
    pub key: PathBuf,
    /// The state file made by `gatehouse witness init`.
    #[arg(long, default_value = "witness-state.json")]
    pub state: PathBuf,
    /// A log to witness, as `<origin>=<public key>`, the key given as its text (vkey) or a file
    /// holding it. Repeat for each log, or for each key of a log.
    #[arg(long = "log", value_name = "ORIGIN=VKEY", required = true)]
    pub logs: Vec<String>,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

/// Runs `gatehouse witness …`.
pub fn run(cmd: WitnessCommand) -> Result<ExitCode> {
    match cmd {
        WitnessCommand::Init(a) => init(a),
        WitnessCommand::Serve(a) => serve(a),
    }
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && is_valid_key_name(h))
        .unwrap_or_else(|| "localhost".into());
    format!("{host}/witness")
}

fn public_key_path(key: &Path) -> Result<PathBuf> {
    let public = key.with_extension("pub");
    if public == key {
        bail!(
            "the key file `{}` must not end in `.pub`: that name is for the public key",
            key.display()
        );
    }
    Ok(public)
}

fn init(a: InitArgs) -> Result<ExitCode> {
    let name = a.name.unwrap_or_else(default_name);
    if !is_valid_key_name(&name) {
        bail!("`{name}` cannot be a witness name: it must be non-empty, without spaces or `+`");
    }
    let public = public_key_path(&a.key)?;
    for p in [&a.key, &public, &a.state] {
        if p.exists() {
            bail!("`{}` exists already; it is not replaced", p.display());
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for the key: {e}"))?;
    let signer = WitnessSigner::generate_from_seed(&name, seed)?;
    write_private(&a.key, &format!("{}\n", signer.private_key()))?;
    std::fs::write(&public, format!("{}\n", signer.vkey()))
        .with_context(|| format!("cannot write `{}`", public.display()))?;
    create_state_file(&a.state)?;
    println!(
        "created the witness key {} (keep it secret), its public key {} and the state file {}",
        a.key.display(),
        public.display(),
        a.state.display()
    );
    println!("witness public key (give it to the logs and auditors that rely on this witness):");
    println!("  {}", signer.vkey());
    println!(
        "next: gatehouse witness serve --key {} --state {} --log '<origin>=<log public key>'",
        a.key.display(),
        a.state.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads a key given as its text or as a file holding it.
fn key_text(arg: &str) -> Result<String> {
    let path = Path::new(arg);
    if path.is_file() {
        return Ok(std::fs::read_to_string(path)
            .with_context(|| format!("cannot read `{arg}`"))?
            .trim()
            .to_owned());
    }
    Ok(arg.trim().to_owned())
}

/// Parses `--log <origin>=<vkey or file>`, split at the first `=`.
fn parse_log(arg: &str) -> Result<WitnessedLog> {
    let Some((origin, key)) = arg.split_once('=') else {
        bail!("`--log {arg}` is not `<origin>=<public key>`");
    };
    if origin.is_empty() || origin.contains('\n') {
        bail!("`--log {arg}`: the origin is empty or holds a newline");
    }
    let key = NoteVerifier::from_vkey(&key_text(key)?)
        .with_context(|| format!("`--log {origin}=…`: not a log public key"))?;
    Ok(WitnessedLog {
        origin: origin.to_owned(),
        keys: vec![key],
    })
}

fn serve(a: ServeArgs) -> Result<ExitCode> {
    let logs = a
        .logs
        .iter()
        .map(|l| parse_log(l))
        .collect::<Result<Vec<_>>>()?;
    let text = std::fs::read_to_string(&a.key).with_context(|| {
        format!(
            "cannot read the witness key `{}` (create one with `gatehouse witness init`)",
            a.key.display()
        )
    })?;
    let signer = WitnessSigner::from_private_key(text.trim())
        .with_context(|| format!("`{}` does not hold a witness key", a.key.display()))?;
    let config = WitnessConfig {
        signer,
        logs: logs.clone(),
        state: a.state.clone(),
    };
    // The witness's clock: the one place a running witness reads it (cosignatures carry the
    // time they were made).
    #[allow(clippy::disallowed_methods)]
    let clock = Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let witness = Witness::open(config, clock)?;
    let listener = std::net::TcpListener::bind(a.listen)
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .init();
    println!(
        "witness `{}` listening on http://{addr}",
        witness.verifier().label()
    );
    println!("  public key  {}", witness.verifier().vkey());
    println!("  state       {}", a.state.display());
    let held = witness.held();
    for log in &logs {
        let size = held
            .get(&log.origin)
            .map_or("nothing cosigned yet".to_string(), |s| {
                format!("holds size {}", s.size)
            });
        let keys: Vec<String> = log.keys.iter().map(NoteVerifier::label).collect();
        println!(
            "  log         {} (key {}): {size}",
            log.origin,
            keys.join(", ")
        );
    }
    use std::io::Write as _;
    std::io::stdout().flush()?;
    gatehouse_witness::serve_until_signal(witness, listener, a.threads)
        .context("the witness server failed")?;
    println!("witness stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_arguments() {
        let log = gatehouse_ledger::NoteSigner::generate_from_seed("a.example/log", [1; 32])
            .unwrap()
            .vkey();
        let parsed = parse_log(&format!("a.example/log={log}")).unwrap();
        assert_eq!(parsed.origin, "a.example/log");
        assert_eq!(parsed.keys[0].vkey(), log);
        for bad in [
            "no-equals".to_string(),
            format!("={log}"),
            "a.example/log=nonsense".to_string(),
        ] {
            assert!(parse_log(&bad).is_err(), "{bad}");
        }
        assert!(public_key_path(Path::new("w.pub")).is_err());
        assert_eq!(
            public_key_path(Path::new("dir/w.key")).unwrap(),
            Path::new("dir/w.pub")
        );
    }
}
