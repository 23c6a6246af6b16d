//! `OrderStore`: which referral each order converted, and its refund.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use rft_core::ports::{OrderRecord, OrderStore, StoreError};
use rft_core::{CustomerId, ReferralId, Timestamp};

use super::{FIRST_ORDERS, LocalStore, ORDERS, decode, decode_w, encode};

/// Reads, changes and writes one order's record inside a write transaction (the payout's too).
pub(super) fn update_order(
    txn: &WriteTransaction,
    order_id: &str,
    change: impl FnOnce(&mut OrderRecord),
) -> Result<OrderRecord, redb::Error> {
    let mut orders = txn.open_table(ORDERS)?;
    let found = orders.get(order_id)?.map(|v| decode_w::<OrderRecord>(order_id, v.value())).transpose()?;
    let mut record = found.unwrap_or_else(|| OrderRecord {
        order_id: order_id.to_owned(),
        referral_id: None,
        refunded_at: None,
        imported_at: None,
    });
    change(&mut record);
    orders.insert(order_id, encode(&record).as_slice())?;
    Ok(record)
}

#[async_trait]
impl OrderStore for LocalStore {
    async fn order(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let order_id = order_id.to_owned();
        self.read("read an order", move |txn| {
            let orders = txn.open_table(ORDERS)?;
            orders.get(order_id.as_str())?.map(|v| decode(&order_id, v.value())).transpose()
        })
        .await
    }

    async fn link_order(&self, order_id: &str, referral: &ReferralId) -> Result<OrderRecord, StoreError> {
        let (order_id, referral) = (order_id.to_owned(), referral.clone());
        self.write_ok("link an order", move |txn| update_order(txn, &order_id, |r| r.referral_id = Some(referral)))
            .await
    }

    async fn first_order(&self, customer: &CustomerId, order_id: &str) -> Result<String, StoreError> {
        let (customer, order_id) = (customer.clone(), order_id.to_owned());
        self.write_ok("note a customer's first order", move |txn| {
            let mut firsts = txn.open_table(FIRST_ORDERS)?;
            if let Some(first) = firsts.get(customer.as_str())? {
                return Ok(first.value().to_owned());
            }
            firsts.insert(customer.as_str(), order_id.as_str())?;
            Ok(order_id)
        })
        .await
    }

    async fn mark_imported(&self, order_id: &str, at: Timestamp) -> Result<(), StoreError> {
        let order_id = order_id.to_owned();
        self.write_ok("note an order's import", move |txn| {
            update_order(txn, &order_id, |r| {
                r.imported_at.get_or_insert(at);
            })
            .map(|_| ())
        })
        .await
    }

    async fn forget_first_order(&self, customer: &CustomerId) -> Result<(), StoreError> {
        let customer = customer.clone();
        self.write_ok("forget a customer's first order", move |txn| {
            txn.open_table(FIRST_ORDERS)?.remove(customer.as_str())?;
            Ok(())
        })
        .await
    }

    async fn refund_order(&self, order_id: &str, at: Timestamp) -> Result<OrderRecord, StoreError> {
        let order_id = order_id.to_owned();
        self.write_ok("note an order's refund", move |txn| {
            update_order(txn, &order_id, |r| {
                r.refunded_at.get_or_insert(at);
            })
        })
        .await
    }
}
