//! Exactly once for a reward client whose calls are not idempotent (Shopify store credit: no
//! idempotency key, nothing to look the credit up by). Every other client is protected by its
//! key, so duplicate `fulfil` jobs may call it concurrently; this one may not. So the call is
//! claimed on the ledger row (a conditional write) before it is made and the claim cleared with
//! its outcome: of duplicate jobs only the claimant calls; the others come back later. A claim
//! found older than any live call can be belongs to a delivery that died mid-call: that call may
//! have landed, so the row is parked for a person instead of calling again. For the same reason
//! a failure with no answer (a timeout) parks instead of retrying (`safe_to_repeat`).

use std::time::Duration;

use super::fulfil::Written;
use super::{RewardError, Rewarder};
use crate::ids::random_base32;
use crate::ledger::{CallClaim, Fulfilment, LedgerRow};
use crate::ports::FulfilError;

/// How long a claimed call may be in flight before its delivery is taken for dead: the
/// rewarder's timeout in AWS, far past any provider call's own.
pub const CALL_CLAIM: Duration = Duration::from_secs(60);

/// The parked reason for a claimed call nobody finished.
pub const CUT_OFF: &str = "a call that cannot be repeated safely was cut off before its answer was recorded, so it \
     may have been applied: check the customer's account at the provider before retrying";

impl Rewarder {
    /// Whether a failed call may simply be made again.
    pub(super) fn safe_to_repeat(&self, e: &FulfilError) -> bool {
        self.ports.store.idempotent() || !e.outcome_unknown
    }

    /// Claims `row` (owing, after `attempts` calls) for one call. `None`: do not call (another
    /// delivery claimed it first, or an abandoned claim parked it).
    pub(super) async fn claim_call(&self, row: LedgerRow, attempts: u32) -> Result<Option<LedgerRow>, RewardError> {
        let now = self.ports.clock.now();
        if let Some(claim) = &row.call_claim {
            if now < claim.at.plus(CALL_CLAIM) {
                // Another delivery is calling right now: give this job back for later, when the
                // row will show that call's outcome.
                return Err(RewardError::Contended);
            }
            let mut parked = row.successor();
            parked.call_claim = None;
            parked.fulfilment = Fulfilment::Parked { attempts: attempts + 1, reason: CUT_OFF.to_owned() };
            if let Written::Ours = self.write_row(&parked, row.version).await? {
                tracing::error!(referral = %row.referral_id, side = row.side.as_str(), "a claimed reward call was cut off; parked");
                self.park(&parked, CUT_OFF).await;
            }
            return Ok(None);
        }
        let mut claimed = row.successor();
        claimed.call_claim = Some(CallClaim { at: now, id: random_base32() });
        Ok(match self.write_row(&claimed, row.version).await? {
            Written::Ours => Some(claimed),
            // Another delivery moved the row first: its chain goes on from there.
            Written::Lost => None,
        })
    }
}
