//! Links by email after a first order, and unsubscribing, on the embedded store and on
//! DynamoDB Local.

use rft_tests::backends::{dynamo_harness, local_harness};
use rft_tests::enrolment as e;
use rft_tests::harness::settings_with;

macro_rules! scenarios {
    ($settings:expr; $($name:ident),* $(,)?) => {
        mod local {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { e::$name(local_harness($settings)).await })*
        }
        mod dynamo {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { e::$name(dynamo_harness($settings).await).await })*
        }
    };
}

mod on {
    use super::*;
    scenarios!(settings_with(&[("on_first_order", "true")]);
        a_first_imported_order_mails_the_customers_link_once,
        an_unsubscribed_address_gets_no_later_programme_email,
    );
}

mod off {
    use super::*;
    scenarios!(settings_with(&[]); without_enrolment_a_first_order_mails_nothing);
}
