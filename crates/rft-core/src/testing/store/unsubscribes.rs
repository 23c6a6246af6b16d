//! `Unsubscribes`: hashed addresses and when they unsubscribed.

use async_trait::async_trait;

use super::MemoryStore;
use crate::identity::IdentityHash;
use crate::ports::{StoreError, Unsubscribes};
use crate::time::Timestamp;

#[async_trait]
impl Unsubscribes for MemoryStore {
    async fn unsubscribe(&self, email: &IdentityHash, at: Timestamp) -> Result<(), StoreError> {
        self.enter("unsubscribe")?.unsubscribes.entry(email.as_str().to_owned()).or_insert(at);
        Ok(())
    }

    async fn is_unsubscribed(&self, email: &IdentityHash) -> Result<bool, StoreError> {
        Ok(self.enter("is_unsubscribed")?.unsubscribes.contains_key(email.as_str()))
    }
}
