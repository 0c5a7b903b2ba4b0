//! A private PostgreSQL server for tests, started from the installed binaries (`initdb`,
//! `pg_ctl`). One server per test process; each caller gets a fresh database. The server is
//! stopped and its files removed when the test process exits. If it cannot start, callers
//! panic with the reason: a test that needs PostgreSQL never skips silently.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

struct Server {
    port: u16,
    /// The socket folder, for administrative connections that TCP rules may refuse.
    sock: PathBuf,
    /// With TLS: the CA that signed the server's certificate, and a CA that did not.
    tls: Option<(PathBuf, PathBuf)>,
}

/// Which private server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// For tests: no fsync.
    Fast,
    /// PostgreSQL's default durability, for benchmarks.
    Durable,
    /// For tests of encrypted connections: TLS on, and TCP connections without it refused.
    Tls,
}

/// The test server (no fsync: tests do not need durability) and, when asked for, a durable
/// one (every commit waits for the disk, as in production) for benchmarks.
static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static DURABLE: OnceLock<Result<Server, String>> = OnceLock::new();
static TLS: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if p.join("initdb").exists() {
            return Ok(p);
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    candidates
        .into_iter()
        .rev()
        .find(|p| p.join("initdb").exists())
        .ok_or_else(|| {
            "PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/setup to install them".into()
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL binary, as the `postgres` user when we are root (initdb refuses root).
fn run(bin: &Path, args: &[&str], root: bool) -> Result<(), String> {
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed: {}{}",
            bin.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Writes a file (private when it is a key) and hands it to the server's user when we are
/// root.
fn write_for_server(path: &Path, content: &str, private: bool, root: bool) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if private {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    }
    if root {
        let out = Command::new("chown")
            .arg("postgres:postgres")
            .arg(path)
            .output()
            .map_err(|e| format!("chown: {e}"))?;
        if !out.status.success() {
            return Err(format!("cannot hand {} to postgres", path.display()));
        }
    }
    Ok(())
}

/// A CA, a server certificate it signs for `localhost` and 127.0.0.1, and an unrelated CA;
/// returns the server options that use them, and the two CA files.
fn certificates(base: &Path, root: bool) -> Result<(String, PathBuf, PathBuf), String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let err = |e: rcgen::Error| format!("cannot make test certificates: {e}");
    let ca = |name: &str| -> Result<(CertificateParams, KeyPair, String), String> {
        let key = KeyPair::generate().map_err(err)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).map_err(err)?.pem();
        Ok((params, key, pem))
    };
    let (ca_params, ca_key, ca_pem) = ca("Gatehouse test CA")?;
    let (_, _, other_pem) = ca("Another CA")?;
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_pem = params.signed_by(&server_key, &issuer).map_err(err)?.pem();
    let (cert, key) = (base.join("server.crt"), base.join("server.key"));
    let (ca_file, other_file) = (base.join("ca.pem"), base.join("other-ca.pem"));
    write_for_server(&cert, &server_pem, false, root)?;
    write_for_server(&key, &server_key.serialize_pem(), true, root)?;
    write_for_server(&ca_file, &ca_pem, false, root)?;
    write_for_server(&other_file, &other_pem, false, root)?;
    let opts = format!(
        " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        cert.display(),
        key.display()
    );
    Ok((opts, ca_file, other_file))
}

fn start(kind: Kind) -> Result<Server, String> {
    let bin = bin_dir()?;
    let root = is_root();
    let base = std::env::temp_dir().join(format!(
        "gatehouse-pg-{}{}",
        std::process::id(),
        match kind {
            Kind::Fast => "",
            Kind::Durable => "-durable",
            Kind::Tls => "-tls",
        }
    ));
    let data = base.join("data");
    let sock = base.join("sock");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&sock).map_err(|e| format!("cannot create {}: {e}", sock.display()))?;
    if root {
        let out = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&base)
            .output()
            .map_err(|e| format!("chown: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot hand {} to the postgres user: {}",
                base.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let data_s = data.to_string_lossy().into_owned();
    run(
        &bin.join("initdb"),
        &[
            "-D",
            &data_s,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ],
        root,
    )?;
    let mut opts = if kind == Kind::Durable {
        format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=100",
            sock.display()
        )
    } else {
        format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=100",
            sock.display()
        )
    };
    let mut tls = None;
    if kind == Kind::Tls {
        let (extra, ca, other) = certificates(&base, root)?;
        opts.push_str(&extra);
        // Sockets for administration; over TCP, TLS or nothing.
        write_for_server(
            &data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
            true,
            root,
        )?;
        tls = Some((ca, other));
    }
    let log = base.join("server.log").to_string_lossy().into_owned();
    run(
        &bin.join("pg_ctl"),
        &[
            "-D", &data_s, "-o", &opts, "-l", &log, "-w", "-t", "60", "start",
        ],
        root,
    )?;
    // Stop the server and remove its files once this process has gone.
    let stop = if root {
        format!(
            "runuser -u postgres -- {} -D {data_s} -m immediate stop",
            bin.join("pg_ctl").display()
        )
    } else {
        format!(
            "{} -D {data_s} -m immediate stop",
            bin.join("pg_ctl").display()
        )
    };
    let reaper = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {base}",
        pid = std::process::id(),
        base = base.display()
    );
    Command::new("sh")
        .args(["-c", &reaper])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the cleanup watcher: {e}"))?;
    Ok(Server { port, sock, tls })
}

/// The URL of a new, empty database on the private test server. Panics if the server cannot
/// be started.
pub fn postgres_url() -> String {
    new_database(&SERVER, Kind::Fast).0
}

/// The URL of a new, empty database on a private server with PostgreSQL's default durability
/// (fsync, synchronous commit, full-page writes), for benchmarks. Panics if it cannot start.
pub fn durable_postgres_url() -> String {
    new_database(&DURABLE, Kind::Durable).0
}

/// A new, empty database on a private server that takes TCP connections over TLS only.
pub struct TlsDatabase {
    /// `postgres://postgres@127.0.0.1:<port>/<db>`, without TLS parameters.
    pub url: String,
    /// The server's port.
    pub port: u16,
    /// The database's name.
    pub name: String,
    /// The PEM file of the CA that signed the server's certificate (for `localhost` and
    /// 127.0.0.1).
    pub ca_file: PathBuf,
    /// The PEM file of a CA that did not.
    pub other_ca_file: PathBuf,
}

/// A new database on the private TLS server. Panics if it cannot start.
pub fn tls_database() -> TlsDatabase {
    let (url, server, name) = new_database(&TLS, Kind::Tls);
    let Some((ca, other)) = &server.tls else {
        unreachable!("the TLS server has certificates")
    };
    TlsDatabase {
        url,
        port: server.port,
        name,
        ca_file: ca.clone(),
        other_ca_file: other.clone(),
    }
}

fn new_database(cell: &OnceLock<Result<Server, String>>, kind: Kind) -> (String, &Server, String) {
    let server = match cell.get_or_init(|| start(kind)) {
        Ok(s) => s,
        Err(e) => panic!("cannot start the test PostgreSQL server: {e}"),
    };
    let n = NEXT_DB.fetch_add(1, Ordering::SeqCst);
    let name = format!("t{}_{n}", std::process::id());
    let mut client = match postgres::Config::new()
        .host_path(&server.sock)
        .port(server.port)
        .user("postgres")
        .dbname("postgres")
        .connect(postgres::NoTls)
    {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to the test PostgreSQL server: {e}"),
    };
    if let Err(e) = client.batch_execute(&format!("CREATE DATABASE {name}")) {
        panic!("cannot create test database: {e}");
    }
    (
        format!("postgres://postgres@127.0.0.1:{}/{name}", server.port),
        server,
        name,
    )
}

pub use crate::conn::Value;

/// Runs raw SQL against a store outside any event, as someone with access to the database
/// could: how the tests change rows behind the ledger's back. Returns the rows changed.
pub fn execute(store: &crate::Store, sql: &str, params: &[Value]) -> u64 {
    let result = store.maintain(|conn| conn.exec(sql, params));
    match result {
        Ok(n) => n,
        Err(e) => panic!("test SQL `{sql}` failed: {e}"),
    }
}

/// Runs statements without parameters outside any event (schema changes in tests).
pub fn batch(store: &crate::Store, sql: &str) {
    if let Err(e) = store.maintain(|conn| conn.batch(sql)) {
        panic!("test SQL `{sql}` failed: {e}");
    }
}

/// The rows of a query, every column as a [`Value`].
pub fn rows(store: &crate::Store, sql: &str, params: &[Value]) -> Vec<Vec<Value>> {
    let result = store.read(|r| {
        r.conn.query(sql, params, |row| {
            let mut out = Vec::new();
            let mut i = 0;
            while let Ok(v) = row.value(i) {
                out.push(v);
                i += 1;
            }
            Ok(out)
        })
    });
    match result {
        Ok(rows) => rows,
        Err(e) => panic!("test SQL `{sql}` failed: {e}"),
    }
}

/// Statements prepared on the store's connections now, summed (PostgreSQL).
pub fn prepared_statements(store: &crate::Store) -> usize {
    store
        .read(|r| Ok::<_, crate::StoreError>(r.conn.prepared()))
        .unwrap_or(0)
}

/// The most statements a PostgreSQL connection keeps prepared.
pub const STATEMENT_CAPACITY: usize = crate::conn::Statements::CAPACITY;

/// Connections the store's pool holds open.
pub fn open_connections(store: &crate::Store) -> usize {
    store.shared.pool.open()
}

/// Writers of this store's handle (and its clones) waiting in the queue now: for tests that
/// hold a write open until others have queued behind it, so that they form one group.
pub fn waiting_writers(store: &crate::Store) -> usize {
    store.shared.writers.waiting()
}

/// Runs a statement that the database refuses (a table that does not exist), inside a write,
/// after flushing what the write has buffered: a write that fails in the database, not in
/// Gatehouse's own checks (on PostgreSQL, such an error spoils the transaction until it is
/// rolled back to a savepoint).
pub fn fail_in_database(w: &mut crate::Writer<'_>) -> Result<(), crate::StoreError> {
    w.db()?.batch("INSERT INTO no_such_table (x) VALUES (1)")
}

/// Writes the Merkle tree of `leaves` leaves (leaf `i` hashing `i` as 8 big-endian bytes)
/// straight into the store's tile table, without events: for benchmarks of proofs in very large
/// trees. Returns the root.
pub fn write_tree(
    store: &crate::Store,
    leaves: u64,
) -> Result<gatehouse_ledger::Hash, crate::StoreError> {
    use gatehouse_ledger::{Appender, leaf_hash};
    store.maintain(|conn| {
        let mut app = Appender::new();
        for i in 0..leaves {
            app.push(leaf_hash(&i.to_be_bytes()));
            if i % 1_000_000 == 999_999 || i + 1 == leaves {
                crate::writer::write_tiles(conn, &mut app)?;
            }
        }
        Ok(app.root())
    })
}

/// The inclusion proof of leaf `index` in a tree of `size` leaves from the stored tiles,
/// without checking the tree against the log (see [`write_tree`]).
pub fn tile_inclusion_proof(
    store: &crate::Store,
    index: u64,
    size: u64,
) -> Result<gatehouse_ledger::InclusionProof, crate::StoreError> {
    store.read(|r| {
        gatehouse_ledger::inclusion_proof(&mut crate::writer::DbTiles(r.conn), index, size)
    })
}

/// A copy of a database of the private PostgreSQL server (`CREATE DATABASE … TEMPLATE …`),
/// for benchmarks that start several runs from one state. Nothing may be connected to it.
pub fn copy_postgres_database(url: &str) -> String {
    let (base, name) = match url.rsplit_once('/') {
        Some(parts) => parts,
        None => panic!("`{url}` is not a database URL"),
    };
    let n = NEXT_DB.fetch_add(1, Ordering::SeqCst);
    let copy = format!("{name}_copy{n}");
    let mut client = match postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls) {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to the PostgreSQL server: {e}"),
    };
    if let Err(e) = client.batch_execute(&format!("CREATE DATABASE {copy} TEMPLATE {name}")) {
        panic!("cannot copy the database: {e}");
    }
    format!("{base}/{copy}")
}

/// Rolls the store back to its first `size` events the way someone with access to the database
/// (and not to the ledger's code) could: deletes the later events and checkpoints, and replaces
/// the tree's tiles and every state table with what the first `size` events give (replayed into
/// a scratch store and copied back), all with plain SQL outside any event. The store then
/// verifies on its own, with the checkpoints it kept; only a checkpoint held elsewhere (by a
/// witness, or published) shows what was removed.
pub fn roll_back(store: &crate::Store, size: u64) {
    let tables: Vec<&str> = crate::domain::state_tables().map(|t| t.name).collect();
    let result = (|| -> Result<(), crate::StoreError> {
        store.maintain(|conn| {
            match conn.backend() {
                // Every table in one statement, so that foreign keys between them allow it.
                crate::Backend::Postgres => {
                    conn.batch(&format!("TRUNCATE {}", tables.join(", ")))?
                }
                crate::Backend::Sqlite => {
                    for t in tables.iter().rev() {
                        conn.exec(&format!("DELETE FROM {t}"), &[])?;
                    }
                }
            }
            let size = Value::Int(size as i64);
            conn.exec(
                "DELETE FROM event WHERE seq > $1",
                std::slice::from_ref(&size),
            )?;
            conn.exec("DELETE FROM checkpoint WHERE size > $1", &[size])?;
            Ok(())
        })?;
        let rebuilt = store.rebuilt()?;
        let mut copies = Vec::new();
        for t in &tables {
            let (columns, rows) = rebuilt.read(|r| {
                let columns = crate::ledger::columns_of(r.conn, t)?;
                let n = columns.len();
                let rows = r.conn.query(
                    &format!("SELECT {} FROM {t}", columns.join(", ")),
                    &[],
                    |row| (0..n).map(|i| row.value(i)).collect(),
                )?;
                Ok::<_, crate::StoreError>((columns, rows))
            })?;
            copies.push((*t, columns, rows));
        }
        store.maintain(|conn| {
            for (t, columns, rows) in &copies {
                if !rows.is_empty() {
                    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                    conn.insert_rows(t, &columns, rows)?;
                }
            }
            Ok(())
        })
    })();
    if let Err(e) = result {
        panic!("rolling the store back to {size} events failed: {e}");
    }
}
