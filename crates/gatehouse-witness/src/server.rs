//! The witness server: `POST /add-checkpoint` (C2SP tlog-witness) and
//! `GET /checkpoint/<origin>`, which shows the latest checkpoint the witness
//! cosigned for a log, with its cosignature.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use gatehouse_ledger::witness::{
    ADD_CHECKPOINT_PATH, AddCheckpoint, LogState, Refusal, add_checkpoint, encode_cosignatures,
};
use gatehouse_ledger::{NoteVerifier, WitnessSigner, WitnessVerifier, merge_cosignatures};
use tokio::net::TcpListener;

use crate::StateError;
use crate::state::StateStore;

/// The largest request body accepted: a checkpoint with 100 signature
/// lines and 63 proof lines fits with room to spare.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The path of the read endpoint, followed by the origin.
pub const CHECKPOINT_PATH: &str = "/checkpoint/";

/// The witness's clock: seconds since the Unix epoch. A parameter, so that
/// tests control time and only the binary reads the system clock.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// One log the witness witnesses: its origin and the keys that sign its
/// checkpoints (usually one; two during a key rotation).
#[derive(Debug, Clone)]
pub struct WitnessedLog {
    /// The checkpoints' origin line.
    pub origin: String,
    /// The log's public keys.
    pub keys: Vec<NoteVerifier>,
}

/// What a witness is: its key, the logs it witnesses and its state file.
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    /// The witness's private key.
    pub signer: WitnessSigner,
    /// The logs it witnesses.
    pub logs: Vec<WitnessedLog>,
    /// Its state file, created beforehand with
    /// [`create_state_file`](crate::create_state_file).
    pub state: PathBuf,
}

/// An answer of the witness: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Reply {
    fn refused(refusal: &Refusal) -> Reply {
        Reply {
            status: refusal.status(),
            content_type: refusal.content_type(),
            body: refusal.body(),
        }
    }

    fn text(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

struct Log {
    keys: Vec<NoteVerifier>,
    /// Serialises the requests of this log from reading its state to
    /// persisting the new one.
    lock: tokio::sync::Mutex<()>,
}

struct Inner {
    signer: WitnessSigner,
    logs: HashMap<String, Log>,
    state: StateStore,
    clock: Clock,
}

/// A witness: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Witness {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("vkey", &self.inner.signer.vkey())
            .field("logs", &self.inner.logs.len())
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// Opens a witness: reads and locks its state file (which must exist).
    pub fn open(config: WitnessConfig, clock: Clock) -> Result<Witness, StateError> {
        let mut logs: HashMap<String, Log> = HashMap::new();
        for log in config.logs {
            if log.keys.is_empty() {
                return Err(StateError::Config(format!(
                    "log `{}` has no public key",
                    log.origin
                )));
            }
            let entry = logs.entry(log.origin).or_insert_with(|| Log {
                keys: Vec::new(),
                lock: tokio::sync::Mutex::new(()),
            });
            for key in log.keys {
                if !entry.keys.contains(&key) {
                    entry.keys.push(key);
                }
            }
        }
        let state = StateStore::open(&config.state)?;
        Ok(Witness {
            inner: Arc::new(Inner {
                signer: config.signer,
                logs,
                state,
                clock,
            }),
        })
    }

    /// The witness's public key.
    pub fn verifier(&self) -> WitnessVerifier {
        self.inner.signer.verifier()
    }

    /// The origins witnessed, sorted.
    pub fn origins(&self) -> Vec<String> {
        let mut o: Vec<String> = self.inner.logs.keys().cloned().collect();
        o.sort();
        o
    }

    /// The latest checkpoint cosigned for each log, as on disk.
    pub fn held(&self) -> BTreeMap<String, LogState> {
        self.inner.state.all()
    }

    /// Handles one `add-checkpoint` request body.
    pub async fn add_checkpoint(&self, body: &[u8]) -> Reply {
        let request = match AddCheckpoint::decode(body) {
            Ok(r) => r,
            Err(refusal) => {
                tracing::debug!(%refusal, "malformed add-checkpoint request");
                return Reply::refused(&refusal);
            }
        };
        let origin = request.origin().to_string();
        let inner = &self.inner;
        let Some(log) = inner.logs.get(&origin) else {
            let refusal = add_checkpoint(&request, None, None, &inner.signer, (inner.clock)())
                .err()
                .unwrap_or(Refusal::UnknownLog {
                    origin: origin.clone(),
                });
            tracing::debug!(%origin, %refusal, "add-checkpoint refused");
            return Reply::refused(&refusal);
        };
        let _serialised = log.lock.lock().await;
        let held = inner.state.get(&origin);
        let decision = add_checkpoint(
            &request,
            Some(&log.keys),
            held.as_ref(),
            &inner.signer,
            (inner.clock)(),
        );
        match decision {
            Ok((mut state, cosignature)) => {
                if let Ok(note) =
                    merge_cosignatures(&state.note, std::slice::from_ref(&cosignature))
                {
                    state.note = note;
                }
                let new_size = state.size;
                if let Err(e) = inner.state.commit(&origin, state).await {
                    tracing::error!(%origin, error = %e, "cannot persist the witness state; not cosigning");
                    return Reply::text(
                        500,
                        "the witness could not persist its state; try again later\n".to_string(),
                    );
                }
                tracing::info!(
                    %origin,
                    old = request.old_size,
                    size = new_size,
                    "cosigned"
                );
                Reply {
                    status: 200,
                    content_type: "text/plain; charset=utf-8",
                    body: encode_cosignatures(&[cosignature]),
                }
            }
            Err(refusal) => {
                match &refusal {
                    // A checkpoint signed by the log that conflicts with what
                    // the witness holds may be evidence of misbehaviour: keep
                    // it in the log.
                    Refusal::BadProof(_) => tracing::warn!(
                        %origin,
                        held = held.as_ref().map_or(0, |h| h.size),
                        %refusal,
                        request = %String::from_utf8_lossy(body),
                        "refused a checkpoint that does not extend the cosigned tree"
                    ),
                    // A 409 naming the size the log sent is a conflict of
                    // roots: another tree of the held size.
                    Refusal::Conflict { size } if request.old_size == *size => {
                        tracing::warn!(
                            %origin,
                            size,
                            request = %String::from_utf8_lossy(body),
                            "refused a checkpoint of the held size with another root"
                        );
                    }
                    _ => tracing::debug!(%origin, %refusal, "add-checkpoint refused"),
                }
                Reply::refused(&refusal)
            }
        }
    }

    /// The latest checkpoint cosigned for `origin`, with the witness's
    /// cosignature, or 404.
    pub fn checkpoint(&self, origin: &str) -> Reply {
        match self.inner.state.get(origin) {
            Some(state) => Reply::text(200, state.note),
            None => Reply::text(
                404,
                format!("no checkpoint of log `{origin}` has been cosigned here\n"),
            ),
        }
    }

    /// The HTTP routes: `POST /add-checkpoint` and `GET /checkpoint/<origin>`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(ADD_CHECKPOINT_PATH, post(add_checkpoint_route))
            .route("/checkpoint/{*origin}", get(checkpoint_route))
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let router = self.router();
        // Small requests and answers: without TCP_NODELAY, Nagle's algorithm
        // and delayed acknowledgements can hold an answer back for 40 ms.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

async fn add_checkpoint_route(State(witness): State<Witness>, body: Bytes) -> Reply {
    witness.add_checkpoint(&body).await
}

async fn checkpoint_route(
    State(witness): State<Witness>,
    UrlPath(origin): UrlPath<String>,
) -> Reply {
    witness.checkpoint(&origin)
}

/// Serves on `listener` until the process receives Ctrl-C (SIGINT) or
/// SIGTERM, on a runtime of `threads` worker threads; requests in flight
/// are finished first.
pub fn serve_until_signal(
    witness: Witness,
    listener: std::net::TcpListener,
    threads: usize,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("witness")
        .enable_all()
        .build()?;
    listener.set_nonblocking(true)?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        witness.serve(listener, shutdown_signal()).await
    })
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
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
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("stopping");
}

/// A witness serving on threads of its own, until stopped or dropped.
#[derive(Debug)]
pub struct RunningWitness {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl RunningWitness {
    /// Binds `addr` (port 0 picks a free port) and serves there on a
    /// runtime of `threads` worker threads.
    pub fn start(witness: Witness, addr: SocketAddr, threads: usize) -> io::Result<RunningWitness> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("witness")
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("witness {addr}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(std_listener)?;
                    witness
                        .serve(listener, async move {
                            let _ = stopped.await;
                        })
                        .await
                })
            })?;
        Ok(RunningWitness {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its submission URL, `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving (open connections finish their request) and waits.
    pub fn stop(mut self) -> io::Result<()> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the witness thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for RunningWitness {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}
