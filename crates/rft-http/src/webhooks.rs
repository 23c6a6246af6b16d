//! The store's signed webhooks: each is checked, hashed and queued (202), and answered 5xx only
//! when it could not be queued, so the store retries.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use rft_core::ids::{FirstName, OrderId, Phone};
use rft_core::jobs::{ConversionJob, RefundJob, SignupJob};
use rft_core::money::MAX_AMOUNT_MINOR;
use rft_core::ports::JobQueue;
use rft_core::signature::HEADER_ID;
use rft_core::{Code, Currency, CustomerId, Email, IdentityFacts, Job, Timestamp, Token};

use crate::Edge;
use crate::body::parse_json;
use crate::error::ApiError;

/// An RFC 3339 time in a body.
#[derive(Deserialize)]
#[serde(try_from = "String")]
struct Rfc3339(Timestamp);

impl TryFrom<String> for Rfc3339 {
    type Error = rft_core::time::TimestampError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Timestamp::parse_rfc3339(&s).map(Rfc3339)
    }
}

/// `POST /webhooks/signup` body. A malformed `attribution_token` or typed `code` is ignored
/// rather than refused: the sign-up happened either way, and the friend's typo (or a tampered
/// cookie) should not bounce the store's webhook.
#[derive(Deserialize)]
struct SignupBody {
    customer_id: CustomerId,
    email: Email,
    first_name: Option<FirstName>,
    phone: Option<Phone>,
    attribution_token: Option<String>,
    code: Option<String>,
    identity: Option<IdentityFacts>,
    occurred_at: Option<Rfc3339>,
}

/// `POST /webhooks/conversion` body.
#[derive(Deserialize)]
struct ConversionBody {
    customer_id: CustomerId,
    order_id: OrderId,
    amount_minor: u64,
    currency: Currency,
    payment_fingerprint: Option<String>,
    device_id: Option<String>,
    occurred_at: Option<Rfc3339>,
}

/// `POST /webhooks/refund` body.
#[derive(Deserialize)]
struct RefundBody {
    customer_id: CustomerId,
    order_id: OrderId,
    occurred_at: Option<Rfc3339>,
}

fn webhook_id(headers: &HeaderMap) -> String {
    // The signature middleware has verified this header before any handler runs.
    headers.get(HEADER_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

async fn enqueue(queue: &dyn JobQueue, job: Job) -> Result<Response, ApiError> {
    queue.send(&job).await.map_err(|e| ApiError::internal("queueing the job", &e))?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "queued" }))).into_response())
}

/// `POST /webhooks/signup`.
pub async fn signup(State(edge): State<Arc<Edge>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let body: SignupBody = parse_json(&body)?;
    let facts = body.identity.unwrap_or_default();
    facts.validate().map_err(|e| ApiError::invalid_field(e.to_string()))?;
    let attribution_token = body.attribution_token.as_deref().and_then(|t| Token::parse(t).ok());
    let code = body.code.as_deref().and_then(|c| Code::parse(c).ok());
    if body.attribution_token.is_some() && attribution_token.is_none() {
        tracing::warn!("sign-up carried a malformed attribution_token; ignoring it");
    }
    let job = SignupJob {
        webhook_id: webhook_id(&headers),
        identity: edge.hasher.hash_all(&facts, Some(&body.email)),
        customer_id: body.customer_id,
        email: Some(body.email),
        first_name: body.first_name.map(String::from),
        phone: body.phone,
        attribution_token,
        code,
        occurred_at: body.occurred_at.map(|t| t.0).unwrap_or_else(|| edge.clock.now()),
    };
    enqueue(edge.signup_jobs.as_ref(), Job::Signup(job)).await
}

/// `POST /webhooks/conversion`.
pub async fn conversion(State(edge): State<Arc<Edge>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let body: ConversionBody = parse_json(&body)?;
    if body.amount_minor > MAX_AMOUNT_MINOR {
        return Err(ApiError::invalid_field(format!("amount_minor: must be at most {MAX_AMOUNT_MINOR}")));
    }
    let facts = IdentityFacts {
        payment_fingerprint: body.payment_fingerprint,
        device_id: body.device_id,
        ..Default::default()
    };
    facts.validate().map_err(|e| ApiError::invalid_field(e.to_string().replace("identity.", "")))?;
    let job = ConversionJob {
        webhook_id: webhook_id(&headers),
        identity: edge.hasher.hash_all(&facts, None),
        customer_id: body.customer_id,
        order_id: body.order_id.into(),
        amount_minor: body.amount_minor,
        currency: body.currency,
        occurred_at: body.occurred_at.map(|t| t.0).unwrap_or_else(|| edge.clock.now()),
        discount_code: None,
    };
    enqueue(edge.reward_jobs.as_ref(), Job::Conversion(job)).await
}

/// `POST /webhooks/refund`.
pub async fn refund(State(edge): State<Arc<Edge>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let body: RefundBody = parse_json(&body)?;
    let job = RefundJob {
        webhook_id: webhook_id(&headers),
        customer_id: Some(body.customer_id),
        order_id: body.order_id.into(),
        order_aliases: Vec::new(),
        occurred_at: body.occurred_at.map(|t| t.0).unwrap_or_else(|| edge.clock.now()),
    };
    enqueue(edge.reward_jobs.as_ref(), Job::Refund(job)).await
}
