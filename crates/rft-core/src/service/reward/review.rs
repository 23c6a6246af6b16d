//! What needs a person: holds (the team is emailed once), refunds, and the decisions a person
//! takes from an ops link. Repeating any of them has no second effect.

use serde_json::json;

use super::{RACE_ROUNDS, Retry, RewardError, Rewarder};
use crate::audit::{AuditEvent, AuditKind};
use crate::identity::IdentityKey;
use crate::jobs::{DecisionJob, RefundJob};
use crate::links::Action;
use crate::ports::WriteError;
use crate::referral::{Flag, Referral, ReferralState, StateEvent};
use crate::screen::Verdict;

impl Rewarder {
    /// Saves a changed referral under its version condition, with its audit row.
    pub(super) async fn save(
        &self,
        referral: &Referral,
        expected: u64,
        audit: Option<&AuditEvent>,
    ) -> Result<(), Retry> {
        match self.ports.referrals.save(referral, expected, audit).await {
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
            let mut flagged = referral.successor(now);
            flagged.flags.push(Flag::RefundReview);
            flagged.review_notified_at = None;
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
        let message = crate::team_mail::refund_review(&self.settings, &self.ports.links, &referral, &job.order_id, now);
        self.ports.messenger.send(&message).await?;
        self.mark_notified(&referral).await
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
                self.save(&pending, referral.version, Some(&event)).await
            }
            (ReferralState::Held, Action::Reject) => {
                let mut rejected = referral.successor(now);
                rejected.apply(StateEvent::Reject, now).map_err(|_| Retry::Reload)?;
                let event = AuditEvent::new(AuditKind::Rejected, id, now, facts("rejected"));
                self.save(&rejected, referral.version, Some(&event)).await
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
                self.save(&reviewed, referral.version, Some(&AuditEvent::new(kind, id, now, facts(what)))).await
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
