//! The functions' AWS wiring end to end on the emulators: rft-edge's router over DynamoDB Local
//! and moto's SQS, minting through the Lambda Invoke protocol into rft-minter (Bedrock stubbed
//! by wiremock), and rft-attributor's SQS batch handler screening through rft-screen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use rft_core::ports::JobQueue;
use rft_tests::aws::AwsStack;
use rft_tests::harness::settings_with;

async fn call(
    router: &axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn edge_router(stack: &AwsStack) -> axum::Router {
    let edge = rft_aws::wiring::edge(&stack.env, &stack.secrets).await.expect("the edge wires up");
    rft_aws::lambda::edge_app(Arc::new(edge))
}

/// Takes everything on the sign-up queue as one SQS event, as Lambda would deliver it.
async fn sqs_event(queue: &rft_aws::SqsQueue) -> SqsEvent {
    let mut event = SqsEvent::default();
    for _ in 0..20 {
        let got = queue.receive(10, Duration::from_secs(30)).await.expect("receive");
        if got.is_empty() && !event.records.is_empty() {
            break;
        }
        for d in got {
            let mut m = SqsMessage::default();
            m.message_id = Some(d.receipt.clone());
            m.receipt_handle = Some(d.receipt.clone());
            m.body = Some(serde_json::to_string(&d.job).expect("jobs serialise"));
            event.records.push(m);
        }
        if event.records.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mint_click_signup_through_the_functions() {
    let stack = AwsStack::start(settings_with(&[])).await;
    stack
        .bedrock_says(
            "FreshBox has genuinely saved my weeknights. Here's £10 off your first box: {{link}}",
            Duration::ZERO,
        )
        .await;
    let edge = edge_router(&stack).await;

    let body = json!({"customer_id": "c_dan", "first_name": "Dan", "email": "dan@example.com"}).to_string();
    let (status, _, link) = call(&edge, stack.signed(Method::POST, "/api/links", &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let code = link["code"].as_str().unwrap().to_owned();
    let url = format!("https://refer.freshbox.uk/r/{code}");
    assert_eq!(
        link["invite"],
        format!("FreshBox has genuinely saved my weeknights. Here's £10 off your first box: {url}")
    );
    let requests = stack.bedrock.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "one Converse call per mint");
    assert!(requests[0].url.path().contains("global.anthropic.claude-haiku-4-5"), "{}", requests[0].url);
    let brief: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert!(brief.to_string().contains("£10 off your first box") && brief.to_string().contains("{{link}}"));

    let click = axum::http::Request::builder()
        .uri(format!("/r/{code}"))
        .header("user-agent", "Mozilla/5.0")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, headers, _) = call(&edge, click).await;
    assert_eq!(status, StatusCode::FOUND);
    let cookie = headers.get("set-cookie").unwrap().to_str().unwrap();
    let token = cookie.trim_start_matches("rft=").split(';').next().unwrap().to_owned();

    let signup =
        json!({"customer_id": "c_mara", "email": "mara@example.com", "first_name": "Mara", "attribution_token": token})
            .to_string();
    let (status, _, _) = call(&edge, stack.signed(Method::POST, "/webhooks/signup", &signup)).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let attributor = rft_aws::wiring::attributor(&stack.env).await.unwrap();
    let event = sqs_event(&stack.signup_queue).await;
    assert_eq!(event.records.len(), 1, "the sign-up was queued on SQS");
    let response = rft_aws::lambda::handle_batch(event, |job| attributor.handle(job)).await;
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);

    let (status, _, referral) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_mara", "")).await;
    assert_eq!(status, StatusCode::OK, "{referral}");
    assert_eq!(referral["referrer_id"], "c_dan");
    assert_eq!(referral["state"], "pending");
    assert_eq!(referral["method"], "token");

    // The email bridge through the minter, SES on moto.
    let invite = json!({"customer_id": "c_dan", "friend_email": "kim@example.com", "friend_name": "Kim"}).to_string();
    let (status, _, _) = call(&edge, stack.signed(Method::POST, "/api/invites", &invite)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let emails = stack.sent_emails().await;
    assert!(
        emails.iter().any(|(to, subject, _)| to.contains("kim@example.com") && subject.contains("Dan")),
        "{emails:?}"
    );
    assert!(emails.iter().any(|(to, _, _)| to.contains("dan@example.com")), "the confirmation went to Dan: {emails:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_kind_of_draft_ends_in_the_right_invite() {
    let stack = AwsStack::start(settings_with(&[("model_timeout", "\"1s\"")])).await;
    let edge = edge_router(&stack).await;
    let template = |url: &str| {
        format!("I've been using FreshBox and I think you'd like it too. Here's £10 off your first box: {url}")
    };
    let cases = [
        (
            "good",
            "Honestly the best thing I did this year. £10 off your first box: {{link}}".to_owned(),
            Duration::ZERO,
            true,
        ),
        ("second URL", "Try it at https://freshbox.uk or {{link}}".to_owned(), Duration::ZERO, false),
        ("no placeholder", "Try FreshBox, it's great!".to_owned(), Duration::ZERO, false),
        ("too long", format!("{} {{{{link}}}}", "Really lovely food. ".repeat(20)), Duration::ZERO, false),
        ("stalled", "Too late to matter: {{link}}".to_owned(), Duration::from_secs(3), false),
    ];
    for (i, (name, draft, delay, used)) in cases.into_iter().enumerate() {
        stack.bedrock_says(&draft, delay).await;
        let body = json!({"customer_id": format!("c_{i}")}).to_string();
        let started = Instant::now();
        let (status, _, link) = call(&edge, stack.signed(Method::POST, "/api/links", &body)).await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::CREATED, "{name}: {link}");
        let url = link["url"].as_str().unwrap();
        let expected = if used { draft.replace("{{link}}", url) } else { template(url) };
        assert_eq!(link["invite"], expected, "{name}");
        assert!(took < Duration::from_millis(2500), "{name}: the reply took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_message_in_a_batch_fails_alone() {
    let stack = AwsStack::start(settings_with(&[])).await;
    let attributor = rft_aws::wiring::attributor(&stack.env).await.unwrap();
    let mut event = SqsEvent::default();
    let mut bad = SqsMessage::default();
    bad.message_id = Some("m-bad".into());
    bad.body = Some("{\"not\": \"a job\"}".into());
    let mut good = SqsMessage::default();
    good.message_id = Some("m-good".into());
    good.body = Some(serde_json::to_string(&rft_tests::fixtures::signup_job(1)).unwrap());
    event.records = vec![bad, good];
    let response = rft_aws::lambda::handle_batch(event, |job| attributor.handle(job)).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["m-bad"], "only the unreadable message is retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn minter_errors_cross_the_invoke_as_the_right_status() {
    let stack = AwsStack::start(settings_with(&[])).await;
    let edge = edge_router(&stack).await;
    let invite = json!({"customer_id": "c_nobody", "friend_email": "kim@example.com"}).to_string();
    let (status, _, body) = call(&edge, stack.signed(Method::POST, "/api/invites", &invite)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, _, _) = call(&edge, stack.signed(Method::POST, "/api/codes/ZZZZZZ/retire", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(stack.reward_queue.dead_letters(1).await.unwrap().is_empty());
}
