//! The CSV import on the embedded store and on DynamoDB Local.

use rft_tests::backends::{dynamo_harness, local_harness};
use rft_tests::harness::settings_with;
use rft_tests::imports as i;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod local {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { i::$name(local_harness(settings_with(&[]))).await })*
        }
        mod dynamo {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { i::$name(dynamo_harness(settings_with(&[])).await).await })*
        }
    };
}

scenarios!(
    an_imported_file_pays_each_order_once,
    a_file_with_a_bad_row_imports_nothing,
    a_customers_second_order_in_a_file_pays_nothing_more,
);
