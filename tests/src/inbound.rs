//! A connected store's own events through the whole system, written once and run on every
//! store: Stripe and Shopify webhooks verified as each provider signs, one paid order
//! attributed at checkout by its own touch and paid once after `confirm_after`, a refund inside
//! that time paying nobody, duplicate and reordered deliveries changing nothing, and a customer
//! who ordered before staying unattributed.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use rft_core::connectors::intake::guest_id;
use rft_core::email::Email;
use rft_core::secrets::SecretString;
use rft_core::{Clock, Fulfilment, ReferralId, Side};
use rft_local::provider_events;
pub use rft_local::provider_events::{shopify_order, stripe_checkout};

use crate::connected::{Backend, SHOPIFY_DAN, STRIPE_DAN, harness, shopify_settings, stripe_settings};
use crate::harness::{Answer, Harness, token_of};
use crate::provider_standins::{SHOPIFY_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET, ShopifyStandin, StripeStandin};

/// Two weeks without a refund before a payout, as a connected shop would set it.
const CONFIRM: &[(&str, &str)] = &[("confirm_after", "\"14d\"")];
const FORTNIGHT: Duration = Duration::from_secs(15 * 86_400);

fn secret(text: &str) -> SecretString {
    SecretString::new(text.to_owned())
}

/// A Stripe event signed as Stripe signs, with the stand-ins' webhook secret, at `t`.
pub fn stripe_request(event: &Value, t: i64) -> Request<Body> {
    provider_events::stripe_request(&secret(STRIPE_WEBHOOK_SECRET), event, t)
}

/// Posts a Stripe event signed now.
pub async fn stripe_event(h: &Harness, event: &Value) -> Answer {
    h.call(stripe_request(event, h.clock.now().as_secs())).await
}

/// Posts a Shopify webhook signed as Shopify signs (base64 HMAC of the body).
pub async fn shopify_event(h: &Harness, topic: &str, delivery: &str, payload: &Value) -> Answer {
    h.call(shopify_request(topic, delivery, payload)).await
}

/// A Shopify webhook signed as Shopify signs, with the stand-ins' webhook secret.
pub fn shopify_request(topic: &str, delivery: &str, payload: &Value) -> Request<Body> {
    provider_events::shopify_request(&secret(SHOPIFY_WEBHOOK_SECRET), topic, delivery, payload)
}

fn stripe_refund(h: &Harness, event_id: &str, payment_intent: &str) -> Value {
    provider_events::stripe_refund(h.clock.now().as_secs(), event_id, payment_intent)
}

fn shopify_refund(h: &Harness, refund_id: u64, order_id: u64) -> Value {
    provider_events::shopify_refund(h.clock.now().as_secs(), refund_id, order_id)
}

async fn referral_of(h: &Harness, customer: &str) -> (Value, Option<ReferralId>) {
    let answer = h.referral(customer).await;
    let id = answer.json["referral_id"].as_str().map(|id| ReferralId::parse(id).unwrap());
    (answer.json, id)
}

async fn mint(h: &Harness, customer: &str) -> String {
    let minted = h.mint(customer, json!({"first_name": "Dan", "email": "dan@example.com"})).await;
    assert_eq!(minted.status, StatusCode::CREATED, "{:?}", minted.json);
    minted.json["code"].as_str().unwrap().to_owned()
}

/// Mara taps Dan's link, pays as a guest at Stripe Checkout with his code as her promotion
/// code, and Stripe delivers the event twice: one referral, by the click's token, paid once
/// after two weeks without a refund; the friend's side was her discount at the checkout.
pub async fn a_stripe_guest_checkout_pays_both_sides_once_after_confirmation(b: Backend) {
    let s = StripeStandin::start().await;
    let h = harness(b, stripe_settings(&s, "balance", CONFIRM)).await;
    let code = mint(&h, STRIPE_DAN).await;
    let promotion = s.promotion_codes().into_iter().find(|p| p["code"] == code.as_str()).expect("minting made it");
    let click = h.click(&code, None).await;
    let token = token_of(&click);
    // The Payment Link carries the token to Checkout and the code into its promotion code box.
    let location = click.header("location").unwrap();
    assert!(location.contains(&format!("client_reference_id={token}")), "{location}");
    assert!(location.contains(&format!("prefilled_promo_code={code}")), "{location}");
    h.clock.advance(Duration::from_secs(600));
    let event = stripe_checkout(
        h.clock.now().as_secs(),
        "evt_guest_1",
        "pi_guest_1",
        "mara.guest@example.com",
        Some(&token),
        promotion["id"].as_str(),
    );
    let first = stripe_event(&h, &event).await;
    assert_eq!((first.status, first.json.clone()), (StatusCode::OK, json!({"status": "queued", "job": "checkout"})));
    let again = stripe_event(&h, &event).await;
    assert_eq!((again.status, again.header("webhook-replayed")), (StatusCode::OK, Some("true")));
    h.settle().await;

    let mara = guest_id(&h.system.edge.hasher, &Email::parse("mara.guest@example.com").unwrap()).unwrap();
    let (referral, id) = referral_of(&h, mara.as_str()).await;
    assert_eq!(
        (referral["referrer_id"].as_str(), referral["state"].as_str()),
        (Some(STRIPE_DAN), Some("pending")),
        "{referral}"
    );
    assert!(s.balance_transactions().is_empty(), "nothing is paid inside confirm_after");
    h.clock.advance(FORTNIGHT);
    h.system.sweeper.run().await.unwrap();
    h.settle().await;
    let (referral, _) = referral_of(&h, mara.as_str()).await;
    assert_eq!(referral["state"], "rewarded", "{referral}");
    let credits = s.balance_transactions();
    assert_eq!(credits.len(), 1, "Dan's balance once: {credits:?}");
    assert_eq!(credits[0]["customer"], STRIPE_DAN);
    let friend = h.system.ports.stores.ledger.row(&id.unwrap(), Side::Friend).await.unwrap().unwrap();
    let Fulfilment::Fulfilled { reference, attempts, .. } = &friend.fulfilment else {
        panic!("{:?}", friend.fulfilment)
    };
    assert_eq!((*attempts, reference.as_deref()), (0, Some(format!("discount {code} on order pi_guest_1").as_str())));

    // Stripe redelivers after the payout: nothing more.
    stripe_event(&h, &event).await;
    h.clock.advance(FORTNIGHT);
    h.system.sweeper.run().await.unwrap();
    h.settle().await;
    assert_eq!(s.balance_transactions().len(), 1);
}

/// A refund inside `confirm_after` cancels the payout, whichever of the two events Stripe
/// delivers first.
pub async fn a_stripe_refund_inside_the_confirmation_pays_nobody_in_either_order(b: Backend) {
    let s = StripeStandin::start().await;
    let h = harness(b, stripe_settings(&s, "balance", CONFIRM)).await;
    let code = mint(&h, STRIPE_DAN).await;
    for (n, refund_first) in [(1, false), (2, true)] {
        let token = token_of(&h.click(&code, None).await);
        h.clock.advance(Duration::from_secs(600));
        let email = format!("friend{n}@example.com");
        let order = stripe_checkout(
            h.clock.now().as_secs(),
            &format!("evt_order_{n}"),
            &format!("pi_order_{n}"),
            &email,
            Some(&token),
            None,
        );
        let refund = stripe_refund(&h, &format!("evt_refund_{n}"), &format!("pi_order_{n}"));
        let events = if refund_first { [refund, order] } else { [order, refund] };
        for event in &events {
            assert_eq!(stripe_event(&h, event).await.status, StatusCode::OK);
            h.settle().await;
        }
        h.clock.advance(FORTNIGHT);
        h.system.sweeper.run().await.unwrap();
        h.settle().await;
        let friend = guest_id(&h.system.edge.hasher, &Email::parse(&email).unwrap()).unwrap();
        let (referral, _) = referral_of(&h, friend.as_str()).await;
        assert_eq!(referral["state"], "rejected", "refund first: {refund_first}: {referral}");
    }
    assert!(s.balance_transactions().is_empty(), "{:?}", s.balance_transactions());
}

/// Kim pays at Shopify with Dan's code typed at the checkout and no link clicked: attributed
/// by the code alone, paid once after two weeks, her side her discount at the checkout; a
/// redelivered webhook and her later order change nothing.
pub async fn a_shopify_order_with_the_code_alone_pays_once(b: Backend) {
    let s = ShopifyStandin::start().await;
    let h = harness(b, shopify_settings(&s, "store_credit", CONFIRM)).await;
    let code = mint(&h, SHOPIFY_DAN).await;
    // A click would land through the storefront's discount path, the code already in the cart.
    let location = h.click(&code, None).await.header("location").unwrap().to_owned();
    assert!(location.contains(&format!("/discount/{code}?redirect=")), "{location}");
    let order = shopify_order(h.clock.now().as_secs(), 5_001, 207_119_551, "kim@example.com", &code);
    let first = shopify_event(&h, "orders/paid", "wh_order_5001", &order).await;
    assert_eq!((first.status, first.json["status"].as_str()), (StatusCode::OK, Some("queued")), "{:?}", first.json);
    let again = shopify_event(&h, "orders/paid", "wh_order_5001", &order).await;
    assert_eq!(again.header("webhook-replayed"), Some("true"));
    h.settle().await;
    let (referral, id) = referral_of(&h, "207119551").await;
    assert_eq!(
        (referral["method"].as_str(), referral["state"].as_str()),
        (Some("code"), Some("pending")),
        "{referral}"
    );
    h.clock.advance(FORTNIGHT);
    h.system.sweeper.run().await.unwrap();
    h.settle().await;
    assert_eq!(referral_of(&h, "207119551").await.0["state"], "rewarded");
    let credits = s.credits();
    assert_eq!(credits.len(), 1, "Dan's store credit once: {credits:?}");
    let friend = h.system.ports.stores.ledger.row(&id.unwrap(), Side::Friend).await.unwrap().unwrap();
    assert!(matches!(friend.fulfilment, Fulfilment::Fulfilled { attempts: 0, .. }), "{:?}", friend.fulfilment);

    // Her second box, with the code again: not a new customer's order.
    let later = shopify_order(h.clock.now().as_secs(), 5_002, 207_119_551, "kim@example.com", &code);
    shopify_event(&h, "orders/paid", "wh_order_5002", &later).await;
    h.clock.advance(FORTNIGHT);
    h.system.sweeper.run().await.unwrap();
    h.settle().await;
    assert_eq!(s.credits().len(), 1);
}

/// A Shopify refund before the order's own webhook, then the order: nobody is paid.
pub async fn a_shopify_refund_that_overtakes_its_order_pays_nobody(b: Backend) {
    let s = ShopifyStandin::start().await;
    let h = harness(b, shopify_settings(&s, "store_credit", CONFIRM)).await;
    let code = mint(&h, SHOPIFY_DAN).await;
    let refund = shopify_refund(&h, 9_001, 6_001);
    assert_eq!(shopify_event(&h, "refunds/create", "wh_refund_9001", &refund).await.status, StatusCode::OK);
    h.settle().await;
    let order = shopify_order(h.clock.now().as_secs(), 6_001, 311_222_333, "lee@example.com", &code);
    shopify_event(&h, "orders/paid", "wh_order_6001", &order).await;
    h.settle().await;
    h.clock.advance(FORTNIGHT);
    h.system.sweeper.run().await.unwrap();
    h.settle().await;
    assert_eq!(referral_of(&h, "311222333").await.0["state"], "rejected");
    assert!(s.credits().is_empty(), "{:?}", s.credits());
}

/// A customer Shopify says ordered before (an older payload's `orders_count`) is no new
/// customer: unattributed, with the reason in the audit, and nobody is paid.
pub async fn an_existing_shopify_customer_is_unattributed(b: Backend) {
    let s = ShopifyStandin::start().await;
    let h = harness(b, shopify_settings(&s, "store_credit", &[])).await;
    let code = mint(&h, SHOPIFY_DAN).await;
    let mut order = shopify_order(h.clock.now().as_secs(), 7_001, 444_555_666, "regular@example.com", &code);
    order["customer"]["orders_count"] = json!(4);
    assert_eq!(shopify_event(&h, "orders/paid", "wh_order_7001", &order).await.status, StatusCode::OK);
    h.settle().await;
    assert_eq!(h.referral("444555666").await.status, StatusCode::NOT_FOUND);
    let audit = h.system.ports.stores.audit.events_for("444555666").await.unwrap();
    assert!(audit.iter().any(|e| e.facts["reason"] == "existing_customer"), "{audit:?}");

    // A current payload has no count: the Admin API's numberOfOrders (this order included) says.
    s.set_orders("555666777", 2);
    let current = shopify_order(h.clock.now().as_secs(), 7_002, 555_666_777, "another.regular@example.com", &code);
    s.faults.fail_next(1, 503);
    let refused = shopify_event(&h, "orders/paid", "wh_order_7002", &current).await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("provider_unavailable"))
    );
    assert_eq!(h.settle().await, 0, "nothing queued while Shopify cannot answer");
    let retried = shopify_event(&h, "orders/paid", "wh_order_7002", &current).await;
    assert_eq!((retried.status, retried.header("webhook-replayed")), (StatusCode::OK, None), "{:?}", retried.json);
    h.settle().await;
    assert_eq!(h.referral("555666777").await.status, StatusCode::NOT_FOUND);
    assert!(s.credits().is_empty());
}

/// Signatures as each provider signs, and nothing else: a wrong secret, a tampered body or a
/// stale Stripe timestamp is 401 and queues nothing.
pub async fn forged_provider_webhooks_are_refused(b: Backend) {
    let s = StripeStandin::start().await;
    let h = harness(b, stripe_settings(&s, "balance", &[])).await;
    let event = stripe_checkout(
        h.clock.now().as_secs(),
        "evt_forged",
        "pi_forged",
        "x@example.com",
        Some("3k9p2r5t6v8w0yab01j8zq4x7m"),
        None,
    );
    let body = event.to_string();
    let t = h.clock.now().as_secs();
    let sign = |key: &str, t: i64| rft_core::connectors::stripe::signature_header(&secret(key), body.as_bytes(), t);
    for header in [sign("whsec_someone_else", t), sign(STRIPE_WEBHOOK_SECRET, t - 600), format!("t={t}")] {
        let request = Request::post("/webhooks/stripe")
            .header("stripe-signature", header)
            .body(Body::from(body.clone()))
            .unwrap();
        let answer = h.call(request).await;
        assert_eq!(
            (answer.status, answer.json["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_signature"))
        );
    }
    let shopify = shopify_event(&h, "orders/paid", "wh_x", &json!({})).await;
    assert_eq!((shopify.status, shopify.json["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_connected")));
    assert_eq!(h.settle().await, 0, "nothing was queued");
}
