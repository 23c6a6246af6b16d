//! The referral tracker's HTTP surface, one `axum::Router` for both runtimes.

use axum::Router;
use axum::routing::get;

/// The router. Later issues mount the redirect, the signed API, webhooks and pages here.
pub fn router() -> Router {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz() -> &'static str {
    "ok"
}
