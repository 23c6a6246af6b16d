//! A provider's event as the queued work it means: a sign-up for the attributor, an order for
//! the attributor then the rewarder (`Job::Checkout`), a refund for the rewarder. Identity
//! fields are hashed here, before anything is queued (docs/invariants.md, invariant 10).

use super::csv::ConversionRow;
use super::{Provider, ProviderConversion, ProviderEvent, ProviderRefund, ProviderSignup};
use crate::code::Code;
use crate::identity::{Field, IdentityFacts, IdentityHasher};
use crate::ids::CustomerId;
use crate::jobs::{CheckoutJob, ConversionJob, Job, RefundJob, SignupJob};
use crate::time::Timestamp;

/// What an event becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intake {
    /// A job for the attributor's queue (a sign-up or an order).
    Attribute(Job),
    /// A job for the rewarder's queue (a refund).
    Reward(Job),
    /// Nothing to do, and why (answered 200: the provider must not retry it).
    Ignored(String),
}

/// The prefix of the customer id a guest checkout is filed under (`guest_` and the keyed hash
/// of the normalised email): one id per email, and no email in keys or logs.
pub const GUEST_PREFIX: &str = "guest_";

/// The queued work for a verified event. Stripe promotion codes are resolved to their text by
/// the caller first (they need the Stripe API).
pub fn intake(provider: Provider, event: ProviderEvent, hasher: &IdentityHasher) -> Intake {
    match event {
        ProviderEvent::Signup(signup) => signup_job(provider, signup, hasher),
        ProviderEvent::Conversion(order) => checkout_job(provider, *order, hasher),
        ProviderEvent::Refund(refund) => Intake::Reward(Job::Refund(refund_job(provider, refund))),
        ProviderEvent::Ignored { event_type, reason, .. } => Intake::Ignored(format!("{event_type}: {reason}")),
    }
}

/// The id a delivery is recognised by on redelivery, and the `webhook_id` its jobs carry:
/// `stripe:evt_...` or `shopify:<X-Shopify-Webhook-Id>`, so two providers' ids never meet.
pub fn delivery_id(provider: Provider, event_id: &str) -> String {
    format!("{}:{event_id}", provider.as_str())
}

fn signup_job(provider: Provider, signup: ProviderSignup, hasher: &IdentityHasher) -> Intake {
    // Without an email or a token there is no touch to find; their first order, which carries
    // the buyer's email, is attributed instead.
    if signup.email.is_none() && signup.attribution_token.is_none() {
        return Intake::Ignored(
            "a customer with neither an email nor an rft token: their first order is attributed".into(),
        );
    }
    Intake::Attribute(Job::Signup(SignupJob {
        webhook_id: delivery_id(provider, &signup.event_id),
        identity: hasher.hash_all(&IdentityFacts::default(), signup.email.as_ref()),
        customer_id: signup.customer_id,
        email: signup.email,
        first_name: signup.first_name.map(String::from),
        phone: None,
        attribution_token: signup.attribution_token,
        code: None,
        occurred_at: signup.occurred_at,
    }))
}

fn checkout_job(provider: Provider, order: ProviderConversion, hasher: &IdentityHasher) -> Intake {
    let identity = hasher.hash_all(&order.identity, order.email.as_ref());
    let customer_id = match (order.customer_id, &order.email) {
        (Some(id), _) => id,
        (None, Some(email)) => match guest_id(hasher, email) {
            Some(id) => id,
            None => return Intake::Ignored(format!("order {}: the buyer's email is blank", order.order_id)),
        },
        (None, None) => {
            return Intake::Ignored(format!(
                "order {}: neither a customer nor an email, so nobody to credit",
                order.order_id
            ));
        }
    };
    // A shop's own discount codes may look like referral codes; the attributor credits only a
    // live referral code, and the first one that parses is the one it is offered.
    let code = order.discount_codes.iter().find_map(|text| Code::parse(text).ok());
    let webhook_id = delivery_id(provider, &order.event_id);
    let conversion = ConversionJob {
        webhook_id: webhook_id.clone(),
        customer_id: customer_id.clone(),
        order_id: order.order_id.into(),
        amount_minor: order.amount_minor,
        currency: order.currency,
        identity: identity.clone(),
        occurred_at: order.occurred_at,
        discount_code: code.clone(),
    };
    let signup = SignupJob {
        webhook_id,
        customer_id,
        email: order.email,
        first_name: order.first_name.map(String::from),
        phone: None,
        attribution_token: order.attribution_token,
        code,
        identity,
        occurred_at: order.occurred_at,
    };
    Intake::Attribute(Job::Checkout(Box::new(CheckoutJob { signup, conversion, earlier_orders: order.earlier_orders })))
}

fn refund_job(provider: Provider, refund: ProviderRefund) -> RefundJob {
    RefundJob {
        webhook_id: delivery_id(provider, &refund.event_id),
        customer_id: refund.customer_id,
        order_id: refund.order_id.into(),
        order_aliases: refund.order_aliases.into_iter().map(String::from).collect(),
        occurred_at: refund.occurred_at,
    }
}

/// The customer id a guest checkout is filed under.
pub fn guest_id(hasher: &IdentityHasher, email: &crate::email::Email) -> Option<CustomerId> {
    let hash = hasher.hash(Field::Email, &email.identity())?;
    CustomerId::parse(&format!("{GUEST_PREFIX}{hash}")).ok()
}

/// One imported CSV row as the order it is: attributed by its own touch (its code or token, or
/// an email invite to its email) and then converted, exactly as a connected store's order.
/// `None` when the row names neither a customer nor a usable email (validation refuses such
/// rows first).
pub fn import_job(row: ConversionRow, hasher: &IdentityHasher, now: Timestamp) -> Option<Job> {
    let customer_id = match (row.customer_id, &row.email) {
        (Some(id), _) => id,
        (None, Some(email)) => guest_id(hasher, email)?,
        (None, None) => return None,
    };
    let identity = hasher.hash_all(&IdentityFacts::default(), row.email.as_ref());
    let webhook_id = format!("import:{}", row.order_id);
    let occurred_at = row.occurred_at.unwrap_or(now);
    let conversion = ConversionJob {
        webhook_id: webhook_id.clone(),
        customer_id: customer_id.clone(),
        order_id: row.order_id.into(),
        amount_minor: row.amount_minor,
        currency: row.currency,
        identity: identity.clone(),
        occurred_at,
        discount_code: None,
    };
    let signup = SignupJob {
        webhook_id,
        customer_id,
        email: row.email,
        first_name: None,
        phone: None,
        attribution_token: row.attribution_token,
        code: row.code,
        identity,
        occurred_at,
    };
    Some(Job::Checkout(Box::new(CheckoutJob { signup, conversion, earlier_orders: None })))
}
