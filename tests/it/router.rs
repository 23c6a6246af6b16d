//! The HTTP surface driven without a socket: every route, and every error a caller can cause.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use rft_core::click::TouchKey;
use rft_core::identity::Field;
use rft_core::ports::{JobQueue, MessageKind, Stores};
use rft_core::secrets::SecretSet;
use rft_core::signature::Signer;
use rft_core::{Clock, Job, Token};
use rft_tests::harness::{BrokenQueue, Harness, settings_with, token_of};

fn code_of(answer: &rft_tests::harness::Answer) -> String {
    answer.json["code"].as_str().expect("a code").to_owned()
}

// ---- the redirect ---------------------------------------------------------------------------

#[tokio::test]
async fn a_live_code_redirects_with_token_utm_and_cookie_and_logs_one_click() {
    let h = Harness::local();
    let code = code_of(&h.mint("c_dan", json!({})).await);
    let answer = h.click(&code.to_lowercase(), None).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    let token = token_of(&answer);
    assert_eq!(
        answer.header("location").unwrap(),
        format!("https://freshbox.uk/signup?rft={token}&utm_source=referral&utm_medium=referral&utm_campaign={code}")
    );
    assert_eq!(
        answer.header("set-cookie").unwrap(),
        format!("rft={token}; Max-Age=2592000; Path=/; Secure; HttpOnly; SameSite=Lax; Domain=.freshbox.uk")
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let clicks = h
        .system
        .ports
        .stores
        .clicks
        .touches(&TouchKey::Token(Token::parse(&token).unwrap()), h.clock.now())
        .await
        .unwrap();
    assert_eq!(clicks.len(), 1);
    assert_eq!(clicks[0].code.as_str(), code);
    let expected_ip = rft_core::IdentityHasher::new(h.secrets.identity.clone()).hash(Field::Ip, "203.0.113.7");
    assert_eq!(clicks[0].ip_hash, expected_ip, "the IP is stored hashed");
    assert!(!serde_json::to_string(&clicks[0]).unwrap().contains("203.0.113.7"), "never in clear");
}

#[tokio::test]
async fn the_landing_urls_own_query_is_kept_and_the_channel_recorded() {
    let h = Harness::local_with(settings_with(&[("landing_url", "\"https://freshbox.uk/signup?plan=weekly\"")]));
    let code = code_of(&h.mint("c_dan", json!({})).await);
    let mut request = Request::builder().uri(format!("/r/{code}?ch=WhatsApp")).body(Body::empty()).unwrap();
    request.extensions_mut().insert(rft_http::ClientIp("198.51.100.1".parse().unwrap()));
    let answer = h.call(request).await;
    let location = answer.header("location").unwrap();
    assert!(location.starts_with("https://freshbox.uk/signup?plan=weekly&rft="), "{location}");
    let token = Token::parse(&token_of(&answer)).unwrap();
    let clicks = h.system.ports.stores.clicks.touches(&TouchKey::Token(token), h.clock.now()).await.unwrap();
    assert_eq!(clicks[0].channel.as_deref(), Some("whatsapp"));
}

#[tokio::test]
async fn a_returning_visitor_keeps_their_token_and_the_newest_click_is_first() {
    let h = Harness::local();
    let dan = code_of(&h.mint("c_dan", json!({})).await);
    let sam = code_of(&h.mint("c_sam", json!({})).await);
    let first = token_of(&h.click(&dan, None).await);
    h.clock.advance(Duration::from_secs(60));
    let second = h.click(&sam, Some(&first)).await;
    assert_eq!(token_of(&second), first, "the cookie's token is reused");
    let clicks = h
        .system
        .ports
        .stores
        .clicks
        .touches(&TouchKey::Token(Token::parse(&first).unwrap()), h.clock.now())
        .await
        .unwrap();
    let codes: Vec<&str> = clicks.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, [sam.as_str(), dan.as_str()]);
}

#[tokio::test]
async fn unknown_malformed_and_retired_codes_go_to_the_fallback_without_a_cookie() {
    let h = Harness::local();
    let code = code_of(&h.mint("c_dan", json!({})).await);
    // Cached as live by a click first: retiring here must still take effect at once.
    assert!(h.click(&code, None).await.header("set-cookie").is_some());
    let retire = h.call(h.signed(Method::POST, &format!("/api/codes/{code}/retire"), "")).await;
    assert_eq!(retire.status, StatusCode::OK);
    for path in [
        format!("/r/{code}"),
        "/r/ZZZZZZ".into(),
        "/r/0OO0".into(),
        "/r/".into(),
        "/r/7QK2A9/extra".into(),
        "/r/%00%0d%0aSet-Cookie:%20x=1".into(),
        "/r/https:%2F%2Fevil.example".into(),
        "/r/..%2F..%2Fadmin".into(),
    ] {
        let answer = h.call(Request::builder().uri(path.as_str()).body(Body::empty()).unwrap()).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{path}");
        assert_eq!(answer.header("location"), Some("https://freshbox.uk/"), "{path}");
        assert_eq!(answer.header("set-cookie"), None, "{path}");
        assert_eq!(answer.header("cache-control"), Some("no-store"), "{path}");
    }
    assert_eq!(
        h.system.edge.redirector.counts.logged.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "only the click before retiring"
    );
}

#[tokio::test]
async fn head_requests_and_preview_bots_get_the_redirect_but_log_nothing() {
    let h = Harness::local();
    let code = code_of(&h.mint("c_dan", json!({})).await);
    let head =
        h.call(Request::builder().method(Method::HEAD).uri(format!("/r/{code}")).body(Body::empty()).unwrap()).await;
    assert_eq!(head.status, StatusCode::FOUND);
    assert!(head.header("location").unwrap().starts_with("https://freshbox.uk/signup?rft="));
    for ua in [
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0",
        "facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "TelegramBot (like TwitterBot)",
        "LinkedInBot/1.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Twitterbot/1.0",
    ] {
        let answer = h
            .call(Request::builder().uri(format!("/r/{code}")).header("user-agent", ua).body(Body::empty()).unwrap())
            .await;
        assert_eq!(answer.status, StatusCode::FOUND, "{ua}");
    }
    let counts = &h.system.edge.redirector.counts;
    assert_eq!(counts.logged.load(std::sync::atomic::Ordering::Relaxed), 0, "no clicks logged");
    assert_eq!(counts.bots.load(std::sync::atomic::Ordering::Relaxed), 8);
}

/// Clicks that cannot be written (reads go to the real store).
struct BrokenClicks(Arc<dyn rft_core::ports::ClickStore>);

#[async_trait::async_trait]
impl rft_core::ports::ClickStore for BrokenClicks {
    async fn record(&self, _click: &rft_core::Click) -> Result<(), rft_core::ports::StoreError> {
        Err(rft_core::ports::StoreError::unavailable("log a click", "disk full"))
    }
    async fn touches(
        &self,
        key: &TouchKey,
        now: rft_core::Timestamp,
    ) -> Result<Vec<rft_core::Click>, rft_core::ports::StoreError> {
        self.0.touches(key, now).await
    }
    async fn forget(&self, key: &TouchKey) -> Result<usize, rft_core::ports::StoreError> {
        self.0.forget(key).await
    }
    async fn latest_from_browser(
        &self,
        b: &rft_core::IdentityHash,
        s: rft_core::Timestamp,
        n: rft_core::Timestamp,
    ) -> Result<Option<rft_core::Click>, rft_core::ports::StoreError> {
        self.0.latest_from_browser(b, s, n).await
    }
}

#[tokio::test]
async fn the_redirect_is_served_when_click_logging_fails() {
    let store = Arc::new(rft_local::LocalStore::in_memory());
    let mut stores = Stores::from_backend(store.clone());
    stores.clicks = Arc::new(BrokenClicks(stores.clicks.clone()));
    let h = Harness::new(stores, settings_with(&[]));
    let code = code_of(&h.mint("c_dan", json!({})).await);
    let answer = h.click(&code, None).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert!(answer.header("location").unwrap().starts_with("https://freshbox.uk/signup?rft="));
    assert_eq!(h.system.edge.redirector.counts.log_failed.load(std::sync::atomic::Ordering::Relaxed), 1);
}

// ---- signatures -----------------------------------------------------------------------------

fn with_headers(id: &str, ts: i64, sig: &str, path: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn bad_missing_stale_future_and_truncated_signatures_are_401() {
    let h = Harness::local();
    let body = r#"{"customer_id":"c_dan"}"#;
    let now = h.clock.now().as_secs();
    let good = h.signer.sign("msg_1", now, body.as_bytes()).unwrap();
    let [s, o, k, i] = SecretSet::generate_parts();
    let stranger = Signer::new(&SecretSet::from_parts(&s, &o, &k, &i).unwrap().signing);
    let cases = [
        ("no headers", Request::builder().method(Method::POST).uri("/api/links").body(Body::from(body)).unwrap()),
        (
            "other key",
            with_headers("msg_1", now, &stranger.sign("msg_1", now, body.as_bytes()).unwrap(), "/api/links", body),
        ),
        (
            "stale",
            with_headers(
                "msg_1",
                now - 301,
                &h.signer.sign("msg_1", now - 301, body.as_bytes()).unwrap(),
                "/api/links",
                body,
            ),
        ),
        (
            "future",
            with_headers(
                "msg_1",
                now + 301,
                &h.signer.sign("msg_1", now + 301, body.as_bytes()).unwrap(),
                "/api/links",
                body,
            ),
        ),
        ("truncated", with_headers("msg_1", now, &good[..good.len() - 4], "/api/links", body)),
        ("tampered body", with_headers("msg_1", now, &good, "/api/links", r#"{"customer_id":"c_eve"}"#)),
        ("other id", with_headers("msg_2", now, &good, "/api/links", body)),
        ("bad version", with_headers("msg_1", now, &good.replace("v1,", "v2,"), "/api/links", body)),
    ];
    for (name, request) in cases {
        let answer = h.call(request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(answer.json["error"], "invalid_signature", "{name}");
        assert!(answer.json["message"].as_str().unwrap().len() > 5, "{name}");
    }
    let ok = h.call(with_headers("msg_1", now, &format!("v1,AAAA {good}"), "/api/links", body)).await;
    assert_eq!(ok.status, StatusCode::CREATED, "one good signature among several is enough");
}

#[tokio::test]
async fn a_rotated_key_is_accepted_alongside_the_old_one() {
    let [old, o, k, i] = SecretSet::generate_parts();
    let new = SecretSet::generate_parts()[0].clone();
    let both = SecretSet::from_parts(&format!("{new} {old}"), &o, &k, &i).unwrap();
    let store_side_old = Signer::new(&SecretSet::from_parts(&old, &o, &k, &i).unwrap().signing);
    let mut h = Harness::local();
    let ports = h.system.ports.clone();
    h.system = rft_local::system::System::assemble(h.system.edge.settings.clone(), &both, ports);
    h.signer = store_side_old;
    assert_eq!(h.mint("c_dan", json!({})).await.status, StatusCode::CREATED);
    h.signer = Signer::new(&SecretSet::from_parts(&new, &o, &k, &i).unwrap().signing);
    assert_eq!(h.mint("c_sam", json!({})).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn oversized_bodies_are_413_and_bad_json_400() {
    let h = Harness::local();
    let big = format!(r#"{{"customer_id":"c","pad":"{}"}}"#, "x".repeat(64 * 1024));
    let answer = h.call(h.signed(Method::POST, "/api/links", &big)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json["error"], "body_too_large");
    let answer = h.call(h.signed(Method::POST, "/api/links", "{not json")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json["error"], "invalid_json");
    let answer = h.call(h.signed(Method::POST, "/webhooks/signup", "[]")).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn each_invalid_field_is_422_naming_it() {
    let h = Harness::local();
    let long = "x".repeat(129);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/api/links", json!({}), "customer_id is required"),
        ("/api/links", json!({"customer_id": ""}), "customer_id:"),
        ("/api/links", json!({"customer_id": long}), "customer_id:"),
        ("/api/links", json!({"customer_id": 7}), "customer_id:"),
        ("/api/links", json!({"customer_id": "c", "email": "dan"}), "email:"),
        ("/api/links", json!({"customer_id": "c", "first_name": "x".repeat(101)}), "first_name:"),
        ("/api/links", json!({"customer_id": "c", "identity": {"device_id": "x".repeat(513)}}), "identity.device_id"),
        ("/api/links", json!({"customer_id": "c", "identity": "phone"}), "identity:"),
        ("/api/invites", json!({"customer_id": "c", "friend_email": "nope"}), "friend_email:"),
        ("/api/invites", json!({"friend_email": "a@b.co"}), "customer_id is required"),
        ("/webhooks/signup", json!({"customer_id": "c"}), "email is required"),
        (
            "/webhooks/signup",
            json!({"customer_id": "c", "email": "a@b.co", "occurred_at": "yesterday"}),
            "occurred_at:",
        ),
        (
            "/webhooks/conversion",
            json!({"customer_id": "c", "amount_minor": 5, "currency": "GBP"}),
            "order_id is required",
        ),
        (
            "/webhooks/conversion",
            json!({"customer_id": "c", "order_id": "o", "amount_minor": -5, "currency": "GBP"}),
            "amount_minor:",
        ),
        (
            "/webhooks/conversion",
            json!({"customer_id": "c", "order_id": "o", "amount_minor": 5_000_000_000u64, "currency": "GBP"}),
            "amount_minor:",
        ),
        (
            "/webhooks/conversion",
            json!({"customer_id": "c", "order_id": "o", "amount_minor": 5, "currency": "POUND"}),
            "currency:",
        ),
        ("/webhooks/refund", json!({"customer_id": "c"}), "order_id is required"),
    ];
    for (path, body, expected) in cases {
        let answer = h.call(h.signed(Method::POST, path, &body.to_string())).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}");
        assert_eq!(answer.json["error"], "invalid_field", "{path} {body}");
        let message = answer.json["message"].as_str().unwrap();
        assert!(message.contains(expected), "{path} {body}: {message}");
    }
}

// ---- replays ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_replayed_webhook_id_gets_the_same_answer_and_does_nothing_again() {
    let h = Harness::local();
    h.mint("c_dan", json!({"email": "dan@example.com"})).await;
    let body = json!({"customer_id": "c_dan", "friend_email": "mara@example.com", "friend_name": "Mara"}).to_string();
    let first = h.call(h.signed_as("msg_invite_1", Method::POST, "/api/invites", &body)).await;
    h.clock.advance(Duration::from_secs(30));
    let again = h.call(h.signed_as("msg_invite_1", Method::POST, "/api/invites", &body)).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!((again.status, &again.json), (first.status, &first.json));
    assert_eq!(again.header("webhook-replayed"), Some("true"));
    assert_eq!(h.messages.of_kind(MessageKind::Invite).len(), 1, "one invite email, not two");

    let signup = json!({"customer_id": "c_mara", "email": "mara@example.com"}).to_string();
    for _ in 0..3 {
        let a = h.call(h.signed_as("msg_signup_1", Method::POST, "/webhooks/signup", &signup)).await;
        assert_eq!(a.status, StatusCode::ACCEPTED);
    }
    let queued = h.system.ports.signup_jobs.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(queued.len(), 1, "one job for three deliveries");
}

#[tokio::test]
async fn a_webhook_that_cannot_be_queued_is_503_and_its_retry_goes_through() {
    let store = Arc::new(rft_local::LocalStore::in_memory());
    let clock: Arc<dyn rft_core::Clock> = Arc::new(rft_core::time::SystemClock);
    let working: Arc<dyn JobQueue> = Arc::new(rft_local::LocalQueue::new((*store).clone(), "q", clock));
    let mut h =
        Harness::with_queues(Stores::from_backend(store), Arc::new(BrokenQueue), working.clone(), settings_with(&[]));
    let body = json!({"customer_id": "c_mara", "email": "mara@example.com"}).to_string();
    let down = h.call(h.signed_as("msg_s1", Method::POST, "/webhooks/signup", &body)).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.json["error"], "unavailable");
    // The queue comes back; the store retries with the same webhook-id.
    let ports = rft_local::system::Ports { signup_jobs: working.clone(), ..h.system.ports.clone() };
    h.system = rft_local::system::System::assemble(h.system.edge.settings.clone(), &h.secrets, ports);
    let retried = h.call(h.signed_as("msg_s1", Method::POST, "/webhooks/signup", &body)).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "a 5xx is not remembered");
    let jobs = working.receive(10, Duration::from_secs(30)).await.unwrap();
    assert!(matches!(&jobs[0].job, Job::Signup(s) if s.customer_id.as_str() == "c_mara"));
}

// ---- routes -----------------------------------------------------------------------------------

#[tokio::test]
async fn minting_is_201_then_200_with_the_same_code_and_the_contract_fields() {
    let h = Harness::local();
    let first = h
        .mint(
            "c_dan",
            json!({"first_name": "Dan", "email": "dan@example.com", "identity": {"payment_fingerprint": "card_1"}}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let code = code_of(&first);
    assert_eq!(first.json["url"], format!("https://refer.freshbox.uk/r/{code}"));
    assert_eq!(first.json["status"], "active");
    assert_eq!(first.json["terms"]["window_secs"], 2_592_000);
    assert_eq!(
        first.json["terms"]["referrer_reward"],
        json!({"kind": "credit", "amount_minor": 1000, "currency": "GBP", "description": "£10 off your next box"})
    );
    assert_eq!(first.json["terms"]["friend_reward"]["kind"], "discount");
    assert!(first.json["invite"].as_str().unwrap().contains(&format!("https://refer.freshbox.uk/r/{code}")));
    let again = h.mint("c_dan", json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(code_of(&again), code);
    let stored = h.system.ports.stores.codes.get(&rft_core::Code::parse(&code).unwrap()).await.unwrap().unwrap();
    assert!(stored.referrer.identity.payment.is_some(), "the referrer's card is kept hashed for the screen");
    assert!(!serde_json::to_string(&stored).unwrap().contains("card_1"));
}

#[tokio::test]
async fn retiring_is_200_unknown_codes_404_and_a_fresh_mint_follows() {
    let h = Harness::local();
    let code = code_of(&h.mint("c_dan", json!({})).await);
    let retired = h.call(h.signed(Method::POST, &format!("/api/codes/{code}/retire"), "")).await;
    assert_eq!(retired.status, StatusCode::OK);
    assert_eq!(retired.json["status"], "retired");
    for path in ["/api/codes/ZZZZZZ/retire", "/api/codes/bad!/retire"] {
        let missing = h.call(h.signed(Method::POST, path, "")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(missing.json["error"], "not_found");
    }
    let fresh = h.mint("c_dan", json!({})).await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    assert_ne!(code_of(&fresh), code);
}

#[tokio::test]
async fn invites_need_an_active_code_and_stop_at_twenty_a_day() {
    let h = Harness::local();
    let invite = |n: usize| {
        json!({"customer_id": "c_dan", "friend_email": format!("friend{n}@example.com"), "friend_name": "Mara"})
            .to_string()
    };
    let none = h.call(h.signed(Method::POST, "/api/invites", &invite(0))).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    h.mint("c_dan", json!({"first_name": "Dan", "email": "dan@example.com"})).await;
    for n in 1..=20 {
        let sent = h.call(h.signed(Method::POST, "/api/invites", &invite(n))).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "invite {n}");
        assert_eq!(sent.json, json!({"status": "sent"}));
    }
    let over = h.call(h.signed(Method::POST, "/api/invites", &invite(21))).await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(over.json["error"], "invite_limit");
    let invites = h.messages.of_kind(MessageKind::Invite);
    assert_eq!(invites.len(), 20);
    assert_eq!(invites[0].to, "friend1@example.com");
    assert!(invites[0].subject.contains("Dan"));
    assert!(invites[0].html.as_deref().unwrap().contains("<table"));
    let confirmations = h.messages.of_kind(MessageKind::InviteConfirmation);
    assert_eq!(confirmations.len(), 20);
    assert_eq!(confirmations[0].to, "dan@example.com");
    assert!(confirmations[0].subject.contains("Mara") && confirmations[0].body.contains("Mara"), "it names the friend");
    let html = confirmations[0].html.as_deref().unwrap();
    assert!(html.contains("<table") && html.contains("style=") && html.contains("color-scheme"), "email-safe HTML");
    assert!(
        confirmations[0].body.contains("£10 off your next box")
            && confirmations[0].body.contains("£10 off your first box")
    );
    h.clock.advance(Duration::from_secs(86_400));
    assert_eq!(
        h.call(h.signed(Method::POST, "/api/invites", &invite(22))).await.status,
        StatusCode::ACCEPTED,
        "a new day"
    );
}

#[tokio::test]
async fn webhooks_are_queued_with_identity_hashed() {
    let h = Harness::local();
    let signup = json!({"customer_id": "c_mara", "email": "Mara@Example.com", "identity": {"payment_fingerprint": "card_secret", "ip": "192.0.2.1"}}).to_string();
    assert_eq!(h.call(h.signed(Method::POST, "/webhooks/signup", &signup)).await.status, StatusCode::ACCEPTED);
    let conversion = json!({"customer_id": "c_mara", "order_id": "o_1", "amount_minor": 3999, "currency": "gbp", "payment_fingerprint": "card_secret"}).to_string();
    let answer = h.call(h.signed(Method::POST, "/webhooks/conversion", &conversion)).await;
    assert_eq!((answer.status, answer.json), (StatusCode::ACCEPTED, json!({"status": "queued"})));
    let refund =
        json!({"customer_id": "c_mara", "order_id": "o_1", "occurred_at": "2026-07-04T10:00:00+01:00"}).to_string();
    assert_eq!(h.call(h.signed(Method::POST, "/webhooks/refund", &refund)).await.status, StatusCode::ACCEPTED);
    let signups = h.system.ports.signup_jobs.receive(10, Duration::from_secs(30)).await.unwrap();
    let rewards = h.system.ports.reward_jobs.receive(10, Duration::from_secs(30)).await.unwrap();
    let all = serde_json::to_string(&(
        signups.iter().map(|d| &d.job).collect::<Vec<_>>(),
        rewards.iter().map(|d| &d.job).collect::<Vec<_>>(),
    ))
    .unwrap();
    assert!(!all.contains("card_secret") && !all.contains("192.0.2.1"), "identity fields are hashed before queueing");
    assert_eq!(rewards.len(), 2);
    // Two jobs sent in the same millisecond come back in either order (SQS promises none).
    let refund = rewards.iter().find_map(|d| match &d.job {
        Job::Refund(r) => Some(r),
        _ => None,
    });
    assert_eq!(refund.map(|r| r.occurred_at.to_rfc3339()).as_deref(), Some("2026-07-04T09:00:00.000Z"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let h = Harness::local();
    let missing = h.call(Request::builder().uri("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!((missing.status, missing.json["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let wrong = h.call(Request::builder().method(Method::DELETE).uri("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.json["error"], "method_not_allowed");
    let health = h.call(Request::builder().uri("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(health.status, StatusCode::OK);
}
