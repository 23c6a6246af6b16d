//! `PersonalKeys`: the local store seals nothing and keeps no backups. Its only copy is its
//! own file, which it rewrites at every stop and start so an erasure reaches the disk (see
//! [`super::rewrite`]); there is no restore for an erasure to outlive.

use async_trait::async_trait;

use rft_core::CustomerId;
use rft_core::ports::{PersonalKeys, StoreError};

use super::LocalStore;

#[async_trait]
impl PersonalKeys for LocalStore {
    async fn destroy(&self, _owners: &[String]) -> Result<(), StoreError> {
        Ok(())
    }

    async fn remember_erasure(&self, _opaque: &CustomerId) -> Result<(), StoreError> {
        Ok(())
    }

    async fn was_erased(&self, _opaque: &CustomerId) -> Result<bool, StoreError> {
        Ok(false)
    }
}
