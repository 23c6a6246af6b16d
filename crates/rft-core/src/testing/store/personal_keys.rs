//! `PersonalKeys`: nothing is sealed in memory; the owners erasure destroyed and the erasures
//! are recorded.

use async_trait::async_trait;

use super::MemoryStore;
use crate::ids::CustomerId;
use crate::ports::{PersonalKeys, StoreError};

#[async_trait]
impl PersonalKeys for MemoryStore {
    async fn destroy(&self, owners: &[String]) -> Result<(), StoreError> {
        self.enter("destroy_keys")?.destroyed_keys.extend(owners.iter().cloned());
        Ok(())
    }

    async fn remember_erasure(&self, opaque: &CustomerId) -> Result<(), StoreError> {
        self.enter("remember_erasure")?.erasures.insert(opaque.clone());
        Ok(())
    }

    async fn was_erased(&self, opaque: &CustomerId) -> Result<bool, StoreError> {
        Ok(self.enter("was_erased")?.erasures.contains(opaque))
    }
}
