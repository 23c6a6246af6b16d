//! Crediting an unattributed sign-up to a referrer by hand (`Job::Credit`, the console's "Credit
//! a sign-up by hand"; docs/operations.md). The sign-up is the one its `unattributed` audit row
//! kept; the touch is the person's word, through the referrer's live code, and everything after
//! it is what any sign-up goes through: the screen (self-referral, shared identity, a flagged
//! code), the identity claims that stop a person being referred twice, and the rewarder for
//! the first order the sign-up already made while it credited nobody.
//!
//! Safe to repeat: a second credit of a customer already referred opens nothing, and replays
//! the first order only to a referral this path opened (the rewarder pays a referral once).

use serde_json::json;

use super::attribute::{AttributeError, Attributor, SignupOutcome, Touch};
use crate::audit::{AuditEvent, AuditKind};
use crate::code::CodeRecord;
use crate::identity::IdentityKey;
use crate::ids::{CustomerId, ReferralId};
use crate::jobs::{ConversionJob, CreditJob, Job, SignupJob};
use crate::ports::{AuditStore, CodeStore, ReferralStore, StoreError};
use crate::referral::{Method, Referral};

/// Why a sign-up cannot be credited by hand.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CreditRefused {
    /// The customer is already referred: one person, one referral.
    #[error("customer {0} is already referred (referral {1})")]
    AlreadyReferred(CustomerId, ReferralId),
    /// No unattributed sign-up or first order is recorded for the customer (or it was erased).
    #[error("no unattributed sign-up is recorded for customer {0}")]
    NoSignup(CustomerId),
    /// The customer had ordered before the order that came in: not a new customer.
    #[error("customer {0} is an existing customer (they had ordered before), so nobody referred them")]
    ExistingCustomer(CustomerId),
    /// The referrer has no live code to credit through.
    #[error("customer {0} has no live referral code")]
    NoLiveCode(CustomerId),
    /// Nobody refers themselves.
    #[error("customer {0} cannot be credited to themselves")]
    SelfReferral(CustomerId),
}

/// Why a credit could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CreditCheckError {
    /// The credit is refused; retrying changes nothing.
    #[error(transparent)]
    Refused(#[from] CreditRefused),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CreditCheckError> for AttributeError {
    fn from(e: CreditCheckError) -> Self {
        match e {
            CreditCheckError::Refused(r) => AttributeError::CreditRefused(r),
            CreditCheckError::Store(s) => AttributeError::Store(s),
        }
    }
}

/// What a credit needs, found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creditable {
    /// The sign-up as it came in.
    pub signup: SignupJob,
    /// The referrer's live code it will be credited through.
    pub code: CodeRecord,
    /// The first order the sign-up made while unattributed, if any: it converts the referral.
    pub first_order: Option<ConversionJob>,
}

/// Checks that `customer` can be credited to `referrer` and finds what the credit needs. The
/// console calls it to answer at once; the attributor again, as the facts may have moved.
pub async fn creditable(
    codes: &dyn CodeStore,
    referrals: &dyn ReferralStore,
    audit: &dyn AuditStore,
    customer: &CustomerId,
    referrer: &CustomerId,
) -> Result<Creditable, CreditCheckError> {
    if customer == referrer {
        return Err(CreditRefused::SelfReferral(customer.clone()).into());
    }
    let (signup, first_order) = sign_up_to_credit(referrals, audit, customer).await?;
    let code = codes.active_code_of(referrer).await?.ok_or_else(|| CreditRefused::NoLiveCode(referrer.clone()))?;
    Ok(Creditable { signup, code, first_order })
}

/// The sign-up `customer` made that credited nobody, and its first order, if a person may
/// credit it to someone.
async fn sign_up_to_credit(
    referrals: &dyn ReferralStore,
    audit: &dyn AuditStore,
    customer: &CustomerId,
) -> Result<(SignupJob, Option<ConversionJob>), CreditCheckError> {
    let existing = referrals.find(&IdentityKey::Customer(customer.clone())).await?;
    let history = if existing.is_some() { Vec::new() } else { audit.events_for(customer.as_str()).await? };
    Ok(credit_candidate(customer, existing.as_ref(), &history)?)
}

/// Whether `customer`'s sign-up may be credited, from what was read: their referral, if any,
/// and their audit rows, oldest first.
pub fn credit_candidate(
    customer: &CustomerId,
    existing: Option<&Referral>,
    history: &[AuditEvent],
) -> Result<(SignupJob, Option<ConversionJob>), CreditRefused> {
    if let Some(existing) = existing {
        return Err(CreditRefused::AlreadyReferred(customer.clone(), existing.referral_id.clone()));
    }
    let unattributed = || history.iter().filter(|e| e.kind == AuditKind::Unattributed);
    let signup = unattributed()
        .rev()
        .filter_map(|e| e.facts.get("signup"))
        .find_map(|s| serde_json::from_value::<SignupJob>(s.clone()).ok());
    let Some(signup) = signup else {
        let existing =
            unattributed().any(|e| e.facts.get("reason").and_then(|r| r.as_str()) == Some("existing_customer"));
        return Err(if existing {
            CreditRefused::ExistingCustomer(customer.clone())
        } else {
            CreditRefused::NoSignup(customer.clone())
        });
    };
    Ok((signup, first_order(history)))
}

/// The earliest order that paid nothing because its sign-up credited nobody.
fn first_order(history: &[AuditEvent]) -> Option<ConversionJob> {
    history
        .iter()
        .filter(|e| e.kind == AuditKind::NotPaid)
        .filter(|e| e.facts.get("reason").and_then(|r| r.as_str()) == Some("unattributed"))
        .filter_map(|e| e.facts.get("conversion"))
        .find_map(|c| serde_json::from_value(c.clone()).ok())
}

impl Attributor {
    /// Credits an unattributed sign-up to a referrer, as a person asked.
    pub async fn credit(&self, job: &CreditJob) -> Result<SignupOutcome, AttributeError> {
        let checked = creditable(
            self.codes.as_ref(),
            self.referrals.as_ref(),
            self.audit.as_ref(),
            &job.customer_id,
            &job.referrer_id,
        )
        .await;
        let found = match checked {
            Err(CreditCheckError::Refused(CreditRefused::AlreadyReferred(customer, id))) => {
                return self.credited_before(customer, id).await;
            }
            other => other?,
        };
        let now = self.clock.now();
        let touch = Touch { code: found.code.code.clone(), at: now, method: Method::Manual, channel: None };
        let credit = json!({ "by": job.by, "reason": job.reason, "requested_at": job.requested_at });
        let outcome = self.open_referral(&found.signup, &touch, &found.code, now, ("credit", credit)).await?;
        if matches!(outcome, SignupOutcome::Opened(_)) {
            tracing::info!(customer = %job.customer_id, referrer = %job.referrer_id, "sign-up credited by hand");
            self.replay(found.first_order).await?;
        }
        Ok(outcome)
    }

    /// A repeat of this job after its referral opened: the first order may not have been
    /// handed on yet, so it is again (the rewarder pays a referral once).
    async fn credited_before(&self, customer: CustomerId, id: ReferralId) -> Result<SignupOutcome, AttributeError> {
        let Some(existing) = self.referrals.get(&id).await? else {
            return Err(CreditRefused::AlreadyReferred(customer, id).into());
        };
        if existing.method == Method::Manual && existing.conversion.is_none() {
            let history = self.audit.events_for(customer.as_str()).await?;
            self.replay(first_order(&history)).await?;
        }
        Ok(SignupOutcome::Joined(Box::new(existing)))
    }

    /// Hands the sign-up's first order to the rewarder, now that it has a referral.
    async fn replay(&self, first_order: Option<ConversionJob>) -> Result<(), AttributeError> {
        if let Some(order) = first_order {
            self.reward_jobs.send(&Job::Conversion(order)).await?;
        }
        Ok(())
    }
}

/// Audit facts of a credit, for the story (`by`, `reason`).
pub fn credit_facts(event: &AuditEvent) -> Option<(&str, &str)> {
    let credit = event.facts.get("credit")?;
    Some((credit.get("by")?.as_str()?, credit.get("reason")?.as_str()?))
}
