//! The web server, driven in process through its router: a role × route authorization
//! matrix, sign-in with TOTP, session rotation and expiry, cookies, anti-forgery tokens,
//! rate limiting, API tokens and their scopes, hostile imported text, the OpenAPI document and
//! the scheduler. `e2e.rs` drives the same server in a real headless Chromium.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;
mod oidc;
mod reviews;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gatehouse_model::*;
use gatehouse_server::auth::{self, Scope, password, totp};
use gatehouse_server::{App, ManualClock, ServerConfig};
use gatehouse_store::findings::FindingFilter;
use gatehouse_store::{EventFilter, OpenOptions, Store};
use http_body_util::BodyExt;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery staple";

/// A demo organisation in a fresh SQLite store, analysed, with one user per role.
struct Harness {
    app: App,
    router: Router,
    clock: ManualClock,
    store: Store,
    _dir: tempfile::TempDir,
    /// TOTP seeds by user.
    seeds: Vec<(String, String)>,
    /// The reviewer's identity (a system owner).
    owner: IdentityKey,
    /// A system the reviewer owns, and one they do not.
    owned_system: String,
    other_system: String,
    /// The person's identity, and someone else's.
    person: IdentityKey,
    stranger: IdentityKey,
    /// An open finding.
    finding: String,
    /// An entitlement reference.
    entitlement: String,
    /// The identity whose imported name and title hold markup.
    hostile: IdentityKey,
    /// The review policy's administrator and compliance owner.
    lead: IdentityKey,
}

fn start() -> Timestamp {
    "2026-06-30T12:00:00Z".parse().unwrap()
}

/// Builds the harness; `config` adjusts the server's settings.
fn harness_with(config: impl FnOnce(&mut ServerConfig)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let store = Store::open(db.to_str().unwrap(), &OpenOptions::create()).unwrap();
    let today = jiff::civil::date(2026, 6, 30);
    let mut generator = gatehouse_demo::Generator::new(gatehouse_demo::DemoConfig {
        people: 80,
        seed: 7,
        today,
        months: 2,
    })
    .unwrap();
    let src = dir.path().join("snapshot");
    std::fs::create_dir_all(&src).unwrap();
    let now = start();
    let hostile = IdentityKey::new("E000003").unwrap();
    while let Some(as_of) = generator.write_next_snapshot(&src).unwrap() {
        // Imported text with markup: it must be shown as text everywhere.
        let hr = src.join("hr/people.csv");
        let text = std::fs::read_to_string(&hr).unwrap();
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("E000003,") {
                    let mut f: Vec<String> = l.split(',').map(str::to_owned).collect();
                    f[1] = "<script>alert(1)</script>".into();
                    f[6] = "<img src=x onerror=alert(2)>".into();
                    f.join(",")
                } else {
                    l.to_owned()
                }
            })
            .map(|l| l + "\n")
            .collect();
        std::fs::write(&hr, text).unwrap();
        let settings = gatehouse_workflow::ImportSettings {
            as_of: Some(as_of),
            skip_invalid: false,
            allow_mass_removal: false,
            reread: false,
        };
        gatehouse_workflow::import_folder(
            &store,
            &src,
            &settings,
            "cli:test",
            now,
            None,
            |_, _| {},
        )
        .unwrap();
    }
    let policy = gatehouse_analysis::Policy::default();
    let sod = gatehouse_analysis::Ruleset::default();
    gatehouse_workflow::analyze(&store, &policy, &sod, "cli:test", now).unwrap();
    let systems = store.read(|r| r.systems()).unwrap();
    let owned = systems.iter().find(|s| s.owner.is_some()).unwrap();
    let owner = owned.owner.clone().unwrap();
    let other = systems
        .iter()
        .find(|s| s.owner.as_ref() != Some(&owner))
        .unwrap();
    let identities = store.read(|r| r.identities()).unwrap();
    let person = identities
        .iter()
        .map(|i| i.key.clone())
        .find(|k| *k != owner && *k != hostile)
        .unwrap();
    let stranger = identities
        .iter()
        .map(|i| i.key.clone())
        .find(|k| *k != owner && *k != person && *k != hostile)
        .unwrap();
    let finding = store
        .read(|r| {
            r.findings(&FindingFilter {
                status: vec![FindingStatus::Open],
                ..FindingFilter::default()
            })
        })
        .unwrap()
        .first()
        .map(|f| f.finding.id.clone())
        .expect("the demo has open findings");
    let entitlement = store
        .read(|r| r.entitlements(None))
        .unwrap()
        .iter()
        .find(|e| e.holders > 0)
        .map(|e| format!("{}:{}", e.system, e.native_id))
        .unwrap();
    let phc = password::hash(PASSWORD).unwrap();
    let mut seeds = Vec::new();
    store
        .write("cli:test", now, |w| {
            for (name, role, identity) in [
                ("admin", UserRole::Admin, None),
                ("auditor", UserRole::Auditor, None),
                ("reviewer", UserRole::Reviewer, Some(owner.clone())),
                ("person", UserRole::Person, Some(person.clone())),
            ] {
                w.add_user(UserRecord {
                    name: name.into(),
                    role,
                    identity,
                    email: None,
                    oidc_subject: None,
                    disabled: false,
                })?;
                w.set_credential(name, CredentialKind::Password, Some(&phc), false)?;
                let seed = totp::new_secret();
                w.set_credential(name, CredentialKind::Totp, Some(&seed), false)?;
                seeds.push((name.to_owned(), seed));
            }
            Ok::<_, gatehouse_store::StoreError>(())
        })
        .unwrap();
    let clock = ManualClock::new(now);
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    // The review policy's administrator: a current person who is none of the above.
    let lead = store
        .read(|r| r.current_identities())
        .unwrap()
        .into_iter()
        .filter(|i| i.person.is_some())
        .map(|i| i.key)
        .find(|k| ![&owner, &person, &stranger, &hostile].contains(&k))
        .unwrap();
    let text = gatehouse_workflow::campaigns::policy::starter(&lead, 30);
    cfg.reviews = gatehouse_workflow::campaigns::ReviewPolicy::from_toml(
        &text,
        std::path::Path::new("reviews.toml"),
    )
    .unwrap();
    config(&mut cfg);
    let app = App::new(store.clone(), cfg, clock.clock());
    Harness {
        router: app.router(),
        app,
        clock,
        store,
        _dir: dir,
        seeds,
        owner,
        owned_system: owned.key.to_string(),
        other_system: other.key.to_string(),
        person,
        stranger,
        finding,
        entitlement,
        hostile,
        lead,
    }
}

fn harness() -> Harness {
    harness_with(|_| {})
}

/// A response, read whole.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    /// The session cookie this answer sets, if any.
    fn cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("__Host-gatehouse_session=") && !c.contains("Max-Age=0"))
    }

    fn csrf(&self) -> String {
        let marker = "name=\"csrf-token\" content=\"";
        let start = self.body.find(marker).expect("a page with a csrf token") + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

/// A browser-like client: a cookie and the page's anti-forgery token.
#[derive(Clone, Default)]
struct Client {
    cookie: Option<String>,
    csrf: String,
    bearer: Option<String>,
}

impl Harness {
    async fn send(&self, c: &Client, method: &str, uri: &str, form: Option<&str>) -> Answer {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(cookie) = &c.cookie {
            let pair = cookie.split(';').next().unwrap();
            b = b.header(header::COOKIE, pair);
        }
        if let Some(t) = &c.bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match form {
            Some(f) => {
                b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(f.to_owned())
            }
            None => Body::empty(),
        };
        let res = self
            .router
            .clone()
            .oneshot(b.body(body).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, c: &Client, uri: &str) -> Answer {
        self.send(c, "GET", uri, None).await
    }

    fn seed(&self, user: &str) -> String {
        self.seeds
            .iter()
            .find(|(u, _)| u == user)
            .unwrap()
            .1
            .clone()
    }

    /// Signs in with password and TOTP; returns the signed-in client.
    async fn sign_in(&self, user: &str) -> Client {
        let mut c = Client::default();
        let page = self.get(&c, "/login").await;
        assert_eq!(page.status, StatusCode::OK);
        c.cookie = page.cookie();
        let csrf = page.csrf();
        let form = format!(
            "csrf={csrf}&username={user}&password={}&next=%2F",
            enc(PASSWORD)
        );
        let a = self.send(&c, "POST", "/login", Some(&form)).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        assert_eq!(a.location(), "/login/totp");
        let rotated = a.cookie().unwrap();
        assert_ne!(
            Some(&rotated),
            c.cookie.as_ref(),
            "the session id changes at the password step"
        );
        c.cookie = Some(rotated);
        let page = self.get(&c, "/login/totp").await;
        let csrf = page.csrf();
        // A fresh time step for each sign-in (a code is accepted once).
        self.clock.advance(30);
        let code = totp::code_at(&self.seed(user), self.clock.now()).unwrap();
        let a = self
            .send(
                &c,
                "POST",
                "/login/totp",
                Some(&format!("csrf={csrf}&code={code}")),
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        c.cookie = Some(a.cookie().unwrap());
        let home = self.get(&c, "/me/tokens").await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        c.csrf = home.csrf();
        c
    }

    /// Adds a web user with the harness's password and a second factor.
    fn add_user(&mut self, name: &str, role: UserRole, identity: Option<IdentityKey>) {
        let seed = totp::new_secret();
        let phc = password::hash(PASSWORD).unwrap();
        self.store
            .write("cli:test", self.clock.now(), |w| {
                w.add_user(UserRecord {
                    name: name.into(),
                    role,
                    identity: identity.clone(),
                    email: None,
                    oidc_subject: None,
                    disabled: false,
                })?;
                w.set_credential(name, CredentialKind::Password, Some(&phc), false)?;
                w.set_credential(name, CredentialKind::Totp, Some(&seed), false)
            })
            .unwrap();
        self.seeds.push((name.into(), seed));
    }

    fn events(&self, kind: &str) -> Vec<gatehouse_store::EventRow> {
        self.store
            .read(|r| {
                r.events(&EventFilter {
                    kind: Some(kind.into()),
                    ..EventFilter::default()
                })
            })
            .unwrap()
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn every_route_checks_the_role() {
    let h = harness();
    let ident = |k: &IdentityKey| format!("/identities/{}", k);
    let (own, other) = (
        format!("/systems/{}", h.owned_system),
        format!("/systems/{}", h.other_system),
    );
    let who = format!("/who-has?entitlement={}", enc(&h.entitlement));
    // (route, admin, auditor, reviewer, person)
    let gets: Vec<(String, [u16; 4])> = vec![
        ("/".into(), [200, 200, 303, 303]),
        ("/identities".into(), [200, 200, 403, 403]),
        (ident(&h.stranger), [200, 200, 404, 404]),
        (ident(&h.owner), [200, 200, 200, 404]),
        (ident(&h.person), [200, 200, 404, 200]),
        (who, [200, 200, 403, 403]),
        ("/systems".into(), [200, 200, 200, 403]),
        (own, [200, 200, 200, 404]),
        (other, [200, 200, 404, 404]),
        ("/findings".into(), [200, 200, 403, 403]),
        (format!("/findings/{}", h.finding), [200, 200, 403, 403]),
        ("/ledger".into(), [200, 200, 403, 403]),
        ("/ledger/export".into(), [409, 409, 403, 403]),
        ("/me/tokens".into(), [200, 200, 200, 200]),
        ("/api/me".into(), [200, 200, 200, 200]),
        ("/api/systems".into(), [200, 200, 403, 403]),
        (
            format!("/api/systems/{}", h.owned_system),
            [200, 200, 200, 404],
        ),
        (
            format!("/api/identities/{}/access", h.stranger),
            [200, 200, 404, 404],
        ),
        (
            format!("/api/identities/{}/access", h.person),
            [200, 200, 404, 200],
        ),
        ("/api/findings".into(), [200, 200, 403, 403]),
        ("/api/changes?from=2026-01-01".into(), [200, 200, 403, 403]),
        ("/api/ledger/events?limit=5".into(), [200, 200, 403, 403]),
        ("/api/users".into(), [200, 403, 403, 403]),
        ("/reviews".into(), [200, 200, 200, 200]),
        ("/campaigns".into(), [200, 200, 403, 403]),
        ("/campaigns/C-0001".into(), [404, 404, 403, 403]),
        ("/reviews/C-0001/1".into(), [404, 404, 404, 404]),
        ("/remediation".into(), [200, 200, 200, 200]),
        ("/remediation/C-0001/1".into(), [404, 404, 404, 404]),
        ("/ledger/events/1".into(), [200, 200, 403, 403]),
        ("/api/campaigns".into(), [200, 200, 403, 403]),
        ("/api/reviews".into(), [403, 403, 200, 200]),
    ];
    let roles = ["admin", "auditor", "reviewer", "person"];
    let mut failures = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let c = h.sign_in(role).await;
        for (route, expected) in &gets {
            let a = h.get(&c, route).await;
            if a.status.as_u16() != expected[i] {
                failures.push(format!(
                    "{role} GET {route}: {} (expected {})",
                    a.status, expected[i]
                ));
            }
        }
        // Changes: accept a risk (second factor fresh from sign-in), verify, run the analysis.
        let accept = format!(
            "csrf={}&reason=compensating+control&until=2026-09-30",
            c.csrf
        );
        let a = h
            .send(
                &c,
                "POST",
                &format!("/findings/{}/accept", h.finding),
                Some(&accept),
            )
            .await;
        let want = if *role == "admin" { 303 } else { 403 };
        if a.status.as_u16() != want {
            failures.push(format!("{role} accept: {} {}", a.status, a.body));
        }
        let a = h
            .send(
                &c,
                "POST",
                "/ledger/verify",
                Some(&format!("csrf={}", c.csrf)),
            )
            .await;
        let want = if matches!(*role, "admin" | "auditor") {
            409
        } else {
            403
        };
        if a.status.as_u16() != want {
            failures.push(format!("{role} verify: {}", a.status));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let denied = h.events("user.access_denied");
    assert!(denied.len() >= 20, "refusals are events: {}", denied.len());
    let accepted = h.store.read(|r| r.finding(&h.finding)).unwrap();
    assert_eq!(accepted.status, FindingStatus::Accepted);
    assert_eq!(accepted.accepted_by.as_deref(), Some("web:admin"));
}

#[tokio::test]
async fn nobody_accepts_the_risk_of_their_own_access() {
    let mut h = harness();
    let now = h.clock.now();
    let (finding, own) = h
        .store
        .read(|r| {
            r.findings(&FindingFilter {
                status: vec![FindingStatus::Open],
                ..FindingFilter::default()
            })
        })
        .unwrap()
        .into_iter()
        .find_map(|f| Some((f.finding.id.clone(), f.finding.identity.clone()?)))
        .expect("an open finding about a person");
    // An admin who is the person the finding is about.
    let seed = totp::new_secret();
    let phc = password::hash(PASSWORD).unwrap();
    h.store
        .write("cli:test", now, |w| {
            w.add_user(UserRecord {
                name: "insider".into(),
                role: UserRole::Admin,
                identity: Some(own.clone()),
                email: None,
                oidc_subject: None,
                disabled: false,
            })?;
            w.set_credential("insider", CredentialKind::Password, Some(&phc), false)?;
            w.set_credential("insider", CredentialKind::Totp, Some(&seed), false)
        })
        .unwrap();
    h.seeds.push(("insider".into(), seed));
    let c = h.sign_in("insider").await;
    let path = format!("/findings/{}", enc(&finding));
    let page = h.get(&c, &path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("about your own access"), "{}", page.body);
    assert!(!page.body.contains("/accept\""), "no form to accept it");
    let form = format!("csrf={}&reason=it+is+fine&until=2026-09-30", c.csrf);
    let a = h
        .send(&c, "POST", &format!("{path}/accept"), Some(&form))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(a.body.contains("your own access"), "{}", a.body);
    let row = h.store.read(|r| r.finding(&finding)).unwrap();
    assert_eq!(row.status, FindingStatus::Open, "nothing was accepted");
    assert!(
        h.events("user.access_denied")
            .iter()
            .any(|e| String::from_utf8_lossy(&e.body).contains("insider")),
        "the refusal is an event"
    );
    // Another admin may.
    let c = h.sign_in("admin").await;
    let form = format!(
        "csrf={}&reason=compensating+control&until=2026-09-30",
        c.csrf
    );
    let a = h
        .send(&c, "POST", &format!("{path}/accept"), Some(&form))
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
}

#[tokio::test]
async fn forms_need_the_sessions_anti_forgery_token() {
    let h = harness();
    let c = h.sign_in("admin").await;
    let path = format!("/findings/{}/accept", h.finding);
    for form in [
        "reason=x&until=2026-09-30".to_string(),
        "csrf=forged&reason=x&until=2026-09-30".to_string(),
    ] {
        let a = h.send(&c, "POST", &path, Some(&form)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert!(a.body.contains("GH705"), "{}", a.body);
    }
    // A token of another session does not do either.
    let other = h.sign_in("auditor").await;
    let a = h
        .send(
            &c,
            "POST",
            &path,
            Some(&format!("csrf={}&reason=x&until=2026-09-30", other.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = h.send(&c, "POST", "/logout", Some("")).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // A sign-in form posted without a session of its own is refused.
    let a = h
        .send(
            &Client::default(),
            "POST",
            "/login",
            Some(&format!("csrf=x&username=admin&password={}", enc(PASSWORD))),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        h.store.read(|r| r.finding(&h.finding)).unwrap().status,
        FindingStatus::Open
    );
}

#[tokio::test]
async fn sessions_rotate_carry_safe_cookies_and_expire() {
    let h = harness();
    let anonymous = h.get(&Client::default(), "/login").await;
    let cookie = anonymous.cookie().unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let c = h.sign_in("auditor").await;
    assert_ne!(c.cookie, Some(cookie.clone()));
    // The pre-sign-in id gives nothing.
    let old = Client {
        cookie: Some(cookie),
        ..Client::default()
    };
    assert_eq!(h.get(&old, "/findings").await.status, StatusCode::SEE_OTHER);
    assert_eq!(h.get(&c, "/findings").await.status, StatusCode::OK);
    // Idle for longer than the idle limit: signed out.
    h.clock.advance(31 * 60);
    let a = h.get(&c, "/findings").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.location().starts_with("/login?next="), "{}", a.location());
    let api = h.get(&c, "/api/findings").await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert!(api.body.contains("\"GH701\""), "{}", api.body);
    // Signing out ends the session.
    let c = h.sign_in("auditor").await;
    let a = h
        .send(&c, "POST", "/logout", Some(&format!("csrf={}", c.csrf)))
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(h.get(&c, "/findings").await.status, StatusCode::SEE_OTHER);
    assert!(h.events("user.signed_in").len() >= 2);
}

/// The server keeps signed-in users' records between requests: a change to a user committed
/// since is seen at the very next request, not when the record would have been read again.
#[tokio::test]
async fn a_user_changed_while_signed_in_is_read_again_at_once() {
    let h = harness();
    let c = h.sign_in("admin").await;
    assert_eq!(h.get(&c, "/campaigns").await.status, StatusCode::OK);
    let change = |f: fn(&mut gatehouse_model::UserRecord)| {
        h.store
            .write("test", start(), |w| {
                let mut u = w.read()?.user("admin")?.expect("the admin");
                let mut record = u.record();
                f(&mut record);
                u.disabled = record.disabled;
                w.change_user(record)
            })
            .unwrap();
    };
    // An admin made auditor: an admin's page is refused at once.
    change(|u| u.role = gatehouse_model::UserRole::Auditor);
    let refused = h
        .send(&c, "POST", "/campaigns", Some(&format!("csrf={}", c.csrf)))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    // Disabled: signed out at the next request.
    change(|u| u.disabled = true);
    let a = h.get(&c, "/findings").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.location().starts_with("/login?next="), "{}", a.location());
    // Enabled again, the ended session stays ended.
    change(|u| u.disabled = false);
    assert_eq!(h.get(&c, "/findings").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn password_guessing_is_slowed_and_recorded() {
    let h = harness();
    let mut c = Client::default();
    let page = h.get(&c, "/login").await;
    c.cookie = page.cookie();
    let csrf = page.csrf();
    for _ in 0..5 {
        let a = h
            .send(
                &c,
                "POST",
                "/login",
                Some(&format!("csrf={csrf}&username=admin&password=guess")),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(a.body.contains("Wrong user name or password"));
    }
    // Even the right password is refused now.
    let right = format!("csrf={csrf}&username=admin&password={}", enc(PASSWORD));
    let a = h.send(&c, "POST", "/login", Some(&right)).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.body.contains("GH703"));
    let failed = h.events("user.sign_in_failed");
    assert_eq!(failed.len(), 5);
    // An unknown user fails the same way, and is recorded.
    h.clock.advance(16 * 60);
    let a = h
        .send(
            &c,
            "POST",
            "/login",
            Some(&format!("csrf={csrf}&username=nobody&password=x")),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("Wrong user name or password"));
    // After the window the right password works.
    let a = h.send(&c, "POST", "/login", Some(&right)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn api_tokens_are_scoped_expire_and_can_be_revoked() {
    let h = harness();
    let make = |scopes: &[Scope], days: i64| {
        let now = h.clock.now();
        let (text, rec) = auth::new_token(
            "auditor",
            scopes,
            now.checked_add(jiff::SignedDuration::from_hours(24 * days))
                .unwrap(),
        );
        let id = rec.id.clone();
        h.store
            .write("cli:test", now, |w| w.create_token(rec))
            .unwrap();
        (text, id)
    };
    let (read, read_id) = make(&[Scope::Read], 30);
    let (evidence, _) = make(&[Scope::Evidence], 30);
    let c = Client {
        bearer: Some(read.clone()),
        ..Client::default()
    };
    assert_eq!(h.get(&c, "/api/systems").await.status, StatusCode::OK);
    let a = h.send(&c, "POST", "/api/ledger/verify", None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(a.body.contains("GH704"));
    let e = Client {
        bearer: Some(evidence),
        ..Client::default()
    };
    assert_eq!(
        h.get(&e, "/api/systems").await.status,
        StatusCode::FORBIDDEN
    );
    // Privileged actions need a person with a second factor, whatever the scope.
    let a = h
        .send(
            &c,
            "POST",
            &format!("/findings/{}/accept", h.finding),
            Some("reason=x&until=2026-09-30"),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // A wrong secret, an expired token and a revoked one are refused alike.
    let forged = format!("{}x", &read[..read.len() - 1]);
    let f = Client {
        bearer: Some(forged),
        ..Client::default()
    };
    let a = h.get(&f, "/api/systems").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("GH707"));
    h.clock.advance(31 * 24 * 3600);
    assert_eq!(
        h.get(&c, "/api/systems").await.status,
        StatusCode::UNAUTHORIZED
    );
    let (fresh, fresh_id) = make(&[Scope::Read], 30);
    let _ = read_id;
    let c = Client {
        bearer: Some(fresh),
        ..Client::default()
    };
    assert_eq!(h.get(&c, "/api/systems").await.status, StatusCode::OK);
    h.store
        .write("cli:test", h.clock.now(), |w| w.revoke_token(&fresh_id))
        .unwrap();
    assert_eq!(
        h.get(&c, "/api/systems").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn imported_markup_is_shown_as_text() {
    let h = harness();
    let c = h.sign_in("admin").await;
    for route in [
        format!("/identities/{}", h.hostile),
        "/identities?q=E000003".to_string(),
    ] {
        let a = h.get(&c, &route).await;
        assert_eq!(a.status, StatusCode::OK, "{route}");
        assert!(!a.body.contains("<script>alert"), "{route} shows markup");
        assert!(!a.body.contains("<img src=x"), "{route} shows markup");
        assert!(
            a.body.contains("&lt;script&gt;alert(1)")
                || a.body.contains("&#60;script&#62;alert(1)"),
            "{route}: {}",
            a.body
                .find("script")
                .map(|i| &a.body[i.saturating_sub(40)..i + 60])
                .unwrap_or("no script")
        );
        let csp = a
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self'"));
    }
    let a = h
        .get(&c, &format!("/api/identities/{}/access", h.hostile))
        .await;
    assert_eq!(
        a.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    assert!(a.headers.get(header::X_CONTENT_TYPE_OPTIONS).is_some());
}

#[tokio::test]
async fn health_metrics_and_the_api_document() {
    let h = harness();
    let anon = Client::default();
    assert_eq!(h.get(&anon, "/healthz").await.status, StatusCode::OK);
    assert!(h.get(&anon, "/readyz").await.body.starts_with("ready"));
    let doc = h.get(&anon, "/api/openapi.json").await;
    for path in [
        "/api/who-has",
        "/api/findings/{id}",
        "/api/ledger/verify",
        "/api/identities/{key}/access",
    ] {
        assert!(
            doc.body.contains(path),
            "{path} missing from the API document"
        );
    }
    let js = h.get(&anon, "/assets/htmx.min.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.len() > 40_000);
    let a = h.get(&anon, "/nowhere").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.headers.get("x-request-id").is_some());
    let m = h.get(&anon, "/metrics").await.body;
    assert!(
        m.contains(
            "gatehouse_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"
        ),
        "{m}"
    );
}

#[tokio::test]
async fn the_scheduler_seals_publishes_and_expires_acceptances() {
    let publish = tempfile::tempdir().unwrap();
    let dir = publish.path().to_owned();
    let signer =
        gatehouse_ledger::NoteSigner::generate_from_seed("test.example/gatehouse", [3; 32])
            .unwrap();
    let h = harness_with(|c| {
        c.signer = Some(signer.clone());
        c.publish_dir = Some(dir.clone());
    });
    let now = h.clock.now();
    let until = now
        .checked_add(jiff::SignedDuration::from_hours(24))
        .unwrap();
    gatehouse_workflow::accept(
        &h.store,
        &gatehouse_analysis::Policy::default(),
        &h.finding,
        "ok",
        until,
        "cli:test",
        now,
    )
    .unwrap();
    gatehouse_server::scheduler::tick(&h.app).await;
    let size = h.store.event_count().unwrap();
    let latest = h.store.read(|r| r.latest_checkpoint()).unwrap().unwrap();
    assert_eq!(latest.size, size);
    let published = std::fs::read_to_string(dir.join("checkpoint")).unwrap();
    assert_eq!(published, latest.note);
    h.clock.advance(2 * 24 * 3600);
    gatehouse_server::scheduler::tick(&h.app).await;
    assert_eq!(
        h.store.read(|r| r.finding(&h.finding)).unwrap().status,
        FindingStatus::Open
    );
    let reopened = h.store.read(|r| r.latest_checkpoint()).unwrap().unwrap();
    assert_eq!(reopened.size, h.store.event_count().unwrap());
    // And the ledger verifies from the web.
    let c = h.sign_in("auditor").await;
    let a = h
        .send(
            &c,
            "POST",
            "/ledger/verify",
            Some(&format!("csrf={}", c.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("The ledger verifies"), "{}", a.body);
    let bundle = h.get(&c, "/ledger/export").await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.body.contains("ustar"));
}

#[test]
fn https_with_the_configured_certificate() {
    // A certificate for `localhost` from a test CA made for this test (both valid until 2126;
    // the CA's key was thrown away).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
    let h = harness_with(|c| {
        c.tls = Some(gatehouse_server::TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        })
    });
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
    let cert =
        ureq::tls::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
                .build(),
        )
        .build()
        .into();
    let mut r = agent
        .get(&format!("https://localhost:{port}/healthz"))
        .call()
        .unwrap();
    assert_eq!(r.body_mut().read_to_string().unwrap(), "ok\n");
    let r = agent
        .get(&format!("https://localhost:{port}/login"))
        .call()
        .unwrap();
    assert!(r.headers().get("strict-transport-security").is_some());
    // Plain HTTP on the TLS port gets nothing, and a client that does not trust the
    // certificate refuses it.
    assert!(
        ureq::get(&format!("http://localhost:{port}/healthz"))
            .call()
            .is_err()
    );
    assert!(
        ureq::get(&format!("https://localhost:{port}/healthz"))
            .call()
            .is_err()
    );
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
}
