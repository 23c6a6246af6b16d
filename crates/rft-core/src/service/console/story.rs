//! A referral's story in plain words, read back from the audit: the touch that won and those
//! that lost, every screen rule with its numbers, the identity matches, each decision and who
//! took it, the ledger rows and each fulfilment attempt, and a refund beside the decision.
//! Only field names are ever told, never an identity value, a hash or an IP.

use serde::Serialize;
use serde_json::Value;

use crate::audit::{AuditEvent, AuditKind};
use crate::identity::{Field, HashedIdentity};
use crate::ledger::{Fulfilment, LedgerRow, Side};
use crate::money::Currency;
use crate::referral::{Flag, Method, Referral, ReferralState};
use crate::service::touches::{TouchFact, TouchResult};
use crate::time::Timestamp;

/// One event of the story.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoryLine {
    /// When (RFC 3339).
    pub at: String,
    /// The audit kind it comes from (`attributed`, `held`, `paid`, ...).
    pub kind: String,
    /// One sentence.
    pub title: String,
    /// The facts behind it, one sentence each.
    pub details: Vec<String>,
}

/// One side of the payout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LedgerLine {
    /// `referrer` or `friend`.
    pub side: Side,
    /// Who receives it.
    pub customer_id: String,
    /// What it is, as promised.
    pub reward: String,
    /// Its value.
    pub amount: String,
    /// `owing`, `fulfilled`, `parked` or `forfeited`.
    pub status: String,
    /// Where it stands, in one sentence (attempts, last error, the thank-you).
    pub sentence: String,
}

/// A referral told for a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Story {
    /// Where it stands, in one sentence.
    pub headline: String,
    /// The converting order's refund, shown beside the decision.
    pub refund: Option<String>,
    /// What the friend's and the referrer's identities share, by field name.
    pub identity: String,
    /// Everything that happened, oldest first.
    pub lines: Vec<StoryLine>,
    /// The ledger rows, referrer first.
    pub ledger: Vec<LedgerLine>,
}

/// A time for people: `3 Nov 2026, 14:05 UTC`.
pub fn when(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.as_millis())
        .map(|d| d.format("%-d %b %Y, %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// How a touch or referral was attributed, in words.
pub fn method_words(m: Method) -> &'static str {
    match m {
        Method::Token => "a click on the link",
        Method::Code => "the code typed at sign-up",
        Method::Email => "an email invite",
        Method::Fingerprint => "the same browser (IP and user agent) as a recent click",
        Method::Manual => "a team member's credit by hand",
    }
}

fn field_name(f: Field) -> &'static str {
    match f {
        Field::Payment => "payment card",
        Field::Device => "device",
        Field::Address => "address",
        Field::Email => "email",
        Field::Ip => "IP address",
        Field::Browser => "browser",
    }
}

fn list(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn time(v: &Value, key: &str) -> Option<Timestamp> {
    v.get(key).and_then(Value::as_i64).map(Timestamp::from_millis)
}

fn money(v: &Value) -> Option<String> {
    let currency = Currency::parse(v.get("currency")?.as_str()?).ok()?;
    Some(currency.format(v.get("amount_minor")?.as_u64()?))
}

/// The screen's verdict in `facts`, one sentence per rule that fired.
fn verdict(facts: &Value) -> Vec<String> {
    let evidence = facts.pointer("/verdict/evidence").and_then(Value::as_array).cloned().unwrap_or_default();
    if evidence.is_empty() {
        return vec!["The screen passed it: no rule fired.".to_owned()];
    }
    rules(&evidence)
}

/// The rules a code was flagged for (`facts.evidence`), one sentence each.
fn flagged_rules(facts: &Value) -> Vec<String> {
    rules(&facts.get("evidence").and_then(Value::as_array).cloned().unwrap_or_default())
}

/// One sentence per rule that fired, with its numbers.
fn rules(evidence: &[Value]) -> Vec<String> {
    evidence
        .iter()
        .map(|e| {
            let outcome = match text(e, "outcome") {
                Some("block") => "blocks",
                Some("hold") => "holds",
                _ => "notes",
            };
            format!(
                "Screen rule {} {outcome} it: {}.",
                text(e, "rule").unwrap_or("?"),
                text(e, "detail").unwrap_or_default().trim_end_matches('.')
            )
        })
        .collect()
}

/// Which identity fields a sign-up or order carried, by name only.
fn identity_fields(facts: &Value) -> Option<String> {
    let fields = facts.get("identity")?.as_object()?;
    let names: Vec<&str> = [
        ("payment", "payment card"),
        ("device", "device"),
        ("address", "address"),
        ("email", "email"),
        ("ip", "IP address"),
        ("browser", "browser"),
    ]
    .iter()
    .filter(|(k, _)| fields.contains_key(*k))
    .map(|(_, name)| *name)
    .collect();
    Some(if names.is_empty() {
        "No identity fields came with it.".to_owned()
    } else {
        format!("Identity fields received (kept only as keyed hashes): {}.", list(&names))
    })
}

/// What became of each touch, one sentence each.
fn touches(facts: &Value) -> Vec<String> {
    let considered: Vec<TouchFact> =
        facts.get("considered").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    considered
        .iter()
        .map(|t| {
            let how = method_words(t.method);
            let channel = t.channel.as_deref().map(|c| format!(" (shared by {c})")).unwrap_or_default();
            let what = format!("{how} on code {}{channel} at {}", t.code, when(t.at));
            match t.result {
                TouchResult::Won => format!("Won: {what}, the newest live touch inside its window."),
                TouchResult::Older => format!("Lost: {what}; a newer touch won (the last touch counts)."),
                TouchResult::RetiredCode => format!("Lost: {what}; the code is retired or unknown."),
                TouchResult::OutsideWindow => format!("Lost: {what}; it was outside the code's window."),
                TouchResult::AfterSignup => format!("Lost: {what}; it came after the sign-up."),
                TouchResult::SameCodeAsClick => {
                    format!("Also: {what}, the code of the link clicked; the click is credited.")
                }
            }
        })
        .collect()
}

fn unattributed_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("no_touch") => "no click, invite or typed code inside the window",
        Some("retired_code") => "every code touched is retired or unknown",
        Some("outside_window") => "every touch was outside its code's window",
        _ => "no touch could be credited",
    }
}

fn not_paid_reason(reason: Option<&str>) -> String {
    match reason {
        Some("held") => "the referral was held: nothing pays until a person approves".into(),
        Some("unattributed") => "the sign-up credited nobody".into(),
        Some("expired") => "it came after the window closed".into(),
        Some("blocked") => "the referral is blocked".into(),
        Some("rejected") => "a person rejected the referral".into(),
        Some(other) => other.replace('_', " "),
        None => "no reason recorded".into(),
    }
}

/// A sign-up that opened this referral: who was credited, by which touch, what lost, the screen.
fn signup(event: &AuditEvent, referral: Option<&Referral>, details: &mut Vec<String>) -> String {
    let f = &event.facts;
    let referrer = text(f, "referrer_id").or(referral.map(|r| r.referrer_id.as_str())).unwrap_or("?");
    let code = text(f, "code").or(referral.map(|r| r.code.as_str())).unwrap_or("?");
    let method = f.get("method").and_then(|m| serde_json::from_value(m.clone()).ok()).or(referral.map(|r| r.method));
    details.push(format!(
        "Credited touch: {} at {}.",
        method.map(method_words).unwrap_or("a touch"),
        time(f, "touched_at").map(when).unwrap_or_default()
    ));
    details.extend(touches(f));
    details.extend(verdict(f));
    details.extend(identity_fields(f));
    if let Some((by, reason)) = crate::service::credit::credit_facts(event) {
        details.push(format!("Their reason: \u{201c}{reason}\u{201d}."));
        return match event.kind {
            AuditKind::Held => {
                format!("Credited by hand to {referrer} through code {code} by {by}, and held for a person")
            }
            AuditKind::Blocked => format!("Credited by hand to {referrer} through code {code} by {by}, and blocked"),
            _ => format!("Credited by hand to {referrer} through code {code} by {by}"),
        };
    }
    match event.kind {
        AuditKind::Held => format!("Signed up through {referrer}'s code {code} and held for a person"),
        AuditKind::Blocked => format!("Signed up through {referrer}'s code {code} and blocked"),
        _ => format!("Signed up and credited to {referrer} through code {code}"),
    }
}

/// One audit event as a line of the story.
fn line(event: &AuditEvent, referral: Option<&Referral>) -> StoryLine {
    let f = &event.facts;
    let mut details = Vec::new();
    let title = match event.kind {
        AuditKind::Attributed if f.get("collapsed_into").is_some() => {
            let who = text(f, "customer_id").unwrap_or("another customer");
            details.push(
                "They share an email, payment card or device with this referral's friend, so no second referral \
                 was opened and nothing can pay twice."
                    .to_owned(),
            );
            format!("Customer {who} signed up again and was recognised as the same person")
        }
        AuditKind::Attributed => signup(event, referral, &mut details),
        AuditKind::Held | AuditKind::Blocked if f.get("stage").is_none() => signup(event, referral, &mut details),
        AuditKind::Held | AuditKind::Blocked => {
            let order = text(f, "order_id").unwrap_or("?");
            details.extend(verdict(f));
            details.extend(identity_fields(f));
            if event.kind == AuditKind::Held {
                format!("First order {order} arrived and was held for a person")
            } else {
                format!("First order {order} arrived and the referral was blocked")
            }
        }
        AuditKind::Paid => {
            let conversion = f.get("conversion").cloned().unwrap_or_default();
            let order = text(&conversion, "order_id").unwrap_or("?");
            let amount = money(&conversion).unwrap_or_default();
            let rows: Vec<LedgerRow> =
                f.get("rows").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
            for row in &rows {
                let nth = row.nth.map(|n| format!(" (their rewarded referral number {n})")).unwrap_or_default();
                let who = match row.side {
                    Side::Referrer => "The referrer",
                    Side::Friend => "The friend",
                };
                details.push(format!(
                    "{who} is owed {} ({}){nth}.",
                    row.reward.description,
                    row.reward.currency.format(row.reward.amount_minor)
                ));
            }
            details.extend(verdict(f));
            format!("First order {order} of {amount} converted: both sides credited")
        }
        AuditKind::NotPaid => {
            let order = text(f, "order_id").unwrap_or("?");
            format!("Order {order} paid nothing: {}", not_paid_reason(text(f, "reason")))
        }
        AuditKind::Expired => match text(f, "order_id") {
            Some(order) => format!(
                "Order {order} came after the window closed ({}): expired, nothing paid",
                time(f, "expires_at").map(when).unwrap_or_default()
            ),
            None => {
                let days = f.get("window_secs").and_then(Value::as_u64).map(|s| s / 86_400).unwrap_or_default();
                format!("The {days}-day window closed without a first order: expired")
            }
        },
        AuditKind::Approved | AuditKind::Rejected => {
            let by = text(f, "by").map(|e| format!("by {e}")).unwrap_or_else(|| "from an ops link".to_owned());
            if let Some(what) = text(f, "what") {
                let mut chars = what.chars();
                let first: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
                details.push(format!("{first}{}.", chars.as_str()));
            }
            let cleared: Vec<&str> = f
                .get("cleared")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !cleared.is_empty() && event.kind == AuditKind::Approved {
                details.push(format!("Cleared rules: {}.", list(&cleared)));
            }
            let verb = if event.kind == AuditKind::Approved { "Approved" } else { "Rejected" };
            format!("{verb} {by}")
        }
        AuditKind::RefundFlagged => format!(
            "Order {} was refunded ({}) after the reward: flagged for a person to review",
            text(f, "order_id").unwrap_or("?"),
            time(f, "refunded_at").map(when).unwrap_or_default()
        ),
        AuditKind::RefundNoted => format!(
            "Order {} was refunded ({}): remembered, so it can never pay",
            text(f, "order_id").unwrap_or("?"),
            time(f, "refunded_at").map(when).unwrap_or_default()
        ),
        AuditKind::ConversionNoted => format!(
            "Order {} converted cleanly: it pays once the confirmation period passes without a refund ({})",
            text(f, "order_id").unwrap_or("?"),
            time(f, "confirms_at").map(when).unwrap_or_default()
        ),
        AuditKind::RefundIgnored => format!(
            "A refund of order {} needed nothing: {}",
            text(f, "order_id").unwrap_or("?"),
            text(f, "reason").unwrap_or("no reason recorded")
        ),
        AuditKind::FulfilmentParked => {
            let side = text(f, "side").unwrap_or("one side's");
            details.push(format!("The store said: {}.", text(f, "reason").unwrap_or("nothing").trim_end_matches('.')));
            format!("The {side} reward could not be delivered: parked for a person")
        }
        AuditKind::FulfilmentRetried => {
            let side = text(f, "side").unwrap_or("one side's");
            let by = text(f, "requested_by").unwrap_or("a person");
            format!("{by} asked for the parked {side} reward to be tried again")
        }
        AuditKind::Unattributed => {
            details.extend(touches(f));
            format!("Signed up but credited nobody: {}", unattributed_reason(text(f, "reason")))
        }
        AuditKind::CodeFlagged => {
            details.extend(flagged_rules(f));
            format!("Code {} was flagged for its velocity", event.subject)
        }
        AuditKind::Erased => "Personal data erased; amounts and decisions kept".to_owned(),
        AuditKind::JobDropped => format!(
            "A queued {} job was set aside for a person: {}",
            text(f, "kind").unwrap_or("?"),
            text(f, "reason").unwrap_or("no reason recorded")
        ),
        AuditKind::Minted => format!("Code {} minted", event.subject),
        AuditKind::Enrolled => format!(
            "Their own link (code {}) was emailed after first order {}",
            text(f, "code").unwrap_or("?"),
            text(f, "order_id").unwrap_or("?")
        ),
        AuditKind::MailSuppressed => "A programme email to an unsubscribed address was not sent".to_owned(),
        AuditKind::Retired => {
            let by = text(f, "by").map(|e| format!(" by {e}")).unwrap_or_default();
            format!("Code {} retired{by}", event.subject)
        }
    };
    let kind = serde_json::to_value(event.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    StoryLine { at: event.ts.to_rfc3339(), kind, title, details }
}

fn ledger_line(row: &LedgerRow) -> LedgerLine {
    let attempts = |n: u32| if n == 1 { "1 attempt".to_owned() } else { format!("{n} attempts") };
    let (status, mut sentence) = match &row.fulfilment {
        Fulfilment::Owing { attempts: n, next_attempt_at, last_error } => (
            "owing",
            match last_error {
                Some(e) => format!(
                    "Owed: {} so far, the last failed ({e}); next try {}.",
                    attempts(*n),
                    when(*next_attempt_at)
                ),
                None => "Owed: being delivered to the store.".to_owned(),
            },
        ),
        Fulfilment::Fulfilled { at, attempts: n, .. } => {
            ("fulfilled", format!("Delivered: the store acknowledged it on {} after {}.", when(*at), attempts(*n)))
        }
        Fulfilment::Parked { attempts: n, reason } => (
            "parked",
            format!(
                "Parked after {}: {}. Still owed, waiting for a person.",
                attempts(*n),
                reason.trim_end_matches('.')
            ),
        ),
        Fulfilment::Forfeited { at, reason } => ("forfeited", format!("Forfeited on {}: {}", when(*at), reason)),
    };
    if let Some(sent) = row.note_sent_at {
        sentence.push_str(&format!(" Thank-you sent {}.", when(sent)));
    }
    LedgerLine {
        side: row.side,
        customer_id: row.customer_id.to_string(),
        reward: row.reward.description.clone(),
        amount: row.reward.currency.format(row.reward.amount_minor),
        status: status.to_owned(),
        sentence,
    }
}

fn headline(r: &Referral) -> String {
    match r.state {
        ReferralState::Pending => {
            format!("Pending: waiting for the friend's first order until {}.", when(r.expires_at))
        }
        ReferralState::Held => format!(
            "Held: waiting for a person to approve or reject{}.",
            if r.reasons().is_empty() { String::new() } else { format!(" ({})", r.reasons().join(", ")) }
        ),
        ReferralState::Rewarded if r.flags.contains(&Flag::RefundReview) => {
            "Rewarded, then its order was refunded: waiting for a person to review.".to_owned()
        }
        ReferralState::Rewarded => "Rewarded: both sides credited.".to_owned(),
        ReferralState::Blocked => "Blocked by the screen: it never pays.".to_owned(),
        ReferralState::Rejected => "Rejected by a person: it never pays.".to_owned(),
        ReferralState::Expired => "Expired: no first order inside the window.".to_owned(),
    }
}

/// A code's own history (minted, flagged, retired and by whom), oldest first.
pub fn code_history(mut events: Vec<AuditEvent>) -> Vec<StoryLine> {
    events.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.event_id.cmp(&b.event_id)));
    events
        .iter()
        .map(|e| {
            let f = &e.facts;
            let (title, details) = match e.kind {
                AuditKind::Minted => (format!("Code {} minted", e.subject), Vec::new()),
                AuditKind::Retired => {
                    let by = text(f, "by")
                        .map(|m| format!(" by {m}"))
                        .unwrap_or_else(|| " through the store's API".to_owned());
                    (format!("Code {} retired{by}", e.subject), Vec::new())
                }
                AuditKind::CodeFlagged => {
                    (format!("Code {} was flagged for its velocity", e.subject), flagged_rules(f))
                }
                other => (format!("{other:?} for code {}", e.subject), Vec::new()),
            };
            let kind =
                serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            StoryLine { at: e.ts.to_rfc3339(), kind, title, details }
        })
        .collect()
}

/// What the audit says about a customer themselves, oldest first: for one with no referral,
/// why their sign-up credited nobody and which orders paid nothing.
pub fn customer_history(mut events: Vec<AuditEvent>) -> Vec<StoryLine> {
    events.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.event_id.cmp(&b.event_id)));
    events.iter().map(|e| line(e, None)).collect()
}

/// What the friend's identity shares with the referrer's, by field name.
pub fn identity_sentence(friend: &HashedIdentity, referrer: Option<&HashedIdentity>) -> String {
    let Some(referrer) = referrer else { return "The referrer's identity is not on record.".to_owned() };
    let shared: Vec<&str> = friend.matches(referrer).into_iter().map(field_name).collect();
    if shared.is_empty() {
        "The friend shares no identity field with the referrer.".to_owned()
    } else {
        format!("The friend shares the referrer's {}.", list(&shared))
    }
}

/// The story of `referral` from its audit `events` (about it and about its friend), its
/// ledger `rows`, and the referrer's hashed identity.
pub fn tell(
    referral: &Referral,
    mut events: Vec<AuditEvent>,
    rows: &[LedgerRow],
    referrer: Option<&HashedIdentity>,
) -> Story {
    events.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.event_id.cmp(&b.event_id)));
    events.dedup_by(|a, b| a.event_id == b.event_id);
    let after = if referral.state == ReferralState::Rewarded { ", after the reward" } else { "" };
    // The refund as the referral keeps it, else as the audit recorded it when it flagged one.
    let refund = match &referral.refunded {
        Some(r) => Some(format!("Order {} was refunded on {}{after}.", r.order_id, when(r.at))),
        None => events.iter().rev().find(|e| e.kind == AuditKind::RefundFlagged).map(|e| {
            let at = time(&e.facts, "refunded_at").unwrap_or(e.ts);
            format!("Order {} was refunded on {}{after}.", text(&e.facts, "order_id").unwrap_or("?"), when(at))
        }),
    };
    Story {
        headline: headline(referral),
        refund,
        identity: identity_sentence(&referral.friend.identity, referrer),
        lines: events.iter().map(|e| line(e, Some(referral))).collect(),
        ledger: rows.iter().map(ledger_line).collect(),
    }
}
