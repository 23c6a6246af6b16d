//! Lifecycle scenarios from the FreshBox story, written once and run on every store.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;

use rft_core::ports::MessageKind;

use crate::harness::{Harness, token_of};

fn code(answer: &crate::harness::Answer) -> String {
    answer.json["code"].as_str().expect("a code").to_owned()
}

/// Mara clicks Dan's link, later Sam's, then signs up with her token: Sam, the last touch, is
/// credited, and the referral is pending with Sam's pinned terms.
pub async fn last_touch_wins(h: Harness) {
    let dan = code(&h.mint("c_dan", json!({"first_name": "Dan"})).await);
    let sam = code(&h.mint("c_sam", json!({"first_name": "Sam"})).await);
    let token = token_of(&h.click(&dan, None).await);
    h.clock.advance(Duration::from_secs(2 * 86_400));
    h.click(&sam, Some(&token)).await;
    h.clock.advance(Duration::from_secs(86_400));
    let signup = h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "first_name": "Mara", "attribution_token": token})).await;
    assert_eq!(signup.status, StatusCode::ACCEPTED);
    let referral = h.referral("c_mara").await;
    assert_eq!(referral.status, StatusCode::OK, "{:?}", referral.json);
    assert_eq!(referral.json["referrer_id"], "c_sam");
    assert_eq!(referral.json["code"], sam);
    assert_eq!(referral.json["state"], "pending");
    assert_eq!(referral.json["method"], "token");
    assert_eq!(referral.json["terms"]["referrer_reward"]["amount_minor"], 1000);
    assert_eq!(referral.json["reasons"], json!([]));
}

/// With a two-second window, a click three seconds before the sign-up credits nobody.
pub async fn an_expired_click_credits_nobody(h: Harness) {
    let dan = code(&h.mint("c_dan", json!({})).await);
    let token = token_of(&h.click(&dan, None).await);
    h.clock.advance(Duration::from_secs(3));
    h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token})).await;
    assert_eq!(h.referral("c_mara").await.status, StatusCode::NOT_FOUND);
    // Inside the window it would have counted.
    let token = token_of(&h.click(&dan, None).await);
    h.clock.advance(Duration::from_secs(1));
    h.signup(json!({"customer_id": "c_kim", "email": "kim@example.com", "attribution_token": token})).await;
    let kim = h.referral("c_kim").await;
    assert_eq!(kim.json["referrer_id"], "c_dan", "{kim:?}");
}

/// A code retired between the click and the sign-up credits nobody.
pub async fn a_retired_code_credits_nobody(h: Harness) {
    let dan = code(&h.mint("c_dan", json!({})).await);
    let token = token_of(&h.click(&dan, None).await);
    let retired = h.call(h.signed(Method::POST, &format!("/api/codes/{dan}/retire"), "")).await;
    assert_eq!(retired.status, StatusCode::OK);
    h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token})).await;
    assert_eq!(h.referral("c_mara").await.status, StatusCode::NOT_FOUND);
    let audit = h.system.ports.stores.audit.events_for("c_mara").await.unwrap();
    assert_eq!(audit.last().map(|e| e.facts["reason"].clone()), Some(json!("retired_code")));
}

/// The same person signing up again under another email with the same card joins the first
/// referral: one referral, which can never pay twice.
pub async fn one_person_one_referral(h: Harness) {
    let dan = code(&h.mint("c_dan", json!({})).await);
    let token = token_of(&h.click(&dan, None).await);
    h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token, "identity": {"payment_fingerprint": "card_mara"}})).await;
    let first = h.referral("c_mara").await.json["referral_id"].clone();
    let token2 = token_of(&h.click(&dan, None).await);
    h.signup(json!({"customer_id": "c_mara2", "email": "m.jones@example.org", "attribution_token": token2, "identity": {"payment_fingerprint": "card_mara"}})).await;
    let second = h.referral("c_mara2").await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.json["referral_id"], first, "the second account resolves to the first referral");
    // And through the Gmail spelling of the same address.
    h.signup(json!({"customer_id": "c_mara3", "email": "M.ara+again@googlemail.com", "attribution_token": token2}))
        .await;
    h.signup(json!({"customer_id": "c_mara4", "email": "mara@gmail.com", "attribution_token": token2})).await;
    assert_eq!(h.referral("c_mara4").await.json["referral_id"], h.referral("c_mara3").await.json["referral_id"]);
}

/// Dan invites Mara by email; she signs up with another spelling of that address and no
/// token: the invite is her touch.
pub async fn an_email_invite_attributes(h: Harness) {
    h.mint("c_dan", json!({"first_name": "Dan", "email": "dan@example.com"})).await;
    let invite =
        json!({"customer_id": "c_dan", "friend_email": "Mara.Jones@gmail.com", "friend_name": "Mara"}).to_string();
    assert_eq!(h.call(h.signed(Method::POST, "/api/invites", &invite)).await.status, StatusCode::ACCEPTED);
    assert_eq!(h.messages.of_kind(MessageKind::Invite)[0].to, "Mara.Jones@gmail.com");
    h.clock.advance(Duration::from_secs(3600));
    h.signup(json!({"customer_id": "c_mara", "email": "marajones+box@googlemail.com"})).await;
    let referral = h.referral("c_mara").await;
    assert_eq!(referral.json["referrer_id"], "c_dan");
    assert_eq!(referral.json["method"], "email");
}

/// A code typed at sign-up counts as a touch at sign-up time, and beats an older click.
pub async fn a_typed_code_attributes(h: Harness) {
    let dan = code(&h.mint("c_dan", json!({})).await);
    let sam = code(&h.mint("c_sam", json!({})).await);
    let token = token_of(&h.click(&dan, None).await);
    h.clock.advance(Duration::from_secs(60));
    h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token, "code": format!(" {} ", sam.to_lowercase())})).await;
    let referral = h.referral("c_mara").await;
    assert_eq!(referral.json["referrer_id"], "c_sam");
    assert_eq!(referral.json["method"], "code");
}

/// Dan signs up a second account from his own phone with his own card under a new email: the
/// screen blocks it before a penny moves, the team is not asked, and Dan is not told.
pub async fn a_self_referral_is_blocked(h: Harness) {
    let identity = json!({"payment_fingerprint": "card_dan", "device_id": "phone_dan"});
    let dan = code(&h.mint("c_dan", json!({"email": "dan@example.com", "identity": identity})).await);
    let token = token_of(&h.click(&dan, None).await);
    h.signup(json!({"customer_id": "c_dan_alt", "email": "danny@example.net", "attribution_token": token, "identity": identity})).await;
    let referral = h.referral("c_dan_alt").await;
    assert_eq!(referral.json["state"], "blocked");
    assert_eq!(referral.json["reasons"], json!(["same_payment_and_device"]));
    h.clock.advance(Duration::from_secs(3600));
    h.convert("c_dan_alt", "o_1").await;
    assert_eq!(h.referral("c_dan_alt").await.json["state"], "blocked");
    assert!(h.store.applied().is_empty(), "nothing is paid");
    assert!(
        h.messages.sent().iter().all(|m| m.to != "danny@example.net" && m.to != "dan@example.com"),
        "no message to the customer"
    );
}

/// With the fingerprint fallback on, a sign-up with no touch from the browser that clicked
/// (same IP and user agent) is attributed, method `fingerprint`, and always held.
pub async fn the_fingerprint_fallback_holds_its_matches(h: Harness) {
    let dan = code(&h.mint("c_dan", json!({})).await);
    h.click(&dan, None).await;
    h.clock.advance(Duration::from_secs(3600));
    let identity = json!({"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)"});
    h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "identity": identity})).await;
    let referral = h.referral("c_mara").await;
    if h.system.edge.settings.attribution.fingerprint_fallback {
        assert_eq!(referral.json["method"], "fingerprint");
        assert_eq!(referral.json["state"], "held");
        assert_eq!(referral.json["reasons"], json!(["fingerprint_match"]));
    } else {
        assert_eq!(referral.status, StatusCode::NOT_FOUND, "off by default: no touch, no referral");
    }
}

/// A single strong match (the referrer's card) holds the referral and emails the team once,
/// with the two ops links.
pub async fn a_partial_match_is_held_for_the_team(h: Harness) {
    let dan = code(&h.mint("c_dan", json!({"identity": {"payment_fingerprint": "card_shared"}})).await);
    let token = token_of(&h.click(&dan, None).await);
    h.signup(json!({"customer_id": "c_partner", "email": "partner@example.com", "attribution_token": token, "identity": {"payment_fingerprint": "card_shared"}})).await;
    let referral = h.referral("c_partner").await;
    assert_eq!(referral.json["state"], "held");
    assert_eq!(referral.json["reasons"], json!(["identity_match"]));
    let holds = h.messages.of_kind(MessageKind::HoldReview);
    assert_eq!(holds.len(), 1);
    assert_eq!(holds[0].to, "referrals@freshbox.uk");
    let id = referral.json["referral_id"].as_str().unwrap();
    assert!(holds[0].body.contains(&format!("https://refer.freshbox.uk/ops/referrals/{id}/approve?exp=")));
    assert!(holds[0].body.contains(&format!("/ops/referrals/{id}/reject?exp=")));
    // A redelivered sign-up does not email again.
    h.signup(json!({"customer_id": "c_partner", "email": "partner@example.com", "attribution_token": token})).await;
    assert_eq!(h.messages.of_kind(MessageKind::HoldReview).len(), 1);
}

/// The same scenario with the fallback switched on in settings.
pub async fn the_fingerprint_fallback_holds_its_matches_when_on(h: Harness) {
    assert!(h.system.edge.settings.attribution.fingerprint_fallback);
    the_fingerprint_fallback_holds_its_matches(h).await
}

/// The velocity rules and the disposable-domain rule hold at one over their thresholds (set low
/// here), and a code-velocity hold flags the code for a person.
pub async fn velocity_and_disposable_rules_hold(h: Harness) {
    let dan = code(&h.mint("c_dan", json!({})).await);
    let signup = |n: usize, ip: &str, domain: &str| json!({"customer_id": format!("c_{n}"), "email": format!("friend{n}@{domain}"), "code": dan.clone(), "identity": {"ip": ip}});
    h.signup(signup(1, "198.51.100.1", "example.com")).await;
    assert_eq!(h.referral("c_1").await.json["state"], "pending");
    h.signup(signup(2, "198.51.100.1", "example.com")).await;
    assert_eq!(
        h.referral("c_2").await.json["reasons"],
        json!(["ip_signup_velocity"]),
        "two sign-ups from one IP, limit 1"
    );
    h.signup(signup(3, "198.51.100.3", "example.com")).await;
    assert_eq!(
        h.referral("c_3").await.json["reasons"],
        json!(["code_signup_velocity"]),
        "three sign-ups on one code, limit 2"
    );
    let flagged = crate::conformance::eventually(
        || async {
            h.system
                .ports
                .stores
                .audit
                .events_for(&dan)
                .await
                .unwrap()
                .iter()
                .filter(|e| e.kind == rft_core::AuditKind::CodeFlagged)
                .count()
        },
        |n| *n >= 1,
    )
    .await;
    assert_eq!(flagged, 1, "the code is flagged");
    assert_eq!(h.referral("c_1").await.json["reasons"], json!(["code_flagged"]), "its pending referral is held");
    h.clock.advance(Duration::from_secs(2 * 86_400));
    h.signup(signup(4, "198.51.100.4", "mailinator.com")).await;
    assert_eq!(h.referral("c_4").await.json["reasons"], json!(["disposable_email", "code_flagged"]));
    h.signup(signup(5, "198.51.100.5", "example.org")).await;
    assert_eq!(h.referral("c_5").await.json["reasons"], json!(["code_flagged"]), "held while the code is flagged");
    let clear = rft_core::jobs::ClearFlagJob { code: rft_core::Code::parse(&dan).unwrap(), decided_at: h.clock_now() };
    h.system.rewarder.handle(rft_core::Job::ClearFlag(clear)).await.unwrap();
    h.settle().await;
    assert_eq!(h.referral("c_5").await.json["state"], "pending", "below every threshold again once cleared");
    assert_eq!(h.referral("c_4").await.json["reasons"], json!(["disposable_email"]), "its own rule still holds it");
}
