//! What a team member changes from the console, each audited with their address: approving or
//! rejecting a referral (queued for the rewarder as the ops links do, with `by` set), and
//! retiring a code (through the minter, which audits it).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use rft_core::jobs::DecisionJob;
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
