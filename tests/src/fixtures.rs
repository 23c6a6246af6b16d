//! Sample domain records for tests.

use std::time::Duration;

use rft_core::click::TouchKey;
use rft_core::code::ReferrerProfile;
use rft_core::jobs::SignupJob;
use rft_core::ledger::CounterStep;
use rft_core::ledger::TallyStep;
use rft_core::referral::{FriendProfile, Method};
use rft_core::{
    AuditEvent, AuditKind, Click, Code, CodeRecord, CodeStatus, Currency, CustomerId, Email, HashedIdentity, Job,
    LedgerRow, Referral, ReferralId, ReferralState, Reward, RewardCommit, RewardKind, Side, Terms, Timestamp, Token,
};

/// A customer id.
pub fn customer(s: &str) -> CustomerId {
    CustomerId::parse(s).expect("test customer ids are valid")
}

/// A code.
pub fn code(s: &str) -> Code {
    Code::parse(s).expect("test codes are valid")
}

/// A reward in pounds.
pub fn gbp(amount_minor: u64, description: &str) -> Reward {
    Reward {
        kind: RewardKind::Credit,
        amount_minor,
        currency: Currency::parse("GBP").expect("GBP"),
        description: description.into(),
    }
}

/// The FreshBox terms with a 30-day window.
pub fn terms() -> Terms {
    Terms {
        referrer_reward: gbp(1000, "£10 off your next box"),
        friend_reward: gbp(1000, "£10 off your first box"),
        window_secs: 30 * 86_400,
        tiers: vec![],
    }
}

/// An active code owned by `owner`.
pub fn code_record(c: &str, owner: &str, at: Timestamp) -> CodeRecord {
    CodeRecord {
        code: code(c),
        referrer_id: customer(owner),
        status: CodeStatus::Active,
        terms: terms(),
        referrer: ReferrerProfile {
            first_name: Some("Dan".into()),
            email: Some(Email::parse("dan@example.com").expect("valid")),
            phone: None,
            identity: HashedIdentity::default(),
        },
        invite: "Try FreshBox: {{link}}".into(),
        created_at: at,
        retired_at: None,
        flag: None,
    }
}

/// A click on `c` by `token` at `at`, alive for `window`.
pub fn click(token: &Token, c: &str, at: Timestamp, window: Duration) -> Click {
    touch(TouchKey::Token(token.clone()), c, at, window)
}

/// A touch on `c` filed under `key` at `at`, alive for `window`.
pub fn touch(key: TouchKey, c: &str, at: Timestamp, window: Duration) -> Click {
    Click {
        key,
        at,
        code: code(c),
        ip_hash: None,
        user_agent: Some("Mozilla/5.0".into()),
        channel: None,
        browser: None,
        expires_at: at.plus(window),
    }
}

/// A pending referral of `friend` by `referrer` through `c`.
pub fn referral(friend: &str, referrer: &str, c: &str, at: Timestamp) -> Referral {
    Referral {
        referral_id: ReferralId::generate(),
        referred_id: customer(friend),
        referrer_id: customer(referrer),
        code: code(c),
        state: ReferralState::Pending,
        method: Method::Token,
        terms: terms(),
        evidence: vec![],
        flags: vec![],
        friend: FriendProfile::default(),
        touched_at: at,
        channel: None,
        attribution_token: None,
        conversion: None,
        refunded: None,
        confirms_at: None,
        created_at: at,
        updated_at: at,
        expires_at: at.plus(Duration::from_secs(30 * 86_400)),
        review_notified_at: None,
        cleared_rules: Vec::new(),
        referrer_forfeited_at: None,
        version: 1,
    }
}

/// An audit event about `subject`.
pub fn audit(kind: AuditKind, subject: &str, at: Timestamp) -> AuditEvent {
    AuditEvent::new(kind, subject, at, serde_json::json!({ "test": true }))
}

/// The payout of `r` as one commit, given the referrer's tally.
pub fn reward_commit(r: &Referral, tally: u32, at: Timestamp) -> RewardCommit {
    let mut paid = r.clone();
    paid.state = ReferralState::Rewarded;
    paid.version = r.version + 1;
    paid.updated_at = at;
    let referrer_row = LedgerRow::owed(
        r.referral_id.clone(),
        Side::Referrer,
        r.referrer_id.clone(),
        r.terms.referrer_reward_for(tally + 1),
        Some(tally + 1),
        at,
    );
    let friend_row = LedgerRow::owed(
        r.referral_id.clone(),
        Side::Friend,
        r.referred_id.clone(),
        r.terms.friend_reward.clone(),
        None,
        at,
    );
    RewardCommit {
        referral: paid,
        expected_version: r.version,
        rows: [referrer_row, friend_row],
        tally: TallyStep { referrer_id: r.referrer_id.clone(), expected: tally },
        audit: audit(AuditKind::Paid, r.referral_id.as_str(), at),
        counters: vec![CounterStep::one(PAYOUTS_COUNTER, Timestamp::NEVER)],
        order_id: Some(order_of(r)),
    }
}

/// The converting order a fixture payout links.
pub fn order_of(r: &Referral) -> String {
    format!("o_{}", r.referral_id)
}

/// The counter every fixture payout moves in its transaction.
pub const PAYOUTS_COUNTER: &str = "programme#rewarded";

/// A sign-up job.
pub fn signup_job(n: usize) -> Job {
    Job::Signup(SignupJob {
        webhook_id: format!("msg_{n}"),
        customer_id: customer(&format!("c_{n}")),
        email: Some(Email::parse(&format!("friend{n}@example.com")).expect("valid")),
        first_name: Some("Mara".into()),
        phone: None,
        attribution_token: None,
        code: None,
        identity: HashedIdentity::default(),
        occurred_at: Timestamp::from_secs(1_900_000_000),
    })
}
