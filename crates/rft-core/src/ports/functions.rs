//! Services one function calls in another (Lambda invokes in AWS, direct calls locally).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{BoxError, StoreError};
use crate::code::{Code, CodeRecord};
use crate::ids::CustomerId;
use crate::referral::Referral;
use crate::time::Timestamp;

/// A request for a customer's link (`POST /api/links`), identity already hashed by the edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintRequest {
    /// The customer asking for their link.
    pub customer_id: CustomerId,
    /// How their invite confirmations and thank-yous greet them.
    pub first_name: Option<String>,
    /// Where their invite confirmations and thank-yous go.
    pub email: Option<crate::email::Email>,
    /// For an SMS note when there is no email.
    #[serde(default)]
    pub phone: Option<crate::ids::Phone>,
    /// The referrer's hashed identity, kept for the screen.
    pub identity: crate::identity::HashedIdentity,
}

/// A customer's link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minted {
    /// The code and its pinned terms.
    pub record: CodeRecord,
    /// Whether it was minted now (201) or already existed (200).
    pub created: bool,
}

/// A referrer inviting a friend by email (`POST /api/invites`), the friend's email already
/// hashed by the edge for the touch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRequest {
    /// The referrer.
    pub customer_id: CustomerId,
    /// Where the invite goes.
    pub friend_email: crate::email::Email,
    /// The hash of the friend's email identity: the touch is filed under it.
    pub friend_email_hash: crate::identity::IdentityHash,
    /// The friend's name, for the greeting.
    pub friend_name: Option<String>,
}

/// Why minting, retiring or inviting failed.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The referrer has no active code to invite with.
    #[error("the customer has no active code")]
    NoActiveCode,
    /// The referrer sent the day's invites already.
    #[error("at most {limit} invites a day")]
    InviteLimit {
        /// The daily limit.
        limit: u32,
    },
    /// No free code was found (practically impossible: 887 million codes).
    #[error("no free code found after several draws")]
    Exhausted,
    /// A store, the queue, the mailer or the minter itself failed.
    #[error("the minter failed while trying to {op}")]
    Unavailable {
        /// What was being attempted.
        op: &'static str,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

impl From<StoreError> for MintError {
    fn from(e: StoreError) -> Self {
        MintError::Unavailable { op: "use the store", source: Box::new(e) }
    }
}

/// Forgetting a customer (`POST /api/customers/{id}/erase`): in AWS the edge invokes the
/// rewarder (the function allowed to rewrite the ledger); locally a function call.
#[async_trait]
pub trait Erasure: Send + Sync {
    /// Removes or anonymises the customer's personal data; keeps amounts and decisions.
    async fn erase(&self, customer: &CustomerId) -> Result<(), BoxError>;
}

/// Minting, retiring and email invites: `rft-minter` (a Lambda invoke from the edge in AWS, a
/// function call locally).
#[async_trait]
pub trait Minter: Send + Sync {
    /// Returns the customer's active code, minting one if there is none.
    async fn mint(&self, request: &MintRequest) -> Result<Minted, MintError>;
    /// Retires a code; `None` if there is no such code. `by` names the team member who did it
    /// from the console, for the audit (the store's API names nobody).
    async fn retire(&self, code: &Code, by: Option<&crate::email::Email>) -> Result<Option<CodeRecord>, MintError>;
    /// Sends a referrer's invite to a friend and records the email touch.
    async fn invite(&self, request: &InviteRequest) -> Result<(), MintError>;
}

/// A case for the screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenCase {
    /// Sign-up or conversion.
    pub stage: crate::screen::Stage,
    /// The referred customer.
    pub friend_id: CustomerId,
    /// The referrer.
    pub referrer_id: CustomerId,
    /// The code credited.
    pub code: Code,
    /// The friend's hashed identity.
    pub friend: crate::identity::HashedIdentity,
    /// The referrer's hashed identity.
    pub referrer: crate::identity::HashedIdentity,
    /// The friend's email domain.
    pub email_domain: Option<String>,
    /// How the referral was attributed.
    pub method: crate::referral::Method,
    /// When the credited touch happened.
    pub touched_at: Timestamp,
    /// When the event being screened happened.
    pub at: Timestamp,
}

/// The screen could not run; the caller retries (and never pays meanwhile).
#[derive(Debug, thiserror::Error)]
#[error("the screen failed")]
pub struct ScreenError(#[source] pub BoxError);

/// The fraud screen: `rft-screen` (a Lambda invoke in AWS, a function call locally).
#[async_trait]
pub trait Screener: Send + Sync {
    /// Gathers the facts and runs the rules.
    async fn screen(&self, case: &ScreenCase) -> Result<crate::screen::Verdict, ScreenError>;
    /// Emails the team about a held referral, with the two ops links.
    async fn notify_hold(&self, referral: &Referral) -> Result<(), ScreenError>;
}
