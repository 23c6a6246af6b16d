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

use super::DynamoStore;
use super::seal::Sealed;
use crate::item::{Item, doc, from_doc, get_n, get_s, item, n, s};

impl DynamoStore {
    /// A code's item, the referrer's profile and invite sealed under the referrer's key.
    pub(super) async fn stored_code(&self, r: &CodeRecord) -> Result<Item, StoreError> {
        Ok(code_item(r, self.seal(r, r.referrer_id.as_str()).await?))
    }

    /// A referral's item, the friend's profile and token sealed under the friend's key.
    pub(super) async fn stored_referral(&self, r: &Referral) -> Result<Item, StoreError> {
        Ok(referral_item(r, self.seal(r, r.referred_id.as_str()).await?))
    }

    /// An audit event's item, its personal facts sealed under its subject's key.
    pub(super) async fn stored_audit(&self, e: &AuditEvent) -> Result<Item, StoreError> {
        Ok(audit_item(e, self.seal(e, e.subject.as_str()).await?))
    }
}

pub(super) fn code_item(r: &CodeRecord, sealed: Sealed) -> Item {
    let mut it = item([
        ("code", s(r.code.as_str())),
        ("referrer_id", s(r.referrer_id.as_str())),
        ("status", s(r.status.as_str())),
        ("created_at", n(r.created_at.as_millis())),
    ]);
    sealed.put_into(&mut it);
    if let Some(flag) = &r.flag {
        it.insert("flag_queue".into(), s(FLAG_QUEUE));
        it.insert("flagged_at".into(), n(flag.at.as_millis()));
    }
    it
}

/// The one partition of the sparse `by_flag` index.
pub(super) const FLAG_QUEUE: &str = "flagged";

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

pub(super) fn referral_item(r: &Referral, sealed: Sealed) -> Item {
    let mut it = item([
        ("referred_id", s(referral_key(&r.referral_id))),
        ("referral_id", s(r.referral_id.as_str())),
        ("referrer_id", s(r.referrer_id.as_str())),
        ("code", s(r.code.as_str())),
        ("state", s(r.state.as_str())),
        ("version", n(r.version)),
        ("created_at", n(r.created_at.as_millis())),
    ]);
    sealed.put_into(&mut it);
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

pub(super) fn audit_item(e: &AuditEvent, sealed: Sealed) -> Item {
    let mut it = item([
        ("event_id", s(e.event_id.as_str())),
        ("ts", n(e.ts.as_millis())),
        ("subject", s(e.subject.as_str())),
        ("kind", s(serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())),
    ]);
    sealed.put_into(&mut it);
    it
}

pub(super) fn webhook_key(id: &str) -> String {
    format!("webhook#{id}")
}

#[cfg(test)]
#[path = "items_tests.rs"]
mod tests;
