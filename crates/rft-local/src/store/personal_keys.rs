//! `PersonalKeys`: the local store seals nothing. Its only copy is its own file, which it
//! rewrites at every stop and start so an erasure reaches the disk (see [`super::rewrite`]).

use async_trait::async_trait;

use rft_core::ports::{PersonalKeys, StoreError};

use super::LocalStore;

#[async_trait]
impl PersonalKeys for LocalStore {
    async fn destroy(&self, _owners: &[String]) -> Result<(), StoreError> {
        Ok(())
    }
}
