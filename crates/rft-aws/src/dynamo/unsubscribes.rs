//! `Unsubscribes` on `rft-referrals` (`unsub#<hash>` items, beside `claim#` and `first#`):
//! the hash of the address's identity form and when it unsubscribed. Kept for good, and never
//! in clear.

use async_trait::async_trait;

use rft_core::Timestamp;
use rft_core::identity::IdentityHash;
use rft_core::ports::{StoreError, Unsubscribes};

use super::DynamoStore;
use crate::item::{Item, item, n, s};

fn unsubscribe_key(email: &IdentityHash) -> Item {
    item([("referred_id", s(format!("unsub#{email}")))])
}

#[async_trait]
impl Unsubscribes for DynamoStore {
    async fn unsubscribe(&self, email: &IdentityHash, at: Timestamp) -> Result<(), StoreError> {
        let mut record = unsubscribe_key(email);
        record.insert("unsubscribed_at".into(), n(at.as_millis()));
        // Already there: the first time stands.
        self.put_if_absent("record an unsubscribe", &self.tables.referrals, "referred_id", record).await?;
        Ok(())
    }

    async fn is_unsubscribed(&self, email: &IdentityHash) -> Result<bool, StoreError> {
        let found = self.get_item("read an unsubscribe", &self.tables.referrals, unsubscribe_key(email)).await?;
        Ok(found.is_some())
    }
}
