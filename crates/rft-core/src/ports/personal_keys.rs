//! The keys that seal a person's fields, in a store whose copies (backups) outlive an erasure.

use async_trait::async_trait;

use super::StoreError;

/// Destroying the keys erasure is done with (docs/reliability.md, "What a backup holds").
#[async_trait]
pub trait PersonalKeys: Send + Sync {
    /// Destroys the keys of these owners (the customer, their codes and referrals: the
    /// erasure's subjects), so that what they sealed is unreadable in every copy. Called after
    /// erasure has rewritten the live records without personal fields. A store that seals
    /// nothing has nothing to destroy.
    async fn destroy(&self, owners: &[String]) -> Result<(), StoreError>;
}
