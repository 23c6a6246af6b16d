//! Standard Webhooks v1 (docs/openapi.yaml, "Signing"): every call from the store is signed over
//! `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256.
//!
//! The HMAC itself comes from the `standardwebhooks` crate. Its own `verify` reads the wall
//! clock, so the tolerance check here uses the injected [`Timestamp`] instead (tests can then
//! prove stale and future timestamps are refused), and accepts any of several keys (rotation
//! on our side) against any of several signatures (rotation on the store's side).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::secrets::SigningSecret;
use crate::time::Timestamp;

/// Header carrying the message id (the idempotency key).
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying unix seconds of the attempt.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying space-separated `v1,<base64>` signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// How far a timestamp may be from now, either way.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Longest webhook id accepted (it becomes a storage key).
pub const MAX_WEBHOOK_ID_LEN: usize = 256;

/// Why a signed request was refused; every variant is a 401 `invalid_signature`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required header is absent.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// A header is present but malformed.
    #[error("the {0} header is malformed")]
    MalformedHeader(&'static str),
    /// The timestamp is more than five minutes old.
    #[error("the webhook-timestamp is more than 5 minutes old")]
    Stale,
    /// The timestamp is more than five minutes ahead.
    #[error("the webhook-timestamp is more than 5 minutes in the future")]
    Future,
    /// No signature matched any key.
    #[error("no webhook-signature matches the signing secret")]
    Mismatch,
    /// The body is not UTF-8, so it cannot have been signed as the spec says.
    #[error("the body is not UTF-8")]
    BodyNotUtf8,
}

/// A verified message's id, safe to use as a storage key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebhookId(String);

impl WebhookId {
    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse(s: &str) -> Result<Self, SignatureError> {
        let ok = !s.is_empty() && s.len() <= MAX_WEBHOOK_ID_LEN && s.bytes().all(|b| b.is_ascii_graphic() && b != b'.');
        ok.then(|| WebhookId(s.to_owned())).ok_or(SignatureError::MalformedHeader(HEADER_ID))
    }
}

/// Verifies and produces Standard Webhooks signatures with the programme's signing keys.
#[derive(Clone)]
pub struct Signer {
    // `Webhook` is not `Clone`; handlers share one set of keys.
    keys: std::sync::Arc<[standardwebhooks::Webhook]>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} keys)", self.keys.len())
    }
}

impl Signer {
    /// A signer over the given keys; the first one signs.
    pub fn new(secrets: &[SigningSecret]) -> Self {
        let keys: Vec<_> = secrets
            .iter()
            .filter_map(|s| standardwebhooks::Webhook::from_bytes(s.key().expose().to_vec()).ok())
            .collect();
        let keys = keys.into();
        Signer { keys }
    }

    /// Signs a message with the first key: the value of the `webhook-signature` header.
    pub fn sign(&self, id: &str, timestamp_secs: i64, body: &[u8]) -> Result<String, SignatureError> {
        let key = self.keys.first().ok_or(SignatureError::Mismatch)?;
        key.sign(id, timestamp_secs, body).map_err(|_| SignatureError::BodyNotUtf8)
    }

    /// The three headers for a signed request, for clients and tests.
    pub fn headers(&self, id: &str, at: Timestamp, body: &[u8]) -> Result<[(&'static str, String); 3], SignatureError> {
        let ts = at.as_secs();
        Ok([
            (HEADER_ID, id.to_owned()),
            (HEADER_TIMESTAMP, ts.to_string()),
            (HEADER_SIGNATURE, self.sign(id, ts, body)?),
        ])
    }

    /// Verifies a request's headers and raw body at `now`; returns its id.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: Timestamp) -> Result<WebhookId, SignatureError> {
        let header = |name: &'static str| -> Result<&str, SignatureError> {
            headers
                .get(name)
                .ok_or(SignatureError::MissingHeader(name))?
                .to_str()
                .map_err(|_| SignatureError::MalformedHeader(name))
        };
        let id = WebhookId::parse(header(HEADER_ID)?)?;
        let ts_text = header(HEADER_TIMESTAMP)?;
        let signatures = header(HEADER_SIGNATURE)?;
        let ts: i64 = ts_text.trim().parse().map_err(|_| SignatureError::MalformedHeader(HEADER_TIMESTAMP))?;
        let tolerance = TOLERANCE.as_secs() as i64;
        if now.as_secs().saturating_sub(ts) > tolerance {
            return Err(SignatureError::Stale);
        }
        if ts.saturating_sub(now.as_secs()) > tolerance {
            return Err(SignatureError::Future);
        }
        if std::str::from_utf8(body).is_err() {
            return Err(SignatureError::BodyNotUtf8);
        }
        let offered: Vec<Vec<u8>> = signatures
            .split(' ')
            .filter_map(|s| s.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, b64)| STANDARD.decode(b64).ok())
            .collect();
        for key in self.keys.iter() {
            let expected = key.sign(id.as_str(), ts, body).map_err(|_| SignatureError::BodyNotUtf8)?;
            let expected = expected
                .split_once(',')
                .and_then(|(_, b64)| STANDARD.decode(b64).ok())
                .ok_or(SignatureError::Mismatch)?;
            // Constant time per comparison; lengths are public (always 32 bytes).
            if offered.iter().any(|o| bool::from(o.as_slice().ct_eq(&expected))) {
                return Ok(id);
            }
        }
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks reference libraries' published test vector.
    const SPEC_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const SPEC_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const SPEC_TS: i64 = 1649367553;
    const SPEC_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SPEC_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn signer(secret: &str) -> Signer {
        Signer::new(&[SigningSecret::parse(secret, "test").unwrap()])
    }

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER_ID, id.parse().unwrap());
        h.insert(HEADER_TIMESTAMP, ts.to_string().parse().unwrap());
        h.insert(HEADER_SIGNATURE, sig.parse().unwrap());
        h
    }

    #[test]
    fn matches_the_published_example() {
        let s = signer(SPEC_SECRET);
        assert_eq!(s.sign(SPEC_ID, SPEC_TS, SPEC_BODY).unwrap(), SPEC_SIGNATURE);
        let id = s
            .verify(&headers(SPEC_ID, SPEC_TS, SPEC_SIGNATURE), SPEC_BODY, Timestamp::from_secs(SPEC_TS + 10))
            .unwrap();
        assert_eq!(id.as_str(), SPEC_ID);
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let s = signer(SPEC_SECRET);
        let h = headers(SPEC_ID, SPEC_TS, SPEC_SIGNATURE);
        assert_eq!(s.verify(&h, SPEC_BODY, Timestamp::from_secs(SPEC_TS + 301)), Err(SignatureError::Stale));
        assert_eq!(s.verify(&h, SPEC_BODY, Timestamp::from_secs(SPEC_TS - 301)), Err(SignatureError::Future));
        assert!(s.verify(&h, SPEC_BODY, Timestamp::from_secs(SPEC_TS + 300)).is_ok());
    }

    #[test]
    fn tampering_truncation_and_other_keys_fail() {
        let s = signer(SPEC_SECRET);
        let now = Timestamp::from_secs(SPEC_TS);
        let tampered = br#"{"email":"test@example.com","username":"test_userX"}"#;
        assert_eq!(s.verify(&headers(SPEC_ID, SPEC_TS, SPEC_SIGNATURE), tampered, now), Err(SignatureError::Mismatch));
        assert_eq!(
            s.verify(&headers(SPEC_ID, SPEC_TS, &SPEC_SIGNATURE[..20]), SPEC_BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(s.verify(&headers(SPEC_ID, SPEC_TS, "v1,"), SPEC_BODY, now), Err(SignatureError::Mismatch));
        assert_eq!(
            s.verify(&headers("msg_other", SPEC_TS, SPEC_SIGNATURE), SPEC_BODY, now),
            Err(SignatureError::Mismatch)
        );
        let other = signer(&SigningSecret::generate().to_whsec());
        assert_eq!(
            other.verify(&headers(SPEC_ID, SPEC_TS, SPEC_SIGNATURE), SPEC_BODY, now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rotation_works_on_both_sides() {
        let now = Timestamp::from_secs(SPEC_TS);
        let new_key = SigningSecret::generate();
        let old_key = SigningSecret::parse(SPEC_SECRET, "t").unwrap();
        // The store sends two signatures, one per key; we know only the old key.
        let both = format!("v1,AAAA {SPEC_SIGNATURE}");
        assert!(signer(SPEC_SECRET).verify(&headers(SPEC_ID, SPEC_TS, &both), SPEC_BODY, now).is_ok());
        // We accept two keys; the store signs with the old one.
        let rotating = Signer::new(&[new_key, old_key]);
        assert!(rotating.verify(&headers(SPEC_ID, SPEC_TS, SPEC_SIGNATURE), SPEC_BODY, now).is_ok());
    }

    #[test]
    fn malformed_headers_are_named() {
        let s = signer(SPEC_SECRET);
        let now = Timestamp::from_secs(SPEC_TS);
        let mut h = headers(SPEC_ID, SPEC_TS, SPEC_SIGNATURE);
        h.remove(HEADER_SIGNATURE);
        assert_eq!(s.verify(&h, SPEC_BODY, now), Err(SignatureError::MissingHeader(HEADER_SIGNATURE)));
        let mut h = headers(SPEC_ID, SPEC_TS, SPEC_SIGNATURE);
        h.insert(HEADER_TIMESTAMP, "soon".parse().unwrap());
        assert_eq!(s.verify(&h, SPEC_BODY, now), Err(SignatureError::MalformedHeader(HEADER_TIMESTAMP)));
        assert_eq!(
            s.verify(&headers("a.b", SPEC_TS, SPEC_SIGNATURE), SPEC_BODY, now),
            Err(SignatureError::MalformedHeader(HEADER_ID))
        );
        assert_eq!(
            s.verify(&headers(SPEC_ID, SPEC_TS, SPEC_SIGNATURE), &[0xff, 0xfe], now),
            Err(SignatureError::BodyNotUtf8)
        );
    }
}
