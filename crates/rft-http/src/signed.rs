//! The signed part of the surface (`/api/*`, `/webhooks/*`): the body limit, Standard Webhooks
//! verification, and replay handling. A `webhook-id` already answered gets the same answer
//! again and does nothing; one being handled right now gets 409; a 5xx answer is forgotten so
//! the store's retry is processed afresh.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use rft_core::CustomerId;
use rft_core::ports::{Begin, StoredResponse};
use tracing::Instrument;

use crate::Edge;
use crate::body::{MAX_BODY, MAX_FILE_BODY, read_up_to};
use crate::error::ApiError;

/// How long one delivery holds its webhook id before another may take over.
const LEASE: Duration = Duration::from_secs(60);

/// Largest response kept for replays.
const MAX_STORED_RESPONSE: usize = 256 * 1024;

/// Middleware for every signed route taking JSON.
pub async fn signed(State(edge): State<Arc<Edge>>, request: Request, next: Next) -> Response {
    verified_once(&edge, request, next, MAX_BODY).await
}

/// Middleware for the signed routes taking a file (the CSV import).
pub async fn signed_file(State(edge): State<Arc<Edge>>, request: Request, next: Next) -> Response {
    verified_once(&edge, request, next, MAX_FILE_BODY).await
}

async fn verified_once(edge: &Edge, request: Request, next: Next, max_body: usize) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match read_up_to(body, max_body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let now = edge.clock.now();
    let id = match edge.signer.verify(&parts.headers, &bytes, now) {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(path = %parts.uri.path(), reason = %e, "refused a request: invalid_signature");
            return ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string()).into_response();
        }
    };
    // Reads have no effect to repeat: verify and answer.
    if parts.method == Method::GET || parts.method == Method::HEAD {
        return next.run(Request::from_parts(parts, Body::from(bytes))).await;
    }
    let webhook_route = parts.uri.path().starts_with("/webhooks/");
    let span = tracing::info_span!("signed", webhook_id = %id.as_str(), path = %parts.uri.path());
    let about = about(parts.uri.path(), &bytes).map(|c| rft_core::service::erase::opaque_id(&edge.hasher, &c));
    answer_once(edge, id.as_str(), webhook_route, about, next.run(Request::from_parts(parts, Body::from(bytes))))
        .instrument(span)
        .await
}

/// The customer a signed request is about, whose erasure forgets its kept answer (filed under
/// their opaque id): the one in the path (`/api/customers/{id}/...`), or the body's `customer_id`.
fn about(path: &str, body: &[u8]) -> Option<CustomerId> {
    let in_path = path.strip_prefix("/api/customers/").and_then(|rest| rest.split('/').next());
    if let Some(id) = in_path {
        return CustomerId::parse(id).ok();
    }
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    CustomerId::parse(body.get("customer_id")?.as_str()?).ok()
}

/// Answers a delivery once: `handle` runs for a fresh `delivery_id` and its answer is kept
/// (marked as `about` a customer, when it is, for erasure to forget); a
/// delivery seen before gets the kept answer again (`webhook-replayed: true`) and does nothing;
/// one being handled right now gets 409; a 5xx answer is forgotten so the sender's retry is
/// processed afresh. With `without_log_is_safe`, an unavailable replay log does not refuse the
/// delivery: its handler only queues work whose consumers are idempotent.
pub async fn answer_once(
    edge: &Edge,
    delivery_id: &str,
    without_log_is_safe: bool,
    about: Option<CustomerId>,
    handle: impl Future<Output = Response>,
) -> Response {
    let begun = edge.stores.webhooks.begin(delivery_id, edge.clock.now(), LEASE).await;
    match begun {
        // An event that can still be queued is not refused for want of its replay record:
        // its consumers are idempotent (per customer, per order), so a repeat does nothing.
        Err(e) if without_log_is_safe => {
            tracing::warn!(error = %rft_core::ports::error_chain(&e), delivery_id,
                "the webhook log is unavailable; handling the event without replay protection");
            handle.await
        }
        Err(e) => ApiError::internal("recording the webhook id", &e).into_response(),
        Ok(Begin::Done(stored)) => replay(stored),
        Ok(Begin::InFlight) => ApiError::new(
            StatusCode::CONFLICT,
            "in_progress",
            "a request with this webhook-id is being handled; retry shortly",
        )
        .into_response(),
        Ok(Begin::Fresh) => {
            let response = handle.await;
            let (mut rparts, rbody) = response.into_parts();
            // Our own handlers' answers are bounded; an unreadable one is a bug, answered as such.
            let rbytes = match axum::body::to_bytes(rbody, usize::MAX).await {
                Ok(bytes) => bytes,
                Err(e) => return ApiError::internal("reading the handler's answer", &e).into_response(),
            };
            let outcome = if rparts.status.is_server_error() {
                edge.stores.webhooks.abandon(delivery_id).await
            } else {
                let stored = StoredResponse { status: rparts.status.as_u16(), body: kept_body(&rbytes), about };
                edge.stores.webhooks.finish(delivery_id, &stored, edge.clock.now()).await
            };
            if let Err(e) = outcome {
                // The work is done; at worst a replay is processed again, and every handler is
                // idempotent behind its own conditions.
                tracing::error!(error = %e, delivery_id, "could not record the webhook answer");
            }
            rparts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(rparts, Body::from(rbytes))
        }
    }
}

/// The answer kept for replays: the answer itself, or (past the size a record may hold) a
/// note saying the delivery was handled, so a replay still does nothing twice.
fn kept_body(answer: &[u8]) -> String {
    if answer.len() <= MAX_STORED_RESPONSE {
        String::from_utf8_lossy(answer).into_owned()
    } else {
        serde_json::json!({
            "status": "already_handled",
            "message": "this delivery was handled before; its answer was too large to keep",
        })
        .to_string()
    }
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert("webhook-replayed", HeaderValue::from_static("true"));
    response
}
