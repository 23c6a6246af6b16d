//! Stand-ins for the Stripe API and the Shopify Admin GraphQL API: run by the tests on a free
//! loopback port, and served by the demo shop (`/demo/stripe-api`, `/demo/shopify-api`) so a
//! connected store's demo runs with no account anywhere. Only the settings' `api_base` points
//! the tracker at one; the tracker's clients do not know. Each records every request (method, path, query, headers, form fields or
//! GraphQL variables), keeps just enough state to behave like the provider where exactly-once
//! depends on it, and can fail or stall on demand:
//!
//! - Stripe: the same `Idempotency-Key` returns the first answer again (and a different body
//!   under a used key is a 400 `idempotency_error`, as Stripe does); coupon ids are unique
//!   (`resource_already_exists`); an active promotion code's text is unique.
//! - Shopify: discount codes are unique (case-insensitive), lookups by code see what creates
//!   made; store credit is not idempotent, as at Shopify.
//! - Faults: [`Faults::fail_next`] answers the next calls with a status (500, 429, ...) and no
//!   effect; [`Faults::stall_next`] sleeps before handling; [`Faults::lose_next_answer`] applies
//!   the call and then stalls past the client's timeout, so the caller cannot know it landed.
//!
//! Answers use Stripe's published example objects (`crates/rft-local/fixtures/stripe/`) with the fields
//! the request set filled in.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One recorded request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// Form fields of a form-encoded body, decoded, in order.
    pub form: Vec<(String, String)>,
    /// A JSON body (GraphQL: `{"query", "variables"}`), if the body was JSON.
    pub json: Option<Value>,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The `Idempotency-Key` header.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.header("idempotency-key")
    }

    /// A form field's value.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// GraphQL variables.
    pub fn variables(&self) -> Value {
        self.json.as_ref().and_then(|j| j.get("variables")).cloned().unwrap_or(Value::Null)
    }

    /// The GraphQL document.
    pub fn graphql(&self) -> &str {
        self.json.as_ref().and_then(|j| j.get("query")).and_then(Value::as_str).unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Pass,
    Fail(StatusCode),
    Stall(Duration),
    LoseAnswer(Duration),
}

/// Faults to inject, shared with the running stand-in.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Fault>>>);

impl Faults {
    /// The next `n` calls are answered `status` and change nothing.
    pub fn fail_next(&self, n: usize, status: u16) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self.push(n, Fault::Fail(status));
    }

    /// The next `n` calls are handled normally (to aim a later fault at a later call).
    pub fn pass_next(&self, n: usize) {
        self.push(n, Fault::Pass);
    }

    /// The next `n` calls wait `d` before being handled.
    pub fn stall_next(&self, n: usize, d: Duration) {
        self.push(n, Fault::Stall(d));
    }

    /// The next call takes effect, then its answer waits `d` (past the client's timeout).
    pub fn lose_next_answer(&self, d: Duration) {
        self.push(1, Fault::LoseAnswer(d));
    }

    /// Drops every fault still waiting (the outage is over).
    pub fn clear(&self) {
        if let Ok(mut q) = self.0.lock() {
            q.clear();
        }
    }

    fn push(&self, n: usize, f: Fault) {
        if let Ok(mut q) = self.0.lock() {
            q.extend(std::iter::repeat_n(f, n));
        }
    }

    fn take(&self) -> Option<Fault> {
        self.0.lock().ok().and_then(|mut q| (!q.is_empty()).then(|| q.remove(0)))
    }
}

fn record(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Recorded {
    let decode = |s: &[u8]| url::form_urlencoded::parse(s).into_owned().collect::<Vec<_>>();
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: decode(uri.query().unwrap_or_default().as_bytes()),
        headers: headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect(),
        form: if is_form { decode(body) } else { vec![] },
        json: serde_json::from_slice(body).ok(),
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

/// How long the tests' provider clients wait for an answer (a lost answer stalls past it).
pub const CLIENT_TIMEOUT: Duration = Duration::from_millis(800);

/// The Stripe webhook signing secret that goes with the stand-ins (`make run-stripe`).
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_standin_0123456789abcdef";
/// The Shopify webhook signing secret that goes with the stand-ins (`make run-shopify`).
pub const SHOPIFY_WEBHOOK_SECRET: &str = "shopify_standin_webhook_secret";

/// The stand-ins' credentials as a connected store's secrets (both providers' set).
pub fn secrets() -> rft_core::secrets::ProviderSecrets {
    rft_core::secrets::ProviderSecrets::parse(
        Some(STRIPE_KEY),
        Some(STRIPE_WEBHOOK_SECRET),
        Some(SHOPIFY_TOKEN),
        Some(SHOPIFY_WEBHOOK_SECRET),
    )
    .expect("the stand-ins' secrets are well formed")
}

// ---- Stripe ------------------------------------------------------------------------------

/// The Stripe API key the stand-in accepts.
pub const STRIPE_KEY: &str = "sk_test_standin_0123456789abcdef";

/// A POST's form and the answer given, kept under its idempotency key.
struct Replay {
    form: Vec<(String, String)>,
    status: StatusCode,
    body: Value,
}

#[derive(Default)]
struct StripeState {
    requests: Vec<Recorded>,
    /// Idempotency key -> the first request's form and answer.
    idempotent: HashMap<String, Replay>,
    coupons: BTreeMap<String, Value>,
    promotion_codes: Vec<Value>,
    balance_transactions: Vec<Value>,
    /// payment intent -> invoice, for `GET /v1/invoice_payments`.
    invoice_payments: HashMap<String, String>,
    next_id: u64,
}

impl StripeState {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_standin{:08}", self.next_id)
    }
}

/// A running Stripe API stand-in.
#[derive(Clone)]
pub struct StripeStandin {
    /// Where it listens, when it runs on a port of its own.
    addr: Option<SocketAddr>,
    state: Arc<Mutex<StripeState>>,
    /// Faults to inject.
    pub faults: Faults,
}

#[derive(Clone)]
struct StripeApp {
    state: Arc<Mutex<StripeState>>,
    faults: Faults,
}

fn stripe_fixture(name: &str) -> Value {
    let text = match name {
        "coupon" => include_str!("../fixtures/stripe/coupon.json"),
        "promotion_code" => include_str!("../fixtures/stripe/promotion_code.json"),
        "customer_balance_transaction" => include_str!("../fixtures/stripe/customer_balance_transaction.json"),
        _ => include_str!("../fixtures/stripe/invoice_payment.json"),
    };
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn stripe_error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({ "error": { "type": "invalid_request_error", "code": code, "message": message } }))
}

impl Default for StripeStandin {
    fn default() -> Self {
        Self::new()
    }
}

impl StripeStandin {
    /// A stand-in not yet served: mount [`StripeStandin::router`] where it should answer.
    pub fn new() -> Self {
        StripeStandin { addr: None, state: Arc::default(), faults: Faults::default() }
    }

    /// Starts a stand-in on a free loopback port.
    pub async fn start() -> Self {
        let mut standin = Self::new();
        standin.addr = Some(serve(standin.router()).await);
        standin
    }

    /// Its routes (every path answered as Stripe would), sharing this stand-in's state.
    pub fn router(&self) -> Router {
        let app = StripeApp { state: self.state.clone(), faults: self.faults.clone() };
        Router::new().fallback(stripe_handler).with_state(app)
    }

    /// Its base URL, for `store.stripe.api_base` (a stand-in [`StripeStandin::start`]ed).
    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.addr.expect("a started stand-in"))).expect("a URL")
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().map(|s| s.requests.clone()).unwrap_or_default()
    }

    /// Balance transactions created (each distinct effect once).
    pub fn balance_transactions(&self) -> Vec<Value> {
        self.state.lock().map(|s| s.balance_transactions.clone()).unwrap_or_default()
    }

    /// Coupons by id.
    pub fn coupons(&self) -> BTreeMap<String, Value> {
        self.state.lock().map(|s| s.coupons.clone()).unwrap_or_default()
    }

    /// Promotion codes created, oldest first.
    pub fn promotion_codes(&self) -> Vec<Value> {
        self.state.lock().map(|s| s.promotion_codes.clone()).unwrap_or_default()
    }

    /// Declares that `payment_intent` paid `invoice`.
    pub fn add_invoice_payment(&self, payment_intent: &str, invoice: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.invoice_payments.insert(payment_intent.to_owned(), invoice.to_owned());
        }
    }
}

async fn stripe_handler(
    State(app): State<StripeApp>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rec = record(&method, &uri, &headers, &body);
    if let Ok(mut s) = app.state.lock() {
        s.requests.push(rec.clone());
    }
    let mut lose = None;
    match app.faults.take() {
        Some(Fault::Fail(status)) => {
            let (status, body) = stripe_error(status, "standin_fault", "injected failure");
            return json_response(status, body);
        }
        Some(Fault::Stall(d)) => tokio::time::sleep(d).await,
        Some(Fault::LoseAnswer(d)) => lose = Some(d),
        Some(Fault::Pass) | None => {}
    }
    let (status, body) = stripe_apply(&app.state, &rec);
    if let Some(d) = lose {
        tokio::time::sleep(d).await;
    }
    json_response(status, body)
}

fn stripe_apply(state: &Mutex<StripeState>, rec: &Recorded) -> (StatusCode, Value) {
    let Ok(mut s) = state.lock() else { return (StatusCode::INTERNAL_SERVER_ERROR, Value::Null) };
    if rec.header("authorization") != Some(format!("Bearer {STRIPE_KEY}").as_str()) {
        return stripe_error(StatusCode::UNAUTHORIZED, "api_key_invalid", "Invalid API Key provided");
    }
    let key = rec.idempotency_key().map(str::to_owned);
    if rec.method == "POST" {
        let Some(key) = &key else {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "standin_no_idempotency_key",
                "every POST needs an Idempotency-Key",
            );
        };
        if let Some(Replay { form, status, body }) = s.idempotent.get(key) {
            if *form != rec.form {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                );
            }
            return (*status, body.clone());
        }
    }
    let segments: Vec<&str> = rec.path.trim_matches('/').split('/').collect();
    let (status, body) = match (rec.method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "customers", customer, "balance_transactions"]) => {
            let amount: i64 = rec.field("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
            let mut tx = stripe_fixture("customer_balance_transaction");
            let id = s.id("cbtxn");
            let before: i64 = s
                .balance_transactions
                .iter()
                .filter(|t| t["customer"] == *customer)
                .filter_map(|t| t["amount"].as_i64())
                .sum();
            tx["id"] = id.into();
            tx["customer"] = (*customer).into();
            tx["amount"] = amount.into();
            tx["ending_balance"] = (before + amount).into();
            tx["currency"] = rec.field("currency").unwrap_or("usd").into();
            tx["description"] = rec.field("description").map_or(Value::Null, Value::from);
            s.balance_transactions.push(tx.clone());
            (StatusCode::OK, tx)
        }
        ("POST", ["v1", "coupons"]) => {
            let id = rec.field("id").map(str::to_owned).unwrap_or_else(|| s.id("coupon"));
            if let std::collections::btree_map::Entry::Vacant(slot) = s.coupons.entry(id.clone()) {
                let mut c = stripe_fixture("coupon");
                c["id"] = id.clone().into();
                c["percent_off"] = Value::Null;
                c["duration_in_months"] = Value::Null;
                c["redeem_by"] = Value::Null;
                c["amount_off"] = rec.field("amount_off").and_then(|a| a.parse::<u64>().ok()).into();
                c["currency"] = rec.field("currency").into();
                c["duration"] = rec.field("duration").unwrap_or("once").into();
                c["name"] = rec.field("name").into();
                c["valid"] = true.into();
                slot.insert(c.clone());
                (StatusCode::OK, c)
            } else {
                stripe_error(StatusCode::BAD_REQUEST, "resource_already_exists", "Coupon already exists.")
            }
        }
        ("GET", ["v1", "coupons", id]) => match s.coupons.get(*id) {
            Some(c) => (StatusCode::OK, c.clone()),
            None => stripe_error(StatusCode::NOT_FOUND, "resource_missing", "No such coupon"),
        },
        ("POST", ["v1", "promotion_codes"]) => {
            let code = rec.field("code").unwrap_or_default().to_owned();
            let coupon = rec.field("promotion[coupon]").unwrap_or_default().to_owned();
            let taken = s
                .promotion_codes
                .iter()
                .any(|p| p["active"] == true && p["code"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(&code)));
            if !s.coupons.contains_key(&coupon) {
                stripe_error(StatusCode::BAD_REQUEST, "resource_missing", "No such coupon")
            } else if taken {
                stripe_error(
                    StatusCode::BAD_REQUEST,
                    "promotion_code_already_exists",
                    "An active promotion code with this code already exists.",
                )
            } else {
                let mut p = stripe_fixture("promotion_code");
                p["id"] = s.id("promo").into();
                p["code"] = code.into();
                p["active"] = true.into();
                p["expires_at"] = Value::Null;
                p["promotion"] = json!({ "type": "coupon", "coupon": coupon });
                p["customer"] = rec.field("customer").into();
                p["max_redemptions"] = rec.field("max_redemptions").and_then(|m| m.parse::<u64>().ok()).into();
                p["restrictions"]["first_time_transaction"] =
                    (rec.field("restrictions[first_time_transaction]") == Some("true")).into();
                s.promotion_codes.push(p.clone());
                (StatusCode::OK, p)
            }
        }
        ("GET", ["v1", "promotion_codes"]) => {
            let code = rec.query.iter().find(|(k, _)| k == "code").map(|(_, v)| v.clone());
            // Newest first, as Stripe lists.
            let data: Vec<Value> = s
                .promotion_codes
                .iter()
                .rev()
                .filter(|p| {
                    code.as_deref().is_none_or(|c| p["code"].as_str().is_some_and(|pc| pc.eq_ignore_ascii_case(c)))
                })
                .cloned()
                .collect();
            (StatusCode::OK, json!({ "object": "list", "url": "/v1/promotion_codes", "has_more": false, "data": data }))
        }
        ("GET", ["v1", "promotion_codes", id]) => match s.promotion_codes.iter().find(|p| p["id"] == *id) {
            Some(p) => (StatusCode::OK, p.clone()),
            None => stripe_error(StatusCode::NOT_FOUND, "resource_missing", "No such promotion code"),
        },
        ("POST", ["v1", "promotion_codes", id]) => {
            let active = rec.field("active").map(|a| a == "true");
            match s.promotion_codes.iter_mut().find(|p| p["id"] == *id) {
                Some(p) => {
                    if let Some(a) = active {
                        p["active"] = a.into();
                    }
                    (StatusCode::OK, p.clone())
                }
                None => stripe_error(StatusCode::NOT_FOUND, "resource_missing", "No such promotion code"),
            }
        }
        ("GET", ["v1", "invoice_payments"]) => {
            let pi = rec.query.iter().find(|(k, _)| k == "payment[payment_intent]").map(|(_, v)| v.clone());
            let data: Vec<Value> = pi
                .and_then(|pi| s.invoice_payments.get(&pi).cloned().map(|inv| (pi, inv)))
                .map(|(pi, inv)| {
                    let mut p = stripe_fixture("invoice_payment");
                    p["invoice"] = inv.into();
                    p["payment"] = json!({ "type": "payment_intent", "payment_intent": pi });
                    p
                })
                .into_iter()
                .collect();
            (
                StatusCode::OK,
                json!({ "object": "list", "url": "/v1/invoice_payments", "has_more": false, "data": data }),
            )
        }
        _ => stripe_error(StatusCode::NOT_FOUND, "standin_unknown_route", "the stand-in does not serve this route"),
    };
    if let Some(key) = key.filter(|_| rec.method == "POST") {
        // Stripe replays 2xx and 4xx answers under their key; 5xx are not saved.
        if !status.is_server_error() {
            s.idempotent.insert(key, Replay { form: rec.form.clone(), status, body: body.clone() });
        }
    }
    (status, body)
}

// ---- Shopify -----------------------------------------------------------------------------

/// The Admin API access token the stand-in accepts.
pub const SHOPIFY_TOKEN: &str = "shpat_standin_0123456789abcdef";

#[derive(Default)]
struct ShopifyState {
    requests: Vec<Recorded>,
    /// Upper-cased code -> (node id, the create input, status).
    discounts: BTreeMap<String, (String, Value, String)>,
    credits: Vec<Value>,
    orders: HashMap<String, u64>,
    next_id: u64,
}

/// A running Shopify Admin GraphQL stand-in.
#[derive(Clone)]
pub struct ShopifyStandin {
    /// Where it listens, when it runs on a port of its own.
    addr: Option<SocketAddr>,
    state: Arc<Mutex<ShopifyState>>,
    /// Faults to inject.
    pub faults: Faults,
}

#[derive(Clone)]
struct ShopifyApp {
    state: Arc<Mutex<ShopifyState>>,
    faults: Faults,
}

impl Default for ShopifyStandin {
    fn default() -> Self {
        Self::new()
    }
}

impl ShopifyStandin {
    /// A stand-in not yet served: mount [`ShopifyStandin::router`] where it should answer.
    pub fn new() -> Self {
        ShopifyStandin { addr: None, state: Arc::default(), faults: Faults::default() }
    }

    /// Starts a stand-in on a free loopback port.
    pub async fn start() -> Self {
        let mut standin = Self::new();
        standin.addr = Some(serve(standin.router()).await);
        standin
    }

    /// Its routes (the versioned Admin GraphQL endpoint), sharing this stand-in's state.
    pub fn router(&self) -> Router {
        let app = ShopifyApp { state: self.state.clone(), faults: self.faults.clone() };
        Router::new().fallback(shopify_handler).with_state(app)
    }

    /// Its base URL, for `store.shopify.api_base` (a stand-in [`ShopifyStandin::start`]ed).
    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.addr.expect("a started stand-in"))).expect("a URL")
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().map(|s| s.requests.clone()).unwrap_or_default()
    }

    /// Discounts by upper-cased code: (node id, the create input, status).
    pub fn discounts(&self) -> BTreeMap<String, (String, Value, String)> {
        self.state.lock().map(|s| s.discounts.clone()).unwrap_or_default()
    }

    /// Store credit transactions, in order.
    pub fn credits(&self) -> Vec<Value> {
        self.state.lock().map(|s| s.credits.clone()).unwrap_or_default()
    }

    /// Sets a customer's order count (numeric id).
    pub fn set_orders(&self, customer_id: &str, n: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.orders.insert(customer_id.to_owned(), n);
        }
    }
}

async fn shopify_handler(
    State(app): State<ShopifyApp>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rec = record(&method, &uri, &headers, &body);
    if let Ok(mut s) = app.state.lock() {
        s.requests.push(rec.clone());
    }
    let mut lose = None;
    match app.faults.take() {
        Some(Fault::Fail(status)) => return json_response(status, json!({ "errors": "injected failure" })),
        Some(Fault::Stall(d)) => tokio::time::sleep(d).await,
        Some(Fault::LoseAnswer(d)) => lose = Some(d),
        Some(Fault::Pass) | None => {}
    }
    let (status, body) = shopify_apply(&app.state, &rec);
    if let Some(d) = lose {
        tokio::time::sleep(d).await;
    }
    json_response(status, body)
}

fn user_error(field: &[&str], code: &str, message: &str) -> Value {
    json!([{ "field": field, "code": code, "message": message }])
}

fn shopify_apply(state: &Mutex<ShopifyState>, rec: &Recorded) -> (StatusCode, Value) {
    let Ok(mut s) = state.lock() else { return (StatusCode::INTERNAL_SERVER_ERROR, Value::Null) };
    if rec.header("x-shopify-access-token") != Some(SHOPIFY_TOKEN) {
        return (
            StatusCode::UNAUTHORIZED,
            json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" }),
        );
    }
    let versioned = rec.path.starts_with("/admin/api/") && rec.path.ends_with("/graphql.json");
    if rec.method != "POST" || !versioned {
        return (StatusCode::NOT_FOUND, json!({ "errors": "Not Found" }));
    }
    let doc = rec.graphql().to_owned();
    let vars = rec.variables();
    let data = if doc.contains("codeDiscountNodeByCode") {
        let code = vars["code"].as_str().unwrap_or_default().to_ascii_uppercase();
        let node = s.discounts.get(&code).map(|(id, input, status)| {
            json!({ "id": id, "codeDiscount": { "status": status, "codes": { "nodes": [{ "code": input["code"] }] } } })
        });
        json!({ "codeDiscountNodeByCode": node })
    } else if doc.contains("discountCodeBasicCreate") {
        let input = vars["basicCodeDiscount"].clone();
        let code = input["code"].as_str().unwrap_or_default().to_ascii_uppercase();
        let missing = ["title", "code", "context"].into_iter().find(|f| input[*f].is_null());
        if let Some(f) = missing {
            json!({ "discountCodeBasicCreate": { "codeDiscountNode": null, "userErrors": user_error(&["basicCodeDiscount", f], "BLANK", "can't be blank") } })
        } else if s.discounts.contains_key(&code) {
            json!({ "discountCodeBasicCreate": { "codeDiscountNode": null,
                "userErrors": user_error(&["basicCodeDiscount", "code"], "TAKEN", "Code must be unique. Please try a different code.") } })
        } else {
            s.next_id += 1;
            let id = format!("gid://shopify/DiscountCodeNode/{}", 1_000_000 + s.next_id);
            s.discounts.insert(code, (id.clone(), input, "ACTIVE".into()));
            json!({ "discountCodeBasicCreate": { "codeDiscountNode": { "id": id, "codeDiscount": { "status": "ACTIVE" } }, "userErrors": [] } })
        }
    } else if doc.contains("discountCodeDeactivate") {
        let id = vars["id"].as_str().unwrap_or_default();
        match s.discounts.values_mut().find(|(node, _, _)| node == id) {
            Some(entry) => {
                entry.2 = "EXPIRED".into();
                json!({ "discountCodeDeactivate": { "codeDiscountNode": { "id": id, "codeDiscount": { "status": "EXPIRED" } }, "userErrors": [] } })
            }
            None => json!({ "discountCodeDeactivate": { "codeDiscountNode": null,
                "userErrors": user_error(&["id"], "INVALID", "Discount does not exist") } }),
        }
    } else if doc.contains("storeCreditAccountCredit") {
        let amount = &vars["creditInput"]["creditAmount"];
        if !vars["id"].as_str().is_some_and(|id| id.starts_with("gid://shopify/Customer/"))
            || amount["amount"].is_null()
        {
            json!({ "storeCreditAccountCredit": { "storeCreditAccountTransaction": null,
                "userErrors": user_error(&["id"], "ACCOUNT_NOT_FOUND", "Store credit account does not exist") } })
        } else {
            s.next_id += 1;
            let tx = json!({
                "id": format!("gid://shopify/StoreCreditAccountCreditTransaction/{}", 2_000_000 + s.next_id),
                "amount": amount,
                "account": { "id": format!("gid://shopify/StoreCreditAccount/{}", vars["id"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default()) },
                "owner": vars["id"],
            });
            s.credits.push(tx.clone());
            json!({ "storeCreditAccountCredit": { "storeCreditAccountTransaction": tx, "userErrors": [] } })
        }
    } else if doc.contains("numberOfOrders") {
        let id = vars["id"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
        let customer = s.orders.get(&id).map(|n| json!({ "numberOfOrders": n.to_string() }));
        json!({ "customer": customer })
    } else {
        return (StatusCode::OK, json!({ "errors": [{ "message": "the stand-in does not know this operation" }] }));
    };
    (StatusCode::OK, json!({ "data": data }))
}
