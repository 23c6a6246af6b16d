//! The store's signed API: links, retirement, referral lookups, email invites.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use rft_core::ids::{FirstName, Phone};
use rft_core::ports::{InviteRequest, MintError, MintRequest};
use rft_core::{Code, CodeRecord, CustomerId, Email, IdentityFacts, IdentityKey, Referral, identity::Field};

use crate::Edge;
use crate::body::parse_json;
use crate::error::ApiError;
use crate::params::ApiPath;

/// `POST /api/links` body.
#[derive(Deserialize)]
struct LinkBody {
    customer_id: CustomerId,
    first_name: Option<FirstName>,
    email: Option<Email>,
    phone: Option<Phone>,
    identity: Option<IdentityFacts>,
}

pub(crate) fn mint_error(e: MintError) -> ApiError {
    match e {
        MintError::NoActiveCode => ApiError::not_found("the customer has no active referral code"),
        MintError::InviteLimit { limit } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invite_limit",
            format!("a referrer may send at most {limit} invites a day"),
        ),
        other => ApiError::internal("the minter", &other),
    }
}

/// The JSON for a code (`Link` in docs/openapi.yaml), with the referrer's place on the tier ladder in the
/// terms when it can be read.
pub async fn link_json(edge: &Edge, record: &CodeRecord) -> Value {
    let mut terms = json!(record.terms);
    match edge.stores.ledger.tally(&record.referrer_id).await {
        Ok(rewarded) => terms["position"] = json!(record.terms.position(rewarded)),
        Err(e) => tracing::warn!(error = %e, "could not read the referrer's tally; the link is returned without it"),
    }
    let url = edge.settings.link_for(&record.code);
    // An erased referrer's code keeps no invite (it named them): the template, which names nobody.
    let invite = match record.invite.as_str() {
        "" => rft_core::messages::invite_template(&edge.settings, &url),
        written => written.to_owned(),
    };
    json!({
        "code": record.code,
        "url": url,
        "invite": invite,
        "terms": terms,
        "status": record.status.as_str(),
    })
}

/// `POST /api/links`.
pub async fn links(State(edge): State<Arc<Edge>>, body: Bytes) -> Result<Response, ApiError> {
    let body: LinkBody = parse_json(&body)?;
    let facts = body.identity.unwrap_or_default();
    facts.validate().map_err(|e| ApiError::invalid_field(e.to_string()))?;
    let request = MintRequest {
        identity: edge.hasher.hash_all(&facts, body.email.as_ref()),
        customer_id: body.customer_id,
        first_name: body.first_name.map(String::from),
        email: body.email,
        phone: body.phone,
    };
    let minted = edge.minter.mint(&request).await.map_err(mint_error)?;
    let status = if minted.created { StatusCode::CREATED } else { StatusCode::OK };
    let mut body = link_json(&edge, &minted.record).await;
    body["portal_url"] = json!(crate::portal::portal_url(&edge, &minted.record.referrer_id));
    Ok((status, Json(body)).into_response())
}

/// `POST /api/codes/{code}/retire`.
pub async fn retire(State(edge): State<Arc<Edge>>, ApiPath(code): ApiPath<String>) -> Result<Response, ApiError> {
    let code = Code::parse(&code).map_err(|_| ApiError::not_found(format!("no code {code:?}")))?;
    let retired = edge.minter.retire(&code, None).await.map_err(mint_error)?;
    edge.redirector.forget(&code);
    let record = retired.ok_or_else(|| ApiError::not_found(format!("no code {code}")))?;
    let body = json!({
        "code": record.code,
        "status": record.status.as_str(),
        "retired_at": record.retired_at.map(|t| t.to_rfc3339()),
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// The JSON for a referral (`Referral` in docs/openapi.yaml).
pub fn referral_json(r: &Referral) -> Value {
    json!({
        "referral_id": r.referral_id,
        "referrer_id": r.referrer_id,
        "code": r.code,
        "state": r.state.as_str(),
        "method": r.method,
        "terms": r.terms,
        "reasons": r.reasons(),
        "evidence": r.evidence,
        "flags": r.flags,
        "created_at": r.created_at.to_rfc3339(),
        "updated_at": r.updated_at.to_rfc3339(),
    })
}

/// `GET /api/referrals/{customer_id}`.
pub async fn referral(State(edge): State<Arc<Edge>>, ApiPath(customer): ApiPath<String>) -> Result<Response, ApiError> {
    let customer = CustomerId::parse(&customer).map_err(|_| ApiError::not_found("no referral for that customer"))?;
    let found = edge
        .stores
        .referrals
        .find(&IdentityKey::Customer(customer.clone()))
        .await
        .map_err(|e| ApiError::internal("reading the referral", &e))?;
    let referral = found.ok_or_else(|| ApiError::not_found(format!("no referral for customer {customer}")))?;
    Ok(Json(referral_json(&referral)).into_response())
}

/// `POST /api/invites` body.
#[derive(Deserialize)]
struct InviteBody {
    customer_id: CustomerId,
    friend_email: Email,
    friend_name: Option<FirstName>,
}

/// `POST /api/invites`: the email bridge.
pub async fn invites(State(edge): State<Arc<Edge>>, body: Bytes) -> Result<Response, ApiError> {
    let body: InviteBody = parse_json(&body)?;
    let hash = edge
        .hasher
        .hash(Field::Email, &body.friend_email.identity())
        .ok_or_else(|| ApiError::invalid_field("friend_email: expected an email address like name@example.com"))?;
    let request = InviteRequest {
        customer_id: body.customer_id,
        friend_email: body.friend_email,
        friend_email_hash: hash,
        friend_name: body.friend_name.map(String::from),
    };
    edge.minter.invite(&request).await.map_err(mint_error)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "sent" }))).into_response())
}

/// `POST /api/customers/{customer_id}/erase`: forget a customer's personal data (200 also when
/// there was nothing to forget).
pub async fn erase(State(edge): State<Arc<Edge>>, ApiPath(customer): ApiPath<String>) -> Result<Response, ApiError> {
    let customer = CustomerId::parse(&customer).map_err(|e| ApiError::invalid_field(format!("customer_id: {e}")))?;
    edge.erasure.erase(&customer).await.map_err(|e| ApiError::internal("erasing the customer", e.as_ref()))?;
    Ok((StatusCode::OK, Json(json!({ "erased": true }))).into_response())
}
