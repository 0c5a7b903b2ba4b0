//! `gatehouse witness init` and `serve` as real processes: two witnesses on loopback cosign an
//! in-memory log; one is killed, restarted from its state file, and both refuse a rollback.
//! Then the same with Gatehouse itself on both backends: every seal sends its checkpoint to two
//! witness processes, a witness that was down catches up, and a rollback or a rewritten history
//! re-signed with the genuine key is refused by the witnesses and caught by `ledger verify`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use gatehouse_ledger::{
    Checkpoint, LedgerError, MemoryTiles, NoteSigner, SignedCheckpoint, WitnessPolicy,
    WitnessVerifier, consistency_proof, leaf_hash, merge_cosignatures, root,
};
use gatehouse_witness::{WitnessClient, WitnessError, cosign_all};

const ORIGIN: &str = "gatehouse.test/ledger";

fn gatehouse(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    c.current_dir(dir)
        // A witness never opens the store: this one must never appear.
        .env("GATEHOUSE_DB", dir.join("must-not-exist.db"))
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_WITNESS_KEY_FILE");
    c
}

/// A `gatehouse witness serve` process, killed when dropped.
struct Served {
    child: Child,
    stdout: BufReader<ChildStdout>,
    url: String,
}

impl Served {
    fn start(dir: &Path, name: &str, log_key: &Path, listen: &str) -> Served {
        let mut child = gatehouse(dir)
            .args(["witness", "serve", "--listen", listen, "--threads", "1"])
            .args(["--key", &format!("{name}.key")])
            .args(["--state", &format!("{name}.json")])
            .args(["--log", &format!("{ORIGIN}={}", log_key.display())])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .split_once("listening on ")
            .map(|(_, u)| u.trim().to_string())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Served { child, stdout, url }
    }

    fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn init(dir: &Path, name: &str) -> WitnessVerifier {
    let out = gatehouse(dir)
        .args(["witness", "init", "--name", &format!("witness.test/{name}")])
        .args([
            "--key",
            &format!("{name}.key"),
            "--state",
            &format!("{name}.json"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vkey = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    assert!(stdout.contains(vkey.trim()), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(format!("{name}.key")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    WitnessVerifier::from_vkey(vkey.trim()).unwrap()
}

struct Log {
    tiles: MemoryTiles,
    signer: NoteSigner,
}

impl Log {
    fn note(&mut self, size: u64) -> String {
        let r = root(&mut self.tiles, size).unwrap();
        SignedCheckpoint::sign(Checkpoint::new(ORIGIN, size, r), &self.signer)
            .unwrap()
            .note()
            .to_string()
    }
}

fn cosign(
    log: &mut Log,
    size: u64,
    clients: &[WitnessClient],
    old: &[u64],
) -> (String, Vec<Result<u64, WitnessError>>) {
    let note = log.note(size);
    let tiles = std::sync::Mutex::new(&mut log.tiles);
    let outcomes = cosign_all(clients, &note, old, |a, b| {
        consistency_proof(&mut **tiles.lock().unwrap(), a, b).map(|p| p.hashes)
    });
    let cosignatures: Vec<_> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().map(|c| c.cosignature.clone()))
        .collect();
    let note = merge_cosignatures(&note, &cosignatures).unwrap();
    (
        note,
        outcomes
            .into_iter()
            .map(|o| o.map(|c| c.old_size))
            .collect(),
    )
}

#[test]
fn two_witness_processes_cosign_survive_a_crash_and_refuse_a_rollback() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let v1 = init(dir, "w1");
    let v2 = init(dir, "w2");
    let again = gatehouse(dir)
        .args(["witness", "init", "--key", "w1.key", "--state", "w1.json"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));

    let leaves: Vec<_> = (0u32..5000).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut log = Log {
        tiles: MemoryTiles::from_leaves(&leaves),
        signer: NoteSigner::generate_from_seed(ORIGIN, [8; 32]).unwrap(),
    };
    let log_key = dir.join("log.pub");
    std::fs::write(&log_key, format!("{}\n", log.signer.vkey())).unwrap();

    let w1 = Served::start(dir, "w1", &log_key, "127.0.0.1:0");
    let mut w2 = Served::start(dir, "w2", &log_key, "127.0.0.1:0");
    let clients = |w1: &Served, w2: &Served| {
        vec![
            WitnessClient::new(&w1.url, v1.clone()).unwrap(),
            WitnessClient::new(&w2.url, v2.clone()).unwrap(),
        ]
    };
    let both = WitnessPolicy::new(vec![v1.clone(), v2.clone()], 2).unwrap();
    let key = log.signer.verifier();

    // Both cosign, twice.
    let (note, outcomes) = cosign(&mut log, 1000, &clients(&w1, &w2), &[0, 0]);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(both.check(&note, &key).unwrap().cosigned.len(), 2);
    let (note, outcomes) = cosign(&mut log, 2000, &clients(&w1, &w2), &[1000, 1000]);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert!(both.check(&note, &key).is_ok());

    // w2 crashes (SIGKILL): w1 still cosigns, w2 is reported unreachable,
    // and the quorum of 2 is not met.
    let w2_addr = w2.addr();
    w2.child.kill().unwrap();
    w2.child.wait().unwrap();
    let (note, outcomes) = cosign(&mut log, 3000, &clients(&w1, &w2), &[2000, 2000]);
    assert_eq!(outcomes[0].as_ref().unwrap(), &2000);
    assert!(
        matches!(outcomes[1], Err(WitnessError::Unreachable { .. })),
        "{outcomes:?}"
    );
    assert!(matches!(
        both.check(&note, &key),
        Err(LedgerError::QuorumNotMet {
            have: 1,
            need: 2,
            ..
        })
    ));

    // Restarted on the same address and state, w2 remembers size 2000.
    w2 = Served::start(dir, "w2", &log_key, &w2_addr);
    let (note, outcomes) = cosign(&mut log, 4000, &clients(&w1, &w2), &[3000, 2000]);
    assert_eq!(outcomes[0].as_ref().unwrap(), &3000);
    assert_eq!(outcomes[1].as_ref().unwrap(), &2000);
    assert!(both.check(&note, &key).is_ok());

    // A rollback to 3500 signed with the genuine key: both refuse and say so.
    let (_, outcomes) = cosign(&mut log, 3500, &clients(&w1, &w2), &[4000, 4000]);
    for o in &outcomes {
        match o {
            Err(
                e @ WitnessError::Rollback {
                    witness_size: 4000,
                    size: 3500,
                    ..
                },
            ) => {
                assert!(e.to_string().contains("the log was rolled back"), "{e}");
            }
            other => panic!("expected a rollback refusal, got {other:?}"),
        }
    }

    // SIGTERM stops a witness cleanly.
    let mut w1 = w1;
    let status = Command::new("kill")
        .arg(w1.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(w1.child.wait().unwrap().success());
    let mut rest = String::new();
    w1.stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("witness stopped"), "{rest}");

    // The state file records what was cosigned; the store was never touched.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("w1.json")).unwrap()).unwrap();
    assert_eq!(state["logs"][ORIGIN]["size"], 4000);
    assert!(!dir.join("must-not-exist.db").exists());
}

#[test]
fn serve_refuses_to_start_without_its_state_or_with_bad_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(dir, "w");
    let log = NoteSigner::generate_from_seed(ORIGIN, [8; 32])
        .unwrap()
        .vkey();
    let run = |args: &[&str]| {
        let out = gatehouse(dir)
            .args([
                "witness",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--key",
                "w.key",
            ])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&["--state", "lost.json", "--log", &format!("{ORIGIN}={log}")]);
    assert!(
        err.contains(
            "state file `lost.json` does not exist: create it with `gatehouse witness init`"
        ),
        "{err}"
    );
    let err = run(&["--state", "w.json", "--log", "no-key-here"]);
    assert!(err.contains("is not `<origin>=<public key>`"), "{err}");
    let err = run(&["--state", "w.json", "--log", &format!("{ORIGIN}=w.pub")]);
    assert!(err.contains("not a log public key"), "{err}");
    let missing_key: PathBuf = dir.join("nope.key");
    let out = gatehouse(dir)
        .args(["witness", "serve", "--key"])
        .arg(&missing_key)
        .args(["--state", "w.json", "--log", &format!("{ORIGIN}={log}")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read the witness key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- Gatehouse with two witnesses --------------------------------------------------------------

use crate::{Env, PEOPLE, setup};

/// Runs and returns the exit code, stdout and stderr.
fn run(env: &Env, args: &[&str]) -> (Option<i32>, String, String) {
    let out = env.run(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs, expects success, returns stdout and stderr.
fn succeeds(env: &Env, args: &[&str]) -> (String, String) {
    let (code, stdout, stderr) = run(env, args);
    assert_eq!(code, Some(0), "gatehouse {args:?}:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// Runs, expects exit status 1, returns stderr.
fn refused(env: &Env, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(env, args);
    assert_eq!(
        code,
        Some(1),
        "gatehouse {args:?} should fail:\n{stdout}\n{stderr}"
    );
    stderr
}

/// The sizes of the stored checkpoints, and how many of the configured witnesses cosigned each.
fn checkpoints(env: &Env) -> Vec<(u64, String)> {
    let (out, _) = succeeds(env, &["ledger", "checkpoints", "--format", "csv"]);
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[3].to_owned())
        })
        .collect()
}

fn event_count(env: &Env) -> u64 {
    let store =
        gatehouse_store::Store::open(&env.db, &gatehouse_store::OpenOptions::existing()).unwrap();
    store.event_count().unwrap()
}

fn grants(env: &Env, rows: &[&str]) {
    env.write(
        "erp/grants.csv",
        format!("account,entitlement,source,warrant\n{}\n", rows.join("\n")).as_bytes(),
    );
}

fn witnessed_ledger(env: Env) {
    setup(&env);
    let dir = env.dir.path();
    succeeds(&env, &["init", "--origin", ORIGIN]);
    let v1 = init(dir, "w1");
    let v2 = init(dir, "w2");
    let log_key = dir.join("gatehouse.pub");
    let w1 = Served::start(dir, "w1", &log_key, "127.0.0.1:0");
    let mut w2 = Served::start(dir, "w2", &log_key, "127.0.0.1:0");
    env.write(
        "gatehouse.toml",
        format!(
            "[ledger]\npublish_dir = \"published\"\nwitnesses = [\n  {{ url = \"{}\", vkey = \"w1.pub\" }},\n  {{ url = \"{}\", vkey = \"{}\" }},\n]\nwitness_timeout = 2\n",
            w1.url,
            w2.url,
            v2.vkey()
        )
        .as_bytes(),
    );
    let label = |v: &WitnessVerifier| v.label();

    // Normal operation: every seal is cosigned by both.
    let (_, err) = succeeds(
        &env,
        &["import", "hr", "people.csv", "--as-of", "2026-01-01"],
    );
    assert!(
        err.contains(
            "witnessed: the checkpoint of size 2 is cosigned by 2 of 2 witnesses (quorum 2) ("
        ),
        "{err}"
    );
    let (_, err) = succeeds(&env, &["import", "system", "erp", "--as-of", "2026-02-01"]);
    assert!(err.contains("is cosigned by 2 of 2 witnesses"), "{err}");
    let cps = checkpoints(&env);
    assert_eq!(cps.len(), 2);
    assert!(cps.iter().all(|(_, c)| c == "2 of 2"), "{cps:?}");
    let m1 = cps[1].0;
    let (out, _) = succeeds(&env, &["ledger", "verify"]);
    assert!(out.starts_with("ledger OK: "), "{out}");
    assert!(
        out.contains(
            "read from `gatehouse.pub`, the configured public key file: it is kept beside the store"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "witnesses (configured): `{}`, `{}` trusted, quorum 2; 4 cosignature(s) on stored checkpoints verified; the latest checkpoint is cosigned by 2 of 2",
            label(&v1),
            label(&v2)
        )),
        "{out}"
    );
    for (v, w) in [(&v1, &w1), (&v2, &w2)] {
        assert!(
            out.contains(&format!(
                "witness `{}` ({}) holds the checkpoint of size {m1} (cosigned ",
                label(v),
                w.url
            )),
            "{out}"
        );
    }
    let (out, _) = succeeds(
        &env,
        &["ledger", "verify", "--key", "gatehouse.pub", "--no-state"],
    );
    assert!(out.contains("given with --key (`gatehouse.pub`)"), "{out}");
    let published = std::fs::read_to_string(env.path("published/checkpoint")).unwrap();
    assert_eq!(published.lines().filter(|l| l.starts_with("— ")).count(), 3);

    // The exported bundle carries the cosignatures and verifies offline with the witness keys.
    let (out, _) = succeeds(&env, &["ledger", "export", "--out", "bundle"]);
    assert!(
        out.contains(&format!(
            "--witness-key '{}' --witness-key '{}'",
            v1.vkey(),
            v2.vkey()
        )),
        "{out}"
    );
    let key = gatehouse_ledger::NoteVerifier::from_vkey(
        std::fs::read_to_string(&log_key).unwrap().trim(),
    )
    .unwrap();
    let both = WitnessPolicy::all(vec![v1.clone(), v2.clone()]);
    let report =
        gatehouse_ledger::bundle::verify_bundle_with(&env.path("bundle"), &key, &both).unwrap();
    assert_eq!(report.cosigned.len(), 2);
    assert_eq!(report.bundle_witnesses, vec![v1.vkey(), v2.vkey()]);
    let (out, _) = succeeds(
        &env,
        &[
            "ledger",
            "verify",
            "--bundle",
            "bundle",
            "--witness-key",
            "w1.pub",
            "--witness-key",
            "w2.pub",
        ],
    );
    assert!(
        out.contains("witnesses: 2 of 2 trusted cosigned (quorum 2): `witness.test/w1+"),
        "{out}"
    );

    // A witness down: commands keep working and say the checkpoint is not yet witnessed.
    let w2_addr = w2.addr();
    w2.child.kill().unwrap();
    w2.child.wait().unwrap();
    grants(
        &env,
        &[
            "u1,role/AP_Approver,request,request:REQ-1",
            "u9,role/Admin,direct,",
        ],
    );
    let (_, err) = succeeds(&env, &["import", "system", "erp", "--as-of", "2026-03-01"]);
    let m2 = event_count(&env);
    assert!(
        err.contains(&format!(
            "warning: the checkpoint of size {m2} is not yet witnessed: cosigned by 1 of 2 witnesses, 2 required"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "  not cosigned by `{}`: witness {} is unreachable",
            label(&v2),
            w2.url
        )),
        "{err}"
    );
    assert!(
        err.contains("`gatehouse ledger checkpoint` does so now"),
        "{err}"
    );
    let (out, _) = succeeds(&env, &["ledger", "verify"]);
    assert!(
        out.contains("the latest checkpoint is cosigned by 1 of 2"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  warning: witness `{}` ({}) could not be asked (witness {} is unreachable",
            label(&v2),
            w2.url,
            w2.url
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "note: checkpoints after size {m1} are not yet witnessed"
        )),
        "{out}"
    );
    // Restarted from its state, it catches up with `ledger checkpoint`.
    w2 = Served::start(dir, "w2", &log_key, &w2_addr);
    let (out, err) = succeeds(&env, &["ledger", "checkpoint"]);
    assert!(
        err.contains(&format!(
            "witnessed: the checkpoint of size {m2} is cosigned by 2 of 2"
        )),
        "{err}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("— ")).count(),
        3,
        "{out}"
    );
    assert_eq!(
        checkpoints(&env).last().unwrap(),
        &(m2, "2 of 2".to_owned())
    );
    let published = std::fs::read_to_string(env.path("published/checkpoint")).unwrap();
    assert_eq!(published, out);
    let (_, err) = succeeds(&env, &["ledger", "checkpoint"]);
    assert!(
        err.contains("cosigned by 2 of 2 witnesses (quorum 2)\n"),
        "{err}"
    );

    // A rollback: the last import's events and checkpoint removed, tiles and state rolled
    // back with it. The store agrees with itself and with its remaining (genuine) checkpoints.
    let store =
        gatehouse_store::Store::open(&env.db, &gatehouse_store::OpenOptions::existing()).unwrap();
    gatehouse_store::testing::roll_back(&store, m1);
    drop(store);
    let (out, _) = succeeds(&env, &["ledger", "verify", "--offline"]);
    assert!(out.starts_with("ledger OK"), "{out}");
    // By default the witnesses are asked, and the rollback is named.
    let err = refused(&env, &["ledger", "verify"]);
    assert!(
        err.starts_with(&format!(
            "ledger verification FAILED: a witness cosigned the tree of {m2} events but the log holds only {m1}: events {} to {m2} were removed; the log agrees with what was cosigned up to size {m1}; witnesses `{}`, `{}` hold it",
            m1 + 1,
            label(&v1),
            label(&v2)
        )),
        "{err}"
    );
    // The next seal, signed with the genuine key, is refused by both witnesses.
    grants(&env, &["u2,role/Admin,direct,"]);
    let err = refused(&env, &["import", "system", "erp", "--as-of", "2026-03-05"]);
    let m3 = event_count(&env);
    assert!(
        err.starts_with(&format!(
            "error[GH406]: witnesses refuse the checkpoint of size {m3}: they cosigned a history this log no longer extends"
        )),
        "{err}"
    );
    assert_eq!(
        err.matches(&format!("witness {}", w1.url)).count(),
        1,
        "{err}"
    );
    assert_eq!(
        err.matches(&format!("witness {}", w2.url)).count(),
        1,
        "{err}"
    );
    assert!(err.contains("\nhint: keep the database as it is"), "{err}");
    let err = refused(&env, &["ledger", "checkpoint"]);
    assert!(err.starts_with("error[GH406]"), "{err}");

    // A rewritten history, re-signed with the genuine key and grown past what the witnesses
    // hold: refused at every seal, and named by `ledger verify`.
    let store =
        gatehouse_store::Store::open(&env.db, &gatehouse_store::OpenOptions::existing()).unwrap();
    gatehouse_store::testing::roll_back(&store, cps[0].0);
    drop(store);
    env.write(
        "people.csv",
        PEOPLE.replace("Ada,Lovelace", "Ada,Mallory").as_bytes(),
    );
    let err = refused(
        &env,
        &["import", "hr", "people.csv", "--as-of", "2026-01-15"],
    );
    assert!(err.starts_with("error[GH406]"), "{err}");
    let mut day = 1;
    while event_count(&env) < m2 {
        let rows: &[&str] = if day % 2 == 0 {
            &["u1,role/AP_Approver,request,request:REQ-1"]
        } else {
            &["u1,role/Admin,direct,", "u2,role/Vendor_Maint,direct,"]
        };
        grants(&env, rows);
        let err = refused(
            &env,
            &[
                "import",
                "system",
                "erp",
                "--allow-mass-removal",
                "--as-of",
                &format!("2026-02-{day:02}"),
            ],
        );
        assert!(err.starts_with("error[GH406]"), "{err}");
        day += 1;
    }
    let (out, _) = succeeds(&env, &["ledger", "verify", "--offline"]);
    assert!(out.starts_with("ledger OK"), "{out}");
    let err = refused(&env, &["ledger", "verify"]);
    assert!(
        err.starts_with(&format!(
            "ledger verification FAILED: the log's tree of {m2} events differs from the one a witness cosigned: an event after {} and at or before {m2} was changed, removed or inserted, and the log re-signed",
            cps[0].0
        )),
        "{err}"
    );

    // Everything re-signed with a new key that replaces the key files beside the store: the
    // store agrees with the key file, but the witnesses hold checkpoints of the genuine key.
    let store =
        gatehouse_store::Store::open(&env.db, &gatehouse_store::OpenOptions::existing()).unwrap();
    gatehouse_store::testing::execute(&store, "DELETE FROM checkpoint", &[]);
    drop(store);
    let forged = NoteSigner::generate_from_seed(ORIGIN, [9; 32]).unwrap();
    env.write(
        "gatehouse.key",
        format!("{}\n", forged.private_key()).as_bytes(),
    );
    env.write("gatehouse.pub", format!("{}\n", forged.vkey()).as_bytes());
    let (_, err) = succeeds(&env, &["ledger", "checkpoint"]);
    assert!(
        err.contains("is not yet witnessed: cosigned by 0 of 2"),
        "{err}"
    );
    assert!(
        err.contains("does not accept the log's signature on the checkpoint (403)"),
        "{err}"
    );
    let (out, _) = succeeds(&env, &["ledger", "verify", "--offline"]);
    assert!(
        out.contains("read from `gatehouse.pub`, the configured public key file"),
        "{out}"
    );
    let err = refused(&env, &["ledger", "verify"]);
    assert!(
        err.starts_with(&format!(
            "ledger verification FAILED: witness `{}` ({}) holds a checkpoint of `{ORIGIN}` that the trusted key `{}` did not sign",
            label(&v1),
            w1.url,
            forged.verifier().label()
        )),
        "{err}"
    );
}

both!(witnessed_ledger);

fn not_checkpointed(env: Env) {
    setup(&env);
    succeeds(&env, &["init", "--origin", ORIGIN]);
    // The first import runs without the signing key, as if it had crashed before signing.
    std::fs::rename(env.path("gatehouse.key"), env.path("away.key")).unwrap();
    let (_, err) = succeeds(
        &env,
        &["import", "hr", "people.csv", "--as-of", "2026-01-01"],
    );
    assert!(
        err.contains("the new events are not covered by a signed checkpoint"),
        "{err}"
    );
    let err = refused(&env, &["ledger", "verify"]);
    assert!(
        err.starts_with("error[GH403]: no signed checkpoint covers the log: its 2 events agree with the tree and the state tables, but no signature vouches for them"),
        "{err}"
    );
    assert!(
        err.contains("\nhint: if a command stopped before it signed, run it again"),
        "{err}"
    );
    std::fs::rename(env.path("away.key"), env.path("gatehouse.key")).unwrap();
    succeeds(&env, &["ledger", "checkpoint"]);
    succeeds(&env, &["ledger", "verify"]);
    // Events after the last checkpoint are not a failure.
    std::fs::rename(env.path("gatehouse.key"), env.path("away.key")).unwrap();
    succeeds(&env, &["import", "system", "erp", "--as-of", "2026-02-01"]);
    let (out, _) = succeeds(&env, &["ledger", "verify"]);
    assert!(out.contains("note: events 3–"), "{out}");
    assert!(
        out.contains("are not yet covered by a signed checkpoint"),
        "{out}"
    );
}

both!(not_checkpointed);

#[test]
fn witness_settings_are_checked() {
    let env = Env::sqlite();
    setup(&env);
    succeeds(&env, &["init", "--origin", ORIGIN]);
    let w = "witness.test/w+12345678+BAAA";
    for (toml, expected) in [
        (
            "[ledger]\nwitnesses = [{ url = \"ftp://w\", vkey = \"x\" }]\n".to_owned(),
            "error[GH111]: `[ledger] witnesses` entry 1: `ftp://w` is not an http:// or https:// URL".to_owned(),
        ),
        (
            format!("[ledger]\nwitnesses = [{{ url = \"http://w\", vkey = \"{w}\" }}]\n"),
            format!("error[GH111]: `[ledger] witnesses` entry 1: `{w}` is neither a witness public key nor a file holding one"),
        ),
        (
            "[ledger]\nwitnesses = [{ url = \"http://w\", key = \"w\" }]\n".to_owned(),
            "error[GH111]: ".to_owned(),
        ),
        (
            "[ledger]\nwitnesses = [{ url = \"https://u:secret@w/x\", vkey = \"x\" }]\n"
                .to_owned(),
            "error[GH111]: `[ledger] witnesses` entry 1: the URL carries a user name or password".to_owned(),
        ),
        (
            "[ledger]\nwitness_quorum = 1\n".to_owned(),
            "error[GH111]: witness_quorum is 1 but 0 witness(es) are configured".to_owned(),
        ),
        (
            "[ledger]\nwitness_timeout = 0\n".to_owned(),
            "error[GH111]: witness_timeout is 0: give a number of seconds above 0".to_owned(),
        ),
    ] {
        env.write("gatehouse.toml", toml.as_bytes());
        let err = refused(&env, &["ledger", "checkpoints"]);
        assert!(err.starts_with(&expected), "{toml}\n{err}");
        assert!(!err.contains("secret"), "{err}");
        assert!(err.contains("\nhint: fix the setting the message names"), "{err}");
    }
    std::fs::remove_file(env.path("gatehouse.toml")).unwrap();
    let out = env.run_with(
        &["ledger", "checkpoints"],
        &[("GATEHOUSE_LEDGER_WITNESSES", "http://w")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error[GH111]: GATEHOUSE_LEDGER_WITNESSES entry 1: `http://w` is not `<url>=<witness public key>`"),
        "{err}"
    );
}
