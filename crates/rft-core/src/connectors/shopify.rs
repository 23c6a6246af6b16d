//! Shopify webhooks: the `X-Shopify-Hmac-Sha256` check and the topics that matter.
//!
//! **Signature.** `X-Shopify-Hmac-Sha256` is base64(HMAC-SHA256(webhook secret, raw body)),
//! the secret used as its text's bytes. Shopify signs no timestamp and retries a delivery for
//! up to 48 hours with the same body, so there is no freshness window: replays are stopped by
//! the event id (`X-Shopify-Webhook-Id`, the same on every retry of one delivery).
//!
//! **Topics** (`X-Shopify-Topic`): `customers/create` is a sign-up, `orders/paid` a conversion,
//! `refunds/create` a refund; everything else is ignored.
//!
//! **Fields of `orders/paid`.**
//! - order id: the order's numeric `id`, as text. `refunds/create` names it in `order_id`.
//! - customer: `customer.id` (numeric, as text), none for a guest order.
//! - email: `email`, else `contact_email`, else `customer.email`; first name from
//!   `customer.first_name`, else `billing_address.first_name`.
//! - amount: `total_price` (a decimal string in the shop's `currency`) in minor units by the
//!   currency's exponent (`"199.00"` GBP is 19900, `"1200"` JPY is 1200).
//! - touch: a note attribute named `rft` (a theme can copy the cookie into the cart), else the
//!   `rft` query parameter of `landing_site`, also when it sits inside the `redirect` parameter
//!   of our `/discount/<CODE>?redirect=...` landing.
//! - discount codes: `discount_codes[].code`.
//! - earlier orders: current API versions send no order count on the order's customer (Shopify
//!   removed `orders_count` there in 2022-04); an older payload's `customer.orders_count`, or a
//!   `number_of_orders`, counts this order too, so more than one means earlier orders. Absent,
//!   it is `None` and the services rely on the orders they have seen (or ask the Admin API).
//! - identity: `browser_ip`, `client_details.user_agent`, the shipping address.
//! - time: `processed_at`, else `created_at`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde_json::Value;
use sha2::Sha256;

use super::json::{array_at, get, id_text, loose_u64, str_at};
use super::{
    ConnectorError, ConversionSource, ProviderConversion, ProviderEvent, ProviderRefund, ProviderSignup, SignatureError,
};
use crate::email::Email;
use crate::identity::IdentityFacts;
use crate::ids::{CustomerId, FirstName, OrderId, Token};
use crate::money::Currency;
use crate::secrets::SecretString;
use crate::time::Timestamp;

/// The signature header.
pub const HMAC_HEADER: &str = "x-shopify-hmac-sha256";
/// The topic header.
pub const TOPIC_HEADER: &str = "x-shopify-topic";
/// The delivery's id, the same on every retry.
pub const WEBHOOK_ID_HEADER: &str = "x-shopify-webhook-id";

/// Longest webhook id accepted (it becomes a storage key).
const MAX_WEBHOOK_ID_LEN: usize = 256;

/// The `X-Shopify-Hmac-Sha256` value Shopify sends for `body` (base64 of its HMAC-SHA256),
/// which [`verify`] accepts: for whoever plays Shopify (the demo shop, the tests).
pub fn hmac_header(secret: &SecretString, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("any key length");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks `X-Shopify-Hmac-Sha256` against the raw body.
pub fn verify(secret: &SecretString, header: &str, body: &[u8]) -> Result<(), SignatureError> {
    let offered = STANDARD.decode(header.trim()).map_err(|_| SignatureError::MalformedHeader(HMAC_HEADER))?;
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return Err(SignatureError::Mismatch);
    };
    mac.update(body);
    // Constant-time comparison; a wrong length fails.
    mac.verify_slice(&offered).map_err(|_| SignatureError::Mismatch)
}

/// Verifies the request's HMAC, then parses it by its topic and webhook id headers.
pub fn verify_and_parse(
    secret: &SecretString,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<ProviderEvent, ConnectorError> {
    let text = |name: &'static str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let hmac = headers.get(HMAC_HEADER).ok_or(SignatureError::MissingHeader(HMAC_HEADER))?;
    let hmac = hmac.to_str().map_err(|_| SignatureError::MalformedHeader(HMAC_HEADER))?;
    verify(secret, hmac, body)?;
    let malformed = |detail: &str| ConnectorError::Malformed { provider: "shopify", detail: detail.to_owned() };
    let topic = text(TOPIC_HEADER)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed("the X-Shopify-Topic header is missing"))?;
    let id = text(WEBHOOK_ID_HEADER)
        .filter(|id| !id.is_empty() && id.len() <= MAX_WEBHOOK_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| malformed("the X-Shopify-Webhook-Id header is missing or malformed"))?;
    parse(topic, id, body)
}

/// Parses a verified body by its topic; `webhook_id` becomes the event id.
pub fn parse(topic: &str, webhook_id: &str, body: &[u8]) -> Result<ProviderEvent, ConnectorError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ConnectorError::Malformed { provider: "shopify", detail: format!("not JSON ({e})") })?;
    if !v.is_object() {
        return Err(ConnectorError::Malformed { provider: "shopify", detail: "not a JSON object".into() });
    }
    let event_id = webhook_id.to_owned();
    match topic {
        "customers/create" => customer(event_id, &v).map(ProviderEvent::Signup),
        "orders/paid" => order(event_id, &v).map(|c| ProviderEvent::Conversion(Box::new(c))),
        "refunds/create" => refund(event_id, &v).map(ProviderEvent::Refund),
        other => Ok(ProviderEvent::Ignored {
            event_id,
            event_type: other.to_owned(),
            reason: "not a topic the programme uses".into(),
        }),
    }
}

fn req_id(v: &Value, field: &str) -> Result<String, ConnectorError> {
    match get(v, field) {
        None => Err(ConnectorError::field(field, "is missing")),
        Some(x) => id_text(x).ok_or_else(|| ConnectorError::field(field, "must be a numeric id")),
    }
}

fn customer_id(v: &Value, field: &str) -> Result<Option<CustomerId>, ConnectorError> {
    let Some(raw) = get(v, field) else { return Ok(None) };
    let text = id_text(raw).ok_or_else(|| ConnectorError::field(field, "must be a numeric id"))?;
    CustomerId::parse(&text).map(Some).map_err(|e| ConnectorError::field(field, e.to_string()))
}

fn time(v: &Value, fields: &[&'static str]) -> Result<Timestamp, ConnectorError> {
    for field in fields {
        if let Some(text) = str_at(v, field) {
            return Timestamp::parse_rfc3339(text).map_err(|e| ConnectorError::field(*field, e.to_string()));
        }
    }
    Err(ConnectorError::field(fields.last().copied().unwrap_or("created_at"), "is missing"))
}

fn email(v: &Value, fields: &[&str]) -> Option<Email> {
    fields.iter().filter_map(|f| str_at(v, f)).find_map(|e| Email::parse(e).ok())
}

fn first_name(v: &Value, fields: &[&str]) -> Option<FirstName> {
    fields.iter().filter_map(|f| str_at(v, f)).find_map(|n| FirstName::parse(n).ok())
}

/// An amount that is a decimal string (or, defensively, a JSON number) in major units.
fn major_amount(v: &Value, field: &str, currency: &Currency) -> Result<u64, ConnectorError> {
    let text = match get(v, field) {
        None => return Err(ConnectorError::field(field, "is missing")),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(ConnectorError::field(field, "must be a decimal amount such as \"199.00\"")),
    };
    currency.parse_major(&text).map_err(|_| {
        ConnectorError::field(
            field,
            format!("{text:?} is not an amount in {currency} (at most {} decimals)", currency.exponent()),
        )
    })
}

fn customer(event_id: String, v: &Value) -> Result<ProviderSignup, ConnectorError> {
    let id = req_id(v, "id")?;
    Ok(ProviderSignup {
        event_id,
        customer_id: CustomerId::parse(&id).map_err(|e| ConnectorError::field("id", e.to_string()))?,
        email: email(v, &["email"]),
        first_name: first_name(v, &["first_name"]),
        attribution_token: None,
        occurred_at: time(v, &["created_at"])?,
    })
}

fn order(event_id: String, v: &Value) -> Result<ProviderConversion, ConnectorError> {
    let id = req_id(v, "id")?;
    let currency =
        Currency::parse(str_at(v, "currency").ok_or_else(|| ConnectorError::field("currency", "is missing"))?)
            .map_err(|e| ConnectorError::field("currency", e.to_string()))?;
    let mut codes: Vec<String> = Vec::new();
    for d in array_at(v, "discount_codes") {
        if let Some(code) = str_at(d, "code").map(str::to_ascii_uppercase)
            && !codes.contains(&code)
        {
            codes.push(code);
        }
    }
    let earlier = ["customer.orders_count", "customer.number_of_orders"]
        .iter()
        .find_map(|f| get(v, f).and_then(loose_u64))
        .map(|n| n > 1);
    Ok(ProviderConversion {
        event_id,
        source: ConversionSource::Order,
        customer_id: customer_id(v, "customer.id")?,
        email: email(v, &["email", "contact_email", "customer.email"]),
        first_name: first_name(v, &["customer.first_name", "billing_address.first_name"]),
        order_id: OrderId::parse(&id).map_err(|e| ConnectorError::field("id", e.to_string()))?,
        order_aliases: vec![],
        amount_minor: major_amount(v, "total_price", &currency)?,
        currency,
        occurred_at: time(v, &["processed_at", "created_at"])?,
        attribution_token: note_token(v).or_else(|| str_at(v, "landing_site").and_then(landing_token)),
        discount_codes: codes,
        promotion_code_ids: vec![],
        earlier_orders: earlier,
        identity: IdentityFacts {
            ip: str_at(v, "browser_ip").map(str::to_owned),
            user_agent: str_at(v, "client_details.user_agent").map(str::to_owned),
            address: shipping_address(v),
            ..IdentityFacts::default()
        },
    })
}

fn refund(event_id: String, v: &Value) -> Result<ProviderRefund, ConnectorError> {
    let order = req_id(v, "order_id")?;
    Ok(ProviderRefund {
        event_id,
        order_id: OrderId::parse(&order).map_err(|e| ConnectorError::field("order_id", e.to_string()))?,
        order_aliases: vec![],
        customer_id: None,
        refunded_minor: refunded(v),
        fully_refunded: None,
        needs_invoice_lookup: false,
        occurred_at: time(v, &["processed_at", "created_at"])?,
    })
}

/// The sum of the refund's successful refund transactions, if every one of them reads cleanly.
fn refunded(v: &Value) -> Option<u64> {
    let mut total = 0u64;
    let mut any = false;
    for t in array_at(v, "transactions") {
        if str_at(t, "kind") != Some("refund") || str_at(t, "status") != Some("success") {
            continue;
        }
        let currency = Currency::parse(str_at(t, "currency")?).ok()?;
        let amount = major_amount(t, "amount", &currency).ok()?;
        total = total.checked_add(amount)?;
        any = true;
    }
    any.then_some(total)
}

fn note_token(v: &Value) -> Option<Token> {
    array_at(v, "note_attributes")
        .iter()
        .filter(|a| str_at(a, "name").is_some_and(|n| n.eq_ignore_ascii_case("rft")))
        .find_map(|a| str_at(a, "value").and_then(|t| Token::parse(t).ok()))
}

/// The `rft` parameter of a landing path or URL, also one level down inside `redirect=`.
pub fn landing_token(landing_site: &str) -> Option<Token> {
    let query = |s: &str| -> String {
        let after = s.split_once('?').map_or("", |(_, q)| q);
        after.split('#').next().unwrap_or_default().to_owned()
    };
    let outer = query(landing_site);
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(outer.as_bytes()).into_owned().collect();
    if let Some(t) = pairs.iter().filter(|(k, _)| k == "rft").find_map(|(_, v)| Token::parse(v).ok()) {
        return Some(t);
    }
    pairs.iter().filter(|(k, _)| k == "redirect").find_map(|(_, inner)| {
        let inner = query(inner);
        url::form_urlencoded::parse(inner.as_bytes()).find(|(k, _)| k == "rft").and_then(|(_, v)| Token::parse(&v).ok())
    })
}

fn shipping_address(v: &Value) -> Option<String> {
    let parts: Vec<&str> = ["address1", "address2", "city", "zip", "country_code"]
        .iter()
        .filter_map(|f| str_at(v, &format!("shipping_address.{f}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
#[path = "shopify_tests.rs"]
mod tests;
