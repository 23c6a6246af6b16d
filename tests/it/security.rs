//! Security properties, each a test: no open redirect, no header injection, links bound to
//! their referral and action, identity fields and secrets never logged in clear.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use proptest::prelude::*;
use serde_json::json;

use rft_tests::harness::{Harness, token_of};

fn get(path: &str) -> Request<Body> {
    Request::builder().uri(path).header("user-agent", "Mozilla/5.0").body(Body::empty()).unwrap()
}

#[tokio::test]
async fn no_crafted_path_or_query_redirects_anywhere_but_the_programmes_urls() {
    let h = Harness::local();
    let code = h.mint("c_dan", json!({})).await.json["code"].as_str().unwrap().to_owned();
    let crafted = [
        format!("/r/{code}?next=https://evil.example"),
        format!("/r/{code}?rft=x&url=//evil.example"),
        "/r//evil.example".into(),
        "/r/%2F%2Fevil.example".into(),
        "/r/https://evil.example".into(),
        format!("/r/{code}/..%2F..%2Fhttps:%2F%2Fevil.example"),
        "/r/%5Cevil.example".into(),
        format!("/r/{code}%0d%0aLocation:%20https://evil.example"),
        "/r/@evil.example".into(),
    ];
    for path in crafted {
        let mut request = get(&path);
        request.headers_mut().insert("host", "evil.example".parse().unwrap());
        request.headers_mut().insert("x-forwarded-host", "evil.example".parse().unwrap());
        let answer = h.call(request).await;
        let location = answer.header("location").unwrap_or_default().to_owned();
        assert_eq!(answer.status, StatusCode::FOUND, "{path}");
        assert!(
            location == "https://freshbox.uk/" || location.starts_with("https://freshbox.uk/signup?rft="),
            "{path} -> {location}"
        );
        assert!(!location.contains("evil"), "{path} -> {location}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn any_path_under_r_lands_on_the_programmes_urls(tail in "[ -~]{0,40}", query in "[ -~]{0,40}") {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let h = Harness::local();
            let encoded: String = url::form_urlencoded::byte_serialize(tail.as_bytes()).collect();
            let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
            let answer = h.call(get(&format!("/r/{encoded}?x={q}"))).await;
            let location = answer.header("location").unwrap_or_default();
            prop_assert_eq!(answer.status, StatusCode::FOUND);
            prop_assert!(location == "https://freshbox.uk/" || location.starts_with("https://freshbox.uk/signup?rft="), "{}", location);
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn header_injection_in_codes_names_and_tokens_is_refused() {
    let h = Harness::local();
    for name in ["Dan\r\nBcc: all@example.com", "Dan\nX-Evil: 1"] {
        let answer = h.mint("c_dan", json!({"first_name": name})).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
    }
    let code = h.mint("c_dan", json!({"first_name": "Dan"})).await.json["code"].as_str().unwrap().to_owned();
    let invite = json!({"customer_id": "c_dan", "friend_email": "kim@example.com", "friend_name": "Kim\r\nBcc: all@example.com"});
    assert_eq!(
        h.call(h.signed(Method::POST, "/api/invites", &invite.to_string())).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let evil_email = json!({"customer_id": "c_dan", "friend_email": "kim@example.com\r\nBcc: all@example.com"});
    assert_eq!(
        h.call(h.signed(Method::POST, "/api/invites", &evil_email.to_string())).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // A cookie carrying an injection attempt is not echoed: a fresh token is drawn.
    let mut request = get(&format!("/r/{code}"));
    request.headers_mut().insert("cookie", "rft=abc; rft=x%0d%0aSet-Cookie:%20admin=1".parse().unwrap());
    let answer = h.call(request).await;
    let token = token_of(&answer);
    assert_eq!(token.len(), 26);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(answer.headers.get_all("set-cookie").iter().count(), 1);
}

#[tokio::test]
async fn ops_links_work_only_for_their_referral_and_action() {
    let h = Harness::local();
    h.mint("c_dan", json!({"identity": {"payment_fingerprint": "card_family", "device_id": "tablet_family"}})).await;
    let code = h.mint("c_dan", json!({})).await.json["code"].as_str().unwrap().to_owned();
    let shared = [json!({"payment_fingerprint": "card_family"}), json!({"device_id": "tablet_family"})];
    for (i, (friend, identity)) in ["c_a", "c_b"].iter().zip(shared).enumerate() {
        let token = token_of(&h.click(&code, None).await);
        h.signup(json!({"customer_id": friend, "email": format!("f{i}@example.com"), "attribution_token": token, "identity": identity})).await;
    }
    let holds = h.messages.of_kind(rft_core::ports::MessageKind::HoldReview);
    assert_eq!(holds.len(), 2);
    let link = |body: &str| {
        body.split_whitespace()
            .find(|w| w.contains("/approve?"))
            .unwrap()
            .trim_start_matches("https://refer.freshbox.uk")
            .to_owned()
    };
    let a = link(&holds[0].body);
    let b = link(&holds[1].body);
    let a_id = a.split('/').nth(3).unwrap().to_owned();
    let b_id = b.split('/').nth(3).unwrap().to_owned();
    let cases = [
        (a.replace("/approve?", "/reject?"), "another action"),
        (a.replace(&a_id, &b_id), "another referral"),
        (a.replace("exp=", "exp=1"), "another expiry"),
        (a.split("&sig=").next().unwrap().to_owned(), "no signature"),
        (format!("{}&sig=AAAA", a.split("&sig=").next().unwrap()), "a made-up signature"),
    ];
    for (path, what) in cases {
        let answer = h.call(Request::builder().method(Method::POST).uri(&path).body(Body::empty()).unwrap()).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{what}: {path}");
    }
    h.settle().await;
    assert_eq!(h.referral("c_a").await.json["state"], "held", "nothing decided");
    assert_eq!(h.referral("c_b").await.json["state"], "held");
}

/// Collects everything logged while a test runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn identity_fields_ips_and_secrets_are_never_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let secrets = tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let h = Harness::local();
            h.store.set(rft_tests::harness::StoreMode::FailNext(1));
            let identity = json!({"payment_fingerprint": "card_secret_4242", "device_id": "device_secret_77", "address": "9 Secret Street", "ip": "198.51.100.77"});
            let code = h.mint("c_dan", json!({"identity": identity})).await.json["code"].as_str().unwrap().to_owned();
            let mut click = get(&format!("/r/{code}"));
            click.extensions_mut().insert(rft_http::ClientIp("192.0.2.201".parse().unwrap()));
            let token = token_of(&h.call(click).await);
            let hers = json!({"payment_fingerprint": "card_mara_1881", "device_id": "device_mara_22", "ip": "198.51.100.78"});
            h.signup(json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token, "identity": hers})).await;
            h.clock.advance(std::time::Duration::from_secs(120));
            h.convert("c_mara", "o_1").await;
            // Bad signatures are logged; the secret is not.
            h.call(Request::builder().method(Method::POST).uri("/api/links").header("webhook-id", "m").header("webhook-timestamp", "1").header("webhook-signature", "v1,AAAA").body(Body::from("{}")).unwrap()).await;
            let s = &h.secrets;
            vec![
                s.signing[0].to_whsec()[6..].to_owned(),
                String::from_utf8_lossy(s.ops.expose()).into_owned(),
                s.store_api_key.expose().to_owned(),
                String::from_utf8_lossy(s.identity.expose()).into_owned(),
            ]
        })
    });
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("invalid_signature") && logs.contains("did not acknowledge"),
        "the test logged something: {logs}"
    );
    for raw in [
        "card_secret_4242",
        "device_secret_77",
        "Secret Street",
        "198.51.100.77",
        "192.0.2.201",
        "card_mara_1881",
        "device_mara_22",
        "198.51.100.78",
    ] {
        assert!(!logs.contains(raw), "{raw} was logged");
    }
    for secret in secrets {
        assert!(!logs.contains(&secret), "a secret was logged");
    }
}

/// A signed request whose path parameter is not UTF-8 once decoded gets our JSON error naming
/// the parameter, on every route that takes one; the pages answer their HTML 404; a link still
/// redirects to the fallback.
#[tokio::test]
async fn malformed_path_parameters_get_our_own_errors() {
    let h = Harness::local();
    let signed = [
        (Method::GET, "/api/referrals/%ff%fe", "customer_id"),
        (Method::GET, "/api/referrers/%ff/stats", "customer_id"),
        (Method::POST, "/api/codes/%C0%AF/retire", "code"),
        (Method::POST, "/api/customers/%ff/erase", "customer_id"),
    ];
    for (method, path, param) in signed {
        let answer = h.call(h.signed(method.clone(), path, "")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert_eq!(answer.header("content-type"), Some("application/json"), "{method} {path}");
        assert_eq!(answer.json["error"], "invalid_path", "{method} {path}");
        assert!(answer.json["message"].as_str().unwrap().contains(param), "{path}: {:?}", answer.json);
    }
    for path in ["/ops/referrals/%ff%fe/approve?exp=1&sig=x", "/ops/codes/%ff/clear?exp=1&sig=x"] {
        for method in [Method::GET, Method::POST] {
            let answer = h.call(Request::builder().method(method.clone()).uri(path).body(Body::empty()).unwrap()).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert!(answer.header("content-type").unwrap().starts_with("text/html"), "{method} {path}");
        }
    }
    let click = h.call(Request::builder().uri("/r/%ff%fe").body(Body::empty()).unwrap()).await;
    assert_eq!(click.status, StatusCode::FOUND);
    assert_eq!(click.header("location"), Some("https://freshbox.uk/"));
}
