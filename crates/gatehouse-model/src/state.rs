//! The current state of everything, in one compact structure, for whole-inventory work such as
//! the risk analysis. Objects refer to each other by typed index into the vectors
//! ([`SystemIx`], [`IdentityIx`], [`AccountIx`], [`EntitlementIx`], [`WarrantIx`]), so that a
//! million grants cost tens of megabytes, a lookup is an array access, and an index into one
//! vector cannot be used for another. An index that may be absent is an `Option`, which costs
//! nothing: the indices are `NonZeroU32` inside.

use std::num::NonZeroU32;
use std::ops::Index;

use crate::inventory::{
    AccountKind, Criticality, Entitlement, GrantSource, Identity, RiskLevel, Role, SystemConfig,
    Warrant, WarrantRecord,
};
use crate::keys::IdentityKey;
use crate::time::Timestamp;

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(NonZeroU32);

        impl $name {
            /// The index of position `i` of its vector.
            ///
            /// INVARIANT: a vector of the inventory holds fewer than `u32::MAX` objects; larger
            /// positions are not representable (they saturate).
            pub fn new(i: usize) -> $name {
                $name(NonZeroU32::MIN.saturating_add(u32::try_from(i).unwrap_or(u32::MAX)))
            }

            /// The index of position `i`, in constant contexts.
            pub const fn at(i: u32) -> $name {
                $name(NonZeroU32::MIN.saturating_add(i))
            }

            /// The position in its vector.
            pub fn index(self) -> usize {
                (self.0.get() - 1) as usize
            }

            /// Every index of a vector of `len` objects, in order.
            pub fn all(len: usize) -> impl Iterator<Item = $name> {
                (0..len).map($name::new)
            }
        }

        impl Index<$name> for Vec<$item> {
            type Output = $item;
            fn index(&self, ix: $name) -> &$item {
                &self[ix.index()]
            }
        }

        impl Index<$name> for [$item] {
            type Output = $item;
            fn index(&self, ix: $name) -> &$item {
                &self[ix.index()]
            }
        }
    };
}

index_type!(
    /// An index into [`Inventory::systems`].
    SystemIx,
    SystemState
);
index_type!(
    /// An index into [`Inventory::identities`].
    IdentityIx,
    Identity
);
index_type!(
    /// An index into [`Inventory::accounts`].
    AccountIx,
    AccountState
);
index_type!(
    /// An index into [`Inventory::entitlements`].
    EntitlementIx,
    EntitlementState
);
index_type!(
    /// An index into [`Inventory::warrants`].
    WarrantIx,
    Warrant
);

/// Everything current, plus the bits of history the analysis needs.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Governed systems.
    pub systems: Vec<SystemState>,
    /// People and non-human identities currently in their feeds, sorted by key.
    pub identities: Vec<Identity>,
    /// Earlier department/title of people whose department or title changed.
    pub moves: Vec<Move>,
    /// People who left and came back, as the history of the HR feed shows.
    pub rehires: Vec<Rehire>,
    /// Current accounts.
    pub accounts: Vec<AccountState>,
    /// Current entitlements.
    pub entitlements: Vec<EntitlementState>,
    /// Current grants, grouped by account.
    pub grants: Vec<GrantState>,
    /// Distinct warrant texts cited by grants; `GrantState::warrant` indexes this.
    pub warrants: Vec<Warrant>,
    /// Business roles.
    pub roles: Vec<Role>,
    /// Warrant records (approved requests, review decisions, break-glass uses).
    pub warrant_records: Vec<WarrantRecord>,
    /// Every source ever imported, with the time of its latest snapshot.
    pub feeds: Vec<Feed>,
}

/// A source of data (`hr`, `nhi`, `roles`, `warrants`, `system:<key>`) and how fresh it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The source, as imports name it.
    pub source: String,
    /// The time its latest snapshot describes (an import that changed nothing counts: the
    /// source was read).
    pub last_snapshot: Timestamp,
}

/// A system and when its data was last imported.
#[derive(Debug, Clone)]
pub struct SystemState {
    /// Its configuration.
    pub config: SystemConfig,
    /// The `as_of` of the latest import of its snapshot.
    pub as_of: Option<Timestamp>,
}

impl SystemState {
    /// Whether the system is in SOX scope: the `sox` framework or the financial-reporting flag.
    pub fn sox(&self) -> bool {
        self.config.financial_reporting || self.config.frameworks.iter().any(|f| f == "sox")
    }

    /// The system's criticality, when classified.
    pub fn criticality(&self) -> Option<Criticality> {
        self.config.criticality
    }
}

/// A person's department or title before a change.
#[derive(Debug, Clone)]
pub struct Move {
    /// The person.
    pub identity: IdentityIx,
    /// Department before.
    pub from_department: Option<String>,
    /// Title before.
    pub from_title: Option<String>,
    /// When the new department/title took effect (the import that recorded it).
    pub at: Timestamp,
}

/// A person the HR feed listed as terminated, then again as employed.
#[derive(Debug, Clone)]
pub struct Rehire {
    /// The person.
    pub identity: IdentityIx,
    /// When the feed first showed them employed again (the import that recorded it).
    pub at: Timestamp,
}

/// An account as it is now.
#[derive(Debug, Clone)]
pub struct AccountState {
    /// Its system.
    pub system: SystemIx,
    /// Native id.
    pub native_id: Box<str>,
    /// Login name.
    pub username: Box<str>,
    /// The identity it belongs to, when linked to one in a feed.
    pub identity: Option<IdentityIx>,
    /// The identity key the account names when it names one that is not in any feed.
    pub dangling_identity: Option<IdentityKey>,
    /// What it is used for.
    pub kind: AccountKind,
    /// Whether it can log in.
    pub enabled: bool,
    /// MFA, when known.
    pub mfa: Option<bool>,
    /// Last login, when known.
    pub last_login: Option<Timestamp>,
    /// When Gatehouse first saw it.
    pub first_seen: Timestamp,
    /// Range `grants[grants_from..grants_to]` of its grants.
    pub grants_from: u32,
    /// End of its grant range.
    pub grants_to: u32,
}

/// An entitlement as it is now.
#[derive(Debug, Clone)]
pub struct EntitlementState {
    /// Its system.
    pub system: SystemIx,
    /// Its record.
    pub record: Entitlement,
}

impl EntitlementState {
    /// Whether it is privileged: flagged so, or rated critical.
    pub fn privileged(&self) -> bool {
        self.record.privileged || self.record.risk == Some(RiskLevel::Critical)
    }
}

/// A grant as it is now, with the history facts the analysis needs.
#[derive(Debug, Clone, Copy)]
pub struct GrantState {
    /// The account holding it.
    pub account: AccountIx,
    /// The entitlement held.
    pub entitlement: EntitlementIx,
    /// How it came about.
    pub source: GrantSource,
    /// The warrant it cites, if any.
    pub warrant: Option<WarrantIx>,
    /// When it is meant to end.
    pub expires_at: Option<Timestamp>,
    /// Start of its current uninterrupted presence.
    pub first_seen: Timestamp,
    /// When the system says the entitlement was given, if it says.
    pub granted_at: Option<Timestamp>,
    /// When it was last removed before coming back, if it ever was.
    pub removed_before: Option<Timestamp>,
}

impl GrantState {
    /// When the grant began, as far as anyone knows: the system's own date when it gives one
    /// that is not later than Gatehouse first saw the grant (nor before a removal), else when
    /// Gatehouse first saw it.
    pub fn since(&self) -> Timestamp {
        match self.granted_at {
            Some(t) if t <= self.first_seen && self.removed_before.is_none_or(|r| t >= r) => t,
            _ => self.first_seen,
        }
    }
}

impl Inventory {
    /// The identity at an index, if the index is set.
    pub fn identity(&self, index: Option<IdentityIx>) -> Option<&Identity> {
        index.and_then(|i| self.identities.get(i.index()))
    }

    /// Finds an identity's index by key.
    pub fn identity_index(&self, key: &str) -> Option<IdentityIx> {
        self.identities
            .binary_search_by(|i| i.key.as_str().cmp(key))
            .ok()
            .map(IdentityIx::new)
    }

    /// The grants of an account.
    pub fn grants_of(&self, account: &AccountState) -> &[GrantState] {
        &self.grants[account.grants_from as usize..account.grants_to as usize]
    }

    /// The warrant a grant cites, if any.
    pub fn warrant(&self, grant: &GrantState) -> Option<&Warrant> {
        grant.warrant.and_then(|w| self.warrants.get(w.index()))
    }

    /// Every account with its index.
    pub fn accounts_ix(&self) -> impl Iterator<Item = (AccountIx, &AccountState)> {
        self.accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (AccountIx::new(i), a))
    }

    /// Every identity with its index.
    pub fn identities_ix(&self) -> impl Iterator<Item = (IdentityIx, &Identity)> {
        self.identities
            .iter()
            .enumerate()
            .map(|(i, a)| (IdentityIx::new(i), a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_round_trip_and_absent_ones_cost_nothing() {
        assert_eq!(AccountIx::new(0).index(), 0);
        assert_eq!(AccountIx::new(41).index(), 41);
        assert!(AccountIx::new(1) < AccountIx::new(2));
        assert_eq!(std::mem::size_of::<Option<IdentityIx>>(), 4);
        assert_eq!(
            IdentityIx::all(3)
                .map(IdentityIx::index)
                .collect::<Vec<_>>(),
            [0, 1, 2]
        );
    }
}
