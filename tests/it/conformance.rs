//! The storage conformance suite, run against the embedded store (redb) and DynamoDB Local,
//! and the queue properties against the embedded queue and SQS on moto.

use rft_tests::backends::{dynamo_stores, local_queue, local_stores, sqs_queue};
use rft_tests::conformance as c;

macro_rules! store_properties {
    ($($name:ident),* $(,)?) => {
        mod local {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { c::$name(local_stores()).await })*
        }
        mod dynamo {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { c::$name(dynamo_stores().await).await })*
        }
    };
}

store_properties!(
    racing_claims_of_one_code_have_one_winner,
    one_active_code_per_customer_under_concurrency,
    retiring_frees_the_customer_for_a_new_code,
    racing_payouts_of_one_referral_pay_once,
    refunds_are_remembered_per_order,
    flagged_codes_are_listed_until_cleared,
    the_referrer_tally_never_skips_or_repeats,
    identity_claims_collapse_one_person_into_one_referral,
    racing_sign_ups_of_one_person_open_one_referral,
    referral_updates_are_conditional_on_version,
    review_queues_follow_the_state,
    clicks_are_newest_first_and_expire,
    the_audit_is_append_only,
    processed_webhook_ids_are_remembered,
    unsubscribes_are_kept_by_hash,
    counters_stop_at_their_limit_and_expire,
    a_browsers_latest_click_is_found,
    listings_by_referrer_and_customer,
    the_whole_ledger_is_read_a_page_at_a_time,
    referrals_list_by_state_in_exact_pages,
    codes_list_by_status_newest_first,
);

mod rollups {
    use super::*;
    use rft_tests::backends::{dynamo_following, local_following};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn local() {
        c::rollups_count_every_click_once_and_agree(local_following()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn dynamo() {
        c::rollups_count_every_click_once_and_agree(dynamo_following().await).await
    }
}

macro_rules! queue_properties {
    ($($name:ident),* $(,)?) => {
        mod local_queue {
            use super::*;
            $(#[tokio::test]
            async fn $name() { c::$name(local_queue()).await })*
        }
        mod sqs {
            use super::*;
            $(#[tokio::test]
            async fn $name() { c::$name(sqs_queue().await).await })*
        }
    };
}

queue_properties!(
    unacknowledged_jobs_are_redelivered,
    jobs_dead_letter_after_five_receives,
    delayed_jobs_arrive_after_their_delay,
);
