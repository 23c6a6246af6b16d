//! Reward scenarios on the embedded store and on DynamoDB Local.

use rft_tests::backends::{dynamo_harness, local_harness};
use rft_tests::harness::settings_with;
use rft_tests::rewards as r;

macro_rules! scenarios {
    ($($name:ident $([$($setting:expr),+])?),* $(,)?) => {
        mod local {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { r::$name(local_harness(settings_with(&[$($($setting),+)?]))).await })*
        }
        mod dynamo {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { r::$name(dynamo_harness(settings_with(&[$($($setting),+)?])).await).await })*
        }
    };
}

scenarios!(
    a_conversion_pays_both_sides_once,
    a_held_conversion_is_paid_when_approved,
    a_rejected_referral_never_pays,
    an_approved_hold_is_not_held_again_for_the_same_rule,
    a_refund_after_a_reward_flags_for_a_person,
    the_sweep_expires_pending_referrals[("window", "\"2s\"")],
    early_and_unattributed_conversions,
    a_failing_store_is_retried_then_parked,
    a_refusal_parks_at_once,
    a_refund_before_its_conversion_stops_the_payout,
    a_refund_while_held_cannot_be_approved_into_a_payout,
    a_conversion_pays_after_its_confirmation_period_unless_refunded[("confirm_after", "\"1h\"")],
    a_flagged_codes_referrals_wait_until_a_person_clears_it[("max_signups_per_code_per_hour", "2")],
);
