//! A referral: one referred person, the referrer who gets the credit, and where it stands.

use serde::{Deserialize, Serialize};

use crate::code::Code;
use crate::email::Email;
use crate::identity::HashedIdentity;
use crate::ids::{CustomerId, ReferralId};
use crate::money::{Currency, Terms};
use crate::time::Timestamp;

/// Where a referral stands (`state` in the API, docs/openapi.yaml).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralState {
    /// Attributed, waiting for a conversion.
    Pending,
    /// Parked for a person by the screen.
    Held,
    /// Both sides credited in the ledger.
    Rewarded,
    /// Refused outright by the screen (self-referral).
    Blocked,
    /// Refused by a person.
    Rejected,
    /// The window passed without a conversion.
    Expired,
}

impl ReferralState {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferralState::Pending => "pending",
            ReferralState::Held => "held",
            ReferralState::Rewarded => "rewarded",
            ReferralState::Blocked => "blocked",
            ReferralState::Rejected => "rejected",
            ReferralState::Expired => "expired",
        }
    }

    /// No event moves a referral out of these.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ReferralState::Rewarded | ReferralState::Blocked | ReferralState::Rejected | ReferralState::Expired
        )
    }
}

/// Something that may move a referral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateEvent {
    /// A clean conversion on a pending referral.
    Convert,
    /// The screen found something for a person to look at.
    Hold,
    /// The screen found a certain self-referral.
    Block,
    /// A person approved; `converted` says whether the friend has already bought.
    Approve {
        /// Whether a conversion is on record.
        converted: bool,
    },
    /// A person rejected.
    Reject,
    /// The window passed.
    Expire,
    /// The converting order was refunded before anything was paid.
    Refunded,
}

/// An event that does not apply in the referral's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from:?} referral cannot take {event:?}")]
pub struct IllegalTransition {
    /// The state it was in.
    pub from: ReferralState,
    /// The event refused.
    pub event: StateEvent,
}

/// The referral state machine. Everything not listed is illegal: in particular nothing leaves
/// `rewarded`, `blocked`, `rejected` or `expired`, and `held` never pays without `Approve`.
pub fn transition(from: ReferralState, event: StateEvent) -> Result<ReferralState, IllegalTransition> {
    use ReferralState::*;
    use StateEvent::*;
    let to = match (from, event) {
        (Pending, Convert) => Rewarded,
        (Pending | Held, Hold) => Held,
        (Pending | Held, Block) => Blocked,
        (Pending, Expire) => Expired,
        (Held, Approve { converted: true }) => Rewarded,
        (Held, Approve { converted: false }) => Pending,
        (Held, Reject) => Rejected,
        (Pending | Held, Refunded) => Rejected,
        _ => return Err(IllegalTransition { from, event }),
    };
    Ok(to)
}

/// How the referral was attributed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A click on the link (the `rft` token).
    Token,
    /// A code typed at sign-up.
    Code,
    /// An email invite to the friend's address.
    Email,
    /// The optional IP and user-agent fallback; always held.
    Fingerprint,
    /// A team member credited an unattributed sign-up to a referrer from the console, with a
    /// reason (docs/operations.md, "Crediting a sign-up by hand").
    Manual,
}

/// What a screen rule concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing wrong.
    Pass,
    /// A person must decide.
    Hold,
    /// Refused outright.
    Block,
}

/// One rule that fired, with the numbers behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The rule's name, e.g. `same_payment_and_device`.
    pub rule: String,
    /// Hold or block.
    pub outcome: Outcome,
    /// One human sentence with the numbers: "63 clicks in the last hour, limit 50".
    pub detail: String,
}

/// Marks that do not change the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// The converting order was refunded after the reward: a person should look.
    RefundReview,
}

/// The conversion that paid (or would have paid) this referral.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversionFacts {
    /// The store's order id.
    pub order_id: String,
    /// Order value in minor units.
    pub amount_minor: u64,
    /// The currency it was paid in.
    pub currency: Currency,
    /// When the purchase happened.
    pub occurred_at: Timestamp,
    /// The referral code the checkout used as its discount code, if it did: the friend's reward
    /// was then applied at checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<Code>,
}

/// A refund of the referral's converting order (kept whatever the state, so a held referral can
/// never be approved into a payout for a refunded order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundFacts {
    /// The order refunded.
    pub order_id: String,
    /// When the store says it was refunded.
    pub at: Timestamp,
}

/// The referred friend as the programme knows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendProfile {
    /// For the thank-you.
    pub first_name: Option<String>,
    /// Where the thank-you goes.
    pub email: Option<Email>,
    /// For an SMS thank-you when there is no email.
    #[serde(default)]
    pub phone: Option<crate::ids::Phone>,
    /// Keyed hashes of the friend's identity fields.
    pub identity: HashedIdentity,
}

/// One referral: one referred person, one referrer, one state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// The referral's own id (`rf_` and 26 characters): the subject of its audit rows.
    pub referral_id: ReferralId,
    /// The referred customer who signed up first (others may collapse into this referral).
    pub referred_id: CustomerId,
    /// Who gets the referrer reward.
    pub referrer_id: CustomerId,
    /// The code credited.
    pub code: Code,
    /// Where it stands.
    pub state: ReferralState,
    /// How it was attributed.
    pub method: Method,
    /// The terms pinned on the code at mint.
    pub terms: Terms,
    /// Screen rules that fired, with numbers.
    pub evidence: Vec<Evidence>,
    /// Marks such as `refund_review`.
    pub flags: Vec<Flag>,
    /// The referred friend: name and contact for the thank-you, identity hashes for the screen.
    /// Absent in a stored copy whose sealing key erasure destroyed: read as erased.
    #[serde(default)]
    pub friend: FriendProfile,
    /// When the credited touch happened (click, typed code or invite).
    pub touched_at: Timestamp,
    /// Where the credited link was shared (`?ch=`), for the referrer's stats.
    #[serde(default)]
    pub channel: Option<String>,
    /// The friend's browser token at sign-up, so erasure can find their clicks.
    #[serde(default)]
    pub attribution_token: Option<crate::ids::Token>,
    /// The conversion, once one arrived.
    pub conversion: Option<ConversionFacts>,
    /// The converting order's refund, once one arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded: Option<RefundFacts>,
    /// When a clean conversion that waits out `rewards.confirm_after` becomes payable (the
    /// sweep queues it then); `None` when nothing is waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms_at: Option<Timestamp>,
    /// When the sign-up opened it.
    pub created_at: Timestamp,
    /// Last changed at.
    pub updated_at: Timestamp,
    /// After this a pending referral expires.
    pub expires_at: Timestamp,
    /// When the team was emailed about the current review (a hold, or a refund after a
    /// reward), so a retried job emails once.
    #[serde(default)]
    pub review_notified_at: Option<Timestamp>,
    /// When the referrer was erased before this referral paid: their side is then written as
    /// forfeited (kept in the ledger, never sent to the store); the friend's still pays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_forfeited_at: Option<Timestamp>,
    /// Screen rules a person cleared by approving; they no longer hold this referral.
    #[serde(default)]
    pub cleared_rules: Vec<String>,
    /// Optimistic-concurrency counter: every write requires the version it read.
    pub version: u64,
}

impl Referral {
    /// Names of the rules that fired, in order, without repeats (the API's `reasons`).
    pub fn reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.evidence {
            if !out.contains(&e.rule) {
                out.push(e.rule.clone());
            }
        }
        out
    }

    /// The next revision of this referral, to be saved on the condition that the stored one is
    /// still `self.version`: the one place a referral's version moves.
    pub fn successor(&self, now: Timestamp) -> Referral {
        Referral { version: self.version + 1, updated_at: now, ..self.clone() }
    }

    /// Applies an event, refusing illegal ones, and stamps the time.
    pub fn apply(&mut self, event: StateEvent, now: Timestamp) -> Result<(), IllegalTransition> {
        self.state = transition(self.state, event)?;
        self.updated_at = now;
        Ok(())
    }

    /// Which work queue, if any, this referral belongs in: sweep candidates, the ops queue or
    /// refund review. Stores index on it so nobody scans a whole table.
    pub fn queue(&self) -> Option<(ReviewQueue, Timestamp)> {
        if self.flags.contains(&Flag::RefundReview) {
            return Some((ReviewQueue::RefundReview, self.updated_at));
        }
        match self.state {
            ReferralState::Pending => match self.confirms_at {
                Some(at) => Some((ReviewQueue::Confirming, at)),
                None => Some((ReviewQueue::PendingExpiry, self.expires_at)),
            },
            ReferralState::Held => Some((ReviewQueue::Held, self.updated_at)),
            _ => None,
        }
    }
}

/// The indexed lists of referrals that need attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewQueue {
    /// Pending, ordered by expiry: the sweep's input.
    PendingExpiry,
    /// Held for a person, oldest first.
    Held,
    /// Rewarded then refunded, oldest first.
    RefundReview,
    /// Converted cleanly, waiting out `rewards.confirm_after`, by when it becomes payable.
    Confirming,
}

impl ReviewQueue {
    /// The storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewQueue::PendingExpiry => "pending_expiry",
            ReviewQueue::Held => "held",
            ReviewQueue::RefundReview => "refund_review",
            ReviewQueue::Confirming => "confirming",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ReferralState::*;
    use super::StateEvent::*;
    use super::*;

    const ALL_STATES: [ReferralState; 6] = [Pending, Held, Rewarded, Blocked, Rejected, Expired];
    const ALL_EVENTS: [StateEvent; 8] =
        [Convert, Hold, Block, Approve { converted: true }, Approve { converted: false }, Reject, Expire, Refunded];

    #[test]
    fn the_legal_moves_are_exactly_these() {
        let legal: Vec<(ReferralState, StateEvent, ReferralState)> = ALL_STATES
            .iter()
            .flat_map(|&s| ALL_EVENTS.iter().filter_map(move |&e| transition(s, e).ok().map(|t| (s, e, t))))
            .collect();
        assert_eq!(
            legal,
            vec![
                (Pending, Convert, Rewarded),
                (Pending, Hold, Held),
                (Pending, Block, Blocked),
                (Pending, Expire, Expired),
                (Pending, Refunded, Rejected),
                (Held, Hold, Held),
                (Held, Block, Blocked),
                (Held, Approve { converted: true }, Rewarded),
                (Held, Approve { converted: false }, Pending),
                (Held, Reject, Rejected),
                (Held, Refunded, Rejected),
            ]
        );
    }

    #[test]
    fn final_states_refuse_everything() {
        for s in ALL_STATES.into_iter().filter(|s| s.is_final()) {
            for e in ALL_EVENTS {
                assert_eq!(transition(s, e), Err(IllegalTransition { from: s, event: e }));
            }
        }
    }

    #[test]
    fn held_never_pays_without_approval() {
        assert!(transition(Held, Convert).is_err());
        assert!(transition(Held, Expire).is_err());
    }
}
