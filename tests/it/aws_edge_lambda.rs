//! rft-edge's Lambda adapter, with real Function URL payloads in and out: the event is
//! `tests/fixtures/function-url-request.json` (the Function URL request of the lambda_http
//! crate's own tests) pointed at a link, run through the adapter `lambda_http::run` wraps the
//! edge's app in, and the reply is the JSON payload Lambda hands back to the Function URL. It
//! pins what calling the router directly cannot: the event's source IP and cookies reach the
//! router, and the 302's `Set-Cookie` leaves in the payload's `cookies` array.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use lambda_http::request::LambdaRequest;
use lambda_http::{Context, LambdaEvent, Service};
use serde_json::{Value, json};

use rft_core::click::TouchKey;
use rft_core::identity::{Field, IdentityHasher};
use rft_core::ids::Token;
use rft_core::ports::Stores;
use rft_tests::aws::{AwsStack, call};
use rft_tests::harness::settings_with;

/// The fixture's client, as the Function URL saw it (`requestContext.http.sourceIp`).
const SOURCE_IP: &str = "65.78.31.245";
const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X)";

/// The fixture as a phone browser's click on `/r/{code}?ch=whatsapp` (the fixture's curl would
/// be redirected but not logged, like any bot), with the browser's `cookies`. The headers claim
/// another client in `x-forwarded-for`, which must not count.
fn click_event(code: &str, cookies: &[&str]) -> LambdaRequest {
    let mut event: Value = serde_json::from_str(include_str!("../fixtures/function-url-request.json")).unwrap();
    let path = format!("/r/{code}");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["rawQueryString"] = json!("ch=whatsapp");
    event["cookies"] = json!(cookies);
    let headers = event["headers"].as_object_mut().unwrap();
    headers.remove("cookie");
    headers.insert("x-forwarded-for".into(), json!("203.0.113.66"));
    headers.insert("user-agent".into(), json!(PHONE));
    event["requestContext"]["http"]["userAgent"] = json!(PHONE);
    serde_json::from_value(event).expect("a Function URL event")
}

/// Runs one event through the edge's Lambda handler; returns the response payload as JSON.
async fn handle(app: &axum::Router, event: LambdaRequest) -> Value {
    let mut handler = lambda_http::Adapter::from(app.clone());
    let response = handler.call(LambdaEvent::new(event, Context::default())).await.expect("infallible");
    serde_json::to_value(response).expect("the payload serialises")
}

fn token_in(cookie: &str) -> String {
    cookie.strip_prefix("rft=").and_then(|c| c.split(';').next()).expect("an rft cookie").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_function_url_click_comes_back_as_a_302_with_its_cookie_in_the_payload() {
    let stack = AwsStack::start(settings_with(&[])).await;
    stack.bedrock_says("{{link}}", Duration::ZERO).await;
    let app = stack.edge().await;
    let (status, _, link) =
        call(&app, stack.signed(Method::POST, "/api/links", &json!({"customer_id": "c_dan"}).to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let code = link["code"].as_str().unwrap();

    let reply = handle(&app, click_event(code, &[])).await;
    assert_eq!(reply["statusCode"], 302, "{reply}");
    let location = reply["headers"]["location"].as_str().expect("a Location header");
    assert!(location.starts_with("https://freshbox.uk/signup?rft="), "{location}");
    assert!(location.contains("utm_campaign=") && location.contains(code), "{location}");
    assert!(reply["headers"].get("set-cookie").is_none(), "cookies travel in `cookies`, not headers: {reply}");
    let cookies = reply["cookies"].as_array().expect("a cookies array");
    assert_eq!(cookies.len(), 1, "{reply}");
    let cookie = cookies[0].as_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("Max-Age="), "{cookie}");
    let token = token_in(cookie);
    assert!(location.contains(&format!("rft={token}")), "the landing URL carries the same token");

    // The click was logged with the hash of the Function URL's sourceIp, not of a header.
    let stores = Stores::from_backend(stack.env.store());
    let now = rft_core::Clock::now(&rft_core::time::SystemClock);
    let clicks = stores.clicks.touches(&TouchKey::Token(Token::parse(&token).unwrap()), now).await.unwrap();
    assert_eq!(clicks.len(), 1);
    let hasher = IdentityHasher::new(stack.secrets.identity.clone());
    assert_eq!(clicks[0].ip_hash, hasher.hash(Field::Ip, SOURCE_IP), "the source IP reached the router");
    assert_eq!(clicks[0].channel.as_deref(), Some("whatsapp"), "the query string reached the router");

    // The browser's cookie in the event's `cookies` array keeps its token.
    let again = handle(&app, click_event(code, &[&format!("rft={token}"), "other=1"])).await;
    assert_eq!(again["statusCode"], 302);
    assert_eq!(token_in(again["cookies"][0].as_str().unwrap()), token, "the request's cookie reached the router");
    assert_eq!(stores.clicks.touches(&TouchKey::Token(Token::parse(&token).unwrap()), now).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_code_goes_to_the_fallback_without_a_cookie() {
    let stack = AwsStack::start(settings_with(&[])).await;
    let reply = handle(&stack.edge().await, click_event("ZZZZZZ", &[])).await;
    assert_eq!(reply["statusCode"], 302, "{reply}");
    assert_eq!(reply["headers"]["location"], "https://freshbox.uk/");
    assert_eq!(reply["cookies"], json!([]), "{reply}");
}
