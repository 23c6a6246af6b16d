//! `OrderStore` on `rft-referrals` (`order#<order_id>` items): which referral each order
//! converted, and its refund. Each change is one update returning the item as it now stands.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValue, Update};

use rft_core::ports::{OrderRecord, OrderStore, StoreError};
use rft_core::{CustomerId, ReferralId, Timestamp};

use super::{DynamoStore, unavailable};
use crate::item::{Item, get_n, get_s, item, n, s};

/// The order's item key in `rft-referrals` (beside `referral#` and `claim#` items).
pub(super) fn order_key(order_id: &str) -> Item {
    item([("referred_id", s(format!("order#{order_id}")))])
}

/// A customer's first paid order (`first#<customer_id>`), so a later order is known not new.
fn first_order_key(customer: &CustomerId) -> Item {
    item([("referred_id", s(format!("first#{}", customer.as_str())))])
}

fn record(order_id: &str, found: Option<&Item>) -> OrderRecord {
    OrderRecord {
        order_id: order_id.to_owned(),
        referral_id: found.and_then(|it| get_s(it, "referral_id")).and_then(|id| ReferralId::parse(id).ok()),
        refunded_at: found.and_then(|it| get_n(it, "refunded_at")).map(Timestamp::from_millis),
        imported_at: found.and_then(|it| get_n(it, "imported_at")).map(Timestamp::from_millis),
    }
}

impl DynamoStore {
    /// The payout transaction's link of its converting order, on the condition that the order
    /// was not refunded.
    pub(super) fn order_link_step(&self, order_id: &str, referral: &ReferralId) -> Update {
        Update::builder()
            .table_name(&self.tables.referrals)
            .set_key(Some(order_key(order_id)))
            .update_expression("SET referral_id = :r")
            .condition_expression("attribute_not_exists(refunded_at)")
            .expression_attribute_values(":r", s(referral.as_str()))
            .build()
            .expect("table, key and expression are set")
    }
}

#[async_trait]
impl OrderStore for DynamoStore {
    async fn order(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let found = self.get_item("read an order", &self.tables.referrals, order_key(order_id)).await?;
        Ok(found.map(|it| record(order_id, Some(&it))))
    }

    async fn link_order(&self, order_id: &str, referral: &ReferralId) -> Result<OrderRecord, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.referrals)
            .set_key(Some(order_key(order_id)))
            .update_expression("SET referral_id = :r")
            .expression_attribute_values(":r", s(referral.as_str()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(unavailable("link an order"))?;
        Ok(record(order_id, out.attributes.as_ref()))
    }

    async fn first_order(&self, customer: &CustomerId, order_id: &str) -> Result<String, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.referrals)
            .set_key(Some(first_order_key(customer)))
            .update_expression("SET first_order = if_not_exists(first_order, :o)")
            .expression_attribute_values(":o", s(order_id))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(unavailable("note a customer's first order"))?;
        Ok(out.attributes.as_ref().and_then(|a| get_s(a, "first_order")).unwrap_or(order_id).to_owned())
    }

    async fn mark_imported(&self, order_id: &str, at: Timestamp) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.referrals)
            .set_key(Some(order_key(order_id)))
            .update_expression("SET imported_at = if_not_exists(imported_at, :at)")
            .expression_attribute_values(":at", n(at.as_millis()))
            .send()
            .await
            .map_err(unavailable("note an order's import"))?;
        Ok(())
    }

    async fn forget_first_order(&self, customer: &CustomerId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.referrals)
            .set_key(Some(first_order_key(customer)))
            .send()
            .await
            .map_err(unavailable("forget a customer's first order"))?;
        Ok(())
    }

    async fn refund_order(&self, order_id: &str, at: Timestamp) -> Result<OrderRecord, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.referrals)
            .set_key(Some(order_key(order_id)))
            .update_expression("SET refunded_at = if_not_exists(refunded_at, :at)")
            .expression_attribute_values(":at", n(at.as_millis()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(unavailable("note an order's refund"))?;
        Ok(record(order_id, out.attributes.as_ref()))
    }
}
