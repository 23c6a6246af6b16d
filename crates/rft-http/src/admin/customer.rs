//! `GET /admin/api/customers/{customer_id}`: what the audit says about a customer themselves,
//! for the one a search finds no referral for: why their sign-up credited nobody, which of their
//! orders paid nothing, and whether a person may credit the sign-up by hand (and if not, why).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;

use rft_core::CustomerId;
use rft_core::identity::IdentityKey;
use rft_core::service::console::story::{StoryLine, customer_history};
use rft_core::service::credit::credit_candidate;

use super::views::private;
use crate::Edge;
use crate::error::ApiError;

/// A customer as the console shows them.
#[derive(Serialize)]
pub struct CustomerView {
    /// The customer.
    pub customer_id: String,
    /// Their referral as the referred friend, if they have one.
    pub referral_id: Option<String>,
    /// Whether their sign-up can be credited to a referrer by hand.
    pub creditable: bool,
    /// Why not, in one sentence.
    pub not_creditable: Option<String>,
    /// The order a credit would convert the referral with.
    pub first_order: Option<String>,
    /// What the audit says about them, oldest first.
    pub history: Vec<StoryLine>,
}

/// `GET /admin/api/customers/{customer_id}`.
pub async fn customer(State(edge): State<Arc<Edge>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let customer = CustomerId::parse(&id).map_err(|_| ApiError::not_found("no customer by that id"))?;
    let failed = |e: rft_core::ports::StoreError| ApiError::internal("reading the customer", &e);
    let stores = &edge.stores;
    let events = stores.audit.events_for(customer.as_str()).await.map_err(failed)?;
    let referral = stores.referrals.find(&IdentityKey::Customer(customer.clone())).await.map_err(failed)?;
    if events.is_empty() && referral.is_none() {
        return Err(ApiError::not_found(format!("nothing is recorded about customer {customer}")));
    }
    let (creditable, not_creditable, first_order) = match credit_candidate(&customer, referral.as_ref(), &events) {
        Ok((_, order)) => (true, None, order.map(|o| o.order_id)),
        Err(why) => (false, Some(why.to_string()), None),
    };
    Ok(private(&CustomerView {
        customer_id: customer.to_string(),
        referral_id: referral.map(|r| r.referral_id.to_string()),
        creditable,
        not_creditable,
        first_order,
        history: customer_history(events),
    }))
}
