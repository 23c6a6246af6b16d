//! One side's reward delivered to the store: one call, its outcome written on the ledger row
//! under the row's version, and the next job queued (a delayed retry, or the thank-you).
//!
//! Duplicate `fulfil` jobs (a redelivered conversion queues them again) are harmless: the store
//! dedupes by `Idempotency-Key`, and of two jobs that read the same row version only one can
//! write its outcome; the other sees the row move and stops, leaving one retry chain.

use serde_json::json;

use super::{RewardError, Rewarder};
use crate::audit::{AuditEvent, AuditKind};
use crate::ids::ReferralId;
use crate::jobs::{FulfilJob, Job, ThankJob};
use crate::ledger::{Fulfilment, LedgerRow, Side};
use crate::ports::{FulfilmentRequest, WriteError, error_chain};

/// Whether a conditional row write landed.
pub(super) enum Written {
    /// Ours is stored.
    Ours,
    /// Someone else moved the row first; theirs stands.
    Lost,
}

impl Rewarder {
    /// Calls the store once for one side and records what happened.
    pub(super) async fn fulfil(&self, job: &FulfilJob) -> Result<(), RewardError> {
        let Some(row) = self.row(&job.referral_id, job.side).await? else {
            // The payout that queued this job committed its rows first, so a missing row means
            // the job was not made by this system.
            tracing::error!(referral = %job.referral_id, side = job.side.as_str(), "a fulfil job for a row that does not exist");
            return Err(RewardError::Unprocessable("a fulfil job for a ledger row that does not exist"));
        };
        let attempts = match &row.fulfilment {
            Fulfilment::Owing { attempts, .. } => *attempts,
            Fulfilment::Fulfilled { .. } => {
                // A redelivery after the outcome was written: make sure the note follows.
                if row.note_sent_at.is_none() {
                    self.ports.queue.send(&Job::Thank(ThankJob { row, note: job.note.clone() })).await?;
                }
                return Ok(());
            }
            Fulfilment::Parked { .. } | Fulfilment::Forfeited { .. } => return Ok(()),
        };
        // A call that is not idempotent is claimed on the row first (see `claim_call`).
        let row = if self.ports.store.idempotent() {
            row
        } else {
            match self.claim_call(row, attempts).await? {
                Some(claimed) => claimed,
                None => return Ok(()),
            }
        };
        let request = FulfilmentRequest {
            referral_id: row.referral_id.clone(),
            side: row.side,
            customer_id: row.customer_id.clone(),
            reward: row.reward.clone(),
        };
        let outcome = self.ports.store.fulfil(&request).await;
        let now = self.ports.clock.now();
        let attempts = attempts + 1;
        let mut next = row.successor();
        next.call_claim = None;
        let mut retry_in = None;
        next.fulfilment = match &outcome {
            Ok(outcome) => Fulfilment::Fulfilled {
                at: now,
                attempts,
                reference: outcome.reference().map(str::to_owned),
                code: outcome.code().map(str::to_owned),
            },
            Err(e) if e.is_retryable() && self.safe_to_repeat(e) && attempts < self.policy.max_attempts => {
                let backoff = self.policy.backoff(attempts);
                retry_in = Some(backoff);
                tracing::warn!(referral = %row.referral_id, side = row.side.as_str(), attempts, error = %error_chain(e), "the store did not acknowledge the reward; retrying later");
                Fulfilment::Owing { attempts, next_attempt_at: now.plus(backoff), last_error: Some(error_chain(e)) }
            }
            Err(e) => Fulfilment::Parked { attempts, reason: error_chain(e) },
        };
        if let Written::Lost = self.write_row(&next, row.version).await? {
            return Ok(());
        }
        let moved = crate::rollup::fulfilment_moved(&row, &next);
        if !moved.is_empty() {
            crate::rollup::apply(self.ports.counters.as_ref(), &moved).await;
        }
        match (&next.fulfilment, retry_in) {
            (Fulfilment::Fulfilled { .. }, _) => {
                self.ports.queue.send(&Job::Thank(ThankJob { row: next, note: job.note.clone() })).await?;
            }
            (Fulfilment::Owing { .. }, Some(delay)) => {
                self.ports.queue.send_after(&Job::Fulfil(job.clone()), delay).await?;
            }
            (Fulfilment::Parked { reason, .. }, _) => self.park(&next, reason).await,
            _ => {}
        }
        Ok(())
    }

    /// A row the store would not take: audited and put in front of a person, still owing.
    pub(super) async fn park(&self, row: &LedgerRow, reason: &str) {
        let now = self.ports.clock.now();
        let facts = json!({ "side": row.side, "customer_id": row.customer_id, "reward": row.reward, "reason": reason });
        self.append(AuditEvent::new(AuditKind::FulfilmentParked, row.referral_id.as_str(), now, facts)).await;
        let message = crate::team_mail::fulfilment_parked(&self.settings, row, reason);
        if let Err(e) = self.ports.messenger.send(&message).await {
            tracing::error!(error = %e, "could not email the team about a parked reward");
        }
    }

    /// One side's ledger row.
    pub(super) async fn row(&self, referral: &ReferralId, side: Side) -> Result<Option<LedgerRow>, RewardError> {
        Ok(self.ports.ledger.row(referral, side).await?)
    }

    /// Writes a row under its version condition.
    pub(super) async fn write_row(&self, row: &LedgerRow, expected: u64) -> Result<Written, RewardError> {
        match self.ports.ledger.save_row(row, expected).await {
            Ok(()) => Ok(Written::Ours),
            // A client retry of a write whose answer was lost fails its own condition: if the
            // stored row is exactly ours, it landed.
            Err(WriteError::Conflict) => {
                let stored = self.row(&row.referral_id, row.side).await?;
                Ok(if stored.as_ref() == Some(row) { Written::Ours } else { Written::Lost })
            }
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }
}

#[cfg(test)]
#[path = "fulfil_tests.rs"]
mod tests;
