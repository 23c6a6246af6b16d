//! Faults against the emulators, through the functions' real AWS wiring: DynamoDB Local taken
//! away mid-run, SQS (moto) taken away, the store's reward endpoint flapping. A switchable proxy
//! stands in front of the emulator a test breaks, so the other tests keep theirs. Throughout,
//! redirects keep working (the fallback when the code cannot be read), a webhook gets a 5xx only
//! when it could not be queued, and once the faults clear nothing is lost or paid twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use wiremock::{Mock, Respond, ResponseTemplate};

use rft_core::ports::JobQueue;
use rft_tests::aws::{AwsStack, VISIBILITY, call, click, run_queue, sqs_event};
use rft_tests::backends::{dynamodb_endpoint, moto_endpoint};
use rft_tests::harness::settings_with;
use rft_tests::switch::{Mode, Switch};

fn location(headers: &axum::http::HeaderMap) -> String {
    headers["location"].to_str().expect("ASCII").to_owned()
}

async fn store_applies_everything(stack: &AwsStack) {
    Mock::given(wiremock::matchers::method("POST")).respond_with(ResponseTemplate::new(201)).mount(&stack.store).await;
}

/// The idempotency keys the store was sent, in order.
async fn store_keys(stack: &AwsStack) -> Vec<String> {
    let calls = stack.store.received_requests().await.unwrap_or_default();
    calls.iter().map(|r| r.headers["idempotency-key"].to_str().expect("ASCII").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_stopped_mid_run_redirects_still_work_webhooks_still_queue_and_nothing_is_lost() {
    let dynamodb = Switch::start(&dynamodb_endpoint()).await;
    let stack = AwsStack::start_with(
        settings_with(&[("min_click_to_conversion", "\"0s\"")]),
        &dynamodb.endpoint(),
        &moto_endpoint(),
    )
    .await;
    store_applies_everything(&stack).await;
    let edge = stack.edge().await;
    let landing = stack.env.settings.links.landing_url.to_string();
    let fallback = stack.env.settings.links.fallback_url.to_string();
    let (status, _, link) =
        call(&edge, stack.signed(Method::POST, "/api/links", &json!({"customer_id": "c_dan"}).to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let code = link["code"].as_str().expect("a code").to_owned();
    let (_, headers, _) = call(&edge, click(&code)).await;
    assert!(location(&headers).starts_with(&landing), "the code is now cached by this instance");

    dynamodb.set(Mode::Down).await;
    // A warm instance still knows the code: the friend lands with a cookie, unlogged click or not.
    let started = Instant::now();
    let (status, headers, _) = call(&edge, click(&code)).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location(&headers).starts_with(&landing), "{headers:?}");
    assert!(headers.contains_key("set-cookie"));
    assert!(started.elapsed() < Duration::from_millis(2500), "the redirect waited {:?}", started.elapsed());
    // A cold instance cannot read the code: the fallback, never an error page.
    let cold = stack.edge().await;
    let (status, headers, _) = call(&cold, click(&code)).await;
    assert_eq!((status, location(&headers)), (StatusCode::FOUND, fallback));
    // A call that needs the tables says so, cleanly.
    let (status, _, body) =
        call(&edge, stack.signed(Method::POST, "/api/links", &json!({"customer_id": "c_eve"}).to_string())).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")), "{body}");
    // Events are still queued: the queue is up, and their consumers are idempotent.
    let signup = json!({"customer_id": "c_mara", "email": "mara@example.com", "code": code}).to_string();
    let signup_request = || stack.signed(Method::POST, "/webhooks/signup", &signup);
    let (status, _, body) = call(&edge, signup_request()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let conversion =
        json!({"customer_id": "c_mara", "order_id": "o_1", "amount_minor": 3999, "currency": "GBP"}).to_string();
    let (status, _, _) = call(&edge, stack.signed(Method::POST, "/webhooks/conversion", &conversion)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The consumers fail while the tables are away, and leave the messages for redelivery.
    let attributor = rft_aws::wiring::attributor(&stack.env).await.expect("wires");
    let event = sqs_event(&stack.signup_queue, VISIBILITY).await;
    assert_eq!(event.records.len(), 1);
    let failed = rft_aws::lambda::handle_batch(event, &stack.dead_ends().await, |job| attributor.handle(job)).await;
    assert_eq!(failed.batch_item_failures.len(), 1, "the sign-up waits for the tables");

    dynamodb.set(Mode::Up).await;
    run_queue(&stack.signup_queue, &stack.dead_ends().await, |job| attributor.handle(job)).await;
    // The store retried the sign-up during the outage with the same event: nothing doubles.
    let (status, _, _) = call(&edge, signup_request()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    run_queue(&stack.signup_queue, &stack.dead_ends().await, |job| attributor.handle(job)).await;
    let rewarder = rft_aws::wiring::rewarder_with(
        &stack.env,
        &stack.secrets,
        Duration::from_millis(500),
        rft_tests::harness::quick_policy(),
    )
    .await
    .expect("wires");
    run_queue(&stack.reward_queue, &stack.dead_ends().await, |job| rewarder.handle(job)).await;

    let (status, _, referral) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_mara", "")).await;
    assert_eq!(status, StatusCode::OK, "{referral}");
    assert_eq!(referral["state"], "rewarded", "the conversion queued during the outage paid");
    let (_, _, stats) = call(&edge, stack.signed(Method::GET, "/api/referrers/c_dan/stats", "")).await;
    assert_eq!(stats["stats"]["signups"], 1, "one referral, not two: {stats}");
    assert_eq!(stats["stats"]["rewarded"], 1);
    let id = referral["referral_id"].as_str().expect("an id");
    let mut keys = store_keys(&stack).await;
    keys.sort();
    assert_eq!(keys, [format!("{id}:friend"), format!("{id}:referrer")], "each side paid once");
    let dead = stack.signup_queue.dead_letters(10).await.expect("reads");
    assert!(dead.is_empty(), "{dead:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_unavailable_webhooks_answer_503_and_the_store_s_retry_is_processed_once() {
    let moto = Switch::start(&moto_endpoint()).await;
    let stack = AwsStack::start_with(
        settings_with(&[("min_click_to_conversion", "\"0s\"")]),
        &dynamodb_endpoint(),
        &moto.endpoint(),
    )
    .await;
    store_applies_everything(&stack).await;
    let edge = stack.edge().await;
    let landing = stack.env.settings.links.landing_url.to_string();
    let (_, _, link) =
        call(&edge, stack.signed(Method::POST, "/api/links", &json!({"customer_id": "c_dan"}).to_string())).await;
    let code = link["code"].as_str().expect("a code").to_owned();

    moto.set(Mode::Down).await;
    let (status, headers, _) = call(&edge, click(&code)).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location(&headers).starts_with(&landing), "redirects do not touch the queues");
    let signup = json!({"customer_id": "c_mara", "email": "mara@example.com", "code": code}).to_string();
    // One delivery, retried by the store with the same id and body (and a new signature).
    let id = "msg_sqs_fault_0001";
    let deliver = || {
        let now = rft_core::Clock::now(&rft_core::time::SystemClock);
        let mut builder = Request::builder().method(Method::POST).uri("/webhooks/signup");
        for (name, value) in stack.signer.headers(id, now, signup.as_bytes()).expect("signs") {
            builder = builder.header(name, value);
        }
        builder.body(axum::body::Body::from(signup.clone())).expect("request")
    };
    let (status, _, body) = call(&edge, deliver()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")), "{body}");

    moto.set(Mode::Up).await;
    let (status, headers, _) = call(&edge, deliver()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(!headers.contains_key("webhook-replayed"), "a 5xx is not remembered: the retry is handled afresh");
    let (status, headers, _) = call(&edge, deliver()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(headers["webhook-replayed"], "true", "a 202 is remembered");
    let attributor = rft_aws::wiring::attributor(&stack.env).await.expect("wires");
    let event = sqs_event(&stack.signup_queue, VISIBILITY).await;
    assert_eq!(event.records.len(), 1, "queued exactly once");
    assert!(
        rft_aws::lambda::handle_batch(event, &stack.dead_ends().await, |job| attributor.handle(job))
            .await
            .batch_item_failures
            .is_empty()
    );
    let (status, _, referral) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_mara", "")).await;
    assert_eq!((status, referral["referrer_id"].as_str()), (StatusCode::OK, Some("c_dan")), "{referral}");
}

/// The store's endpoint answering 503 to every other call, starting with the first; it keeps
/// each call's idempotency key and answer.
#[derive(Clone, Default)]
struct Flapping(Arc<std::sync::Mutex<Vec<(String, u16)>>>);

impl Respond for Flapping {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let key = request.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let mut calls = self.0.lock().expect("not poisoned");
        let status = if calls.len().is_multiple_of(2) { 503 } else { 201 };
        calls.push((key.to_owned(), status));
        ResponseTemplate::new(status)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flapping_store_and_a_dynamodb_outage_during_payouts_still_pay_each_side_once() {
    let dynamodb = Switch::start(&dynamodb_endpoint()).await;
    let stack = AwsStack::start_with(
        settings_with(&[("min_click_to_conversion", "\"0s\""), ("max_signups_per_code_per_hour", "100")]),
        &dynamodb.endpoint(),
        &moto_endpoint(),
    )
    .await;
    let flapping = Flapping::default();
    Mock::given(wiremock::matchers::method("POST")).respond_with(flapping.clone()).mount(&stack.store).await;
    let edge = stack.edge().await;
    let (_, _, link) =
        call(&edge, stack.signed(Method::POST, "/api/links", &json!({"customer_id": "c_dan"}).to_string())).await;
    let code = link["code"].as_str().expect("a code").to_owned();
    let friends = 6;
    for i in 0..friends {
        let signup = json!({"customer_id": format!("c_f{i}"), "email": format!("f{i}@example.com"), "code": code});
        assert_eq!(call(&edge, stack.signed(Method::POST, "/webhooks/signup", &signup.to_string())).await.0, 202);
    }
    let attributor = rft_aws::wiring::attributor(&stack.env).await.expect("wires");
    run_queue(&stack.signup_queue, &stack.dead_ends().await, |job| attributor.handle(job)).await;
    for i in 0..friends {
        let conversion = json!({"customer_id": format!("c_f{i}"), "order_id": format!("o_{i}"), "amount_minor": 2000, "currency": "GBP"});
        // Each conversion twice, as a store that timed out would resend it.
        for _ in 0..2 {
            assert_eq!(
                call(&edge, stack.signed(Method::POST, "/webhooks/conversion", &conversion.to_string())).await.0,
                202
            );
        }
    }
    let rewarder = Arc::new(
        rft_aws::wiring::rewarder_with(
            &stack.env,
            &stack.secrets,
            Duration::from_millis(500),
            rft_tests::harness::quick_policy(),
        )
        .await
        .expect("wires"),
    );
    // The first batch runs into a DynamoDB outage halfway; the rest run with the store flapping.
    let first = sqs_event(&stack.reward_queue, VISIBILITY).await;
    let outage = {
        let dynamodb = &dynamodb;
        async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            dynamodb.set(Mode::Down).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            dynamodb.set(Mode::Up).await;
        }
    };
    let r = rewarder.clone();
    let dead_ends = stack.dead_ends().await;
    let (_, ()) = tokio::join!(rft_aws::lambda::handle_batch(first, &dead_ends, |job| r.handle(job)), outage);
    run_queue(&stack.reward_queue, &dead_ends, |job| rewarder.handle(job)).await;

    let mut paid = Vec::new();
    for i in 0..friends {
        let (_, _, referral) = call(&edge, stack.signed(Method::GET, &format!("/api/referrals/c_f{i}"), "")).await;
        assert_eq!(referral["state"], "rewarded", "{referral}");
        paid.push(referral["referral_id"].as_str().expect("an id").to_owned());
    }
    // The store saw each key until it answered 201 once, and never again after that.
    let calls = flapping.0.lock().expect("not poisoned").clone();
    let mut applied: Vec<String> = Vec::new();
    for (key, status) in &calls {
        assert!(!applied.contains(key), "{key} was sent again after the store applied it");
        if *status == 201 {
            applied.push(key.clone());
        }
    }
    assert_eq!(applied.len(), 2 * friends, "every side applied once: {calls:?}");
    for id in &paid {
        assert!(applied.contains(&format!("{id}:referrer")) && applied.contains(&format!("{id}:friend")));
    }
    let (_, _, stats) = call(&edge, stack.signed(Method::GET, "/api/referrers/c_dan/stats", "")).await;
    assert_eq!(stats["stats"]["rewarded"], friends, "{stats}");
    let earned: Value = stats["stats"]["earned"].clone();
    assert_eq!(earned[0]["amount_minor"], 1000 * 2 + 2500 * (friends - 2), "the ladder, each step once: {earned}");
}
