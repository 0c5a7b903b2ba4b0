//! The Gatehouse web server: the JSON API, the server-rendered web UI, sign-in and the
//! scheduler.
//!
//! [`App::new`] takes an open [`Store`], a [`ServerConfig`] and a [`Clock`]; [`App::router`]
//! is the whole HTTP surface (what the tests drive), and [`serve`] runs it on a listener, with
//! TLS when configured, until a shutdown signal, with the [`scheduler`] beside it.
//!
//! **Architecture invariant**: the clock is read in one place, the request middleware (and the
//! scheduler's tick), through the [`Clock`] the binary hands in; every handler takes the
//! request's `now`. **Architecture invariant**: authorization is decided in [`auth::policy`]
//! and checked by every route; a refusal is an event in the ledger.
//! **API boundary**: no SQL here; everything goes through the store's domain methods and the
//! workflow crate.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
mod clock;
mod config;
mod error;
mod metrics;
mod middleware;
mod routes;
pub mod scheduler;
mod svg;
mod tar;
pub mod tls;
mod views;

use std::sync::Arc;

pub use clock::{Clock, ManualClock, system_clock};
pub use config::{OidcSettings, ServerConfig, TlsFiles};
pub use error::{WebError, WebResult};

use gatehouse_store::Store;

/// Everything a request handler may reach: the store, the configuration, the clock, the
/// sessions, the sign-in limiter and the metrics. Cheap to clone.
#[derive(Clone)]
pub struct App(Arc<Inner>);

/// What [`App`] shares.
pub struct Inner {
    /// The store.
    pub store: Store,
    /// The configuration.
    pub config: ServerConfig,
    clock: Clock,
    sessions: auth::session::Sessions,
    /// Signed-in users' records, read recently.
    users: auth::known::KnownUsers,
    limiter: auth::limiter::Limiter,
    metrics: metrics::Metrics,
    totp_used: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    /// Woken after every change, so that the scheduler seals soon.
    changed: tokio::sync::Notify,
    /// When the scheduler last ran the review schedule.
    reviews_ran: std::sync::Mutex<Option<gatehouse_model::Timestamp>>,
    /// The OpenID Connect provider's metadata and signing keys, and when they were fetched.
    oidc_metadata: std::sync::Mutex<
        Option<(
            std::time::Instant,
            openidconnect::core::CoreProviderMetadata,
        )>,
    >,
}

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl App {
    /// The application over an open store.
    pub fn new(store: Store, config: ServerConfig, clock: Clock) -> App {
        App(Arc::new(Inner {
            store,
            sessions: auth::session::Sessions::new(config.session_idle, config.session_lifetime),
            users: auth::known::KnownUsers::default(),
            limiter: auth::limiter::Limiter::new(config.sign_in_attempts, config.sign_in_window),
            config,
            clock,
            metrics: metrics::Metrics::default(),
            totp_used: Default::default(),
            changed: tokio::sync::Notify::new(),
            reviews_ran: std::sync::Mutex::new(None),
            oidc_metadata: std::sync::Mutex::new(None),
        }))
    }

    /// The current time, read from the clock (the middleware and the scheduler call this once
    /// per request or tick; everything else takes `now`).
    pub(crate) fn read_clock(&self) -> gatehouse_model::Timestamp {
        (self.clock)()
    }

    /// Tells the scheduler that something changed.
    pub(crate) fn changed(&self) {
        self.changed.notify_one();
    }

    /// The whole HTTP surface: pages, the JSON API, health, metrics and assets, wrapped in the
    /// request middleware (request ids, logs, metrics, security headers, the clock).
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }
}

/// Threads the server's runtime keeps for blocking work: the store's questions and writes
/// (which share a pool of 16 connections) and password hashing. Requests beyond them wait in
/// the runtime's queue, first come first served, instead of fifty threads taking turns on the
/// cores: with the default (512), the inbox benchmark's slowest hundredth took 133–147 ms at
/// 50 users; with 16, 69 ms at the same rate (docs/PERFORMANCE.md).
pub const BLOCKING_THREADS: usize = 16;

/// The runtime `gatehouse serve` runs on (and the server benchmark, so that it measures the
/// same): one worker per core, and [`BLOCKING_THREADS`] for blocking work.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
}

/// Runs the server on `listener` until `shutdown` completes, then lets open requests finish.
/// With TLS configured, connections are served over rustls. The scheduler runs beside it.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app.router();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(scheduler::run(app.clone(), stop_rx));
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let service = router.into_make_service_with_connect_info::<tls::PeerAddr>();
    let served = match &app.config.tls {
        Some(files) => {
            let acceptor = tls::acceptor(files)?;
            axum::serve(tls::TlsListener::new(listener, acceptor), service)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => {
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown)
                .await
        }
    };
    let _ = scheduler.await;
    served
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: no new connections; open requests finish");
}
