//! Enrolment on fakes: minted and mailed once however often the job comes, never to an
//! unsubscribed address, and a failed or crashed delivery finished by the next.

use std::time::Duration;

use crate::audit::AuditKind;
use crate::email::Email;
use crate::jobs::{EnrolJob, Job};
use crate::links::LinkPurpose;
use crate::ports::{Begin, MessageKind, Unsubscribes, WebhookLog};
use crate::service::enrol::ENROL_LEASE;
use crate::service::unsubscribe::email_hash;
use crate::testing::{World, customer};

fn kim() -> EnrolJob {
    EnrolJob {
        customer_id: customer("c_kim"),
        email: Email::parse("kim@example.com").unwrap(),
        first_name: Some("Kim".into()),
        identity: Default::default(),
        order_id: "o_1".into(),
        webhook_id: "csv:o_1".into(),
    }
}

fn kims_codes(w: &World) -> usize {
    w.store.state().codes.values().filter(|c| c.referrer_id == customer("c_kim")).count()
}

/// The `e` and `sig` of the unsubscribe link in a message's text.
fn unsubscribe_params(body: &str) -> (String, String) {
    let at = body.find("/unsubscribe?").expect("an unsubscribe link");
    let url = url::Url::parse(&format!("https://x{}", body[at..].split_whitespace().next().unwrap())).unwrap();
    let get = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned()).unwrap();
    (get("e"), get("sig"))
}

#[tokio::test]
async fn an_enrolment_handled_twice_mints_once_and_mails_once() {
    let w = World::new();
    let attributor = w.attributor();
    attributor.handle(Job::Enrol(kim())).await.unwrap();
    attributor.handle(Job::Enrol(kim())).await.unwrap();
    assert_eq!(kims_codes(&w), 1);
    let mails = w.messenger.of_kind(MessageKind::Enrolment);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let code = w.store.state().active.get(&customer("c_kim")).cloned().unwrap();
    let mail = &mails[0];
    assert_eq!(mail.to, "kim@example.com");
    assert!(mail.body.contains(&format!("https://refer.freshbox.uk/r/{code}")), "{}", mail.body);
    assert!(mail.html.as_deref().unwrap().contains("/unsubscribe?e="));
    let (e, sig) = unsubscribe_params(&mail.body);
    assert_eq!(mail.unsubscribe, Some(format!("https://refer.freshbox.uk/unsubscribe?e={e}&sig={sig}")));
    assert_eq!(w.audit_kinds("c_kim"), [AuditKind::Enrolled]);
}

#[tokio::test]
async fn the_unsubscribe_link_is_signed_for_the_address_and_a_forged_one_is_refused() {
    let w = World::new();
    w.attributor().handle(Job::Enrol(kim())).await.unwrap();
    let (e, sig) = unsubscribe_params(&w.messenger.of_kind(MessageKind::Enrolment)[0].body);
    let kims = email_hash(&w.hasher(), "kim@example.com").unwrap();
    assert_eq!(e, kims.as_str());
    assert_eq!(w.links().verify_lasting(&LinkPurpose::Unsubscribe(kims.clone()), &sig), Ok(()));
    let someone = email_hash(&w.hasher(), "sam@example.com").unwrap();
    assert!(w.links().verify_lasting(&LinkPurpose::Unsubscribe(someone), &sig).is_err());
    let other = if sig.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{other}{}", &sig[1..]);
    assert!(w.links().verify_lasting(&LinkPurpose::Unsubscribe(kims), &forged).is_err());
}

#[tokio::test]
async fn an_unsubscribed_address_is_neither_minted_for_nor_mailed() {
    let w = World::new();
    let hash = email_hash(&w.hasher(), "Kim+shop@Example.com").unwrap();
    w.store.unsubscribe(&hash, w.clock_now()).await.unwrap();
    w.attributor().handle(Job::Enrol(kim())).await.unwrap();
    assert!(w.messenger.sent().is_empty());
    assert_eq!(kims_codes(&w), 0);
}

#[tokio::test]
async fn a_failed_send_releases_the_claim_and_the_retry_mails_once() {
    let w = World::new();
    let attributor = w.attributor();
    w.messenger.fail_next();
    let err = attributor.handle(Job::Enrol(kim())).await.unwrap_err();
    assert!(crate::jobs::JobFailure::is_retryable(&err), "{err}");
    attributor.handle(Job::Enrol(kim())).await.unwrap();
    assert_eq!(w.messenger.of_kind(MessageKind::Enrolment).len(), 1);
    assert_eq!(kims_codes(&w), 1);
}

#[tokio::test]
async fn a_delivery_that_crashed_holding_the_claim_is_finished_after_its_lease() {
    let w = World::new();
    // A delivery claimed it, then its process died before sending.
    assert_eq!(w.store.begin("enrolment:c_kim", w.clock_now(), ENROL_LEASE).await.unwrap(), Begin::Fresh);
    let attributor = w.attributor();
    let err = attributor.handle(Job::Enrol(kim())).await.unwrap_err();
    assert!(crate::jobs::JobFailure::is_retryable(&err), "{err}");
    assert!(w.messenger.sent().is_empty());
    w.advance(ENROL_LEASE + Duration::from_secs(1));
    attributor.handle(Job::Enrol(kim())).await.unwrap();
    assert_eq!(w.messenger.of_kind(MessageKind::Enrolment).len(), 1);
}
