//! Stripe webhooks: the `Stripe-Signature` check and the events that matter to a referral
//! programme.
//!
//! **Signature.** `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`: HMAC-SHA256 keyed with
//! the endpoint's signing secret *as text* (the whole `whsec_...` string is the key; Stripe does
//! not base64-decode it, unlike Standard Webhooks) over `{t}.{raw body}`. Any `v1` may match
//! (Stripe sends two while a rolled secret's old value is still live); other schemes (`v0`) are
//! ignored. The timestamp must be within 5 minutes either way of now.
//!
//! **Events.**
//! - `checkout.session.completed` with `payment_status = "paid"`: a conversion (a session that
//!   is not paid yet, e.g. a bank debit still settling or a free trial, is ignored).
//! - `invoice.paid` with `billing_reason = "subscription_create"`: a conversion (renewals are
//!   not first purchases and are ignored).
//! - `customer.created`: a sign-up.
//! - `charge.refunded`: a refund (Stripe sends it for partial refunds too: see `fully_refunded`).
//! - anything else: ignored.
//!
//! **The order id rule.** A refund has to find the conversion it undoes, and a subscription
//! checkout fires two conversion events (`checkout.session.completed` and `invoice.paid`) that
//! must be one order:
//! - subscription (`mode = "subscription"` sessions, and every invoice): the **invoice id**
//!   (`in_...`). The session names it in `invoice`; the invoice is it.
//! - one-off payment (`mode = "payment"` sessions): the **payment intent id** (`pi_...`).
//! - `charge.refunded`: the charge's `invoice` when the payload has one (API versions before
//!   2025-03-31), else its `payment_intent`, with the payment intent kept as an alias.
//!
//! What cannot be matched from the event alone: since API version 2025-03-31 a charge no longer
//! names its invoice, so a refund of a subscription's first payment arrives with only the
//! payment intent. The invoice's own `payments` (when the event includes them) and older
//! versions' `invoice.payment_intent` put that payment intent among the conversion's aliases;
//! otherwise the refund is marked `needs_invoice_lookup` and the services resolve it through
//! the API (`GET /v1/invoice_payments?payment[payment_intent]=pi_...`). A charge with neither a
//! payment intent nor an invoice (the legacy Charges API) cannot belong to a Checkout order and
//! is ignored.
//!
//! **Touch.** The `rft` token from `client_reference_id` (a Payment Link or Checkout page
//! opened through our redirect carries it) or `metadata.rft`; on invoices, the subscription's
//! `metadata.rft` when present. Values that are not tokens are dropped: shops use these fields
//! for their own ids too. A subscription's `invoice.paid` usually carries no touch; its
//! session's event, with the same order id, does.
//!
//! **Discounts.** The friend's discount for referral code `CODE` is a coupon with id
//! `rft_<CODE>` behind a promotion code whose text is `CODE`. Wherever the event shows a coupon
//! id (`discounts[].coupon`, a discount's `source.coupon` or older `coupon.id`, `discount` on
//! older invoices, `total_details.breakdown`) `rft_<CODE>` is recovered as `CODE`; an expanded
//! promotion code gives its `code`; an unexpanded `promo_...` id is passed on to be resolved.

use std::time::Duration;

use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde_json::Value;
use sha2::Sha256;

use super::json::{array_at, get, has_key, id_of, req_i64, req_str, req_u64, str_at};
use super::{
    ConnectorError, ConversionSource, ProviderConversion, ProviderEvent, ProviderRefund, ProviderSignup,
    SignatureError, first_name_of,
};
use crate::email::Email;
use crate::identity::IdentityFacts;
use crate::ids::{CustomerId, OrderId, Token};
use crate::money::Currency;
use crate::secrets::SecretString;
use crate::time::Timestamp;

/// The header Stripe signs with (header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// How far the signed timestamp may be from now, either way.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The prefix of the coupon id the programme gives each referral code's friend discount.
pub const COUPON_PREFIX: &str = "rft_";

/// The coupon id for a referral code's friend discount: `rft_<CODE>`.
pub fn coupon_id(code: &crate::code::Code) -> String {
    format!("{COUPON_PREFIX}{code}")
}

/// The `Stripe-Signature` header Stripe sends for `body` at unix time `t` (one `v1`), which
/// [`verify`] accepts: for whoever plays Stripe (the demo shop, the tests).
pub fn signature_header(secret: &SecretString, body: &[u8], t: i64) -> String {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a `Stripe-Signature` header against the raw body at `now`.
pub fn verify(secret: &SecretString, header: &str, body: &[u8], now: Timestamp) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut offered = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else { continue };
        match key {
            "t" if timestamp.is_none() => timestamp = Some(value),
            "v1" => offered.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let t_text = timestamp.ok_or(SignatureError::MalformedHeader(SIGNATURE_HEADER))?;
    let t: i64 = t_text.parse().map_err(|_| SignatureError::MalformedHeader(SIGNATURE_HEADER))?;
    // HMAC takes keys of any length, so keying cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return Err(SignatureError::Mismatch);
    };
    mac.update(t_text.as_bytes());
    mac.update(b".");
    mac.update(body);
    // `verify_slice` compares in constant time; a wrong length simply fails.
    if !offered.iter().any(|sig| mac.clone().verify_slice(sig).is_ok()) {
        return Err(SignatureError::Mismatch);
    }
    let tolerance = TOLERANCE.as_secs() as i64;
    if now.as_secs().saturating_sub(t) > tolerance {
        return Err(SignatureError::Stale);
    }
    if t.saturating_sub(now.as_secs()) > tolerance {
        return Err(SignatureError::Future);
    }
    Ok(())
}

/// Verifies the request's `Stripe-Signature` and parses its event.
pub fn verify_and_parse(
    secret: &SecretString,
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<ProviderEvent, ConnectorError> {
    let header = headers
        .get(SIGNATURE_HEADER)
        .ok_or(SignatureError::MissingHeader(SIGNATURE_HEADER))?
        .to_str()
        .map_err(|_| SignatureError::MalformedHeader(SIGNATURE_HEADER))?;
    verify(secret, header, body, now)?;
    parse_event(body)
}

/// Parses a verified event body.
pub fn parse_event(body: &[u8]) -> Result<ProviderEvent, ConnectorError> {
    let event: Value = serde_json::from_slice(body)
        .map_err(|e| ConnectorError::Malformed { provider: "stripe", detail: format!("not JSON ({e})") })?;
    if !event.is_object() {
        return Err(ConnectorError::Malformed { provider: "stripe", detail: "not a JSON object".into() });
    }
    let event_id = req_str(&event, "", "id")?.to_owned();
    // The id becomes a storage key for the replay log.
    if event_id.len() > 256 || !event_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConnectorError::field("id", "must be at most 256 visible ASCII characters"));
    }
    let event_type = req_str(&event, "", "type")?.to_owned();
    let created = Timestamp::from_secs(req_i64(&event, "", "created")?);
    let object = get(&event, "data.object")
        .filter(|o| o.is_object())
        .ok_or_else(|| ConnectorError::field("data.object", "is missing"))?;
    let ignored =
        |reason: String| ProviderEvent::Ignored { event_id: event_id.clone(), event_type: event_type.clone(), reason };
    match event_type.as_str() {
        "checkout.session.completed" => match str_at(object, "payment_status") {
            Some("paid") => {
                checkout_session(&event_id, object, created).map(|c| ProviderEvent::Conversion(Box::new(c)))
            }
            other => Ok(ignored(format!("payment_status is {}, not paid", other.unwrap_or("absent")))),
        },
        "invoice.paid" => match str_at(object, "billing_reason") {
            Some("subscription_create") => {
                invoice(&event_id, object, created).map(|c| ProviderEvent::Conversion(Box::new(c)))
            }
            other => Ok(ignored(format!("billing_reason is {}, not subscription_create", other.unwrap_or("absent")))),
        },
        "customer.created" => customer(&event_id, object, created).map(ProviderEvent::Signup),
        "charge.refunded" => match charge_refund(&event_id, object, created)? {
            Some(refund) => Ok(ProviderEvent::Refund(refund)),
            None => Ok(ignored("the charge has neither a payment intent nor an invoice".into())),
        },
        _ => Ok(ignored("not an event the programme uses".into())),
    }
}

const OBJ: &str = "data.object";

fn order_id(id: &str, field: &str) -> Result<OrderId, ConnectorError> {
    OrderId::parse(id).map_err(|e| ConnectorError::field(format!("{OBJ}.{field}"), e.to_string()))
}

fn customer_id(object: &Value) -> Result<Option<CustomerId>, ConnectorError> {
    get(object, "customer")
        .and_then(id_of)
        .map(|id| CustomerId::parse(id).map_err(|e| ConnectorError::field(format!("{OBJ}.customer"), e.to_string())))
        .transpose()
}

fn currency(object: &Value) -> Result<Currency, ConnectorError> {
    Currency::parse(req_str(object, OBJ, "currency")?)
        .map_err(|e| ConnectorError::field(format!("{OBJ}.currency"), e.to_string()))
}

fn amount(object: &Value, field: &str) -> Result<u64, ConnectorError> {
    let n = req_u64(object, OBJ, field)?;
    if n > crate::money::MAX_AMOUNT_MINOR {
        return Err(ConnectorError::field(format!("{OBJ}.{field}"), "is larger than any order the programme accepts"));
    }
    Ok(n)
}

/// The first field that holds a well-formed email; a malformed one is skipped, not fatal: the
/// order is real whatever the buyer typed.
fn email(object: &Value, paths: &[&str]) -> Option<Email> {
    paths.iter().filter_map(|p| str_at(object, p)).find_map(|e| Email::parse(e).ok())
}

fn token(object: &Value, paths: &[&str]) -> Option<Token> {
    paths.iter().filter_map(|p| str_at(object, p)).find_map(|t| Token::parse(t).ok())
}

fn checkout_session(event_id: &str, s: &Value, created: Timestamp) -> Result<ProviderConversion, ConnectorError> {
    let invoice = get(s, "invoice").and_then(id_of);
    let payment_intent = get(s, "payment_intent").and_then(id_of);
    let (order, aliases) = match str_at(s, "mode") {
        Some("subscription") => (
            order_id(invoice.ok_or_else(|| ConnectorError::field(format!("{OBJ}.invoice"), "is missing"))?, "invoice")?,
            vec![],
        ),
        _ => (
            order_id(
                payment_intent.ok_or_else(|| ConnectorError::field(format!("{OBJ}.payment_intent"), "is missing"))?,
                "payment_intent",
            )?,
            // A one-off payment with an invoice afterwards (`invoice_creation`): a refund on an
            // older API version may name that invoice.
            invoice.and_then(|i| OrderId::parse(i).ok()).into_iter().collect(),
        ),
    };
    let mut discounts = Discounts::default();
    for d in array_at(s, "discounts") {
        discounts.read(d);
    }
    for d in array_at(s, "total_details.breakdown.discounts") {
        discounts.read_discount(get(d, "discount").unwrap_or(&Value::Null));
    }
    Ok(ProviderConversion {
        event_id: event_id.to_owned(),
        source: ConversionSource::CheckoutSession,
        customer_id: customer_id(s)?,
        email: email(s, &["customer_details.email", "customer_email"]),
        first_name: str_at(s, "customer_details.name").and_then(first_name_of),
        order_id: order,
        order_aliases: aliases,
        amount_minor: amount(s, "amount_total")?,
        currency: currency(s)?,
        occurred_at: created,
        attribution_token: token(s, &["client_reference_id", "metadata.rft"]),
        discount_codes: discounts.codes,
        promotion_code_ids: discounts.promotion_code_ids,
        earlier_orders: None,
        identity: IdentityFacts::default(),
    })
}

fn invoice(event_id: &str, inv: &Value, created: Timestamp) -> Result<ProviderConversion, ConnectorError> {
    let id = order_id(req_str(inv, OBJ, "id")?, "id")?;
    let mut aliases: Vec<OrderId> = Vec::new();
    let older = get(inv, "payment_intent").and_then(id_of);
    let listed = array_at(inv, "payments.data").iter().filter_map(|p| get(p, "payment.payment_intent").and_then(id_of));
    for pi in older.into_iter().chain(listed) {
        if let Ok(pi) = OrderId::parse(pi)
            && !aliases.contains(&pi)
        {
            aliases.push(pi);
        }
    }
    let mut discounts = Discounts::default();
    for d in array_at(inv, "discounts") {
        discounts.read_discount(d);
    }
    discounts.read_discount(get(inv, "discount").unwrap_or(&Value::Null));
    for d in array_at(inv, "total_discount_amounts") {
        discounts.read_discount(get(d, "discount").unwrap_or(&Value::Null));
    }
    let paid_at = get(inv, "status_transitions.paid_at").and_then(Value::as_i64).map(Timestamp::from_secs);
    Ok(ProviderConversion {
        event_id: event_id.to_owned(),
        source: ConversionSource::Invoice,
        customer_id: customer_id(inv)?,
        email: email(inv, &["customer_email"]),
        first_name: str_at(inv, "customer_name").and_then(first_name_of),
        order_id: id,
        order_aliases: aliases,
        amount_minor: amount(inv, "amount_paid")?,
        currency: currency(inv)?,
        occurred_at: paid_at.unwrap_or(created),
        attribution_token: token(
            inv,
            &["metadata.rft", "parent.subscription_details.metadata.rft", "subscription_details.metadata.rft"],
        ),
        discount_codes: discounts.codes,
        promotion_code_ids: discounts.promotion_code_ids,
        earlier_orders: None,
        identity: IdentityFacts::default(),
    })
}

fn customer(event_id: &str, c: &Value, created: Timestamp) -> Result<ProviderSignup, ConnectorError> {
    let id = req_str(c, OBJ, "id")?;
    Ok(ProviderSignup {
        event_id: event_id.to_owned(),
        customer_id: CustomerId::parse(id).map_err(|e| ConnectorError::field(format!("{OBJ}.id"), e.to_string()))?,
        email: email(c, &["email"]),
        first_name: str_at(c, "name").and_then(first_name_of),
        attribution_token: token(c, &["metadata.rft"]),
        occurred_at: get(c, "created").and_then(Value::as_i64).map(Timestamp::from_secs).unwrap_or(created),
    })
}

fn charge_refund(event_id: &str, ch: &Value, created: Timestamp) -> Result<Option<ProviderRefund>, ConnectorError> {
    let invoice = get(ch, "invoice").and_then(id_of);
    let payment_intent = get(ch, "payment_intent").and_then(id_of);
    let (order, aliases) = match (invoice, payment_intent) {
        (Some(inv), pi) => (order_id(inv, "invoice")?, pi.and_then(|p| OrderId::parse(p).ok()).into_iter().collect()),
        (None, Some(pi)) => (order_id(pi, "payment_intent")?, vec![]),
        (None, None) => return Ok(None),
    };
    let needs_invoice_lookup = invoice.is_none() && !has_key(ch, "invoice");
    Ok(Some(ProviderRefund {
        event_id: event_id.to_owned(),
        order_id: order,
        order_aliases: aliases,
        customer_id: customer_id(ch)?,
        refunded_minor: get(ch, "amount_refunded").and_then(Value::as_u64),
        fully_refunded: get(ch, "refunded").and_then(Value::as_bool),
        needs_invoice_lookup,
        occurred_at: created,
    }))
}

/// Discount references gathered from an event, deduplicated in order of appearance.
#[derive(Default)]
struct Discounts {
    codes: Vec<String>,
    promotion_code_ids: Vec<String>,
}

impl Discounts {
    /// A session's `discounts[]` entry: `{coupon, promotion_code}`, each an id or an object.
    fn read(&mut self, entry: &Value) {
        if let Some(coupon) = get(entry, "coupon") {
            self.coupon(coupon);
        }
        if let Some(promo) = get(entry, "promotion_code") {
            self.promotion_code(promo);
        }
    }

    /// A Discount object (or its bare `di_...` id, which says nothing without a lookup).
    fn read_discount(&mut self, d: &Value) {
        if !d.is_object() {
            return;
        }
        for path in ["coupon", "source.coupon"] {
            if let Some(coupon) = get(d, path) {
                self.coupon(coupon);
            }
        }
        if let Some(promo) = get(d, "promotion_code") {
            self.promotion_code(promo);
        }
    }

    fn coupon(&mut self, coupon: &Value) {
        if let Some(code) = id_of(coupon).and_then(|id| id.strip_prefix(COUPON_PREFIX)) {
            push_unique(&mut self.codes, code.trim().to_ascii_uppercase());
        }
    }

    fn promotion_code(&mut self, promo: &Value) {
        match promo {
            Value::Object(_) => {
                if let Some(code) = str_at(promo, "code") {
                    push_unique(&mut self.codes, code.to_ascii_uppercase());
                } else if let Some(id) = id_of(promo) {
                    push_unique(&mut self.promotion_code_ids, id.to_owned());
                }
                if let Some(coupon) = get(promo, "promotion.coupon").or_else(|| get(promo, "coupon")) {
                    self.coupon(coupon);
                }
            }
            other => {
                if let Some(id) = id_of(other) {
                    push_unique(&mut self.promotion_code_ids, id.to_owned());
                }
            }
        }
    }
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !value.is_empty() && !list.contains(&value) {
        list.push(value);
    }
}

#[cfg(test)]
#[path = "stripe_tests.rs"]
mod tests;
