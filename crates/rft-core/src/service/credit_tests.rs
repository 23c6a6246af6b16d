//! Crediting a sign-up by hand on fakes: the kept sign-up opens a referral through the
//! referrer's live code, screened, audited with the member and the reason; its first order is
//! replayed to the rewarder and pays once; what cannot be credited is refused with the reason.

use crate::audit::AuditKind;
use crate::email::Email;
use crate::identity::{Field, IdentityKey};
use crate::ids::ShortText;
use crate::jobs::{CreditJob, Job, SignupJob};
use crate::ports::{CodeStore, ReferralStore};
use crate::referral::{Method, ReferralState};
use crate::service::attribute::SignupOutcome;
use crate::service::credit::{CreditCheckError, CreditRefused, creditable};
use crate::testing::{World, customer};

/// Mara's sign-up with no touch at all: it credits nobody.
fn lone_signup(w: &World) -> SignupJob {
    let email = Email::parse("mara@example.com").unwrap();
    SignupJob {
        webhook_id: "msg_signup".into(),
        customer_id: customer("c_mara"),
        identity: w.hasher().hash_all(&Default::default(), Some(&email)),
        email: Some(email),
        first_name: Some("Mara".into()),
        phone: None,
        attribution_token: None,
        code: None,
        occurred_at: w.clock_now(),
    }
}

fn credit_to(referrer: &str) -> CreditJob {
    CreditJob {
        customer_id: customer("c_mara"),
        referrer_id: customer(referrer),
        reason: ShortText::parse("Mara told us at the counter that Dan sent her").unwrap(),
        by: Email::parse("owner@freshbox.example").unwrap(),
        requested_at: crate::time::Timestamp::from_secs(1),
    }
}

async fn check(w: &World, referrer: &str) -> Result<crate::service::credit::Creditable, CreditRefused> {
    creditable(w.store.as_ref(), w.store.as_ref(), w.store.as_ref(), &customer("c_mara"), &customer(referrer))
        .await
        .map_err(|e| match e {
            CreditCheckError::Refused(r) => r,
            CreditCheckError::Store(s) => panic!("store: {s}"),
        })
}

#[tokio::test]
async fn a_credited_sign_up_opens_a_referral_by_hand_and_its_earlier_order_pays_both_sides_once() {
    let w = World::new();
    w.given_code().await;
    let outcome = w.attributor().signup(&lone_signup(&w)).await.unwrap();
    assert!(matches!(outcome, SignupOutcome::Unattributed(_)), "{outcome:?}");
    // Her first order came while she was credited to nobody: not paid, kept.
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    assert_eq!(w.audit_kinds("c_mara"), [AuditKind::Unattributed, AuditKind::NotPaid]);

    let outcome = w.attributor().credit(&credit_to("c_dan")).await.unwrap();
    let SignupOutcome::Opened(referral) = outcome else { panic!("opened: {outcome:?}") };
    assert_eq!(
        (referral.state, referral.method, referral.code.as_str(), referral.referrer_id.as_str()),
        (ReferralState::Pending, Method::Manual, "DAN234", "c_dan")
    );
    assert_eq!(referral.friend.first_name.as_deref(), Some("Mara"));
    let opened = w.store.state().audit.iter().find(|e| e.subject == referral.referral_id.as_str()).cloned().unwrap();
    assert_eq!(opened.kind, AuditKind::Attributed);
    assert_eq!(opened.facts["credit"]["by"], "owner@freshbox.example");
    assert_eq!(opened.facts["credit"]["reason"], "Mara told us at the counter that Dan sent her");
    assert_eq!(opened.facts["method"], "manual");
    assert_eq!(w.conversions_sent(), ["o_1"]);

    // The replayed order converts the referral: both sides owed, once, however often it runs.
    let replay = w.jobs_sent().into_iter().find_map(|(j, _)| matches!(j, Job::Conversion(_)).then_some(j)).unwrap();
    w.rewarder().handle(replay.clone()).await.unwrap();
    w.rewarder().handle(replay).await.unwrap();
    assert_eq!(w.referral(&referral.referral_id).state, ReferralState::Rewarded);
    assert_eq!(w.rows(&referral.referral_id).len(), 2);
}

#[tokio::test]
async fn a_repeated_credit_opens_one_referral_and_replays_the_order_only_until_it_converts() {
    let w = World::new();
    w.given_code().await;
    w.attributor().signup(&lone_signup(&w)).await.unwrap();
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    w.attributor().credit(&credit_to("c_dan")).await.unwrap();
    let again = w.attributor().credit(&credit_to("c_dan")).await.unwrap();
    assert!(matches!(again, SignupOutcome::Joined(_)), "{again:?}");
    assert_eq!(w.store.state().referrals.len(), 1);
    // Before the rewarder took the order, a repeat hands it on again (the rewarder pays once).
    assert_eq!(w.conversions_sent(), ["o_1", "o_1"]);
}

#[tokio::test]
async fn a_credit_is_screened_like_any_sign_up_with_the_friends_identity_and_can_be_held() {
    let w = World::new();
    w.given_code().await;
    let mut signup = lone_signup(&w);
    signup.identity.payment = w.hasher().hash(Field::Payment, "card_dan");
    w.attributor().signup(&signup).await.unwrap();
    w.screener.finds("identity_match", crate::referral::Outcome::Hold);
    let outcome = w.attributor().credit(&credit_to("c_dan")).await.unwrap();
    let SignupOutcome::Opened(referral) = outcome else { panic!("opened: {outcome:?}") };
    assert_eq!(referral.state, ReferralState::Held);
    let case = w.screener.cases().pop().unwrap();
    assert_eq!((case.method, case.friend.payment), (Method::Manual, signup.identity.payment));
    assert_eq!(case.referrer_id, customer("c_dan"));
    // The team is told about the hold, as for any held sign-up.
    assert_eq!(w.screener.holds().len(), 1);
}

#[tokio::test]
async fn what_cannot_be_credited_is_refused_with_its_reason() {
    let w = World::new();
    let code = w.given_code().await;
    // Nothing known about Mara yet.
    assert_eq!(check(&w, "c_dan").await, Err(CreditRefused::NoSignup(customer("c_mara"))));
    w.attributor().signup(&lone_signup(&w)).await.unwrap();
    assert!(check(&w, "c_dan").await.is_ok());
    assert_eq!(check(&w, "c_mara").await, Err(CreditRefused::SelfReferral(customer("c_mara"))));
    assert_eq!(check(&w, "c_nobody").await, Err(CreditRefused::NoLiveCode(customer("c_nobody"))));
    w.store.retire(&code.code, w.clock_now()).await.unwrap();
    assert_eq!(check(&w, "c_dan").await, Err(CreditRefused::NoLiveCode(customer("c_dan"))));
    // The job refuses too, and says retrying will not help.
    let refused = w.attributor().credit(&credit_to("c_dan")).await.unwrap_err();
    assert!(!crate::jobs::JobFailure::is_retryable(&refused), "{refused}");
    assert!(w.store.find(&IdentityKey::Customer(customer("c_mara"))).await.unwrap().is_none());
}

#[tokio::test]
async fn an_existing_customer_an_already_referred_one_and_an_erased_one_are_refused() {
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    assert_eq!(
        check(&w, "c_dan").await,
        Err(CreditRefused::AlreadyReferred(customer("c_mara"), referral.referral_id.clone()))
    );

    let w = World::new();
    w.given_code().await;
    let existing = serde_json::json!({ "reason": "existing_customer", "order_id": "o_9" });
    let event = crate::audit::AuditEvent::new(AuditKind::Unattributed, "c_mara", w.clock_now(), existing);
    crate::ports::AuditStore::append(w.store.as_ref(), &event).await.unwrap();
    assert_eq!(check(&w, "c_dan").await, Err(CreditRefused::ExistingCustomer(customer("c_mara"))));

    let w = World::new();
    w.given_code().await;
    w.attributor().signup(&lone_signup(&w)).await.unwrap();
    w.eraser().erase_customer(&customer("c_mara")).await.unwrap();
    assert_eq!(check(&w, "c_dan").await, Err(CreditRefused::NoSignup(customer("c_mara"))));
}
