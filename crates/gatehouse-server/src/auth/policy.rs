//! Who may do what. One function, [`decide`], answers for every route and API call, from the
//! user's role, the token's scopes and the object asked for.
//!
//! | | admin | auditor | reviewer | person |
//! |---|---|---|---|---|
//! | their own access | yes | yes | yes | yes |
//! | systems they own | yes | yes | yes | no (404) |
//! | the organisation: dashboard, identities, who has access, systems, findings, ledger | yes | yes | no | no |
//! | verify the ledger, download evidence | yes | yes | no | no |
//! | campaigns: list, monitor, download their evidence | yes | yes | no | no |
//! | campaigns: create, launch, remind | yes | no | no | no |
//! | sign off a campaign (fresh second factor) | yes | no | no | no |
//! | review items assigned to them: see, decide, delegate | yes | no | yes | yes |
//! | a review item assigned to someone else | yes (read) | yes (read) | no (404) | no (404) |
//! | accept a risk (fresh second factor) | yes | no | no | no |
//! | run the analysis, sign a checkpoint, manage users | yes | no | no | no |
//! | their own API tokens | yes | yes | yes | yes |
//!
//! Someone asking for an object outside what they may see (another person's access, a
//! system they do not own) gets 404, as if it did not exist; someone asking for an action
//! their role does not allow gets 403. A token also needs the scope: `read` for questions,
//! `evidence` to verify and download evidence, `write` for changes; privileged actions and
//! token management need a person with a second factor, so no token can do them.
//!
//! The review policy decides further who runs which campaign (its administrators and the
//! campaign's owner) and the workflow checks that an item is the acting reviewer's own: a
//! web admin whose user is linked to nobody in the review policy is refused there.

use gatehouse_model::{IdentityKey, UserRole};
use gatehouse_store::users::UserRow;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Questions: inventory, findings, ledger events.
    Read,
    /// Verify the ledger and download evidence bundles.
    Evidence,
    /// Changes: run the analysis, sign a checkpoint.
    Write,
}

impl Scope {
    /// The scope as written in tokens and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Evidence => "evidence",
            Scope::Write => "write",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(Scope::Read),
            "evidence" => Ok(Scope::Evidence),
            "write" => Ok(Scope::Write),
            other => Err(format!(
                "`{other}` is not a token scope; expected read, evidence or write"
            )),
        }
    }
}

/// Something a user asks to do.
#[derive(Debug, Clone)]
pub enum Action<'a> {
    /// Organisation-wide pages and questions.
    ViewOrganisation,
    /// One identity's access, findings and history.
    ViewIdentity(&'a IdentityKey),
    /// One system, with its owner.
    ViewSystem(Option<&'a IdentityKey>),
    /// Verify the ledger now.
    VerifyLedger,
    /// Download an evidence bundle.
    ExportEvidence,
    /// Accept the risk of a finding.
    AcceptRisk,
    /// Campaigns: the list, one campaign's progress, its evidence.
    ViewCampaigns,
    /// Create, launch and remind campaigns.
    RunCampaigns,
    /// Close and sign off a campaign.
    SignOff,
    /// Decide and delegate one's own review items.
    Review,
    /// One review item, assigned to this reviewer.
    ViewReviewItem(&'a IdentityKey),
    /// Run the analysis or sign a checkpoint.
    Operate,
    /// Add, change or reset users.
    ManageUsers,
    /// Create and revoke one's own API tokens.
    ManageOwnTokens,
}

impl Action<'_> {
    /// A short name for logs and events.
    pub fn name(&self) -> &'static str {
        match self {
            Action::ViewOrganisation => "view organisation",
            Action::ViewIdentity(_) => "view identity",
            Action::ViewSystem(_) => "view system",
            Action::VerifyLedger => "verify ledger",
            Action::ExportEvidence => "export evidence",
            Action::AcceptRisk => "accept risk",
            Action::ViewCampaigns => "view campaigns",
            Action::RunCampaigns => "run campaigns",
            Action::SignOff => "sign off campaign",
            Action::Review => "review",
            Action::ViewReviewItem(_) => "view review item",
            Action::Operate => "operate",
            Action::ManageUsers => "manage users",
            Action::ManageOwnTokens => "manage own tokens",
        }
    }
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// 403, with why.
    Forbidden(&'static str),
    /// 404: the user may not know whether it exists.
    Hidden,
}

/// Decides whether `user` (through a token with `scopes`, or a session when `None`) may do
/// `action`.
pub fn decide(user: &UserRow, scopes: Option<&[Scope]>, action: &Action<'_>) -> Decision {
    use UserRole::*;
    let role = user.role;
    let is_self = |k: &IdentityKey| user.identity.as_ref() == Some(k);
    let by_role = match action {
        Action::ViewIdentity(k) if is_self(k) => Decision::Allow,
        Action::ViewSystem(Some(owner)) if is_self(owner) && role != Person => Decision::Allow,
        Action::ViewReviewItem(reviewer) if is_self(reviewer) => Decision::Allow,
        Action::ViewReviewItem(_) => match role {
            Admin | Auditor => Decision::Allow,
            Reviewer | Person => Decision::Hidden,
        },
        Action::ViewCampaigns => match role {
            Admin | Auditor => Decision::Allow,
            _ => Decision::Forbidden("only admins and auditors see campaigns"),
        },
        Action::RunCampaigns | Action::SignOff => match role {
            Admin => Decision::Allow,
            Auditor => Decision::Forbidden("auditors read and verify; they change nothing"),
            _ => Decision::Forbidden("only admins run campaigns"),
        },
        Action::Review => match (role, &user.identity) {
            (Auditor, _) => Decision::Forbidden("auditors read and verify; they change nothing"),
            (_, None) => Decision::Forbidden(
                "your Gatehouse user is linked to no person, so no review item is yours",
            ),
            _ => Decision::Allow,
        },
        Action::ViewOrganisation | Action::ViewIdentity(_) | Action::ViewSystem(_) => match role {
            Admin | Auditor => Decision::Allow,
            Reviewer | Person => match action {
                Action::ViewOrganisation => {
                    Decision::Forbidden("your role sees your own access and reviews only")
                }
                _ => Decision::Hidden,
            },
        },
        Action::VerifyLedger | Action::ExportEvidence => match role {
            Admin | Auditor => Decision::Allow,
            _ => {
                Decision::Forbidden("only admins and auditors verify the ledger and take evidence")
            }
        },
        Action::AcceptRisk => match role {
            Admin => Decision::Allow,
            Auditor => Decision::Forbidden("auditors read and verify; they change nothing"),
            _ => Decision::Forbidden("only admins accept risks"),
        },
        Action::Operate | Action::ManageUsers => match role {
            Admin => Decision::Allow,
            Auditor => Decision::Forbidden("auditors read and verify; they change nothing"),
            _ => Decision::Forbidden("only admins do this"),
        },
        Action::ManageOwnTokens => Decision::Allow,
    };
    if by_role != Decision::Allow {
        return by_role;
    }
    let Some(scopes) = scopes else {
        return Decision::Allow;
    };
    let needed = match action {
        Action::ViewOrganisation
        | Action::ViewIdentity(_)
        | Action::ViewSystem(_)
        | Action::ViewCampaigns
        | Action::ViewReviewItem(_) => Scope::Read,
        Action::VerifyLedger | Action::ExportEvidence => Scope::Evidence,
        Action::Operate | Action::RunCampaigns | Action::Review => Scope::Write,
        Action::AcceptRisk | Action::SignOff | Action::ManageUsers | Action::ManageOwnTokens => {
            return Decision::Forbidden(
                "this action needs a person signed in with a second factor, not an API token",
            );
        }
    };
    if scopes.contains(&needed) {
        Decision::Allow
    } else {
        Decision::Forbidden("the API token lacks the scope this needs")
    }
}
