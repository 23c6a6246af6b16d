//! The reward (`rft-rewarder`): a clean conversion flips the referral and writes both ledger
//! rows in one transaction; fulfilment through the store and the thank-you notes follow as
//! separate, idempotent, retried steps. Refunds flag a person; ops decisions land here too.
//! Every step can be repeated: a duplicate, reordered or redelivered job never pays twice, and
//! finishes whatever an earlier delivery left unfinished.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};
use crate::identity::{HashedIdentity, IdentityKey};
use crate::ids::{CustomerId, ReferralId, random_base32};
use crate::jobs::{ConversionJob, DecisionJob, Job, RefundJob};
use crate::ledger::{Fulfilment, Lease, LedgerRow, RewardCommit, Side, TallyStep};
use crate::links::{Action, LinkSigner, decision_url, queue_url};
use crate::messages::{ThanksFacts, accept_thanks, email_html, thanks_brief, thanks_template};
use crate::ports::{
    AuditStore, Channel, CodeStore, CommitError, CountError, Counters, FulfilOutcome, FulfilmentRequest, LedgerStore,
    MessageError, MessageKind, Messenger, OutboundMessage, ReferralStore, RewardClient, ScreenCase, ScreenError,
    Screener, StoreError, TextWriter, WriteError,
};
use crate::referral::{ConversionFacts, Flag, Outcome, Referral, ReferralState, StateEvent};
use crate::screen::{Stage, Verdict};
use crate::service::velocity::{self, CONVERSIONS_PER_REFERRER, DAY};
use crate::settings::Settings;
use crate::time::{Clock, Timestamp};

/// How hard to try the store's reward endpoint.
#[derive(Clone, Debug)]
pub struct FulfilPolicy {
    /// Attempts within one delivery of the job (with backoff between them).
    pub attempts_per_delivery: u32,
    /// Attempts in all before the row is parked for a person.
    pub max_attempts: u32,
    /// The first backoff; each later one is four times longer.
    pub first_backoff: Duration,
    /// How long one delivery holds a row while it calls the store.
    pub lease: Duration,
}

impl Default for FulfilPolicy {
    fn default() -> Self {
        FulfilPolicy {
            attempts_per_delivery: 3,
            max_attempts: 9,
            first_backoff: Duration::from_millis(250),
            lease: Duration::from_secs(60),
        }
    }
}

/// Why a reward job must be retried (the queue redelivers it; after five receives it is parked
/// in the dead-letter queue for a person, never dropped).
#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The screen failed.
    #[error(transparent)]
    Screen(#[from] ScreenError),
    /// A message could not be sent.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The conversion arrived before its sign-up was attributed.
    #[error("no referral for customer {0} yet; the sign-up may not be attributed yet")]
    NotYetAttributed(CustomerId),
    /// Another delivery is working on this referral right now.
    #[error("another delivery is working on this referral")]
    InProgress,
    /// The store has not acknowledged a reward yet; it will be tried again.
    #[error("the store has not acknowledged every reward yet")]
    FulfilmentPending,
    /// Lost too many races in a row.
    #[error("the referral kept changing under this delivery")]
    Contended,
}

/// The rewarder.
pub struct Rewarder {
    ports: RewarderPorts,
    settings: Arc<Settings>,
    policy: FulfilPolicy,
}

/// The ports a rewarder needs.
pub struct RewarderPorts {
    /// Codes (the referrer's contact and identity).
    pub codes: Arc<dyn CodeStore>,
    /// Referrals.
    pub referrals: Arc<dyn ReferralStore>,
    /// The ledger.
    pub ledger: Arc<dyn LedgerStore>,
    /// The audit.
    pub audit: Arc<dyn AuditStore>,
    /// Velocity counters.
    pub counters: Arc<dyn Counters>,
    /// The screen.
    pub screener: Arc<dyn Screener>,
    /// The store's reward endpoint.
    pub store: Arc<dyn RewardClient>,
    /// Email and SMS.
    pub messenger: Arc<dyn Messenger>,
    /// The model, for thank-yous.
    pub writer: Arc<dyn TextWriter>,
    /// Signs ops links in refund emails.
    pub links: LinkSigner,
    /// Now.
    pub clock: Arc<dyn Clock>,
}

const RACE_ROUNDS: usize = 6;

impl Rewarder {
    /// A rewarder over its ports.
    pub fn new(ports: RewarderPorts, settings: Arc<Settings>, policy: FulfilPolicy) -> Self {
        Rewarder { ports, settings, policy }
    }

    /// Handles one job from the reward queue.
    pub async fn handle(&self, job: Job) -> Result<(), RewardError> {
        match job {
            Job::Conversion(c) => self.conversion(&c).await,
            Job::Refund(r) => self.refund(&r).await,
            Job::Decision(d) => self.decision(&d).await,
            Job::Signup(_) => {
                tracing::error!("a sign-up job reached the reward queue; dropping it would lose it, so it is refused");
                Err(RewardError::Contended)
            }
        }
    }

    async fn append(&self, event: AuditEvent) {
        if let Err(e) = self.ports.audit.append(&event).await {
            tracing::error!(error = %e, kind = ?event.kind, subject = %event.subject, "audit row failed");
        }
    }

    // ---- conversions ----------------------------------------------------------------------

    /// A genuine first purchase.
    pub async fn conversion(&self, job: &ConversionJob) -> Result<(), RewardError> {
        let now = self.ports.clock.now();
        let Some(referral) = self.ports.referrals.find(&IdentityKey::Customer(job.customer_id.clone())).await? else {
            let history = self.ports.audit.events_for(job.customer_id.as_str()).await?;
            if history.iter().any(|e| e.kind == AuditKind::Unattributed) {
                let facts = json!({ "reason": "unattributed", "order_id": job.order_id, "webhook_id": job.webhook_id });
                self.append(AuditEvent::new(AuditKind::NotPaid, job.customer_id.as_str(), now, facts)).await;
                return Ok(());
            }
            return Err(RewardError::NotYetAttributed(job.customer_id.clone()));
        };
        let conversion = ConversionFacts {
            order_id: job.order_id.clone(),
            amount_minor: job.amount_minor,
            currency: job.currency.clone(),
            occurred_at: job.occurred_at.min(now),
        };
        let mut referral = referral;
        for _ in 0..RACE_ROUNDS {
            match self.convert_once(referral.clone(), &conversion, &job.identity, job).await {
                Err(Retry::Reload) => {
                    referral = self.ports.referrals.get(&referral.referral_id).await?.ok_or(RewardError::Contended)?;
                }
                Err(Retry::Failed(e)) => return Err(e),
                Ok(()) => return Ok(()),
            }
        }
        Err(RewardError::Contended)
    }

    async fn convert_once(
        &self,
        referral: Referral,
        conversion: &ConversionFacts,
        identity: &HashedIdentity,
        job: &ConversionJob,
    ) -> Result<(), Retry> {
        let now = self.ports.clock.now();
        let not_paid = |reason: &str| {
            let facts = json!({ "reason": reason, "order_id": job.order_id, "customer_id": job.customer_id, "webhook_id": job.webhook_id });
            AuditEvent::new(AuditKind::NotPaid, referral.referral_id.as_str(), now, facts)
        };
        match referral.state {
            ReferralState::Rewarded => return Ok(self.finish(&referral).await?),
            ReferralState::Held => {
                // Kept for the person deciding: approving pays if the friend has converted.
                if referral.conversion.is_none() {
                    let mut noted = referral.clone();
                    noted.conversion = Some(conversion.clone());
                    noted.friend.identity.merge(identity);
                    noted.version += 1;
                    noted.updated_at = now;
                    self.save(&noted, referral.version, Some(&not_paid("held"))).await?;
                }
                return Ok(());
            }
            ReferralState::Blocked | ReferralState::Rejected | ReferralState::Expired => {
                self.append(not_paid(referral.state.as_str())).await;
                return Ok(());
            }
            ReferralState::Pending => {}
        }
        if conversion.occurred_at >= referral.expires_at {
            let mut expired = referral.clone();
            expired.apply(StateEvent::Expire, now).map_err(|_| Retry::Reload)?;
            expired.version += 1;
            let facts = json!({ "reason": "converted after the window", "order_id": job.order_id, "expires_at": referral.expires_at });
            self.save(
                &expired,
                referral.version,
                Some(&AuditEvent::new(AuditKind::Expired, referral.referral_id.as_str(), now, facts)),
            )
            .await?;
            self.append(not_paid("expired")).await;
            return Ok(());
        }
        let mut screened = referral.clone();
        screened.friend.identity.merge(identity);
        screened.conversion = Some(conversion.clone());
        let verdict = self.screen_conversion(&screened, conversion).await?;
        match verdict.outcome {
            Outcome::Pass => self.pay(screened, referral.version, StateEvent::Convert, &verdict).await,
            outcome => {
                let (event, kind) = if outcome == Outcome::Block {
                    (StateEvent::Block, AuditKind::Blocked)
                } else {
                    (StateEvent::Hold, AuditKind::Held)
                };
                screened.apply(event, now).map_err(|_| Retry::Reload)?;
                screened.evidence.extend(verdict.evidence.iter().cloned());
                screened.version += 1;
                let facts = json!({ "stage": "conversion", "verdict": verdict, "order_id": job.order_id, "identity": identity });
                self.save(
                    &screened,
                    referral.version,
                    Some(&AuditEvent::new(kind, referral.referral_id.as_str(), now, facts)),
                )
                .await?;
                if screened.state == ReferralState::Held {
                    self.notify_hold(screened).await?;
                }
                Ok(())
            }
        }
    }

    /// Screens a conversion; rules a person already cleared on this referral are ignored.
    async fn screen_conversion(
        &self,
        referral: &Referral,
        conversion: &ConversionFacts,
    ) -> Result<Verdict, RewardError> {
        let code = self.ports.codes.get(&referral.code).await?;
        // Count each referral's conversion once for velocity, however often it is delivered.
        let first_delivery = match self
            .ports
            .counters
            .increment(
                &format!("converted#{}", referral.referral_id),
                Some(1),
                conversion.occurred_at.plus(DAY * 2),
                self.ports.clock.now(),
            )
            .await
        {
            Ok(_) => true,
            Err(CountError::LimitReached { .. }) => false,
            Err(CountError::Store(e)) => return Err(e.into()),
        };
        if first_delivery {
            velocity::record(
                self.ports.counters.as_ref(),
                CONVERSIONS_PER_REFERRER,
                referral.referrer_id.as_str(),
                DAY,
                conversion.occurred_at,
            )
            .await?;
        }
        let case = ScreenCase {
            stage: Stage::Conversion,
            friend_id: referral.referred_id.clone(),
            referrer_id: referral.referrer_id.clone(),
            code: referral.code.clone(),
            friend: referral.friend.identity.clone(),
            referrer: code.map(|c| c.referrer.identity).unwrap_or_default(),
            email_domain: referral.friend.email.as_ref().map(|e| e.domain().to_owned()),
            method: referral.method,
            touched_at: referral.touched_at,
            at: conversion.occurred_at,
        };
        let mut verdict = self.ports.screener.screen(&case).await?;
        verdict.evidence.retain(|e| !referral.cleared_rules.contains(&e.rule));
        verdict.outcome = verdict.evidence.iter().map(|e| e.outcome).max().unwrap_or(Outcome::Pass);
        Ok(verdict)
    }

    /// Commits the payout (flip, both rows at the pinned amounts and the referrer's tier, the
    /// tally step, the audit row) as one transaction, then finishes it.
    async fn pay(
        &self,
        referral: Referral,
        expected_version: u64,
        event: StateEvent,
        verdict: &Verdict,
    ) -> Result<(), Retry> {
        for _ in 0..RACE_ROUNDS {
            let now = self.ports.clock.now();
            let tally = self.ports.ledger.tally(&referral.referrer_id).await.map_err(RewardError::from)?;
            let nth = tally + 1;
            let mut paid = referral.clone();
            paid.apply(event, now).map_err(|_| Retry::Reload)?;
            paid.version = expected_version + 1;
            let rows = [
                LedgerRow::owed(
                    paid.referral_id.clone(),
                    Side::Referrer,
                    paid.referrer_id.clone(),
                    paid.terms.referrer_reward_for(nth),
                    Some(nth),
                    now,
                ),
                LedgerRow::owed(
                    paid.referral_id.clone(),
                    Side::Friend,
                    paid.referred_id.clone(),
                    paid.terms.friend_reward.clone(),
                    None,
                    now,
                ),
            ];
            let facts = json!({ "conversion": paid.conversion, "verdict": verdict, "rows": rows, "referrer_nth": nth });
            let commit = RewardCommit {
                referral: paid.clone(),
                expected_version,
                rows,
                tally: TallyStep { referrer_id: paid.referrer_id.clone(), expected: tally },
                audit: AuditEvent::new(AuditKind::Paid, paid.referral_id.as_str(), now, facts),
            };
            match self.ports.ledger.commit_reward(&commit).await {
                Ok(()) => {
                    let forever = Timestamp::from_secs(i64::MAX / 2000);
                    let key = crate::service::attribute::PROGRAMME_CONVERSIONS;
                    if let Err(e) = self.ports.counters.increment(key, None, forever, now).await {
                        tracing::warn!(error = %e, "programme counter not updated");
                    }
                    return Ok(self.finish(&paid).await?);
                }
                Err(CommitError::TallyMoved) => continue,
                Err(CommitError::Stale) | Err(CommitError::AlreadyPaid) => return Err(Retry::Reload),
                Err(CommitError::Store(e)) => return Err(Retry::Failed(e.into())),
            }
        }
        Err(Retry::Failed(RewardError::Contended))
    }

    // ---- fulfilment and notes ---------------------------------------------------------------

    /// Fulfils every owed row, then sends the thank-yous once both sides are fulfilled.
    async fn finish(&self, referral: &Referral) -> Result<(), RewardError> {
        let mut pending = false;
        for side in [Side::Referrer, Side::Friend] {
            match self.fulfil(referral, side).await {
                Ok(()) => {}
                Err(RewardError::FulfilmentPending | RewardError::InProgress) => pending = true,
                Err(e) => return Err(e),
            }
        }
        if pending {
            return Err(RewardError::FulfilmentPending);
        }
        let rows = self.ports.ledger.rows(&referral.referral_id).await?;
        if rows.iter().all(|r| matches!(r.fulfilment, Fulfilment::Fulfilled { .. })) {
            self.send_thanks(referral).await?;
        }
        Ok(())
    }

    async fn row(&self, referral: &ReferralId, side: Side) -> Result<LedgerRow, RewardError> {
        let rows = self.ports.ledger.rows(referral).await?;
        rows.into_iter().find(|r| r.side == side).ok_or(RewardError::Contended)
    }

    /// Tries one row against the store, a few times with backoff; parks it after the budget.
    async fn fulfil(&self, referral: &Referral, side: Side) -> Result<(), RewardError> {
        let holder = random_base32();
        let mut backoff = self.policy.first_backoff;
        for _ in 0..self.policy.attempts_per_delivery {
            let now = self.ports.clock.now();
            let row = self.row(&referral.referral_id, side).await?;
            let attempts = match &row.fulfilment {
                Fulfilment::Fulfilled { .. } | Fulfilment::Parked { .. } => return Ok(()),
                Fulfilment::Owing { attempts, .. } => *attempts,
            };
            if row.fulfil_lease.as_ref().is_some_and(|l| l.until > now && l.holder != holder) {
                return Err(RewardError::InProgress);
            }
            let mut claimed = row.clone();
            claimed.fulfil_lease = Some(Lease { holder: holder.clone(), until: now.plus(self.policy.lease) });
            claimed.version += 1;
            if !self.write_row(&claimed, row.version).await? {
                continue;
            }
            let request = FulfilmentRequest {
                referral_id: row.referral_id.clone(),
                side,
                customer_id: row.customer_id.clone(),
                reward: row.reward.clone(),
            };
            let outcome = self.ports.store.fulfil(&request).await;
            let mut done = claimed.clone();
            done.fulfil_lease = None;
            done.version += 1;
            let attempts = attempts + 1;
            let finished = match outcome {
                Ok(FulfilOutcome::Applied | FulfilOutcome::AlreadyApplied) => {
                    done.fulfilment = Fulfilment::Fulfilled { at: self.ports.clock.now(), attempts };
                    true
                }
                Err(e) if attempts >= self.policy.max_attempts => {
                    let reason = crate::ports::error_chain(&e);
                    done.fulfilment = Fulfilment::Parked { attempts, reason: reason.clone() };
                    self.save_row(&done, claimed.version).await?;
                    self.park(referral, &done, &reason).await;
                    return Ok(());
                }
                Err(e) => {
                    let reason = crate::ports::error_chain(&e);
                    tracing::warn!(referral = %row.referral_id, side = side.as_str(), attempts, error = %reason, "the store did not acknowledge the reward");
                    done.fulfilment = Fulfilment::Owing {
                        attempts,
                        next_attempt_at: self.ports.clock.now().plus(backoff),
                        last_error: Some(reason),
                    };
                    false
                }
            };
            self.save_row(&done, claimed.version).await?;
            if finished {
                return Ok(());
            }
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(4);
        }
        Err(RewardError::FulfilmentPending)
    }

    /// Writes a row under its version condition; false when someone else moved it first.
    async fn write_row(&self, row: &LedgerRow, expected: u64) -> Result<bool, RewardError> {
        match self.ports.ledger.save_row(row, expected).await {
            Ok(()) => Ok(true),
            // A client retry of a write whose answer was lost fails its own condition: if the
            // stored row is exactly ours, it landed.
            Err(WriteError::Conflict) => Ok(self.row(&row.referral_id, row.side).await? == *row),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }

    async fn save_row(&self, row: &LedgerRow, expected: u64) -> Result<(), RewardError> {
        match self.write_row(row, expected).await? {
            true => Ok(()),
            // Someone else moved the row (a lapsed lease taken over); their write stands.
            false => Err(RewardError::InProgress),
        }
    }

    /// A row the store would not take: audited and put in front of a person, still owing.
    async fn park(&self, referral: &Referral, row: &LedgerRow, reason: &str) {
        let now = self.ports.clock.now();
        let facts = json!({ "side": row.side, "customer_id": row.customer_id, "reward": row.reward, "reason": reason });
        self.append(AuditEvent::new(AuditKind::FulfilmentParked, referral.referral_id.as_str(), now, facts)).await;
        let subject = format!("Reward not fulfilled: {} ({})", referral.referral_id, row.side.as_str());
        let lines = vec![
            format!(
                "The store's reward endpoint did not accept the {} reward for referral {}.",
                row.side.as_str(),
                referral.referral_id
            ),
            format!("Customer: {}. Reward: {}.", row.customer_id, row.reward.description),
            format!("Last error: {reason}"),
            format!(
                "It stays owed in the ledger; apply it in the store with Idempotency-Key {}.",
                row.idempotency_key()
            ),
        ];
        let message = OutboundMessage {
            channel: Channel::Email,
            to: self.settings.team.email.to_string(),
            subject: subject.clone(),
            body: lines.join("\n"),
            html: Some(email_html(&self.settings.business.name, &subject, &lines, &[])),
            kind: MessageKind::FulfilmentParked,
        };
        if let Err(e) = self.ports.messenger.send(&message).await {
            tracing::error!(error = %e, "could not email the team about a parked reward");
        }
    }

    /// Sends each side's thank-you once (a lease per row keeps concurrent deliveries apart).
    async fn send_thanks(&self, referral: &Referral) -> Result<(), RewardError> {
        let holder = random_base32();
        let now = self.ports.clock.now();
        let mut claimed = Vec::new();
        for side in [Side::Referrer, Side::Friend] {
            let row = self.row(&referral.referral_id, side).await?;
            if row.note_sent_at.is_some() {
                continue;
            }
            if row.note_lease.as_ref().is_some_and(|l| l.until > now) {
                return Err(RewardError::InProgress);
            }
            let mut mine = row.clone();
            mine.note_lease = Some(Lease { holder: holder.clone(), until: now.plus(self.policy.lease) });
            mine.version += 1;
            self.save_row(&mine, row.version).await?;
            claimed.push(mine);
        }
        if claimed.is_empty() {
            return Ok(());
        }
        let code = self.ports.codes.get(&referral.code).await?;
        let referrer = code.map(|c| c.referrer).unwrap_or_default();
        let rows = self.ports.ledger.rows(&referral.referral_id).await?;
        let reward =
            |side| rows.iter().find(|r| r.side == side).map(|r| r.reward.description.clone()).unwrap_or_default();
        let (referrer_reward, friend_reward) = (reward(Side::Referrer), reward(Side::Friend));
        let facts = ThanksFacts {
            referrer_name: referrer.first_name.as_deref(),
            friend_name: referral.friend.first_name.as_deref(),
            referrer_reward: &referrer_reward,
            friend_reward: &friend_reward,
        };
        let notes = self.write_thanks(&facts).await;
        let business = &self.settings.business.name;
        for mut row in claimed {
            let (text, email, phone, subject, kind) = match row.side {
                Side::Referrer => (
                    &notes.referrer,
                    referrer.email.as_ref(),
                    referrer.phone.as_ref(),
                    format!("Thank you for recommending {business}"),
                    MessageKind::ThankYouReferrer,
                ),
                Side::Friend => (
                    &notes.friend,
                    referral.friend.email.as_ref(),
                    referral.friend.phone.as_ref(),
                    format!("Welcome to {business}"),
                    MessageKind::ThankYouFriend,
                ),
            };
            let message = match (email, phone) {
                (Some(e), _) => Some(OutboundMessage {
                    channel: Channel::Email,
                    to: e.to_string(),
                    html: Some(email_html(business, &subject, std::slice::from_ref(text), &[])),
                    subject,
                    body: text.clone(),
                    kind,
                }),
                (None, Some(p)) => Some(OutboundMessage {
                    channel: Channel::Sms,
                    to: p.as_str().to_owned(),
                    subject: String::new(),
                    body: text.clone(),
                    html: None,
                    kind,
                }),
                (None, None) => None,
            };
            if let Some(m) = &message {
                self.ports.messenger.send(m).await?;
            }
            let expected = row.version;
            row.note_sent_at = Some(self.ports.clock.now());
            row.note_lease = None;
            row.version += 1;
            self.save_row(&row, expected).await?;
        }
        Ok(())
    }

    async fn write_thanks(&self, facts: &ThanksFacts<'_>) -> crate::messages::Thanks {
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

    // ---- holds, refunds and decisions -----------------------------------------------------

    async fn save(&self, referral: &Referral, expected: u64, audit: Option<&AuditEvent>) -> Result<(), Retry> {
        match self.ports.referrals.save(referral, expected, audit).await {
            Ok(()) => Ok(()),
            Err(WriteError::Conflict) => Err(Retry::Reload),
            Err(WriteError::Store(e)) => Err(Retry::Failed(e.into())),
        }
    }

    async fn notify_hold(&self, referral: Referral) -> Result<(), RewardError> {
        if referral.review_notified_at.is_some() {
            return Ok(());
        }
        self.ports.screener.notify_hold(&referral).await?;
        let mut marked = referral.clone();
        marked.review_notified_at = Some(self.ports.clock.now());
        marked.version += 1;
        match self.ports.referrals.save(&marked, referral.version, None).await {
            Ok(()) | Err(WriteError::Conflict) => Ok(()),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }

    /// An order refunded: after a reward, the referral is flagged for a person and the team
    /// is emailed; nothing is clawed back. Any other refund is audited.
    pub async fn refund(&self, job: &RefundJob) -> Result<(), RewardError> {
        let now = self.ports.clock.now();
        let found = self.ports.referrals.find(&IdentityKey::Customer(job.customer_id.clone())).await?;
        let rewarded = found.filter(|r| {
            r.state == ReferralState::Rewarded && r.conversion.as_ref().is_some_and(|c| c.order_id == job.order_id)
        });
        let Some(referral) = rewarded else {
            let facts = json!({ "order_id": job.order_id, "webhook_id": job.webhook_id, "reason": "not a rewarded referral's converting order" });
            self.append(AuditEvent::new(AuditKind::RefundIgnored, job.customer_id.as_str(), now, facts)).await;
            return Ok(());
        };
        let referral = if referral.flags.contains(&Flag::RefundReview) {
            referral
        } else {
            let mut flagged = referral.clone();
            flagged.flags.push(Flag::RefundReview);
            flagged.review_notified_at = None;
            flagged.updated_at = now;
            flagged.version += 1;
            let facts =
                json!({ "order_id": job.order_id, "refunded_at": job.occurred_at, "webhook_id": job.webhook_id });
            let event = AuditEvent::new(AuditKind::RefundFlagged, referral.referral_id.as_str(), now, facts);
            match self.ports.referrals.save(&flagged, referral.version, Some(&event)).await {
                Ok(()) => flagged,
                Err(WriteError::Conflict) => return Err(RewardError::Contended),
                Err(WriteError::Store(e)) => return Err(e.into()),
            }
        };
        if referral.review_notified_at.is_some() {
            return Ok(());
        }
        self.email_refund_review(&referral, job).await?;
        let mut marked = referral.clone();
        marked.review_notified_at = Some(self.ports.clock.now());
        marked.version += 1;
        match self.ports.referrals.save(&marked, referral.version, None).await {
            Ok(()) | Err(WriteError::Conflict) => Ok(()),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }

    async fn email_refund_review(&self, referral: &Referral, job: &RefundJob) -> Result<(), RewardError> {
        let exp = self.ports.clock.now().plus(self.settings.team.ops_link_ttl);
        let base = self.settings.links.base_url.as_str();
        let keep = decision_url(base, &self.ports.links, &referral.referral_id, Action::Approve, exp);
        let dispute = decision_url(base, &self.ports.links, &referral.referral_id, Action::Reject, exp);
        let queue = queue_url(base, &self.ports.links, exp);
        let subject = format!("Refund after a referral reward: {}", referral.referral_id);
        let lines = vec![
            format!(
                "Order {} by {} was refunded after referral {} paid both sides.",
                job.order_id, referral.referred_id, referral.referral_id
            ),
            format!("Referrer: {} (code {}).", referral.referrer_id, referral.code),
            "Nothing has been clawed back. Decide whether the rewards stand.".to_owned(),
            "Disputing records the decision; reverse the reward in the store by hand if you need to.".to_owned(),
        ];
        let message = OutboundMessage {
            channel: Channel::Email,
            to: self.settings.team.email.to_string(),
            subject: subject.clone(),
            body: format!(
                "{}\n\nKeep the rewards: {keep}\nDispute the reward: {dispute}\n\nEverything waiting for a person: {queue}\n",
                lines.join("\n")
            ),
            html: Some(email_html(
                &self.settings.business.name,
                &subject,
                &lines,
                &[
                    ("Keep the rewards", &keep, false),
                    ("Dispute the reward", &dispute, true),
                    ("See the review queue", &queue, true),
                ],
            )),
            kind: MessageKind::RefundReview,
        };
        self.ports.messenger.send(&message).await?;
        Ok(())
    }

    /// A person's decision from an ops link. Repeating one has no second effect.
    pub async fn decision(&self, job: &DecisionJob) -> Result<(), RewardError> {
        for _ in 0..RACE_ROUNDS {
            let Some(referral) = self.ports.referrals.get(&job.referral_id).await? else {
                tracing::warn!(referral = %job.referral_id, "a decision for an unknown referral");
                return Ok(());
            };
            match self.decide_once(referral, job).await {
                Ok(()) => return Ok(()),
                Err(Retry::Reload) => continue,
                Err(Retry::Failed(e)) => return Err(e),
            }
        }
        Err(RewardError::Contended)
    }

    async fn decide_once(&self, referral: Referral, job: &DecisionJob) -> Result<(), Retry> {
        let now = self.ports.clock.now();
        let facts = |what: &str| json!({ "action": job.action, "decided_at": job.decided_at, "what": what, "cleared": referral.reasons() });
        match (referral.state, job.action) {
            (ReferralState::Held, Action::Approve) if referral.conversion.is_some() => {
                self.append(AuditEvent::new(
                    AuditKind::Approved,
                    referral.referral_id.as_str(),
                    now,
                    facts("approved after conversion: paying"),
                ))
                .await;
                let mut cleared = referral.clone();
                cleared.cleared_rules.extend(referral.reasons());
                self.pay(cleared, referral.version, StateEvent::Approve { converted: true }, &Verdict::pass()).await
            }
            (ReferralState::Held, Action::Approve) => {
                let mut pending = referral.clone();
                pending.apply(StateEvent::Approve { converted: false }, now).map_err(|_| Retry::Reload)?;
                pending.cleared_rules.extend(referral.reasons());
                pending.evidence.clear();
                pending.review_notified_at = None;
                pending.version += 1;
                let event = AuditEvent::new(
                    AuditKind::Approved,
                    referral.referral_id.as_str(),
                    now,
                    facts("approved before conversion: back to pending"),
                );
                self.save(&pending, referral.version, Some(&event)).await
            }
            (ReferralState::Held, Action::Reject) => {
                let mut rejected = referral.clone();
                rejected.apply(StateEvent::Reject, now).map_err(|_| Retry::Reload)?;
                rejected.version += 1;
                let event = AuditEvent::new(AuditKind::Rejected, referral.referral_id.as_str(), now, facts("rejected"));
                self.save(&rejected, referral.version, Some(&event)).await
            }
            (ReferralState::Rewarded, action) if referral.flags.contains(&Flag::RefundReview) => {
                let mut reviewed = referral.clone();
                reviewed.flags.retain(|f| *f != Flag::RefundReview);
                reviewed.updated_at = now;
                reviewed.version += 1;
                let (kind, what) = match action {
                    Action::Approve => (AuditKind::Approved, "refund reviewed: the rewards stand"),
                    Action::Reject => {
                        (AuditKind::Rejected, "refund reviewed: reward disputed; reverse it in the store by hand")
                    }
                };
                self.save(
                    &reviewed,
                    referral.version,
                    Some(&AuditEvent::new(kind, referral.referral_id.as_str(), now, facts(what))),
                )
                .await
            }
            // Already paid (perhaps by an earlier delivery of this decision): finish whatever
            // that delivery left unfinished.
            (ReferralState::Rewarded, _) => Ok(self.finish(&referral).await?),
            _ => {
                tracing::info!(referral = %referral.referral_id, state = referral.state.as_str(), "decision already applied or not applicable");
                Ok(())
            }
        }
    }
}

/// What a step wants its caller to do.
enum Retry {
    /// The referral moved: read it again and start over.
    Reload,
    /// A real failure: give up on this delivery.
    Failed(RewardError),
}

impl From<RewardError> for Retry {
    fn from(e: RewardError) -> Self {
        Retry::Failed(e)
    }
}

/// When a row's next attempt is due (for operators).
pub fn next_attempt(row: &LedgerRow) -> Option<Timestamp> {
    match &row.fulfilment {
        Fulfilment::Owing { next_attempt_at, .. } => Some(*next_attempt_at),
        _ => None,
    }
}
