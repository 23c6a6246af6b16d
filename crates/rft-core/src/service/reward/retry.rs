//! A person's retry of a parked reward (from the ops page or the owner's console, as a queued
//! `Job::Retry`): the row goes back to owing with a fresh attempt budget, audited with who
//! asked, and its `fulfil` job is queued. The retry goes through the same reward client under
//! the same key (`<referral_id>:<side>`), so a reward that did land earlier is recognised by
//! the store or provider rather than applied twice (except where no key exists: see
//! `call_claim`, and docs/operations.md for what to check first).

use serde_json::json;

use super::conversion::thanks_note;
use super::fulfil::Written;
use super::{RACE_ROUNDS, RewardError, Rewarder};
use crate::audit::{AuditEvent, AuditKind};
use crate::jobs::{FulfilJob, Job, RetryJob};
use crate::ledger::Fulfilment;

impl Rewarder {
    /// Handles `Job::Retry`.
    pub(super) async fn retry(&self, job: &RetryJob) -> Result<(), RewardError> {
        for _ in 0..RACE_ROUNDS {
            let Some(row) = self.row(&job.referral_id, job.side).await? else {
                return Err(RewardError::Unprocessable("a retry for a ledger row that does not exist"));
            };
            let reason = match &row.fulfilment {
                Fulfilment::Parked { reason, .. } => reason.clone(),
                // A retry that already reset the row and died before queueing its job left it
                // owing with no attempt made: queue the job (a duplicate of a live chain is
                // absorbed by the row's version).
                Fulfilment::Owing { attempts: 0, .. } => return self.queue_fulfil(&row.referral_id, row.side).await,
                // Being retried already, fulfilled, or forfeited: nothing to do.
                _ => return Ok(()),
            };
            let now = self.ports.clock.now();
            let mut owing = row.successor();
            owing.call_claim = None;
            owing.fulfilment =
                Fulfilment::Owing { attempts: 0, next_attempt_at: now, last_error: Some(reason.clone()) };
            match self.write_row(&owing, row.version).await? {
                Written::Ours => {
                    let facts = json!({ "side": row.side, "requested_by": job.requested_by,
                        "requested_at": job.requested_at, "parked_reason": reason });
                    self.append(AuditEvent::new(AuditKind::FulfilmentRetried, row.referral_id.as_str(), now, facts))
                        .await;
                    return self.queue_fulfil(&row.referral_id, row.side).await;
                }
                Written::Lost => continue,
            }
        }
        Err(RewardError::Contended)
    }

    /// Queues one side's `fulfil` job, with the thank-you it leads to.
    async fn queue_fulfil(
        &self,
        referral_id: &crate::ids::ReferralId,
        side: crate::ledger::Side,
    ) -> Result<(), RewardError> {
        let Some(referral) = self.ports.referrals.get(referral_id).await? else {
            return Err(RewardError::Unprocessable("a ledger row whose referral does not exist"));
        };
        let code = self.ports.codes.get(&referral.code).await?;
        let rows = self.ports.ledger.rows(referral_id).await?;
        let note = thanks_note(side, &referral, code.as_ref(), &rows);
        self.ports.queue.send(&Job::Fulfil(FulfilJob { referral_id: referral_id.clone(), side, note })).await?;
        Ok(())
    }
}
