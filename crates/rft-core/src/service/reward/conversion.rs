//! A conversion: screened, then paid in one transaction, then handed to one `fulfil` job per
//! side. A conversion for a referral already rewarded re-queues whatever its payout left
//! unfinished (a crash between the commit and the queueing), which duplicates absorb.

use serde_json::json;

use super::{RACE_ROUNDS, Retry, RewardError, Rewarder};
use crate::audit::{AuditEvent, AuditKind};
use crate::code::CodeRecord;
use crate::identity::IdentityKey;
use crate::jobs::{ConfirmJob, ConversionJob, FulfilJob, Job, Recipient, ThankJob, ThanksNote};
use crate::ledger::{CounterStep, Fulfilment, LedgerRow, RewardCommit, Side, TallyStep};
use crate::ports::{CommitError, ScreenCase};
use crate::referral::{ConversionFacts, Evidence, Outcome, Referral, ReferralState, RefundFacts, StateEvent};
use crate::screen::{Stage, Verdict};
use crate::service::attribute::PROGRAMME_CONVERSIONS;
use crate::service::velocity::{self, CONVERSIONS_PER_REFERRER, DAY};
use crate::time::Timestamp;

/// Why a side is forfeited when its customer is erased before it was sent.
pub const FORFEITED_BY_ERASURE: &str = "the customer was erased before the reward was sent";

impl Rewarder {
    /// A genuine first purchase.
    pub async fn conversion(&self, job: &ConversionJob) -> Result<(), RewardError> {
        let now = self.ports.clock.now();
        let Some(mut referral) = self.ports.referrals.find(&IdentityKey::Customer(job.customer_id.clone())).await?
        else {
            let history = self.ports.audit.events_for(job.customer_id.as_str()).await?;
            if history.iter().any(|e| e.kind == AuditKind::Unattributed) {
                // Kept whole: a person who credits the sign-up by hand converts with it.
                let facts = json!({ "reason": "unattributed", "order_id": job.order_id, "webhook_id": job.webhook_id, "conversion": job });
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
            discount_code: job.discount_code.clone(),
        };
        for _ in 0..RACE_ROUNDS {
            match self.convert_once(&referral, &conversion, job).await {
                Ok(()) => return Ok(()),
                Err(Retry::Failed(e)) => return Err(e),
                Err(Retry::Reload) => {
                    referral = self.ports.referrals.get(&referral.referral_id).await?.ok_or(RewardError::Contended)?;
                }
            }
        }
        Err(RewardError::Contended)
    }

    async fn convert_once(
        &self,
        referral: &Referral,
        conversion: &ConversionFacts,
        job: &ConversionJob,
    ) -> Result<(), Retry> {
        let now = self.ports.clock.now();
        let not_paid = |reason: &str| {
            let facts = json!({ "reason": reason, "order_id": job.order_id, "customer_id": job.customer_id, "webhook_id": job.webhook_id });
            AuditEvent::new(AuditKind::NotPaid, referral.referral_id.as_str(), now, facts)
        };
        match referral.state {
            ReferralState::Rewarded => return Ok(self.resume(referral).await?),
            ReferralState::Held => {
                // Kept for the person deciding: approving pays if the friend has converted (and
                // the order was not refunded, which the order's record tells).
                if referral.conversion.is_none() {
                    let order = self.ports.orders.link_order(&conversion.order_id, &referral.referral_id).await?;
                    let mut noted = referral.successor(now);
                    noted.conversion = Some(conversion.clone());
                    noted.refunded = order.refunded_at.map(|at| RefundFacts { order_id: order.order_id.clone(), at });
                    noted.friend.identity.merge(&job.identity);
                    self.save(referral, &noted, Some(&not_paid("held"))).await?;
                    self.count_conversion(referral, conversion.occurred_at).await;
                    crate::rollup::apply(
                        self.ports.counters.as_ref(),
                        &crate::rollup::conversion_steps(referral, conversion),
                    )
                    .await;
                }
                return Ok(());
            }
            ReferralState::Blocked | ReferralState::Rejected | ReferralState::Expired => {
                self.append(not_paid(referral.state.as_str())).await;
                return Ok(());
            }
            // Noted and waiting out `rewards.confirm_after`: a redelivery, or a later order.
            ReferralState::Pending if referral.conversion.is_some() && referral.confirms_at.is_some() => return Ok(()),
            ReferralState::Pending => {}
        }
        if conversion.occurred_at >= referral.expires_at {
            let mut expired = referral.successor(now);
            expired.apply(StateEvent::Expire, now).map_err(|_| Retry::Reload)?;
            let facts = json!({ "reason": "converted after the window", "order_id": job.order_id, "expires_at": referral.expires_at });
            let event = AuditEvent::new(AuditKind::Expired, referral.referral_id.as_str(), now, facts);
            self.save(referral, &expired, Some(&event)).await?;
            self.append(not_paid("expired")).await;
            return Ok(());
        }
        let code = self.ports.codes.get(&referral.code).await?;
        let mut screened = referral.clone();
        screened.friend.identity.merge(&job.identity);
        screened.conversion = Some(conversion.clone());
        let verdict = self.screen_conversion(&screened, code.as_ref(), conversion).await?;
        if verdict.flag_code
            && let Some(code) = &code
        {
            self.code_flags().flag(code, &verdict.evidence, now).await?;
        }
        if verdict.outcome == Outcome::Pass {
            let confirm_after = self.settings.rewards.confirm_after;
            if confirm_after.is_zero() {
                return self.pay(&screened, StateEvent::Convert, &verdict, code.as_ref(), true).await;
            }
            return self.await_confirmation(referral, screened, &verdict, confirm_after).await;
        }
        let (event, kind) = match verdict.outcome {
            Outcome::Block => (StateEvent::Block, AuditKind::Blocked),
            _ => (StateEvent::Hold, AuditKind::Held),
        };
        let mut decided = screened.successor(now);
        decided.apply(event, now).map_err(|_| Retry::Reload)?;
        decided.evidence.extend(verdict.evidence.iter().cloned());
        let facts =
            json!({ "stage": "conversion", "verdict": verdict, "order_id": job.order_id, "identity": job.identity });
        self.save(referral, &decided, Some(&AuditEvent::new(kind, referral.referral_id.as_str(), now, facts))).await?;
        self.count_conversion(referral, conversion.occurred_at).await;
        crate::rollup::apply(self.ports.counters.as_ref(), &crate::rollup::conversion_steps(referral, conversion))
            .await;
        if decided.state == ReferralState::Held {
            self.notify_hold(decided).await?;
        }
        Ok(())
    }

    /// A clean conversion that must wait out `rewards.confirm_after` without a refund: noted on
    /// the pending referral with the time it becomes payable (the sweep queues it then), its
    /// order linked so a refund finds it.
    async fn await_confirmation(
        &self,
        read: &Referral,
        screened: Referral,
        verdict: &Verdict,
        confirm_after: std::time::Duration,
    ) -> Result<(), Retry> {
        let now = self.ports.clock.now();
        let Some(conversion) = screened.conversion.clone() else { return Ok(()) };
        let order = self.ports.orders.link_order(&conversion.order_id, &read.referral_id).await?;
        if let Some(at) = order.refunded_at {
            return self.reject_refunded(read, RefundFacts { order_id: order.order_id, at }).await;
        }
        let mut noted = screened.successor(now);
        noted.confirms_at = Some(conversion.occurred_at.plus(confirm_after));
        let facts = json!({ "order_id": conversion.order_id, "confirms_at": noted.confirms_at, "verdict": verdict });
        let event = AuditEvent::new(AuditKind::ConversionNoted, read.referral_id.as_str(), now, facts);
        self.save(read, &noted, Some(&event)).await?;
        self.count_conversion(read, conversion.occurred_at).await;
        // Recorded now; the payout after the period does not count it again.
        crate::rollup::apply(self.ports.counters.as_ref(), &crate::rollup::conversion_steps(read, &conversion)).await;
        Ok(())
    }

    /// A conversion that waited out its confirmation period (queued by the sweep): paid now,
    /// unless it was refunded meanwhile (the payout's transaction checks the order).
    pub(super) async fn confirm(&self, job: &ConfirmJob) -> Result<(), RewardError> {
        for _ in 0..RACE_ROUNDS {
            let Some(referral) = self.ports.referrals.get(&job.referral_id).await? else { return Ok(()) };
            let now = self.ports.clock.now();
            let due = referral.confirms_at.is_some_and(|at| at <= now);
            if referral.state != ReferralState::Pending || referral.conversion.is_none() || !due {
                // Paid, refunded or decided already, or not due: nothing to do.
                return Ok(());
            }
            let code = self.ports.codes.get(&referral.code).await?;
            let mut confirmed = referral.clone();
            confirmed.confirms_at = None;
            match self.pay(&confirmed, StateEvent::Convert, &Verdict::pass(), code.as_ref(), false).await {
                Ok(()) => return Ok(()),
                Err(Retry::Reload) => continue,
                Err(Retry::Failed(e)) => return Err(e),
            }
        }
        Err(RewardError::Contended)
    }

    /// The converting order was refunded before anything was paid: the referral is rejected
    /// with the reason `refunded`, and nobody is paid.
    pub(super) async fn reject_refunded(&self, referral: &Referral, refund: RefundFacts) -> Result<(), Retry> {
        let now = self.ports.clock.now();
        let mut rejected = referral.successor(now);
        rejected.apply(StateEvent::Refunded, now).map_err(|_| Retry::Reload)?;
        rejected.evidence.push(Evidence {
            rule: "refunded".to_owned(),
            outcome: Outcome::Block,
            detail: format!("order {} was refunded at {}", refund.order_id, refund.at),
        });
        rejected.confirms_at = None;
        rejected.refunded = Some(refund.clone());
        let facts = json!({ "reason": "refunded", "order_id": refund.order_id, "refunded_at": refund.at });
        let event = AuditEvent::new(AuditKind::NotPaid, referral.referral_id.as_str(), now, facts);
        self.save(referral, &rejected, Some(&event)).await
    }

    /// Screens a conversion; rules a person already cleared on this referral are ignored.
    async fn screen_conversion(
        &self,
        referral: &Referral,
        code: Option<&CodeRecord>,
        conversion: &ConversionFacts,
    ) -> Result<Verdict, RewardError> {
        let case = ScreenCase {
            stage: Stage::Conversion,
            friend_id: referral.referred_id.clone(),
            referrer_id: referral.referrer_id.clone(),
            code: referral.code.clone(),
            friend: referral.friend.identity.clone(),
            referrer: code.map(|c| c.referrer.identity.clone()).unwrap_or_default(),
            email_domain: referral.friend.email.as_ref().map(|e| e.domain().to_owned()),
            method: referral.method,
            touched_at: referral.touched_at,
            at: conversion.occurred_at,
        };
        let mut verdict = self.ports.screener.screen(&case).await?;
        if let Some(flag) = code.and_then(|c| c.flag.as_ref()) {
            verdict.evidence.push(crate::service::flags::flagged_evidence(flag));
        }
        verdict.evidence.retain(|e| !referral.cleared_rules.contains(&e.rule));
        verdict.outcome = verdict.evidence.iter().map(|e| e.outcome).max().unwrap_or(Outcome::Pass);
        Ok(verdict)
    }

    /// Counts a referral's conversion for the referrer's velocity rule, once: only the delivery
    /// whose write recorded the conversion on the referral gets here. A failure costs one count
    /// of a limit, never a payout, so it is logged rather than retried.
    async fn count_conversion(&self, referral: &Referral, at: Timestamp) {
        let counters = self.ports.counters.as_ref();
        if let Err(e) =
            velocity::record(counters, CONVERSIONS_PER_REFERRER, referral.referrer_id.as_str(), DAY, at).await
        {
            tracing::warn!(error = %e, referral = %referral.referral_id, "conversion velocity not counted");
        }
    }

    /// Commits the payout of `referral` (as read, with the conversion on it) as one
    /// transaction: the flip by `event`, both rows at the pinned amounts and the referrer's
    /// tier, the tally step and the audit row. Then queues each side's fulfilment.
    pub(super) async fn pay(
        &self,
        referral: &Referral,
        event: StateEvent,
        verdict: &Verdict,
        code: Option<&CodeRecord>,
        counts_as_new_conversion: bool,
    ) -> Result<(), Retry> {
        for _ in 0..RACE_ROUNDS {
            let now = self.ports.clock.now();
            let tally = self.ports.ledger.tally(&referral.referrer_id).await?;
            let nth = tally + 1;
            let mut paid = referral.successor(now);
            paid.apply(event, now).map_err(|_| Retry::Reload)?;
            let mut referrer_row = LedgerRow::owed(
                paid.referral_id.clone(),
                Side::Referrer,
                paid.referrer_id.clone(),
                paid.terms.referrer_reward_for(nth),
                Some(nth),
                now,
            );
            if let Some(at) = paid.referrer_forfeited_at {
                referrer_row.fulfilment = Fulfilment::Forfeited { at, reason: FORFEITED_BY_ERASURE.to_owned() };
            }
            let mut friend_row = LedgerRow::owed(
                paid.referral_id.clone(),
                Side::Friend,
                paid.referred_id.clone(),
                paid.terms.friend_reward.clone(),
                None,
                now,
            );
            let at_checkout = super::at_checkout::apply(self.settings.store.kind, &paid, &mut friend_row);
            let rows = [referrer_row, friend_row];
            let facts = json!({ "conversion": paid.conversion, "verdict": verdict, "rows": rows, "referrer_nth": nth,
                "friend_fulfilled_at_checkout": at_checkout });
            // The programme's all-time row follows the commit instead of joining it: every
            // payout would otherwise lock that one item, and concurrent payouts would queue on it.
            let (all_time, counted): (Vec<CounterStep>, Vec<CounterStep>) =
                crate::rollup::payout_steps(referral, &paid, &rows, counts_as_new_conversion)
                    .into_iter()
                    .partition(|s| s.slot == crate::rollup::ALL_TIME);
            let commit = RewardCommit {
                referral: paid.clone(),
                expected_version: referral.version,
                rows: rows.clone(),
                tally: TallyStep { referrer_id: paid.referrer_id.clone(), expected: tally },
                audit: AuditEvent::new(AuditKind::Paid, paid.referral_id.as_str(), now, facts),
                counters: [CounterStep::one(PROGRAMME_CONVERSIONS, Timestamp::NEVER)]
                    .into_iter()
                    .chain(counted)
                    .collect(),
                order_id: paid.conversion.as_ref().map(|c| c.order_id.clone()),
            };
            match self.ports.ledger.commit_reward(&commit).await {
                Ok(()) => {
                    crate::rollup::apply(self.ports.counters.as_ref(), &all_time).await;
                    if counts_as_new_conversion && let Some(c) = &paid.conversion {
                        self.count_conversion(&paid, c.occurred_at).await;
                    }
                    self.queue_unfinished(&paid, &rows, code).await?;
                    return Ok(());
                }
                Err(CommitError::TallyMoved) => continue,
                Err(CommitError::Refunded) => {
                    let order_id = referral.conversion.as_ref().map(|c| c.order_id.clone()).unwrap_or_default();
                    let at = self.ports.orders.order(&order_id).await?.and_then(|o| o.refunded_at).unwrap_or(now);
                    return self.reject_refunded(referral, RefundFacts { order_id, at }).await;
                }
                Err(CommitError::Stale) | Err(CommitError::AlreadyPaid) => return Err(Retry::Reload),
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(RewardError::Contended.into())
    }

    /// A rewarded referral seen again: queue whatever its payout left unfinished.
    pub(super) async fn resume(&self, referral: &Referral) -> Result<(), RewardError> {
        let rows = self.ports.ledger.rows(&referral.referral_id).await?;
        let unfinished = |r: &LedgerRow| {
            matches!(r.fulfilment, Fulfilment::Owing { .. }) || r.is_fulfilled() && r.note_sent_at.is_none()
        };
        if !rows.iter().any(unfinished) {
            return Ok(());
        }
        let code = self.ports.codes.get(&referral.code).await?;
        self.queue_unfinished(referral, &rows, code.as_ref()).await
    }

    /// One `fulfil` job per owed row, one `thank` job per fulfilled row not yet thanked. Parked
    /// rows wait for a person; forfeited ones are never sent.
    async fn queue_unfinished(
        &self,
        referral: &Referral,
        rows: &[LedgerRow],
        code: Option<&CodeRecord>,
    ) -> Result<(), RewardError> {
        for row in rows {
            let note = thanks_note(row.side, referral, code, rows);
            let job = match row.fulfilment {
                Fulfilment::Owing { .. } => {
                    Job::Fulfil(FulfilJob { referral_id: row.referral_id.clone(), side: row.side, note })
                }
                Fulfilment::Fulfilled { .. } if row.note_sent_at.is_none() => {
                    Job::Thank(ThankJob { row: row.clone(), note })
                }
                _ => continue,
            };
            self.ports.queue.send(&job).await?;
        }
        Ok(())
    }
}

/// What `side`'s thank-you needs, from the referral (the friend), the code (the referrer) and
/// the rows (the rewards as the ledger words them).
pub(super) fn thanks_note(
    side: Side,
    referral: &Referral,
    code: Option<&CodeRecord>,
    rows: &[LedgerRow],
) -> ThanksNote {
    let referrer = code.map(|c| &c.referrer);
    let (email, phone) = match side {
        Side::Referrer => (referrer.and_then(|r| r.email.clone()), referrer.and_then(|r| r.phone.clone())),
        Side::Friend => (referral.friend.email.clone(), referral.friend.phone.clone()),
    };
    let reward = |side| rows.iter().find(|r| r.side == side).map(|r| r.reward.description.clone()).unwrap_or_default();
    ThanksNote {
        to: email.map(Recipient::Email).or(phone.map(Recipient::Sms)),
        referrer_name: referrer.and_then(|r| r.first_name.clone()),
        friend_name: referral.friend.first_name.clone(),
        referrer_reward: reward(Side::Referrer),
        friend_reward: reward(Side::Friend),
    }
}

#[cfg(test)]
#[path = "conversion_tests.rs"]
mod tests;
