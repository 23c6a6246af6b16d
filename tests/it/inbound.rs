//! A connected store's own events, on the embedded store and on DynamoDB Local.

use rft_tests::connected::Backend;
use rft_tests::inbound as i;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod local {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { i::$name(Backend::Local).await })*
        }
        mod dynamo {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { i::$name(Backend::Dynamo).await })*
        }
    };
}

scenarios!(
    a_stripe_guest_checkout_pays_both_sides_once_after_confirmation,
    a_stripe_refund_inside_the_confirmation_pays_nobody_in_either_order,
    a_shopify_order_with_the_code_alone_pays_once,
    a_shopify_refund_that_overtakes_its_order_pays_nobody,
    an_existing_shopify_customer_is_unattributed,
    forged_provider_webhooks_are_refused,
);
