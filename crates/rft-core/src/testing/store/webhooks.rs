//! `WebhookLog`: an id is held for its lease, then answered the same for `WEBHOOK_MEMORY`.

use std::time::Duration;

use async_trait::async_trait;

use super::{MemoryStore, WebhookRecord};
use crate::ids::CustomerId;
use crate::ports::{Begin, StoreError, StoredResponse, WEBHOOK_MEMORY, WebhookLog};
use crate::time::Timestamp;

#[async_trait]
impl WebhookLog for MemoryStore {
    async fn begin(&self, id: &str, now: Timestamp, lease: Duration) -> Result<Begin, StoreError> {
        let mut s = self.enter("begin")?;
        match s.webhooks.get(id).filter(|r| r.expires_at > now) {
            Some(WebhookRecord { response: Some(response), .. }) => return Ok(Begin::Done(response.clone())),
            Some(r) if r.lease_until > now => return Ok(Begin::InFlight),
            _ => {}
        }
        let record =
            WebhookRecord { response: None, lease_until: now.plus(lease), expires_at: now.plus(WEBHOOK_MEMORY) };
        s.webhooks.insert(id.to_owned(), record);
        Ok(Begin::Fresh)
    }

    async fn finish(&self, id: &str, response: &StoredResponse, now: Timestamp) -> Result<(), StoreError> {
        let record =
            WebhookRecord { response: Some(response.clone()), lease_until: now, expires_at: now.plus(WEBHOOK_MEMORY) };
        self.enter("finish")?.webhooks.insert(id.to_owned(), record);
        Ok(())
    }

    async fn forget_answers_about(&self, customer: &CustomerId) -> Result<(), StoreError> {
        let mut s = self.enter("forget_answers_about")?;
        for record in s.webhooks.values_mut() {
            if let Some(answer) = record.response.as_mut().filter(|a| a.about.as_ref() == Some(customer)) {
                *answer = answer.erased();
            }
        }
        Ok(())
    }

    async fn abandon(&self, id: &str) -> Result<(), StoreError> {
        let mut s = self.enter("abandon")?;
        if s.webhooks.get(id).is_some_and(|r| r.response.is_none()) {
            s.webhooks.remove(id);
        }
        Ok(())
    }
}
