//! What every command needs: configuration, output format, who is acting, and the time.

use std::path::Path;

use anyhow::{Context, Result};
use gatehouse_ledger::NoteSigner;
use gatehouse_model::Timestamp;
use gatehouse_store::{OpenMode, Store};

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
            Err(_) => Timestamp::now(),
        };
        let actor = std::env::var("GATEHOUSE_ACTOR").unwrap_or_else(|_| {
            format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            )
        });
        Ok(Ctx {
            config,
            format,
            actor,
            now,
        })
    }

    /// Opens the configured store, which must exist.
    pub fn open(&self) -> Result<Store> {
        Ok(Store::open(&self.config.db, OpenMode::Existing)?)
    }

    /// Opens the store for point-in-time questions only (reads through a memory map).
    pub fn open_for_questions(&self) -> Result<Store> {
        let mut store = self.open()?;
        store.map_for_questions()?;
        Ok(store)
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
    pub fn seal(&self, store: &mut Store) -> Result<()> {
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
