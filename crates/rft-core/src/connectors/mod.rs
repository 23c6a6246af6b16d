//! Stores without code: the events of a Stripe or Shopify shop, verified as each provider signs
//! them and normalised into one shape the services handle alike, plus the CSV import format and
//! the redirect a connected store's friends follow. Pure: bytes and headers in, values out.
//!
//! Each provider module documents where every field comes from. In short:
//!
//! | field | Stripe | Shopify |
//! |---|---|---|
//! | `event_id` | the event's `id` (`evt_...`) | the `X-Shopify-Webhook-Id` header |
//! | `customer_id` | `customer` (`cus_...`), none for a guest checkout | `customer.id` (numeric, as text) |
//! | `email` | `customer_details.email`, `customer_email` | `email`, `contact_email`, `customer.email` |
//! | `order_id` | see [`stripe`]: the invoice for subscriptions, the payment intent otherwise | the order's `id` |
//! | `attribution_token` | `client_reference_id`, `metadata.rft` | `note_attributes[rft]`, `landing_site`'s `rft` |
//! | `discount_codes` | coupons named `rft_<CODE>`, expanded promotion codes | `discount_codes[].code` |

use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::email::Email;
use crate::identity::IdentityFacts;
use crate::ids::{CustomerId, FirstName, OrderId, Token};
use crate::money::Currency;
use crate::time::Timestamp;

pub mod csv;
pub mod intake;
mod json;
pub mod redirect;
pub mod shopify;
pub mod stripe;

/// Which provider an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// A Stripe account (Checkout, Payment Links, Billing).
    Stripe,
    /// A Shopify shop.
    Shopify,
}

impl Provider {
    /// The wire and storage spelling, also the prefix that keeps two providers' event ids apart.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Shopify => "shopify",
        }
    }
}

/// What an event means to the programme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderEvent {
    /// A new customer account.
    Signup(ProviderSignup),
    /// A paid order that may be a referred friend's first purchase (boxed: it is the largest).
    Conversion(Box<ProviderConversion>),
    /// An order (partly) refunded.
    Refund(ProviderRefund),
    /// Verified, understood, and of no interest: answered 200 and dropped.
    Ignored {
        /// The provider's event id (for the replay log).
        event_id: String,
        /// The provider's event type or topic, e.g. `payment_intent.created`.
        event_type: String,
        /// Why it is ignored, for the logs.
        reason: String,
    },
}

impl ProviderEvent {
    /// The provider's id of this event: the key a redelivery is recognised by.
    pub fn event_id(&self) -> &str {
        match self {
            ProviderEvent::Signup(s) => &s.event_id,
            ProviderEvent::Conversion(c) => &c.event_id,
            ProviderEvent::Refund(r) => &r.event_id,
            ProviderEvent::Ignored { event_id, .. } => event_id,
        }
    }

    /// A short label for logs: `signup`, `conversion`, `refund` or `ignored`.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderEvent::Signup(_) => "signup",
            ProviderEvent::Conversion(_) => "conversion",
            ProviderEvent::Refund(_) => "refund",
            ProviderEvent::Ignored { .. } => "ignored",
        }
    }
}

/// A new customer account at the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderSignup {
    /// The provider's event id.
    pub event_id: String,
    /// The provider's customer id.
    pub customer_id: CustomerId,
    /// Their email, when the provider has one (Stripe customers may have none).
    pub email: Option<Email>,
    /// Their first name, when known.
    pub first_name: Option<FirstName>,
    /// The `rft` token, when the shop put it on the customer (Stripe `metadata.rft`).
    pub attribution_token: Option<Token>,
    /// When the account was created.
    pub occurred_at: Timestamp,
}

/// Which provider object a conversion was read from; a subscription checkout on Stripe yields
/// both a `CheckoutSession` and an `Invoice` conversion for one order id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversionSource {
    /// Stripe `checkout.session.completed`: carries the touch (`client_reference_id`).
    CheckoutSession,
    /// Stripe `invoice.paid` for a new subscription: usually carries no touch, only the order.
    Invoice,
    /// Shopify `orders/paid`.
    Order,
}

/// A paid order, normalised. Every field says where it came from in the provider modules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderConversion {
    /// The provider's event id.
    pub event_id: String,
    /// Where it was read from.
    pub source: ConversionSource,
    /// The provider's customer id; `None` for a guest checkout (identified by `email`).
    pub customer_id: Option<CustomerId>,
    /// The buyer's email, when given.
    pub email: Option<Email>,
    /// The buyer's first name, when given.
    pub first_name: Option<FirstName>,
    /// The order id by the provider module's rule: the key a refund is matched on.
    pub order_id: OrderId,
    /// Other provider ids for the same order that a refund may name instead (Stripe: the
    /// payment intent behind a subscription invoice, when the invoice names it).
    pub order_aliases: Vec<OrderId>,
    /// The amount paid, in minor units of `currency`.
    pub amount_minor: u64,
    /// The currency, upper-case.
    pub currency: Currency,
    /// When it was paid.
    pub occurred_at: Timestamp,
    /// The `rft` token the order carries, if any (invalid values are dropped, not errors: the
    /// field may be the shop's own).
    pub attribution_token: Option<Token>,
    /// Discount codes used on the order, as text (a referral code is recovered as `CODE`).
    pub discount_codes: Vec<String>,
    /// Stripe promotion code ids (`promo_...`) on the order whose text was not in the event;
    /// resolve them with the Stripe client before matching referral codes.
    pub promotion_code_ids: Vec<String>,
    /// Whether the provider says the customer had orders before this one; `None` when the
    /// payload does not say (the usual case on current API versions).
    pub earlier_orders: Option<bool>,
    /// Identity facts the order carries (Shopify: browser IP, user agent, shipping address;
    /// Stripe's checkout events carry none). Hash them before storing.
    pub identity: IdentityFacts,
}

/// A refund, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderRefund {
    /// The provider's event id.
    pub event_id: String,
    /// The refunded order by the provider module's rule (the same id its conversion carried).
    pub order_id: OrderId,
    /// Other ids the same order may be known by.
    pub order_aliases: Vec<OrderId>,
    /// The customer, when the refund names one.
    pub customer_id: Option<CustomerId>,
    /// Amount refunded so far, in minor units, when known.
    pub refunded_minor: Option<u64>,
    /// Whether the whole order is now refunded, when known (a partial refund says `false`).
    pub fully_refunded: Option<bool>,
    /// True when the refund names only a Stripe payment intent and the API version no longer
    /// says whether it paid an invoice: a subscription's conversion is keyed by its invoice, so
    /// the services look the invoice up (the Stripe client's `invoice_for_payment_intent`).
    pub needs_invoice_lookup: bool,
    /// When it happened.
    pub occurred_at: Timestamp,
}

/// Why a provider webhook was refused. The HTTP layer answers with [`ConnectorError::status`]
/// and [`ConnectorError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The signature header is missing, malformed, stale, or matches no secret: 401.
    #[error("{0}")]
    Signature(#[from] SignatureError),
    /// The body is not a JSON object, or a header the provider always sends is missing: 400.
    #[error("the body is not a {provider} webhook: {detail}")]
    Malformed {
        /// `stripe` or `shopify`.
        provider: &'static str,
        /// What is wrong, naming the header or the parse error.
        detail: String,
    },
    /// A field the event needs is missing or has the wrong shape: 422.
    #[error("{field}: {problem}")]
    Field {
        /// The dotted path of the field, e.g. `data.object.amount_total`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl ConnectorError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            ConnectorError::Signature(_) => StatusCode::UNAUTHORIZED,
            ConnectorError::Malformed { .. } => StatusCode::BAD_REQUEST,
            ConnectorError::Field { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The snake_case error code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectorError::Signature(_) => "invalid_signature",
            ConnectorError::Malformed { .. } => "malformed_body",
            ConnectorError::Field { .. } => "invalid_field",
        }
    }

    pub(crate) fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ConnectorError::Field { field: field.into(), problem: problem.into() }
    }
}

/// Why a provider's signature was refused; every variant is a 401 `invalid_signature`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature header is absent.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// The header is present but not in the provider's format.
    #[error("the {0} header is malformed")]
    MalformedHeader(&'static str),
    /// The signed timestamp is more than the tolerance in the past.
    #[error("the signature's timestamp is more than 5 minutes old")]
    Stale,
    /// The signed timestamp is more than the tolerance in the future.
    #[error("the signature's timestamp is more than 5 minutes in the future")]
    Future,
    /// No signature matches the webhook secret.
    #[error("no signature matches the webhook secret")]
    Mismatch,
}

/// The first word of a full name, as a first name for notes (`"Jenny Rosen"` -> `Jenny`).
pub(crate) fn first_name_of(full: &str) -> Option<FirstName> {
    full.split_whitespace().next().and_then(|w| FirstName::parse(w).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_statuses_and_codes() {
        let sig = ConnectorError::from(SignatureError::Mismatch);
        assert_eq!((sig.status(), sig.code()), (StatusCode::UNAUTHORIZED, "invalid_signature"));
        let bad = ConnectorError::Malformed { provider: "stripe", detail: "x".into() };
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let field = ConnectorError::field("data.object.amount_total", "missing");
        assert_eq!(field.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field.to_string(), "data.object.amount_total: missing");
    }

    #[test]
    fn first_names_come_from_full_names() {
        assert_eq!(first_name_of("Jenny Rosen").unwrap().as_str(), "Jenny");
        assert_eq!(first_name_of("  "), None);
    }
}
