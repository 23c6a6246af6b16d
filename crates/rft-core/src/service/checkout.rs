//! A connected store's paid order (`Job::Checkout`): attributed as a sign-up would be, unless
//! the customer is not new, then handed to the rewarder as a conversion. So a guest checkout
//! with no sign-up webhook is attributed, screened and paid in one flow (docs/connect-stripe.md,
//! docs/connect-shopify.md).
//!
//! A customer's first order also queues their enrolment (their own link by email) when
//! `enrolment.on_first_order` is on, whether or not the order was attributed.
//!
//! Safe to repeat at every step: the first-order record keeps the first order it was told of,
//! attribution joins an existing referral, the rewarder handles a conversion once per
//! referral, and an enrolment is sent once per customer.

use serde_json::json;

use super::attribute::{AttributeError, Attributor, SignupOutcome, Unattributed};
use crate::audit::{AuditEvent, AuditKind};
use crate::identity::IdentityKey;
use crate::jobs::{CheckoutJob, EnrolJob, ImportJob, Job};

impl Attributor {
    /// Handles one connected store's order.
    pub async fn checkout(&self, job: &CheckoutJob) -> Result<SignupOutcome, AttributeError> {
        let order_id = &job.conversion.order_id;
        let first_order = self.orders.first_order(&job.signup.customer_id, order_id).await?;
        let outcome = self.attribute_order(job, &first_order).await?;
        // The provider's word that there were earlier orders counts: those predate the tracker.
        if first_order == *order_id && job.earlier_orders != Some(true) {
            self.queue_enrolment(job).await?;
        }
        Ok(outcome)
    }

    /// Queues the customer's enrolment, if the programme enrols and the order gave an address.
    async fn queue_enrolment(&self, job: &CheckoutJob) -> Result<(), AttributeError> {
        if !self.enrol_on_first_order {
            return Ok(());
        }
        let Some(email) = &job.signup.email else {
            tracing::info!(customer = %job.signup.customer_id, "first order without an email: nobody to enrol");
            return Ok(());
        };
        let enrol = EnrolJob {
            customer_id: job.signup.customer_id.clone(),
            email: email.clone(),
            first_name: job.signup.first_name.clone(),
            identity: job.signup.identity.clone(),
            order_id: job.conversion.order_id.clone(),
            webhook_id: job.conversion.webhook_id.clone(),
        };
        self.signup_jobs.send(&Job::Enrol(enrol)).await?;
        Ok(())
    }

    /// Attributes the order (or not) and hands its conversion to the rewarder.
    async fn attribute_order(&self, job: &CheckoutJob, first_order: &str) -> Result<SignupOutcome, AttributeError> {
        let customer = &job.signup.customer_id;
        let order_id = &job.conversion.order_id;
        let outcome = if let Some(referral) = self.referrals.find(&IdentityKey::Customer(customer.clone())).await? {
            // Referred already (a sign-up webhook, or this order's first delivery): the rewarder
            // decides whether this order is the one that converts.
            SignupOutcome::Joined(Box::new(referral))
        } else if job.earlier_orders == Some(true) || first_order != order_id {
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
        // The order is kept beside it, so a person who credits the sign-up by hand
        // (`Job::Credit`) converts the referral with it.
        if matches!(outcome, SignupOutcome::Unattributed(_)) {
            let facts = json!({
                "reason": "unattributed",
                "order_id": order_id,
                "webhook_id": job.conversion.webhook_id,
                "conversion": job.conversion,
            });
            self.append(AuditEvent::new(AuditKind::NotPaid, customer.as_str(), self.clock.now(), facts)).await;
        } else {
            self.reward_jobs.send(&Job::Conversion(job.conversion.clone())).await?;
        }
        Ok(outcome)
    }

    /// Handles a chunk of imported orders, each marked imported once handled (a failure part-way
    /// redelivers the chunk; the orders already handled are handled again, which changes nothing).
    pub async fn import(&self, job: &ImportJob) -> Result<(), AttributeError> {
        for order in &job.orders {
            self.checkout(order).await?;
            self.orders.mark_imported(&order.conversion.order_id, self.clock.now()).await?;
        }
        Ok(())
    }
}
