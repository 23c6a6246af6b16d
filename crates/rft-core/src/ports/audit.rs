//! The append-only audit (`rft-audit`).

use async_trait::async_trait;

use super::StoreError;
use crate::audit::AuditEvent;

/// Why an audit row was not appended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// An event with this id and time exists; the audit never overwrites.
    #[error("audit event already exists")]
    Duplicate,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The append-only audit (`rft-audit`): no update, no delete.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an event; never overwrites one.
    async fn append(&self, event: &AuditEvent) -> Result<(), AppendError>;
    /// Events about a subject, oldest first.
    async fn events_for(&self, subject: &str) -> Result<Vec<AuditEvent>, StoreError>;
    /// Erasure, the one exception to append-only: rewrites an existing event with personal
    /// data removed (same id, time and kind).
    async fn redact(&self, event: &AuditEvent) -> Result<(), StoreError>;
}
