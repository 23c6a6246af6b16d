//! The append-only audit: every decision with the facts it was made on (docs/invariants.md, invariant 9).

use serde::{Deserialize, Serialize};

use crate::ids::random_base32;
use crate::time::Timestamp;

/// What was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A code was minted.
    Minted,
    /// A code was retired.
    Retired,
    /// A sign-up opened (or joined) a referral.
    Attributed,
    /// A sign-up credited nobody.
    Unattributed,
    /// The screen held a referral.
    Held,
    /// The screen blocked a referral.
    Blocked,
    /// Both sides were credited.
    Paid,
    /// A conversion paid nothing.
    NotPaid,
    /// A pending referral's window passed.
    Expired,
    /// A person approved.
    Approved,
    /// A person rejected.
    Rejected,
    /// A refund after a reward flagged the referral.
    RefundFlagged,
    /// A refund that needed nothing.
    RefundIgnored,
    /// A refund remembered for its order (and, where the referral is held, put before the person
    /// deciding).
    RefundNoted,
    /// A clean conversion waits out the confirmation period before it pays.
    ConversionNoted,
    /// A ledger row could not be fulfilled within the retry budget.
    FulfilmentParked,
    /// A customer's personal data was erased.
    Erased,
    /// A code's velocity tripped the screen: a person should look at it.
    CodeFlagged,
    /// A queued job that can never succeed was set aside for a person.
    JobDropped,
}

/// One audit row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unique id (`ev_` + random).
    pub event_id: String,
    /// When it was decided.
    pub ts: Timestamp,
    /// What was decided.
    pub kind: AuditKind,
    /// What it is about: a referral id, a code or a customer id.
    pub subject: String,
    /// The facts the decision was made on (hashes, never raw identity fields).
    pub facts: serde_json::Value,
}

impl AuditEvent {
    /// A new event with a fresh id.
    pub fn new(kind: AuditKind, subject: impl Into<String>, ts: Timestamp, facts: serde_json::Value) -> Self {
        AuditEvent { event_id: format!("ev_{}", random_base32()), ts, kind, subject: subject.into(), facts }
    }
}
