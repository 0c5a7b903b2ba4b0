//! Gatehouse users: the people who sign in to Gatehouse itself (admins, auditors, reviewers,
//! and every person who looks at their own access), their credentials' fingerprints, API
//! tokens, and what happened at sign-in. A user is not an [`crate::Identity`]: an identity is
//! someone the inventory knows; a user may be linked to one (`identity`), which is how a
//! reviewer's items and a person's own access are found.
//!
//! Secrets never travel in events: a credential event carries the SHA-256 digest of what the
//! store keeps beside the log (a password's Argon2id hash, a TOTP seed, recovery code hashes),
//! so the ledger can tell a credential replaced behind its back, and an evidence bundle holds
//! nothing an attacker could crack. An API token has 256 random bits; its digest alone is kept.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::keys::IdentityKey;
use crate::time::Timestamp;

/// What a user may do in Gatehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Everything: users, campaigns, findings, the ledger.
    Admin,
    /// Reads everything and downloads evidence; changes nothing.
    Auditor,
    /// Decides the review items assigned to them; sees their own systems and access.
    Reviewer,
    /// Sees their own access only.
    Person,
}

impl UserRole {
    /// Every role.
    pub const ALL: [UserRole; 4] = [
        UserRole::Admin,
        UserRole::Auditor,
        UserRole::Reviewer,
        UserRole::Person,
    ];

    /// The role as written in events and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Auditor => "auditor",
            UserRole::Reviewer => "reviewer",
            UserRole::Person => "person",
        }
    }
}

impl std::fmt::Display for UserRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for UserRole {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        UserRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ModelError::InvalidChoice {
                what: "user role",
                value: s.to_owned(),
                expected: "admin, auditor, reviewer, person",
            })
    }
}

/// A Gatehouse user as added or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// The sign-in name, unique.
    pub name: String,
    /// What the user may do.
    pub role: UserRole,
    /// The identity in the inventory this user is, when linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityKey>,
    /// E-mail (OpenID Connect sign-in may match on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The OpenID Connect subject this user signs in as, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_subject: Option<String>,
    /// Whether the user may no longer sign in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// Which credential a [`CredentialSet`] event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// The password (an Argon2id hash is kept).
    Password,
    /// The TOTP second factor (its seed is kept).
    Totp,
    /// Recovery codes for a lost second factor (their hashes are kept).
    RecoveryCodes,
}

impl CredentialKind {
    /// The kind as written in events and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Password => "password",
            CredentialKind::Totp => "totp",
            CredentialKind::RecoveryCodes => "recovery_codes",
        }
    }
}

impl std::str::FromStr for CredentialKind {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        [
            CredentialKind::Password,
            CredentialKind::Totp,
            CredentialKind::RecoveryCodes,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| ModelError::InvalidChoice {
            what: "credential kind",
            value: s.to_owned(),
            expected: "password, totp, recovery_codes",
        })
    }
}

/// A credential was set, replaced or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSet {
    /// Whose.
    pub user: String,
    /// Which.
    pub kind: CredentialKind,
    /// SHA-256 (hex) of what the store keeps for it; absent when it was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// A password that works once (a new user's or a reset one): the next sign-in must set
    /// another.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_time: bool,
}

/// A user signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedIn {
    /// Who.
    pub user: String,
    /// How: `password+totp`, `password` (enrolment still to come), `recovery_code`, `oidc`.
    pub method: String,
    /// The client's address as the server saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A sign-in was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInFailed {
    /// The name given (at most 64 characters of it).
    pub user: String,
    /// Why: `unknown user`, `wrong password`, `wrong code`, `disabled`, `rate limited`, …
    pub reason: String,
    /// The client's address as the server saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A request was refused for lack of permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessDenied {
    /// Who asked (a user name, or `token:<id>`).
    pub user: String,
    /// What was asked: method and path, or the action.
    pub action: String,
    /// The request id, to find the request in the server's log.
    pub request: String,
}

/// An API token was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCreated {
    /// The token's public id (part of the token).
    pub id: String,
    /// The user it acts as.
    pub user: String,
    /// What it may do (`read`, `write`, `evidence`).
    pub scopes: Vec<String>,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// SHA-256 (hex) of its secret part.
    pub digest: String,
}

/// An API token was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRevoked {
    /// The token's id.
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in UserRole::ALL {
            assert_eq!(r.as_str().parse::<UserRole>().unwrap(), r);
        }
        assert!("root".parse::<UserRole>().is_err());
    }
}
