//! The client a log uses to have its checkpoints cosigned by witnesses.

use std::fmt::Display;
use std::time::Duration;

use gatehouse_ledger::witness::{
    ADD_CHECKPOINT_PATH, AddCheckpoint, Answer, Refusal, cosignature_from_answer, decode_answer,
};
use gatehouse_ledger::{
    Checkpoint, Cosignature, Hash, NoteVerifier, WitnessVerifier, open_note, split_note,
};

use crate::WitnessError;
use crate::server::CHECKPOINT_PATH;

/// How long one exchange with a witness may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read from a witness.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// A witness as a log sees it: its submission URL and its public key.
///
/// Connections are kept alive between requests (one client per witness,
/// reused, is the cheap way to talk to it).
#[derive(Debug, Clone)]
pub struct WitnessClient {
    url: String,
    witness: WitnessVerifier,
    agent: ureq::Agent,
}

/// A cosignature obtained from a witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The cosignature, verified with the witness's key.
    pub cosignature: Cosignature,
    /// The size of the checkpoint the witness held before (the old size
    /// the exchange ended with).
    pub old_size: u64,
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent("gatehouse-witness-client")
        .build()
        .into()
}

impl WitnessClient {
    /// A client for the witness with submission prefix `url` (for example
    /// `https://witness.example.com` or `http://127.0.0.1:7380`) and public
    /// key `witness`, with [`DEFAULT_TIMEOUT`].
    pub fn new(url: &str, witness: WitnessVerifier) -> Result<WitnessClient, WitnessError> {
        let url = url.trim_end_matches('/');
        let scheme_ok = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
        if !scheme_ok {
            return Err(WitnessError::Url(url.to_string()));
        }
        Ok(WitnessClient {
            url: url.to_string(),
            witness,
            agent: agent(DEFAULT_TIMEOUT),
        })
    }

    /// The same client with another limit on the time of one exchange.
    pub fn with_timeout(mut self, timeout: Duration) -> WitnessClient {
        self.agent = agent(timeout);
        self
    }

    /// The witness's submission prefix.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The witness's public key.
    pub fn witness(&self) -> &WitnessVerifier {
        &self.witness
    }

    fn unreachable(&self, e: ureq::Error) -> WitnessError {
        WitnessError::Unreachable {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }

    /// Sends one `add-checkpoint` request and reads the answer: this
    /// witness's verified cosignature (200), or the refusal the protocol
    /// defines (`Err(Refusal::Conflict { size })` for 409, and so on).
    /// Transport failures and answers outside the protocol are the outer
    /// error.
    pub fn send(
        &self,
        request: &AddCheckpoint,
    ) -> Result<Result<Cosignature, Refusal>, WitnessError> {
        let (body, _) = split_note(&request.note)?;
        let mut response = self
            .agent
            .post(format!("{}{ADD_CHECKPOINT_PATH}", self.url))
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(request.encode())
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| self.unreachable(e))?;
        let protocol = |reason: String| WitnessError::Protocol {
            url: self.url.clone(),
            reason,
        };
        match decode_answer(status, content_type.as_deref(), &bytes).map_err(protocol)? {
            Answer::Cosigned(lines) => cosignature_from_answer(&lines, &self.witness, body)
                .map(Ok)
                .map_err(protocol),
            Answer::Refused(refusal) => Ok(Err(refusal)),
        }
    }

    /// Has the witness cosign `note` (a signed checkpoint), following the
    /// protocol to the end.
    ///
    /// `old_size` is the size the log believes the witness holds (the size
    /// of the latest checkpoint it cosigned, or 0). When the witness holds
    /// another size (409), the request is sent once more with a proof from
    /// that size; `consistency_proof(old, new)` supplies the proofs.
    ///
    /// The errors tell a witness that is down
    /// ([`Unreachable`](WitnessError::Unreachable)) from one that holds a
    /// larger tree ([`Rollback`](WitnessError::Rollback)), a different tree
    /// of the same size ([`Fork`](WitnessError::Fork)) or a tree this
    /// checkpoint does not extend ([`ProofRefused`](WitnessError::ProofRefused)).
    pub fn cosign<E: Display>(
        &self,
        note: &str,
        old_size: u64,
        mut consistency_proof: impl FnMut(u64, u64) -> Result<Vec<Hash>, E>,
    ) -> Result<Cosigned, WitnessError> {
        let (body, _) = split_note(note)?;
        let checkpoint = Checkpoint::parse_body(body)?;
        let size = checkpoint.size;
        // A belief larger than the checkpoint is stale: ask the witness.
        let mut old = if old_size > size { 0 } else { old_size };
        let mut first_conflict = None;
        loop {
            let proof = consistency_proof(old, size).map_err(|e| WitnessError::Proof {
                url: self.url.clone(),
                old_size: old,
                size,
                message: e.to_string(),
            })?;
            let request = AddCheckpoint {
                old_size: old,
                proof,
                note: note.to_string(),
            };
            let refusal = match self.send(&request)? {
                Ok(cosignature) => {
                    return Ok(Cosigned {
                        cosignature,
                        old_size: old,
                    });
                }
                Err(refusal) => refusal,
            };
            let url = self.url.clone();
            return Err(match refusal {
                Refusal::Conflict { size: held } if held > size => WitnessError::Rollback {
                    url,
                    witness_size: held,
                    size,
                },
                // The witness holds exactly the size we named, so the
                // conflict is of roots.
                Refusal::Conflict { size: held } if held == old => WitnessError::Fork { url, size },
                Refusal::Conflict { size: held } => match first_conflict {
                    None => {
                        first_conflict = Some(held);
                        old = held;
                        continue;
                    }
                    Some(first) => WitnessError::Conflict {
                        url,
                        first,
                        second: held,
                    },
                },
                Refusal::BadProof(message) => WitnessError::ProofRefused {
                    url,
                    old_size: old,
                    size,
                    message,
                },
                Refusal::UnknownLog { .. } => WitnessError::UnknownLog {
                    url,
                    origin: checkpoint.origin,
                },
                Refusal::BadSignature { reason, .. } => WitnessError::BadSignature {
                    url,
                    message: reason,
                },
                Refusal::BadRequest(message) => WitnessError::BadRequest { url, message },
            });
        }
    }

    /// The latest checkpoint the witness cosigned for `origin`, with its
    /// cosignature (`GET /checkpoint/<origin>`, which Gatehouse witnesses
    /// serve; other witnesses answer 404). `None` when it has none.
    ///
    /// The note is returned as served: check it with the log's key and the
    /// witness's key (for example with
    /// [`WitnessPolicy`](gatehouse_ledger::WitnessPolicy)) before relying
    /// on it.
    pub fn latest_checkpoint(&self, origin: &str) -> Result<Option<String>, WitnessError> {
        let mut response = self
            .agent
            .get(format!("{}{CHECKPOINT_PATH}{origin}", self.url))
            .call()
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| self.unreachable(e))?;
        match status {
            200 => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| WitnessError::Protocol {
                    url: self.url.clone(),
                    reason: "the checkpoint is not UTF-8".to_string(),
                }),
            404 => Ok(None),
            other => Err(WitnessError::Protocol {
                url: self.url.clone(),
                reason: format!("unexpected status {other} for the latest checkpoint"),
            }),
        }
    }
}

impl WitnessClient {
    /// The latest checkpoint this witness cosigned for the log of `log`'s
    /// origin, checked: it must be signed by `log` and carry this witness's
    /// valid cosignature. `None` when the witness holds nothing for the log
    /// or does not serve `GET /checkpoint/<origin>`.
    pub fn latest_cosigned(
        &self,
        origin: &str,
        log: &NoteVerifier,
    ) -> Result<Option<(Checkpoint, Cosignature)>, WitnessError> {
        let Some(note) = self.latest_checkpoint(origin)? else {
            return Ok(None);
        };
        let invalid = |reason: String| WitnessError::Protocol {
            url: self.url.clone(),
            reason: format!("the checkpoint it shows for `{origin}` {reason}"),
        };
        let body = open_note(&note, log).map_err(|e| invalid(e.to_string()))?;
        let checkpoint = Checkpoint::parse_body(&body).map_err(|e| invalid(e.to_string()))?;
        if checkpoint.origin != origin {
            return Err(invalid(format!("has origin `{}`", checkpoint.origin)));
        }
        match self.witness.cosignature_of(&note) {
            Ok(Some(c)) => Ok(Some((checkpoint, c))),
            Ok(None) => Err(invalid(
                "carries no cosignature of this witness".to_string(),
            )),
            Err(e) => Err(invalid(e.to_string())),
        }
    }
}

/// Has every witness cosign `note`, all at once (one thread per witness),
/// and returns each one's outcome in the order of `witnesses`.
///
/// `old_sizes[i]` is the size the log believes witness `i` holds (missing
/// entries count as 0). `consistency_proof(old, new)` is called from the
/// witnesses' threads; a caller holding its tree behind a `&mut` handle
/// can wrap it in a `Mutex`.
pub fn cosign_all<E, F>(
    witnesses: &[WitnessClient],
    note: &str,
    old_sizes: &[u64],
    consistency_proof: F,
) -> Vec<Result<Cosigned, WitnessError>>
where
    E: Display,
    F: Fn(u64, u64) -> Result<Vec<Hash>, E> + Sync,
{
    if let [only] = witnesses {
        let old = old_sizes.first().copied().unwrap_or(0);
        return vec![only.cosign(note, old, &consistency_proof)];
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = witnesses
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let old = old_sizes.get(i).copied().unwrap_or(0);
                let proof = &consistency_proof;
                scope.spawn(move || w.cosign(note, old, proof))
            })
            .collect();
        handles
            .into_iter()
            .zip(witnesses)
            .map(|(h, w)| {
                h.join().unwrap_or_else(|_| {
                    Err(WitnessError::Protocol {
                        url: w.url().to_string(),
                        reason: "the request thread panicked".to_string(),
                    })
                })
            })
            .collect()
    })
}
