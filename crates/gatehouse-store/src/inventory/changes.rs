//! Access gained and lost between two times: what auditors ask for first.
//!
//! A grant is *gained* when a version of it starts and no version of it ended at that moment
//! (a changed grant — new warrant, new expiry — continues, it is not gained again), and *lost*
//! when a version ends and none starts at that moment. Grants that a system's first snapshot
//! brought were not gained then: the store began to observe them. They are counted apart and
//! not listed.

use gatehouse_model::{GrantSource, IdentityKey, SystemKey, Timestamp, Warrant};
use serde::Serialize;

use crate::conn::{RowRef, Value};
use crate::error::StoreError;
use crate::inventory::query::EntitlementInfo;
use crate::sink::OPEN;
use crate::txn::Reader;
use crate::writer::{from_micros, micros};

/// Whether access was gained or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The grant appeared.
    Gained,
    /// The grant went away.
    Lost,
}

impl ChangeKind {
    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Gained => "gained",
            ChangeKind::Lost => "lost",
        }
    }
}

/// One gain or loss of access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessChange {
    /// The snapshot time at which it was observed.
    pub at: Timestamp,
    /// Gained or lost.
    pub change: ChangeKind,
    /// The system.
    pub system: SystemKey,
    /// The account's native id.
    pub account: String,
    /// Its username.
    pub username: String,
    /// The identity the account belonged to then, if linked.
    pub identity: Option<IdentityKey>,
    /// That identity's name.
    pub name: Option<String>,
    /// The entitlement's native id.
    pub entitlement: String,
    /// Its name.
    pub entitlement_name: String,
    /// Whether it is privileged.
    pub privileged: bool,
    /// How the grant came about (direct, request, role, …).
    pub source: GrantSource,
    /// What explains the grant (for a loss: what explained it while it was held).
    pub warrant: Option<Warrant>,
    /// The event that recorded the change.
    pub event: u64,
}

/// A system whose first snapshot falls in the period asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirstSnapshot {
    /// The system.
    pub system: SystemKey,
    /// Its first snapshot's time.
    pub as_of: Timestamp,
    /// Grants it brought, which are not gains.
    pub grants: u64,
}

/// What `changes` is asked about.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    /// Only this system's.
    pub system: Option<SystemKey>,
    /// Only the accounts of this identity.
    pub identity: Option<IdentityKey>,
    /// Only this entitlement (from [`Reader::resolve_entitlement`]).
    pub entitlement: Option<EntitlementInfo>,
    /// Only privileged entitlements.
    pub privileged: bool,
}

/// Gains and losses in a period, with the first snapshots it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Gains and losses, by time, system, account and entitlement.
    pub changes: Vec<AccessChange>,
    /// Systems first imported in the period: their grants were first seen, not gained.
    pub first_snapshots: Vec<FirstSnapshot>,
}

/// Columns of a change; `$1`/`$2` bound the period, `{t}` is the time the names are taken at.
fn change_sql(kind: ChangeKind) -> String {
    // A gain is named as it was when it began; a loss as it was just before it ended.
    let (t, within, continued) = match kind {
        ChangeKind::Gained => (
            "g.valid_from",
            "g.valid_from >= $1 AND g.valid_from <= $2 AND g.valid_from > f.first",
            "p.valid_to = g.valid_from",
        ),
        ChangeKind::Lost => (
            "g.valid_to - 1",
            "g.valid_to >= $1 AND g.valid_to <= $2",
            "p.valid_from = g.valid_to",
        ),
    };
    let (at, event) = match kind {
        ChangeKind::Gained => ("g.valid_from", "g.seq"),
        ChangeKind::Lost => ("g.valid_to", "g.end_seq"),
    };
    format!(
        "SELECT {at}, s.key, a.native_id, av.username, av.identity, iv.name, e.native_id, \
                ev.name, ev.privileged, g.source, g.warrant, {event} \
         FROM grant_version g \
         JOIN system s ON s.system_id = g.system_id \
         JOIN (SELECT source, min(as_of) AS first FROM import GROUP BY source) f \
              ON f.source = 'system:' || s.key \
         JOIN account a ON a.account_id = g.account_id \
         JOIN entitlement e ON e.entitlement_id = g.entitlement_id \
         LEFT JOIN account_version av ON av.account_id = g.account_id \
              AND av.valid_from <= {t} AND av.valid_to > {t} \
         LEFT JOIN identity i ON i.key = av.identity \
         LEFT JOIN identity_version iv ON iv.identity_id = i.identity_id \
              AND iv.valid_from <= {t} AND iv.valid_to > {t} \
         LEFT JOIN entitlement_version ev ON ev.entitlement_id = g.entitlement_id \
              AND ev.valid_from <= {t} AND ev.valid_to > {t} \
         WHERE {within} \
           AND ($3 = '' OR s.key = $3) \
           AND ($4 = '' OR av.identity = $4) \
           AND ($5 = 0 OR g.entitlement_id = $5) \
           AND ($6 = 0 OR ev.privileged <> 0) \
           AND NOT EXISTS (SELECT 1 FROM grant_version p \
                WHERE p.system_id = g.system_id AND p.account_id = g.account_id \
                  AND p.entitlement_id = g.entitlement_id AND {continued})"
    )
}

fn change_row(kind: ChangeKind, r: &RowRef<'_, '_>) -> Result<AccessChange, StoreError> {
    Ok(AccessChange {
        at: from_micros(r.i64(0)?)?,
        change: kind,
        system: r.parse(1)?,
        account: r.str(2)?,
        username: r.opt_str(3)?.unwrap_or_default(),
        identity: r.opt_parse(4)?,
        name: r.opt_str(5)?,
        entitlement: r.str(6)?,
        entitlement_name: r.opt_str(7)?.unwrap_or_default(),
        privileged: r.opt_i64(8)?.is_some_and(|p| p != 0),
        source: r.parse(9)?,
        warrant: r.opt_parse(10)?,
        event: r.opt_i64(11)?.unwrap_or_default() as u64,
    })
}

impl Reader<'_> {
    /// Access gained and lost from `from` to `to`, both included (snapshot times), filtered.
    pub fn changes(
        &mut self,
        from: Timestamp,
        to: Timestamp,
        filter: &ChangeFilter,
    ) -> Result<Changes, StoreError> {
        let (from, to) = (micros(from), micros(to).min(OPEN - 1));
        let params = [
            Value::Int(from),
            Value::Int(to),
            Value::from(filter.system.as_ref().map_or("", |s| s.as_str())),
            Value::from(filter.identity.as_ref().map_or("", |i| i.as_str())),
            Value::Int(filter.entitlement.as_ref().map_or(0, |e| e.id)),
            Value::Int(i64::from(filter.privileged)),
        ];
        let mut changes = Vec::new();
        for kind in [ChangeKind::Gained, ChangeKind::Lost] {
            changes.extend(
                self.conn
                    .query(&change_sql(kind), &params, |r| change_row(kind, r))?,
            );
        }
        changes.sort_by(|a, b| {
            (a.at, &a.system, &a.account, &a.entitlement, a.change).cmp(&(
                b.at,
                &b.system,
                &b.account,
                &b.entitlement,
                b.change,
            ))
        });
        let first_snapshots = self.conn.query(
            "SELECT s.key, f.first, \
                (SELECT count(*) FROM grant_version g WHERE g.system_id = s.system_id \
                 AND g.valid_from = f.first) \
             FROM system s \
             JOIN (SELECT source, min(as_of) AS first FROM import GROUP BY source) f \
                  ON f.source = 'system:' || s.key \
             WHERE f.first >= $1 AND f.first <= $2 AND ($3 = '' OR s.key = $3) \
             ORDER BY s.key",
            &params[..3],
            |r| {
                Ok(FirstSnapshot {
                    system: r.parse(0)?,
                    as_of: from_micros(r.i64(1)?)?,
                    grants: r.i64(2)? as u64,
                })
            },
        )?;
        Ok(Changes {
            changes,
            first_snapshots,
        })
    }
}
