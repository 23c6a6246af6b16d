//! Real-shaped Stripe and Shopify webhooks, signed as each provider signs them: what the demo
//! shop sends when it plays a connected store's checkout, and what the tests deliver. The
//! payloads are the connector fixtures (`crates/rft-core/fixtures/`) with the fields of one
//! order filled in; the signatures are the connectors' own schemes
//! (`rft_core::connectors::{stripe, shopify}`).

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use rft_core::connectors::{shopify, stripe};
use rft_core::secrets::SecretString;

const STRIPE_CHECKOUT: &str = include_str!("../../rft-core/fixtures/stripe/checkout_session_completed_payment.json");
const STRIPE_REFUND: &str = include_str!("../../rft-core/fixtures/stripe/charge_refunded.json");
const SHOPIFY_ORDER: &str = include_str!("../../rft-core/fixtures/shopify/orders_paid.json");
const SHOPIFY_REFUND: &str = include_str!("../../rft-core/fixtures/shopify/refunds_create.json");

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("the fixtures are JSON")
}

fn rfc3339(unix: i64) -> String {
    rft_core::Timestamp::from_secs(unix).to_rfc3339()
}

/// A paid one-off Stripe Checkout (`checkout.session.completed`) by a guest (no Stripe
/// customer) at `now` (unix seconds): `token` (the click's, carried by the Payment Link as
/// `client_reference_id`) if any, `promotion_code` (a Stripe `promo_...` id) as its discount.
pub fn stripe_checkout(
    now: i64,
    event_id: &str,
    payment_intent: &str,
    email: &str,
    token: Option<&str>,
    promotion_code: Option<&str>,
) -> Value {
    let mut event = fixture(STRIPE_CHECKOUT);
    event["id"] = json!(event_id);
    event["created"] = json!(now);
    let session = &mut event["data"]["object"];
    session["client_reference_id"] = json!(token);
    session["customer"] = Value::Null;
    session["customer_details"]["email"] = json!(email);
    session["payment_intent"] = json!(payment_intent);
    session["discounts"] = match promotion_code {
        Some(id) => json!([{ "coupon": null, "promotion_code": id }]),
        None => json!([]),
    };
    event
}

/// A full refund (`charge.refunded`) of `payment_intent`'s charge at `now`.
pub fn stripe_refund(now: i64, event_id: &str, payment_intent: &str) -> Value {
    let mut event = fixture(STRIPE_REFUND);
    event["id"] = json!(event_id);
    event["created"] = json!(now);
    event["data"]["object"]["payment_intent"] = json!(payment_intent);
    event["data"]["object"]["invoice"] = Value::Null;
    event
}

/// A paid Shopify order (`orders/paid`) `order_id` by customer `customer` (a numeric id) at
/// `now`, with `code` as its discount and no `rft` token anywhere (its `landing_site` is a
/// collection page; set it to `/?rft=<token>` for an order that came through a link).
pub fn shopify_order(now: i64, order_id: u64, customer: u64, email: &str, code: &str) -> Value {
    let mut order = fixture(SHOPIFY_ORDER);
    let now = rfc3339(now);
    order["id"] = json!(order_id);
    order["created_at"] = json!(now);
    order["processed_at"] = json!(now);
    order["email"] = json!(email);
    order["contact_email"] = json!(email);
    order["landing_site"] = json!("/collections/boxes");
    order["note_attributes"] = json!([]);
    order["discount_codes"] = json!([{ "code": code.to_lowercase(), "amount": "10.00", "type": "fixed_amount" }]);
    order["customer"]["id"] = json!(customer);
    order["customer"]["email"] = json!(email);
    if let Some(customer) = order["customer"].as_object_mut() {
        customer.remove("orders_count");
    }
    order
}

/// A Shopify refund (`refunds/create`) `refund_id` of order `order_id` at `now`.
pub fn shopify_refund(now: i64, refund_id: u64, order_id: u64) -> Value {
    let mut refund = fixture(SHOPIFY_REFUND);
    let now = rfc3339(now);
    refund["id"] = json!(refund_id);
    refund["order_id"] = json!(order_id);
    refund["created_at"] = json!(now);
    refund["processed_at"] = json!(now);
    refund
}

/// `POST /webhooks/stripe` with `event`, signed with the endpoint's `secret` at `t` (unix).
pub fn stripe_request(secret: &SecretString, event: &Value, t: i64) -> Request<Body> {
    let body = event.to_string();
    Request::post("/webhooks/stripe")
        .header("content-type", "application/json")
        .header(stripe::SIGNATURE_HEADER, stripe::signature_header(secret, body.as_bytes(), t))
        .body(Body::from(body))
        .expect("a valid request")
}

/// `POST /webhooks/shopify` with `payload` as Shopify delivers `topic` (its delivery id
/// `delivery`, the same on every retry), signed with the app's `secret`.
pub fn shopify_request(secret: &SecretString, topic: &str, delivery: &str, payload: &Value) -> Request<Body> {
    let body = payload.to_string();
    Request::post("/webhooks/shopify")
        .header("content-type", "application/json")
        .header(shopify::HMAC_HEADER, shopify::hmac_header(secret, body.as_bytes()))
        .header(shopify::TOPIC_HEADER, topic)
        .header(shopify::WEBHOOK_ID_HEADER, delivery)
        .body(Body::from(body))
        .expect("a valid request")
}
