//! Links by email after a first order (`enrolment.on_first_order`, docs/settings.md): a
//! customer's first paid order at a connected store queues a `Job::Enrol`; this mints their
//! link (idempotent per customer) and emails it to them with the invite and an unsubscribe
//! link, once per customer.
//!
//! Once: the webhook log's claim on `enrolment:<customer>` is held while the email is sent and
//! answered after, so a redelivered job finds it done. A crash after sending and before the
//! answer is recorded lets the claim's lease lapse and the next delivery sends again: a rare
//! second email rather than none (recording first would lose the email on a crash). The log
//! remembers an answer for a week, longer than any path can repeat a first order's job: a
//! provider's event retries and the queue's redeliveries end within days, and an imported
//! order is queued once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};
use crate::identity::{HashedIdentity, IdentityHash, IdentityHasher};
use crate::jobs::EnrolJob;
use crate::links::{LinkSigner, unsubscribe_url};
use crate::messages::email_html_unsubscribable;
use crate::ports::{
    AuditStore, Begin, Channel, MessageError, MessageKind, Messenger, MintError, MintRequest, Minter, OutboundMessage,
    StoreError, StoredResponse, Unsubscribes, WebhookLog,
};
use crate::service::unsubscribe::{audit_subject, email_hash};
use crate::settings::Settings;
use crate::time::Clock;

/// How long one delivery holds the claim: longer than the attributor may run (30 s), shorter
/// than the queue hides a message (six times that), so a crashed holder's claim has lapsed
/// when the job comes back.
pub const ENROL_LEASE: Duration = Duration::from_secs(60);

/// What handling an enrolment did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Enrolled {
    /// The link was emailed now.
    Sent,
    /// An earlier delivery emailed it.
    AlreadySent,
    /// The address unsubscribed: nothing minted, nothing sent.
    Unsubscribed,
}

/// Why an enrolment must be retried (or, for `NoAddress`, can never run).
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Minting failed.
    #[error("minting the customer's link: {0}")]
    Mint(#[from] MintError),
    /// The email could not be handed to the provider.
    #[error(transparent)]
    Send(#[from] MessageError),
    /// Another delivery holds the claim; the queue brings this one back after it.
    #[error("another delivery of this enrolment is under way")]
    InFlight,
    /// The address has nothing to hash (an email always has; kept for a corrupt job).
    #[error("the enrolment names no usable address")]
    NoAddress,
}

/// The enrolment service.
pub struct Enroller {
    minter: Arc<dyn Minter>,
    /// Already honouring unsubscribes (built by `Services::customer_mail`).
    messenger: Arc<dyn Messenger>,
    unsubscribes: Arc<dyn Unsubscribes>,
    once: Arc<dyn WebhookLog>,
    audit: Arc<dyn AuditStore>,
    hasher: IdentityHasher,
    links: LinkSigner,
    settings: Arc<Settings>,
    clock: Arc<dyn Clock>,
}

/// The enrolment service's ports.
pub struct EnrolPorts {
    /// Mints the link (`rft-minter` by invoke in AWS, the service locally).
    pub minter: Arc<dyn Minter>,
    /// Sends the email.
    pub messenger: Arc<dyn Messenger>,
    /// Hashes the address for the unsubscribe link.
    pub hasher: IdentityHasher,
    /// Signs the unsubscribe link.
    pub links: LinkSigner,
}

impl Enroller {
    /// An enroller over the stores' `unsubscribes`, `webhooks` (the once-guard) and `audit`.
    pub fn new(
        stores: &crate::ports::Stores,
        ports: EnrolPorts,
        settings: Arc<Settings>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Enroller {
            minter: ports.minter,
            messenger: ports.messenger,
            unsubscribes: stores.unsubscribes.clone(),
            once: stores.webhooks.clone(),
            audit: stores.audit.clone(),
            hasher: ports.hasher,
            links: ports.links,
            settings,
            clock,
        }
    }

    /// Handles one enrolment; safe to repeat.
    pub async fn enrol(&self, job: &EnrolJob) -> Result<Enrolled, EnrolError> {
        let hash = email_hash(&self.hasher, job.email.as_str()).ok_or(EnrolError::NoAddress)?;
        if self.unsubscribes.is_unsubscribed(&hash).await? {
            tracing::info!(customer = %job.customer_id, "not enrolled: the address unsubscribed");
            return Ok(Enrolled::Unsubscribed);
        }
        let id = format!("enrolment:{}", job.customer_id);
        match self.once.begin(&id, self.clock.now(), ENROL_LEASE).await? {
            Begin::Done(_) => return Ok(Enrolled::AlreadySent),
            Begin::InFlight => return Err(EnrolError::InFlight),
            Begin::Fresh => {}
        }
        if let Err(e) = self.mint_and_send(job, &hash).await {
            if let Err(release) = self.once.abandon(&id).await {
                tracing::warn!(error = %release, "could not release the enrolment claim; its lease will lapse");
            }
            return Err(e);
        }
        let answer = StoredResponse::new(200, json!({ "enrolled": Enrolled::Sent }).to_string());
        self.once.finish(&id, &answer, self.clock.now()).await?;
        Ok(Enrolled::Sent)
    }

    async fn mint_and_send(&self, job: &EnrolJob, hash: &IdentityHash) -> Result<(), EnrolError> {
        let request = MintRequest {
            customer_id: job.customer_id.clone(),
            first_name: job.first_name.clone(),
            email: Some(job.email.clone()),
            phone: None,
            identity: HashedIdentity { email: Some(hash.clone()), ..job.identity.clone() },
        };
        let minted = self.minter.mint(&request).await?;
        let record = &minted.record;
        let business = &self.settings.business.name;
        let link = self.settings.link_for(&record.code);
        let unsubscribe = unsubscribe_url(self.settings.links.base_url.as_str(), &self.links, hash);
        let greeting = job.first_name.as_deref().map_or_else(|| "Hi,".to_owned(), |n| format!("Hi {n},"));
        let subject = format!("Your {business} link to share");
        let paragraphs = vec![
            greeting,
            format!(
                "Thanks for your first order. Here is your own link: when a friend uses it for their first order, \
                 you get {} and they get {}.",
                record.terms.referrer_reward.description, record.terms.friend_reward.description
            ),
            format!("Your link: {link}"),
            "An invite you can send as it is:".to_owned(),
            record.invite.clone(),
        ];
        let body = format!("{}\n\nUnsubscribe from these emails: {unsubscribe}\n", paragraphs.join("\n\n"));
        let message = OutboundMessage {
            channel: Channel::Email,
            to: job.email.to_string(),
            subject: subject.clone(),
            body,
            html: Some(email_html_unsubscribable(
                business,
                &subject,
                &paragraphs,
                &[("Share your link", &link, false)],
                &unsubscribe,
            )),
            kind: MessageKind::Enrolment,
            unsubscribe: Some(unsubscribe),
        };
        self.messenger.send(&message).await?;
        let facts = json!({
            "customer_id": job.customer_id,
            "code": record.code,
            "minted_now": minted.created,
            "order_id": job.order_id,
            "webhook_id": job.webhook_id,
            "email": audit_subject(hash),
        });
        let event = AuditEvent::new(AuditKind::Enrolled, job.customer_id.as_str(), self.clock.now(), facts);
        if let Err(e) = self.audit.append(&event).await {
            tracing::error!(error = %e, customer = %job.customer_id, "enrolled, but the audit row failed");
        }
        Ok(())
    }
}

impl crate::jobs::JobFailure for EnrolError {
    fn is_retryable(&self) -> bool {
        !matches!(
            self,
            EnrolError::NoAddress
                | EnrolError::Store(StoreError::Corrupt { .. })
                | EnrolError::Mint(MintError::Exhausted)
        )
    }
}

#[cfg(test)]
#[path = "enrol_tests.rs"]
mod tests;
