//! `LedgerStore`: the payout checks every condition before it writes anything, so it lands
//! whole or not at all; a row changes only at the version read.

use async_trait::async_trait;

use super::MemoryStore;
use crate::ids::{CustomerId, ReferralId};
use crate::ledger::{LedgerRow, RewardCommit, Side};
use crate::ports::{CommitError, LedgerCursor, LedgerPage, LedgerStore, StoreError, WriteError};

#[async_trait]
impl LedgerStore for MemoryStore {
    async fn commit_reward(&self, commit: &RewardCommit) -> Result<(), CommitError> {
        let mut s = self.enter("commit_reward")?;
        let id = &commit.referral.referral_id;
        if s.referrals.get(id).map(|r| r.version) != Some(commit.expected_version) {
            return Err(CommitError::Stale);
        }
        if commit.rows.iter().any(|row| s.ledger.contains_key(&(id.clone(), row.side))) {
            return Err(CommitError::AlreadyPaid);
        }
        let tally = s.tallies.get(&commit.tally.referrer_id).copied().unwrap_or(0);
        if tally != commit.tally.expected {
            return Err(CommitError::TallyMoved);
        }
        if let Some(order_id) = &commit.order_id {
            if s.orders.get(order_id).is_some_and(|o| o.refunded_at.is_some()) {
                return Err(CommitError::Refunded);
            }
            super::orders::order_mut(&mut s, order_id).referral_id = Some(id.clone());
        }
        s.referrals.insert(id.clone(), commit.referral.clone());
        for row in &commit.rows {
            s.ledger.insert((id.clone(), row.side), row.clone());
        }
        s.tallies.insert(commit.tally.referrer_id.clone(), tally + 1);
        s.audit.push(commit.audit.clone());
        super::counters::apply_steps(&mut s, &commit.counters, commit.audit.ts);
        Ok(())
    }

    async fn row(&self, referral: &ReferralId, side: Side) -> Result<Option<LedgerRow>, StoreError> {
        Ok(self.enter("row")?.ledger.get(&(referral.clone(), side)).cloned())
    }

    async fn rows(&self, referral: &ReferralId) -> Result<Vec<LedgerRow>, StoreError> {
        let s = self.enter("rows")?;
        // Keyed by (referral, side), and the referrer sorts first.
        Ok(s.ledger.values().filter(|r| r.referral_id == *referral).cloned().collect())
    }

    async fn save_row(&self, row: &LedgerRow, expected_version: u64) -> Result<(), WriteError> {
        let mut s = self.enter("save_row")?;
        let key = (row.referral_id.clone(), row.side);
        match s.ledger.get(&key) {
            Some(stored) if stored.version == expected_version => {}
            _ => return Err(WriteError::Conflict),
        }
        s.ledger.insert(key, row.clone());
        Ok(())
    }

    async fn tally(&self, referrer: &CustomerId) -> Result<u32, StoreError> {
        Ok(self.enter("tally")?.tallies.get(referrer).copied().unwrap_or(0))
    }

    async fn rows_of(&self, customer: &CustomerId) -> Result<Vec<LedgerRow>, StoreError> {
        let s = self.enter("rows_of")?;
        let mut found: Vec<LedgerRow> = s.ledger.values().filter(|r| r.customer_id == *customer).cloned().collect();
        found.sort_by_key(|r| r.created_at);
        Ok(found)
    }

    async fn page(&self, after: Option<&LedgerCursor>, limit: usize) -> Result<LedgerPage, StoreError> {
        let s = self.enter("page")?;
        // Keyed by (referral, side): the walk resumes strictly after the cursor's key.
        let start = after.and_then(|c| Some((ReferralId::parse(&c.partition).ok()?, Side::parse(&c.sort)?)));
        let rows: Vec<LedgerRow> = s
            .ledger
            .iter()
            .filter(|(key, _)| start.as_ref().is_none_or(|st| *key > st))
            .take(limit.max(1))
            .map(|(_, row)| row.clone())
            .collect();
        let next = (rows.len() == limit.max(1))
            .then(|| rows.last())
            .flatten()
            .map(|r| LedgerCursor { partition: r.referral_id.as_str().to_owned(), sort: r.side.as_str().to_owned() });
        Ok(LedgerPage { rows, next })
    }
}
