//! Erasure (docs/invariants.md, invariant 10): after `POST /api/customers/{id}/erase`, nothing stored
//! carries the customer's email, name, identity hashes or click rows; ledger amounts and audit
//! decisions remain, under an opaque id.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;

use rft_core::click::TouchKey;
use rft_core::identity::{Field, IdentityHasher};
use rft_core::{AuditKind, CustomerId, IdentityKey, ReferralId, Token};

use crate::harness::{Harness, token_of};

/// Everything the store holds, as text.
pub type Dump<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = String> + 'a>> + 'a>;

/// The whole lifecycle, then erasure of the friend and the referrer, then a search of every
/// stored byte.
pub async fn erasure_leaves_nothing_personal(h: Harness, dump: Dump<'_>) {
    let dan_identity =
        json!({"payment_fingerprint": "card_dan_4242", "device_id": "phone_dan_77", "address": "1 Acacia Avenue"});
    h.mint("c_dan", json!({"first_name": "Danforth", "email": "danforth@example.com", "identity": dan_identity})).await;
    let code = h.mint("c_dan", json!({})).await.json["code"].as_str().unwrap().to_owned();
    let click = h.click(&code, None).await;
    let token = token_of(&click);
    let mara_identity =
        json!({"payment_fingerprint": "card_mara_1881", "device_id": "phone_mara_22", "ip": "198.51.100.9"});
    h.signup(json!({"customer_id": "c_mara", "email": "Mara.Jones@example.com", "first_name": "Marabel", "attribution_token": token, "identity": mara_identity})).await;
    h.call(h.signed(
        Method::POST,
        "/api/invites",
        &json!({"customer_id": "c_dan", "friend_email": "kim@example.com"}).to_string(),
    ))
    .await;
    h.clock.advance(Duration::from_secs(120));
    h.convert("c_mara", "o_1").await;
    let referral = h.referral("c_mara").await;
    assert_eq!(referral.json["state"], "rewarded");
    let referral_id = ReferralId::parse(referral.json["referral_id"].as_str().unwrap()).unwrap();
    let before = dump().await;
    for raw in
        ["card_dan_4242", "phone_dan_77", "Acacia", "card_mara_1881", "phone_mara_22", "198.51.100.9", "203.0.113.7"]
    {
        assert!(!before.contains(raw), "identity fields are never stored in clear: found {raw}");
    }
    let hasher = IdentityHasher::new(h.secrets.identity.clone());
    let hashes: Vec<String> = [
        (Field::Payment, "card_dan_4242"),
        (Field::Device, "phone_dan_77"),
        (Field::Address, "1 Acacia Avenue"),
        (Field::Payment, "card_mara_1881"),
        (Field::Device, "phone_mara_22"),
        (Field::Ip, "198.51.100.9"),
        (Field::Email, "mara.jones@example.com"),
        (Field::Email, "danforth@example.com"),
    ]
    .into_iter()
    .map(|(f, v)| hasher.hash(f, v).unwrap().as_str().to_owned())
    .collect();
    assert!(hashes.iter().any(|hash| before.contains(hash.as_str())), "the hashes are there before erasure");
    assert!(before.contains("Marabel") && before.contains("danforth@example.com"));

    for customer in ["c_mara", "c_dan", "c_nobody"] {
        let answer = h.call(h.signed(Method::POST, &format!("/api/customers/{customer}/erase"), "")).await;
        assert_eq!((answer.status, &answer.json), (StatusCode::OK, &json!({"erased": true})), "{customer}");
    }

    let after = dump().await;
    for personal in ["Mara.Jones@example.com", "mara.jones@example.com", "Marabel", "danforth@example.com", "Danforth"]
    {
        assert!(!after.contains(personal), "{personal} remains:\n{}", excerpt(&after, personal));
    }
    for hash in &hashes {
        assert!(!after.contains(hash.as_str()), "an identity hash remains:\n{}", excerpt(&after, hash));
    }
    let s = &h.system.ports.stores;
    let now = h.clock_now();
    assert!(
        s.clicks.touches(&TouchKey::Token(Token::parse(&token).unwrap()), now).await.unwrap().is_empty(),
        "her click rows are gone"
    );
    assert!(
        s.referrals.find(&IdentityKey::Customer(CustomerId::parse("c_mara").unwrap())).await.unwrap().is_none(),
        "no claim maps to her"
    );
    let rows = s.ledger.rows(&referral_id).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.reward.amount_minor).sum::<u64>(), 2000, "the amounts remain");
    assert!(rows.iter().all(|r| r.customer_id.as_str().starts_with("erased_")), "keyed by an opaque id: {rows:?}");
    let events = crate::conformance::eventually(
        || async { s.audit.events_for(referral_id.as_str()).await.unwrap() },
        |e| !e.is_empty(),
    )
    .await;
    let kinds: Vec<AuditKind> = events.iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&AuditKind::Attributed) && kinds.contains(&AuditKind::Paid),
        "the decisions remain: {kinds:?}"
    );
    let audit_text = serde_json::to_string(&events).unwrap();
    assert!(!audit_text.contains("c_mara") && !audit_text.contains("c_dan"), "the audit names nobody: {audit_text}");
}

fn excerpt(text: &str, needle: &str) -> String {
    text.lines().filter(|l| l.contains(needle)).take(3).collect::<Vec<_>>().join("\n")
}
