//! What needs a person: holds (the team is emailed once), refunds, and the decisions a person
//! takes from an ops link. Repeating any of them has no second effect.

use serde_json::json;

use super::{RACE_ROUNDS, Retry, RewardError, Rewarder};
use crate::audit::{AuditEvent, AuditKind};
use crate::identity::IdentityKey;
use crate::jobs::{ClearFlagJob, DecisionJob, RefundJob};
use crate::links::Action;
use crate::ports::WriteError;
use crate::referral::{Flag, Referral, ReferralState, RefundFacts, StateEvent};
use crate::screen::Verdict;
use crate::service::flags::is_code_rule;

impl Rewarder {
    /// Saves `after` over `before` under `before`'s version, with its audit row, and counts a
    /// change of state or refund in the programme's all-time row.
    pub(super) async fn save(
        &self,
        before: &Referral,
        after: &Referral,
        audit: Option<&AuditEvent>,
    ) -> Result<(), Retry> {
        let (referrals, counters) = (self.ports.referrals.as_ref(), self.ports.counters.as_ref());
        match crate::rollup::save_counted(referrals, counters, before, after, audit).await {
            Ok(()) => Ok(()),
            Err(WriteError::Conflict) => Err(Retry::Reload),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }

    /// Marks that the team was told about the current review; losing that race only means a
    /// newer state stands, and the email has gone either way.
    async fn mark_notified(&self, referral: &Referral) -> Result<(), RewardError> {
        let mut marked = referral.successor(referral.updated_at);
        marked.review_notified_at = Some(self.ports.clock.now());
        match self.ports.referrals.save(&marked, referral.version, None).await {
            Ok(()) | Err(WriteError::Conflict) => Ok(()),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }

    /// Emails the team about a held referral, once.
    pub(super) async fn notify_hold(&self, referral: Referral) -> Result<(), RewardError> {
        if referral.review_notified_at.is_some() {
            return Ok(());
        }
        self.ports.screener.notify_hold(&referral).await?;
        self.mark_notified(&referral).await
    }

    /// An order refunded. The refund is remembered for the order whatever happens next (a
    /// conversion that arrives after it pays nothing). If a referral converted with the order:
    /// after a reward it is flagged for a person and the team emailed (nothing is clawed back);
    /// a held one keeps the refund beside the decision (approving it cannot pay) and the team is
    /// emailed again; one waiting out its confirmation period is rejected, paying nobody.
    pub async fn refund(&self, job: &RefundJob) -> Result<(), RewardError> {
        let now = self.ports.clock.now();
        // Remembered under every id the order goes by; the one a conversion was noted under
        // names the referral.
        let mut order = self.ports.orders.refund_order(&job.order_id, job.occurred_at.min(now)).await?;
        for alias in &job.order_aliases {
            let other = self.ports.orders.refund_order(alias, job.occurred_at.min(now)).await?;
            if order.referral_id.is_none() && other.referral_id.is_some() {
                order = other;
            }
        }
        let refund = RefundFacts { order_id: order.order_id.clone(), at: order.refunded_at.unwrap_or(now) };
        for _ in 0..RACE_ROUNDS {
            let found = match (&order.referral_id, &job.customer_id) {
                (Some(id), _) => self.ports.referrals.get(id).await?,
                (None, Some(customer)) => self.ports.referrals.find(&IdentityKey::Customer(customer.clone())).await?,
                (None, None) => None,
            };
            let converted_with_it =
                found.filter(|r| r.conversion.as_ref().is_some_and(|c| c.order_id == refund.order_id));
            let Some(referral) = converted_with_it else {
                let facts = json!({ "order_id": job.order_id, "webhook_id": job.webhook_id, "refunded_at": refund.at,
                    "reason": "remembered for the order: no referral converted with it (yet)" });
                let subject =
                    job.customer_id.as_ref().map_or_else(|| format!("order#{}", job.order_id), |c| c.to_string());
                self.append(AuditEvent::new(AuditKind::RefundNoted, subject, now, facts)).await;
                return Ok(());
            };
            match self.refund_once(&referral, &refund, job).await {
                Ok(()) => return Ok(()),
                Err(Retry::Reload) => continue,
                Err(Retry::Failed(e)) => return Err(e),
            }
        }
        Err(RewardError::Contended)
    }

    async fn refund_once(&self, referral: &Referral, refund: &RefundFacts, job: &RefundJob) -> Result<(), Retry> {
        let now = self.ports.clock.now();
        let id = referral.referral_id.as_str();
        let facts = json!({ "order_id": job.order_id, "refunded_at": refund.at, "webhook_id": job.webhook_id });
        match referral.state {
            ReferralState::Rewarded => {
                let flagged = if referral.flags.contains(&Flag::RefundReview) {
                    referral.clone()
                } else {
                    let mut flagged = referral.successor(now);
                    flagged.flags.push(Flag::RefundReview);
                    flagged.refunded = Some(refund.clone());
                    flagged.review_notified_at = None;
                    let event = AuditEvent::new(AuditKind::RefundFlagged, id, now, facts);
                    self.save(referral, &flagged, Some(&event)).await?;
                    flagged
                };
                if flagged.review_notified_at.is_none() {
                    let message = crate::team_mail::refund_review(
                        &self.settings,
                        &self.ports.links,
                        &flagged,
                        &job.order_id,
                        now,
                    );
                    self.ports.messenger.send(&message).await?;
                    self.mark_notified(&flagged).await?;
                }
                Ok(())
            }
            ReferralState::Held => {
                let noted = if referral.refunded.is_some() {
                    referral.clone()
                } else {
                    let mut noted = referral.successor(now);
                    noted.refunded = Some(refund.clone());
                    noted.review_notified_at = None;
                    let event = AuditEvent::new(AuditKind::RefundNoted, id, now, facts);
                    self.save(referral, &noted, Some(&event)).await?;
                    noted
                };
                // The person deciding sees the refund beside the hold (and approving cannot pay).
                Ok(self.notify_hold(noted).await?)
            }
            ReferralState::Pending => self.reject_refunded(referral, refund.clone()).await,
            ReferralState::Blocked | ReferralState::Rejected | ReferralState::Expired => {
                let facts =
                    json!({ "order_id": job.order_id, "webhook_id": job.webhook_id, "reason": "nothing was payable" });
                self.append(AuditEvent::new(AuditKind::RefundIgnored, id, now, facts)).await;
                Ok(())
            }
        }
    }

    /// A person cleared a flagged code: each referral the code's rules held is released (paid if
    /// converted, else back to pending, those rules cleared); one that another rule also holds
    /// loses the code's rules and waits for its own decision.
    pub async fn clear_flag(&self, job: &ClearFlagJob) -> Result<(), RewardError> {
        let now = self.ports.clock.now();
        for held in self.code_flags().clear(&job.code, now).await? {
            if held.reasons().iter().all(|r| is_code_rule(r)) {
                let decision = DecisionJob {
                    referral_id: held.referral_id.clone(),
                    action: Action::Approve,
                    decided_at: job.decided_at,
                    by: job.by.clone(),
                };
                self.decision(&decision).await?;
                continue;
            }
            let mut stripped = held.successor(now);
            stripped.cleared_rules.extend(held.reasons().into_iter().filter(|r| is_code_rule(r)));
            stripped.evidence.retain(|e| !is_code_rule(&e.rule));
            let mut facts =
                json!({ "what": "the code's flag was cleared; other rules still hold it", "code": job.code });
            if let Some(by) = &job.by {
                facts["by"] = json!(by);
            }
            let event = AuditEvent::new(AuditKind::Approved, held.referral_id.as_str(), now, facts);
            match self.save(&held, &stripped, Some(&event)).await {
                Ok(()) | Err(Retry::Reload) => {}
                Err(Retry::Failed(e)) => return Err(e),
            }
        }
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
        let id = referral.referral_id.as_str();
        let facts = |what: &str| json!({ "action": job.action, "decided_at": job.decided_at, "what": what, "cleared": referral.reasons(), "by": job.by });
        match (referral.state, job.action) {
            (ReferralState::Held, Action::Approve) if let Some(refund) = &referral.refunded => {
                let what = "approval cannot pay: the converting order was refunded";
                self.append(AuditEvent::new(AuditKind::Rejected, id, now, facts(what))).await;
                self.reject_refunded(&referral, refund.clone()).await
            }
            (ReferralState::Held, Action::Approve) if referral.conversion.is_some() => {
                self.append(AuditEvent::new(AuditKind::Approved, id, now, facts("approved after conversion: paying")))
                    .await;
                let mut cleared = referral.clone();
                cleared.cleared_rules.extend(referral.reasons());
                let code = self.ports.codes.get(&referral.code).await?;
                self.pay(&cleared, StateEvent::Approve { converted: true }, &Verdict::pass(), code.as_ref(), false)
                    .await
            }
            (ReferralState::Held, Action::Approve) => {
                let mut pending = referral.successor(now);
                pending.apply(StateEvent::Approve { converted: false }, now).map_err(|_| Retry::Reload)?;
                pending.cleared_rules.extend(referral.reasons());
                pending.evidence.clear();
                pending.review_notified_at = None;
                let event =
                    AuditEvent::new(AuditKind::Approved, id, now, facts("approved before conversion: back to pending"));
                self.save(&referral, &pending, Some(&event)).await
            }
            (ReferralState::Held, Action::Reject) => {
                let mut rejected = referral.successor(now);
                rejected.apply(StateEvent::Reject, now).map_err(|_| Retry::Reload)?;
                let event = AuditEvent::new(AuditKind::Rejected, id, now, facts("rejected"));
                self.save(&referral, &rejected, Some(&event)).await
            }
            (ReferralState::Rewarded, action) if referral.flags.contains(&Flag::RefundReview) => {
                let mut reviewed = referral.successor(now);
                reviewed.flags.retain(|f| *f != Flag::RefundReview);
                let (kind, what) = match action {
                    Action::Approve => (AuditKind::Approved, "refund reviewed: the rewards stand"),
                    Action::Reject => {
                        (AuditKind::Rejected, "refund reviewed: reward disputed; reverse it in the store by hand")
                    }
                };
                self.save(&referral, &reviewed, Some(&AuditEvent::new(kind, id, now, facts(what)))).await
            }
            // Already paid (perhaps by an earlier delivery of this decision): finish whatever
            // that delivery left unfinished.
            (ReferralState::Rewarded, _) => Ok(self.resume(&referral).await?),
            _ => {
                tracing::info!(referral = %referral.referral_id, state = referral.state.as_str(), "decision already applied or not applicable");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
#[path = "review_tests.rs"]
mod tests;
