//! Stable error codes: one per thing that can go wrong for an operator, the same in the CLI,
//! the API and the documentation (`docs/errors.md` lists each with its meaning and fix).
//! Messages may be improved from release to release; codes never change meaning.

use serde::Serialize;

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal; )+) => {
        /// A stable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )+
        }

        impl ErrorCode {
            /// Every code, in order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code as printed: `GH101`.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )+ }
            }

            /// A short name in snake case: `store_not_found`.
            pub fn name(self) -> &'static str {
                match self { $( ErrorCode::$variant => $name, )+ }
            }
        }
    };
}

codes! {
    /// There is no store at the configured location.
    StoreNotFound = "GH101", "store_not_found";
    /// The database exists but holds no Gatehouse schema.
    StoreNotInitialised = "GH102", "store_not_initialised";
    /// The store was written by a newer Gatehouse.
    SchemaTooNew = "GH103", "schema_too_new";
    /// The store's schema is older than this Gatehouse and must be migrated.
    SchemaOutdated = "GH104", "schema_outdated";
    /// The database server or file reported an error.
    Database = "GH105", "database_error";
    /// The store stayed busy (no connection or lock became free in time).
    StoreBusy = "GH106", "store_busy";
    /// The store location is not a SQLite path or a PostgreSQL URL.
    StoreLocationInvalid = "GH107", "store_location_invalid";
    /// Reading or writing a file or stream failed.
    Io = "GH108", "io_error";
    /// A transaction was started inside another one on the same thread.
    NestedTransaction = "GH109", "nested_transaction";
    /// No actor: a change must say who made it.
    NoActor = "GH110", "no_actor";
    /// The configuration is invalid.
    Config = "GH111", "config_invalid";
    /// A source has invalid rows or fields.
    InvalidInput = "GH201", "invalid_input";
    /// A snapshot older than the last import of its source.
    HistoryRewrite = "GH202", "history_rewrite";
    /// A snapshot that would remove most of what its source had.
    MassRemoval = "GH203", "mass_removal";
    /// An identity key claimed by both the HR feed and the non-human identity inventory.
    IdentityFeedConflict = "GH204", "identity_feed_conflict";
    /// Another import into the same store is running.
    ImportRunning = "GH205", "import_running";
    /// An import stopped after some of its changes were recorded.
    ImportInterrupted = "GH206", "import_interrupted";
    /// A source file or folder cannot be read.
    SourceUnreadable = "GH207", "source_unreadable";
    /// A reference names nothing the store knows.
    UnknownObject = "GH301", "unknown_object";
    /// A reference names several objects.
    AmbiguousReference = "GH302", "ambiguous_reference";
    /// A reference is not written the way its kind of object is referred to.
    InvalidReference = "GH303", "invalid_reference";
    /// A question about a time outside the period the store has data for.
    OutsideHistory = "GH304", "outside_history";
    /// The ledger does not match the store: something was changed behind its back.
    LedgerTampered = "GH401", "ledger_tampered";
    /// The ledger could not be updated; nothing was written.
    LedgerUnavailable = "GH402", "ledger_unavailable";
    /// No signed checkpoint covers (part of) the log yet.
    NotCheckpointed = "GH403", "not_checkpointed";
    /// The ledger signing or verification key is missing or invalid.
    LedgerKey = "GH404", "ledger_key";
    /// A proof or export was asked for sizes the log does not have.
    LedgerRange = "GH405", "ledger_range";
    /// A witness holds a checkpoint of this log that the log no longer extends: it was rolled
    /// back or its history rewritten after the witness cosigned.
    WitnessConflict = "GH406", "witness_conflict";
    /// No configured witness could be asked for its latest checkpoint of this log.
    WitnessesUnreachable = "GH407", "witnesses_unreachable";
    /// The analysis policy or segregation-of-duties ruleset is invalid.
    PolicyInvalid = "GH501", "policy_invalid";
    /// A risk acceptance was refused.
    AcceptanceRefused = "GH502", "acceptance_refused";
    /// The review policy (or the evidence mapping) is invalid.
    ReviewPolicyInvalid = "GH601", "review_policy_invalid";
    /// The campaign is not in a state that allows this.
    CampaignState = "GH602", "campaign_state";
    /// The acting person may not do this.
    NotAuthorized = "GH603", "not_authorized";
    /// A person would review their own access.
    SelfReview = "GH604", "self_review";
    /// The review item was decided already.
    AlreadyDecided = "GH605", "already_decided";
    /// A decision is incomplete or inconsistent.
    DecisionInvalid = "GH606", "decision_invalid";
    /// Sign-off while items are undecided, without forcing.
    UndecidedItems = "GH607", "undecided_items";
    /// A remediation task cannot take this step.
    RemediationRefused = "GH608", "remediation_refused";
    /// A notification could not be sent, or the notification settings are invalid.
    NotificationFailed = "GH609", "notification_failed";
    /// A page or API call that needs a signed-in user or a token got neither.
    SignInRequired = "GH701", "sign_in_required";
    /// A sign-in was refused: wrong name, password or code, or a disabled user.
    SignInFailed = "GH702", "sign_in_failed";
    /// Too many failed sign-ins for a user name or address; wait before trying again.
    SignInRateLimited = "GH703", "sign_in_rate_limited";
    /// The signed-in user or token may not do this.
    PermissionDenied = "GH704", "permission_denied";
    /// A form or change request came without the right anti-forgery token.
    CsrfRejected = "GH705", "csrf_rejected";
    /// A privileged action needs a second factor given within the last minutes.
    SecondFactorRequired = "GH706", "second_factor_required";
    /// An API token that is unknown, expired or revoked.
    TokenInvalid = "GH707", "token_invalid";
    /// The stored data contradicts itself.
    Corrupt = "GH901", "store_corrupt";
    /// An unexpected internal failure.
    Internal = "GH902", "internal";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../../../docs/errors.md");
        for c in ErrorCode::ALL {
            let row = format!("| `{}` | `{}` |", c.as_str(), c.name());
            assert!(doc.contains(&row), "docs/errors.md has no row `{row}`");
        }
    }

    #[test]
    fn codes_and_names_are_unique() {
        let mut codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        names.sort_unstable();
        names.dedup();
        assert_eq!((codes.len(), names.len()), (n, n));
    }
}
