//! The items the adapters write, held to `infra/tables.json`: each carries its table's keys with
//! the declared types, and every index key it carries has the declared type too (an index
//! skips an item whose key attribute has another type, silently).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use super::*;
use crate::dynamo::counters::counter_key;
use crate::tables::{KeyAttr, KeyKind, Schema};
use rft_core::click::TouchKey;
use rft_core::code::{CodeStatus, ReferrerProfile};
use rft_core::referral::{FriendProfile, Method, ReferralState};
use rft_core::{AuditKind, Code, Currency, Reward, RewardKind, Side, Terms, Timestamp, Token};

const AT: Timestamp = Timestamp::from_secs(1_782_900_000);

fn terms() -> Terms {
    let reward = Reward {
        kind: RewardKind::Credit,
        amount_minor: 1000,
        currency: Currency::parse("GBP").unwrap(),
        description: "£10 off".into(),
    };
    Terms { referrer_reward: reward.clone(), friend_reward: reward, window_secs: 86_400, tiers: vec![] }
}

fn dan() -> CustomerId {
    CustomerId::parse("c_dan").unwrap()
}

fn code() -> CodeRecord {
    CodeRecord {
        code: Code::parse("DAN234").unwrap(),
        referrer_id: dan(),
        status: CodeStatus::Active,
        terms: terms(),
        referrer: ReferrerProfile::default(),
        invite: "{{link}}".into(),
        created_at: AT,
        retired_at: None,
        flag: None,
    }
}

fn click(browser: bool) -> Click {
    Click {
        key: TouchKey::Token(Token::generate()),
        at: AT,
        code: code().code,
        ip_hash: None,
        user_agent: None,
        channel: Some("whatsapp".into()),
        browser: browser.then(|| rft_core::IdentityHash::from_stored("ab".repeat(16))),
        expires_at: AT.plus(Duration::from_secs(60)),
    }
}

fn referral(state: ReferralState) -> Referral {
    Referral {
        referral_id: ReferralId::generate(),
        referred_id: CustomerId::parse("c_mara").unwrap(),
        referrer_id: dan(),
        code: code().code,
        state,
        method: Method::Token,
        terms: terms(),
        evidence: vec![],
        flags: vec![],
        friend: FriendProfile::default(),
        touched_at: AT,
        channel: None,
        attribution_token: None,
        conversion: None,
        refunded: None,
        created_at: AT,
        updated_at: AT,
        expires_at: AT.plus(Duration::from_secs(86_400)),
        review_notified_at: None,
        cleared_rules: vec![],
        referrer_forfeited_at: None,
        confirms_at: None,
        version: 1,
    }
}

/// Whether `item` has `key` with its declared type.
fn has(item: &Item, key: &KeyAttr) -> bool {
    matches!(
        (item.get(&key.name), key.kind),
        (Some(AttributeValue::S(_)), KeyKind::S) | (Some(AttributeValue::N(_)), KeyKind::N)
    )
}

/// `item` fits `table`: its keys are there and typed, and so is each index key it carries.
fn fits(table: &str, item: &Item) {
    let schema = Schema::load();
    let spec = &schema.tables[table];
    assert!(has(item, &spec.pk) && spec.sk.iter().all(|sk| has(item, sk)), "{table} keys in {item:?}");
    for gsi in &spec.gsis {
        for key in std::iter::once(&gsi.pk).chain(&gsi.sk) {
            assert!(!item.contains_key(&key.name) || has(item, key), "{table}.{}: {} in {item:?}", gsi.name, key.name);
        }
    }
}

#[test]
fn codes_clicks_and_counters_fit_their_tables() {
    fits("rft-codes", &code_item(&code(), Sealed::plain(&code())));
    fits("rft-clicks", &click_item(&click(false)).unwrap());
    fits("rft-clicks", &click_item(&click(true)).unwrap());
    fits("rft-clicks", &counter_key("programme#rewarded"));
}

#[test]
fn referrals_and_their_queue_entries_fit_their_table() {
    for state in [ReferralState::Pending, ReferralState::Held, ReferralState::Rewarded] {
        let it = referral_item(&referral(state), Sealed::plain(&referral(state)));
        fits("rft-referrals", &it);
        assert_eq!(it.contains_key("queue"), state != ReferralState::Rewarded, "only queued referrals are indexed");
    }
}

#[test]
fn ledger_rows_and_audit_events_fit_their_tables() {
    let r = referral(ReferralState::Rewarded);
    let event = AuditEvent::new(AuditKind::Paid, r.referral_id.as_str(), AT, serde_json::json!({}));
    fits(
        "rft-rewards",
        &ledger_item(&LedgerRow::owed(r.referral_id.clone(), Side::Friend, dan(), terms().friend_reward, None, AT)),
    );
    fits("rft-audit", &audit_item(&event, Sealed::plain(&event)));
}

/// An item's size as DynamoDB counts it (what it stores and bills): each attribute's name in
/// UTF-8 bytes, plus a string's UTF-8 bytes, a binary's bytes, or a number's significant
/// digits, two to a byte, plus one.
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
        let now = click_item(&click).unwrap();
        let size = item_size(&now);
        assert!(size <= 200, "{name}: {size} bytes: {now:?}");
        let TouchKey::Token(token) = &click.key else { unreachable!() };
        assert_eq!(click_from_item(&now, Some(token)).unwrap(), click, "{name} reads back with its token");
        let text = format!("{now:?}");
        assert!(!text.contains(token.as_str()) && !text.contains("Mozilla"), "{name}: nothing readable: {text}");
        let found_by_browser = click_from_item(&now, None).unwrap();
        assert_eq!(
            (found_by_browser.ip_hash, found_by_browser.user_agent),
            (None, None),
            "{name}: no token, no visitor"
        );
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
