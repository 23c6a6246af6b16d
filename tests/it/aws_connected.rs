//! A connected store's own events through the functions' AWS wiring (DynamoDB Local, SQS on
//! moto, each function wired as its main wires it): the edge verifies and queues, the
//! attributor attributes the order at checkout, the rewarder waits out `confirm_after`, the
//! sweep makes the payout due, and the provider (a stand-in) is paid once.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use rft_core::connectors::intake::guest_id;
use rft_core::email::Email;
use rft_core::identity::IdentityHasher;
use rft_core::time::SystemClock;
use rft_tests::aws::{AwsStack, call, run_queue};
use rft_tests::connected::{SHOPIFY_DAN, STRIPE_DAN, shopify_settings, stripe_settings};
use rft_tests::inbound::{shopify_order, shopify_request, stripe_checkout, stripe_request};
use rft_tests::provider_standins::{ShopifyStandin, StripeStandin};

/// Long enough for the test to see the order noted and unpaid, short enough to wait out.
const CONFIRM: &[(&str, &str)] = &[("confirm_after", "\"3s\""), ("min_click_to_conversion", "\"0s\"")];

fn now() -> i64 {
    rft_core::Clock::now(&SystemClock).as_secs()
}

/// Runs both queues to the end, as their event source mappings would.
async fn deliver(stack: &AwsStack) {
    let dead_ends = stack.dead_ends().await;
    let attributor = rft_aws::wiring::attributor(&stack.env_of("rft-attributor"), &stack.secrets).await.unwrap();
    let rewarder = rft_aws::wiring::rewarder_with(
        &stack.env_of("rft-rewarder"),
        &stack.secrets,
        Duration::from_millis(800),
        rft_tests::harness::quick_policy(),
    )
    .await
    .unwrap();
    assert_eq!(run_queue(&stack.signup_queue, &dead_ends, |job| attributor.handle(job)).await, 0);
    assert_eq!(run_queue(&stack.reward_queue, &dead_ends, |job| rewarder.handle(job)).await, 0);
}

/// Waits out `confirm_after`, runs the sweep (EventBridge's hourly run) and the rewarder.
async fn confirm(stack: &AwsStack) {
    tokio::time::sleep(Duration::from_secs(4)).await;
    rft_aws::wiring::sweeper(&stack.env_of("rft-sweep")).await.unwrap().run().await.unwrap();
    deliver(stack).await;
}

async fn state_of(stack: &AwsStack, edge: &axum::Router, customer: &str) -> Value {
    call(edge, stack.signed(Method::GET, &format!("/api/referrals/{customer}"), "")).await.2
}

async fn mint(stack: &AwsStack, edge: &axum::Router, customer: &str) -> String {
    let body = json!({"customer_id": customer, "first_name": "Dan", "email": "dan@example.com"}).to_string();
    let (status, _, link) = call(edge, stack.signed(Method::POST, "/api/links", &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    link["code"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stripe_guest_checkout_through_the_functions_pays_once_after_confirmation() {
    let stripe = StripeStandin::start().await;
    let stack = AwsStack::start(stripe_settings(&stripe, "balance", CONFIRM)).await;
    stack.bedrock_says("Thanks! {{reward}} is yours. {{link}}", Duration::ZERO).await;
    let edge = stack.edge().await;
    let code = mint(&stack, &edge, STRIPE_DAN).await;
    let (_, headers, _) = call(&edge, rft_tests::aws::click(&code)).await;
    let token =
        headers["set-cookie"].to_str().unwrap().trim_start_matches("rft=").split(';').next().unwrap().to_owned();
    let event = stripe_checkout(now(), "evt_aws_1", "pi_aws_1", "mara.aws@example.com", Some(&token), None);
    for _ in 0..2 {
        let (status, _, answer) = call(&edge, stripe_request(&event, now())).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    deliver(&stack).await;
    let mara =
        guest_id(&IdentityHasher::new(stack.secrets.identity.clone()), &Email::parse("mara.aws@example.com").unwrap())
            .unwrap();
    let noted = state_of(&stack, &edge, mara.as_str()).await;
    assert_eq!(
        (noted["referrer_id"].as_str(), noted["state"].as_str()),
        (Some(STRIPE_DAN), Some("pending")),
        "{noted}"
    );
    assert!(stripe.balance_transactions().is_empty(), "nothing is paid inside confirm_after");
    confirm(&stack).await;
    assert_eq!(state_of(&stack, &edge, mara.as_str()).await["state"], "rewarded");
    let credits = stripe.balance_transactions();
    assert_eq!(credits.len(), 1, "Dan's balance once (the guest has no Stripe customer to credit): {credits:?}");
    assert_eq!(credits[0]["customer"], STRIPE_DAN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shopify_order_with_the_code_alone_through_the_functions_pays_once() {
    let shopify = ShopifyStandin::start().await;
    let stack = AwsStack::start(shopify_settings(&shopify, "store_credit", CONFIRM)).await;
    stack.bedrock_says("Thanks! {{reward}} is yours. {{link}}", Duration::ZERO).await;
    let edge = stack.edge().await;
    let code = mint(&stack, &edge, SHOPIFY_DAN).await;
    let order = shopify_order(now(), 8_001, 207_119_551, "kim.aws@example.com", &code);
    for _ in 0..2 {
        let (status, _, answer) = call(&edge, shopify_request("orders/paid", "wh_aws_8001", &order)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    deliver(&stack).await;
    let noted = state_of(&stack, &edge, "207119551").await;
    assert_eq!((noted["method"].as_str(), noted["state"].as_str()), (Some("code"), Some("pending")), "{noted}");
    confirm(&stack).await;
    assert_eq!(state_of(&stack, &edge, "207119551").await["state"], "rewarded");
    assert_eq!(shopify.credits().len(), 1, "Dan's store credit once; Kim's side was her discount");
}
