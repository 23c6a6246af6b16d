//! `PersonalKeys`: nothing is sealed in memory; the owners erasure destroyed are recorded.

use async_trait::async_trait;

use super::MemoryStore;
use crate::ports::{PersonalKeys, StoreError};

#[async_trait]
impl PersonalKeys for MemoryStore {
    async fn destroy(&self, owners: &[String]) -> Result<(), StoreError> {
        self.enter("destroy_keys")?.destroyed_keys.extend(owners.iter().cloned());
        Ok(())
    }
}
