//! Work queued behind the webhooks: typed, with identity fields already hashed (a queue is
//! storage too: docs/invariants.md, invariant 10).

use serde::{Deserialize, Serialize};

use crate::code::Code;
use crate::email::Email;
use crate::identity::HashedIdentity;
use crate::ids::{CustomerId, Phone, ReferralId, Token};
use crate::ledger::{LedgerRow, Side};
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
    /// Their email: where the thank-you goes, and (hashed) one of their identity claims. A
    /// sign-up webhook always has one; an imported or provider order may not.
    #[serde(default)]
    pub email: Option<Email>,
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
    /// The order's value in minor units (pence, cents).
    pub amount_minor: u64,
    /// The currency the order was paid in.
    pub currency: Currency,
    /// Hashed payment fingerprint and device from the purchase.
    pub identity: HashedIdentity,
    /// When the purchase happened.
    pub occurred_at: Timestamp,
    /// A referral code the checkout used as its discount code (a connected store's order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<Code>,
}

/// A paid order from a connected store (or a CSV import) that carries its own touch: the
/// attributor attributes it as a sign-up would be (unless the customer is not new), then hands
/// the conversion to the rewarder, so a guest checkout with no sign-up still pays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutJob {
    /// The sign-up the order implies: its customer, email, touches and identity.
    pub signup: SignupJob,
    /// The conversion itself.
    pub conversion: ConversionJob,
    /// Whether the provider says the customer had orders before this one.
    #[serde(default)]
    pub earlier_orders: Option<bool>,
}

/// A chunk of an imported CSV file: each order handled as a connected store's order, then
/// marked imported (docs/connect-csv.md). Chunks keep the upload's answer quick whatever the
/// file's size, and each chunk's work well inside the attributor's time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJob {
    /// The orders, in file order.
    pub orders: Vec<CheckoutJob>,
}

/// A customer's first paid order at a connected store, with `enrolment.on_first_order` on:
/// mint their link and email it to them, once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolJob {
    /// The customer.
    pub customer_id: CustomerId,
    /// Where their link goes.
    pub email: Email,
    /// For the greeting and their invites.
    pub first_name: Option<String>,
    /// Their hashed identity from the order, kept on their code for the screen.
    #[serde(default)]
    pub identity: HashedIdentity,
    /// The first order, for the audit.
    pub order_id: String,
    /// The order's signed request (or import row), for the audit.
    pub webhook_id: String,
}

/// A team member's credit of an unattributed sign-up to a referrer (the console's "Credit a
/// sign-up by hand"): the attributor opens the referral through the referrer's live code,
/// screened like any other, and replays the first order the sign-up made while it credited
/// nobody.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditJob {
    /// The sign-up credited.
    pub customer_id: CustomerId,
    /// The referrer credited.
    pub referrer_id: CustomerId,
    /// Why, as the person typed it.
    pub reason: crate::ids::ShortText<500>,
    /// Who credited it.
    pub by: Email,
    /// When they did.
    pub requested_at: Timestamp,
}

/// An order refunded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundJob {
    /// The signed request's id.
    pub webhook_id: String,
    /// The customer refunded, when the refund names one (a Shopify refund names only its order).
    pub customer_id: Option<CustomerId>,
    /// The order refunded.
    pub order_id: String,
    /// Other ids the same order may be known by (Stripe: its payment intent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_aliases: Vec<String>,
    /// When the store says the refund happened.
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
    /// Who pressed it, when they were signed in to the console (an ops link names nobody).
    /// Absent in jobs queued before the console existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Email>,
}

/// A conversion that waited out `rewards.confirm_after` without a refund: pay it now. The sweep
/// queues it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmJob {
    /// The referral whose conversion came due.
    pub referral_id: ReferralId,
}

/// A person cleared a flagged code from the ops queue or the console: its referrals held by the
/// code's rules are released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearFlagJob {
    /// The code.
    pub code: Code,
    /// When the button was pressed.
    pub decided_at: Timestamp,
    /// Who pressed it, when they were signed in to the console (an ops link names nobody).
    /// Absent in jobs queued before the console could clear flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Email>,
}

/// Where a thank-you goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", content = "to", rename_all = "snake_case")]
pub enum Recipient {
    /// An email address.
    Email(Email),
    /// A phone number, for an SMS when there is no email.
    Sms(Phone),
}

/// What one side's thank-you needs, copied from the referral and the code when the payout was
/// committed, so sending it needs no reads. Erasure after that point is caught by the note's
/// conditional claim on the ledger row (erasure rewrites the row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThanksNote {
    /// This side's contact, if the programme has one.
    pub to: Option<Recipient>,
    /// The referrer's first name.
    pub referrer_name: Option<String>,
    /// The friend's first name.
    pub friend_name: Option<String>,
    /// The referrer's reward as the ledger words it.
    pub referrer_reward: String,
    /// The friend's reward as the ledger words it.
    pub friend_reward: String,
}

/// Deliver one side's reward to the store: one call, then the outcome on the ledger row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilJob {
    /// The referral paid.
    pub referral_id: ReferralId,
    /// Whose row: the referrer's or the friend's.
    pub side: Side,
    /// Passed on to the `thank` job once the store acknowledges.
    pub note: ThanksNote,
}

/// Thank one side, once its reward is fulfilled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThankJob {
    /// The row as the `fulfil` job left it: the note's claim is conditional on its version.
    pub row: LedgerRow,
    /// What to say and to whom.
    pub note: ThanksNote,
}

/// A person asked for a parked reward to be tried again (the ops page, the owner's console):
/// the row goes back to owing with a fresh attempt budget and its `fulfil` job is queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryJob {
    /// The referral whose row is parked.
    pub referral_id: ReferralId,
    /// Which side.
    pub side: Side,
    /// Who asked (an email or `ops`), for the audit.
    pub requested_by: String,
    /// When they asked.
    pub requested_at: Timestamp,
}

/// Bring a code's friend discount at a connected store's provider in line with the code:
/// created while the code is active, deactivated once it is retired. Queued when the minter
/// could not do it within the time a mint or a retirement may take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountJob {
    /// The code.
    pub code: Code,
}

/// One unit of queued work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// For the attributor.
    Signup(SignupJob),
    /// For the attributor, then the rewarder.
    Checkout(Box<CheckoutJob>),
    /// For the attributor: orders from a CSV file.
    Import(ImportJob),
    /// On the sign-up queue: a new customer's link by email.
    Enrol(EnrolJob),
    /// For the attributor: an unattributed sign-up credited to a referrer by a person.
    Credit(CreditJob),
    /// For the rewarder.
    Conversion(ConversionJob),
    /// For the rewarder.
    Refund(RefundJob),
    /// For the rewarder.
    Decision(DecisionJob),
    /// For the rewarder: a conversion past its confirmation period.
    Confirm(ConfirmJob),
    /// For the rewarder: a flagged code cleared by a person.
    ClearFlag(ClearFlagJob),
    /// For the rewarder: one store call for one side.
    Fulfil(FulfilJob),
    /// For the rewarder: one side's thank-you.
    Thank(ThankJob),
    /// For the rewarder: a parked row tried again at a person's request.
    Retry(RetryJob),
    /// For the rewarder: a code's friend discount at the provider, made to match the code.
    Discount(DiscountJob),
}

impl Job {
    /// A short label for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Signup(_) => "signup",
            Job::Checkout(_) => "checkout",
            Job::Import(_) => "import",
            Job::Enrol(_) => "enrol",
            Job::Credit(_) => "credit",
            Job::Conversion(_) => "conversion",
            Job::Refund(_) => "refund",
            Job::Decision(_) => "decision",
            Job::Confirm(_) => "confirm",
            Job::ClearFlag(_) => "clear_flag",
            Job::Fulfil(_) => "fulfil",
            Job::Thank(_) => "thank",
            Job::Retry(_) => "retry",
            Job::Discount(_) => "discount",
        }
    }

    /// What the job is about (a customer or a referral), as the audit files it.
    pub fn subject(&self) -> String {
        match self {
            Job::Signup(j) => j.customer_id.to_string(),
            Job::Checkout(j) => j.signup.customer_id.to_string(),
            Job::Import(j) => j.orders.first().map_or_else(String::new, |o| format!("order#{}", o.conversion.order_id)),
            Job::Enrol(j) => j.customer_id.to_string(),
            Job::Credit(j) => j.customer_id.to_string(),
            Job::Conversion(j) => j.customer_id.to_string(),
            Job::Refund(j) => j.customer_id.as_ref().map_or_else(|| format!("order#{}", j.order_id), |c| c.to_string()),
            Job::Decision(j) => j.referral_id.to_string(),
            Job::Confirm(j) => j.referral_id.to_string(),
            Job::ClearFlag(j) => j.code.to_string(),
            Job::Fulfil(j) => j.referral_id.to_string(),
            Job::Thank(j) => j.row.referral_id.to_string(),
            Job::Retry(j) => j.referral_id.to_string(),
            Job::Discount(j) => j.code.to_string(),
        }
    }
}

/// A job handed to a consumer, to be acknowledged when done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Handle for acknowledging this delivery.
    pub receipt: String,
    /// The job as it was sent.
    pub job: Job,
    /// How many times it has been handed out, this time included.
    pub receive_count: u32,
}

/// A job's failure says whether running it again can help. The queue consumers fail a message
/// (so the queue redelivers it, and dead-letters it after [`MAX_RECEIVES`]) only when it can;
/// a job that can never succeed is recorded for a person instead (`service::dead_end`).
pub trait JobFailure: std::error::Error + Send + Sync + 'static {
    /// Whether a later delivery of the same job may succeed.
    fn is_retryable(&self) -> bool;
}

/// After this many receives without an acknowledgement a job is dead-lettered.
pub const MAX_RECEIVES: u32 = 5;
