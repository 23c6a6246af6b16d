//! The keys that seal a person's fields, in a store whose copies (backups) outlive an erasure,
//! and the record of erasures kept beside them, which a restore of the other tables does not
//! roll back.

use async_trait::async_trait;

use super::StoreError;
use crate::ids::CustomerId;

/// Destroying the keys erasure is done with, and remembering whom it erased
/// (docs/reliability.md, "What a backup holds").
#[async_trait]
pub trait PersonalKeys: Send + Sync {
    /// Destroys the keys of these owners (the customer, their codes and referrals: the
    /// erasure's subjects), so that what they sealed is unreadable in every copy. Called after
    /// erasure has rewritten the live records without personal fields. A store that seals
    /// nothing has nothing to destroy.
    async fn destroy(&self, owners: &[String]) -> Result<(), StoreError>;

    /// Remembers that the customer with this opaque id was erased, where a restore of the
    /// records does not reach. A store with no such place remembers nothing.
    async fn remember_erasure(&self, opaque: &CustomerId) -> Result<(), StoreError>;

    /// Whether the customer with this opaque id was ever erased.
    async fn was_erased(&self, opaque: &CustomerId) -> Result<bool, StoreError>;
}
