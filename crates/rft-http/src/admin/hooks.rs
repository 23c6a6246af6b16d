//! The console's action still to be built, behind the same session, CSRF check and route its
//! page already calls, checking its input, then answering 501: crediting an unattributed
//! sign-up to a referrer by hand. No service can do it yet: attribution only ever follows a
//! touch (a click, a code typed, an invite), and a hand-made credit needs its own operation,
//! screened like any other sign-up and audited with the member and the reason typed, rather
//! than a fake touch. Replace the last line of the handler once that operation exists.

use axum::body::Body;
use axum::extract::Extension;
use axum::http::StatusCode;
use serde::Deserialize;

use rft_core::CustomerId;
use rft_core::ids::ShortText;

use super::Session;
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

/// `POST /admin/api/credits`: credit an unattributed sign-up to a referrer by hand.
pub async fn credit(Extension(_session): Extension<Session>, body: Body) -> Result<ApiError, ApiError> {
    let body = read_limited(body).await?;
    let _request: CreditRequest = parse_json(&body)?;
    Ok(ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "not_implemented",
        "crediting a sign-up by hand is not available in the console yet: the tracker credits a referral only \
         through a click, a code typed at sign-up or an email invite",
    ))
}
