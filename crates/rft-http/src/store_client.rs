//! The store's reward endpoint over HTTP (docs/settings.md, `reward_url`): `POST`
//! with the Bearer key, `Idempotency-Key: <referral_id>:<side>` and Standard Webhooks headers
//! signed with the store signing secret (so the store can check that the call is ours with any
//! Standard Webhooks library); any 2xx applies, 409 means applied before, anything else (or
//! silence past the timeout) is a failure to retry.

use std::time::Duration;

use async_trait::async_trait;

use rft_core::Clock;
use rft_core::ports::{FulfilError, FulfilOutcome, FulfilmentRequest, RewardClient};
use rft_core::secrets::{SecretString, SigningSecret};
use rft_core::signature::Signer;
use rft_core::time::SystemClock;

/// How long one call may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP client for the store's reward endpoint.
#[derive(Clone, Debug)]
pub struct HttpRewardClient {
    http: reqwest::Client,
    url: String,
    key: SecretString,
    signer: Option<Signer>,
}

impl HttpRewardClient {
    /// A client for `url` with the store's API key, signing each call with `signing` (the store
    /// signing secret) when given, giving up on a call after `timeout`.
    pub fn new(url: impl Into<String>, key: SecretString, signing: Option<&SigningSecret>, timeout: Duration) -> Self {
        let http = http_client().timeout(timeout).build().expect("a client with a timeout builds");
        let signer = signing.map(|s| Signer::new(std::slice::from_ref(s)));
        HttpRewardClient { http, url: url.into(), key, signer }
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
        let body = serde_json::to_vec(request).map_err(|e| FulfilError { status: None, source: Some(Box::new(e)) })?;
        let key = request.idempotency_key();
        let mut call = self
            .http
            .post(&self.url)
            .bearer_auth(self.key.expose())
            .header("Idempotency-Key", &key)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(signer) = &self.signer {
            // The message id is the idempotency key: every retry of one reward is the same
            // message, as Standard Webhooks asks. The store checks the time against its clock.
            let headers = signer
                .headers(&key, SystemClock.now(), &body)
                .map_err(|e| FulfilError { status: None, source: Some(Box::new(e)) })?;
            for (name, value) in headers {
                call = call.header(name, value);
            }
        }
        let response =
            call.body(body).send().await.map_err(|e| FulfilError { status: None, source: Some(Box::new(e)) })?;
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
