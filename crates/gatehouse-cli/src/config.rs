//! Layered configuration: defaults → `gatehouse.toml` → `GATEHOUSE_*` environment → flags.
//! Secrets can come from files (`*_FILE`) so that they never appear in a process listing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use gatehouse_ledger::WitnessVerifier;
use gatehouse_model::ErrorCode;
use serde::Deserialize;

use crate::errors::Coded;

/// The configuration file's name, looked for in the current directory.
pub const CONFIG_FILE: &str = "gatehouse.toml";

/// How long one exchange with a witness may take unless configured otherwise.
pub const DEFAULT_WITNESS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    store: StoreSection,
    #[serde(default)]
    ledger: LedgerSection,
    #[serde(default)]
    analysis: AnalysisSection,
    #[serde(default)]
    server: ServerSection,
    /// The analysis policy inline, instead of `policy/policy.toml`.
    policy: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalysisSection {
    policy_dir: Option<PathBuf>,
}

/// `[server]`: how `gatehouse serve` runs (see docs/server.md).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on.
    pub listen: Option<std::net::SocketAddr>,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// Mark cookies Secure (default true).
    pub secure_cookies: Option<bool>,
    /// Take the client address from X-Forwarded-For (behind a reverse proxy only).
    pub trust_forwarded: Option<bool>,
    /// Seconds between scheduled checkpoints (default 3600).
    pub checkpoint_interval: Option<u64>,
    /// Minutes without a request that end a session (default 30).
    pub session_idle: Option<u64>,
    /// Hours after sign-in that end a session (default 12).
    pub session_lifetime: Option<u64>,
    /// Minutes a second factor counts as fresh for privileged actions (default 5).
    pub fresh_second_factor: Option<u64>,
    /// Failed sign-ins allowed per user name and per address within the window (default 5).
    pub sign_in_attempts: Option<u32>,
    /// Minutes of the sign-in window (default 15).
    pub sign_in_window: Option<u64>,
    /// OpenID Connect: the provider's issuer URL.
    pub oidc_issuer: Option<String>,
    /// OpenID Connect: this server's client id.
    pub oidc_client_id: Option<String>,
    /// OpenID Connect: a file holding the client secret (`GATEHOUSE_OIDC_CLIENT_SECRET_FILE`).
    pub oidc_client_secret_file: Option<PathBuf>,
    /// OpenID Connect: this server's callback URL as browsers reach it
    /// (`https://gatehouse.example.com/login/oidc/callback`).
    pub oidc_redirect_url: Option<String>,
    /// OpenID Connect: the provider's name on the sign-in button.
    pub oidc_label: Option<String>,
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
    witnesses: Option<Vec<WitnessEntry>>,
    witness_quorum: Option<usize>,
    witness_timeout: Option<f64>,
}

/// One entry of `[ledger] witnesses`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessEntry {
    url: String,
    vkey: String,
}

/// A witness the ledger sends its checkpoints to.
#[derive(Debug, Clone)]
pub struct WitnessSetting {
    /// Its submission URL (`https://…` or `http://…`).
    pub url: String,
    /// Its public key (a cosignature vkey).
    pub key: WitnessVerifier,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration file in use, if any.
    pub file: Option<PathBuf>,
    /// Store location: a SQLite path or a `postgres://` URL.
    pub db: String,
    /// Where `db` came from.
    pub db_from: DbFrom,
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
    /// The witnesses every new checkpoint is sent to.
    pub witnesses: Vec<WitnessSetting>,
    /// How many of their cosignatures make a checkpoint witnessed (default: all of them).
    pub witness_quorum: usize,
    /// How long one exchange with a witness may take.
    pub witness_timeout: Duration,
    /// `[server]`, with paths made relative to the configuration file and the
    /// `GATEHOUSE_SERVER_LISTEN`, `GATEHOUSE_TLS_CERT` and `GATEHOUSE_TLS_KEY` overrides.
    pub server: ServerSection,
}

/// Where the store's location came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFrom {
    /// `--db` or `GATEHOUSE_DB`.
    Flag,
    /// The file `GATEHOUSE_DB_FILE` names (a secret: never copied into the configuration).
    SecretFile,
    /// The configuration file.
    ConfigFile,
    /// The default, `gatehouse.db` beside the configuration.
    Default,
}

/// A configuration error, with its code (`GH111`).
fn invalid(message: impl Into<String>) -> anyhow::Error {
    Coded::new(ErrorCode::Config, message).into()
}

/// Reads a witness key given as its text, or as a file holding it (a relative path is taken
/// from `base`).
fn witness_key(text: &str, base: &Path, what: &str) -> Result<WitnessVerifier> {
    let text = text.trim();
    let parsed = WitnessVerifier::from_vkey(text);
    if let Ok(key) = parsed {
        return Ok(key);
    }
    let path = relative_to(base, PathBuf::from(text));
    if path.is_file() {
        let content = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        return WitnessVerifier::from_vkey(content.trim()).map_err(|e| {
            invalid(format!(
                "{what}: `{}` does not hold a witness public key: {e}",
                path.display()
            ))
        });
    }
    Err(invalid(format!(
        "{what}: `{text}` is neither a witness public key nor a file holding one: {}",
        parsed.err().map(|e| e.to_string()).unwrap_or_default()
    )))
}

fn witness_setting(url: &str, key: &str, base: &Path, what: &str) -> Result<WitnessSetting> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let Some(rest) = rest.filter(|r| !r.is_empty() && !r.contains(char::is_whitespace)) else {
        return Err(invalid(format!(
            "{what}: `{url}` is not an http:// or https:// URL"
        )));
    };
    // Witness URLs appear in messages: they must not carry a password.
    if rest.split('/').next().unwrap_or_default().contains('@') {
        return Err(invalid(format!(
            "{what}: the URL carries a user name or password, which messages would show; give the witness's URL without them"
        )));
    }
    Ok(WitnessSetting {
        url: url.to_owned(),
        key: witness_key(key, base, what)?,
    })
}

/// Parses `GATEHOUSE_LEDGER_WITNESSES`: `<url>=<witness key or file>` entries separated by
/// commas or white space.
fn witnesses_from_env(value: &str) -> Result<Vec<WitnessSetting>> {
    let mut out = Vec::new();
    for (i, entry) in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .enumerate()
    {
        let what = format!("GATEHOUSE_LEDGER_WITNESSES entry {}", i + 1);
        let Some((url, key)) = entry.split_once('=') else {
            return Err(invalid(format!(
                "{what}: `{entry}` is not `<url>=<witness public key>`"
            )));
        };
        out.push(witness_setting(url, key, Path::new(""), &what)?);
    }
    Ok(out)
}

/// An environment variable that overrides a number of the file.
fn env_number<T: std::str::FromStr>(var: &str) -> Result<Option<T>> {
    match std::env::var(var) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("{var}: `{v}` is not a number"))),
        Err(_) => Ok(None),
    }
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
                    invalid(format!("{}:{line}: {}", p.display(), e.message().trim()))
                })?
            }
            None => FileConfig::default(),
        };
        let base = file
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_owned)
            .unwrap_or_default();
        let (db, db_from) = match (
            db_flag,
            read_secret_file("GATEHOUSE_DB_FILE")?,
            parsed.store.url,
        ) {
            (Some(flag), _, _) => (flag.to_owned(), DbFrom::Flag),
            (None, Some(secret), _) => (secret, DbFrom::SecretFile),
            (None, None, Some(url)) if url.contains("://") => (url, DbFrom::ConfigFile),
            (None, None, Some(path)) => (
                relative_to(&base, PathBuf::from(path))
                    .display()
                    .to_string(),
                DbFrom::ConfigFile,
            ),
            (None, None, None) => (
                relative_to(&base, PathBuf::from(gatehouse_store::DEFAULT_SQLITE))
                    .display()
                    .to_string(),
                DbFrom::Default,
            ),
        };
        if let Some(shown) = password_outside_url(&db) {
            return Err(Coded::new(
                ErrorCode::StoreLocationInvalid,
                format!(
                    "the store location `{shown}` is not a postgres:// URL, and a file path \
                     would not carry the password it seems to hold (not repeated here); give a \
                     PostgreSQL store as postgres://user:password@host/database, or in a file \
                     named by GATEHOUSE_DB_FILE"
                ),
            )
            .into());
        }
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
        let witnesses = match std::env::var("GATEHOUSE_LEDGER_WITNESSES") {
            Ok(value) => witnesses_from_env(&value)?,
            Err(_) => parsed
                .ledger
                .witnesses
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let what = format!("`[ledger] witnesses` entry {}", i + 1);
                    witness_setting(&w.url, &w.vkey, &base, &what)
                })
                .collect::<Result<Vec<_>>>()?,
        };
        for (i, w) in witnesses.iter().enumerate() {
            if witnesses[..i].iter().any(|o| o.key == w.key) {
                return Err(invalid(format!(
                    "the witness key `{}` is configured twice",
                    w.key.label()
                )));
            }
        }
        let witness_quorum = env_number("GATEHOUSE_LEDGER_WITNESS_QUORUM")?
            .or(parsed.ledger.witness_quorum)
            .unwrap_or(witnesses.len());
        if witness_quorum > witnesses.len() {
            return Err(invalid(format!(
                "witness_quorum is {witness_quorum} but {} witness(es) are configured",
                witnesses.len()
            )));
        }
        let witness_timeout = match env_number::<f64>("GATEHOUSE_LEDGER_WITNESS_TIMEOUT")?
            .or(parsed.ledger.witness_timeout)
        {
            None => DEFAULT_WITNESS_TIMEOUT,
            Some(secs) if secs.is_finite() && secs > 0.0 && secs <= 3600.0 => {
                Duration::from_secs_f64(secs)
            }
            Some(secs) => {
                return Err(invalid(format!(
                    "witness_timeout is {secs}: give a number of seconds above 0 and at most 3600"
                )));
            }
        };
        let policy_dir = std::env::var_os("GATEHOUSE_POLICY_DIR")
            .map(PathBuf::from)
            .or(parsed.analysis.policy_dir.map(|p| relative_to(&base, p)))
            .unwrap_or_else(|| relative_to(&base, PathBuf::from("policy")));
        let mut server = parsed.server;
        if let Ok(v) = std::env::var("GATEHOUSE_SERVER_LISTEN") {
            server.listen = Some(v.trim().parse().map_err(|_| {
                invalid(format!(
                    "GATEHOUSE_SERVER_LISTEN: `{v}` is not an address such as 127.0.0.1:8080"
                ))
            })?);
        }
        server.tls_cert = std::env::var_os("GATEHOUSE_TLS_CERT")
            .map(PathBuf::from)
            .or(server.tls_cert.map(|p| relative_to(&base, p)));
        server.tls_key = std::env::var_os("GATEHOUSE_TLS_KEY")
            .map(PathBuf::from)
            .or(server.tls_key.map(|p| relative_to(&base, p)));
        server.oidc_client_secret_file = std::env::var_os("GATEHOUSE_OIDC_CLIENT_SECRET_FILE")
            .map(PathBuf::from)
            .or(server
                .oidc_client_secret_file
                .map(|p| relative_to(&base, p)));
        let oidc_keys = [
            server.oidc_issuer.is_some(),
            server.oidc_client_id.is_some(),
            server.oidc_client_secret_file.is_some(),
            server.oidc_redirect_url.is_some(),
        ];
        if oidc_keys.iter().any(|k| *k) && !oidc_keys.iter().all(|k| *k) {
            return Err(invalid(
                "[server] OpenID Connect needs oidc_issuer, oidc_client_id, oidc_client_secret_file and oidc_redirect_url together",
            ));
        }
        if server.tls_cert.is_some() != server.tls_key.is_some() {
            return Err(invalid(
                "[server] tls_cert and tls_key go together: give both, or neither",
            ));
        }
        Ok(Config {
            server,
            file,
            policy_dir,
            inline_policy,
            db,
            db_from,
            origin: std::env::var("GATEHOUSE_LEDGER_ORIGIN")
                .ok()
                .or(parsed.ledger.origin),
            key_file,
            public_key_file,
            publish_dir: std::env::var_os("GATEHOUSE_LEDGER_PUBLISH_DIR")
                .map(PathBuf::from)
                .or(parsed.ledger.publish_dir.map(|p| relative_to(&base, p))),
            witnesses,
            witness_quorum,
            witness_timeout,
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

/// A store location that is not a URL but carries what looks like a password — connection
/// settings (`host=db password=…`), or a URL whose scheme was lost (`user:secret@db/gatehouse`,
/// `postgres:/user:secret@db`) — shown with the password hidden. Such a value would otherwise
/// be taken for a SQLite file name and repeated, password and all, in messages.
fn password_outside_url(db: &str) -> Option<String> {
    if db.contains("://") {
        return None;
    }
    let lower = db.to_ascii_lowercase();
    if let Some(at) = lower.find("password=") {
        let start = at + "password=".len();
        let end = db[start..]
            .find(char::is_whitespace)
            .map_or(db.len(), |e| start + e);
        return Some(format!("{}***{}", &db[..start], &db[end..]));
    }
    // `user:secret@host`: a colon, then an `@`, before any `/`.
    let head = db.split('/').take(2).collect::<Vec<_>>().join("/");
    let at = head.rfind('@')?;
    let colon = head[..at].find(':')?;
    Some(format!("{}:***{}", &db[..colon], &db[at..]))
}

/// The text of a new `gatehouse.toml`.
/// Whether a store URL carries a password (`postgres://user:secret@host/db`, or a
/// `password=` parameter).
pub fn has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let in_userinfo = authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'));
    in_userinfo || rest.to_ascii_lowercase().contains("password=")
}

/// The configuration file's text; `db` is `None` when the store's location is a secret kept
/// elsewhere (`GATEHOUSE_DB_FILE`).
pub fn render_config(db: Option<&str>, origin: &str) -> String {
    let store = match db {
        Some(db) => format!("url = {db:?}"),
        None => "# url: read from the file GATEHOUSE_DB_FILE names (it holds a password)".into(),
    };
    format!(
        "# Gatehouse configuration. Environment variables override it:\n\
         # GATEHOUSE_DB (or GATEHOUSE_DB_FILE), GATEHOUSE_LEDGER_KEY (or GATEHOUSE_LEDGER_KEY_FILE),\n\
         # GATEHOUSE_LEDGER_ORIGIN, GATEHOUSE_LEDGER_PUBLISH_DIR, GATEHOUSE_LEDGER_WITNESSES,\n\
         # GATEHOUSE_LEDGER_WITNESS_QUORUM, GATEHOUSE_LEDGER_WITNESS_TIMEOUT. Paths are relative to\n\
         # this file.\n\
         \n\
         [store]\n\
         # A SQLite file, or a PostgreSQL URL such as postgres://gatehouse@db.internal/gatehouse\n\
         {store}\n\
         \n\
         [ledger]\n\
         # The name of this Gatehouse instance in signed checkpoints; keep it stable.\n\
         origin = {origin:?}\n\
         # The Ed25519 signing key (mode 0600) and its public half, which auditors need.\n\
         key_file = \"gatehouse.key\"\n\
         public_key_file = \"gatehouse.pub\"\n\
         # A folder an outside system keeps, where every new checkpoint is also written.\n\
         # publish_dir = \"/srv/gatehouse-checkpoints\"\n\
         # Witnesses that cosign every new checkpoint, run by people the operators of this\n\
         # server cannot overrule (an auditor, a second team); see docs/ledger.md, section 7.\n\
         # witnesses = [\n\
         #   {{ url = \"https://witness.audit-firm.example\", vkey = \"witness.pub\" }},\n\
         # ]\n\
         # witness_quorum = 1   # cosignatures a checkpoint needs to count as witnessed (default: all)\n\
         # witness_timeout = 5  # seconds to wait for each witness\n\
         \n\
         [analysis]\n\
         # Where the analysis policy (policy.toml) and segregation-of-duties ruleset (sod.toml)\n\
         # are; see docs/policy.md. A [policy] table here replaces policy.toml.\n\
         policy_dir = \"policy\"\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_locations_with_a_password_outside_a_url() {
        for (db, shown) in [
            ("gatehouse.db", None),
            ("/srv/gatehouse/gatehouse.db", None),
            ("postgres://u:secret@db/g", None),
            ("mysql://u:secret@db/g", None),
            ("u:secret@db/gatehouse", Some("u:***@db/gatehouse")),
            ("postgres:/u:secret@db/g", Some("postgres:***@db/g")),
            (
                "host=db user=g password=secret dbname=g",
                Some("host=db user=g password=*** dbname=g"),
            ),
            ("PASSWORD=secret", Some("PASSWORD=***")),
        ] {
            assert_eq!(password_outside_url(db).as_deref(), shown, "{db}");
        }
    }

    #[test]
    fn passwords_in_store_urls_are_seen() {
        assert!(has_password("postgres://app:s3cret@db.internal/gatehouse"));
        assert!(has_password("postgres://db.internal/g?user=app&password=x"));
        assert!(!has_password("postgres://app@db.internal/gatehouse"));
        assert!(!has_password("postgres://db.internal:5432/gatehouse"));
        assert!(!has_password("gatehouse.db"));
    }
}
