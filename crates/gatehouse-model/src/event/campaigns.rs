//! The campaigns domain's events: access review campaigns from creation to sign-off, their
//! items, decisions, delegations, reminders and escalations, the remediation of revokes and
//! its verification, and the notifications sent about them.

use super::Stamped;
use crate::campaign::{
    CampaignClosed, CampaignCreated, CampaignLaunched, DecisionsImported, RemediationDone,
    RemediationOpened, RemediationReopened, RemediationVerified, ReviewDecided, ReviewItems,
    ReviewReassigned, ReviewReminded,
};
use crate::notification::{NotificationFailed, NotificationSent};
use crate::time::Timestamp;

domain_events! {
    /// Events of the campaigns domain.
    pub enum CampaignEvent {
        /// A campaign was created as a draft.
        CampaignCreated(Stamped<CampaignCreated>) = "campaign.created",
        /// A campaign was launched: its population frozen and hashed; its items follow.
        CampaignLaunched(Stamped<CampaignLaunched>) = "campaign.launched",
        /// Items of a launched campaign.
        ReviewItems(Stamped<ReviewItems>) = "review.items",
        /// Decisions on items.
        ReviewDecided(Stamped<ReviewDecided>) = "review.decided",
        /// Items changed reviewer: delegated, reassigned, escalated, or a reviewer replaced.
        ReviewReassigned(Stamped<ReviewReassigned>) = "review.reassigned",
        /// A reviewer was reminded of open items.
        ReviewReminded(Stamped<ReviewReminded>) = "review.reminded",
        /// A campaign was closed and signed off.
        CampaignClosed(Stamped<CampaignClosed>) = "campaign.closed",
        /// Decisions taken outside Gatehouse were imported.
        DecisionsImported(Stamped<DecisionsImported>) = "decisions.imported",
        /// Revokes became remediation tasks.
        RemediationOpened(Stamped<RemediationOpened>) = "remediation.opened",
        /// Someone says a remediation task is done.
        RemediationDone(Stamped<RemediationDone>) = "remediation.done",
        /// Imports showed revoked grants gone.
        RemediationVerified(Stamped<RemediationVerified>) = "remediation.verified",
        /// Revoked grants were still there after the due date, or came back.
        RemediationReopened(Stamped<RemediationReopened>) = "remediation.reopened",
        /// A notification was delivered.
        NotificationSent(Stamped<NotificationSent>) = "notification.sent",
        /// A notification could not be delivered (it is retried).
        NotificationFailed(Stamped<NotificationFailed>) = "notification.failed",
    }
}

/// Applies `$f` to the `Stamped` payload of every variant.
macro_rules! each_stamped {
    ($e:expr, $p:ident => $f:expr) => {
        match $e {
            CampaignEvent::CampaignCreated($p) => $f,
            CampaignEvent::CampaignLaunched($p) => $f,
            CampaignEvent::ReviewItems($p) => $f,
            CampaignEvent::ReviewDecided($p) => $f,
            CampaignEvent::ReviewReassigned($p) => $f,
            CampaignEvent::ReviewReminded($p) => $f,
            CampaignEvent::CampaignClosed($p) => $f,
            CampaignEvent::DecisionsImported($p) => $f,
            CampaignEvent::RemediationOpened($p) => $f,
            CampaignEvent::RemediationDone($p) => $f,
            CampaignEvent::RemediationVerified($p) => $f,
            CampaignEvent::RemediationReopened($p) => $f,
            CampaignEvent::NotificationSent($p) => $f,
            CampaignEvent::NotificationFailed($p) => $f,
        }
    };
}

impl CampaignEvent {
    /// See [`super::EventData::object`].
    pub fn object(&self) -> String {
        use CampaignEvent as E;
        let campaign = |id: &dyn std::fmt::Display| format!("campaign:{id}");
        match self {
            E::CampaignCreated(s) => campaign(&s.record.id),
            E::CampaignLaunched(s) => campaign(&s.record.id),
            E::ReviewItems(s) => campaign(&s.record.campaign),
            E::ReviewDecided(s) => campaign(&s.record.campaign),
            E::ReviewReassigned(s) => campaign(&s.record.campaign),
            E::ReviewReminded(s) => campaign(&s.record.campaign),
            E::CampaignClosed(s) => campaign(&s.record.id),
            E::DecisionsImported(s) => campaign(&s.record.id),
            E::RemediationOpened(s) => match s.record.tasks.as_slice() {
                [one] => format!("remediation:{}", one.item),
                _ => "remediation".into(),
            },
            E::RemediationDone(s) => format!("remediation:{}", s.record.item),
            E::RemediationVerified(s) => match s.record.tasks.as_slice() {
                [one] => format!("remediation:{}", one.item),
                _ => "remediation".into(),
            },
            E::RemediationReopened(s) => match s.record.tasks.as_slice() {
                [one] => format!("remediation:{}", one.item),
                _ => "remediation".into(),
            },
            E::NotificationSent(s) => format!("notification:{}", s.record.notice.id),
            E::NotificationFailed(s) => format!("notification:{}", s.record.notice.id),
        }
    }

    /// How many changes the event records: items, decisions, tasks, or 1.
    pub fn changes(&self) -> usize {
        use CampaignEvent as E;
        match self {
            E::ReviewItems(s) => s.record.items.len(),
            E::ReviewDecided(s) => s.record.decisions.len(),
            E::ReviewReassigned(s) => s.record.items.len(),
            E::RemediationOpened(s) => s.record.tasks.len(),
            E::RemediationVerified(s) => s.record.tasks.len(),
            E::RemediationReopened(s) => s.record.tasks.len(),
            _ => 1,
        }
    }

    /// When the change took effect.
    pub fn as_of(&self) -> Timestamp {
        each_stamped!(self, p => p.as_of)
    }

    /// The event this one belongs to (the launch of the campaign whose items it carries).
    pub fn import(&self) -> Option<u64> {
        each_stamped!(self, p => p.import)
    }
}
