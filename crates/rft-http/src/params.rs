//! Path parameters through our own extractors, so a malformed one (a percent-escape that is not
//! UTF-8, say) is answered like any other bad input: the API's JSON error naming the parameter,
//! or the pages' HTML 404, never the framework's plain-text rejection.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Why a path parameter was refused, in one sentence naming it.
fn explain(rejection: &PathRejection) -> String {
    use axum::extract::path::ErrorKind;
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            ErrorKind::InvalidUtf8InPathParam { key } => {
                format!("the path parameter {key} is not valid UTF-8 once its %-escapes are decoded")
            }
            ErrorKind::ParseErrorAtKey { key, .. } => format!("the path parameter {key} is not valid"),
            _ => "a path parameter is not valid".to_owned(),
        },
        _ => "the path could not be read".to_owned(),
    }
}

/// A path parameter of the signed API: a malformed one is a 400 `invalid_path` JSON error.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                Err(ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_path", explain(&rejection)))
            }
        }
    }
}

/// A path parameter of a page people open from a link: a malformed one is the HTML 404 page
/// (there is no such thing to show).
pub struct PagePath<T>(pub T);

impl<S, T> FromRequestParts<S> for PagePath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PagePath(value)),
            Err(_) => Err(crate::ops::page(
                axum::http::StatusCode::NOT_FOUND,
                "Not found",
                "<p>There is nothing at this address.</p>",
            )),
        }
    }
}
