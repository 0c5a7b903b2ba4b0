//! The web server under load, on loopback: a store with the generated organisation, the
//! server in this process, and a load generator of N keep-alive HTTP/1.1 connections (a small
//! client written here, so that the figures measure the server and not a library). Reports
//! requests per second and latency percentiles per endpoint, then runs a mixed soak and
//! samples the process's resident memory.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gatehouse_demo::{DemoConfig, Generator};
use gatehouse_model::{CredentialKind, FindingStatus, UserRecord, UserRole};
use gatehouse_server::auth::{password, totp};
use gatehouse_server::{App, ServerConfig};
use gatehouse_store::findings::FindingFilter;
use gatehouse_store::{OpenOptions, Store};
use gatehouse_workflow::ImportSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::today;

/// What a load generator's connection sends as its `n`th request: method, path, form.
pub(crate) type Request = Arc<dyn Fn(u64) -> (String, String, Option<String>) + Send + Sync>;

/// One keep-alive connection.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A response: status, headers (lowercased names) and body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Conn {
    pub(crate) async fn open(addr: std::net::SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    pub(crate) async fn send(
        &mut self,
        method: &str,
        path: &str,
        cookie: &str,
        form: Option<&str>,
    ) -> Result<Reply> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        if !cookie.is_empty() {
            req.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if let Some(f) = form {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{f}",
                f.len()
            ));
        } else {
            req.push_str("\r\n");
        }
        self.stream.write_all(req.as_bytes()).await?;
        self.buf.clear();
        let header_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..header_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .context("no status line")?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .context("no content-length")?;
        while self.buf.len() < header_end + len {
            let mut chunk = [0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("the server closed the connection mid-body");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(Reply {
            status,
            headers,
            body: self.buf[header_end..header_end + len].to_vec(),
        })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn cookie_of(r: &Reply) -> Option<String> {
    r.headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap_or("").to_owned())
        .find(|c| c.contains("gatehouse_session=") && !c.ends_with('='))
}

pub(crate) fn csrf_of(r: &Reply) -> Result<String> {
    let body = String::from_utf8_lossy(&r.body);
    let marker = "name=\"csrf-token\" content=\"";
    let start = body.find(marker).context("no csrf token")? + marker.len();
    Ok(body[start..].split('"').next().unwrap_or("").to_owned())
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// One endpoint under load: `concurrency` connections for `seconds`.
pub(crate) async fn load(
    addr: std::net::SocketAddr,
    name: &str,
    request: Request,
    cookie: &str,
    concurrency: usize,
    seconds: u64,
) -> Result<(f64, f64, f64)> {
    load_at_most(addr, name, request, cookie, concurrency, seconds, u64::MAX).await
}

/// [`load`], sending at most `limit` requests (a request that can be sent once, such as a
/// decision on one item): the rate is measured over the time they took.
pub(crate) async fn load_at_most(
    addr: std::net::SocketAddr,
    name: &str,
    request: Request,
    cookie: &str,
    concurrency: usize,
    seconds: u64,
    limit: u64,
) -> Result<(f64, f64, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let started = Instant::now();
    for _ in 0..concurrency {
        let (stop, errors, counter, request) = (
            stop.clone(),
            errors.clone(),
            counter.clone(),
            request.clone(),
        );
        let cookie = cookie.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut conn = Conn::open(addr).await?;
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if n >= limit {
                    break;
                }
                let (method, path, form) = request(n);
                let t = Instant::now();
                let r = conn.send(&method, &path, &cookie, form.as_deref()).await?;
                latencies.push(t.elapsed());
                if r.status >= 400 && errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!(
                        "  first failure: {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    );
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let deadline = started + Duration::from_secs(seconds);
    while Instant::now() < deadline && counter.load(Ordering::Relaxed) < limit {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let took = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let rps = all.len() as f64 / took;
    let errs = errors.load(Ordering::Relaxed);
    println!(
        "  {name:<44} {rps:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests, {errs} errors, {concurrency} connections)",
        pct(0.5),
        pct(0.99),
        all.len()
    );
    if errs > 0 {
        bail!("{name}: {errs} requests failed");
    }
    Ok((rps, pct(0.5), pct(0.99)))
}

/// How many writes each commit carried between two readings of the store's counters.
fn grouped(before: gatehouse_store::CommitStats, after: gatehouse_store::CommitStats) {
    let (writes, commits) = (after.writes - before.writes, after.commits - before.commits);
    println!(
        "  {writes} writes in {commits} commits: {:.1} writes per commit (largest group {})",
        writes as f64 / commits.max(1) as f64,
        after.largest
    );
}

/// The store's part of the pages under load, one question at a time (median of 21 runs), to
/// tell the store's time from the server's.
fn probe(
    store: &Store,
    key: &gatehouse_model::IdentityKey,
    entitlement: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    let identity = key.as_str();
    use gatehouse_store::inventory::query::{HolderPage, ObjectKind};
    fn median(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
        let mut times = Vec::new();
        for _ in 0..21 {
            let t = Instant::now();
            f()?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        Ok(times[times.len() / 2])
    }
    let rows: Vec<(&str, f64)> = vec![
        (
            "period and interrupted imports (every page)",
            median(|| {
                store.read(|r| {
                    Ok::<_, anyhow::Error>((r.recorded_period()?, r.incomplete_imports()?))
                })?;
                Ok(())
            })?,
        ),
        (
            "identity: resolve and access",
            median(|| {
                store.read(|r| {
                    let i = r.resolve_identity(identity, now)?;
                    Ok::<_, anyhow::Error>(r.access(i, now)?)
                })?;
                Ok(())
            })?,
        ),
        (
            "identity: findings",
            median(|| {
                store.read(|r| {
                    Ok::<_, anyhow::Error>(r.findings(&FindingFilter {
                        identity: Some(identity.to_owned()),
                        ..FindingFilter::default()
                    })?)
                })?;
                Ok(())
            })?,
        ),
        (
            "identity: history",
            median(|| {
                store
                    .read(|r| Ok::<_, anyhow::Error>(r.history(ObjectKind::Identity, identity)?))?;
                Ok(())
            })?,
        ),
        (
            "identity: grant timeline",
            median(|| {
                store.read(|r| Ok::<_, anyhow::Error>(r.grant_timeline(key, 500)?))?;
                Ok(())
            })?,
        ),
        (
            "who-has: first page of 100",
            median(|| {
                store.read(|r| {
                    let e = r.resolve_entitlement(entitlement)?;
                    Ok::<_, anyhow::Error>(r.who_has(
                        &e,
                        now,
                        &HolderPage {
                            after: None,
                            limit: Some(100),
                        },
                    )?)
                })?;
                Ok(())
            })?,
        ),
    ];
    println!("the store's part, one at a time (median of 21):");
    for (what, ms) in rows {
        println!("  {what:<44} {ms:>8.2} ms");
    }
    Ok(())
}

/// Runs the benchmark.
pub fn bench_server(
    people: usize,
    seed: u64,
    work: &Path,
    reuse: bool,
    concurrency: usize,
    seconds: u64,
    soak: u64,
) -> Result<()> {
    std::fs::create_dir_all(work)?;
    let db = work.join("server.db").display().to_string();
    let now = gatehouse_server::system_clock()();
    if !(reuse && Path::new(&db).exists()) {
        for suffix in ["", "-wal", "-shm", "-import.lock"] {
            let _ = std::fs::remove_file(format!("{db}{suffix}"));
        }
        let store = Store::open(&db, &OpenOptions::create())?;
        let snap = work.join("snapshot");
        let _ = std::fs::remove_dir_all(&snap);
        std::fs::create_dir_all(&snap)?;
        let mut generator = Generator::new(DemoConfig {
            people,
            seed,
            today: today(),
            months: 2,
        })?;
        let t = Instant::now();
        while let Some(as_of) = generator.write_next_snapshot(&snap)? {
            let settings = ImportSettings {
                as_of: Some(as_of),
                skip_invalid: false,
                allow_mass_removal: false,
                reread: false,
            };
            gatehouse_workflow::import_folder(
                &store,
                &snap,
                &settings,
                "bench:server",
                now,
                None,
                |_, _| {},
            )?;
        }
        let policy = gatehouse_analysis::Policy::default();
        let sod = gatehouse_analysis::Ruleset::default();
        gatehouse_workflow::analyze(&store, &policy, &sod, "bench:server", now)?;
        println!(
            "built {people} people in {:.0} s",
            t.elapsed().as_secs_f64()
        );
    }
    let store = Store::open(&db, &OpenOptions::migrate().for_questions())?;
    let seed_b32 = totp::new_secret();
    let phc = password::hash("bench password 123").map_err(anyhow::Error::msg)?;
    let user = format!("bench{}", now.as_second());
    store.write("bench:server", now, |w| {
        w.add_user(UserRecord {
            name: user.clone(),
            role: UserRole::Admin,
            identity: None,
            email: None,
            oidc_subject: None,
            disabled: false,
        })?;
        w.set_credential(&user, CredentialKind::Password, Some(&phc), false)?;
        w.set_credential(&user, CredentialKind::Totp, Some(&seed_b32), false)
    })?;
    let (identity, entitlement, finding) = store.read(|r| {
        let identity = r
            .identities()?
            .into_iter()
            .nth(1)
            .context("no identity")?
            .key;
        let entitlement = r
            .entitlements(None)?
            .into_iter()
            .max_by_key(|e| e.holders)
            .map(|e| format!("{}:{}", e.system, e.native_id))
            .context("no entitlement")?;
        let finding = r
            .findings(&FindingFilter {
                status: vec![FindingStatus::Open],
                ..FindingFilter::default()
            })?
            .first()
            .map(|f| f.finding.id.clone())
            .context("no open finding")?;
        Ok::<_, anyhow::Error>((identity, entitlement, finding))
    })?;
    probe(&store, &identity, &entitlement, now)?;
    let reviews = crate::inbox::prepare(&store, now)?;
    let mut config = ServerConfig::new("127.0.0.1:0".parse()?);
    config.reviews = reviews.policy.clone();
    config.secure_cookies = false;
    config.fresh_second_factor = Duration::from_secs(24 * 3600);
    config.checkpoint_interval = None;
    let counted = store.clone();
    let app = App::new(store, config, gatehouse_server::system_clock());
    // The server's own runtime (the load generator shares it, as before).
    let runtime = gatehouse_server::runtime()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(gatehouse_server::serve(app, listener, async {
            let _ = stopped.await;
        }));
        // Sign in as a browser does.
        let mut c = Conn::open(addr).await?;
        let page = c.send("GET", "/login", "", None).await?;
        let mut cookie = cookie_of(&page).context("no session cookie")?;
        let csrf = csrf_of(&page)?;
        let r = c.send("POST", "/login", &cookie, Some(&format!("csrf={csrf}&username={user}&password=bench+password+123"))).await?;
        cookie = cookie_of(&r).context("no rotated cookie")?;
        let page = c.send("GET", "/login/totp", &cookie, None).await?;
        let csrf = csrf_of(&page)?;
        let code = totp::code_at(&seed_b32, gatehouse_server::system_clock()()).context("no code")?;
        let r = c.send("POST", "/login/totp", &cookie, Some(&format!("csrf={csrf}&code={code}"))).await?;
        if r.status != 303 {
            bail!("sign-in failed: {} {}", r.status, r.header("location").unwrap_or(""));
        }
        cookie = cookie_of(&r).context("no signed-in cookie")?;
        let page = c.send("GET", "/me/tokens", &cookie, None).await?;
        let csrf = csrf_of(&page)?;
        println!("server on {addr}; {concurrency} connections, {seconds} s per endpoint");
        let fixed = |m: &str, p: String| -> Arc<dyn Fn(u64) -> (String, String, Option<String>) + Send + Sync> {
            let m = m.to_owned();
            Arc::new(move |_| (m.clone(), p.clone(), None))
        };
        let health = load(addr, "GET /healthz", fixed("GET", "/healthz".into()), "", concurrency, seconds).await?;
        load(addr, "GET /identities/{key} (page)", fixed("GET", format!("/identities/{identity}")), &cookie, concurrency, seconds).await?;
        load(addr, "GET /who-has (largest entitlement, page)", fixed("GET", format!("/who-has?entitlement={}", entitlement.replace('/', "%2F").replace(':', "%3A"))), &cookie, concurrency, seconds).await?;
        // A form POST that records one ledger event per request (accepting a risk again).
        let (f, k) = (finding.clone(), csrf.clone());
        let until = gatehouse_server::system_clock()()
            .checked_add(jiff::SignedDuration::from_hours(24 * 30))?
            .strftime("%Y-%m-%d")
            .to_string();
        let accept: Arc<dyn Fn(u64) -> (String, String, Option<String>) + Send + Sync> =
            Arc::new(move |n| {
                (
                    "POST".into(),
                    format!("/findings/{f}/accept"),
                    Some(format!("csrf={k}&reason=bench+{n}&until={until}")),
                )
            });
        let before = counted.commit_stats();
        let post = load(addr, "POST /findings/{id}/accept (one event each)", accept.clone(), &cookie, concurrency, seconds).await?;
        let after = counted.commit_stats();
        println!("  decision-like POST at {:.0}% of the health endpoint's rate", post.0 * 100.0 / health.0.max(1.0));
        grouped(before, after);
        let before = counted.commit_stats();
        let decisions = crate::inbox::run(addr, &reviews, concurrency, seconds).await?;
        let after = counted.commit_stats();
        println!("  review decision POST at {:.0}% of the health endpoint's rate", decisions * 100.0 / health.0.max(1.0));
        grouped(before, after);
        if soak > 0 {
            println!("soak: {soak} s of mixed load; resident memory of this process (server and load generator):");
            let start_rss = rss_mib();
            let mut samples = vec![start_rss];
            let mix_identity = format!("/identities/{identity}");
            let mixed: Arc<dyn Fn(u64) -> (String, String, Option<String>) + Send + Sync> = Arc::new(move |n| match n % 4 {
                0 => ("GET".into(), "/healthz".into(), None),
                1 | 2 => ("GET".into(), mix_identity.clone(), None),
                _ => accept(n),
            });
            let rounds = soak.div_ceil(30);
            for i in 0..rounds {
                load(addr, &format!("mixed, round {}/{rounds}", i + 1), mixed.clone(), &cookie, concurrency, 30).await?;
                samples.push(rss_mib());
            }
            let max = samples.iter().copied().fold(0.0, f64::max);
            println!(
                "  RSS MiB: start {start_rss:.0}, after each round {}; max {max:.0}",
                samples[1..].iter().map(|s| format!("{s:.0}")).collect::<Vec<_>>().join(", ")
            );
        }
        let _ = stop.send(());
        server.await??;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(())
}
