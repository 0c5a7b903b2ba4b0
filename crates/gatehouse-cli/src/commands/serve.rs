//! `gatehouse serve`: the web UI and JSON API. A thin command: it opens (and migrates) the
//! store, builds the server's settings from the configuration, and runs it until Ctrl-C or
//! SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use gatehouse_ledger::NoteVerifier;
use gatehouse_server::{App, ManualClock, OidcSettings, ServerConfig, TlsFiles};
use gatehouse_store::{OpenOptions, Store};

use crate::commands::analysis::load_policy;
use crate::context::Ctx;

/// The address the server listens on unless configured otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Arguments of `gatehouse serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (default `[server] listen`, else 127.0.0.1:8080; port 0 picks a
    /// free port, printed at start).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// Runs `gatehouse serve`.
pub fn run(ctx: &Ctx, args: ServeArgs) -> Result<ExitCode> {
    let s = &ctx.config.server;
    let listen = match args.listen.or(s.listen) {
        Some(a) => a,
        None => DEFAULT_LISTEN.parse()?,
    };
    let store = Store::open(&ctx.config.db, &OpenOptions::migrate().for_questions())?;
    for m in store.migrations_applied() {
        eprintln!(
            "migrated the store to schema version {} ({})",
            m.version, m.name
        );
    }
    let loaded = load_policy(ctx)?;
    let trusted_key = match std::fs::read_to_string(&ctx.config.public_key_file) {
        Ok(text) => Some(NoteVerifier::from_vkey(text.trim()).with_context(|| {
            format!(
                "`{}` is not a public key",
                ctx.config.public_key_file.display()
            )
        })?),
        Err(_) => None,
    };
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let mut config = ServerConfig::new(listen);
    config.tls = match (&s.tls_cert, &s.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    if let Some(v) = s.secure_cookies {
        config.secure_cookies = v;
    }
    config.trust_forwarded = s.trust_forwarded.unwrap_or(false);
    if let Some(v) = s.checkpoint_interval {
        config.checkpoint_interval = Some(Duration::from_secs(v.max(1)));
    }
    if let Some(v) = s.session_idle {
        config.session_idle = minutes(v.max(1));
    }
    if let Some(v) = s.session_lifetime {
        config.session_lifetime = minutes(v.max(1) * 60);
    }
    if let Some(v) = s.fresh_second_factor {
        config.fresh_second_factor = minutes(v);
    }
    if let Some(v) = s.sign_in_attempts {
        config.sign_in_attempts = v;
    }
    if let Some(v) = s.sign_in_window {
        config.sign_in_window = minutes(v.max(1));
    }
    config.signer = ctx.signer()?;
    config.trusted_key = trusted_key;
    config.witnesses = ctx.witnesses()?.clone();
    config.publish_dir = ctx.config.publish_dir.clone();
    config.policy = loaded.policy;
    config.sod = loaded.sod;
    config.reviews = crate::commands::campaign::load_review_policy(ctx)?;
    config.notify = crate::commands::notify::settings(ctx)?;
    if let (Some(issuer), Some(client_id), Some(secret_file), Some(redirect_url)) = (
        &s.oidc_issuer,
        &s.oidc_client_id,
        &s.oidc_client_secret_file,
        &s.oidc_redirect_url,
    ) {
        let secret = std::fs::read_to_string(secret_file).with_context(|| {
            format!(
                "cannot read the OpenID Connect client secret `{}`",
                secret_file.display()
            )
        })?;
        let secret = secret.trim();
        if secret.is_empty() {
            anyhow::bail!(
                "the OpenID Connect client secret file `{}` is empty",
                secret_file.display()
            );
        }
        config.oidc = Some(OidcSettings {
            issuer: issuer.clone(),
            client_id: client_id.clone(),
            client_secret: secret.to_owned(),
            redirect_url: redirect_url.clone(),
            label: s
                .oidc_label
                .clone()
                .unwrap_or_else(|| "your identity provider".into()),
        });
    }
    if let Some(origin) = &ctx.config.origin {
        config.totp_issuer = format!("Gatehouse ({origin})");
    }
    if config.signer.is_none() {
        eprintln!(
            "warning: no ledger key (looked for `{}`): the server records events but signs no checkpoints",
            ctx.config.key_file.display()
        );
    }
    let tls = config.tls.is_some();
    // GATEHOUSE_NOW pins the server's clock too (reproducible runs); otherwise the system
    // clock, read per request.
    let clock = if std::env::var_os("GATEHOUSE_NOW").is_some() {
        ManualClock::new(ctx.now).clock()
    } else {
        gatehouse_server::system_clock()
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .init();
    let app = App::new(store, config, clock);
    let runtime = gatehouse_server::runtime().context("cannot start the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        println!(
            "gatehouse serving {}://{addr}/ (API: /api/openapi.json; Ctrl-C stops)",
            if tls { "https" } else { "http" }
        );
        use std::io::Write as _;
        std::io::stdout().flush()?;
        gatehouse_server::serve(app, listener, gatehouse_server::shutdown_signal())
            .await
            .context("the server failed")
    })?;
    println!("gatehouse server stopped");
    Ok(ExitCode::SUCCESS)
}
