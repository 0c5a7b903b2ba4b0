//! Layered configuration: defaults → `gatehouse.toml` → `GATEHOUSE_*` environment → flags.
//! Secrets can come from files (`*_FILE`) so that they never appear in a process listing.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The configuration file's name, looked for in the current directory.
pub const CONFIG_FILE: &str = "gatehouse.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    store: StoreSection,
    #[serde(default)]
    ledger: LedgerSection,
    #[serde(default)]
    analysis: AnalysisSection,
    /// The analysis policy inline, instead of `policy/policy.toml`.
    policy: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalysisSection {
    policy_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerSection {
    origin: Option<String>,
    key_file: Option<PathBuf>,
    public_key_file: Option<PathBuf>,
    publish_dir: Option<PathBuf>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration file in use, if any.
    pub file: Option<PathBuf>,
    /// Store location: a SQLite path or a `postgres://` URL.
    pub db: String,
    /// The ledger's origin line (this instance's name in checkpoints).
    pub origin: Option<String>,
    /// Where the ledger's private key is (unless given in the environment).
    pub key_file: PathBuf,
    /// Where the ledger's public key is written.
    pub public_key_file: PathBuf,
    /// A folder where every new checkpoint is also written, for an outside system to keep.
    pub publish_dir: Option<PathBuf>,
    /// Where `policy.toml` and `sod.toml` are (default `policy/` next to the configuration).
    pub policy_dir: PathBuf,
    /// The `[policy]` table of the configuration file, as TOML text, when there is one.
    pub inline_policy: Option<String>,
}

fn relative_to(base: &Path, p: PathBuf) -> PathBuf {
    if p.is_absolute() { p } else { base.join(p) }
}

fn read_secret_file(var: &str) -> Result<Option<String>> {
    match std::env::var_os(var) {
        Some(path) => {
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("cannot read {var} file `{}`", Path::new(&path).display())
            })?;
            Ok(Some(text.trim().to_owned()))
        }
        None => Ok(None),
    }
}

impl Config {
    /// Resolves the configuration. `config_flag` is `--config`, `db_flag` is `--db` (clap
    /// already folds `GATEHOUSE_DB` into it).
    pub fn load(config_flag: Option<&Path>, db_flag: Option<&str>) -> Result<Config> {
        let file = match config_flag {
            Some(p) => {
                if !p.exists() {
                    bail!("configuration file `{}` does not exist", p.display());
                }
                Some(p.to_owned())
            }
            None => Some(PathBuf::from(CONFIG_FILE)).filter(|p| p.exists()),
        };
        let parsed: FileConfig = match &file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read `{}`", p.display()))?;
                toml::from_str(&text).map_err(|e| {
                    let line = e
                        .span()
                        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                        .unwrap_or(1);
                    anyhow::anyhow!("{}:{line}: {}", p.display(), e.message().trim())
                })?
            }
            None => FileConfig::default(),
        };
        let base = file
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_owned)
            .unwrap_or_default();
        let db = match (
            db_flag,
            read_secret_file("GATEHOUSE_DB_FILE")?,
            parsed.store.url,
        ) {
            (Some(flag), _, _) => flag.to_owned(),
            (None, Some(secret), _) => secret,
            (None, None, Some(url)) if url.contains("://") => url,
            (None, None, Some(path)) => relative_to(&base, PathBuf::from(path))
                .display()
                .to_string(),
            (None, None, None) => {
                relative_to(&base, PathBuf::from(gatehouse_store::DEFAULT_SQLITE))
                    .display()
                    .to_string()
            }
        };
        let key_file = std::env::var_os("GATEHOUSE_LEDGER_KEY_FILE")
            .map(PathBuf::from)
            .or(parsed.ledger.key_file.map(|p| relative_to(&base, p)))
            .unwrap_or_else(|| relative_to(&base, PathBuf::from("gatehouse.key")));
        let public_key_file = parsed
            .ledger
            .public_key_file
            .map(|p| relative_to(&base, p))
            .unwrap_or_else(|| relative_to(&base, PathBuf::from("gatehouse.pub")));
        let inline_policy = parsed
            .policy
            .map(|t| toml::to_string(&t))
            .transpose()
            .context("cannot read the [policy] table")?;
        let policy_dir = std::env::var_os("GATEHOUSE_POLICY_DIR")
            .map(PathBuf::from)
            .or(parsed.analysis.policy_dir.map(|p| relative_to(&base, p)))
            .unwrap_or_else(|| relative_to(&base, PathBuf::from("policy")));
        Ok(Config {
            file,
            policy_dir,
            inline_policy,
            db,
            origin: std::env::var("GATEHOUSE_LEDGER_ORIGIN")
                .ok()
                .or(parsed.ledger.origin),
            key_file,
            public_key_file,
            publish_dir: std::env::var_os("GATEHOUSE_LEDGER_PUBLISH_DIR")
                .map(PathBuf::from)
                .or(parsed.ledger.publish_dir.map(|p| relative_to(&base, p))),
        })
    }

    /// The ledger's private key in its text form: `GATEHOUSE_LEDGER_KEY`, else the key file.
    pub fn private_key(&self) -> Result<Option<String>> {
        if let Ok(k) = std::env::var("GATEHOUSE_LEDGER_KEY") {
            return Ok(Some(k.trim().to_owned()));
        }
        if !self.key_file.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&self.key_file)
            .with_context(|| format!("cannot read the ledger key `{}`", self.key_file.display()))?;
        Ok(Some(text.trim().to_owned()))
    }
}

/// The text of a new `gatehouse.toml`.
pub fn render_config(db: &str, origin: &str) -> String {
    format!(
        "# Gatehouse configuration. Environment variables override it:\n\
         # GATEHOUSE_DB (or GATEHOUSE_DB_FILE), GATEHOUSE_LEDGER_KEY (or GATEHOUSE_LEDGER_KEY_FILE),\n\
         # GATEHOUSE_LEDGER_ORIGIN, GATEHOUSE_LEDGER_PUBLISH_DIR. Paths are relative to this file.\n\
         \n\
         [store]\n\
         # A SQLite file, or a PostgreSQL URL such as postgres://gatehouse@db.internal/gatehouse\n\
         url = {db:?}\n\
         \n\
         [ledger]\n\
         # The name of this Gatehouse instance in signed checkpoints; keep it stable.\n\
         origin = {origin:?}\n\
         # The Ed25519 signing key (mode 0600) and its public half, which auditors need.\n\
         key_file = \"gatehouse.key\"\n\
         public_key_file = \"gatehouse.pub\"\n\
         # A folder an outside system keeps, where every new checkpoint is also written.\n\
         # publish_dir = \"/srv/gatehouse-checkpoints\"\n\
         \n\
         [analysis]\n\
         # Where the analysis policy (policy.toml) and segregation-of-duties ruleset (sod.toml)\n\
         # are; see docs/policy.md. A [policy] table here replaces policy.toml.\n\
         policy_dir = \"policy\"\n"
    )
}
