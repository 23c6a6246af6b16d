//! `AuditStore` on `rft-audit`: appended with `attribute_not_exists`, never overwritten (erasure's redaction aside).

use async_trait::async_trait;

use rft_core::AuditEvent;
use rft_core::ports::{AppendError, AuditStore, StoreError};

use super::DynamoStore;
use super::requests::conditional;
use crate::tables::AUDIT_BY_SUBJECT;

#[async_trait]
impl AuditStore for DynamoStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), AppendError> {
        let appended = self
            .put_if_absent("append to the audit", &self.tables.audit, "event_id", self.stored_audit(event).await?)
            .await?;
        if appended { Ok(()) } else { Err(AppendError::Duplicate) }
    }

    async fn redact(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let rewrite = self
            .client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(self.stored_audit(event).await?))
            .condition_expression("attribute_exists(event_id)");
        // An event that is not there has nothing to redact.
        conditional("redact an audit event", rewrite.send()).await?;
        Ok(())
    }

    async fn events_for(&self, subject: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let q = self.query_key(&self.tables.audit, Some(AUDIT_BY_SUBJECT), "subject", subject);
        self.open_all(&self.query_all("read the audit", q).await?, subject).await
    }
}
