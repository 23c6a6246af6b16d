//! Every error the surface returns: JSON `{"error", "message"}` with the statuses docs/openapi.yaml lists.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status (400, 401, 403, 404, 409, 413, 422 or 503).
    pub status: StatusCode,
    /// A stable snake_case code callers can branch on (`invalid_signature`).
    pub error: &'static str,
    /// One human sentence naming the field or cause.
    pub message: String,
}

impl ApiError {
    /// An error answer with any status.
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, error, message: message.into() }
    }

    /// 400: the body is not JSON.
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    /// 422: a field is wrong; the message names it.
    pub fn invalid_field(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 503: a dependency failed; the caller may retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// Logs a server-side failure with its cause chain and returns a 503 that does not leak it.
    pub fn internal(what: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        let chain = rft_core::ports::error_chain(err);
        tracing::error!(error = %chain, "{what} failed");
        Self::unavailable(format!("{what} failed for now; retry later"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.error, "message": self.message }))).into_response()
    }
}
