//! Invariant 4 under stress: duplicate, concurrent and crashed deliveries never pay twice, and
//! redelivery always finishes what was owed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinSet;

use rft_core::jobs::ConversionJob;
use rft_core::ports::MessageKind;
use rft_core::service::{Rewarder, RewarderPorts};
use rft_core::{Currency, CustomerId, Fulfilment, Job, ReferralId};
use rft_tests::backends::{dynamo_harness, local_harness};
use rft_tests::faults::{Faults, Faulty, Strike};
use rft_tests::harness::{Harness, quick_policy, settings_with, token_of};

const REFERRERS: usize = 10;
const FRIENDS_EACH: usize = 5;
const DUPLICATES: usize = 20;

fn conversion(h: &Harness, friend: &str) -> ConversionJob {
    ConversionJob {
        webhook_id: format!("msg_{friend}"),
        customer_id: CustomerId::parse(friend).unwrap(),
        order_id: format!("o_{friend}"),
        amount_minor: 3999,
        currency: Currency::parse("GBP").unwrap(),
        identity: Default::default(),
        occurred_at: h.clock.now_for_tests(),
    }
}

trait NowForTests {
    fn now_for_tests(&self) -> rft_core::Timestamp;
}

impl NowForTests for Arc<rft_core::time::ManualClock> {
    fn now_for_tests(&self) -> rft_core::Timestamp {
        rft_core::Clock::now(self.as_ref())
    }
}

/// 50 referrals, each conversion delivered 20 times at once: exactly 100 ledger rows, 100
/// store credits, one note per side.
async fn fifty_referrals_twenty_deliveries_each(h: Harness) {
    let h = Arc::new(h);
    let mut friends = Vec::new();
    for r in 0..REFERRERS {
        let referrer = format!("c_ref{r}");
        let code = h.mint(&referrer, json!({"email": format!("{referrer}@example.com")})).await.json["code"]
            .as_str()
            .unwrap()
            .to_owned();
        for f in 0..FRIENDS_EACH {
            let friend = format!("c_friend{r}_{f}");
            let token = token_of(&h.click(&code, None).await);
            h.call(h.signed(axum::http::Method::POST, "/webhooks/signup", &json!({"customer_id": friend, "email": format!("{friend}@example.com"), "attribution_token": token}).to_string())).await;
            friends.push(friend);
        }
    }
    h.system.drain_signups().await;
    h.clock.advance(Duration::from_secs(120));
    let mut set = JoinSet::new();
    for friend in &friends {
        for _ in 0..DUPLICATES {
            let h = h.clone();
            let job = conversion(&h, friend);
            set.spawn(async move {
                // Each delivery is retried until it succeeds, as the queue would redeliver it;
                // the budget is time, not attempts, because 1,000 deliveries contend for 2 cores,
                // and it outlasts one fulfilment lease (60 s): on DynamoDB this run takes about
                // 60 s because a row's lease is sometimes left to lapse instead of released,
                // which delays a payout but never doubles it.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
                let mut last = None;
                while tokio::time::Instant::now() < deadline {
                    match h.system.rewarder.handle(Job::Conversion(job.clone())).await {
                        Ok(()) => return,
                        Err(e) => last = Some(e),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                panic!("a delivery never succeeded: {last:?}");
            });
        }
    }
    while let Some(joined) = set.join_next().await {
        joined.expect("delivery task");
    }
    let mut rows = 0;
    for friend in &friends {
        let referral = h
            .system
            .ports
            .stores
            .referrals
            .find(&rft_core::IdentityKey::Customer(CustomerId::parse(friend).unwrap()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(referral.state, rft_core::ReferralState::Rewarded, "{friend}");
        let ledger = h.system.ports.stores.ledger.rows(&referral.referral_id).await.unwrap();
        assert!(ledger.iter().all(|r| matches!(r.fulfilment, Fulfilment::Fulfilled { .. })));
        rows += ledger.len();
    }
    assert_eq!(rows, 2 * REFERRERS * FRIENDS_EACH, "exactly two ledger rows per referral");
    let applied = h.store.applied();
    let distinct: HashSet<&String> = applied.iter().collect();
    assert_eq!((applied.len(), distinct.len()), (100, 100), "exactly 100 store credits");
    assert_eq!(h.messages.of_kind(MessageKind::ThankYouReferrer).len(), 50, "one note per referrer side");
    assert_eq!(h.messages.of_kind(MessageKind::ThankYouFriend).len(), 50, "one note per friend side");
    for r in 0..REFERRERS {
        let tally =
            h.system.ports.stores.ledger.tally(&CustomerId::parse(&format!("c_ref{r}")).unwrap()).await.unwrap();
        assert_eq!(tally, FRIENDS_EACH as u32, "the tally counts each payout once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_fifty_referrals_twenty_deliveries_each() {
    fifty_referrals_twenty_deliveries_each(local_harness(settings_with(&[]))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_fifty_referrals_twenty_deliveries_each() {
    fifty_referrals_twenty_deliveries_each(dynamo_harness(settings_with(&[])).await).await
}

/// A rewarder whose every port call is counted and call N fails.
fn faulty_rewarder(h: &Harness, faults: Arc<Faults>) -> Rewarder {
    let ports = &h.system.ports;
    let faulty = Arc::new(Faulty {
        stores: ports.stores.clone(),
        screener: h.system.screen.clone(),
        rewards: ports.rewards.clone(),
        messenger: ports.messenger.clone(),
        faults,
    });
    Rewarder::new(
        RewarderPorts {
            codes: faulty.clone(),
            referrals: faulty.clone(),
            ledger: faulty.clone(),
            audit: faulty.clone(),
            counters: faulty.clone(),
            screener: faulty.clone(),
            store: faulty.clone(),
            messenger: faulty,
            writer: ports.writer.clone(),
            links: h.system.edge.links.clone(),
            clock: ports.clock.clone(),
        },
        h.system.edge.settings.clone(),
        quick_policy(),
    )
}

/// For every call N along the reward path, and a crash before or after it: the faulty
/// delivery fails part-way, redeliveries (after any leases lapse) finish, and every owed
/// reward is paid exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_step_is_finished_by_redelivery_and_pays_once() {
    let mut steps_covered = 0;
    for strike in [Strike::Before, Strike::After] {
        for n in 1.. {
            let h = local_harness(settings_with(&[]));
            h.writer.answer("Referrer: Thanks! {{reward}} is yours.\nFriend: Welcome! {{reward}} is yours.");
            let id = rft_tests::rewards::referred(&h, "c_mara", json!({})).await;
            let id = ReferralId::parse(&id).unwrap();
            let faults = Faults::new(n, strike);
            let job = Job::Conversion(conversion(&h, "c_mara"));
            let first = faulty_rewarder(&h, faults.clone()).handle(job.clone()).await;
            if !faults.fired() {
                first.expect("with no fault the delivery succeeds");
                break;
            }
            steps_covered += 1;
            for _ in 0..5 {
                h.clock.advance(Duration::from_secs(120));
                if h.system.rewarder.handle(job.clone()).await.is_ok() {
                    break;
                }
            }
            let rows = h.system.ports.stores.ledger.rows(&id).await.unwrap();
            assert_eq!(rows.len(), 2, "{strike:?} at call {n}: two ledger rows");
            assert!(
                rows.iter().all(|r| matches!(r.fulfilment, Fulfilment::Fulfilled { .. })),
                "{strike:?} at call {n}: {rows:?}"
            );
            let applied = h.store.applied();
            assert_eq!(
                applied,
                [format!("{id}:referrer"), format!("{id}:friend")],
                "{strike:?} at call {n}: each side applied once"
            );
            assert!(!h.messages.of_kind(MessageKind::ThankYouReferrer).is_empty(), "{strike:?} at call {n}: thanked");
            assert!(!h.messages.of_kind(MessageKind::ThankYouFriend).is_empty(), "{strike:?} at call {n}: thanked");
        }
    }
    assert!(steps_covered >= 30, "the reward path has many steps; covered {steps_covered}");
}
