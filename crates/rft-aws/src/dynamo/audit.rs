//! `AuditStore` on `rft-audit`: appended with `attribute_not_exists`, never overwritten (erasure's redaction aside).

use async_trait::async_trait;

use rft_core::AuditEvent;
use rft_core::ports::{AppendError, AuditStore, StoreError};

use super::items::audit_item;
use super::{DynamoStore, NOT_EXISTS, is_condition_failure};
use crate::item::{from_doc, s};
use crate::tables::AUDIT_BY_SUBJECT;

#[async_trait]
impl AuditStore for DynamoStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), AppendError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(audit_item(event)))
            .condition_expression(NOT_EXISTS)
            .expression_attribute_names("#pk", "event_id")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(AppendError::Duplicate),
            Err(e) => Err(StoreError::unavailable("append to the audit", e).into()),
        }
    }

    async fn redact(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(audit_item(event)))
            .condition_expression("attribute_exists(event_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError::unavailable("redact an audit event", e)),
        }
    }

    async fn events_for(&self, subject: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.audit)
            .index_name(AUDIT_BY_SUBJECT)
            .key_condition_expression("subject = :s")
            .expression_attribute_values(":s", s(subject));
        let items = self.query_all("read the audit", q).await?;
        items.iter().map(|it| from_doc(it, subject)).collect()
    }
}
