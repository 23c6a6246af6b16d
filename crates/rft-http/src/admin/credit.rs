//! `POST /admin/api/credits`: a team member credits an unattributed sign-up to a referrer by
//! hand, with a reason. Checked here so the person learns at once why it cannot be done; the
//! attributor opens the referral (`Job::Credit`: screened like any sign-up, audited with the
//! member and the reason, its earlier first order handed to the rewarder).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use rft_core::CustomerId;
use rft_core::ids::ShortText;
use rft_core::jobs::{CreditJob, Job};
use rft_core::service::credit::{CreditCheckError, CreditRefused, creditable};

use super::Session;
use crate::Edge;
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;

/// `POST /admin/api/credits` body.
#[derive(Deserialize)]
pub struct CreditRequest {
    /// The sign-up to credit.
    pub customer_id: CustomerId,
    /// The referrer to credit it to.
    pub referrer_id: CustomerId,
    /// Why, as the person typed it (kept in the audit).
    pub reason: ShortText<500>,
}

/// A credit accepted.
#[derive(Serialize)]
pub struct CreditQueued {
    /// Always `queued`: the attributor opens the referral within moments.
    pub status: &'static str,
    /// The sign-up credited.
    pub customer_id: String,
    /// The referrer credited.
    pub referrer_id: String,
    /// The referrer's live code it is credited through.
    pub code: String,
    /// Whether an order the sign-up already made will convert the referral.
    pub first_order: Option<String>,
    /// Who credited it (as the audit will record it).
    pub by: String,
}

fn refused(reason: &CreditRefused) -> ApiError {
    let message = reason.to_string();
    match reason {
        CreditRefused::AlreadyReferred(..) => ApiError::new(StatusCode::CONFLICT, "already_referred", message),
        CreditRefused::ExistingCustomer(_) => ApiError::new(StatusCode::CONFLICT, "existing_customer", message),
        CreditRefused::NoSignup(_) => ApiError::not_found(format!("customer_id: {message}")),
        CreditRefused::NoLiveCode(_) | CreditRefused::SelfReferral(_) => {
            ApiError::invalid_field(format!("referrer_id: {message}"))
        }
    }
}

/// `POST /admin/api/credits`: credit an unattributed sign-up to a referrer by hand.
pub async fn credit(
    State(edge): State<Arc<Edge>>,
    Extension(session): Extension<Session>,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_limited(body).await?;
    let request: CreditRequest = parse_json(&body)?;
    let stores = &edge.stores;
    let found = creditable(
        stores.codes.as_ref(),
        stores.referrals.as_ref(),
        stores.audit.as_ref(),
        &request.customer_id,
        &request.referrer_id,
    )
    .await
    .map_err(|e| match e {
        CreditCheckError::Refused(reason) => refused(&reason),
        CreditCheckError::Store(e) => ApiError::internal("checking the credit", &e),
    })?;
    let job = Job::Credit(CreditJob {
        customer_id: request.customer_id.clone(),
        referrer_id: request.referrer_id.clone(),
        reason: request.reason,
        by: session.email.clone(),
        requested_at: edge.clock.now(),
    });
    edge.signup_jobs.send(&job).await.map_err(|e| ApiError::internal("queueing the credit", &e))?;
    tracing::info!(customer = %request.customer_id, referrer = %request.referrer_id, "console credit queued");
    let body = CreditQueued {
        status: "queued",
        customer_id: request.customer_id.to_string(),
        referrer_id: request.referrer_id.to_string(),
        code: found.code.code.to_string(),
        first_order: found.first_order.map(|o| o.order_id),
        by: session.email.to_string(),
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
