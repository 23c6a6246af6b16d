//! The fulfil step on fakes: one store call per job, its outcome on the row, the next job queued.

use std::time::Duration;

use crate::audit::AuditKind;
use crate::jobs::{FulfilJob, Job, JobFailure, ThankJob, ThanksNote};
use crate::ledger::{Fulfilment, LedgerRow, Side};
use crate::ports::MessageKind;
use crate::referral::Referral;
use crate::service::FulfilPolicy;
use crate::testing::World;

/// A rewarded referral with both rows owed, and the queue emptied of what the payout sent.
async fn paid(w: &World) -> Referral {
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    w.queue.clear();
    referral
}

fn fulfil(referral: &Referral, side: Side) -> Job {
    let note = ThanksNote {
        to: None,
        referrer_name: None,
        friend_name: None,
        referrer_reward: String::new(),
        friend_reward: String::new(),
    };
    Job::Fulfil(FulfilJob { referral_id: referral.referral_id.clone(), side, note })
}

fn row(w: &World, referral: &Referral, side: Side) -> LedgerRow {
    w.rows(&referral.referral_id).into_iter().find(|r| r.side == side).unwrap()
}

#[tokio::test]
async fn an_acknowledged_reward_is_fulfilled_and_its_thank_you_queued() {
    // GIVEN the referrer's row is owed
    let w = World::new();
    let referral = paid(&w).await;
    // WHEN its fulfil job runs and the store answers 201
    w.rewarder().handle(fulfil(&referral, Side::Referrer)).await.unwrap();
    // THEN the store was asked once under the row's idempotency key, the row is fulfilled, and the thank job carries it
    let requests = w.endpoint.requests();
    assert_eq!(
        requests.iter().map(|r| r.idempotency_key()).collect::<Vec<_>>(),
        [format!("{}:referrer", referral.referral_id)]
    );
    let fulfilled = row(&w, &referral, Side::Referrer);
    assert!(matches!(fulfilled.fulfilment, Fulfilment::Fulfilled { attempts: 1, .. }));
    assert!(matches!(&w.jobs_sent()[..], [(Job::Thank(ThankJob { row, .. }), Duration::ZERO)] if *row == fulfilled));
}

#[tokio::test]
async fn a_store_that_had_applied_it_before_counts_as_fulfilled() {
    // GIVEN the store already applied this key (a 409)
    let w = World::new();
    let referral = paid(&w).await;
    w.endpoint.answers_next(Some(409));
    // WHEN the fulfil job runs
    w.rewarder().handle(fulfil(&referral, Side::Friend)).await.unwrap();
    // THEN the row is fulfilled
    assert!(row(&w, &referral, Side::Friend).is_fulfilled());
}

#[tokio::test]
async fn a_failure_a_retry_can_cure_sends_the_job_again_after_the_backoff() {
    // GIVEN the store answers 503
    let w = World::new();
    let referral = paid(&w).await;
    w.endpoint.answers_next(Some(503));
    // WHEN the fulfil job runs
    w.rewarder().handle(fulfil(&referral, Side::Referrer)).await.unwrap();
    // THEN the row stays owed with the attempt counted, and the same job is queued again 30 s later
    let owed = row(&w, &referral, Side::Referrer);
    assert!(
        matches!(&owed.fulfilment, Fulfilment::Owing { attempts: 1, last_error: Some(e), .. } if e.contains("503"))
    );
    assert_eq!(w.jobs_sent(), [(fulfil(&referral, Side::Referrer), Duration::from_secs(30))]);
}

#[tokio::test]
async fn the_last_attempt_of_the_budget_parks_the_row_for_a_person() {
    // GIVEN a budget of two calls, the first already failed
    let w = World::new();
    let referral = paid(&w).await;
    let rewarder = w.rewarder_with(FulfilPolicy { max_attempts: 2, ..FulfilPolicy::default() });
    w.endpoint.answers_next(Some(503));
    rewarder.handle(fulfil(&referral, Side::Referrer)).await.unwrap();
    w.queue.clear();
    // WHEN the retry fails too
    w.endpoint.answers_next(None);
    rewarder.handle(fulfil(&referral, Side::Referrer)).await.unwrap();
    // THEN the row is parked (still owed), audited, the team is emailed, and nothing is queued
    let parked = row(&w, &referral, Side::Referrer);
    assert!(matches!(parked.fulfilment, Fulfilment::Parked { attempts: 2, .. }) && parked.is_owing());
    assert!(w.audit_kinds(referral.referral_id.as_str()).contains(&AuditKind::FulfilmentParked));
    assert_eq!(w.messenger.of_kind(MessageKind::FulfilmentParked).len(), 1);
    assert!(w.jobs_sent().is_empty());
}

#[tokio::test]
async fn a_refusal_no_retry_can_cure_parks_the_row_at_once() {
    // GIVEN the store refuses the customer (422)
    let w = World::new();
    let referral = paid(&w).await;
    w.endpoint.answers_next(Some(422));
    // WHEN the fulfil job runs
    w.rewarder().handle(fulfil(&referral, Side::Friend)).await.unwrap();
    // THEN the row is parked after one call, not retried
    assert!(matches!(row(&w, &referral, Side::Friend).fulfilment, Fulfilment::Parked { attempts: 1, .. }));
    assert!(w.jobs_sent().is_empty());
}

#[tokio::test]
async fn a_redelivered_job_for_a_fulfilled_row_calls_nobody_and_makes_sure_the_note_follows() {
    // GIVEN the friend's row was fulfilled but the job's acknowledgement was lost
    let w = World::new();
    let referral = paid(&w).await;
    let rewarder = w.rewarder();
    rewarder.handle(fulfil(&referral, Side::Friend)).await.unwrap();
    w.queue.clear();
    // WHEN the job is delivered again
    rewarder.handle(fulfil(&referral, Side::Friend)).await.unwrap();
    // THEN the store is not called again, and the thank job is queued again (its claim dedupes)
    assert_eq!(w.endpoint.requests().len(), 1);
    assert!(matches!(&w.jobs_sent()[..], [(Job::Thank(_), _)]));
}

#[tokio::test]
async fn a_parked_row_is_left_for_a_person() {
    // GIVEN the referrer's row is parked
    let w = World::new();
    let referral = paid(&w).await;
    w.endpoint.answers_next(Some(400));
    let rewarder = w.rewarder();
    rewarder.handle(fulfil(&referral, Side::Referrer)).await.unwrap();
    // WHEN a stray fulfil job for it runs
    rewarder.handle(fulfil(&referral, Side::Referrer)).await.unwrap();
    // THEN the store is not called again
    assert_eq!(w.endpoint.requests().len(), 1);
}

#[tokio::test]
async fn a_job_for_a_row_that_does_not_exist_can_never_succeed() {
    // GIVEN a referral with no ledger rows
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    // WHEN a fulfil job names it
    let failed = w.rewarder().handle(fulfil(&referral, Side::Friend)).await.unwrap_err();
    // THEN the job is not retried (it is set aside for a person) and the store is not called
    assert!(!failed.is_retryable());
    assert!(w.endpoint.requests().is_empty());
}

#[tokio::test]
async fn a_row_moved_by_a_duplicate_job_leaves_that_job_to_carry_on() {
    // GIVEN a duplicate fulfil job writes its outcome between this job's read and its write
    let w = World::new();
    let referral = paid(&w).await;
    w.store.before_next("save_row", |s| {
        let row = s.ledger.values_mut().find(|r| r.side == Side::Referrer).unwrap();
        *row = LedgerRow {
            fulfilment: Fulfilment::Fulfilled { at: row.created_at, attempts: 1, reference: None },
            ..row.successor()
        };
    });
    // WHEN this job, a second later, loses the write
    w.advance(Duration::from_secs(1));
    w.rewarder().handle(fulfil(&referral, Side::Referrer)).await.unwrap();
    // THEN this job queues nothing: the winner's thank job is the only one
    assert!(w.jobs_sent().is_empty());
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_recognised_as_landed() {
    // GIVEN the row write lands but its answer is lost, so the client's retry fails its own condition
    let w = World::new();
    let referral = paid(&w).await;
    let now = w.clock_now();
    w.store.before_next("save_row", move |s| {
        let row = s.ledger.values_mut().find(|r| r.side == Side::Friend).unwrap();
        *row = LedgerRow {
            fulfilment: Fulfilment::Fulfilled { at: now, attempts: 1, reference: None },
            ..row.successor()
        };
    });
    // WHEN the fulfil job runs
    w.rewarder().handle(fulfil(&referral, Side::Friend)).await.unwrap();
    // THEN the job sees its own outcome stored and queues the thank-you
    assert!(matches!(&w.jobs_sent()[..], [(Job::Thank(_), _)]));
}

#[test]
fn the_backoff_quadruples_from_thirty_seconds_up_to_the_queues_longest_delay() {
    let policy = FulfilPolicy::default();
    let delays: Vec<u64> = (1..=5).map(|n| policy.backoff(n).as_secs()).collect();
    assert_eq!(delays, [30, 120, 480, 900, 900]);
}
