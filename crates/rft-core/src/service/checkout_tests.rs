//! A connected store's order on fakes: attributed and handed to the rewarder once, a repeat
//! joins, and a customer who is not new stays unattributed with the reason in the audit.

use crate::audit::AuditKind;
use crate::code::{Code, CodeRecord};
use crate::email::Email;
use crate::identity::IdentityKey;
use crate::jobs::{CheckoutJob, Job, SignupJob};
use crate::ports::ReferralStore;
use crate::referral::Method;
use crate::service::attribute::{SignupOutcome, Unattributed};
use crate::testing::{World, customer};

/// A guest's order `order` paid with Dan's code as its discount, as intake builds it.
fn order(w: &World, code: &CodeRecord, buyer: &str, order: &str) -> CheckoutJob {
    let email = Email::parse(&format!("{buyer}@example.com")).unwrap();
    let mut conversion = w.conversion();
    conversion.customer_id = customer(buyer);
    conversion.order_id = order.into();
    conversion.webhook_id = format!("stripe:evt_{order}");
    conversion.discount_code = Some(code.code.clone());
    conversion.identity = w.hasher().hash_all(&Default::default(), Some(&email));
    let signup = SignupJob {
        webhook_id: conversion.webhook_id.clone(),
        customer_id: conversion.customer_id.clone(),
        email: Some(email),
        first_name: Some("Mara".into()),
        phone: None,
        attribution_token: None,
        code: Some(code.code.clone()),
        identity: conversion.identity.clone(),
        occurred_at: w.clock_now(),
    };
    CheckoutJob { signup, conversion, earlier_orders: Some(false) }
}

#[tokio::test]
async fn a_first_order_with_the_code_as_its_discount_opens_a_referral_and_queues_its_conversion() {
    let w = World::new();
    let code = w.given_code().await;
    let outcome = w.attributor().checkout(&order(&w, &code, "guest_mara", "o_1")).await.unwrap();
    let SignupOutcome::Opened(referral) = outcome else { panic!("opened: {outcome:?}") };
    assert_eq!((referral.code.as_str(), referral.method), ("DAN234", Method::Code));
    assert_eq!(w.conversions_sent(), ["o_1"]);
}

#[tokio::test]
async fn a_redelivered_order_joins_its_referral_and_opens_nothing_new() {
    let w = World::new();
    let code = w.given_code().await;
    let job = order(&w, &code, "guest_mara", "o_1");
    w.attributor().checkout(&job).await.unwrap();
    let again = w.attributor().checkout(&job).await.unwrap();
    assert!(matches!(again, SignupOutcome::Joined(_)), "{again:?}");
    assert_eq!(w.store.state().referrals.len(), 1);
    // The rewarder handles a conversion once per referral; a second send is absorbed there.
    assert_eq!(w.conversions_sent(), ["o_1", "o_1"]);
}

#[tokio::test]
async fn a_customer_the_provider_says_ordered_before_is_unattributed_and_nothing_is_paid() {
    let w = World::new();
    let code = w.given_code().await;
    let mut job = order(&w, &code, "c_regular", "o_9");
    job.earlier_orders = Some(true);
    let outcome = w.attributor().checkout(&job).await.unwrap();
    assert_eq!(outcome, SignupOutcome::Unattributed(Unattributed::ExistingCustomer));
    assert!(w.store.state().referrals.is_empty());
    assert!(w.conversions_sent().is_empty());
    assert_eq!(w.audit_kinds("c_regular"), [AuditKind::Unattributed]);
    let facts = w.store.state().audit.iter().find(|e| e.subject == "c_regular").unwrap().facts.clone();
    assert_eq!(facts["reason"], "existing_customer");
}

#[tokio::test]
async fn a_second_order_of_a_customer_first_seen_without_a_referral_is_unattributed() {
    let w = World::new();
    let code = w.given_code().await;
    // Their first order carried no code: nobody to credit, but the order is remembered.
    let mut first = order(&w, &code, "c_kim", "o_1");
    first.signup.code = None;
    first.conversion.discount_code = None;
    let outcome = w.attributor().checkout(&first).await.unwrap();
    assert!(matches!(outcome, SignupOutcome::Unattributed(_)), "{outcome:?}");
    // A later order with Dan's code does not make them a new customer.
    let later = w.attributor().checkout(&order(&w, &code, "c_kim", "o_2")).await.unwrap();
    assert_eq!(later, SignupOutcome::Unattributed(Unattributed::ExistingCustomer));
    assert!(w.store.find(&IdentityKey::Customer(customer("c_kim"))).await.unwrap().is_none());
    assert!(w.conversions_sent().is_empty());
}

#[tokio::test]
async fn a_code_that_is_not_a_referral_code_credits_nobody() {
    let w = World::new();
    let code = w.given_code().await;
    let mut job = order(&w, &code, "guest_sam", "o_1");
    let shop_code = Code::parse("SPRNG2").unwrap();
    job.signup.code = Some(shop_code.clone());
    job.conversion.discount_code = Some(shop_code);
    let outcome = w.attributor().checkout(&job).await.unwrap();
    assert!(matches!(outcome, SignupOutcome::Unattributed(_)), "{outcome:?}");
    assert!(w.store.find(&IdentityKey::Customer(customer("guest_sam"))).await.unwrap().is_none());
    assert!(w.conversions_sent().is_empty());
}

fn enrolments_sent(w: &World) -> Vec<(String, String)> {
    w.jobs_sent()
        .into_iter()
        .filter_map(|(job, _)| match job {
            Job::Enrol(e) => Some((e.customer_id.to_string(), e.order_id)),
            _ => None,
        })
        .collect()
}

fn enrolling() -> World {
    World::with_settings(&[("on_first_order", "true")])
}

#[tokio::test]
async fn a_first_order_queues_one_enrolment_whether_or_not_it_was_attributed() {
    let w = enrolling();
    let code = w.given_code().await;
    w.attributor().checkout(&order(&w, &code, "guest_mara", "o_1")).await.unwrap();
    let mut unreferred = order(&w, &code, "c_kim", "o_2");
    unreferred.signup.code = None;
    unreferred.conversion.discount_code = None;
    let outcome = w.attributor().checkout(&unreferred).await.unwrap();
    assert!(matches!(outcome, SignupOutcome::Unattributed(_)), "{outcome:?}");
    assert_eq!(enrolments_sent(&w), [("guest_mara".into(), "o_1".into()), ("c_kim".into(), "o_2".into())]);
    let Some((Job::Enrol(job), _)) = w.jobs_sent().into_iter().find(|(j, _)| matches!(j, Job::Enrol(_))) else {
        panic!("an enrolment")
    };
    assert_eq!((job.email.as_str(), job.first_name.as_deref()), ("guest_mara@example.com", Some("Mara")));
}

#[tokio::test]
async fn a_later_order_queues_no_enrolment() {
    let w = enrolling();
    let code = w.given_code().await;
    w.attributor().checkout(&order(&w, &code, "c_kim", "o_1")).await.unwrap();
    w.attributor().checkout(&order(&w, &code, "c_kim", "o_2")).await.unwrap();
    let mut regular = order(&w, &code, "c_regular", "o_9");
    regular.earlier_orders = Some(true);
    w.attributor().checkout(&regular).await.unwrap();
    assert_eq!(enrolments_sent(&w), [("c_kim".into(), "o_1".into())]);
}

#[tokio::test]
async fn with_enrolment_off_a_first_order_queues_none() {
    let w = World::new();
    let code = w.given_code().await;
    w.attributor().checkout(&order(&w, &code, "guest_mara", "o_1")).await.unwrap();
    assert!(enrolments_sent(&w).is_empty());
    assert_eq!(w.conversions_sent(), ["o_1"]);
}

#[tokio::test]
async fn a_first_order_without_an_email_enrols_nobody() {
    let w = enrolling();
    let code = w.given_code().await;
    let mut job = order(&w, &code, "c_kim", "o_1");
    job.signup.email = None;
    w.attributor().checkout(&job).await.unwrap();
    assert!(enrolments_sent(&w).is_empty());
}
