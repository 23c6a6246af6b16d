//! The console's actions still to be built, each behind the same session, CSRF check and route
//! its page already calls, answering 501 until then: crediting an unattributed sign-up by hand
//! (screened like any other, with the reason typed), retrying a parked reward, clearing a
//! code's velocity flag, exporting the ledger. Replace a handler's body to build one.

use axum::extract::Extension;
use axum::http::StatusCode;

use super::Session;
use crate::error::ApiError;

fn not_yet(what: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", format!("{what} is not available in the console yet"))
}

/// `POST /admin/api/credits` `{"customer_id", "referrer_id", "reason"}`: credit an unattributed
/// sign-up to a referrer by hand.
pub async fn credit(Extension(_session): Extension<Session>) -> ApiError {
    not_yet("crediting a sign-up by hand")
}

/// `POST /admin/api/rewards/{referral_id}/{side}/retry`: send a parked reward to the store again.
pub async fn retry(Extension(_session): Extension<Session>) -> ApiError {
    not_yet("retrying a parked reward")
}

/// `POST /admin/api/codes/{code}/clear-flag`: clear a code's velocity flag.
pub async fn clear_flag(Extension(_session): Extension<Session>) -> ApiError {
    not_yet("clearing a velocity flag")
}

/// `GET /admin/api/export/ledger.csv`: the ledger as CSV.
pub async fn ledger_export(Extension(_session): Extension<Session>) -> ApiError {
    not_yet("exporting the ledger")
}
