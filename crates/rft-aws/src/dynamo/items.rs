//! How each domain record is laid out as a DynamoDB item: keys, the attributes the indexes
//! and conditions read, and the whole record as JSON in `doc`.

use rft_core::{AuditEvent, Click, CodeRecord, CustomerId, IdentityKey, LedgerRow, Referral, ReferralId};

use crate::item::{Item, doc, item, n, s};

pub(super) fn code_item(r: &CodeRecord) -> Item {
    let mut it = item([
        ("code", s(r.code.as_str())),
        ("referrer_id", s(r.referrer_id.as_str())),
        ("status", s(r.status.as_str())),
        ("created_at", n(r.created_at.as_millis())),
        ("doc", doc(r)),
    ]);
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

pub(super) fn click_item(c: &Click) -> Item {
    let mut it = item([
        ("attribution_id", s(c.key.attribution_id())),
        ("click_ts", n(c.at.as_millis())),
        ("code", s(c.code.as_str())),
        ("expires_at", n(c.expires_at.as_secs() + 1)),
        ("expires_at_ms", n(c.expires_at.as_millis())),
        ("doc", doc(c)),
    ]);
    if let Some(browser) = &c.browser {
        it.insert("browser".into(), s(browser.as_str()));
    }
    if let Some(channel) = &c.channel {
        it.insert("channel".into(), s(channel.as_str()));
    }
    it
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

#[cfg(test)]
#[path = "items_tests.rs"]
mod tests;
