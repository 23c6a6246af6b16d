//! The sweep (`rft-sweep`): pending referrals whose window passed without a conversion become
//! `expired`, and clean conversions that waited out `rewards.confirm_after` are handed to the
//! rewarder to pay; both read from review-queue indexes (never a table scan).

use std::sync::Arc;

use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};
use crate::jobs::{ConfirmJob, Job};
use crate::ports::{Counters, JobQueue, QueueError, ReferralStore, StoreError, WriteError};
use crate::referral::{ReferralState, ReviewQueue, StateEvent};
use crate::time::Clock;

/// How many referrals one query takes.
const PAGE: usize = 100;

/// How many due conversions one sweep hands over (the rest go in the next sweep: they stay
/// in the queue until paid).
const CONFIRMS_PER_SWEEP: usize = 1000;

/// The sweeper.
pub struct Sweeper {
    referrals: Arc<dyn ReferralStore>,
    counters: Arc<dyn Counters>,
    reward_jobs: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A due conversion could not be handed to the rewarder.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl Sweeper {
    /// A sweeper over the referral store, queueing due conversions on the reward queue.
    pub fn new(
        referrals: Arc<dyn ReferralStore>,
        counters: Arc<dyn Counters>,
        reward_jobs: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Sweeper { referrals, counters, reward_jobs, clock }
    }

    /// Queues a `confirm` job for every conversion whose confirmation period has passed;
    /// returns how many. Repeating it is harmless: the rewarder pays each referral once.
    pub async fn confirm_due(&self) -> Result<usize, SweepError> {
        let now = self.clock.now();
        let due = self.referrals.queue(ReviewQueue::Confirming, now, CONFIRMS_PER_SWEEP).await?;
        for referral in &due {
            let job = Job::Confirm(ConfirmJob { referral_id: referral.referral_id.clone() });
            self.reward_jobs.send(&job).await?;
        }
        Ok(due.len())
    }

    /// One sweep: due conversions queued for payment, then overdue pending referrals expired;
    /// returns how many it expired.
    pub async fn run(&self) -> Result<usize, SweepError> {
        self.confirm_due().await?;
        Ok(self.expire_due().await?)
    }

    /// Expires everything due; returns how many it expired.
    pub async fn expire_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut expired = 0;
        loop {
            let due = self.referrals.queue(ReviewQueue::PendingExpiry, now, PAGE).await?;
            let mut progressed = false;
            for referral in due {
                if referral.state != ReferralState::Pending || referral.expires_at > now {
                    continue;
                }
                let mut next = referral.clone();
                if next.apply(StateEvent::Expire, now).is_err() {
                    continue;
                }
                next.version += 1;
                let facts = json!({ "expires_at": referral.expires_at, "window_secs": referral.terms.window_secs });
                let event = AuditEvent::new(AuditKind::Expired, referral.referral_id.as_str(), now, facts);
                let (referrals, counters) = (self.referrals.as_ref(), self.counters.as_ref());
                match crate::rollup::save_counted(referrals, counters, &referral, &next, Some(&event)).await {
                    Ok(()) => {
                        expired += 1;
                        progressed = true;
                    }
                    // A conversion or decision got there first; it stands.
                    Err(WriteError::Conflict) => {}
                    Err(WriteError::Store(e)) => return Err(e),
                }
            }
            // A page with nothing to do means the rest is not due (or the index lags): stop.
            if !progressed {
                return Ok(expired);
            }
        }
    }
}
