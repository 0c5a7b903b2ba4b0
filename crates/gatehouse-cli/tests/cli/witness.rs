//! `gatehouse witness init` and `serve` as real processes: two witnesses on loopback cosign an
//! in-memory log; one is killed, restarted from its state file, and both refuse a rollback.

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
