//! The ports: small traits the domain needs and the adapters implement (DynamoDB, SQS, SES,
//! Bedrock in AWS; redb, a file outbox and HTTP clients locally). Every store method takes
//! `now` where expiry matters, so expired items are filtered by the code, never left to TTL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::audit::AuditEvent;
use crate::click::{Click, TouchKey};
use crate::code::{Code, CodeRecord};
use crate::identity::{IdentityHash, IdentityKey};
use crate::ids::{CustomerId, ReferralId};
use crate::jobs::{Delivery, Job};
use crate::ledger::{LedgerRow, RewardCommit, Side};
use crate::money::Reward;
use crate::referral::{Referral, ReviewQueue};
use crate::time::Timestamp;

/// Any underlying error, kept as a source rather than flattened to a string.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error and its sources as one line, for logs and cross-function replies.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A store could not do what was asked, for reasons that are not the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed or could not be reached; retrying may help.
    #[error("storage failed while trying to {op}")]
    Unavailable {
        /// What was being attempted.
        op: &'static str,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// An item exists but cannot be decoded.
    #[error("stored item {key} could not be decoded")]
    Corrupt {
        /// The item's key.
        key: String,
        /// The decoding error.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// Wraps a backend failure.
    pub fn unavailable(op: &'static str, source: impl Into<BoxError>) -> Self {
        StoreError::Unavailable { op, source: source.into() }
    }

    /// Wraps a decoding failure.
    pub fn corrupt(key: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Corrupt { key: key.into(), source: source.into() }
    }
}

/// Why a code could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another referrer already owns this code: draw again.
    #[error("the code is already taken")]
    CodeTaken,
    /// The customer already has an active code (a concurrent mint won): use that one.
    #[error("the customer already has active code {0}")]
    CustomerHasActiveCode(Code),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Codes, their owners and pinned terms (`rft-codes`).
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Claims a fresh code, atomically with the rule "one active code per customer".
    async fn claim(&self, record: &CodeRecord) -> Result<(), ClaimError>;
    /// Reads a code.
    async fn get(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError>;
    /// The customer's active code, read consistently.
    async fn active_code_of(&self, customer: &CustomerId) -> Result<Option<CodeRecord>, StoreError>;
    /// Every code the customer ever had, oldest first.
    async fn codes_of(&self, customer: &CustomerId) -> Result<Vec<CodeRecord>, StoreError>;
    /// Retires a code (idempotent); `None` if there is no such code.
    async fn retire(&self, code: &Code, at: Timestamp) -> Result<Option<CodeRecord>, StoreError>;
    /// Erasure: the code is retired, its owner replaced by `opaque` and their profile cleared,
    /// and the owner's active-code guard removed.
    async fn forget_referrer(&self, code: &Code, opaque: &CustomerId, at: Timestamp) -> Result<(), StoreError>;
}

/// The click log (`rft-clicks`): one write per click, read at sign-up.
#[async_trait]
pub trait ClickStore: Send + Sync {
    /// Logs a click (or an email invite).
    async fn record(&self, click: &Click) -> Result<(), StoreError>;
    /// The unexpired touches filed under `key`, newest first.
    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError>;
    /// How many unexpired clicks a code received at or after `since` (velocity).
    async fn count_for_code(&self, code: &Code, since: Timestamp, now: Timestamp) -> Result<u64, StoreError>;
    /// A code's unexpired clicks at or after `since`, oldest first, as (time, channel) pairs
    /// (the referrer's stats).
    async fn clicks_of_code(
        &self,
        code: &Code,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<String>)>, StoreError>;
    /// Erasure: deletes every touch filed under `key`; returns how many.
    async fn forget(&self, key: &TouchKey) -> Result<usize, StoreError>;
    /// The newest unexpired click from a browser (IP and user agent hash) at or after `since`.
    async fn latest_from_browser(
        &self,
        browser: &IdentityHash,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Click>, StoreError>;
}

/// What opening a referral did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A new referral was created with all its claims.
    Created,
    /// The person was already claimed: this is their referral (it never pays twice).
    Existing(Box<Referral>),
}

/// A conditional write lost to a concurrent one.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The item changed since it was read (version mismatch) or is gone.
    #[error("the item changed since it was read")]
    Conflict,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Referrals and the identity claims that map a person to one referral (`rft-referrals`).
#[async_trait]
pub trait ReferralStore: Send + Sync {
    /// Opens a referral under all its identity claims and writes its audit row, atomically.
    /// If any claim is held already, nothing new is created: the claim's referral is
    /// returned and the new keys are added to it, so the person maps to one referral.
    async fn open(&self, referral: &Referral, claims: &[IdentityKey], audit: &AuditEvent)
    -> Result<Opened, StoreError>;
    /// Reads a referral.
    async fn get(&self, id: &ReferralId) -> Result<Option<Referral>, StoreError>;
    /// The referral claimed under an identity key.
    async fn find(&self, key: &IdentityKey) -> Result<Option<Referral>, StoreError>;
    /// Writes a changed referral if its stored version is still `expected_version`, with an
    /// optional audit row in the same transaction.
    async fn save(
        &self,
        referral: &Referral,
        expected_version: u64,
        audit: Option<&AuditEvent>,
    ) -> Result<(), WriteError>;
    /// Erasure: deletes every identity claim a customer's sign-ups created; returns how many.
    async fn forget_claims(&self, claimant: &CustomerId) -> Result<usize, StoreError>;
    /// Every referral crediting a referrer, oldest first (the referrer's stats).
    async fn referrals_of(&self, referrer: &CustomerId) -> Result<Vec<Referral>, StoreError>;
    /// Referrals in a review queue whose queue time is at or before `until`, oldest first.
    async fn queue(&self, queue: ReviewQueue, until: Timestamp, limit: usize) -> Result<Vec<Referral>, StoreError>;
}

/// Why a payout could not be committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The referral moved since it was read (another delivery paid or decided it).
    #[error("the referral changed since it was read")]
    Stale,
    /// A ledger row for this referral already exists.
    #[error("this referral is already in the ledger")]
    AlreadyPaid,
    /// The referrer's tally moved (a concurrent payout): re-read it and try again.
    #[error("the referrer's tally moved")]
    TallyMoved,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The rewards ledger (`rft-rewards`).
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Commits a payout as one transaction (see [`RewardCommit`]).
    async fn commit_reward(&self, commit: &RewardCommit) -> Result<(), CommitError>;
    /// The ledger rows of a referral, referrer first.
    async fn rows(&self, referral: &ReferralId) -> Result<Vec<LedgerRow>, StoreError>;
    /// Writes a changed row if its stored version is still `expected_version`.
    async fn save_row(&self, row: &LedgerRow, expected_version: u64) -> Result<(), WriteError>;
    /// How many rewarded referrals a referrer has.
    async fn tally(&self, referrer: &CustomerId) -> Result<u32, StoreError>;
    /// Every ledger row paying a customer (either side), oldest first.
    async fn rows_of(&self, customer: &CustomerId) -> Result<Vec<LedgerRow>, StoreError>;
}

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

/// Why a counter was not incremented.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// The counter is at its limit.
    #[error("the limit of {limit} is reached")]
    LimitReached {
        /// The limit.
        limit: u32,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Named counters that expire: daily quotas and velocity buckets.
#[async_trait]
pub trait Counters: Send + Sync {
    /// Adds one to `key` unless it already reached `limit`, and returns the new count. A counter
    /// past `expires_at` counts as zero (and restarts with this expiry).
    async fn increment(
        &self,
        key: &str,
        limit: Option<u32>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u32, CountError>;
    /// The counter's value at `now` (zero if absent or expired).
    async fn count(&self, key: &str, now: Timestamp) -> Result<u32, StoreError>;
}

/// The response given to a signed request, kept so a replay gets the same answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

/// What `begin` found for a webhook id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// First time: the caller now holds it and must `finish` or `abandon`.
    Fresh,
    /// Another delivery of the same id is being handled right now.
    InFlight,
    /// Already handled: answer the same again, do nothing.
    Done(StoredResponse),
}

/// How long processed webhook ids are remembered (stores retry for days).
pub const WEBHOOK_MEMORY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Processed webhook ids, so a replay is acknowledged and has no second effect.
#[async_trait]
pub trait WebhookLog: Send + Sync {
    /// Claims an id for `lease` (a crashed holder's claim lapses), or reports its state.
    async fn begin(&self, id: &str, now: Timestamp, lease: Duration) -> Result<Begin, StoreError>;
    /// Records the answer given; remembered for [`WEBHOOK_MEMORY`].
    async fn finish(&self, id: &str, response: &StoredResponse, now: Timestamp) -> Result<(), StoreError>;
    /// Releases a claim after a failure, so the store's retry is processed afresh.
    async fn abandon(&self, id: &str) -> Result<(), StoreError>;
}

/// A queue could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[error("queue failed while trying to {op}")]
pub struct QueueError {
    /// What was being attempted.
    pub op: &'static str,
    /// The backend's error.
    #[source]
    pub source: BoxError,
}

impl QueueError {
    /// Wraps a backend failure.
    pub fn new(op: &'static str, source: impl Into<BoxError>) -> Self {
        QueueError { op, source: source.into() }
    }
}

/// A durable job queue with visibility timeouts and a dead-letter queue after
/// [`crate::jobs::MAX_RECEIVES`] receives (SQS in AWS, redb locally).
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues a job durably.
    async fn send(&self, job: &Job) -> Result<(), QueueError>;
    /// Takes up to `max` visible jobs, hiding each for `visibility`.
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, QueueError>;
    /// Acknowledges (deletes) a delivered job.
    async fn ack(&self, receipt: &str) -> Result<(), QueueError>;
    /// Takes up to `max` dead-lettered jobs off the DLQ (for inspection and redrive).
    async fn dead_letters(&self, max: usize) -> Result<Vec<Job>, QueueError>;
}

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

/// What the store's reward endpoint is asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FulfilmentRequest {
    /// The referral paid.
    pub referral_id: ReferralId,
    /// Which side.
    pub side: Side,
    /// Who receives it.
    pub customer_id: CustomerId,
    /// What.
    pub reward: Reward,
}

impl FulfilmentRequest {
    /// `<referral_id>:<side>`, sent as `Idempotency-Key`.
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", self.referral_id, self.side.as_str())
    }
}

/// The store acknowledged a reward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FulfilOutcome {
    /// 2xx: applied now.
    Applied,
    /// 409: it had applied it before.
    AlreadyApplied,
}

/// A fulfilment attempt failed; it will be retried with backoff.
#[derive(Debug, thiserror::Error)]
#[error("the store's reward endpoint failed{}", status.map(|s| format!(" with HTTP {s}")).unwrap_or_default())]
pub struct FulfilError {
    /// HTTP status, if the store answered.
    pub status: Option<u16>,
    /// Transport error or timeout, if it did not.
    #[source]
    pub source: Option<BoxError>,
}

/// The store's reward endpoint.
#[async_trait]
pub trait RewardClient: Send + Sync {
    /// Asks the store to apply one side's reward (idempotent by key).
    async fn fulfil(&self, request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError>;
}

/// The six stores over one backend, as the services use them.
#[derive(Clone)]
pub struct Stores {
    /// `rft-codes`.
    pub codes: Arc<dyn CodeStore>,
    /// `rft-clicks`.
    pub clicks: Arc<dyn ClickStore>,
    /// `rft-referrals`.
    pub referrals: Arc<dyn ReferralStore>,
    /// `rft-rewards`.
    pub ledger: Arc<dyn LedgerStore>,
    /// `rft-audit`.
    pub audit: Arc<dyn AuditStore>,
    /// Processed webhook ids.
    pub webhooks: Arc<dyn WebhookLog>,
    /// Quotas and velocity counters.
    pub counters: Arc<dyn Counters>,
}

impl Stores {
    /// All six ports from one backend that implements them all.
    pub fn from_backend<S>(backend: Arc<S>) -> Self
    where
        S: CodeStore + ClickStore + ReferralStore + LedgerStore + AuditStore + WebhookLog + Counters + 'static,
    {
        Stores {
            codes: backend.clone(),
            clicks: backend.clone(),
            referrals: backend.clone(),
            ledger: backend.clone(),
            audit: backend.clone(),
            webhooks: backend.clone(),
            counters: backend,
        }
    }
}

/// A request for a customer's link (`POST /api/links`), identity already hashed by the edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintRequest {
    /// The referrer.
    pub customer_id: CustomerId,
    /// For notes.
    pub first_name: Option<String>,
    /// For notes.
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
    /// Retires a code; `None` if there is no such code.
    async fn retire(&self, code: &Code) -> Result<Option<CodeRecord>, MintError>;
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
