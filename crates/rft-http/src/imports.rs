//! `POST /api/imports/conversions`: a shop that can send neither webhooks nor the provider's
//! events uploads its orders as CSV (docs/connect-csv.md). The file is validated whole (one
//! malformed row imports nothing) and every row is queued for the attributor, idempotent by
//! `order_id`, so an upload interrupted part-way is finished by uploading it again.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use rft_core::connectors::csv::{ImportErrors, RowError, parse_conversions};
use rft_core::service::import::{ImportError, Importer, RowStatus};

use crate::Edge;
use crate::error::ApiError;

/// How many row errors one answer lists (the message counts them all).
const LISTED_ERRORS: usize = 100;

/// Validates the file and queues its rows.
pub async fn conversions(State(edge): State<Arc<Edge>>, body: Bytes) -> Response {
    let rows = match parse_conversions(&body) {
        Ok(rows) => rows,
        Err(errors) => return refused(&errors),
    };
    let importer =
        Importer::new(edge.stores.orders.clone(), edge.signup_jobs.clone(), edge.hasher.clone(), edge.clock.clone());
    match importer.import(rows).await {
        Ok(outcomes) => {
            let count = |status| outcomes.iter().filter(|o| o.status == status).count();
            Json(json!({
                "status": "imported",
                "queued": count(RowStatus::Queued),
                "duplicate": count(RowStatus::Duplicate),
                "rows": outcomes,
            }))
            .into_response()
        }
        Err(e @ ImportError::Unidentified { row }) => {
            refused(&ImportErrors(vec![RowError { row, column: None, message: e.to_string() }]))
        }
        // Rows before the failure may be queued; the same file again finishes the import.
        Err(e) => ApiError::internal("importing conversions", &e).into_response(),
    }
}

/// 422 with every problem (up to a limit) at its row and column.
fn refused(errors: &ImportErrors) -> Response {
    let listed: Vec<_> = errors
        .0
        .iter()
        .take(LISTED_ERRORS)
        .map(|e| json!({ "row": e.row, "column": e.column, "message": e.message }))
        .collect();
    let body = json!({ "error": "invalid_file", "message": errors.to_string(), "errors": listed });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}
