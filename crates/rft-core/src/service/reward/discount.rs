//! `Job::Discount`: a code's friend discount at the connected store's provider, made to match
//! the code as it stands when the job runs (queued by the minter when the provider did not
//! answer in time). A failure the provider may get over is given back to the queue.

use super::{RewardError, Rewarder};
use crate::jobs::DiscountJob;

impl Rewarder {
    /// Handles `Job::Discount`.
    pub(super) async fn discount(&self, job: &DiscountJob) -> Result<(), RewardError> {
        let Some(record) = self.ports.codes.get(&job.code).await? else {
            return Err(RewardError::Unprocessable("a discount job for a code that does not exist"));
        };
        Ok(self.friend_discount.reconcile(&record).await?)
    }
}
