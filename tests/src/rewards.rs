//! Reward scenarios, written once and run on every store: paying once, holds and ops decisions,
//! refunds, the sweep, early and unattributed conversions, a flaky store endpoint.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use rft_core::Clock;
use rft_core::ports::MessageKind;
use rft_core::service::console::{ConsoleOverview, RollupOverview};
use rft_core::{CustomerId, Fulfilment, IdentityKey, Side};

use crate::harness::{Harness, StoreMode, token_of};

/// Dan mints, Mara clicks his link and signs up; a minute passes. Returns the referral id.
pub async fn referred(h: &Harness, friend: &str, identity: Value) -> String {
    let code = match h.system.ports.stores.codes.active_code_of(&CustomerId::parse("c_dan").unwrap()).await.unwrap() {
        Some(record) => record.code.to_string(),
        None => {
            let minted = h.mint("c_dan", json!({"first_name": "Dan", "email": "dan@example.com"})).await;
            minted.json["code"].as_str().unwrap().to_owned()
        }
    };
    let token = token_of(&h.click(&code, None).await);
    h.clock.advance(Duration::from_secs(60));
    h.signup(json!({"customer_id": friend, "email": format!("{friend}@example.com"), "first_name": "Mara", "attribution_token": token, "identity": identity})).await;
    h.clock.advance(Duration::from_secs(60));
    let referral = h.referral(friend).await;
    referral.json["referral_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{friend} was referred: {:?}", referral.json))
        .to_owned()
}

async fn ledger(h: &Harness, id: &str) -> Vec<rft_core::LedgerRow> {
    h.system.ports.stores.ledger.rows(&rft_core::ReferralId::parse(id).unwrap()).await.unwrap()
}

/// A clean conversion pays both sides once at the pinned amounts, fulfils both through the
/// store, and thanks both; a duplicate webhook changes nothing.
pub async fn a_conversion_pays_both_sides_once(h: Harness) {
    h.writer.answer(
        "Referrer: Thank you, Dan! {{reward}} is yours.\nFriend: Welcome, Mara! {{reward}} is on your account.",
    );
    let id = referred(&h, "c_mara", json!({})).await;
    assert_eq!(h.convert("c_mara", "o_1").await.status, StatusCode::ACCEPTED);
    let referral = h.referral("c_mara").await;
    assert_eq!(referral.json["state"], "rewarded");
    let rows = ledger(&h, &id).await;
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].side, rows[0].reward.amount_minor, rows[0].nth), (Side::Referrer, 1000, Some(1)));
    assert_eq!((rows[1].side, rows[1].reward.amount_minor), (Side::Friend, 1000));
    assert!(rows.iter().all(|r| matches!(r.fulfilment, Fulfilment::Fulfilled { .. })));
    assert_eq!(h.store.applied_sorted(), [format!("{id}:friend"), format!("{id}:referrer")]);
    let thanks_dan = h.messages.of_kind(MessageKind::ThankYouReferrer);
    let thanks_mara = h.messages.of_kind(MessageKind::ThankYouFriend);
    assert_eq!((thanks_dan.len(), thanks_mara.len()), (1, 1));
    assert_eq!(thanks_dan[0].to, "dan@example.com");
    assert_eq!(thanks_dan[0].body, "Thank you, Dan! £10 off your next box is yours.");
    assert_eq!(thanks_mara[0].body, "Welcome, Mara! £10 off your first box is on your account.");
    // The store fires the webhook again (a new delivery, a new id): nothing more happens.
    h.convert("c_mara", "o_1").await;
    assert_eq!(ledger(&h, &id).await.len(), 2);
    assert_eq!(h.store.applied().len(), 2);
    assert_eq!(h.messages.of_kind(MessageKind::ThankYouReferrer).len(), 1);
}

fn link_from(body: &str, action: &str) -> String {
    let start = body.find("https://refer.freshbox.uk/ops/referrals/").expect("an ops link");
    let url: String = body[start..].split_whitespace().next().unwrap().to_owned();
    let url = url.replace("/approve?", &format!("/{action}?")).replace("/reject?", &format!("/{action}?"));
    url.trim_start_matches("https://refer.freshbox.uk").to_owned()
}

/// A conversion seconds after the click is held and the team emailed; the approve link's GET
/// changes nothing, its POST pays, and pressing it again does nothing more.
pub async fn a_held_conversion_is_paid_when_approved(h: Harness) {
    let code = h.mint("c_dan", json!({"email": "dan@example.com"})).await.json["code"].as_str().unwrap().to_owned();
    let token = token_of(&h.click(&code, None).await);
    h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token})).await;
    h.clock.advance(Duration::from_secs(10));
    h.convert("c_mara", "o_1").await;
    let held = h.referral("c_mara").await;
    assert_eq!(held.json["state"], "held");
    assert_eq!(held.json["reasons"], json!(["quick_conversion"]));
    assert!(h.store.applied().is_empty(), "held never pays without a person");
    let email = h.messages.of_kind(MessageKind::HoldReview);
    assert_eq!(email.len(), 1);
    let approve = link_from(&email[0].body, "approve");
    // The email also opens the whole queue, where this referral is waiting.
    let queue_at = email[0].body.find("https://refer.freshbox.uk/ops?").expect("a queue link");
    let queue = email[0].body[queue_at..]
        .split_whitespace()
        .next()
        .unwrap()
        .replace("https://refer.freshbox.uk/ops?", "/ops/data?");
    let waiting = h.call(Request::builder().uri(&queue).body(Body::empty()).unwrap()).await;
    assert_eq!(waiting.status, StatusCode::OK);
    assert_eq!(waiting.json["held"][0]["referral_id"], held.json["referral_id"], "{:?}", waiting.json);
    let page = h.call(Request::builder().uri(&approve).body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(h.referral("c_mara").await.json["state"], "held", "GET changes nothing");
    for _ in 0..2 {
        let decided = h.call(Request::builder().method(Method::POST).uri(&approve).body(Body::empty()).unwrap()).await;
        assert_eq!(decided.status, StatusCode::OK);
        h.settle().await;
    }
    assert_eq!(h.referral("c_mara").await.json["state"], "rewarded");
    assert_eq!(h.store.applied().len(), 2, "paid once, however often the button is pressed");
    // A link for another action, a tampered one and an expired one are refused.
    let tampered = approve.replace("sig=", "sig=x");
    assert_eq!(
        h.call(Request::builder().uri(&tampered).body(Body::empty()).unwrap()).await.status,
        StatusCode::FORBIDDEN
    );
    h.clock.advance(Duration::from_secs(8 * 86_400));
    assert_eq!(
        h.call(Request::builder().method(Method::POST).uri(&approve).body(Body::empty()).unwrap()).await.status,
        StatusCode::FORBIDDEN
    );
}

/// Reject is final: a later conversion pays nothing.
pub async fn a_rejected_referral_never_pays(h: Harness) {
    referred(&h, "c_partner", json!({})).await;
    // Make it held: the partner shares Dan's card (a single strong match).
    let dan_code =
        h.system.ports.stores.codes.active_code_of(&CustomerId::parse("c_dan").unwrap()).await.unwrap().unwrap();
    let _ = dan_code;
    let r = h
        .system
        .ports
        .stores
        .referrals
        .find(&IdentityKey::Customer(CustomerId::parse("c_partner").unwrap()))
        .await
        .unwrap()
        .unwrap();
    let mut held = r.successor(h.clock_now());
    held.apply(rft_core::StateEvent::Hold, h.clock_now()).unwrap();
    h.system.ports.stores.referrals.save(&held, r.version, None).await.unwrap();
    let job = rft_core::Job::Decision(rft_core::jobs::DecisionJob {
        referral_id: r.referral_id.clone(),
        action: rft_core::links::Action::Reject,
        decided_at: h.clock_now(),
        by: None,
    });
    h.system.rewarder.handle(job).await.unwrap();
    assert_eq!(h.referral("c_partner").await.json["state"], "rejected");
    h.convert("c_partner", "o_1").await;
    assert_eq!(h.referral("c_partner").await.json["state"], "rejected");
    assert!(h.store.applied().is_empty());
}

/// Held at sign-up for a single strong match, approved before converting: back to pending
/// with that rule cleared, so the conversion pays instead of being held again.
pub async fn an_approved_hold_is_not_held_again_for_the_same_rule(h: Harness) {
    h.mint("c_dan", json!({"email": "dan@example.com", "identity": {"payment_fingerprint": "card_family"}})).await;
    referred(&h, "c_partner", json!({"payment_fingerprint": "card_family"})).await;
    assert_eq!(h.referral("c_partner").await.json["state"], "held");
    let approve = link_from(&h.messages.of_kind(MessageKind::HoldReview)[0].body, "approve");
    h.call(Request::builder().method(Method::POST).uri(&approve).body(Body::empty()).unwrap()).await;
    h.settle().await;
    let pending = h.referral("c_partner").await;
    assert_eq!(pending.json["state"], "pending");
    assert_eq!(pending.json["reasons"], json!([]));
    h.convert("c_partner", "o_1").await;
    assert_eq!(h.referral("c_partner").await.json["state"], "rewarded");
    assert_eq!(h.store.applied().len(), 2);
}

/// A refund of the converting order after the reward flags the referral for a person and
/// emails the team; the ledger is unchanged. Other refunds are only audited.
pub async fn a_refund_after_a_reward_flags_for_a_person(h: Harness) {
    let id = referred(&h, "c_mara", json!({})).await;
    h.convert("c_mara", "o_1").await;
    let before = ledger(&h, &id).await;
    let refund = |order: &str| json!({"customer_id": "c_mara", "order_id": order}).to_string();
    h.call(h.signed(Method::POST, "/webhooks/refund", &refund("o_other"))).await;
    h.settle().await;
    assert_eq!(h.referral("c_mara").await.json["flags"], json!([]), "another order's refund flags nothing");
    for _ in 0..2 {
        h.call(h.signed(Method::POST, "/webhooks/refund", &refund("o_1"))).await;
        h.settle().await;
    }
    let flagged = h.referral("c_mara").await;
    assert_eq!(flagged.json["state"], "rewarded");
    assert_eq!(flagged.json["flags"], json!(["refund_review"]));
    assert_eq!(h.messages.of_kind(MessageKind::RefundReview).len(), 1, "the team is emailed once");
    let after = ledger(&h, &id).await;
    assert_eq!(
        before.iter().map(|r| r.reward.clone()).collect::<Vec<_>>(),
        after.iter().map(|r| r.reward.clone()).collect::<Vec<_>>()
    );
    assert_eq!(h.store.applied().len(), 2, "nothing is clawed back");
}

/// With a two-second window, a pending referral is expired by the sweep, and a conversion
/// afterwards pays nothing.
pub async fn the_sweep_expires_pending_referrals(h: Harness) {
    let code = h.mint("c_dan", json!({})).await.json["code"].as_str().unwrap().to_owned();
    let token = token_of(&h.click(&code, None).await);
    h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token})).await;
    assert_eq!(h.system.sweeper.run().await.unwrap(), 0, "not due yet");
    h.clock.advance(Duration::from_secs(3));
    let expired = crate::conformance::eventually(|| async { h.system.sweeper.run().await.unwrap() }, |n| *n == 1).await;
    assert_eq!(expired, 1);
    assert_eq!(h.referral("c_mara").await.json["state"], "expired");
    h.convert("c_mara", "o_1").await;
    assert!(h.store.applied().is_empty());
}

/// A conversion that arrives before its sign-up is attributed is retried, not dropped; one for
/// a customer nobody referred pays nothing and is audited.
pub async fn early_and_unattributed_conversions(h: Harness) {
    let job = |customer: &str| rft_core::jobs::ConversionJob {
        webhook_id: "msg_x".into(),
        customer_id: CustomerId::parse(customer).unwrap(),
        order_id: "o_1".into(),
        amount_minor: 3999,
        currency: rft_core::Currency::parse("GBP").unwrap(),
        identity: Default::default(),
        occurred_at: h.clock_now(),
        discount_code: None,
    };
    let early = h.system.rewarder.conversion(&job("c_mara")).await;
    assert!(matches!(early, Err(rft_core::service::reward::RewardError::NotYetAttributed(_))), "{early:?}");
    referred(&h, "c_mara", json!({})).await;
    h.system.rewarder.conversion(&job("c_mara")).await.unwrap();
    h.settle().await;
    assert_eq!(h.store.applied().len(), 2, "the retried conversion pays");

    h.signup(json!({"customer_id": "c_stranger", "email": "stranger@example.com"})).await;
    let outcome = crate::conformance::eventually(
        || async { h.system.rewarder.conversion(&job("c_stranger")).await.is_ok() },
        |ok| *ok,
    )
    .await;
    assert!(outcome, "an unattributed customer's conversion is settled, not retried forever");
    let audit = h.system.ports.stores.audit.events_for("c_stranger").await.unwrap();
    assert!(audit.iter().any(|e| e.kind == rft_core::AuditKind::NotPaid));
    assert_eq!(h.store.applied().len(), 2);
}

/// The store's endpoint failing: each failed attempt is retried by the job re-sending itself
/// with a delay, and parked for a person after the budget; a call that applied but timed out is
/// not applied twice.
pub async fn a_failing_store_is_retried_then_parked(h: Harness) {
    referred(&h, "c_mara", json!({})).await;
    h.store.set(StoreMode::FailNext(2));
    h.convert("c_mara", "o_1").await;
    assert_eq!(h.store.applied().len(), 2, "two failures, then each side applied by a retry");
    assert_eq!(h.store.calls(), 4);

    let id2 = referred(&h, "c_kim", json!({})).await;
    h.store.set(StoreMode::AppliesButTimesOut);
    h.call(h.signed(
        Method::POST,
        "/webhooks/conversion",
        &json!({"customer_id": "c_kim", "order_id": "o_2", "amount_minor": 3999, "currency": "GBP"}).to_string(),
    ))
    .await;
    // Only what is due now: the payout, and each side's first call (applied, answer lost).
    h.system.drain_rewards().await;
    let waiting = ledger(&h, &id2).await;
    assert!(waiting.iter().all(|r| matches!(r.fulfilment, Fulfilment::Owing { attempts: 1, .. })), "{waiting:?}");
    h.store.set(StoreMode::Normal);
    h.settle().await;
    let kim_keys: Vec<String> = h.store.applied().into_iter().filter(|k| k.starts_with(&id2)).collect();
    assert_eq!(kim_keys.len(), 2, "applied once per side even though the first answers were lost");
    assert!(ledger(&h, &id2).await.iter().all(|r| matches!(r.fulfilment, Fulfilment::Fulfilled { attempts: 2, .. })));

    let id3 = referred(&h, "c_lee", json!({})).await;
    h.store.set(StoreMode::Down);
    h.convert("c_lee", "o_3").await;
    let rows = ledger(&h, &id3).await;
    assert!(rows.iter().all(|r| matches!(r.fulfilment, Fulfilment::Parked { attempts: 9, .. })), "{rows:?}");
    assert_eq!(h.messages.of_kind(MessageKind::FulfilmentParked).len(), 2, "the team is told about each side");
    assert!(
        h.messages.of_kind(MessageKind::ThankYouFriend).iter().all(|m| m.to != "c_lee@example.com"),
        "no thanks before the store applies it"
    );
    assert_eq!(h.referral("c_lee").await.json["state"], "rewarded", "still owed in the ledger");
}

/// A refusal no retry can cure (the store says the customer does not exist) parks the row at
/// once instead of retrying it for an hour and a half.
pub async fn a_refusal_parks_at_once(h: Harness) {
    let id = referred(&h, "c_mara", json!({})).await;
    h.store.set(StoreMode::Refuses(422));
    h.convert("c_mara", "o_1").await;
    let rows = ledger(&h, &id).await;
    assert!(rows.iter().all(|r| matches!(r.fulfilment, Fulfilment::Parked { attempts: 1, .. })), "{rows:?}");
    assert_eq!(h.store.calls(), 2, "one call per side");
}

/// A refund that overtakes its conversion is remembered for the order: the conversion then pays
/// nobody, and the referral is rejected with the reason `refunded`.
pub async fn a_refund_before_its_conversion_stops_the_payout(h: Harness) {
    let id = referred(&h, "c_mara", json!({})).await;
    let refund = json!({"customer_id": "c_mara", "order_id": "o_1"}).to_string();
    assert_eq!(h.call(h.signed(Method::POST, "/webhooks/refund", &refund)).await.status, StatusCode::ACCEPTED);
    h.settle().await;
    assert_eq!(h.referral("c_mara").await.json["state"], "pending", "nothing converted yet");
    h.convert("c_mara", "o_1").await;
    let referral = h.referral("c_mara").await;
    assert_eq!(referral.json["state"], "rejected");
    assert_eq!(referral.json["reasons"], json!(["refunded"]));
    assert!(ledger(&h, &id).await.is_empty(), "no ledger row");
    assert!(h.store.applied().is_empty(), "nobody paid");
    let audit = h.system.ports.stores.audit.events_for(&id).await.unwrap();
    assert!(
        audit.iter().any(|e| e.kind == rft_core::AuditKind::NotPaid && e.facts["reason"] == "refunded"),
        "{audit:?}"
    );
}

/// A held referral whose converting order is refunded keeps the refund beside the decision
/// (the page and a fresh email show it); approving it then pays nobody.
pub async fn a_refund_while_held_cannot_be_approved_into_a_payout(h: Harness) {
    let code = h.mint("c_dan", json!({"email": "dan@example.com"})).await.json["code"].as_str().unwrap().to_owned();
    let token = token_of(&h.click(&code, None).await);
    h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token})).await;
    h.clock.advance(Duration::from_secs(10));
    h.convert("c_mara", "o_1").await;
    assert_eq!(h.referral("c_mara").await.json["state"], "held", "a quick conversion is held");
    let refund = json!({"customer_id": "c_mara", "order_id": "o_1"}).to_string();
    h.call(h.signed(Method::POST, "/webhooks/refund", &refund)).await;
    h.settle().await;
    let emails = h.messages.of_kind(MessageKind::HoldReview);
    assert_eq!(emails.len(), 2, "the team is told again, now with the refund");
    assert!(emails[1].body.contains("Order o_1 was refunded"), "{}", emails[1].body);
    let approve = link_from(&emails[1].body, "approve");
    let page = h.call(Request::builder().uri(&approve).body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    h.call(Request::builder().method(Method::POST).uri(&approve).body(Body::empty()).unwrap()).await;
    h.settle().await;
    let referral = h.referral("c_mara").await;
    assert_eq!(referral.json["state"], "rejected", "approval cannot pay a refunded order");
    assert!(referral.json["reasons"].as_array().unwrap().contains(&json!("refunded")));
    assert!(h.store.applied().is_empty(), "nobody paid");
}

/// With `rewards.confirm_after`, a clean conversion pays only once the period has passed
/// without a refund (the sweep hands it over); a refund inside the period pays nobody.
pub async fn a_conversion_pays_after_its_confirmation_period_unless_refunded(h: Harness) {
    let id = referred(&h, "c_mara", json!({})).await;
    h.convert("c_mara", "o_1").await;
    let waiting = h.referral("c_mara").await;
    assert_eq!(waiting.json["state"], "pending", "waiting out the confirmation period");
    assert!(h.store.applied().is_empty());
    assert_eq!(h.system.sweeper.confirm_due().await.unwrap(), 0, "not due yet");
    h.clock.advance(Duration::from_secs(3601));
    assert_eq!(h.system.sweeper.confirm_due().await.unwrap(), 1);
    h.settle().await;
    assert_eq!(h.referral("c_mara").await.json["state"], "rewarded");
    assert_eq!(h.store.applied_sorted(), [format!("{id}:friend"), format!("{id}:referrer")]);

    referred(&h, "c_kim", json!({})).await;
    h.convert("c_kim", "o_2").await;
    let refund = json!({"customer_id": "c_kim", "order_id": "o_2"}).to_string();
    h.call(h.signed(Method::POST, "/webhooks/refund", &refund)).await;
    h.settle().await;
    let kim = h.referral("c_kim").await;
    assert_eq!((kim.json["state"].as_str(), kim.json["reasons"].clone()), (Some("rejected"), json!(["refunded"])));
    h.clock.advance(Duration::from_secs(3601));
    assert_eq!(h.system.sweeper.confirm_due().await.unwrap(), 0, "nothing of Kim's comes due");
    h.settle().await;
    assert_eq!(h.store.applied().len(), 2, "only Mara's two sides were ever paid");
    // The console counts both conversions (Kim's was recorded before its refund) once each.
    let overview = RollupOverview::new(h.system.ports.stores.clone()).overview(h.clock.now()).await.unwrap();
    let t = &overview.totals;
    assert_eq!((t.signups, t.conversions, t.rewarded, t.rejected, t.pending), (2, 2, 1, 1, 0), "{t:?}");
    assert_eq!((t.refunded[0].count, t.refunded[0].amount_minor), (1, 3999), "Kim's order");
}

/// A code caught spraying is flagged: its pending referrals are held with the rule, new
/// sign-ups through it are held, the ops queue lists it, and clearing the flag returns its
/// referrals to pending, after which a conversion pays.
pub async fn a_flagged_codes_referrals_wait_until_a_person_clears_it(h: Harness) {
    let code = h.mint("c_dan", json!({"email": "dan@example.com"})).await.json["code"].as_str().unwrap().to_owned();
    let signup = |friend: &str| json!({"customer_id": friend, "email": format!("{friend}@example.com"), "code": code});
    for friend in ["c_ann", "c_bob"] {
        h.signup(signup(friend)).await;
        assert_eq!(h.referral(friend).await.json["state"], "pending", "{friend}");
    }
    h.signup(signup("c_cat")).await;
    let cat = h.referral("c_cat").await;
    assert_eq!(cat.json["state"], "held", "the third sign-up in the hour trips the code's rule");
    for friend in ["c_ann", "c_bob"] {
        let held = h.referral(friend).await;
        assert_eq!(held.json["state"], "held", "{friend}: a flagged code's pending referral is held");
        assert_eq!(held.json["reasons"], json!(["code_flagged"]), "{friend}");
    }
    h.clock.advance(Duration::from_secs(7200));
    h.signup(signup("c_dee")).await;
    assert_eq!(h.referral("c_dee").await.json["state"], "held", "new sign-ups through a flagged code are held");

    let queue = crate::harness::ops_queue_path(&h).replacen("/ops?", "/ops/data?", 1);
    let data = h.call(Request::builder().uri(&queue).body(Body::empty()).unwrap()).await;
    assert_eq!(data.json["flagged_codes"][0]["code"], code.as_str(), "{:?}", data.json);
    let clear = data.json["flagged_codes"][0]["clear_url"].as_str().unwrap().to_owned();
    let page = h.call(Request::builder().uri(&clear).body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(h.referral("c_ann").await.json["state"], "held", "GET changes nothing");
    let cleared = h.call(Request::builder().method(Method::POST).uri(&clear).body(Body::empty()).unwrap()).await;
    assert_eq!(cleared.status, StatusCode::OK);
    h.settle().await;
    for friend in ["c_ann", "c_bob", "c_cat", "c_dee"] {
        let back = h.referral(friend).await;
        assert_eq!(
            (back.json["state"].as_str(), back.json["reasons"].clone()),
            (Some("pending"), json!([])),
            "{friend}"
        );
    }
    let data = h.call(Request::builder().uri(&queue).body(Body::empty()).unwrap()).await;
    assert_eq!(data.json["flagged_codes"], json!([]), "the flag is gone");
    h.clock.advance(Duration::from_secs(120));
    h.convert("c_ann", "o_1").await;
    assert_eq!(h.referral("c_ann").await.json["state"], "rewarded", "a cleared referral pays on conversion");
}
