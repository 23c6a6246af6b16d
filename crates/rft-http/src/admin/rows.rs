//! How the console's JSON names things: a referral as a row (no email, phone, hash or IP), a
//! page cursor as text, query values parsed with errors that name the field.

use serde::Serialize;

use rft_core::ports::ListPosition;
use rft_core::referral::{Flag, Method};
use rft_core::{Referral, ReferralState, Timestamp};

use crate::error::ApiError;

/// A referral's first order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderRow {
    /// The store's order id.
    pub order_id: String,
    /// Its amount for people (`£39.99`).
    pub amount: String,
    /// In minor units.
    pub amount_minor: u64,
    /// Its currency.
    pub currency: String,
    /// When it was placed.
    pub occurred_at: String,
}

/// A referral as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReferralRow {
    /// Its id.
    pub referral_id: String,
    /// When the friend signed up.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Where it stands.
    pub state: ReferralState,
    /// How it was attributed.
    pub method: Method,
    /// The code credited.
    pub code: String,
    /// The referrer.
    pub referrer_id: String,
    /// The referred friend.
    pub referred_id: String,
    /// The friend's first name, if given (never their email or phone).
    pub friend_name: Option<String>,
    /// Where the credited link was shared.
    pub channel: Option<String>,
    /// The screen rules that fired.
    pub reasons: Vec<String>,
    /// The first order, once it arrived.
    pub order: Option<OrderRow>,
    /// When the first order was refunded, if it was.
    pub refunded_at: Option<String>,
    /// Whether a refund after the reward waits for a person.
    pub refund_review: bool,
    /// When a pending referral expires.
    pub expires_at: String,
}

impl From<&Referral> for ReferralRow {
    fn from(r: &Referral) -> Self {
        ReferralRow {
            referral_id: r.referral_id.to_string(),
            created_at: r.created_at.to_rfc3339(),
            updated_at: r.updated_at.to_rfc3339(),
            state: r.state,
            method: r.method,
            code: r.code.to_string(),
            referrer_id: r.referrer_id.to_string(),
            referred_id: r.referred_id.to_string(),
            friend_name: r.friend.first_name.clone(),
            channel: r.channel.clone(),
            reasons: r.reasons(),
            order: r.conversion.as_ref().map(|c| OrderRow {
                order_id: c.order_id.clone(),
                amount: c.currency.format(c.amount_minor),
                amount_minor: c.amount_minor,
                currency: c.currency.to_string(),
                occurred_at: c.occurred_at.to_rfc3339(),
            }),
            refunded_at: r.refunded.as_ref().map(|f| f.at.to_rfc3339()),
            refund_review: r.flags.contains(&Flag::RefundReview),
            expires_at: r.expires_at.to_rfc3339(),
        }
    }
}

/// A page cursor as text: `<ms>.<id>`.
pub fn cursor_text(p: &ListPosition) -> String {
    format!("{}.{}", p.at.as_millis(), p.id)
}

/// Parses a cursor this console handed out.
pub fn parse_cursor(text: &str) -> Result<ListPosition, ApiError> {
    let bad = || ApiError::invalid_field("cursor: expected the next_cursor of a previous page");
    let (ms, id) = text.split_once('.').ok_or_else(bad)?;
    let ms: i64 = ms.parse().map_err(|_| bad())?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(bad());
    }
    Ok(ListPosition::of(Timestamp::from_millis(ms), id))
}

/// Parses a date (`YYYY-MM-DD`, the start of that UTC day) or an RFC 3339 time.
pub fn parse_time(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    let text = text.trim();
    if let Ok(t) = Timestamp::parse_rfc3339(text) {
        return Ok(t);
    }
    let date = chrono_date(text)
        .ok_or_else(|| ApiError::invalid_field(format!("{field}: expected a date such as 2026-11-03")))?;
    Ok(date)
}

fn chrono_date(text: &str) -> Option<Timestamp> {
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    Timestamp::parse_rfc3339(&format!("{y}-{m}-{d}T00:00:00Z")).ok()
}

/// Parses a referral state.
pub fn parse_state(text: &str) -> Result<ReferralState, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| ApiError::invalid_field("state: expected pending, held, rewarded, blocked, rejected or expired"))
}

/// Parses an attribution method.
pub fn parse_method(text: &str) -> Result<Method, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| ApiError::invalid_field("method: expected token, code, email, fingerprint or manual"))
}

/// Parses a page size from 1 to 100.
pub fn parse_limit(text: Option<&str>, default: usize) -> Result<usize, ApiError> {
    match text {
        None | Some("") => Ok(default),
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::invalid_field("limit: expected a whole number from 1 to 100")),
    }
}

/// A query string's pairs, each key once (the last wins).
pub fn query_pairs(query: Option<&str>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}
