//! AWS calls per click, per sign-up and per conversion, counted on the functions' own SDK
//! clients while the lifecycle runs through their real wiring on the emulators. A click on a
//! cached code must cost one write and no read; the other counts are measured, and written to
//! the file named by RFT_BENCH_CALLS for the cost model in docs/benchmarks.md.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;
use wiremock::{Mock, ResponseTemplate};

use rft_tests::aws::{AwsStack, call, click, run_queue, sqs_event};
use rft_tests::harness::settings_with;

fn calls(counts: &[(&str, u64)]) -> BTreeMap<String, u64> {
    counts.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_calls_per_click_sign_up_and_conversion() {
    let stack = AwsStack::start(settings_with(&[("min_click_to_conversion", "\"0s\"")])).await;
    // The payout thanks Mara by email (an SES v2 call counted with the rest).
    if stack.skip_without_email() {
        return;
    }
    stack.bedrock_says("Thanks! {{reward}} is yours.", Duration::ZERO).await;
    Mock::given(wiremock::matchers::method("POST")).respond_with(ResponseTemplate::new(201)).mount(&stack.store).await;
    let edge = stack.edge().await;
    let mut phases: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    stack.calls.take();

    let body = json!({"customer_id": "c_dan", "first_name": "Dan", "email": "dan@example.com"}).to_string();
    let (status, _, link) = call(&edge, stack.signed(Method::POST, "/api/links", &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    phases.insert("mint", stack.calls.take());
    let code = link["code"].as_str().expect("a code").to_owned();

    call(&edge, click(&code)).await;
    let first = stack.calls.take();
    assert_eq!(
        first,
        calls(&[("DynamoDB.GetItem", 1), ("DynamoDB.PutItem", 1)]),
        "an uncached click reads the code (not its sealed fields' key) and writes the click"
    );
    phases.insert("click, first on this instance", first);
    let (_, headers, _) = call(&edge, click(&code)).await;
    let cached = stack.calls.take();
    assert_eq!(cached, calls(&[("DynamoDB.PutItem", 1)]), "a cached click is one write and nothing else");
    phases.insert("click, code cached", cached);
    let token =
        headers["set-cookie"].to_str().expect("ASCII").trim_start_matches("rft=").split(';').next().expect("a token");

    let signup = json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token}).to_string();
    assert_eq!(call(&edge, stack.signed(Method::POST, "/webhooks/signup", &signup)).await.0, StatusCode::ACCEPTED);
    phases.insert("sign-up webhook (rft-edge)", stack.calls.take());
    let attributor = rft_aws::wiring::attributor(&stack.env, &stack.secrets).await.expect("wires");
    stack.calls.take();
    let event = sqs_event(&stack.signup_queue, Duration::from_secs(30)).await;
    let dead_ends = stack.dead_ends().await;
    stack.calls.take();
    assert!(
        rft_aws::lambda::handle_batch(event, &dead_ends, |job| attributor.handle(job))
            .await
            .batch_item_failures
            .is_empty()
    );
    phases.insert("sign-up attribution (rft-attributor, rft-screen)", stack.calls.take());

    let conversion =
        json!({"customer_id": "c_mara", "order_id": "o_1", "amount_minor": 3999, "currency": "GBP"}).to_string();
    assert_eq!(call(&edge, stack.signed(Method::POST, "/webhooks/conversion", &conversion)).await.0, 202);
    phases.insert("conversion webhook (rft-edge)", stack.calls.take());
    let rewarder = rft_aws::wiring::rewarder(&stack.env, &stack.secrets).await.expect("wires");
    stack.calls.take();
    // The whole chain: the conversion, then each side's fulfilment and thank-you.
    assert_eq!(run_queue(&stack.reward_queue, &dead_ends, |job| rewarder.handle(job)).await, 0);
    let payout = stack.calls.take();
    let dynamodb: u64 = payout.iter().filter(|(call, _)| call.starts_with("DynamoDB.")).map(|(_, n)| n).sum();
    // 14, plus one read of the unsubscribe list per thank-you email (two): no programme email
    // reaches an address that unsubscribed (docs/settings.md, `[enrolment]`); three updates
    // of the programme's all-time counts: after the payout's commit and after each side's
    // delivery (rewards by where they stand); and two reads of `rft-keys`, for the sealed
    // personal fields of the referral and the code (docs/reliability.md).
    assert!(dynamodb <= 21, "a payout costs at most 21 DynamoDB calls (29 before the job chain): {payout:?}");
    phases.insert("conversion payout (rft-rewarder, rft-screen)", payout);
    let (_, _, referral) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_mara", "")).await;
    assert_eq!(referral["state"], "rewarded", "{referral}");

    for (phase, counts) in &phases {
        assert!(!counts.is_empty(), "{phase} made no AWS call at all: the counter is not attached");
    }
    if let Ok(path) = std::env::var("RFT_BENCH_CALLS") {
        std::fs::write(&path, serde_json::to_string_pretty(&phases).expect("serialises")).expect("writes");
    }
}

/// Reads that do not grow with clicks: the DynamoDB read units of one stats call (the referrer's
/// page polls the same data) for a referrer with no clicks, then 30, 500 and 5,000 clicks on
/// their code spread over the 30 days the stats show (so every day's row exists from 30 on), as
/// DynamoDB Local reports them to the interceptor. From the first row on, the figure is bounded
/// by days, never by clicks. Written to the file named by RFT_BENCH_READS for
/// docs/benchmarks.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stats_read_units_do_not_grow_with_clicks() {
    let stack = AwsStack::start(settings_with(&[])).await;
    stack.bedrock_says("Try it: {{link}}", Duration::ZERO).await;
    let edge = stack.edge().await;
    let body = json!({"customer_id": "c_dan", "first_name": "Dan"}).to_string();
    let (status, _, link) = call(&edge, stack.signed(Method::POST, "/api/links", &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let code = rft_core::Code::parse(link["code"].as_str().expect("a code")).expect("a code");
    // Clicks are written as the edge writes them, and counted by the stream's follower, on
    // clients the interceptor does not watch.
    let env = stack.env_of("rft-sweep");
    let tables = env.store().tables().clone();
    let store = rft_aws::DynamoStore::new(rft_tests::backends::dynamodb_client().await, tables.clone());
    let follower = rft_aws::follower::ClickFollower::new(store.clone());
    let stream = rft_tests::streams::StreamPump::new(&tables.clicks);
    let now = rft_core::Clock::now(&rft_core::time::SystemClock);
    let mut units = BTreeMap::new();
    let mut written = 0u64;
    for clicks in [0u64, 30, 500, 5_000] {
        let mut set = tokio::task::JoinSet::new();
        for i in written..clicks {
            let store = store.clone();
            let click = rft_tests::fixtures::click(
                &rft_core::Token::generate(),
                code.as_str(),
                now.minus(Duration::from_secs(86_400 * (i % 30) + i)),
                Duration::from_secs(30 * 86_400),
            );
            set.spawn(async move { rft_core::ports::ClickStore::record(&store, &click).await.expect("written") });
            if set.len() >= 64 {
                set.join_next().await;
            }
        }
        while set.join_next().await.is_some() {}
        written = clicks;
        stream.follow(&follower, now).await;
        stack.calls.take_read_units();
        let (status, _, stats) = call(&edge, stack.signed(Method::GET, "/api/referrers/c_dan/stats", "")).await;
        assert_eq!(status, StatusCode::OK, "{stats}");
        assert_eq!(stats["stats"]["clicks"], clicks, "{stats}");
        units.insert(clicks, stack.calls.take_read_units());
    }
    assert!(units[&0] > 0.0, "the interceptor sees the reads: {units:?}");
    let month = units[&30];
    assert!(units[&0] <= month, "{units:?}");
    assert!([500, 5_000].iter().all(|n| units[n] == month), "read units per stats call grow with clicks: {units:?}");
    if let Ok(path) = std::env::var("RFT_BENCH_READS") {
        std::fs::write(&path, serde_json::to_string_pretty(&units).expect("serialises")).expect("writes");
    }
}
