//! The friend's discount beside minting and retiring a code (a connected store only): tried at
//! once, within what is left of the time the caller can wait, and otherwise handed to the
//! rewarder as a [`Job::Discount`], which retries it until the provider answers. The job reads
//! the code again when it runs, so whatever it finds (active: make the discount; retired:
//! deactivate it) is what the provider ends up with, in whatever order mints, retirements and
//! retries happen.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::code::{Code, CodeRecord, CodeStatus};
use crate::jobs::{DiscountJob, Job};
use crate::ports::{DiscountError, Discounts, JobQueue, error_chain};

/// How long a mint may take in all before it answers: the contract's 2.5 s less the edge's
/// invoke and a margin. A discount not made by then is queued, never waited for.
pub const MINT_BUDGET: Duration = Duration::from_millis(2_200);

/// Why a discount was queued when the provider did not answer within the budget.
const NO_TIME: &str = "the provider did not answer in time";

/// Below this, a provider call is not even started: it could not finish in time.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

/// The friend's discount, now or later.
#[derive(Clone)]
pub struct FriendDiscount {
    discounts: Arc<dyn Discounts>,
    later: Option<Arc<dyn JobQueue>>,
}

impl FriendDiscount {
    /// Makes discounts with `discounts`; what cannot be done in time is queued on `later` (the
    /// rewarder's queue).
    pub fn new(discounts: Arc<dyn Discounts>, later: Option<Arc<dyn JobQueue>>) -> Self {
        FriendDiscount { discounts, later }
    }

    /// None at all (`store.kind = "webhooks"`).
    pub fn none() -> Self {
        FriendDiscount { discounts: Arc::new(crate::ports::NoDiscounts), later: None }
    }

    /// Whether a provider holds the discounts.
    pub fn connected(&self) -> bool {
        self.discounts.connected()
    }

    /// After a code is minted: its discount, made before `deadline` or queued. Returns what
    /// happened, for the `minted` audit row (`null` when no provider is connected).
    pub async fn after_mint(&self, record: &CodeRecord, deadline: Instant) -> Value {
        if !self.connected() {
            return Value::Null;
        }
        match within(deadline, self.discounts.ensure_for(&record.code, &record.terms)).await {
            Some(Ok(reference)) => json!({ "status": "created", "reference": reference }),
            Some(Err(e)) => self.queue(&record.code, error_chain(&e)).await,
            None => self.queue(&record.code, NO_TIME.to_owned()).await,
        }
    }

    /// After a code is retired: its discount deactivated before `deadline`, or queued.
    pub async fn after_retire(&self, code: &Code, deadline: Instant) -> Value {
        if !self.connected() {
            return Value::Null;
        }
        match within(deadline, self.discounts.deactivate(code)).await {
            Some(Ok(())) => json!({ "status": "deactivated" }),
            Some(Err(e)) => self.queue(code, error_chain(&e)).await,
            None => self.queue(code, NO_TIME.to_owned()).await,
        }
    }

    /// Queues the code's discount to be brought in line with the code by the rewarder (erasure
    /// retires codes and does not wait on a provider).
    pub async fn later(&self, code: &Code) {
        if self.connected() {
            self.queue(code, "the code was retired by erasure".to_owned()).await;
        }
    }

    /// The rewarder's [`Job::Discount`]: the discount made to match the code as it stands now.
    pub async fn reconcile(&self, record: &CodeRecord) -> Result<(), DiscountError> {
        match record.status {
            CodeStatus::Active => self.discounts.ensure_for(&record.code, &record.terms).await.map(|_| ()),
            CodeStatus::Retired => self.discounts.deactivate(&record.code).await,
        }
    }

    async fn queue(&self, code: &Code, why: String) -> Value {
        let Some(queue) = &self.later else {
            tracing::error!(%code, reason = %why, "the friend's discount failed and there is no queue to retry it on");
            return json!({ "status": "failed", "reason": why });
        };
        match queue.send(&Job::Discount(DiscountJob { code: code.clone() })).await {
            Ok(()) => {
                tracing::warn!(%code, reason = %why, "the friend's discount is queued for the rewarder");
                json!({ "status": "queued", "reason": why })
            }
            Err(e) => {
                // The code works (its link redirects, typed at sign-up it attributes); only the
                // provider's discount is missing. The audit row says so for a person.
                tracing::error!(%code, reason = %why, error = %e, "the friend's discount could not be queued");
                json!({ "status": "failed", "reason": why, "queue_error": e.to_string() })
            }
        }
    }
}

/// Runs `call` if there is time for it before `deadline`; `None` if there was not, or it did
/// not finish by then.
async fn within<T>(deadline: Instant, call: impl std::future::Future<Output = T>) -> Option<T> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < MIN_ATTEMPT {
        return None;
    }
    tokio::time::timeout(left, call).await.ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::code::ReferrerProfile;
    use crate::ids::CustomerId;
    use crate::jobs::Delivery;
    use crate::money::{Currency, Reward, RewardKind, Terms};
    use crate::ports::QueueError;
    use crate::time::Timestamp;

    /// A provider that takes `delay` to answer, then succeeds.
    struct Slow(Duration);

    #[async_trait]
    impl Discounts for Slow {
        fn connected(&self) -> bool {
            true
        }
        async fn ensure_for(&self, _: &Code, _: &Terms) -> Result<Option<String>, DiscountError> {
            tokio::time::sleep(self.0).await;
            Ok(Some("promo_1".into()))
        }
        async fn deactivate(&self, _: &Code) -> Result<(), DiscountError> {
            tokio::time::sleep(self.0).await;
            Ok(())
        }
    }

    #[derive(Default)]
    struct Sent(Mutex<Vec<Job>>);

    #[async_trait]
    impl JobQueue for Sent {
        async fn send(&self, job: &Job) -> Result<(), QueueError> {
            self.0.lock().unwrap().push(job.clone());
            Ok(())
        }
        async fn send_after(&self, job: &Job, _: Duration) -> Result<(), QueueError> {
            self.send(job).await
        }
        async fn receive(&self, _: usize, _: Duration) -> Result<Vec<Delivery>, QueueError> {
            Ok(vec![])
        }
        async fn ack(&self, _: &str) -> Result<(), QueueError> {
            Ok(())
        }
        async fn dead_letters(&self, _: usize) -> Result<Vec<Job>, QueueError> {
            Ok(vec![])
        }
    }

    fn record() -> CodeRecord {
        let reward = Reward {
            kind: RewardKind::Discount,
            amount_minor: 1000,
            currency: Currency::parse("GBP").unwrap(),
            description: "£10 off".into(),
        };
        CodeRecord {
            code: Code::parse("7QK2A9").unwrap(),
            referrer_id: CustomerId::parse("c_dan").unwrap(),
            status: CodeStatus::Active,
            terms: Terms { referrer_reward: reward.clone(), friend_reward: reward, window_secs: 60, tiers: vec![] },
            referrer: ReferrerProfile { first_name: None, email: None, phone: None, identity: Default::default() },
            invite: String::new(),
            created_at: Timestamp::from_secs(0),
            retired_at: None,
            flag: None,
        }
    }

    #[tokio::test]
    async fn a_provider_slower_than_the_budget_is_queued_not_waited_for() {
        let queue = Arc::new(Sent::default());
        let slow = FriendDiscount::new(Arc::new(Slow(Duration::from_secs(5))), Some(queue.clone()));
        let started = Instant::now();
        let budget = Duration::from_millis(300);
        let outcome = slow.after_mint(&record(), started + budget).await;
        assert_eq!(outcome["status"], "queued");
        assert!(started.elapsed() < budget + Duration::from_millis(200), "{:?}", started.elapsed());
        assert_eq!(*queue.0.lock().unwrap(), [Job::Discount(DiscountJob { code: record().code })]);
        // No time left at all: not even started.
        let late = slow.after_retire(&record().code, Instant::now()).await;
        assert_eq!(late["status"], "queued");
        assert_eq!(queue.0.lock().unwrap().len(), 2);
        // In time: made, nothing queued.
        let quick = FriendDiscount::new(Arc::new(Slow(Duration::from_millis(50))), Some(queue.clone()));
        let made = quick.after_mint(&record(), Instant::now() + MINT_BUDGET).await;
        assert_eq!(made, json!({ "status": "created", "reference": "promo_1" }));
        assert_eq!(queue.0.lock().unwrap().len(), 2);
        // No provider: nothing at all.
        assert_eq!(FriendDiscount::none().after_mint(&record(), Instant::now() + MINT_BUDGET).await, Value::Null);
    }
}
