//! Reading request bodies: the 64 KiB limit, JSON that must parse (400), and fields that must
//! be right (422, naming the field).

use axum::body::{Body, Bytes};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest body accepted on a signed route (docs/openapi.yaml).
pub const MAX_BODY: usize = 64 * 1024;

/// Largest body accepted from a provider (a Shopify order with many lines is far larger than
/// our own webhooks, and a CSV import larger still).
pub const MAX_PROVIDER_BODY: usize = 4 * 1024 * 1024;

/// Reads the whole body, refusing more than [`MAX_BODY`] with 413.
pub async fn read_limited(body: Body) -> Result<Bytes, ApiError> {
    read_up_to(body, MAX_BODY).await
}

/// Reads the whole body, refusing more than `max` bytes with 413.
pub async fn read_up_to(body: Body, max: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, max).await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {max} bytes"),
        )
    })
}

/// Drops serde_json's " at line 1 column 9" suffix: the path already says where.
fn without_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

/// Parses a JSON object into `T`. Syntax errors are 400; a missing, mistyped or invalid field
/// is 422 with a message that starts with the field's path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid_json(format!("the body is not valid JSON: {}", without_position(&e.to_string())))
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid_field("the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        let inner = without_position(&inner);
        let message = match inner.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
            Some(field) if path == "." => format!("{field} is required"),
            Some(field) => format!("{path}.{field} is required"),
            None if path == "." => inner.to_owned(),
            None => format!("{path}: {inner}"),
        };
        ApiError::invalid_field(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rft_core::{CustomerId, Email};
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Probe {
        customer_id: CustomerId,
        email: Option<Email>,
        nested: Option<Nested>,
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Nested {
        n: u64,
    }

    fn message(body: &str) -> (u16, String) {
        let e = parse_json::<Probe>(body.as_bytes()).unwrap_err();
        (e.status.as_u16(), e.message)
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(message("{").0, 400);
        assert_eq!(message("[1]"), (422, "the body must be a JSON object".into()));
        assert_eq!(message("{}"), (422, "customer_id is required".into()));
        assert_eq!(
            message(r#"{"customer_id": 5}"#),
            (422, "customer_id: invalid type: integer `5`, expected a string".into())
        );
        assert_eq!(message(r#"{"customer_id": ""}"#), (422, "customer_id: must be 1 to 128 characters".into()));
        assert!(message(r#"{"customer_id": "c", "email": "nope"}"#).1.starts_with("email: expected an email"));
        assert!(message(r#"{"customer_id": "c", "nested": {"n": -1}}"#).1.starts_with("nested.n: invalid value"));
        assert_eq!(message(r#"{"customer_id": "c", "nested": {}}"#).1, "nested.n is required");
    }
}
