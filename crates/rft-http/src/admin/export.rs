//! `GET /admin/api/export/referrals.csv`: the referrals matching the same filters as the list,
//! every page of them, as one CSV file (no identity value in it; see
//! `rft_core::service::console::export`).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use rft_core::service::console::export::referrals_csv;
use rft_core::service::console::search;

use super::views::referral_query;
use crate::Edge;
use crate::error::ApiError;

/// The most rows one export holds: a Lambda response is at most 6 MB.
pub const MAX_ROWS: usize = 20_000;

/// `GET /admin/api/export/referrals.csv`.
pub async fn referrals(State(edge): State<Arc<Edge>>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let (filter, mut cursor, _) = referral_query(query.as_deref())?;
    let mut text = referrals_csv(&[], true);
    let mut rows = 0;
    loop {
        let page = search(&edge.stores, &edge.hasher, &filter, cursor.take(), 100)
            .await
            .map_err(|e| ApiError::internal("exporting referrals", &e))?;
        rows += page.referrals.len();
        text.push_str(&referrals_csv(&page.referrals, false));
        match page.next {
            Some(next) if rows < MAX_ROWS => cursor = Some(next),
            _ => break,
        }
    }
    let mut response = (StatusCode::OK, text).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"referrals.csv\""));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
