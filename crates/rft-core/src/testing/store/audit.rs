//! `AuditStore`: append only; an event with the same id and time is never overwritten.

use async_trait::async_trait;

use super::MemoryStore;
use crate::audit::AuditEvent;
use crate::ports::{AppendError, AuditStore, StoreError};

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), AppendError> {
        let mut s = self.enter("append")?;
        if s.audit.iter().any(|e| e.event_id == event.event_id && e.ts == event.ts) {
            return Err(AppendError::Duplicate);
        }
        s.audit.push(event.clone());
        Ok(())
    }

    async fn events_for(&self, subject: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let s = self.enter("events_for")?;
        let mut found: Vec<AuditEvent> = s.audit.iter().filter(|e| e.subject == subject).cloned().collect();
        found.sort_by_key(|e| e.ts);
        Ok(found)
    }

    async fn redact(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut s = self.enter("redact")?;
        if let Some(stored) = s.audit.iter_mut().find(|e| e.event_id == event.event_id && e.ts == event.ts) {
            *stored = event.clone();
        }
        Ok(())
    }
}
