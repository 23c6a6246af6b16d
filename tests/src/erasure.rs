//! Erasure (docs/invariants.md, invariants 10, 12 and 13): after `POST /api/customers/{id}/erase`,
//! nothing stored carries the customer's email, name or click rows, their identity hashes remain
//! only as tombstone claims (fraud memory, naming no one), ledger amounts and audit decisions
//! remain under an opaque id, and nothing is sent to the store for them any more.

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
    let dan = json!({"customer_id": "c_dan", "first_name": "Danforth", "email": "danforth@example.com",
        "identity": dan_identity})
    .to_string();
    let minted = h.call(h.signed_as("msg_dan_link", Method::POST, "/api/links", &dan)).await;
    assert_eq!(minted.status, StatusCode::CREATED);
    // The answer, kept for replays, holds Dan's portal link (and could hold an invite naming him).
    let portal = minted.json["portal_url"].as_str().unwrap().to_owned();
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
    // Zola signs up with no touch and orders: nobody credited, her sign-up and order kept in the
    // audit so a person could credit them by hand.
    h.signup(json!({"customer_id": "c_zola", "email": "zola.private@example.com", "first_name": "Zolanda",
        "identity": {"payment_fingerprint": "card_zola_5150"}}))
        .await;
    h.clock.advance(Duration::from_secs(120));
    h.convert("c_mara", "o_1").await;
    h.convert("c_zola", "o_zola").await;
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
    let zola_card = hasher.hash(Field::Payment, "card_zola_5150").unwrap().as_str().to_owned();
    assert!(before.contains("Zolanda") && before.contains(&zola_card), "Zola's sign-up is kept for a credit by hand");

    for customer in ["c_mara", "c_dan", "c_zola", "c_nobody"] {
        let answer = h.call(h.signed(Method::POST, &format!("/api/customers/{customer}/erase"), "")).await;
        assert_eq!((answer.status, &answer.json), (StatusCode::OK, &json!({"erased": true})), "{customer}");
    }

    let after = dump().await;
    // Dan's stats under his opaque id still answer as documented: a code's invite is never empty.
    let dan_opaque = rft_core::service::erase::opaque_id(&hasher, &CustomerId::parse("c_dan").unwrap());
    let stats = h.call(h.signed(Method::GET, &format!("/api/referrers/{dan_opaque}/stats"), "")).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.json);
    let invite = stats.json["invite"].as_str().unwrap_or_default();
    assert!(invite.contains(&code) && !invite.contains("Danforth"), "{}", stats.json);
    // A replay of Dan's link request gets the same status, and no longer his link.
    let replayed = h.call(h.signed_as("msg_dan_link", Method::POST, "/api/links", &dan)).await;
    assert_eq!(replayed.status, StatusCode::CREATED);
    assert_eq!(replayed.json["status"], "already_handled", "{}", replayed.json);
    // Her click: its token and her browser's user agent (a store keeps its packed form, whose
    // readable tail is the device; DynamoDB seals it under a key only the token gives).
    assert!(before.contains(token.as_str()) && before.contains(&portal), "token and portal link readable before");
    for clicked in [token.as_str(), "iPhone OS 18_0", portal.as_str()] {
        assert!(!after.contains(clicked), "{clicked} remains:\n{}", excerpt(&after, clicked));
    }
    assert!(!after.contains(&zola_card), "Zola's card hash remains:\n{}", excerpt(&after, &zola_card));
    for personal in [
        "Mara.Jones@example.com",
        "mara.jones@example.com",
        "Marabel",
        "danforth@example.com",
        "Danforth",
        "zola.private@example.com",
        "Zolanda",
    ] {
        assert!(!after.contains(personal), "{personal} remains:\n{}", excerpt(&after, personal));
    }
    // Mara's claims stay as tombstones (her email, card and device hashes, naming only the
    // referral); every other copy of any hash is gone.
    let tombstones = [&hashes[3], &hashes[4], &hashes[6]];
    for hash in &hashes {
        for line in after.lines().filter(|l| l.contains(hash.as_str())) {
            if let Some(copy) = line.strip_prefix("backup ") {
                // A copy taken before erasure holds her claims as they were: the keyed hash, the
                // referral, the claimant's customer id (docs/reliability.md, "What a backup holds").
                assert!(
                    tombstones.contains(&hash) && copy.contains("claim#"),
                    "a hash in a backup outside a claim:\n{line}"
                );
                continue;
            }
            assert!(tombstones.contains(&hash), "an identity hash remains outside a tombstone:\n{line}");
            assert!(is_tombstone(line, &referral_id), "not a bare tombstone claim:\n{line}");
        }
    }
    for hash in tombstones {
        assert!(after.contains(hash.as_str()), "the tombstone for {hash} is kept");
    }
    let s = &h.system.ports.stores;
    let now = h.clock_now();
    assert!(
        s.clicks.touches(&TouchKey::Token(Token::parse(&token).unwrap()), now).await.unwrap().is_empty(),
        "her click rows are gone"
    );
    assert!(
        s.referrals.find(&IdentityKey::Customer(CustomerId::parse("c_mara").unwrap())).await.unwrap().is_none(),
        "no claim names her customer id"
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

/// A tombstone claim as each store dumps it: the claim key and its referral, no claimant.
fn is_tombstone(line: &str, referral: &ReferralId) -> bool {
    let dynamo = line.contains("claim#") && line.contains(referral.as_str()) && !line.contains("claimant");
    let local = line.starts_with('"') && line.contains(&format!("=> {:?}", referral.as_str()));
    (dynamo || local) && !line.contains("c_mara")
}

/// An erased friend who signs up again, with a new account but the same email and card, joins
/// their old referral (the tombstones hold it) and can never be paid twice.
pub async fn an_erased_friend_signing_up_again_joins_the_old_referral(h: Harness) {
    let mara = json!({"payment_fingerprint": "card_mara_1881", "device_id": "phone_mara_22"});
    let id = crate::rewards::referred(&h, "c_mara", mara.clone()).await;
    h.convert("c_mara", "o_1").await;
    assert_eq!(h.store.applied().len(), 2);
    h.call(h.signed(Method::POST, "/api/customers/c_mara/erase", "")).await;
    let code = h.mint("c_dan", json!({})).await.json["code"].as_str().unwrap().to_owned();
    let token = token_of(&h.click(&code, None).await);
    h.signup(json!({"customer_id": "c_mara_again", "email": "c_mara@example.com", "attribution_token": token, "identity": mara})).await;
    let again = h.referral("c_mara_again").await;
    assert_eq!(again.json["referral_id"], id.as_str(), "the new account joined the old referral");
    assert_eq!(again.json["state"], "rewarded");
    h.clock.advance(Duration::from_secs(120));
    h.convert("c_mara_again", "o_2").await;
    assert_eq!(h.store.applied().len(), 2, "never paid twice");
}

/// Erasing a referrer with a referral not yet paid forfeits their side (kept in the ledger,
/// never sent, no thank-you); the friend's side still pays. A side already owed but not yet
/// delivered is forfeited the same way.
pub async fn erasing_a_referrer_forfeits_their_unpaid_side(h: Harness) {
    let id = crate::rewards::referred(&h, "c_mara", json!({})).await;
    h.call(h.signed(Method::POST, "/api/customers/c_dan/erase", "")).await;
    h.convert("c_mara", "o_1").await;
    let referral = h.referral("c_mara").await;
    assert_eq!(referral.json["state"], "rewarded");
    let rows = h.system.ports.stores.ledger.rows(&ReferralId::parse(&id).unwrap()).await.unwrap();
    assert!(matches!(rows[0].fulfilment, rft_core::Fulfilment::Forfeited { .. }), "{rows:?}");
    assert!(rows[0].customer_id.as_str().starts_with("erased_"), "{rows:?}");
    assert_eq!(rows[0].reward.amount_minor, 1000, "the amount stays in the ledger");
    assert!(matches!(rows[1].fulfilment, rft_core::Fulfilment::Fulfilled { .. }), "{rows:?}");
    assert_eq!(h.store.applied(), [format!("{id}:friend")], "only the friend's side reached the store");
    assert!(h.messages.of_kind(rft_core::ports::MessageKind::ThankYouReferrer).is_empty());

    // Owed, the store down, then the referrer erased: the queued retry sends nothing for them.
    let id2 = crate::rewards::referred(&h, "c_kim", json!({})).await;
    h.store.set(crate::harness::StoreMode::FailNext(2));
    h.call(h.signed(
        Method::POST,
        "/webhooks/conversion",
        &json!({"customer_id": "c_kim", "order_id": "o_2", "amount_minor": 3999, "currency": "GBP"}).to_string(),
    ))
    .await;
    h.system.drain_rewards().await;
    h.call(h.signed(Method::POST, "/api/customers/c_dan/erase", "")).await;
    h.settle().await;
    let rows = h.system.ports.stores.ledger.rows(&ReferralId::parse(&id2).unwrap()).await.unwrap();
    assert!(matches!(rows[0].fulfilment, rft_core::Fulfilment::Forfeited { .. }), "{rows:?}");
    assert!(matches!(rows[1].fulfilment, rft_core::Fulfilment::Fulfilled { .. }), "{rows:?}");
    assert!(!h.store.applied().contains(&format!("{id2}:referrer")), "nothing sent under the opaque id");
}

fn excerpt(text: &str, needle: &str) -> String {
    text.lines().filter(|l| l.contains(needle)).take(3).collect::<Vec<_>>().join("\n")
}
