//! Users' records as read recently, so that a signed-in request does not read its user from
//! the store every time.
//!
//! Why: reading the user was a read transaction of its own on a blocking thread for every
//! request, about a third of the server's work on a review decision (docs/PERFORMANCE.md,
//! "Decisions by their keys"). A record is used again only while both hold:
//! - no change to users written by this server has committed since it was read
//!   ([`gatehouse_store::Store::users_version`], read before the record): disabling a user,
//!   changing a role or a credential here takes effect at the next request;
//! - it was read less than [`FRESH`] ago: a change written by another process (the CLI, on
//!   the same store) takes effect within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gatehouse_store::users::UserRow;

/// How long a record read from the store is used again, at most.
pub const FRESH: Duration = Duration::from_secs(1);

/// At most this many users are kept; all are forgotten when full.
const MAX_USERS: usize = 10_000;

struct Known {
    row: UserRow,
    version: u64,
    read: Instant,
}

/// See the module's documentation.
pub struct KnownUsers {
    fresh: Duration,
    users: Mutex<HashMap<String, Known>>,
}

impl Default for KnownUsers {
    fn default() -> Self {
        KnownUsers::new(FRESH)
    }
}

impl KnownUsers {
    /// Records used again for at most `fresh`.
    pub fn new(fresh: Duration) -> KnownUsers {
        KnownUsers {
            fresh,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// The record of `name`, if it was read at the store's users `version` less than
    /// [`FRESH`] ago.
    pub fn get(&self, name: &str, version: u64) -> Option<UserRow> {
        let users = self.users.lock().ok()?;
        let k = users.get(name)?;
        (k.version == version && k.read.elapsed() < self.fresh).then(|| k.row.clone())
    }

    /// Keeps `row`, read after the store's users version was `version`.
    pub fn put(&self, row: &UserRow, version: u64) {
        let Ok(mut users) = self.users.lock() else {
            return;
        };
        if users.len() >= MAX_USERS {
            users.clear();
        }
        users.insert(
            row.name.clone(),
            Known {
                row: row.clone(),
                version,
                read: Instant::now(),
            },
        );
    }

    /// Forgets `name`'s record (its sessions ended).
    pub fn forget(&self, name: &str) {
        if let Ok(mut users) = self.users.lock() {
            users.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserRow {
        UserRow {
            name: name.into(),
            role: gatehouse_model::UserRole::Reviewer,
            identity: None,
            email: None,
            oidc_subject: None,
            disabled: false,
            password_digest: None,
            password_one_time: false,
            totp_digest: None,
            recovery_digest: None,
            created_at: "2027-01-01T00:00:00Z".parse().unwrap(),
            last_sign_in: None,
        }
    }

    #[test]
    fn a_record_is_used_again_only_at_its_version_and_while_fresh() {
        let known = KnownUsers::new(Duration::from_secs(60));
        known.put(&user("ada"), 3);
        assert_eq!(known.get("ada", 3).map(|u| u.name), Some("ada".into()));
        assert!(known.get("ada", 4).is_none(), "a change committed since");
        assert!(known.get("bob", 3).is_none());
        known.forget("ada");
        assert!(known.get("ada", 3).is_none());
        let stale = KnownUsers::new(Duration::ZERO);
        stale.put(&user("ada"), 3);
        assert!(stale.get("ada", 3).is_none(), "read too long ago");
    }
}
