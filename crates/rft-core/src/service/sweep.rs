//! The expiry sweep (`rft-sweep`): pending referrals whose window passed without a conversion
//! become `expired`, read from the pending-expiry index (never a table scan).

use std::sync::Arc;

use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};
use crate::ports::{ReferralStore, StoreError, WriteError};
use crate::referral::{ReferralState, ReviewQueue, StateEvent};
use crate::time::Clock;

/// How many referrals one query takes.
const PAGE: usize = 100;

/// The sweeper.
pub struct Sweeper {
    referrals: Arc<dyn ReferralStore>,
    clock: Arc<dyn Clock>,
}

impl Sweeper {
    /// A sweeper over the referral store.
    pub fn new(referrals: Arc<dyn ReferralStore>, clock: Arc<dyn Clock>) -> Self {
        Sweeper { referrals, clock }
    }

    /// Expires everything due; returns how many it expired.
    pub async fn run(&self) -> Result<usize, StoreError> {
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
                match self.referrals.save(&next, referral.version, Some(&event)).await {
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
