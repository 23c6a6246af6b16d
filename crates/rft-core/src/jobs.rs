//! Work queued behind the webhooks: typed, with identity fields already hashed (a queue is
//! storage too, and invariant 10 applies to it).

use serde::{Deserialize, Serialize};

use crate::code::Code;
use crate::email::Email;
use crate::identity::HashedIdentity;
use crate::ids::{CustomerId, ReferralId, Token};
use crate::links::Action;
use crate::money::Currency;
use crate::time::Timestamp;

/// A new account at the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupJob {
    /// The signed request's id.
    pub webhook_id: String,
    /// The new customer.
    pub customer_id: CustomerId,
    /// Their email.
    pub email: Email,
    /// For the thank-you.
    pub first_name: Option<String>,
    /// For an SMS thank-you.
    #[serde(default)]
    pub phone: Option<crate::ids::Phone>,
    /// The `rft` token the store captured.
    pub attribution_token: Option<Token>,
    /// A code typed at sign-up.
    pub code: Option<Code>,
    /// Hashed identity fields.
    pub identity: HashedIdentity,
    /// When the sign-up happened.
    pub occurred_at: Timestamp,
}

/// A genuine first purchase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversionJob {
    /// The signed request's id.
    pub webhook_id: String,
    /// The converting customer.
    pub customer_id: CustomerId,
    /// The store's order id.
    pub order_id: String,
    /// Order value.
    pub amount_minor: u64,
    /// Order currency.
    pub currency: Currency,
    /// Hashed payment fingerprint and device from the purchase.
    pub identity: HashedIdentity,
    /// When the purchase happened.
    pub occurred_at: Timestamp,
}

/// An order refunded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundJob {
    /// The signed request's id.
    pub webhook_id: String,
    /// The customer refunded.
    pub customer_id: CustomerId,
    /// The order refunded.
    pub order_id: String,
    /// When.
    pub occurred_at: Timestamp,
}

/// A person's decision from an ops link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionJob {
    /// The referral decided.
    pub referral_id: ReferralId,
    /// Approve or reject.
    pub action: Action,
    /// When the button was pressed.
    pub decided_at: Timestamp,
}

/// One unit of queued work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// For the attributor.
    Signup(SignupJob),
    /// For the rewarder.
    Conversion(ConversionJob),
    /// For the rewarder.
    Refund(RefundJob),
    /// For the rewarder.
    Decision(DecisionJob),
}

impl Job {
    /// A short label for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Signup(_) => "signup",
            Job::Conversion(_) => "conversion",
            Job::Refund(_) => "refund",
            Job::Decision(_) => "decision",
        }
    }
}

/// A job handed to a consumer, to be acknowledged when done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Handle for acknowledging this delivery.
    pub receipt: String,
    /// The work.
    pub job: Job,
    /// How many times it has been handed out, this time included.
    pub receive_count: u32,
}

/// After this many receives without an acknowledgement a job is dead-lettered.
pub const MAX_RECEIVES: u32 = 5;
