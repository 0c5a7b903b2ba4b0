//! Access review campaigns as state machines: a draft is created from the review policy,
//! previewed, launched (its population frozen and hashed), reviewed item by item or in bulk,
//! reminded and escalated on a schedule, closed and signed off; every revoke becomes a
//! remediation task that the next import of its system must confirm.
//!
//! Every function here takes who is acting ([`Acting`]) and `now`: a command line and a web
//! server call the same functions, and nothing here reads the clock. Authorization lives
//! here, not in the callers: who may decide an item, delegate it, reassign it, sign a
//! campaign off or close it. A refusal changes nothing (it is decided before anything is
//! written, inside the write transaction).

mod directory;
mod external;
mod lifecycle;
pub mod notify;
pub mod policy;
mod population;
mod remediation;
pub mod report;
mod warrants;

use gatehouse_model::{ErrorCode, IdentityKey};
use gatehouse_store::StoreError;

pub use directory::Directory;
pub use external::{DecisionsReport, import_decisions};
pub use lifecycle::{
    BulkDecision, BulkSelection, CloseReport, Created, DecideReport, DecisionInput, DueScope,
    Launched, NewCampaign, Preview, TickReport, close, create, decide, decide_bulk, decide_in,
    delegate, due, launch, preview, reassign, remind, tick,
};
pub use policy::ReviewPolicy;
pub use remediation::{VerifyReport, mark_done, verify_remediation};
pub use warrants::apply_reviews;

/// Who is acting: recorded in events as `actor` (`cli:alice`, `server:E000017`, `scheduler`),
/// and the person it is, which is what authorization looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    /// As recorded in events.
    pub actor: String,
    /// The person acting, when known. Deciding, delegating, signing off and administering
    /// need one; the scheduler acts without.
    pub identity: Option<IdentityKey>,
}

impl Acting {
    /// A person acting through a program (`actor`).
    pub fn person(actor: impl Into<String>, identity: IdentityKey) -> Acting {
        Acting {
            actor: actor.into(),
            identity: Some(identity),
        }
    }

    /// A program acting on its own (the scheduler).
    pub fn system(actor: impl Into<String>) -> Acting {
        Acting {
            actor: actor.into(),
            identity: None,
        }
    }

    /// The person acting, or a refusal saying that one is needed to `what`.
    pub fn who(&self, what: &str) -> Result<&IdentityKey, CampaignError> {
        self.identity.as_ref().ok_or_else(|| {
            CampaignError::NotAllowed(format!(
                "{what} needs to know who is acting, and no person is named"
            ))
        })
    }
}

/// Why a campaign operation was refused or failed. Messages are in the domain's words; the
/// program in front of the user adds which flag or button to use.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// The review policy is invalid.
    #[error("{0}")]
    Policy(String),
    /// The campaign is not in a state that allows this (a decision on a closed campaign).
    #[error("{0}")]
    State(String),
    /// The acting person may not do this (an item that is not theirs, a sign-off without the
    /// right).
    #[error("{0}")]
    NotAllowed(String),
    /// A person would review their own access.
    #[error("{0}")]
    SelfReview(String),
    /// The item was decided already.
    #[error("{0}")]
    AlreadyDecided(String),
    /// The decision is incomplete or inconsistent (no comment where one is required, an end
    /// date in the past).
    #[error("{0}")]
    Invalid(String),
    /// Sign-off while items are undecided, without forcing.
    #[error("{0}")]
    Undecided(String),
    /// A remediation task cannot take this step.
    #[error("{0}")]
    Remediation(String),
    /// A decisions file has invalid rows; every problem is listed.
    #[error("{0}")]
    Input(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CampaignError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            CampaignError::Policy(_) => ErrorCode::ReviewPolicyInvalid,
            CampaignError::State(_) => ErrorCode::CampaignState,
            CampaignError::NotAllowed(_) => ErrorCode::NotAuthorized,
            CampaignError::SelfReview(_) => ErrorCode::SelfReview,
            CampaignError::AlreadyDecided(_) => ErrorCode::AlreadyDecided,
            CampaignError::Invalid(_) => ErrorCode::DecisionInvalid,
            CampaignError::Undecided(_) => ErrorCode::UndecidedItems,
            CampaignError::Remediation(_) => ErrorCode::RemediationRefused,
            CampaignError::Input(_) => ErrorCode::InvalidInput,
            CampaignError::Store(e) => e.code(),
        }
    }
}

/// The date of a time, `YYYY-MM-DD` (UTC).
pub(crate) fn date(t: gatehouse_model::Timestamp) -> String {
    gatehouse_analysis::date(t)
}

/// `t` plus whole days.
pub(crate) fn plus_days(t: gatehouse_model::Timestamp, days: i64) -> gatehouse_model::Timestamp {
    t.checked_add(jiff::SignedDuration::from_secs(days.saturating_mul(86_400)))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests;
