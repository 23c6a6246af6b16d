//! Minting links, retiring codes, and invites by email (`rft-minter`).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};
use crate::click::{Click, TouchKey};
use crate::code::{Code, CodeRecord, CodeStatus, ReferrerProfile};
use crate::messages::{accept_draft, email_html, invite_brief, invite_template};
use crate::ports::{
    AuditStore, Channel, ClaimError, ClickStore, CodeStore, CountError, Counters, InviteRequest, MessageKind,
    Messenger, MintError, MintRequest, Minted, Minter, OutboundMessage, TextWriter,
};
use crate::settings::Settings;
use crate::time::{Clock, Timestamp};

/// How many invites by email a referrer may send a day.
pub const INVITES_PER_DAY: u32 = 20;

/// How many random codes to try before giving up (each collides with odds of codes/887M).
const CLAIM_ATTEMPTS: usize = 12;

/// The minter.
pub struct MintService {
    codes: Arc<dyn CodeStore>,
    clicks: Arc<dyn ClickStore>,
    audit: Arc<dyn AuditStore>,
    counters: Arc<dyn Counters>,
    writer: Arc<dyn TextWriter>,
    messenger: Arc<dyn Messenger>,
    settings: Arc<Settings>,
    clock: Arc<dyn Clock>,
}

fn unavailable(op: &'static str) -> impl FnOnce(crate::ports::StoreError) -> MintError {
    move |e| MintError::Unavailable { op, source: Box::new(e) }
}

impl MintService {
    /// A minter over its ports.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        codes: Arc<dyn CodeStore>,
        clicks: Arc<dyn ClickStore>,
        audit: Arc<dyn AuditStore>,
        counters: Arc<dyn Counters>,
        writer: Arc<dyn TextWriter>,
        messenger: Arc<dyn Messenger>,
        settings: Arc<Settings>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        MintService { codes, clicks, audit, counters, writer, messenger, settings, clock }
    }

    /// The invite with `{{link}}` still in it: the model's draft if it is on time and passes
    /// the checks, else `None` (the template is used).
    async fn draft_invite(&self) -> Option<String> {
        let brief = invite_brief(&self.settings);
        match tokio::time::timeout(self.settings.messages.model_timeout, self.writer.draft(&brief)).await {
            Ok(Ok(draft)) => Some(draft),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "invite draft failed; using the template");
                None
            }
            Err(_) => {
                tracing::warn!(timeout = ?self.settings.messages.model_timeout, "invite draft timed out; using the template");
                None
            }
        }
    }

    /// The invite text for `link`: the draft if it passes every check, else the template.
    fn invite_text(&self, draft: Option<&str>, link: &str) -> String {
        draft
            .and_then(|d| match accept_draft(d, link, self.settings.messages.max_invite_chars) {
                Ok(text) => Some(text),
                Err(reason) => {
                    tracing::warn!(%reason, "invite draft refused; using the template");
                    None
                }
            })
            .unwrap_or_else(|| invite_template(&self.settings, link))
    }
}

#[async_trait]
impl Minter for MintService {
    async fn mint(&self, request: &MintRequest) -> Result<Minted, MintError> {
        if let Some(record) =
            self.codes.active_code_of(&request.customer_id).await.map_err(unavailable("read the active code"))?
        {
            return Ok(Minted { record, created: false });
        }
        // The draft does not depend on the code ({{link}} stands in), so one model call serves
        // however many draws the claim takes.
        let draft = self.draft_invite().await;
        let terms = self.settings.terms();
        for _ in 0..CLAIM_ATTEMPTS {
            let code = Code::generate(&mut rand::rng());
            let now = self.clock.now();
            let record = CodeRecord {
                invite: self.invite_text(draft.as_deref(), &self.settings.link_for(&code)),
                code,
                referrer_id: request.customer_id.clone(),
                status: CodeStatus::Active,
                terms: terms.clone(),
                referrer: ReferrerProfile {
                    first_name: request.first_name.clone(),
                    email: request.email.clone(),
                    phone: request.phone.clone(),
                    identity: request.identity.clone(),
                },
                created_at: now,
                retired_at: None,
                flag: None,
            };
            match self.codes.claim(&record).await {
                Ok(()) => {
                    let facts = json!({ "referrer_id": record.referrer_id, "terms": record.terms });
                    let event = AuditEvent::new(AuditKind::Minted, record.code.as_str(), now, facts);
                    if let Err(e) = self.audit.append(&event).await {
                        tracing::error!(error = %e, code = %record.code, "minted, but the audit row failed");
                    }
                    return Ok(Minted { record, created: true });
                }
                Err(ClaimError::CodeTaken) => continue,
                Err(ClaimError::CustomerHasActiveCode(existing)) => {
                    // A concurrent ask won: hand back its code.
                    let record = self.codes.get(&existing).await.map_err(unavailable("read the winning code"))?;
                    return record.map(|record| Minted { record, created: false }).ok_or(MintError::Exhausted);
                }
                Err(ClaimError::Store(e)) => return Err(unavailable("claim a code")(e)),
            }
        }
        Err(MintError::Exhausted)
    }

    async fn retire(&self, code: &Code, by: Option<&crate::email::Email>) -> Result<Option<CodeRecord>, MintError> {
        let now = self.clock.now();
        let retired = self.codes.retire(code, now).await.map_err(unavailable("retire a code"))?;
        if let Some(record) = &retired {
            let facts = json!({ "referrer_id": record.referrer_id, "by": by });
            let event = AuditEvent::new(AuditKind::Retired, code.as_str(), now, facts);
            if let Err(e) = self.audit.append(&event).await {
                tracing::error!(error = %e, code = %code, "retired, but the audit row failed");
            }
        }
        Ok(retired)
    }

    async fn invite(&self, request: &InviteRequest) -> Result<(), MintError> {
        let record = self
            .codes
            .active_code_of(&request.customer_id)
            .await
            .map_err(unavailable("read the active code"))?
            .ok_or(MintError::NoActiveCode)?;
        let now = self.clock.now();
        let day = now.day();
        let quota_key = format!("invites#{}#{day}", request.customer_id);
        let end_of_tomorrow = Timestamp::from_millis((day + 2) * 86_400_000);
        match self.counters.increment(&quota_key, Some(INVITES_PER_DAY), end_of_tomorrow, now).await {
            Ok(_) => {}
            Err(CountError::LimitReached { limit }) => return Err(MintError::InviteLimit { limit }),
            Err(CountError::Store(e)) => return Err(unavailable("count invites")(e)),
        }
        let touch = Click {
            key: TouchKey::Email(request.friend_email_hash.clone()),
            at: now,
            code: record.code.clone(),
            ip_hash: None,
            user_agent: None,
            channel: Some("email".into()),
            browser: None,
            expires_at: now.plus(record.terms.window()),
        };
        self.clicks.record(&touch).await.map_err(unavailable("record the email touch"))?;
        let business = &self.settings.business.name;
        let referrer_name = record.referrer.first_name.clone().unwrap_or_else(|| "A friend".into());
        let greeting = request.friend_name.as_deref().map(|n| format!("Hi {n},")).unwrap_or_else(|| "Hi,".into());
        let link = self.settings.link_for(&record.code);
        let subject = format!("{referrer_name} thinks you'd like {business}");
        let paragraphs = vec![greeting.clone(), format!("{referrer_name} says:"), record.invite.clone()];
        let invite = OutboundMessage {
            channel: Channel::Email,
            to: request.friend_email.to_string(),
            subject: subject.clone(),
            body: format!("{greeting}\n\n{referrer_name} says:\n\n{}\n", record.invite),
            html: Some(email_html(business, &subject, &paragraphs, &[("Claim your offer", &link, false)])),
            kind: MessageKind::Invite,
        };
        self.messenger
            .send(&invite)
            .await
            .map_err(|e| MintError::Unavailable { op: "send the invite", source: Box::new(e) })?;
        if let Some(referrer_email) = &record.referrer.email {
            let friend = request.friend_name.clone().unwrap_or_else(|| request.friend_email.to_string());
            let heading = format!("Your invite to {friend} is on its way");
            let lines = vec![
                format!("We've sent your {business} invite to {friend}."),
                format!(
                    "If they join and place their first order, you get {} and they get {}.",
                    record.terms.referrer_reward.description, record.terms.friend_reward.description
                ),
            ];
            let confirmation = OutboundMessage {
                channel: Channel::Email,
                to: referrer_email.to_string(),
                subject: heading.clone(),
                body: format!("{}\n\n{}\n", lines[0], lines[1]),
                html: Some(email_html(business, &heading, &lines, &[])),
                kind: MessageKind::InviteConfirmation,
            };
            if let Err(e) = self.messenger.send(&confirmation).await {
                // The invite went; a missing confirmation is not worth failing the request for.
                tracing::warn!(error = %e, "invite sent, confirmation to the referrer failed");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "mint_tests.rs"]
mod tests;
