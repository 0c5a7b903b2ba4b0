//! The users domain's events: Gatehouse users, their credentials, API tokens, sign-ins,
//! refused sign-ins and refused requests.

use super::Stamped;
use crate::time::Timestamp;
use crate::user::{
    AccessDenied, CredentialSet, SignInFailed, SignedIn, TokenCreated, TokenRevoked, UserRecord,
};

domain_events! {
    /// Events of the users domain.
    pub enum UserEvent {
        /// A user was added.
        UserAdded(Stamped<UserRecord>) = "user.added",
        /// A user's role, identity, e-mail, subject or status changed.
        UserChanged(Stamped<UserRecord>) = "user.changed",
        /// A credential was set, replaced or removed.
        CredentialSet(Stamped<CredentialSet>) = "user.credential_set",
        /// A user signed in.
        SignedIn(Stamped<SignedIn>) = "user.signed_in",
        /// A sign-in was refused.
        SignInFailed(Stamped<SignInFailed>) = "user.sign_in_failed",
        /// A request was refused for lack of permission.
        AccessDenied(Stamped<AccessDenied>) = "user.access_denied",
        /// An API token was created.
        TokenCreated(Stamped<TokenCreated>) = "token.created",
        /// An API token was revoked.
        TokenRevoked(Stamped<TokenRevoked>) = "token.revoked",
    }
}

impl UserEvent {
    /// See [`super::EventData::object`].
    pub fn object(&self) -> String {
        use UserEvent as E;
        match self {
            E::UserAdded(s) | E::UserChanged(s) => format!("user:{}", s.record.name),
            E::CredentialSet(s) => format!("user:{}", s.record.user),
            E::SignedIn(s) => format!("user:{}", s.record.user),
            E::SignInFailed(s) => format!("user:{}", s.record.user),
            E::AccessDenied(s) => format!("user:{}", s.record.user),
            E::TokenCreated(s) => format!("token:{}", s.record.id),
            E::TokenRevoked(s) => format!("token:{}", s.record.id),
        }
    }

    /// How many changes the event records (always 1).
    pub fn changes(&self) -> usize {
        1
    }

    /// When the change took effect.
    pub fn as_of(&self) -> Timestamp {
        use UserEvent as E;
        match self {
            E::UserAdded(s) | E::UserChanged(s) => s.as_of,
            E::CredentialSet(s) => s.as_of,
            E::SignedIn(s) => s.as_of,
            E::SignInFailed(s) => s.as_of,
            E::AccessDenied(s) => s.as_of,
            E::TokenCreated(s) => s.as_of,
            E::TokenRevoked(s) => s.as_of,
        }
    }

    /// Never part of an import.
    pub fn import(&self) -> Option<u64> {
        None
    }
}
