//! The FreshBox lifecycle on the embedded store and on DynamoDB Local.

use rft_tests::backends::{dynamo_harness, local_harness};
use rft_tests::harness::settings_with;
use rft_tests::lifecycle as l;

macro_rules! scenarios {
    ($($name:ident $([$($setting:expr),+])?),* $(,)?) => {
        mod local {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { l::$name(local_harness(settings_with(&[$($($setting),+)?]))).await })*
        }
        mod dynamo {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { l::$name(dynamo_harness(settings_with(&[$($($setting),+)?])).await).await })*
        }
    };
}

scenarios!(
    last_touch_wins,
    an_expired_click_credits_nobody [("window", "\"2s\"")],
    a_retired_code_credits_nobody,
    one_person_one_referral,
    an_email_invite_attributes,
    a_typed_code_attributes,
    a_self_referral_is_blocked,
    a_partial_match_is_held_for_the_team,
    the_fingerprint_fallback_holds_its_matches,
    the_fingerprint_fallback_holds_its_matches_when_on [("fingerprint_fallback", "true")],
    velocity_and_disposable_rules_hold [("max_signups_per_ip_per_day", "1"), ("max_signups_per_code_per_hour", "2")],
);
