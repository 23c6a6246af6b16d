//! `WebhookLog`: processed webhook ids and the answer given.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use rft_core::ports::{Begin, StoreError, StoredResponse, WEBHOOK_MEMORY, WebhookLog};
use rft_core::{CustomerId, Timestamp};

use redb::ReadableTable;

use super::{LocalStore, WEBHOOKS, decode_w, encode, load_record};

#[derive(Serialize, Deserialize)]
struct WebhookRecord {
    response: Option<StoredResponse>,
    lease_until: Timestamp,
    expires_at: Timestamp,
}

#[async_trait]
impl WebhookLog for LocalStore {
    async fn begin(&self, id: &str, now: Timestamp, lease: Duration) -> Result<Begin, StoreError> {
        let id = id.to_owned();
        self.write_ok("claim a webhook id", move |txn| {
            let mut table = txn.open_table(WEBHOOKS)?;
            let existing = load_record::<WebhookRecord>(&table, &id)?.filter(|r| r.expires_at > now);
            match existing {
                Some(WebhookRecord { response: Some(r), .. }) => return Ok(Begin::Done(r)),
                Some(r) if r.lease_until > now => return Ok(Begin::InFlight),
                _ => {}
            }
            let record =
                WebhookRecord { response: None, lease_until: now.plus(lease), expires_at: now.plus(WEBHOOK_MEMORY) };
            table.insert(id.as_str(), encode(&record).as_slice())?;
            Ok(Begin::Fresh)
        })
        .await
    }

    async fn finish(&self, id: &str, response: &StoredResponse, now: Timestamp) -> Result<(), StoreError> {
        let id = id.to_owned();
        let record =
            WebhookRecord { response: Some(response.clone()), lease_until: now, expires_at: now.plus(WEBHOOK_MEMORY) };
        self.write_ok("record a webhook answer", move |txn| {
            txn.open_table(WEBHOOKS)?.insert(id.as_str(), encode(&record).as_slice())?;
            Ok(())
        })
        .await
    }

    async fn forget_answers_about(&self, customer: &CustomerId) -> Result<(), StoreError> {
        let customer = customer.clone();
        self.write_ok("forget answers about a customer", move |txn| {
            let mut table = txn.open_table(WEBHOOKS)?;
            // A week of signed requests: erasure is rare enough to read them all.
            let mut about = Vec::new();
            for entry in table.iter()? {
                let (id, bytes) = entry?;
                let record: WebhookRecord = decode_w(id.value(), bytes.value())?;
                if record.response.as_ref().is_some_and(|a| a.about.as_ref() == Some(&customer)) {
                    about.push((id.value().to_owned(), record));
                }
            }
            for (id, mut record) in about {
                record.response = record.response.map(|a| a.erased());
                table.insert(id.as_str(), encode(&record).as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn abandon(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write_ok("release a webhook id", move |txn| {
            let mut table = txn.open_table(WEBHOOKS)?;
            let unanswered = load_record::<WebhookRecord>(&table, &id)?.is_some_and(|r| r.response.is_none());
            if unanswered {
                table.remove(id.as_str())?;
            }
            Ok(())
        })
        .await
    }
}
