//! The console's actions still to be built, each behind the same session, CSRF check and route
//! its page already calls, checking its input, then answering 501 until then: crediting an
//! unattributed sign-up by hand (screened like any other, with the reason typed), retrying a
//! parked reward, clearing a code's velocity flag, exporting the ledger. Replace the last line
//! of a handler to build one.

use axum::body::Body;
use axum::extract::{Extension, Path};
use axum::http::StatusCode;
use serde::Deserialize;

use rft_core::ids::ShortText;
use rft_core::ledger::Side;
use rft_core::{Code, CustomerId, ReferralId};

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

/// `POST /admin/api/rewards/{referral_id}/{side}/retry`: send a parked reward to the store again.
pub async fn retry(
    Extension(_session): Extension<Session>,
    Path((referral_id, side)): Path<(String, String)>,
) -> Result<ApiError, ApiError> {
    let _id = ReferralId::parse(&referral_id).map_err(|_| ApiError::not_found("no referral by that id"))?;
    let _side = Side::parse(&side).ok_or_else(|| ApiError::not_found("a reward's side is referrer or friend"))?;
    Ok(not_yet("retrying a parked reward"))
}

/// `POST /admin/api/codes/{code}/clear-flag`: clear a code's velocity flag.
pub async fn clear_flag(
    Extension(_session): Extension<Session>,
    Path(code): Path<String>,
) -> Result<ApiError, ApiError> {
    let _code = Code::parse(&code).map_err(|_| ApiError::not_found(format!("no code {code:?}")))?;
    Ok(not_yet("clearing a velocity flag"))
}

/// `GET /admin/api/export/ledger.csv`: the ledger as CSV.
pub async fn ledger_export(Extension(_session): Extension<Session>) -> ApiError {
    not_yet("exporting the ledger")
}
