//! Erasure on the embedded store and on DynamoDB Local, proven by searching every stored byte.

use rft_tests::backends::{dynamo_harness_with_tables, local_harness_with_store, render, scan_all, scan_items};
use rft_tests::erasure::erasure_leaves_nothing_personal;
use rft_tests::harness::settings_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_erasure_leaves_nothing_personal() {
    let (h, store) = local_harness_with_store(settings_with(&[]));
    let dump = || -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + '_>> { Box::pin(store.dump()) };
    erasure_leaves_nothing_personal(h, Box::new(dump)).await;
}

/// The live tables and a backup of them taken at the first dump (before erasure), both read
/// with the live keys: a point-in-time restore or an on-demand backup reveals nothing either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_erasure_leaves_nothing_personal_even_in_a_backup_taken_before() {
    let (h, client, names) = dynamo_harness_with_tables(settings_with(&[])).await;
    let backup = std::sync::Mutex::new(None);
    let dump = || -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + '_>> {
        Box::pin(async {
            let live = scan_all(&client, &names).await;
            let taken = backup.lock().unwrap().clone();
            let items = match taken {
                Some(items) => items,
                None => {
                    let items = scan_items(&client, &names).await;
                    *backup.lock().unwrap() = Some(items.clone());
                    items
                }
            };
            let copy = render(&client, &names, &items).await;
            format!("{live}{}", copy.lines().map(|l| format!("backup {l}\n")).collect::<String>())
        })
    };
    erasure_leaves_nothing_personal(h, Box::new(dump)).await;
}

mod after_erasure {
    use rft_tests::backends::{dynamo_harness, local_harness};
    use rft_tests::erasure as e;
    use rft_tests::harness::settings_with;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn local_an_erased_friend_signing_up_again_joins_the_old_referral() {
        e::an_erased_friend_signing_up_again_joins_the_old_referral(local_harness(settings_with(&[]))).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamo_an_erased_friend_signing_up_again_joins_the_old_referral() {
        e::an_erased_friend_signing_up_again_joins_the_old_referral(dynamo_harness(settings_with(&[])).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn local_erasing_a_referrer_forfeits_their_unpaid_side() {
        e::erasing_a_referrer_forfeits_their_unpaid_side(local_harness(settings_with(&[]))).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamo_erasing_a_referrer_forfeits_their_unpaid_side() {
        e::erasing_a_referrer_forfeits_their_unpaid_side(dynamo_harness(settings_with(&[])).await).await
    }
}
