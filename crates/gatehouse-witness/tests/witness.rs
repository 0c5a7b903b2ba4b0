//! Two witness servers on loopback and a log kept in memory with the
//! ledger's own `Appender` and tiles: normal operation, a witness down, a
//! rollback, a fork, a re-signed rewrite, a stale old size, concurrent
//! requests, restarts, and the HTTP surface of the protocol.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use gatehouse_ledger::witness::SIZE_CONTENT_TYPE;
use gatehouse_ledger::*;
use gatehouse_witness::*;

const ORIGIN: &str = "gatehouse.example/ledger";

/// A log as the store keeps it: tiles written from the appender's dirty
/// tiles, checkpoints signed with the log key.
struct TestLog {
    signer: NoteSigner,
    appender: Appender,
    tiles: HashMap<TileId, Vec<Hash>>,
    salt: String,
}

impl TileReader for TestLog {
    type Error = LedgerError;

    fn read_tile(&mut self, id: TileId, width: u64) -> Result<Vec<Hash>, LedgerError> {
        let tile = self.tiles.get(&id).map_or(&[][..], |t| t.as_slice());
        if (tile.len() as u64) < width {
            return Err(LedgerError::TileTooShort {
                level: id.level,
                index: id.index,
                want: width,
                got: tile.len() as u64,
            });
        }
        Ok(tile[..width as usize].to_vec())
    }
}

impl TestLog {
    /// A log whose events are named after `salt`: two logs of different
    /// salts are two different histories under the same key.
    fn new(salt: &str) -> TestLog {
        TestLog {
            signer: NoteSigner::generate_from_seed(ORIGIN, [42; 32]).unwrap(),
            appender: Appender::new(),
            tiles: HashMap::new(),
            salt: salt.to_string(),
        }
    }

    fn append(&mut self, n: u64) {
        for _ in 0..n {
            let i = self.appender.size();
            self.appender
                .push(leaf_hash(format!("{}:{i}", self.salt).as_bytes()));
        }
        for (id, hashes) in self.appender.take_dirty_tiles() {
            self.tiles.insert(id, hashes);
        }
    }

    fn size(&self) -> u64 {
        self.appender.size()
    }

    /// The signed checkpoint of the tree as it is now.
    fn checkpoint(&mut self) -> String {
        self.checkpoint_at(self.size())
    }

    fn checkpoint_at(&mut self, size: u64) -> String {
        let r = root(self, size).unwrap();
        SignedCheckpoint::sign(Checkpoint::new(ORIGIN, size, r), &self.signer)
            .unwrap()
            .note()
            .to_string()
    }

    fn proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, LedgerError> {
        Ok(consistency_proof(self, old, new)?.hashes)
    }
}

struct Server {
    running: Option<RunningWitness>,
    key: WitnessSigner,
    state: PathBuf,
    log_key: NoteVerifier,
    clock: Arc<AtomicU64>,
    url: String,
}

impl Server {
    fn start(dir: &Path, name: &str, log_key: &NoteVerifier) -> Server {
        let state = dir.join(format!("{name}.json"));
        create_state_file(&state).unwrap();
        let seed: [u8; 32] = *leaf_hash(name.as_bytes()).first_chunk().unwrap();
        let mut s = Server {
            running: None,
            key: WitnessSigner::generate_from_seed(&format!("witness.example/{name}"), seed)
                .unwrap(),
            state,
            log_key: log_key.clone(),
            clock: Arc::new(AtomicU64::new(1_800_000_000)),
            url: String::new(),
        };
        s.restart("127.0.0.1:0".parse().unwrap());
        s
    }

    fn witness(&self) -> Witness {
        let clock = self.clock.clone();
        Witness::open(
            WitnessConfig {
                signer: self.key.clone(),
                logs: vec![WitnessedLog {
                    origin: ORIGIN.to_string(),
                    keys: vec![self.log_key.clone()],
                }],
                state: self.state.clone(),
            },
            Arc::new(move || clock.fetch_add(1, Ordering::SeqCst)),
        )
        .unwrap()
    }

    fn restart(&mut self, addr: SocketAddr) {
        let running = RunningWitness::start(self.witness(), addr, 1).unwrap();
        self.url = running.url();
        self.running = Some(running);
    }

    fn stop(&mut self) {
        self.running.take().unwrap().stop().unwrap();
    }

    fn client(&self) -> WitnessClient {
        WitnessClient::new(&self.url, self.key.verifier()).unwrap()
    }

    fn held(&self) -> u64 {
        let state = read_state_file(&self.state).unwrap();
        state.get(ORIGIN).map_or(0, |s| s.size)
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    log: TestLog,
    w1: Server,
    w2: Server,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let log = TestLog::new("genuine");
    let key = log.signer.verifier();
    let w1 = Server::start(dir.path(), "w1", &key);
    let w2 = Server::start(dir.path(), "w2", &key);
    Setup {
        _dir: dir,
        log,
        w1,
        w2,
    }
}

/// Asks both witnesses to cosign the log's current checkpoint, with the
/// given beliefs about their sizes; returns the note with the cosignatures
/// merged in and each outcome.
fn cosign_both(s: &mut Setup, old: [u64; 2]) -> (String, Vec<Result<Cosigned, WitnessError>>) {
    let note = s.log.checkpoint();
    let clients = [s.w1.client(), s.w2.client()];
    let log = std::sync::Mutex::new(&mut s.log);
    let outcomes = cosign_all(&clients, &note, &old, |a, b| {
        log.lock().unwrap().proof(a, b)
    });
    let got: Vec<Cosignature> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().map(|c| c.cosignature.clone()))
        .collect();
    (merge_cosignatures(&note, &got).unwrap(), outcomes)
}

fn policy(s: &Setup, quorum: usize) -> WitnessPolicy {
    WitnessPolicy::new(vec![s.w1.key.verifier(), s.w2.key.verifier()], quorum).unwrap()
}

#[test]
fn both_witnesses_cosign_as_the_log_grows() {
    let mut s = setup();
    let log_key = s.log.signer.verifier();
    let mut old = [0, 0];
    for step in [1u64, 5, 250, 1, 3000, 700] {
        s.log.append(step);
        let (note, outcomes) = cosign_both(&mut s, old);
        for (i, o) in outcomes.iter().enumerate() {
            let c = o.as_ref().unwrap();
            assert_eq!(c.old_size, old[i]);
        }
        let report = policy(&s, 2).check(&note, &log_key).unwrap();
        assert_eq!(report.checkpoint.size, s.log.size());
        assert_eq!(report.cosigned.len(), 2);
        old = [s.log.size(); 2];
        assert_eq!(s.w1.held(), s.log.size());
        assert_eq!(s.w2.held(), s.log.size());
    }
    // The same checkpoint again: cosigned again, later.
    let (note, outcomes) = cosign_both(&mut s, old);
    assert!(outcomes.iter().all(Result::is_ok));
    assert!(policy(&s, 2).check(&note, &log_key).is_ok());

    // The witness shows what it holds, with its cosignature.
    let latest = s.w1.client().latest_checkpoint(ORIGIN).unwrap().unwrap();
    let only_w1 = WitnessPolicy::all(vec![s.w1.key.verifier()]);
    let r = only_w1.check(&latest, &log_key).unwrap();
    assert_eq!(r.checkpoint.size, s.log.size());
    assert_eq!(
        s.w1.client()
            .latest_checkpoint("other.example/log")
            .unwrap(),
        None
    );
    let (checkpoint, cosignature) =
        s.w2.client()
            .latest_cosigned(ORIGIN, &log_key)
            .unwrap()
            .unwrap();
    assert_eq!(checkpoint.size, s.log.size());
    assert!(cosignature.timestamp >= 1_800_000_000);
    // Checked with the wrong log key, the witness's view is refused.
    let stranger = NoteSigner::generate_from_seed(ORIGIN, [5; 32]).unwrap();
    assert!(matches!(
        s.w2.client().latest_cosigned(ORIGIN, &stranger.verifier()),
        Err(WitnessError::Protocol { .. })
    ));
}

#[test]
fn a_stale_old_size_is_corrected_once() {
    let mut s = setup();
    s.log.append(100);
    for o in cosign_both(&mut s, [0, 0]).1 {
        assert_eq!(o.unwrap().old_size, 0);
    }
    // The log believes the witnesses hold nothing, or too little: each
    // answers 409 with the size it holds (100), and the log sends a proof
    // from 100.
    s.log.append(50);
    for o in cosign_both(&mut s, [0, 7]).1 {
        assert_eq!(o.unwrap().old_size, 100);
    }
    // A belief larger than the checkpoint (a stale record) is not sent: the
    // log asks from 0 and learns 150.
    s.log.append(10);
    for o in cosign_both(&mut s, [99, 500]).1 {
        assert_eq!(o.unwrap().old_size, 150);
    }
    assert_eq!((s.w1.held(), s.w2.held()), (160, 160));
}

#[test]
fn a_witness_down_is_reported_and_quorum_not_met() {
    let mut s = setup();
    let log_key = s.log.signer.verifier();
    s.log.append(10);
    cosign_both(&mut s, [0, 0]);
    let w2_addr = s.w2.running.as_ref().unwrap().addr();
    s.w2.stop();

    s.log.append(10);
    let (note, outcomes) = cosign_both(&mut s, [10, 10]);
    assert!(outcomes[0].is_ok());
    let err = outcomes[1].as_ref().unwrap_err();
    assert!(matches!(err, WitnessError::Unreachable { .. }), "{err}");
    assert!(!err.is_conflict_of_history());
    assert!(
        err.to_string()
            .starts_with(&format!("witness {} is unreachable: ", s.w2.url)),
        "{err}"
    );
    // One of two: a quorum of 2 is not met, a quorum of 1 is.
    let e = policy(&s, 2).check(&note, &log_key).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "the checkpoint of size 20 is cosigned by 1 of the trusted witnesses but 2 are required; not cosigned by: `{}`",
            s.w2.key.verifier().label()
        )
    );
    assert!(policy(&s, 1).check(&note, &log_key).is_ok());

    // Back up, on the same port and state: it catches up from size 10.
    s.w2.restart(w2_addr);
    s.log.append(5);
    let (note, outcomes) = cosign_both(&mut s, [20, 20]);
    assert_eq!(outcomes[0].as_ref().unwrap().old_size, 20);
    assert_eq!(outcomes[1].as_ref().unwrap().old_size, 10);
    assert!(policy(&s, 2).check(&note, &log_key).is_ok());
}

#[test]
fn rollback_fork_and_rewrite_are_refused_even_with_the_genuine_key() {
    let mut s = setup();
    s.log.append(1000);
    cosign_both(&mut s, [0, 0]);

    // Rollback: the operator restores an older tree (here: the first 900
    // events) and signs it with the genuine key.
    let old_note = s.log.checkpoint_at(900);
    let proof = |a: u64, b: u64| -> Result<Vec<Hash>, LedgerError> {
        if a > b {
            return Err(LedgerError::SizesOutOfOrder { old: a, new: b });
        }
        Ok(Vec::new())
    };
    for old in [0, 900, 1000] {
        let err = s.w1.client().cosign(&old_note, old, proof).unwrap_err();
        assert!(
            matches!(
                err,
                WitnessError::Rollback {
                    witness_size: 1000,
                    size: 900,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.is_conflict_of_history());
        assert_eq!(
            err.to_string(),
            format!(
                "witness {} holds a checkpoint of size 1000, larger than this checkpoint of size 900: the log was rolled back after the witness cosigned size 1000",
                s.w1.url
            )
        );
    }

    // Fork: another history of the same length, signed with the genuine key.
    let mut other = TestLog::new("rewritten");
    other.append(1000);
    let fork_note = other.checkpoint();
    for old in [0, 1000] {
        let err =
            s.w1.client()
                .cosign(&fork_note, old, |a, b| other.proof(a, b))
                .unwrap_err();
        assert!(
            matches!(err, WitnessError::Fork { size: 1000, .. }),
            "{err}"
        );
        assert_eq!(err.witness_size(), Some(1000));
    }

    // Rewrite: a longer other history with a proof from 1000 that holds for
    // itself but not for what the witness cosigned.
    other.append(500);
    let rewrite = other.checkpoint();
    for old in [0, 1000] {
        let err =
            s.w2.client()
                .cosign(&rewrite, old, |a, b| other.proof(a, b))
                .unwrap_err();
        let WitnessError::ProofRefused { old_size, size, .. } = &err else {
            panic!("expected a refused proof, got {err}");
        };
        assert_eq!((*old_size, *size), (1000, 1500));
        assert!(
            err.to_string()
                .contains("the log's history up to size 1000 was rewritten"),
            "{err}"
        );
    }
    // What `ledger verify` does with a witness's view: the rewritten log is
    // named as departing at the size the witness holds.
    let (held, _) =
        s.w1.client()
            .latest_cosigned(ORIGIN, &s.log.signer.verifier())
            .unwrap()
            .unwrap();
    let d = witness::find_divergence(std::slice::from_ref(&held), other.size(), |n| {
        root(&mut other, n)
    })
    .unwrap()
    .unwrap();
    assert_eq!(
        d,
        witness::Divergence::Rewritten {
            size: 1000,
            agrees_up_to: 0
        }
    );
    let mut rolled_back = TestLog::new("genuine");
    rolled_back.append(900);
    let d = witness::find_divergence(&[held], 900, |n| root(&mut rolled_back, n))
        .unwrap()
        .unwrap();
    assert!(matches!(
        d,
        witness::Divergence::Truncated {
            witnessed: 1000,
            log_size: 900,
            ..
        }
    ));

    // The witnesses still hold the genuine tree, and cosign its growth.
    assert_eq!((s.w1.held(), s.w2.held()), (1000, 1000));
    s.log.append(1);
    let (_, outcomes) = cosign_both(&mut s, [1000, 1000]);
    assert!(outcomes.iter().all(Result::is_ok));
}

#[test]
fn state_survives_a_restart() {
    let mut s = setup();
    s.log.append(64);
    cosign_both(&mut s, [0, 0]);
    let addr = s.w1.running.as_ref().unwrap().addr();
    s.w1.stop();
    // The stopped witness released its state file; a restarted one holds
    // the same size and refuses the rollback it refused before.
    s.w1.restart(addr);
    let small = s.log.checkpoint_at(10);
    let err =
        s.w1.client()
            .cosign(&small, 0, |a, b| s.log.proof(a.min(b), b))
            .unwrap_err();
    assert!(
        matches!(
            err,
            WitnessError::Rollback {
                witness_size: 64,
                ..
            }
        ),
        "{err}"
    );
    // Two processes cannot share one state file.
    assert!(matches!(
        Witness::open(
            WitnessConfig {
                signer: s.w1.key.clone(),
                logs: vec![],
                state: s.w1.state.clone(),
            },
            Arc::new(|| 0)
        ),
        Err(StateError::Locked { .. })
    ));
}

#[test]
fn concurrent_requests_of_one_log_never_roll_it_back() {
    // Many copies of a log race to the witness from the same old size: one
    // wins, the others get 409 with the winner's size, and the witness never
    // goes back (the race the protocol warns about).
    let mut s = setup();
    s.log.append(10);
    cosign_both(&mut s, [0, 0]);
    let mut log = TestLog::new("genuine");
    log.append(2000);
    let client = s.w1.client();
    let requests: Vec<witness::AddCheckpoint> = (1..=16u64)
        .map(|k| witness::AddCheckpoint {
            old_size: 10,
            proof: log.proof(10, 10 + k * 100).unwrap(),
            note: log.checkpoint_at(10 + k * 100),
        })
        .collect();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .iter()
            .map(|r| {
                let c = client.clone();
                scope.spawn(move || c.send(r).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let held = 10 + (winners[0] as u64 + 1) * 100;
    for r in &results {
        if let Err(refusal) = r {
            assert_eq!(refusal, &witness::Refusal::Conflict { size: held });
        }
    }
    assert_eq!(s.w1.held(), held);
}

/// Sends raw bytes and returns status, content type and body.
fn post(url: &str, path: &str, body: &[u8]) -> (u16, String, String) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or("")
        .to_string();
    (status, content_type, body.to_string())
}

#[test]
fn the_http_surface_follows_the_protocol() {
    let mut s = setup();
    s.log.append(40);
    let url = s.w1.url.clone();
    let note = s.log.checkpoint();
    let ok = format!("old 0\n\n{note}");
    let (status, ctype, body) = post(&url, "/add-checkpoint", ok.as_bytes());
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    let (text, _) = split_note(&note).unwrap();
    let c = Cosignature::parse_line(&body).unwrap();
    assert!(s.w1.key.verifier().verify(text, &c));
    assert_eq!(c.timestamp, 1_800_000_000);

    // 409 with the size held, as text/x.tlog.size.
    let (status, ctype, body) = post(&url, "/add-checkpoint", ok.as_bytes());
    assert_eq!(
        (status, ctype.as_str(), body.as_str()),
        (409, SIZE_CONTENT_TYPE, "40\n")
    );
    // 404: unknown origin.
    let stranger = NoteSigner::generate_from_seed("other.example/log", [3; 32]).unwrap();
    let foreign =
        SignedCheckpoint::sign(Checkpoint::new("other.example/log", 1, [0; 32]), &stranger)
            .unwrap();
    let (status, _, _) = post(
        &url,
        "/add-checkpoint",
        format!("old 0\n\n{}", foreign.note()).as_bytes(),
    );
    assert_eq!(status, 404);
    // 403: the right origin signed by another key.
    let impostor = NoteSigner::generate_from_seed(ORIGIN, [4; 32]).unwrap();
    let forged = SignedCheckpoint::sign(Checkpoint::new(ORIGIN, 50, [0; 32]), &impostor).unwrap();
    let (status, _, body) = post(
        &url,
        "/add-checkpoint",
        format!("old 40\n\n{}", forged.note()).as_bytes(),
    );
    assert_eq!(status, 403, "{body}");
    // 400: malformed framing, or old above the checkpoint's size.
    for bad in [
        "hello".to_string(),
        format!("old 040\n\n{note}"),
        format!("old 41\n\n{note}"),
        format!("old 40\nnot-a-hash\n\n{note}"),
    ] {
        let (status, _, body) = post(&url, "/add-checkpoint", bad.as_bytes());
        assert_eq!(status, 400, "{bad:?}: {body}");
    }
    // 422: a bad proof.
    s.log.append(10);
    let next = s.log.checkpoint();
    let (status, _, body) = post(
        &url,
        "/add-checkpoint",
        format!(
            "old 40\n{}\n\n{next}",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        )
        .as_bytes(),
    );
    assert_eq!(status, 422, "{body}");
    // Too large a body, and wrong methods or paths.
    let (status, _, _) = post(&url, "/add-checkpoint", &vec![b'x'; MAX_REQUEST_BYTES + 1]);
    assert_eq!(status, 413);
    let (status, _, _) = post(&url, "/other", b"");
    assert_eq!(status, 404);
    assert_eq!(s.w1.held(), 40);

    // When the state cannot be written, nothing is cosigned: 500, and the
    // witness still holds 40.
    let tmp = s.w1.state.with_file_name("w1.json.tmp");
    std::fs::create_dir(&tmp).unwrap();
    let proof = s.log.proof(40, 50).unwrap();
    let proof_lines: String = proof
        .iter()
        .map(|h| format!("{}\n", BASE64.encode(h)))
        .collect();
    let body = format!("old 40\n{proof_lines}\n{next}");
    let (status, _, answer) = post(&url, "/add-checkpoint", body.as_bytes());
    assert_eq!(status, 500, "{answer}");
    assert!(!answer.contains('\u{2014}'), "{answer}");
    assert_eq!(s.w1.held(), 40);
    std::fs::remove_dir(&tmp).unwrap();
    let (status, _, answer) = post(&url, "/add-checkpoint", body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(s.w1.held(), 50);
}
