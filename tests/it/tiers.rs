//! Tiers on the embedded store and on DynamoDB Local; the per-IP click limit.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use rft_tests::backends::{dynamo_harness, local_harness};
use rft_tests::harness::{Harness, settings_with};
use rft_tests::tiers::{self as t, TEN_STEPS};

const TWO_STEPS: &str = "[{ from = 3, amount_minor = 2500, description = \"£25 off\" }, { from = 5, amount_minor = 5000, description = \"£50 off\" }]";

macro_rules! scenarios {
    ($($name:ident [$tiers:expr]),* $(,)?) => {
        mod local {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { t::$name(local_harness(settings_with(&[("tiers", $tiers), ("max_signups_per_code_per_hour", "100")]))).await })*
        }
        mod dynamo {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { t::$name(dynamo_harness(settings_with(&[("tiers", $tiers), ("max_signups_per_code_per_hour", "100")])).await).await })*
        }
    };
}

scenarios!(
    a_ladder_is_paid_in_order[TWO_STEPS],
    ten_concurrent_conversions_pay_the_first_ten_steps[TEN_STEPS],
    terms_pinned_at_mint_survive_a_settings_change[TWO_STEPS],
);

async fn click_from(h: &Harness, code: &str, ip: &str) {
    let mut request =
        Request::builder().uri(format!("/r/{code}")).header("user-agent", "Mozilla/5.0").body(Body::empty()).unwrap();
    request.extensions_mut().insert(rft_http::ClientIp(ip.parse().unwrap()));
    assert_eq!(h.call(request).await.status, axum::http::StatusCode::FOUND, "always redirected");
}

#[tokio::test]
async fn the_per_ip_click_limit_logs_a_hundred_an_hour() {
    let h = local_harness(settings_with(&[]));
    let code = h.mint("c_dan", json!({})).await.json["code"].as_str().unwrap().to_owned();
    let counts = &h.system.edge.redirector.counts;
    let n = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..100 {
        click_from(&h, &code, "192.0.2.50").await;
    }
    assert_eq!((n(&counts.logged), n(&counts.rate_limited)), (100, 0), "the 100th is still logged");
    click_from(&h, &code, "192.0.2.50").await;
    assert_eq!((n(&counts.logged), n(&counts.rate_limited)), (100, 1), "the 101st is redirected, not logged");
    click_from(&h, &code, "192.0.2.51").await;
    assert_eq!(n(&counts.logged), 101, "another IP is unaffected");
    h.clock.advance(std::time::Duration::from_secs(3600));
    click_from(&h, &code, "192.0.2.50").await;
    assert_eq!(n(&counts.logged), 102, "a new hour starts afresh");
    let now = h.clock_now();
    let days = rft_core::rollup::days_of_codes(
        h.system.ports.stores.counters.as_ref(),
        &[rft_core::Code::parse(&code).unwrap()],
        now.minus(std::time::Duration::from_secs(7200)).day(),
        now.day(),
    )
    .await
    .unwrap();
    let stored: i64 = days.values().map(|d| d.get("clicks").copied().unwrap_or(0)).sum();
    assert_eq!(stored, 102, "what was counted as logged is in the click log's counts");
}
