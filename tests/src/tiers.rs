//! Reward tiers (docs/settings.md, `tiers`): the referrer's n-th rewarded referral pays the n-th step, also when
//! friends convert at the same moment; terms stay as pinned at mint.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinSet;

use rft_core::{CustomerId, IdentityKey, Side};

use crate::harness::{Harness, settings_with, token_of};

/// Ten steps: £10, then £11 from the 2nd, £12 from the 3rd, ... £19 from the 10th.
pub const TEN_STEPS: &str = "[{ from = 2, amount_minor = 1100, description = \"£11\" }, { from = 3, amount_minor = 1200, description = \"£12\" }, { from = 4, amount_minor = 1300, description = \"£13\" }, { from = 5, amount_minor = 1400, description = \"£14\" }, { from = 6, amount_minor = 1500, description = \"£15\" }, { from = 7, amount_minor = 1600, description = \"£16\" }, { from = 8, amount_minor = 1700, description = \"£17\" }, { from = 9, amount_minor = 1800, description = \"£18\" }, { from = 10, amount_minor = 1900, description = \"£19\" }]";

/// Signs `n` friends up through Dan's link; returns their customer ids.
async fn dans_friends(h: &Harness, n: usize) -> Vec<String> {
    let code = h.mint("c_dan", json!({"email": "dan@example.com"})).await.json["code"].as_str().unwrap().to_owned();
    let mut friends = Vec::new();
    for i in 0..n {
        let friend = format!("c_f{i}");
        let token = token_of(&h.click(&code, None).await);
        h.call(
            h.signed(
                axum::http::Method::POST,
                "/webhooks/signup",
                &json!({"customer_id": friend, "email": format!("{friend}@example.com"), "attribution_token": token})
                    .to_string(),
            ),
        )
        .await;
        friends.push(friend);
    }
    h.system.drain_signups().await;
    h.clock.advance(Duration::from_secs(120));
    friends
}

async fn referrer_row(h: &Harness, friend: &str) -> rft_core::LedgerRow {
    let referral = h
        .system
        .ports
        .stores
        .referrals
        .find(&IdentityKey::Customer(CustomerId::parse(friend).unwrap()))
        .await
        .unwrap()
        .unwrap();
    h.system
        .ports
        .stores
        .ledger
        .rows(&referral.referral_id)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.side == Side::Referrer)
        .unwrap()
}

/// Friends converting one after another pay the ladder in order.
pub async fn a_ladder_is_paid_in_order(h: Harness) {
    let friends = dans_friends(&h, 6).await;
    let mut paid = Vec::new();
    for f in &friends {
        h.convert(f, &format!("o_{f}")).await;
        let row = referrer_row(&h, f).await;
        paid.push((row.nth, row.reward.amount_minor));
    }
    assert_eq!(
        paid,
        [(Some(1), 1000), (Some(2), 1000), (Some(3), 2500), (Some(4), 2500), (Some(5), 5000), (Some(6), 5000)]
    );
    let link = h.mint("c_dan", json!({})).await;
    assert_eq!(link.json["terms"]["position"]["rewarded"], 6);
    assert_eq!(link.json["terms"]["position"]["next_reward"]["amount_minor"], 5000);
    assert_eq!(link.json["terms"]["tiers"][1]["from"], 5);
}

/// Ten friends converting at the same moment pay exactly the ladder's first ten steps, each once.
pub async fn ten_concurrent_conversions_pay_the_first_ten_steps(h: Harness) {
    let h = Arc::new(h);
    let friends = dans_friends(&h, 10).await;
    let mut set = JoinSet::new();
    for f in friends.clone() {
        let h = h.clone();
        set.spawn(async move {
            let job = rft_core::jobs::ConversionJob {
                webhook_id: format!("msg_{f}"),
                customer_id: CustomerId::parse(&f).unwrap(),
                order_id: format!("o_{f}"),
                amount_minor: 3999,
                currency: rft_core::Currency::parse("GBP").unwrap(),
                identity: Default::default(),
                occurred_at: h.clock_now(),
                discount_code: None,
            };
            for _ in 0..50 {
                if h.system.rewarder.handle(rft_core::Job::Conversion(job.clone())).await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("a conversion never went through");
        });
    }
    while let Some(j) = set.join_next().await {
        j.unwrap();
    }
    h.settle().await;
    let mut steps = Vec::new();
    for f in &friends {
        let row = referrer_row(&h, f).await;
        steps.push((row.nth.unwrap(), row.reward.amount_minor));
    }
    steps.sort_unstable();
    let expected: Vec<(u32, u64)> = (1..=10).map(|n| (n, 1000 + 100 * u64::from(n - 1))).collect();
    assert_eq!(steps, expected, "each step once, in order of the tally");
    assert_eq!(h.system.ports.stores.ledger.tally(&CustomerId::parse("c_dan").unwrap()).await.unwrap(), 10);
}

/// A settings change after mint does not move the goalposts: Dan's code keeps paying what it
/// promised; a code minted after the change promises the new terms.
pub async fn terms_pinned_at_mint_survive_a_settings_change(h: Harness) {
    let friends = dans_friends(&h, 1).await;
    let changed =
        settings_with(&[("amount_minor", "500"), ("description", "\"£5 off your next box\""), ("tiers", "[]")]);
    let ports = h.system.ports.clone();
    let mut h = h;
    h.system =
        rft_local::system::System::assemble_with(Arc::new(changed), &h.secrets, ports, crate::harness::quick_policy());
    h.convert(&friends[0], "o_1").await;
    let row = referrer_row(&h, &friends[0]).await;
    assert_eq!((row.reward.amount_minor, row.reward.description.as_str()), (1000, "£10 off your next box"));
    let sam = h.mint("c_sam", json!({})).await;
    assert_eq!(sam.json["terms"]["referrer_reward"]["amount_minor"], 500);
    assert_eq!(h.mint("c_dan", json!({})).await.json["terms"]["referrer_reward"]["amount_minor"], 1000);
}
