//! Outbound clients for connected stores: the Stripe API (form-encoded, `Idempotency-Key` on
//! every POST) and the Shopify Admin GraphQL API (no idempotency header: every create is
//! preceded by a lookup of a deterministic code). Each call returns the provider's reference
//! for the ledger, or a [`ProviderError`] that says whether trying again can help.
//!
//! Over the clients, the ports' adapters (`stripe_rewards`, `shopify_rewards`: rewards and the
//! friend's discounts), and [`factory`], which picks them for `store.kind`.

use std::time::Duration;

mod errors;
pub mod factory;
pub mod shopify;
pub mod shopify_rewards;
pub mod stripe;
pub mod stripe_rewards;

pub use factory::{FactoryError, discounts, reward_client, shopify_api, stripe_api, timeout_for};
pub use shopify::ShopifyClient;
pub use shopify_rewards::{ShopifyDiscounts, ShopifyRewards};
pub use stripe::StripeClient;
pub use stripe_rewards::{StripeDiscounts, StripeRewards};

/// How long one provider call may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No answer within the timeout. The call may or may not have taken effect.
    #[error("{provider} did not answer within the timeout")]
    Timeout {
        /// `stripe` or `shopify`.
        provider: &'static str,
    },
    /// The connection failed.
    #[error("could not reach {provider}")]
    Transport {
        /// `stripe` or `shopify`.
        provider: &'static str,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP error status.
    #[error("{provider} answered {status}: {message}")]
    Status {
        /// `stripe` or `shopify`.
        provider: &'static str,
        /// The status code.
        status: u16,
        /// The provider's error code (Stripe `error.code`, GraphQL `extensions.code`), if any.
        code: Option<String>,
        /// The provider's message.
        message: String,
    },
    /// The provider refused the input (Shopify `userErrors`, GraphQL `errors` on a 200).
    #[error("{provider} refused: {message}")]
    Rejected {
        /// `stripe` or `shopify`.
        provider: &'static str,
        /// The provider's error code, if any (e.g. `THROTTLED`).
        code: Option<String>,
        /// What it said.
        message: String,
    },
    /// A success answer that did not have the expected shape.
    #[error("{provider} answered something unexpected: {detail}")]
    Unexpected {
        /// `stripe` or `shopify`.
        provider: &'static str,
        /// What was missing.
        detail: String,
    },
}

impl ProviderError {
    /// Whether the same call may succeed later: timeouts, connection failures, 429, 5xx,
    /// Stripe's 409 for a key still in use by a concurrent request, and Shopify's `THROTTLED`.
    /// Validation errors (other 4xx, `userErrors`) will fail the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Timeout { .. } | ProviderError::Transport { .. } => true,
            ProviderError::Status { status, .. } => *status == 409 || *status == 429 || *status >= 500,
            ProviderError::Rejected { code, .. } => code.as_deref() == Some("THROTTLED"),
            ProviderError::Unexpected { .. } => false,
        }
    }

    /// Whether the call may have taken effect although it failed (no answer came back).
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, ProviderError::Timeout { .. } | ProviderError::Transport { .. })
    }

    pub(crate) fn from_reqwest(provider: &'static str, e: reqwest::Error) -> Self {
        if e.is_timeout() {
            ProviderError::Timeout { provider }
        } else {
            ProviderError::Transport { provider, source: e }
        }
    }

    pub(crate) fn unexpected(provider: &'static str, detail: impl Into<String>) -> Self {
        ProviderError::Unexpected { provider, detail: detail.into() }
    }
}

/// A short code derived from a key, for providers with no idempotency header: the same key
/// always gives the same code, so a retry finds what the first attempt created. `prefix` plus
/// 12 characters of the referral code alphabet (60 bits of SHA-256).
pub fn deterministic_code(prefix: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let mut n =
        u64::from_be_bytes([digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7]]);
    let alphabet = rft_core::code::ALPHABET;
    let mut out = String::from(prefix);
    for _ in 0..12 {
        out.push(alphabet[(n % alphabet.len() as u64) as usize] as char);
        n /= alphabet.len() as u64;
    }
    out
}

/// A decimal amount in major units for APIs that take them (`1000` GBP minor -> `"10.00"`).
pub fn major_units(amount_minor: u64, currency: &rft_core::Currency) -> String {
    let exp = currency.exponent();
    if exp == 0 {
        return amount_minor.to_string();
    }
    let unit = 10u64.pow(exp);
    format!("{}.{:0width$}", amount_minor / unit, amount_minor % unit, width = exp as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability_follows_the_status() {
        let status = |s| ProviderError::Status { provider: "stripe", status: s, code: None, message: String::new() };
        assert!(status(500).is_retryable() && status(503).is_retryable() && status(429).is_retryable());
        assert!(status(409).is_retryable(), "a concurrent request holds the idempotency key");
        assert!(!status(400).is_retryable() && !status(401).is_retryable() && !status(404).is_retryable());
        assert!(ProviderError::Timeout { provider: "shopify" }.is_retryable());
        assert!(ProviderError::Timeout { provider: "shopify" }.outcome_unknown());
        let throttled =
            ProviderError::Rejected { provider: "shopify", code: Some("THROTTLED".into()), message: String::new() };
        assert!(throttled.is_retryable());
        let invalid =
            ProviderError::Rejected { provider: "shopify", code: Some("INVALID".into()), message: String::new() };
        assert!(!invalid.is_retryable() && !invalid.outcome_unknown());
    }

    #[test]
    fn deterministic_codes_are_stable_and_distinct() {
        let a = deterministic_code("RFT", "rf_123:referrer");
        assert_eq!(a, deterministic_code("RFT", "rf_123:referrer"));
        assert_ne!(a, deterministic_code("RFT", "rf_123:friend"));
        assert_eq!(a.len(), 15);
        assert!(a[3..].bytes().all(|b| rft_core::code::ALPHABET.contains(&b)));
    }

    #[test]
    fn major_units_follow_the_exponent() {
        let c = |s| rft_core::Currency::parse(s).unwrap();
        assert_eq!(major_units(1000, &c("GBP")), "10.00");
        assert_eq!(major_units(5, &c("GBP")), "0.05");
        assert_eq!(major_units(1000, &c("JPY")), "1000");
        assert_eq!(major_units(12_345, &c("KWD")), "12.345");
    }
}
