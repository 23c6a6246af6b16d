//! The store's reward endpoint over HTTP (docs/settings.md, `reward_url`): `POST` with the Bearer key and
//! `Idempotency-Key: <referral_id>:<side>`; any 2xx applies, 409 means applied before, anything
//! else (or silence past the timeout) is a failure to retry.

use std::time::Duration;

use async_trait::async_trait;

use rft_core::ports::{FulfilError, FulfilOutcome, FulfilmentRequest, RewardClient};
use rft_core::secrets::SecretString;

/// How long one call may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP client for the store's reward endpoint.
#[derive(Clone, Debug)]
pub struct HttpRewardClient {
    http: reqwest::Client,
    url: String,
    key: SecretString,
}

impl HttpRewardClient {
    /// A client for `url` with the store's API key, giving up on a call after `timeout`.
    pub fn new(url: impl Into<String>, key: SecretString, timeout: Duration) -> Self {
        let http = http_client().timeout(timeout).build().expect("a client with a timeout builds");
        HttpRewardClient { http, url: url.into(), key }
    }
}

/// A reqwest client builder whose TLS runs on ring, the provider of every client in the
/// system (installed here on first use; installing it again is harmless).
pub fn http_client() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

#[async_trait]
impl RewardClient for HttpRewardClient {
    async fn fulfil(&self, request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError> {
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(self.key.expose())
            .header("Idempotency-Key", request.idempotency_key())
            .json(request)
            .send()
            .await
            .map_err(|e| FulfilError { status: None, source: Some(Box::new(e)) })?;
        let status = response.status();
        if status.is_success() {
            Ok(FulfilOutcome::Applied)
        } else if status.as_u16() == 409 {
            Ok(FulfilOutcome::AlreadyApplied)
        } else {
            Err(FulfilError { status: Some(status.as_u16()), source: None })
        }
    }
}
