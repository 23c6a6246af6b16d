//! How each domain record is laid out as a DynamoDB item: keys, the attributes the indexes
//! and conditions read, and the whole record as JSON in `doc`.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use rft_core::click::{TouchKey, pack_user_agent, unpack_user_agent};
use rft_core::ports::StoreError;
use rft_core::{
    AuditEvent, Click, Code, CodeRecord, CustomerId, IdentityHash, IdentityKey, LedgerRow, Referral, ReferralId,
    Timestamp, Token,
};

use crate::item::{Item, doc, from_doc, get_n, get_s, item, n, s};

pub(super) fn code_item(r: &CodeRecord) -> Item {
    item([
        ("code", s(r.code.as_str())),
        ("referrer_id", s(r.referrer_id.as_str())),
        ("status", s(r.status.as_str())),
        ("created_at", n(r.created_at.as_millis())),
        ("doc", doc(r)),
    ])
}

/// The "one active code per customer" guard lives in `rft-codes` beside the codes; its key
/// cannot collide with a code (codes are six alphabet characters).
pub(super) fn guard_key(customer: &CustomerId) -> String {
    format!("active#{}", customer.as_str())
}

/// A click as about 130 bytes (a browser's click; DynamoDB counts names and values): the keys,
/// the TTL, and one- or two-letter attributes: `c` the code, `w` the window in ms (the exact
/// expiry is `click_ts + w`), `i` the IP hash (16 bytes), `u` the user agent packed
/// ([`rft_core::click::pack_user_agent`]), `ch` the channel, and `browser` only when the
/// fingerprint fallback is on (the sparse `by_browser` index's key). No JSON copy, nothing
/// stored twice.
pub(super) fn click_item(c: &Click) -> Item {
    let mut it = item([
        ("attribution_id", s(c.key.attribution_id())),
        ("click_ts", n(c.at.as_millis())),
        ("expires_at", n(c.expires_at.as_secs() + 1)),
        ("c", s(c.code.as_str())),
        ("w", n(c.expires_at.as_millis() - c.at.as_millis())),
    ]);
    if let Some(ip) = &c.ip_hash {
        it.insert("i".into(), hash_value(ip));
    }
    if let Some(ua) = &c.user_agent {
        it.insert("u".into(), s(pack_user_agent(ua)));
    }
    if let Some(channel) = &c.channel {
        it.insert("ch".into(), s(channel.as_str()));
    }
    if let Some(browser) = &c.browser {
        it.insert("browser".into(), s(browser.as_str()));
    }
    it
}

/// An identity hash's 16 bytes (or, for any other spelling, the text).
fn hash_value(h: &IdentityHash) -> AttributeValue {
    match hex::decode(h.as_str()) {
        Ok(bytes) if bytes.len() == 16 && h.as_str().bytes().all(|b| !b.is_ascii_uppercase()) => {
            AttributeValue::B(Blob::new(bytes))
        }
        _ => s(h.as_str()),
    }
}

fn hash_of(v: &AttributeValue) -> Option<IdentityHash> {
    match v {
        AttributeValue::B(b) => Some(IdentityHash::from_stored(hex::encode(b.as_ref()))),
        AttributeValue::S(s) => Some(IdentityHash::from_stored(s.clone())),
        _ => None,
    }
}

/// A click read back from its item (or, written before the compact layout, from its `doc`).
pub(super) fn click_from_item(it: &Item) -> Result<Click, StoreError> {
    let id = get_s(it, "attribution_id").unwrap_or_default();
    if it.contains_key("doc") {
        return from_doc(it, id);
    }
    let corrupt = |what: &str| StoreError::corrupt(id, format!("click item without {what}"));
    let key = match id.strip_prefix("email#") {
        Some(hash) => TouchKey::Email(IdentityHash::from_stored(hash.to_owned())),
        None => TouchKey::Token(Token::parse(id).map_err(|_| corrupt("a token"))?),
    };
    let at = Timestamp::from_millis(get_n(it, "click_ts").ok_or_else(|| corrupt("a time"))?);
    let code = get_s(it, "c").or_else(|| get_s(it, "code")).ok_or_else(|| corrupt("a code"))?;
    Ok(Click {
        key,
        at,
        code: Code::parse(code).map_err(|_| corrupt("a valid code"))?,
        ip_hash: it.get("i").and_then(hash_of),
        user_agent: get_s(it, "u").map(unpack_user_agent),
        channel: get_s(it, "ch").map(str::to_owned),
        browser: get_s(it, "browser").map(|b| IdentityHash::from_stored(b.to_owned())),
        expires_at: Timestamp::from_millis(at.as_millis() + get_n(it, "w").unwrap_or(0)),
    })
}

pub(super) fn referral_key(id: &ReferralId) -> String {
    format!("referral#{}", id.as_str())
}

pub(super) fn claim_key(key: &IdentityKey) -> String {
    format!("claim#{}", key.storage_key())
}

pub(super) fn referral_item(r: &Referral) -> Item {
    let mut it = item([
        ("referred_id", s(referral_key(&r.referral_id))),
        ("referral_id", s(r.referral_id.as_str())),
        ("referrer_id", s(r.referrer_id.as_str())),
        ("code", s(r.code.as_str())),
        ("state", s(r.state.as_str())),
        ("version", n(r.version)),
        ("created_at", n(r.created_at.as_millis())),
        ("doc", doc(r)),
    ]);
    if let Some((queue, at)) = r.queue() {
        it.insert("queue".into(), s(queue.as_str()));
        it.insert("queue_ts".into(), n(at.as_millis()));
    }
    it
}

pub(super) fn ledger_item(row: &LedgerRow) -> Item {
    item([
        ("referral_id", s(row.referral_id.as_str())),
        ("side", s(row.side.as_str())),
        ("customer_id", s(row.customer_id.as_str())),
        ("version", n(row.version)),
        ("created_at", n(row.created_at.as_millis())),
        ("doc", doc(row)),
    ])
}

pub(super) fn tally_key(referrer: &CustomerId) -> String {
    format!("tally#{}", referrer.as_str())
}

pub(super) fn audit_item(e: &AuditEvent) -> Item {
    item([
        ("event_id", s(e.event_id.as_str())),
        ("ts", n(e.ts.as_millis())),
        ("subject", s(e.subject.as_str())),
        ("kind", s(serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())),
        ("doc", doc(e)),
    ])
}

pub(super) fn webhook_key(id: &str) -> String {
    format!("webhook#{id}")
}

/// An item's size as DynamoDB counts it (what it stores and bills): each attribute's name in
/// UTF-8 bytes, plus a string's UTF-8 bytes, a binary's bytes, or a number's significant
/// digits, two to a byte, plus one.
#[cfg(test)]
fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) => s.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    AttributeValue::N(n) => {
                        let digits = n.trim_start_matches('-').replace('.', "");
                        let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
                        significant.div_ceil(2) + 1
                    }
                    _ => 0,
                }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A browser's click with the bench's user agent and a real user agent of each common kind:
    /// every one at most 200 bytes. The sizes go to the file named by RFT_BENCH_ITEM.
    #[test]
    fn a_click_item_is_at_most_200_bytes() {
        let at = Timestamp::from_millis(1_795_000_000_123);
        let agents = [
            (
                "the benchmark's browser",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
            ),
            (
                "Chrome on Windows",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            ),
            (
                "Safari on an iPhone",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
            ),
            (
                "Chrome on Android",
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
            ),
        ];
        let mut sizes = serde_json::Map::new();
        for (name, ua) in agents {
            let click = Click {
                key: TouchKey::Token(Token::generate()),
                at,
                code: Code::parse("7QK2A9").unwrap(),
                ip_hash: Some(IdentityHash::from_stored("0123456789abcdef0123456789abcdef".into())),
                user_agent: Some(ua.into()),
                channel: Some("whatsapp".into()),
                browser: None,
                expires_at: at.plus(Duration::from_secs(30 * 86_400)),
            };
            let now = click_item(&click);
            let size = item_size(&now);
            assert!(size <= 200, "{name}: {size} bytes: {now:?}");
            assert_eq!(click_from_item(&now).unwrap(), click, "{name} reads back");
            // The layout before: keys, code, both expiries, the browser hash (always written),
            // the channel, and the whole click again as JSON.
            let mut before = click.clone();
            before.browser = Some(IdentityHash::from_stored("fedcba9876543210fedcba9876543210".into()));
            let old = item([
                ("attribution_id", s(before.key.attribution_id())),
                ("click_ts", n(at.as_millis())),
                ("code", s("7QK2A9")),
                ("expires_at", n(before.expires_at.as_secs() + 1)),
                ("expires_at_ms", n(before.expires_at.as_millis())),
                ("browser", s("fedcba9876543210fedcba9876543210")),
                ("channel", s("whatsapp")),
                ("doc", doc(&before)),
            ]);
            sizes.insert(name.into(), serde_json::json!({ "now": size, "before": item_size(&old) }));
        }
        if let Ok(path) = std::env::var("RFT_BENCH_ITEM") {
            std::fs::write(path, serde_json::Value::Object(sizes).to_string()).unwrap();
        }
    }
}
