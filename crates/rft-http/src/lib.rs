//! The referral tracker's one HTTP surface: an `axum::Router` served by `lambda_http` in
//! `rft-edge` and on a socket by `rft-local serve`, the same code in both.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use rft_core::identity::IdentityHasher;
use rft_core::links::LinkSigner;
use rft_core::ports::{Erasure, JobQueue, Minter, Stores};
use rft_core::service::Redirector;
use rft_core::signature::Signer;
use rft_core::{Clock, Settings};

pub mod admin;
pub mod api;
pub mod assemble;
pub mod body;
pub mod error;
pub mod ops;
pub mod ops_codes;
pub mod params;
pub mod portal;
pub mod provider_webhooks;
pub mod providers;
pub mod redirect;
pub mod signed;
pub mod store_client;
pub mod webhooks;

pub use assemble::EdgePorts;
pub use error::ApiError;

/// The client's IP, put in the request's extensions by the runtime (the Function URL's source
/// IP in Lambda, the peer address locally). Headers such as `X-Forwarded-For` are not trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Everything the surface needs, built once per process.
pub struct Edge {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The clock every handler reads (a manual one in tests).
    pub clock: Arc<dyn Clock>,
    /// Verifies the store's signatures.
    pub signer: Signer,
    /// Hashes identity fields before anything stores or queues them.
    pub hasher: IdentityHasher,
    /// Signs and checks people's links (ops, portal).
    pub links: LinkSigner,
    /// Stores (the edge reads referrals and writes webhook ids).
    pub stores: Stores,
    /// The redirect, with its per-process code cache.
    pub redirector: Redirector,
    /// Minting, retiring, invites.
    pub minter: Arc<dyn Minter>,
    /// Forgetting a customer.
    pub erasure: Arc<dyn Erasure>,
    /// Sign-ups, for the attributor.
    pub signup_jobs: Arc<dyn JobQueue>,
    /// Conversions, refunds and ops decisions, for the rewarder.
    pub reward_jobs: Arc<dyn JobQueue>,
    /// The owner's console (`/admin`): its mailer, overview and live updates.
    pub console: admin::Console,
    /// A connected store's provider (`store.kind = "stripe"` or `"shopify"`).
    pub connector: Option<provider_webhooks::Connector>,
}

/// The whole public surface.
pub fn router(edge: Arc<Edge>) -> Router {
    let signed_routes = Router::new()
        .route("/api/links", post(api::links))
        .route("/api/codes/{code}/retire", post(api::retire))
        .route("/api/referrals/{customer_id}", get(api::referral))
        .route("/api/invites", post(api::invites))
        .route("/api/referrers/{customer_id}/stats", get(portal::stats))
        .route("/api/customers/{customer_id}/erase", post(api::erase))
        .route("/webhooks/signup", post(webhooks::signup))
        .route("/webhooks/conversion", post(webhooks::conversion))
        .route("/webhooks/refund", post(webhooks::refund))
        .route_layer(from_fn_with_state(edge.clone(), signed::signed));
    Router::new()
        .route("/r/{*code}", get(redirect::redirect))
        .route("/r/", get(redirect::redirect))
        .route("/healthz", get(healthz))
        .route("/assets/app.css", get(stylesheet))
        .route("/assets/dom.js", get(|| async { script(include_str!("../assets/dom.js")) }))
        .route("/assets/me.js", get(|| async { script(include_str!("../assets/me.js")) }))
        .route("/assets/ops.js", get(|| async { script(include_str!("../assets/ops.js")) }))
        .route("/me", get(portal::me))
        .route("/me/data", get(portal::me_data))
        .route("/me/invites", post(portal::me_invite))
        .route("/ops", get(portal::ops_queue))
        .route("/ops/data", get(portal::ops_data))
        .route("/ops/referrals/{id}/{action}", get(ops::show).post(ops::decide))
        .route("/ops/codes/{code}/{action}", get(ops_codes::show).post(ops_codes::act))
        // Signed by the provider, not with Standard Webhooks: verified in their handlers.
        .route("/webhooks/stripe", post(provider_webhooks::stripe))
        .route("/webhooks/shopify", post(provider_webhooks::shopify))
        .merge(signed_routes)
        .merge(admin::routes(edge.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(edge)
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn stylesheet() -> impl IntoResponse {
    stylesheet_of(include_str!("../assets/app.css"))
}

pub(crate) fn stylesheet_of(body: &'static str) -> impl IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
}

pub(crate) fn script(body: &'static str) -> impl IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}
