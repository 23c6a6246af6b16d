//! The referrer's stats, the referrer's page and the ops queue behind their signed links.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use rft_tests::harness::{Answer, Harness, token_of};

async fn get(h: &Harness, path: &str) -> Answer {
    h.call(Request::builder().uri(path).body(Body::empty()).unwrap()).await
}

async fn dan_and_mara(h: &Harness) -> String {
    let link = h.mint("c_dan", json!({"first_name": "Dan", "email": "dan@example.com"})).await;
    let code = link.json["code"].as_str().unwrap().to_owned();
    let click = h
        .call(
            Request::builder()
                .uri(format!("/r/{code}?ch=whatsapp"))
                .header("user-agent", "Mozilla/5.0")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token_of(&click)}))
        .await;
    h.click(&code, None).await;
    h.clock.advance(Duration::from_secs(60));
    h.convert("c_mara", "o_1").await;
    link.json["portal_url"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_held_conversion_counts_as_a_conversion_but_not_in_either_rate() {
    let h = Harness::local();
    let code = h.mint("c_dan", json!({})).await.json["code"].as_str().unwrap().to_owned();
    let click = h.click(&code, None).await;
    h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token_of(&click)}))
        .await;
    // Seconds after the click: held for a person (quick_conversion).
    h.convert("c_mara", "o_1").await;
    let stats = h.call(h.signed(Method::GET, "/api/referrers/c_dan/stats", "")).await;
    let s = &stats.json["stats"];
    assert_eq!((s["conversions"].as_u64(), s["held"].as_u64(), s["rewarded"].as_u64()), (Some(1), Some(1), Some(0)));
    assert_eq!((s["conversion_rate"].as_f64(), s["programme_conversion_rate"].as_f64()), (Some(0.0), Some(0.0)));
}

#[tokio::test]
async fn a_referrers_stats_are_computed_by_key() {
    let h = Harness::local();
    dan_and_mara(&h).await;
    let stats = h.call(h.signed(Method::GET, "/api/referrers/c_dan/stats", "")).await;
    assert_eq!(stats.status, StatusCode::OK, "{:?}", stats.json);
    let s = &stats.json["stats"];
    assert_eq!((s["clicks"].as_u64(), s["signups"].as_u64(), s["conversions"].as_u64()), (Some(2), Some(1), Some(1)));
    assert_eq!((s["pending"].as_u64(), s["held"].as_u64(), s["rewarded"].as_u64()), (Some(0), Some(0), Some(1)));
    assert_eq!(s["earned"], json!([{"currency": "GBP", "amount_minor": 1000, "formatted": "£10.00"}]));
    assert_eq!(s["conversion_rate"], 1.0);
    assert_eq!(s["programme_conversion_rate"], 1.0);
    assert_eq!(s["daily"].as_array().unwrap().len(), 30);
    assert_eq!(s["daily"][29], json!({"date": h.clock_now().date(), "clicks": 2, "conversions": 1}));
    let channels = s["channels"].as_array().unwrap();
    assert!(
        channels.contains(&json!({"channel": "whatsapp", "clicks": 1, "signups": 1, "conversions": 1})),
        "{channels:?}"
    );
    assert!(
        channels.contains(&json!({"channel": "direct", "clicks": 1, "signups": 0, "conversions": 0})),
        "{channels:?}"
    );
    assert_eq!(stats.json["terms"]["position"]["rewarded"], 1, "the tier ladder position");
    assert_eq!(stats.json["code"], h.mint("c_dan", json!({})).await.json["code"]);
    assert_eq!(h.call(h.signed(Method::GET, "/api/referrers/c_nobody/stats", "")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&h, "/api/referrers/c_dan/stats").await.status, StatusCode::UNAUTHORIZED, "signed");
}

#[tokio::test]
async fn the_portal_link_opens_that_referrers_page_and_nothing_else() {
    let h = Harness::local();
    let portal = dan_and_mara(&h).await;
    let path = portal.trim_start_matches("https://refer.freshbox.uk");
    assert!(path.starts_with("/me?customer=c_dan&exp="), "{portal}");
    let page = get(&h, path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let data = get(&h, &path.replace("/me?", "/me/data?")).await;
    assert_eq!(data.status, StatusCode::OK);
    assert_eq!(data.json["customer_id"], "c_dan");
    assert_eq!(data.json["first_name"], "Dan");
    assert_eq!(data.json["stats"]["rewarded"], 1);
    for forged in [path.replace("sig=", "sig=x"), path.replace("c_dan", "c_mara"), path.replace("exp=", "exp=9")] {
        assert_eq!(get(&h, &forged).await.status, StatusCode::FORBIDDEN, "{forged}");
        assert_eq!(get(&h, &forged.replace("/me?", "/me/data?")).await.json["error"], "forbidden");
    }
    let invite = |p: &str, body: serde_json::Value| {
        Request::builder()
            .method(Method::POST)
            .uri(p.replace("/me?", "/me/invites?"))
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let sent = h.call(invite(path, json!({"friend_email": "kim@example.com", "friend_name": "Kim"}))).await;
    assert_eq!((sent.status, &sent.json), (StatusCode::ACCEPTED, &json!({"status": "sent"})));
    assert!(h.messages.of_kind(rft_core::ports::MessageKind::Invite).iter().any(|m| m.to == "kim@example.com"));
    assert_eq!(h.call(invite(path, json!({"friend_email": "nope"}))).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        h.call(invite(&path.replace("sig=", "sig=x"), json!({"friend_email": "kim@example.com"}))).await.status,
        StatusCode::FORBIDDEN
    );
    h.clock.advance(Duration::from_secs(31 * 86_400));
    assert_eq!(get(&h, path).await.status, StatusCode::FORBIDDEN, "the link expires");
}

#[tokio::test]
async fn the_ops_queue_lists_held_and_flagged_referrals_with_working_links() {
    let h = Harness::local();
    h.mint("c_dan", json!({"identity": {"payment_fingerprint": "card_family"}})).await;
    let code = h.mint("c_dan", json!({})).await.json["code"].as_str().unwrap().to_owned();
    let token = token_of(&h.click(&code, None).await);
    h.signup(json!({"customer_id": "c_partner", "email": "p@example.com", "attribution_token": token, "identity": {"payment_fingerprint": "card_family"}})).await;
    let queue = rft_http::portal::ops_queue_path(&h.system.edge);
    assert_eq!(get(&h, &queue).await.status, StatusCode::OK);
    let data = get(&h, &queue.replace("/ops?", "/ops/data?")).await;
    let held = data.json["held"].as_array().unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["referred_id"], "c_partner");
    assert_eq!(held[0]["reasons"], json!(["identity_match"]));
    let approve = held[0]["approve_url"].as_str().unwrap();
    let confirm = get(&h, approve).await;
    assert_eq!(confirm.status, StatusCode::OK, "the queue's links open the confirm page");
    assert_eq!(data.json["refund_review"], json!([]));
    assert_eq!(get(&h, &queue.replace("sig=", "sig=x")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&h, &queue.replace("/ops?", "/ops/data?").replace("sig=", "sig=x")).await.status,
        StatusCode::FORBIDDEN
    );
    let portal = h.mint("c_dan", json!({})).await.json["portal_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("https://refer.freshbox.uk")
        .to_owned();
    let portal_as_queue = portal.replace("/me?", "/ops?");
    assert_eq!(get(&h, &portal_as_queue).await.status, StatusCode::FORBIDDEN, "a referrer's link is not an ops link");
}

#[tokio::test]
async fn every_email_is_email_safe_html_with_a_plain_text_part() {
    use rft_core::ports::MessageKind::*;
    let h = Harness::local();
    h.mint("c_dan", json!({"email": "dan@example.com", "identity": {"payment_fingerprint": "card_family"}})).await;
    dan_and_mara(&h).await;
    h.call(h.signed(
        Method::POST,
        "/api/invites",
        &json!({"customer_id": "c_dan", "friend_email": "kim@example.com"}).to_string(),
    ))
    .await;
    let code = h.mint("c_dan", json!({})).await.json["code"].as_str().unwrap().to_owned();
    let token = token_of(&h.click(&code, None).await);
    h.signup(json!({"customer_id": "c_partner", "email": "p@example.com", "attribution_token": token, "identity": {"payment_fingerprint": "card_family"}})).await;
    h.call(h.signed(
        Method::POST,
        "/webhooks/refund",
        &json!({"customer_id": "c_mara", "order_id": "o_1"}).to_string(),
    ))
    .await;
    h.settle().await;
    for kind in [Invite, InviteConfirmation, ThankYouReferrer, ThankYouFriend, HoldReview, RefundReview] {
        let sent = h.messages.of_kind(kind);
        assert!(!sent.is_empty(), "{kind:?} was sent");
        let m = &sent[0];
        assert!(m.body.len() > 20, "{kind:?} has a plain-text part");
        let html = m.html.as_deref().unwrap_or_else(|| panic!("{kind:?} has HTML"));
        assert!(
            html.contains("role=\"presentation\"") && html.contains("style=\"") && !html.contains("<style"),
            "{kind:?}: tables and inline styles"
        );
        assert!(html.contains("supported-color-schemes"), "{kind:?}: light and dark");
        assert!(!html.contains("<img"), "{kind:?}: text branding, no images");
    }
    let hold = &h.messages.of_kind(HoldReview)[0];
    assert!(hold.html.as_deref().unwrap().matches("/ops/referrals/").count() == 2, "approve and reject buttons");
}
