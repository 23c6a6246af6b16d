//! The thank step on fakes: one note per fulfilled side, claimed on the row before it goes.

use std::time::Duration;

use crate::email::Email;
use crate::ids::Phone;
use crate::jobs::{Job, JobFailure, Recipient, ThankJob};
use crate::ledger::{Fulfilment, Side};
use crate::ports::{Channel, MessageKind};
use crate::referral::Referral;
use crate::testing::World;

/// A rewarded referral whose `side` was fulfilled, and the thank job that queued.
async fn fulfilled(w: &World, side: Side) -> (Referral, ThankJob) {
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    let rewarder = w.rewarder();
    rewarder.handle(Job::Conversion(w.conversion())).await.unwrap();
    let fulfil = w.jobs_sent().into_iter().map(|(job, _)| job).find(|j| matches!(j, Job::Fulfil(f) if f.side == side));
    w.queue.clear();
    rewarder.handle(fulfil.unwrap()).await.unwrap();
    let Some((Job::Thank(thank), _)) = w.jobs_sent().pop() else { panic!("a thank job") };
    w.queue.clear();
    (referral, thank)
}

#[tokio::test]
async fn a_fulfilled_side_is_thanked_once_at_its_contact() {
    // GIVEN Mara's reward is fulfilled
    let w = World::new();
    let (referral, thank) = fulfilled(&w, Side::Friend).await;
    // WHEN her thank job runs
    w.rewarder().handle(Job::Thank(thank)).await.unwrap();
    // THEN one welcome email goes to her, naming her reward, and the row records the note
    let sent = w.messenger.of_kind(MessageKind::ThankYouFriend);
    assert_eq!(sent.iter().map(|m| m.to.as_str()).collect::<Vec<_>>(), ["mara@example.com"]);
    assert!(sent[0].body.contains("£10 off your first box"));
    assert!(w.rows(&referral.referral_id)[1].note_sent_at.is_some());
}

#[tokio::test]
async fn duplicate_thank_jobs_send_one_note() {
    // GIVEN the referrer's thank job was queued twice (a redelivered fulfil job queues it again)
    let w = World::new();
    let (_, thank) = fulfilled(&w, Side::Referrer).await;
    let rewarder = w.rewarder();
    // WHEN both run
    rewarder.handle(Job::Thank(thank.clone())).await.unwrap();
    rewarder.handle(Job::Thank(thank)).await.unwrap();
    // THEN Dan got one note
    assert_eq!(w.messenger.of_kind(MessageKind::ThankYouReferrer).len(), 1);
}

#[tokio::test]
async fn a_note_that_could_not_be_sent_gives_its_claim_back_for_the_retry() {
    // GIVEN the mail provider fails once
    let w = World::new();
    let (referral, thank) = fulfilled(&w, Side::Friend).await;
    w.messenger.fail_next();
    let rewarder = w.rewarder();
    // WHEN the thank job runs, fails, and is delivered again
    let failed = rewarder.handle(Job::Thank(thank.clone())).await.unwrap_err();
    assert!(failed.is_retryable());
    assert_eq!(w.rows(&referral.referral_id)[1].note_sent_at, None, "the claim is released");
    rewarder.handle(Job::Thank(thank)).await.unwrap();
    // THEN the note goes on the retry
    assert_eq!(w.messenger.of_kind(MessageKind::ThankYouFriend).len(), 1);
}

#[tokio::test]
async fn a_side_without_a_contact_is_claimed_and_nobody_is_written_to() {
    // GIVEN the programme has no address or phone for the referrer
    let w = World::new();
    let (referral, mut thank) = fulfilled(&w, Side::Referrer).await;
    thank.note.to = None;
    // WHEN the thank job runs
    w.rewarder().handle(Job::Thank(thank)).await.unwrap();
    // THEN nothing is sent, and the note counts as done
    assert!(w.messenger.sent().is_empty());
    assert!(w.rows(&referral.referral_id)[0].note_sent_at.is_some());
}

#[tokio::test]
async fn a_phone_only_friend_is_thanked_by_sms() {
    // GIVEN Mara gave a phone number and no email
    let w = World::new();
    let (_, mut thank) = fulfilled(&w, Side::Friend).await;
    thank.note.to = Some(Recipient::Sms(Phone::parse("+447700900123").unwrap()));
    // WHEN the thank job runs
    w.rewarder().handle(Job::Thank(thank)).await.unwrap();
    // THEN one SMS goes to her number
    let sent = w.messenger.sent();
    assert_eq!(sent.iter().map(|m| (m.channel, m.to.as_str())).collect::<Vec<_>>(), [(Channel::Sms, "+447700900123")]);
}

#[tokio::test]
async fn a_row_relabelled_by_erasure_is_not_thanked() {
    // GIVEN Mara was erased after her reward was fulfilled (erasure rewrites the row's customer)
    let w = World::new();
    let (_, thank) = fulfilled(&w, Side::Friend).await;
    for row in w.store.state().ledger.values_mut() {
        row.customer_id = crate::testing::customer("erased_0123");
        row.version += 1;
    }
    // WHEN her thank job runs
    w.rewarder().handle(Job::Thank(thank)).await.unwrap();
    // THEN nothing is sent to the address the job still carries
    assert!(w.messenger.sent().is_empty());
}

#[tokio::test]
async fn a_row_that_is_not_fulfilled_is_not_thanked() {
    // GIVEN a thank job whose row went back to owed (never in normal running; a job sent by hand)
    let w = World::new();
    let (referral, mut thank) = fulfilled(&w, Side::Friend).await;
    thank.row.fulfilment = Fulfilment::Owing { attempts: 0, next_attempt_at: referral.created_at, last_error: None };
    // WHEN it runs
    w.rewarder().handle(Job::Thank(thank)).await.unwrap();
    // THEN nothing is sent
    assert!(w.messenger.sent().is_empty());
}

#[tokio::test]
async fn a_model_draft_that_passes_the_checks_is_the_note() {
    // GIVEN the model writes two notes in time
    let w = World::new();
    let (_, thank) = fulfilled(&w, Side::Friend).await;
    let draft = "Referrer: Thanks Dan! {{reward}} is yours.\nFriend: Welcome Mara, enjoy {{reward}}.";
    w.writer.answers(draft, Duration::ZERO);
    // WHEN the thank job runs
    w.rewarder().handle(Job::Thank(thank)).await.unwrap();
    // THEN Mara's note is the model's, with her reward put in by code
    let sent = w.messenger.of_kind(MessageKind::ThankYouFriend);
    assert_eq!(sent[0].body, "Welcome Mara, enjoy £10 off your first box.");
}

#[tokio::test]
async fn without_a_model_the_template_is_the_note() {
    // GIVEN no model answers
    let w = World::new();
    let (_, thank) = fulfilled(&w, Side::Referrer).await;
    let email = Email::parse("dan@example.com").unwrap();
    // WHEN the thank job runs
    w.rewarder().handle(Job::Thank(thank)).await.unwrap();
    // THEN Dan gets the fixed template, naming his reward
    let sent = w.messenger.of_kind(MessageKind::ThankYouReferrer);
    assert_eq!(sent[0].to, email.to_string());
    assert!(sent[0].body.contains("£10 off your next box"));
}
