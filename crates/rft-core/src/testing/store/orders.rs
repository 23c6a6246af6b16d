//! `OrderStore`: an order's converting referral and its refund, whatever arrives first.

use async_trait::async_trait;

use super::{MemoryStore, State};
use crate::ids::{CustomerId, ReferralId};
use crate::ports::{OrderRecord, OrderStore, StoreError};
use crate::time::Timestamp;

/// The order's record, started empty if it is new.
pub(crate) fn order_mut<'s>(s: &'s mut State, order_id: &str) -> &'s mut OrderRecord {
    s.orders.entry(order_id.to_owned()).or_insert_with(|| OrderRecord {
        order_id: order_id.to_owned(),
        referral_id: None,
        refunded_at: None,
        imported_at: None,
    })
}

#[async_trait]
impl OrderStore for MemoryStore {
    async fn order(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self.enter("order")?.orders.get(order_id).cloned())
    }

    async fn link_order(&self, order_id: &str, referral: &ReferralId) -> Result<OrderRecord, StoreError> {
        let mut s = self.enter("link_order")?;
        let record = order_mut(&mut s, order_id);
        record.referral_id = Some(referral.clone());
        Ok(record.clone())
    }

    async fn first_order(&self, customer: &CustomerId, order_id: &str) -> Result<String, StoreError> {
        let mut s = self.enter("first_order")?;
        Ok(s.first_orders.entry(customer.clone()).or_insert_with(|| order_id.to_owned()).clone())
    }

    async fn mark_imported(&self, order_id: &str, at: Timestamp) -> Result<(), StoreError> {
        order_mut(&mut *self.enter("mark_imported")?, order_id).imported_at.get_or_insert(at);
        Ok(())
    }

    async fn forget_first_order(&self, customer: &CustomerId) -> Result<(), StoreError> {
        self.enter("forget_first_order")?.first_orders.remove(customer);
        Ok(())
    }

    async fn refund_order(&self, order_id: &str, at: Timestamp) -> Result<OrderRecord, StoreError> {
        let mut s = self.enter("refund_order")?;
        let record = order_mut(&mut s, order_id);
        record.refunded_at.get_or_insert(at);
        Ok(record.clone())
    }
}
