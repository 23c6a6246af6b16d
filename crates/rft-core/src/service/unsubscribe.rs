//! Unsubscribing from programme email, honoured in one place: every messenger a service sends
//! customer email through is wrapped in [`HonourUnsubscribes`] when the services are built
//! (`Services::customer_mail`), so no service has to remember to check. The team's and ops
//! emails pass untouched (docs/settings.md, `[enrolment]`).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};
use crate::email::Email;
use crate::identity::{Field, IdentityHash, IdentityHasher};
use crate::ports::{AuditStore, Channel, MessageError, Messenger, OutboundMessage, StoreError, Unsubscribes};
use crate::time::Clock;

/// The hash an address is unsubscribed under: the keyed hash of its identity form, so the
/// spellings of one mailbox (`Dan+shop@Example.com`) share one choice.
pub fn email_hash(hasher: &IdentityHasher, address: &str) -> Option<IdentityHash> {
    let identity = Email::parse(address).map(|e| e.identity()).unwrap_or_else(|_| address.trim().to_ascii_lowercase());
    hasher.hash(Field::Email, &identity)
}

/// The audit subject of an address's mail decisions (a hash, never the address).
pub fn audit_subject(hash: &IdentityHash) -> String {
    format!("email#{hash}")
}

/// A messenger that does not send programme email to unsubscribed addresses.
pub struct HonourUnsubscribes {
    inner: Arc<dyn Messenger>,
    unsubscribes: Arc<dyn Unsubscribes>,
    audit: Arc<dyn AuditStore>,
    hasher: IdentityHasher,
    clock: Arc<dyn Clock>,
}

impl HonourUnsubscribes {
    /// Wraps `inner`.
    pub fn new(
        inner: Arc<dyn Messenger>,
        unsubscribes: Arc<dyn Unsubscribes>,
        audit: Arc<dyn AuditStore>,
        hasher: IdentityHasher,
        clock: Arc<dyn Clock>,
    ) -> Self {
        HonourUnsubscribes { inner, unsubscribes, audit, hasher, clock }
    }
}

#[async_trait]
impl Messenger for HonourUnsubscribes {
    async fn send(&self, message: &OutboundMessage) -> Result<(), MessageError> {
        if message.channel == Channel::Email
            && message.kind.is_to_customers()
            && let Some(hash) = email_hash(&self.hasher, &message.to)
        {
            // Unknown is not "subscribed": a failed read fails the send, and the job retries.
            let unavailable = |e: StoreError| MessageError { kind: message.kind, source: Box::new(e) };
            if self.unsubscribes.is_unsubscribed(&hash).await.map_err(unavailable)? {
                tracing::info!(kind = ?message.kind, "not sent: the address unsubscribed");
                let facts = json!({ "kind": message.kind, "subject": message.subject });
                let event = AuditEvent::new(AuditKind::MailSuppressed, audit_subject(&hash), self.clock.now(), facts);
                if let Err(e) = self.audit.append(&event).await {
                    tracing::error!(error = %e, "suppressed a message, but the audit row failed");
                }
                return Ok(());
            }
        }
        self.inner.send(message).await
    }
}

#[cfg(test)]
#[path = "unsubscribe_tests.rs"]
mod tests;
