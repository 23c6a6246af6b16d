//! The rewards ledger (`rft-rewards`).

use async_trait::async_trait;

use super::{StoreError, WriteError};
use crate::ids::{CustomerId, ReferralId};
use crate::ledger::{LedgerRow, RewardCommit, Side};

/// Why a payout could not be committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The referral moved since it was read (another delivery paid or decided it).
    #[error("the referral changed since it was read")]
    Stale,
    /// A ledger row for this referral already exists.
    #[error("this referral is already in the ledger")]
    AlreadyPaid,
    /// The converting order was refunded (the refund may have come first): nothing is paid.
    #[error("the converting order was refunded")]
    Refunded,
    /// The referrer's tally moved (a concurrent payout): re-read it and try again.
    #[error("the referrer's tally moved")]
    TallyMoved,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a walk through the whole ledger stands: the key of the last item read, as the store
/// keys it. Opaque to callers: hand it back to [`LedgerStore::page`] for the next page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerCursor {
    /// The partition key read last.
    pub partition: String,
    /// The sort key read last.
    pub sort: String,
}

/// One page of the whole ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerPage {
    /// Ledger rows, in the store's own order.
    pub rows: Vec<LedgerRow>,
    /// Where the next page starts; `None` after the last one.
    pub next: Option<LedgerCursor>,
}

/// The rewards ledger (`rft-rewards`).
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Commits a payout as one transaction (see [`RewardCommit`]).
    async fn commit_reward(&self, commit: &RewardCommit) -> Result<(), CommitError>;
    /// One side's row of a referral.
    async fn row(&self, referral: &ReferralId, side: Side) -> Result<Option<LedgerRow>, StoreError>;
    /// The ledger rows of a referral, referrer first.
    async fn rows(&self, referral: &ReferralId) -> Result<Vec<LedgerRow>, StoreError>;
    /// Writes a changed row if its stored version is still `expected_version`.
    async fn save_row(&self, row: &LedgerRow, expected_version: u64) -> Result<(), WriteError>;
    /// How many rewarded referrals a referrer has.
    async fn tally(&self, referrer: &CustomerId) -> Result<u32, StoreError>;
    /// Every ledger row paying a customer (either side), oldest first.
    async fn rows_of(&self, customer: &CustomerId) -> Result<Vec<LedgerRow>, StoreError>;
    /// Every ledger row (both sides of every referral; never a tally), a page at a time, for
    /// the export: at most `limit` rows read after `after` (a page may hold fewer and still not
    /// be the last; only `next: None` ends the walk). Rows written during a walk may or may
    /// not appear in it; none appears twice.
    async fn page(&self, after: Option<&LedgerCursor>, limit: usize) -> Result<LedgerPage, StoreError>;
}
