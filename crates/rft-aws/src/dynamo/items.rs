//! How each domain record is laid out as a DynamoDB item: keys, the attributes the indexes
//! and conditions read, and the whole record as JSON in `doc`.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};

use rft_core::click::{TouchKey, pack_user_agent, unpack_user_agent};
use rft_core::ports::StoreError;
use rft_core::{
    AuditEvent, Click, Code, CodeRecord, CustomerId, IdentityHash, IdentityKey, LedgerRow, Referral, ReferralId,
    Timestamp, Token,
};

use super::DynamoStore;
use super::seal::{Sealed, random};
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

/// The partition a touch's items are filed under: for a browser's clicks a digest of its
/// token ([`Token::digest`]), not the token; for an email invite `email#<hash>`.
pub(super) fn touch_row_id(key: &TouchKey) -> String {
    match key {
        TouchKey::Token(token) => token.digest().as_str().to_owned(),
        TouchKey::Email(_) => key.attribution_id(),
    }
}

/// A click as about 160 bytes (a browser's click; DynamoDB counts names and values): the keys
/// (the token's digest, the time), the TTL, and one- or two-letter attributes: `c` the code,
/// `w` the window in ms (the exact expiry is `click_ts + w`), `s` the visitor's IP hash and
/// user agent sealed under a key only the token gives ([`seal_visitor`]), `ch` the channel, and
/// `browser` only when the fingerprint fallback is on (the sparse `by_browser` index's key). No
/// JSON copy, nothing stored twice, and nothing a copy of the table without the visitor's cookie
/// can read about the visitor.
pub(super) fn click_item(c: &Click) -> Result<Item, StoreError> {
    let mut it = item([
        ("attribution_id", s(touch_row_id(&c.key))),
        ("click_ts", n(c.at.as_millis())),
        ("expires_at", n(c.expires_at.as_secs() + 1)),
        ("c", s(c.code.as_str())),
        ("w", n(c.expires_at.as_millis() - c.at.as_millis())),
    ]);
    match &c.key {
        TouchKey::Token(token) if c.ip_hash.is_some() || c.user_agent.is_some() => {
            it.insert("s".into(), AttributeValue::B(Blob::new(seal_visitor(token, c)?)));
        }
        _ => {
            if let Some(ip) = &c.ip_hash {
                it.insert("i".into(), hash_value(ip));
            }
            if let Some(ua) = &c.user_agent {
                it.insert("u".into(), s(pack_user_agent(ua)));
            }
        }
    }
    if let Some(channel) = &c.channel {
        it.insert("ch".into(), s(channel.as_str()));
    }
    if let Some(browser) = &c.browser {
        it.insert("browser".into(), s(browser.as_str()));
    }
    Ok(it)
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

/// The key a click's visitor fields are sealed under: derived from the token, which no stored
/// item holds once its referral is erased (or before there is one).
fn visitor_key(token: &Token) -> LessSafeKey {
    let key = Sha256::new().chain_update(b"rft-click-visitor\0").chain_update(token.as_str()).finalize();
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).expect("32 bytes is an AES-256 key"))
}

/// A random nonce, then the sealed IP hash (its length in one byte, then it) and packed user
/// agent.
fn seal_visitor(token: &Token, c: &Click) -> Result<Vec<u8>, StoreError> {
    let mut plain = Vec::with_capacity(96);
    let ip = c.ip_hash.as_ref().map(|h| hex::decode(h.as_str()).unwrap_or_else(|_| h.as_str().as_bytes().to_vec()));
    let ip = ip.unwrap_or_default();
    plain.push(u8::try_from(ip.len()).unwrap_or(0));
    plain.extend_from_slice(if ip.len() <= 255 { &ip } else { &[] });
    if let Some(ua) = &c.user_agent {
        plain.extend_from_slice(pack_user_agent(ua).as_bytes());
    }
    let nonce: [u8; NONCE_LEN] = random()?;
    visitor_key(token)
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut plain)
        .expect("AES-GCM seals any length a click has");
    let mut out = nonce.to_vec();
    out.append(&mut plain);
    Ok(out)
}

/// [`seal_visitor`] undone: the IP hash and user agent, or `None` if it does not open (the
/// token is not this row's).
fn open_visitor(token: &Token, sealed: &[u8]) -> Option<(Option<IdentityHash>, Option<String>)> {
    let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
    let mut body = body.to_vec();
    let plain = visitor_key(token)
        .open_in_place(Nonce::try_assume_unique_for_key(nonce).ok()?, Aad::empty(), &mut body)
        .ok()?;
    let (&ip_len, rest) = plain.split_first()?;
    let (ip, ua) = rest.split_at_checked(usize::from(ip_len))?;
    let ip = (!ip.is_empty()).then(|| IdentityHash::from_stored(hex::encode(ip)));
    let ua = std::str::from_utf8(ua).ok().filter(|u| !u.is_empty()).map(unpack_user_agent);
    Some((ip, ua))
}

/// A click read back from its item (or, written before the compact layout, from its `doc`).
/// `token` is the visitor's, when the read was by token: it opens the sealed visitor fields.
/// Found by browser instead, the click carries its row's id in the token's place, and no
/// visitor fields.
pub(super) fn click_from_item(it: &Item, token: Option<&Token>) -> Result<Click, StoreError> {
    let id = get_s(it, "attribution_id").unwrap_or_default();
    if it.contains_key("doc") {
        return from_doc(it, id);
    }
    let corrupt = |what: &str| StoreError::corrupt(id, format!("click item without {what}"));
    let key = match (id.strip_prefix("email#"), token) {
        (Some(hash), _) => TouchKey::Email(IdentityHash::from_stored(hash.to_owned())),
        (None, Some(token)) => TouchKey::Token(token.clone()),
        (None, None) => TouchKey::Token(Token::parse(id).map_err(|_| corrupt("a token"))?),
    };
    let visitor = match (token, it.get("s").and_then(|v| v.as_b().ok())) {
        (Some(token), Some(sealed)) => open_visitor(token, sealed.as_ref()),
        _ => None,
    };
    let (ip_hash, user_agent) =
        visitor.unwrap_or_else(|| (it.get("i").and_then(hash_of), get_s(it, "u").map(unpack_user_agent)));
    let at = Timestamp::from_millis(get_n(it, "click_ts").ok_or_else(|| corrupt("a time"))?);
    let code = get_s(it, "c").or_else(|| get_s(it, "code")).ok_or_else(|| corrupt("a code"))?;
    Ok(Click {
        key,
        at,
        code: Code::parse(code).map_err(|_| corrupt("a valid code"))?,
        ip_hash,
        user_agent,
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
