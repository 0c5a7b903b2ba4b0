//! What every command needs: configuration, output format, who is acting, and the time.

use std::path::Path;

use anyhow::{Context, Result};
use gatehouse_ledger::NoteSigner;
use gatehouse_model::Timestamp;
use gatehouse_store::{OpenOptions, Store};

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
        })
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

    /// Ends a command that may have appended events: signs a checkpoint of the new tree head
    /// and publishes it when a publish folder is configured.
    pub fn seal(&self, store: &Store) -> Result<()> {
        let Some(signer) = self.signer()? else {
            if store.event_count()? > 0 {
                eprintln!(
                    "warning: no ledger key (looked for `{}`); the new events are not covered by a \
                     signed checkpoint. Run `gatehouse init` or set GATEHOUSE_LEDGER_KEY.",
                    self.config.key_file.display()
                );
            }
            return Ok(());
        };
        if let Some(cp) = store.sign_checkpoint(&signer, self.now)? {
            self.publish(cp.size, &cp.note)?;
        }
        Ok(())
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
