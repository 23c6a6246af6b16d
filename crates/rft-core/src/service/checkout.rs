//! A connected store's paid order (`Job::Checkout`): attributed as a sign-up would be, unless
//! the customer is not new, then handed to the rewarder as a conversion. So a guest checkout
//! with no sign-up webhook is attributed, screened and paid in one flow (docs/connect-stripe.md,
//! docs/connect-shopify.md).
//!
//! Safe to repeat at every step: the first-order record keeps the first order it was told of,
//! attribution joins an existing referral, and the rewarder handles a conversion once per
//! referral.

use serde_json::json;

use super::attribute::{AttributeError, Attributor, SignupOutcome, Unattributed};
use crate::audit::{AuditEvent, AuditKind};
use crate::identity::IdentityKey;
use crate::jobs::{CheckoutJob, Job};

impl Attributor {
    /// Handles one connected store's order.
    pub async fn checkout(&self, job: &CheckoutJob) -> Result<SignupOutcome, AttributeError> {
        let customer = &job.signup.customer_id;
        let order_id = &job.conversion.order_id;
        let first_order = self.orders.first_order(customer, order_id).await?;
        let outcome = if let Some(referral) = self.referrals.find(&IdentityKey::Customer(customer.clone())).await? {
            // Referred already (a sign-up webhook, or this order's first delivery): the rewarder
            // decides whether this order is the one that converts.
            SignupOutcome::Joined(Box::new(referral))
        } else if job.earlier_orders == Some(true) || first_order != *order_id {
            let reason = Unattributed::ExistingCustomer;
            tracing::info!(customer = %customer, order_id, "order unattributed: an existing customer");
            let facts = json!({
                "reason": reason,
                "order_id": order_id,
                "first_order": first_order,
                "provider_says_earlier_orders": job.earlier_orders,
                "webhook_id": job.conversion.webhook_id,
            });
            self.append(AuditEvent::new(AuditKind::Unattributed, customer.as_str(), self.clock.now(), facts)).await;
            return Ok(SignupOutcome::Unattributed(reason));
        } else {
            self.signup(&job.signup).await?
        };
        // Nobody to credit: the sign-up's audit row says why, and the rewarder has nothing to do.
        if !matches!(outcome, SignupOutcome::Unattributed(_)) {
            self.reward_jobs.send(&Job::Conversion(job.conversion.clone())).await?;
        }
        Ok(outcome)
    }
}
