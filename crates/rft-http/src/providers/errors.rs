//! Provider errors as the ports see them: a reward's [`FulfilError`] and a discount's
//! [`DiscountError`], keeping the provider's own verdict on retrying and on whether the call
//! may have landed.

use rft_core::code::Code;
use rft_core::ports::{DiscountError, FulfilError};

use super::ProviderError;

impl ProviderError {
    /// The HTTP status the provider answered with, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// As a failed reward: retried with backoff if the provider may get over it, parked for a
    /// person if not.
    pub fn into_fulfil_error(self) -> FulfilError {
        FulfilError {
            status: self.status(),
            retryable: Some(self.is_retryable()),
            outcome_unknown: self.outcome_unknown(),
            source: Some(Box::new(self)),
        }
    }

    /// As a failed discount for `code` (`action`: `created` or `deactivated`).
    pub fn into_discount_error(self, code: &Code, action: &'static str) -> DiscountError {
        DiscountError { code: code.clone(), action, retryable: self.is_retryable(), source: Box::new(self) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_providers_verdict_survives_the_mapping() {
        // Stripe's 409: a concurrent request holds the idempotency key. The status alone would
        // say "refused for good"; the provider's verdict says "try again".
        let busy = ProviderError::Status { provider: "stripe", status: 409, code: None, message: String::new() };
        let e = busy.into_fulfil_error();
        assert_eq!(e.status, Some(409));
        assert!(e.is_retryable() && !e.outcome_unknown);
        let lost = ProviderError::Timeout { provider: "shopify" }.into_fulfil_error();
        assert!(lost.is_retryable() && lost.outcome_unknown);
        let throttled =
            ProviderError::Rejected { provider: "shopify", code: Some("THROTTLED".into()), message: String::new() };
        assert!(throttled.into_fulfil_error().is_retryable());
        let refused = ProviderError::Status { provider: "stripe", status: 400, code: None, message: String::new() };
        assert!(!refused.into_fulfil_error().is_retryable());
        let code = Code::parse("7QK2A9").unwrap();
        let down = ProviderError::Status { provider: "stripe", status: 503, code: None, message: String::new() };
        let d = down.into_discount_error(&code, "created");
        assert!(d.retryable && d.to_string().contains("7QK2A9"));
    }
}
