//! `LedgerStore` on `rft-rewards`: the payout is one transaction across `rft-referrals`, `rft-rewards` and `rft-audit`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use rft_core::ledger::Side;
use rft_core::ports::{CommitError, LedgerCursor, LedgerPage, LedgerStore, StoreError, WriteError};
use rft_core::{CustomerId, LedgerRow, ReferralId, RewardCommit};

use super::items::{ledger_item, tally_key};
use super::requests::{conditional, docs};
use super::{DynamoStore, cancelled_items, put, put_absent, tx_put, unavailable};
use crate::item::{from_doc, get_n, get_s, item, n, s};
use crate::tables::REWARDS_BY_CUSTOMER;

#[async_trait]
impl LedgerStore for DynamoStore {
    async fn commit_reward(&self, commit: &RewardCommit) -> Result<(), CommitError> {
        let flip = Put::builder()
            .table_name(&self.tables.referrals)
            .set_item(Some(self.stored_referral(&commit.referral).await?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(commit.expected_version))
            .build()
            .expect("table and item are set");
        let row = |r: &LedgerRow| put_absent(&self.tables.rewards, ledger_item(r), "referral_id");
        let expected = commit.tally.expected;
        let tally_condition = if expected == 0 {
            "attribute_not_exists(referral_id) OR #count = :expected"
        } else {
            "#count = :expected"
        };
        let tally = Update::builder()
            .table_name(&self.tables.rewards)
            .key("referral_id", s(tally_key(&commit.tally.referrer_id)))
            .key("side", s("tally"))
            .update_expression("SET #count = :next")
            .condition_expression(tally_condition)
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":expected", n(expected))
            .expression_attribute_values(":next", n(expected + 1))
            .build()
            .expect("table, key and expression are set");
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(tx_put(flip))
            .transact_items(tx_put(row(&commit.rows[0])))
            .transact_items(tx_put(row(&commit.rows[1])))
            .transact_items(TransactWriteItem::builder().update(tally).build())
            .transact_items(tx_put(put(&self.tables.audit, self.stored_audit(&commit.audit).await?, None)));
        if let Some(order_id) = &commit.order_id {
            let link = self.order_link_step(order_id, &commit.referral.referral_id);
            transaction = transaction.transact_items(TransactWriteItem::builder().update(link).build());
        }
        for step in &commit.counters {
            transaction =
                transaction.transact_items(TransactWriteItem::builder().update(self.counter_step(step)).build());
        }
        let result = transaction.send().await;
        let Err(err) = result else { return Ok(()) };
        let failed = cancelled_items("commit a payout", err)?;
        Err(if failed.contains(&0) {
            CommitError::Stale
        } else if failed.contains(&1) || failed.contains(&2) {
            CommitError::AlreadyPaid
        } else if failed.contains(&3) {
            CommitError::TallyMoved
        } else if commit.order_id.is_some() && failed.contains(&5) {
            CommitError::Refunded
        } else {
            CommitError::Store(StoreError::unavailable("commit a payout", format!("cancelled items {failed:?}")))
        })
    }

    async fn row(&self, referral: &ReferralId, side: Side) -> Result<Option<LedgerRow>, StoreError> {
        let key = item([("referral_id", s(referral.as_str())), ("side", s(side.as_str()))]);
        let found = self.get_item("read a ledger row", &self.tables.rewards, key).await?;
        found.map(|it| from_doc(&it, referral.as_str())).transpose()
    }

    async fn rows(&self, referral: &ReferralId) -> Result<Vec<LedgerRow>, StoreError> {
        let q = self.query_key(&self.tables.rewards, None, "referral_id", referral.as_str()).consistent_read(true);
        let mut rows: Vec<LedgerRow> = docs(&self.query_all("read ledger rows", q).await?, referral.as_str())?;
        rows.sort_by_key(|r| r.side);
        Ok(rows)
    }

    async fn save_row(&self, row: &LedgerRow, expected_version: u64) -> Result<(), WriteError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.rewards)
            .set_item(Some(ledger_item(row)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected_version));
        conditional("update a ledger row", put.send()).await?.map(|_| ()).ok_or(WriteError::Conflict)
    }

    async fn rows_of(&self, customer: &CustomerId) -> Result<Vec<LedgerRow>, StoreError> {
        let q = self.query_key(&self.tables.rewards, Some(REWARDS_BY_CUSTOMER), "customer_id", customer.as_str());
        docs(&self.query_all("list a customer's ledger rows", q).await?, customer.as_str())
    }

    async fn tally(&self, referrer: &CustomerId) -> Result<u32, StoreError> {
        let key = item([("referral_id", s(tally_key(referrer))), ("side", s("tally"))]);
        let found = self.get_item("read a referrer's tally", &self.tables.rewards, key).await?;
        Ok(found.and_then(|it| get_n(&it, "count")).and_then(|c| u32::try_from(c).ok()).unwrap_or(0))
    }

    async fn page(&self, after: Option<&LedgerCursor>, limit: usize) -> Result<LedgerPage, StoreError> {
        // The export reads the whole table, so a Scan is the honest access (no index would
        // read less); a page is one Scan call, its items filtered to ledger rows here.
        let limit = i32::try_from(limit.clamp(1, 1_000)).unwrap_or(1_000);
        let start = after.map(|c| item([("referral_id", s(&c.partition)), ("side", s(&c.sort))]));
        let out = self
            .client
            .scan()
            .table_name(&self.tables.rewards)
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable("read a page of the ledger"))?;
        let mut rows = Vec::new();
        for it in out.items.unwrap_or_default() {
            let (Some(id), Some(side)) = (get_s(&it, "referral_id"), get_s(&it, "side")) else { continue };
            // Tallies share the table (`tally#<customer>`, `tally`).
            if Side::parse(side).is_none() {
                continue;
            }
            rows.push(from_doc(&it, id)?);
        }
        let next = out.last_evaluated_key.filter(|k| !k.is_empty()).and_then(|k| {
            Some(LedgerCursor { partition: get_s(&k, "referral_id")?.to_owned(), sort: get_s(&k, "side")?.to_owned() })
        });
        Ok(LedgerPage { rows, next })
    }
}
