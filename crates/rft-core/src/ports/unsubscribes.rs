//! Addresses that asked for no more programme email (docs/settings.md, `[enrolment]`), kept
//! only as the keyed hash of the address's identity form, never in clear.

use async_trait::async_trait;

use super::StoreError;
use crate::identity::IdentityHash;
use crate::time::Timestamp;

/// Unsubscribed addresses, by the hash of their identity form.
#[async_trait]
pub trait Unsubscribes: Send + Sync {
    /// Records that the address unsubscribed (the first time is kept; repeating is harmless).
    async fn unsubscribe(&self, email: &IdentityHash, at: Timestamp) -> Result<(), StoreError>;
    /// Whether the address unsubscribed.
    async fn is_unsubscribed(&self, email: &IdentityHash) -> Result<bool, StoreError>;
}
