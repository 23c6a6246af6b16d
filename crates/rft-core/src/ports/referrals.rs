//! Referrals and identity claims (`rft-referrals`).

use async_trait::async_trait;

use super::{ListWindow, StoreError, WriteError};
use crate::audit::AuditEvent;
use crate::identity::IdentityKey;
use crate::ids::{CustomerId, ReferralId};
use crate::referral::{Referral, ReferralState, ReviewQueue};
use crate::time::Timestamp;

/// What opening a referral did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A new referral was created with all its claims.
    Created,
    /// The person was already claimed: this is their referral (it never pays twice).
    Existing(Box<Referral>),
}

/// Referrals and the identity claims that map a person to one referral (`rft-referrals`).
#[async_trait]
pub trait ReferralStore: Send + Sync {
    /// Opens a referral under all its identity claims and writes its audit row, atomically.
    /// If any claim is held already, nothing new is created: the claim's referral is
    /// returned and the new keys are added to it, so the person maps to one referral.
    async fn open(&self, referral: &Referral, claims: &[IdentityKey], audit: &AuditEvent)
    -> Result<Opened, StoreError>;
    /// Reads a referral.
    async fn get(&self, id: &ReferralId) -> Result<Option<Referral>, StoreError>;
    /// The referral claimed under an identity key.
    async fn find(&self, key: &IdentityKey) -> Result<Option<Referral>, StoreError>;
    /// Writes a changed referral if its stored version is still `expected_version`, with an
    /// optional audit row in the same transaction.
    async fn save(
        &self,
        referral: &Referral,
        expected_version: u64,
        audit: Option<&AuditEvent>,
    ) -> Result<(), WriteError>;
    /// Erasure: the claims a customer's sign-ups created become tombstones. The customer-id
    /// claim is deleted (it holds the id itself); each hashed claim (email, payment, device) is
    /// kept, still naming its referral, but no longer says whose sign-up made it, so the person
    /// signing up again joins the old referral and is never paid twice (docs/invariants.md,
    /// invariant 12). Returns how many claims it changed.
    async fn tombstone_claims(&self, claimant: &CustomerId) -> Result<usize, StoreError>;
    /// Every referral crediting a referrer, oldest first (the referrer's stats).
    async fn referrals_of(&self, referrer: &CustomerId) -> Result<Vec<Referral>, StoreError>;
    /// Referrals in a review queue whose queue time is at or before `until`, oldest first.
    async fn queue(&self, queue: ReviewQueue, until: Timestamp, limit: usize) -> Result<Vec<Referral>, StoreError>;
    /// One page of the referrals in `state`, newest first by creation time then id (the
    /// console's listing; an index per state, never a scan).
    async fn in_state(&self, state: ReferralState, window: &ListWindow) -> Result<Vec<Referral>, StoreError>;
}
