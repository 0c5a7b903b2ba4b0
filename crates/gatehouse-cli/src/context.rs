//! What every command needs: configuration, output format, who is acting, and the time.

use std::cell::OnceCell;
use std::path::Path;

use anyhow::{Context, Result};
use gatehouse_ledger::NoteSigner;
use gatehouse_model::Timestamp;
use gatehouse_store::{OpenOptions, Store};
use gatehouse_witness::WitnessClient;
use gatehouse_workflow::{Sealed, WitnessOutcome, Witnesses};

use crate::config::Config;
use crate::output::Format;

/// The context of one command.
pub struct Ctx {
    /// Resolved configuration.
    pub config: Config,
    /// Listing format.
    pub format: Format,
    /// Who is acting, as recorded in events.
    pub actor: String,
    /// The time of this command. The binary is the only place that reads the clock;
    /// `GATEHOUSE_NOW` pins it (for reproducible runs and tests).
    pub now: Timestamp,
    /// The configured witnesses' clients, made when first needed.
    witnesses: OnceCell<Witnesses>,
}

impl Ctx {
    /// Builds the context.
    pub fn new(config: Option<&Path>, db: Option<&str>, format: Format) -> Result<Ctx> {
        let config = Config::load(config, db)?;
        let now = match std::env::var("GATEHOUSE_NOW") {
            Ok(v) => gatehouse_model::parse_timestamp(&v).context("GATEHOUSE_NOW")?,
            // The one place the command line reads the clock.
            #[allow(clippy::disallowed_methods)]
            Err(_) => Timestamp::now(),
        };
        let actor = actor()?;
        Ok(Ctx {
            config,
            format,
            actor,
            now,
            witnesses: OnceCell::new(),
        })
    }

    /// The configured witnesses (none when `[ledger] witnesses` is empty).
    pub fn witnesses(&self) -> Result<&Witnesses> {
        if let Some(w) = self.witnesses.get() {
            return Ok(w);
        }
        let clients = self
            .config
            .witnesses
            .iter()
            .map(|w| {
                Ok(WitnessClient::new(&w.url, w.key.clone())?
                    .with_timeout(self.config.witness_timeout))
            })
            .collect::<Result<Vec<_>>>()?;
        let witnesses = Witnesses::new(clients, self.config.witness_quorum)?;
        Ok(self.witnesses.get_or_init(|| witnesses))
    }

    /// Opens the configured store, which must exist and have this build's schema.
    pub fn open(&self) -> Result<Store> {
        Ok(Store::open(&self.config.db, &OpenOptions::existing())?)
    }

    /// Opens the store for point-in-time questions only (reads through a memory map).
    pub fn open_for_questions(&self) -> Result<Store> {
        Ok(Store::open(
            &self.config.db,
            &OpenOptions::existing().for_questions(),
        )?)
    }

    /// The ledger signer, if a key is configured.
    pub fn signer(&self) -> Result<Option<NoteSigner>> {
        match self.config.private_key()? {
            Some(text) => Ok(Some(
                NoteSigner::from_private_key(&text)
                    .context("the ledger key is not a valid private key")?,
            )),
            None => Ok(None),
        }
    }

    /// Ends a command that may have appended events: signs a checkpoint of the new tree head,
    /// has the configured witnesses cosign the latest checkpoint (those that have not yet),
    /// stores their cosignatures with it, and publishes it when a publish folder is configured.
    /// Says on stderr whether the checkpoint is witnessed and, if not, why per witness. A
    /// witness that holds a history this log no longer extends fails the command
    /// ([`gatehouse_workflow::WorkflowError::WitnessConflict`]).
    pub fn seal(&self, store: &Store) -> Result<Option<Sealed>> {
        let Some(signer) = self.signer()? else {
            if store.event_count()? > 0 {
                eprintln!(
                    "warning: no ledger key (looked for `{}`); the new events are not covered by a \
                     signed checkpoint. Run `gatehouse init` or set GATEHOUSE_LEDGER_KEY.",
                    self.config.key_file.display()
                );
            }
            return Ok(None);
        };
        // What witnessing adds to the command: making the clients, and the exchanges.
        let setup = std::time::Instant::now();
        let witnesses = self.witnesses()?;
        let setup = setup.elapsed();
        let Some(sealed) = gatehouse_workflow::seal(store, &signer, witnesses, self.now)? else {
            return Ok(None);
        };
        if sealed.changed {
            self.publish(sealed.checkpoint.size, &sealed.checkpoint.note)?;
        }
        report_witnessing(&sealed, setup + sealed.witness_time);
        Ok(Some(sealed))
    }

    /// Writes a new checkpoint to the publish folder, when one is configured.
    pub fn publish(&self, size: u64, note: &str) -> Result<()> {
        let Some(dir) = &self.config.publish_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the publish folder `{}`", dir.display()))?;
        let file = dir.join(format!("checkpoint-{size:012}"));
        std::fs::write(&file, note)
            .with_context(|| format!("cannot publish the checkpoint to `{}`", file.display()))?;
        std::fs::write(dir.join("checkpoint"), note)?;
        Ok(())
    }
}

/// Tells on stderr what the witnesses did with a sealed checkpoint.
fn report_witnessing(sealed: &Sealed, took: std::time::Duration) {
    if sealed.witnesses.is_empty() {
        return;
    }
    let size = sealed.checkpoint.size;
    let (have, total) = (sealed.cosigned(), sealed.witnesses.len());
    let asked = sealed
        .witnesses
        .iter()
        .any(|w| !matches!(w.outcome, WitnessOutcome::Held { .. }));
    let took = if asked {
        format!(" ({:.1} ms)", took.as_secs_f64() * 1000.0)
    } else {
        String::new()
    };
    if sealed.witnessed() {
        eprintln!(
            "witnessed: the checkpoint of size {size} is cosigned by {have} of {total} witnesses (quorum {}){took}",
            sealed.quorum
        );
    } else {
        eprintln!(
            "warning: the checkpoint of size {size} is not yet witnessed: cosigned by {have} of {total} witnesses, {} required{took}",
            sealed.quorum
        );
    }
    for w in &sealed.witnesses {
        let why = match &w.outcome {
            WitnessOutcome::Held { .. } | WitnessOutcome::Cosigned { .. } => continue,
            WitnessOutcome::Failed(e) => e.to_string(),
            WitnessOutcome::ForgedLine(e) => format!(
                "the stored checkpoint carries a line of this witness that does not verify ({e}); `gatehouse ledger verify` reports it"
            ),
        };
        eprintln!("  not cosigned by `{}`: {why}", w.witness);
    }
    if !sealed.witnessed() {
        eprintln!(
            "  the next command that seals sends it again; `gatehouse ledger checkpoint` does so now"
        );
    }
}

/// Who is acting, as recorded in events: `GATEHOUSE_ACTOR`, else `cli:` and the login name
/// (`$USER`, else the operating system's name for the user running the command). A command
/// that cannot name its actor refuses to run rather than record an anonymous change.
fn actor() -> Result<String> {
    if let Ok(a) = std::env::var("GATEHOUSE_ACTOR") {
        let a = a.trim();
        if a.is_empty() {
            anyhow::bail!("GATEHOUSE_ACTOR is set but empty; set it to who is acting");
        }
        return Ok(a.to_owned());
    }
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .or_else(os_user)
        .context(
            "cannot tell who is acting: $USER is unset and the user id has no name; set GATEHOUSE_ACTOR",
        )?;
    Ok(format!("cli:{user}"))
}

/// The name of the user running this process, from the system's user database.
fn os_user() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // The owner of this process's own `/proc` entry is its user; look the id up in
        // `/etc/passwd` (containers and services often run without `$USER`).
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let mut f = line.split(':');
            let name = f.next()?;
            let id: u32 = f.nth(1)?.parse().ok()?;
            (id == uid && !name.is_empty()).then(|| name.to_owned())
        })
    }
    #[cfg(not(unix))]
    {
        std::env::var("USERNAME").ok()
    }
}
