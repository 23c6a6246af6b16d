//! The reward path (`rft-rewarder`) as a chain of small queue jobs, each safe to repeat:
//!
//! - [`conversion`]: a conversion is screened and, if clean, committed as one transaction (the
//!   flip to `rewarded`, both ledger rows, the referrer's tally step, the audit row); then one
//!   `fulfil` job per side is queued.
//! - [`fulfil`]: one call to the store for one side; the outcome is written on the ledger row
//!   under its version. A failure a retry can cure re-sends the job with a delay (the queue's
//!   delayed send, never a sleep here); after the budget, or a refusal no retry can cure, the row
//!   is parked for a person. A fulfilled side queues its `thank` job.
//! - [`thanks`]: one conditional claim on the row, then the note.
//! - [`review`]: refunds, a person's decisions, holds.
//!
//! The ledger row's state is the only checkpoint. Duplicates are absorbed by the payout
//! transaction's conditions, the store's `Idempotency-Key` and the note's conditional claim; a
//! crash between two steps leaves a job unacknowledged, and its redelivery finishes the step.
//! See docs/architecture.md ("Conversion") and docs/invariants.md.

mod at_checkout;
mod conversion;

pub use conversion::FORFEITED_BY_ERASURE;
mod call_claim;
mod discount;
mod fulfil;
mod retry;
mod review;
mod thanks;

pub use call_claim::{CALL_CLAIM, CUT_OFF};

use std::sync::Arc;
use std::time::Duration;

use crate::audit::AuditEvent;
use crate::ids::CustomerId;
use crate::jobs::{Job, JobFailure};
use crate::links::LinkSigner;
use crate::ports::{
    AuditStore, CodeStore, Counters, DiscountError, JobQueue, LedgerStore, MessageError, Messenger, OrderStore,
    QueueError, ReferralStore, RewardClient, ScreenError, Screener, StoreError, TextWriter,
};
use crate::service::friend_discount::FriendDiscount;
use crate::settings::Settings;
use crate::time::Clock;

/// How hard to try the store for one side before a person is asked.
#[derive(Clone, Debug)]
pub struct FulfilPolicy {
    /// Store calls in all before the row is parked.
    pub max_attempts: u32,
    /// The delay before the first retry; each later one is four times longer, up to `max_backoff`.
    pub first_backoff: Duration,
    /// The longest delay between two attempts (the queue's delayed send caps it at 15 minutes).
    pub max_backoff: Duration,
}

impl Default for FulfilPolicy {
    /// Retries at 30 s, 2 min, 8 min, then every 15 min: a store that is down for about an
    /// hour and a half parks its rewards for a person.
    fn default() -> Self {
        FulfilPolicy { max_attempts: 9, first_backoff: Duration::from_secs(30), max_backoff: crate::ports::MAX_DELAY }
    }
}

impl FulfilPolicy {
    /// The delay before the next attempt, after `attempts` failed ones.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 4u32.saturating_pow(attempts.saturating_sub(1));
        self.first_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Why a reward job did not finish. [`JobFailure::is_retryable`] says whether the queue should
/// deliver it again.
#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    /// A store failed (retryable unless an item is corrupt).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The screen failed.
    #[error(transparent)]
    Screen(#[from] ScreenError),
    /// A message could not be sent.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The next job of the chain could not be queued.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// A code's friend discount could not be made or deactivated at the provider.
    #[error(transparent)]
    Discount(#[from] DiscountError),
    /// The conversion arrived before its sign-up was attributed.
    #[error("no referral for customer {0} yet; the sign-up may not be attributed yet")]
    NotYetAttributed(CustomerId),
    /// Concurrent deliveries kept changing the referral or row under this one.
    #[error("the referral kept changing under this delivery")]
    Contended,
    /// A job that can never succeed, whatever the queue does (it is not the rewarder's, or what
    /// it refers to does not exist).
    #[error("this job can never succeed: {0}")]
    Unprocessable(&'static str),
}

impl JobFailure for RewardError {
    fn is_retryable(&self) -> bool {
        match self {
            RewardError::Store(StoreError::Corrupt { .. }) | RewardError::Unprocessable(_) => false,
            RewardError::Discount(e) => e.retryable,
            RewardError::Store(_)
            | RewardError::Screen(_)
            | RewardError::Message(_)
            | RewardError::Queue(_)
            | RewardError::NotYetAttributed(_)
            | RewardError::Contended => true,
        }
    }
}

/// The ports a rewarder needs.
pub struct RewarderPorts {
    /// Codes (the referrer's contact and identity).
    pub codes: Arc<dyn CodeStore>,
    /// Referrals.
    pub referrals: Arc<dyn ReferralStore>,
    /// The ledger.
    pub ledger: Arc<dyn LedgerStore>,
    /// The audit.
    pub audit: Arc<dyn AuditStore>,
    /// Velocity counters.
    pub counters: Arc<dyn Counters>,
    /// The store's orders (refunds).
    pub orders: Arc<dyn OrderStore>,
    /// The screen.
    pub screener: Arc<dyn Screener>,
    /// The store's reward endpoint.
    pub store: Arc<dyn RewardClient>,
    /// Email and SMS.
    pub messenger: Arc<dyn Messenger>,
    /// The model, for thank-yous.
    pub writer: Arc<dyn TextWriter>,
    /// Signs ops links in team emails.
    pub links: LinkSigner,
    /// The reward queue itself: each step queues the next.
    pub queue: Arc<dyn JobQueue>,
    /// The clock (a manual one in tests).
    pub clock: Arc<dyn Clock>,
}

/// The rewarder.
pub struct Rewarder {
    ports: RewarderPorts,
    settings: Arc<Settings>,
    policy: FulfilPolicy,
    friend_discount: FriendDiscount,
}

/// How many times a step re-reads and tries again after losing a race, before it gives the job
/// back to the queue.
const RACE_ROUNDS: usize = 6;

impl Rewarder {
    /// A rewarder over its ports.
    pub fn new(ports: RewarderPorts, settings: Arc<Settings>, policy: FulfilPolicy) -> Self {
        Rewarder { ports, settings, policy, friend_discount: FriendDiscount::none() }
    }

    /// The same rewarder, making codes' friend discounts at the connected store's provider
    /// (`Job::Discount`).
    pub fn with_discounts(mut self, friend_discount: FriendDiscount) -> Self {
        self.friend_discount = friend_discount;
        self
    }

    /// Handles one job from the reward queue.
    pub async fn handle(&self, job: Job) -> Result<(), RewardError> {
        match job {
            Job::Conversion(c) => self.conversion(&c).await,
            Job::Refund(r) => self.refund(&r).await,
            Job::Decision(d) => self.decision(&d).await,
            Job::Confirm(c) => self.confirm(&c).await,
            Job::ClearFlag(c) => self.clear_flag(&c).await,
            Job::Fulfil(f) => self.fulfil(&f).await,
            Job::Thank(t) => self.thank(&t).await,
            Job::Retry(r) => self.retry(&r).await,
            Job::Discount(d) => self.discount(&d).await,
            Job::Signup(_) | Job::Checkout(_) | Job::Import(_) | Job::Enrol(_) | Job::Credit(_) => {
                Err(RewardError::Unprocessable(
                    "a sign-up, checkout, import, enrolment or credit job does not belong on the reward queue",
                ))
            }
        }
    }

    /// Flags and holds, over the rewarder's own stores.
    fn code_flags(&self) -> crate::service::flags::CodeFlags {
        crate::service::flags::CodeFlags::new(
            self.ports.codes.clone(),
            self.ports.referrals.clone(),
            self.ports.audit.clone(),
            self.ports.counters.clone(),
        )
    }

    /// Appends an audit row that is not part of a state change; a failure is logged, not fatal
    /// (the state change it describes already happened).
    async fn append(&self, event: AuditEvent) {
        if let Err(e) = self.ports.audit.append(&event).await {
            tracing::error!(error = %e, kind = ?event.kind, subject = %event.subject, "audit row failed");
        }
    }
}

/// What a step wants its caller to do.
enum Retry {
    /// The referral moved: read it again and start over.
    Reload,
    /// A real failure: give the job back (or set it aside, if no retry can help).
    Failed(RewardError),
}

impl<E: Into<RewardError>> From<E> for Retry {
    fn from(e: E) -> Self {
        Retry::Failed(e.into())
    }
}
