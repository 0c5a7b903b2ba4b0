//! The log as a whole: listing and searching events, replaying them, the Merkle tree's heads.

use gatehouse_ledger::{
    Checkpoint, Cosignature, Hash, NoteSigner, SignedCheckpoint, merge_cosignatures, root,
    split_note,
};
use gatehouse_model::ErrorCode;
use gatehouse_model::{Event, Timestamp};
use serde::Serialize;

use crate::Store;
use crate::conn::{Backend, Conn, RowRef, Value};
use crate::domain::state_tables;
use crate::error::StoreError;
use crate::txn::Reader;
use crate::writer::{DbTiles, from_micros, micros};

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRow {
    /// Sequence number.
    pub seq: u64,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Who recorded it.
    pub actor: String,
    /// Kind.
    pub kind: String,
    /// The object it is about.
    pub object: String,
    /// Canonical bytes.
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Kind, exactly (`grant.added`) or a prefix ending in `.` (`grant.`).
    pub kind: Option<String>,
    /// Actor, exactly.
    pub actor: Option<String>,
    /// Object reference, or a prefix of it (`grant:erp:`).
    pub object: Option<String>,
    /// Recorded at or after.
    pub since: Option<Timestamp>,
    /// Recorded before.
    pub until: Option<Timestamp>,
    /// First sequence number.
    pub from_seq: Option<u64>,
    /// Last sequence number.
    pub to_seq: Option<u64>,
    /// At most this many.
    pub limit: Option<u64>,
}

/// A stored signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointRow {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    #[serde(with = "gatehouse_ledger::serde_hex::hash")]
    pub root: Hash,
    /// The signed note.
    pub note: String,
    /// When it was signed.
    pub signed_at: Timestamp,
}

/// Reads a `size, root, note, signed_at` row of the checkpoint table.
fn checkpoint_row(r: &RowRef<'_, '_>) -> Result<CheckpointRow, StoreError> {
    let size = r.i64(0)? as u64;
    let root = r.blob(1)?;
    Ok(CheckpointRow {
        size,
        root: root.as_slice().try_into().map_err(|_| {
            StoreError::Corrupt(format!(
                "checkpoint {size} has a root of {} bytes",
                root.len()
            ))
        })?,
        note: r.str(2)?,
        signed_at: from_micros(r.i64(3)?)?,
    })
}

fn like_prefix(p: &str) -> String {
    let mut s = String::with_capacity(p.len() + 1);
    for c in p.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

impl Reader<'_> {
    /// Lists events matching a filter, in sequence order.
    pub fn events(&mut self, filter: &EventFilter) -> Result<Vec<EventRow>, StoreError> {
        let mut sql = String::from(
            "SELECT seq, recorded_at, actor, kind, object, body FROM event WHERE 1 = 1",
        );
        let mut params: Vec<Value> = Vec::new();
        let mut add = |cond: &str, v: Value, sql: &mut String| {
            params.push(v);
            sql.push_str(&format!(
                " AND {}",
                cond.replace('?', &format!("${}", params.len()))
            ));
        };
        if let Some(k) = &filter.kind {
            if k.ends_with('.') {
                add(
                    "kind LIKE ? ESCAPE '\\'",
                    Value::Text(like_prefix(k)),
                    &mut sql,
                );
            } else {
                add("kind = ?", Value::from(k.as_str()), &mut sql);
            }
        }
        if let Some(a) = &filter.actor {
            add("actor = ?", Value::from(a.as_str()), &mut sql);
        }
        if let Some(o) = &filter.object {
            add(
                "object LIKE ? ESCAPE '\\'",
                Value::Text(like_prefix(o)),
                &mut sql,
            );
        }
        if let Some(t) = filter.since {
            add("recorded_at >= ?", Value::Int(micros(t)), &mut sql);
        }
        if let Some(t) = filter.until {
            add("recorded_at < ?", Value::Int(micros(t)), &mut sql);
        }
        if let Some(s) = filter.from_seq {
            add("seq >= ?", Value::Int(s as i64), &mut sql);
        }
        if let Some(s) = filter.to_seq {
            add("seq <= ?", Value::Int(s as i64), &mut sql);
        }
        sql.push_str(" ORDER BY seq");
        if let Some(l) = filter.limit {
            sql.push_str(&format!(" LIMIT {}", l.min(i64::MAX as u64)));
        }
        self.conn.query(&sql, &params, |r| {
            Ok(EventRow {
                seq: r.i64(0)? as u64,
                recorded_at: from_micros(r.i64(1)?)?,
                actor: r.str(2)?,
                kind: r.str(3)?,
                object: r.str(4)?,
                body: unpack(r.i64(0)?, r.blob(5)?)?,
            })
        })
    }

    /// The Merkle root of the log at `size` events, from the stored tiles.
    pub fn tree_root(&mut self, size: u64) -> Result<Hash, StoreError> {
        root(&mut DbTiles(self.conn), size)
    }

    /// Every stored checkpoint, oldest first.
    pub fn checkpoints(&mut self) -> Result<Vec<CheckpointRow>, StoreError> {
        self.conn.query(
            "SELECT size, root, note, signed_at FROM checkpoint ORDER BY size",
            &[],
            checkpoint_row,
        )
    }

    /// The stored checkpoint of `size` events, if one was signed.
    pub fn checkpoint(&mut self, size: u64) -> Result<Option<CheckpointRow>, StoreError> {
        self.conn.query_opt(
            "SELECT size, root, note, signed_at FROM checkpoint WHERE size = $1",
            &[Value::Int(size as i64)],
            checkpoint_row,
        )
    }

    /// At most `limit` stored checkpoints of at most `up_to` events, newest first.
    pub fn recent_checkpoints(
        &mut self,
        up_to: u64,
        limit: u64,
    ) -> Result<Vec<CheckpointRow>, StoreError> {
        self.conn.query(
            &format!(
                "SELECT size, root, note, signed_at FROM checkpoint WHERE size <= $1 \
                 ORDER BY size DESC LIMIT {}",
                limit.min(i64::MAX as u64)
            ),
            &[Value::Int(up_to.min(i64::MAX as u64) as i64)],
            checkpoint_row,
        )
    }

    /// The bytes of one event, as the ledger hashed them.
    pub fn event_body(&mut self, seq: u64) -> Result<Vec<u8>, StoreError> {
        let stored = self
            .conn
            .query_opt(
                "SELECT body FROM event WHERE seq = $1",
                &[Value::Int(seq as i64)],
                |r| r.blob(0),
            )?
            .ok_or_else(|| StoreError::unknown(format!("there is no event {seq}")))?;
        unpack(seq as i64, stored)
    }

    /// The latest stored checkpoint.
    pub fn latest_checkpoint(&mut self) -> Result<Option<CheckpointRow>, StoreError> {
        Ok(self.recent_checkpoints(u64::MAX, 1)?.pop())
    }

    /// Replays every event this transaction sees, in order, into `target` (an empty store),
    /// which thereby rebuilds the same state tables and the same ledger. Events are read and
    /// written in batches so that memory stays bounded.
    pub fn replay_into(&mut self, target: &Store) -> Result<u64, StoreError> {
        if target.event_count()? != 0 {
            return Err(StoreError::refused(
                gatehouse_model::ErrorCode::Internal,
                "replay needs an empty target store",
            ));
        }
        let total = self.size();
        let mut next = 1u64;
        const BATCH: u64 = 20_000;
        while next <= total {
            let rows = self.events(&EventFilter {
                from_seq: Some(next),
                to_seq: Some((next + BATCH - 1).min(total)),
                ..EventFilter::default()
            })?;
            if rows.is_empty() {
                return Err(StoreError::Corrupt(format!("event {next} is missing")));
            }
            target.write("replay", Timestamp::UNIX_EPOCH, |w| {
                for row in &rows {
                    let event = Event::decode(&row.body)
                        .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", row.seq)))?;
                    if event.seq != row.seq {
                        return Err(StoreError::Corrupt(format!(
                            "event {} is stored under sequence number {}",
                            event.seq, row.seq
                        )));
                    }
                    let object = event.data.object();
                    if row.object != object {
                        return Err(StoreError::Corrupt(format!(
                            "event {}: column `object` says `{}` but the event's hashed bytes say `{object}`: the row was edited",
                            row.seq, row.object
                        )));
                    }
                    w.replay(&event, row.body.clone())?;
                }
                Ok::<(), StoreError>(())
            })?;
            next += rows.len() as u64;
        }
        Ok(total)
    }

    /// A fresh in-memory SQLite store rebuilt from the events this transaction sees.
    pub fn rebuilt(&mut self) -> Result<Store, StoreError> {
        let target = Store::in_memory()?;
        self.replay_into(&target)?;
        Ok(target)
    }
}

impl Store {
    /// Signs a checkpoint of the log as it is now, unless one for this size exists already or
    /// the log is empty. The origin line is the signer's key name.
    pub fn sign_checkpoint(
        &self,
        signer: &NoteSigner,
        now: Timestamp,
    ) -> Result<Option<CheckpointRow>, StoreError> {
        self.maintain(|conn| {
            let size = conn.scalar("SELECT max(seq) FROM event", &[])? as u64;
            if size == 0 {
                return Ok(None);
            }
            let exists = conn.scalar(
                "SELECT count(*) FROM checkpoint WHERE size = $1",
                &[Value::Int(size as i64)],
            )?;
            if exists > 0 {
                return Ok(None);
            }
            let root = root(&mut DbTiles(conn), size)?;
            let signed =
                SignedCheckpoint::sign(Checkpoint::new(signer.name(), size, root), signer)?;
            let row = CheckpointRow {
                size,
                root,
                note: signed.note().to_owned(),
                signed_at: now,
            };
            conn.exec(
                "INSERT INTO checkpoint (size, root, note, signed_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (size) DO NOTHING",
                &[
                    Value::Int(size as i64),
                    Value::Blob(root.to_vec()),
                    Value::from(row.note.as_str()),
                    Value::Int(micros(now)),
                ],
            )?;
            Ok(Some(row))
        })
    }

    /// Adds witness cosignatures to the stored checkpoint of `size` events and returns the
    /// checkpoint as stored now.
    ///
    /// Only signature lines are added: the checkpoint's text and the lines it holds stay byte
    /// for byte, and a witness (name and key id) that has a line already keeps it, the earliest
    /// time it saw this tree head. The store holds no witness keys and does not verify the
    /// cosignatures: the caller has (a witness client returns only verified ones), and
    /// `ledger verify` checks every stored cosignature against the witness keys it trusts.
    /// The merge happens inside the write transaction, so that two processes adding
    /// cosignatures to one checkpoint at once keep both.
    ///
    /// The commit does not wait for the disk: it is on the path of every command that seals,
    /// and a cosignature lost in a power cut is asked for again by the next seal (the witness
    /// cosigns the checkpoint it holds once more), while the next durable commit makes it
    /// durable.
    pub fn add_cosignatures(
        &self,
        size: u64,
        cosignatures: &[Cosignature],
    ) -> Result<CheckpointRow, StoreError> {
        self.maintain_with(crate::writer::Durability::Batch, |conn| {
            let row = conn
                .query_opt(
                    "SELECT size, root, note, signed_at FROM checkpoint WHERE size = $1",
                    &[Value::Int(size as i64)],
                    checkpoint_row,
                )?
                .ok_or_else(|| {
                    StoreError::refused(
                        ErrorCode::NotCheckpointed,
                        format!("there is no signed checkpoint of size {size}"),
                    )
                })?;
            let merged = merge_cosignatures(&row.note, cosignatures)?;
            if merged == row.note {
                return Ok(row);
            }
            // INVARIANT: the stored note is a prefix of the merged one, which holds the same
            // checkpoint text: nothing but added lines is ever written.
            let (body, _) = split_note(&row.note)?;
            let (merged_body, _) = split_note(&merged)?;
            if !merged.starts_with(&row.note) || body != merged_body {
                return Err(StoreError::refused(
                    ErrorCode::Internal,
                    format!("adding cosignatures would change the checkpoint of size {size}"),
                ));
            }
            let changed = conn.exec(
                "UPDATE checkpoint SET note = $1 WHERE size = $2 AND note = $3",
                &[
                    Value::from(merged.as_str()),
                    Value::Int(size as i64),
                    Value::from(row.note.as_str()),
                ],
            )?;
            if changed != 1 {
                return Err(StoreError::Corrupt(format!(
                    "the checkpoint of size {size} changed while cosignatures were added"
                )));
            }
            Ok(CheckpointRow {
                note: merged,
                ..row
            })
        })
    }

    /// A fresh in-memory SQLite store rebuilt from this store's events.
    pub fn rebuilt(&self) -> Result<Store, StoreError> {
        self.read(|r| r.rebuilt())
    }
}

/// The first difference between two stores' state tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDifference {
    /// The table.
    pub table: String,
    /// The key of the row, `column=value` pairs.
    pub key: String,
    /// What differs.
    pub what: String,
}

impl std::fmt::Display for StateDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "table `{}`, row {}: {}", self.table, self.key, self.what)
    }
}

fn cmp_values(a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Int(_) => 1,
            Value::Text(_) => 2,
            Value::Blob(_) => 3,
        }
    }
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Value::Int(p), Value::Int(q)) => p.cmp(q),
            (Value::Text(p), Value::Text(q)) => p.as_bytes().cmp(q.as_bytes()),
            (Value::Blob(p), Value::Blob(q)) => p.cmp(q),
            _ => rank(x).cmp(&rank(y)),
        };
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::Text(t) if t.len() > 120 => format!("{:?}…", &t[..t.floor_char_boundary(120)]),
        Value::Text(t) => format!("{t:?}"),
        Value::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

pub(crate) fn columns_of(conn: &mut Conn, table: &str) -> Result<Vec<String>, StoreError> {
    match conn.backend() {
        Backend::Sqlite => conn.query(
            "SELECT name FROM pragma_table_info($1) ORDER BY cid",
            &[Value::from(table)],
            |r| r.str(0),
        ),
        Backend::Postgres => conn.query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[Value::from(table)],
            |r| r.str(0),
        ),
    }
}

fn table_chunk(
    conn: &mut Conn,
    table: &str,
    columns: &[String],
    keys: &str,
    offset: u64,
    limit: u64,
) -> Result<Vec<Vec<Value>>, StoreError> {
    // Text keys are ordered bytewise on both backends, whatever the database's collation.
    let backend = conn.backend();
    let order: Vec<String> = keys
        .split(',')
        .map(|k| match (backend, k.trim()) {
            (Backend::Postgres, k @ ("key" | "kind" | "id")) => format!("{k} COLLATE \"C\""),
            (_, k) => k.to_owned(),
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM {table} ORDER BY {} LIMIT {limit} OFFSET $1",
        columns.join(", "),
        order.join(", ")
    );
    let n = columns.len();
    conn.query(&sql, &[Value::Int(offset as i64)], |r| {
        (0..n).map(|i| r.value(i)).collect()
    })
}

impl Reader<'_> {
    /// Compares the state tables of two stores row by row and returns the first difference.
    pub fn compare_state(&mut self, other: &Store) -> Result<Option<StateDifference>, StoreError> {
        const CHUNK: u64 = 50_000;
        for spec in state_tables() {
            let (table, keys) = (spec.name, spec.keys);
            let columns = columns_of(self.conn, table)?;
            let key_count = keys.split(',').count();
            let mut offset = 0;
            loop {
                let mine = table_chunk(self.conn, table, &columns, keys, offset, CHUNK)?;
                let theirs =
                    other.read(|r| table_chunk(r.conn, table, &columns, keys, offset, CHUNK))?;
                let key_of = |row: &[Value]| {
                    columns
                        .iter()
                        .zip(row)
                        .take(key_count)
                        .map(|(c, v)| format!("{c}={}", show(v)))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                // Key columns come first in every table's column order.
                for i in 0..mine.len().max(theirs.len()) {
                    let diff = match (mine.get(i), theirs.get(i)) {
                        (Some(a), Some(b)) if a[..key_count] != b[..key_count] => {
                            let (first, which) = if cmp_values(&a[..key_count], &b[..key_count])
                                .is_lt()
                            {
                                (
                                    a,
                                    "is in the store but not in the state rebuilt from the events",
                                )
                            } else {
                                (
                                    b,
                                    "is in the state rebuilt from the events but missing from the store",
                                )
                            };
                            Some((key_of(first), which.to_owned()))
                        }
                        (Some(a), Some(b)) => columns
                            .iter()
                            .zip(a.iter().zip(b))
                            .find(|(_, (x, y))| x != y)
                            .map(|(c, (x, y))| {
                                (
                                    key_of(a),
                                    format!(
                                        "column `{c}` is {} but the events say {}",
                                        show(x),
                                        show(y)
                                    ),
                                )
                            }),
                        (Some(a), None) => Some((
                            key_of(a),
                            "is in the store but not in the state rebuilt from the events".into(),
                        )),
                        (None, Some(b)) => Some((
                            key_of(b),
                            "is in the state rebuilt from the events but missing from the store"
                                .into(),
                        )),
                        (None, None) => None,
                    };
                    if let Some((key, what)) = diff {
                        return Ok(Some(StateDifference {
                            table: table.to_owned(),
                            key,
                            what,
                        }));
                    }
                }
                if (mine.len() as u64) < CHUNK && (theirs.len() as u64) < CHUNK {
                    break;
                }
                offset += CHUNK;
            }
        }
        Ok(None)
    }
}

/// Where an answer stands in the log: the ledger size the read transaction saw, the tree's root
/// at that size, and the latest signed checkpoint that covers no more than it — so that an
/// exported answer can be traced to the log (and, once a checkpoint covers it, proven).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerPoint {
    /// Events in the log as the answer saw it.
    pub size: u64,
    /// The Merkle root at that size.
    #[serde(with = "gatehouse_ledger::serde_hex::hash")]
    pub root: Hash,
    /// The latest signed checkpoint of at most that size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointRow>,
}

impl Reader<'_> {
    /// Where this transaction's answers stand in the log.
    pub fn answer_point(&mut self) -> Result<AnswerPoint, StoreError> {
        let size = self.size();
        let root = if size == 0 {
            gatehouse_ledger::empty_root()
        } else {
            self.tree_root(size)?
        };
        let checkpoint = self.checkpoints()?.into_iter().rfind(|c| c.size <= size);
        Ok(AnswerPoint {
            size,
            root,
            checkpoint,
        })
    }
}

/// An event's body as the ledger hashed it, from its stored bytes.
pub(crate) fn unpack(seq: i64, stored: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    crate::body::unpack(stored)
        .map_err(|e| StoreError::Corrupt(format!("event {seq}: its body is stored as {e}")))
}
