//! The demo shop (`/demo`, rft-local only): a small FreshBox storefront where one person can
//! play every role. Its backend stands where a real store's backend would: it signs requests
//! with the programme's signing secret and calls the real API in-process, and it answers the
//! programme's reward calls as the store's reward endpoint. Nothing inside the product is
//! faked for it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tower::ServiceExt;

use rft_core::secrets::SecretString;
use rft_core::signature::Signer;

use crate::outbox::Outbox;
use crate::system::System;

/// The demo's state.
pub struct Demo {
    system: Arc<System>,
    signer: Signer,
    outbox: PathBuf,
    store_key: SecretString,
    /// Checks the tracker's Standard Webhooks signature on each reward call, as a store would.
    reward_calls: Option<Signer>,
    fulfilled: Mutex<Vec<Value>>,
    /// Reward calls the demo store still refuses (422), to show a parked reward.
    refusals: Mutex<u32>,
}

impl Demo {
    /// A demo over a running system, its outbox directory, the store API key it expects and
    /// the store signing secret the tracker signs reward calls with.
    pub fn new(
        system: Arc<System>,
        signer: Signer,
        outbox: PathBuf,
        store_key: SecretString,
        store_signing: Option<&rft_core::secrets::SigningSecret>,
    ) -> Self {
        let reward_calls = store_signing.map(|s| Signer::new(std::slice::from_ref(s)));
        Demo {
            system,
            signer,
            outbox,
            store_key,
            reward_calls,
            fulfilled: Mutex::new(Vec::new()),
            refusals: Mutex::new(0),
        }
    }
}

/// The demo's routes, to merge into the local router.
pub fn routes(demo: Arc<Demo>) -> Router {
    Router::new()
        .route("/demo", get(page))
        .route("/demo/signup", get(|| async { Html(include_str!("../demo/signup.html")) }))
        .route("/demo/assets/{name}", get(asset))
        .route("/demo/api/link", post(link))
        .route("/demo/api/signup", post(signup))
        .route("/demo/api/convert", post(convert))
        .route("/demo/api/refund", post(refund))
        .route("/demo/api/stats/{customer_id}", get(stats))
        .route("/demo/api/store/refuse", post(refuse))
        .route("/demo/api/referral/{customer_id}", get(referral))
        .route("/demo/api/outbox", get(outbox))
        .route("/demo/api/store", get(store_view))
        .route("/demo/api/ops", get(ops_link))
        .route("/demo/store/referral-rewards", post(store_endpoint))
        .with_state(demo)
}

/// The control panel, told how the programme's store is connected.
async fn page(State(demo): State<Arc<Demo>>) -> Html<String> {
    Html(crate::demo_providers::with_kind(include_str!("../demo/demo.html"), demo.system.edge.settings.store.kind))
}

async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "demo.js" => (include_str!("../demo/demo.js"), "text/javascript; charset=utf-8"),
        "demo.css" => (include_str!("../demo/demo.css"), "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// Sends a request signed as the store signs through the real router; returns its answer.
async fn call(demo: &Demo, method: Method, path: &str, body: &str) -> Response {
    let id = format!("msg_demo_{}", rft_core::ids::random_base32());
    let now = demo.system.ports.clock.now();
    let mut builder = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
    match demo.signer.headers(&id, now, body.as_bytes()) {
        Ok(headers) => {
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
        }
        Err(e) => return (StatusCode::BAD_REQUEST, format!("cannot sign: {e}")).into_response(),
    }
    let Ok(request) = builder.body(Body::from(body.to_owned())) else {
        return (StatusCode::BAD_REQUEST, "bad request").into_response();
    };
    match demo.system.router().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn link(State(demo): State<Arc<Demo>>, body: Bytes) -> Response {
    let (status, mut answer) =
        json_of(call(&demo, Method::POST, "/api/links", &String::from_utf8_lossy(&body)).await).await;
    // The page opens the referrer's page on this origin, whatever base_url says.
    if let Some(url) = answer.get("portal_url").and_then(Value::as_str).map(str::to_owned) {
        let path = url.find("/me?").map(|i| url[i..].to_owned()).unwrap_or(url);
        answer["portal_url"] = json!(path);
    }
    (status, axum::Json(answer)).into_response()
}

async fn signup(State(demo): State<Arc<Demo>>, body: Bytes) -> Response {
    call(&demo, Method::POST, "/webhooks/signup", &String::from_utf8_lossy(&body)).await
}

async fn convert(State(demo): State<Arc<Demo>>, body: Bytes) -> Response {
    call(&demo, Method::POST, "/webhooks/conversion", &String::from_utf8_lossy(&body)).await
}

async fn refund(State(demo): State<Arc<Demo>>, body: Bytes) -> Response {
    call(&demo, Method::POST, "/webhooks/refund", &String::from_utf8_lossy(&body)).await
}

/// The stats API's numbers for a referrer, as the store would read them.
async fn stats(State(demo): State<Arc<Demo>>, Path(customer): Path<String>) -> Response {
    let id: String = url::form_urlencoded::byte_serialize(customer.as_bytes()).collect();
    call(&demo, Method::GET, &format!("/api/referrers/{id}/stats"), "").await
}

/// `{"times": n}`: the demo store refuses the next `n` reward calls with 422, as a store that
/// will not take a reward does (the reward is parked for a person).
async fn refuse(State(demo): State<Arc<Demo>>, body: Bytes) -> Response {
    let times = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["times"].as_u64()).unwrap_or(0);
    let Ok(mut refusals) = demo.refusals.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    *refusals = u32::try_from(times).unwrap_or(u32::MAX);
    axum::Json(json!({ "refusing": *refusals })).into_response()
}

async fn referral(State(demo): State<Arc<Demo>>, Path(customer): Path<String>) -> Response {
    let id: String = url::form_urlencoded::byte_serialize(customer.as_bytes()).collect();
    call(&demo, Method::GET, &format!("/api/referrals/{id}"), "").await
}

async fn outbox(State(demo): State<Arc<Demo>>) -> Response {
    let messages = Outbox::read_all(&demo.outbox).unwrap_or_default();
    axum::Json(json!({ "messages": messages })).into_response()
}

async fn store_view(State(demo): State<Arc<Demo>>) -> Response {
    let fulfilled = demo.fulfilled.lock().map(|f| f.clone()).unwrap_or_default();
    axum::Json(json!({ "fulfilled": fulfilled })).into_response()
}

async fn ops_link(State(demo): State<Arc<Demo>>) -> Response {
    axum::Json(json!({ "ops_url": rft_http::portal::ops_queue_path(&demo.system.edge) })).into_response()
}

/// The demo store's reward endpoint: checks the Bearer key, applies each Idempotency-Key once.
async fn store_endpoint(State(demo): State<Arc<Demo>>, headers: HeaderMap, body: Bytes) -> Response {
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(demo.store_key.expose()) {
        return (StatusCode::UNAUTHORIZED, "bad key").into_response();
    }
    if let Some(signer) = &demo.reward_calls
        && let Err(e) = signer.verify(&headers, &body, demo.system.ports.clock.now())
    {
        return (StatusCode::UNAUTHORIZED, format!("bad signature: {e}")).into_response();
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let Ok(mut reward) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    if let Ok(mut refusals) = demo.refusals.lock()
        && *refusals > 0
    {
        *refusals -= 1;
        return (StatusCode::UNPROCESSABLE_ENTITY, "the demo store refuses this reward").into_response();
    }
    let Ok(mut fulfilled) = demo.fulfilled.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    if fulfilled.iter().any(|f| f["idempotency_key"] == key) {
        return StatusCode::CONFLICT.into_response();
    }
    reward["idempotency_key"] = json!(key);
    fulfilled.push(reward);
    StatusCode::CREATED.into_response()
}
