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
}
