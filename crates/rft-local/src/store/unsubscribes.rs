//! `Unsubscribes`: hashed addresses and when they unsubscribed (the first time is kept).

use async_trait::async_trait;
use redb::ReadableTable;

use rft_core::Timestamp;
use rft_core::identity::IdentityHash;
use rft_core::ports::{StoreError, Unsubscribes};

use super::{LocalStore, UNSUBSCRIBES};

#[async_trait]
impl Unsubscribes for LocalStore {
    async fn unsubscribe(&self, email: &IdentityHash, at: Timestamp) -> Result<(), StoreError> {
        let email = email.as_str().to_owned();
        self.write_ok("record an unsubscribe", move |txn| {
            let mut table = txn.open_table(UNSUBSCRIBES)?;
            if table.get(email.as_str())?.is_none() {
                table.insert(email.as_str(), at.as_millis())?;
            }
            Ok(())
        })
        .await
    }

    async fn is_unsubscribed(&self, email: &IdentityHash) -> Result<bool, StoreError> {
        let email = email.as_str().to_owned();
        self.read("read an unsubscribe", move |txn| Ok(txn.open_table(UNSUBSCRIBES)?.get(email.as_str())?.is_some()))
            .await
    }
}
