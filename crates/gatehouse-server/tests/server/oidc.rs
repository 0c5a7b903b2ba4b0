//! OpenID Connect sign-in against a real provider: the certified `oidc-provider` package on
//! Node (installed by `scripts/setup` into `tests/oidc/`), started on loopback, driven in
//! headless Chromium. A user matched by e-mail signs in and gets the subject recorded; an
//! identity with no Gatehouse user is refused and the refusal recorded. Without Node or the
//! package the test fails: it is never skipped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use super::e2e::{Browser, free_port};
use super::*;

struct Provider(Child);

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_provider(port: u16, redirect: &str) -> Provider {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "the oidc-provider package is not installed in {}: run scripts/setup",
        dir.display()
    );
    let mut child = Command::new("node")
        .arg("provider.mjs")
        .arg(port.to_string())
        .arg("gatehouse-test")
        .arg("a-test-client-secret")
        .arg(redirect)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts (install Node.js and run scripts/setup)");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("ready "),
        "the provider did not start: {line}"
    );
    // Keep reading what it prints, so that its writes never meet a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Provider(child)
}

/// The provider asks a native client's user to confirm the authorization: confirm it.
fn consent(b: &Browser) {
    b.wait_for(
        "return document.readyState === 'complete' && (location.pathname.startsWith('/interaction/') \
         ? document.body.innerText.includes('Continue') : true)",
    );
    if b.script("return location.pathname.startsWith('/interaction/')") == serde_json::json!(true) {
        b.click("button[type=submit]");
    }
}

#[test]
fn sign_in_with_openid_connect() {
    let (site_port, idp_port) = (free_port(), free_port());
    // `localhost` for both: one site for the browser (a cookie of the session that started the
    // sign-in comes back with the provider's redirect) and a secure context for the Secure
    // cookie over plain HTTP.
    let site = format!("http://localhost:{site_port}");
    let redirect = format!("{site}/login/oidc/callback");
    let _provider = start_provider(idp_port, &redirect);
    let settings = gatehouse_server::OidcSettings {
        issuer: format!("http://localhost:{idp_port}"),
        client_id: "gatehouse-test".into(),
        client_secret: "a-test-client-secret".into(),
        redirect_url: redirect,
        label: "the test provider".into(),
    };
    let h = harness_with(|c| c.oidc = Some(settings));
    h.store
        .write("cli:test", h.clock.now(), |w| {
            w.add_user(UserRecord {
                name: "erin".into(),
                role: UserRole::Auditor,
                identity: None,
                email: Some("Erin@example.com".into()),
                oidc_subject: None,
                disabled: false,
            })
        })
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", site_port)))
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(gatehouse_server::serve(h.app.clone(), listener, async {
        let _ = stopped.await;
    }));

    let b = Browser::start();
    b.go(&format!("{site}/login"));
    b.click("#oidc");
    b.wait_for("return document.querySelector('input[name=login]') !== null");
    b.fill("input[name=login]", "erin");
    b.fill("input[name=password]", "anything");
    b.click("button[type=submit]");
    consent(&b);
    b.wait_for("return document.readyState === 'complete' && !location.pathname.startsWith('/interaction/')");
    let failures: Vec<String> = h
        .events("user.sign_in_failed")
        .iter()
        .map(|e| String::from_utf8_lossy(&e.body).into_owned())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    b.wait_for(
        "return document.querySelector('h1') !== null && document.querySelector('h1').textContent === 'Dashboard'",
    );
    let erin = h.store.read(|r| r.user("erin")).unwrap().unwrap();
    assert_eq!(erin.oidc_subject.as_deref(), Some("erin"));
    let signed = h.events("user.signed_in");
    assert!(
        signed
            .iter()
            .any(|e| String::from_utf8_lossy(&e.body).contains("\"method\":\"oidc\"")),
        "the sign-in is an event"
    );
    drop(b);

    // A callback whose `state` is not the one this browser was sent with (a forged or replayed
    // link) is refused before any code is exchanged.
    let b = Browser::start();
    b.go(&format!("{site}/login"));
    b.click("#oidc");
    b.wait_for("return document.querySelector('input[name=login]') !== null");
    b.go(&format!(
        "{site}/login/oidc/callback?code=forged&state=forged"
    ));
    b.wait_for("return document.body.textContent.includes('GH705')");
    assert!(
        h.events("user.sign_in_failed")
            .iter()
            .any(|e| String::from_utf8_lossy(&e.body).contains("state does not match")),
        "the forged callback is recorded"
    );
    drop(b);

    // Someone the provider knows and Gatehouse does not.
    let b = Browser::start();
    b.go(&format!("{site}/login"));
    b.click("#oidc");
    b.wait_for("return document.querySelector('input[name=login]') !== null");
    b.fill("input[name=login]", "mallory");
    b.fill("input[name=password]", "anything");
    b.click("button[type=submit]");
    consent(&b);
    b.wait_for("return document.body.textContent.includes('GH702')");
    let failed = h.events("user.sign_in_failed");
    assert!(
        failed
            .iter()
            .any(|e| String::from_utf8_lossy(&e.body).contains("mallory@example.com")),
        "the refusal is an event"
    );
    drop(b);
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
}
