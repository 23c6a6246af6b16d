//! The functions' AWS wiring end to end on the emulators: rft-edge's router over DynamoDB Local
//! and moto's SQS, minting through the Lambda Invoke protocol into rft-minter (Bedrock stubbed
//! by wiremock), and rft-attributor's SQS batch handler screening through rft-screen.

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use rft_core::ports::JobQueue;
use rft_tests::aws::{AwsStack, call, run_queue, sqs_event};
use rft_tests::harness::settings_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mint_click_signup_through_the_functions() {
    let stack = AwsStack::start(settings_with(&[])).await;
    if stack.skip_without_email() {
        return;
    }
    stack
        .bedrock_says(
            "FreshBox has genuinely saved my weeknights. Here's £10 off your first box: {{link}}",
            Duration::ZERO,
        )
        .await;
    let edge = stack.edge().await;

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
    let event = sqs_event(&stack.signup_queue, Duration::from_secs(30)).await;
    assert_eq!(event.records.len(), 1, "the sign-up was queued on SQS");
    let response = rft_aws::lambda::handle_batch(event, &stack.dead_ends().await, |job| attributor.handle(job)).await;
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
    let edge = stack.edge().await;
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
    let response = rft_aws::lambda::handle_batch(event, &stack.dead_ends().await, |job| attributor.handle(job)).await;
    assert!(response.batch_item_failures.is_empty(), "nothing a retry could cure: {:?}", response.batch_item_failures);
    let audit = rft_core::ports::Stores::from_backend(stack.env.store()).audit;
    let set_aside = audit.events_for("m-bad").await.unwrap();
    assert_eq!(set_aside.len(), 1, "the unreadable message is audited under its id");
    assert_eq!(set_aside[0].kind, rft_core::AuditKind::JobDropped);
    assert_eq!(set_aside[0].facts["what"]["body_start"], "{\"not\": \"a job\"}");
    let emails = stack.sent_emails().await;
    assert!(
        emails
            .iter()
            .any(|(to, subject, _)| to == "referrals@freshbox.uk" && subject.contains("could not be processed")),
        "{emails:?}"
    );
    assert!(
        audit.events_for("c_1").await.unwrap().iter().any(|e| e.kind == rft_core::AuditKind::Unattributed),
        "the good job in the same batch was handled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn minter_errors_cross_the_invoke_as_the_right_status() {
    let stack = AwsStack::start(settings_with(&[])).await;
    let edge = stack.edge().await;
    let invite = json!({"customer_id": "c_nobody", "friend_email": "kim@example.com"}).to_string();
    let (status, _, body) = call(&edge, stack.signed(Method::POST, "/api/invites", &invite)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, _, _) = call(&edge, stack.signed(Method::POST, "/api/codes/ZZZZZZ/retire", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(stack.reward_queue.dead_letters(1).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conversion_through_the_functions_pays_once_fulfils_and_thanks() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, ResponseTemplate};

    let stack = AwsStack::start(settings_with(&[("min_click_to_conversion", "\"0s\"")])).await;
    if stack.skip_without_email() {
        return;
    }
    stack
        .bedrock_says(
            "Referrer: Thanks so much! {{reward}} is yours.\nFriend: Welcome aboard! {{reward}} is yours.",
            Duration::ZERO,
        )
        .await;
    // The store answers 500 once, then applies.
    Mock::given(method("POST"))
        .and(path("/referral-rewards"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&stack.store)
        .await;
    Mock::given(method("POST"))
        .and(path("/referral-rewards"))
        .and(header("authorization", format!("Bearer {}", stack.secrets.store_api_key.expose()).as_str()))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(2)
        .mount(&stack.store)
        .await;
    let edge = stack.edge().await;
    let (status, _, link) = call(
        &edge,
        stack.signed(
            Method::POST,
            "/api/links",
            &json!({"customer_id": "c_dan", "first_name": "Dan", "phone": "+447700900123"}).to_string(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let code = link["code"].as_str().unwrap().to_owned();
    let click = axum::http::Request::builder()
        .uri(format!("/r/{code}"))
        .header("user-agent", "Mozilla/5.0")
        .body(axum::body::Body::empty())
        .unwrap();
    let (_, headers, _) = call(&edge, click).await;
    let token =
        headers["set-cookie"].to_str().unwrap().trim_start_matches("rft=").split(';').next().unwrap().to_owned();
    call(&edge, stack.signed(Method::POST, "/webhooks/signup", &json!({"customer_id": "c_mara", "email": "mara@example.com", "first_name": "Mara", "attribution_token": token}).to_string())).await;
    let attributor = rft_aws::wiring::attributor(&stack.env).await.unwrap();
    let dead_ends = stack.dead_ends().await;
    assert_eq!(run_queue(&stack.signup_queue, &dead_ends, |job| attributor.handle(job)).await, 0);

    let rewarder = rft_aws::wiring::rewarder_with(
        &stack.env,
        &stack.secrets,
        Duration::from_millis(500),
        rft_tests::harness::quick_policy(),
    )
    .await
    .unwrap();
    let conversion =
        json!({"customer_id": "c_mara", "order_id": "o_1", "amount_minor": 3999, "currency": "GBP"}).to_string();
    for _ in 0..2 {
        let (status, _, _) = call(&edge, stack.signed(Method::POST, "/webhooks/conversion", &conversion)).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    // The conversion, each side's fulfilment (the first attempt refused, retried after its
    // delay), each side's thank-you: batch after batch, none failing.
    assert_eq!(run_queue(&stack.reward_queue, &dead_ends, |job| rewarder.handle(job)).await, 0);
    let (_, _, referral) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_mara", "")).await;
    assert_eq!(referral["state"], "rewarded");
    let id = referral["referral_id"].as_str().unwrap();
    let calls = stack.store.received_requests().await.unwrap();
    let keys: Vec<String> = calls.iter().map(|r| r.headers["idempotency-key"].to_str().unwrap().to_owned()).collect();
    assert_eq!(keys.len(), 3, "one 500, then each side once: {keys:?}");
    assert!(keys.contains(&format!("{id}:referrer")) && keys.contains(&format!("{id}:friend")));
    // Every reward call is signed with the store signing secret, as Standard Webhooks: both
    // reference libraries accept it, and its message id is the idempotency key.
    let whsec = stack.secrets.store_signing.as_ref().expect("a store signing secret").to_whsec();
    for call in &calls {
        let header = |name: &str| call.headers[name].to_str().unwrap().to_owned();
        let (id, ts, sig) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
        let headers =
            [("webhook-id", id.as_str()), ("webhook-timestamp", ts.as_str()), ("webhook-signature", sig.as_str())];
        rft_tests::signing_interop::verify_standard_webhooks(&whsec, &headers, &call.body)
            .expect("the Rust library accepts it");
        match rft_tests::signing_interop::verify_standard_webhooks_python(&whsec, &headers, &call.body) {
            Some(verified) => verified.expect("the Python library accepts it"),
            None => eprintln!("SKIPPED the Python check: .venv has no standardwebhooks (make test installs it)"),
        }
        assert_eq!(id, header("idempotency-key"));
        let tampered = [&call.body[..], b" "].concat();
        assert!(rft_tests::signing_interop::verify_standard_webhooks(&whsec, &headers, &tampered).is_err());
    }
    let body: Value = serde_json::from_slice(&calls.last().unwrap().body).unwrap();
    assert_eq!(body["reward"]["amount_minor"], 1000);
    assert!(body["side"] == "friend" || body["side"] == "referrer");
    let emails = stack.sent_emails().await;
    assert!(
        emails.iter().any(|(to, _, body)| to.contains("mara@example.com") && body.contains("£10 off your first box")),
        "{emails:?}"
    );
    let sms = stack.sent_sms().await;
    assert_eq!(sms.len(), 1, "Dan has only a mobile: one SMS");
    assert_eq!(sms[0], ("+447700900123".to_owned(), "Thanks so much! £10 off your next box is yours.".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalling_store_is_retried_and_a_409_counts_as_applied() {
    use wiremock::matchers::method;
    use wiremock::{Mock, ResponseTemplate};

    let stack = AwsStack::start(settings_with(&[("min_click_to_conversion", "\"0s\"")])).await;
    // Mara is thanked by email once paid, and a thank-you that cannot be sent fails the job.
    if stack.skip_without_email() {
        return;
    }
    // Stalls past the client's timeout for the first three calls, then says "already applied".
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(2)))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&stack.store)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(409)).with_priority(2).mount(&stack.store).await;
    let edge = stack.edge().await;
    let code = call(&edge, stack.signed(Method::POST, "/api/links", &json!({"customer_id": "c_dan"}).to_string()))
        .await
        .2["code"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &edge,
        stack.signed(
            Method::POST,
            "/webhooks/signup",
            &json!({"customer_id": "c_mara", "email": "mara@example.com", "code": code}).to_string(),
        ),
    )
    .await;
    let attributor = rft_aws::wiring::attributor(&stack.env).await.unwrap();
    let dead_ends = stack.dead_ends().await;
    run_queue(&stack.signup_queue, &dead_ends, |job| attributor.handle(job)).await;
    let rewarder = rft_aws::wiring::rewarder_with(
        &stack.env,
        &stack.secrets,
        Duration::from_millis(300),
        rft_tests::harness::quick_policy(),
    )
    .await
    .unwrap();
    call(
        &edge,
        stack.signed(
            Method::POST,
            "/webhooks/conversion",
            &json!({"customer_id": "c_mara", "order_id": "o_1", "amount_minor": 100, "currency": "GBP"}).to_string(),
        ),
    )
    .await;
    // A stalled call is a retryable failure: the fulfil job re-sends itself with a delay (no
    // batch fails, nothing waits inside a handler) until the store answers.
    assert_eq!(run_queue(&stack.reward_queue, &dead_ends, |job| rewarder.handle(job)).await, 0);
    let calls = stack.store.received_requests().await.unwrap();
    assert_eq!(calls.len(), 5, "three stalls, then each side's 409: {}", calls.len());
    let (_, _, referral) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_mara", "")).await;
    assert_eq!(referral["state"], "rewarded");
    let ledger = rft_core::ports::Stores::from_backend(stack.env.store()).ledger;
    let rows =
        ledger.rows(&rft_core::ReferralId::parse(referral["referral_id"].as_str().unwrap()).unwrap()).await.unwrap();
    assert!(
        rows.iter().all(|r| matches!(r.fulfilment, rft_core::Fulfilment::Fulfilled { .. })),
        "409 means applied before: {rows:?}"
    );
}
