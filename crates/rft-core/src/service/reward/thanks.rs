//! One side's thank-you, once its reward is fulfilled. The note is claimed on the ledger row
//! (conditionally, on the version the `fulfil` job left) just before it is sent, so of any
//! number of duplicate `thank` jobs exactly one sends it. A send that fails gives the claim back
//! for the queue's retry; a process that dies between the claim and the send loses that one
//! note (money is never at stake here, and a second copy of a note is the worse failure for a
//! customer).

use super::fulfil::Written;
use super::{RACE_ROUNDS, RewardError, Rewarder};
use crate::ids::random_base32;
use crate::jobs::{Recipient, ThankJob, ThanksNote};
use crate::ledger::Side;
use crate::messages::{Thanks, ThanksFacts, accept_thanks, email_html, thanks_brief, thanks_template};
use crate::ports::{Channel, MessageKind, OutboundMessage};

impl Rewarder {
    /// Sends one side's thank-you, once.
    pub(super) async fn thank(&self, job: &ThankJob) -> Result<(), RewardError> {
        let claim = random_base32();
        let mut row = job.row.clone();
        let mut claimed = None;
        for _ in 0..RACE_ROUNDS {
            // Already claimed, no longer fulfilled, or relabelled by erasure: nothing to send.
            if row.note_sent_at.is_some() || !row.is_fulfilled() || row.customer_id != job.row.customer_id {
                return Ok(());
            }
            let mut mine = row.successor();
            mine.note_sent_at = Some(self.ports.clock.now());
            mine.note_claim = Some(claim.clone());
            match self.write_row(&mine, row.version).await? {
                Written::Ours => {
                    claimed = Some(mine);
                    break;
                }
                Written::Lost => match self.row(&row.referral_id, row.side).await? {
                    Some(current) => row = current,
                    None => return Ok(()),
                },
            }
        }
        let Some(claimed) = claimed else { return Err(RewardError::Contended) };
        let Some(message) = self.thanks_message(row.side, &job.note).await else { return Ok(()) };
        if let Err(e) = self.ports.messenger.send(&message).await {
            let mut released = claimed.successor();
            released.note_sent_at = None;
            released.note_claim = None;
            if let Err(release) = self.write_row(&released, claimed.version).await {
                tracing::error!(error = %release, "a failed thank-you's claim could not be released; the note is lost");
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// The message for one side, or `None` if the programme has no contact for them.
    async fn thanks_message(&self, side: Side, note: &ThanksNote) -> Option<OutboundMessage> {
        let to = note.to.as_ref()?;
        let facts = ThanksFacts {
            referrer_name: note.referrer_name.as_deref(),
            friend_name: note.friend_name.as_deref(),
            referrer_reward: &note.referrer_reward,
            friend_reward: &note.friend_reward,
        };
        let notes = self.write_thanks(&facts).await;
        let business = &self.settings.business.name;
        let (text, subject, kind) = match side {
            Side::Referrer => {
                (notes.referrer, format!("Thank you for recommending {business}"), MessageKind::ThankYouReferrer)
            }
            Side::Friend => (notes.friend, format!("Welcome to {business}"), MessageKind::ThankYouFriend),
        };
        Some(match to {
            Recipient::Email(email) => OutboundMessage {
                channel: Channel::Email,
                to: email.to_string(),
                html: Some(email_html(business, &subject, std::slice::from_ref(&text), &[])),
                subject,
                body: text,
                kind,
            },
            Recipient::Sms(phone) => OutboundMessage {
                channel: Channel::Sms,
                to: phone.as_str().to_owned(),
                subject: String::new(),
                body: text,
                html: None,
                kind,
            },
        })
    }

    /// The model's two notes if they pass every check in time, else the templates.
    async fn write_thanks(&self, facts: &ThanksFacts<'_>) -> Thanks {
        let brief = thanks_brief(&self.settings, facts);
        match tokio::time::timeout(self.settings.messages.model_timeout, self.ports.writer.draft(&brief)).await {
            Ok(Ok(draft)) => {
                accept_thanks(&draft, facts, self.settings.messages.max_invite_chars).unwrap_or_else(|| {
                    tracing::warn!("thank-you draft refused; using the templates");
                    thanks_template(&self.settings, facts)
                })
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "thank-you draft failed; using the templates");
                thanks_template(&self.settings, facts)
            }
            Err(_) => {
                tracing::warn!("thank-you draft timed out; using the templates");
                thanks_template(&self.settings, facts)
            }
        }
    }
}

#[cfg(test)]
#[path = "thanks_tests.rs"]
mod tests;
