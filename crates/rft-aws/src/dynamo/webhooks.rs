//! `WebhookLog` on `rft-audit` (`webhook#<id>` items): processed webhook ids and the answer given.

use std::time::Duration;

use async_trait::async_trait;

use rft_core::personal::{PersonalPart, Step};
use rft_core::ports::{Begin, StoreError, StoredResponse, WEBHOOK_MEMORY, WebhookLog};
use rft_core::{CustomerId, Timestamp};

use super::DynamoStore;
use super::items::webhook_key;
use super::requests::conditional;
use super::seal::Sealed;
use crate::item::{item, n, s};

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
        match found.filter(|it| it.contains_key("response")) {
            Some(it) => {
                let response: StoredResponse = self.open_as(&it, "response", &webhook_key(id)).await?;
                // Sealed under a customer's key that erasure destroyed: forgotten.
                let forgotten = response.about.is_some() && it.contains_key("p") && response.body.is_empty();
                Ok(Begin::Done(if forgotten { response.erased() } else { response }))
            }
            None => Ok(Begin::InFlight),
        }
    }

    async fn finish(&self, id: &str, response: &StoredResponse, now: Timestamp) -> Result<(), StoreError> {
        let expires = now.plus(WEBHOOK_MEMORY);
        let mut answered = item([
            ("event_id", s(webhook_key(id))),
            ("ts", n(0)),
            ("lease_until", n(now.as_millis())),
            ("expires_at", n(expires.as_secs() + 1)),
            ("expires_at_ms", n(expires.as_millis())),
        ]);
        // An answer about a customer is sealed under the key of their opaque id, so their
        // erasure forgets it everywhere, backups included.
        // Most answers (a webhook's `{"status":"queued"}`) hold nothing personal: no key for them.
        let personal = serde_json::from_str::<serde_json::Value>(&response.body)
            .map_or(true, |mut body| !rft_core::personal::split(&mut body).is_empty());
        let stored = match response.about.as_ref().filter(|_| personal) {
            Some(owner) => {
                let public = serde_json::to_value(StoredResponse { body: String::new(), ..response.clone() })
                    .expect("answers serialise");
                let body = PersonalPart { path: vec![Step::Key("body".into())], value: response.body.clone().into() };
                self.seal_parts(&public, vec![body], owner.as_str()).await?
            }
            None => Sealed::plain(response),
        };
        stored.put_as(&mut answered, "response");
        self.put_item("record a webhook answer", &self.tables.audit, answered).await
    }

    async fn forget_answers_about(&self, _opaque: &CustomerId) -> Result<(), StoreError> {
        // Their answers are sealed under the key of their opaque id, which erasure destroys.
        Ok(())
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
