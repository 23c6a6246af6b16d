//! The demo shop as a connected store (rft-local only): when the settings say `store.kind =
//! "stripe"` or `"shopify"`, the demo plays the provider. It serves the provider's API as the
//! stand-ins (`/demo/stripe-api`, `/demo/shopify-api`, where `settings.stripe-demo.toml` and
//! `settings.shopify-demo.toml` point `api_base`), the storefront's discount path
//! (`/discount/{code}`, Shopify only) and a checkout page (`/demo/checkout`, the programme's
//! landing page in those settings). Paying there makes the demo send what the provider would:
//! a real-shaped `checkout.session.completed` or `orders/paid`, signed with the webhook secret
//! the tracker was given, through the real router to `/webhooks/stripe` or `/webhooks/shopify`.
//! The tracker is not told it talks to a stand-in: only its settings point there.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

use rft_core::connectors::intake::guest_id;
use rft_core::email::Email;
use rft_core::secrets::SecretString;
use rft_core::settings::StoreKind;

use crate::provider_events;
use crate::standins::{Recorded, ShopifyStandin, StripeStandin};
use crate::system::System;

/// Where the demo serves the Stripe API stand-in (`store.stripe.api_base`).
pub const STRIPE_API_PATH: &str = "/demo/stripe-api";
/// Where the demo serves the Shopify Admin API stand-in (`store.shopify.api_base`).
pub const SHOPIFY_API_PATH: &str = "/demo/shopify-api";

/// The connected demo's state: the stand-ins and the webhook secrets the provider signs with.
pub struct ConnectedDemo {
    system: Arc<System>,
    stripe: StripeStandin,
    shopify: ShopifyStandin,
    stripe_webhook_secret: Option<SecretString>,
    shopify_webhook_secret: Option<SecretString>,
}

impl ConnectedDemo {
    /// The demo over a running system, signing as the provider with the secrets the tracker
    /// was configured with (absent for a store that is not connected).
    pub fn new(system: Arc<System>, secrets: &rft_core::secrets::SecretSet) -> Self {
        ConnectedDemo {
            system,
            stripe: StripeStandin::new(),
            shopify: ShopifyStandin::new(),
            stripe_webhook_secret: secrets.stripe().ok().map(|k| k.webhook_secret.clone()),
            shopify_webhook_secret: secrets.shopify().ok().map(|k| k.webhook_secret.clone()),
        }
    }

    fn kind(&self) -> StoreKind {
        self.system.edge.settings.store.kind
    }
}

/// The connected demo's routes, to merge into the local router beside the demo's.
pub fn routes(demo: Arc<ConnectedDemo>) -> Router {
    Router::new()
        .nest_service(STRIPE_API_PATH, demo.stripe.router())
        .nest_service(SHOPIFY_API_PATH, demo.shopify.router())
        .route("/demo/checkout", get(checkout_page))
        .route("/discount/{code}", get(storefront_discount))
        .route("/demo/api/stripe/checkout", post(stripe_checkout))
        .route("/demo/api/shopify/order", post(shopify_order))
        .route("/demo/api/standin", get(standin_view))
        .with_state(demo)
}

async fn checkout_page(State(demo): State<Arc<ConnectedDemo>>) -> Html<String> {
    Html(with_kind(include_str!("../demo/checkout.html"), demo.kind()))
}

/// A demo page with the programme's store kind on its `<body>` (the script reads it).
pub fn with_kind(page: &str, kind: StoreKind) -> String {
    page.replace("data-store-kind=\"webhooks\"", &format!("data-store-kind=\"{}\"", kind.as_str()))
}

#[derive(Deserialize)]
struct DiscountQuery {
    redirect: Option<String>,
}

/// The storefront's `/discount/{code}?redirect=<path>`: Shopify puts the code in the cart and
/// sends the visitor on to the path. Only a path on this origin is followed.
async fn storefront_discount(Query(q): Query<DiscountQuery>) -> Response {
    let target = q.redirect.filter(|r| r.starts_with('/') && !r.starts_with("//") && !r.contains('\\'));
    let target = target.unwrap_or_else(|| "/demo/checkout".to_owned());
    (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Sends `request` through the real router; the answer's status and JSON.
async fn deliver(demo: &ConnectedDemo, request: Request<Body>) -> (StatusCode, Value) {
    let response = match demo.system.router().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn random_digits(n: usize) -> String {
    let digits: String = rft_core::ids::random_base32().bytes().map(|b| char::from(b'1' + b % 9)).collect();
    digits.chars().cycle().take(n).collect()
}

#[derive(Deserialize)]
struct StripeCheckout {
    email: String,
    /// The click's token, from the Payment Link's `client_reference_id`.
    token: Option<String>,
    /// The promotion code in the box (`prefilled_promo_code`), if the friend kept it.
    code: Option<String>,
}

/// `{"email", "token"?, "code"?}`: a guest pays at Stripe Checkout. Stripe would apply the
/// promotion code whose text is `code` and send `checkout.session.completed`; so does this.
async fn stripe_checkout(State(demo): State<Arc<ConnectedDemo>>, body: Bytes) -> Response {
    let (StoreKind::Stripe, Some(secret)) = (demo.kind(), &demo.stripe_webhook_secret) else {
        return refuse(StatusCode::CONFLICT, "the programme is not connected to Stripe");
    };
    let Ok(pay) = serde_json::from_slice::<StripeCheckout>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "expected {\"email\", \"token\", \"code\"}");
    };
    let Ok(email) = Email::parse(&pay.email) else { return refuse(StatusCode::BAD_REQUEST, "not an email address") };
    // The promotion code Stripe would find for the text in the box: the active one minted.
    let promotion = pay.code.as_deref().and_then(|code| {
        demo.stripe
            .promotion_codes()
            .into_iter()
            .find(|p| p["active"] == true && p["code"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(code.trim())))
    });
    let now = demo.system.ports.clock.now().as_secs();
    let suffix = rft_core::ids::random_base32();
    let (event_id, payment_intent) = (format!("evt_demo_{suffix}"), format!("pi_demo_{suffix}"));
    let event = provider_events::stripe_checkout(
        now,
        &event_id,
        &payment_intent,
        email.as_str(),
        pay.token.as_deref(),
        promotion.as_ref().and_then(|p| p["id"].as_str()),
    );
    let (status, answer) = deliver(&demo, provider_events::stripe_request(secret, &event, now)).await;
    // A guest is known to the programme by their email.
    let customer = guest_id(&demo.system.edge.hasher, &email).map(|c| c.as_str().to_owned());
    let out = json!({
        "status": status.as_u16(), "answer": answer, "event": event,
        "payment_intent": payment_intent, "customer_id": customer,
        "promotion_code": promotion.and_then(|p| p["id"].as_str().map(str::to_owned)),
    });
    (StatusCode::OK, axum::Json(out)).into_response()
}

#[derive(Deserialize)]
struct ShopifyOrder {
    /// The Shopify customer's numeric id.
    customer_id: String,
    email: String,
    /// The page the visit landed on (`landing_site`), carrying the click's `rft` token.
    landing_site: Option<String>,
    /// The discount code in the cart.
    code: Option<String>,
}

/// `{"customer_id", "email", "landing_site"?, "code"?}`: a customer pays at Shopify; Shopify
/// would send `orders/paid` with the landing page and the discount code; so does this.
async fn shopify_order(State(demo): State<Arc<ConnectedDemo>>, body: Bytes) -> Response {
    let (StoreKind::Shopify, Some(secret)) = (demo.kind(), &demo.shopify_webhook_secret) else {
        return refuse(StatusCode::CONFLICT, "the programme is not connected to Shopify");
    };
    let Ok(order) = serde_json::from_slice::<ShopifyOrder>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "expected {\"customer_id\", \"email\", \"landing_site\", \"code\"}");
    };
    let Ok(customer) = order.customer_id.parse::<u64>() else {
        return refuse(StatusCode::BAD_REQUEST, "a Shopify customer id is a number");
    };
    let now = demo.system.ports.clock.now().as_secs();
    let order_id: u64 = random_digits(13).parse().unwrap_or(1);
    let code = order.code.as_deref().map(str::trim).unwrap_or_default();
    let mut payload = provider_events::shopify_order(now, order_id, customer, &order.email, code);
    if code.is_empty() {
        payload["discount_codes"] = json!([]);
    }
    if let Some(landing) = &order.landing_site {
        payload["landing_site"] = json!(landing);
    }
    let delivery = format!("demo-{}", rft_core::ids::random_base32());
    let request = provider_events::shopify_request(secret, "orders/paid", &delivery, &payload);
    let (status, answer) = deliver(&demo, request).await;
    let out = json!({
        "status": status.as_u16(), "answer": answer, "order": payload,
        "order_id": order_id.to_string(), "customer_id": customer.to_string(),
    });
    (StatusCode::OK, axum::Json(out)).into_response()
}

/// What a recorded provider call did, for the people watching: `(side, what)`, or `None` for a
/// lookup that changed nothing.
fn effect(r: &Recorded) -> Option<(&'static str, &'static str)> {
    if r.method != "POST" {
        return None;
    }
    let doc = r.graphql();
    if r.path.starts_with("/v1/customers/") && r.path.ends_with("/balance_transactions") {
        Some(("referrer", "balance credit"))
    } else if r.path == "/v1/coupons" {
        Some(("friend", "coupon"))
    } else if r.path == "/v1/promotion_codes" {
        Some(("friend", "promotion code"))
    } else if r.path.starts_with("/v1/promotion_codes/") {
        Some(("friend", "promotion code update"))
    } else if doc.contains("storeCreditAccountCredit") {
        Some(("referrer", "store credit"))
    } else if doc.contains("discountCodeBasicCreate") {
        Some(("friend", "discount code"))
    } else if doc.contains("discountCodeDeactivate") {
        Some(("friend", "discount code deactivated"))
    } else {
        None
    }
}

/// The calls that changed something at the connected provider, oldest first: method, path,
/// Idempotency-Key, form fields (Stripe) or GraphQL variables (Shopify).
async fn standin_view(State(demo): State<Arc<ConnectedDemo>>) -> Response {
    let requests = match demo.kind() {
        StoreKind::Stripe => demo.stripe.requests(),
        StoreKind::Shopify => demo.shopify.requests(),
        StoreKind::Webhooks => vec![],
    };
    let calls: Vec<Value> = requests
        .iter()
        .filter_map(|r| {
            let (side, what) = effect(r)?;
            let form: serde_json::Map<String, Value> =
                r.form.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
            Some(json!({
                "side": side, "what": what, "method": r.method, "path": r.path,
                "idempotency_key": r.idempotency_key(), "form": form, "variables": r.variables(),
            }))
        })
        .collect();
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(json!({ "kind": demo.kind().as_str(), "calls": calls })))
        .into_response()
}
