//! The console's actions still to be built, each behind the same session, CSRF check and route
//! its page already calls, checking its input, then answering 501 until then: crediting an
//! unattributed sign-up by hand (screened like any other, with the reason typed). Replace the
//! last line of a handler to build one.

use axum::body::Body;
use axum::extract::Extension;
use axum::http::StatusCode;
use serde::Deserialize;

use rft_core::CustomerId;
use rft_core::ids::ShortText;

use super::Session;
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;

fn not_yet(what: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", format!("{what} is not available in the console yet"))
}

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

/// `POST /admin/api/credits`: credit an unattributed sign-up to a referrer by hand.
pub async fn credit(Extension(_session): Extension<Session>, body: Body) -> Result<ApiError, ApiError> {
    let body = read_limited(body).await?;
    let _request: CreditRequest = parse_json(&body)?;
    Ok(not_yet("crediting a sign-up by hand"))
}
