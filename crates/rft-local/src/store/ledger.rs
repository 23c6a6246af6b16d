//! `LedgerStore`: ledger rows and tallies; the payout as one transaction.

use async_trait::async_trait;
use redb::ReadableTable;

use rft_core::ledger::Side;
use rft_core::ports::{CommitError, LedgerCursor, LedgerPage, LedgerStore, StoreError, WriteError};
use rft_core::{CustomerId, LedgerRow, ReferralId, RewardCommit};

use super::audit::append_audit;
use super::index::under;
use super::orders::update_order;
use super::referrals::{load_referral, put_referral};
use super::{LEDGER, LEDGER_BY_CUSTOMER, LocalStore, TALLY, decode, decode_w, encode};

#[async_trait]
impl LedgerStore for LocalStore {
    async fn commit_reward(&self, commit: &RewardCommit) -> Result<(), CommitError> {
        let commit = commit.clone();
        self.write("commit a payout", move |txn| {
            let id = commit.referral.referral_id.as_str();
            let old = load_referral(txn, id)?;
            match &old {
                Some(o) if o.version == commit.expected_version => {}
                _ => return Ok(Err(CommitError::Stale)),
            }
            if let Some(order_id) = &commit.order_id {
                let linked =
                    update_order(txn, order_id, |r| r.referral_id = Some(commit.referral.referral_id.clone()))?;
                if linked.refunded_at.is_some() {
                    return Ok(Err(CommitError::Refunded));
                }
            }
            let mut ledger = txn.open_table(LEDGER)?;
            for row in &commit.rows {
                if ledger.get((id, row.side.as_str()))?.is_some() {
                    return Ok(Err(CommitError::AlreadyPaid));
                }
            }
            let mut tally = txn.open_table(TALLY)?;
            let referrer = commit.tally.referrer_id.as_str();
            let current = tally.get(referrer)?.map(|v| v.value()).unwrap_or(0);
            if current != commit.tally.expected {
                return Ok(Err(CommitError::TallyMoved));
            }
            tally.insert(referrer, current + 1)?;
            let mut by_customer = txn.open_table(LEDGER_BY_CUSTOMER)?;
            for row in &commit.rows {
                ledger.insert((id, row.side.as_str()), encode(row).as_slice())?;
                by_customer.insert((row.customer_id.as_str(), row.created_at.as_millis(), id), row.side.as_str())?;
            }
            drop(by_customer);
            drop((ledger, tally));
            put_referral(txn, &commit.referral, old.as_ref())?;
            append_audit(txn, &commit.audit)?;
            super::counters::apply_steps(txn, &commit.counters, commit.audit.ts)?;
            Ok(Ok(()))
        })
        .await?
    }

    async fn row(&self, referral: &ReferralId, side: Side) -> Result<Option<LedgerRow>, StoreError> {
        let referral = referral.clone();
        self.read("read a ledger row", move |txn| {
            let ledger = txn.open_table(LEDGER)?;
            let id = referral.as_str();
            ledger.get((id, side.as_str()))?.map(|v| decode(id, v.value())).transpose()
        })
        .await
    }

    async fn rows(&self, referral: &ReferralId) -> Result<Vec<LedgerRow>, StoreError> {
        let referral = referral.clone();
        self.read("read ledger rows", move |txn| {
            let ledger = txn.open_table(LEDGER)?;
            let id = referral.as_str();
            let mut rows: Vec<LedgerRow> = Vec::new();
            for entry in ledger.range((id, "")..=(id, "\u{10FFFF}"))? {
                let (_, v) = entry?;
                rows.push(decode(id, v.value())?);
            }
            rows.sort_by_key(|r| r.side);
            Ok(rows)
        })
        .await
    }

    async fn save_row(&self, row: &LedgerRow, expected_version: u64) -> Result<(), WriteError> {
        let row = row.clone();
        self.write("update a ledger row", move |txn| {
            let mut ledger = txn.open_table(LEDGER)?;
            let key = (row.referral_id.as_str(), row.side.as_str());
            let current =
                ledger.get(key)?.map(|v| decode_w::<LedgerRow>(row.referral_id.as_str(), v.value())).transpose()?;
            let Some(current) = current.filter(|c| c.version == expected_version) else {
                return Ok(Err(WriteError::Conflict));
            };
            ledger.insert(key, encode(&row).as_slice())?;
            if current.customer_id != row.customer_id {
                let mut by_customer = txn.open_table(LEDGER_BY_CUSTOMER)?;
                let id = row.referral_id.as_str();
                by_customer.remove((current.customer_id.as_str(), current.created_at.as_millis(), id))?;
                by_customer.insert((row.customer_id.as_str(), row.created_at.as_millis(), id), row.side.as_str())?;
            }
            Ok(Ok(()))
        })
        .await?
    }

    async fn rows_of(&self, customer: &CustomerId) -> Result<Vec<LedgerRow>, StoreError> {
        let customer = customer.clone();
        self.read("list a customer's ledger rows", move |txn| {
            let index = txn.open_table(LEDGER_BY_CUSTOMER)?;
            let ledger = txn.open_table(LEDGER)?;
            let c = customer.as_str();
            let mut out = Vec::new();
            for entry in under(&index, c)? {
                let (key, side) = entry?;
                let id = key.value().2;
                if let Some(v) = ledger.get((id, side.value()))? {
                    out.push(decode(id, v.value())?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn tally(&self, referrer: &CustomerId) -> Result<u32, StoreError> {
        let referrer = referrer.clone();
        self.read("read a referrer's tally", move |txn| {
            let tally = txn.open_table(TALLY)?;
            let n = tally.get(referrer.as_str())?.map(|v| v.value()).unwrap_or(0);
            Ok(n)
        })
        .await
    }

    async fn page(&self, after: Option<&LedgerCursor>, limit: usize) -> Result<LedgerPage, StoreError> {
        let after = after.cloned();
        let limit = limit.clamp(1, 1_000);
        self.read("read a page of the ledger", move |txn| {
            let ledger = txn.open_table(LEDGER)?;
            let range = match &after {
                Some(c) => ledger.range::<(&str, &str)>((
                    std::ops::Bound::Excluded((c.partition.as_str(), c.sort.as_str())),
                    std::ops::Bound::Unbounded,
                ))?,
                None => ledger.range::<(&str, &str)>(..)?,
            };
            let mut page = LedgerPage::default();
            for entry in range {
                let (key, value) = entry?;
                let (id, side) = key.value();
                page.rows.push(decode(id, value.value())?);
                if page.rows.len() == limit {
                    page.next = Some(LedgerCursor { partition: id.to_owned(), sort: side.to_owned() });
                    break;
                }
            }
            Ok(page)
        })
        .await
    }
}
