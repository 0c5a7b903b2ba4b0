//! Notifications against real servers on loopback: an SMTP server (Python's aiosmtpd, from
//! Debian's `python3-aiosmtpd`, installed by `scripts/setup`) that requires STARTTLS with a
//! certificate of a throw-away CA and authentication, and a webhook receiver. The tests read
//! what the servers received. A test that cannot start its server fails; it never skips.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use gatehouse_model::*;
use gatehouse_store::{ImportOptions, Store, SystemImport};
use gatehouse_workflow::campaigns::{self, Acting, NewCampaign, ReviewPolicy};

use crate::{NotifySettings, dispatch};

/// The SMTP server: requires STARTTLS and a login, and writes what it receives (decoded) as
/// one JSON line per message.
const SERVER: &str = r#"
import email, email.policy, json, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, out, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        with open(out, "a") as f:
            f.write(json.dumps({
                "from": envelope.mail_from, "to": envelope.rcpt_tos,
                "subject": msg["subject"], "text": text.get_content() if text else None,
                "html": html.get_content() if html else None,
                "tls": session.ssl is not None, "authenticated": bool(session.authenticated),
            }) + "\n")
        return "250 OK"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"gatehouse" \
        and auth_data.password == password.encode()
    return AuthResult(success=ok, handled=False)

ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
c = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx,
               require_starttls=True, authenticator=authenticator, auth_required=True,
               auth_require_tls=True)
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throw-away CA and a certificate for 127.0.0.1 signed by it.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n);
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem"))
        .args(["-subj", "/CN=Gatehouse test CA"]));
    run(Command::new("openssl")
        .args(["req", "-newkey", "rsa:2048", "-nodes"])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr"))
        .args(["-subj", "/CN=127.0.0.1"]));
    std::fs::write(
        p("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-CAcreateserial")
        .arg("-out")
        .arg(p("server.pem"))
        .arg("-extfile")
        .arg(p("ext.cnf")));
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

/// The SMTP server, stopped when dropped.
struct Smtp {
    child: Child,
    port: u16,
    received: PathBuf,
}

impl Smtp {
    fn start(dir: &Path, cert: &Path, key: &Path, password: &str) -> Smtp {
        let script = dir.join("smtp.py");
        std::fs::write(&script, SERVER).unwrap();
        let port = free_port();
        let received = dir.join(format!("received-{port}.jsonl"));
        let python = ["/usr/bin/python3", "python3"]
            .into_iter()
            .find(|p| {
                Command::new(p)
                    .args(["-c", "import aiosmtpd"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .unwrap_or_else(|| {
                panic!("no Python with aiosmtpd: run scripts/setup (installs python3-aiosmtpd)")
            });
        let mut child = Command::new(python)
            .arg(&script)
            .arg(port.to_string())
            .arg(cert)
            .arg(key)
            .arg(&received)
            .arg(password)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the SMTP server: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "ready" {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the SMTP server did not start: {err}");
        }
        Smtp {
            child,
            port,
            received,
        }
    }

    fn messages(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.received)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A webhook receiver: answers every request with `status` and keeps the bodies.
fn webhook(status: u16) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hook/secret-token",
        listener.local_addr().unwrap().port()
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            kept.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, bodies)
}

fn t(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

fn k(s: &str) -> IdentityKey {
    IdentityKey::new(s).unwrap()
}

/// Three clerks on a SOX ERP reviewed by their manager E2 (who has an e-mail address) and
/// E6 (who has none); E1 runs the reviews.
fn org(store: &Store) -> CampaignId {
    let opts = ImportOptions {
        as_of: t("2026-04-01"),
        files: vec![],
        skipped_rows: 0,
        partial: vec![],
        allow_mass_removal: false,
    };
    let person = |key: &str, manager: Option<&str>, email: bool| Identity {
        key: k(key),
        kind: IdentityKind::Person,
        name: format!("Person {key}"),
        email: email.then(|| format!("{}@example.com", key.to_lowercase())),
        person: Some(Person {
            manager: manager.map(k),
            ..Person::with_status(EmploymentStatus::Active)
        }),
        non_human: None,
        attributes: Attributes::new(),
    };
    let sys = SystemKey::new("erp").unwrap();
    let mut lock = store.import_lock().unwrap();
    lock.import_identities(
        "hr",
        vec![
            person("E1", None, true),
            person("E2", None, true),
            person("E3", Some("E2"), true),
            person("E4", Some("E2"), true),
            person("E6", None, false),
            person("E7", Some("E6"), true),
        ],
        &opts,
        "test",
        t("2026-04-01"),
    )
    .unwrap();
    let account = |id: &str, holder: &str| Account {
        system: sys.clone(),
        native_id: id.into(),
        username: id.into(),
        identity: Some(k(holder)),
        linked_by: Some("employee_id".into()),
        kind: AccountKind::Human,
        enabled: true,
        mfa: None,
        last_login: Some(t("2026-03-30")),
        employee_id: None,
        email: None,
        attributes: Attributes::new(),
    };
    lock.import_system(
        SystemImport {
            config: SystemConfig {
                key: sys.clone(),
                name: "ERP".into(),
                description: None,
                owner: Some(k("E1")),
                criticality: Some(Criticality::Critical),
                frameworks: vec!["sox".into()],
                financial_reporting: true,
                review_cadence_days: None,
                correlation: vec![],
                attributes: Attributes::new(),
            },
            accounts: vec![
                account("u3", "E3"),
                account("u4", "E4"),
                account("u7", "E7"),
            ],
            entitlements: vec![Entitlement {
                system: sys.clone(),
                native_id: "role/Admin".into(),
                name: "Admin".into(),
                description: None,
                privileged: true,
                risk: None,
                owner: None,
                attributes: Attributes::new(),
            }],
            grants: ["u3", "u4", "u7"]
                .iter()
                .map(|a| Grant {
                    system: sys.clone(),
                    account: (*a).into(),
                    entitlement: "role/Admin".into(),
                    source: GrantSource::Direct,
                    warrant: None,
                    expires_at: None,
                    granted_at: None,
                    attributes: Attributes::new(),
                })
                .collect(),
        },
        &opts,
        "test",
        t("2026-04-01"),
    )
    .unwrap();
    drop(lock);
    let policy = ReviewPolicy::from_toml(
        "administrators = [\"E1\"]\ncompliance_owner = \"E1\"\n[defaults]\nreminders = [7]\n[[scope]]\nname = \"sox\"\nframeworks = [\"sox\"]\ncadence_days = 91\n",
        Path::new("reviews.toml"),
    )
    .unwrap();
    let admin = Acting::person("test", k("E1"));
    let at = t("2026-04-02T09:00:00Z");
    let c = campaigns::create(
        store,
        &policy,
        &admin,
        at,
        NewCampaign {
            scope: Some("sox".into()),
            ..NewCampaign::default()
        },
    )
    .unwrap();
    campaigns::launch(store, &policy, &admin, at, c.id, &[]).unwrap();
    c.id
}

/// The ERP again: without u7's Admin role, and with an emergency account.
fn reimport_erp(store: &Store, as_of: &str) {
    let sys = SystemKey::new("erp").unwrap();
    let account = |id: &str, holder: Option<&str>, kind: AccountKind| Account {
        system: sys.clone(),
        native_id: id.into(),
        username: id.into(),
        identity: holder.map(k),
        linked_by: holder.map(|_| "employee_id".into()),
        kind,
        enabled: true,
        mfa: holder.is_none().then_some(false),
        last_login: Some(t("2026-03-30")),
        employee_id: None,
        email: None,
        attributes: Attributes::new(),
    };
    let grant = |a: &str| Grant {
        system: sys.clone(),
        account: a.into(),
        entitlement: "role/Admin".into(),
        source: GrantSource::Direct,
        warrant: None,
        expires_at: None,
        granted_at: None,
        attributes: Attributes::new(),
    };
    store
        .import_lock()
        .unwrap()
        .import_system(
            SystemImport {
                config: SystemConfig {
                    key: sys.clone(),
                    name: "ERP".into(),
                    description: None,
                    owner: Some(k("E1")),
                    criticality: Some(Criticality::Critical),
                    frameworks: vec!["sox".into()],
                    financial_reporting: true,
                    review_cadence_days: None,
                    correlation: vec![],
                    attributes: Attributes::new(),
                },
                accounts: vec![
                    account("u3", Some("E3"), AccountKind::Human),
                    account("u4", Some("E4"), AccountKind::Human),
                    account("u7", Some("E7"), AccountKind::Human),
                    account("bg", None, AccountKind::Emergency),
                ],
                entitlements: vec![Entitlement {
                    system: sys.clone(),
                    native_id: "role/Admin".into(),
                    name: "Admin".into(),
                    description: None,
                    privileged: true,
                    risk: None,
                    owner: None,
                    attributes: Attributes::new(),
                }],
                grants: vec![grant("u3"), grant("u4")],
            },
            &ImportOptions {
                as_of: t(as_of),
                files: vec![],
                skipped_rows: 0,
                partial: vec![],
                allow_mass_removal: true,
            },
            "test",
            t(as_of),
        )
        .unwrap();
}

fn settings(dir: &Path, smtp_port: u16, ca: &Path, hook: &str, extra: &str) -> NotifySettings {
    std::fs::write(dir.join("smtp-password"), "s3cret\n").unwrap();
    // The webhook's URL comes from a file (it holds a token).
    std::fs::write(dir.join("hook-url"), hook).unwrap();
    let text = format!(
        "{extra}base_url = \"https://gatehouse.example.com\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"starttls\"\n\
         username = \"gatehouse\"\npassword_file = \"smtp-password\"\n\
         from = \"Gatehouse <gatehouse@example.com>\"\nca_file = \"{}\"\ntimeout_seconds = 10\n\
         [[webhook]]\nname = \"security\"\nkind = \"slack\"\nurl_file = \"hook-url\"\n\
         [[route]]\nrules = [\"unwarranted_grant\"]\nmin_severity = \"high\"\nto = [\"webhook:security\", \"email:secops@example.com\"]\n\
         [[route]]\nrules = [\"privileged_access_changed\"]\nto = [\"webhook:security\"]\n",
        ca.display()
    );
    NotifySettings::from_toml(&text, "notify.toml", dir).unwrap()
}

fn notifications(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let smtp = Smtp::start(dir.path(), &cert, &key, "s3cret");
    let (hook, bodies) = webhook(200);
    let id = org(&store);
    let who = Acting::system("scheduler");
    let s = settings(dir.path(), smtp.port, &ca, &hook, "");
    assert!(
        !format!("{s:?}").contains("s3cret"),
        "secrets are never printed"
    );
    assert!(!format!("{s:?}").contains("secret-token"));

    // Launch: one digest per reviewer, over STARTTLS, authenticated.
    let now = t("2026-04-02T10:00:00Z");
    let d = dispatch(&store, &s, &who, now).unwrap();
    assert_eq!(d.sent.len(), 1, "{d}");
    assert_eq!(
        d.failed.len(),
        1,
        "E6 has no address: recorded as failed, not dropped: {d}"
    );
    assert!(d.failed[0].2.contains("has no e-mail address"), "{d}");
    assert!(!d.failed[0].3, "not retried");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m["to"][0], "e2@example.com");
    assert_eq!(m["from"], "gatehouse@example.com");
    assert_eq!(m["tls"], true);
    assert_eq!(m["authenticated"], true);
    assert_eq!(m["subject"], "2 access review items wait for you");
    let text = m["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("{id}/1")) && text.contains(&format!("{id}/2")),
        "{text}"
    );
    assert!(text.contains("new campaign"), "{text}");
    assert!(
        text.contains(&format!(
            "https://gatehouse.example.com/reviews?campaign={id}"
        )),
        "{text}"
    );
    assert!(m["html"].as_str().unwrap().contains("<table"));

    // Nothing new: nothing sent.
    let d = dispatch(&store, &s, &who, now).unwrap();
    assert!(d.sent.is_empty() && d.failed.is_empty(), "{d}");

    // The reminder: the server is down, the digest fails, is recorded and retried later.
    let policy = ReviewPolicy::from_toml(
        "administrators = [\"E1\"]\ncompliance_owner = \"E1\"\n[defaults]\nreminders = [7]\n",
        Path::new("reviews.toml"),
    )
    .unwrap();
    campaigns::tick(&store, &policy, &who, t("2026-04-10T09:00:00Z")).unwrap();
    let port = smtp.port;
    drop(smtp);
    let d = dispatch(&store, &s, &who, t("2026-04-10T09:05:00Z")).unwrap();
    assert_eq!(d.failed.len(), 2, "E2's digest and E6's (no address): {d}");
    let down = d.failed.iter().find(|f| f.1 == "e2@example.com").unwrap();
    assert!(down.2.starts_with("SMTP server 127.0.0.1:"), "{d}");
    assert!(down.3, "retried");
    let failed_id = down.0.clone();
    let rows = store.read(|r| r.notifications(10)).unwrap();
    let row = rows.iter().find(|r| r.id == failed_id).unwrap();
    assert!(!row.delivered && row.retry_at == Some(t("2026-04-10T09:20:00Z")));
    // Before the retry is due: nothing; after: the same notification, attempt 2.
    assert!(
        dispatch(&store, &s, &who, t("2026-04-10T09:10:00Z"))
            .unwrap()
            .failed
            .is_empty()
    );
    let smtp = Smtp::start(dir.path(), &cert, &key, "s3cret");
    let s = settings(dir.path(), smtp.port, &ca, &hook, "");
    let d = dispatch(&store, &s, &who, t("2026-04-10T09:21:00Z")).unwrap();
    assert_eq!(d.sent.len(), 1, "{d}");
    assert_eq!(d.sent[0].0, failed_id);
    let mails = smtp.messages();
    assert!(
        mails[0]["text"]
            .as_str()
            .unwrap()
            .contains("reminder: due in"),
        "{}",
        mails[0]["text"]
    );
    let rows = store.read(|r| r.notifications(1)).unwrap();
    assert_eq!((rows[0].attempt, rows[0].delivered), (2, true));
    assert_ne!(port, 0);

    // Alerts: the analysis finds the unwarranted privileged grants on the SOX ERP; the route
    // sends them to the webhook and to an address, once.
    gatehouse_workflow::analyze(
        &store,
        &gatehouse_analysis_policy(),
        &Default::default(),
        "test",
        t("2026-04-10T10:00:00Z"),
    )
    .unwrap();
    let d = dispatch(&store, &s, &who, t("2026-04-10T10:01:00Z")).unwrap();
    assert_eq!(d.sent.len(), 2, "{d}");
    let hooks = bodies.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1);
    let payload: serde_json::Value = serde_json::from_str(&hooks[0]).unwrap();
    assert!(
        payload["text"]
            .as_str()
            .unwrap()
            .contains("unwarranted_grant")
            || payload["text"].as_str().unwrap().contains("Unwarranted"),
        "{payload}"
    );
    assert!(
        smtp.messages()
            .iter()
            .any(|m| m["to"][0] == "secops@example.com")
    );
    assert!(
        dispatch(&store, &s, &who, t("2026-04-10T10:02:00Z"))
            .unwrap()
            .sent
            .is_empty()
    );

    // The next import: u7 loses the privileged role and an emergency account appears. Each
    // change is an alert for the route that asks for privileged changes, once.
    reimport_erp(&store, "2026-04-11");
    let d = dispatch(&store, &s, &who, t("2026-04-11T10:00:00Z")).unwrap();
    assert_eq!(d.sent.len(), 1, "{d}");
    let hooks = bodies.lock().unwrap().clone();
    assert_eq!(hooks.len(), 2);
    let text = serde_json::from_str::<serde_json::Value>(&hooks[1]).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("privileged `erp:role/Admin` (Admin) removed from `u7` (Person E7, E7)"),
        "{text}"
    );
    assert!(
        text.contains("emergency account `bg` added (enabled: yes, MFA: no)"),
        "{text}"
    );
    assert!(
        dispatch(&store, &s, &who, t("2026-04-11T10:05:00Z"))
            .unwrap()
            .sent
            .is_empty()
    );

    // A company's own template replaces the built-in one.
    let tpl = dir.path().join("templates");
    std::fs::create_dir_all(&tpl).unwrap();
    std::fs::write(tpl.join("test.txt"), "Custom test for {{ by }}.").unwrap();
    let s = settings(
        dir.path(),
        smtp.port,
        &ca,
        &hook,
        "templates = \"templates\"\n",
    );
    let m = gatehouse_workflow::campaigns::notify::test_message(
        gatehouse_workflow::campaigns::notify::Recipient::Email {
            address: "ops@example.com".into(),
            name: None,
        },
        "cli:test",
        t("2026-04-10T11:00:00Z"),
    );
    let d = crate::deliver_one(&store, &s, &who, t("2026-04-10T11:00:00Z"), &m).unwrap();
    assert_eq!(d.sent.len(), 1, "{d}");
    assert_eq!(
        smtp.messages().last().unwrap()["text"]
            .as_str()
            .unwrap()
            .trim(),
        "Custom test for cli:test."
    );
}

fn gatehouse_analysis_policy() -> gatehouse_analysis::Policy {
    gatehouse_analysis::Policy::default()
}

#[test]
fn notifications_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db").to_str().unwrap().to_owned();
    notifications(Store::open(&path, &gatehouse_store::OpenOptions::create()).unwrap());
}

#[test]
fn notifications_postgres() {
    let url = gatehouse_store::testing::postgres_url();
    notifications(Store::open(&url, &gatehouse_store::OpenOptions::create()).unwrap());
}

#[test]
fn settings_refuse_what_would_leak_or_send_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let err = NotifySettings::from_toml(
        "[smtp]\nhost = \"mail.example.com\"\nsecurity = \"none\"\nfrom = \"g@example.com\"\n",
        "notify.toml",
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("allowed only to a relay on this machine"),
        "{err}"
    );
    let err = NotifySettings::from_toml(
        "[[webhook]]\nname = \"chat\"\nurl = \"https://hooks.example.com/T0/B0/x\"\n",
        "notify.toml",
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("notify.toml:3: unknown field `url`"),
        "{err}"
    );
    let err = NotifySettings::from_toml(
        "[[route]]\nto = [\"pager:ops\"]\n",
        "notify.toml",
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("route recipient `pager:ops`"), "{err}");
}
