//! The store's orders as the programme has seen them (`order#<id>` items in `rft-referrals`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::ids::{CustomerId, ReferralId};
use crate::time::Timestamp;

/// One order: which referral converted with it, and whether it was refunded. Remembered
/// whatever the referral's state and whatever order the webhooks arrive in, so a refund that
/// overtakes its conversion still stops the payout (docs/invariants.md, invariant 11). It holds
/// no personal data: the store's order id, our referral id, a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The store's order id.
    pub order_id: String,
    /// The referral whose conversion this order is, once one was noted.
    pub referral_id: Option<ReferralId>,
    /// When the store says the order was refunded (the first refund seen).
    pub refunded_at: Option<Timestamp>,
    /// When a CSV import first queued the order (a later import of it is a duplicate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_at: Option<Timestamp>,
}

/// Orders, for refunds.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// The order's record, if the programme has seen it.
    async fn order(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError>;
    /// Notes that `referral` converted with the order, and returns the record as it now stands
    /// (a refund noted earlier stays).
    async fn link_order(&self, order_id: &str, referral: &ReferralId) -> Result<OrderRecord, StoreError>;
    /// Notes the order's refund (an earlier refund's time is kept), and returns the record as it
    /// now stands (with the referral it converted, if known).
    async fn refund_order(&self, order_id: &str, at: Timestamp) -> Result<OrderRecord, StoreError>;
    /// Notes a connected store's paid order for a customer, and returns the customer's first paid
    /// order as the programme saw it: this one if it is the first, the earlier one otherwise (a
    /// customer with an earlier order is not a new customer).
    async fn first_order(&self, customer: &CustomerId, order_id: &str) -> Result<String, StoreError>;
    /// Notes that a CSV import queued the order (the first import's time is kept).
    async fn mark_imported(&self, order_id: &str, at: Timestamp) -> Result<(), StoreError>;
    /// Erasure: forgets which order was a customer's first.
    async fn forget_first_order(&self, customer: &CustomerId) -> Result<(), StoreError>;
}
