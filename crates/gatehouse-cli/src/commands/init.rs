//! `gatehouse init`: the store, the configuration file and the ledger key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use gatehouse_ledger::{NoteSigner, is_valid_key_name};
use gatehouse_store::{OpenOptions, SCHEMA_VERSION, Store};

use crate::config::{CONFIG_FILE, Config, DbFrom, has_password, render_config};
use crate::context::Ctx;

/// Arguments of `gatehouse init`.
#[derive(Args)]
pub struct InitArgs {
    /// The name of this Gatehouse instance in signed checkpoints, e.g. `gatehouse.example.com`.
    /// Defaults to `<hostname>/gatehouse`.
    #[arg(long)]
    pub origin: Option<String>,
}

fn default_origin() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && is_valid_key_name(h))
        .unwrap_or_else(|| "localhost".into());
    format!("{host}/gatehouse")
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, content: &str) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create `{}`", path.display()))?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Makes sure a store, configuration and key exist; returns whether anything was created.
pub fn ensure(ctx: &Ctx, origin: Option<String>, quiet: bool) -> Result<bool> {
    let mut created = false;
    let origin = origin
        .or_else(|| ctx.config.origin.clone())
        .unwrap_or_else(default_origin);
    if !is_valid_key_name(&origin) {
        bail!("`{origin}` cannot be an origin: it must be non-empty, without spaces or `+`");
    }
    match &ctx.config.file {
        // The store in use, whichever it is, goes into the new configuration, so that the
        // next command finds it without --db.
        None => {
            let path = Path::new(CONFIG_FILE);
            let db = (ctx.config.db_from != DbFrom::SecretFile).then_some(ctx.config.db.as_str());
            write_private(path, &render_config(db, &origin))?;
            if !quiet {
                println!(
                    "wrote {} (store: {})",
                    path.display(),
                    gatehouse_store::redact(&ctx.config.db)
                );
                if db.is_some_and(has_password) {
                    println!(
                        "  it holds the store's password: it is readable by you only; to keep the \
                         password out of it, remove `url` and set GATEHOUSE_DB_FILE to a file \
                         holding the URL"
                    );
                }
            }
            created = true;
        }
        Some(file) if ctx.config.db_from == DbFrom::Flag => {
            // A store named on the command line, with a configuration that may name another.
            let configured = Config::load(Some(file), None)
                .map(|c| c.db)
                .unwrap_or_default();
            if configured != ctx.config.db && !quiet {
                eprintln!(
                    "warning: {} names the store {}; this command used {} (given with --db or \
                     GATEHOUSE_DB), and the configuration was left as it is",
                    file.display(),
                    gatehouse_store::redact(&configured),
                    gatehouse_store::redact(&ctx.config.db)
                );
            }
        }
        Some(_) => {}
    }
    let store = Store::open(&ctx.config.db, &OpenOptions::create())?;
    let applied = store.migrations_applied();
    if applied.first().is_some_and(|m| m.version == 1) {
        if !quiet {
            println!("created the store at {}", store.location());
        }
        created = true;
    } else if !applied.is_empty() {
        if !quiet {
            print_migrations(&store);
        }
        created = true;
    }
    if ctx.config.private_key()?.is_none() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| anyhow::anyhow!("no randomness for the key: {e}"))?;
        let signer = NoteSigner::generate_from_seed(&origin, seed)?;
        write_private(&ctx.config.key_file, &format!("{}\n", signer.private_key()))?;
        std::fs::write(&ctx.config.public_key_file, format!("{}\n", signer.vkey()))
            .with_context(|| format!("cannot write `{}`", ctx.config.public_key_file.display()))?;
        if !quiet {
            println!(
                "created the ledger signing key {} (keep it secret) and its public key {}:\n  {}",
                ctx.config.key_file.display(),
                ctx.config.public_key_file.display(),
                signer.vkey()
            );
        }
        created = true;
    }
    if let Some((gitignore, lines)) = keep_out_of_git(&ctx.config)?
        && !quiet
    {
        println!(
            "added {} to {} (the signing key and the store stay out of git)",
            lines.join(", "),
            gitignore.display()
        );
    }
    Ok(created)
}

/// The folder the signing key is in: where `init` works.
fn key_folder(config: &Config) -> PathBuf {
    match config.key_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The SQLite store's file name, when the store is a SQLite file in the key's folder.
fn sqlite_in_folder(config: &Config) -> Option<String> {
    if config.db.contains("://") {
        return None;
    }
    let db = Path::new(&config.db);
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let parent = match db.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    if !same(&parent, &key_folder(config)) {
        return None;
    }
    db.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// Whether a folder is inside a git work tree.
fn in_git(folder: &Path) -> bool {
    std::fs::canonicalize(folder)
        .map(|f| f.ancestors().any(|a| a.join(".git").exists()))
        .unwrap_or(false)
}

/// Keeps the signing key, and a SQLite store beside it, out of version control: when the
/// key's folder is in a git work tree or has a `.gitignore`, that `.gitignore` gets the lines
/// naming them that it lacks. Returns the `.gitignore` and the lines added, if any were.
fn keep_out_of_git(config: &Config) -> Result<Option<(PathBuf, Vec<String>)>> {
    let gitignore = config.key_file.with_file_name(".gitignore");
    if !gitignore.exists() && !in_git(&key_folder(config)) {
        return Ok(None);
    }
    let mut wanted = Vec::new();
    if config.key_file.exists()
        && let Some(name) = config.key_file.file_name()
    {
        wanted.push(format!("/{}", name.to_string_lossy()));
    }
    if let Some(db) = sqlite_in_folder(config) {
        // The database and what SQLite and the import lock keep beside it.
        wanted.push(format!("/{db}"));
        wanted.push(format!("/{db}-*"));
    }
    let existing = match std::fs::read_to_string(&gitignore) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read `{}`", gitignore.display()));
        }
    };
    let present: Vec<&str> = existing.lines().map(str::trim).collect();
    let missing: Vec<String> = wanted
        .into_iter()
        .filter(|w| !present.contains(&w.as_str()))
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let mut text = String::new();
    if !existing.is_empty() && !existing.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(
        "# Gatehouse: the ledger's signing key and the store stay out of version control\n",
    );
    for line in &missing {
        text.push_str(line);
        text.push('\n');
    }
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&gitignore)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write `{}`", gitignore.display()))?;
    Ok(Some((gitignore, missing)))
}

/// Runs `gatehouse init`.
pub fn run(ctx: &Ctx, args: InitArgs) -> Result<ExitCode> {
    if !ensure(ctx, args.origin, false)? {
        println!(
            "already initialised: store {}, key {}",
            gatehouse_store::redact(&ctx.config.db),
            ctx.config.key_file.display()
        );
    } else {
        println!(
            "next: `gatehouse import hr people.csv`, then `gatehouse import system <folder>` (see docs/formats.md), or try `gatehouse demo`"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_migrations(store: &Store) {
    for m in store.migrations_applied() {
        println!(
            "migrated the store at {} to schema version {} ({})",
            store.location(),
            m.version,
            m.name
        );
    }
}

/// Runs `gatehouse migrate`.
pub fn migrate(ctx: &Ctx) -> Result<ExitCode> {
    let store = Store::open(&ctx.config.db, &OpenOptions::migrate())?;
    if store.migrations_applied().is_empty() {
        println!(
            "the store at {} is up to date (schema version {SCHEMA_VERSION})",
            store.location()
        );
    } else {
        print_migrations(&store);
    }
    Ok(ExitCode::SUCCESS)
}
