//! `WebhookLog` on `rft-audit` (`webhook#<id>` items): processed webhook ids and the answer given.

use std::time::Duration;

use async_trait::async_trait;

use rft_core::Timestamp;
use rft_core::ports::{Begin, StoreError, StoredResponse, WEBHOOK_MEMORY, WebhookLog};

use super::DynamoStore;
use super::items::webhook_key;
use super::requests::conditional;
use crate::item::{doc, get_s, item, n, s};

#[async_trait]
impl WebhookLog for DynamoStore {
    async fn begin(&self, id: &str, now: Timestamp, lease: Duration) -> Result<Begin, StoreError> {
        let expires = now.plus(WEBHOOK_MEMORY);
        let claim = self
            .client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(item([
                ("event_id", s(webhook_key(id))),
                ("ts", n(0)),
                ("lease_until", n(now.plus(lease).as_millis())),
                ("expires_at", n(expires.as_secs() + 1)),
                ("expires_at_ms", n(expires.as_millis())),
            ])))
            .condition_expression(
                "attribute_not_exists(event_id) OR expires_at_ms <= :now \
                 OR (attribute_not_exists(#resp) AND lease_until <= :now)",
            )
            .expression_attribute_names("#resp", "response")
            .expression_attribute_values(":now", n(now.as_millis()));
        if conditional("claim a webhook id", claim.send()).await?.is_some() {
            return Ok(Begin::Fresh);
        }
        let key = item([("event_id", s(webhook_key(id))), ("ts", n(0))]);
        let found = self.get_item("read a webhook id", &self.tables.audit, key).await?;
        match found.as_ref().and_then(|it| get_s(it, "response")) {
            Some(text) => {
                let response = serde_json::from_str(text).map_err(|e| StoreError::corrupt(webhook_key(id), e))?;
                Ok(Begin::Done(response))
            }
            None => Ok(Begin::InFlight),
        }
    }

    async fn finish(&self, id: &str, response: &StoredResponse, now: Timestamp) -> Result<(), StoreError> {
        let expires = now.plus(WEBHOOK_MEMORY);
        let answered = item([
            ("event_id", s(webhook_key(id))),
            ("ts", n(0)),
            ("lease_until", n(now.as_millis())),
            ("response", doc(response)),
            ("expires_at", n(expires.as_secs() + 1)),
            ("expires_at_ms", n(expires.as_millis())),
        ]);
        self.put_item("record a webhook answer", &self.tables.audit, answered).await
    }

    async fn abandon(&self, id: &str) -> Result<(), StoreError> {
        let release = self
            .client
            .delete_item()
            .table_name(&self.tables.audit)
            .key("event_id", s(webhook_key(id)))
            .key("ts", n(0))
            .condition_expression("attribute_not_exists(#resp)")
            .expression_attribute_names("#resp", "response");
        // An id already answered keeps its answer.
        conditional("release a webhook id", release.send()).await?;
        Ok(())
    }
}
