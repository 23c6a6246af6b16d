//! Attribution (`rft-attributor`): a sign-up is credited to the newest touch inside its window
//! whose code is still live (last touch), and opens a referral keyed on the person's identity.
//! Attribution decides who would be credited; it never pays.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};
use crate::click::TouchKey;
use crate::code::{Code, CodeRecord};
use crate::identity::IdentityKey;
use crate::ids::ReferralId;
use crate::jobs::SignupJob;
use crate::ports::{
    AuditStore, ClickStore, CodeStore, Counters, JobQueue, Opened, OrderStore, QueueError, ReferralStore, ScreenCase,
    ScreenError, Screener, StoreError, Stores,
};
use crate::referral::{FriendProfile, Method, Outcome, Referral, ReferralState};
use crate::screen::Stage;
use crate::service::enrol::Enroller;
use crate::service::flags::{CodeFlags, flagged_evidence};
use crate::service::velocity::{self, DAY, HOUR, SIGNUPS_PER_CODE, SIGNUPS_PER_IP};
use crate::time::{Clock, Timestamp};

/// Referrals opened, programme-wide (a counter that never expires).
pub const PROGRAMME_SIGNUPS: &str = "programme#referrals";
/// Referrals rewarded, programme-wide.
pub const PROGRAMME_CONVERSIONS: &str = "programme#rewarded";

/// Clicks a few seconds after the sign-up still count (clocks differ between systems).
const CLOCK_SKEW: Duration = Duration::from_secs(5);

/// A touch that could be credited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touch {
    /// The code touched.
    pub code: Code,
    /// When it happened: its code's window runs from here.
    pub at: Timestamp,
    /// A click, a typed code, an email invite or the fingerprint fallback.
    pub method: Method,
    /// Where the link was shared, if the click said (`?ch=`).
    pub channel: Option<String>,
}

/// Why a sign-up credited nobody.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unattributed {
    /// No click, invite or typed code inside the window.
    NoTouch,
    /// Touches exist, but every code touched is retired or unknown.
    RetiredCode,
    /// Touches exist, but none inside its code's window.
    OutsideWindow,
    /// A connected store's order from a customer with an earlier paid order: not a new
    /// customer, so nobody referred them.
    ExistingCustomer,
}

/// What a sign-up did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignupOutcome {
    /// A new referral (pending, held or blocked).
    Opened(Box<Referral>),
    /// The person was already referred: this sign-up joined their referral.
    Joined(Box<Referral>),
    /// Nobody is credited.
    Unattributed(Unattributed),
}

/// Why a sign-up must be retried.
#[derive(Debug, thiserror::Error)]
pub enum AttributeError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The screen failed.
    #[error(transparent)]
    Screen(#[from] ScreenError),
    /// A connected store's conversion could not be handed to the rewarder, or an enrolment
    /// queued.
    #[error("queueing a job: {0}")]
    Queue(#[from] QueueError),
    /// A new customer's enrolment failed.
    #[error(transparent)]
    Enrol(#[from] crate::service::enrol::EnrolError),
    /// A credit by hand that cannot be made (the console checked it, but the facts moved).
    #[error("crediting by hand: {0}")]
    CreditRefused(#[from] crate::service::credit::CreditRefused),
    /// A job that is not a sign-up reached the sign-up queue.
    #[error("a {0} job does not belong on the sign-up queue")]
    WrongQueue(&'static str),
}

impl crate::jobs::JobFailure for AttributeError {
    fn is_retryable(&self) -> bool {
        match self {
            AttributeError::Enrol(e) => crate::jobs::JobFailure::is_retryable(e),
            other => !matches!(
                other,
                AttributeError::WrongQueue(_)
                    | AttributeError::CreditRefused(_)
                    | AttributeError::Store(StoreError::Corrupt { .. })
            ),
        }
    }
}

/// The attributor.
pub struct Attributor {
    pub(super) codes: Arc<dyn CodeStore>,
    clicks: Arc<dyn ClickStore>,
    pub(super) referrals: Arc<dyn ReferralStore>,
    pub(super) audit: Arc<dyn AuditStore>,
    counters: Arc<dyn Counters>,
    pub(super) orders: Arc<dyn OrderStore>,
    screener: Arc<dyn Screener>,
    /// Where a connected store's order goes once its customer is attributed: the rewarder.
    pub(super) reward_jobs: Arc<dyn JobQueue>,
    /// Its own queue: a connected store's first order queues the customer's enrolment here.
    pub(super) signup_jobs: Arc<dyn JobQueue>,
    enroller: Arc<Enroller>,
    pub(super) clock: Arc<dyn Clock>,
    fingerprint_fallback: bool,
    /// `enrolment.on_first_order`.
    pub(super) enrol_on_first_order: bool,
}

/// The attributor's ports beyond the stores.
pub struct AttributorPorts {
    /// The screen (a Lambda invoke in AWS, the service itself locally).
    pub screener: Arc<dyn Screener>,
    /// The rewarder's queue, for the conversion a connected store's order carries.
    pub reward_jobs: Arc<dyn JobQueue>,
    /// The sign-up queue (its own), for enrolments.
    pub signup_jobs: Arc<dyn JobQueue>,
    /// Handles enrolments from the sign-up queue.
    pub enroller: Arc<Enroller>,
}

/// How far back the fingerprint fallback looks for a matching click.
pub const FINGERPRINT_LOOKBACK: Duration = Duration::from_secs(7 * 86_400);

/// Picks the credited touch: the newest whose code is live and inside that code's window at
/// `at`. Pure, so the rule is tested without storage.
pub fn last_touch(
    mut touches: Vec<Touch>,
    codes: &HashMap<Code, CodeRecord>,
    at: Timestamp,
) -> Result<(Touch, CodeRecord), Unattributed> {
    touches.retain(|t| t.at <= at.plus(CLOCK_SKEW));
    if touches.is_empty() {
        return Err(Unattributed::NoTouch);
    }
    touches.sort_by_key(|t| std::cmp::Reverse(t.at));
    let mut saw_live_code = false;
    let in_window = |t: &Touch, record: &CodeRecord| t.at.plus(record.terms.window()) > at;
    for touch in &touches {
        let Some(record) = codes.get(&touch.code).filter(|r| r.is_active()) else { continue };
        saw_live_code = true;
        if in_window(touch, record) {
            // A code typed, or applied at a connected store's checkout by the link itself, on
            // the code the friend also clicked: the click is the touch, so the screen measures
            // from it and its channel is counted.
            let clicked = (touch.method == Method::Code)
                .then(|| {
                    touches.iter().find(|t| t.code == touch.code && t.method != Method::Code && in_window(t, record))
                })
                .flatten();
            return Ok((clicked.unwrap_or(touch).clone(), record.clone()));
        }
    }
    Err(if saw_live_code { Unattributed::OutsideWindow } else { Unattributed::RetiredCode })
}

impl Attributor {
    /// An attributor over `stores` and its own ports.
    pub fn new(
        stores: &Stores,
        ports: AttributorPorts,
        clock: Arc<dyn Clock>,
        settings: &crate::settings::Settings,
    ) -> Self {
        Attributor {
            codes: stores.codes.clone(),
            clicks: stores.clicks.clone(),
            referrals: stores.referrals.clone(),
            audit: stores.audit.clone(),
            counters: stores.counters.clone(),
            orders: stores.orders.clone(),
            screener: ports.screener,
            reward_jobs: ports.reward_jobs,
            signup_jobs: ports.signup_jobs,
            enroller: ports.enroller,
            clock,
            fingerprint_fallback: settings.attribution.fingerprint_fallback,
            enrol_on_first_order: settings.enrolment.on_first_order,
        }
    }

    /// Every touch this person has: clicks under their token, invites to their email, a code
    /// they typed.
    async fn touches(&self, job: &SignupJob, at: Timestamp) -> Result<Vec<Touch>, StoreError> {
        let mut touches = Vec::new();
        if let Some(token) = &job.attribution_token {
            let clicks = self.clicks.touches(&TouchKey::Token(token.clone()), at).await?;
            touches.extend(clicks.into_iter().map(|c| Touch {
                code: c.code,
                at: c.at,
                method: Method::Token,
                channel: c.channel,
            }));
        }
        if let Some(email) = &job.identity.email {
            let invites = self.clicks.touches(&TouchKey::Email(email.clone()), at).await?;
            touches.extend(invites.into_iter().map(|c| Touch {
                code: c.code,
                at: c.at,
                method: Method::Email,
                channel: c.channel,
            }));
        }
        if let Some(code) = &job.code {
            touches.push(Touch { code: code.clone(), at, method: Method::Code, channel: None });
        }
        // The fingerprint fallback (docs/settings.md, `[attribution]`), off unless configured: the same browser (IP and user agent)
        // clicked a link recently. Weak evidence, so the screen always holds these.
        if touches.is_empty()
            && self.fingerprint_fallback
            && let Some(browser) = &job.identity.browser
            && let Some(click) = self.clicks.latest_from_browser(browser, at.minus(FINGERPRINT_LOOKBACK), at).await?
        {
            touches.push(Touch { code: click.code, at: click.at, method: Method::Fingerprint, channel: click.channel });
        }
        Ok(touches)
    }

    /// Handles one job from the sign-up queue.
    pub async fn handle(&self, job: crate::jobs::Job) -> Result<(), AttributeError> {
        match job {
            crate::jobs::Job::Signup(signup) => self.signup(&signup).await.map(|_| ()),
            crate::jobs::Job::Checkout(checkout) => self.checkout(&checkout).await.map(|_| ()),
            crate::jobs::Job::Import(import) => self.import(&import).await,
            crate::jobs::Job::Enrol(enrol) => self.enroller.enrol(&enrol).await.map(|_| ()).map_err(Into::into),
            crate::jobs::Job::Credit(credit) => self.credit(&credit).await.map(|_| ()),
            other => Err(AttributeError::WrongQueue(other.kind())),
        }
    }

    /// Handles one sign-up. Safe to repeat: a customer already referred is not processed again.
    pub async fn signup(&self, job: &SignupJob) -> Result<SignupOutcome, AttributeError> {
        let now = self.clock.now();
        let at = job.occurred_at.min(now);
        if let Some(existing) = self.referrals.find(&IdentityKey::Customer(job.customer_id.clone())).await? {
            let existing = self.finish_hold(existing).await?;
            return Ok(SignupOutcome::Joined(Box::new(existing)));
        }
        let touches = self.touches(job, at).await?;
        let mut codes = HashMap::new();
        for t in &touches {
            if !codes.contains_key(&t.code)
                && let Some(record) = self.codes.get(&t.code).await?
            {
                codes.insert(t.code.clone(), record);
            }
        }
        let (touch, code) = match last_touch(touches.clone(), &codes, at) {
            Ok(pick) => pick,
            Err(reason) => {
                tracing::info!(customer = %job.customer_id, ?reason, touches = touches.len(), "sign-up unattributed");
                let considered = crate::service::touches::report(&touches, &codes, at, None);
                // The sign-up itself is kept so a person can credit it by hand (`Job::Credit`);
                // erasure removes its personal fields with the rest of the customer's audit.
                let facts = json!({ "reason": reason, "touches": touches.len(), "considered": considered, "webhook_id": job.webhook_id, "signup": job });
                self.append(AuditEvent::new(AuditKind::Unattributed, job.customer_id.as_str(), now, facts)).await;
                return Ok(SignupOutcome::Unattributed(reason));
            }
        };
        velocity::record(self.counters.as_ref(), SIGNUPS_PER_CODE, code.code.as_str(), HOUR, at).await?;
        if let Some(ip) = &job.identity.ip {
            velocity::record(self.counters.as_ref(), SIGNUPS_PER_IP, ip.as_str(), DAY, at).await?;
        }
        let considered = crate::service::touches::report(&touches, &codes, at, Some(&touch));
        self.open_referral(job, &touch, &code, at, ("considered", json!(considered))).await
    }

    /// Screens a sign-up credited to `touch` on `code` and opens its referral (or joins the
    /// one its identity already belongs to). `at` is when the referral's window starts; the
    /// audit row gains `fact` (how the touch was chosen: `considered`, or a person's `credit`).
    pub(super) async fn open_referral(
        &self,
        job: &SignupJob,
        touch: &Touch,
        code: &CodeRecord,
        at: Timestamp,
        fact: (&str, serde_json::Value),
    ) -> Result<SignupOutcome, AttributeError> {
        let now = self.clock.now();
        let case = ScreenCase {
            stage: Stage::Signup,
            friend_id: job.customer_id.clone(),
            referrer_id: code.referrer_id.clone(),
            code: code.code.clone(),
            friend: job.identity.clone(),
            referrer: code.referrer.identity.clone(),
            email_domain: job.email.as_ref().map(|e| e.domain().to_owned()),
            method: touch.method,
            touched_at: touch.at,
            at,
        };
        let mut verdict = self.screener.screen(&case).await?;
        if verdict.flag_code {
            CodeFlags::new(self.codes.clone(), self.referrals.clone(), self.audit.clone(), self.counters.clone())
                .flag(code, &verdict.evidence, now)
                .await?;
        }
        if let Some(flag) = &code.flag {
            verdict.evidence.push(flagged_evidence(flag));
            verdict.outcome = verdict.outcome.max(Outcome::Hold);
        }
        let state = match verdict.outcome {
            Outcome::Pass => ReferralState::Pending,
            Outcome::Hold => ReferralState::Held,
            Outcome::Block => ReferralState::Blocked,
        };
        let referral = Referral {
            referral_id: ReferralId::generate(),
            referred_id: job.customer_id.clone(),
            referrer_id: code.referrer_id.clone(),
            code: code.code.clone(),
            state,
            method: touch.method,
            terms: code.terms.clone(),
            evidence: verdict.evidence.clone(),
            flags: Vec::new(),
            friend: FriendProfile {
                first_name: job.first_name.clone(),
                email: job.email.clone(),
                phone: job.phone.clone(),
                identity: job.identity.clone(),
            },
            touched_at: touch.at,
            channel: touch.channel.clone(),
            attribution_token: job.attribution_token.clone(),
            conversion: None,
            refunded: None,
            confirms_at: None,
            created_at: now,
            updated_at: now,
            expires_at: at.plus(code.terms.window()),
            review_notified_at: None,
            cleared_rules: Vec::new(),
            referrer_forfeited_at: None,
            version: 1,
        };
        let kind = match state {
            ReferralState::Held => AuditKind::Held,
            ReferralState::Blocked => AuditKind::Blocked,
            _ => AuditKind::Attributed,
        };
        let mut facts = json!({
            "customer_id": job.customer_id,
            "referrer_id": referral.referrer_id,
            "code": referral.code,
            "method": referral.method,
            "touched_at": referral.touched_at,
            "signed_up_at": job.occurred_at.min(now),
            "verdict": verdict,
            "identity": job.identity,
            "webhook_id": job.webhook_id,
        });
        facts[fact.0] = fact.1;
        let audit = AuditEvent::new(kind, referral.referral_id.as_str(), now, facts);
        let claims = IdentityKey::all_for(&job.customer_id, &job.identity);
        match self.referrals.open(&referral, &claims, &audit).await? {
            Opened::Created => {
                self.count_programme(PROGRAMME_SIGNUPS, now).await;
                crate::rollup::apply(self.counters.as_ref(), &crate::rollup::signup_steps(&referral)).await;
                let referral = self.finish_hold(referral).await?;
                Ok(SignupOutcome::Opened(Box::new(referral)))
            }
            Opened::Existing(existing) => {
                let facts = json!({ "customer_id": job.customer_id, "collapsed_into": existing.referral_id, "webhook_id": job.webhook_id });
                self.append(AuditEvent::new(AuditKind::Attributed, existing.referral_id.as_str(), now, facts)).await;
                Ok(SignupOutcome::Joined(existing))
            }
        }
    }

    /// Emails the team about a held referral once; the mark makes a retried job skip it.
    async fn finish_hold(&self, referral: Referral) -> Result<Referral, AttributeError> {
        if referral.state != ReferralState::Held || referral.review_notified_at.is_some() {
            return Ok(referral);
        }
        self.screener.notify_hold(&referral).await?;
        let mut marked = referral.clone();
        marked.review_notified_at = Some(self.clock.now());
        marked.version += 1;
        match self.referrals.save(&marked, referral.version, None).await {
            Ok(()) => Ok(marked),
            // Someone moved it meanwhile (a decision): the email went, the newer state stands.
            Err(crate::ports::WriteError::Conflict) => Ok(referral),
            Err(crate::ports::WriteError::Store(e)) => Err(e.into()),
        }
    }

    /// Counts an event in the programme-wide totals (for the average conversion rate).
    async fn count_programme(&self, key: &str, now: Timestamp) {
        if let Err(e) = self.counters.increment(key, None, Timestamp::from_secs(i64::MAX / 2000), now).await {
            tracing::warn!(error = %e, key, "programme counter not updated");
        }
    }

    pub(super) async fn append(&self, event: AuditEvent) {
        if let Err(e) = self.audit.append(&event).await {
            tracing::error!(error = %e, kind = ?event.kind, subject = %event.subject, "audit row failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::{CodeStatus, ReferrerProfile};
    use crate::ids::CustomerId;
    use crate::money::{Currency, Reward, RewardKind, Terms};

    fn record(code: &str, window_secs: u64, status: CodeStatus) -> (Code, CodeRecord) {
        let reward = Reward {
            kind: RewardKind::Credit,
            amount_minor: 1,
            currency: Currency::parse("GBP").unwrap(),
            description: "x".into(),
        };
        let c = Code::parse(code).unwrap();
        (
            c.clone(),
            CodeRecord {
                code: c,
                referrer_id: CustomerId::parse("c").unwrap(),
                status,
                terms: Terms { referrer_reward: reward.clone(), friend_reward: reward, window_secs, tiers: vec![] },
                referrer: ReferrerProfile::default(),
                invite: String::new(),
                created_at: Timestamp::EPOCH,
                retired_at: None,
                flag: None,
            },
        )
    }

    fn touch(code: &str, secs: i64, method: Method) -> Touch {
        Touch { code: Code::parse(code).unwrap(), at: Timestamp::from_secs(secs), method, channel: None }
    }

    #[test]
    fn the_newest_live_touch_inside_its_window_wins() {
        let codes: HashMap<_, _> = [
            record("DANDAN", 100, CodeStatus::Active),
            record("SAMSAM", 100, CodeStatus::Active),
            record("RETRED", 100, CodeStatus::Retired),
        ]
        .into();
        let at = Timestamp::from_secs(150);
        let pick = |ts: Vec<Touch>| last_touch(ts, &codes, at).map(|(t, _)| t.code.to_string());
        assert_eq!(
            pick(vec![touch("DANDAN", 60, Method::Token), touch("SAMSAM", 120, Method::Token)]),
            Ok("SAMSAM".into())
        );
        assert_eq!(
            pick(vec![touch("DANDAN", 60, Method::Token), touch("RETRED", 120, Method::Token)]),
            Ok("DANDAN".into())
        );
        assert_eq!(pick(vec![touch("RETRED", 120, Method::Token)]), Err(Unattributed::RetiredCode));
        assert_eq!(pick(vec![touch("DANDAN", 40, Method::Token)]), Err(Unattributed::OutsideWindow));
        assert_eq!(pick(vec![]), Err(Unattributed::NoTouch));
        assert_eq!(
            pick(vec![touch("DANDAN", 200, Method::Token)]),
            Err(Unattributed::NoTouch),
            "a click after the sign-up does not count"
        );
        assert_eq!(
            pick(vec![touch("DANDAN", 140, Method::Email), touch("SAMSAM", 150, Method::Code)]),
            Ok("SAMSAM".into()),
            "a code typed at sign-up is the newest touch"
        );
        let method = |ts: Vec<Touch>| last_touch(ts, &codes, at).map(|(t, _)| (t.code.to_string(), t.method, t.at));
        assert_eq!(
            method(vec![touch("DANDAN", 100, Method::Token), touch("DANDAN", 150, Method::Code)]),
            Ok(("DANDAN".into(), Method::Token, Timestamp::from_secs(100))),
            "the code applied at the checkout of the link clicked: the click is the touch"
        );
        assert_eq!(
            method(vec![touch("DANDAN", 40, Method::Token), touch("DANDAN", 150, Method::Code)]),
            Ok(("DANDAN".into(), Method::Code, Timestamp::from_secs(150))),
            "a click outside the window leaves the typed code as the touch"
        );
        assert_eq!(
            method(vec![touch("SAMSAM", 100, Method::Token), touch("DANDAN", 150, Method::Code)]),
            Ok(("DANDAN".into(), Method::Code, Timestamp::from_secs(150))),
            "a click on another code does not take a typed code's place"
        );
    }
}
