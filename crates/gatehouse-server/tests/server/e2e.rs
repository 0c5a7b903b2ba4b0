//! End to end in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `scripts/setup` installs), through chromedriver's W3C WebDriver API: a first sign-in with a
//! one-time password (new password, authenticator enrolment from the page, recovery codes),
//! the pages an admin uses, imported markup shown as text by the browser, "verify now"
//! through htmx, and an auditor who can change nothing. Screenshots of the main pages go to
//! `target/e2e-screenshots/` (and to `docs/screenshots/` with `GATEHOUSE_UPDATE_SCREENSHOTS=1`).
//! Without a browser or driver the test fails: it is never skipped.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::*;
use crate::reviews::{launched, open_items};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session.
pub(crate) struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

pub(crate) fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn call(method: &str, url: &str, body: Option<Value>) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut res = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, b) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(b.unwrap_or(json!({})).to_string()),
    }
    .unwrap_or_else(|e| panic!("webdriver {method} {url}: {e}"));
    let text = res.body_mut().read_to_string().unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(
        res.status().is_success(),
        "webdriver {method} {url}: {} {text}",
        res.status()
    );
    v["value"].clone()
}

impl Browser {
    pub(crate) fn start() -> Browser {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: run scripts/setup (Debian packages chromium and chromium-driver)"
            );
        }
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let v = call("POST", &format!("{base}/session"), Some(caps));
        let session = v["sessionId"]
            .as_str()
            .expect("a browser session")
            .to_owned();
        Browser {
            driver,
            base,
            session,
            _profile: profile,
        }
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/session/{}{rest}", self.base, self.session)
    }

    pub(crate) fn go(&self, url: &str) {
        call("POST", &self.url("/url"), Some(json!({ "url": url })));
    }

    pub(crate) fn find(&self, css: &str) -> String {
        let v = call(
            "POST",
            &self.url("/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element `{css}`"))
            .to_owned()
    }

    pub(crate) fn count(&self, css: &str) -> usize {
        call(
            "POST",
            &self.url("/elements"),
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    pub(crate) fn fill(&self, css: &str, text: &str) {
        let e = self.find(css);
        call("POST", &self.url(&format!("/element/{e}/clear")), None);
        call(
            "POST",
            &self.url(&format!("/element/{e}/value")),
            Some(json!({ "text": text })),
        );
    }

    pub(crate) fn click(&self, css: &str) {
        let e = self.find(css);
        call("POST", &self.url(&format!("/element/{e}/click")), None);
    }

    pub(crate) fn text(&self, css: &str) -> String {
        let e = self.find(css);
        call("GET", &self.url(&format!("/element/{e}/text")), None)
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub(crate) fn script(&self, js: &str) -> Value {
        call(
            "POST",
            &self.url("/execute/sync"),
            Some(json!({"script": js, "args": []})),
        )
    }

    pub(crate) fn wait_for(&self, js: &str) {
        let started = Instant::now();
        while self.script(js) != Value::Bool(true) {
            if started.elapsed() > Duration::from_secs(30) {
                let at = self.script(
                    "return location.href + ' :: ' + document.body.innerText.slice(0, 800) + ' :: ' + document.documentElement.outerHTML.slice(0, 1500)",
                );
                panic!(
                    "timed out waiting for {js}\nthe page: {}",
                    at.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the page's path ends with `suffix` (a click's navigation may still run).
    pub(crate) fn wait_path(&self, suffix: &str) {
        self.wait_for(&format!(
            "return (location.pathname + location.search).endsWith({suffix:?}) && document.readyState === 'complete'"
        ));
    }

    pub(crate) fn screenshot(&self, name: &str) {
        let b64 = call("GET", &self.url("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = root.join("target/e2e-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        if std::env::var_os("GATEHOUSE_UPDATE_SCREENSHOTS").is_some() {
            let docs = root.join("docs/screenshots");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(format!("{name}.png")), &png).unwrap();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&self.url("")).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Signs in with a password and the current TOTP code.
fn sign_in(b: &Browser, h: &Harness, site: &str, user: &str, password: &str) {
    b.go(&format!("{site}/login"));
    b.fill("#username", user);
    b.fill("#password", password);
    b.click("button[type=submit]");
    b.wait_path("/login/totp");
    h.clock.advance(30);
    let code = totp::code_at(&h.seed(user), h.clock.now()).unwrap();
    b.fill("#code", &code);
    b.click("button[type=submit]");
}

#[test]
fn in_a_real_browser() {
    let signer =
        gatehouse_ledger::NoteSigner::generate_from_seed("e2e.example/gatehouse", [5; 32]).unwrap();
    let h = harness_with(|c| c.signer = Some(signer));
    // A new admin, as `gatehouse user add` leaves one: a one-time password, no second factor.
    let otp = password::one_time_password();
    let phc = password::hash(&otp).unwrap();
    h.store
        .write("cli:test", h.clock.now(), |w| {
            w.add_user(UserRecord {
                name: "ada".into(),
                role: UserRole::Admin,
                identity: None,
                email: None,
                oidc_subject: None,
                disabled: false,
            })?;
            w.set_credential("ada", CredentialKind::Password, Some(&phc), true)
        })
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(gatehouse_server::serve(h.app.clone(), listener, async {
        let _ = stopped.await;
    }));
    // `localhost` is a secure context for the browser, so the Secure `__Host-` cookie works
    // over plain HTTP here as it does over HTTPS elsewhere.
    let site = format!("http://localhost:{port}");
    let b = Browser::start();

    // First sign-in: the one-time password, a new password, the authenticator from the page.
    b.go(&format!("{site}/"));
    b.wait_path("/login?next=%2F");
    b.fill("#username", "ada");
    b.fill("#password", &otp);
    b.click("button[type=submit]");
    b.wait_path("/login/password");
    b.fill("#password", "a long new password 42");
    b.fill("#confirm", "a long new password 42");
    b.click("button[type=submit]");
    b.wait_path("/login/enrol");
    assert_eq!(b.count("figure svg"), 1, "the QR code is on the page");
    b.screenshot("enrol");
    let secret = b.text("#totp-secret");
    h.clock.advance(30);
    b.fill("#code", &totp::code_at(&secret, h.clock.now()).unwrap());
    b.click("button[type=submit]");
    b.wait_for("return document.querySelectorAll('#recovery-codes li').length === 10");
    b.click("a.button");
    b.wait_for("return document.querySelector('h1').textContent === 'Dashboard'");
    b.screenshot("dashboard");

    // Imported markup is text: no element made from it, the characters shown as they are.
    b.go(&format!("{site}/identities/{}", h.hostile));
    assert!(
        b.text("h1").contains("<script>alert(1)</script>"),
        "{}",
        b.text("h1")
    );
    assert_eq!(
        b.script("return document.querySelectorAll('script:not([src])').length"),
        json!(0)
    );
    assert_eq!(
        b.script("return document.querySelectorAll('main img').length"),
        json!(0)
    );
    b.go(&format!("{site}/identities/{}", h.person));
    b.screenshot("identity");
    b.go(&format!(
        "{site}/who-has?entitlement={}",
        enc(&h.entitlement)
    ));
    assert!(b.count("tbody tr") > 0);
    b.screenshot("who-has");
    b.go(&format!("{site}/systems/{}", h.owned_system));
    b.screenshot("system");
    b.go(&format!("{site}/findings"));
    b.screenshot("findings");
    b.go(&format!("{site}/ledger"));
    b.screenshot("ledger");
    b.click("form[action='/logout'] button");
    b.wait_path("/login");

    // The auditor reads everything and changes nothing.
    sign_in(&b, &h, &site, "auditor", PASSWORD);
    b.wait_for("return document.querySelector('h1').textContent === 'Dashboard'");
    b.go(&format!("{site}/findings/{}", h.finding));
    assert_eq!(
        b.count("form[action$='/accept']"),
        0,
        "no accept form for an auditor"
    );
    let status = b.script(&format!(
        "const csrf = document.querySelector('meta[name=csrf-token]').content;
         const x = new XMLHttpRequest();
         x.open('POST', '/findings/{}/accept', false);
         x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
         x.send('csrf=' + encodeURIComponent(csrf) + '&reason=x&until=2026-09-30');
         return x.status;",
        h.finding
    ));
    assert_eq!(status, json!(403));
    runtime.block_on(gatehouse_server::scheduler::tick(&h.app));
    b.go(&format!("{site}/ledger"));
    b.click("form[action='/ledger/verify'] button");
    b.wait_for("return document.querySelector('#verify-result').textContent.trim().length > 0");
    assert!(
        b.text("#verify-result").contains("The ledger verifies"),
        "{}",
        b.text("#verify-result")
    );
    b.screenshot("ledger-verified");
    assert_eq!(
        h.store.read(|r| r.finding(&h.finding)).unwrap().status,
        FindingStatus::Open
    );
    drop(b);
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
}

/// A manager decides in the inbox (one revoke with a comment, two kept in bulk), the
/// reviews' owner signs the campaign off and downloads the XLSX, the auditor finds nothing
/// to change.
#[test]
fn reviews_in_a_real_browser() {
    let signer =
        gatehouse_ledger::NoteSigner::generate_from_seed("e2e.example/gatehouse", [6; 32]).unwrap();
    let mut h = harness_with(|c| c.signer = Some(signer));
    let (id, manager) = launched(&h);
    h.add_user("manager", UserRole::Reviewer, Some(manager.clone()));
    h.add_user("lead", UserRole::Admin, Some(h.lead.clone()));
    let open = open_items(&h, id, &manager).len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(gatehouse_server::serve(h.app.clone(), listener, async {
        let _ = stopped.await;
    }));
    let site = format!("http://localhost:{port}");
    let b = Browser::start();

    sign_in(&b, &h, &site, "manager", PASSWORD);
    b.wait_for("return document.querySelector('h1') && document.querySelector('h1').textContent === 'My reviews'");
    assert!(b.count("input[name=item]") >= 3);
    b.screenshot("inbox");
    b.click("tbody a[href^='/reviews/']");
    b.wait_for("return !!document.querySelector('#decide')");
    b.screenshot("review-item");
    b.click("#v-revoke");
    b.fill("#comment", "moved to another team; no longer needed");
    b.click("#decide button[type=submit]");
    b.wait_path("/reviews?decided=1");
    b.click("tbody tr:nth-child(1) input[name=item]");
    b.click("tbody tr:nth-child(2) input[name=item]");
    b.fill("#bulk-comment", "still needed for the job");
    b.click("button[name=verdict][value=keep]");
    b.wait_path("decided=2");
    assert!(
        b.text(".notice").contains("2 decision(s)"),
        "{}",
        b.text(".notice")
    );
    assert_eq!(open_items(&h, id, &manager).len(), open - 3);
    b.click("form[action='/logout'] button");
    b.wait_path("/login");

    // The reviews' owner signs off (the second factor of the sign-in is still fresh).
    sign_in(&b, &h, &site, "lead", PASSWORD);
    b.wait_for("return document.querySelector('h1') && document.querySelector('h1').textContent === 'Dashboard'");
    b.screenshot("dashboard-reviews");
    b.go(&format!("{site}/campaigns/{id}"));
    b.screenshot("campaign");
    b.fill(
        "#statement",
        "Access to the SOX and critical systems was reviewed as the policy requires.",
    );
    b.fill(
        "#force",
        "the remaining reviewers were on leave; their items get the default",
    );
    b.click("#sign-off button[type=submit]");
    b.wait_for("return document.body.innerText.includes('Signed off')");
    let xlsx = b.script(&format!(
        "const x = new XMLHttpRequest();
         x.open('GET', '/campaigns/{id}/report/xlsx', false);
         x.overrideMimeType('text/plain; charset=x-user-defined');
         x.send();
         const t = x.responseText;
         return [x.status, x.getResponseHeader('Content-Type'), (t.charCodeAt(0) & 255) === 0x50 && (t.charCodeAt(1) & 255) === 0x4b, t.length];"
    ));
    assert_eq!(xlsx[0], json!(200), "{xlsx}");
    assert!(
        xlsx[1].as_str().unwrap().contains("spreadsheetml"),
        "{xlsx}"
    );
    assert_eq!(xlsx[2], json!(true), "a zip (XLSX) file: {xlsx}");
    b.click("form[action='/logout'] button");
    b.wait_path("/login");

    // The auditor sees the campaign and can change nothing.
    sign_in(&b, &h, &site, "auditor", PASSWORD);
    b.wait_for("return document.querySelector('h1') && document.querySelector('h1').textContent === 'Dashboard'");
    b.go(&format!("{site}/campaigns/{id}"));
    assert_eq!(b.count("form[action$='/close']"), 0);
    assert_eq!(b.count("form[action$='/remind']"), 0);
    assert!(b.count("a[href$='/report/xlsx']") == 1);
    drop(b);
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
}
