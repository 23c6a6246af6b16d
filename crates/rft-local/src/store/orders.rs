//! `OrderStore`: which referral each order converted, and its refund.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use rft_core::ports::{OrderRecord, OrderStore, StoreError};
use rft_core::{ReferralId, Timestamp};

use super::{LocalStore, ORDERS, decode, decode_w, encode};

/// Reads, changes and writes one order's record inside a write transaction (the payout's too).
pub(super) fn update_order(
    txn: &WriteTransaction,
    order_id: &str,
    change: impl FnOnce(&mut OrderRecord),
) -> Result<OrderRecord, redb::Error> {
    let mut orders = txn.open_table(ORDERS)?;
    let found = orders.get(order_id)?.map(|v| decode_w::<OrderRecord>(order_id, v.value())).transpose()?;
    let mut record =
        found.unwrap_or_else(|| OrderRecord { order_id: order_id.to_owned(), referral_id: None, refunded_at: None });
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
