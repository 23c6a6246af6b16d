//! Rewards, friend discounts and the ledger export through a connected store's provider
//! (Stripe and Shopify stand-ins), on the embedded store and on DynamoDB Local.

use rft_tests::connected as c;
use rft_tests::connected::Backend;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod local {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { c::$name(Backend::Local).await })*
        }
        mod dynamo {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { c::$name(Backend::Dynamo).await })*
        }
    };
}

scenarios!(
    stripe_balances_are_credited_once_each,
    stripe_promotion_codes_reach_each_side,
    shopify_store_credit_is_given_once_each,
    shopify_discount_codes_reach_each_side,
    a_shopify_guest_gets_a_single_use_code,
    a_provider_outage_parks_and_a_retry_delivers_once,
    a_lost_answer_never_pays_twice,
    a_mint_makes_the_discount_once_and_retire_deactivates_it,
    a_provider_down_at_mint_queues_the_discount,
    the_export_shows_each_row_with_its_reference,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_a_long_ledger_is_streamed_a_page_at_a_time() {
    c::a_long_ledger_is_streamed_a_page_at_a_time(rft_tests::backends::local_harness(
        rft_tests::harness::settings_with(&[]),
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_a_long_ledger_is_streamed_a_page_at_a_time() {
    c::a_long_ledger_is_streamed_a_page_at_a_time(
        rft_tests::backends::dynamo_harness(rft_tests::harness::settings_with(&[])).await,
    )
    .await
}
