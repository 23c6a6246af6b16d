//! Email, SMS and the model that writes words.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::BoxError;

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// SES, or the outbox locally.
    Email,
    /// SNS, or the outbox locally.
    Sms,
}

/// Why a message is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A referrer's invite to a friend (the email bridge).
    Invite,
    /// The referrer's confirmation that the invite went.
    InviteConfirmation,
    /// Thanks to the referrer.
    ThankYouReferrer,
    /// Welcome and thanks to the friend.
    ThankYouFriend,
    /// To the team: a referral is held.
    HoldReview,
    /// To the team: a rewarded order was refunded.
    RefundReview,
    /// To the team: a reward could not be fulfilled.
    FulfilmentParked,
    /// To the team: a queued job can never succeed.
    JobDropped,
    /// To a team member: a single-use sign-in link to the owner's console.
    ConsoleSignIn,
}

/// One email or SMS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// Email or SMS.
    pub channel: Channel,
    /// Address or phone number.
    pub to: String,
    /// Subject (empty for SMS).
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// Email-safe HTML part, if any.
    pub html: Option<String>,
    /// Why it is sent.
    pub kind: MessageKind,
}

/// A message could not be handed to the provider.
#[derive(Debug, thiserror::Error)]
#[error("could not send the {kind:?} message")]
pub struct MessageError {
    /// Which message.
    pub kind: MessageKind,
    /// The provider's error.
    #[source]
    pub source: BoxError,
}

/// Email and SMS.
#[async_trait]
pub trait Messenger: Send + Sync {
    /// Sends one message.
    async fn send(&self, message: &OutboundMessage) -> Result<(), MessageError>;
}

/// A brief for the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DraftRequest {
    /// Standing instructions (voice, rules).
    pub system: String,
    /// The specific ask.
    pub prompt: String,
    /// Output budget.
    pub max_tokens: u32,
}

/// The model failed or said nothing usable.
#[derive(Debug, thiserror::Error)]
#[error("the text writer failed")]
pub struct WriterError(#[source] pub BoxError);

/// The small model that writes invites and thank-yous (words only, never numbers or links).
#[async_trait]
pub trait TextWriter: Send + Sync {
    /// Writes a draft; the caller validates it and falls back to a template.
    async fn draft(&self, request: &DraftRequest) -> Result<String, WriterError>;
}
