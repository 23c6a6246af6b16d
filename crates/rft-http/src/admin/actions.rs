//! What a team member changes from the console, each audited with their address: approving or
//! rejecting a referral and clearing a code's velocity flag (queued for the rewarder as the ops
//! links do, with `by` set), retrying a parked reward (a queued `Job::Retry`), and retiring a
//! code (through the minter, which audits it).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use rft_core::jobs::{ClearFlagJob, DecisionJob, RetryJob};
use rft_core::ledger::{Fulfilment, Side};
use rft_core::links::Action;
use rft_core::referral::Flag;
use rft_core::{Code, Job, ReferralId, ReferralState};

use super::Session;
use crate::Edge;
use crate::api::mint_error;
use crate::error::ApiError;

/// A decision accepted.
#[derive(Serialize)]
pub struct Queued {
    /// Always `queued`: the rewarder applies it within moments.
    pub status: &'static str,
    /// The referral decided.
    pub referral_id: String,
    /// `approve` or `reject`.
    pub action: Action,
    /// Who decided (as the audit will record it).
    pub by: String,
}

async fn decide(edge: &Edge, session: &Session, id: &str, action: Action) -> Result<Response, ApiError> {
    let id = ReferralId::parse(id).map_err(|_| ApiError::not_found("no referral by that id"))?;
    let referral = edge
        .stores
        .referrals
        .get(&id)
        .await
        .map_err(|e| ApiError::internal("reading the referral", &e))?
        .ok_or_else(|| ApiError::not_found("no referral by that id"))?;
    let decidable = referral.state == ReferralState::Held
        || (referral.state == ReferralState::Rewarded && referral.flags.contains(&Flag::RefundReview));
    if !decidable {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_decidable",
            format!("this referral is {}: there is nothing to decide", referral.state.as_str()),
        ));
    }
    let job = Job::Decision(DecisionJob {
        referral_id: id.clone(),
        action,
        decided_at: edge.clock.now(),
        by: Some(session.email.clone()),
    });
    edge.reward_jobs.send(&job).await.map_err(|e| ApiError::internal("queueing the decision", &e))?;
    tracing::info!(referral = %id, action = action.as_str(), "console decision queued");
    let body = Queued { status: "queued", referral_id: id.to_string(), action, by: session.email.to_string() };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `POST /admin/api/referrals/{id}/approve`.
pub async fn approve(
    State(edge): State<Arc<Edge>>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    decide(&edge, &session, &id, Action::Approve).await
}

/// `POST /admin/api/referrals/{id}/reject`.
pub async fn reject(
    State(edge): State<Arc<Edge>>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    decide(&edge, &session, &id, Action::Reject).await
}

/// A code after retiring.
#[derive(Serialize)]
pub struct Retired {
    /// The code.
    pub code: String,
    /// `retired`.
    pub status: &'static str,
    /// When.
    pub retired_at: Option<String>,
    /// Who retired it.
    pub by: String,
}

/// `POST /admin/api/codes/{code}/retire`.
pub async fn retire(
    State(edge): State<Arc<Edge>>,
    Extension(session): Extension<Session>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let code = Code::parse(&code).map_err(|_| ApiError::not_found(format!("no code {code:?}")))?;
    let retired = edge.minter.retire(&code, Some(&session.email)).await.map_err(mint_error)?;
    edge.redirector.forget(&code);
    let record = retired.ok_or_else(|| ApiError::not_found(format!("no code {code}")))?;
    Ok(Json(Retired {
        code: record.code.to_string(),
        status: record.status.as_str(),
        retired_at: record.retired_at.map(|t| t.to_rfc3339()),
        by: session.email.to_string(),
    })
    .into_response())
}

/// A retry accepted.
#[derive(Serialize)]
pub struct RetryQueued {
    /// Always `queued`: the rewarder sends the reward again within moments.
    pub status: &'static str,
    /// The referral.
    pub referral_id: String,
    /// `referrer` or `friend`.
    pub side: &'static str,
    /// Who asked (as the audit will record it).
    pub by: String,
}

/// `POST /admin/api/rewards/{referral_id}/{side}/retry`: sends a parked reward to the store (or
/// its provider) again. The rewarder does the work (`Job::Retry`, the job docs/operations.md
/// shows queued from a shell): the row owes again with a fresh budget, `fulfilment_retried`
/// names the member, and the call goes out under the same idempotency key. Only a parked row
/// is retried; the job itself ignores any other, so a second press changes nothing.
pub async fn retry(
    State(edge): State<Arc<Edge>>,
    Extension(session): Extension<Session>,
    Path((referral_id, side)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = ReferralId::parse(&referral_id).map_err(|_| ApiError::not_found("no referral by that id"))?;
    let side = Side::parse(&side).ok_or_else(|| ApiError::not_found("a reward's side is referrer or friend"))?;
    let row = edge
        .stores
        .ledger
        .row(&id, side)
        .await
        .map_err(|e| ApiError::internal("reading the reward", &e))?
        .ok_or_else(|| ApiError::not_found("no reward for that referral and side"))?;
    if !matches!(row.fulfilment, Fulfilment::Parked { .. }) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_parked",
            format!("this reward is {}: only a parked reward is retried", row.fulfilment.state()),
        ));
    }
    let job = Job::Retry(RetryJob {
        referral_id: id.clone(),
        side,
        requested_by: session.email.to_string(),
        requested_at: edge.clock.now(),
    });
    edge.reward_jobs.send(&job).await.map_err(|e| ApiError::internal("queueing the retry", &e))?;
    tracing::info!(referral = %id, side = side.as_str(), "console retry queued");
    let body = RetryQueued {
        status: "queued",
        referral_id: id.to_string(),
        side: side.as_str(),
        by: session.email.to_string(),
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// A flag clearing accepted.
#[derive(Serialize)]
pub struct ClearQueued {
    /// Always `queued`: the rewarder releases the code's referrals within moments.
    pub status: &'static str,
    /// The code.
    pub code: String,
    /// Who cleared it (as the audit of each released referral will record it).
    pub by: String,
}

/// `POST /admin/api/codes/{code}/clear-flag`: clears a code's velocity flag, as the ops page's
/// button does (`Job::ClearFlag`, now naming the member): the rewarder clears the flag and
/// releases the referrals it held (approving those the code's rules alone held). A code that
/// is not flagged has nothing to clear.
pub async fn clear_flag(
    State(edge): State<Arc<Edge>>,
    Extension(session): Extension<Session>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let code = Code::parse(&code).map_err(|_| ApiError::not_found(format!("no code {code:?}")))?;
    let record = edge
        .stores
        .codes
        .get(&code)
        .await
        .map_err(|e| ApiError::internal("reading the code", &e))?
        .ok_or_else(|| ApiError::not_found(format!("no code {code}")))?;
    if record.flag.is_none() {
        return Err(ApiError::new(StatusCode::CONFLICT, "not_flagged", format!("code {code} is not flagged")));
    }
    let job = Job::ClearFlag(ClearFlagJob {
        code: code.clone(),
        decided_at: edge.clock.now(),
        by: Some(session.email.clone()),
    });
    edge.reward_jobs.send(&job).await.map_err(|e| ApiError::internal("queueing the clearing", &e))?;
    tracing::info!(code = %code, "console flag clearing queued");
    let body = ClearQueued { status: "queued", code: code.to_string(), by: session.email.to_string() };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
